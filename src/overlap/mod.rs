//! Storage overlap of strided views that share one storage (semantics §3.6).
//!
//! A view is `offset + Σ_d i_d·stride_d` for `0 ≤ i_d < size_d`, all in
//! elements. Two questions are answered for a list of views:
//!
//! * [`Mode::Torch`]: exactly PyTorch's `compute_overlapping_tensors`, i.e. the
//!   members for which `tensors_definitely_do_not_overlap` fails against some
//!   other member. That includes PyTorch's false positives (strided views
//!   whose address ranges merely intersect) and its false negatives (the 2-D
//!   row rule, semantics §5 item 2).
//! * [`Mode::Exact`]: the members that really share an element with another
//!   member. Never a false negative; a false positive only when the solver hit
//!   its work bound or the geometry was malformed, and then `inexact` is set.
//!
//! PyTorch compares all `n²/2` pairs. This engine sorts the views by address
//! range and only looks further where ranges intersect; where whole families
//! intersect (column blocks, interleaved views) it reasons about a family at
//! once (row residues for torch mode, rectangles of the row grid and a table
//! of element addresses for exact mode). See `torch_members.rs` and
//! `exact_members.rs`.
//!
//! The answer is a member set ([`members`]), as PyTorch's is; pairs are
//! listed lazily, on request, among the members ([`Members::pairs`]). Exact
//! mode's work per group is bounded by a budget ([`GROUP_WORK_BUDGET`] by
//! default): past it, the views it has not decided count as "may overlap"
//! and are reported as [`Members::undecided`].
//!
//! ## Symbolic shapes
//!
//! PyTorch decides every comparison of a symbolic pair by evaluating it at the
//! hints, so torch mode on symbolic tensors is this engine run on the geometry
//! evaluated at the hints. The seam for a symbolic layer is
//! [`torch_decision`]: it replays PyTorch's predicate on one ordered pair and
//! returns every comparison it made with its outcome ([`TorchTest`]), which is
//! what a symbolic caller turns into guards or re-checks at other symbol
//! values. [`torch_definitely_do_not_overlap`] is the same predicate without
//! the trace.
//!
//! The module is pure (no I/O, no global state) and never panics: arithmetic
//! is checked, and an overflow counts as "may overlap".

mod canonical;
mod conformance;
mod exact;
mod exact_members;
mod grid;
mod input;
mod numtheory;
mod pairs;
mod sweep;
mod torch;
mod torch_members;
pub mod witness;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use conformance::{check_jsonl_line, OverlapCase, OverlapExpect};
pub use exact::{shares_element, shares_element_bounded, EXACT_WORK_BOUND};
pub use input::GroupLine;
pub use pairs::Pairs;
pub use torch::{
    storage_overlap_guard_holds, torch_decision, torch_definitely_do_not_overlap,
    torch_pairwise_baseline, Arg, TorchDecision, TorchTest,
};

/// Geometry of one view of a storage, in elements.
///
/// Valid PyTorch data has non-negative sizes, strides and offset; any other
/// value is accepted and handled without panicking (as "may overlap" where
/// nothing better can be said). The serde names are those of the dumps
/// (`shape`, `stride`, `storage_offset`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StridedView {
    /// Sizes.
    #[serde(rename = "shape")]
    pub sizes: Vec<i64>,
    /// Strides, in elements.
    #[serde(rename = "stride")]
    pub strides: Vec<i64>,
    /// Storage offset, in elements.
    #[serde(rename = "storage_offset")]
    pub offset: i64,
}

impl StridedView {
    /// A view of `sizes`, `strides` and `offset`.
    pub fn new(sizes: Vec<i64>, strides: Vec<i64>, offset: i64) -> Self {
        Self {
            sizes,
            strides,
            offset,
        }
    }

    /// A row-major contiguous view of `sizes` starting at `offset`.
    /// Strides that would overflow saturate (such a view is malformed anyway).
    pub fn contiguous(sizes: Vec<i64>, offset: i64) -> Self {
        let mut strides = vec![0; sizes.len()];
        let mut expected: i64 = 1;
        for (stride, &size) in strides.iter_mut().zip(&sizes).rev() {
            *stride = expected;
            expected = expected.saturating_mul(size.max(1));
        }
        Self::new(sizes, strides, offset)
    }
}

/// Which overlap relation to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// PyTorch's verdict, bug for bug.
    Torch,
    /// Ground truth: the views share an element.
    Exact,
}

/// Exact mode's default work budget for one group: elements listed, pairs
/// looked at and solver search nodes (tens of milliseconds of work).
pub const GROUP_WORK_BUDGET: u64 = 20_000_000;

/// The overlapping set of a group, as PyTorch answers it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Members {
    /// Members that may overlap (torch) or do overlap (exact) another member; sorted.
    pub overlapping: Vec<usize>,
    /// Exact mode: the members of `overlapping` whose overlap is not proven
    /// (work budget spent, solver bound hit, or malformed geometry); sorted.
    /// Always empty in torch mode.
    pub undecided: Vec<usize>,
}

impl Members {
    /// Whether some member is only "may overlap".
    pub fn inexact(&self) -> bool {
        !self.undecided.is_empty()
    }

    /// The overlapping pairs among the members, lazily, in `(i, j)` order;
    /// exact mode spends at most `budget` on deciding them (see [`Pairs`]).
    pub fn pairs<'a>(&self, views: &'a [StridedView], mode: Mode, budget: u64) -> Pairs<'a> {
        Pairs::new(views, &self.overlapping, mode, budget)
    }
}

/// The members that may overlap another member (torch) or that do (exact),
/// without building pairs. Exact mode spends at most `budget` units of work.
///
/// Cost: `O(n log n)` for disjoint slices, row blocks, column-block families,
/// interleaved views and broadcasts; crowded groups of other shapes cost
/// their listed elements and tested pairs, within the budget.
pub fn members(views: &[StridedView], mode: Mode, budget: u64) -> Members {
    match mode {
        Mode::Torch => Members {
            overlapping: indices_of(&torch_members::torch_members(views)),
            undecided: Vec::new(),
        },
        Mode::Exact => exact_members::exact_members(views, budget),
    }
}

/// Result of [`compute_overlap`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Overlap {
    /// Members that may overlap (torch) or do overlap (exact) another member; sorted.
    pub overlapping: Vec<usize>,
    /// The overlapping pairs `(i, j)` with `i < j`, sorted.
    pub pairs: Vec<(usize, usize)>,
    /// Exact mode only: some reported member or pair is "may overlap" because
    /// the solver hit its work bound or the geometry was malformed.
    pub inexact: bool,
}

/// Members and every pair, for small groups and tests: the pairs can be
/// quadratic in number (use [`members`] and [`Members::pairs`] otherwise).
/// `overlapping` is the set of the pairs' ends.
pub fn compute_overlap(views: &[StridedView], mode: Mode) -> Overlap {
    let found = members(views, mode, GROUP_WORK_BUDGET);
    let mut pairs = found.pairs(views, mode, GROUP_WORK_BUDGET);
    let list: Vec<(usize, usize)> = pairs.by_ref().collect();
    let inexact = pairs.inexact();
    let mut member = vec![false; views.len()];
    for &(i, j) in &list {
        for k in [i, j] {
            if let Some(m) = member.get_mut(k) {
                *m = true;
            }
        }
    }
    Overlap {
        overlapping: indices_of(&member),
        pairs: list,
        inexact,
    }
}

/// Only the overlapping member set, plus the `inexact` flag (always false in
/// torch mode), with exact mode's default budget: [`members`].
pub fn overlapping_members(views: &[StridedView], mode: Mode) -> (Vec<usize>, bool) {
    let found = members(views, mode, GROUP_WORK_BUDGET);
    let inexact = found.inexact();
    (found.overlapping, inexact)
}

/// Sorted indices of the `true` entries.
fn indices_of(flags: &[bool]) -> Vec<usize> {
    flags
        .iter()
        .enumerate()
        .filter_map(|(i, &f)| f.then_some(i))
        .collect()
}
