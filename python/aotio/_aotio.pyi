"""Type stubs for the Rust extension module (see src/lib.rs for the docs)."""

from os import PathLike
from typing import Any, Final, TypedDict

__version__: Final[str]

class Diagnostic(TypedDict):
    """One problem with a dump: the node (if any) and field it is in."""

    node: str | None
    field: str
    message: str
    line: int | None
    column: int | None

class GraphError(ValueError):
    """A dump that is not a valid version-1 graph; ``diagnostics`` lists every problem."""

    diagnostics: list[Diagnostic]

class AnalysisError(GraphError):
    """A dump that loads but that the analysis cannot follow."""

class Graph:
    """A checked graph dump (format ``aotio.graph`` v1), immutable."""

    @staticmethod
    def from_dict(dump: dict[str, Any]) -> Graph:
        """Checks a dump given as a dict; raises :class:`GraphError` listing every problem."""
    @staticmethod
    def loads(text: str) -> Graph:
        """Checks a dump given as JSON text."""
    @staticmethod
    def load(path: str | PathLike[str]) -> Graph:
        """Reads and checks the dump in the file at ``path``."""
    def to_json(self, indent: int | None = None) -> str:
        """The dump as JSON text (one line, or ``indent`` spaces per level)."""
    def save(self, path: str | PathLike[str]) -> None:
        """Writes the dump to ``path``."""
    def to_dict(self) -> dict[str, Any]:
        """The dump as a new dict."""
    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The placeholders in order: ``name``, ``kind``, ``fqn``, ``source``."""
    @property
    def name(self) -> str:
        """The dump's ``name``."""
    def __len__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...

class RawReport:
    """The analysis result; :class:`aotio.Report` wraps it."""

    def to_dict(self) -> dict[str, Any]: ...
    def get(self, key: str) -> Any: ...
    def to_json(self, indent: int | None = None) -> str: ...

class UpdateSummary:
    """What ``Session.update`` changed."""

    @property
    def nodes_added(self) -> int: ...
    @property
    def nodes_removed(self) -> int: ...
    @property
    def structures_changed(self) -> int: ...
    @property
    def values_changed(self) -> int: ...
    @property
    def fields_changed(self) -> list[str]: ...
    def is_empty(self) -> bool:
        """True when the update changed nothing."""

class RawSession:
    def __init__(self, graph: Graph, overlap: str = "torch") -> None: ...
    def update(self, graph: Graph) -> UpdateSummary: ...
    def report(self) -> RawReport: ...
    def executed_queries(self) -> list[str]: ...

def analyze(graph: Graph, overlap: str = "torch") -> RawReport:
    """Runs every analysis on ``graph`` in a fresh database."""

def overlapping_views(
    views: list[tuple[list[int], list[int], int]], mode: str = "torch"
) -> list[int]:
    """Members of a list of ``(sizes, strides, storage_offset)`` views of one
    storage (in elements) that overlap another member, sorted: PyTorch's
    verdict (``mode="torch"``) or the true one (``"exact"``)."""
