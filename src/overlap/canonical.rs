//! The normalized geometry both exact engines share: a view as an offset
//! plus sums of strided dimensions ([`Canonical`]), its address range, and
//! [`normalize`], which merges dimensions without changing the element set.
//! The pairwise solver (`exact`) and the row-grid rectangles (`grid`) both
//! read it, so it sits below them.

use super::numtheory::div_rem_euclid;
use super::StridedView;

/// One dimension of a normalized view: `count ≥ 2` steps of `stride > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dim {
    pub count: i128,
    pub stride: i128,
}

/// The element set of a view as `offset + {Σ i_k·stride_k}`, normalized: see
/// [`normalize`]. `last` is the largest element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Canonical {
    pub offset: i128,
    pub last: i128,
    pub dims: Vec<Dim>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ElementSet {
    Empty,
    /// Malformed geometry or overflow: nothing can be said.
    Unknown,
    Strided(Canonical),
}

impl ElementSet {
    pub fn of(v: &StridedView) -> Self {
        Self::of_in(v, Vec::new())
    }

    /// [`ElementSet::of`] building the dimension list in `buffer` (cleared
    /// first), so that callers normalizing many views can recycle buffers.
    pub fn of_in(v: &StridedView, buffer: Vec<Dim>) -> Self {
        if v.sizes.contains(&0) {
            return Self::Empty;
        }
        if malformed(v) {
            return Self::Unknown;
        }
        Canonical::new(v, buffer).map_or(Self::Unknown, Self::Strided)
    }
}

/// Sizes and strides of different lengths, or a negative size.
fn malformed(v: &StridedView) -> bool {
    v.sizes.len() != v.strides.len() || v.sizes.iter().any(|&s| s < 0)
}

/// The closed range of a view's addresses: what [`ElementSet::of`] would
/// give as `[offset, last]`, without building the normalized form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AddressRange {
    Empty,
    Unknown,
    Span(i128, i128),
}

impl AddressRange {
    pub fn of(v: &StridedView) -> Self {
        if v.sizes.contains(&0) {
            return Self::Empty;
        }
        if malformed(v) {
            return Self::Unknown;
        }
        // Negative steps lower the first address, positive ones raise the
        // last; one step (at most 2^63·2^63) always fits i128.
        let span = v.sizes.iter().zip(&v.strides).try_fold(
            (i128::from(v.offset), i128::from(v.offset)),
            |(lo, hi), (&size, &stride)| {
                let step = (i128::from(size) - 1).checked_mul(i128::from(stride))?;
                if step < 0 {
                    Some((lo.checked_add(step)?, hi))
                } else {
                    Some((lo, hi.checked_add(step)?))
                }
            },
        );
        span.map_or(Self::Unknown, |(lo, hi)| Self::Span(lo, hi))
    }
}

impl Canonical {
    fn new(v: &StridedView, mut dims: Vec<Dim>) -> Option<Self> {
        let mut offset = i128::from(v.offset);
        dims.clear();
        for (&size, &stride) in v.sizes.iter().zip(&v.strides) {
            let (count, stride) = (i128::from(size), i128::from(stride));
            if count == 1 || stride == 0 {
                continue;
            }
            if stride < 0 {
                // Walking a negative stride backwards from its far end gives
                // the same elements with a positive stride.
                offset = offset.checked_add((count - 1).checked_mul(stride)?)?;
            }
            dims.push(Dim {
                count,
                stride: stride.checked_abs()?,
            });
        }
        normalize(&mut dims)?;
        let last = offset.checked_add(reach(&dims)?)?;
        Some(Self { offset, last, dims })
    }

    /// A single run of consecutive addresses.
    pub fn is_interval(&self) -> bool {
        matches!(self.dims.as_slice(), [] | [Dim { stride: 1, .. }])
    }

    /// The row stride `R` of a column `(m, R)` or row block `((w, 1), (m, R))`.
    pub fn row_stride(&self) -> Option<i128> {
        match self.dims.as_slice() {
            [Dim { stride: 1, .. }, Dim { stride, .. }] => Some(*stride),
            [Dim { stride, .. }] if *stride > 1 => Some(*stride),
            _ => None,
        }
    }
}

/// `Σ (count − 1)·stride`: the largest sum.
fn reach(dims: &[Dim]) -> Option<i128> {
    dims.iter().try_fold(0i128, |acc, d| {
        acc.checked_add((d.count - 1).checked_mul(d.stride)?)
    })
}

/// Sorts by stride and absorbs dimensions into smaller ones while possible;
/// the set of sums never changes. Dimensions `(n, s)` and `(m, q·s)` with
/// `q ≤ n` cover `s·[0, (n − 1) + q·(m − 1)]` without gaps, i.e. they are
/// one dimension `(n + q·(m − 1), s)`. (Equal strides are the case `q = 1`.)
/// Dimension lists are short, so the quadratic scan per merge is fine.
pub(super) fn normalize(dims: &mut Vec<Dim>) -> Option<()> {
    dims.retain(|d| d.count != 1 && d.stride != 0);
    dims.sort_unstable_by_key(|d| (d.stride, d.count));
    loop {
        let mut merge = None;
        'search: for (i, small) in dims.iter().enumerate() {
            for (j, big) in dims.iter().enumerate().skip(i + 1) {
                // q ≤ count ⇔ big ≤ count·small; checked first because a
                // multiplication is much cheaper than an i128 division.
                let span = small.count.checked_mul(small.stride);
                if span.is_some_and(|span| span < big.stride) {
                    continue;
                }
                let (q, r) = div_rem_euclid(big.stride, small.stride)?;
                if r == 0 && q <= small.count {
                    let count = small.count.checked_add(q.checked_mul(big.count - 1)?)?;
                    merge = Some((i, j, count));
                    break 'search;
                }
            }
        }
        let Some((i, j, count)) = merge else {
            return Some(());
        };
        // Strides are unchanged by a merge, so the list stays sorted.
        if let Some(d) = dims.get_mut(i) {
            d.count = count;
        }
        if j < dims.len() {
            dims.remove(j);
        }
    }
}
