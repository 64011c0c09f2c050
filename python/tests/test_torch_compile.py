"""aotio.torch under real ``torch.compile(backend="aot_eager")`` on CPU.

Each program mutates some of many views of one buffer. For each, the same
calls run eagerly, compiled by PyTorch alone (the baseline), and compiled with
``aotio.torch`` installed in torch and exact mode; outputs and buffers are
compared with eager, and in torch mode the compile count and every guard with
the baseline's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
import torch._dynamo
from torch._dynamo.eval_frame import _debug_get_cache_entry_list
from torch._dynamo.testing import CompileCounterWithBackend

import aotio.torch

# A family builds, from a size parameter, a fresh buffer and its views.
Family = Callable[[int], "tuple[torch.Tensor, list[torch.Tensor]]"]


def _arange(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32)


def slices_1d(k: int):
    buf = _arange(8 * k)
    return buf, [buf[i * k : (i + 1) * k] for i in range(8)]


def shampoo_blocks(k: int):
    # A (2k x 2k) matrix cut into four (k x k) blocks: rows contiguous, same
    # row stride; PyTorch's 2-D row rule is what proves them disjoint.
    buf = _arange(4 * k * k)
    m = buf.view(2 * k, 2 * k)
    return buf, [m[r * k : (r + 1) * k, c * k : (c + 1) * k] for r in range(2) for c in range(2)]


def windows(k: int):
    # Overlapping windows: every neighbour pair shares k // 2 elements.
    buf = _arange(5 * k)
    step = k - k // 2
    return buf, [buf[i * step : i * step + k] for i in range(8)]


def columns(k: int):
    # Interleaved columns: disjoint, yet PyTorch's test calls them overlapping.
    buf = _arange(k * 4)
    m = buf.view(k, 4)
    return buf, [m[:, j] for j in range(4)]


def missed_overlap(k: int):
    # (6,1)/(3,1)+3 and (1,3)/(3,1)+18 share element 18; PyTorch's 2-D row
    # rule says they are disjoint. ``k`` only grows the buffer.
    buf = _arange(30 + k)
    return buf, [buf.as_strided((6, 1), (3, 1), 3), buf.as_strided((1, 3), (3, 1), 18)]


def mutate_some(xs):
    for x in xs[::3]:
        x.mul_(2).add_(1)
    return torch.stack([x.sum() for x in xs])


@dataclass
class Run:
    results: list  # per call: (output, buffer after the call)
    frames: int  # compilations
    guards: list  # per cache entry: its guard code parts


def _run(fn, family: Family, sizes, *, dynamic, mode) -> Run:
    torch._dynamo.reset()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(fn, backend=counter, dynamic=dynamic)
    context = aotio.torch.installed(mode) if mode else contextlib.nullcontext()
    results = []
    with context:
        for k in sizes:
            buf, views = family(k)
            results.append((compiled(views), buf))
    entries = _debug_get_cache_entry_list(fn.__code__)
    guards = [list(e.guard_manager.code_parts) for e in entries]
    return Run(results, counter.frame_count, guards)


def _eager(fn, family: Family, sizes) -> list:
    results = []
    for k in sizes:
        buf, views = family(k)
        results.append((fn(views), buf))
    return results


def _same(a: list, b: list) -> bool:
    return all(
        torch.equal(x, y) for (ox, bx), (oy, by) in zip(a, b) for x, y in ((ox, oy), (bx, by))
    )


@pytest.fixture(autouse=True)
def _clean():
    torch._dynamo.reset()
    yield
    aotio.torch.uninstall()
    torch._dynamo.reset()


AGREEING = [slices_1d, shampoo_blocks, windows, columns]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("family", AGREEING, ids=lambda f: f.__name__)
def test_compiled_equals_eager_and_torch_mode_changes_no_guard(family, dynamic):
    # Two calls of one geometry, then a larger one (a recompile when static).
    sizes = [4, 4, 6]
    eager = _eager(mutate_some, family, sizes)
    baseline = _run(mutate_some, family, sizes, dynamic=dynamic, mode=None)
    torch_mode = _run(mutate_some, family, sizes, dynamic=dynamic, mode="torch")
    exact_mode = _run(mutate_some, family, sizes, dynamic=dynamic, mode="exact")
    assert _same(baseline.results, eager)
    assert _same(torch_mode.results, eager)
    assert _same(exact_mode.results, eager)
    assert torch_mode.frames == baseline.frames
    assert torch_mode.guards == baseline.guards
    assert aotio.torch.stats().mode is None


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_missed_overlap_is_wrong_without_aotio_and_right_in_exact_mode(dynamic):
    sizes = [0, 0]
    eager = _eager(mutate_some, missed_overlap, sizes)
    baseline = _run(mutate_some, missed_overlap, sizes, dynamic=dynamic, mode=None)
    torch_mode = _run(mutate_some, missed_overlap, sizes, dynamic=dynamic, mode="torch")
    exact_mode = _run(mutate_some, missed_overlap, sizes, dynamic=dynamic, mode="exact")
    # PyTorch alone: the mutation of view 0 is not seen through view 1.
    assert not _same(baseline.results, eager)
    # Torch mode reproduces PyTorch, wrong answer included.
    assert _same(torch_mode.results, baseline.results)
    assert torch_mode.guards == baseline.guards
    # Exact mode: right, and the second call reuses the graph (its guard holds).
    assert _same(exact_mode.results, eager)
    assert exact_mode.frames == 1


def test_torch_mode_makes_pytorchs_decision_on_every_group(monkeypatch):
    """Every decision made during dynamic compiles of random views is compared
    with PyTorch's own function on the same fake tensors."""
    import random

    from torch._C._dynamo.guards import compute_overlapping_tensors as pytorch_overlapping
    from torch._functorch._aot_autograd import input_output_analysis as analysis

    rng = random.Random(7)
    decisions = []
    aotio.torch.install("torch")
    ours = analysis.compute_overlapping_tensors

    def spy(tensors, symbolic=True):
        got = ours(tensors, symbolic=symbolic)
        decisions.append((got, pytorch_overlapping(tensors, symbolic=symbolic)))
        return got

    monkeypatch.setattr(analysis, "compute_overlapping_tensors", spy)

    def first_mutated(xs):
        xs[0].add_(1)
        return [x * 2 for x in xs]

    for _ in range(6):
        buf = torch.zeros(96)
        views = []
        for _ in range(4):
            rows, cols = rng.randrange(1, 4), rng.randrange(1, 4)
            outer = rng.choice([cols, cols + 1, 8, 9])
            views.append(buf.as_strided((rows, cols), (outer, 1), rng.randrange(0, 30)))
        torch._dynamo.reset()
        torch.compile(first_mutated, backend="aot_eager", dynamic=True)(views)
    assert len(decisions) == 6
    assert all(got == expected for got, expected in decisions), decisions
    assert aotio.torch.stats().calls == 6


def _pair(first: int, second: int, length: int = 10):
    def family(_k: int):
        buf = _arange(40)
        return buf, [buf[first : first + length], buf[second : second + length]]

    return family


def mutate_first(xs):
    xs[0].add_(100)
    return xs[1] * 1


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_exact_mode_recompiles_when_a_later_call_overlaps_differently(dynamic):
    """Compiled on disjoint slices, called on overlapping ones (same sizes and
    strides, other offsets): only the overlap guard can tell them apart."""

    def calls(_k: int):
        # Alternates: disjoint, overlapping, disjoint.
        return [_pair(0, 10), _pair(0, 5), _pair(0, 10)][calls.n]

    def family(k: int):
        fam = calls(k)
        calls.n += 1
        return fam(k)

    def run(mode):
        calls.n = 0
        return _run(mutate_first, family, [0, 0, 0], dynamic=dynamic, mode=mode)

    calls.n = 0
    eager = _eager(mutate_first, family, [0, 0, 0])
    exact_mode = run("exact")
    baseline = run(None)
    assert _same(exact_mode.results, eager)
    assert exact_mode.frames == 2  # the overlapping call recompiled, the third reused
    if dynamic:
        # PyTorch's own StorageOverlap guard catches it too.
        assert _same(baseline.results, eager)
        assert baseline.frames == 2
    else:
        # PyTorch 2.15 records no overlap guard for static inputs: the graph
        # compiled for disjoint slices runs on overlapping ones.
        assert not _same(baseline.results, eager)
        assert baseline.frames == 1


def test_aotio_checked_guard_in_torch_mode_recompiles_like_pytorch():
    """``guard="aotio"`` in torch mode: aotio's per-call check, PyTorch's recompiles."""

    def calls(_k: int):
        return [_pair(0, 10), _pair(0, 10), _pair(0, 5), _pair(0, 5)][calls.n]

    def family(k: int):
        fam = calls(k)
        calls.n += 1
        return fam(k)

    calls.n = 0
    baseline = _run(mutate_first, family, [0] * 4, dynamic=True, mode=None)
    calls.n = 0
    torch._dynamo.reset()
    aotio.torch.install("torch", guard="aotio")
    ours = _run(mutate_first, family, [0] * 4, dynamic=True, mode=None)
    assert _same(ours.results, baseline.results)
    assert ours.frames == baseline.frames == 2
    stats = aotio.torch.stats()
    assert stats.guards == 2 and stats.guard_checks > 0
    # One aotio guard per cache entry (its code shows on every leaf it uses).
    aotio_guards = [{g for g in entry if g.startswith("aotio ")} for entry in ours.guards]
    assert [len(g) for g in aotio_guards] == [1, 1], ours.guards


GLOBAL_VIEWS: list = []


def mutate_global_views():
    GLOBAL_VIEWS[0].add_(1)
    return GLOBAL_VIEWS[1] * 1


def test_exact_guard_reads_inputs_through_any_source():
    """Inputs reached through a global list: the check reads them with
    Dynamo's own source expressions (``G[...]``)."""
    layouts = [(4, 19), (4, 19), (4, 23)]  # overlapping twice, then disjoint

    def calls(compiled):
        results = []
        for first, second in layouts:
            buf = _arange(40)
            GLOBAL_VIEWS[:] = [
                buf.as_strided((6, 1), (3, 1), first),
                buf.as_strided((1, 3), (3, 1), second),
            ]
            results.append((compiled(), buf))
        GLOBAL_VIEWS.clear()
        return results

    eager = calls(mutate_global_views)
    torch._dynamo.reset()
    counter = CompileCounterWithBackend("aot_eager")
    with aotio.torch.installed("exact"):
        got = calls(torch.compile(mutate_global_views, backend=counter, dynamic=True))
    assert _same(got, eager)
    # The third call overlaps differently: the aotio guard failed, nothing else.
    assert counter.frame_count == 2
    (failures,) = torch._dynamo.utils.guard_failures.values()
    sources = "G['GLOBAL_VIEWS'][0], G['GLOBAL_VIEWS'][1]"
    assert failures == [
        f"0/0: aotio check_overlapping[exact](overlapping=[{sources}], non_overlapping=[])"
    ]
    assert aotio.torch.stats().mode is None
