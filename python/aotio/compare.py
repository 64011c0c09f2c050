"""Differential check: PyTorch's own AOTAutograd analysis against aotio's.

:func:`pytorch_expect` runs PyTorch's analysis on a program and returns it in
the layout of the conformance files' ``expect`` block (see the conformance
README): metadata collection through ``create_aot_state``, the
``AOTDedupeWrapper`` pre-compile step, ``merge_view_inputs`` +
``create_synthetic_base_metadata``, ``compute_overlapping_inputs`` and
``aot_export_module`` signatures. :func:`compare` traces the same program
with :func:`aotio.tracing.trace`, analyses it with :func:`aotio.analyze`, and
returns a :class:`Diff` over the fields the README marks exact.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

# The exact fields PyTorch's side writes out are the ones the diff compares.
from aotio._diff import INPUT_INFO_FIELDS, META_SCALARS

__all__ = ["Diff", "compare", "diff_expect", "pytorch_expect", "pytorch_metadata"]


# --------------------------------------------------------------------------
# the diff


class Diff(list):
    """Field differences between PyTorch (expected) and aotio (got).

    A list of ``"path: expected X, got Y"`` lines over the fields the
    conformance README marks exact; empty (and falsy) when the two analyses
    agree. ``str()`` gives a readable summary.
    """

    def __str__(self) -> str:
        if not self:
            return "no differences"
        head = f"{len(self)} difference(s) between PyTorch (expected) and aotio (got):"
        return "\n".join([head, *(f"  {line}" for line in self)])

    def __repr__(self) -> str:
        return f"Diff({list.__repr__(self)})"


def diff_expect(
    expected: dict[str, Any], got: dict[str, Any], *, keys: Iterable[str] | None = None
) -> Diff:
    """Differences between two ``expect``-layout dicts on the exact fields.

    Top-level keys absent from ``expected`` are not compared; ``keys``
    limits the comparison further. The field selection is
    :func:`aotio._diff.exact_diff`'s, the one the Python conformance tests
    use too.
    """
    from aotio._diff import exact_diff

    return Diff(exact_diff(expected, got, keys))


# --------------------------------------------------------------------------
# the check


def compare(
    fn_or_module: Callable[..., Any],
    args: Any,
    kwargs: dict[str, Any] | None = None,
    *,
    keys: Iterable[str] | None = None,
    **trace_options: Any,
) -> Diff:
    """Compare aotio's analysis of a program with PyTorch's own.

    Traces ``fn_or_module(*args, **kwargs)`` with :func:`aotio.tracing.trace`
    (``trace_options``: ``dynamic``, ``keep_input_mutations``, ``export``),
    analyses the dump with :func:`aotio.analyze`, runs :func:`pytorch_expect`
    on the same program with the same options, and returns the differences
    on the exact fields (an empty :class:`Diff` when they agree). ``keys``
    limits the comparison to some top-level keys of the ``expect`` layout
    (``needs_autograd``, ``fw_metadata``, ``dedupe``, ``synthetic_base``,
    ``overlapping_inputs``, ``graph_signature``; default all); a refusal at
    metadata collection is compared whatever ``keys`` says. The caller's grad
    mode is the program's grad mode at entry for both sides. Raises
    :class:`aotio.tracing.TraceError` if the program cannot be traced.
    """
    import aotio
    from aotio.tracing import trace

    expected = pytorch_expect(fn_or_module, args, kwargs, **trace_options)
    report = aotio.analyze(trace(fn_or_module, args, kwargs, **trace_options))
    return diff_expect(expected, report.to_dict(), keys=keys)


# --------------------------------------------------------------------------
# PyTorch's side


def _error(stage: str, exc: BaseException) -> dict[str, str]:
    return {"stage": stage, "type": type(exc).__name__, "message": str(exc).strip()[:2000]}


class _Renderer:
    """PyTorch objects -> the JSON of ``expect`` (sizes as the dump prints them)."""

    def __init__(self, shape_env: Any) -> None:
        self.shape_env = shape_env

    def size(self, x: Any) -> Any:
        from aotio.tracing import _sym

        return _sym(x, self.shape_env)

    def tensor(self, t: Any) -> dict[str, Any]:
        import torch

        if not isinstance(t, torch.Tensor):
            return self.scalar(t)
        return {
            "tensor": {
                "shape": [self.size(s) for s in t.shape],
                "stride": [self.size(s) for s in t.stride()],
                "storage_offset": self.size(t.storage_offset()),
                "dtype": str(t.dtype).removeprefix("torch."),
                "device": str(t.device),
                "requires_grad": bool(t.requires_grad),
                "is_leaf": bool(t.is_leaf),
                "is_view": t._base is not None,
                "storage_nbytes": self.size(t.untyped_storage().nbytes()),
            }
        }

    def scalar(self, v: Any) -> Any:
        import torch

        if isinstance(v, torch.SymInt):
            s = self.size(v)
            return {"int": s} if isinstance(s, int) else {"symint": s}
        if isinstance(v, bool):
            return {"bool": v}
        if isinstance(v, int):
            return {"int": v}
        if isinstance(v, float):
            return {"float": v}
        return None if v is None else {"str": str(v)}

    def meta(self, m: Any) -> dict[str, Any]:
        def type_name(t: Any) -> str:
            mod = getattr(t, "__module__", "builtins")
            return t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"

        out: dict[str, Any] = {
            "input_info": [
                dict(
                    {k: getattr(i, k) for k in INPUT_INFO_FIELDS},
                    mutation_type=i.mutation_type.name,
                )
                for i in m.input_info
            ],
            "output_info": [
                {
                    "output_type": o.output_type.name,
                    "raw_type": type_name(o.raw_type),
                    "base_idx": o.base_idx,
                    "dynamic_dims": sorted(o.dynamic_dims) if o.dynamic_dims is not None else None,
                    "requires_grad": o.requires_grad,
                    "requires_grad_for_backward": o.requires_grad_for_backward,
                }
                for o in m.output_info
            ],
            "traced_tangents": [self.tensor(t) for t in m.traced_tangents],
        }
        for k in META_SCALARS:
            # num_tokens is len(tokens) (no attribute of its own in 2.15).
            v = len(m.tokens) if k == "num_tokens" else getattr(m, k)
            if k == "output_types":
                v = [t.__name__ for t in v]
            elif isinstance(v, (list, tuple, set)):
                v = list(v)
            out[k] = v
        return out


def _aot_config(num_params_buffers: int, keep_input_mutations: bool, dynamic: bool) -> Any:
    from torch._functorch.aot_autograd import AOT_COUNTER, AOTConfig

    return AOTConfig(
        fw_compiler=None,
        bw_compiler=None,
        inference_compiler=None,
        partition_fn=None,
        decompositions={},
        num_params_buffers=num_params_buffers,
        aot_id=next(AOT_COUNTER),
        keep_inference_input_mutations=keep_input_mutations,
        dynamic_shapes=dynamic,
        aot_autograd_arg_pos_to_source=None,
        is_export=False,
        no_tangents=False,
    )


def pytorch_expect(
    fn_or_module: Callable[..., Any],
    args: Any,
    kwargs: dict[str, Any] | None = None,
    *,
    dynamic: bool = False,
    keep_input_mutations: bool = False,
    export: Sequence[str] = ("inference",),
) -> dict[str, Any]:
    """PyTorch's AOTAutograd analysis of ``fn_or_module(*args, **kwargs)``.

    The result has the layout of the conformance files' ``expect`` block.
    The program runs on fake tensors made exactly as :func:`aotio.tracing.trace`
    makes them (same sources, so the same symbols with ``dynamic=True``),
    in the caller's grad mode; each export flavour runs in its own grad mode
    (``inference`` under ``no_grad``, ``joint`` under ``enable_grad``).
    Refusals come back as ``{"stage", "type", "message"}``.
    """
    import torch

    from aotio.tracing import _check_export

    if not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    export = _check_export(export)
    grad_enabled = torch.is_grad_enabled()
    out: dict[str, Any] = {"torch_version": torch.__version__.split("+")[0]}
    try:
        out.update(
            _analysis(
                fn_or_module,
                args,
                kwargs,
                dynamic=dynamic,
                keep_input_mutations=keep_input_mutations,
            )
        )
    finally:
        torch.set_grad_enabled(grad_enabled)
    out["graph_signature"] = {}
    for flavour in export:
        try:
            out["graph_signature"][flavour] = _signature(
                fn_or_module, args, kwargs, flavour, dynamic=dynamic
            )
        except Exception as exc:  # noqa: BLE001 - a refusal is a result
            out["graph_signature"][flavour] = {
                "error": _error(f"aot_export_module[{flavour}]", exc)
            }
        finally:
            torch.set_grad_enabled(grad_enabled)
    return out


class _Program:
    """A program flattened the way AOTAutograd sees it, on fresh fake inputs."""

    def __init__(
        self, fn: Any, args: tuple, kwargs: dict, *, dynamic: bool, keep_input_mutations: bool
    ) -> None:
        from torch._functorch._aot_autograd.descriptors import PlainAOTInput

        from aotio.tracing import _Tracer

        # Same inputs, sources and symbols as aotio.tracing.trace makes.
        tr = _Tracer(fn, args, kwargs, dynamic=dynamic)
        tr._collect_inputs()
        tr._fakify()
        body = tr._body()

        def flat_fn(*flat: Any) -> list[Any]:
            return body(list(flat))

        self.flat_fn = flat_fn
        self.flat_args = list(tr.fake_inputs)
        self.descs = [PlainAOTInput(i) for i in range(len(self.flat_args))]
        self.fake_mode = tr.fake_mode
        self.shape_env = tr.shape_env
        self.aot_config = _aot_config(tr.num_params_buffers, keep_input_mutations, dynamic)

    @contextlib.contextmanager
    def aot_state(self) -> Iterator[Any]:
        """``create_aot_state`` (metadata collection and the needs_autograd choice)."""
        from torch._functorch.aot_autograd import create_aot_state
        from torch._guards import TracingContext, tracing

        from aotio.tracing import _fresh_storage_swaps

        with contextlib.ExitStack() as stack:
            stack.enter_context(_fresh_storage_swaps())
            stack.enter_context(tracing(TracingContext(self.fake_mode)))
            yield create_aot_state(
                stack,
                self.flat_fn,
                self.flat_args,
                self.descs,
                self.aot_config,
                self.fake_mode,
                self.shape_env,
            )


def pytorch_metadata(
    fn_or_module: Callable[..., Any],
    args: Any,
    kwargs: dict[str, Any] | None = None,
    *,
    dynamic: bool = False,
    keep_input_mutations: bool = False,
) -> Any:
    """PyTorch's ``ViewAndMutationMeta`` for a program (its metadata collection only).

    Runs ``create_aot_state`` on the same fake inputs :func:`pytorch_expect`
    uses, in the caller's grad mode; PyTorch's refusals propagate.
    """
    import torch._functorch.aot_autograd  # noqa: F401 - imported first, see _analysis

    if not isinstance(args, (tuple, list)):
        args = (args,)
    program = _Program(
        fn_or_module,
        tuple(args),
        dict(kwargs or {}),
        dynamic=dynamic,
        keep_input_mutations=keep_input_mutations,
    )
    with program.aot_state() as state:
        return state.fw_metadata


def _analysis(
    fn: Any, args: tuple, kwargs: dict, *, dynamic: bool, keep_input_mutations: bool
) -> dict:
    import torch

    # aot_autograd first, or runtime_wrappers' imports go in a circle.
    import torch._functorch.aot_autograd
    from torch._functorch._aot_autograd.input_output_analysis import (
        compute_overlapping_inputs,
        create_synthetic_base_metadata,
    )
    from torch._functorch._aot_autograd.runtime_wrappers import AOTDedupeWrapper, merge_view_inputs
    from torch.multiprocessing.reductions import StorageWeakRef

    program = _Program(fn, args, kwargs, dynamic=dynamic, keep_input_mutations=keep_input_mutations)
    flat_fn, descs, aot_config = program.flat_fn, program.descs, program.aot_config
    render = _Renderer(program.shape_env)
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as outer:
        try:
            state = outer.enter_context(program.aot_state())
        except Exception as exc:  # noqa: BLE001 - a refusal is a result
            return {"error": _error("collect_metadata", exc)}
        meta = state.fw_metadata
        out["needs_autograd"] = bool(state.needs_autograd)
        out["fw_metadata"] = render.meta(meta)

        # AOTDedupeWrapper.pre_compile, as aot_stage1_graph_capture runs it.
        flat_args = list(state.flat_args)
        dedupe = AOTDedupeWrapper()
        _, deduped, deduped_descs, deduped_meta = dedupe.pre_compile(
            flat_fn, flat_args, descs, aot_config, fw_metadata=meta
        )
        if dedupe.needs_post_compile:
            out["dedupe"] = {
                "strategy": "remove_duplicates",
                "needs_post_compile": True,
                "keep_arg_mask": list(dedupe.keep_arg_mask),
                "add_dupe_map": list(dedupe.add_dupe_map),
                "leafified_indices": [],
                "fw_metadata": render.meta(deduped_meta),
            }
        else:
            leafified = [i for i, (a, b) in enumerate(zip(flat_args, deduped)) if a is not b]
            out["dedupe"] = {
                "strategy": "leafify" if leafified else "none",
                "needs_post_compile": False,
                "keep_arg_mask": None,
                "add_dupe_map": None,
                "leafified_indices": leafified,
                "fw_metadata": None,
            }

        # Storage groups of the post-dedupe inputs, for the overlap check.
        groups: dict[Any, list[int]] = {}
        for i, a in enumerate(deduped):
            if isinstance(a, torch.Tensor):
                groups.setdefault(StorageWeakRef(a.untyped_storage()), []).append(i)
        out["overlapping_inputs"] = [
            {
                "aliased_input_indices": idx,
                "overlapping": sorted(compute_overlapping_inputs(aot_config, deduped, idx)),
            }
            for idx in groups.values()
            if len(idx) >= 2
        ]

        # merge_view_inputs + create_synthetic_base_metadata, as
        # AOTSyntheticBaseWrapper.pre_compile runs them.
        is_inference = not state.needs_autograd
        sb: dict[str, Any] = {"is_inference": is_inference}
        try:
            inner, inner_descs, info = merge_view_inputs(
                aot_config,
                deduped,
                deduped_descs,
                deduped_meta.input_info,
                is_inference=is_inference,
            )
        except Exception as exc:  # noqa: BLE001 - a refusal is a result
            sb["error"] = _error("merge_view_inputs", exc)
            info = None
            inner = inner_descs = None
        if "error" not in sb:
            sb["needed"] = info is not None
        if info is not None:
            sb_meta, aliased_meta_mut = create_synthetic_base_metadata(
                deduped_meta, info, deduped, inner, inner_descs
            )
            base_groups: dict[str, list[int]] = {}
            others: list[tuple[int, int]] = []
            for orig, entry in enumerate(info):
                if isinstance(entry, int):
                    others.append((entry, orig))
                else:
                    base_groups.setdefault(str(entry[0]), []).append(orig)
            sb.update(
                {
                    "synthetic_base_info": [
                        e if isinstance(e, int) else [e[0], render.tensor(e[1])] for e in info
                    ],
                    "inner_args": [render.tensor(a) for a in inner],
                    "inner_args_descs": [str(d) for d in inner_descs],
                    "outer_aliased_arg_idx_with_metadata_mutations": list(aliased_meta_mut),
                    "fw_metadata": render.meta(sb_meta),
                    "wrapper": {
                        "base_groups": base_groups,
                        "other_arg_indices": [o for _, o in sorted(others)],
                        "aliased_arg_idx_with_metadata_mutations": list(aliased_meta_mut),
                    },
                }
            )
        out["synthetic_base"] = sb
    return out


def _signature(
    fn: Any, args: tuple, kwargs: dict, flavour: str, *, dynamic: bool
) -> dict[str, Any]:
    import torch
    from torch._functorch.aot_autograd import aot_export_module
    from torch.utils._pytree import tree_leaves, treespec_dumps

    joint = flavour == "joint"

    def shape_output(out: Any) -> tuple:
        # Joint export wants the scalar loss first; export wants tuples.
        if joint:
            losses = [
                o.sum()
                for o in tree_leaves(out)
                if isinstance(o, torch.Tensor) and o.requires_grad and o.is_floating_point()
            ]
            return (sum(losses[1:], losses[0]) if losses else torch.zeros(()),)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    owner = getattr(fn, "__self__", None)
    if not isinstance(owner, torch.nn.Module):
        owner = fn if isinstance(fn, torch.nn.Module) else None
    if owner is not None:
        # Export the module itself (a method of it runs as its forward) so
        # parameter and buffer names stay its own.
        mod, saved = owner, owner.__dict__.get("forward")
        call = owner.forward if fn is owner else fn
        owner.forward = lambda *a, **k: shape_output(call(*a, **k))
    else:

        class Function(torch.nn.Module):
            def forward(self, *a: Any, **k: Any) -> Any:
                return shape_output(fn(*a, **k))

        mod, saved = Function(), None
    state: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if dynamic:
        # Export on the same symbolic inputs the trace sees, so a size the
        # program returns is a graph output (a SymInt), not a constant; the
        # parameters and buffers become fake tensors of the same mode.
        from torch.nn.utils import stateless
        from torch.utils._pytree import tree_unflatten

        from aotio.tracing import _Tracer

        tr = _Tracer(fn, args, kwargs, dynamic=True)
        tr._collect_inputs()
        tr._fakify()
        n = tr.num_params_buffers
        args, kwargs = tree_unflatten(tr.fake_inputs[n:], tr.in_spec)
        if n:
            fqns = [fqn for (_name, _kind, fqn, _source, _value) in tr.inputs[:n]]
            state = stateless._reparametrize_module(
                mod, dict(zip(fqns, tr.fake_inputs[:n])), tie_weights=False
            )
    from aotio.tracing import _fresh_storage_swaps

    try:
        with state, _fresh_storage_swaps(), torch.enable_grad() if joint else torch.no_grad():
            gm, sig = aot_export_module(
                mod,
                args,
                kwargs=kwargs or None,
                trace_joint=joint,
                output_loss_index=0 if joint else None,
                dynamic_shapes=dynamic,
            )
    finally:
        if owner is not None:
            if saved is not None:
                owner.forward = saved
            else:
                del owner.forward
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    (output,) = [n for n in gm.graph.nodes if n.op == "output"]
    outs = [a.name if isinstance(a, torch.fx.Node) else None for a in output.args[0]]

    def spec(s: Any) -> Any:
        return json.loads(treespec_dumps(s)) if s is not None else None

    b = sig.backward_signature
    return {
        "parameters": list(sig.parameters),
        "buffers": list(sig.buffers),
        "user_inputs": list(sig.user_inputs),
        "user_outputs": list(sig.user_outputs),
        "inputs_to_parameters": dict(sig.inputs_to_parameters),
        "inputs_to_buffers": dict(sig.inputs_to_buffers),
        "buffers_to_mutate": dict(sig.buffers_to_mutate),
        "parameters_to_mutate": dict(sig.parameters_to_mutate),
        "user_inputs_to_mutate": dict(sig.user_inputs_to_mutate),
        "in_spec": spec(sig.in_spec),
        "out_spec": spec(sig.out_spec),
        "backward_signature": None
        if b is None
        else {
            "gradients_to_parameters": dict(b.gradients_to_parameters),
            "gradients_to_user_inputs": dict(b.gradients_to_user_inputs),
            "loss_output": b.loss_output,
        },
        "input_tokens": list(sig.input_tokens),
        "output_tokens": list(sig.output_tokens),
        "graph_input_names": placeholders,
        "graph_output_names": outs,
    }
