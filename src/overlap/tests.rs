//! Tests of the overlap engine: the worked table of semantics §4.3, families
//! at scale against the pairwise baseline, and property tests against a
//! brute-force oracle (exact mode) and the transcribed predicate (torch mode).

use std::collections::BTreeSet;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::reach::Reach;

fn view(offset: i64, sizes: &[i64], strides: &[i64]) -> StridedView {
    StridedView::new(sizes.to_vec(), strides.to_vec(), offset)
}

// ---------------------------------------------------------------------------
// Oracles

/// Every element address of a view, or `None` when it has too many to list.
fn elements(v: &StridedView) -> Option<BTreeSet<i128>> {
    if v.sizes.len() != v.strides.len() || v.sizes.iter().any(|&s| s < 0) {
        return None;
    }
    let mut out = BTreeSet::from([i128::from(v.offset)]);
    for (&size, &stride) in v.sizes.iter().zip(&v.strides) {
        if size == 0 {
            return Some(BTreeSet::new());
        }
        if out.len().checked_mul(usize::try_from(size).ok()?)? > 100_000 {
            return None;
        }
        out = out
            .iter()
            .flat_map(|&a| (0..size).map(move |i| a + i128::from(i) * i128::from(stride)))
            .collect();
    }
    Some(out)
}

/// Members and pairs of an overlap relation.
type Relation = (Vec<usize>, Vec<(usize, usize)>);

/// Sharing members and pairs by enumeration.
fn oracle(views: &[StridedView]) -> Option<Relation> {
    let sets: Vec<BTreeSet<i128>> = views.iter().map(elements).collect::<Option<_>>()?;
    let mut pairs = Vec::new();
    for (i, a) in sets.iter().enumerate() {
        for (j, b) in sets.iter().enumerate().skip(i + 1) {
            if !a.is_disjoint(b) {
                pairs.push((i, j));
            }
        }
    }
    Some((members_of(&pairs), pairs))
}

/// PyTorch's pairs by calling the transcribed predicate on each pair, in
/// PyTorch's argument order (later index first).
fn torch_pairs_direct(views: &[StridedView]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (j, later) in views.iter().enumerate() {
        for (i, earlier) in views.iter().enumerate().take(j) {
            if !torch_definitely_do_not_overlap(later, earlier) {
                pairs.push((i, j));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

/// Torch members with every cluster of two or more views sent through the
/// counting and sweep path instead of the small-cluster pairwise shortcut.
fn torch_forced(views: &[StridedView]) -> Vec<usize> {
    indices_of(&super::torch_members::torch_members_with(views, 1))
}

/// Exact members with every cluster sent through the grid.
fn exact_forced(views: &[StridedView]) -> (Vec<usize>, bool) {
    let found = super::exact_members::exact_members_with(views, 1, GROUP_WORK_BUDGET);
    let inexact = found.inexact();
    (found.overlapping, inexact)
}

fn members_of(pairs: &[(usize, usize)]) -> Vec<usize> {
    let set: BTreeSet<usize> = pairs.iter().flat_map(|&(i, j)| [i, j]).collect();
    set.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Semantics §4.3, one row per case

/// Checks one row: PyTorch's members, the true members, and that every entry
/// point agrees with them.
#[track_caller]
fn check(views: &[StridedView], torch: &[usize], exact: &[usize]) {
    let t = compute_overlap(views, Mode::Torch);
    assert_eq!(t.overlapping, torch, "torch members of {views:?}");
    assert_eq!(
        overlapping_members(views, Mode::Torch).0,
        torch,
        "torch fast path of {views:?}"
    );
    assert_eq!(
        torch_pairwise_baseline(views),
        torch,
        "baseline of {views:?}"
    );
    assert_eq!(
        torch_forced(views),
        torch,
        "torch counting path of {views:?}"
    );
    assert_eq!(
        exact_forced(views),
        (exact.to_vec(), false),
        "exact grid path of {views:?}"
    );
    let e = compute_overlap(views, Mode::Exact);
    assert_eq!(
        (e.overlapping.as_slice(), e.inexact),
        (exact, false),
        "exact members of {views:?}"
    );
    assert_eq!(
        overlapping_members(views, Mode::Exact),
        (exact.to_vec(), false),
        "exact fast path of {views:?}"
    );
    if let Some((members, _)) = oracle(views) {
        assert_eq!(
            members, exact,
            "oracle disagrees with the table for {views:?}"
        );
    }
}

#[test]
fn worked_table() {
    let cases: &[(&[StridedView], &[usize], &[usize])] = &[
        (&[view(0, &[4], &[1]), view(4, &[4], &[1])], &[], &[]),
        (
            &[view(0, &[4], &[1]), view(3, &[4], &[1])],
            &[0, 1],
            &[0, 1],
        ),
        // Interleaved columns: PyTorch's false positive.
        (&[view(0, &[4], &[4]), view(1, &[4], &[4])], &[0, 1], &[]),
        (
            &[view(0, &[4, 4], &[8, 1]), view(3, &[4, 4], &[8, 1])],
            &[0, 1],
            &[0, 1],
        ),
        (
            &[view(0, &[4, 4], &[8, 1]), view(4, &[4, 4], &[8, 1])],
            &[],
            &[],
        ),
        (
            &[view(0, &[4, 4], &[8, 1]), view(28, &[4, 4], &[8, 1])],
            &[],
            &[],
        ),
        (
            &[view(0, &[4, 4], &[9, 1]), view(22, &[4, 4], &[9, 1])],
            &[],
            &[],
        ),
        (
            &[view(0, &[4, 4], &[9, 1]), view(23, &[4, 4], &[9, 1])],
            &[],
            &[],
        ),
        (
            &[view(0, &[4, 4], &[9, 1]), view(24, &[4, 4], &[9, 1])],
            &[0, 1],
            &[0, 1],
        ),
        (
            &[view(0, &[4, 4], &[8, 1]), view(4, &[4, 4], &[9, 1])],
            &[0, 1],
            &[0, 1],
        ),
        // The row rule's false negative (semantics §5 item 2).
        (
            &[view(0, &[4, 4], &[8, 1]), view(9, &[4, 4], &[8, 1])],
            &[],
            &[0, 1],
        ),
        (&[view(0, &[0], &[1]), view(0, &[4], &[1])], &[], &[]),
        (
            &[view(0, &[4], &[1]), view(0, &[4], &[1])],
            &[0, 1],
            &[0, 1],
        ),
        (&[view(0, &[2], &[2]), view(3, &[4], &[1])], &[], &[]),
        (
            &[view(0, &[2], &[2]), view(2, &[4], &[1])],
            &[0, 1],
            &[0, 1],
        ),
        (
            &[
                view(0, &[4], &[1]),
                view(2, &[4], &[1]),
                view(10, &[2], &[1]),
            ],
            &[0, 1],
            &[0, 1],
        ),
        (&[view(0, &[4], &[0]), view(1, &[4], &[1])], &[], &[]),
        (&[view(4, &[], &[]), view(4, &[], &[])], &[0, 1], &[0, 1]),
        (
            &[view(0, &[2, 2], &[4, 1]), view(2, &[2, 2], &[4, 1])],
            &[],
            &[],
        ),
        // The conformance README's example of the false negative.
        (
            &[view(3, &[6, 1], &[3, 1]), view(18, &[1, 3], &[3, 1])],
            &[],
            &[0, 1],
        ),
        // Both contiguous inside one row group: step 4 decides, not the row rule.
        (
            &[view(0, &[2, 8], &[8, 1]), view(9, &[1, 2], &[8, 1])],
            &[0, 1],
            &[0, 1],
        ),
        // Column blocks of an 8×12 matrix ...
        (
            &[
                view(0, &[8, 4], &[12, 1]),
                view(4, &[8, 4], &[12, 1]),
                view(8, &[8, 4], &[12, 1]),
            ],
            &[],
            &[],
        ),
        // ... a wider block meeting its neighbour, and a small block starting
        // inside block 0's columns on its second row (a false negative again).
        (
            &[
                view(0, &[8, 4], &[12, 1]),
                view(4, &[8, 7], &[12, 1]),
                view(10, &[8, 2], &[12, 1]),
                view(14, &[2, 2], &[12, 1]),
            ],
            &[1, 2],
            &[0, 1, 2, 3],
        ),
        // A row block whose rows wrap past the grid edge meets the next row's start.
        (
            &[view(6, &[3, 4], &[8, 1]), view(16, &[1, 1], &[8, 1])],
            &[],
            &[0, 1],
        ),
        // Broadcast (stride-0) views.
        (
            &[view(5, &[3, 2], &[0, 1]), view(6, &[2], &[0])],
            &[0, 1],
            &[0, 1],
        ),
        (&[view(5, &[3, 2], &[0, 1]), view(7, &[2], &[0])], &[], &[]),
    ];
    for (views, torch, exact) in cases {
        check(views, torch, exact);
    }
}

#[test]
fn decision_trace_of_the_false_negative() {
    use TorchTest as T;
    let d = torch_decision(&view(9, &[4, 4], &[8, 1]), &view(0, &[4, 4], &[8, 1]));
    assert!(d.disjoint);
    let lower = Arg::Second;
    assert_eq!(
        d.tests,
        vec![
            (T::NumelIsZero(Arg::First), false),
            (T::NumelIsZero(Arg::Second), false),
            (T::FirstOffsetGreater, true),
            (T::IsContiguous(Arg::Second), false),
            (T::LastBeforeUpperStart { lower }, false),
            (T::InnerStrideIsOne(Arg::Second), true),
            (T::InnerStrideIsOne(Arg::First), true),
            (T::OuterStridesEqual, true),
            (T::DeltaWithinFirstRow { lower }, false),
            (T::LowerEndsBeforeDelta { lower }, false),
            (T::UpperRowFitsInPeriod { lower }, true),
        ]
    );
    let overflow = torch_decision(&view(0, &[i64::MAX], &[2]), &view(5, &[2], &[2]));
    assert!(!overflow.disjoint);
    assert_eq!(overflow.tests.last(), Some(&(T::Overflow, true)));
}

#[test]
fn conformance_check_reports_mismatches() {
    let mut case = OverlapCase {
        id: 7,
        kind: "row_blocks".into(),
        tensors: vec![view(0, &[4, 4], &[8, 1]), view(9, &[4, 4], &[8, 1])],
        expect: OverlapExpect {
            torch: vec![],
            torch_pairs: vec![],
            exact: vec![0, 1],
            exact_pairs: vec![(0, 1)],
        },
    };
    assert_eq!(check_jsonl_line(&case), Ok(()));
    case.expect.torch = vec![0, 1];
    let Err(report) = check_jsonl_line(&case) else {
        panic!("a wrong expectation must be reported");
    };
    assert!(report.starts_with("line id 7 (row_blocks):"), "{report}");
    assert!(
        report.contains("torch members: got [], expected [0, 1]"),
        "{report}"
    );
    assert!(
        report.contains("[1] offset 9 sizes [4, 4] strides [8, 1]"),
        "{report}"
    );
}

#[test]
fn storage_overlap_guard() {
    let a = [view(0, &[4], &[1]), view(2, &[4], &[1])];
    let b = [view(10, &[2], &[1])];
    assert!(storage_overlap_guard_holds(&a, &b));
    assert!(!storage_overlap_guard_holds(&b, &a));
    assert!(!storage_overlap_guard_holds(&a[..1], &a[1..]));
    assert!(storage_overlap_guard_holds(&[], &b));
}

#[test]
fn work_bound_is_reported() {
    let a = view(0, &[3, 3], &[5, 7]);
    let b = view(2, &[3], &[11]);
    assert_eq!(shares_element_bounded(&a, &b, 1), None);
    assert_eq!(shares_element_bounded(&a, &b, 1000), shares_element(&a, &b));
    // Two contiguous ranges need no search at all.
    assert_eq!(
        shares_element_bounded(&view(0, &[4], &[1]), &view(3, &[2], &[1]), 0),
        Some(true)
    );
}

/// Random strided views crowding one storage (the benchmark's
/// `random_strided` and `many_dims` families, smaller).
fn crowded(n: usize, seed: u64, max_dims: i64, max_stride: i64, storage: i64) -> Vec<StridedView> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| {
            let dims = 1 + rng.below(max_dims);
            let sizes: Vec<i64> = (0..dims).map(|_| 1 + rng.below(5)).collect();
            let strides: Vec<i64> = (0..dims).map(|_| rng.below(max_stride + 1)).collect();
            view(rng.below(storage), &sizes, &strides)
        })
        .collect()
}

#[test]
fn crowded_groups_match_enumeration() {
    for (seed, views) in [
        (1, crowded(300, 1, 3, 40, 2_000)),
        (2, crowded(300, 2, 6, 3_000, 1 << 16)),
    ] {
        let (truth, _) = oracle(&views).expect("few enough elements to list");
        let exact = members(&views, Mode::Exact, GROUP_WORK_BUDGET);
        assert_eq!(exact.overlapping, truth, "seed {seed}");
        assert!(exact.undecided.is_empty(), "seed {seed}");
        // The same without the address table: every pair by the solver.
        let small = super::exact_members::exact_members_with(&views, usize::MAX, GROUP_WORK_BUDGET);
        assert_eq!(small.overlapping, truth, "seed {seed}, pairwise");
        // Starved: undecided members, but never a missed one.
        let starved = members(&views, Mode::Exact, 1_000);
        assert!(!starved.undecided.is_empty(), "seed {seed}");
        assert!(truth.iter().all(|t| starved.overlapping.contains(t)));
        // Too little to decide the cluster, enough for cheap proofs: most
        // members proven, each rightly.
        let cheap = members(&views, Mode::Exact, 20_000);
        let proven: Vec<usize> = (cheap.overlapping.iter())
            .filter(|k| !cheap.undecided.contains(k))
            .copied()
            .collect();
        assert!(proven.iter().all(|k| truth.contains(k)), "seed {seed}");
        assert!(truth.iter().all(|t| cheap.overlapping.contains(t)));
        assert!(
            2 * proven.len() > truth.len(),
            "seed {seed}: {} of {}",
            proven.len(),
            truth.len()
        );
    }
}

#[test]
fn all_overlapping_group_lists_pairs_on_demand() {
    // 2,000 views of 16 elements at offsets 0..8: 1,999,000 pairs.
    let views: Vec<StridedView> = (0..2000).map(|k| view(k % 8, &[16], &[1])).collect();
    for mode in [Mode::Torch, Mode::Exact] {
        let found = members(&views, mode, GROUP_WORK_BUDGET);
        assert_eq!(found.overlapping.len(), 2000);
        let mut pairs = found.pairs(&views, mode, GROUP_WORK_BUDGET);
        let first: Vec<(usize, usize)> = pairs.by_ref().take(3).collect();
        assert_eq!(first, vec![(0, 1), (0, 2), (0, 3)]);
        // Three pairs cost the first view's candidates, not the whole list.
        assert!(pairs.visited() <= 3, "{mode:?}: {}", pairs.visited());
    }
}

#[test]
fn malformed_geometry_is_may_overlap() {
    let wild = [
        view(i64::MAX, &[i64::MAX, 2], &[i64::MAX, i64::MIN]),
        view(i64::MIN, &[3], &[-1]),
        view(0, &[2, 3], &[1]),
        view(0, &[-2], &[1]),
        view(5, &[0, -3], &[1, 1]),
    ];
    let exact = compute_overlap(&wild, Mode::Exact);
    assert!(exact.inexact);
    assert_eq!(exact.overlapping, vec![0, 1, 2, 3]);
    assert_eq!(
        overlapping_members(&wild, Mode::Exact),
        (vec![0, 1, 2, 3], true)
    );
    assert_eq!(
        overlapping_members(&wild, Mode::Torch).0,
        torch_pairwise_baseline(&wild)
    );
    assert_eq!(
        compute_overlap(&wild, Mode::Torch).pairs,
        torch_pairs_direct(&wild)
    );
    // Negative strides are well-formed for the exact solver.
    let reversed = [
        view(7, &[4], &[-2]),
        view(0, &[4], &[2]),
        view(2, &[2], &[1]),
    ];
    assert_eq!(
        compute_overlap(&reversed, Mode::Exact).pairs,
        vec![(0, 2), (1, 2)]
    );
}

// ---------------------------------------------------------------------------
// Families at scale (the benchmark's shapes) against the baseline

/// A small deterministic generator, so that large cases need no seed plumbing.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        i64::try_from((self.0 >> 33) % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Both modes' fast paths against their references on one list.
#[track_caller]
fn agree_at_scale(views: &[StridedView]) {
    let torch = overlapping_members(views, Mode::Torch);
    assert_eq!(torch, (torch_pairwise_baseline(views), false));
    assert_eq!(compute_overlap(views, Mode::Torch).overlapping, torch.0);
    assert_eq!(torch_forced(views), torch.0);
    let exact = compute_overlap(views, Mode::Exact);
    assert!(!exact.inexact);
    assert_eq!(exact_forced(views), (exact.overlapping.clone(), false));
    assert_eq!(
        overlapping_members(views, Mode::Exact),
        (exact.overlapping, false)
    );
}

#[test]
fn families_at_scale() {
    let n = 1500;
    // Column blocks of width 3 in a 6-row matrix; every tenth is one column wider.
    let columns: Vec<StridedView> = (0..n)
        .map(|k| view(3 * k, &[6, if k % 10 == 0 { 4 } else { 3 }], &[3 * n, 1]))
        .collect();
    agree_at_scale(&columns);
    assert_eq!(
        overlapping_members(&columns, Mode::Exact).0.len(),
        2 * (n as usize / 10)
    );

    // Interleaved columns, plus one diagonal-ish view crossing them.
    let mut interleaved: Vec<StridedView> = (0..n).map(|k| view(k, &[5], &[n])).collect();
    interleaved.push(view(7, &[5], &[n + 1]));
    agree_at_scale(&interleaved);

    // Random row-group views (two row strides), ranges, columns, broadcasts.
    let mut rng = Lcg(7);
    let mixed: Vec<StridedView> = (0..n)
        .map(|_| {
            let offset = rng.below(40_000);
            match rng.below(5) {
                0 | 1 => view(offset, &[1 + rng.below(6), 1 + rng.below(40)], &[32, 1]),
                2 => view(offset, &[1 + rng.below(4), 1 + rng.below(40)], &[45, 1]),
                3 => view(offset, &[1 + rng.below(30)], &[1]),
                _ => view(
                    offset,
                    &[1 + rng.below(4), 2],
                    &[32 * (1 + rng.below(2)), 0],
                ),
            }
        })
        .collect();
    agree_at_scale(&mixed);
}

// ---------------------------------------------------------------------------
// Property tests

/// Any small view, including negative strides (odd for torch mode).
fn small_view() -> impl Strategy<Value = StridedView> {
    (0usize..=3)
        .prop_flat_map(|d| (vec(0i64..=4, d), vec(-3i64..=9, d), 0i64..=30))
        .prop_map(|(sizes, strides, offset)| StridedView::new(sizes, strides, offset))
}

/// A member of the row group of stride `r` (PyTorch's row rule applies).
fn row_view(r: i64) -> impl Strategy<Value = StridedView> {
    (0i64..=4, 0i64..=r + 2, 0i64..=40)
        .prop_map(move |(rows, width, offset)| view(offset, &[rows, width], &[r, 1]))
}

/// Lists that mix a row group with contiguous ranges, columns and anything.
fn family(max_len: usize) -> impl Strategy<Value = Vec<StridedView>> {
    (1i64..=9).prop_flat_map(move |r| {
        vec(
            prop_oneof![
                4 => row_view(r),
                1 => (1i64..=12, 0i64..=40).prop_map(|(len, offset)| view(offset, &[len], &[1])),
                1 => (1i64..=5, 0i64..=40).prop_map(move |(len, offset)| view(offset, &[len], &[r])),
                2 => small_view(),
            ],
            2..=max_len,
        )
    })
}

/// Geometry with extreme values, to shake out overflow handling.
fn wild_view() -> impl Strategy<Value = StridedView> {
    let value = prop_oneof![
        -3i64..=5,
        Just(i64::MAX),
        Just(i64::MIN),
        Just(i64::MAX / 2),
        Just(1i64 << 32),
        any::<i64>(),
    ];
    (0usize..=3)
        .prop_flat_map(move |d| (vec(value.clone(), d), vec(value.clone(), d), value.clone()))
        .prop_map(|(sizes, strides, offset)| StridedView::new(sizes, strides, offset))
}

static EXACT_REACH: Reach = Reach::new();
static BUDGET_REACH: Reach = Reach::new();

proptest! {
    // No regression files: a failure prints its minimal input instead.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn exact_mode_matches_enumeration(views in family(8)) {
        let case = EXACT_REACH.case(2000, 1800);
        let Some((members, pairs)) = oracle(&views) else { return Ok(()) };
        case.reached();
        let e = compute_overlap(&views, Mode::Exact);
        prop_assert_eq!(&e.pairs, &pairs);
        prop_assert_eq!(&e.overlapping, &members);
        prop_assert!(!e.inexact);
        prop_assert_eq!(exact_forced(&views), (members.clone(), false));
        prop_assert_eq!(overlapping_members(&views, Mode::Exact), (members, false));
        for &(i, j) in &pairs {
            prop_assert_eq!(shares_element(&views[i], &views[j]), Some(true));
        }
    }

    #[test]
    fn torch_mode_matches_the_transcription(views in family(8)) {
        let pairs = torch_pairs_direct(&views);
        let members = members_of(&pairs);
        let t = compute_overlap(&views, Mode::Torch);
        prop_assert_eq!(&t.pairs, &pairs);
        prop_assert_eq!(&t.overlapping, &members);
        prop_assert_eq!(torch_forced(&views), members.clone());
        prop_assert_eq!(overlapping_members(&views, Mode::Torch), (members.clone(), false));
        prop_assert_eq!(torch_pairwise_baseline(&views), members);
    }

    #[test]
    fn crowded_lists_agree(views in family(40)) {
        let torch = overlapping_members(&views, Mode::Torch).0;
        prop_assert_eq!(&torch, &torch_pairwise_baseline(&views));
        prop_assert_eq!(&torch, &members_of(&torch_pairs_direct(&views)));
        prop_assert_eq!(&torch, &torch_forced(&views));
        let e = compute_overlap(&views, Mode::Exact);
        prop_assert_eq!(overlapping_members(&views, Mode::Exact), (e.overlapping.clone(), false));
        prop_assert_eq!(exact_forced(&views), (e.overlapping.clone(), false));
        if let Some((members, pairs)) = oracle(&views) {
            prop_assert_eq!(e.pairs, pairs);
            prop_assert_eq!(e.overlapping, members);
        }
    }

    #[test]
    fn a_spent_budget_never_hides_an_overlap(views in family(40), budget in 0u64..300) {
        let case = BUDGET_REACH.case(2000, 1800);
        let Some((truth, true_pairs)) = oracle(&views) else { return Ok(()) };
        case.reached();
        for small_cluster in [1, 16] {
            let m = super::exact_members::exact_members_with(&views, small_cluster, budget);
            for t in &truth {
                prop_assert!(m.overlapping.contains(t), "member {} missed: {:?}", t, m);
            }
            for k in &m.overlapping {
                prop_assert!(truth.contains(k) || m.undecided.contains(k), "{} proven wrongly: {:?}", k, m);
            }
            prop_assert!(m.undecided.iter().all(|k| m.overlapping.contains(k)));
        }
        let found = members(&views, Mode::Exact, budget);
        let listed: Vec<(usize, usize)> = found.pairs(&views, Mode::Exact, budget).collect();
        for p in &true_pairs {
            prop_assert!(listed.contains(p), "pair {:?} missed", p);
        }
    }

    #[test]
    fn pairs_come_lazily_in_order(views in family(40), take in 0usize..30) {
        for mode in [Mode::Torch, Mode::Exact] {
            let all = compute_overlap(&views, mode).pairs;
            let found = members(&views, mode, GROUP_WORK_BUDGET);
            let first: Vec<(usize, usize)> = found.pairs(&views, mode, GROUP_WORK_BUDGET).take(take).collect();
            prop_assert_eq!(first.as_slice(), &all[..take.min(all.len())]);
        }
    }

        #[test]
    fn pairwise_exact_matches_enumeration(
        a in prop_oneof![small_view(), row_view(7)],
        b in prop_oneof![small_view(), row_view(7)],
    ) {
        if let (Some(x), Some(y)) = (elements(&a), elements(&b)) {
            let truth = !x.is_disjoint(&y);
            prop_assert_eq!(shares_element(&a, &b), Some(truth));
                        // The range computed without normalizing is the normalized one.
            if let canonical::ElementSet::Strided(c) = canonical::ElementSet::of(&a) {
                prop_assert_eq!(canonical::AddressRange::of(&a), canonical::AddressRange::Span(c.offset, c.last));
            }
            // The general solver alone, without the interval and grid shortcuts.
            if let (canonical::ElementSet::Strided(ca), canonical::ElementSet::Strided(cb)) =
                (canonical::ElementSet::of(&a), canonical::ElementSet::of(&b))
            {
                prop_assert_eq!(ca.meets_by_search(&cb, &mut 1_000_000), Some(truth));
            }
        }
    }

}

proptest! {
    // Extreme values make the solver spend its work bound: fewer cases.
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn wild_input_never_panics(views in vec(wild_view(), 0..=5)) {
        let t = compute_overlap(&views, Mode::Torch);
        prop_assert_eq!(&t.pairs, &torch_pairs_direct(&views));
        prop_assert_eq!(overlapping_members(&views, Mode::Torch).0, torch_pairwise_baseline(&views));
        prop_assert_eq!(torch_forced(&views), torch_pairwise_baseline(&views));
                for v in &views {
            let range = canonical::AddressRange::of(v);
                        // Both fail or succeed alike except near the i128 limits, where the
            // normalized form may overflow on its own (handled by the caller).
            match canonical::ElementSet::of(v) {
                canonical::ElementSet::Strided(c) => {
                    prop_assert_eq!(range, canonical::AddressRange::Span(c.offset, c.last));
                }
                canonical::ElementSet::Empty => prop_assert_eq!(range, canonical::AddressRange::Empty),
                canonical::ElementSet::Unknown => {
                    prop_assert_ne!(range, canonical::AddressRange::Empty);
                }
            }
        }
        let e = compute_overlap(&views, Mode::Exact);
        let fast = overlapping_members(&views, Mode::Exact);
        if !e.inexact && !fast.1 {
            prop_assert_eq!(fast.0, e.overlapping);
        }
        for a in &views {
            for b in &views {
                let _ = shares_element(a, b);
                let _ = torch_decision(a, b);
            }
        }
    }
}
