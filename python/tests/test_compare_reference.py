"""pytorch_expect reproduces the shared data's ``expect`` blocks, and the diff can fail.

This checks PyTorch's side of aotio.compare on its own: for each program in
``_reference_programs``, the live analysis must equal the ``expect`` block
the steering oracle recorded for that case (exact fields only), asking for
the export flavours that block records.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from _reference_programs import REFERENCE_PROGRAMS

import aotio
from aotio.compare import Diff, diff_expect, pytorch_expect
from aotio.tracing import trace

CASES = Path(__file__).resolve().parents[2] / "tests" / "data" / "conformance" / "graphs"


def expect_of(name):
    return json.loads((CASES / f"{name}.json").read_text())["expect"]


def run_reference(name, run):
    """`run(fn, args, kwargs, export=..., **options)` on reference program
    `name`, in its grad mode, asking for the flavours its expect block has;
    returns the recorded expect block and what `run` gave."""
    recorded = expect_of(name)
    build, options = REFERENCE_PROGRAMS[name]
    options = dict(options)
    grad_enabled = options.pop("grad_enabled", True)
    fn, args, kwargs = build()
    with torch.set_grad_enabled(grad_enabled):
        got = run(fn, args, kwargs, export=list(recorded["graph_signature"]), **options)
    return recorded, got


@pytest.mark.parametrize("name", sorted(REFERENCE_PROGRAMS))
def test_pytorch_expect_matches_shared_data(name):
    recorded, live = run_reference(name, pytorch_expect)
    diff = diff_expect(recorded, live)
    assert not diff, f"{name}:\n{diff}"


@pytest.mark.parametrize("name", sorted(REFERENCE_PROGRAMS))
def test_traced_program_analysis_matches_shared_data(name):
    # End to end: program -> aotio.trace -> aotio.analyze, against the
    # recorded expect block (no live PyTorch analysis involved).
    recorded, graph = run_reference(name, trace)
    diff = diff_expect(recorded, aotio.analyze(graph).to_dict())
    assert not diff, f"{name}:\n{diff}"


def test_diff_reports_each_changed_exact_field():
    recorded = expect_of("dup_args_mutation")
    changed = copy.deepcopy(recorded)
    changed["fw_metadata"]["input_info"][0]["mutates_data"] = False
    changed["dedupe"]["keep_arg_mask"] = [True, True]
    changed["fw_metadata"]["traced_tangents_descs"] = ["informational only"]
    diff = diff_expect(recorded, changed)
    assert isinstance(diff, Diff)
    assert sorted(line.split(":")[0] for line in diff) == [
        "dedupe.keep_arg_mask[1]",
        "fw_metadata.input_info[0].mutates_data",
    ]
    assert "expected true, got false" in str(diff)
    assert str(diff_expect(recorded, recorded)) == "no differences"


def test_diff_compares_signature_names_as_positions():
    recorded = expect_of("module_linear")
    renamed = copy.deepcopy(recorded)
    sig = renamed["graph_signature"]["inference"]
    mapping = {n: f"renamed_{n}" for n in sig["graph_input_names"] + sig["graph_output_names"]}
    sig["graph_input_names"] = [mapping[n] for n in sig["graph_input_names"]]
    sig["graph_output_names"] = [mapping[n] for n in sig["graph_output_names"]]
    sig["user_inputs"] = [mapping[n] for n in sig["user_inputs"]]
    sig["user_outputs"] = [mapping[n] for n in sig["user_outputs"]]
    sig["inputs_to_parameters"] = {mapping[k]: v for k, v in sig["inputs_to_parameters"].items()}
    assert not diff_expect(recorded, renamed)
    sig["user_outputs"] = []
    assert diff_expect(recorded, renamed)


def test_refusal_is_a_result_with_stage_and_type():
    def grow(x):
        return x.resize_(20)

    live = pytorch_expect(grow, (torch.randn(3),))
    assert live["error"]["stage"] == "collect_metadata"
    assert live["error"]["type"] == "RuntimeError"
    assert "fw_metadata" not in live
