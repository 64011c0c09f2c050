//! PyTorch's pairwise predicate (`tensors_definitely_do_not_overlap`,
//! semantics §3.6.1) and its all-pairs driver (`compute_overlapping_tensors`,
//! §3.6.2), transcribed step by step. This is the reference the fast engine
//! (`torch_members.rs`) must agree with, and the baseline of the benchmarks.

use super::StridedView;

/// An argument of the predicate, as passed (before PyTorch's swap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// The first tensor of the pair.
    First,
    /// The second.
    Second,
}

/// One comparison PyTorch's predicate makes. A symbolic layer builds the same
/// comparison on symbolic expressions and guards on (or re-checks) the
/// recorded outcome. `lower` names the argument with the smaller offset after
/// PyTorch's swap; `δ = offset(upper) − offset(lower)`, `R = stride(lower, 0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TorchTest {
    /// `numel(arg) == 0`.
    NumelIsZero(Arg),
    /// `offset(First) > offset(Second)`; when true the roles are swapped.
    FirstOffsetGreater,
    /// `is_contiguous(arg)` (row-major, semantics §1).
    IsContiguous(Arg),
    /// `offset(lower) + numel(lower) > offset(upper)`, asked when both are
    /// contiguous; true means "may overlap".
    ContiguousRangesMeet {
        /// The tensor whose range starts lower.
        lower: Arg,
    },
    /// `last(lower) < offset(upper)`, `last = offset + Σ (size − 1)·stride`.
    LastBeforeUpperStart {
        /// The tensor whose range starts lower.
        lower: Arg,
    },
    /// `stride(arg, 1) == 1`, asked only when both views are 2-D.
    InnerStrideIsOne(Arg),
    /// `stride(lower, 0) == stride(upper, 0)`.
    OuterStridesEqual,
    /// `δ < size(lower, 1)`: upper starts inside lower's first row.
    DeltaWithinFirstRow {
        /// The tensor whose range starts lower.
        lower: Arg,
    },
    /// `R·(size(lower, 0) − 1) + size(lower, 1) ≤ δ`.
    LowerEndsBeforeDelta {
        /// The tensor whose range starts lower.
        lower: Arg,
    },
    /// `δ mod R + size(upper, 1) ≤ R` (C++ truncating `%`).
    UpperRowFitsInPeriod {
        /// The tensor whose range starts lower.
        lower: Arg,
    },
    /// An intermediate overflowed `i64`; PyTorch would wrap, we answer "may
    /// overlap". Always recorded with outcome `true`.
    Overflow,
}

/// The verdict on one ordered pair with the comparisons it depended on, in
/// evaluation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchDecision {
    /// `tensors_definitely_do_not_overlap(first, second)`.
    pub disjoint: bool,
    /// Every comparison made, with its outcome.
    pub tests: Vec<(TorchTest, bool)>,
}

/// PyTorch's predicate: true when it proves the two views disjoint. The two
/// views are distinct objects (identity is not modelled). PyTorch's driver
/// calls it as `(later index, earlier index)`, which matters only for
/// malformed geometry (negative strides with equal offsets).
pub fn torch_definitely_do_not_overlap(first: &StridedView, second: &StridedView) -> bool {
    decide(first, second, &mut NoTrace)
}

/// [`torch_definitely_do_not_overlap`] with its trace of comparisons.
pub fn torch_decision(first: &StridedView, second: &StridedView) -> TorchDecision {
    let mut tests = Vec::new();
    let disjoint = decide(first, second, &mut tests);
    TorchDecision { disjoint, tests }
}

/// PyTorch's `compute_overlapping_tensors`: all pairs, `O(n²)`. Sorted.
pub fn torch_pairwise_baseline(views: &[StridedView]) -> Vec<usize> {
    let mut member = vec![false; views.len()];
    for (i, later) in views.iter().enumerate() {
        for (j, earlier) in views.iter().enumerate().take(i) {
            if !torch_definitely_do_not_overlap(later, earlier) {
                for k in [i, j] {
                    if let Some(m) = member.get_mut(k) {
                        *m = true;
                    }
                }
            }
        }
    }
    super::indices_of(&member)
}

/// The runtime check of a `StorageOverlap` guard (semantics §3.6.4): with the
/// list `overlapping ⊕ non_overlapping`, torch mode must report exactly the
/// first `overlapping.len()` members.
pub fn storage_overlap_guard_holds(
    overlapping: &[StridedView],
    non_overlapping: &[StridedView],
) -> bool {
    let all: Vec<StridedView> = overlapping.iter().chain(non_overlapping).cloned().collect();
    let found = super::overlapping_members(&all, super::Mode::Torch).0;
    found.len() == overlapping.len() && found.iter().enumerate().all(|(k, &i)| k == i)
}

/// Receives each comparison; the untraced predicate compiles to plain code.
trait Recorder {
    fn note(&mut self, test: TorchTest, outcome: bool) -> bool;
}

struct NoTrace;

impl Recorder for NoTrace {
    #[inline(always)]
    fn note(&mut self, _: TorchTest, outcome: bool) -> bool {
        outcome
    }
}

impl Recorder for Vec<(TorchTest, bool)> {
    fn note(&mut self, test: TorchTest, outcome: bool) -> bool {
        self.push((test, outcome));
        outcome
    }
}

fn decide(first: &StridedView, second: &StridedView, rec: &mut impl Recorder) -> bool {
    match decide_checked(first, second, rec) {
        Some(disjoint) => disjoint,
        None => !rec.note(TorchTest::Overflow, true),
    }
}

/// Semantics §3.6.1 steps 2–7; `None` when an intermediate overflows.
fn decide_checked(
    first: &StridedView,
    second: &StridedView,
    rec: &mut impl Recorder,
) -> Option<bool> {
    use TorchTest as T;
    // Step 2 (C++ `||` short-circuits, so the second numel is only asked if
    // needed). A zero size makes numel 0 even where the product of the other
    // sizes would overflow.
    if rec.note(T::NumelIsZero(Arg::First), first.sizes.contains(&0))
        || rec.note(T::NumelIsZero(Arg::Second), second.sizes.contains(&0))
    {
        return Some(true);
    }
    // Step 3: make `lower` the view with the smaller (or equal) offset.
    let (lower, upper, lo_arg, up_arg) =
        if rec.note(T::FirstOffsetGreater, first.offset > second.offset) {
            (second, first, Arg::Second, Arg::First)
        } else {
            (first, second, Arg::First, Arg::Second)
        };
    // Step 4: two contiguous ranges.
    if rec.note(T::IsContiguous(lo_arg), is_contiguous(lower))
        && rec.note(T::IsContiguous(up_arg), is_contiguous(upper))
    {
        let end = lower.offset.checked_add(numel(lower)?)?;
        let meet = rec.note(
            T::ContiguousRangesMeet { lower: lo_arg },
            end > upper.offset,
        );
        return Some(!meet);
    }
    // Step 5: lower ends before upper starts.
    let last = last_element(lower)?;
    if rec.note(
        T::LastBeforeUpperStart { lower: lo_arg },
        last < upper.offset,
    ) {
        return Some(true);
    }
    // Step 6: the 2-D row rule (Shampoo's pattern).
    if let ([rows_lo, width_lo], [r_lo, inner_lo], [_, width_up], [r_up, inner_up]) = (
        lower.sizes.as_slice(),
        lower.strides.as_slice(),
        upper.sizes.as_slice(),
        upper.strides.as_slice(),
    ) {
        if rec.note(T::InnerStrideIsOne(lo_arg), *inner_lo == 1)
            && rec.note(T::InnerStrideIsOne(up_arg), *inner_up == 1)
            && rec.note(T::OuterStridesEqual, r_lo == r_up)
        {
            let r = *r_lo;
            let delta = upper.offset.checked_sub(lower.offset)?;
            if rec.note(T::DeltaWithinFirstRow { lower: lo_arg }, delta < *width_lo) {
                return Some(false);
            }
            let covered = r
                .checked_mul(rows_lo.checked_sub(1)?)?
                .checked_add(*width_lo)?;
            if rec.note(T::LowerEndsBeforeDelta { lower: lo_arg }, covered <= delta) {
                return Some(true);
            }
            // With R = 0 the previous test always decides, so this never divides by 0.
            let fits = delta.checked_rem(r)?.checked_add(*width_up)? <= r;
            if rec.note(T::UpperRowFitsInPeriod { lower: lo_arg }, fits) {
                return Some(true);
            }
        }
    }
    // Step 7.
    Some(false)
}

/// Number of elements; 0 as soon as a size is 0 (whatever the others are),
/// `None` when the product overflows.
pub(super) fn numel(v: &StridedView) -> Option<i64> {
    if v.sizes.contains(&0) {
        return Some(0);
    }
    v.sizes.iter().try_fold(1i64, |acc, &s| acc.checked_mul(s))
}

/// PyTorch's row-major contiguity (semantics §1): from the last dimension,
/// every dimension of size ≠ 1 must have the stride expected so far.
pub(super) fn is_contiguous(v: &StridedView) -> bool {
    if v.sizes.contains(&0) {
        return true;
    }
    let mut expected: i64 = 1;
    for (&size, &stride) in v.sizes.iter().zip(&v.strides).rev() {
        if size == 1 {
            continue;
        }
        if stride != expected {
            return false;
        }
        match expected.checked_mul(size) {
            Some(e) => expected = e,
            None => return false,
        }
    }
    true
}

/// `offset + Σ (size − 1)·stride`, the address PyTorch calls the last element.
pub(super) fn last_element(v: &StridedView) -> Option<i64> {
    v.sizes
        .iter()
        .zip(&v.strides)
        .try_fold(v.offset, |acc, (&size, &stride)| {
            acc.checked_add(size.checked_sub(1)?.checked_mul(stride)?)
        })
}
