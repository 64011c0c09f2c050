"""`Report.to_dict()` is exactly what `aotio analyze FILE --format json` prints."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import GRAPHS

import aotio


def test_there_are_dumps_to_compare():
    assert len(GRAPHS) >= 70


@pytest.mark.parametrize("overlap", ["torch", "exact"])
@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_to_dict_equals_cli_json(aotio_cli, path, overlap):
    cli = subprocess.run(
        [aotio_cli, "analyze", path, "--format", "json", "--overlap", overlap],
        capture_output=True,
        text=True,
        check=False,
    )
    # 1: PyTorch refuses the program (the report is still printed).
    assert cli.returncode in (0, 1), cli.stderr
    report = aotio.analyze(aotio.Graph.load(path), overlap=overlap)
    assert report.to_dict() == json.loads(cli.stdout)
    # The same text, byte for byte, and in the same key order.
    assert report.to_json(indent=2) == cli.stdout.rstrip("\n")
    # Each key read alone (as the typed attributes do) is the same too.
    for key, value in json.loads(cli.stdout).items():
        assert report._raw.get(key) == value, key


def test_a_key_not_in_the_report_is_a_key_error():
    report = aotio.analyze(aotio.Graph.load(GRAPHS[0]))
    with pytest.raises(KeyError, match="fw_meta"):
        report._raw.get("fw_meta")
