"""aotio.tracing reproduces the shared conformance dumps.

Each program in ``_reference_programs`` is the program a conformance case's
description names; tracing it must give the dump PyTorch's reference tracer
wrote, field by field (only the informational ``tracer``/``torch_version``/
``export`` config keys, the case name and the description are left out).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _reference_programs import REFERENCE_PROGRAMS

from aotio.tracing import trace_dict

CASES = Path(__file__).resolve().parents[2] / "tests" / "data" / "conformance" / "graphs"
IGNORED_CONFIG = ("tracer", "torch_version", "export")


def field_diff(want, got, path=""):
    if type(want) is not type(got):
        return [f"{path}: reference {json.dumps(want)[:200]}, traced {json.dumps(got)[:200]}"]
    if isinstance(want, dict):
        out = []
        for k in sorted(set(want) | set(got)):
            out += field_diff(want.get(k), got.get(k), f"{path}.{k}")
        return out
    if isinstance(want, list):
        if len(want) != len(got):
            return [
                f"{path}: reference has {len(want)} items, traced {len(got)}: {json.dumps(got)[:300]}"
            ]
        out = []
        for i, (a, b) in enumerate(zip(want, got)):
            out += field_diff(a, b, f"{path}[{i}]")
        return out
    return (
        [] if want == got else [f"{path}: reference {json.dumps(want)}, traced {json.dumps(got)}"]
    )


def comparable(dump):
    dump = {k: v for k, v in dump.items() if k not in ("name", "description", "expect")}
    dump["config"] = {k: v for k, v in dump["config"].items() if k not in IGNORED_CONFIG}
    return dump


def trace_program(name):
    build, options = REFERENCE_PROGRAMS[name]
    options = dict(options)
    grad_enabled = options.pop("grad_enabled", True)
    fn, args, kwargs = build()
    with torch.set_grad_enabled(grad_enabled):
        return trace_dict(fn, args, kwargs, **options)


@pytest.mark.parametrize("name", sorted(REFERENCE_PROGRAMS))
def test_trace_matches_reference_dump(name):
    reference = json.loads((CASES / f"{name}.json").read_text())
    problems = field_diff(comparable(reference), comparable(trace_program(name)))
    assert not problems, f"{name}: {len(problems)} differences\n" + "\n".join(problems[:20])


def test_reference_programs_cover_every_case():
    # A case without a program would go unchecked; a program without a case
    # would fail above, naming the missing file.
    cases = {p.stem for p in CASES.glob("*.json")} - {"index"}
    assert sorted(cases - set(REFERENCE_PROGRAMS)) == []
