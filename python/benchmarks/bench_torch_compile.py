"""torch.compile time of a step over n aliased views, with and without aotio.torch.

The program is an optimizer-style in-place update of n disjoint slices of one
flat buffer (``torch._foreach_add_``), so AOTAutograd decides the overlap of all
n views once per compile. Each compile starts from ``torch._dynamo.reset()``.
``extra_info["overlap_seconds"]`` is the time spent in the overlap decision
(PyTorch's function or aotio's) per compile, measured in the same run.

Run: ``pytest benchmarks/bench_torch_compile.py --benchmark-only`` (select sizes
with ``-k``: PyTorch's own decision takes minutes from 400 dynamic views on).
"""

from __future__ import annotations

import time

import pytest
import torch
import torch._dynamo
from torch._functorch._aot_autograd import input_output_analysis as analysis

import aotio.torch


def step(xs):
    torch._foreach_add_(xs, 1)


def _views(n: int) -> list:
    buf = torch.zeros(4 * n)
    return [buf[4 * i : 4 * i + 4] for i in range(n)]


class _OverlapTimer:
    """Times whatever decides the overlap now (PyTorch's function or aotio's)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._inner = analysis.compute_overlapping_tensors
        analysis.compute_overlapping_tensors = self

    def __call__(self, tensors, symbolic=True):
        start = time.perf_counter()
        try:
            return self._inner(tensors, symbolic=symbolic)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def close(self) -> None:
        analysis.compute_overlapping_tensors = self._inner


def _bench_compile(benchmark, n: int, engine: str, dynamic: bool) -> None:
    xs = _views(n)
    if engine == "aotio":
        aotio.torch.install("torch")
    timer = _OverlapTimer()
    rounds = 3 if n <= 100 else 1
    try:

        def setup():
            torch._dynamo.reset()

        def compile_once():
            torch.compile(step, backend="aot_eager", dynamic=dynamic)(xs)

        benchmark.pedantic(compile_once, setup=setup, rounds=rounds, iterations=1)
    finally:
        timer.close()
        aotio.torch.uninstall()
        torch._dynamo.reset()
    assert timer.calls == rounds  # one decision per compile: the benchmark measured it
    benchmark.extra_info["overlap_seconds"] = timer.seconds / rounds


@pytest.mark.parametrize("engine", ["pytorch", "aotio"])
@pytest.mark.parametrize("n", [100, 1000, 10000])
def test_compile_static_views(benchmark, n, engine):
    _bench_compile(benchmark, n, engine, dynamic=False)


@pytest.mark.parametrize("engine", ["pytorch", "aotio"])
@pytest.mark.parametrize("n", [100, 400, 1000])
def test_compile_dynamic_views(benchmark, n, engine):
    _bench_compile(benchmark, n, engine, dynamic=True)
