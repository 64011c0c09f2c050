//! Synthetic bases for aliased inputs that are mutated (`merge_view_inputs`
//! and `create_synthetic_base_metadata`, semantics §3.7–§3.8).

use std::sync::Arc;

use super::args::{merge_args, ArgReader};
use super::dedupe::post_dedupe_meta;
use super::meta::needs_autograd;
use super::overlap::GroupOverlaps;
use super::{ok, QueryResult};
use crate::analysis::synthetic_base::{
    plan_synthetic_bases, OverlapOf, SyntheticBasePlan, SyntheticBaseReport,
};
use crate::db::{GraphInput, OverlapMode};

/// The report's `synthetic_base` block: the plan and the arguments.
#[salsa::tracked(returns(ref))]
pub fn synthetic_bases(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<SyntheticBaseReport>> {
    Ok(Arc::new(SyntheticBaseReport {
        plan: ok(synthetic_base_plan(db, graph))?.clone(),
        args: ok(merge_args(db, graph))?.clone(),
    }))
}

/// `merge_view_inputs` + `create_synthetic_base_metadata` (semantics §3.7–§3.8).
#[salsa::tracked(returns(ref))]
pub fn synthetic_base_plan(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<SyntheticBasePlan>> {
    let meta = post_dedupe_meta(db, graph)?;
    let args = &ArgReader::new(db, graph)?;
    let is_inference = !needs_autograd(db, graph).clone()?;
    let groups = GroupOverlaps::new(db, graph);
    let mode = graph.overlap_mode(db);
    let torch = groups.relation(OverlapMode::Torch);
    // In exact mode, PyTorch's own decision is computed too, to name the differences.
    let torch: Option<&dyn OverlapOf> = (mode == OverlapMode::Exact).then_some(&torch as _);
    Ok(Arc::new(plan_synthetic_bases(
        meta,
        args,
        is_inference,
        &groups.relation(mode),
        torch,
    )))
}
