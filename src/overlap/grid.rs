//! Views as rectangles of a row grid, and which rectangles touch another.
//!
//! Lay addresses out in rows of `width`: address `a` sits at row
//! `a div width`, column `a mod width`. In that grid a contiguous range is at
//! most three rectangles, a column (stride `width`) is one, and a row block
//! with strides `(width, 1)` is one, or two when its rows wrap past the grid's
//! right edge. The rectangles are exactly the element sets, so two views share
//! an element iff two of their rectangles intersect, and a whole family of
//! column blocks or interleaved columns is decided with a few sorts.

use std::cmp::Reverse;

use super::canonical::{Canonical, Dim};
use super::numtheory::div_rem_euclid;
use super::sweep::RangeCounter;

/// Closed rectangle: rows `r0..=r1`, columns `c0..=c1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rect {
    pub r0: i128,
    pub r1: i128,
    pub c0: i128,
    pub c1: i128,
}

impl Rect {
    pub fn meets(&self, other: &Rect) -> bool {
        self.r0 <= other.r1 && other.r0 <= self.r1 && self.c0 <= other.c1 && other.c0 <= self.c1
    }
}

/// At most three rectangles, without allocating.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pieces {
    rects: [Option<Rect>; 3],
}

impl Pieces {
    fn push(&mut self, rect: Rect) -> Option<()> {
        let slot = self.rects.iter_mut().find(|r| r.is_none())?;
        *slot = Some(rect);
        Some(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rect> {
        self.rects.iter().flatten()
    }

    /// Whether a piece of `self` meets a piece of `other`.
    pub fn meet(&self, other: &Pieces) -> bool {
        self.iter().any(|p| other.iter().any(|q| p.meets(q)))
    }
}

/// The rectangles (pairwise disjoint) whose union is the element set of
/// `set` in the grid of `width ≥ 1` columns, or `None` when the set has
/// another shape.
pub(super) fn pieces(set: &Canonical, width: i128) -> Option<Pieces> {
    let at = |a: i128| div_rem_euclid(a, width);
    let mut out = Pieces::default();
    match set.dims.as_slice() {
        [] | [Dim { stride: 1, .. }] => range(set.offset, set.last, width, &mut out)?,
        [Dim { count, stride }] if *stride == width => {
            let (r0, c) = at(set.offset)?;
            out.push(Rect {
                r0,
                r1: r0.checked_add(count - 1)?,
                c0: c,
                c1: c,
            })?;
        }
        [Dim {
            count: w,
            stride: 1,
        }, Dim {
            count: rows,
            stride,
        }] if *stride == width && *w < width => {
            let (r0, c0) = at(set.offset)?;
            let r1 = r0.checked_add(rows - 1)?;
            let c_end = c0.checked_add(w - 1)?;
            if c_end < width {
                out.push(Rect {
                    r0,
                    r1,
                    c0,
                    c1: c_end,
                })?;
            } else {
                // Each row runs past the right edge and continues at column 0
                // of the next grid row.
                out.push(Rect {
                    r0,
                    r1,
                    c0,
                    c1: width - 1,
                })?;
                out.push(Rect {
                    r0: r0.checked_add(1)?,
                    r1: r1.checked_add(1)?,
                    c0: 0,
                    c1: c_end.checked_sub(width)?,
                })?;
            }
        }
        _ => return None,
    }
    Some(out)
}

/// The addresses `a..=b` as a partial first row, full middle rows and a
/// partial last row (each only if non-empty).
fn range(a: i128, b: i128, width: i128, out: &mut Pieces) -> Option<()> {
    let (ra, ca) = div_rem_euclid(a, width)?;
    let (rb, cb) = div_rem_euclid(b, width)?;
    let full = width - 1;
    if ra == rb {
        return out.push(Rect {
            r0: ra,
            r1: ra,
            c0: ca,
            c1: cb,
        });
    }
    let top = if ca == 0 { ra } else { ra.checked_add(1)? };
    let bottom = if cb == full { rb } else { rb.checked_sub(1)? };
    if ca != 0 {
        out.push(Rect {
            r0: ra,
            r1: ra,
            c0: ca,
            c1: full,
        })?;
    }
    if top <= bottom {
        out.push(Rect {
            r0: top,
            r1: bottom,
            c0: 0,
            c1: full,
        })?;
    }
    if cb != full {
        out.push(Rect {
            r0: rb,
            r1: rb,
            c0: 0,
            c1: cb,
        })?;
    }
    Some(())
}

/// For each rectangle, whether it intersects another one of the list, in
/// `O(n log n)`.
///
/// A rectangle whose column span, or row span, meets no other rectangle's
/// meets no rectangle, and leaving it out changes no other answer. Two range
/// counts find those first; column blocks and interleaved columns (distinct
/// columns) are decided there. The rest is [`count_touching`].
pub(super) fn touching_others(rects: &[Rect]) -> Vec<bool> {
    let cols = RangeCounter::new(rects.iter().map(|r| (r.c0, r.c1)));
    let rows = RangeCounter::new(rects.iter().map(|r| (r.r0, r.r1)));
    let (candidates, rest): (Vec<usize>, Vec<Rect>) = rects
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            cols.count_intersecting(r.c0, r.c1) > 1 && rows.count_intersecting(r.r0, r.r1) > 1
        })
        .map(|(k, r)| (k, *r))
        .unzip();
    let mut touching = vec![false; rects.len()];
    for (k, t) in candidates.into_iter().zip(count_touching(&rest)) {
        if let Some(slot) = touching.get_mut(k) {
            *slot = t;
        }
    }
    touching
}

/// [`touching_others`] by counting rather than searching: `q` misses `p` iff `q` lies entirely left,
/// right, above or below `p`. Left and right exclude each other, as do above
/// and below, so by inclusion–exclusion
/// `#meeting = n − (L + R + U + D) + (LU + LD + RU + RD)`, where the single
/// counts are binary searches and the corner counts 2-D dominance counts
/// (sort plus Fenwick tree). `#meeting` includes `p` itself. `O(n log n)`.
fn count_touching(rects: &[Rect]) -> Vec<bool> {
    let n = rects.len();
    let sorted = |key: fn(&Rect) -> i128| {
        let mut v: Vec<i128> = rects.iter().map(key).collect();
        v.sort_unstable();
        v
    };
    let (c0s, c1s, r0s, r1s) = (
        sorted(|r| r.c0),
        sorted(|r| r.c1),
        sorted(|r| r.r0),
        sorted(|r| r.r1),
    );
    let left_up = count_dominated(
        &rects.iter().map(|q| (q.c1, q.r1)).collect::<Vec<_>>(),
        &rects.iter().map(|p| (p.c0, p.r0)).collect::<Vec<_>>(),
    );
    let left_down = count_dominated(
        &rects
            .iter()
            .map(|q| (q.c1, Reverse(q.r0)))
            .collect::<Vec<_>>(),
        &rects
            .iter()
            .map(|p| (p.c0, Reverse(p.r1)))
            .collect::<Vec<_>>(),
    );
    let right_up = count_dominated(
        &rects
            .iter()
            .map(|q| (Reverse(q.c0), q.r1))
            .collect::<Vec<_>>(),
        &rects
            .iter()
            .map(|p| (Reverse(p.c1), p.r0))
            .collect::<Vec<_>>(),
    );
    let right_down = count_dominated(
        &rects
            .iter()
            .map(|q| (Reverse(q.c0), Reverse(q.r0)))
            .collect::<Vec<_>>(),
        &rects
            .iter()
            .map(|p| (Reverse(p.c1), Reverse(p.r1)))
            .collect::<Vec<_>>(),
    );
    rects
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let left = c1s.partition_point(|&c| c < p.c0);
            let right = n - c0s.partition_point(|&c| c <= p.c1);
            let up = r1s.partition_point(|&r| r < p.r0);
            let down = n - r0s.partition_point(|&r| r <= p.r1);
            let corners = [&left_up, &left_down, &right_up, &right_down]
                .iter()
                .map(|counts| counts.get(k).copied().unwrap_or(0))
                .sum::<usize>();
            let meeting = (n + corners).saturating_sub(left + right + up + down);
            meeting > 1
        })
        .collect()
}

/// For each query `(a, b)`, the number of points `(x, y)` with `x < a` and
/// `y < b`: queries in increasing `a`, points inserted into a Fenwick tree
/// over the ranks of `y` as their `x` passes. `O((n + q) log n)`.
fn count_dominated<A: Ord + Copy, B: Ord + Copy>(
    points: &[(A, B)],
    queries: &[(A, B)],
) -> Vec<usize> {
    let mut ys: Vec<B> = points.iter().map(|p| p.1).collect();
    ys.sort_unstable();
    ys.dedup();
    let mut points = points.to_vec();
    points.sort_unstable_by_key(|p| p.0);
    let mut order: Vec<(A, B, usize)> = queries
        .iter()
        .enumerate()
        .map(|(k, q)| (q.0, q.1, k))
        .collect();
    order.sort_unstable_by_key(|q| q.0);

    let mut tree = Fenwick::new(ys.len());
    let mut out = vec![0; queries.len()];
    let mut next = points.iter().peekable();
    for (a, b, k) in order {
        while let Some(p) = next.next_if(|p| p.0 < a) {
            tree.add(ys.partition_point(|&y| y < p.1));
        }
        if let Some(slot) = out.get_mut(k) {
            *slot = tree.prefix(ys.partition_point(|&y| y < b));
        }
    }
    out
}

/// Fenwick (binary indexed) tree of counts over positions `0..n`.
struct Fenwick {
    tree: Vec<usize>,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Self {
            tree: vec![0; n + 1],
        }
    }

    /// Adds one at position `pos`.
    fn add(&mut self, pos: usize) {
        let mut i = pos + 1;
        while let Some(cell) = self.tree.get_mut(i) {
            *cell += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// The count at positions `0..len`.
    fn prefix(&self, len: usize) -> usize {
        let mut i = len.min(self.tree.len().saturating_sub(1));
        let mut sum = 0;
        while i > 0 {
            sum += self.tree.get(i).copied().unwrap_or(0);
            i &= i - 1;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(r0: i128, r1: i128, c0: i128, c1: i128) -> Rect {
        Rect { r0, r1, c0, c1 }
    }

    #[test]
    fn touching_matches_brute_force() {
        let rects = [
            rect(0, 3, 0, 1),
            rect(0, 3, 2, 3),
            rect(3, 5, 1, 2),
            rect(7, 7, 0, 9),
            rect(8, 9, 5, 5),
            rect(9, 9, 5, 8),
        ];
        let brute: Vec<bool> = rects
            .iter()
            .enumerate()
            .map(|(i, p)| {
                rects.iter().enumerate().any(|(j, q)| {
                    i != j && p.r0 <= q.r1 && q.r0 <= p.r1 && p.c0 <= q.c1 && q.c0 <= p.c1
                })
            })
            .collect();
        assert_eq!(touching_others(&rects), brute);
        assert_eq!(count_touching(&rects), brute);
        assert_eq!(brute, vec![true, true, true, false, true, true]);
    }

    #[test]
    fn ranges_split_into_rows() {
        let pieces_of = |a, b, width| {
            let mut out = Pieces::default();
            assert!(range(a, b, width, &mut out).is_some());
            out.iter().copied().collect::<Vec<_>>()
        };
        assert_eq!(
            pieces_of(3, 21, 8),
            vec![rect(0, 0, 3, 7), rect(1, 1, 0, 7), rect(2, 2, 0, 5)]
        );
        assert_eq!(pieces_of(8, 23, 8), vec![rect(1, 2, 0, 7)]);
        assert_eq!(pieces_of(5, 6, 8), vec![rect(0, 0, 5, 6)]);
    }
}
