"""Seeded random programs over views, in-place ops and grad modes.

``program(seed)`` returns ``(fn, args)``: one to three inputs (fresh, grad
requiring, views of one shared base that may require grad, or the same
object twice), then up to nine steps drawn from :data:`OPS`, then one to
three of the values as outputs. The steps are chosen by running the program
eagerly on inputs of the same structure, keeping only steps eager PyTorch
accepts at that point; ``fn`` then replays exactly those steps, so it never
branches on tensor state (which differs between eager, tracing and
PyTorch's functionalized analysis).
"""

from __future__ import annotations

import random

import torch

OPS = (
    "view",
    "t",
    "select",
    "slice",
    "unbind",
    "split",
    "expand",
    "narrow_nograd",
    "mul",
    "add",
    "clone",
    "detach",
    "add_",
    "relu_",
    "copy_",
    "mul_nograd",
    "zero_nograd",
    "unsqueeze_",
    "transpose_",
)


def _inputs(rng: random.Random) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    base = torch.randn(4, 6, requires_grad=True) * 1 if rng.random() < 0.3 else torch.randn(4, 6)
    inputs: list[torch.Tensor] = []
    kinds: list[str] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["fresh", "requires_grad", "view_of_base", "duplicate"])
        if kind == "duplicate" and inputs:
            inputs.append(rng.choice(inputs))
        elif kind == "view_of_base":
            r = rng.randint(0, 2)
            inputs.append(base[r : r + 2])
            kind = f"base[{r}:{r + 2}]"
        elif kind == "requires_grad":
            inputs.append(torch.randn(2, 6, requires_grad=True))
        else:
            inputs.append(torch.randn(2, 6))
            kind = "fresh"
        kinds.append(kind)
    return tuple(inputs), kinds


def _allowed(op: str, x: torch.Tensor, y: torch.Tensor) -> bool:
    if op == "view":
        return x.is_contiguous()
    if op == "t":
        return x.dim() == 2
    if op in ("select", "unbind", "split", "narrow_nograd"):
        return x.dim() >= 1 and x.shape[0] > 0
    if op == "slice":
        return x.dim() >= 1
    if op == "add":
        return x.shape == y.shape
    if op in ("add_", "relu_"):
        return not (x.is_leaf and x.requires_grad)
    if op == "copy_":
        return not (x.is_leaf and x.requires_grad) and x.shape == y.shape and x is not y
    if op in ("unsqueeze_", "transpose_"):
        return not x.requires_grad and x._base is None and (op != "transpose_" or x.dim() == 2)
    return True


def _step(op: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    if op == "view":
        return x.view(-1)
    if op == "t":
        return x.t()
    if op == "select":
        return x[0]
    if op == "slice":
        return x[..., 1:]
    if op == "unbind":
        return x.unbind(0)[-1]
    if op == "split":
        return x.split(1)[0]
    if op == "expand":
        return x.unsqueeze(0).expand(2, *x.shape)
    if op == "narrow_nograd":
        with torch.no_grad():
            return x.narrow(0, 0, 1)
    if op == "mul":
        return x * 2
    if op == "add":
        return x + y
    if op == "clone":
        return x.clone()
    if op == "detach":
        return x.detach()
    if op == "add_":
        return x.add_(1)
    if op == "relu_":
        return x.relu_()
    if op == "copy_":
        x.copy_(y)
    elif op == "mul_nograd":
        with torch.no_grad():
            x.mul_(0.5)
    elif op == "zero_nograd":
        with torch.no_grad():
            x.zero_()
    elif op == "unsqueeze_":
        x.unsqueeze_(0)
    elif op == "transpose_":
        x.transpose_(0, 1)
    return None


def program(seed: int):
    """``(fn, args)`` for one seed; ``fn.plan`` describes it."""
    inputs, kinds = _inputs(random.Random(seed))
    shadow, _ = _inputs(random.Random(seed))  # same structure, objects of its own
    rng = random.Random(seed + 1_000_003)
    live = list(shadow)
    plan: list[tuple[str, int, int]] = []
    for _ in range(rng.randint(1, 9)):
        op, i, j = rng.choice(OPS), rng.randrange(len(live)), rng.randrange(len(live))
        try:
            if not _allowed(op, live[i], live[j]):
                continue
            out = _step(op, live[i], live[j])
        except RuntimeError:  # eager autograd refuses this step here
            continue
        plan.append((op, i, j))
        if out is not None:
            live.append(out)
    outputs = [rng.randrange(len(live)) for _ in range(rng.randint(1, 3))]

    def fn(*xs):
        values = list(xs)
        for op, i, j in plan:
            out = _step(op, values[i], values[j])
            if out is not None:
                values.append(out)
        return tuple(values[k] for k in outputs)

    fn.plan = (kinds, plan, outputs)
    return fn, inputs
