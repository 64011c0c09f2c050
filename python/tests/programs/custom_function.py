"""Custom torch.autograd.Function outputs (grad_fn "custom")."""

import torch


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class Flatten(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.view(-1)

    @staticmethod
    def backward(ctx, g):
        return g.view(ctx.shape)


class SinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()


def custom_fresh_output():
    def f(x):
        return Double.apply(x) + 1

    return f, (torch.randn(3, requires_grad=True),)


def custom_view_output():
    def f(x):
        return Flatten.apply(x), x.sum()

    return f, (torch.randn(2, 2, requires_grad=True),)


def custom_two_outputs():
    def f(x):
        s, c = SinCos.apply(x)
        return s, c * 2

    return f, (torch.randn(4, requires_grad=True),)


def custom_output_viewed_later():
    def f(x):
        d = Double.apply(x)
        return d, d[0]

    return f, (torch.randn(2, 3, requires_grad=True),)
