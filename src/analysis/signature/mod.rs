//! Export graph signatures (semantics §3.10): what every input and output of
//! the functional graph `aot_export_module` builds is, for the inference and
//! the joint flavour, and torch.export's serialized form of the same facts.
//!
//! The exported graph itself is not in the dump, so `FunctionalGraph`
//! models what the signature reads of it: placeholders named `arg{i}_1` in
//! PyTorch's order (tokens, parameters, buffers, user inputs), and outputs
//! (tokens, updated inputs, user outputs, gradients) named after the dump's
//! nodes. Output names are aotio's own; only their positions are PyTorch's.
//! Two outputs that are one FX node in PyTorch's graph (an updated input that
//! is also returned) share one name here too: a `GraphSignature`'s maps are
//! keyed by name, so PyTorch's collapse exactly then and so must ours.
//!
//! `create_graph_signature` then reads those names as PyTorch's does,
//! quirks included (§5 items 19 and 20).
//!
//! This file holds the result types and the export driver ([`export`]: PyTorch's checks
//! in PyTorch's order); `dump` reads the dump into an [`ExportGraph`], `functional` builds
//! the functional graph, `graph_signature` names its inputs and outputs, and
//! `torch_export` writes the serialized specs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::autograd::RecordedAutograd;
use super::error::AnalysisError;
use super::error::{ExceptionType, TorchError};
use super::facts::ValueFacts;
use super::meta::{InputAliasInfo, MutationType, OutputAliasInfo, Tangent};
use super::trace::{AliasTrace, Links, OutputSlot, Ref};
use crate::ir::pytree::{SpecError, TreeSpec};
use crate::ir::{Arg, Diagnostic, InputKind, NodeOp, NodeStructure, Value, F64};
use crate::schema::is_python_callable;

pub use crate::ir::Flavour;

impl Flavour {
    /// The `stage` the conformance data gives refusals of this flavour.
    pub fn stage(self) -> &'static str {
        match self {
            Flavour::Inference => "aot_export_module[inference]",
            Flavour::Joint => "aot_export_module[joint]",
        }
    }
}

/// `aot_export_module` refusing a flavour: any error on its way, from
/// metadata collection to the signature's own assertions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportError {
    /// The flavour refused.
    pub flavour: Flavour,
    /// The exception PyTorch raises.
    pub kind: ExceptionType,
    /// PyTorch's message.
    pub message: String,
}

impl ExportError {
    fn new(flavour: Flavour, kind: ExceptionType, message: impl Into<String>) -> Self {
        ExportError {
            flavour,
            kind,
            message: message.into(),
        }
    }

    /// An error of an analysis export runs, reported at the export's stage.
    fn during(flavour: Flavour, e: &TorchError) -> Self {
        ExportError::new(flavour, e.kind, e.message.clone())
    }
}

impl Serialize for ExportError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("stage", self.flavour.stage())?;
        map.serialize_entry("type", &self.kind)?;
        map.serialize_entry("message", &self.message)?;
        map.end()
    }
}

/// A Python constant passed in or returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Constant {
    /// `None`.
    None,
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(F64),
    /// A `bool`.
    Bool(bool),
    /// A `str`.
    Str(String),
    /// A value torch.export has no constant form for (a dtype, a list...), as text.
    Other(String),
}

/// What a graph input or output carries, as torch.export distinguishes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// A tensor.
    Tensor,
    /// A `SymInt`.
    SymInt,
    /// A `SymFloat`.
    SymFloat,
    /// A `SymBool`.
    SymBool,
    /// A constant, baked into the graph.
    Constant(Constant),
}

impl ArgKind {
    /// What export sees of `value`.
    pub fn of(value: &Value) -> ArgKind {
        match value {
            Value::Tensor(_) => ArgKind::Tensor,
            Value::SymInt(_) => ArgKind::SymInt,
            Value::SymFloat(_) => ArgKind::SymFloat,
            Value::SymBool(_) => ArgKind::SymBool,
            Value::None => ArgKind::Constant(Constant::None),
            Value::Int(v) => ArgKind::Constant(Constant::Int(*v)),
            Value::Float(v) => ArgKind::Constant(Constant::Float(*v)),
            Value::Bool(v) => ArgKind::Constant(Constant::Bool(*v)),
            Value::Str(v) => ArgKind::Constant(Constant::Str(v.clone())),
            Value::List(_) => ArgKind::Constant(Constant::Other("list".to_owned())),
        }
    }
}

/// One placeholder of the dump, with what export reads of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportInput {
    /// The dump's name, for messages and output-name hints.
    pub name: Arc<str>,
    /// Parameter, buffer, user input or token.
    pub kind: InputKind,
    /// A parameter's or buffer's module path.
    pub fqn: Option<String>,
    /// What export sees of the value.
    pub arg: ArgKind,
    /// Autograd facts of the object passed in.
    pub requires_grad: bool,
    /// The input is an autograd leaf.
    pub is_leaf: bool,
    /// Object identity and real storage, for tensors.
    pub tensor_id: Option<u64>,
    /// The tensor's real storage.
    pub storage: Option<u64>,
    /// The input went through `resize_`.
    pub resized: bool,
    /// The dump node that last wrote the input: the hint for its updated value's name.
    pub update_hint: Option<Arc<str>>,
}

/// What one element of the user function's result is in the functional graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OutputValue {
    /// Placeholder `i` itself (after its update, if it is updated).
    Input(usize),
    /// A tensor computed by the graph: `object` is its identity (one object,
    /// one FX node), `hint` the dump node that holds its final value.
    Tensor {
        /// The tensor object.
        object: usize,
        /// The dump node holding its final value.
        hint: Arc<str>,
    },
    /// A symbolic scalar computed by dump node `node`.
    Symbolic {
        /// The computing node (graph position).
        node: usize,
        /// Its name in the dump.
        hint: Arc<str>,
        /// `SymInt`, `SymFloat` or `SymBool`.
        kind: ArgKind,
    },
    /// A constant: a graph output without a node, hence without a name.
    Constant(Constant),
}

/// One output of the function, as export reads it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportOutput {
    /// What the output is.
    pub value: OutputValue,
    /// A floating-point tensor: the joint loss sums such outputs when they require grad.
    pub floating: bool,
    /// A custom operator whose grad-requiring result the output is computed
    /// from: the joint graph's backward runs through it. Version 1 dumps
    /// cannot say whether a formula was registered (`register_autograd`); a
    /// `torch.library.custom_op` has none unless one was, so none is assumed.
    pub custom_op: Option<Arc<str>>,
}

/// Everything of a graph the export signatures read, besides its metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportGraph {
    /// Every placeholder, in dump order (parameters, buffers, user inputs; tokens anywhere).
    pub inputs: Vec<ExportInput>,
    /// Every output, in order.
    pub outputs: Vec<ExportOutput>,
    /// `(args, kwargs)` of every flat input, parameters and buffers first
    /// ([`export_specs`]), and the user function's result.
    pub in_spec: TreeSpec,
    /// The user function's result spec.
    pub out_spec: TreeSpec,
}

/// The part of the collected `ViewAndMutationMeta` export depends on (for
/// every placeholder, tokens included, as the dump lists them).
#[derive(Clone, Copy, Debug)]
pub struct Collected<'a> {
    /// `ViewAndMutationMeta.input_info`.
    pub input_info: &'a [InputAliasInfo],
    /// `ViewAndMutationMeta.output_info`.
    pub output_info: &'a [OutputAliasInfo],
    /// `ViewAndMutationMeta.traced_tangents`.
    pub traced_tangents: &'a [Tangent],
    /// `ViewAndMutationMeta.grad_enabled_mutation`.
    pub grad_enabled_mutation: Option<bool>,
}

/// The outcome of one flavour.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Export {
    /// PyTorch refuses this flavour.
    Refused(ExportError),
    /// The exported graph's signature.
    Exported(Box<ExportedGraph>),
}

/// The flavours the dump asked for (`config.export`), in order. Serialized
/// as the conformance data's `graph_signature`: one key per flavour.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Signatures(pub Vec<(Flavour, Export)>);

impl Signatures {
    /// The flavour's outcome, if it was asked for.
    pub fn get(&self, flavour: Flavour) -> Option<&Export> {
        self.0.iter().find(|(f, _)| *f == flavour).map(|(_, e)| e)
    }
}

impl Serialize for Signatures {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Refusal<'a> {
            error: &'a ExportError,
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (flavour, export) in &self.0 {
            match export {
                Export::Refused(error) => {
                    map.serialize_entry(flavour.as_str(), &Refusal { error })?
                }
                Export::Exported(graph) => map.serialize_entry(flavour.as_str(), graph)?,
            }
        }
        map.end()
    }
}

/// A Python `dict` built by insertion: keeps first-insertion order, and a
/// repeated key overwrites the value in place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PyDict<V>(pub Vec<(String, V)>);

impl<V> Default for PyDict<V> {
    fn default() -> Self {
        PyDict(Vec::new())
    }
}

impl<V> PyDict<V> {
    fn insert(&mut self, key: String, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V: Serialize> Serialize for PyDict<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// PyTorch's `BackwardSignature` (semantics §2.13).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct BackwardSignature {
    /// PyTorch's `BackwardSignature.gradients_to_parameters`.
    pub gradients_to_parameters: PyDict<String>,
    /// PyTorch's `BackwardSignature.gradients_to_user_inputs`.
    pub gradients_to_user_inputs: PyDict<String>,
    /// `graph_output_names[loss_index]`, not shifted past tokens and updated
    /// inputs (§5 item 19): with a mutated buffer it names the buffer update.
    pub loss_output: Option<String>,
}

/// PyTorch's `GraphSignature` (semantics §2.13), with the graph's input and
/// output names beside it so every name can be read as a position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GraphSignature {
    /// PyTorch's `GraphSignature.parameters`.
    pub parameters: Vec<String>,
    /// PyTorch's `GraphSignature.buffers`.
    pub buffers: Vec<String>,
    /// PyTorch's `GraphSignature.user_inputs`.
    pub user_inputs: Vec<String>,
    /// `None` for an output that is no graph node (a constant).
    pub user_outputs: Vec<Option<String>>,
    /// PyTorch's `GraphSignature.inputs_to_parameters`.
    pub inputs_to_parameters: PyDict<String>,
    /// PyTorch's `GraphSignature.inputs_to_buffers`.
    pub inputs_to_buffers: PyDict<String>,
    /// PyTorch's `GraphSignature.buffers_to_mutate`.
    pub buffers_to_mutate: PyDict<String>,
    /// PyTorch's `GraphSignature.parameters_to_mutate`.
    pub parameters_to_mutate: PyDict<String>,
    /// PyTorch's `GraphSignature.user_inputs_to_mutate`.
    pub user_inputs_to_mutate: PyDict<String>,
    /// PyTorch's `GraphSignature.in_spec`.
    pub in_spec: TreeSpec,
    /// PyTorch's `GraphSignature.out_spec`.
    pub out_spec: TreeSpec,
    /// PyTorch's `GraphSignature.backward_signature`.
    pub backward_signature: Option<BackwardSignature>,
    /// PyTorch's `GraphSignature.input_tokens`.
    pub input_tokens: Vec<String>,
    /// PyTorch's `GraphSignature.output_tokens`.
    pub output_tokens: Vec<Option<String>>,
    /// The exported graph's placeholder names, in order.
    pub graph_input_names: Vec<String>,
    /// The exported graph's output names, in order (`None` for a constant).
    pub graph_output_names: Vec<Option<String>>,
}

/// An exported flavour: PyTorch's signature, and what each graph position
/// is, which torch.export's serialized form needs and names cannot give
/// (they collide, and `loss_output` points elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportedGraph {
    /// PyTorch's `GraphSignature`.
    pub signature: GraphSignature,
    graph: FunctionalGraph,
}

impl Serialize for ExportedGraph {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Layout<'a> {
            #[serde(flatten)]
            signature: &'a GraphSignature,
            torch_export: ExportSpecs,
        }
        Layout {
            signature: &self.signature,
            torch_export: self.torch_export(),
        }
        .serialize(s)
    }
}

/// The graph `aot_export_module` traces, as far as its signature sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FunctionalGraph {
    input_names: Vec<String>,
    output_names: Vec<Option<String>>,
    /// What each graph input is, in graph order.
    inputs: Vec<InputRole>,
    output_args: Vec<ArgKind>,
    num_tokens: usize,
    /// Graph input positions of the updated-input outputs, in order.
    mutated: Vec<usize>,
    /// Graph input positions of the gradient outputs, in order.
    gradients: Vec<usize>,
    num_user_outputs: usize,
    /// The joint loss's position among the user outputs.
    loss: Option<usize>,
}

/// A flavour refused by an analysis export runs, at the export's stage.
pub fn refused(flavour: Flavour, e: &TorchError) -> Export {
    Export::Refused(ExportError::during(flavour, e))
}

/// Whether `merge_view_inputs` builds a synthetic base for these input
/// infos, or its refusal: it reads tensors this module does not see, so the
/// query layer answers.
pub trait SyntheticBaseCheck {
    /// Whether merging builds a synthetic base for inputs with these infos, or PyTorch's refusal.
    fn synthetic_base_needed(
        &self,
        input_info: &[InputAliasInfo],
        is_inference: bool,
    ) -> Result<bool, TorchError>;
}

/// One flavour of `aot_export_module`, in PyTorch's order (semantics §3.4,
/// §3.10): metadata collection in the flavour's grad mode (`collected`, or
/// its refusal), the loss check of the joint wrapper, the export bans, the
/// training-or-inference decision, dedupe and synthetic bases (both banned
/// for mutated inputs), tracing, the signature. `synthetic_base` answers
/// whether `merge_view_inputs` would build a synthetic base.
pub fn export(
    graph: &ExportGraph,
    flavour: Flavour,
    collected: Result<Collected<'_>, &TorchError>,
    synthetic_base: &dyn SyntheticBaseCheck,
) -> Export {
    match export_checked(graph, flavour, collected, synthetic_base) {
        Ok(graph) => Export::Exported(Box::new(graph)),
        Err(e) => Export::Refused(e),
    }
}

fn export_checked(
    graph: &ExportGraph,
    flavour: Flavour,
    collected: Result<Collected<'_>, &TorchError>,
    synthetic_base: &dyn SyntheticBaseCheck,
) -> Result<ExportedGraph, ExportError> {
    let during = |e: &TorchError| ExportError::during(flavour, e);
    let collected = collected.map_err(during)?;
    let refuse = |kind: ExceptionType, message: String| ExportError::new(flavour, kind, message);
    let requires_grad = |k: usize| {
        collected
            .output_info
            .get(k)
            .is_some_and(|o| o.requires_grad)
    };
    // The joint wrapper sums the grad-requiring floating outputs into the loss.
    let in_loss: Vec<usize> = (0..graph.outputs.len())
        .filter(|&k| graph.outputs.get(k).is_some_and(|o| o.floating) && requires_grad(k))
        .collect();
    if flavour == Flavour::Joint && in_loss.is_empty() {
        return Err(refuse(
            ExceptionType::RuntimeError,
            "The output at index 0 was marked as the loss, but it does not require gradients"
                .to_owned(),
        ));
    }
    let flat: Vec<usize> = (0..graph.inputs.len())
        .filter(|&p| {
            graph
                .inputs
                .get(p)
                .is_some_and(|i| i.kind != InputKind::Token)
        })
        .collect();
    let collected_info: Vec<&InputAliasInfo> = flat
        .iter()
        .filter_map(|&p| collected.input_info.get(p))
        .collect();
    let info = export_input_info(&collected_info).map_err(|e| during(&e))?;
    let names: Vec<&str> = flat
        .iter()
        .map(|&p| graph.inputs.get(p).map_or("?", |i| &*i.name))
        .collect();
    check_bans(&info, &names, flavour)?;

    let any_input_requires_grad = graph
        .inputs
        .iter()
        .any(|i| i.requires_grad && i.arg == ArgKind::Tensor);
    let needs_autograd = super::collect::needs_autograd(
        any_input_requires_grad,
        collected.input_info,
        collected.output_info,
    );
    check_duplicates(graph, collected.input_info, flavour)?;
    if synthetic_base
        .synthetic_base_needed(collected.input_info, !needs_autograd)
        .map_err(|e| during(&e))?
    {
        return Err(refuse(
            ExceptionType::RuntimeError,
            "Encountered aliased inputs that are mutated in the graph you are trying to export. \
             This functionality is currently not supported. If needed, please file a github issue."
                .to_owned(),
        ));
    }
    match flavour {
        // Tracing the joint graph runs the backward of the loss.
        Flavour::Joint => {
            let custom = in_loss
                .iter()
                .find_map(|&k| graph.outputs.get(k)?.custom_op.clone());
            if let Some(op) = custom {
                return Err(refuse(
                    ExceptionType::RuntimeError,
                    format!(
                        "Trying to backward through {op} but no autograd formula was registered. \
                         Please use register_autograd to add one."
                    ),
                ));
            }
        }
        // Under `no_grad` only an output made under `enable_grad` inside the
        // function still needs autograd; export then traces a joint graph
        // without tangents, which takes exactly one scalar loss.
        Flavour::Inference if needs_autograd && !single_scalar(collected.traced_tangents) => {
            return Err(refuse(
                ExceptionType::AssertionError,
                format!(
                    "expected single scalar tangent for no_tangents mode, got {} tangents",
                    collected.traced_tangents.len()
                ),
            ));
        }
        Flavour::Inference => {}
    }
    let fgraph = functional_graph(graph, &flat, &info, flavour);
    let signature = create_graph_signature(graph, &flat, &info, &fgraph, flavour)?;
    Ok(ExportedGraph {
        signature,
        graph: fgraph,
    })
}

/// Exactly one tangent, of one element. (PyTorch then exports the joint
/// graph it traced, tangent input included, as if it were an inference
/// graph; aotio does not model that graph.)
fn single_scalar(tangents: &[Tangent]) -> bool {
    match tangents {
        [t] => t.spec.shape.iter().all(|d| d.as_int() == Some(1)),
        _ => false,
    }
}

/// `AOTDedupeWrapper` on the export path: an input passed twice must not be mutated.
fn check_duplicates(
    graph: &ExportGraph,
    input_info: &[InputAliasInfo],
    flavour: Flavour,
) -> Result<(), ExportError> {
    let mut first_seen: HashMap<u64, usize> = HashMap::new();
    for (p, input) in graph.inputs.iter().enumerate() {
        let Some(id) = input.tensor_id else { continue };
        let Some(&first) = first_seen.get(&id) else {
            first_seen.insert(id, p);
            continue;
        };
        let mutated = input_info
            .get(p)
            .is_some_and(|i| i.mutates_data || i.mutates_metadata);
        if mutated {
            let twin = graph.inputs.get(first).map_or("?", |i| &*i.name);
            return Err(ExportError::new(
                flavour,
                ExceptionType::RuntimeError,
                format!(
                    "Encountered duplicated inputs that are mutated in the graph you are trying to \
                     export. This functionality is currently not supported. If needed, please file \
                     a github issue. (input `{}` is input `{twin}` again)",
                    input.name
                ),
            ));
        }
    }
    Ok(())
}

/// Export collects metadata with `keep_input_mutations` off; no flag but
/// `mutation_type` depends on it, so the collected flags are re-derived.
fn export_input_info(collected: &[&InputAliasInfo]) -> Result<Vec<InputAliasInfo>, TorchError> {
    collected
        .iter()
        .enumerate()
        .map(|(p, &info)| {
            let mut info = InputAliasInfo {
                keep_input_mutations: false,
                ..info.clone()
            };
            info.mutation_type = info.derive_mutation_type().map_err(|e| e.at_input(p))?;
            Ok(info)
        })
        .collect()
}

/// `create_aot_state`'s export checks (semantics §3.4 step 4).
fn check_bans(
    info: &[InputAliasInfo],
    names: &[&str],
    flavour: Flavour,
) -> Result<(), ExportError> {
    const FILE_AN_ISSUE: &str = "This is currently banned in the aot_export workflow. If you need \
                                 this functionality, please file a github issue.";
    let name = |i: usize| names.get(i).copied().unwrap_or("?");
    if let Some(i) = info.iter().position(|i| i.mutates_metadata) {
        return Err(ExportError::new(
            flavour,
            ExceptionType::RuntimeError,
            format!(
                "Found an input that received a metadata mutation, through e.g. a call to \
                 `.resize_()` or `.transpose_()`.\n{FILE_AN_ISSUE}\n\n(input {i}, `{}`)",
                name(i)
            ),
        ));
    }
    if flavour == Flavour::Joint {
        if let Some(i) = info.iter().position(|i| i.requires_grad && i.mutates_data) {
            return Err(ExportError::new(
                flavour,
                ExceptionType::RuntimeError,
                format!(
                    "Found a graph input that requires gradients, and received a mutation.\n\
                     {FILE_AN_ISSUE}\n\n(input {i}, `{}`)",
                    name(i)
                ),
            ));
        }
    }
    Ok(())
}

mod dump;
mod functional;
mod graph_signature;
#[cfg(test)]
mod tests;
mod torch_export;

pub use dump::{custom_ops_upstream, export_graph, export_specs, Call, DumpNodes};
use functional::*;
use graph_signature::*;
pub use torch_export::{
    Argument, ConstantValue, ExportSpecs, FloatValue, InputSpec, OutputSpec, SymArgument,
    TensorArgument,
};
