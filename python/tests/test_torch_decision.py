"""aotio.torch's overlap decision on fake tensors, against PyTorch's own
``compute_overlapping_tensors`` called on the same tensors (no compile: fast).

The symbolic views come from a real ShapeEnv, as under ``torch.compile``.
"""

from __future__ import annotations

import contextlib
import random

import pytest
import torch
from torch._C._dynamo.guards import compute_overlapping_tensors as pytorch_overlapping
from torch._functorch._aot_autograd import input_output_analysis as analysis
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import (
    DimDynamic,
    ShapeEnv,
    StatelessSymbolicContext,
)

import aotio.torch


@pytest.fixture(autouse=True)
def _uninstalled():
    yield
    aotio.torch.uninstall()


def _symbolic(v: torch.Tensor) -> StatelessSymbolicContext:
    dims = [DimDynamic.DYNAMIC] * v.dim()
    return StatelessSymbolicContext(
        dynamic_sizes=dims,
        dynamic_strides=dims,
        view_base_context=StatelessSymbolicContext(dynamic_sizes=[DimDynamic.DYNAMIC]),
    )


def _fake_views(views, symbolic: bool):
    """Fake copies of views of one buffer, sizes/strides/offsets symbolic if asked."""
    shape_env = ShapeEnv() if symbolic else None
    mode = FakeTensorMode(shape_env=shape_env)
    fakes = [
        mode.from_tensor(v, symbolic_context=_symbolic(v) if symbolic else None) for v in views
    ]
    return shape_env, fakes


def _random_views(rng: random.Random, base: torch.Tensor, n: int):
    """Views of ``base`` in 1-D and 2-D, with enough near-misses and row-stride
    coincidences to reach every branch of PyTorch's test."""
    views = []
    for _ in range(n):
        offset = rng.randrange(0, 24)
        if rng.random() < 0.4:
            size, stride = rng.randrange(0, 6), rng.choice([1, 1, 2, 3])
            views.append(base.as_strided((size,), (stride,), offset))
        else:
            rows, cols = rng.randrange(1, 5), rng.randrange(1, 5)
            inner = rng.choice([1, 1, 1, 2])
            outer = rng.choice([cols * inner, cols * inner + 1, 8, 8, 9])
            views.append(base.as_strided((rows, cols), (outer, inner), offset))
    return views


def _missed_overlap_views(base: torch.Tensor):
    # Element 18 is in both; PyTorch's 2-D row rule says "no overlap".
    return [base.as_strided((6, 1), (3, 1), 3), base.as_strided((1, 3), (3, 1), 18)]


@pytest.mark.parametrize("seed", range(40))
def test_torch_mode_equals_pytorch_on_random_static_views(seed):
    rng = random.Random(seed)
    _, fakes = _fake_views(_random_views(rng, torch.zeros(64), rng.randrange(2, 7)), False)
    expected = pytorch_overlapping(fakes, symbolic=False)
    aotio.torch.install("torch")
    assert analysis.compute_overlapping_tensors(fakes, symbolic=False) == expected
    assert (aotio.torch.stats().calls, aotio.torch.stats().fallbacks) == (1, 0)


@pytest.mark.parametrize("seed", range(40))
def test_torch_mode_equals_pytorch_on_random_symbolic_views(seed):
    rng = random.Random(1000 + seed)
    shape_env, fakes = _fake_views(_random_views(rng, torch.zeros(64), rng.randrange(2, 7)), True)
    with shape_env.suppress_guards():
        expected = pytorch_overlapping(fakes, symbolic=True)
    guards_before = len(shape_env.guards)
    aotio.torch.install("torch")
    with shape_env.suppress_guards():
        got = analysis.compute_overlapping_tensors(fakes, symbolic=True)
    assert got == expected
    assert len(shape_env.guards) == guards_before
    assert (aotio.torch.stats().calls, aotio.torch.stats().fallbacks) == (1, 0)


@pytest.mark.parametrize("symbolic", [False, True])
def test_exact_mode_finds_the_overlap_pytorch_misses(symbolic):
    shape_env, fakes = _fake_views(_missed_overlap_views(torch.zeros(30)), symbolic)
    suppressed = shape_env.suppress_guards if symbolic else contextlib.nullcontext
    with suppressed():
        assert pytorch_overlapping(fakes, symbolic=symbolic) == set()
        aotio.torch.install("exact")
        assert analysis.compute_overlapping_tensors(fakes, symbolic=symbolic) == {0, 1}
        aotio.torch.install("torch")
        assert analysis.compute_overlapping_tensors(fakes, symbolic=symbolic) == set()


def test_exact_mode_drops_pytorch_false_positive():
    # Interleaved columns of a 4x4 matrix: disjoint, but their address ranges meet.
    base = torch.zeros(16).view(4, 4)
    _, fakes = _fake_views([base[:, j] for j in range(4)], False)
    assert pytorch_overlapping(fakes, symbolic=False) == {0, 1, 2, 3}
    aotio.torch.install("exact")
    assert analysis.compute_overlapping_tensors(fakes, symbolic=False) == set()


def test_a_tensor_repeated_overlaps_itself_even_when_empty():
    base = torch.zeros(10)
    empty, other = base[3:3], base[5:7]
    _, (fake_empty, fake_other) = _fake_views([empty, other], False)
    tensors = [fake_empty, fake_other, fake_empty]
    expected = pytorch_overlapping(tensors, symbolic=False)
    assert expected == {0, 2}
    for mode in aotio.torch.MODES:
        aotio.torch.install(mode)
        assert analysis.compute_overlapping_tensors(tensors, symbolic=False) == expected


def test_symbolic_sizes_without_suppressed_guards_fall_back_to_pytorch():
    # Outside Dynamo nobody suppresses guards: PyTorch records one per
    # comparison, and only PyTorch's function records the same ones.
    base = torch.zeros(20)
    views = [base[0:10], base[5:15], base[12:20]]
    reference_env, reference = _fake_views(views, True)
    expected = pytorch_overlapping(reference, symbolic=True)
    shape_env, fakes = _fake_views(views, True)
    aotio.torch.install("exact")
    assert analysis.compute_overlapping_tensors(fakes, symbolic=True) == expected
    assert [str(g.expr) for g in shape_env.guards] == [str(g.expr) for g in reference_env.guards]
    stats = aotio.torch.stats()
    assert (stats.calls, stats.fallbacks) == (0, 1)
    assert stats.fallback_reasons == {"symbolic sizes with shape guards not suppressed": 1}


def test_engine_refusal_falls_back_and_is_counted(monkeypatch):
    base = torch.zeros(30)
    _, fakes = _fake_views(_missed_overlap_views(base), False)
    aotio.torch.install("exact")

    def refuse(views, mode):
        raise ValueError("no")

    monkeypatch.setattr(aotio.torch._STATE, "views_fn", refuse)
    # PyTorch's verdict (the missed overlap), not aotio's.
    assert analysis.compute_overlapping_tensors(fakes, symbolic=False) == set()
    stats = aotio.torch.stats()
    assert stats.fallback_reasons == {"aotio refused the geometry: ValueError": 1}
    assert stats.fallback_seconds > 0


def test_install_uninstall_restore_every_reference():
    from torch._functorch import aot_autograd
    from torch._functorch._aot_autograd import runtime_wrappers

    before = (
        analysis.compute_overlapping_tensors,
        analysis.compute_overlapping_inputs,
        runtime_wrappers.compute_overlapping_inputs,
        aot_autograd.compute_overlapping_inputs,
    )
    aotio.torch.install("torch")
    during = (
        analysis.compute_overlapping_tensors,
        analysis.compute_overlapping_inputs,
        runtime_wrappers.compute_overlapping_inputs,
        aot_autograd.compute_overlapping_inputs,
    )
    assert all(a is not b for a, b in zip(before, during))
    aotio.torch.install("exact")  # switching mode patches nothing twice
    aotio.torch.uninstall()
    after = (
        analysis.compute_overlapping_tensors,
        analysis.compute_overlapping_inputs,
        runtime_wrappers.compute_overlapping_inputs,
        aot_autograd.compute_overlapping_inputs,
    )
    assert all(a is b for a, b in zip(before, after))
    assert aotio.torch.stats().mode is None


def test_installed_restores_the_previous_mode():
    aotio.torch.install("torch")
    with aotio.torch.installed("exact"):
        assert aotio.torch.stats().mode == "exact"
    assert aotio.torch.stats().mode == "torch"
    aotio.torch.uninstall()
    with aotio.torch.installed("exact"):
        assert aotio.torch.stats().mode == "exact"
    assert aotio.torch.stats().mode is None


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="mode must be one of"):
        aotio.torch.install("fast")
    with pytest.raises(ValueError, match="needs guard='aotio'"):
        aotio.torch.install("exact", guard="pytorch")
    with pytest.raises(ValueError, match="guard must be"):
        aotio.torch.install("torch", guard="none")
    assert aotio.torch.stats().mode is None


def test_a_reference_kept_after_uninstall_gives_pytorchs_verdict():
    aotio.torch.install("exact")
    kept = analysis.compute_overlapping_tensors
    aotio.torch.uninstall()
    _, fakes = _fake_views(_missed_overlap_views(torch.zeros(30)), False)
    assert kept(fakes, symbolic=False) == set()  # PyTorch's (missed) verdict, not exact
