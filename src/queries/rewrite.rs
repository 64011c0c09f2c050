//! The calling-convention rewrites after metadata collection: dedupe,
//! storage groups and their overlap, synthetic bases.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::args::{merge_args, ArgReader};
use super::meta::{alias_trace, fw_metadata, needs_autograd};
use super::{ok, QueryResult};
use crate::analysis::dedupe::{dedupe as dedupe_inputs, Dedupe};
use crate::analysis::meta::ViewAndMutationMeta;
use crate::analysis::symbolic_overlap::{at_hints, pair_verdicts, PairVerdict, SymView, Validity};
use crate::analysis::synthetic_base::{
    create_synthetic_base_metadata, merge_view_inputs, storage_groups as group_by_storage,
    GroupChange, Merge, MergeInputs, MergedConvention, SyntheticBasePlan, SyntheticBaseReport,
};
use crate::db::{GraphInput, OverlapMode};
use crate::ir::NodeOp;
use crate::overlap::{overlapping_members, StridedView};

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
fn post_dedupe_meta(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<&ViewAndMutationMeta> {
    let d = ok(dedupe(db, graph))?;
    match &d.fw_metadata {
        Some(m) => Ok(m),
        None => Ok(&**ok(fw_metadata(db, graph))?),
    }
}

/// Post-dedupe inputs that share one real storage: the unit of overlap work,
/// so an edit to one storage's tensors leaves the other groups' results alone.
#[salsa::tracked(debug)]
pub struct StorageGroup<'db> {
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

/// A symbolic group's verdicts, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SymbolicOverlap {
    pub aliased_input_indices: Vec<usize>,
    /// False when some verdict was only decided at the hints (a guard protects it).
    pub holds_for_all_values: bool,
    pub pairs: Vec<PairVerdict>,
}

/// A guard AOTAutograd records (semantics §2.12, §3.6.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind")]
pub enum Guard {
    StorageOverlap {
        overlapping_sources: Vec<String>,
        non_overlapping_sources: Vec<String>,
    },
}

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
                Some(SymbolicOverlap {
                    aliased_input_indices: g.members(db).clone(),
                    holds_for_all_values: pairs.iter().all(|p| p.validity == Validity::AllValues),
                    pairs,
                })
            })
            .collect(),
    ))
}

/// Each placeholder's Dynamo source, in input order. Structure only: a
/// value edit confirms it without visiting the nodes.
#[salsa::tracked(returns(ref))]
fn input_sources(db: &dyn salsa::Database, graph: GraphInput) -> Vec<Option<String>> {
    graph
        .nodes(db)
        .iter()
        .filter_map(|n| match &n.structure(db).op {
            NodeOp::Placeholder { source, .. } => Some(source.clone()),
            _ => None,
        })
        .collect()
}

/// The `StorageOverlap` guards PyTorch 2.15 installs: for each symbolic group
/// that `merge_view_inputs` examines (two or more members, one data-mutated),
/// when the inputs have Dynamo sources.
#[salsa::tracked(returns(ref))]
pub fn aot_guards(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<Vec<Guard>>> {
    let meta = post_dedupe_meta(db, graph)?;
    let d = ok(dedupe(db, graph))?;
    let sources = input_sources(db, graph);
    let kept = d.kept_positions(sources.len());
    let source_of = |i: usize| -> String {
        kept.get(i)
            .and_then(|&p| sources.get(p)?.as_deref())
            .unwrap_or("?")
            .to_owned()
    };
    if sources.iter().all(Option::is_none) || !meta.input_info.iter().any(|i| i.mutates_data) {
        return Ok(Arc::new(Vec::new()));
    }
    let mut guards = Vec::new();
    for g in storage_groups(db, graph) {
        let members = g.members(db);
        let mutated = members
            .iter()
            .any(|&i| meta.input_info.get(i).is_some_and(|m| m.mutates_data));
        if !mutated || g.symbolic_views(db).is_none() {
            continue;
        }
        let overlapping = &group_overlap(db, *g, OverlapMode::Torch).0;
        guards.push(Guard::StorageOverlap {
            overlapping_sources: overlapping.iter().map(|&i| source_of(i)).collect(),
            non_overlapping_sources: members
                .iter()
                .filter(|i| !overlapping.contains(i))
                .map(|&i| source_of(i))
                .collect(),
        });
    }
    Ok(Arc::new(guards))
}

/// One entry of `overlapping_inputs`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OverlappingInputs {
    pub aliased_input_indices: Vec<usize>,
    pub overlapping: Vec<usize>,
    /// Exact mode: members the torch verdict would miss (PyTorch's false negatives).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missed_by_torch: Vec<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inexact: bool,
}

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
                let missed_by_torch = if mode == OverlapMode::Exact {
                    let torch = &group_overlap(db, *g, OverlapMode::Torch).0;
                    overlapping
                        .iter()
                        .copied()
                        .filter(|i| !torch.contains(i))
                        .collect()
                } else {
                    Vec::new()
                };
                OverlappingInputs {
                    aliased_input_indices: g.members(db).clone(),
                    overlapping,
                    missed_by_torch,
                    inexact,
                }
            })
            .collect(),
    ))
}

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
    let by_first_member: HashMap<usize, StorageGroup<'_>> = storage_groups(db, graph)
        .iter()
        .filter_map(|g| g.members(db).first().map(|&m| (m, *g)))
        .collect();
    let by_first_member = &by_first_member;
    let overlap_in = |mode: OverlapMode| {
        move |members: &[usize]| -> Vec<usize> {
            members
                .first()
                .and_then(|m| by_first_member.get(m))
                .map_or_else(
                    || members.to_vec(),
                    |g| group_overlap(db, *g, mode).0.clone(),
                )
        }
    };
    let mode = graph.overlap_mode(db);
    let merge = merge_view_inputs(args, &meta.input_info, is_inference, &overlap_in(mode));
    // Where exact verdicts change PyTorch's decision, say so.
    let changed_by_exact_mode = match (&merge, mode) {
        (Ok(exact), OverlapMode::Exact) => {
            let torch = merge_view_inputs(
                args,
                &meta.input_info,
                is_inference,
                &overlap_in(OverlapMode::Torch),
            );
            let merged =
                |m: &Option<Merge>| m.as_ref().map_or_else(Vec::new, |m| m.base_groups.clone());
            match torch {
                Ok(torch) => {
                    let (torch, exact) = (merged(&torch), merged(exact));
                    let mut changes: Vec<GroupChange> =
                        exact
                            .iter()
                            .filter(|g| !torch.contains(g))
                            .map(|g| GroupChange {
                                members: g.clone(),
                                merged_by_torch: false,
                            })
                            .chain(torch.iter().filter(|g| !exact.contains(g)).map(|g| {
                                GroupChange {
                                    members: g.clone(),
                                    merged_by_torch: true,
                                }
                            }))
                            .collect();
                    changes.sort_by(|a, b| a.members.cmp(&b.members));
                    changes
                }
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let outcome = merge.and_then(|merge| {
        merge
            .map(|merge| {
                let (fw_metadata, meta_mutated) =
                    create_synthetic_base_metadata(meta, &merge, args)?;
                Ok(MergedConvention {
                    merge,
                    fw_metadata,
                    outer_aliased_arg_idx_with_metadata_mutations: meta_mutated,
                })
            })
            .transpose()
    });
    Ok(Arc::new(SyntheticBasePlan {
        is_inference,
        outcome,
        changed_by_exact_mode,
    }))
}
