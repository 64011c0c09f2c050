//! Metadata collection: the alias trace, final autograd state, per-input
//! and per-output facts, tangents, `ViewAndMutationMeta`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::analysis::autograd::{final_autograd, FinalAutograd};
use crate::analysis::collect::{self, Facts, Outputs};
use crate::analysis::meta::{InputAliasInfo, Tangent, ViewAndMutationMeta};
use crate::analysis::ops::{resolve, OpInfo};
use crate::analysis::trace::{trace_replayed, AliasTrace};
use crate::db::{GraphInput, ValueFacts};
use crate::ir::expr::SizeExpr;
use crate::ir::{Autograd, Flavour, NodeOp, NodeStructure};
use crate::schema::is_python_callable;

use super::{ok, QueryResult};

/// Grad mode at entry, projected out of the config so other config edits stop here.
#[salsa::tracked(returns(copy))]
pub fn grad_enabled_at_entry(db: &dyn salsa::Database, graph: GraphInput) -> bool {
    graph.config(db).grad_enabled
}

#[salsa::tracked(returns(copy))]
pub fn keep_input_mutations(db: &dyn salsa::Database, graph: GraphInput) -> bool {
    graph.config(db).keep_input_mutations
}

/// Every operator the graph calls, resolved once.
#[salsa::tracked(returns(ref))]
pub fn operator_table(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> Arc<HashMap<Arc<str>, Result<OpInfo, String>>> {
    let operators = graph.operators(db);
    let mut table = HashMap::new();
    for node in graph.nodes(db) {
        let target = &node.structure(db).target;
        let operator = node.structure(db).op == NodeOp::CallFunction && !is_python_callable(target);
        if operator && !table.contains_key(target) {
            table.insert(target.clone(), resolve(target, operators));
        }
    }
    Arc::new(table)
}

/// The functionalization model over the graph's structure (no values read).
#[salsa::tracked(returns(ref))]
pub fn alias_trace(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<AliasTrace>> {
    let _span = tracing::debug_span!("alias_trace").entered();
    let mode = grad_enabled_at_entry(db, graph);
    trace_in_grad_mode(db, graph, mode, mode)
}

fn trace_in_grad_mode(
    db: &dyn salsa::Database,
    graph: GraphInput,
    recorded: bool,
    grad_enabled: bool,
) -> QueryResult<Arc<AliasTrace>> {
    let table = operator_table(db, graph);
    let structures: Vec<&NodeStructure> = graph.nodes(db).iter().map(|n| n.structure(db)).collect();
    let lookup = |target: &str| -> Result<&OpInfo, String> {
        match table.get(target) {
            Some(Ok(op)) => Ok(op),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("unknown operator `{target}`")),
        }
    };
    trace_replayed(&structures, &lookup, recorded, grad_enabled).map(Arc::new)
}

/// Metadata collection as `aot_export_module` runs it for `flavour`: in the
/// flavour's own grad mode (inference under `no_grad`, joint under
/// `enable_grad`), whatever the dump's. In the dump's mode this is
/// [`fw_metadata`]. A dump traced with grad on is re-read under `no_grad` with
/// [`collect::recorded_without_grad`]; a dump traced under `no_grad` has no
/// record of what would require grad with grad on, so its facts are used as
/// they are.
#[salsa::tracked(returns(ref))]
pub fn export_metadata(
    db: &dyn salsa::Database,
    graph: GraphInput,
    flavour: Flavour,
) -> QueryResult<Arc<ViewAndMutationMeta>> {
    let mode = flavour.grad_enabled();
    let recorded_mode = grad_enabled_at_entry(db, graph);
    if mode == recorded_mode {
        return ok(fw_metadata(db, graph)).cloned();
    }
    let trace = trace_in_grad_mode(db, graph, recorded_mode, mode)?;
    let nodes = graph.nodes(db);
    let facts = value_facts(db, graph);
    let recorded = |i: usize| facts.get(i).and_then(|f| f.autograd);
    let passed_in_requiring_grad: HashSet<u64> = trace
        .input_nodes
        .iter()
        .filter(|&&i| recorded(i).is_some_and(|a| a.requires_grad))
        .filter_map(|&i| nodes.get(i).and_then(|n| n.structure(db).tensor_id))
        .collect();
    let in_mode = |i: usize| {
        if mode {
            return recorded(i);
        }
        let id = nodes.get(i).and_then(|n| n.structure(db).tensor_id);
        collect::recorded_without_grad(
            recorded(i),
            trace.grad_mode_differs.get(i).copied().unwrap_or(false),
            id.is_some_and(|id| passed_in_requiring_grad.contains(&id)),
        )
    };
    let autograd = final_autograd(&trace, &in_mode)?;
    let kim = keep_input_mutations(db, graph);
    with_facts_recorded(db, graph, &in_mode, |facts| {
        collect::check_resizes(&trace, facts)?;
        let inputs = collect::input_info(&trace, &autograd, facts, kim)?;
        let outputs = collect::output_info(&trace, &autograd, &inputs, facts)?;
        let tangents = collect::traced_tangents(&trace, &inputs, &outputs, facts);
        Ok(Arc::new(ViewAndMutationMeta {
            input_info: inputs,
            output_info: outputs.info,
            num_intermediate_bases: outputs.intermediate_bases.len(),
            keep_input_mutations: kim,
            traced_tangents: tangents,
            grad_enabled_mutation: (trace.grad_enabled_at_exit != trace.grad_enabled_at_entry)
                .then_some(trace.grad_enabled_at_exit),
            num_tokens: 0,
        }))
    })
}

/// Every node's value facts in one place. It reads no geometry, so after a
/// shape or stride edit salsa confirms it, and whatever reads facts through
/// it, without visiting the nodes one by one.
#[salsa::tracked(returns(ref))]
pub fn value_facts(db: &dyn salsa::Database, graph: GraphInput) -> Vec<ValueFacts> {
    graph
        .nodes(db)
        .iter()
        .map(|n| n.facts(db).clone())
        .collect()
}

#[salsa::tracked(returns(ref))]
pub fn final_autograd_state(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<FinalAutograd>>> {
    let trace = ok(alias_trace(db, graph))?;
    let facts = value_facts(db, graph);
    let recorded = |i: usize| facts.get(i).and_then(|f| f.autograd);
    final_autograd(trace, &recorded).map(Arc::new)
}

/// Runs `f` with read access to the nodes' facts and geometry.
fn with_facts<R>(
    db: &dyn salsa::Database,
    graph: GraphInput,
    f: impl FnOnce(&Facts<'_>) -> R,
) -> R {
    let facts = value_facts(db, graph);
    let recorded = |i: usize| facts.get(i).and_then(|f| f.autograd);
    with_facts_recorded(db, graph, &recorded, f)
}

/// [`with_facts`] with the autograd facts given by `recorded`.
fn with_facts_recorded<R>(
    db: &dyn salsa::Database,
    graph: GraphInput,
    recorded: &dyn Fn(usize) -> Option<Autograd>,
    f: impl FnOnce(&Facts<'_>) -> R,
) -> R {
    let nodes = graph.nodes(db);
    let symbols = graph.symbols(db);
    let geometry = |i: usize| {
        nodes
            .get(i)
            .and_then(|n| n.value(db).as_tensor())
            .map(|t| &t.geometry)
    };
    let facts = value_facts(db, graph);
    let value_type = |i: usize| facts.get(i).map_or("NoneType", |f| f.type_name);
    let hint = |e: &SizeExpr| e.eval(&|s: &str| symbols.get(s).map(|sym| sym.hint)).ok();
    f(&Facts {
        geometry: &geometry,
        recorded_autograd: recorded,
        value_type: &value_type,
        hint: &hint,
    })
}

#[salsa::tracked(returns(ref))]
pub fn input_alias_info(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<InputAliasInfo>>> {
    let trace = ok(alias_trace(db, graph))?;
    let autograd = ok(final_autograd_state(db, graph))?;
    with_facts(db, graph, |facts| {
        collect::check_resizes(trace, facts)?;
        collect::input_info(trace, autograd, facts, keep_input_mutations(db, graph))
    })
    .map(Arc::new)
}

#[salsa::tracked(returns(ref))]
pub fn output_alias_info(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<Outputs>> {
    let trace = ok(alias_trace(db, graph))?;
    let autograd = ok(final_autograd_state(db, graph))?;
    let inputs = ok(input_alias_info(db, graph))?;
    with_facts(db, graph, |facts| {
        collect::output_info(trace, autograd, inputs, facts)
    })
    .map(Arc::new)
}

#[salsa::tracked(returns(ref))]
pub fn traced_tangents(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<Tangent>>> {
    let trace = ok(alias_trace(db, graph))?;
    let inputs = ok(input_alias_info(db, graph))?;
    let outputs = ok(output_alias_info(db, graph))?;
    Ok(Arc::new(with_facts(db, graph, |facts| {
        collect::traced_tangents(trace, inputs, outputs, facts)
    })))
}

/// The `ViewAndMutationMeta` of metadata collection (semantics §3.3).
#[salsa::tracked(returns(ref))]
pub fn fw_metadata(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<ViewAndMutationMeta>> {
    let _span = tracing::debug_span!("fw_metadata").entered();
    let trace = ok(alias_trace(db, graph))?;
    let inputs = ok(input_alias_info(db, graph))?;
    let outputs = ok(output_alias_info(db, graph))?;
    let tangents = ok(traced_tangents(db, graph))?;
    Ok(Arc::new(ViewAndMutationMeta {
        input_info: inputs.to_vec(),
        output_info: outputs.info.clone(),
        num_intermediate_bases: outputs.intermediate_bases.len(),
        keep_input_mutations: keep_input_mutations(db, graph),
        traced_tangents: tangents.to_vec(),
        grad_enabled_mutation: (trace.grad_enabled_at_exit != trace.grad_enabled_at_entry)
            .then_some(trace.grad_enabled_at_exit),
        num_tokens: 0,
    }))
}

/// AOTAutograd's final joint-or-inference decision (semantics §3.4).
#[salsa::tracked(returns(clone))]
pub fn needs_autograd(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<bool> {
    let meta = ok(fw_metadata(db, graph))?;
    let trace = ok(alias_trace(db, graph))?;
    let facts = value_facts(db, graph);
    let any_input_requires_grad = trace.input_nodes.iter().any(|&i| {
        facts
            .get(i)
            .and_then(|f| f.autograd)
            .is_some_and(|a| a.requires_grad)
    });
    Ok(collect::needs_autograd(
        any_input_requires_grad,
        &meta.input_info,
        &meta.output_info,
    ))
}
