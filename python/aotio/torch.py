"""aotio inside ``torch.compile``: the overlap decision for aliased inputs.

When a compiled function takes several views of one storage and mutates one of
them, AOTAutograd asks which of those views overlap (views that overlap are
merged into one synthetic base). PyTorch 2.15 answers pair by pair, through
sympy when sizes are symbolic, and its 2-D row shortcut can miss a real
overlap. :func:`install` makes AOTAutograd ask aotio instead::

    import aotio.torch
    aotio.torch.install(mode="torch")   # PyTorch's verdicts, without the O(n^2)
    aotio.torch.install(mode="exact")   # the true verdicts (no missed overlap)
    aotio.torch.stats()                 # calls, fallbacks, time spent

Two functions are replaced where AOTAutograd looks them up, nothing else
(see ``python/docs/torch-compile.md``):

* ``compute_overlapping_tensors`` as seen by
  ``torch._functorch._aot_autograd.input_output_analysis``: the decision;
* ``compute_overlapping_inputs`` (wherever it was imported by name), which
  still runs PyTorch's own code and, in exact mode or when asked, swaps the
  ``StorageOverlap`` guard it records for one that aotio checks on every call.

Whenever aotio cannot decide exactly as PyTorch would (a size without a hint,
shape guards not suppressed, a tensor subclass, an engine error), PyTorch's own
function decides and :func:`stats` counts a fallback.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch._dynamo.guards as _dynamo_guards
import torch._functorch.aot_autograd as _aot_autograd
from torch._functorch._aot_autograd import input_output_analysis as _analysis
from torch._functorch._aot_autograd import runtime_wrappers as _runtime_wrappers
from torch._guards import Guard, StorageOverlap, TracingContext
from torch.fx.experimental.symbolic_shapes import ShapeEnv
from torch.utils._python_dispatch import is_traceable_wrapper_subclass

__all__ = ["MODES", "Stats", "install", "installed", "stats", "uninstall"]

#: The overlap relations :func:`install` can put in PyTorch's place.
MODES = ("torch", "exact")

# (sizes, strides, storage_offset) in elements, as aotio's engine takes them.
_View = tuple[list[int], list[int], int]


@dataclass(frozen=True)
class Stats:
    """What the installed engine did since :func:`install` (see :func:`stats`)."""

    #: Mode installed now, or ``None``.
    mode: str | None
    #: Overlap decisions aotio made (one per storage group with a mutation).
    calls: int
    #: Decisions handed back to PyTorch's own function.
    fallbacks: int
    #: Why each fallback happened, with counts.
    fallback_reasons: dict[str, int]
    #: Seconds spent in aotio's decisions (reading geometry included).
    seconds: float
    #: Seconds spent in PyTorch's function for the fallbacks.
    fallback_seconds: float
    #: ``StorageOverlap`` guards whose per-call check aotio installed.
    guards: int
    #: Per-call checks those guards ran.
    guard_checks: int


@dataclass
class _State:
    mode: str | None = None
    replace_guard: bool = False
    views_fn: Callable[..., list[int]] | None = None
    originals: dict[str, Any] = field(default_factory=dict)
    calls: int = 0
    fallbacks: int = 0
    fallback_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fallback_seconds: float = 0.0
    guards: int = 0
    guard_checks: int = 0


_STATE = _State()
_LOCK = threading.Lock()
# Which mode decided the group AOTAutograd is looking at right now, if aotio did.
_DECIDED = threading.local()


def install(mode: str = "torch", *, guard: str | None = None) -> None:
    """Makes ``torch.compile`` / AOTAutograd use aotio for the overlap of aliased inputs.

    ``mode="torch"`` gives PyTorch's verdicts (same graphs, guards and
    recompilations); ``mode="exact"`` gives the true ones. ``guard`` says who
    checks the recorded ``StorageOverlap`` guard on every call: ``"pytorch"``
    (its own pairwise C++ check; the default in torch mode) or ``"aotio"``
    (required, and the default, in exact mode: PyTorch's check recomputes
    PyTorch's verdict and would fail on every call). Installing again switches
    mode and resets :func:`stats`. Functions compiled earlier keep their
    graphs; call ``torch._dynamo.reset()`` to recompile them.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if guard is None:
        guard = "aotio" if mode == "exact" else "pytorch"
    if guard not in ("pytorch", "aotio"):
        raise ValueError(f"guard must be 'pytorch' or 'aotio', not {guard!r}")
    if mode == "exact" and guard == "pytorch":
        raise ValueError(
            "mode='exact' needs guard='aotio': PyTorch's StorageOverlap check recomputes "
            "PyTorch's verdict and would reject the exact one on every call"
        )
    views_fn = _engine()
    with _LOCK:
        if _STATE.mode is None:
            _patch()
        _reset_counters(_STATE)
        _STATE.mode = mode
        _STATE.replace_guard = guard == "aotio"
        _STATE.views_fn = views_fn


def uninstall() -> None:
    """Gives the overlap decision back to PyTorch. Guards already built stay in force."""
    with _LOCK:
        if _STATE.mode is None:
            return
        # The originals stay known: a reference to aotio's functions kept
        # elsewhere keeps working, as PyTorch's.
        for (module, name), original in _STATE.originals.items():
            setattr(module, name, original)
        _STATE.mode = None


@contextlib.contextmanager
def installed(mode: str = "torch", *, guard: str | None = None) -> Iterator[None]:
    """:func:`install` for the duration of a ``with`` block, then the previous state."""
    previous = (_STATE.mode, "aotio" if _STATE.replace_guard else "pytorch")
    install(mode, guard=guard)
    try:
        yield
    finally:
        if previous[0] is None:
            uninstall()
        else:
            install(previous[0], guard=previous[1])


def stats() -> Stats:
    """Counters since the last :func:`install`; ``mode`` is ``None`` when not installed."""
    s = _STATE
    return Stats(
        mode=s.mode,
        calls=s.calls,
        fallbacks=s.fallbacks,
        fallback_reasons=dict(s.fallback_reasons),
        seconds=s.seconds,
        fallback_seconds=s.fallback_seconds,
        guards=s.guards,
        guard_checks=s.guard_checks,
    )


def _engine() -> Callable[..., list[int]]:
    """aotio's overlap on raw geometry: symbolic sizes are read at their hints
    here, and fake tensors have no data to hand to the binding."""
    import aotio

    views_fn = getattr(aotio, "overlapping_views", None)
    if views_fn is None:
        from aotio import _aotio

        views_fn = getattr(_aotio, "overlapping_views", None)
    if views_fn is None:
        raise ImportError("this build of aotio has no overlapping_views; rebuild the extension")
    return views_fn


def _reset_counters(s: _State) -> None:
    s.calls = s.fallbacks = s.guards = s.guard_checks = 0
    s.seconds = s.fallback_seconds = 0.0
    s.fallback_reasons = {}


def _patch() -> None:
    """Replaces the references PyTorch's callers hold (each module imported the
    functions by name, so patching the defining module alone would change nothing)."""
    targets = [
        (_analysis, "compute_overlapping_tensors", _compute_overlapping_tensors),
        (_runtime_wrappers, "compute_overlapping_inputs", _compute_overlapping_inputs),
        (_analysis, "compute_overlapping_inputs", _compute_overlapping_inputs),
        (_aot_autograd, "compute_overlapping_inputs", _compute_overlapping_inputs),
    ]
    for module, name, replacement in targets:
        _STATE.originals[(module, name)] = getattr(module, name)
        setattr(module, name, replacement)


def _original(module: Any, name: str) -> Any:
    return _STATE.originals[(module, name)]


def _fallback(reason: str, tensors: Sequence[torch.Tensor], symbolic: bool) -> Any:
    s = _STATE
    s.fallbacks += 1
    s.fallback_reasons[reason] = s.fallback_reasons.get(reason, 0) + 1
    start = time.perf_counter()
    try:
        return _original(_analysis, "compute_overlapping_tensors")(tensors, symbolic=symbolic)
    finally:
        s.fallback_seconds += time.perf_counter() - start


def _compute_overlapping_tensors(tensors: Sequence[torch.Tensor], symbolic: bool = True) -> Any:
    """Stands in for ``torch._C._dynamo.guards.compute_overlapping_tensors``."""
    s = _STATE
    mode, views_fn = s.mode, s.views_fn
    _DECIDED.mode = None
    if mode is None or views_fn is None:
        return _fallback("not installed", tensors, symbolic)
    start = time.perf_counter()
    views: list[_View] = []
    any_symbolic = False
    for t in tensors:
        geometry = _geometry_at_hints(t)
        if isinstance(geometry, str):
            s.seconds += time.perf_counter() - start
            return _fallback(geometry, tensors, symbolic)
        views.append(geometry[0])
        any_symbolic = any_symbolic or geometry[1]
    if any_symbolic and not ShapeEnv._suppress_guards_tls():
        # PyTorch would record a shape guard per comparison; only its own
        # function records the same ones.
        s.seconds += time.perf_counter() - start
        return _fallback("symbolic sizes with shape guards not suppressed", tensors, symbolic)
    try:
        result = _overlapping_members(tensors, views, mode, views_fn)
    except Exception as e:  # noqa: BLE001 - whatever aotio refuses, PyTorch decides
        s.seconds += time.perf_counter() - start
        return _fallback(f"aotio refused the geometry: {type(e).__name__}", tensors, symbolic)
    s.calls += 1
    s.seconds += time.perf_counter() - start
    _DECIDED.mode = mode
    return result


def _overlapping_members(
    tensors: Sequence[Any], views: list[_View], mode: str, views_fn: Callable[..., list[int]]
) -> set:
    """Indices of the tensors that overlap another one, in ``mode``.

    PyTorch's test says a tensor object always overlaps itself, even when
    empty; the engine sees geometry only, so repeated objects are folded here."""
    if len({id(t) for t in tensors}) == len(tensors):
        return set(views_fn(views, mode))
    first_of: dict[int, int] = {}
    unique_of: list[int] = []
    unique_views: list[_View] = []
    repeated: list[bool] = []
    for t, view in zip(tensors, views):
        u = first_of.setdefault(id(t), len(unique_views))
        if u == len(unique_views):
            unique_views.append(view)
            repeated.append(False)
        else:
            repeated[u] = True
        unique_of.append(u)
    overlapping = set(views_fn(unique_views, mode))
    return {i for i, u in enumerate(unique_of) if u in overlapping or repeated[u]}


def _geometry_at_hints(t: Any) -> Any:
    """``((sizes, strides, offset), symbolic)`` of a tensor, symbolic values at
    their hints (where PyTorch decides them, guards suppressed), or the reason
    aotio cannot take it."""
    if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
        return "not a strided tensor"
    if is_traceable_wrapper_subclass(t):
        return "tensor subclass"
    symbolic = False
    values: list[int] = []
    for x in (*t.shape, *t.stride(), t.storage_offset()):
        if type(x) is int:
            values.append(x)
            continue
        if not isinstance(x, torch.SymInt):
            return f"unexpected size type {type(x).__name__}"
        node = x.node
        constant = node.maybe_as_int()
        if constant is not None:
            values.append(constant)
            continue
        hint = node.hint
        if type(hint) is not int:
            return "symbolic size without a hint (unbacked)"
        symbolic = True
        values.append(hint)
    dim = t.dim()
    return (values[:dim], values[dim : 2 * dim], values[2 * dim]), symbolic


def _compute_overlapping_inputs(
    aot_config: Any, fwd_inputs: Any, aliased_input_indices: Any
) -> Any:
    """Stands in for PyTorch's ``compute_overlapping_inputs``: calls it unchanged
    (its ``compute_overlapping_tensors`` is aotio's), then, when aotio made the
    verdict and its per-call check is wanted, swaps the ``StorageOverlap`` guard
    PyTorch recorded for one that aotio checks. In exact mode a static group
    gets that guard too: PyTorch records none for it, and Dynamo does not guard
    storage offsets of static inputs, so nothing else would see a later call
    whose views overlap differently."""
    tracing_context = TracingContext.try_get()
    recorded = tracing_context.guards_context.aotautograd_guards if tracing_context else None
    before = len(recorded) if recorded is not None else 0
    _DECIDED.mode = None
    result = _original(_analysis, "compute_overlapping_inputs")(
        aot_config, fwd_inputs, aliased_input_indices
    )
    mode, _DECIDED.mode = getattr(_DECIDED, "mode", None), None
    sources = aot_config.aot_autograd_arg_pos_to_source
    if mode is None or not _STATE.replace_guard or recorded is None or not sources:
        return result
    pytorch_guard = recorded[-1] if len(recorded) > before else None
    if isinstance(pytorch_guard, StorageOverlap):
        overlapping = list(pytorch_guard.overlapping_sources)
        non_overlapping = list(pytorch_guard.non_overlapping_sources)
    elif mode == "exact" and len(aliased_input_indices) > 1:
        overlapping = [sources[i] for i in sorted(result)]
        non_overlapping = [sources[i] for i in aliased_input_indices if i not in result]
    else:
        return result
    if any(source is None for source in (*overlapping, *non_overlapping)):
        return result  # an input Dynamo cannot name cannot be guarded
    if isinstance(pytorch_guard, StorageOverlap):
        recorded.pop()
    create = functools.partial(_build_storage_overlap_guard, overlapping, non_overlapping, mode)
    guard = Guard(originating_source=(overlapping or non_overlapping)[0], create_fn=create)
    tracing_context.guards_context.dynamo_guards.add(guard)
    return result


def _build_storage_overlap_guard(
    overlapping: list[Any], non_overlapping: list[Any], mode: str, builder: Any, _guard: Any
) -> None:
    """Dynamo's guard builder calls this. The check becomes an epilogue lambda
    guard on the root, built the way Dynamo builds its own Python guards: one
    expression reads every input through its source (so ``G[...]`` and
    Dynamo's accessor helpers work) and hands them to aotio. Epilogue guards
    run after every other guard passed, when the sources are known to resolve
    to tensors of the guarded sizes."""
    views_fn = _STATE.views_fn or _engine()
    sources = [*overlapping, *non_overlapping]
    check = _StorageOverlapCheck(len(overlapping), mode, views_fn)
    name = f"___aotio_storage_overlap_{id(check)}"
    expression = f"{name}(({''.join(f'{s.name}, ' for s in sources)}))"
    names = [", ".join(s.name for s in part) for part in (overlapping, non_overlapping)]
    verbose = (
        f"aotio check_overlapping[{mode}](overlapping=[{names[0]}], non_overlapping=[{names[1]}])"
    )
    closure_vars = {**_dynamo_guards._get_closure_vars(), name: check}
    builder.add_python_lambda_leaf_guard_to_root([expression], [verbose], closure_vars=closure_vars)
    _STATE.guards += 1


class _StorageOverlapCheck:
    """aotio's per-call ``StorageOverlap`` check: passes iff the members that
    overlap are exactly the first ``n_overlapping`` tensors (PyTorch's meaning)."""

    def __init__(self, n_overlapping: int, mode: str, views_fn: Callable[..., list[int]]) -> None:
        self._expected = set(range(n_overlapping))
        self._mode = mode
        self._views_fn = views_fn

    def __call__(self, tensors: tuple[torch.Tensor, ...]) -> bool:
        _STATE.guard_checks += 1
        views = [(t.shape, t.stride(), t.storage_offset()) for t in tensors]
        members = _overlapping_members(tensors, views, self._mode, self._views_fn)
        return members == self._expected
