"""aotio: PyTorch AOTAutograd's input/output analysis, in Rust, for PyTorch programs.

Load or trace a program into a :class:`Graph`, then :func:`analyze` it::

    import aotio
    report = aotio.analyze(aotio.Graph.load("dump.json"))
    report.fw_metadata.input_info[0].mutates_data
"""

from __future__ import annotations

from aotio._aotio import AnalysisError, Graph, GraphError, UpdateSummary
from aotio._aotio import analyze as _analyze
from aotio._report import Report

__all__ = [
    "AnalysisError",
    "Graph",
    "GraphError",
    "Report",
    "UpdateSummary",
    "analyze",
]


def analyze(graph_or_fn, args=None, kwargs=None, *, overlap="torch", **trace_options):
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
