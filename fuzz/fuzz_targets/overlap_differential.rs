//! The overlap engine against oracles on small tensors: exact mode against
//! enumerating every element, torch mode against PyTorch's pairwise rule.
#![no_main]

use std::collections::BTreeSet;

use aotio::overlap::{compute_overlap, torch_definitely_do_not_overlap, Mode, StridedView};
use libfuzzer_sys::fuzz_target;

fn views(data: &[u8]) -> Vec<StridedView> {
    let mut out = Vec::new();
    let mut bytes = data.iter().copied();
    while out.len() < 6 {
        let Some(header) = bytes.next() else { break };
        let dims = usize::from(header % 3) + usize::from(header & 0x80 != 0);
        let offset = i64::from(bytes.next().unwrap_or(0) % 24);
        let mut sizes = Vec::new();
        let mut strides = Vec::new();
        for _ in 0..dims {
            sizes.push(i64::from(bytes.next().unwrap_or(1) % 5));
            strides.push(i64::from(bytes.next().unwrap_or(1) % 9));
        }
        out.push(StridedView::new(sizes, strides, offset));
    }
    out
}

fn elements(v: &StridedView) -> BTreeSet<i64> {
    let mut out = BTreeSet::from([v.offset]);
    if v.sizes.contains(&0) {
        return BTreeSet::new();
    }
    for (&size, &stride) in v.sizes.iter().zip(&v.strides) {
        out = out.iter().flat_map(|&b| (0..size).map(move |i| b + i * stride)).collect();
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let views = views(data);
    let sets: Vec<_> = views.iter().map(elements).collect();
    let n = views.len();
    let mut exact_pairs = Vec::new();
    let mut torch_pairs = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if !sets[i].is_disjoint(&sets[j]) {
                exact_pairs.push((i, j));
            }
            if !torch_definitely_do_not_overlap(&views[j], &views[i]) {
                torch_pairs.push((i, j));
            }
        }
    }
    let exact = compute_overlap(&views, Mode::Exact);
    assert!(!exact.inexact);
    assert_eq!(exact.pairs, exact_pairs, "{views:?}");
    let torch = compute_overlap(&views, Mode::Torch);
    assert_eq!(torch.pairs, torch_pairs, "{views:?}");
    let (members, _) = aotio::overlap::overlapping_members(&views, Mode::Torch);
    assert_eq!(members, torch.overlapping, "{views:?}");
});
