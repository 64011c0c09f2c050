//! Metadata collection proper (semantics §3.3): per-input flags, output
//! classification, intermediate bases and traced tangents, read off the
//! alias trace, the final autograd state and the tensors' geometry.

use std::collections::{HashMap, HashSet};

use super::autograd::{FinalAutograd, RecordedAutograd};
use super::error::{AnalysisError, ExceptionType, Stage, TorchError};
use super::layout;
use super::meta::{
    InputAliasInfo, MutationType, OutputAliasInfo, OutputType, RawType, Tangent, TensorSpec,
    ViewAndMutationMeta,
};
use super::trace::{AliasTrace, ObjectIdx, OutputSlot};
use crate::ir::expr::SizeExpr;
use crate::ir::{Autograd, Geometry, GradFn, Value};

/// The Python type AOTAutograd sees for a value (output classification
/// records it for non-tensor outputs).
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Int(_) => "int",
        Value::SymInt(_) => "torch.SymInt",
        Value::Float(_) => "float",
        Value::SymFloat(_) => "torch.SymFloat",
        Value::Bool(_) => "bool",
        Value::SymBool(_) => "torch.SymBool",
        Value::Str(_) => "str",
        Value::List(_) => "list",
        Value::None => "NoneType",
        Value::Tensor(_) => "torch._subclasses.functional_tensor.FunctionalTensor",
    }
}

/// Read access to the tensors' recorded facts, by node index. The query
/// layer implements it over the database, so that a collection step reads
/// only the values it asks for.
pub trait NodeFacts: RecordedAutograd {
    /// The geometry of node `node`'s tensor value.
    fn geometry(&self, node: usize) -> Option<&Geometry>;
    /// Python type name of a non-tensor node's value (`int`, `torch.SymInt`, ...).
    fn value_type(&self, node: usize) -> &'static str;
    /// A size expression's value at the hints.
    fn hint(&self, e: &SizeExpr) -> Option<i64>;
}

/// The recorded autograd facts of a dump traced with grad on, as a run that
/// enters under `no_grad` sees them (see [`recorded_without_grad`]).
/// `tensor_ids` and `grad_mode_differs` are per node; `inputs` are the
/// placeholders' node indices.
pub struct WithoutGrad<'a> {
    recorded: &'a dyn RecordedAutograd,
    tensor_ids: Vec<Option<u64>>,
    grad_mode_differs: &'a [bool],
    passed_in_requiring_grad: HashSet<u64>,
}

impl<'a> WithoutGrad<'a> {
    /// The facts `recorded` gives, as a run entered under `no_grad` sees them.
    pub fn new(
        recorded: &'a dyn RecordedAutograd,
        tensor_ids: Vec<Option<u64>>,
        grad_mode_differs: &'a [bool],
        inputs: &[usize],
    ) -> Self {
        let passed_in_requiring_grad = inputs
            .iter()
            .filter(|&&i| {
                recorded
                    .recorded_autograd(i)
                    .is_some_and(|a| a.requires_grad)
            })
            .filter_map(|&i| tensor_ids.get(i).copied().flatten())
            .collect();
        WithoutGrad {
            recorded,
            tensor_ids,
            grad_mode_differs,
            passed_in_requiring_grad,
        }
    }
}

impl RecordedAutograd for WithoutGrad<'_> {
    fn recorded_autograd(&self, node: usize) -> Option<Autograd> {
        let id = self.tensor_ids.get(node).copied().flatten();
        recorded_without_grad(
            self.recorded.recorded_autograd(node),
            self.grad_mode_differs.get(node).copied().unwrap_or(false),
            id.is_some_and(|id| self.passed_in_requiring_grad.contains(&id)),
        )
    }
}

/// The `ViewAndMutationMeta` of one collection run, from its parts.
pub fn view_and_mutation_meta(
    trace: &AliasTrace,
    input_info: Vec<InputAliasInfo>,
    outputs: &Outputs,
    traced_tangents: Vec<Tangent>,
    keep_input_mutations: bool,
) -> ViewAndMutationMeta {
    ViewAndMutationMeta {
        input_info,
        output_info: outputs.info.clone(),
        num_intermediate_bases: outputs.intermediate_bases.len(),
        keep_input_mutations,
        traced_tangents,
        // Set when the function leaves grad mode other than it found it.
        grad_enabled_mutation: (trace.grad_enabled_at_exit != trace.grad_enabled_at_entry)
            .then_some(trace.grad_enabled_at_exit),
        num_tokens: 0,
    }
}

/// The autograd facts a run entered under `no_grad` gives a node, from a
/// dump traced with grad on: where this run's grad mode is off but the
/// dump's was on (`grad_off_here`), nothing new requires grad, and an object
/// keeps only the `requires_grad` it had when it was passed in. Where both
/// runs are in the same mode, the recorded facts hold.
pub fn recorded_without_grad(
    recorded: Option<Autograd>,
    grad_off_here: bool,
    passed_in_requiring_grad: bool,
) -> Option<Autograd> {
    recorded.map(|a| {
        if !grad_off_here || passed_in_requiring_grad {
            return a;
        }
        // A tensor that does not require grad is a leaf without a grad_fn.
        Autograd {
            requires_grad: false,
            is_leaf: true,
            grad_fn: GradFn::None,
            ..a
        }
    })
}

/// `InputAliasInfo` for every placeholder (semantics §3.3.2).
pub fn input_info(
    trace: &AliasTrace,
    autograd: &[FinalAutograd],
    facts: &dyn NodeFacts,
    keep_input_mutations: bool,
) -> Result<Vec<InputAliasInfo>, AnalysisError> {
    let mut out = Vec::with_capacity(trace.inputs.len());
    for (pos, slot) in trace.inputs.iter().enumerate() {
        let Some(obj) = slot.and_then(|o| trace.objects.get(o).map(|obj| (o, obj))) else {
            out.push(InputAliasInfo {
                is_leaf: false,
                mutates_data: false,
                mutates_metadata: false,
                mutations_hidden_from_autograd: false,
                mutations_under_no_grad_or_inference_mode: false,
                mutation_inductor_storage_resize: false,
                mutates_storage_metadata: false,
                mutation_is_shallow_copy_data: false,
                requires_grad: false,
                keep_input_mutations,
                mutation_type: MutationType::NotMutated,
            });
            continue;
        };
        let (idx, w) = obj;
        let placeholder = trace.input_nodes.get(pos).copied().unwrap_or(w.first_node);
        // An input the program never rewrote is its own final value: nothing
        // to compare, and not reading its geometry keeps stride edits out.
        let (before, after) = if w.last_node == placeholder {
            (None, None)
        } else {
            (facts.geometry(placeholder), facts.geometry(w.last_node))
        };
        let fs = trace
            .storages
            .get(w.functional_storage)
            .cloned()
            .unwrap_or_default();

        let has_data_mutation = fs.mutations > 0;
        let same_storage = match (before, after) {
            (Some(b), Some(a)) => !b.is_sparse() && b.storage == a.storage,
            _ => true,
        };
        let storage_mutation = w.storage_changed && !same_storage;
        let geometry_changed = match (before, after) {
            (Some(b), Some(a)) => {
                b.shape != a.shape || b.stride != a.stride || b.storage_offset != a.storage_offset
            }
            _ => false,
        };
        let mutates_metadata = storage_mutation || (w.metadata_flag && geometry_changed);
        // Version 1 dumps cannot express hidden mutations (format §12): H = 0.
        let all_hidden = fs.mutations == 0;
        let all_no_grad = fs.mutations <= fs.no_grad_mutations;
        let mut info = InputAliasInfo {
            is_leaf: facts
                .recorded_autograd(placeholder)
                .is_some_and(|a| a.is_leaf),
            // Evaluated before a storage mutation clears it (§5 item 7).
            mutations_under_no_grad_or_inference_mode: has_data_mutation && all_no_grad,
            mutates_data: has_data_mutation && !storage_mutation,
            mutates_metadata,
            mutations_hidden_from_autograd: all_hidden,
            mutation_inductor_storage_resize: false,
            mutates_storage_metadata: storage_mutation,
            mutation_is_shallow_copy_data: w.shallow_copy,
            requires_grad: autograd.get(idx).is_some_and(|a| a.requires_grad),
            keep_input_mutations,
            mutation_type: MutationType::NotMutated,
        };
        let p = out.len();
        info.mutation_type = info
            .derive_mutation_type()
            .map_err(|e| AnalysisError::Torch(e.at_input(p)))?;
        out.push(info);
    }
    Ok(out)
}

/// Growing an input with `resize_` is refused by functionalization (semantics §3.2 rule 5).
pub fn check_resizes(trace: &AliasTrace, facts: &dyn NodeFacts) -> Result<(), TorchError> {
    for r in &trace.resizes {
        let nbytes = |node: usize| {
            facts
                .geometry(node)
                .and_then(|g| facts.hint(&g.storage_nbytes))
        };
        if let (Some(after), Some(before)) = (nbytes(r.node), nbytes(r.before)) {
            if after > before {
                return Err(TorchError::new(
                    Stage::CollectMetadata,
                    ExceptionType::RuntimeError,
                    "Attempted to resize a view tensor to a larger size. This is not allowed in the \
                     functionalization pass",
                )
                .at_node(r.node));
            }
        }
    }
    Ok(())
}

/// Output classification result: per-output info and the intermediate bases.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Outputs {
    /// One `OutputAliasInfo` per output.
    pub info: Vec<OutputAliasInfo>,
    /// Objects appended as intermediate bases, with the output that registered each.
    pub intermediate_bases: Vec<(ObjectIdx, usize)>,
}

/// PyTorch's `MetadataKey` (semantics §2.5): dtype is deliberately absent.
#[derive(PartialEq, Eq, Hash)]
struct MetadataKey<'a> {
    shape: &'a [SizeExpr],
    layout: &'a str,
    /// Strides and offset; absent for sparse layouts.
    strided: Option<(&'a [SizeExpr], &'a SizeExpr)>,
    is_conj: bool,
    is_neg: bool,
}

fn metadata_key(g: &Geometry) -> MetadataKey<'_> {
    MetadataKey {
        shape: &g.shape,
        layout: &g.layout,
        strided: (!g.is_sparse()).then_some((g.stride.as_slice(), &g.storage_offset)),
        is_conj: g.is_conj,
        is_neg: g.is_neg,
    }
}

/// Output classification (semantics §3.3.3–§3.3.5).
pub fn output_info(
    trace: &AliasTrace,
    autograd: &[FinalAutograd],
    input_info: &[InputAliasInfo],
    facts: &dyn NodeFacts,
) -> Result<Outputs, AnalysisError> {
    let final_geometry = |o: ObjectIdx| {
        trace
            .objects
            .get(o)
            .and_then(|obj| facts.geometry(obj.last_node))
    };
    let ag = |o: ObjectIdx| {
        autograd.get(o).copied().unwrap_or(FinalAutograd {
            requires_grad: false,
            has_grad_fn: false,
            custom_grad_fn: false,
            poisoned: false,
        })
    };

    // Input storage map, built after the run: the last position wins (§5 item 10).
    let mut in_store: HashMap<usize, usize> = HashMap::new();
    for (i, slot) in trace.inputs.iter().enumerate() {
        if let Some(obj) = slot.and_then(|o| trace.objects.get(o)) {
            in_store.insert(obj.py_storage, i);
        }
    }
    let output_objects: Vec<Option<ObjectIdx>> = trace
        .outputs
        .iter()
        .map(|s| match s {
            OutputSlot::Tensor(o) => Some(*o),
            _ => None,
        })
        .collect();
    // Last position of each object among the outputs (§5 item 10).
    let mut last_position: HashMap<ObjectIdx, usize> = HashMap::new();
    for (k, o) in output_objects.iter().enumerate() {
        if let Some(o) = o {
            last_position.insert(*o, k);
        }
    }
    let out_pos = |x: ObjectIdx| last_position.get(&x).copied();

    // Pre-pass (§3.3.3).
    let mut count: HashMap<usize, usize> = HashMap::new();
    let mut multi: HashMap<usize, usize> = HashMap::new();
    // Grad-requiring outputs by (storage, MetadataKey), each object once (a Python set).
    let mut rg_by_key: HashMap<(usize, MetadataKey<'_>), Vec<ObjectIdx>> = HashMap::new();
    let mut rg_seen: std::collections::HashSet<ObjectIdx> = std::collections::HashSet::new();
    for o in output_objects.iter().flatten() {
        let Some(obj) = trace.objects.get(*o) else {
            continue;
        };
        let a = ag(*o);
        if a.poisoned {
            return Err(TorchError::new(
                Stage::CollectMetadata,
                ExceptionType::RuntimeError,
                "a view created in no_grad mode was returned after its base was modified inplace \
                 with grad mode enabled",
            )
            .at_node(obj.last_use)
            .into());
        }
        *count.entry(obj.py_storage).or_default() += 1;
        if obj.multi_output_view {
            *multi.entry(obj.py_storage).or_default() += 1;
        }
        if a.requires_grad && rg_seen.insert(*o) {
            if let Some(g) = final_geometry(*o) {
                rg_by_key
                    .entry((obj.py_storage, metadata_key(g)))
                    .or_default()
                    .push(*o);
            }
        }
    }

    let mut intermediate_bases: Vec<(ObjectIdx, usize)> = Vec::new();
    let mut base_index: HashMap<ObjectIdx, usize> = HashMap::new();
    let mut info = Vec::with_capacity(trace.outputs.len());
    for (k, slot) in trace.outputs.iter().enumerate() {
        let o = match slot {
            OutputSlot::Tensor(o) => *o,
            OutputSlot::Node(n) => {
                info.push(non_tensor_output(RawType::Python(facts.value_type(*n))));
                continue;
            }
            OutputSlot::Literal(t) => {
                info.push(non_tensor_output(RawType::Python(t)));
                continue;
            }
        };
        let Some(obj) = trace.objects.get(o) else {
            continue;
        };
        let geometry = final_geometry(o);
        let a = ag(o);
        let s = obj.py_storage;
        let c = count.get(&s).copied().unwrap_or(0);
        let nm = c.saturating_sub(multi.get(&s).copied().unwrap_or(0));
        let base = obj.base;
        let base_rg = base.is_some_and(|b| ag(b).requires_grad);

        let (output_type, base_idx) =
            if in_store.contains_key(&s) && a.has_grad_fn && a.custom_grad_fn {
                (OutputType::CustomFunctionView, None)
            } else if let (Some(&i), false) = (in_store.get(&s), obj.storage_changed) {
                if a.has_grad_fn && nm == 0 {
                    (OutputType::NonAlias, Some(i))
                } else if obj.is_input {
                    (OutputType::IsInput, Some(i))
                } else {
                    (OutputType::AliasOfInput, Some(i))
                }
            } else if obj.storage_changed && obj.is_input {
                (OutputType::IsInput, in_store.get(&s).copied())
            } else if let (Some(b), true, true) = (base, a.requires_grad, base_rg) {
                if c == 1 || nm <= 1 {
                    (OutputType::UnsafeViewAlias, None)
                } else if let Some(p) = out_pos(b) {
                    (OutputType::AliasOfIntermediateBaseIsUserOutput, Some(p))
                } else if let Some(&j) = base_index.get(&b) {
                    (OutputType::AliasOfIntermediate, Some(j))
                } else {
                    base_index.insert(b, intermediate_bases.len());
                    intermediate_bases.push((b, k));
                    (
                        OutputType::AliasOfIntermediateSaveAsOutput,
                        Some(intermediate_bases.len() - 1),
                    )
                }
            } else if let Some(twin) = (c > 1 && !a.requires_grad)
                .then(|| {
                    let key = geometry.map(metadata_key)?;
                    // The first twin in insertion order stands for Python's set order.
                    rg_by_key.get(&(s, key))?.iter().copied().find(|&t| t != o)
                })
                .flatten()
            {
                (
                    OutputType::AliasOfIntermediateBaseIsUserOutput,
                    out_pos(twin),
                )
            } else if let Some(p) = base
                .filter(|&b| {
                    let bg = final_geometry(b);
                    matches!((geometry, bg), (Some(g), Some(bg)) if has_same_metadata(g, bg))
                })
                .and_then(out_pos)
            {
                (OutputType::AliasOfIntermediateBaseIsUserOutput, Some(p))
            } else {
                (OutputType::NonAlias, None)
            };

        let records_sequence = output_type.aliases_intermediate()
            || (output_type == OutputType::AliasOfInput
                && base_idx
                    .and_then(|i| input_info.get(i))
                    .is_some_and(|inp| !inp.mutates_metadata));
        info.push(OutputAliasInfo {
            output_type,
            raw_type: RawType::FunctionalTensor,
            base_idx,
            dynamic_dims: Some(geometry.map_or_else(Vec::new, |g| {
                g.shape
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_int().is_none())
                    .map(|(d, _)| d)
                    .collect()
            })),
            requires_grad: a.requires_grad,
            requires_grad_for_backward: a.requires_grad && (base.is_none() || a.has_grad_fn),
            view_meta_sequence: records_sequence.then(|| {
                trace
                    .view_chain(o)
                    .iter()
                    .map(|s| format!("{s}_ViewMeta"))
                    .collect()
            }),
        });
    }
    Ok(Outputs {
        info,
        intermediate_bases,
    })
}

fn non_tensor_output(raw_type: RawType) -> OutputAliasInfo {
    OutputAliasInfo {
        output_type: OutputType::NonAlias,
        raw_type,
        base_idx: None,
        dynamic_dims: None,
        requires_grad: false,
        requires_grad_for_backward: false,
        view_meta_sequence: None,
    }
}

/// semantics §2.5 (dtype is deliberately not compared).
fn has_same_metadata(a: &Geometry, b: &Geometry) -> bool {
    a.shape == b.shape
        && a.layout == b.layout
        && (a.is_sparse() || (a.stride == b.stride && a.storage_offset == b.storage_offset))
        && a.is_conj == b.is_conj
        && a.is_neg == b.is_neg
}

/// Traced tangents (semantics §3.3.6).
pub fn traced_tangents(
    trace: &AliasTrace,
    input_info: &[InputAliasInfo],
    outputs: &Outputs,
    facts: &dyn NodeFacts,
) -> Vec<Tangent> {
    let final_geometry = |o: ObjectIdx| {
        trace
            .objects
            .get(o)
            .and_then(|obj| facts.geometry(obj.last_node))
    };
    let mut out = Vec::new();
    for (i, info) in input_info.iter().enumerate() {
        if info.mutation_type != MutationType::MutatedOutGraph
            || !info.mutates_data
            || !info.requires_grad
        {
            continue;
        }
        let Some(g) = trace
            .inputs
            .get(i)
            .copied()
            .flatten()
            .and_then(final_geometry)
        else {
            continue;
        };
        out.push(Tangent {
            spec: coerce(input_mutation_tangent(g, facts)),
            desc: format!("__output_tangent(__input_mutation(args[{i}]))"),
        });
    }
    for (k, (o, slot)) in outputs.info.iter().zip(&trace.outputs).enumerate() {
        let OutputSlot::Tensor(obj) = slot else {
            continue;
        };
        if !o.output_type.is_non_aliased() || !o.requires_grad_for_backward {
            continue;
        }
        if let Some(g) = final_geometry(*obj) {
            out.push(Tangent {
                spec: coerce(TensorSpec::of(g)),
                desc: format!("__output_tangent(output[{k}])"),
            });
        }
    }
    for (b, k) in &outputs.intermediate_bases {
        if let Some(g) = final_geometry(*b) {
            out.push(Tangent {
                spec: coerce(TensorSpec::of(g)),
                desc: format!("__output_tangent(__intermediate_base(output[{k}]))"),
            });
        }
    }
    out
}

/// The functionalized updated value of a mutated input: offset 0, the
/// input's strides when dense, else dense strides in the same order.
fn input_mutation_tangent(g: &Geometry, facts: &dyn NodeFacts) -> TensorSpec {
    let stride = if layout::is_non_overlapping_and_dense(&g.shape, &g.stride, &|e| facts.hint(e)) {
        g.stride.clone()
    } else {
        layout::dense_strides_like(&g.shape, &g.stride, &|e| facts.hint(e))
    };
    TensorSpec {
        shape: g.shape.clone(),
        stride,
        storage_offset: SizeExpr::int(0),
        dtype: g.dtype.clone(),
    }
}

/// A tangent with symbolic geometry or internal overlap gets a memory-format
/// tag (§2.8) and is made contiguous unless it already is.
pub fn coerce(spec: TensorSpec) -> TensorSpec {
    let symbolic = spec
        .shape
        .iter()
        .chain(&spec.stride)
        .any(|e| e.as_int().is_none());
    let tagged = symbolic || layout::has_internal_overlap(&spec.shape, &spec.stride);
    if !tagged || layout::is_contiguous(&spec.shape, &spec.stride) {
        return spec;
    }
    TensorSpec {
        stride: layout::contiguous_strides(&spec.shape),
        storage_offset: SizeExpr::int(0),
        ..spec
    }
}

/// AOTAutograd's final joint-or-inference choice (semantics §3.4).
pub fn needs_autograd(
    any_input_requires_grad: bool,
    input_info: &[InputAliasInfo],
    output_info: &[OutputAliasInfo],
) -> bool {
    if !any_input_requires_grad {
        return false;
    }
    let output_needs_grad = output_info.iter().any(|o| {
        o.requires_grad
            && !(o.output_type.aliases_input()
                && o.base_idx
                    .and_then(|i| input_info.get(i))
                    .is_some_and(|i| i.requires_grad))
    });
    let input_needs_grad = input_info.iter().any(|i| {
        i.requires_grad
            && i.mutates_data
            && !i.mutations_under_no_grad_or_inference_mode
            && !i.mutations_hidden_from_autograd
    });
    output_needs_grad || input_needs_grad
}
