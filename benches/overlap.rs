//! The overlap engine against PyTorch's all-pairs check (issue 3).
//!
//! Four families of `n` views of one storage, each group timing the engine's
//! member set in both modes (`torch`, `exact`) beside the `O(n²)` baseline
//! (`baseline`, only up to 10,000 views):
//!
//! * `slices_1d`: disjoint 1-D chunks;
//! * `row_blocks`: Shampoo's 2-D blocks, tiles `(4, 8)` with strides `(32, 1)`,
//!   four per block row, so each range meets three others;
//! * `column_blocks`: `(8, 2)` column blocks of an `8 × 2n` matrix: every
//!   range meets every other, no two share an element;
//! * `interleaved`: view `k` is `k + n·i`, `i < 8`: every range meets every
//!   other, no two share an element (PyTorch reports all of them).
//! * `symbolic_row_blocks`: `n` row blocks `[s0, s1]` with strides `[s1, 1]`
//!   at offsets `k·s0·s1`: the symbolic path (evaluate at the hints, then the
//!   engine) beside a pairwise baseline that, like PyTorch's symbolic check,
//!   evaluates the expressions for every pair (up to 1,000 views).
//!
//! Crowded groups (issues 15 and 16), one storage each:
//!
//! * `all_overlapping`: 10,000 views of 16 elements at offsets 0–7, so all
//!   49,995,000 pairs overlap: the member set (`torch`, `exact`), the member
//!   set plus the first 1,000 pairs (`torch_pairs`, `exact_pairs`, what
//!   `aotio overlap` prints), beside the all-pairs baseline;
//! * `random_strided`: 20,000 views of 1–4 dimensions, sizes 1–5, strides
//!   0–1,000, random offsets in a 2^20-element storage;
//! * `many_dims`: 2,000 views of 1–8 dimensions, sizes 1–5, strides
//!   0–30,000, random offsets in a 2^20-element storage; exact mode with the
//!   default budget and with budgets of 10^6, 2·10^5 and 10^5
//!   (`exact_budget_1e6`, ...). Printed first: per budget, the members left
//!   undecided ("may overlap") and how many of those share nothing in truth.

use std::hint::black_box;
use std::time::Duration;

use aotio::analysis::symbolic_overlap::{at_hints, SymView};
use aotio::ir::expr::SizeExpr;
use aotio::ir::{Symbol, Symbols};
use aotio::overlap::{
    members, overlapping_members, torch_definitely_do_not_overlap, torch_pairwise_baseline, Mode,
    StridedView, GROUP_WORK_BUDGET,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];
/// The baseline is quadratic: 10,000 views are already ~5·10⁷ pair checks.
const BASELINE_MAX: usize = 10_000;

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn view(offset: i64, sizes: &[i64], strides: &[i64]) -> StridedView {
    StridedView::new(sizes.to_vec(), strides.to_vec(), offset)
}

fn slices_1d(n: usize) -> Vec<StridedView> {
    (0..count(n)).map(|k| view(16 * k, &[16], &[1])).collect()
}

fn row_blocks(n: usize) -> Vec<StridedView> {
    let (rows, width, per_row) = (4, 8, 4);
    let stride = width * per_row;
    (0..count(n))
        .map(|k| {
            let (block_row, block_col) = (k / per_row, k % per_row);
            view(
                block_row * rows * stride + block_col * width,
                &[rows, width],
                &[stride, 1],
            )
        })
        .collect()
}

fn column_blocks(n: usize) -> Vec<StridedView> {
    let stride = 2 * count(n);
    (0..count(n))
        .map(|k| view(2 * k, &[8, 2], &[stride, 1]))
        .collect()
}

fn interleaved(n: usize) -> Vec<StridedView> {
    (0..count(n)).map(|k| view(k, &[8], &[count(n)])).collect()
}

fn family(c: &mut Criterion, name: &str, make: fn(usize) -> Vec<StridedView>) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let views = make(n);
        if n <= 1_000 {
            // Benchmark only what is right.
            assert_eq!(
                overlapping_members(&views, Mode::Torch).0,
                torch_pairwise_baseline(&views)
            );
        }
        group.throughput(Throughput::Elements(u64::try_from(n).unwrap_or(u64::MAX)));
        for (label, mode) in [("torch", Mode::Torch), ("exact", Mode::Exact)] {
            group.bench_with_input(BenchmarkId::new(label, n), &views, |b, v| {
                b.iter(|| overlapping_members(black_box(v), mode))
            });
        }
        if n <= BASELINE_MAX {
            group.bench_with_input(BenchmarkId::new("baseline", n), &views, |b, v| {
                b.iter(|| torch_pairwise_baseline(black_box(v)))
            });
        }
    }
    group.finish();
}

fn symbolic_row_blocks(n: usize) -> (Vec<SymView>, Symbols) {
    let e = |t: &str| SizeExpr::parse(t).unwrap_or_else(|_| SizeExpr::int(0));
    let views = (0..count(n))
        .map(|k| SymView {
            shape: vec![e("s0"), e("s1")],
            stride: vec![e("s1"), SizeExpr::int(1)],
            offset: SizeExpr::int(k)
                .checked_mul(&e("s0*s1"))
                .unwrap_or_else(|_| SizeExpr::int(0)),
        })
        .collect();
    let symbol = |hint| Symbol {
        hint,
        min: Some(2),
        max: None,
        source: None,
        replaced_by: None,
    };
    let symbols = [("s0".to_owned(), symbol(4)), ("s1".to_owned(), symbol(8))]
        .into_iter()
        .collect();
    (views, symbols)
}

/// PyTorch's symbolic check: every pair's comparisons on expressions.
fn symbolic_pairwise_baseline(views: &[SymView], symbols: &Symbols) -> Vec<usize> {
    let mut member = vec![false; views.len()];
    for j in 0..views.len() {
        for i in 0..j {
            let pair = at_hints(&[views[j].clone(), views[i].clone()], symbols).unwrap_or_default();
            if let [later, earlier] = pair.as_slice() {
                if !torch_definitely_do_not_overlap(later, earlier) {
                    member[i] = true;
                    member[j] = true;
                }
            }
        }
    }
    (0..views.len()).filter(|&k| member[k]).collect()
}

fn symbolic(c: &mut Criterion) {
    let mut group = c.benchmark_group("symbolic_row_blocks");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (views, symbols) = symbolic_row_blocks(n);
        group.throughput(Throughput::Elements(u64::try_from(n).unwrap_or(u64::MAX)));
        group.bench_with_input(BenchmarkId::new("torch", n), &views, |b, v| {
            b.iter(|| {
                at_hints(black_box(v), &symbols)
                    .map(|views| overlapping_members(&views, Mode::Torch))
            })
        });
        if n <= 1_000 {
            group.bench_with_input(BenchmarkId::new("baseline", n), &views, |b, v| {
                b.iter(|| symbolic_pairwise_baseline(black_box(v), &symbols))
            });
        }
    }
    group.finish();
}

fn overlap(c: &mut Criterion) {
    family(c, "slices_1d", slices_1d);
    family(c, "row_blocks", row_blocks);
    family(c, "column_blocks", column_blocks);
    family(c, "interleaved", interleaved);
}

/// A small deterministic generator (no dependency for the benchmark).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = u64::try_from(n.max(1)).unwrap_or(1);
        i64::try_from((self.0 >> 33) % n).unwrap_or(0)
    }
}

/// `n` views of 1..=`max_dims` dimensions, sizes 1–5, strides
/// 0..=`max_stride`, random offsets in a 2^20-element storage.
fn random_views(n: usize, seed: u64, max_dims: i64, max_stride: i64) -> Vec<StridedView> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| {
            let dims = 1 + rng.below(max_dims);
            let sizes: Vec<i64> = (0..dims).map(|_| 1 + rng.below(5)).collect();
            let strides: Vec<i64> = (0..dims).map(|_| rng.below(max_stride + 1)).collect();
            view(rng.below(1 << 20), &sizes, &strides)
        })
        .collect()
}

fn crowded_group(c: &mut Criterion, name: &str, views: &[StridedView], budgets: &[(&str, u64)]) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let n = views.len();
    group.bench_with_input(BenchmarkId::new("torch", n), views, |b, v| {
        b.iter(|| members(black_box(v), Mode::Torch, GROUP_WORK_BUDGET))
    });
    // The truth, from an unbounded run (checked to leave nothing undecided).
    let truth = members(views, Mode::Exact, u64::MAX);
    assert!(truth.undecided.is_empty());
    for &(label, budget) in budgets {
        let found = members(views, Mode::Exact, budget);
        let wrong = found
            .undecided
            .iter()
            .filter(|k| truth.overlapping.binary_search(k).is_err())
            .count();
        assert!(truth
            .overlapping
            .iter()
            .all(|k| found.overlapping.contains(k)));
        eprintln!(
            "{name}/{label}: {} of {n} views reported, {} undecided ({:.1} % of the views), \
             {wrong} of those share nothing ({} really overlap)",
            found.overlapping.len(),
            found.undecided.len(),
            100.0 * found.undecided.len() as f64 / n as f64,
            truth.overlapping.len(),
        );
        group.bench_with_input(BenchmarkId::new(label, n), views, |b, v| {
            b.iter(|| members(black_box(v), Mode::Exact, budget))
        });
    }
    group.finish();
}

fn all_overlapping(c: &mut Criterion) {
    let views: Vec<StridedView> = (0..10_000i64).map(|k| view(k % 8, &[16], &[1])).collect();
    let mut group = c.benchmark_group("all_overlapping");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let n = views.len();
    for (label, mode) in [("torch", Mode::Torch), ("exact", Mode::Exact)] {
        group.bench_with_input(BenchmarkId::new(label, n), &views, |b, v| {
            b.iter(|| members(black_box(v), mode, GROUP_WORK_BUDGET))
        });
        group.bench_with_input(
            BenchmarkId::new(format!("{label}_pairs"), n),
            &views,
            |b, v| {
                b.iter(|| {
                    let found = members(black_box(v), mode, GROUP_WORK_BUDGET);
                    let first: Vec<(usize, usize)> = found
                        .pairs(v, mode, GROUP_WORK_BUDGET)
                        .take(1_000)
                        .collect();
                    (found, first)
                })
            },
        );
    }
    group.bench_with_input(BenchmarkId::new("baseline", n), &views, |b, v| {
        b.iter(|| torch_pairwise_baseline(black_box(v)))
    });
    group.finish();
}

fn crowded(c: &mut Criterion) {
    all_overlapping(c);
    crowded_group(
        c,
        "random_strided",
        &random_views(20_000, 11, 4, 1_000),
        &[("exact", GROUP_WORK_BUDGET)],
    );
    crowded_group(
        c,
        "many_dims",
        &random_views(2_000, 12, 8, 30_000),
        &[
            ("exact", GROUP_WORK_BUDGET),
            ("exact_budget_1e6", 1_000_000),
            ("exact_budget_2e5", 200_000),
            ("exact_budget_1e5", 100_000),
        ],
    );
}

criterion_group!(benches, overlap, symbolic, crowded);
criterion_main!(benches);
