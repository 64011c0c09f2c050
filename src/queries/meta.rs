//! Metadata collection: the alias trace, final autograd state, per-input
//! and per-output facts, tangents, `ViewAndMutationMeta`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::analysis::autograd::{final_autograd, FinalAutograd, RecordedAutograd};
use crate::analysis::collect::{self, NodeFacts, Outputs, WithoutGrad};
use crate::analysis::meta::{InputAliasInfo, Tangent, ViewAndMutationMeta};
use crate::analysis::ops::{resolve, OpInfo};
use crate::analysis::signature::Call;
use crate::analysis::trace::{
    calls_operator, step, trace_replayed, AliasTrace, Links, NodeRefs, Step,
};
use crate::db::{GraphInput, NodeInput, ValueFacts};
use crate::ir::expr::SizeExpr;
use crate::ir::{Autograd, Flavour, Geometry, Symbols};

use super::{ok, QueryResult};

/// Grad mode at entry, projected out of the config so other config edits stop here.
#[salsa::tracked(returns(copy))]
pub fn grad_enabled_at_entry(db: &dyn salsa::Database, graph: GraphInput) -> bool {
    graph.config(db).grad_enabled
}

/// `config.keep_input_mutations`, projected so other config edits stop here.
#[salsa::tracked(returns(copy))]
pub fn keep_input_mutations(db: &dyn salsa::Database, graph: GraphInput) -> bool {
    graph.config(db).keep_input_mutations
}

/// An operator called by a graph, as the graph's dump describes it.
#[salsa::interned(debug)]
struct OperatorKey<'db> {
    graph: GraphInput,
    #[returns(ref)]
    target: Arc<str>,
}

/// One operator resolved: per target, so that a new operator in the dump
/// re-resolves only itself.
#[salsa::tracked(returns(ref))]
fn operator_info<'db>(
    db: &'db dyn salsa::Database,
    key: OperatorKey<'db>,
) -> Result<OpInfo, String> {
    resolve(key.target(db), key.graph(db).operators(db))
}

/// What the whole-graph passes read of one node's own structure, decided
/// from the node and its operator alone: an edit of a node re-runs its
/// block (`block_local`), and a pass over all nodes only when this changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeLocal {
    /// What the alias trace reads.
    pub step: Step,
    /// What `custom_ops_upstream` reads.
    pub call: Call,
    /// What the graph's [`Links`] and names read.
    pub refs: NodeRefs,
}

fn node_local(db: &dyn salsa::Database, graph: GraphInput, node: NodeInput) -> NodeLocal {
    let structure = node.structure(db);
    let op = calls_operator(structure)
        .then(|| operator_info(db, OperatorKey::new(db, graph, structure.target.clone())));
    NodeLocal {
        step: step(structure, op),
        call: Call::of(structure),
        refs: NodeRefs::of(structure),
    }
}

/// The graph's nodes cut into blocks of consecutive nodes whose
/// [`NodeLocal`]s are one query. After an edit salsa confirms every memo that
/// read a node's structure, and a confirmed memo costs about as much as a
/// small query run: a memo per block of about 64 nodes instead of one per
/// node makes an op edit cheap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeBlocks {
    /// The blocks, in graph order.
    blocks: Vec<Arc<[NodeInput]>>,
    /// Each block's index, by its first node.
    by_first: HashMap<NodeInput, usize>,
}

/// The most nodes in a block, when identities end none for a while.
const MAX_BLOCK: usize = 256;

/// Whether a block ends after `node`: decided by the node's identity (about
/// one node in 64), not by position, so that inserting or removing a node
/// changes its own block and leaves every other block, and its memo, alone.
fn ends_block(node: NodeInput) -> bool {
    let id = salsa::plumbing::AsId::as_id(&node).as_bits();
    // A multiplicative hash spreads consecutive identities; its top six bits
    // are zero one time in 64.
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58 == 0
}

/// The graph's nodes, cut into blocks.
#[salsa::tracked(returns(ref))]
fn node_blocks(db: &dyn salsa::Database, graph: GraphInput) -> NodeBlocks {
    let nodes = graph.nodes(db);
    let mut blocks = NodeBlocks::default();
    let mut block = Vec::with_capacity(MAX_BLOCK);
    for (i, &node) in nodes.iter().enumerate() {
        block.push(node);
        if ends_block(node) || block.len() == MAX_BLOCK || i + 1 == nodes.len() {
            if let Some(&first) = block.first() {
                blocks.by_first.insert(first, blocks.blocks.len());
                blocks.blocks.push(Arc::from(&block[..]));
            }
            block.clear();
        }
    }
    blocks
}

/// The nodes of the block that starts with `first`. Blocks are named by
/// their first node, not by their nodes: node inputs are reused, so the
/// memos of blocks that an edit retired are reused too, and a session that
/// sees thousands of insertions does not grow.
#[salsa::tracked(returns(ref))]
fn block_members(
    db: &dyn salsa::Database,
    graph: GraphInput,
    first: NodeInput,
) -> Arc<[NodeInput]> {
    let blocks = node_blocks(db, graph);
    blocks
        .by_first
        .get(&first)
        .and_then(|&i| blocks.blocks.get(i))
        .cloned()
        .unwrap_or_else(|| Arc::from([]))
}

/// The [`NodeLocal`]s of the nodes of the block that starts with `first`.
#[salsa::tracked(returns(ref))]
fn block_local(db: &dyn salsa::Database, graph: GraphInput, first: NodeInput) -> Vec<NodeLocal> {
    block_members(db, graph, first)
        .iter()
        .map(|&node| node_local(db, graph, node))
        .collect()
}

/// Every node's [`NodeLocal`], in graph order.
pub(super) fn node_locals(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> impl Iterator<Item = &NodeLocal> {
    node_blocks(db, graph)
        .blocks
        .iter()
        .filter_map(|block| block.first())
        .flat_map(move |&first| block_local(db, graph, first))
}

/// Every node's name and [`Links`], from the nodes' [`NodeLocal`]s: an edit
/// that keeps a node's name, refs and identity re-runs nothing here.
#[salsa::tracked(returns(ref))]
fn names_and_links(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> (Arc<Vec<Arc<str>>>, Arc<Links>) {
    let refs: Vec<&NodeRefs> = node_locals(db, graph).map(|l| &l.refs).collect();
    let names = refs.iter().map(|r| r.name.clone()).collect();
    (Arc::new(names), Arc::new(Links::of(&refs)))
}

/// The positions of the graph's placeholders, in order.
#[salsa::tracked(returns(ref))]
pub fn placeholder_positions(db: &dyn salsa::Database, graph: GraphInput) -> Vec<usize> {
    node_locals(db, graph)
        .enumerate()
        .filter(|(_, local)| matches!(local.step, Step::Placeholder))
        .map(|(i, _)| i)
        .collect()
}

/// Which node each argument names, and each node's tensor identity: a
/// rename that keeps them re-runs nothing that reads only this.
#[salsa::tracked(returns(ref))]
pub fn node_links(db: &dyn salsa::Database, graph: GraphInput) -> Arc<Links> {
    names_and_links(db, graph).1.clone()
}

/// Every node's name, in graph order.
#[salsa::tracked(returns(ref))]
pub fn node_names(db: &dyn salsa::Database, graph: GraphInput) -> Arc<Vec<Arc<str>>> {
    names_and_links(db, graph).0.clone()
}

/// The functionalization model over the graph's structure (no values read).
#[salsa::tracked(returns(ref))]
pub fn alias_trace(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<AliasTrace>> {
    let _span = tracing::debug_span!("alias_trace").entered();
    let mode = grad_enabled_at_entry(db, graph);
    trace_in_grad_mode(db, graph, mode, mode)
}

/// The alias trace run in grad mode `grad_enabled` at entry, whatever the
/// dump's (export traces each flavour in its own mode).
#[salsa::tracked(returns(ref))]
pub fn alias_trace_in_mode(
    db: &dyn salsa::Database,
    graph: GraphInput,
    grad_enabled: bool,
) -> QueryResult<Arc<AliasTrace>> {
    let recorded = grad_enabled_at_entry(db, graph);
    if recorded == grad_enabled {
        return ok(alias_trace(db, graph)).cloned();
    }
    trace_in_grad_mode(db, graph, recorded, grad_enabled)
}

fn trace_in_grad_mode(
    db: &dyn salsa::Database,
    graph: GraphInput,
    recorded: bool,
    grad_enabled: bool,
) -> QueryResult<Arc<AliasTrace>> {
    let nodes = graph.nodes(db);
    let steps: Vec<&Step> = node_locals(db, graph).map(|l| &l.step).collect();
    // Names are read only for a message, so a rename re-runs nothing here.
    let names = |i: usize| -> Arc<str> {
        nodes
            .get(i)
            .map_or_else(|| Arc::from("?"), |n| n.structure(db).name.clone())
    };
    trace_replayed(
        &steps,
        node_links(db, graph),
        &names,
        recorded,
        grad_enabled,
    )
    .map(Arc::new)
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
    let trace = ok(alias_trace_in_mode(db, graph, mode))?;
    let recorded = &value_facts(db, graph)[..];
    let without_grad;
    let in_mode: &dyn RecordedAutograd = if mode {
        &recorded
    } else {
        let ids = node_links(db, graph).tensor_ids.clone();
        without_grad =
            WithoutGrad::new(&recorded, ids, &trace.grad_mode_differs, &trace.input_nodes);
        &without_grad
    };
    let autograd = final_autograd(trace, in_mode)?;
    let kim = keep_input_mutations(db, graph);
    with_facts_recorded(db, graph, in_mode, |facts| {
        collect::check_resizes(trace, facts)?;
        let inputs = collect::input_info(trace, &autograd, facts, kim)?;
        let outputs = collect::output_info(trace, &autograd, &inputs, facts)?;
        let tangents = collect::traced_tangents(trace, &inputs, &outputs, facts);
        Ok(Arc::new(collect::view_and_mutation_meta(
            trace, inputs, &outputs, tangents, kim,
        )))
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

/// The autograd state of every object at the end of the function.
#[salsa::tracked(returns(ref))]
pub fn final_autograd_state(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<FinalAutograd>>> {
    let trace = ok(alias_trace(db, graph))?;
    final_autograd(trace, &&value_facts(db, graph)[..]).map(Arc::new)
}

/// Runs `f` with read access to the nodes' facts and geometry.
fn with_facts<R>(
    db: &dyn salsa::Database,
    graph: GraphInput,
    f: impl FnOnce(&dyn NodeFacts) -> R,
) -> R {
    let recorded = &value_facts(db, graph)[..];
    with_facts_recorded(db, graph, &recorded, f)
}

/// [`with_facts`] with the autograd facts given by `recorded`.
fn with_facts_recorded<R>(
    db: &dyn salsa::Database,
    graph: GraphInput,
    recorded: &dyn RecordedAutograd,
    f: impl FnOnce(&dyn NodeFacts) -> R,
) -> R {
    f(&FactsReader {
        db,
        nodes: graph.nodes(db),
        symbols: graph.symbols(db),
        facts: value_facts(db, graph),
        recorded,
    })
}

/// [`NodeFacts`] over the database: geometry read node by node, when asked.
struct FactsReader<'a> {
    db: &'a dyn salsa::Database,
    nodes: &'a [NodeInput],
    symbols: &'a Symbols,
    facts: &'a [ValueFacts],
    recorded: &'a dyn RecordedAutograd,
}

impl RecordedAutograd for FactsReader<'_> {
    fn recorded_autograd(&self, node: usize) -> Option<Autograd> {
        self.recorded.recorded_autograd(node)
    }
}

impl NodeFacts for FactsReader<'_> {
    fn geometry(&self, node: usize) -> Option<&Geometry> {
        self.nodes
            .get(node)
            .and_then(|n| n.value(self.db).as_tensor())
            .map(|t| &t.geometry)
    }
    fn value_type(&self, node: usize) -> &'static str {
        self.facts.get(node).map_or("NoneType", |f| f.type_name)
    }
    fn hint(&self, e: &SizeExpr) -> Option<i64> {
        e.eval(&|s: &str| self.symbols.get(s).map(|sym| sym.hint))
            .ok()
    }
}

/// `ViewAndMutationMeta.input_info`.
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

/// `ViewAndMutationMeta.output_info` and the intermediate bases.
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

/// `ViewAndMutationMeta.traced_tangents`.
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
    Ok(Arc::new(collect::view_and_mutation_meta(
        trace,
        inputs.to_vec(),
        outputs,
        tangents.to_vec(),
        keep_input_mutations(db, graph),
    )))
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
