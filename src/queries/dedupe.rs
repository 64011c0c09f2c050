//! Dedupe of inputs passed twice (`AOTDedupeWrapper.pre_compile`,
//! semantics §3.5), and the metadata the later rewrites see after it.

use std::sync::Arc;

use super::meta::{alias_trace, fw_metadata};
use super::{ok, QueryResult};
use crate::analysis::dedupe::{dedupe as dedupe_inputs, Dedupe};
use crate::analysis::meta::ViewAndMutationMeta;
use crate::db::GraphInput;

/// `AOTDedupeWrapper.pre_compile` (semantics §3.5).
#[salsa::tracked(returns(ref))]
pub fn dedupe(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<Dedupe>> {
    let trace = ok(alias_trace(db, graph))?;
    let meta = ok(fw_metadata(db, graph))?;
    let ids: Vec<Option<u64>> = trace
        .inputs
        .iter()
        .map(|o| o.and_then(|o| trace.objects.get(o)).map(|o| o.tensor_id))
        .collect();
    Ok(Arc::new(dedupe_inputs(&ids, meta)?))
}

/// The metadata the synthetic-base step sees: after dedupe.
pub(super) fn post_dedupe_meta(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<&ViewAndMutationMeta> {
    let d = ok(dedupe(db, graph))?;
    match &d.fw_metadata {
        Some(m) => Ok(m),
        None => Ok(&**ok(fw_metadata(db, graph))?),
    }
}
