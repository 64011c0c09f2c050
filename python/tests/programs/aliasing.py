"""Views and aliases of inputs and intermediates."""

import torch


def views_of_input_train():
    def f(x):
        return x.view(-1), x[1], x.t(), x.diagonal(), x.unsqueeze(0)

    return f, (torch.randn(3, 3, requires_grad=True),)


def views_of_input_inference():
    def f(x):
        return x[:, 1:], x.transpose(0, 1), x.squeeze(0)

    return f, (torch.randn(1, 4),)


def chunk_of_intermediate():
    def f(x):
        return (x * 2).chunk(3)

    return f, (torch.randn(6, 2, requires_grad=True),)


def split_with_sizes_input():
    def f(x):
        a, b = x.split([1, 3])
        return a, b, x + 1

    return f, (torch.randn(4, 2, requires_grad=True),)


def expand_of_input():
    def f(x):
        return x.expand(3, 4), x.sum()

    return f, (torch.randn(1, 4, requires_grad=True),)


def view_of_intermediate_and_base():
    def f(x):
        t = x.exp()
        return t, t[0], t.view(-1)

    return f, (torch.randn(2, 3, requires_grad=True),)


def detach_of_input():
    def f(x):
        return x.detach(), x * 2

    return f, (torch.randn(3, requires_grad=True),)


def narrow_and_permute():
    def f(x):
        return x.narrow(1, 1, 2).permute(2, 0, 1)

    return f, (torch.randn(2, 4, 3),)


def reshape_noncontiguous():
    def f(x):
        return x.t().reshape(-1) + 1, x.reshape(2, 3)

    return f, (torch.randn(3, 2, requires_grad=True),)


def contiguous_noop():
    def f(x):
        y = x.contiguous()
        return y, x.t().contiguous()

    return f, (torch.randn(2, 3),)


def transpose_of_intermediate():
    def f(x, y):
        t = x @ y
        return t.transpose(0, 1)

    return f, (torch.randn(2, 3, requires_grad=True), torch.randn(3, 4))


def same_view_twice():
    def f(x):
        v = x.view(-1)
        return v, v

    return f, (torch.randn(2, 2, requires_grad=True),)


def as_strided_view():
    def f(x):
        return x.as_strided((2, 2), (1, 2), 1)

    return f, (torch.randn(6),)


def unflatten_intermediate():
    def f(x):
        return (x + 1).unflatten(0, (2, 3))

    return f, (torch.randn(6, requires_grad=True),)


def scaled_dot_product_attention():
    def f(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    return f, tuple(torch.randn(2, 2, 5, 4, requires_grad=True) for _ in range(3))
