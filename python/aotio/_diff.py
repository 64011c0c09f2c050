"""Field-by-field comparison of an analysis with PyTorch's, on the exact fields.

Both sides are in the layout of a conformance file's ``expect`` block (which
is also the layout of :meth:`aotio.Report.to_dict`). The conformance README
says which fields are exact and which are informational; :func:`exact_diff`
keeps the exact ones, maps export node names to positions, and lists every
difference as ``"path: expected X, got Y"``. An empty list means agreement.

Shared by the Python conformance tests and ``aotio.compare``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["EXACT_KEYS", "INPUT_INFO_FIELDS", "META_SCALARS", "diff", "exact_diff", "normalize"]

#: Top-level keys compared, in the order the differences are listed.
EXACT_KEYS = (
    "needs_autograd",
    "fw_metadata",
    "dedupe",
    "synthetic_base",
    "overlapping_inputs",
    "graph_signature",
)

#: The `InputAliasInfo` fields the conformance README marks exact.
INPUT_INFO_FIELDS = (
    "is_leaf",
    "mutates_data",
    "mutates_metadata",
    "mutations_hidden_from_autograd",
    "mutations_under_no_grad_or_inference_mode",
    "mutation_inductor_storage_resize",
    "mutates_storage_metadata",
    "mutation_is_shallow_copy_data",
    "requires_grad",
    "keep_input_mutations",
)
_IN_FIELDS = (*INPUT_INFO_FIELDS, "mutation_type")
_OUT_FIELDS = (
    "output_type",
    "base_idx",
    "dynamic_dims",
    "requires_grad",
    "requires_grad_for_backward",
)
#: The `ViewAndMutationMeta` scalars and derived lists compared as they are.
META_SCALARS = (
    "num_intermediate_bases",
    "keep_input_mutations",
    "grad_enabled_mutation",
    "num_tokens",
    "mutated_inp_runtime_indices",
    "num_mutated_inp_runtime_indices",
    "mutated_graph_handled_indices",
    "num_mutated_graph_handled_indices",
    "mutated_graph_handled_indices_seen_by_autograd",
    "num_mutated_graph_handled_indices_seen_by_autograd",
    "aliased_out_indices",
    "unsafe_view_out_indices",
    "num_outputs",
    "num_outputs_non_aliased",
    "num_outputs_aliased_to_inputs",
    "num_outputs_aliased_to_intermediates",
    "num_outputs_aliased",
    "num_unsafe_view_outputs",
    "dynamic_outputs",
    "output_types",
    "is_rng_op_functionalized",
    "num_outputs_rng_offset",
    "num_forward_returns",
    "num_forward",
)
_TENSOR_FIELDS = ("shape", "stride", "storage_offset", "dtype")
_DEDUPE_FIELDS = (
    "strategy",
    "needs_post_compile",
    "keep_arg_mask",
    "add_dupe_map",
    "leafified_indices",
)


def _pick(d: Mapping | None, keys: Iterable[str]) -> dict:
    d = d or {}
    return {k: d.get(k) for k in keys}


def _tensor_meta(v: Any) -> Any:
    t = v.get("tensor", v) if isinstance(v, Mapping) else v
    return _pick(t, _TENSOR_FIELDS) if isinstance(t, Mapping) else t


def _raw_kind(raw: str | None) -> str | None:
    # Every tensor output is a FunctionalTensor inside the analysis; only the
    # kind of a non-tensor (int, SymInt, NoneType, ...) is exact.
    if raw is None:
        return None
    return "Tensor" if "Tensor" in raw else raw.rsplit(".", 1)[-1]


def _error(e: Mapping | None) -> dict | None:
    # The message is informational: stage and exception type are exact.
    return None if e is None else _pick(e, ("stage", "type"))


def _meta(m: Mapping | None) -> dict | None:
    if m is None:
        return None
    out = {
        "input_info": [_pick(i, _IN_FIELDS) for i in m.get("input_info") or []],
        "output_info": [
            {**_pick(o, _OUT_FIELDS), "raw_kind": _raw_kind(o.get("raw_type"))}
            for o in m.get("output_info") or []
        ],
        "traced_tangents": [_tensor_meta(t) for t in m.get("traced_tangents") or []],
    }
    out.update(_pick(m, META_SCALARS))
    return out


def _dedupe(d: Mapping | None) -> dict | None:
    if d is None:
        return None
    if "error" in d:
        return {"error": _error(d["error"])}
    return {**_pick(d, _DEDUPE_FIELDS), "fw_metadata": _meta(d.get("fw_metadata"))}


def _synthetic_base(s: Mapping | None) -> dict | None:
    if s is None:
        return None
    if "error" in s:
        return {"error": _error(s["error"])}
    info = [
        [e[0], _tensor_meta(e[1]) if len(e) > 1 else None] if isinstance(e, list) else e
        for e in s.get("synthetic_base_info") or []
    ]
    return {
        "is_inference": s.get("is_inference"),
        "needed": s.get("needed"),
        "synthetic_base_info": info,
        "inner_args": [_tensor_meta(a) for a in s.get("inner_args") or []],
        "outer_aliased_arg_idx_with_metadata_mutations": s.get(
            "outer_aliased_arg_idx_with_metadata_mutations"
        ),
        "fw_metadata": _meta(s.get("fw_metadata")),
        "wrapper": s.get("wrapper"),
    }


def _signature(g: Mapping | None) -> dict | None:
    """One export flavour, node names turned into positions in the exported
    graph's inputs/outputs (names differ between tracers, positions do not)."""
    if g is None:
        return None
    if "error" in g:
        return {"error": _error(g["error"])}
    # As in a dict comprehension: a repeated name keeps its last position.
    ins = {n: i for i, n in enumerate(g.get("graph_input_names") or [])}
    outs = {n: i for i, n in enumerate(g.get("graph_output_names") or [])}

    def pos(table: dict, name: Any) -> Any:
        if name is None:
            return None
        return table.get(name, ["?", name])

    def pi(n: Any) -> Any:
        return pos(ins, n)

    def po(n: Any) -> Any:
        return pos(outs, n)

    def same(v: Any) -> Any:
        return v

    def pairs(m: Mapping | None, fk, fv) -> list:
        items = [[fk(k), fv(v)] for k, v in (m or {}).items()]
        return sorted(items, key=lambda p: json.dumps(p, separators=(",", ":")))

    backward = g.get("backward_signature")
    if backward is not None:
        backward = {
            "gradients_to_parameters": pairs(backward.get("gradients_to_parameters"), po, same),
            "gradients_to_user_inputs": pairs(backward.get("gradients_to_user_inputs"), po, pi),
        }
    return {
        "parameters": g.get("parameters"),
        "buffers": g.get("buffers"),
        "user_inputs": [pi(n) for n in g.get("user_inputs") or []],
        "user_outputs": [po(n) for n in g.get("user_outputs") or []],
        "inputs_to_parameters": pairs(g.get("inputs_to_parameters"), pi, same),
        "inputs_to_buffers": pairs(g.get("inputs_to_buffers"), pi, same),
        "buffers_to_mutate": pairs(g.get("buffers_to_mutate"), po, same),
        "parameters_to_mutate": pairs(g.get("parameters_to_mutate"), po, same),
        "user_inputs_to_mutate": pairs(g.get("user_inputs_to_mutate"), po, pi),
        "input_tokens": [pi(n) for n in g.get("input_tokens") or []],
        "output_tokens": [po(n) for n in g.get("output_tokens") or []],
        "in_spec": g.get("in_spec"),
        "out_spec": g.get("out_spec"),
        "backward_signature": backward,
    }


def _signatures(s: Mapping | None) -> dict | None:
    if s is None:
        return None
    return {flavour: _signature(sig) for flavour, sig in s.items()}


_NORMALIZE = {
    "needs_autograd": lambda v: v,
    "fw_metadata": _meta,
    "dedupe": _dedupe,
    "synthetic_base": _synthetic_base,
    "overlapping_inputs": lambda v: v,
    "graph_signature": _signatures,
}


def normalize(result: Mapping, keys: Iterable[str] = EXACT_KEYS) -> dict:
    """The exact fields of ``result`` (an ``expect`` block or a report dict).

    When ``result`` records PyTorch's refusal at metadata collection
    (``error``), only that error's stage and type and the export signatures
    (which run their own collection) are kept.
    """
    if result.get("error") is not None:
        out = {"error": _error(result["error"])}
        if "graph_signature" in keys:
            out["graph_signature"] = _signatures(result.get("graph_signature"))
        return out
    return {k: _NORMALIZE[k](result.get(k)) for k in keys}


def diff(expected: Any, got: Any, path: str = "") -> list[str]:
    """Every difference between two JSON-like values, one ``"path: ..."`` line each."""
    out: list[str] = []
    _diff(expected, got, path, out)
    return out


def _diff(expected: Any, got: Any, path: str, out: list[str]) -> None:
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        for k in sorted(set(expected) | set(got), key=str):
            _diff(expected.get(k), got.get(k), f"{path}.{k}" if path else str(k), out)
    elif isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (x, y) in enumerate(zip(expected, got)):
            _diff(x, y, f"{path}[{i}]", out)
    elif _same(expected, got):
        return
    else:
        out.append(f"{path or '<root>'}: expected {_show(expected)}, got {_show(got)}")


def _same(a: Any, b: Any) -> bool:
    # JSON has no bool/int distinction problems here, but Python does: True == 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _show(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def exact_diff(expect: Mapping, got: Mapping, keys: Iterable[str] | None = None) -> list[str]:
    """Differences between PyTorch's ``expect`` and aotio's ``got`` on the exact fields.

    ``keys`` limits the comparison to some top-level keys (default: all of
    :data:`EXACT_KEYS`); a key absent from ``expect`` is not compared, as the
    reference data records only what it ran (export flavours, for instance).
    """
    keys = [k for k in (EXACT_KEYS if keys is None else keys) if k in expect]
    return diff(normalize(expect, keys), normalize(got, keys))
