//! PyTorch's verdict for `n` views without comparing all pairs.
//!
//! ## Why the verdict has a simple shape
//!
//! Call a view *plain* when its geometry is well-formed (offset, sizes and
//! strides ≥ 0, nothing overflows `i64`) and non-empty. Its address range is
//! `[offset, last]`. For two plain views PyTorch's predicate reduces to:
//!
//! * both contiguous: "may overlap" iff the ranges intersect (step 4, since a
//!   contiguous view has `numel = last − offset + 1`);
//! * otherwise step 5 is again "the ranges intersect", and step 6 can only
//!   turn an intersecting pair into "disjoint". It applies when both views are
//!   2-D with strides `(R, 1)` for the same `R`; call these *row views* and
//!   their set for one `R` a *row group*. With `R = 0` step 6 never says
//!   "disjoint" for intersecting ranges, so only `R > 0` forms groups.
//!
//! ## The algorithm
//!
//! Plain views whose ranges are disjoint are disjoint for PyTorch too, so
//! the views are sorted by offset and split into clusters of intersecting
//! ranges ([`clusters`]); a singleton is done. A cluster of a few views is
//! decided pair by pair by the reduction above ([`plain_may_overlap`], `O(1)`
//! per pair). A large cluster (column blocks, interleaved views: whole
//! families whose ranges all meet) is decided as follows.
//!
//! Outside a row group (and for two contiguous members of one) the relation
//! is "ranges intersect", and each view's answer is a count: `#ranges meeting
//! mine`, with two binary searches ([`RangeCounter`]).
//!
//! Inside a row group, take `x` with the smaller offset, `y` the other,
//! `δ = off_y − off_x`, residues `c = off mod R` and widths `w = size[1]`.
//! Step 6 gives "may overlap" iff
//!
//! 1. `off_x ≤ off_y < off_x + w_x` (y starts in x's first row), or
//! 2. `off_y ≤ last_x` and `δ mod R + w_y > R`, which is
//!    `c_x ∈ c_y + [1, w_y − 1] (mod R)`: x's first column lies strictly
//!    inside y's row, read cyclically. (The missing mirror condition is
//!    PyTorch's false negative, semantics §5 item 2.)
//!
//! Condition 1 is answered per view by a binary search and a prefix maximum.
//! Condition 2 is a sweep in offset order: the views whose range contains
//! `off_y` are kept in an ordered map keyed by residue, and `y` asks whether a
//! key falls in its cyclic window (at most two key ranges). Each `x` found is
//! marked as well; to keep that linear, not-yet-marked views also sit in an
//! ordered set from which a hit is removed once marked. Everything is
//! `O(n log n)`, whatever the family.
//!
//! Views that are not plain (malformed geometry, possible overflow) are
//! compared with every other view by the transcribed predicate, in PyTorch's
//! argument order: `O(n)` each, none in valid data.

use std::cmp::Reverse;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use super::sweep::{clusters, Extent, RangeCounter};
use super::torch::{is_contiguous, last_element, numel, torch_definitely_do_not_overlap};
use super::StridedView;

/// How a view takes part in PyTorch's predicate.
#[derive(Clone, Copy, Debug)]
pub(super) enum Class {
    /// `numel = 0`: disjoint from everything (step 2).
    Empty,
    /// Malformed or overflowing geometry: compared pair by pair.
    Odd,
    Plain(Plain),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Plain {
    pub offset: i64,
    pub last: i64,
    contiguous: bool,
    row: Option<Row>,
}

/// A 2-D view with strides `(stride, 1)`, `stride > 0`.
#[derive(Clone, Copy, Debug)]
struct Row {
    stride: i64,
    width: i64,
}

pub(super) fn classify(v: &StridedView) -> Class {
    match numel(v) {
        Some(0) => return Class::Empty,
        None => return Class::Odd,
        Some(_) => {}
    }
    let malformed = v.sizes.len() != v.strides.len()
        || v.offset < 0
        || v.sizes.iter().any(|&s| s < 0)
        || v.strides.iter().any(|&s| s < 0);
    // `last < i64::MAX` keeps `offset + numel` (contiguous) and
    // `R·(rows − 1) + width` (row rule) in range: both equal `last − offset + 1`.
    let last = match last_element(v) {
        Some(last) if !malformed && last < i64::MAX => last,
        _ => return Class::Odd,
    };
    let row = match (v.sizes.as_slice(), v.strides.as_slice()) {
        ([_, width], [stride, 1]) if *stride > 0 => Some(Row {
            stride: *stride,
            width: *width,
        }),
        _ => None,
    };
    Class::Plain(Plain {
        offset: v.offset,
        last,
        contiguous: is_contiguous(v),
        row,
    })
}

/// Clusters up to this size are decided pair by pair: at most 120 `O(1)`
/// checks, cheaper than building the counting structures (a tile of
/// Shampoo's block grid meets only the tiles of its block row).
const SMALL_CLUSTER: usize = 16;

/// Membership flags of PyTorch's `compute_overlapping_tensors`.
pub(super) fn torch_members(views: &[StridedView]) -> Vec<bool> {
    torch_members_with(views, SMALL_CLUSTER)
}

/// [`torch_members`] deciding clusters of up to `small_cluster` views pair by
/// pair (tests lower it to exercise the counting path on small inputs).
pub(super) fn torch_members_with(views: &[StridedView], small_cluster: usize) -> Vec<bool> {
    let mut member = vec![false; views.len()];
    // Only the ranges are kept for all views (few bytes each: at 10⁵ views
    // memory traffic dominates); clustered views are classified again.
    let mut extents = Vec::with_capacity(views.len());
    let mut odd = Vec::new();
    for (id, v) in views.iter().enumerate() {
        match classify(v) {
            Class::Empty => {}
            Class::Odd => odd.push(id),
            Class::Plain(p) => extents.push(Extent {
                lo: p.offset,
                hi: p.last,
                id,
            }),
        }
    }
    // For plain views disjoint ranges mean "disjoint" (steps 4 and 5), so
    // clusters of intersecting ranges are independent.
    let mut plain: Vec<(usize, Plain)> = Vec::new();
    for cluster in clusters(&mut extents) {
        if cluster.len() <= 1 {
            continue;
        }
        plain.clear();
        plain.extend(
            cluster
                .iter()
                .filter_map(|e| match views.get(e.id).map(classify) {
                    Some(Class::Plain(p)) => Some((e.id, p)),
                    _ => None,
                }),
        );
        if cluster.len() <= small_cluster {
            mark_pairwise(&plain, &mut member);
            continue;
        }
        let groups = row_groups(&plain);
        mark_range_partners(&plain, &groups, &mut member);
        for group in groups.values() {
            mark_row_rule(group, &mut member);
        }
    }
    mark_odd(views, &odd, &mut member);
    member
}

/// [`plain_may_overlap`] on every pair of a cluster (sorted by offset) whose
/// ranges intersect and which is not already known to be two members.
fn mark_pairwise(cluster: &[(usize, Plain)], member: &mut [bool]) {
    for (k, (a, x)) in cluster.iter().enumerate() {
        for (b, y) in cluster
            .iter()
            .skip(k + 1)
            .take_while(|(_, y)| y.offset <= x.last)
        {
            let known = member.get(*a) == Some(&true) && member.get(*b) == Some(&true);
            if !known && plain_may_overlap(x, y) {
                mark(member, *a);
                mark(member, *b);
            }
        }
    }
}

/// PyTorch's verdict on two plain views in `O(1)`, by the reduction of the
/// module comment: ranges meet, and the row rule does not apply or fails.
fn plain_may_overlap(a: &Plain, b: &Plain) -> bool {
    let (x, y) = if a.offset <= b.offset { (a, b) } else { (b, a) };
    if x.last < y.offset {
        return false;
    }
    if x.contiguous && y.contiguous {
        return true;
    }
    match (x.row, y.row) {
        (Some(rx), Some(ry)) if rx.stride == ry.stride => {
            // 0 ≤ δ ≤ off_y and off_y + w_y ≤ last_y + 1, so nothing overflows.
            let delta = y.offset - x.offset;
            delta < rx.width || delta % rx.stride + ry.width > rx.stride
        }
        _ => true,
    }
}

/// A row group: plain row views sharing one outer stride.
#[derive(Default)]
struct RowGroup {
    stride: i64,
    /// `(id, view, width)`.
    members: Vec<(usize, Plain, i64)>,
    ranges: RangeCounter<i64>,
    contiguous_ranges: RangeCounter<i64>,
}

fn row_groups(plain: &[(usize, Plain)]) -> BTreeMap<i64, RowGroup> {
    let mut groups: BTreeMap<i64, RowGroup> = BTreeMap::new();
    for &(id, ref p) in plain {
        if let Some(row) = p.row {
            let g = groups.entry(row.stride).or_default();
            g.stride = row.stride;
            g.members.push((id, *p, row.width));
        }
    }
    for g in groups.values_mut() {
        g.ranges = RangeCounter::new(g.members.iter().map(|(_, p, _)| (p.offset, p.last)));
        g.contiguous_ranges = RangeCounter::new(
            g.members
                .iter()
                .filter(|(_, p, _)| p.contiguous)
                .map(|(_, p, _)| (p.offset, p.last)),
        );
    }
    groups
}

fn mark(member: &mut [bool], id: usize) {
    if let Some(m) = member.get_mut(id) {
        *m = true;
    }
}

/// Marks plain views whose range meets the range of a plain view for which
/// the verdict is "ranges intersect": any view outside its row group, and,
/// when both are contiguous, a view of its own group.
fn mark_range_partners(
    plain: &[(usize, Plain)],
    groups: &BTreeMap<i64, RowGroup>,
    member: &mut [bool],
) {
    let all = RangeCounter::new(plain.iter().map(|(_, p)| (p.offset, p.last)));
    for &(id, ref p) in plain {
        let meets = all.count_intersecting(p.offset, p.last);
        let group = p.row.and_then(|row| groups.get(&row.stride));
        // Each count includes the view itself, so the differences exclude it.
        let partners = match group {
            None => meets.saturating_sub(1),
            Some(g) => {
                let outside = meets.saturating_sub(g.ranges.count_intersecting(p.offset, p.last));
                let contiguous_inside = if p.contiguous {
                    g.contiguous_ranges
                        .count_intersecting(p.offset, p.last)
                        .saturating_sub(1)
                } else {
                    0
                };
                outside + contiguous_inside
            }
        };
        if partners > 0 {
            mark(member, id);
        }
    }
}

/// A row-group member as the row rule sees it.
#[derive(Clone, Copy, Debug)]
struct RowView {
    offset: i64,
    /// `offset + width − 1`: the end of the first row.
    first_row_end: i64,
    last: i64,
    /// `offset mod R`.
    residue: i64,
    width: i64,
    id: usize,
}

/// Marks the members of a row group that meet another member by step 6
/// (conditions 1 and 2 of the module comment).
fn mark_row_rule(group: &RowGroup, member: &mut [bool]) {
    let r = group.stride;
    let mut rows: Vec<RowView> = Vec::with_capacity(group.members.len());
    for &(id, p, width) in &group.members {
        match p.offset.checked_rem_euclid(r) {
            Some(residue) => rows.push(RowView {
                offset: p.offset,
                // ≤ last, so no overflow; saturating only for form's sake.
                first_row_end: p.offset.saturating_add(width.saturating_sub(1)),
                last: p.last,
                residue,
                width,
                id,
            }),
            // Unreachable (groups have R > 0); being conservative costs nothing.
            None => mark(member, id),
        }
    }
    rows.sort_unstable_by_key(|row| (row.offset, row.id));
    mark_first_row_starts(&rows, member);
    mark_row_wraps(&rows, r, member);
}

/// Condition 1 on rows sorted by offset: `off_x ≤ off_y < off_x + w_x`.
fn mark_first_row_starts(rows: &[RowView], member: &mut [bool]) {
    let offsets: Vec<i64> = rows.iter().map(|row| row.offset).collect();
    // As x: another member starts within my first row.
    for row in rows {
        let starts = offsets.partition_point(|&o| o <= row.first_row_end)
            - offsets.partition_point(|&o| o < row.offset);
        if starts > 1 {
            mark(member, row.id);
        }
    }
    // As y: I start within the first row of a member with a smaller offset
    // (equal offsets were caught above).
    let mut reach: Option<i64> = None;
    for batch in rows.chunk_by(|a, b| a.offset == b.offset) {
        let Some(offset) = batch.first().map(|row| row.offset) else {
            continue;
        };
        if reach.is_some_and(|end| end >= offset) {
            for row in batch {
                mark(member, row.id);
            }
        }
        for row in batch {
            reach = Some(reach.map_or(row.first_row_end, |end| end.max(row.first_row_end)));
        }
    }
}

/// Condition 2 on rows sorted by offset: `off_y ≤ last_x` and `c_x` in the
/// cyclic window of `y`. Sweep by offset; `active` counts the residues of the
/// views x with `off_x < off_y ≤ last_x`, `unmarked` holds those not yet
/// members.
fn mark_row_wraps(rows: &[RowView], r: i64, member: &mut [bool]) {
    let mut active: BTreeMap<i64, usize> = BTreeMap::new();
    let mut unmarked: BTreeSet<(i64, usize)> = BTreeSet::new();
    let mut expiry: BinaryHeap<Reverse<(i64, i64, usize)>> = BinaryHeap::new();
    for batch in rows.chunk_by(|a, b| a.offset == b.offset) {
        let Some(offset) = batch.first().map(|row| row.offset) else {
            continue;
        };
        while let Some(&Reverse((last, residue, id))) = expiry.peek() {
            if last >= offset {
                break;
            }
            expiry.pop();
            if let Entry::Occupied(mut e) = active.entry(residue) {
                *e.get_mut() = e.get().saturating_sub(1);
                if *e.get() == 0 {
                    e.remove();
                }
            }
            unmarked.remove(&(residue, id));
        }
        for y in batch {
            for (from, to) in wrap_window(y.residue, y.width, r).into_iter().flatten() {
                if active.range(from..=to).next().is_none() {
                    continue;
                }
                mark(member, y.id);
                let hits: Vec<(i64, usize)> = unmarked
                    .range((from, 0)..=(to, usize::MAX))
                    .copied()
                    .collect();
                for hit in hits {
                    unmarked.remove(&hit);
                    mark(member, hit.1);
                }
            }
        }
        for y in batch {
            *active.entry(y.residue).or_insert(0) += 1;
            if member.get(y.id) == Some(&false) {
                unmarked.insert((y.residue, y.id));
            }
            expiry.push(Reverse((y.last, y.residue, y.id)));
        }
    }
}

/// The residues `c_x` of a lower view for which step 6's last test fails
/// against an upper view with residue `c_y` and width `w_y`:
/// `(c_y − c_x) mod R + w_y > R ⇔ c_x ∈ c_y + [1, w_y − 1] (mod R)`.
/// At most two closed ranges of `[0, R)`.
fn wrap_window(c_y: i64, w_y: i64, r: i64) -> [Option<(i64, i64)>; 2] {
    let (c, w, r) = (i128::from(c_y), i128::from(w_y), i128::from(r));
    let narrow = |a: i128, b: i128| Some((i64::try_from(a).ok()?, i64::try_from(b).ok()?));
    if w <= 1 || r <= 0 {
        return [None, None];
    }
    if w > r {
        return [narrow(0, r - 1), None];
    }
    let start = (c + 1) % r;
    let end = start + w - 2;
    if end < r {
        [narrow(start, end), None]
    } else {
        [narrow(start, r - 1), narrow(0, end - r)]
    }
}

/// Compares every odd view with every other non-empty view, in PyTorch's
/// argument order (later index first).
fn mark_odd(views: &[StridedView], odd: &[usize], member: &mut [bool]) {
    for &w in odd {
        for (u, v) in views.iter().enumerate() {
            // Pairs of odd views are visited from the smaller index only.
            let already_seen = u <= w && odd.binary_search(&u).is_ok();
            let both_known = member.get(u) == Some(&true) && member.get(w) == Some(&true);
            if already_seen || both_known || v.sizes.contains(&0) {
                continue;
            }
            if let (Some(later), Some(earlier)) = (views.get(u.max(w)), views.get(u.min(w))) {
                if !torch_definitely_do_not_overlap(later, earlier) {
                    mark(member, u);
                    mark(member, w);
                }
            }
        }
    }
}
