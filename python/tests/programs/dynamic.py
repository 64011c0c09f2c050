"""Symbolic sizes (dynamic=True)."""

import torch
from torch import nn

DYN = {"dynamic": True}


def pointwise():
    def f(x, y):
        return x * y + 1, (x - y).sum()

    return f, (torch.randn(3, 4), torch.randn(3, 4)), {}, DYN


def views_of_input():
    def f(x):
        return x.view(-1), x[0], x.t()

    return f, (torch.randn(3, 5, requires_grad=True),), {}, DYN


def inplace_then_views():
    def f(x):
        x.mul_(2)
        return x[1:], x.sum()

    return f, (torch.randn(4, 3),), {}, DYN


def linear_dynamic_batch():
    return (
        nn.Linear(4, 2),
        (torch.randn(5, 4),),
        {},
        {"dynamic": True, "export": ("inference", "joint")},
    )


def narrow_copy_int_position():
    def f(cache, k, pos):
        cache.narrow(0, pos, k.shape[0]).copy_(k)
        return cache[: pos + k.shape[0]]

    return (
        f,
        (torch.zeros(12, 3), torch.randn(2, 3), 4),
        {},
        {"dynamic": True, "keep_input_mutations": True},
    )


def cat_outputs():
    def f(x, y):
        return torch.cat([x, y]), torch.stack([x, x])

    return f, (torch.randn(2, 3), torch.randn(4, 3)), {}, DYN


def intermediate_views_train():
    def f(x):
        t = x.exp()
        return t[0], t[:, 1:]

    return f, (torch.randn(3, 4, requires_grad=True),), {}, DYN


def sum_and_expand():
    def f(x):
        s = x.sum(0, keepdim=True)
        return s.expand_as(x) * 1, s

    return f, (torch.randn(4, 3, requires_grad=True),), {}, DYN


def sizes_as_outputs():
    def f(x):
        return x * 2, x.shape[0], x.shape[0] * x.shape[1]

    return f, (torch.randn(3, 4),), {}, DYN


def int_argument_as_size():
    def f(x, n):
        return x.repeat(n, 1), x[:n]

    return f, (torch.randn(3, 4), 2), {}, DYN


def slice_then_clone():
    def f(x):
        return x[:, 1:].clone() * 2

    return f, (torch.randn(3, 5, requires_grad=True),), {}, DYN
