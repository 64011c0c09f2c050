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

/// Calls `f(a, b)` once for every unordered pair of ranges that intersect.
///
/// Sorted by `lo`, the ranges meeting range `a` from the right are exactly the
/// run of later ranges starting at or before `a.hi`, so the cost is
/// `O(n log n)` plus the number of intersecting pairs.
pub(super) fn for_each_intersecting_pair<T: Ord + Copy>(
    extents: &mut [Extent<T>],
    mut f: impl FnMut(usize, usize),
) {
    extents.sort_unstable_by_key(|e| (e.lo, e.hi, e.id));
    for (k, a) in extents.iter().enumerate() {
        for b in extents.iter().skip(k + 1).take_while(|b| b.lo <= a.hi) {
            f(a.id, b.id);
        }
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
        let mut pairs = Vec::new();
        for_each_intersecting_pair(&mut extents, |a, b| pairs.push((a.min(b), a.max(b))));
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 1), (0, 4), (2, 4)]);
        let sizes: Vec<usize> = clusters(&mut extents).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![4, 1, 1]);
    }
}
