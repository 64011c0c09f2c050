//! Export graph signatures: the dump's facts export reads, gathered once
//! (`export_graph`), and the requested flavours' signatures on top of the
//! metadata each flavour collects (`graph_signatures`).

use std::sync::Arc;

use crate::analysis::error::{ExceptionType, Stage, TorchError};
use crate::analysis::meta::InputAliasInfo;
use crate::analysis::signature::{
    self, Call, Collected, DumpNodes, ExportGraph, Signatures, SyntheticBaseCheck,
};
use crate::analysis::synthetic_base::merge_view_inputs;
use crate::analysis::AnalysisError;
use crate::db::{GraphInput, OverlapMode};
use crate::ir::Flavour;

use super::args::ArgReader;
use super::meta::{alias_trace, export_metadata, node_links, node_locals, node_names, value_facts};
use super::overlap::GroupOverlaps;
use super::{ok, QueryResult};

/// What export reads of the graph besides its metadata: placeholders with
/// their kinds, FQNs, identities and entry autograd facts; what each output
/// is in the functional graph; the pytree specs.
#[salsa::tracked(returns(ref))]
pub fn export_graph(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<ExportGraph>> {
    let _span = tracing::debug_span!("export_graph").entered();
    let trace = ok(alias_trace(db, graph))?;
    let nodes = graph.nodes(db);
    // Structures are read node by node, as asked (the placeholders and the
    // output), so an edit of another node re-runs nothing here.
    let structure = |i: usize| nodes.get(i).map(|n| &**n.structure(db));
    let (in_spec, out_spec) = graph.specs(db);
    signature::export_graph(
        DumpNodes {
            structure: &structure,
            names: node_names(db, graph),
            tensor_ids: &node_links(db, graph).tensor_ids,
        },
        nodes.last().map(|n| &**n.structure(db)),
        value_facts(db, graph),
        trace,
        custom_ops_upstream(db, graph),
        in_spec.as_ref(),
        out_spec.as_ref(),
    )
    .map(Arc::new)
}

/// Per node, the custom operator its value is computed from, if any.
#[salsa::tracked(returns(ref))]
fn custom_ops_upstream(db: &dyn salsa::Database, graph: GraphInput) -> Vec<Option<Arc<str>>> {
    let calls: Vec<&Call> = node_locals(db, graph).map(|l| &l.call).collect();
    signature::custom_ops_upstream(&calls, node_links(db, graph), &&value_facts(db, graph)[..])
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
        let check = MergeCheck { db, graph };
        out.push((
            flavour,
            signature::export(export, flavour, collected, &check),
        ));
    }
    Ok(Arc::new(Signatures(out)))
}

/// The flavours asked for, projected out of the config so other config edits stop here.
#[salsa::tracked(returns(ref))]
fn export_flavours(db: &dyn salsa::Database, graph: GraphInput) -> Vec<Flavour> {
    graph.config(db).export.clone()
}

/// [`SyntheticBaseCheck`] with PyTorch's overlap check, over the
/// arguments export sees.
struct MergeCheck<'db> {
    db: &'db dyn salsa::Database,
    graph: GraphInput,
}

impl SyntheticBaseCheck for MergeCheck<'_> {
    fn synthetic_base_needed(
        &self,
        info: &[InputAliasInfo],
        is_inference: bool,
    ) -> Result<bool, TorchError> {
        let MergeCheck { db, graph } = *self;
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
        let groups = GroupOverlaps::new(db, graph);
        let torch = groups.relation(OverlapMode::Torch);
        Ok(merge_view_inputs(&args, info, is_inference, &torch)?.is_some())
    }
}
