//! Address-range bookkeeping shared by both modes: two views can only share
//! an element when their closed ranges `[first element, last element]`
//! intersect, so everything starts from sorted ranges.

/// The closed address range `[lo, hi]` of view `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Extent<T> {
    pub lo: T,
    pub hi: T,
    pub id: usize,
}

/// Answers "how many ranges of this set intersect `[lo, hi]`" in `O(log n)`.
///
/// A range `[l, h]` misses `[lo, hi]` iff `h < lo` or `l > hi`, and (ranges
/// being non-empty) never both, so the count is `n − #(h < lo) − #(l > hi)`:
/// two binary searches over the sorted ends.
#[derive(Clone, Debug, Default)]
pub(super) struct RangeCounter<T> {
    los: Vec<T>,
    his: Vec<T>,
}

impl<T: Ord + Copy> RangeCounter<T> {
    pub fn new(ranges: impl IntoIterator<Item = (T, T)>) -> Self {
        let (mut los, mut his): (Vec<T>, Vec<T>) = ranges.into_iter().unzip();
        los.sort_unstable();
        his.sort_unstable();
        Self { los, his }
    }

    pub fn count_intersecting(&self, lo: T, hi: T) -> usize {
        let ends_before = self.his.partition_point(|&h| h < lo);
        let starts_after = self.los.len() - self.los.partition_point(|&l| l <= hi);
        self.los.len().saturating_sub(ends_before + starts_after)
    }
}

/// Sorts the ranges by `lo` and splits them into clusters: the connected
/// components of the "ranges intersect" relation, as consecutive runs of the
/// sorted slice. Views in different clusters cannot share an element.
pub(super) fn clusters<T: Ord + Copy>(extents: &mut [Extent<T>]) -> Clusters<'_, T> {
    extents.sort_unstable_by_key(|e| (e.lo, e.hi, e.id));
    Clusters { rest: extents }
}

/// Iterator of [`clusters`].
pub(super) struct Clusters<'a, T> {
    rest: &'a [Extent<T>],
}

impl<'a, T: Ord + Copy> Iterator for Clusters<'a, T> {
    type Item = &'a [Extent<T>];

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.rest.first()?;
        let mut reach = first.hi;
        let mut len = 1;
        for e in self.rest.iter().skip(1) {
            if e.lo > reach {
                break;
            }
            reach = reach.max(e.hi);
            len += 1;
        }
        let (cluster, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(cluster)
    }
}

/// Ranges sorted by `lo`, with the largest `hi` of every subtree of a
/// perfect binary tree over them: [`IntervalIndex::meeting`] lists the ranges
/// meeting a query range in `O(log n)` per range found, so listing the
/// partners of one view costs what it finds, not `O(n)`.
pub(super) struct IntervalIndex<T> {
    sorted: Vec<Extent<T>>,
    /// `max_hi[size + p]` is the `hi` of `sorted[p]`; inner nodes hold the
    /// maximum of their children, `None` where no range lies below.
    max_hi: Vec<Option<T>>,
    size: usize,
}

impl<T: Ord + Copy> IntervalIndex<T> {
    pub fn new(mut extents: Vec<Extent<T>>) -> Self {
        extents.sort_unstable_by_key(|e| (e.lo, e.hi, e.id));
        let size = extents.len().next_power_of_two();
        let mut max_hi = vec![None; 2 * size];
        for (slot, e) in max_hi.iter_mut().skip(size).zip(&extents) {
            *slot = Some(e.hi);
        }
        for node in (1..size).rev() {
            let children = (
                max_hi.get(2 * node).copied().flatten(),
                max_hi.get(2 * node + 1).copied().flatten(),
            );
            if let Some(slot) = max_hi.get_mut(node) {
                *slot = children.0.max(children.1);
            }
        }
        Self {
            sorted: extents,
            max_hi,
            size,
        }
    }

    /// Appends to `out` the ids of the ranges meeting `[lo, hi]`, in no
    /// particular order.
    pub fn meeting(&self, lo: T, hi: T, out: &mut Vec<usize>) {
        // Only ranges starting at or before `hi` can meet; among them, the
        // subtrees whose largest `hi` reaches `lo`.
        let starts = self.sorted.partition_point(|e| e.lo <= hi);
        let mut stack = vec![(1usize, 0usize, self.size)];
        while let Some((node, from, to)) = stack.pop() {
            let reaches = self.max_hi.get(node).copied().flatten() >= Some(lo);
            if from >= starts || !reaches {
                continue;
            }
            if to - from == 1 {
                if let Some(e) = self.sorted.get(from) {
                    out.push(e.id);
                }
                continue;
            }
            let mid = from + (to - from) / 2;
            stack.push((2 * node + 1, mid, to));
            stack.push((2 * node, from, mid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(lo: i64, hi: i64, id: usize) -> Extent<i64> {
        Extent { lo, hi, id }
    }

    #[test]
    fn counting_and_pairs_agree_with_brute_force() {
        let ranges = [(0, 3), (2, 2), (4, 9), (10, 10), (3, 4), (11, 20)];
        let counter = RangeCounter::new(ranges.iter().copied());
        for &(lo, hi) in &ranges {
            let brute = ranges.iter().filter(|&&(l, h)| l <= hi && h >= lo).count();
            assert_eq!(counter.count_intersecting(lo, hi), brute);
        }
        let mut extents: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(i, &(l, h))| ext(l, h, i))
            .collect();
        let sizes: Vec<usize> = clusters(&mut extents).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![4, 1, 1]);
        let index = IntervalIndex::new(extents.clone());
        for lo in -1..22 {
            for hi in lo..22 {
                let mut found = Vec::new();
                index.meeting(lo, hi, &mut found);
                found.sort_unstable();
                let brute: Vec<usize> = (0..ranges.len())
                    .filter(|&k| ranges[k].0 <= hi && ranges[k].1 >= lo)
                    .collect();
                assert_eq!(found, brute, "[{lo}, {hi}]");
            }
        }
    }
}
