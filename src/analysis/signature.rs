//! Export graph signatures (semantics §3.10): what every input and output of
//! the functional graph `aot_export_module` builds is, for the inference and
//! the joint flavour, and torch.export's serialized form of the same facts.
//!
//! The exported graph itself is not in the dump, so [`FunctionalGraph`]
//! models what the signature reads of it: placeholders named `arg{i}_1` in
//! PyTorch's order (tokens, parameters, buffers, user inputs), and outputs
//! (tokens, updated inputs, user outputs, gradients) named after the dump's
//! nodes. Output names are aotio's own; only their positions are PyTorch's.
//! Two outputs that are one FX node in PyTorch's graph (an updated input that
//! is also returned) share one name here too: a `GraphSignature`'s maps are
//! keyed by name, so PyTorch's collapse exactly then and so must ours.
//!
//! [`create_graph_signature`] then reads those names as PyTorch's does,
//! quirks included (§5 items 19 and 20).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::autograd::RecordedAutograd;
use super::error::AnalysisError;
use super::error::{ExceptionType, TorchError};
use super::facts::ValueFacts;
use super::meta::{InputAliasInfo, MutationType, OutputAliasInfo, Tangent};
use super::pytree::{SpecError, TreeSpec};
use super::trace::{AliasTrace, OutputSlot};
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
    pub flavour: Flavour,
    pub kind: ExceptionType,
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
    None,
    Int(i64),
    Float(F64),
    Bool(bool),
    Str(String),
    /// A value torch.export has no constant form for (a dtype, a list...), as text.
    Other(String),
}

/// What a graph input or output carries, as torch.export distinguishes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    Tensor,
    SymInt,
    SymFloat,
    SymBool,
    Constant(Constant),
}

impl ArgKind {
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
    pub kind: InputKind,
    pub fqn: Option<String>,
    pub arg: ArgKind,
    /// Autograd facts of the object passed in.
    pub requires_grad: bool,
    pub is_leaf: bool,
    /// Object identity and real storage, for tensors.
    pub tensor_id: Option<u64>,
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
    Tensor { object: usize, hint: Arc<str> },
    /// A symbolic scalar computed by dump node `node`.
    Symbolic {
        node: usize,
        hint: Arc<str>,
        kind: ArgKind,
    },
    /// A constant: a graph output without a node, hence without a name.
    Constant(Constant),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportOutput {
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
    pub outputs: Vec<ExportOutput>,
    /// `(args, kwargs)` of every flat input, parameters and buffers first
    /// ([`export_specs`]), and the user function's result.
    pub in_spec: TreeSpec,
    pub out_spec: TreeSpec,
}

/// The part of the collected `ViewAndMutationMeta` export depends on (for
/// every placeholder, tokens included, as the dump lists them).
#[derive(Clone, Copy, Debug)]
pub struct Collected<'a> {
    pub input_info: &'a [InputAliasInfo],
    pub output_info: &'a [OutputAliasInfo],
    pub traced_tangents: &'a [Tangent],
    pub grad_enabled_mutation: Option<bool>,
}

/// The export's specs from a dump's, checked against the graph. `in_spec`
/// must rebuild `(args, kwargs)` from the user inputs, and gains a leading
/// leaf per parameter and buffer (`aot_export_module` flattens `(params ⊕
/// buffers ⊕ args, kwargs)`); `out_spec` must rebuild the result from the
/// outputs. A dump without specs gets flat ones: positional user inputs, a
/// tuple of outputs.
pub fn export_specs(
    in_spec: Option<&serde_json::Value>,
    out_spec: Option<&serde_json::Value>,
    num_params_buffers: usize,
    num_user_inputs: usize,
    num_outputs: usize,
) -> Result<(TreeSpec, TreeSpec), SpecError> {
    let check = |spec: TreeSpec, name: &str, expected: usize, what: &str| {
        let leaves = spec.num_leaves();
        if leaves == expected {
            Ok(spec)
        } else {
            Err(SpecError {
                path: name.to_owned(),
                message: format!(
                    "rebuilds from {leaves} values, but the graph has {expected} {what}"
                ),
            })
        }
    };
    let in_spec = match in_spec {
        Some(json) => TreeSpec::from_json(json, "in_spec")?,
        None => TreeSpec::tuple(vec![
            TreeSpec::tuple(vec![TreeSpec::Leaf; num_user_inputs]),
            TreeSpec::empty_dict(),
        ]),
    };
    let in_spec = check(in_spec, "in_spec", num_user_inputs, "user inputs")?
        .with_leading_args(num_params_buffers)?;
    let out_spec = match out_spec {
        Some(json) => TreeSpec::from_json(json, "out_spec")?,
        None => TreeSpec::tuple(vec![TreeSpec::Leaf; num_outputs]),
    };
    let out_spec = check(out_spec, "out_spec", num_outputs, "outputs")?;
    Ok((in_spec, out_spec))
}

/// The outcome of one flavour.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Export {
    Refused(ExportError),
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

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

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
    pub gradients_to_parameters: PyDict<String>,
    pub gradients_to_user_inputs: PyDict<String>,
    /// `graph_output_names[loss_index]`, not shifted past tokens and updated
    /// inputs (§5 item 19): with a mutated buffer it names the buffer update.
    pub loss_output: Option<String>,
}

/// PyTorch's `GraphSignature` (semantics §2.13), with the graph's input and
/// output names beside it so every name can be read as a position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GraphSignature {
    pub parameters: Vec<String>,
    pub buffers: Vec<String>,
    pub user_inputs: Vec<String>,
    /// `None` for an output that is no graph node (a constant).
    pub user_outputs: Vec<Option<String>>,
    pub inputs_to_parameters: PyDict<String>,
    pub inputs_to_buffers: PyDict<String>,
    pub buffers_to_mutate: PyDict<String>,
    pub parameters_to_mutate: PyDict<String>,
    pub user_inputs_to_mutate: PyDict<String>,
    pub in_spec: TreeSpec,
    pub out_spec: TreeSpec,
    pub backward_signature: Option<BackwardSignature>,
    pub input_tokens: Vec<String>,
    pub output_tokens: Vec<Option<String>>,
    pub graph_input_names: Vec<String>,
    pub graph_output_names: Vec<Option<String>>,
}

/// An exported flavour: PyTorch's signature, and what each graph position
/// is, which torch.export's serialized form needs and names cannot give
/// (they collide, and `loss_output` points elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportedGraph {
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

/// Per node: the custom operator (one neither from `aten` nor a Python
/// callable) whose grad-requiring result the node's value is computed from,
/// through arguments (an in-place write makes the written object's later
/// uses depend on what was written). A node's recorded autograd facts are `None` for a
/// node whose value is not a single tensor (a list picked by `getitem`).
pub fn custom_ops_upstream(
    nodes: &[&NodeStructure],
    recorded: &dyn RecordedAutograd,
) -> Vec<Option<Arc<str>>> {
    let requires_grad = |i: usize| recorded.recorded_autograd(i).map(|a| a.requires_grad);
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (&*n.name, i))
        .collect();
    let mut out: Vec<Option<Arc<str>>> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let mut found = None;
        if node.op == NodeOp::CallFunction && requires_grad(i) != Some(false) {
            let custom = !is_python_callable(&node.target) && !node.target.starts_with("aten.");
            if custom {
                found = Some(node.target.clone());
            } else {
                let mut stack: Vec<&Arg> = node
                    .args
                    .iter()
                    .chain(node.kwargs.iter().map(|(_, a)| a))
                    .collect();
                while let Some(arg) = stack.pop() {
                    match arg {
                        Arg::Node(name) => {
                            let upstream = index
                                .get(&**name)
                                .filter(|&&j| j < i)
                                .and_then(|&j| out.get(j).cloned().flatten());
                            if upstream.is_some() {
                                found = upstream;
                                break;
                            }
                        }
                        Arg::List(items) => stack.extend(items.iter()),
                        _ => {}
                    }
                }
            }
        }
        out.push(found);
    }
    out
}

/// Export collects metadata with `keep_input_mutations` off; no flag but
/// `mutation_type` depends on it, so the collected flags are re-derived.
fn export_input_info(collected: &[&InputAliasInfo]) -> Result<Vec<InputAliasInfo>, TorchError> {
    collected
        .iter()
        .map(|&info| {
            let mut info = InputAliasInfo {
                keep_input_mutations: false,
                ..info.clone()
            };
            info.mutation_type = info.derive_mutation_type()?;
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

/// A graph input: its kind, its FQN (parameters and buffers), what it
/// carries, and the dump's name for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InputRole {
    kind: InputKind,
    fqn: Option<String>,
    arg: ArgKind,
    dump_name: Arc<str>,
}

/// Which value an output of the functional graph is: equal ids are one FX node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ValueId {
    Token(usize),
    Updated(usize),
    Tensor(usize),
    Symbolic(usize),
    Loss,
    Gradient(usize),
}

/// FX-style unique names: a hint as it is while free, else with `_1`, `_2`...
#[derive(Default)]
struct Names {
    used: HashSet<String>,
    given: HashMap<ValueId, String>,
}

impl Names {
    fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }

    fn of(&mut self, id: ValueId, hint: &str) -> String {
        if let Some(name) = self.given.get(&id) {
            return name.clone();
        }
        // Among `used.len() + 1` candidates one is free.
        let name = std::iter::once(hint.to_owned())
            .chain((1..=self.used.len()).map(|k| format!("{hint}_{k}")))
            .find(|c| !self.used.contains(c))
            .unwrap_or_else(|| format!("{hint}_{}", self.used.len().saturating_add(1)));
        self.used.insert(name.clone());
        self.given.insert(id, name.clone());
        name
    }
}

/// The calling convention of the exported graph: inputs `tokens ⊕ params ⊕
/// buffers ⊕ user inputs`, outputs `tokens ⊕ updated inputs ⊕ user outputs ⊕
/// gradients` (the joint flavour's only user output is the loss).
fn functional_graph(
    graph: &ExportGraph,
    flat: &[usize],
    info: &[InputAliasInfo],
    flavour: Flavour,
) -> FunctionalGraph {
    let tokens: Vec<usize> = (0..graph.inputs.len())
        .filter(|p| !flat.contains(p))
        .collect();
    let order: Vec<usize> = tokens.iter().chain(flat).copied().collect();
    let input_names: Vec<String> = (0..order.len()).map(|q| format!("arg{q}_1")).collect();
    let inputs: Vec<InputRole> = order
        .iter()
        .filter_map(|&p| graph.inputs.get(p))
        .map(|i| InputRole {
            kind: i.kind,
            fqn: i.fqn.clone(),
            arg: i.arg.clone(),
            dump_name: i.name.clone(),
        })
        .collect();
    let num_tokens = tokens.len();
    // Index into `input_info` (tokens excluded) → graph input position.
    let position = |j: usize| j.saturating_add(num_tokens);
    // Placeholder index → position in `flat` (input_info's index space).
    let flat_index: HashMap<usize, usize> = flat.iter().enumerate().map(|(j, &p)| (p, j)).collect();
    let graph_name = |p: usize| -> Option<String> {
        order
            .iter()
            .position(|&x| x == p)
            .and_then(|q| input_names.get(q).cloned())
    };
    let dump_name = |p: usize| -> &str { graph.inputs.get(p).map_or("input", |i| &i.name) };

    let mut names = Names::default();
    for n in &input_names {
        names.reserve(n);
    }
    let mut output_names = Vec::new();
    let mut output_args = Vec::new();

    for k in 0..tokens.len() {
        output_names.push(Some(names.of(ValueId::Token(k), "token")));
        output_args.push(ArgKind::Tensor);
    }
    let mutated: Vec<usize> = info
        .iter()
        .enumerate()
        .filter(|(_, i)| i.mutation_type == MutationType::MutatedOutGraph)
        .map(|(j, _)| j)
        .collect();
    let updated_name = |names: &mut Names, p: usize| {
        let hint = graph
            .inputs
            .get(p)
            .and_then(|i| i.update_hint.clone())
            .unwrap_or_else(|| Arc::from(dump_name(p)));
        names.of(ValueId::Updated(p), &hint)
    };
    for &j in &mutated {
        let p = flat.get(j).copied().unwrap_or(j);
        output_names.push(Some(updated_name(&mut names, p)));
        output_args.push(ArgKind::Tensor);
    }

    let (num_user_outputs, loss, gradients) = match flavour {
        Flavour::Inference => {
            for out in &graph.outputs {
                let (name, arg) = match &out.value {
                    OutputValue::Input(p) => {
                        let is_updated = flat_index.get(p).is_some_and(|j| mutated.contains(j));
                        let arg = graph
                            .inputs
                            .get(*p)
                            .map_or(ArgKind::Tensor, |i| i.arg.clone());
                        let name = if is_updated {
                            Some(updated_name(&mut names, *p))
                        } else {
                            graph_name(*p)
                        };
                        (name, arg)
                    }
                    OutputValue::Tensor { object, hint } => (
                        Some(names.of(ValueId::Tensor(*object), hint)),
                        ArgKind::Tensor,
                    ),
                    OutputValue::Symbolic { node, hint, kind } => {
                        (Some(names.of(ValueId::Symbolic(*node), hint)), kind.clone())
                    }
                    OutputValue::Constant(c) => (None, ArgKind::Constant(c.clone())),
                };
                output_names.push(name);
                output_args.push(arg);
            }
            (graph.outputs.len(), None, Vec::new())
        }
        Flavour::Joint => {
            output_names.push(Some(names.of(ValueId::Loss, "loss")));
            output_args.push(ArgKind::Tensor);
            // `flattened_joint` returns a gradient for every grad-requiring
            // argument, parameters and buffers first (they come first).
            let gradients: Vec<usize> = flat
                .iter()
                .enumerate()
                .filter(|(_, &p)| {
                    graph
                        .inputs
                        .get(p)
                        .is_some_and(|i| i.requires_grad && i.arg == ArgKind::Tensor)
                })
                .map(|(j, _)| j)
                .collect();
            for &j in &gradients {
                let p = flat.get(j).copied().unwrap_or(j);
                let hint = format!("{}_grad", dump_name(p));
                output_names.push(Some(names.of(ValueId::Gradient(p), &hint)));
                output_args.push(ArgKind::Tensor);
            }
            (1, Some(0), gradients)
        }
    };
    FunctionalGraph {
        input_names,
        output_names,
        inputs,
        output_args,
        num_tokens,
        mutated: mutated.into_iter().map(position).collect(),
        gradients: gradients.into_iter().map(position).collect(),
        num_user_outputs,
        loss,
    }
}

/// Python's `seq[start:stop]`: out-of-range bounds are clamped.
fn py_slice<T>(seq: &[T], start: usize, stop: usize) -> &[T] {
    let stop = stop.min(seq.len());
    seq.get(start.min(stop)..stop).unwrap_or(&[])
}

/// A dict key from an output name; Python's `json.dumps` writes a `None` key as `"null"`.
fn key(name: Option<&String>) -> String {
    name.cloned().unwrap_or_else(|| "null".to_owned())
}

/// `create_graph_signature` and `GraphSignature.from_tracing_metadata`
/// (semantics §3.10.2–3), on the names of the traced graph.
fn create_graph_signature(
    graph: &ExportGraph,
    flat: &[usize],
    info: &[InputAliasInfo],
    fgraph: &FunctionalGraph,
    flavour: Flavour,
) -> Result<GraphSignature, ExportError> {
    let assertion = |what: &str| ExportError::new(flavour, ExceptionType::AssertionError, what);
    let index_error = || {
        ExportError::new(
            flavour,
            ExceptionType::IndexError,
            "list index out of range",
        )
    };
    let overflow = || assertion("count overflow");

    let inputs: Vec<&ExportInput> = flat.iter().filter_map(|&p| graph.inputs.get(p)).collect();
    let names_of = |kind: InputKind| -> Vec<String> {
        inputs
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.fqn.clone().unwrap_or_else(|| i.name.to_string()))
            .collect()
    };
    let parameters = names_of(InputKind::Parameter);
    let buffers = names_of(InputKind::Buffer);
    let params_and_buffers: Vec<&ExportInput> = inputs
        .iter()
        .copied()
        .filter(|i| matches!(i.kind, InputKind::Parameter | InputKind::Buffer))
        .collect();
    let user_args: Vec<&ExportInput> = inputs
        .iter()
        .copied()
        .filter(|i| i.kind == InputKind::UserInput)
        .collect();

    let graph_inputs = &fgraph.input_names;
    let graph_outputs = &fgraph.output_names;
    let num_tokens = graph.inputs.len().saturating_sub(flat.len());
    let num_mutated = info
        .iter()
        .filter(|i| i.mutation_type == MutationType::MutatedOutGraph)
        .count();

    // create_graph_signature
    let num_params_buffers = parameters
        .len()
        .checked_add(buffers.len())
        .ok_or_else(overflow)?;
    let num_user_args = graph_inputs
        .len()
        .checked_sub(num_params_buffers)
        .and_then(|n| n.checked_sub(num_tokens))
        .ok_or_else(|| assertion("more parameters, buffers and tokens than graph inputs"))?;
    let (backward_signature, num_user_outputs) = match flavour {
        Flavour::Joint => {
            let num_user_fw_outs = fgraph.num_user_outputs;
            let num_fw_outs = num_user_fw_outs
                .checked_add(num_mutated)
                .ok_or_else(overflow)?;
            let backward_outputs = py_slice(graph_outputs, num_fw_outs, graph_outputs.len());
            let mut grad_index = 0usize;
            let mut next_grad = || -> Result<String, ExportError> {
                let name = backward_outputs.get(grad_index).ok_or_else(index_error)?;
                grad_index = grad_index.checked_add(1).ok_or_else(overflow)?;
                Ok(key(name.as_ref()))
            };
            let mut gradients_to_parameters = PyDict::default();
            for (i, input) in params_and_buffers.iter().enumerate() {
                if input.requires_grad {
                    let grad = next_grad()?;
                    // `i` runs over parameters *and* buffers but indexes the
                    // parameter names (§5 item 19).
                    let name = parameters.get(i).ok_or_else(index_error)?;
                    gradients_to_parameters.insert(grad, name.clone());
                }
            }
            let mut gradients_to_user_inputs = PyDict::default();
            for (i, input) in user_args.iter().enumerate() {
                if input.requires_grad && input.arg == ArgKind::Tensor {
                    let grad = next_grad()?;
                    // Tokens are not skipped here (§5 item 19).
                    let position = i
                        .checked_add(params_and_buffers.len())
                        .ok_or_else(overflow)?;
                    let name = graph_inputs.get(position).ok_or_else(index_error)?;
                    gradients_to_user_inputs.insert(grad, name.clone());
                }
            }
            let num_gradients = gradients_to_parameters
                .len()
                .checked_add(gradients_to_user_inputs.len())
                .ok_or_else(overflow)?;
            if num_gradients != backward_outputs.len() {
                return Err(assertion("not every backward output is a gradient"));
            }
            let loss_index = fgraph.loss.ok_or_else(|| assertion("no loss index"))?;
            // Not shifted past tokens and updated inputs (§5 item 19).
            let loss_output = graph_outputs
                .get(loss_index)
                .ok_or_else(index_error)?
                .clone();
            let backward = BackwardSignature {
                gradients_to_parameters,
                gradients_to_user_inputs,
                loss_output,
            };
            (Some(backward), num_user_fw_outs)
        }
        Flavour::Inference => {
            let n = graph_outputs
                .len()
                .checked_sub(num_mutated)
                .and_then(|n| n.checked_sub(num_tokens))
                .ok_or_else(|| assertion("fewer graph outputs than updated inputs and tokens"))?;
            (None, n)
        }
    };

    // GraphSignature.from_tracing_metadata
    let mut stop = num_tokens;
    let input_tokens = py_slice(graph_inputs, 0, stop).to_vec();
    let mut take = |n: usize| -> Result<(usize, usize), ExportError> {
        let start = stop;
        stop = stop.checked_add(n).ok_or_else(overflow)?;
        Ok((start, stop))
    };
    let zip = |names: &[String], values: &[String]| {
        let mut dict = PyDict::default();
        for (k, v) in names.iter().zip(values) {
            dict.insert(k.clone(), v.clone());
        }
        dict
    };
    let (start, end) = take(parameters.len())?;
    let inputs_to_parameters = zip(py_slice(graph_inputs, start, end), &parameters);
    let (start, end) = take(buffers.len())?;
    let inputs_to_buffers = zip(py_slice(graph_inputs, start, end), &buffers);
    let (start, end) = take(num_user_args)?;
    let user_inputs = py_slice(graph_inputs, start, end).to_vec();
    if graph_inputs.len() != stop {
        return Err(assertion("the graph inputs are not all accounted for"));
    }

    let output_tokens = py_slice(graph_outputs, 0, num_tokens).to_vec();
    let names: Vec<&String> = input_tokens
        .iter()
        .chain(&parameters)
        .chain(&buffers)
        .chain(&user_inputs)
        .collect();
    let mut mutations = Vec::new();
    for (idx, input) in info.iter().enumerate() {
        if input.mutates_data {
            if flavour == Flavour::Joint && idx < parameters.len() {
                return Err(assertion("a parameter is mutated in a joint graph"));
            }
            let position = idx.checked_add(num_tokens).ok_or_else(overflow)?;
            mutations.push(*names.get(position).ok_or_else(index_error)?);
        }
    }
    if mutations.len() != num_mutated {
        return Err(assertion(
            "the data-mutated inputs are not the inputs mutated at runtime",
        ));
    }
    let mut stop = num_tokens;
    let start = stop;
    stop = stop.checked_add(num_mutated).ok_or_else(overflow)?;
    let mut outputs_to_mutations: PyDict<&String> = PyDict::default();
    for (output, mutation) in py_slice(graph_outputs, start, stop).iter().zip(&mutations) {
        outputs_to_mutations.insert(key(output.as_ref()), *mutation);
    }
    let mut user_inputs_to_mutate = PyDict::default();
    let mut buffers_to_mutate = PyDict::default();
    let mut parameters_to_mutate = PyDict::default();
    // Classified by name (§5 item 20): a parameter FQN equal to a user
    // input's graph name counts as the user input.
    for (output, &mutation) in outputs_to_mutations.iter() {
        if user_inputs.contains(mutation) {
            user_inputs_to_mutate.insert(output.to_owned(), mutation.clone());
        } else if buffers.contains(mutation) {
            buffers_to_mutate.insert(output.to_owned(), mutation.clone());
        } else if parameters.contains(mutation) {
            parameters_to_mutate.insert(output.to_owned(), mutation.clone());
        } else {
            return Err(assertion(
                "a mutated input is no user input, buffer or parameter",
            ));
        }
    }
    let start = stop;
    stop = stop.checked_add(num_user_outputs).ok_or_else(overflow)?;
    let user_outputs = py_slice(graph_outputs, start, stop).to_vec();
    let num_gradients = backward_signature.as_ref().map_or(0, |b| {
        b.gradients_to_parameters
            .len()
            .saturating_add(b.gradients_to_user_inputs.len())
    });
    if stop.checked_add(num_gradients) != Some(graph_outputs.len()) {
        return Err(assertion("the graph outputs are not all accounted for"));
    }

    let out_spec = match flavour {
        Flavour::Inference => graph.out_spec.clone().tuple_unless_sequence(),
        Flavour::Joint => TreeSpec::tuple(vec![TreeSpec::Leaf]),
    };
    Ok(GraphSignature {
        parameters,
        buffers,
        user_inputs,
        user_outputs,
        inputs_to_parameters,
        inputs_to_buffers,
        buffers_to_mutate,
        parameters_to_mutate,
        user_inputs_to_mutate,
        in_spec: graph.in_spec.clone(),
        out_spec,
        backward_signature,
        input_tokens,
        output_tokens,
        graph_input_names: graph_inputs.clone(),
        graph_output_names: graph_outputs.clone(),
    })
}

/// torch.export's serialized graph signature (`torch._export.serde.schema`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportSpecs {
    pub input_specs: Vec<InputSpec>,
    pub output_specs: Vec<OutputSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TensorArgument {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymArgument {
    AsName(String),
}

/// A float as JSON: a number when finite, else Python's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FloatValue(pub F64);

impl Serialize for FloatValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0.get();
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Argument {
    AsNone(bool),
    AsTensor(TensorArgument),
    AsInt(i64),
    AsFloat(FloatValue),
    AsString(String),
    AsBool(bool),
    AsSymInt(SymArgument),
    AsSymFloat(SymArgument),
    AsSymBool(SymArgument),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstantValue {
    AsNone(bool),
    AsInt(i64),
    AsFloat(FloatValue),
    AsString(String),
    AsBool(bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSpec {
    UserInput {
        arg: Argument,
    },
    Parameter {
        arg: TensorArgument,
        parameter_name: String,
    },
    Buffer {
        arg: TensorArgument,
        buffer_name: String,
        /// A dump does not say; registered buffers are persistent by default.
        persistent: bool,
    },
    Token {
        arg: TensorArgument,
    },
    /// A static Python scalar argument: a placeholder whose value is baked in.
    ConstantInput {
        name: String,
        value: ConstantValue,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpec {
    UserOutput {
        arg: Argument,
    },
    LossOutput {
        arg: TensorArgument,
    },
    BufferMutation {
        arg: TensorArgument,
        buffer_name: String,
    },
    ParameterMutation {
        arg: TensorArgument,
        parameter_name: String,
    },
    UserInputMutation {
        arg: TensorArgument,
        user_input_name: String,
    },
    GradientToParameter {
        arg: TensorArgument,
        parameter_name: String,
    },
    GradientToUserInput {
        arg: TensorArgument,
        user_input_name: String,
    },
    Token {
        arg: TensorArgument,
    },
}

fn constant_value(c: &Constant) -> ConstantValue {
    match c {
        Constant::None => ConstantValue::AsNone(true),
        Constant::Int(v) => ConstantValue::AsInt(*v),
        Constant::Float(v) => ConstantValue::AsFloat(FloatValue(*v)),
        Constant::Bool(v) => ConstantValue::AsBool(*v),
        Constant::Str(v) | Constant::Other(v) => ConstantValue::AsString(v.clone()),
    }
}

fn argument(kind: &ArgKind, name: Option<&String>) -> Argument {
    let named = || name.cloned().unwrap_or_default();
    match kind {
        ArgKind::Tensor => Argument::AsTensor(TensorArgument { name: named() }),
        ArgKind::SymInt => Argument::AsSymInt(SymArgument::AsName(named())),
        ArgKind::SymFloat => Argument::AsSymFloat(SymArgument::AsName(named())),
        ArgKind::SymBool => Argument::AsSymBool(SymArgument::AsName(named())),
        ArgKind::Constant(c) => match constant_value(c) {
            ConstantValue::AsNone(v) => Argument::AsNone(v),
            ConstantValue::AsInt(v) => Argument::AsInt(v),
            ConstantValue::AsFloat(v) => Argument::AsFloat(v),
            ConstantValue::AsString(v) => Argument::AsString(v),
            ConstantValue::AsBool(v) => Argument::AsBool(v),
        },
    }
}

impl ExportedGraph {
    /// torch.export's `input_specs`/`output_specs`, classified by position
    /// in the calling convention, not by name: names can collide (an updated
    /// input also returned), and the loss is the user output at the loss
    /// index, where PyTorch's `loss_output` quirk does not look. Gradients
    /// name the FQN of the input they belong to, buffers included (§5 item 19).
    pub fn torch_export(&self) -> ExportSpecs {
        let g = &self.graph;
        let tensor = |name: Option<&String>| TensorArgument {
            name: name.cloned().unwrap_or_default(),
        };
        let kind = |q: usize| g.inputs.get(q).map(|r| r.kind);
        let fqn = |q: usize| {
            g.inputs
                .get(q)
                .and_then(|r| r.fqn.clone())
                .unwrap_or_default()
        };
        let input_name = |q: usize| g.input_names.get(q).cloned().unwrap_or_default();

        let input_specs = g
            .input_names
            .iter()
            .zip(&g.inputs)
            .enumerate()
            .map(|(q, (name, role))| match (role.kind, &role.arg) {
                (InputKind::Token, _) => InputSpec::Token {
                    arg: tensor(Some(name)),
                },
                (InputKind::Parameter, _) => InputSpec::Parameter {
                    arg: tensor(Some(name)),
                    parameter_name: fqn(q),
                },
                (InputKind::Buffer, _) => InputSpec::Buffer {
                    arg: tensor(Some(name)),
                    buffer_name: fqn(q),
                    persistent: true,
                },
                (InputKind::UserInput, ArgKind::Constant(c)) => InputSpec::ConstantInput {
                    name: name.clone(),
                    value: constant_value(c),
                },
                (InputKind::UserInput, arg) => InputSpec::UserInput {
                    arg: argument(arg, Some(name)),
                },
            })
            .collect();

        let mut output_specs = Vec::with_capacity(g.output_names.len());
        let mut outputs = g.output_names.iter().zip(&g.output_args);
        for (name, _) in outputs.by_ref().take(g.num_tokens) {
            output_specs.push(OutputSpec::Token {
                arg: tensor(name.as_ref()),
            });
        }
        for (&q, (name, _)) in g.mutated.iter().zip(outputs.by_ref()) {
            let arg = tensor(name.as_ref());
            output_specs.push(match kind(q) {
                Some(InputKind::Parameter) => OutputSpec::ParameterMutation {
                    arg,
                    parameter_name: fqn(q),
                },
                Some(InputKind::Buffer) => OutputSpec::BufferMutation {
                    arg,
                    buffer_name: fqn(q),
                },
                _ => OutputSpec::UserInputMutation {
                    arg,
                    user_input_name: input_name(q),
                },
            });
        }
        for (k, (name, arg)) in outputs.by_ref().take(g.num_user_outputs).enumerate() {
            output_specs.push(if g.loss == Some(k) {
                OutputSpec::LossOutput {
                    arg: tensor(name.as_ref()),
                }
            } else {
                OutputSpec::UserOutput {
                    arg: argument(arg, name.as_ref()),
                }
            });
        }
        for (&q, (name, _)) in g.gradients.iter().zip(outputs) {
            let arg = tensor(name.as_ref());
            output_specs.push(match kind(q) {
                Some(InputKind::Parameter | InputKind::Buffer) => OutputSpec::GradientToParameter {
                    arg,
                    parameter_name: fqn(q),
                },
                _ => OutputSpec::GradientToUserInput {
                    arg,
                    user_input_name: input_name(q),
                },
            });
        }
        ExportSpecs {
            input_specs,
            output_specs,
        }
    }

    /// `(named, loss)`: the graph output PyTorch's `loss_output` names and
    /// the true loss's position, when they differ (§5 item 19).
    pub fn misplaced_loss(&self) -> Option<(usize, usize)> {
        let g = &self.graph;
        let named = g.loss?;
        let loss = g
            .num_tokens
            .checked_add(g.mutated.len())?
            .checked_add(named)?;
        (named != loss).then_some((named, loss))
    }

    /// The dump's name of graph input `q`, for people reading both.
    pub fn dump_name(&self, q: usize) -> &str {
        self.graph.inputs.get(q).map_or("?", |r| &r.dump_name)
    }

    /// The position of a graph input, by its graph name.
    pub fn input_position(&self, graph_name: &str) -> Option<usize> {
        self.graph.input_names.iter().position(|n| n == graph_name)
    }
}

/// What export reads of the graph besides its metadata ([`ExportGraph`]),
/// from the nodes' structures and value facts (in graph order), the alias
/// trace and the dump's pytree specs.
pub fn export_graph(
    nodes: &[&NodeStructure],
    facts: &[ValueFacts],
    trace: &AliasTrace,
    in_spec: Option<&serde_json::Value>,
    out_spec: Option<&serde_json::Value>,
) -> Result<ExportGraph, AnalysisError> {
    // The last write to each functional storage, found once (not per input).
    let mut last_write = HashMap::new();
    for w in &trace.writes {
        if let Some(o) = trace.objects.get(w.object) {
            last_write.insert(o.functional_storage, w.node);
        }
    }
    let inputs = trace
        .input_nodes
        .iter()
        .enumerate()
        .map(|(p, &n)| export_input(nodes, facts, trace, p, n, &last_write))
        .collect::<Result<Vec<_>, _>>()?;
    check_input_order(&inputs)?;
    let custom_ops = custom_ops_upstream(nodes, &facts);
    let outputs = export_outputs(nodes, facts, trace, &custom_ops);
    let count = |f: fn(InputKind) -> bool| inputs.iter().filter(|i| f(i.kind)).count();
    let (in_spec, out_spec) = export_specs(
        in_spec,
        out_spec,
        count(|k| matches!(k, InputKind::Parameter | InputKind::Buffer)),
        count(|k| k == InputKind::UserInput),
        outputs.len(),
    )
    .map_err(|e| AnalysisError::Invalid(Diagnostic::at(None, e.path, e.message)))?;
    Ok(ExportGraph {
        inputs,
        outputs,
        in_spec,
        out_spec,
    })
}

/// Placeholder `p`, node `n`, as export reads it.
fn export_input(
    nodes: &[&NodeStructure],
    facts: &[ValueFacts],
    trace: &AliasTrace,
    p: usize,
    n: usize,
    last_write: &HashMap<usize, usize>,
) -> Result<ExportInput, AnalysisError> {
    let (Some(structure), Some(facts_of)) = (nodes.get(n), facts.get(n)) else {
        return Err(AnalysisError::Invalid(Diagnostic::at(
            None,
            "nodes",
            format!("placeholder {p} is missing"),
        )));
    };
    let NodeOp::Placeholder { kind, fqn, .. } = &structure.op else {
        return Err(AnalysisError::invalid(
            &structure.name,
            "op",
            "expected a placeholder",
        ));
    };
    if matches!(kind, InputKind::Parameter | InputKind::Buffer) && fqn.is_none() {
        return Err(AnalysisError::invalid(
            &structure.name,
            "fqn",
            "a parameter or buffer needs its module path to be exported",
        ));
    }
    let autograd = facts_of.autograd;
    let object = trace.inputs.get(p).copied().flatten();
    let functional_storage = object
        .and_then(|o| trace.objects.get(o))
        .map(|o| o.functional_storage);
    // The last write to the input's memory names its updated value.
    let update_hint = functional_storage
        .and_then(|fs| last_write.get(&fs))
        .and_then(|&w| nodes.get(w))
        .map(|w| w.name.clone());
    let resized = structure.tensor_id.is_some()
        && trace.resizes.iter().any(|r| {
            nodes
                .get(r.node)
                .is_some_and(|rn| rn.tensor_id == structure.tensor_id)
        });
    Ok(ExportInput {
        name: structure.name.clone(),
        kind: *kind,
        fqn: fqn.clone(),
        arg: facts_of.arg_kind.clone(),
        requires_grad: autograd.is_some_and(|a| a.requires_grad),
        is_leaf: autograd.is_none_or(|a| a.is_leaf),
        tensor_id: structure.tensor_id,
        storage: facts_of.storage,
        resized,
        update_hint,
    })
}

/// `GraphSignature` assumes parameters, then buffers, then user inputs (format §5).
fn check_input_order(inputs: &[ExportInput]) -> Result<(), AnalysisError> {
    let rank = |k: InputKind| match k {
        InputKind::Parameter => Some(0),
        InputKind::Buffer => Some(1),
        InputKind::UserInput => Some(2),
        InputKind::Token => None,
    };
    let mut last = 0;
    for input in inputs {
        let Some(r) = rank(input.kind) else { continue };
        if r < last {
            return Err(AnalysisError::invalid(
                &input.name,
                "kind",
                "placeholders must list parameters, then buffers, then user inputs",
            ));
        }
        last = r;
    }
    Ok(())
}

/// What each output is in the functional graph.
fn export_outputs(
    nodes: &[&NodeStructure],
    facts: &[ValueFacts],
    trace: &AliasTrace,
    custom_ops: &[Option<Arc<str>>],
) -> Vec<ExportOutput> {
    let literals: &[Arg] = match nodes.last().and_then(|n| n.args.first()) {
        Some(Arg::List(items)) => items,
        _ => &[],
    };
    let name_of = |n: usize| {
        nodes
            .get(n)
            .map_or_else(|| Arc::from("out"), |n| n.name.clone())
    };
    trace
        .outputs
        .iter()
        .enumerate()
        .map(|(k, slot)| match slot {
            OutputSlot::Tensor(o) => {
                let obj = trace.objects.get(*o);
                let last_node = obj.map_or(0, |obj| obj.last_node);
                let floating = facts.get(last_node).is_some_and(|f| f.is_floating);
                let input = obj
                    .filter(|obj| obj.is_input)
                    // FX binds a tensor passed twice to its last placeholder.
                    .and_then(|_| trace.inputs.iter().rposition(|i| *i == Some(*o)));
                let value = match input {
                    Some(p) => OutputValue::Input(p),
                    None => OutputValue::Tensor {
                        object: *o,
                        hint: name_of(last_node),
                    },
                };
                ExportOutput {
                    value,
                    floating,
                    custom_op: custom_ops.get(last_node).cloned().flatten(),
                }
            }
            OutputSlot::Node(n) => {
                let kind = facts
                    .get(*n)
                    .map_or(ArgKind::Constant(Constant::None), |f| f.arg_kind.clone());
                let value = match kind {
                    ArgKind::Constant(c) => OutputValue::Constant(c),
                    kind => match trace.input_nodes.iter().position(|i| i == n) {
                        Some(p) => OutputValue::Input(p),
                        None => OutputValue::Symbolic {
                            node: *n,
                            hint: name_of(*n),
                            kind,
                        },
                    },
                };
                ExportOutput {
                    value,
                    floating: false,
                    custom_op: None,
                }
            }
            OutputSlot::Literal(_) => ExportOutput {
                value: OutputValue::Constant(literal(literals.get(k))),
                floating: false,
                custom_op: None,
            },
        })
        .collect()
}

/// A literal output, as export records a constant.
fn literal(arg: Option<&Arg>) -> Constant {
    match arg {
        None | Some(Arg::None) => Constant::None,
        Some(Arg::Int(v)) => Constant::Int(*v),
        Some(Arg::Float(v)) => Constant::Float(*v),
        Some(Arg::Bool(v)) => Constant::Bool(*v),
        Some(Arg::Str(v)) => Constant::Str(v.clone()),
        Some(Arg::Tagged(tag, v)) => Constant::Other(format!("{tag}={v}")),
        Some(Arg::List(_) | Arg::Node(_)) => Constant::Other("list".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::meta::{OutputType, RawType};
    use crate::ir::expr::SizeExpr;

    fn input(name: &str, kind: InputKind) -> ExportInput {
        let fqn = matches!(kind, InputKind::Parameter | InputKind::Buffer).then(|| name.to_owned());
        ExportInput {
            name: Arc::from(name),
            kind,
            fqn,
            arg: ArgKind::Tensor,
            requires_grad: false,
            is_leaf: true,
            tensor_id: None,
            storage: None,
            resized: false,
            update_hint: None,
        }
    }

    fn unmutated() -> InputAliasInfo {
        InputAliasInfo {
            is_leaf: true,
            mutates_data: false,
            mutates_metadata: false,
            mutations_hidden_from_autograd: true,
            mutations_under_no_grad_or_inference_mode: false,
            mutation_inductor_storage_resize: false,
            mutates_storage_metadata: false,
            mutation_is_shallow_copy_data: false,
            requires_grad: false,
            keep_input_mutations: false,
            mutation_type: MutationType::NotMutated,
        }
    }

    fn data_mutated() -> InputAliasInfo {
        InputAliasInfo {
            mutates_data: true,
            mutations_hidden_from_autograd: false,
            mutation_type: MutationType::MutatedOutGraph,
            ..unmutated()
        }
    }

    fn output_info(requires_grad: bool) -> OutputAliasInfo {
        OutputAliasInfo {
            output_type: OutputType::NonAlias,
            raw_type: RawType::FunctionalTensor,
            base_idx: None,
            dynamic_dims: Some(Vec::new()),
            requires_grad,
            requires_grad_for_backward: requires_grad,
            view_meta_sequence: None,
        }
    }

    fn fresh(object: usize, hint: &str) -> ExportOutput {
        ExportOutput {
            value: OutputValue::Tensor {
                object,
                hint: Arc::from(hint),
            },
            floating: true,
            custom_op: None,
        }
    }

    type Inputs = Vec<(ExportInput, InputAliasInfo)>;

    /// A graph and its collected metadata, with flat specs.
    struct Case {
        graph: ExportGraph,
        input_info: Vec<InputAliasInfo>,
        output_info: Vec<OutputAliasInfo>,
        traced_tangents: Vec<Tangent>,
        grad_enabled_mutation: Option<bool>,
    }

    impl Case {
        fn new(inputs: Inputs, outputs: Vec<ExportOutput>) -> Case {
            let count =
                |f: &dyn Fn(InputKind) -> bool| inputs.iter().filter(|(i, _)| f(i.kind)).count();
            let (in_spec, out_spec) = export_specs(
                None,
                None,
                count(&|k| matches!(k, InputKind::Parameter | InputKind::Buffer)),
                count(&|k| k == InputKind::UserInput),
                outputs.len(),
            )
            .expect("flat specs fit");
            let output_info = outputs.iter().map(|_| output_info(true)).collect();
            let (inputs, input_info) = inputs.into_iter().unzip();
            Case {
                graph: ExportGraph {
                    inputs,
                    outputs,
                    in_spec,
                    out_spec,
                },
                input_info,
                output_info,
                traced_tangents: Vec::new(),
                grad_enabled_mutation: None,
            }
        }

        fn collected(&self) -> Collected<'_> {
            Collected {
                input_info: &self.input_info,
                output_info: &self.output_info,
                traced_tangents: &self.traced_tangents,
                grad_enabled_mutation: self.grad_enabled_mutation,
            }
        }

        /// Export with storages standing for overlap: a mutated input
        /// sharing its storage with another needs a synthetic base.
        fn export(&self, flavour: Flavour) -> Export {
            let storages = SharedStorages(self.graph.inputs.iter().map(|i| i.storage).collect());
            export(&self.graph, flavour, Ok(self.collected()), &storages)
        }
    }

    /// Each input's storage: sharing one stands for overlapping.
    struct SharedStorages(Vec<Option<u64>>);

    impl SyntheticBaseCheck for SharedStorages {
        fn synthetic_base_needed(
            &self,
            info: &[InputAliasInfo],
            _: bool,
        ) -> Result<bool, TorchError> {
            let storages = &self.0;
            Ok(storages.iter().enumerate().any(|(i, s)| {
                s.is_some()
                    && info.get(i).is_some_and(|m| m.mutates_data)
                    && storages.iter().enumerate().any(|(j, t)| j != i && t == s)
            }))
        }
    }

    fn exported(e: Export) -> ExportedGraph {
        match e {
            Export::Exported(g) => *g,
            other => panic!("expected a signature, got {other:?}"),
        }
    }

    fn dict(entries: &[(&str, &str)]) -> PyDict<String> {
        PyDict(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn kinds(specs: &ExportSpecs) -> (Vec<String>, Vec<String>) {
        let kind = |v: serde_json::Value| {
            v.as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default()
        };
        let all = |v: serde_json::Value| -> Vec<String> {
            v.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(kind)
                .collect()
        };
        let json = serde_json::to_value(specs).unwrap_or_default();
        (
            all(json["input_specs"].clone()),
            all(json["output_specs"].clone()),
        )
    }

    /// Semantics E7.1: a mutated parameter and a mutated user input.
    #[test]
    fn inference_with_mutated_parameter_and_input() {
        let w = ExportInput {
            update_hint: Some(Arc::from("add_")),
            ..input("w", InputKind::Parameter)
        };
        let x = ExportInput {
            update_hint: Some(Arc::from("add__1")),
            ..input("x", InputKind::UserInput)
        };
        let case = Case::new(
            vec![
                (w, data_mutated()),
                (input("buf", InputKind::Buffer), unmutated()),
                (x, data_mutated()),
                (input("y", InputKind::UserInput), unmutated()),
            ],
            vec![fresh(7, "add_3")],
        );
        let g = exported(case.export(Flavour::Inference));
        let sig = &g.signature;
        assert_eq!(
            sig.graph_input_names,
            ["arg0_1", "arg1_1", "arg2_1", "arg3_1"]
        );
        assert_eq!(
            sig.graph_output_names,
            [
                Some("add_".into()),
                Some("add__1".into()),
                Some("add_3".into())
            ]
        );
        assert_eq!(sig.inputs_to_parameters, dict(&[("arg0_1", "w")]));
        assert_eq!(sig.inputs_to_buffers, dict(&[("arg1_1", "buf")]));
        assert_eq!(sig.parameters_to_mutate, dict(&[("add_", "w")]));
        assert_eq!(sig.user_inputs_to_mutate, dict(&[("add__1", "arg2_1")]));
        assert!(sig.buffers_to_mutate.is_empty());
        assert_eq!(sig.user_inputs, ["arg2_1", "arg3_1"]);
        assert_eq!(sig.user_outputs, [Some("add_3".into())]);
        assert_eq!(sig.backward_signature, None);
        assert_eq!(sig.in_spec.to_string(), "((*, *, *, *), {})");
        let (inputs, outputs) = kinds(&g.torch_export());
        assert_eq!(inputs, ["parameter", "buffer", "user_input", "user_input"]);
        assert_eq!(
            outputs,
            ["parameter_mutation", "user_input_mutation", "user_output"]
        );
    }

    /// Semantics E7.2: effect tokens come first on both sides.
    #[test]
    fn tokens_lead_inputs_and_outputs() {
        let buf = ExportInput {
            update_hint: Some(Arc::from("add")),
            ..input("buf", InputKind::Buffer)
        };
        let case = Case::new(
            vec![
                (input("token", InputKind::Token), unmutated()),
                (buf, data_mutated()),
                (input("x", InputKind::UserInput), unmutated()),
            ],
            vec![fresh(5, "add_1")],
        );
        let g = exported(case.export(Flavour::Inference));
        let sig = &g.signature;
        assert_eq!(sig.input_tokens, ["arg0_1"]);
        assert_eq!(sig.output_tokens, [Some("token".into())]);
        assert_eq!(sig.inputs_to_buffers, dict(&[("arg1_1", "buf")]));
        assert_eq!(sig.buffers_to_mutate, dict(&[("add", "buf")]));
        assert_eq!(sig.user_inputs, ["arg2_1"]);
        assert_eq!(sig.user_outputs, [Some("add_1".into())]);
        let (inputs, outputs) = kinds(&g.torch_export());
        assert_eq!(inputs, ["token", "buffer", "user_input"]);
        assert_eq!(outputs, ["token", "buffer_mutation", "user_output"]);
    }

    /// A mutated input that is also returned is one FX node: one name, so
    /// the name-keyed maps point at the later position, as PyTorch's do.
    #[test]
    fn returned_updated_input_shares_its_name() {
        let x = ExportInput {
            update_hint: Some(Arc::from("mul_")),
            ..input("x", InputKind::UserInput)
        };
        let returned = ExportOutput {
            value: OutputValue::Input(0),
            floating: true,
            custom_op: None,
        };
        let case = Case::new(vec![(x, data_mutated())], vec![returned.clone(), returned]);
        let sig = exported(case.export(Flavour::Inference)).signature;
        let mul = Some("mul_".to_owned());
        assert_eq!(sig.graph_output_names, [mul.clone(), mul.clone(), mul]);
        assert_eq!(sig.user_inputs_to_mutate, dict(&[("mul_", "arg0_1")]));
    }

    #[test]
    fn joint_gradients_and_loss_quirk() {
        let w = ExportInput {
            requires_grad: true,
            ..input("w", InputKind::Parameter)
        };
        let steps = ExportInput {
            update_hint: Some(Arc::from("add_")),
            ..input("steps", InputKind::Buffer)
        };
        let x = ExportInput {
            requires_grad: true,
            ..input("x", InputKind::UserInput)
        };
        let case = Case::new(
            vec![
                (w, unmutated()),
                (steps, data_mutated()),
                (x, unmutated()),
                (input("y", InputKind::UserInput), unmutated()),
            ],
            vec![fresh(9, "mul"), fresh(10, "sum_1")],
        );
        let g = exported(case.export(Flavour::Joint));
        let sig = &g.signature;
        assert_eq!(
            sig.graph_output_names,
            [
                Some("add_".into()),
                Some("loss".into()),
                Some("w_grad".into()),
                Some("x_grad".into())
            ]
        );
        assert_eq!(sig.user_outputs, [Some("loss".into())]);
        let backward = sig.backward_signature.as_ref().expect("a joint signature");
        assert_eq!(backward.gradients_to_parameters, dict(&[("w_grad", "w")]));
        assert_eq!(
            backward.gradients_to_user_inputs,
            dict(&[("x_grad", "arg2_1")])
        );
        // `graph_output_names[0]`: the buffer update, not the loss.
        assert_eq!(backward.loss_output.as_deref(), Some("add_"));
        assert_eq!(g.misplaced_loss(), Some((0, 1)));
        assert_eq!(sig.out_spec.to_string(), "(*,)");
        let (_, outputs) = kinds(&g.torch_export());
        assert_eq!(
            outputs,
            [
                "buffer_mutation",
                "loss_output",
                "gradient_to_parameter",
                "gradient_to_user_input"
            ]
        );
    }

    #[test]
    fn refusals_have_pytorchs_type() {
        let rg = |i: ExportInput| ExportInput {
            requires_grad: true,
            ..i
        };
        let metadata = InputAliasInfo {
            mutates_metadata: true,
            mutation_type: MutationType::MutatedOutGraph,
            ..unmutated()
        };
        let set_kept = InputAliasInfo {
            mutates_metadata: true,
            mutates_storage_metadata: true,
            keep_input_mutations: true,
            mutation_type: MutationType::MutatedInGraph,
            ..unmutated()
        };
        let rg_mutated = InputAliasInfo {
            requires_grad: true,
            ..data_mutated()
        };
        let w = || rg(input("w", InputKind::Parameter));
        let x = || input("x", InputKind::UserInput);
        let cases: Vec<(&str, Inputs, Flavour, ExceptionType, &str)> = vec![
            (
                "metadata mutation",
                vec![(x(), metadata)],
                Flavour::Inference,
                ExceptionType::RuntimeError,
                "Found an input that received a metadata mutation",
            ),
            (
                "set_ without keep_input_mutations",
                vec![(x(), set_kept)],
                Flavour::Inference,
                ExceptionType::AssertionError,
                "Encountered a set_ on a graph input",
            ),
            (
                "grad-requiring input mutated",
                vec![(w(), unmutated()), (x(), rg_mutated)],
                Flavour::Joint,
                ExceptionType::RuntimeError,
                "Found a graph input that requires gradients, and received a mutation",
            ),
            (
                "frozen parameter mutated",
                vec![
                    (w(), unmutated()),
                    (input("frozen", InputKind::Parameter), data_mutated()),
                ],
                Flavour::Joint,
                ExceptionType::AssertionError,
                "a parameter is mutated in a joint graph",
            ),
            (
                "grad-requiring buffer indexes the parameter names",
                vec![
                    (w(), unmutated()),
                    (rg(input("b", InputKind::Buffer)), unmutated()),
                ],
                Flavour::Joint,
                ExceptionType::IndexError,
                "list index out of range",
            ),
        ];
        for (what, inputs, flavour, kind, message) in cases {
            let case = Case::new(inputs, vec![fresh(9, "out")]);
            match case.export(flavour) {
                Export::Refused(e) => {
                    assert_eq!((e.flavour, e.kind), (flavour, kind), "{what}");
                    assert!(e.message.starts_with(message), "{what}: {}", e.message);
                }
                other => panic!("{what}: expected a refusal, got {other:?}"),
            }
        }
        let e = ExportError::new(Flavour::Joint, ExceptionType::RuntimeError, "m");
        assert_eq!(
            serde_json::to_value(e).unwrap_or_default(),
            serde_json::json!({"stage": "aot_export_module[joint]", "type": "RuntimeError", "message": "m"})
        );
    }

    #[test]
    fn collection_refusals_are_reported_at_the_export_stage() {
        let case = Case::new(
            vec![(input("x", InputKind::UserInput), unmutated())],
            vec![fresh(3, "out")],
        );
        let refusal = TorchError::new(
            crate::analysis::Stage::CollectMetadata,
            ExceptionType::RuntimeError,
            "Attempted to resize a view tensor to a larger size.",
        );
        let never = SharedStorages(Vec::new());
        let sigs = Signatures(vec![(
            Flavour::Inference,
            export(&case.graph, Flavour::Inference, Err(&refusal), &never),
        )]);
        assert_eq!(
            serde_json::to_value(&sigs).unwrap_or_default(),
            serde_json::json!({"inference": {"error": {
                "stage": "aot_export_module[inference]",
                "type": "RuntimeError",
                "message": "Attempted to resize a view tensor to a larger size."}}})
        );
    }

    fn refused(export: Export) -> (ExceptionType, String) {
        match export {
            Export::Refused(e) => (e.kind, e.message),
            Export::Exported(g) => panic!("expected a refusal, got {:?}", g.signature),
        }
    }

    /// Mutated inputs passed twice, or sharing memory that needs a
    /// synthetic base, are refused in both flavours; aliases that are not
    /// mutated export fine.
    #[test]
    fn duplicated_and_aliased_mutated_inputs_are_refused() {
        let tensor = |name: &str, id: u64, storage: u64| ExportInput {
            tensor_id: Some(id),
            storage: Some(storage),
            ..input(name, InputKind::UserInput)
        };
        let dup = Case::new(
            vec![
                (tensor("x", 0, 0), data_mutated()),
                (tensor("y", 0, 0), data_mutated()),
            ],
            vec![fresh(9, "out")],
        );
        let alias = Case::new(
            vec![
                (tensor("x", 0, 0), data_mutated()),
                (tensor("y", 1, 0), unmutated()),
            ],
            vec![fresh(9, "out")],
        );
        for flavour in Flavour::ALL {
            let (kind, message) = refused(dup.export(flavour));
            assert_eq!(kind, ExceptionType::RuntimeError);
            assert!(
                message.starts_with("Encountered duplicated inputs"),
                "{message}"
            );
            let (kind, message) = refused(alias.export(flavour));
            assert_eq!(kind, ExceptionType::RuntimeError);
            assert!(
                message.starts_with("Encountered aliased inputs"),
                "{message}"
            );
        }
        let shared = Case::new(
            vec![
                (tensor("x", 0, 0), unmutated()),
                (tensor("y", 1, 0), unmutated()),
            ],
            vec![fresh(9, "out")],
        );
        assert!(matches!(
            shared.export(Flavour::Inference),
            Export::Exported(_)
        ));
    }

    /// Inference runs under `no_grad`: an output that still requires grad
    /// (made under `enable_grad` inside) makes export trace a joint graph
    /// without tangents, and its assertion fails.
    #[test]
    fn inference_output_requiring_grad_trips_the_tangent_assertion() {
        let x = ExportInput {
            requires_grad: true,
            ..input("x", InputKind::UserInput)
        };
        let tangent = |shape: &[i64]| Tangent {
            spec: crate::analysis::meta::TensorSpec {
                shape: shape.iter().map(|&d| SizeExpr::int(d)).collect(),
                stride: shape.iter().map(|_| SizeExpr::int(1)).collect(),
                storage_offset: SizeExpr::int(0),
                dtype: Arc::from("float32"),
            },
            desc: String::new(),
        };
        let mut case = Case::new(vec![(x, unmutated())], vec![fresh(9, "out")]);
        case.traced_tangents = vec![tangent(&[4])];
        let (kind, message) = refused(case.export(Flavour::Inference));
        assert_eq!(kind, ExceptionType::AssertionError);
        assert!(message.contains("single scalar tangent"), "{message}");
        assert!(matches!(case.export(Flavour::Joint), Export::Exported(_)));
        // One scalar tangent passes the assertion.
        case.traced_tangents = vec![tangent(&[])];
        assert!(matches!(
            case.export(Flavour::Inference),
            Export::Exported(_)
        ));
    }

    /// Joint: the loss must require grad, and its backward cannot run
    /// through a custom operator without an autograd formula.
    #[test]
    fn joint_needs_a_loss_and_a_backward() {
        let w = ExportInput {
            requires_grad: true,
            ..input("w", InputKind::Parameter)
        };
        let inputs = || {
            vec![
                (w.clone(), unmutated()),
                (input("x", InputKind::UserInput), unmutated()),
            ]
        };
        let mut no_loss = Case::new(inputs(), vec![fresh(9, "out")]);
        no_loss.output_info = vec![output_info(false)];
        let (kind, message) = refused(no_loss.export(Flavour::Joint));
        assert_eq!(kind, ExceptionType::RuntimeError);
        assert!(message.contains("does not require gradients"), "{message}");
        assert!(matches!(
            no_loss.export(Flavour::Inference),
            Export::Exported(_)
        ));

        let custom = ExportOutput {
            custom_op: Some(Arc::from("mylib.double.default")),
            ..fresh(9, "double")
        };
        let case = Case::new(inputs(), vec![custom]);
        let (kind, message) = refused(case.export(Flavour::Joint));
        assert_eq!(kind, ExceptionType::RuntimeError);
        assert!(
            message.starts_with("Trying to backward through mylib.double.default"),
            "{message}"
        );
    }

    #[test]
    fn custom_operators_upstream_of_grad_requiring_values() {
        let node = |name: &str, target: &str, args: Vec<Arg>| NodeStructure {
            name: Arc::from(name),
            op: NodeOp::CallFunction,
            target: Arc::from(target),
            args,
            kwargs: Vec::new(),
            tensor_id: None,
            base_tensor_id: None,
        };
        let at = |name: &str| Arg::Node(Arc::from(name));
        let nodes = [
            NodeStructure {
                op: NodeOp::Placeholder {
                    kind: InputKind::UserInput,
                    fqn: None,
                    source: None,
                },
                ..node("x", "x", Vec::new())
            },
            node("double", "mylib.double.default", vec![at("x")]),
            node("add", "aten.add.Tensor", vec![at("double"), Arg::Int(1)]),
            node(
                "sum",
                "aten.stack.default",
                vec![Arg::List(vec![at("x"), at("add")])],
            ),
            node("plain", "mylib.plain.default", vec![at("x")]),
            node("mul", "aten.mul.Tensor", vec![at("plain"), at("x")]),
        ];
        let refs: Vec<&NodeStructure> = nodes.iter().collect();
        // `plain`'s result does not require grad, so no backward runs through it.
        struct AllButPlain;
        impl RecordedAutograd for AllButPlain {
            fn recorded_autograd(&self, node: usize) -> Option<crate::ir::Autograd> {
                Some(crate::ir::Autograd {
                    requires_grad: node != 4,
                    is_leaf: false,
                    is_view: false,
                    grad_fn: crate::ir::GradFn::Builtin,
                })
            }
        }
        let got = custom_ops_upstream(&refs, &AllButPlain);
        let double = Some(Arc::<str>::from("mylib.double.default"));
        assert_eq!(
            got,
            [None, double.clone(), double.clone(), double, None, None]
        );
    }

    #[test]
    fn names_are_unique_per_value() {
        let mut names = Names::default();
        names.reserve("arg0_1");
        assert_eq!(names.of(ValueId::Tensor(0), "add"), "add");
        assert_eq!(names.of(ValueId::Tensor(1), "add"), "add_1");
        assert_eq!(names.of(ValueId::Tensor(0), "ignored"), "add");
        assert_eq!(names.of(ValueId::Loss, "arg0_1"), "arg0_1_1");
        assert_eq!(names.of(ValueId::Gradient(0), "add_1"), "add_1_1");
    }

    #[test]
    fn python_slices_clamp() {
        let v = [1, 2, 3];
        assert_eq!(py_slice(&v, 1, 2), [2]);
        assert_eq!(py_slice(&v, 2, 9), [3]);
        assert!(py_slice(&v, 5, 9).is_empty());
        assert!(py_slice(&v, 2, 1).is_empty());
    }
}
