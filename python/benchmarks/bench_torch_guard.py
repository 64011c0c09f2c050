"""Per-call cost of the StorageOverlap guard over n aliased views.

A step over n disjoint slices of one buffer is compiled with ``dynamic=True``
(PyTorch 2.15 records the guard only then), and the cache entry's whole guard
is checked against the same inputs, as on every call:

* ``pytorch``: PyTorch's own C++ ``check_overlapping`` (pairwise, O(n^2));
* ``aotio-torch`` / ``aotio-exact``: aotio's check in its place.

The overlap check alone, without the rest of the guard, is measured too.
All compiles use aotio in torch mode (PyTorch's verdict: PyTorch's own
decision would take minutes at n = 1,000; the guard it records is the same).

Run: ``pytest benchmarks/bench_torch_guard.py --benchmark-only``.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._C._dynamo.guards import compute_overlapping_tensors as pytorch_overlapping
from torch._dynamo.eval_frame import _debug_get_cache_entry_list

import aotio
import aotio.torch


def step(xs):
    torch._foreach_add_(xs, 1)


def _views(n: int) -> list:
    buf = torch.zeros(4 * n)
    return [buf[4 * i : 4 * i + 4] for i in range(n)]


_GUARD = {
    "pytorch": ("torch", "pytorch"),
    "aotio-torch": ("torch", "aotio"),
    "aotio-exact": ("exact", "aotio"),
}


@pytest.mark.parametrize("checker", list(_GUARD))
@pytest.mark.parametrize("n", [100, 1000])
def test_guard_check_per_call(benchmark, n, checker):
    mode, guard = _GUARD[checker]
    xs = _views(n)
    torch._dynamo.reset()
    try:
        with aotio.torch.installed(mode, guard=guard):
            torch.compile(step, backend="aot_eager", dynamic=True)(xs)
        (entry,) = _debug_get_cache_entry_list(step.__code__)
        manager = entry.guard_manager
        overlap_parts = [p for p in manager.code_parts if "check_overlapping" in p]
        assert overlap_parts, "no StorageOverlap guard was recorded"
        frame_locals = {"xs": xs}
        assert manager.check(frame_locals)
        benchmark(manager.check, frame_locals)
    finally:
        torch._dynamo.reset()


@pytest.mark.parametrize("n", [100, 1000])
def test_overlap_check_alone_pytorch(benchmark, n):
    xs = _views(n)
    assert benchmark(pytorch_overlapping, xs, symbolic=False) == set()


@pytest.mark.parametrize("n", [100, 1000])
def test_overlap_check_alone_aotio(benchmark, n):
    xs = _views(n)
    assert benchmark(aotio.overlapping, xs, "torch") == []
