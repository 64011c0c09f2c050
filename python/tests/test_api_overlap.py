"""`aotio.overlapping` on real tensors, against PyTorch's own function and the
true answer recorded in the shared overlap data."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import CONFORMANCE
from torch._C._dynamo.guards import compute_overlapping_tensors

import aotio

CASES = [json.loads(line) for line in (CONFORMANCE / "overlap.jsonl").read_text().splitlines()]


def tensors_of(case):
    """The case's views, made with as_strided on one storage of its dtype."""
    storage = torch.zeros(case["storage_numel"], dtype=getattr(torch, case["dtype"]))
    return [
        storage.as_strided(t["shape"], t["stride"], t["storage_offset"]) for t in case["tensors"]
    ]


def test_there_are_cases():
    assert len(CASES) >= 1000


def test_torch_mode_is_pytorchs_answer_on_every_case():
    wrong = []
    for case in CASES:
        ts = tensors_of(case)
        got = aotio.overlapping(ts, mode="torch")
        live = sorted(compute_overlapping_tensors(ts))
        if not (got == live == case["expect"]["torch"]):
            wrong.append(f"case {case['id']} ({case['kind']}): aotio {got}, torch {live}")
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ:\n" + "\n".join(wrong[:20])


def test_exact_mode_is_the_true_answer_on_every_case():
    wrong = []
    for case in CASES:
        got = aotio.overlapping(tensors_of(case), mode="exact")
        if got != case["expect"]["exact"]:
            wrong.append(f"case {case['id']} ({case['kind']}): {got} != {case['expect']['exact']}")
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ:\n" + "\n".join(wrong[:20])


def test_the_modes_differ_somewhere():
    # Otherwise the two tests above would not tell the modes apart.
    assert any(c["expect"]["torch"] != c["expect"]["exact"] for c in CASES)


def test_tensors_on_different_storages_never_overlap():
    a, b = torch.zeros(8), torch.zeros(8)
    assert aotio.overlapping([a, b, a[2:], b[:1]]) == [0, 1, 2, 3]
    assert aotio.overlapping([a, b]) == []
    assert aotio.overlapping([a, b], mode="exact") == []


def test_the_same_tensor_twice_overlaps_itself_in_torch_mode_even_empty():
    a = torch.zeros(8)
    empty = a[3:3]
    assert sorted(compute_overlapping_tensors([empty, empty])) == [0, 1]
    assert aotio.overlapping([empty, empty]) == [0, 1]
    # Two distinct empty views share no element: neither PyTorch nor exact mode.
    assert aotio.overlapping([a[3:3], a[3:3]]) == []
    assert aotio.overlapping([empty, empty], mode="exact") == []


def test_exact_mode_compares_bytes_across_dtypes():
    a = torch.zeros(4, dtype=torch.float32)
    as_bytes = a.view(torch.uint8)
    # Elements 0..1 are bytes 0..7; bytes 8..9 lie after them, byte 7 inside.
    assert aotio.overlapping([a[0:2], as_bytes[8:10]], mode="exact") == []
    assert aotio.overlapping([a[0:2], as_bytes[7:9]], mode="exact") == [0, 1]
    # PyTorch compares offsets and strides as if they counted the same unit.
    assert aotio.overlapping([a[0:2], as_bytes[7:9]], mode="torch") == sorted(
        compute_overlapping_tensors([a[0:2], as_bytes[7:9]])
    )


def test_no_data_is_read():
    # Meta tensors have no data; their geometry is all that is needed.
    base = torch.empty(16, device="meta")
    views = [base[0:8], base[4:12], base[12:]]
    assert aotio.overlapping(views) == [0, 1]


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        aotio.overlapping([torch.zeros(2)], mode="fast")
    with pytest.raises(TypeError, match=r"tensors\[1\]"):
        aotio.overlapping([torch.zeros(2), [1, 2]])
