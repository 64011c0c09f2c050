//! `ViewAndMutationMeta` and its parts, with PyTorch's names and JSON layout
//! (the conformance files' `expect.fw_metadata`).

use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::error::{ExceptionType, Stage, TorchError};
use crate::ir::expr::SizeExpr;

/// semantics §2.3
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MutationType {
    /// PyTorch's `MutationType.NOT_MUTATED`.
    #[serde(rename = "NOT_MUTATED")]
    NotMutated,
    /// PyTorch's `MutationType.MUTATED_IN_GRAPH`.
    #[serde(rename = "MUTATED_IN_GRAPH")]
    MutatedInGraph,
    /// PyTorch's `MutationType.MUTATED_OUT_GRAPH`.
    #[serde(rename = "MUTATED_OUT_GRAPH")]
    MutatedOutGraph,
}

/// One flat input (semantics §2.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct InputAliasInfo {
    /// PyTorch's `InputAliasInfo.is_leaf`.
    pub is_leaf: bool,
    /// PyTorch's `InputAliasInfo.mutates_data`.
    pub mutates_data: bool,
    /// PyTorch's `InputAliasInfo.mutates_metadata`.
    pub mutates_metadata: bool,
    /// PyTorch's `InputAliasInfo.mutations_hidden_from_autograd`.
    pub mutations_hidden_from_autograd: bool,
    /// PyTorch's `InputAliasInfo.mutations_under_no_grad_or_inference_mode`.
    pub mutations_under_no_grad_or_inference_mode: bool,
    /// PyTorch's `InputAliasInfo.mutation_inductor_storage_resize`.
    pub mutation_inductor_storage_resize: bool,
    /// PyTorch's `InputAliasInfo.mutates_storage_metadata`.
    pub mutates_storage_metadata: bool,
    /// PyTorch's `InputAliasInfo.mutation_is_shallow_copy_data`.
    pub mutation_is_shallow_copy_data: bool,
    /// PyTorch's `InputAliasInfo.requires_grad`.
    pub requires_grad: bool,
    /// PyTorch's `InputAliasInfo.keep_input_mutations`.
    pub keep_input_mutations: bool,
    /// Derived eagerly: PyTorch computes it lazily, but every analysis after
    /// collection evaluates it, so a refusal surfaces at collection anyway.
    pub mutation_type: MutationType,
}

impl InputAliasInfo {
    /// The derived `mutation_type` of semantics §2.4, with its refusal.
    pub fn derive_mutation_type(&self) -> Result<MutationType, TorchError> {
        if !self.mutates_data && !self.mutates_metadata && !self.mutation_inductor_storage_resize {
            return Ok(MutationType::NotMutated);
        }
        let in_graph = self.keep_input_mutations
            && (self.mutates_data
                || self.mutates_storage_metadata
                || self.mutation_inductor_storage_resize)
            && ((!self.mutates_metadata && !self.requires_grad)
                || self.mutations_hidden_from_autograd
                || self.mutations_under_no_grad_or_inference_mode);
        if (self.mutation_inductor_storage_resize || self.mutates_storage_metadata) && !in_graph {
            let op = if self.mutation_inductor_storage_resize {
                "resize_"
            } else {
                "set_"
            };
            return Err(TorchError::new(
                Stage::CollectMetadata,
                ExceptionType::AssertionError,
                format!(
                    "Encountered a {op} on a graph input, but the input has other mutations that we cannot \
                     keep in the graph. This is not supported today. Current state:\n  \
                     keep_input_mutations={}\n  mutates_data={}\n  mutates_metadata={}\n  \
                     mutations_hidden_from_autograd={}\n  mutations_under_no_grad_or_inference_mode={}\n  \
                     mutation_inductor_storage_resize={}\n  requires_grad={}",
                    py_bool(self.keep_input_mutations),
                    py_bool(self.mutates_data),
                    py_bool(self.mutates_metadata),
                    py_bool(self.mutations_hidden_from_autograd),
                    py_bool(self.mutations_under_no_grad_or_inference_mode),
                    py_bool(self.mutation_inductor_storage_resize),
                    py_bool(self.requires_grad),
                ),
            ));
        }
        Ok(if in_graph {
            MutationType::MutatedInGraph
        } else {
            MutationType::MutatedOutGraph
        })
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// semantics §2.2, in PyTorch's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputType {
    /// PyTorch's `OutputType.non_alias`.
    NonAlias,
    /// PyTorch's `OutputType.alias_of_input`.
    AliasOfInput,
    /// PyTorch's `OutputType.is_input`.
    IsInput,
    /// PyTorch's `OutputType.alias_of_intermediate_save_as_output`.
    AliasOfIntermediateSaveAsOutput,
    /// PyTorch's `OutputType.alias_of_intermediate`.
    AliasOfIntermediate,
    /// PyTorch's `OutputType.alias_of_intermediate_base_is_user_output`.
    AliasOfIntermediateBaseIsUserOutput,
    /// PyTorch's `OutputType.unsafe_view_alias`.
    UnsafeViewAlias,
    /// PyTorch's `OutputType.custom_function_view`.
    CustomFunctionView,
}

impl OutputType {
    /// Outputs the runtime returns as they are (not regenerated from a base).
    pub fn is_non_aliased(self) -> bool {
        matches!(
            self,
            OutputType::NonAlias | OutputType::UnsafeViewAlias | OutputType::CustomFunctionView
        )
    }
    /// Whether the output is, or is a view of, an input.
    pub fn aliases_input(self) -> bool {
        matches!(self, OutputType::AliasOfInput | OutputType::IsInput)
    }
    /// Whether the output is a view of an intermediate (one of the three `alias_of_intermediate*` kinds).
    pub fn aliases_intermediate(self) -> bool {
        matches!(
            self,
            OutputType::AliasOfIntermediate
                | OutputType::AliasOfIntermediateSaveAsOutput
                | OutputType::AliasOfIntermediateBaseIsUserOutput
        )
    }
}

/// The runtime type of an output (`raw_type`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RawType {
    /// A tensor: `torch._subclasses.functional_tensor.FunctionalTensor` during tracing.
    FunctionalTensor,
    /// A non-tensor output, by its Python type name (`int`, `torch.SymInt`, ...).
    Python(&'static str),
}

impl Serialize for RawType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawType::FunctionalTensor => {
                s.serialize_str("torch._subclasses.functional_tensor.FunctionalTensor")
            }
            RawType::Python(name) => s.serialize_str(name),
        }
    }
}

/// One flat output (semantics §2.7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OutputAliasInfo {
    /// PyTorch's `OutputAliasInfo.output_type`.
    pub output_type: OutputType,
    /// PyTorch's `OutputAliasInfo.raw_type`.
    pub raw_type: RawType,
    /// PyTorch's `OutputAliasInfo.base_idx`.
    pub base_idx: Option<usize>,
    /// PyTorch's `OutputAliasInfo.dynamic_dims`.
    pub dynamic_dims: Option<Vec<usize>>,
    /// PyTorch's `OutputAliasInfo.requires_grad`.
    pub requires_grad: bool,
    /// PyTorch's `OutputAliasInfo.requires_grad_for_backward`.
    pub requires_grad_for_backward: bool,
    /// Names of the view-replay steps (informational; `None` when PyTorch records no sequence).
    pub view_meta_sequence: Option<Vec<String>>,
}

/// Shape, strides, offset and dtype of a tensor PyTorch builds (tangents, bases).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TensorSpec {
    /// Sizes, possibly symbolic.
    pub shape: Vec<SizeExpr>,
    /// Strides, possibly symbolic.
    pub stride: Vec<SizeExpr>,
    /// Offset into the storage, in elements.
    pub storage_offset: SizeExpr,
    /// PyTorch's dtype name (`float32`, ...).
    pub dtype: Arc<str>,
}

impl TensorSpec {
    /// The spec of a tensor with this geometry.
    pub fn of(g: &crate::ir::Geometry) -> Self {
        TensorSpec {
            shape: g.shape.clone(),
            stride: g.stride.clone(),
            storage_offset: g.storage_offset.clone(),
            dtype: g.dtype.clone(),
        }
    }
}

/// A traced tangent and PyTorch's descriptor of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tangent {
    /// The tangent's geometry.
    pub spec: TensorSpec,
    /// What the tangent is for, as PyTorch describes it (`traced_tangents_descs`).
    pub desc: String,
}

/// semantics §2.10: the stored fields; the derived ones are computed by
/// [`ViewAndMutationMeta::derived`] so they can never disagree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ViewAndMutationMeta {
    /// PyTorch's `ViewAndMutationMeta.input_info`.
    pub input_info: Vec<InputAliasInfo>,
    /// PyTorch's `ViewAndMutationMeta.output_info`.
    pub output_info: Vec<OutputAliasInfo>,
    /// PyTorch's `ViewAndMutationMeta.num_intermediate_bases`.
    pub num_intermediate_bases: usize,
    /// PyTorch's `ViewAndMutationMeta.keep_input_mutations`.
    pub keep_input_mutations: bool,
    /// PyTorch's `ViewAndMutationMeta.traced_tangents`.
    pub traced_tangents: Vec<Tangent>,
    /// PyTorch's `ViewAndMutationMeta.grad_enabled_mutation`.
    pub grad_enabled_mutation: Option<bool>,
    /// PyTorch's `ViewAndMutationMeta.num_tokens`.
    pub num_tokens: usize,
}

impl ViewAndMutationMeta {
    /// A meta for a rewritten calling convention (dedupe, synthetic bases):
    /// PyTorch carries over only the intermediate-base count and the
    /// keep-mutations flag; every other stored field takes its default (§5 item 16).
    pub fn rewritten(
        from: &ViewAndMutationMeta,
        input_info: Vec<InputAliasInfo>,
        output_info: Vec<OutputAliasInfo>,
        traced_tangents: Vec<Tangent>,
    ) -> Self {
        ViewAndMutationMeta {
            input_info,
            output_info,
            num_intermediate_bases: from.num_intermediate_bases,
            keep_input_mutations: from.keep_input_mutations,
            traced_tangents,
            grad_enabled_mutation: None,
            num_tokens: 0,
        }
    }
}

/// The fields PyTorch derives in `__post_init__`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DerivedFields {
    /// PyTorch's `ViewAndMutationMeta.mutated_inp_runtime_indices`.
    pub mutated_inp_runtime_indices: Vec<usize>,
    /// PyTorch's `ViewAndMutationMeta.num_mutated_inp_runtime_indices`.
    pub num_mutated_inp_runtime_indices: usize,
    /// PyTorch's `ViewAndMutationMeta.mutated_graph_handled_indices`.
    pub mutated_graph_handled_indices: Vec<usize>,
    /// PyTorch's `ViewAndMutationMeta.num_mutated_graph_handled_indices`.
    pub num_mutated_graph_handled_indices: usize,
    /// PyTorch's `ViewAndMutationMeta.mutated_graph_handled_indices_seen_by_autograd`.
    pub mutated_graph_handled_indices_seen_by_autograd: Vec<usize>,
    /// PyTorch's `ViewAndMutationMeta.num_mutated_graph_handled_indices_seen_by_autograd`.
    pub num_mutated_graph_handled_indices_seen_by_autograd: usize,
    /// PyTorch's `ViewAndMutationMeta.aliased_out_indices`.
    pub aliased_out_indices: Vec<usize>,
    /// PyTorch's `ViewAndMutationMeta.unsafe_view_out_indices`.
    pub unsafe_view_out_indices: Vec<usize>,
    /// PyTorch's `ViewAndMutationMeta.num_outputs`.
    pub num_outputs: usize,
    /// PyTorch's `ViewAndMutationMeta.num_outputs_non_aliased`.
    pub num_outputs_non_aliased: usize,
    /// PyTorch's `ViewAndMutationMeta.num_outputs_aliased_to_inputs`.
    pub num_outputs_aliased_to_inputs: usize,
    /// PyTorch's `ViewAndMutationMeta.num_outputs_aliased_to_intermediates`.
    pub num_outputs_aliased_to_intermediates: usize,
    /// PyTorch's `ViewAndMutationMeta.num_outputs_aliased`.
    pub num_outputs_aliased: usize,
    /// PyTorch's `ViewAndMutationMeta.num_unsafe_view_outputs`.
    pub num_unsafe_view_outputs: usize,
    /// PyTorch's `ViewAndMutationMeta.dynamic_outputs`.
    pub dynamic_outputs: bool,
    /// PyTorch's `ViewAndMutationMeta.output_types`.
    pub output_types: Vec<&'static str>,
    /// PyTorch's `ViewAndMutationMeta.is_rng_op_functionalized`.
    pub is_rng_op_functionalized: bool,
    /// PyTorch's `ViewAndMutationMeta.num_outputs_rng_offset`.
    pub num_outputs_rng_offset: usize,
    /// PyTorch's `ViewAndMutationMeta.num_forward_returns`.
    pub num_forward_returns: usize,
    /// PyTorch's `ViewAndMutationMeta.num_forward`.
    pub num_forward: usize,
}

impl ViewAndMutationMeta {
    /// The fields PyTorch derives from the collected ones in `ViewAndMutationMeta.__post_init__`.
    pub fn derived(&self) -> DerivedFields {
        let indices_of = |t: MutationType| -> Vec<usize> {
            self.input_info
                .iter()
                .enumerate()
                .filter(|(_, i)| i.mutation_type == t)
                .map(|(i, _)| i)
                .collect()
        };
        let mutated_inp_runtime_indices = indices_of(MutationType::MutatedOutGraph);
        let mutated_graph_handled_indices = indices_of(MutationType::MutatedInGraph);
        let seen_by_autograd: Vec<usize> = mutated_graph_handled_indices
            .iter()
            .copied()
            .filter(|&i| {
                self.input_info
                    .get(i)
                    .is_some_and(|info| !info.mutations_hidden_from_autograd)
            })
            .collect();
        let outputs_where = |p: &dyn Fn(OutputType) -> bool| -> Vec<usize> {
            self.output_info
                .iter()
                .enumerate()
                .filter(|(_, o)| p(o.output_type))
                .map(|(k, _)| k)
                .collect()
        };
        let aliased_out_indices = outputs_where(&|t| !t.is_non_aliased());
        let unsafe_view_out_indices = outputs_where(&|t| t == OutputType::UnsafeViewAlias);
        let num_outputs = self.output_info.len();
        let num_outputs_aliased_to_inputs = outputs_where(&OutputType::aliases_input).len();
        let num_outputs_aliased_to_intermediates =
            outputs_where(&OutputType::aliases_intermediate).len();
        let num_mutated = mutated_inp_runtime_indices.len();
        // functionalize_rng_ops is off in the reference configuration.
        let is_rng_op_functionalized = false;
        let num_outputs_rng_offset = usize::from(is_rng_op_functionalized);
        let num_forward_returns = num_mutated + num_outputs + self.num_intermediate_bases;
        DerivedFields {
            num_mutated_inp_runtime_indices: num_mutated,
            mutated_inp_runtime_indices,
            num_mutated_graph_handled_indices: mutated_graph_handled_indices.len(),
            mutated_graph_handled_indices,
            num_mutated_graph_handled_indices_seen_by_autograd: seen_by_autograd.len(),
            mutated_graph_handled_indices_seen_by_autograd: seen_by_autograd,
            aliased_out_indices,
            num_unsafe_view_outputs: unsafe_view_out_indices.len(),
            unsafe_view_out_indices,
            num_outputs,
            num_outputs_non_aliased: outputs_where(&OutputType::is_non_aliased).len(),
            num_outputs_aliased_to_inputs,
            num_outputs_aliased_to_intermediates,
            num_outputs_aliased: num_outputs_aliased_to_inputs
                + num_outputs_aliased_to_intermediates,
            dynamic_outputs: self
                .output_info
                .iter()
                .any(|o| o.dynamic_dims.as_ref().is_some_and(|d| !d.is_empty())),
            output_types: self.traced_tangents.iter().map(|_| "Tensor").collect(),
            is_rng_op_functionalized,
            num_outputs_rng_offset,
            num_forward_returns,
            num_forward: num_forward_returns + num_outputs_rng_offset,
        }
    }
}

impl Serialize for ViewAndMutationMeta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Layout<'a> {
            input_info: &'a [InputAliasInfo],
            output_info: &'a [OutputAliasInfo],
            num_intermediate_bases: usize,
            keep_input_mutations: bool,
            traced_tangents: Vec<&'a TensorSpec>,
            traced_tangents_descs: Vec<&'a str>,
            grad_enabled_mutation: Option<bool>,
            num_tokens: usize,
            #[serde(flatten)]
            derived: DerivedFields,
        }
        Layout {
            input_info: &self.input_info,
            output_info: &self.output_info,
            num_intermediate_bases: self.num_intermediate_bases,
            keep_input_mutations: self.keep_input_mutations,
            traced_tangents: self.traced_tangents.iter().map(|t| &t.spec).collect(),
            traced_tangents_descs: self
                .traced_tangents
                .iter()
                .map(|t| t.desc.as_str())
                .collect(),
            grad_enabled_mutation: self.grad_enabled_mutation,
            num_tokens: self.num_tokens,
            derived: self.derived(),
        }
        .serialize(s)
    }
}
