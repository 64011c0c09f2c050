"""Turn a real PyTorch program into a version-1 ``aotio.graph`` dump.

The dump is made the way format.md §11 describes the reference dumps:
``make_fx`` in pre-dispatch mode on fake tensors, CompositeImplicitAutograd
operators decomposed, parameters and buffers lifted to the first
placeholders, pytree-flattened user inputs with Dynamo-style sources, and
the autograd facts of every value captured at the moment its node is made
(later in-place changes of the same object must not leak into earlier
nodes).

Public names: :func:`trace` (returns an ``aotio.Graph``), :func:`trace_dict`
(the same dump as a plain ``dict``) and :class:`TraceError`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import keyword
import linecache
import math
import os
import re
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["TraceError", "trace", "trace_dict"]

FORMAT = "aotio.graph"
VERSION = 1
TRACER = "aotio.tracing: make_fx(pre_dispatch=True)"

# The operator tags a dump keeps (format §4.1); all others are left out.
_KEPT_TAGS = (
    "inplace",
    "inplace_view",
    "maybe_aliasing_or_mutating",
    "nondeterministic_seeded",
    "out",
    "view_copy",
)
_EXPORT_FLAVOURS = ("inference", "joint")


class TraceError(RuntimeError):
    """A program that cannot be turned into a graph dump.

    Raised for data-dependent control flow (a Python ``if`` on a tensor's
    value), operators fake tensors cannot run, and values a version-1 dump
    cannot hold. The message names the operator and the user's source line
    where one is known; the original exception is chained as ``__cause__``.
    """


# --------------------------------------------------------------------------
# entry points


def trace(
    fn_or_module: Callable[..., Any],
    args: Any,
    kwargs: dict[str, Any] | None = None,
    *,
    dynamic: bool = False,
    keep_input_mutations: bool = False,
    export: Sequence[str] = ("inference",),
) -> Any:
    """Trace ``fn_or_module(*args, **kwargs)`` into an ``aotio.Graph``.

    ``fn_or_module`` is a function, an ``nn.Module`` or a method of one
    (its parameters and buffers become the leading placeholders). ``args`` is a tuple of
    positional arguments (a single non-tuple value is taken as one
    argument); nested lists, tuples and dicts are flattened like pytrees.
    ``dynamic=True`` makes the sizes of user inputs and int arguments
    symbolic. ``keep_input_mutations`` and ``export`` fill the dump's
    ``config`` (format §2). The caller's current grad mode is the graph's
    grad mode at entry. Nothing is computed on real data: the program runs
    on fake tensors, and the caller's tensors and module are left as they
    were (module state other than parameters and buffers, e.g. Python
    counters, is the program's own business). A tensor the program closes
    over instead of taking it as an argument, parameter or buffer cannot be
    held by a version-1 dump and is refused; as under PyTorch's own tracing,
    an operation whose inputs are all such real tensors runs on real data.

    Raises :class:`TraceError` when the program cannot be traced.
    """
    from aotio import Graph

    return Graph.from_dict(
        trace_dict(
            fn_or_module,
            args,
            kwargs,
            dynamic=dynamic,
            keep_input_mutations=keep_input_mutations,
            export=export,
        )
    )


def trace_dict(
    fn_or_module: Callable[..., Any],
    args: Any,
    kwargs: dict[str, Any] | None = None,
    *,
    dynamic: bool = False,
    keep_input_mutations: bool = False,
    export: Sequence[str] = ("inference",),
    name: str = "traced",
    description: str = "",
) -> dict[str, Any]:
    """Like :func:`trace`, but return the dump as a JSON-ready ``dict``."""
    import torch

    if not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    export = _check_export(export)
    grad_enabled = torch.is_grad_enabled()
    tracer = _Tracer(fn_or_module, args, kwargs, dynamic=dynamic)
    try:
        tracer.run()
    finally:
        torch.set_grad_enabled(grad_enabled)
    return tracer.dump(
        name=name,
        description=description,
        grad_enabled=grad_enabled,
        keep_input_mutations=keep_input_mutations,
        export=export,
    )


def _check_export(export: Sequence[str]) -> list[str]:
    if isinstance(export, str):
        export = (export,)
    unknown = [f for f in export if f not in _EXPORT_FLAVOURS]
    if unknown:
        raise ValueError(
            f"export: unknown flavour(s) {unknown!r}; choose from {list(_EXPORT_FLAVOURS)}"
        )
    return [f for f in _EXPORT_FLAVOURS if f in export]


# --------------------------------------------------------------------------
# inputs: flattening, sources, placeholder names


def _key_source(base: str, key: Any) -> str:
    return f"{base}[{key!r}]"


def _path_source(base: str, path: Sequence[Any]) -> str:
    """A Dynamo-style source for a pytree path below ``base``."""
    from torch.utils._pytree import GetAttrKey, MappingKey, SequenceKey

    src = base
    for entry in path:
        if isinstance(entry, SequenceKey):
            src = f"{src}[{entry.idx}]"
        elif isinstance(entry, MappingKey):
            src = _key_source(src, entry.key)
        elif isinstance(entry, GetAttrKey):
            src = f"{src}.{entry.name}"
        else:
            src = f"{src}{entry}"
    return src


def _user_sources(fn: Callable[..., Any], args: tuple, kwargs: dict) -> list[str]:
    """One source per flat user input, in ``tree_flatten((args, kwargs))`` order."""
    from torch.utils._pytree import MappingKey, SequenceKey, tree_flatten_with_path

    try:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), "args")
    named = {p.name for p in params if p.kind != p.VAR_KEYWORD and p.kind != p.VAR_POSITIONAL}
    varkw = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)

    leaves, _ = tree_flatten_with_path((args, kwargs))
    sources = []
    for path, _leaf in leaves:
        top, head, rest = path[0], path[1], path[2:]
        assert isinstance(top, SequenceKey)
        if top.idx == 0:
            assert isinstance(head, SequenceKey)
            i = head.idx
            if i < len(positional):
                base = f"L[{positional[i]!r}]"
            else:
                base = f"L[{varargs!r}][{i - len(positional)}]"
        else:
            assert isinstance(head, MappingKey)
            if head.key in named or varkw is None:
                base = f"L[{head.key!r}]"
            else:
                base = f"L[{varkw!r}][{head.key!r}]"
        sources.append(_path_source(base, rest))
    return sources


_SOURCE_PART = re.compile(r"\[(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(-?\d+))\]|\.(\w+)")


def _name_from_source(source: str) -> str:
    """``L['extra']['w']`` -> ``extra_w``; ``L['xs'][0]`` -> ``xs_0``."""
    body = source.removeprefix("L")
    parts = []
    for m in _SOURCE_PART.finditer(body):
        part = next(g for g in m.groups() if g is not None)
        parts.append(part)
    return _identifier("_".join(parts) or "arg")


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    if not name or name[0].isdigit():
        name = "_" + name
    if keyword.iskeyword(name):
        name += "_1"
    return name


def _module_source(fqn: str, attr: str) -> str:
    *mods, leaf = fqn.split(".")
    src = "L['self']"
    for m in mods:
        src += f"._modules[{m!r}]"
    return f"{src}.{attr}[{leaf!r}]"


# --------------------------------------------------------------------------
# values


def _sym(x: Any, shape_env: Any) -> Any:
    """A size as the dump writes it: an int, or sympy's text of the expression."""
    import torch

    if isinstance(x, torch.SymInt):
        expr = x.node.expr
        if shape_env is not None:
            expr = shape_env.replace(expr)
        if expr.is_number:
            return int(expr)
        return str(expr)
    return int(x)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _layout_name(layout: Any) -> str:
    return str(layout).removeprefix("torch.")


class _Identities:
    """A number per tensor object, without keeping the object alive.

    Holding traced tensors alive changes what pre-dispatch tracing records
    (a factory's result then reaches the program as a fresh untracked alias
    and is burnt in as a constant), so objects are held weakly; a dead
    object's number is never reused for a new one.
    """

    def __init__(self) -> None:
        from torch.utils.weak import WeakIdKeyDictionary

        self._ids: Any = WeakIdKeyDictionary()
        self._next = 0

    def of(self, t: Any) -> int:
        ident = self._ids.get(t)
        if ident is None:
            ident = self._next
            self._next += 1
            self._ids[t] = ident
        return ident


class _TensorFacts:
    """What a tensor object looked like when a node produced it."""

    __slots__ = (
        "base",
        "device",
        "dtype",
        "grad_fn",
        "is_conj",
        "is_leaf",
        "is_neg",
        "is_view",
        "layout",
        "obj",
        "requires_grad",
        "shape",
        "storage",
        "storage_nbytes",
        "storage_offset",
        "stride",
    )

    def __init__(self, t: Any, idents: _Identities, autograd_from: Any = None) -> None:
        a = t if autograd_from is None else autograd_from
        self.obj = idents.of(t)
        self.shape = list(t.shape)
        self.stride = list(t.stride())
        self.storage_offset = t.storage_offset()
        self.dtype = t.dtype
        self.device = t.device
        self.layout = t.layout
        self.is_conj = bool(t.is_conj())
        self.is_neg = bool(t.is_neg())
        st = t.untyped_storage()
        self.storage = st
        self.storage_nbytes = st.nbytes()
        self.requires_grad = bool(a.requires_grad)
        self.is_leaf = bool(a.is_leaf)
        self.is_view = a._base is not None
        # Bases of nodes' values; placeholders' bases are the dump writer's.
        self.base = idents.of(t._base) if autograd_from is None and self.is_view else None
        self.grad_fn = _grad_fn_kind(a)


def _grad_fn_kind(t: Any) -> str | None:
    # A tensor that does not require grad has no grad_fn; skipping the
    # property then saves building a Python wrapper for every node.
    if not t.requires_grad:
        return None
    fn = t.grad_fn
    if fn is None:
        return None
    if isinstance(fn, _backward_cfunction()):
        return "custom"
    return "builtin"


@functools.cache
def _backward_cfunction() -> type:
    from torch.autograd.function import BackwardCFunction

    return BackwardCFunction


def _storage_key(storage: Any) -> int:
    return storage._cdata


# --------------------------------------------------------------------------
# CompositeImplicitAutograd decompositions


# (number of CompositeImplicitAutograd registrations, table built for it)
_CIA_TABLE: tuple[int, dict[Any, Callable[..., Any]]] | None = None


def _cia_decompositions() -> dict[Any, Callable[..., Any]]:
    """Every operator with a CompositeImplicitAutograd kernel, mapped to it.

    Pre-dispatch tracing records such operators as they are called; running
    their implicit kernel instead leaves only operators whose schemas say
    what they alias and mutate (format §11). Rebuilt when an operator
    library registered another implicit kernel since the last trace.
    """
    global _CIA_TABLE
    import torch
    from torch._export.utils import _get_decomp_for_cia

    names = torch._C._dispatch_get_registrations_for_dispatch_key("CompositeImplicitAutograd")
    if _CIA_TABLE is not None and _CIA_TABLE[0] == len(names):
        return _CIA_TABLE[1]
    key = torch._C.DispatchKey.CompositeImplicitAutograd
    table: dict[Any, Callable[..., Any]] = {}
    for full in names:
        ns_op, _, overload = full.partition(".")
        if "::" not in ns_op:
            continue
        ns, op = ns_op.split("::", 1)
        try:
            overload_obj = getattr(getattr(getattr(torch.ops, ns), op), overload or "default")
        except (AttributeError, RuntimeError):
            continue
        if torch._C._dispatch_has_kernel_for_dispatch_key(overload_obj.name(), key):
            table[overload_obj] = _get_decomp_for_cia(overload_obj)
    # Some operators have their implicit kernel in Python only (e.g.
    # native_batch_norm, whose kernel picks _native_batch_norm_legit, the
    # overload whose schema declares the running-statistics writes).
    for op in torch.ops.aten:
        packet = getattr(torch.ops.aten, op)
        for overload in packet.overloads():
            overload_obj = getattr(packet, overload)
            kernel = overload_obj.py_kernels.get(key)
            if kernel is not None and not isinstance(kernel, torch._C.DispatchKey):
                table[overload_obj] = kernel
    _CIA_TABLE = (len(names), table)
    return table


# --------------------------------------------------------------------------
# fake-tensor dispatch cache


@contextlib.contextmanager
def _fresh_storage_swaps() -> Any:
    """Run ``aten.shallow_copy_data_`` on fake tensors every time.

    FakeTensorMode's dispatch cache (shared by every fake mode of the
    process) skips operators tagged ``inplace_view`` but not
    ``shallow_copy_data_``, which has no tag: a second call with the same
    key returns its first argument without swapping its storage, so results
    would depend on what the process traced before. Used by the tracer and
    by PyTorch's side of ``aotio.compare``.
    """
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode, _BypassDispatchCache

    swap = torch.ops.aten.shallow_copy_data_.default
    original = FakeTensorMode._validate_cache_key

    def validate(self: Any, func: Any, args: Any, kwargs: Any) -> None:
        if func is swap:
            raise _BypassDispatchCache("storage swap")
        original(self, func, args, kwargs)

    FakeTensorMode._validate_cache_key = validate
    try:
        yield
    finally:
        FakeTensorMode._validate_cache_key = original


# --------------------------------------------------------------------------
# the tracer


class _Tracer:
    def __init__(self, fn_or_module: Any, args: tuple, kwargs: dict, *, dynamic: bool) -> None:
        import torch

        self.fn = fn_or_module
        self.args = args
        self.kwargs = kwargs
        self.dynamic = dynamic
        # A module, or a method of one (model.forward, model.generate_step):
        # either way its parameters and buffers are lifted to placeholders.
        owner = getattr(fn_or_module, "__self__", None)
        if isinstance(fn_or_module, torch.nn.Module):
            self.module, self.call = fn_or_module, fn_or_module
        elif isinstance(owner, torch.nn.Module):
            self.module, self.call = owner, fn_or_module
        else:
            self.module, self.call = None, fn_or_module
        # Placeholders: (name, kind, fqn, source, real value)
        self.inputs: list[tuple[str, str, str | None, str, Any]] = []
        self.facts: dict[Any, Any] = {}  # fx node -> captured value
        self.idents = _Identities()
        self.last_node_of: dict[int, Any] = {}  # identity -> latest fx node producing it
        self.gm: Any = None
        self.shape_env: Any = None
        self.in_spec: Any = None
        self.out_spec: Any = None
        self.fake_inputs: list[Any] = []
        self.entry_facts: list[Any] = []
        self.real_to_fake: dict[int, Any] = {}

    # -- inputs -------------------------------------------------------------

    def _collect_inputs(self) -> None:
        from torch.utils._pytree import tree_flatten

        used: set[str] = set()

        def unique(name: str) -> str:
            base, n = name, 0
            while name in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name)
            return name

        if self.module is not None:
            for fqn, p in self.module.named_parameters(remove_duplicate=False):
                name = unique(_identifier("p_" + fqn.replace(".", "_")))
                self.inputs.append((name, "parameter", fqn, _module_source(fqn, "_parameters"), p))
            for fqn, b in self.module.named_buffers(remove_duplicate=False):
                name = unique(_identifier("b_" + fqn.replace(".", "_")))
                self.inputs.append((name, "buffer", fqn, _module_source(fqn, "_buffers"), b))
            target = self.module.forward if self.call is self.module else self.call
        else:
            target = self.fn
        self.num_params_buffers = len(self.inputs)
        leaves, self.in_spec = tree_flatten((self.args, self.kwargs))
        for source, leaf in zip(_user_sources(target, self.args, self.kwargs), leaves):
            self.inputs.append(
                (unique(_name_from_source(source)), "user_input", None, source, leaf)
            )

    def _fakify(self) -> None:
        import torch
        from torch._dynamo.source import ConstantSource
        from torch._subclasses.fake_tensor import FakeTensorMode
        from torch.fx.experimental.symbolic_shapes import (
            DimDynamic,
            ShapeEnv,
            StatelessSymbolicContext,
        )

        self.shape_env = ShapeEnv() if self.dynamic else None
        # A real tensor the program closes over is refused (TraceError).
        self.fake_mode = FakeTensorMode(shape_env=self.shape_env, allow_non_fake_inputs=False)
        for i, (_name, kind, _fqn, source, value) in enumerate(self.inputs):
            src = ConstantSource(source)
            if isinstance(value, torch.Tensor):
                if self.dynamic and kind == "user_input":
                    ctx = StatelessSymbolicContext(
                        dynamic_sizes=[DimDynamic.DUCK] * value.dim(),
                    )
                    fake = self.fake_mode.from_tensor(value, source=src, symbolic_context=ctx)
                else:
                    fake = self.fake_mode.from_tensor(value, source=src, static_shapes=True)
                self.real_to_fake[id(value)] = fake
            elif self.dynamic and type(value) is int and kind == "user_input":
                sym = self.shape_env.create_symbol(value, src, dynamic_dim=DimDynamic.DYNAMIC)
                fake = self.shape_env.create_symintnode(sym, hint=value, source=src)
            else:
                fake = value
            self.fake_inputs.append(fake)
        # Geometry at entry, before any in-place op of the program runs; the
        # autograd facts are those of the caller's objects (format §7).
        for (_n, _k, _f, _s, value), fake in zip(self.inputs, self.fake_inputs):
            if isinstance(value, torch.Tensor):
                self.entry_facts.append(_TensorFacts(fake, self.idents, autograd_from=value))
            else:
                self.entry_facts.append(fake)

    # -- capture hooks ------------------------------------------------------

    def _capture(self, node: Any, val: Any) -> None:
        import torch

        if node.op == "placeholder":
            return
        if isinstance(val, torch.Tensor):
            facts = _TensorFacts(val, self.idents)
            self.facts[node] = facts
            self.last_node_of[facts.obj] = node
        elif isinstance(val, (list, tuple)):
            self.facts[node] = [
                _TensorFacts(v, self.idents) if isinstance(v, torch.Tensor) else v for v in val
            ]
        else:
            self.facts[node] = val

    def _recapture_custom(self, outputs: Any) -> None:
        """Facts of tensors a custom autograd Function returned, after ``apply``."""
        import torch
        from torch.utils._pytree import tree_leaves

        for t in tree_leaves(outputs):
            if isinstance(t, torch.Tensor):
                node = self.last_node_of.get(self.idents.of(t))
                if node is not None:
                    self.facts[node] = _TensorFacts(t, self.idents)

    @contextlib.contextmanager
    def _hooks(self):
        import torch
        from torch.fx.experimental import proxy_tensor

        original_set_meta = proxy_tensor.set_meta
        function_cls = torch.autograd.function.Function
        original_apply = function_cls.__dict__["apply"]
        tracer = self

        def set_meta(proxy: Any, val: Any) -> Any:
            # PyTorch's set_meta also derives a best-effort "tensor_meta" the
            # dump never reads; "val" is kept (make_fx reads it back).
            node = proxy.node
            node.meta["val"] = proxy_tensor.extract_val(val, include_real=node.op == "placeholder")
            tracer._capture(node, val)
            return proxy

        def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
            out = original_apply.__get__(None, cls)(*args, **kwargs)
            tracer._recapture_custom(out)
            return out

        proxy_tensor.set_meta = set_meta
        function_cls.apply = classmethod(apply)
        try:
            yield
        finally:
            proxy_tensor.set_meta = original_set_meta
            function_cls.apply = original_apply

    # -- tracing ------------------------------------------------------------

    def _body(self) -> Callable[..., Any]:
        from torch.nn.utils import stateless
        from torch.utils._pytree import tree_flatten, tree_unflatten

        n = self.num_params_buffers
        names = [fqn for (_n, _k, fqn, _s, _v) in self.inputs[:n]]
        module, call, in_spec, tracer = self.module, self.call, self.in_spec, self

        def body(flat: list[Any]) -> list[Any]:
            args, kwargs = tree_unflatten(list(flat[n:]), in_spec)
            if module is not None:
                state = dict(zip(names, flat[:n]))
                with stateless._reparametrize_module(module, state, tie_weights=False):
                    out = call(*args, **kwargs)
            else:
                out = call(*args, **kwargs)
            if out is None:
                out = ()  # nothing returned: an empty output list, as the reference dumps
            leaves, tracer.out_spec = tree_flatten(out)
            return list(leaves)

        return body

    def _wrapper(self) -> Callable[..., Any]:
        """A function whose parameters carry the placeholder names."""
        names = [name for (name, *_rest) in self.inputs]
        params = ", ".join(names)
        src = f"def traced({params}):\n    return _body([{params}{',' if names else ''}])\n"
        scope: dict[str, Any] = {"_body": self._body()}
        exec(compile(src, "<aotio trace>", "exec"), scope)  # noqa: S102
        return scope["traced"]

    def run(self) -> None:
        from torch.fx.experimental.proxy_tensor import make_fx

        self._collect_inputs()
        self._fakify()
        wrapper = self._wrapper()
        mode = "real"  # the inputs are already fake, in self.fake_mode
        try:
            with self._hooks(), _fresh_storage_swaps(), self.fake_mode:
                self.gm = make_fx(
                    wrapper,
                    decomposition_table=_cia_decompositions(),
                    tracing_mode=mode,
                    pre_dispatch=True,
                    _error_on_data_dependent_ops=True,
                )(*self.fake_inputs)
        except TraceError:
            raise
        except Exception as exc:
            raise TraceError(_describe_failure(exc)) from exc

    # -- the dump -----------------------------------------------------------

    def dump(
        self,
        *,
        name: str,
        description: str,
        grad_enabled: bool,
        keep_input_mutations: bool,
        export: list[str],
    ) -> dict[str, Any]:
        import torch
        from torch.utils._pytree import treespec_dumps

        w = _DumpWriter(self)
        nodes = w.nodes()
        is_train = any(isinstance(v, torch.Tensor) and v.requires_grad for (*_r, v) in self.inputs)
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "description": description,
            "config": {
                "keep_input_mutations": bool(keep_input_mutations),
                "is_train": is_train,
                "grad_enabled": bool(grad_enabled),
                "dynamic_shapes": bool(self.dynamic),
                "num_params_buffers": self.num_params_buffers,
                "export": export,
                "tracer": TRACER,
                "torch_version": torch.__version__.split("+")[0],
            },
            "symbols": w.symbols(),
            "operators": w.operators,
            "operator_tags": w.operator_tags,
            "nodes": nodes,
            "input_bases": w.input_bases,
            "in_spec": json.loads(treespec_dumps(self.in_spec)),
            "out_spec": json.loads(treespec_dumps(self.out_spec)) if self.out_spec else None,
        }


class _DumpWriter:
    """Turns the traced FX graph and the captured facts into dump JSON."""

    def __init__(self, tr: _Tracer) -> None:
        self.tr = tr
        self.shape_env = tr.shape_env
        self.tensor_ids: dict[int, int] = {}  # id(obj) -> tensor_id
        self.storage_ids: dict[int, int] = {}
        self.operators: dict[str, str] = {}
        self.operator_tags: dict[str, list[str]] = {}
        self.input_bases: list[dict[str, Any]] = []
        self.names: dict[Any, str] = {}  # placeholder node -> its name in the dump

    def _tensor_id(self, key: int) -> int:
        """The dump's tensor_id for an identity of ``_Identities``."""
        if key not in self.tensor_ids:
            self.tensor_ids[key] = len(self.tensor_ids)
        return self.tensor_ids[key]

    def _storage_id(self, storage: Any) -> int:
        key = _storage_key(storage)
        if key not in self.storage_ids:
            self.storage_ids[key] = len(self.storage_ids)
        return self.storage_ids[key]

    def _s(self, x: Any) -> Any:
        return _sym(x, self.shape_env)

    def tensor_val(self, f: _TensorFacts) -> dict[str, Any]:
        return {
            "tensor": {
                "shape": [self._s(s) for s in f.shape],
                "stride": [self._s(s) for s in f.stride],
                "storage_offset": self._s(f.storage_offset),
                "dtype": _dtype_name(f.dtype),
                "device": str(f.device),
                "requires_grad": f.requires_grad,
                "is_leaf": f.is_leaf,
                "is_view": f.is_view,
                "storage": self._storage_id(f.storage),
                "storage_nbytes": self._s(f.storage_nbytes),
                "grad_fn": f.grad_fn,
                "layout": _layout_name(f.layout),
                "is_conj": f.is_conj,
                "is_neg": f.is_neg,
            }
        }

    def value(self, v: Any) -> Any:
        import torch

        if isinstance(v, _TensorFacts):
            return self.tensor_val(v)
        if v is None:
            return None
        if isinstance(v, bool):
            return {"bool": v}
        if isinstance(v, int):
            return {"int": v}
        if isinstance(v, float):
            return {"float": _float_literal(v)}
        if isinstance(v, str):
            return {"str": v}
        if isinstance(v, torch.SymInt):
            s = self._s(v)
            return {"int": s} if isinstance(s, int) else {"symint": s}
        if isinstance(v, torch.SymFloat):
            return {"symfloat": str(v.node.expr)}
        if isinstance(v, torch.SymBool):
            return {"symbool": str(v.node.expr)}
        if isinstance(v, (list, tuple)):
            return {"list": [self.value(x) for x in v]}
        raise TraceError(f"a value of type {type(v).__name__} has no version-1 representation")

    def arg(self, a: Any) -> Any:
        import torch
        from torch import fx

        if isinstance(a, fx.Node):
            return {"node": self.names.get(a, a.name)}
        if a is None or isinstance(a, (bool, str)):
            return a
        if isinstance(a, int):
            return a
        if isinstance(a, float):
            return _float_literal(a)
        if isinstance(a, (list, tuple)):
            return [self.arg(x) for x in a]
        if isinstance(a, torch.dtype):
            return {"dtype": _dtype_name(a)}
        if isinstance(a, torch.device):
            return {"device": str(a)}
        if isinstance(a, torch.memory_format):
            return {"memory_format": str(a).removeprefix("torch.")}
        if isinstance(a, torch.layout):
            return {"layout": _layout_name(a)}
        raise TraceError(
            f"an argument of type {type(a).__name__} ({a!r}) has no version-1 representation"
        )

    def target(self, node: Any) -> str:
        import torch
        from torch.fx.node import _get_qualified_name

        t = node.target
        if isinstance(t, torch._ops.OpOverload):
            name = str(t)
            if name not in self.operators:
                self.operators[name] = str(t._schema)
                self.operator_tags[name] = sorted(
                    tag.name for tag in t.tags if tag.name in _KEPT_TAGS
                )
            return name
        if isinstance(t, torch._ops.HigherOrderOperator):
            raise TraceError(
                f"node {node.name}: higher-order operator {t.name()} has no version-1 representation"
            )
        if callable(t):
            return _get_qualified_name(t)
        return str(t)

    def nodes(self) -> list[dict[str, Any]]:
        import torch

        tr = self.tr
        graph = tr.gm.graph
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(tr.inputs):
            raise TraceError(
                f"the trace has {len(placeholders)} placeholders for {len(tr.inputs)} inputs"
            )
        # tensor ids: the caller's objects first, then bases of view inputs,
        # then new objects in node order (format §8.1).
        for *_r, value in tr.inputs:
            if isinstance(value, torch.Tensor):
                self._tensor_id(tr.idents.of(tr.real_to_fake[id(value)]))
        view_bases: dict[int, tuple[Any, Any]] = {}
        for name, *_r, value in tr.inputs:
            if isinstance(value, torch.Tensor) and value._base is not None:
                fake_base = tr.real_to_fake[id(value)]._base
                if fake_base is None:
                    raise TraceError(f"input {name}: its fake copy lost the view base")
                view_bases.setdefault(id(fake_base), (value._base, fake_base))
                self._tensor_id(tr.idents.of(fake_base))
        # FX suffixes placeholder names (x -> x_1); the dump uses the
        # source-derived names unless another node already holds one.
        taken = {n.name for n in graph.nodes if n.op != "placeholder"}
        for node, (name, *_r) in zip(placeholders, tr.inputs):
            self.names[node] = name if name not in taken else node.name
        out = []
        for node, (name, kind, fqn, source, value), facts in zip(
            placeholders, tr.inputs, tr.entry_facts
        ):
            name = self.names[node]
            d = {
                "name": name,
                "op": "placeholder",
                "target": name,
                "args": [],
                "kwargs": {},
                "val": self.value(facts),
                "kind": kind,
                "fqn": fqn,
                "source": source,
            }
            if isinstance(value, torch.Tensor):
                fake = tr.real_to_fake[id(value)]
                d["tensor_id"] = self._tensor_id(tr.idents.of(fake))
                d["base_tensor_id"] = (
                    self._tensor_id(tr.idents.of(fake._base)) if value._base is not None else None
                )
            else:
                d["tensor_id"] = None
                d["base_tensor_id"] = None
            out.append(d)
        for real_base, fake_base in view_bases.values():
            self.input_bases.append(
                {
                    "tensor_id": self._tensor_id(tr.idents.of(fake_base)),
                    "val": self.tensor_val(
                        _TensorFacts(fake_base, tr.idents, autograd_from=real_base)
                    ),
                }
            )
        for node in graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                out.append(
                    {
                        "name": node.name,
                        "op": "output",
                        "target": "output",
                        "args": [self.arg(a) for a in node.args],
                        "kwargs": {},
                        "val": None,
                    }
                )
                continue
            if node.op != "call_function":
                if node.op == "get_attr":
                    raise TraceError(f"node {node.name}: {_CONSTANT_TENSOR}")
                raise TraceError(f"node {node.name}: op {node.op} has no version-1 representation")
            target = self.target(node)
            facts = tr.facts.get(node, node.meta.get("val"))
            d = {
                "name": node.name,
                "op": "call_function",
                "target": target,
                "args": [self.arg(a) for a in node.args],
                "kwargs": {k: self.arg(v) for k, v in node.kwargs.items()},
                "val": self.value(facts),
            }
            if isinstance(facts, _TensorFacts):
                d["tensor_id"] = self._tensor_id(facts.obj)
                d["base_tensor_id"] = (
                    self._tensor_id(facts.base) if facts.base is not None else None
                )
            out.append(d)
        return out

    def symbols(self) -> dict[str, Any]:
        env = self.shape_env
        if env is None:
            return {}
        out = {}
        for sym in sorted(env.backed_var_to_val, key=str):
            rng = env.var_to_range.get(sym)
            sources = env.var_to_sources.get(sym) or []
            entry: dict[str, Any] = {
                "hint": int(env.backed_var_to_val[sym]),
                "min": _bound(rng.lower) if rng is not None else None,
                "max": _bound(rng.upper) if rng is not None else None,
                "source": sources[0].name if sources else None,
            }
            if sym in env.replacements:
                r = env.replacements[sym]
                entry["replaced_by"] = int(r) if r.is_number else str(r)
            out[str(sym)] = entry
        return out


def _bound(b: Any) -> int | None:
    if b.is_Integer:
        return int(b)
    return None  # int_oo / -int_oo: unbounded


def _float_literal(x: float) -> Any:
    if math.isnan(x):
        return {"float": "nan"}
    if math.isinf(x):
        return {"float": "inf" if x > 0 else "-inf"}
    return float(x)


# --------------------------------------------------------------------------
# error messages


_TORCH_DIR = None


def _is_library_frame(filename: str) -> bool:
    global _TORCH_DIR
    if _TORCH_DIR is None:
        import torch

        _TORCH_DIR = os.path.dirname(torch.__file__)
    here = os.path.dirname(__file__)
    return filename.startswith((_TORCH_DIR, here, "<")) or filename.endswith(
        ("/contextlib.py", "/functools.py")
    )


def _user_line(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if not _is_library_frame(fr.filename):
            line = fr.line or linecache.getline(fr.filename, fr.lineno).strip()
            return f'{fr.filename}:{fr.lineno} in {fr.name}: "{line}"'
    return None


_CONSTANT_TENSOR = (
    "the program reads a tensor that is neither an argument nor a parameter or buffer "
    "of the module (a closed-over or attribute constant); version 1 cannot hold "
    "constants: pass it as an argument or register it as a buffer"
)


def _describe_failure(exc: BaseException) -> str:
    op = getattr(exc, "func", None)
    kind = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    parts = []
    if op is not None:
        parts.append(f"operator {op} cannot be traced ({kind})")
    elif "convert all Tensors to FakeTensors" in text:
        parts.append(_CONSTANT_TENSOR)
    elif "GuardOnDataDependent" in kind or "data-dependent" in text.lower():
        parts.append(f"data-dependent control flow ({kind}): {text}")
    else:
        parts.append(f"{kind}: {text}")
    line = _user_line(exc)
    if line is not None:
        parts.append(f"at {line}")
    return "cannot trace the program: " + "; ".join(parts)
