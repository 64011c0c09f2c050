//! Storage overlap between post-dedupe inputs, one storage group at a time:
//! the groups, each group's verdict per overlap relation, the symbolic
//! verdicts, `overlapping_inputs` and PyTorch's `StorageOverlap` guards.

use std::collections::HashMap;
use std::sync::Arc;

use super::args::ArgReader;
use super::dedupe::{dedupe, post_dedupe_meta};
use super::meta::alias_trace;
use super::{ok, QueryResult};
use crate::analysis::storage_overlap::{
    storage_overlap_guards, Guard, OverlappingInputs, StorageGroups, SymbolicOverlap,
};
use crate::analysis::symbolic_overlap::{at_hints, pair_verdicts, PairVerdict, SymView};
use crate::analysis::synthetic_base::{storage_groups as group_by_storage, MergeInputs, OverlapOf};
use crate::db::{GraphInput, OverlapMode};
use crate::ir::NodeOp;
use crate::overlap::{overlapping_members, StridedView};

pub use group::StorageGroup;

// salsa generates the tracked struct's constructor and getters without
// docs: it lives in a module that allows it.
#[allow(missing_docs)]
mod group {
    use super::*;

    /// Post-dedupe inputs that share one real storage: the unit of overlap work,
    /// so an edit to one storage's tensors leaves the other groups' results alone.
    #[salsa::tracked(debug)]
    pub struct StorageGroup<'db> {
        /// The real storage the members share.
        pub storage: u64,
        #[tracked]
        #[returns(ref)]
        pub members: Vec<usize>,
        /// The members' geometry at the hints (PyTorch decides symbolic overlap there).
        #[tracked]
        #[returns(ref)]
        pub views: Option<Vec<StridedView>>,
        /// The members' symbolic geometry, when some size, stride or offset is symbolic.
        #[tracked]
        #[returns(ref)]
        pub symbolic_views: Option<Vec<SymView>>,
    }
}

/// Grouped by the storages the value facts name, so that a geometry edit
/// reads on only where it matters: the members of a shared storage.
#[salsa::tracked(returns(ref))]
pub fn storage_groups<'db>(
    db: &'db dyn salsa::Database,
    graph: GraphInput,
) -> Vec<StorageGroup<'db>> {
    // An error here is reported by `dedupe` itself to whoever asks.
    let Ok(args) = ArgReader::new(db, graph) else {
        return Vec::new();
    };
    let storages: Vec<Option<u64>> = (0..args.arg_count()).map(|i| args.storage(i)).collect();
    let symbols = graph.symbols(db);
    group_by_storage(&storages)
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(storage, members)| {
            let symbolic: Vec<SymView> = members
                .iter()
                .filter_map(|&i| args.kept.get(i)?.arg.placeholder.value(db).as_tensor())
                .map(|t| SymView {
                    shape: t.geometry.shape.clone(),
                    stride: t.geometry.stride.clone(),
                    offset: t.geometry.storage_offset.clone(),
                })
                .collect();
            let views = at_hints(&symbolic, symbols);
            let is_symbolic = symbolic.iter().any(|v| {
                v.shape
                    .iter()
                    .chain(&v.stride)
                    .chain(std::iter::once(&v.offset))
                    .any(|e| !e.is_constant())
            });
            StorageGroup::new(db, storage, members, views, is_symbolic.then_some(symbolic))
        })
        .collect()
}

/// `compute_overlapping_inputs` for one group: overlapping members (as
/// post-dedupe input indices) and whether a work bound made it inexact.
#[salsa::tracked(returns(ref))]
pub fn group_overlap<'db>(
    db: &'db dyn salsa::Database,
    group: StorageGroup<'db>,
    mode: OverlapMode,
) -> (Vec<usize>, bool) {
    let members = group.members(db);
    match group.views(db) {
        Some(views) => {
            let (overlapping, inexact) = overlapping_members(views, mode);
            (
                overlapping
                    .iter()
                    .filter_map(|&k| members.get(k).copied())
                    .collect(),
                inexact,
            )
        }
        // Geometry that does not evaluate at the hints: assume the worst.
        None => (members.clone(), true),
    }
}

/// For a symbolic group: whether each pair's verdict holds for all symbol
/// values or only at the hints.
#[salsa::tracked(returns(ref))]
pub fn group_verdicts<'db>(
    db: &'db dyn salsa::Database,
    graph: GraphInput,
    group: StorageGroup<'db>,
) -> Option<Vec<PairVerdict>> {
    let views = group.symbolic_views(db).as_ref()?;
    let members = group.members(db);
    let mut verdicts = pair_verdicts(views, graph.symbols(db))?;
    // Report post-dedupe input indices, not positions in the group.
    for v in &mut verdicts {
        let (i, j) = v.pair;
        v.pair = (
            members.get(i).copied().unwrap_or(i),
            members.get(j).copied().unwrap_or(j),
        );
    }
    Some(verdicts)
}

/// Per symbolic storage group, the verdicts and whether they hold for all values.
#[salsa::tracked(returns(ref))]
pub fn symbolic_overlap(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<SymbolicOverlap>>> {
    ok(dedupe(db, graph))?;
    Ok(Arc::new(
        storage_groups(db, graph)
            .iter()
            .filter_map(|g| {
                let pairs = group_verdicts(db, graph, *g).clone()?;
                Some(SymbolicOverlap::new(g.members(db).clone(), pairs))
            })
            .collect(),
    ))
}

/// Each placeholder's Dynamo source, in input order. Structure only: a
/// value edit confirms it without visiting the nodes.
#[salsa::tracked(returns(ref))]
fn input_sources(db: &dyn salsa::Database, graph: GraphInput) -> Vec<Option<String>> {
    // Only the placeholders are read, so an edit of another node re-runs nothing here.
    let nodes = graph.nodes(db);
    let placeholders = match alias_trace(db, graph) {
        Ok(trace) => trace.input_nodes.clone(),
        Err(_) => (0..nodes.len()).collect(),
    };
    placeholders
        .iter()
        .filter_map(|&i| match &nodes.get(i)?.structure(db).op {
            NodeOp::Placeholder { source, .. } => Some(source.clone()),
            _ => None,
        })
        .collect()
}

/// The `StorageOverlap` guards PyTorch 2.15 installs.
#[salsa::tracked(returns(ref))]
pub fn aot_guards(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<Vec<Guard>>> {
    let meta = post_dedupe_meta(db, graph)?;
    let d = ok(dedupe(db, graph))?;
    let sources = input_sources(db, graph);
    let kept = d.kept_positions(sources.len());
    let groups = GroupsReader { db, graph };
    Ok(Arc::new(storage_overlap_guards(
        &meta.input_info,
        sources,
        &kept,
        &groups,
    )))
}

/// The storage groups for the guards, read only when a guard needs them.
struct GroupsReader<'db> {
    db: &'db dyn salsa::Database,
    graph: GraphInput,
}

impl<'db> GroupsReader<'db> {
    fn group(&self, g: usize) -> Option<StorageGroup<'db>> {
        storage_groups(self.db, self.graph).get(g).copied()
    }
}

impl StorageGroups for GroupsReader<'_> {
    fn count(&self) -> usize {
        storage_groups(self.db, self.graph).len()
    }
    fn members(&self, g: usize) -> &[usize] {
        self.group(g).map_or(&[], |g| g.members(self.db))
    }
    fn is_symbolic(&self, g: usize) -> bool {
        self.group(g)
            .is_some_and(|g| g.symbolic_views(self.db).is_some())
    }
    fn torch_overlapping(&self, g: usize) -> Vec<usize> {
        self.group(g).map_or_else(Vec::new, |g| {
            group_overlap(self.db, g, OverlapMode::Torch).0.clone()
        })
    }
}

/// PyTorch's `overlapping_inputs`, per storage group, in the session's overlap mode.
#[salsa::tracked(returns(ref))]
pub fn overlapping_inputs(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<Arc<Vec<OverlappingInputs>>> {
    ok(dedupe(db, graph))?;
    let groups = storage_groups(db, graph);
    let mode = graph.overlap_mode(db);
    Ok(Arc::new(
        groups
            .iter()
            .map(|g| {
                let (overlapping, inexact) = group_overlap(db, *g, mode).clone();
                let torch = (mode == OverlapMode::Exact)
                    .then(|| &group_overlap(db, *g, OverlapMode::Torch).0);
                OverlappingInputs::new(
                    g.members(db).clone(),
                    overlapping,
                    inexact,
                    torch.map(Vec::as_slice),
                )
            })
            .collect(),
    ))
}

/// The memoized per-group verdicts, found by a group's first member (merging
/// asks about whole storage groups).
pub(super) struct GroupOverlaps<'db> {
    db: &'db dyn salsa::Database,
    by_first_member: HashMap<usize, StorageGroup<'db>>,
}

/// [`GroupOverlaps`] under one overlap relation.
pub(super) struct Relation<'a, 'db>(&'a GroupOverlaps<'db>, OverlapMode);

impl<'db> GroupOverlaps<'db> {
    pub(super) fn new(db: &'db dyn salsa::Database, graph: GraphInput) -> Self {
        let by_first_member = storage_groups(db, graph)
            .iter()
            .filter_map(|g| g.members(db).first().map(|&m| (m, *g)))
            .collect();
        GroupOverlaps {
            db,
            by_first_member,
        }
    }

    pub(super) fn relation(&self, mode: OverlapMode) -> Relation<'_, 'db> {
        Relation(self, mode)
    }
}

impl OverlapOf for Relation<'_, '_> {
    fn overlapping(&self, members: &[usize]) -> Vec<usize> {
        let Relation(groups, mode) = self;
        members
            .first()
            .and_then(|m| groups.by_first_member.get(m))
            .map_or_else(
                || members.to_vec(),
                |g| group_overlap(groups.db, *g, *mode).0.clone(),
            )
    }
}
