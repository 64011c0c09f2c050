"""Generated graphs for the benchmarks, made by the CLI's `gen` (same seed as
the criterion benchmark `benches/incremental.rs`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import aotio

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """(base, edited) 10,000-node graphs: the edit stores one weight transposed."""
    cli = Path(os.environ.get("AOTIO_BIN", REPO / "target" / "release" / "aotio"))
    assert cli.is_file(), f"{cli} not found: run `cargo build --release` first"
    out = tmp_path_factory.mktemp("gen10k")
    subprocess.run(
        [cli, "gen", "--nodes", "10000", "--seed", "1", "--edits", "1"]
        + ["--kinds", "tensor-metadata", "--out", out],
        check=True,
    )
    return aotio.Graph.load(out / "000.json"), aotio.Graph.load(out / "001.json")
