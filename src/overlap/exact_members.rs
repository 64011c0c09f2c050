//! Ground truth for `n` views without comparing all pairs.
//!
//! 1. Compute every view's address range ([`AddressRange`]); empty views
//!    drop out.
//! 2. Split the ranges into clusters of intersecting ranges ([`clusters`]):
//!    disjoint slices and contiguous row blocks end here, in `O(n log n)`,
//!    without normalizing any view.
//! 3. In a cluster, normalize the members, pick the grid width that most of
//!    them use as their row stride, and turn every member that is a range, a
//!    column or a row block of that grid into rectangles ([`grid`]). The
//!    rectangles are exact element sets: for a large cluster counting
//!    rectangle intersections decides all of them at once (column-block
//!    families and interleaved columns are such clusters); a small one
//!    compares its few rectangles pair by pair.
//! 4. The remaining members (other shapes) are tested pairwise with
//!    [`Canonical::meets`] against the members whose ranges meet theirs,
//!    skipping pairs whose both ends are already known members.
//!
//! A pair the solver cannot decide within its work bound, or a view with
//! malformed geometry, counts as overlapping and sets `inexact`.

use super::exact::{AddressRange, Canonical, Dim, ElementSet, EXACT_WORK_BOUND};
use super::grid::{pieces, touching_others, Rect};
use super::sweep::{clusters, for_each_intersecting_pair, Extent};
use super::StridedView;

/// Clusters up to this size compare their rectangles pair by pair instead
/// of counting.
const SMALL_CLUSTER: usize = 16;

/// Membership flags and the `inexact` flag.
pub(super) fn exact_members(views: &[StridedView]) -> (Vec<bool>, bool) {
    exact_members_with(views, SMALL_CLUSTER)
}

/// [`exact_members`] comparing the rectangles of clusters of up to
/// `small_cluster` views pair by pair (tests lower it to exercise the
/// counting on small inputs).
pub(super) fn exact_members_with(views: &[StridedView], small_cluster: usize) -> (Vec<bool>, bool) {
    let mut extents = Vec::with_capacity(views.len());
    let mut non_empty = vec![false; views.len()];
    let mut unknown = false;
    for ((id, v), flag) in views.iter().enumerate().zip(non_empty.iter_mut()) {
        match AddressRange::of(v) {
            AddressRange::Empty => {}
            AddressRange::Unknown => {
                unknown = true;
                *flag = true;
            }
            AddressRange::Span(lo, hi) => {
                *flag = true;
                extents.push(Extent { lo, hi, id });
            }
        }
    }
    // A malformed view may overlap any other non-empty view, so every
    // non-empty view is a (possible) member.
    if unknown && non_empty.iter().filter(|&&b| b).count() >= 2 {
        return (non_empty, true);
    }
    let mut member = vec![false; views.len()];
    let mut inexact = false;
    let mut scratch = Scratch::default();
    for cluster in clusters(&mut extents) {
        if cluster.len() >= 2 {
            let count = cluster.len() > small_cluster;
            inexact |= scratch.mark_cluster(views, cluster, count, &mut member);
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
    let mut extents: Vec<Extent<i128>> = sets
        .iter()
        .enumerate()
        .filter_map(|(id, s)| match s {
            ElementSet::Strided(c) => Some(Extent {
                lo: c.offset,
                hi: c.last,
                id,
            }),
            _ => None,
        })
        .collect();
    for_each_intersecting_pair(&mut extents, |a, b| {
        if let (Some(ElementSet::Strided(x)), Some(ElementSet::Strided(y))) =
            (sets.get(a), sets.get(b))
        {
            let mut budget = EXACT_WORK_BOUND;
            match x.meets(y, &mut budget) {
                Some(false) => {}
                verdict => {
                    inexact |= verdict.is_none();
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
    });
    pairs.sort_unstable();
    pairs.dedup();
    (pairs, inexact)
}

fn mark(member: &mut [bool], id: usize) {
    if let Some(m) = member.get_mut(id) {
        *m = true;
    }
}

fn is_member(member: &[bool], id: usize) -> bool {
    member.get(id).copied().unwrap_or(false)
}

/// Buffers reused from cluster to cluster.
#[derive(Default)]
struct Scratch {
    /// The cluster's members (sorted by `lo`) with their normalized form.
    sets: Vec<(Extent<i128>, Canonical)>,
    rects: Vec<Rect>,
    /// The position in `sets` of each rectangle's view.
    owners: Vec<usize>,
    /// Positions in `sets` of the views that are not rectangles, ascending.
    residual: Vec<usize>,
    /// Spare dimension lists.
    buffers: Vec<Vec<Dim>>,
    /// Row strides, for [`Scratch::grid_width`].
    strides: Vec<i128>,
}

impl Scratch {
    /// The most common row stride of the cluster's columns (`(m, R)`) and row
    /// blocks (`(w, 1), (m, R)`); ties go to the smaller stride. Without any,
    /// 1: then only ranges are gridded, as rectangles of one column.
    fn grid_width(&mut self) -> i128 {
        self.strides.clear();
        self.strides
            .extend(self.sets.iter().filter_map(|(_, c)| c.row_stride()));
        self.strides.sort_unstable();
        let mut best = (0, 1);
        for run in self.strides.chunk_by(|a, b| a == b) {
            if let Some(&stride) = run.first() {
                // Strictly more votes: among equal counts the first (smallest) wins.
                if run.len() > best.0 {
                    best = (run.len(), stride);
                }
            }
        }
        best.1
    }

    /// Marks the members of one cluster (sorted by `lo`); returns `inexact`.
    /// With `count`, rectangles are decided by counting, else pair by pair.
    fn mark_cluster(
        &mut self,
        views: &[StridedView],
        cluster: &[Extent<i128>],
        count: bool,
        member: &mut [bool],
    ) -> bool {
        // Recycle the dimension lists of the previous cluster.
        self.buffers
            .extend(self.sets.drain(..).map(|(_, c)| c.dims));
        for e in cluster {
            let buffer = self.buffers.pop().unwrap_or_default();
            match views.get(e.id).map(|v| ElementSet::of_in(v, buffer)) {
                Some(ElementSet::Strided(c)) => self.sets.push((*e, c)),
                // Not expected once the range is known; then the view may
                // overlap any member of its cluster (and nothing else).
                _ => {
                    for e in cluster {
                        mark(member, e.id);
                    }
                    return true;
                }
            }
        }

        let width = self.grid_width();
        self.rects.clear();
        self.owners.clear();
        self.residual.clear();
        for (k, (_, c)) in self.sets.iter().enumerate() {
            match pieces(c, width) {
                Some(p) => {
                    self.rects.extend(p.iter());
                    self.owners.resize(self.rects.len(), k);
                }
                None => self.residual.push(k),
            }
        }
        let id_of = |k: usize| self.sets.get(k).map_or(usize::MAX, |(e, _)| e.id);
        if count {
            for (&k, touching) in self.owners.iter().zip(touching_others(&self.rects)) {
                if touching {
                    mark(member, id_of(k));
                }
            }
        } else {
            let owned = || self.owners.iter().zip(&self.rects);
            for (i, (&a, p)) in owned().enumerate() {
                for (&b, q) in owned().skip(i + 1) {
                    if a != b && p.meets(q) {
                        mark(member, id_of(a));
                        mark(member, id_of(b));
                    }
                }
            }
        }
        self.mark_residual(member)
    }

    /// Tests each residual member against the members whose ranges meet its
    /// range; returns `inexact`.
    fn mark_residual(&self, member: &mut [bool]) -> bool {
        let mut inexact = false;
        for &r in &self.residual {
            let Some((er, cr)) = self.sets.get(r) else {
                continue;
            };
            // Members are sorted by `lo`: those after `reach` start past `er`.
            let reach = self.sets.partition_point(|(e, _)| e.lo <= er.hi);
            for (u, (eu, cu)) in self.sets.iter().enumerate().take(reach) {
                // Residual pairs are visited from their smaller position only.
                let seen = u <= r && self.residual.binary_search(&u).is_ok();
                let known = is_member(member, er.id) && is_member(member, eu.id);
                if u == r || seen || known || eu.hi < er.lo {
                    continue;
                }
                let mut budget = EXACT_WORK_BOUND;
                match cr.meets(cu, &mut budget) {
                    Some(false) => {}
                    verdict => {
                        inexact |= verdict.is_none();
                        mark(member, er.id);
                        mark(member, eu.id);
                    }
                }
            }
        }
        inexact
    }
}
