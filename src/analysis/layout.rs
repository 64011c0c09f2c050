//! Strided-layout predicates PyTorch uses when it builds tangents and bases
//! (semantics §1, §2.8, §3.3.6), over possibly symbolic sizes.

use crate::ir::expr::SizeExpr;

fn is_one(e: &SizeExpr) -> bool {
    e.as_int() == Some(1)
}

fn is_zero(e: &SizeExpr) -> bool {
    e.as_int() == Some(0)
}

/// PyTorch's row-major `is_contiguous` (semantics §1). Symbolic strides are
/// compared as polynomials; overflow counts as "not contiguous".
pub fn is_contiguous(shape: &[SizeExpr], stride: &[SizeExpr]) -> bool {
    shape.iter().any(is_zero) || is_dense_in_order(shape, stride, (0..shape.len()).rev())
}

/// Walking `dims` innermost first, each dimension of size other than 1 has
/// the stride of a dense layout in that order.
fn is_dense_in_order(
    shape: &[SizeExpr],
    stride: &[SizeExpr],
    dims: impl Iterator<Item = usize>,
) -> bool {
    let mut expected = SizeExpr::int(1);
    for d in dims {
        let (Some(size), Some(st)) = (shape.get(d), stride.get(d)) else {
            return false;
        };
        if is_one(size) {
            continue;
        }
        if *st != expected {
            return false;
        }
        expected = match expected.checked_mul(size) {
            Ok(e) => e,
            Err(_) => return false,
        };
    }
    true
}

/// Row-major contiguous strides, printed as sympy prints products (semantics §2.15).
pub fn contiguous_strides(shape: &[SizeExpr]) -> Vec<SizeExpr> {
    let order: Vec<usize> = (0..shape.len()).rev().collect();
    strides_in_order(shape, &order)
}

/// Strides that make `order` (innermost first) dense. PyTorch multiplies one
/// size at a time, and sympy distributes an integer over a sum at each step,
/// so the products are folded pairwise to print the same way.
fn strides_in_order(shape: &[SizeExpr], order: &[usize]) -> Vec<SizeExpr> {
    let mut out = vec![SizeExpr::int(1); shape.len()];
    let mut running = SizeExpr::int(1);
    for &d in order {
        if let Some(slot) = out.get_mut(d) {
            *slot = running.clone();
        }
        if let Some(size) = shape.get(d) {
            // Sizes 0 and 1 count as 1.
            if !is_zero(size) && !is_one(size) {
                running = SizeExpr::product(&[running.clone(), size.clone()]).unwrap_or(running);
            }
        }
    }
    out
}

/// Some dimension of size > 1 has stride 0: PyTorch's "definitely overlaps itself".
pub fn has_internal_overlap(shape: &[SizeExpr], stride: &[SizeExpr]) -> bool {
    shape
        .iter()
        .zip(stride)
        .any(|(size, st)| is_zero(st) && size.as_int().is_none_or(|v| v > 1))
}

/// Dimension order by stride, smallest first (ties: smaller size first), at the hints.
fn stride_order(
    shape: &[SizeExpr],
    stride: &[SizeExpr],
    eval: &dyn Fn(&SizeExpr) -> Option<i64>,
) -> Vec<usize> {
    let mut dims: Vec<usize> = (0..shape.len()).collect();
    let key = |d: usize| {
        (
            stride.get(d).and_then(eval).unwrap_or(i64::MAX),
            shape.get(d).and_then(eval).unwrap_or(i64::MAX),
        )
    };
    // On a tie the later dimension stays inside the earlier one: start from
    // the reversed order and sort stably.
    dims.reverse();
    dims.sort_by_key(|&d| key(d));
    dims
}

/// Non-overlapping and dense (semantics §3.3.6).
pub fn is_non_overlapping_and_dense(
    shape: &[SizeExpr],
    stride: &[SizeExpr],
    eval: &dyn Fn(&SizeExpr) -> Option<i64>,
) -> bool {
    let dims = stride_order(shape, stride, eval)
        .into_iter()
        .filter(|&d| shape.get(d).is_some_and(|s| !is_zero(s)));
    is_dense_in_order(shape, stride, dims)
}

/// Dense strides in the same stride order (semantics §3.3.6).
pub fn dense_strides_like(
    shape: &[SizeExpr],
    stride: &[SizeExpr],
    eval: &dyn Fn(&SizeExpr) -> Option<i64>,
) -> Vec<SizeExpr> {
    strides_in_order(shape, &stride_order(shape, stride, eval))
}
