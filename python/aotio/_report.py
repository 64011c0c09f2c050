"""Typed, read-only views of an analysis report, with PyTorch's names.

The classes mirror ``torch._functorch._aot_autograd.schemas`` (``InputAliasInfo``,
``OutputAliasInfo``, ``ViewAndMutationMeta``, ``GraphSignature``,
``BackwardSignature``) so that a report reads like ``TORCH_LOGS`` output. They
are frozen dataclasses, built one top-level key at a time the first time they
are asked for: ``analyze`` itself only runs the analysis. Sequences are tuples
and mappings are read-only.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "BackwardSignature",
    "Dedupe",
    "GraphSignature",
    "InputAliasInfo",
    "MutationType",
    "OutputAliasInfo",
    "OutputType",
    "OverlappingInputs",
    "Report",
    "SyntheticBase",
    "TensorMeta",
    "TorchError",
    "ViewAndMutationMeta",
]


class OutputType(enum.Enum):
    """What a user output is, in PyTorch's terms (member names and values are PyTorch's)."""

    non_alias = 1
    alias_of_input = 2
    is_input = 3
    alias_of_intermediate_save_as_output = 4
    alias_of_intermediate = 5
    alias_of_intermediate_base_is_user_output = 6
    unsafe_view_alias = 7
    custom_function_view = 8


class MutationType(enum.Enum):
    """Where an input's mutation is applied (PyTorch's ``MutationType``)."""

    NOT_MUTATED = 1
    MUTATED_IN_GRAPH = 2
    MUTATED_OUT_GRAPH = 3


# Converters from the JSON layout to read-only Python values.
def _tuple(value):
    return None if value is None else tuple(_frozen(v) for v in value)


def _frozen(value):
    """Lists become tuples and dicts read-only mappings, all the way down."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def _each(cls):
    return lambda value: None if value is None else tuple(_build(cls, v) for v in value)


def _one(cls):
    return lambda value: None if value is None else _build(cls, value)


def _convert(fn):
    """Marks a dataclass field as read from JSON through ``fn``."""
    return {"convert": fn}


def _build(cls, data: Mapping[str, Any]):
    """An instance of the dataclass ``cls`` from its JSON layout (missing keys take defaults)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        convert = f.metadata.get("convert", _frozen)
        kwargs[f.name] = convert(data[f.name])
    return cls(**kwargs)


@dataclass(frozen=True)
class TorchError:
    """PyTorch's refusal: the analysis stage, the exception type it raises, and its message."""

    stage: str
    type: str
    message: str


@dataclass(frozen=True)
class TensorMeta:
    """Shape, strides, offset and dtype of a tensor (symbolic sizes are strings such as ``"s0"``)."""

    shape: tuple = field(metadata=_convert(_tuple))
    stride: tuple = field(metadata=_convert(_tuple))
    storage_offset: int | str = 0
    dtype: str = ""
    requires_grad: bool | None = None


@dataclass(frozen=True)
class InputAliasInfo:
    """What the program does to one input (PyTorch's ``InputAliasInfo``).

    ``mutation_type`` is derived, as in PyTorch (where it is a cached property),
    and so is left out of the repr.
    """

    is_leaf: bool
    mutates_data: bool
    mutates_metadata: bool
    mutations_hidden_from_autograd: bool
    mutations_under_no_grad_or_inference_mode: bool
    mutation_inductor_storage_resize: bool
    mutates_storage_metadata: bool
    mutation_is_shallow_copy_data: bool
    requires_grad: bool
    keep_input_mutations: bool
    mutation_type: MutationType = field(
        default=MutationType.NOT_MUTATED,
        repr=False,
        metadata=_convert(lambda name: MutationType[name]),
    )


@dataclass(frozen=True)
class OutputAliasInfo:
    """What one user output aliases (PyTorch's ``OutputAliasInfo``).

    ``raw_type`` is the qualified name of the output's type as PyTorch's
    analysis sees it (``torch._subclasses.functional_tensor.FunctionalTensor``
    for tensors); ``dynamic_dims`` is None for non-tensors.
    """

    output_type: OutputType = field(metadata=_convert(lambda name: OutputType[name]))
    raw_type: str
    base_idx: int | None
    dynamic_dims: frozenset | None = field(
        metadata=_convert(lambda v: None if v is None else frozenset(v))
    )
    requires_grad: bool
    requires_grad_for_backward: bool
    view_meta_sequence: tuple | None = field(default=None, metadata=_convert(_tuple))


@dataclass(frozen=True)
class ViewAndMutationMeta:
    """PyTorch's ``ViewAndMutationMeta``: the collected metadata and what it derives.

    Index spaces are PyTorch's: ``input_info[i]`` is placeholder ``i``
    (parameters, buffers, then flattened user inputs), ``output_info[j]`` is
    element ``j`` of the output node.
    """

    input_info: tuple = field(metadata=_convert(_each(InputAliasInfo)))
    output_info: tuple = field(metadata=_convert(_each(OutputAliasInfo)))
    num_intermediate_bases: int
    keep_input_mutations: bool
    traced_tangents: tuple = field(metadata=_convert(_each(TensorMeta)))
    traced_tangents_descs: tuple
    grad_enabled_mutation: bool | None
    num_tokens: int
    mutated_inp_runtime_indices: tuple
    num_mutated_inp_runtime_indices: int
    mutated_graph_handled_indices: tuple
    num_mutated_graph_handled_indices: int
    mutated_graph_handled_indices_seen_by_autograd: tuple
    num_mutated_graph_handled_indices_seen_by_autograd: int
    aliased_out_indices: tuple
    unsafe_view_out_indices: tuple
    num_outputs: int
    num_outputs_non_aliased: int
    num_outputs_aliased_to_inputs: int
    num_outputs_aliased_to_intermediates: int
    num_outputs_aliased: int
    num_unsafe_view_outputs: int
    dynamic_outputs: bool
    # The types of the traced tangents (PyTorch keeps the classes), by name.
    output_types: tuple
    is_rng_op_functionalized: bool
    num_outputs_rng_offset: int
    num_forward_returns: int
    num_forward: int


@dataclass(frozen=True)
class Dedupe:
    """``AOTDedupeWrapper.pre_compile``'s outcome: ``strategy`` is ``"none"``,
    ``"leafify"`` or ``"remove_duplicates"``; ``error`` is set when PyTorch
    refuses at this stage (and nothing else is)."""

    strategy: str | None = None
    needs_post_compile: bool | None = None
    keep_arg_mask: tuple | None = field(default=None, metadata=_convert(_tuple))
    add_dupe_map: tuple | None = field(default=None, metadata=_convert(_tuple))
    leafified_indices: tuple = ()
    fw_metadata: ViewAndMutationMeta | None = field(
        default=None, metadata=_convert(_one(ViewAndMutationMeta))
    )
    error: TorchError | None = field(default=None, metadata=_convert(_one(TorchError)))


def _base_info(entry):
    # An int (index into the inner arguments), or (base index, view meta).
    if isinstance(entry, list):
        base, meta = entry
        return (base, _build(TensorMeta, meta["tensor"]))
    return entry


def _inner_arg(entry):
    return _build(TensorMeta, entry["tensor"])


@dataclass(frozen=True)
class SyntheticBase:
    """``merge_view_inputs`` + ``create_synthetic_base_metadata``'s outcome.

    ``synthetic_base_info`` has one entry per post-dedupe input: an int (its
    inner argument) or ``(base_index, TensorMeta)`` (a view of that inner argument).
    """

    is_inference: bool
    needed: bool | None = None
    error: TorchError | None = field(default=None, metadata=_convert(_one(TorchError)))
    synthetic_base_info: tuple | None = field(
        default=None,
        metadata=_convert(lambda v: None if v is None else tuple(_base_info(e) for e in v)),
    )
    inner_args: tuple | None = field(
        default=None,
        metadata=_convert(lambda v: None if v is None else tuple(_inner_arg(e) for e in v)),
    )
    inner_args_descs: tuple | None = None
    outer_aliased_arg_idx_with_metadata_mutations: tuple | None = None
    fw_metadata: ViewAndMutationMeta | None = field(
        default=None, metadata=_convert(_one(ViewAndMutationMeta))
    )
    wrapper: Mapping | None = None


@dataclass(frozen=True)
class OverlappingInputs:
    """One storage shared by two or more post-dedupe inputs, and the members
    ``compute_overlapping_inputs`` says overlap."""

    aliased_input_indices: tuple
    overlapping: tuple


@dataclass(frozen=True)
class BackwardSignature:
    """PyTorch's ``BackwardSignature`` of a joint export (names are the exported graph's)."""

    gradients_to_parameters: Mapping[str, str]
    gradients_to_user_inputs: Mapping[str, str]
    loss_output: str


@dataclass(frozen=True)
class GraphSignature:
    """PyTorch's ``GraphSignature`` from ``aot_export_module`` (one export flavour).

    ``error`` is set, and the rest empty, when export refuses the program.
    ``graph_input_names``/``graph_output_names`` list the exported graph's
    placeholders and outputs in order, and ``torch_export`` is the same
    signature in ``torch.export``'s serialized layout.
    """

    parameters: tuple = ()
    buffers: tuple = ()
    user_inputs: tuple = ()
    user_outputs: tuple = ()
    inputs_to_parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    inputs_to_buffers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    buffers_to_mutate: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    parameters_to_mutate: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    user_inputs_to_mutate: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    in_spec: Any = None
    out_spec: Any = None
    backward_signature: BackwardSignature | None = field(
        default=None, metadata=_convert(_one(BackwardSignature))
    )
    input_tokens: tuple = ()
    output_tokens: tuple = ()
    graph_input_names: tuple = ()
    graph_output_names: tuple = ()
    torch_export: Any = None
    error: TorchError | None = field(default=None, metadata=_convert(_one(TorchError)))


class Report:
    """What aotio computed for a graph, in the layout of a conformance file's ``expect``.

    Attributes are typed, read-only views built on first access:
    ``needs_autograd``, ``fw_metadata`` (:class:`ViewAndMutationMeta`),
    ``dedupe`` (:class:`Dedupe`), ``synthetic_base`` (:class:`SyntheticBase`),
    ``overlapping_inputs`` (tuple of :class:`OverlappingInputs`),
    ``graph_signature`` (``{"inference"|"joint": GraphSignature}``),
    ``error`` (:class:`TorchError` when PyTorch refuses the program at metadata
    collection; the analysis attributes are then None), and the informational
    ``symbolic_overlap`` and ``aot_guards``.
    """

    def __init__(self, raw):
        self._raw = raw

    def to_dict(self) -> dict:
        """Exactly what ``aotio analyze FILE --format json`` prints, as a new dict."""
        return self._raw.to_dict()

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text; ``indent=2`` is the CLI's layout, None one line."""
        return self._raw.to_json(indent)

    def _part(self, key: str):
        # One key converted at a time: reading a flag costs no full conversion.
        return self._raw.get(key)

    @functools.cached_property
    def needs_autograd(self) -> bool | None:
        """AOTAutograd's final choice: a joint graph (True) or inference (False)."""
        return self._part("needs_autograd")

    @functools.cached_property
    def fw_metadata(self) -> ViewAndMutationMeta | None:
        """The collected ``ViewAndMutationMeta`` (None when PyTorch refuses)."""
        return _one(ViewAndMutationMeta)(self._part("fw_metadata"))

    @functools.cached_property
    def dedupe(self) -> Dedupe | None:
        """The duplicate-argument handling (``AOTDedupeWrapper``)."""
        return _one(Dedupe)(self._part("dedupe"))

    @functools.cached_property
    def synthetic_base(self) -> SyntheticBase | None:
        """Synthetic bases for aliased inputs (``AOTSyntheticBaseWrapper``)."""
        return _one(SyntheticBase)(self._part("synthetic_base"))

    @functools.cached_property
    def overlapping_inputs(self) -> tuple | None:
        """Per shared storage, the members that overlap (``compute_overlapping_inputs``)."""
        return _each(OverlappingInputs)(self._part("overlapping_inputs"))

    @functools.cached_property
    def symbolic_overlap(self) -> tuple | None:
        """Informational: whether each overlap verdict holds for every symbol value."""
        return _frozen(self._part("symbolic_overlap"))

    @functools.cached_property
    def aot_guards(self) -> tuple | None:
        """Informational: the storage-overlap guards AOTAutograd would install."""
        return _frozen(self._part("aot_guards"))

    @functools.cached_property
    def error(self) -> TorchError | None:
        """PyTorch's refusal at metadata collection, or None."""
        return _one(TorchError)(self._part("error"))

    @functools.cached_property
    def graph_signature(self) -> Mapping[str, GraphSignature] | None:
        """``aot_export_module`` signatures keyed by flavour (``"inference"``, ``"joint"``)."""
        sigs = self._part("graph_signature")
        if sigs is None:
            return None
        return MappingProxyType({k: _build(GraphSignature, v) for k, v in sigs.items()})

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Report(error={self.error!r})"
        return (
            f"Report(needs_autograd={self.needs_autograd!r}, "
            f"fw_metadata={self.fw_metadata!r}, dedupe={self.dedupe!r}, "
            f"synthetic_base={self.synthetic_base!r}, "
            f"overlapping_inputs={self.overlapping_inputs!r})"
        )
