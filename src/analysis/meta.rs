//! `ViewAndMutationMeta` and its parts, with PyTorch's names and JSON layout
//! (the conformance files' `expect.fw_metadata`).

use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::error::{ExceptionType, Stage, TorchError};
use crate::ir::expr::SizeExpr;

/// semantics §2.3
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MutationType {
    #[serde(rename = "NOT_MUTATED")]
    NotMutated,
    #[serde(rename = "MUTATED_IN_GRAPH")]
    MutatedInGraph,
    #[serde(rename = "MUTATED_OUT_GRAPH")]
    MutatedOutGraph,
}

/// One flat input (semantics §2.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct InputAliasInfo {
    pub is_leaf: bool,
    pub mutates_data: bool,
    pub mutates_metadata: bool,
    pub mutations_hidden_from_autograd: bool,
    pub mutations_under_no_grad_or_inference_mode: bool,
    pub mutation_inductor_storage_resize: bool,
    pub mutates_storage_metadata: bool,
    pub mutation_is_shallow_copy_data: bool,
    pub requires_grad: bool,
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
    NonAlias,
    AliasOfInput,
    IsInput,
    AliasOfIntermediateSaveAsOutput,
    AliasOfIntermediate,
    AliasOfIntermediateBaseIsUserOutput,
    UnsafeViewAlias,
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
    pub fn aliases_input(self) -> bool {
        matches!(self, OutputType::AliasOfInput | OutputType::IsInput)
    }
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
    FunctionalTensor,
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
    pub output_type: OutputType,
    pub raw_type: RawType,
    pub base_idx: Option<usize>,
    pub dynamic_dims: Option<Vec<usize>>,
    pub requires_grad: bool,
    pub requires_grad_for_backward: bool,
    /// Names of the view-replay steps (informational; `None` when PyTorch records no sequence).
    pub view_meta_sequence: Option<Vec<String>>,
}

/// Shape, strides, offset and dtype of a tensor PyTorch builds (tangents, bases).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TensorSpec {
    pub shape: Vec<SizeExpr>,
    pub stride: Vec<SizeExpr>,
    pub storage_offset: SizeExpr,
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
    pub spec: TensorSpec,
    pub desc: String,
}

/// semantics §2.10: the stored fields; the derived ones are computed by
/// [`ViewAndMutationMeta::derived`] so they can never disagree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ViewAndMutationMeta {
    pub input_info: Vec<InputAliasInfo>,
    pub output_info: Vec<OutputAliasInfo>,
    pub num_intermediate_bases: usize,
    pub keep_input_mutations: bool,
    pub traced_tangents: Vec<Tangent>,
    pub grad_enabled_mutation: Option<bool>,
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
    pub mutated_inp_runtime_indices: Vec<usize>,
    pub num_mutated_inp_runtime_indices: usize,
    pub mutated_graph_handled_indices: Vec<usize>,
    pub num_mutated_graph_handled_indices: usize,
    pub mutated_graph_handled_indices_seen_by_autograd: Vec<usize>,
    pub num_mutated_graph_handled_indices_seen_by_autograd: usize,
    pub aliased_out_indices: Vec<usize>,
    pub unsafe_view_out_indices: Vec<usize>,
    pub num_outputs: usize,
    pub num_outputs_non_aliased: usize,
    pub num_outputs_aliased_to_inputs: usize,
    pub num_outputs_aliased_to_intermediates: usize,
    pub num_outputs_aliased: usize,
    pub num_unsafe_view_outputs: usize,
    pub dynamic_outputs: bool,
    pub output_types: Vec<&'static str>,
    pub is_rng_op_functionalized: bool,
    pub num_outputs_rng_offset: usize,
    pub num_forward_returns: usize,
    pub num_forward: usize,
}

impl ViewAndMutationMeta {
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
