"""Autograd refusals and operator-dependent tangents found by the random programs."""

import torch


def copy_into_aliased_input_train():
    def f(a, b):
        a.copy_(b)
        return a * 2

    base = torch.randn(4, 6, requires_grad=True) * 1
    return f, (base[2:4], torch.randn(2, 6, requires_grad=True))


def multi_output_view_returned_after_inplace():
    def f(x):
        t = x * 2
        piece = t.unbind(0)[0]
        t.mul_(3)
        return piece, t

    return f, (torch.randn(3, 2, requires_grad=True),)


def no_grad_view_returned_after_base_mutation():
    def f(x):
        t = x * 2
        with torch.no_grad():
            v = t[0]
        t.add_(1)
        return v, t

    return f, (torch.randn(3, 2, requires_grad=True),)


def unbind_then_inplace_on_base_not_returned():
    # The stale multi-output view is never used again: PyTorch accepts this.
    def f(x):
        t = x * 2
        t.unbind(0)
        t.mul_(3)
        return t

    return f, (torch.randn(3, 2, requires_grad=True),)
