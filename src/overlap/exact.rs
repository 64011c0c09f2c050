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
//! First `normalize` (in `canonical`) shrinks the dimension list without changing the set of
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

use super::canonical::{normalize, Canonical, Dim, ElementSet};
use super::grid::pieces;
use super::numtheory::{ceil_div, floor_div, gcd, inv_mod, mul_mod, rem_euclid};
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

impl Canonical {
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
