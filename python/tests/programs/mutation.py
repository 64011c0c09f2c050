"""In-place changes of inputs and intermediates, with and without grad."""

import torch


def add_input_result_used():
    def f(x, y):
        x.add_(y)
        return x * 2

    return f, (torch.randn(3, 3), torch.randn(3, 3))


def mul_through_select():
    def f(x):
        x[1].mul_(2)
        return x.sum(0)

    return f, (torch.randn(3, 2),)


def setitem_slice():
    def f(x, y):
        x[1:] = y
        return x + 0

    return f, (torch.randn(4, 2), torch.randn(3, 2))


def index_put_input():
    def f(x, idx, v):
        x.index_put_((idx,), v)
        return x.mean()

    return f, (torch.randn(5), torch.tensor([0, 3]), torch.randn(2))


def fill_and_zero():
    def f(x, y):
        x.fill_(1.5)
        y.zero_()
        return x + y

    return f, (torch.randn(3), torch.randn(3))


def masked_fill_input_kim():
    def f(x, mask):
        x.masked_fill_(mask, 0.0)
        return x.sum()

    return (
        f,
        (torch.randn(4), torch.tensor([True, False, True, False])),
        {},
        {"keep_input_mutations": True},
    )


def clamp_intermediate():
    def f(x):
        t = x * 3
        t.clamp_(min=0)
        return t

    return f, (torch.randn(5, requires_grad=True),)


def no_grad_mutation_plain_input():
    def f(x, y):
        with torch.no_grad():
            x.mul_(0.5)
        return x + y

    return f, (torch.randn(3), torch.randn(3, requires_grad=True))


def no_grad_mutation_kim():
    def f(x):
        with torch.no_grad():
            x.add_(1)
        return x * 2

    return f, (torch.randn(3),), {}, {"keep_input_mutations": True}


def nonleaf_grad_input_mutated():
    def f(x, w):
        x.mul_(w)
        return x.sum()

    return f, (torch.randn(3, requires_grad=True) * 1, torch.randn(3))


def copy_grad_value_into_buffer():
    def f(buf, x):
        buf.copy_(x * 2)
        return buf + 1

    return f, (torch.zeros(3), torch.randn(3, requires_grad=True))


def mutate_then_return_view():
    def f(x):
        x.sub_(1)
        return x[0], x.view(-1)

    return f, (torch.randn(2, 2),)


def index_copy_cache_kim():
    def f(cache, idx, k):
        cache.index_copy_(0, idx, k)
        return cache[:3]

    return (
        f,
        (torch.zeros(6, 4), torch.tensor([1, 2]), torch.randn(2, 4)),
        {},
        {"keep_input_mutations": True},
    )


def two_inputs_mutated():
    def f(a, b):
        a.add_(1)
        b.mul_(a)
        return a, b

    return f, (torch.randn(3), torch.randn(3))


def factory_results_mutated():
    def f(x):
        acc = torch.zeros_like(x)
        acc.add_(x)
        ones = torch.ones(3).mul_(2)
        return acc * ones, torch.full_like(x, 0.5).sub_(x)

    return f, (torch.randn(3, requires_grad=True),)
