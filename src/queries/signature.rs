//! Export graph signatures: the dump's facts export reads, gathered once
//! (`export_graph`), and the requested flavours' signatures on top of the
//! metadata each flavour collects (`graph_signatures`).

use std::sync::Arc;

use std::collections::HashMap;

use crate::analysis::error::{ExceptionType, Stage, TorchError};
use crate::analysis::meta::InputAliasInfo;
use crate::analysis::signature::{
    self, ArgKind, Collected, Constant, ExportGraph, ExportInput, ExportOutput, OutputValue,
    Signatures,
};
use crate::analysis::synthetic_base::merge_view_inputs;
use crate::analysis::trace::{AliasTrace, OutputSlot};
use crate::analysis::AnalysisError;
use crate::db::{GraphInput, NodeInput, OverlapMode};
use crate::ir::{Arg, Diagnostic, Flavour, InputKind, NodeOp, NodeStructure};

use super::args::ArgReader;
use super::meta::{alias_trace, export_metadata};
use super::rewrite::{group_overlap, storage_groups, StorageGroup};
use super::QueryResult;

/// What export reads of the graph besides its metadata: placeholders with
/// their kinds, FQNs, identities and entry autograd facts; what each output
/// is in the functional graph; the pytree specs.
#[salsa::tracked(returns(ref))]
pub fn export_graph(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<ExportGraph>> {
    let _span = tracing::debug_span!("export_graph").entered();
    let trace = alias_trace(db, graph).as_ref().map_err(Clone::clone)?;
    let nodes = graph.nodes(db);
    // The last write to each functional storage, found once (not per input).
    let mut last_write = std::collections::HashMap::new();
    for w in &trace.writes {
        if let Some(o) = trace.objects.get(w.object) {
            last_write.insert(o.functional_storage, w.node);
        }
    }
    let inputs = trace
        .input_nodes
        .iter()
        .enumerate()
        .map(|(p, &n)| export_input(db, trace, nodes, p, n, &last_write))
        .collect::<QueryResult<Vec<_>>>()?;
    check_input_order(&inputs)?;
    let custom_ops = custom_ops_requiring_grad(db, nodes);
    let outputs = export_outputs(db, trace, nodes, &custom_ops);

    let count = |f: fn(InputKind) -> bool| inputs.iter().filter(|i| f(i.kind)).count();
    let (in_spec, out_spec) = graph.specs(db);
    let (in_spec, out_spec) = signature::export_specs(
        in_spec.as_ref(),
        out_spec.as_ref(),
        count(|k| matches!(k, InputKind::Parameter | InputKind::Buffer)),
        count(|k| k == InputKind::UserInput),
        outputs.len(),
    )
    .map_err(|e| AnalysisError::Invalid(Diagnostic::at(None, e.path, e.message)))?;
    Ok(Arc::new(ExportGraph {
        inputs,
        outputs,
        in_spec,
        out_spec,
    }))
}

/// The export signatures of the flavours the dump asks for (`config.export`,
/// semantics §3.10). PyTorch's refusals are results, not errors; only a
/// graph that cannot be analysed is.
#[salsa::tracked(returns(ref))]
pub fn graph_signatures(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Signatures>> {
    let _span = tracing::debug_span!("graph_signatures").entered();
    let export = match export_graph(db, graph) {
        Ok(export) => export,
        // The functionalization model itself refused (in any grad mode): so does every flavour.
        Err(AnalysisError::Torch(e)) => {
            return Ok(Arc::new(Signatures(
                export_flavours(db, graph)
                    .iter()
                    .map(|&f| (f, signature::refused(f, e)))
                    .collect(),
            )))
        }
        Err(e) => return Err(e.clone()),
    };
    let mut out = Vec::new();
    for &flavour in export_flavours(db, graph) {
        let collected = match export_metadata(db, graph, flavour) {
            Ok(meta) => Ok(Collected {
                input_info: &meta.input_info,
                output_info: &meta.output_info,
                traced_tangents: &meta.traced_tangents,
                grad_enabled_mutation: meta.grad_enabled_mutation,
            }),
            Err(AnalysisError::Torch(e)) => Err(e),
            Err(e) => return Err(e.clone()),
        };
        let merge = |info: &[InputAliasInfo], is_inference: bool| {
            synthetic_base_needed(db, graph, info, is_inference)
        };
        out.push((
            flavour,
            signature::export(export, flavour, collected, &merge),
        ));
    }
    Ok(Arc::new(Signatures(out)))
}

/// The flavours asked for, projected out of the config so other config edits stop here.
#[salsa::tracked(returns(ref))]
fn export_flavours(db: &dyn salsa::Database, graph: GraphInput) -> Vec<Flavour> {
    graph.config(db).export.clone()
}

/// Whether `merge_view_inputs` builds a synthetic base for these input
/// infos, with PyTorch's overlap check; its refusal as an error.
fn synthetic_base_needed(
    db: &dyn salsa::Database,
    graph: GraphInput,
    info: &[InputAliasInfo],
    is_inference: bool,
) -> Result<bool, TorchError> {
    // Nothing mutated, nothing merged; the arguments need not be read.
    if !info.iter().any(|i| i.mutates_data) {
        return Ok(false);
    }
    let args = ArgReader::for_export(db, graph).map_err(|e| match e {
        AnalysisError::Torch(e) => e,
        AnalysisError::Invalid(d) => TorchError::new(
            Stage::MergeViewInputs,
            ExceptionType::AssertionError,
            d.to_string(),
        ),
    })?;
    let by_first_member: HashMap<usize, StorageGroup<'_>> = storage_groups(db, graph)
        .iter()
        .filter_map(|g| g.members(db).first().map(|&m| (m, *g)))
        .collect();
    let overlapping = |members: &[usize]| -> Vec<usize> {
        members
            .first()
            .and_then(|m| by_first_member.get(m))
            .map_or_else(
                || members.to_vec(),
                |g| group_overlap(db, *g, OverlapMode::Torch).0.clone(),
            )
    };
    Ok(merge_view_inputs(&args, info, is_inference, &overlapping)?.is_some())
}

fn export_input(
    db: &dyn salsa::Database,
    trace: &AliasTrace,
    nodes: &[NodeInput],
    p: usize,
    n: usize,
    last_write: &std::collections::HashMap<usize, usize>,
) -> QueryResult<ExportInput> {
    let node = nodes.get(n).ok_or_else(|| {
        AnalysisError::Invalid(Diagnostic::at(
            None,
            "nodes",
            format!("placeholder {p} is missing"),
        ))
    })?;
    let structure = node.structure(db);
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
    let facts = node.facts(db);
    let autograd = facts.autograd;
    let object = trace.inputs.get(p).copied().flatten();
    let functional_storage = object
        .and_then(|o| trace.objects.get(o))
        .map(|o| o.functional_storage);
    // The last write to the input's memory names its updated value.
    let update_hint = functional_storage
        .and_then(|fs| last_write.get(&fs))
        .and_then(|&w| nodes.get(w))
        .map(|w| w.structure(db).name.clone());
    let resized = structure.tensor_id.is_some()
        && trace.resizes.iter().any(|r| {
            nodes
                .get(r.node)
                .is_some_and(|rn| rn.structure(db).tensor_id == structure.tensor_id)
        });
    Ok(ExportInput {
        name: structure.name.clone(),
        kind: *kind,
        fqn: fqn.clone(),
        arg: facts.arg_kind.clone(),
        requires_grad: autograd.is_some_and(|a| a.requires_grad),
        is_leaf: autograd.is_none_or(|a| a.is_leaf),
        tensor_id: structure.tensor_id,
        storage: facts.storage,
        resized,
        update_hint,
    })
}

/// `GraphSignature` assumes parameters, then buffers, then user inputs (format §5).
fn check_input_order(inputs: &[ExportInput]) -> QueryResult<()> {
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

/// Per node: the custom operator (not ATen, not a Python callable) whose
/// grad-requiring result the node's value is computed from, if any.
fn custom_ops_requiring_grad(
    db: &dyn salsa::Database,
    nodes: &[NodeInput],
) -> Vec<Option<Arc<str>>> {
    let structures: Vec<&NodeStructure> = nodes.iter().map(|n| n.structure(db)).collect();
    let requires_grad = |i: usize| {
        nodes
            .get(i)
            .and_then(|n| n.facts(db).autograd)
            .map(|a| a.requires_grad)
    };
    signature::custom_ops_upstream(&structures, &requires_grad)
}

fn export_outputs(
    db: &dyn salsa::Database,
    trace: &AliasTrace,
    nodes: &[NodeInput],
    custom_ops: &[Option<Arc<str>>],
) -> Vec<ExportOutput> {
    let literals: &[Arg] = match nodes.last().and_then(|n| n.structure(db).args.first()) {
        Some(Arg::List(items)) => items,
        _ => &[],
    };
    let name_of = |n: usize| {
        nodes
            .get(n)
            .map_or_else(|| Arc::from("out"), |n| n.structure(db).name.clone())
    };
    trace
        .outputs
        .iter()
        .enumerate()
        .map(|(k, slot)| match slot {
            OutputSlot::Tensor(o) => {
                let obj = trace.objects.get(*o);
                let last_node = obj.map_or(0, |obj| obj.last_node);
                let floating = nodes
                    .get(last_node)
                    .is_some_and(|n| n.facts(db).is_floating);
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
                let kind = nodes
                    .get(*n)
                    .map_or(ArgKind::Constant(Constant::None), |node| {
                        node.facts(db).arg_kind.clone()
                    });
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
