//! One element two views both touch: the evidence behind an "overlaps"
//! verdict, for reports. Found by enumeration, so only for views of at most
//! `budget` elements each; larger views get no witness (the verdict stands).

use std::collections::HashSet;

use super::StridedView;

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

/// The lowest element offset both `a` and `b` touch, when both have at most
/// `budget` elements; `None` when they share none or are too large to list.
pub fn witness(a: &StridedView, b: &StridedView, budget: usize) -> Option<i64> {
    let first: HashSet<i64> = addresses(a, budget)?.into_iter().collect();
    addresses(b, budget)?
        .into_iter()
        .filter(|x| first.contains(x))
        .min()
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
        // Too large to list, or malformed: no witness.
        assert_eq!(witness(&rows, &column, 4), None);
        let bad = StridedView::new(vec![-1], vec![1], 0);
        assert_eq!(witness(&bad, &column, 100), None);
        let empty = StridedView::new(vec![0, 3], vec![3, 1], 0);
        assert_eq!(witness(&empty, &column, 100), None);
    }
}
