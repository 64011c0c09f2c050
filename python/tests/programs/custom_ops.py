"""Operators registered with torch.library.custom_op, and a tied-weight module."""

import torch
from torch import nn


@torch.library.custom_op("aotio_t::scale", mutates_args=())
def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor


@scale.register_fake
def _(x, factor):
    return torch.empty_like(x)


def _scale_backward(ctx, grad):
    return grad * ctx.factor, None


def _scale_setup(ctx, inputs, output):
    ctx.factor = inputs[1]


scale.register_autograd(_scale_backward, setup_context=_scale_setup)


@torch.library.custom_op("aotio_t::add_into_", mutates_args=("out",))
def add_into_(out: torch.Tensor, x: torch.Tensor) -> None:
    out.add_(x)


@add_into_.register_fake
def _(out, x):
    return None


@torch.library.custom_op("aotio_t::swap_add_", mutates_args=("a", "b"))
def swap_add_(a: torch.Tensor, b: torch.Tensor) -> None:
    a.add_(b)
    b.sub_(a)


@swap_add_.register_fake
def _(a, b):
    return None


def functional_custom_op_and_view():
    def f(x):
        return scale(x, 3.0), x.view(-1)

    return f, (torch.randn(2, 3, requires_grad=True),), {}, {"export": ("inference", "joint")}


def mutating_custom_op():
    def f(out, x):
        add_into_(out, x)
        return out * 2

    return f, (torch.randn(4), torch.randn(4))


def custom_op_two_mutated_args():
    def f(a, b, c):
        swap_add_(a, b)
        return a + c, b

    return f, (torch.randn(3), torch.randn(3), torch.randn(3)), {}, {"keep_input_mutations": True}


def tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 4, bias=False)
            self.dec = nn.Linear(4, 4, bias=False)
            self.dec.weight = self.enc.weight

        def forward(self, x):
            return self.dec(self.enc(x).relu())

    return Tied(), (torch.randn(2, 4),), {}, {"export": ("inference", "joint")}
