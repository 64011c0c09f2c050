"""aotio.compare on seeded random programs (``programs/random_programs.py``).

Every seed in the ranges below must agree with PyTorch on the analysis
(``ANALYSIS``: export signatures are neither asked for nor compared). Seeds where aotio
disagrees are listed with the reason; they are strict xfails, so fixing
aotio turns them into failures to remove from the list.
"""

from __future__ import annotations

import pytest
from programs.random_programs import program

from aotio.compare import compare, pytorch_expect
from aotio.tracing import TraceError

STATIC_SEEDS = range(100)
DYNAMIC_SEEDS = range(2000, 2040)

MULTI_OUTPUT_VIEW = (
    "PyTorch refuses (collect_metadata RuntimeError from autograd) a multi-output view "
    "(unbind/split) used after it, its base or a sibling was modified in place; aotio "
    "accepts it"
)
SPECIALIZED = (
    "dynamic shapes: PyTorch's functionalized metadata collection specializes a size the "
    "pre-dispatch trace keeps symbolic (guards differ between the two runs), so the "
    "output's dynamic_dims differ; a dump carries only the trace's guards"
)
ANALYSIS = ("needs_autograd", "fw_metadata", "dedupe", "synthetic_base", "overlapping_inputs")
KNOWN = {77: MULTI_OUTPUT_VIEW, 2015: SPECIALIZED}


def params(seeds):
    return [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN[s])) if s in KNOWN else s
        for s in seeds
    ]


def check(seed, dynamic):
    fn, args = program(seed)
    try:
        diff = compare(fn, args, export=(), dynamic=dynamic, keys=ANALYSIS)
    except TraceError as exc:
        # Autograd refused a step while tracing; PyTorch's analysis must
        # refuse the program as well.
        expected = pytorch_expect(fn, args, export=(), dynamic=dynamic)
        assert expected.get("error", {}).get("stage") == "collect_metadata", (
            f"seed {seed} {fn.plan}: aotio cannot trace ({exc}) but PyTorch analyses it"
        )
        return
    assert not diff, f"seed {seed} {fn.plan}:\n{diff}"


@pytest.mark.parametrize("seed", params(STATIC_SEEDS))
def test_random_program_static(seed):
    check(seed, dynamic=False)


@pytest.mark.parametrize("seed", params(DYNAMIC_SEEDS))
def test_random_program_dynamic(seed):
    check(seed, dynamic=True)
