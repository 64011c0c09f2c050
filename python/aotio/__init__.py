"""aotio: PyTorch AOTAutograd's input/output analysis, in Rust, for PyTorch programs.

Trace a program (or load a dump) into a :class:`Graph`, then :func:`analyze` it::

    import aotio
    report = aotio.analyze(model, (x,))              # traces first
    report = aotio.analyze(aotio.Graph.load("dump.json"))
    report.fw_metadata.input_info[0].mutates_data

:func:`trace`, :func:`compare` and :func:`overlapping` need torch and import it
on first use: loading and analysing dumps does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aotio._aotio import (
    AnalysisError,
    Graph,
    GraphError,
    RawSession,
    UpdateSummary,
    overlapping_views,
)
from aotio._aotio import analyze as _analyze
from aotio._report import (
    BackwardSignature,
    Dedupe,
    GraphSignature,
    InputAliasInfo,
    MutationType,
    OutputAliasInfo,
    OutputType,
    OverlappingInputs,
    Report,
    SyntheticBase,
    TensorMeta,
    TorchError,
    ViewAndMutationMeta,
)

# tracing and compare import torch only inside their functions, so importing
# them here is cheap; it also makes `aotio.compare` the function for good
# (a later `import aotio.compare` does not rebind a loaded submodule).
from aotio.compare import compare
from aotio.tracing import TraceError, trace

__all__ = [
    "AnalysisError",
    "BackwardSignature",
    "Dedupe",
    "Graph",
    "GraphError",
    "GraphSignature",
    "InputAliasInfo",
    "MutationType",
    "OutputAliasInfo",
    "OutputType",
    "OverlappingInputs",
    "Report",
    "Session",
    "SyntheticBase",
    "TensorMeta",
    "TorchError",
    "TraceError",
    "UpdateSummary",
    "ViewAndMutationMeta",
    "analyze",
    "compare",
    "overlapping",
    "overlapping_views",
    "trace",
]


def analyze(
    graph_or_fn: Any,
    args: Sequence[Any] | None = None,
    kwargs: dict | None = None,
    *,
    overlap: str = "torch",
    **trace_options: Any,
) -> Report:
    """Runs AOTAutograd's input/output analysis and returns a :class:`Report`.

    ``graph_or_fn`` is a :class:`Graph`, or a function / ``nn.Module`` that is
    traced first with ``aotio.trace(graph_or_fn, args, kwargs, **trace_options)``.
    ``overlap`` is ``"torch"`` (PyTorch's verdicts, false negatives included)
    or ``"exact"`` (only real sharing of elements). Cases PyTorch refuses come
    back as ``report.error``; a dump the analysis cannot follow raises
    :class:`AnalysisError`.
    """
    if isinstance(graph_or_fn, Graph):
        if args is not None or kwargs is not None or trace_options:
            raise TypeError("args, kwargs and trace options apply only when tracing a callable")
        graph = graph_or_fn
    elif callable(graph_or_fn):
        from aotio.tracing import trace  # torch is imported only when tracing

        graph = trace(graph_or_fn, args, kwargs, **trace_options)
    else:
        raise TypeError(
            f"analyze() takes an aotio.Graph or a callable, not {type(graph_or_fn).__name__}"
        )
    return Report(_analyze(graph, overlap))


class Session:
    """One graph kept in an incremental database, for recompilation loops.

    ``update(graph)`` hands over a new version of the program (nodes are
    matched by name and only the fields that differ are set), and ``report()``
    re-runs only the analyses those changes feed: a loop that re-traces after a
    guard failure pays for what changed, not for the whole graph.

    >>> session = aotio.Session(graph)
    >>> first = session.report()
    >>> session.update(retraced)          # UpdateSummary(values_changed=2, ...)
    >>> second = session.report()
    >>> session.executed_queries()        # what re-ran for `second`
    """

    def __init__(self, graph: Graph, overlap: str = "torch") -> None:
        """Starts a session on ``graph``; ``overlap`` as in :func:`analyze`."""
        self._raw = RawSession(graph, overlap)

    def update(self, graph: Graph) -> UpdateSummary:
        """Brings the session in line with ``graph`` and says what changed."""
        return self._raw.update(graph)

    def report(self) -> Report:
        """Every analysis of the current graph (the same as ``analyze`` would give)."""
        return Report(self._raw.report())

    def executed_queries(self) -> list:
        """Names of the queries executed (not merely re-validated) for the last
        ``report()``, such as ``"fw_metadata(Id(0))"``; empty after a report
        on an unchanged graph."""
        return self._raw.executed_queries()


def overlapping(tensors: Sequence[Any], mode: str = "torch") -> list:
    """Indices of the tensors that overlap another tensor of the list, sorted.

    Reads each tensor's sizes, strides, storage offset and storage (no data
    is read or copied). Tensors on different storages never overlap.

    * ``mode="torch"``: PyTorch's own verdict, as AOTAutograd computes it with
      ``torch._C._dynamo.guards.compute_overlapping_tensors`` on each group of
      tensors sharing a storage, false positives and false negatives included.
    * ``mode="exact"``: the tensors that really share a byte with another
      (views of one storage with different dtypes are compared in bytes).
    """
    if mode not in ("torch", "exact"):
        raise ValueError(f'mode must be "torch" or "exact", not {mode!r}')
    groups: dict = {}
    for i, t in enumerate(tensors):
        if getattr(t, "layout", None) is None or str(t.layout) != "torch.strided":
            raise TypeError(f"tensors[{i}]: a strided torch.Tensor is needed, not {type(t)!r}")
        groups.setdefault(t.untyped_storage()._cdata, []).append(i)
    result = []
    for members in groups.values():
        if len(members) < 2:
            continue
        group = [tensors[i] for i in members]
        found = set()
        if mode == "torch":
            views = [_geometry(t, 1) for t in group]
            # PyTorch never calls a tensor disjoint from itself, even an empty one.
            first = {}
            for k, t in enumerate(group):
                if id(t) in first:
                    found.update((first[id(t)], k))
                first.setdefault(id(t), k)
        else:
            # Offsets and strides count elements of each tensor's own dtype:
            # with mixed dtypes, compare bytes.
            sizes = {t.element_size() for t in group}
            views = [_geometry(t, t.element_size() if len(sizes) > 1 else 1) for t in group]
        found.update(overlapping_views(views, mode))
        result.extend(members[k] for k in found)
    return sorted(result)


def _geometry(t: Any, itemsize: int) -> tuple:
    sizes = [int(s) for s in t.shape]
    strides = [int(s) for s in t.stride()]
    offset = int(t.storage_offset())
    if itemsize == 1:
        return (sizes, strides, offset)
    # Each element is `itemsize` consecutive bytes: one more dimension.
    return (
        [*sizes, itemsize],
        [s * itemsize for s in strides] + [1],
        offset * itemsize,
    )
