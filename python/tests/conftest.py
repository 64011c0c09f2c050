"""Shared paths for the Python tests: the repository's conformance dumps and CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "data" / "conformance"
GRAPHS = sorted((CONFORMANCE / "graphs").glob("*.json"))
GRAPHS = [p for p in GRAPHS if p.name != "index.json"]


@pytest.fixture(scope="session")
def aotio_cli() -> Path:
    """The CLI binary built by `cargo test --release` (or `$AOTIO_BIN`)."""
    path = Path(os.environ.get("AOTIO_BIN", REPO / "target" / "release" / "aotio"))
    assert path.is_file(), f"{path} not found: run `cargo build --release` first"
    return path
