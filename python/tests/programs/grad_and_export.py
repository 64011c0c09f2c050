"""Grad-mode changes, non-tensor and nested outputs, export flavours."""

import torch
from torch import nn


def no_grad_block_inside():
    def f(x, w):
        with torch.no_grad():
            s = x * 2
        return s * w

    return f, (torch.randn(3, requires_grad=True), torch.randn(3, requires_grad=True))


def grad_left_disabled():
    def f(x):
        torch.set_grad_enabled(False)
        return x * 2

    return f, (torch.randn(3, requires_grad=True),), {}, {"export": ()}


def called_under_no_grad():
    def f(x, y):
        return x @ y, x.t()

    args = (torch.randn(2, 3, requires_grad=True), torch.randn(3, 2))
    return f, args, {}, {"grad_enabled": False}


def module_under_no_grad_cache_write():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, 3)

        def forward(self, x, cache, pos):
            y = self.proj(x)
            cache[pos].copy_(y[0])
            return cache[: pos + 1].mean(0)

    args = (torch.randn(1, 3), torch.zeros(5, 3), 1)
    return M(), args, {}, {"grad_enabled": False, "keep_input_mutations": True}


def non_tensor_outputs():
    def f(x, n):
        return x.sum(), n + 1, 0.5, None, "label", True

    return f, (torch.randn(3), 4)


def dict_and_list_outputs():
    def f(x):
        return {"double": x * 2, "views": [x[0], x[1]]}

    return f, (torch.randn(2, 2, requires_grad=True),)


def nested_inputs():
    def f(batch):
        xs, meta = batch
        return xs[0] + xs[1] * meta["w"]

    batch = ([torch.randn(3), torch.randn(3)], {"w": torch.randn(3, requires_grad=True)})
    return f, (batch,)


def none_input_and_output():
    def f(x, mask=None):
        x.add_(1)

    return f, (torch.randn(3), None)


def optimizer_step_lists():
    def f(params, grads, lr):
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g * lr)

    params = [torch.randn(2, requires_grad=True), torch.randn(3, requires_grad=True)]
    grads = [torch.randn(2), torch.randn(3)]
    return f, (params, grads, 0.1), {}, {"export": (), "keep_input_mutations": True}


def joint_with_mutated_buffer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.register_buffer("seen", torch.zeros(3))

        def forward(self, x):
            self.seen.add_(x.detach().sum(0))
            return self.fc(x).relu()

    return M(), (torch.randn(4, 3),), {}, {"export": ("inference", "joint")}


def int_and_float_args():
    def f(x, k, alpha):
        return x[:k] * alpha, x[k:]

    return f, (torch.randn(5, requires_grad=True), 2, 0.25)


def inference_only_module_outputs():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            y = self.fc(x)
            return y, y.detach(), x

    m = M()
    for p in m.parameters():
        p.requires_grad_(False)
    return m, (torch.randn(3, 2),)
