"""Every shared conformance case's `expect`, reproduced through the Python path.

Load the dump with `aotio.Graph`, analyse it with `aotio.analyze`, and compare
with what PyTorch 2.15 computed, field by field on the exact fields
(`aotio._diff`, which `aotio.compare` uses too).
"""

from __future__ import annotations

import json

import pytest
from conftest import GRAPHS

import aotio
from aotio._diff import exact_diff


def _case(path):
    case = json.loads(path.read_text())
    expect = case.pop("expect")
    return case, expect


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_expect_reproduced(path):
    dump, expect = _case(path)
    report = aotio.analyze(aotio.Graph.from_dict(dump))
    problems = exact_diff(expect, report.to_dict())
    assert not problems, f"{path.stem} differs from PyTorch:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_refusals_come_back_as_report_error(path):
    dump, expect = _case(path)
    report = aotio.analyze(aotio.Graph.from_dict(dump))
    if "error" in expect:
        assert report.error is not None
        assert (report.error.stage, report.error.type) == (
            expect["error"]["stage"],
            expect["error"]["type"],
        )
        assert report.fw_metadata is None
    else:
        assert report.error is None
        assert report.needs_autograd == expect["needs_autograd"]


def test_the_diff_names_the_field_that_differs():
    dump, expect = _case(GRAPHS[0])
    got = aotio.analyze(aotio.Graph.from_dict(dump)).to_dict()
    got["fw_metadata"]["input_info"][0]["mutates_data"] = not got["fw_metadata"]["input_info"][0][
        "mutates_data"
    ]
    got["fw_metadata"]["output_info"][0]["raw_type"] = "torch.SymInt"
    problems = exact_diff(expect, got)
    assert len(problems) == 2, problems
    assert problems[0].startswith("fw_metadata.input_info[0].mutates_data: expected ")
    assert problems[1] == 'fw_metadata.output_info[0].raw_kind: expected "Tensor", got "SymInt"'


def test_the_diff_ignores_informational_fields():
    dump, expect = _case(GRAPHS[0])
    got = aotio.analyze(aotio.Graph.from_dict(dump)).to_dict()
    got["fw_metadata"]["traced_tangents_descs"] = ["something else"]
    got["aot_guards"] = ["anything"]
    assert exact_diff(expect, got) == []
