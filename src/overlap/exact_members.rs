//! Ground truth for `n` views without comparing all pairs.
//!
//! 1. Normalize every view ([`ElementSet`]); empty views drop out.
//! 2. Split the rest into clusters of intersecting address ranges
//!    ([`clusters`]): disjoint slices and contiguous row blocks end here, in
//!    `O(n log n)`.
//! 3. In a cluster, pick the grid width that most members use as their row
//!    stride and turn every member that is a range, a column or a row block
//!    of that grid into rectangles ([`grid`]); the rectangle count decides
//!    all of them at once. Column-block families and interleaved columns are
//!    such clusters.
//! 4. The remaining members (other shapes) are tested pairwise with
//!    [`Canonical::meets`] against the members whose ranges meet theirs,
//!    skipping pairs whose both ends are already known members.
//!
//! A pair the solver cannot decide within its work bound, or a view with
//! malformed geometry, counts as overlapping and sets `inexact`.

use std::collections::BTreeMap;

use super::exact::{Canonical, Dim, ElementSet, EXACT_WORK_BOUND};
use super::grid::{push_pieces, touching_others, Rect};
use super::sweep::{clusters, for_each_intersecting_pair, Extent};
use super::StridedView;

/// Membership flags and the `inexact` flag.
pub(super) fn exact_members(views: &[StridedView]) -> (Vec<bool>, bool) {
    let sets: Vec<ElementSet> = views.iter().map(ElementSet::of).collect();
    let non_empty: Vec<bool> = sets.iter().map(|s| *s != ElementSet::Empty).collect();
    // A malformed view may overlap any other non-empty view, so every
    // non-empty view is a (possible) member.
    let non_empty_count = non_empty.iter().filter(|&&b| b).count();
    if sets.contains(&ElementSet::Unknown) && non_empty_count >= 2 {
        return (non_empty, true);
    }
    let mut member = vec![false; views.len()];
    let mut inexact = false;
    for cluster in clusters(strided_extents(&sets)) {
        if cluster.len() >= 2 {
            inexact |= mark_cluster(&cluster, &sets, &mut member);
        }
    }
    (member, inexact)
}

/// The sharing pairs `(i, j)`, `i < j`, sorted, and the `inexact` flag: one
/// solver call per pair of intersecting ranges.
pub(super) fn exact_pairs(views: &[StridedView]) -> (Vec<(usize, usize)>, bool) {
    let sets: Vec<ElementSet> = views.iter().map(ElementSet::of).collect();
    let mut pairs = Vec::new();
    let mut inexact = false;
    for (u, su) in sets.iter().enumerate() {
        if *su != ElementSet::Unknown {
            continue;
        }
        for (x, sx) in sets.iter().enumerate() {
            let seen = *sx == ElementSet::Unknown && x <= u;
            if x != u && !seen && *sx != ElementSet::Empty {
                pairs.push((u.min(x), u.max(x)));
                inexact = true;
            }
        }
    }
    let mut extents = strided_extents(&sets);
    for_each_intersecting_pair(&mut extents, |a, b| {
        if let (Some(ElementSet::Strided(x)), Some(ElementSet::Strided(y))) =
            (sets.get(a), sets.get(b))
        {
            let mut budget = EXACT_WORK_BOUND;
            match x.meets(y, &mut budget) {
                Some(false) => {}
                Some(true) => pairs.push((a.min(b), a.max(b))),
                None => {
                    pairs.push((a.min(b), a.max(b)));
                    inexact = true;
                }
            }
        }
    });
    pairs.sort_unstable();
    pairs.dedup();
    (pairs, inexact)
}

fn strided_extents(sets: &[ElementSet]) -> Vec<Extent<i128>> {
    sets.iter()
        .enumerate()
        .filter_map(|(id, s)| match s {
            ElementSet::Strided(c) => Some(Extent {
                lo: c.offset,
                hi: c.last,
                id,
            }),
            _ => None,
        })
        .collect()
}

fn canonical(sets: &[ElementSet], id: usize) -> Option<&Canonical> {
    match sets.get(id) {
        Some(ElementSet::Strided(c)) => Some(c),
        _ => None,
    }
}

fn mark(member: &mut [bool], id: usize) {
    if let Some(m) = member.get_mut(id) {
        *m = true;
    }
}

fn is_member(member: &[bool], id: usize) -> bool {
    member.get(id).copied().unwrap_or(false)
}

/// Marks the members of one cluster (sorted by `lo`); returns `inexact`.
fn mark_cluster(cluster: &[Extent<i128>], sets: &[ElementSet], member: &mut [bool]) -> bool {
    let width = grid_width(cluster, sets);
    let mut rects: Vec<Rect> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    let mut residual: Vec<Extent<i128>> = Vec::new();
    for e in cluster {
        let gridded = canonical(sets, e.id).is_some_and(|c| push_pieces(c, width, &mut rects));
        if gridded {
            owners.resize(rects.len(), e.id);
        } else {
            residual.push(*e);
        }
    }
    for (&owner, touching) in owners.iter().zip(touching_others(&rects)) {
        if touching {
            mark(member, owner);
        }
    }

    let mut residual_ids: Vec<usize> = residual.iter().map(|e| e.id).collect();
    residual_ids.sort_unstable();
    let mut inexact = false;
    for r in &residual {
        let Some(cr) = canonical(sets, r.id) else {
            continue;
        };
        let reach = cluster.partition_point(|e| e.lo <= r.hi);
        for u in cluster.iter().take(reach) {
            // Residual pairs are visited from their smaller id only.
            let seen = u.id <= r.id && residual_ids.binary_search(&u.id).is_ok();
            if seen || u.hi < r.lo || (is_member(member, r.id) && is_member(member, u.id)) {
                continue;
            }
            let Some(cu) = canonical(sets, u.id) else {
                continue;
            };
            let mut budget = EXACT_WORK_BOUND;
            match cr.meets(cu, &mut budget) {
                Some(false) => {}
                verdict => {
                    inexact |= verdict.is_none();
                    mark(member, r.id);
                    mark(member, u.id);
                }
            }
        }
    }
    inexact
}

/// The most common row stride of the cluster's columns (`(m, R)`) and row
/// blocks (`(w, 1), (m, R)`); ties go to the smaller stride. Without any, 1:
/// then only ranges are gridded, as rectangles of one column.
fn grid_width(cluster: &[Extent<i128>], sets: &[ElementSet]) -> i128 {
    let mut votes: BTreeMap<i128, usize> = BTreeMap::new();
    for e in cluster {
        let stride = match canonical(sets, e.id).map(|c| c.dims.as_slice()) {
            Some([Dim { stride: 1, .. }, Dim { stride, .. }]) => *stride,
            Some([Dim { stride, .. }]) if *stride > 1 => *stride,
            _ => continue,
        };
        *votes.entry(stride).or_insert(0) += 1;
    }
    votes
        .iter()
        .max_by_key(|&(&stride, &count)| (count, std::cmp::Reverse(stride)))
        .map_or(1, |(&stride, _)| stride)
}
