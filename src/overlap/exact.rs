//! Exact pairwise test: do two strided views share an element?
//!
//! ## Reduction
//!
//! View `a` is `o_a + Σ a_k·i_k`, `0 ≤ i_k < n_k`, and `b` likewise with
//! `b_k`, `j_k`, `m_k`. Substituting `j_k → m_k − 1 − j_k` turns
//! `o_a + Σ a_k i_k = o_b + Σ b_k j_k` into
//!
//! ```text
//! Σ a_k·i_k + Σ b_k·j_k = last_b − o_a,     0 ≤ i_k < n_k, 0 ≤ j_k < m_k
//! ```
//!
//! with all strides positive (after folding negative strides into the
//! offset). So "do they share an element" is "is a target a bounded sum of
//! these strides", a bounded linear Diophantine (knapsack-like) problem, and
//! the same question as "is an address an element of one view".
//!
//! ## Shortcuts
//!
//! Before any search, [`Canonical::meets`] answers the common shapes in
//! `O(1)`: disjoint ranges; two contiguous ranges (their ranges meet); and
//! two views that are ranges, columns or row blocks of one row grid, whose
//! element sets are at most three rectangles each of that grid
//! ([`pieces`]).
//!
//! ## Solver
//!
//! First [`normalize`] shrinks the dimension list without changing the set of
//! sums: size-1 and stride-0 dimensions go, and a dimension whose stride is a
//! multiple `q·s` of a smaller stride `s` with `q ≤ count` is absorbed (the
//! two together cover every multiple of `s` up to their combined reach).
//! This alone turns contiguous ranges, row blocks against row blocks of the
//! same row stride, and broadcasts into at most two dimensions.
//!
//! Then a depth-first search fixes the coefficient of the largest stride
//! first. Its candidates are bounded by the reach of the smaller dimensions
//! and restricted to one residue class (the remainder must be a multiple of
//! the gcd of the smaller strides), so for the usual non-self-overlapping
//! layouts there are one or two candidates per level. With two dimensions left
//! the answer is a closed formula (one residue class intersected with an
//! interval), so two 1-D views need no search at all. Every search node costs
//! one unit of a work budget; an exhausted budget answers `None` ("may
//! overlap").

use super::grid::pieces;
use super::numtheory::{ceil_div, div_rem_euclid, floor_div, gcd, inv_mod, mul_mod, rem_euclid};
use super::StridedView;

/// Search nodes [`shares_element`] may visit before answering `None`.
pub const EXACT_WORK_BOUND: u64 = 100_000;

/// Whether the two views share an element; `None` when the work bound was
/// hit or the geometry is malformed (sizes and strides of different lengths,
/// a negative size, or `i128` overflow).
pub fn shares_element(a: &StridedView, b: &StridedView) -> Option<bool> {
    shares_element_bounded(a, b, EXACT_WORK_BOUND)
}

/// [`shares_element`] with an explicit work bound (search nodes).
pub fn shares_element_bounded(a: &StridedView, b: &StridedView, work_bound: u64) -> Option<bool> {
    match (ElementSet::of(a), ElementSet::of(b)) {
        (ElementSet::Empty, _) | (_, ElementSet::Empty) => Some(false),
        (ElementSet::Strided(x), ElementSet::Strided(y)) => {
            let mut budget = work_bound;
            x.meets(&y, &mut budget)
        }
        _ => None,
    }
}

/// One dimension of a normalized view: `count ≥ 2` steps of `stride > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dim {
    pub count: i128,
    pub stride: i128,
}

/// The element set of a view as `offset + {Σ i_k·stride_k}`, normalized: see
/// [`normalize`]. `last` is the largest element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Canonical {
    pub offset: i128,
    pub last: i128,
    pub dims: Vec<Dim>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ElementSet {
    Empty,
    /// Malformed geometry or overflow: nothing can be said.
    Unknown,
    Strided(Canonical),
}

impl ElementSet {
    pub fn of(v: &StridedView) -> Self {
        Self::of_in(v, Vec::new())
    }

    /// [`ElementSet::of`] building the dimension list in `buffer` (cleared
    /// first), so that callers normalizing many views can recycle buffers.
    pub fn of_in(v: &StridedView, buffer: Vec<Dim>) -> Self {
        if v.sizes.contains(&0) {
            return Self::Empty;
        }
        if malformed(v) {
            return Self::Unknown;
        }
        Canonical::new(v, buffer).map_or(Self::Unknown, Self::Strided)
    }
}

/// Sizes and strides of different lengths, or a negative size.
fn malformed(v: &StridedView) -> bool {
    v.sizes.len() != v.strides.len() || v.sizes.iter().any(|&s| s < 0)
}

/// The closed range of a view's addresses: what [`ElementSet::of`] would
/// give as `[offset, last]`, without building the normalized form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AddressRange {
    Empty,
    Unknown,
    Span(i128, i128),
}

impl AddressRange {
    pub fn of(v: &StridedView) -> Self {
        if v.sizes.contains(&0) {
            return Self::Empty;
        }
        if malformed(v) {
            return Self::Unknown;
        }
        // Negative steps lower the first address, positive ones raise the
        // last; one step (at most 2^63·2^63) always fits i128.
        let span = v.sizes.iter().zip(&v.strides).try_fold(
            (i128::from(v.offset), i128::from(v.offset)),
            |(lo, hi), (&size, &stride)| {
                let step = (i128::from(size) - 1).checked_mul(i128::from(stride))?;
                if step < 0 {
                    Some((lo.checked_add(step)?, hi))
                } else {
                    Some((lo, hi.checked_add(step)?))
                }
            },
        );
        span.map_or(Self::Unknown, |(lo, hi)| Self::Span(lo, hi))
    }
}

impl Canonical {
    fn new(v: &StridedView, mut dims: Vec<Dim>) -> Option<Self> {
        let mut offset = i128::from(v.offset);
        dims.clear();
        for (&size, &stride) in v.sizes.iter().zip(&v.strides) {
            let (count, stride) = (i128::from(size), i128::from(stride));
            if count == 1 || stride == 0 {
                continue;
            }
            if stride < 0 {
                // Walking a negative stride backwards from its far end gives
                // the same elements with a positive stride.
                offset = offset.checked_add((count - 1).checked_mul(stride)?)?;
            }
            dims.push(Dim {
                count,
                stride: stride.checked_abs()?,
            });
        }
        normalize(&mut dims)?;
        let last = offset.checked_add(reach(&dims)?)?;
        Some(Self { offset, last, dims })
    }

    /// A single run of consecutive addresses.
    pub fn is_interval(&self) -> bool {
        matches!(self.dims.as_slice(), [] | [Dim { stride: 1, .. }])
    }

    /// The row stride `R` of a column `(m, R)` or row block `((w, 1), (m, R))`.
    pub fn row_stride(&self) -> Option<i128> {
        match self.dims.as_slice() {
            [Dim { stride: 1, .. }, Dim { stride, .. }] => Some(*stride),
            [Dim { stride, .. }] if *stride > 1 => Some(*stride),
            _ => None,
        }
    }

    /// Whether the two sets share an element; `None` past the budget or on
    /// overflow. Consumes budget only when a search is needed.
    pub fn meets(&self, other: &Canonical, budget: &mut u64) -> Option<bool> {
        if self.last < other.offset || other.last < self.offset {
            return Some(false);
        }
        if self.is_interval() && other.is_interval() {
            return Some(true);
        }
        // Ranges, columns and row blocks of one row grid: compare rectangles.
        if let Some(width) = self.row_stride().or_else(|| other.row_stride()) {
            if let (Some(p), Some(q)) = (pieces(self, width), pieces(other, width)) {
                return Some(p.meet(&q));
            }
        }
        self.meets_by_search(other, budget)
    }

    /// [`Canonical::meets`] by the general solver alone (no shortcuts).
    pub fn meets_by_search(&self, other: &Canonical, budget: &mut u64) -> Option<bool> {
        let target = other.last.checked_sub(self.offset)?;
        let mut dims: Vec<Dim> = self.dims.iter().chain(&other.dims).copied().collect();
        normalize(&mut dims)?;
        BoundedSums::new(dims)?.contains(target, budget)
    }
}

/// `Σ (count − 1)·stride`: the largest sum.
fn reach(dims: &[Dim]) -> Option<i128> {
    dims.iter().try_fold(0i128, |acc, d| {
        acc.checked_add((d.count - 1).checked_mul(d.stride)?)
    })
}

/// Sorts by stride and absorbs dimensions into smaller ones while possible;
/// the set of sums never changes. Dimensions `(n, s)` and `(m, q·s)` with
/// `q ≤ n` cover `s·[0, (n − 1) + q·(m − 1)]` without gaps, i.e. they are
/// one dimension `(n + q·(m − 1), s)`. (Equal strides are the case `q = 1`.)
/// Dimension lists are short, so the quadratic scan per merge is fine.
pub(super) fn normalize(dims: &mut Vec<Dim>) -> Option<()> {
    dims.retain(|d| d.count != 1 && d.stride != 0);
    dims.sort_unstable_by_key(|d| (d.stride, d.count));
    loop {
        let mut merge = None;
        'search: for (i, small) in dims.iter().enumerate() {
            for (j, big) in dims.iter().enumerate().skip(i + 1) {
                // q ≤ count ⇔ big ≤ count·small; checked first because a
                // multiplication is much cheaper than an i128 division.
                let span = small.count.checked_mul(small.stride);
                if span.is_some_and(|span| span < big.stride) {
                    continue;
                }
                let (q, r) = div_rem_euclid(big.stride, small.stride)?;
                if r == 0 && q <= small.count {
                    let count = small.count.checked_add(q.checked_mul(big.count - 1)?)?;
                    merge = Some((i, j, count));
                    break 'search;
                }
            }
        }
        let Some((i, j, count)) = merge else {
            return Some(());
        };
        // Strides are unchanged by a merge, so the list stays sorted.
        if let Some(d) = dims.get_mut(i) {
            d.count = count;
        }
        if j < dims.len() {
            dims.remove(j);
        }
    }
}

/// The sums `Σ i_k·stride_k`, `0 ≤ i_k < count_k`, of normalized dimensions,
/// with per-prefix tables: `reach[k]` and `step[k]` are the largest sum and
/// the gcd of the strides of `dims[..k]`.
struct BoundedSums {
    dims: Vec<Dim>,
    reach: Vec<i128>,
    step: Vec<i128>,
}

impl BoundedSums {
    fn new(dims: Vec<Dim>) -> Option<Self> {
        let mut reach = vec![0i128];
        let mut step = vec![0i128];
        let (mut r, mut g) = (0i128, 0i128);
        for d in &dims {
            r = r.checked_add((d.count - 1).checked_mul(d.stride)?)?;
            g = gcd(g, d.stride);
            reach.push(r);
            step.push(g);
        }
        Some(Self { dims, reach, step })
    }

    fn contains(&self, target: i128, budget: &mut u64) -> Option<bool> {
        self.search(self.dims.len(), target, budget)
    }

    /// Whether `t` is a sum over `dims[..k]`.
    fn search(&self, k: usize, t: i128, budget: &mut u64) -> Option<bool> {
        *budget = budget.checked_sub(1)?;
        let reach = *self.reach.get(k)?;
        let step = *self.step.get(k)?;
        if t < 0 || t > reach || (step != 0 && rem_euclid(t, step)? != 0) {
            return Some(false);
        }
        // One dimension (or none): in range and a multiple of the stride is enough.
        if k <= 1 {
            return Some(true);
        }
        let big = *self.dims.get(k - 1)?;
        let rest_reach = *self.reach.get(k - 1)?;
        let rest_step = *self.step.get(k - 1)?;
        // Coefficient i of the largest stride s: the remainder t − i·s must lie
        // in [0, rest_reach] ...
        let lo = ceil_div(t.checked_sub(rest_reach)?, big.stride)?.max(0);
        let hi = floor_div(t, big.stride)?.min(big.count - 1);
        // ... and be a multiple of rest_step: i·(s/h) ≡ t/h (mod rest_step/h)
        // with h = gcd(s, rest_step), which divides t since step[k] = h.
        let h = gcd(big.stride, rest_step);
        let period = floor_div(rest_step, h)?;
        let residue = mul_mod(
            floor_div(t, h)?,
            inv_mod(floor_div(big.stride, h)?, period)?,
            period,
        )?;
        // Largest candidate ≤ hi in the residue class; then walk down.
        let mut i = hi.checked_sub(rem_euclid(hi.checked_sub(residue)?, period)?)?;
        if k == 2 {
            // The one dimension left takes any remainder in range that its
            // stride (= rest_step) divides: any candidate works.
            return Some(i >= lo);
        }
        while i >= lo {
            let rest = t.checked_sub(i.checked_mul(big.stride)?)?;
            if self.search(k - 1, rest, budget)? {
                return Some(true);
            }
            i = i.checked_sub(period)?;
        }
        Some(false)
    }
}
