"""aotio.compare agrees with live PyTorch on the programs in ``programs/``."""

from __future__ import annotations

import pytest
import torch
from programs import all_programs

from aotio.compare import compare

PROGRAMS = all_programs()

# Disagreements with PyTorch that are bugs in aotio's analysis, not in these
# programs: each fails once fixed (strict xfail), so it is noticed.
KNOWN_AOTIO_BUGS: dict[str, str] = {
    "grad_and_export.none_input_and_output": (
        "a function returning None is dumped with an empty output tuple (as the reference "
        "tracer writes it), so aotio cannot see that export wraps None in a 1-tuple "
        "(user_outputs [None]); version 1 cannot tell `return None` from `return ()`"
    ),
    "custom_ops.functional_custom_op_and_view": (
        "the op registers an autograd formula, so PyTorch exports the joint graph; a "
        "version-1 dump cannot say so and aotio assumes none (as the shared case "
        "custom_op_functional_and_view requires), refusing the joint export"
    ),
    "refusals.copy_into_aliased_input_train": (
        "input-mutation tangent of a view input last written by copy_: PyTorch keeps the "
        "storage offset of the value before the write (12), aotio applies the offset-0 "
        "rule; semantics 3.3.6 documents this operator-dependent exception"
    ),
    "refusals.no_grad_view_returned_after_base_mutation": (
        "metadata collection refuses as PyTorch does (a no_grad view returned after its base "
        "was written with grad on), but aotio's no_grad replay for the inference export "
        "raises AssertionError where PyTorch exports"
    ),
    "dynamic.slice_then_clone": (
        "the clone's contiguous stride is Max(1, s27 - 1) as PyTorch prints it; aotio's "
        "size-expression parser rejects Max (format section 3 names only + - * // %), so "
        "Graph.from_dict raises GraphError"
    ),
    "modules.lstm": (
        "aot_export_module(trace_joint=True) refuses nn.LSTM with an AssertionError "
        "(3 parameter gradients for 4 backward outputs: two gradients of the joint graph "
        "are one node); aotio exports the joint signature"
    ),
    "modules.kwargs_forward": (
        "aot_export_module(trace_joint=True) refuses keyword arguments (TypeError from "
        "fn_to_trace); aotio exports the joint signature anyway"
    ),
}


def unpack(program):
    built = program()
    fn, args = built[0], built[1]
    kwargs = built[2] if len(built) > 2 else {}
    options = dict(built[3]) if len(built) > 3 else {}
    return fn, args, kwargs, options


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_AOTIO_BUGS[n]))
        if n in KNOWN_AOTIO_BUGS
        else n
        for n in sorted(PROGRAMS)
    ],
)
def test_compare_is_empty(name):
    fn, args, kwargs, options = unpack(PROGRAMS[name])
    grad_enabled = options.pop("grad_enabled", True)
    with torch.set_grad_enabled(grad_enabled):
        diff = compare(fn, args, kwargs, **options)
    assert not diff, f"{name}:\n{diff}"


def test_at_least_sixty_programs():
    assert len(PROGRAMS) >= 60
