//! One element two views both touch: the evidence behind an "overlaps"
//! verdict, for reports. Found by enumeration when both views have at most
//! `budget` elements; when only one does, its elements are asked one by one
//! (in ascending order, at most `budget` of them) whether the other view
//! holds them. Two larger views get no witness (the verdict stands).

use std::collections::HashSet;

use super::exact::shares_element_bounded;
use super::StridedView;

/// Solver steps per point asked of a large view: plenty for a point, and
/// a bound on what one report may cost.
const POINT_WORK_BOUND: u64 = 10_000;

/// The element offsets of `v` in row-major order, or `None` when it has
/// more than `budget` elements or its geometry is malformed (negative
/// sizes, rank mismatch, overflow).
fn addresses(v: &StridedView, budget: usize) -> Option<Vec<i64>> {
    if v.sizes.len() != v.strides.len() || v.sizes.iter().any(|&s| s < 0) {
        return None;
    }
    let mut count: usize = 1;
    for &s in &v.sizes {
        count = count.checked_mul(usize::try_from(s).ok()?)?;
    }
    if count > budget {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Some(out);
    }
    let mut index = vec![0i64; v.sizes.len()];
    loop {
        let mut address = v.offset;
        for (i, s) in index.iter().zip(&v.strides) {
            address = address.checked_add(i.checked_mul(*s)?)?;
        }
        out.push(address);
        // Odometer: the last dimension moves fastest.
        let mut dim = index.len();
        loop {
            let Some(d) = dim.checked_sub(1) else {
                return Some(out);
            };
            dim = d;
            let (Some(i), Some(&size)) = (index.get_mut(d), v.sizes.get(d)) else {
                return Some(out);
            };
            *i += 1;
            if *i < size {
                break;
            }
            *i = 0;
        }
    }
}

/// The lowest element offset both `a` and `b` touch, when at least one of
/// them has at most `budget` elements; `None` when they share none or both
/// are too large to list.
pub fn witness(a: &StridedView, b: &StridedView, budget: usize) -> Option<i64> {
    match (addresses(a, budget), addresses(b, budget)) {
        (Some(xs), Some(ys)) => {
            let first: HashSet<i64> = xs.into_iter().collect();
            ys.into_iter().filter(|y| first.contains(y)).min()
        }
        (Some(small), None) => lowest_held_by(small, b),
        (None, Some(small)) => lowest_held_by(small, a),
        (None, None) => None,
    }
}

/// The lowest of `candidates` that `view` holds, asked point by point.
fn lowest_held_by(mut candidates: Vec<i64>, view: &StridedView) -> Option<i64> {
    candidates.sort_unstable();
    candidates.dedup();
    candidates.into_iter().find(|&x| {
        let point = StridedView::new(Vec::new(), Vec::new(), x);
        shares_element_bounded(&point, view, POINT_WORK_BOUND) == Some(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_lowest_shared_element() {
        // Rows 0..2 of a 4x4 matrix and column 1: they meet at 1 and 5.
        let rows = StridedView::new(vec![2, 4], vec![4, 1], 0);
        let column = StridedView::new(vec![4], vec![4], 1);
        assert_eq!(witness(&rows, &column, 100), Some(1));
        // Interleaved even and odd elements share none.
        let even = StridedView::new(vec![8], vec![2], 0);
        let odd = StridedView::new(vec![8], vec![2], 1);
        assert_eq!(witness(&even, &odd, 100), None);
        // One view too large to list: its partner's elements are asked.
        assert_eq!(witness(&rows, &column, 4), Some(1));
        assert_eq!(witness(&column, &rows, 4), Some(1));
        let big_even = StridedView::new(vec![1 << 20], vec![2], 0);
        assert_eq!(witness(&big_even, &odd, 100), None);
        let shifted = StridedView::new(vec![4], vec![3], 1);
        assert_eq!(witness(&big_even, &shifted, 100), Some(4));
        // Both too large, or malformed: no witness.
        assert_eq!(witness(&rows, &column, 3), None);
        let bad = StridedView::new(vec![-1], vec![1], 0);
        assert_eq!(witness(&bad, &column, 100), None);
        let empty = StridedView::new(vec![0, 3], vec![3, 1], 0);
        assert_eq!(witness(&empty, &column, 100), None);
    }
}
