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

use std::hint::black_box;
use std::time::Duration;

use aotio::overlap::{overlapping_members, torch_pairwise_baseline, Mode, StridedView};
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

fn overlap(c: &mut Criterion) {
    family(c, "slices_1d", slices_1d);
    family(c, "row_blocks", row_blocks);
    family(c, "column_blocks", column_blocks);
    family(c, "interleaved", interleaved);
}

criterion_group!(benches, overlap);
criterion_main!(benches);
