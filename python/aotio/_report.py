"""Typed, read-only views of an analysis report, with PyTorch's names."""

from __future__ import annotations


class Report:
    """What aotio computed for a graph, in the layout of a conformance ``expect`` block."""

    __slots__ = ("_raw",)

    def __init__(self, raw):
        self._raw = raw

    def to_dict(self) -> dict:
        """Exactly what ``aotio analyze FILE --format json`` prints, as a new dict."""
        return self._raw.to_dict()

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text (``indent=2`` is the CLI's layout)."""
        return self._raw.to_json(indent)
