//! Exact mode on crowded groups (up to 300 views of one small storage, so
//! most address ranges meet) against listing every element: with enough
//! budget the member set is exact; with the budget the input picks, every
//! real member is still reported and every proven one is real; the first
//! pairs are the real first pairs.
#![no_main]

use std::collections::{BTreeSet, HashMap};

use aotio::overlap::{members, Mode, StridedView, GROUP_WORK_BUDGET};
use libfuzzer_sys::fuzz_target;

/// Four bytes a view: dimensions and sizes 1–4, strides 0–63, offset < 512;
/// the first two bytes choose the budget of the bounded run.
fn views(data: &[u8]) -> (u64, Vec<StridedView>) {
    let budget = data
        .iter()
        .take(2)
        .fold(0u64, |acc, &b| acc * 256 + u64::from(b));
    let mut out = Vec::new();
    for chunk in data.get(2..).unwrap_or_default().chunks_exact(4).take(300) {
        let [a, b, c, d] = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let dims = 1 + usize::from(a % 4);
        let sizes: Vec<i64> = (0..dims)
            .map(|k| 1 + i64::from((b >> (2 * k)) & 3))
            .collect();
        let strides: Vec<i64> = (0..dims)
            .map(|k| i64::from((c.rotate_left(3 * k as u32) ^ a) % 64))
            .collect();
        let offset = i64::from(d) + 256 * i64::from(a >> 7);
        out.push(StridedView::new(sizes, strides, offset));
    }
    (budget, out)
}

fn elements(v: &StridedView) -> Vec<i64> {
    let mut out = vec![v.offset];
    for (&size, &stride) in v.sizes.iter().zip(&v.strides) {
        out = out
            .iter()
            .flat_map(|&b| (0..size).map(move |i| b + i * stride))
            .collect();
    }
    out.sort_unstable();
    out.dedup();
    out
}

fuzz_target!(|data: &[u8]| {
    let (budget, views) = views(data);
    let mut owners: HashMap<i64, Vec<usize>> = HashMap::new();
    for (k, v) in views.iter().enumerate() {
        for a in elements(v) {
            owners.entry(a).or_default().push(k);
        }
    }
    let mut truth = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for list in owners.values().filter(|l| l.len() > 1) {
        truth.extend(list.iter().copied());
        for (x, &i) in list.iter().enumerate() {
            for &j in list.iter().skip(x + 1) {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    let truth: Vec<usize> = truth.into_iter().collect();

    let full = members(&views, Mode::Exact, GROUP_WORK_BUDGET);
    assert_eq!(full.overlapping, truth, "{views:?}");
    assert!(full.undecided.is_empty(), "{views:?}");
    let first: Vec<(usize, usize)> = full
        .pairs(&views, Mode::Exact, GROUP_WORK_BUDGET)
        .take(100)
        .collect();
    let expected: Vec<(usize, usize)> = pairs.iter().copied().take(100).collect();
    assert_eq!(first, expected, "{views:?}");

    let bounded = members(&views, Mode::Exact, budget);
    for k in &truth {
        assert!(bounded.overlapping.contains(k), "member {k} missed at budget {budget}");
    }
    for k in &bounded.overlapping {
        assert!(
            truth.contains(k) || bounded.undecided.contains(k),
            "{k} proven at budget {budget} but shares nothing"
        );
    }
});
