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
//! 4. The remaining members (other shapes) are *residual*. In a large
//!    cluster, the members with few elements (smallest first, within three
//!    quarters of the budget) have their elements listed in one address
//!    table (a bitset, filled forwards and then backwards): a shared address
//!    marks its owners, which decides every pair of listed members in time
//!    linear in their elements. Crowded groups of random strided views
//!    end here.
//! 5. Each pair still open (not two listed members, not two rectangles) is
//!    tested with [`Canonical::meets`], a view at a time: a view stops at its
//!    first partner, and a view found to have none is never tested again.
//!
//! Work per group is bounded by a budget (elements listed, pairs looked at
//! and search nodes). Past it, every view with an open pair counts as "may
//! overlap" (undecided), as does a pair the solver cannot decide within its
//! own bound or a view with malformed geometry: never a false negative.
//! A large cluster whose budget cannot pay for steps 3–5 at all (they cost
//! about half a microsecond per view before they charge anything) gets
//! cheap proofs instead ([`prove_by_prefixes`]): each view lists its first
//! few elements in one bitset, an address listed twice proves its owners,
//! and the rest of the cluster may overlap. On 2,000 random views of up to
//! eight dimensions this proves three quarters of the members in a few
//! times torch mode's time.

use super::canonical::{AddressRange, Canonical, Dim, ElementSet};
use super::exact::EXACT_WORK_BOUND;
use super::grid::{pieces, touching_others, Rect};
use super::sweep::{clusters, Extent, RangeCounter};
use super::{Members, StridedView};

/// Clusters up to this size compare their rectangles pair by pair instead
/// of counting, and test their residual pairs without an address table.
const SMALL_CLUSTER: usize = 16;

/// Budget units per search node of the solver (one unit is an element
/// listed or a pair looked at): a node costs about that much more time.
const SEARCH_NODE_COST: u64 = 16;

/// At most this many elements of each view are listed to prove members
/// before anything exact.
const PREFIX: u64 = 64;

/// A large cluster is decided exactly only with at least this many budget
/// units per view left: below, the steps that do not charge the budget
/// (normalizing, rectangles, the fallback's counts; about half a
/// microsecond per view, where a unit is a few nanoseconds) would dominate,
/// and cheap proofs are all the budget buys.
const EXACT_STEPS_COST: u64 = 128;

/// A view with more elements than this is never listed in the address table.
const LISTED_NUMEL: u64 = 1 << 20;

/// The address table is a bitset when the listed views' span is at most this
/// many addresses (and not much larger than their element count), else a
/// sorted list.
const BITSET_SPAN: i128 = 1 << 30;

/// Membership: proven, or "may overlap" (undecided).
struct Flags {
    proven: Vec<bool>,
    maybe: Vec<bool>,
}

impl Flags {
    fn new(n: usize) -> Self {
        Self {
            proven: vec![false; n],
            maybe: vec![false; n],
        }
    }

    fn prove(&mut self, id: usize) {
        if let Some(m) = self.proven.get_mut(id) {
            *m = true;
        }
    }

    fn suspect(&mut self, id: usize) {
        if let Some(m) = self.maybe.get_mut(id) {
            *m = true;
        }
    }

    /// A member, proven or not.
    fn any(&self, id: usize) -> bool {
        self.proven.get(id) == Some(&true) || self.maybe.get(id) == Some(&true)
    }

    fn into_members(self) -> Members {
        let mut members = Members::default();
        for (id, (&p, &m)) in self.proven.iter().zip(&self.maybe).enumerate() {
            if p || m {
                members.overlapping.push(id);
            }
            if m && !p {
                members.undecided.push(id);
            }
        }
        members
    }
}

/// The exact member set within `budget` units of work.
pub(super) fn exact_members(views: &[StridedView], budget: u64) -> Members {
    exact_members_with(views, SMALL_CLUSTER, budget)
}

/// [`exact_members`] treating clusters of up to `small_cluster` views as
/// small (tests lower it to exercise the large-cluster paths on small inputs).
pub(super) fn exact_members_with(
    views: &[StridedView],
    small_cluster: usize,
    mut budget: u64,
) -> Members {
    let mut extents = Vec::with_capacity(views.len());
    let mut non_empty = Vec::new();
    let mut unknown = false;
    for (id, v) in views.iter().enumerate() {
        match AddressRange::of(v) {
            AddressRange::Empty => {}
            AddressRange::Unknown => {
                unknown = true;
                non_empty.push(id);
            }
            AddressRange::Span(lo, hi) => {
                non_empty.push(id);
                extents.push(Extent { lo, hi, id });
            }
        }
    }
    // A malformed view may overlap any other non-empty view, so every
    // non-empty view is a (possible) member.
    if unknown && non_empty.len() >= 2 {
        return Members {
            undecided: non_empty.clone(),
            overlapping: non_empty,
        };
    }
    let mut flags = Flags::new(views.len());
    let mut scratch = Scratch::default();
    for cluster in clusters(&mut extents) {
        if cluster.len() < 2 {
            continue;
        }
        let large = cluster.len() > small_cluster;
        let n = u64::try_from(cluster.len()).unwrap_or(u64::MAX);
        if large && budget < n.saturating_mul(EXACT_STEPS_COST) {
            // Too little budget to decide the cluster: spend it on cheap
            // proofs, and what is not proven may overlap (every member of a
            // cluster meets another's range).
            prove_by_prefixes(views, cluster, &mut flags, &mut budget);
            for e in cluster {
                if !flags.any(e.id) {
                    flags.suspect(e.id);
                }
            }
            continue;
        }
        scratch.mark_cluster(views, cluster, large, &mut flags, &mut budget);
    }
    flags.into_members()
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
    /// The longest range `hi − lo` of the cluster.
    longest: i128,
}

/// What is known of the views of one cluster, by position in `sets`.
struct Cluster {
    /// A rectangle of the grid: pairs of two such are decided.
    gridded: Vec<bool>,
    /// In the address table: pairs of two such are decided.
    listed: Vec<bool>,
    /// Tested against every open partner, none shares: skip as a partner.
    done: Vec<bool>,
}

impl Cluster {
    /// Whether the pair of positions `u`, `v` still needs a test.
    fn open(&self, u: usize, v: usize) -> bool {
        let both = |flags: &[bool]| flags.get(u) == Some(&true) && flags.get(v) == Some(&true);
        u != v && !both(&self.gridded) && !both(&self.listed) && self.done.get(u) != Some(&true)
    }
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

    fn id_of(&self, k: usize) -> usize {
        self.sets.get(k).map_or(usize::MAX, |(e, _)| e.id)
    }

    /// Marks the members of one cluster (sorted by `lo`). A large cluster
    /// decides its rectangles by counting and lists small residual views.
    fn mark_cluster(
        &mut self,
        views: &[StridedView],
        cluster: &[Extent<i128>],
        large: bool,
        flags: &mut Flags,
        budget: &mut u64,
    ) {
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
                        flags.suspect(e.id);
                    }
                    return;
                }
            }
        }

        self.longest = cluster.iter().map(|e| e.hi - e.lo).max().unwrap_or(0);
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
        if large {
            for (&k, touching) in self.owners.iter().zip(touching_others(&self.rects)) {
                if touching {
                    flags.prove(self.id_of(k));
                }
            }
        } else {
            let owned = || self.owners.iter().zip(&self.rects);
            for (i, (&a, p)) in owned().enumerate() {
                for (&b, q) in owned().skip(i + 1) {
                    if a != b && p.meets(q) {
                        flags.prove(self.id_of(a));
                        flags.prove(self.id_of(b));
                    }
                }
            }
        }
        if self.residual.is_empty() {
            return;
        }
        let n = self.sets.len();
        let mut state = Cluster {
            gridded: vec![true; n],
            listed: vec![false; n],
            done: vec![false; n],
        };
        for &r in &self.residual {
            if let Some(g) = state.gridded.get_mut(r) {
                *g = false;
            }
        }
        if large {
            state.listed = self.list_elements(flags, budget);
        }
        self.test_open_pairs(&mut state, flags, budget);
    }

    /// Lists the elements of the smallest views (within 3/4 of the budget) in
    /// one address table and proves the owners of shared addresses. Returns
    /// which positions were listed.
    fn list_elements(&self, flags: &mut Flags, budget: &mut u64) -> Vec<bool> {
        let n = self.sets.len();
        let mut listed = vec![false; n];
        let mut by_size: Vec<(u64, usize)> = self
            .sets
            .iter()
            .enumerate()
            .filter_map(|(k, (_, c))| Some((numel(c).filter(|&m| m <= LISTED_NUMEL)?, k)))
            .collect();
        by_size.sort_unstable();
        let allowance = *budget / 4 * 3;
        let mut total = 0u64;
        let mut chosen = Vec::new();
        for (m, k) in by_size {
            match total.checked_add(m) {
                Some(t) if t <= allowance => {
                    total = t;
                    chosen.push(k);
                }
                _ => break,
            }
        }
        let Ok(count) = u32::try_from(chosen.len()) else {
            return listed;
        };
        if count < 2 {
            return listed;
        }
        *budget -= total;
        let span = chosen.iter().filter_map(|&k| self.sets.get(k)).fold(
            None,
            |acc: Option<(i128, i128)>, (e, _)| match acc {
                None => Some((e.lo, e.hi)),
                Some((lo, hi)) => Some((lo.min(e.lo), hi.max(e.hi))),
            },
        );
        let Some((base, top)) = span else {
            return listed;
        };
        let width = top - base + 1;
        for &k in &chosen {
            if let Some(flag) = listed.get_mut(k) {
                *flag = true;
            }
        }
        let views: Vec<&Canonical> = chosen
            .iter()
            .filter_map(|&k| self.sets.get(k).map(|(_, c)| c))
            .collect();
        // A bitset costs its span once (it stays in cache where an array of
        // owners would not); worth it unless mostly empty.
        let shared = if width <= BITSET_SPAN && width <= 64 * i128::from(total) + 65_536 {
            shared_by_bitset(&views, base, width, u64::MAX)
        } else {
            shared_by_sorting(&views, total)
        };
        for (&k, shares) in chosen.iter().zip(shared) {
            if shares {
                flags.prove(self.id_of(k));
            }
        }
        listed
    }

    /// Tests the open pairs, a view at a time: first every unlisted view
    /// (it may pair with anyone), then every listed view still without a
    /// partner against the unlisted ones. Past the budget, every view with an
    /// open pair becomes "may overlap".
    fn test_open_pairs(&self, state: &mut Cluster, flags: &mut Flags, budget: &mut u64) {
        let n = self.sets.len();
        let unlisted: Vec<usize> = (0..n)
            .filter(|&k| state.listed.get(k) != Some(&true))
            .collect();
        let listed: Vec<usize> = (0..n)
            .filter(|&k| state.listed.get(k) == Some(&true))
            .collect();
        let everyone: Vec<usize> = (0..n).collect();
        let mut exhausted = false;
        for (views, partners) in [(&unlisted, &everyone), (&listed, &unlisted)] {
            for &v in views {
                if exhausted {
                    break;
                }
                if flags.any(self.id_of(v)) {
                    continue;
                }
                match self.find_partner(v, partners, state, flags, budget) {
                    Some(true) => {}
                    Some(false) => {
                        if let Some(d) = state.done.get_mut(v) {
                            *d = true;
                        }
                    }
                    None => exhausted = true,
                }
            }
        }
        if exhausted {
            self.suspect_open(state, flags);
        }
    }

    /// Past the budget: marks "may overlap" every view that is neither a
    /// member nor done and has an open pair, i.e. a range-meeting view that
    /// is not done and not of a kind already decided against it (both
    /// rectangles, or both listed). Four range counts decide this for all
    /// views in `O(n log n)`; each count includes the view itself iff it is
    /// of the counted kind.
    fn suspect_open(&self, state: &Cluster, flags: &mut Flags) {
        let at = |flags: &[bool], k: usize| flags.get(k) == Some(&true);
        let counter = |keep: &dyn Fn(usize) -> bool| {
            RangeCounter::new(
                self.sets
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| !at(&state.done, k) && keep(k))
                    .map(|(_, (e, _))| (e.lo, e.hi)),
            )
        };
        let (gridded, listed) = (&state.gridded, &state.listed);
        // Open partners of a view, by its kind (listed?, gridded?):
        let unlisted_free = counter(&|k| !at(listed, k) && !at(gridded, k));
        let unlisted = counter(&|k| !at(listed, k));
        let free = counter(&|k| !at(gridded, k));
        let all = counter(&|_| true);
        for (k, (e, _)) in self.sets.iter().enumerate() {
            let id = e.id;
            if flags.any(id) || at(&state.done, k) {
                continue;
            }
            let (counted, own) = match (at(listed, k), at(gridded, k)) {
                (true, true) => (&unlisted_free, 0),
                (true, false) => (&unlisted, 0),
                (false, true) => (&free, 0),
                (false, false) => (&all, 1),
            };
            if counted.count_intersecting(e.lo, e.hi) > own {
                flags.suspect(id);
            }
        }
    }

    /// Positions among `partners` (ascending, so sorted by `lo`) whose
    /// ranges meet the range of position `v`.
    fn partners_of<'s>(
        &'s self,
        v: usize,
        partners: &'s [usize],
    ) -> impl Iterator<Item = usize> + 's {
        let (lo, hi) = self.sets.get(v).map_or((0, -1), |(e, _)| (e.lo, e.hi));
        let lo_of = |u: usize| self.sets.get(u).map_or(i128::MAX, |(e, _)| e.lo);
        // A range starting before `lo − longest` ends before `lo`.
        let first = lo.saturating_sub(self.longest);
        let start = partners.partition_point(|&u| lo_of(u) < first);
        partners
            .iter()
            .skip(start)
            .copied()
            .take_while(move |&u| lo_of(u) <= hi)
            .filter(move |&u| self.sets.get(u).is_some_and(|(e, _)| e.hi >= lo))
    }

    /// Tests position `v` against its open partners until one shares an
    /// element: `Some(true)` then (both marked), `Some(false)` when none
    /// does, `None` when the budget ran out first. A pair the solver cannot
    /// decide within its own bound marks both as "may overlap".
    fn find_partner(
        &self,
        v: usize,
        partners: &[usize],
        state: &Cluster,
        flags: &mut Flags,
        budget: &mut u64,
    ) -> Option<bool> {
        let (_, cv) = self.sets.get(v)?;
        for u in self.partners_of(v, partners) {
            *budget = budget.checked_sub(1)?;
            if !state.open(u, v) {
                continue;
            }
            let Some((_, cu)) = self.sets.get(u) else {
                continue;
            };
            let mut pair = (*budget / SEARCH_NODE_COST).min(EXACT_WORK_BOUND);
            let before = pair;
            let verdict = cv.meets(cu, &mut pair);
            *budget = budget.saturating_sub((before - pair) * SEARCH_NODE_COST);
            match verdict {
                Some(false) => {}
                Some(true) => {
                    flags.prove(self.id_of(v));
                    flags.prove(self.id_of(u));
                    return Some(true);
                }
                None if *budget < SEARCH_NODE_COST => return None,
                None => {
                    flags.suspect(self.id_of(v));
                    flags.suspect(self.id_of(u));
                    return Some(true);
                }
            }
        }
        Some(false)
    }
}

/// Proves members of a large cluster (sorted by `lo`) cheaply, before
/// anything exact: every view lists its first elements (up to [`PREFIX`],
/// fewer on a small budget) in one bitset over the cluster's span, forwards
/// and then backwards as in [`shared_by_bitset`]; an address listed by two
/// views proves both. In a crowded group most members are proven here at a
/// small fraction of their elements (listing more of the unproven ones
/// proves few more: their shared addresses lie deep in both views); nothing
/// is disproven.
fn prove_by_prefixes(
    views: &[StridedView],
    cluster: &[Extent<i128>],
    flags: &mut Flags,
    budget: &mut u64,
) {
    let n = u64::try_from(cluster.len()).unwrap_or(u64::MAX);
    let prefix = (*budget / n.saturating_mul(2).max(1)).min(PREFIX);
    let (Some(first), Some(top)) = (cluster.first(), cluster.iter().map(|e| e.hi).max()) else {
        return;
    };
    let (base, width) = (first.lo, top - first.lo + 1);
    if prefix == 0 || width > BITSET_SPAN {
        return;
    }
    *budget -= n * 2 * prefix;
    let limits = vec![usize::try_from(prefix).unwrap_or(usize::MAX); cluster.len()];
    let shared = shared_prefixes(views, cluster, &limits, base, width);
    for (e, shares) in cluster.iter().zip(shared) {
        if shares {
            flags.prove(e.id);
        }
    }
}

/// For each view of `cluster`, whether one of its first `limits[k]`
/// addresses is among the listed addresses of another.
fn shared_prefixes(
    views: &[StridedView],
    cluster: &[Extent<i128>],
    limits: &[usize],
    base: i128,
    width: i128,
) -> Vec<bool> {
    // Each view's listed addresses, once (offsets below 2^30 fit `u32`).
    let mut addresses: Vec<u32> = Vec::with_capacity(limits.iter().sum());
    let mut ends = Vec::with_capacity(cluster.len());
    let (mut dims, mut index) = (Vec::new(), Vec::new());
    for (e, &limit) in cluster.iter().zip(limits) {
        if let Some(v) = views.get(e.id) {
            list_prefix(v, base, limit, (&mut dims, &mut index), &mut addresses);
        }
        ends.push(addresses.len());
    }
    let listed = |k: usize| {
        let start = k
            .checked_sub(1)
            .and_then(|j| ends.get(j))
            .copied()
            .unwrap_or(0);
        addresses
            .get(start..ends.get(k).copied().unwrap_or(start))
            .unwrap_or(&[])
    };
    let words = usize::try_from((width + 63) / 64).unwrap_or(0);
    let is_set = |bits: &[u64], at: u32| {
        bits.get(at as usize / 64)
            .is_some_and(|w| w & (1 << (at % 64)) != 0)
    };
    let set = |bits: &mut [u64], at: u32| {
        if let Some(w) = bits.get_mut(at as usize / 64) {
            *w |= 1 << (at % 64);
        }
    };
    // Forwards: a view meeting an address listed before its own shares it
    // with an earlier view, and the address is marked `hit`. Then a view
    // holding a hit address shares it: the address has two owners, so
    // whichever it is, the view has a partner.
    let (mut seen, mut hit) = (vec![0u64; words], vec![0u64; words]);
    let mut shared = vec![false; cluster.len()];
    for (k, flag) in shared.iter_mut().enumerate() {
        let mine = listed(k);
        for &at in mine {
            if is_set(&seen, at) {
                *flag = true;
                set(&mut hit, at);
            }
        }
        mine.iter().for_each(|&at| set(&mut seen, at));
    }
    for (k, flag) in shared.iter_mut().enumerate() {
        *flag = *flag || listed(k).iter().any(|&at| is_set(&hit, at));
    }
    shared
}

/// Appends to `out` the first `limit` element addresses of `v` (any order,
/// repeats included) as offsets from `base`. The view's range lies in
/// `[base, base + 2^30]` and every address the odometer passes through is
/// an element, so all arithmetic fits `i64` and every offset fits `u32`.
/// `dims` and `index` are scratch space.
fn list_prefix(
    v: &StridedView,
    base: i128,
    limit: usize,
    (dims, index): (&mut Vec<(i64, i64)>, &mut Vec<i64>),
    out: &mut Vec<u32>,
) {
    let Ok(mut row) = i64::try_from(i128::from(v.offset) - base) else {
        return;
    };
    dims.clear();
    dims.extend(
        v.sizes
            .iter()
            .zip(&v.strides)
            .filter(|&(&n, &s)| n > 1 && s != 0)
            .map(|(&n, &s)| (n, s)),
    );
    let Some(((count, stride), outer)) = dims.split_first() else {
        out.push(u32::try_from(row).unwrap_or(u32::MAX));
        return;
    };
    index.clear();
    index.resize(outer.len(), 0);
    let end = out.len().saturating_add(limit);
    loop {
        let mut at = row;
        for _ in 0..*count {
            if out.len() >= end {
                return;
            }
            out.push(u32::try_from(at).unwrap_or(u32::MAX));
            at = at.wrapping_add(*stride);
        }
        // Advance the odometer of the outer dimensions.
        let mut carried = true;
        for (i, &(n, s)) in index.iter_mut().zip(outer) {
            *i += 1;
            row = row.wrapping_add(s);
            if *i < n {
                carried = false;
                break;
            }
            row = row.wrapping_sub(n.wrapping_mul(s));
            *i = 0;
        }
        if carried {
            return;
        }
    }
}

/// The number of elements of a normalized view (with repeats), if it fits.
fn numel(c: &Canonical) -> Option<u64> {
    c.dims
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(u64::try_from(d.count).ok()?))
}

/// Calls `f` on every element address of `c` (repeats included), innermost
/// (smallest) stride fastest, while `f` returns true; returns whether it
/// went through all. Addresses lie in `[offset, last]`, which fits `i128`,
/// and so does every intermediate (at most one step past the last index of
/// a dimension).
fn for_each_element(c: &Canonical, mut f: impl FnMut(i128) -> bool) -> bool {
    let Some((inner, outer)) = c.dims.split_first() else {
        return f(c.offset);
    };
    let mut index = vec![0i128; outer.len()];
    let mut row = c.offset;
    loop {
        let mut a = row;
        for _ in 0..inner.count {
            if !f(a) {
                return false;
            }
            a += inner.stride;
        }
        // Advance the odometer of the outer dimensions.
        let mut carried = true;
        for (i, d) in index.iter_mut().zip(outer) {
            *i += 1;
            row += d.stride;
            if *i < d.count {
                carried = false;
                break;
            }
            row -= d.count * d.stride;
            *i = 0;
        }
        if carried {
            return true;
        }
    }
}

/// For each view, whether it shares an address with another, with a bitset
/// over `[base, base + width)`: a view shares with an earlier one iff one of
/// its addresses is set before its own are added (its own repeats are then
/// not mistaken for sharing), and with a later one iff the same holds in the
/// reverse order.
fn shared_by_bitset(views: &[&Canonical], base: i128, width: i128, limit: u64) -> Vec<bool> {
    let words = usize::try_from((width + 63) / 64).unwrap_or(0);
    let mut seen = vec![0u64; words];
    // Offsets from `base` and strides fit `u64` (the span does): the inner
    // loops then run on machine words.
    let relative: Vec<Option<Grid>> = views.iter().map(|c| Grid::of(c, base)).collect();
    let mut shared = vec![false; views.len()];
    for backward in [false, true] {
        seen.fill(0);
        let order: Box<dyn Iterator<Item = usize>> = if backward {
            Box::new((0..views.len()).rev())
        } else {
            Box::new(0..views.len())
        };
        for k in order {
            let (Some(Some(g)), Some(flag)) = (relative.get(k), shared.get_mut(k)) else {
                // Not expected (the span bounds every address); may overlap.
                if let Some(flag) = shared.get_mut(k) {
                    *flag = true;
                }
                continue;
            };
            if !*flag {
                let mut left = limit;
                g.for_each(|at| {
                    let word = usize::try_from(at / 64).ok().and_then(|w| seen.get(w));
                    *flag |= word.is_some_and(|word| word & (1 << (at % 64)) != 0);
                    left -= 1;
                    !*flag && left > 0
                });
            }
            let mut left = limit;
            g.for_each(|at| {
                let word = usize::try_from(at / 64).ok().and_then(|w| seen.get_mut(w));
                if let Some(word) = word {
                    *word |= 1 << (at % 64);
                }
                left -= 1;
                left > 0
            });
        }
    }
    shared
}

/// A normalized view as offsets from a base, in machine words.
struct Grid {
    offset: u64,
    /// `(count, stride)`, innermost first.
    dims: Vec<(u64, u64)>,
}

impl Grid {
    fn of(c: &Canonical, base: i128) -> Option<Self> {
        let dims = c
            .dims
            .iter()
            .map(|d| Some((u64::try_from(d.count).ok()?, u64::try_from(d.stride).ok()?)))
            .collect::<Option<_>>()?;
        // `last − base` fits, so every address and partial sum does.
        u64::try_from(c.last - base).ok()?;
        Some(Self {
            offset: u64::try_from(c.offset - base).ok()?,
            dims,
        })
    }

    /// [`for_each_element`] on offsets.
    fn for_each(&self, mut f: impl FnMut(u64) -> bool) -> bool {
        let Some((&(count, stride), outer)) = self.dims.split_first() else {
            return f(self.offset);
        };
        let mut index = vec![0u64; outer.len()];
        let mut row = self.offset;
        loop {
            let mut a = row;
            for _ in 0..count {
                if !f(a) {
                    return false;
                }
                a = a.wrapping_add(stride);
            }
            let mut carried = true;
            for (i, &(n, s)) in index.iter_mut().zip(outer) {
                *i += 1;
                row = row.wrapping_add(s);
                if *i < n {
                    carried = false;
                    break;
                }
                row = row.wrapping_sub(n.wrapping_mul(s));
                *i = 0;
            }
            if carried {
                return true;
            }
        }
    }
}

/// [`shared_by_bitset`] for a sparse span: all `(address, view)` sorted.
fn shared_by_sorting(views: &[&Canonical], total: u64) -> Vec<bool> {
    let mut list: Vec<(i128, usize)> = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for (k, c) in views.iter().enumerate() {
        for_each_element(c, |a| {
            list.push((a, k));
            true
        });
    }
    list.sort_unstable();
    list.dedup();
    let mut shared = vec![false; views.len()];
    for run in list.chunk_by(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            for &(_, k) in run {
                if let Some(flag) = shared.get_mut(k) {
                    *flag = true;
                }
            }
        }
    }
    shared
}
