//! Interval arithmetic over extended integers: the range an expression can take given
//! the ranges of its symbols (`SizeExpr::bounds`).

use super::*;

// Interval arithmetic for `bounds`

/// An extended integer. Finite values are kept within `i64` between operations, so one
/// product of two of them never overflows the `i128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Ext {
    NegInf,
    Fin(i128),
    PosInf,
}

impl Ext {
    pub(super) fn neg(self) -> Ext {
        match self {
            Ext::NegInf => Ext::PosInf,
            Ext::Fin(v) => Ext::Fin(-v),
            Ext::PosInf => Ext::NegInf,
        }
    }

    pub(super) fn abs(self) -> Ext {
        match self {
            Ext::Fin(v) => Ext::Fin(v.abs()),
            _ => Ext::PosInf,
        }
    }

    pub(super) fn signum(self) -> i8 {
        match self {
            Ext::NegInf => -1,
            Ext::Fin(v) => v.signum() as i8,
            Ext::PosInf => 1,
        }
    }

    /// Infinity of the given sign (`0` meaning the value 0).
    pub(super) fn inf(sign: i8) -> Ext {
        match sign.cmp(&0) {
            Ordering::Less => Ext::NegInf,
            Ordering::Equal => Ext::Fin(0),
            Ordering::Greater => Ext::PosInf,
        }
    }

    /// Only used on a lower bound plus a lower bound, or upper plus upper, so no ∞ - ∞.
    pub(super) fn add(self, other: Ext) -> Ext {
        match (self, other) {
            (Ext::Fin(a), Ext::Fin(b)) => a
                .checked_add(b)
                .map_or(Ext::inf(a.signum() as i8), Ext::Fin),
            (Ext::NegInf, _) | (_, Ext::NegInf) => Ext::NegInf,
            _ => Ext::PosInf,
        }
    }

    /// With 0 · ∞ = 0, which is what interval products need.
    pub(super) fn mul(self, other: Ext) -> Ext {
        match (self, other) {
            (Ext::Fin(a), Ext::Fin(b)) => a
                .checked_mul(b)
                .map_or(Ext::inf(self.signum() * other.signum()), Ext::Fin),
            _ => Ext::inf(self.signum() * other.signum()),
        }
    }

    pub(super) fn pow(self, k: u32) -> Ext {
        let sign = if k.is_multiple_of(2) {
            self.signum().abs()
        } else {
            self.signum()
        };
        match self {
            Ext::Fin(v) => v.checked_pow(k).map_or(Ext::inf(sign), Ext::Fin),
            _ if k == 0 => Ext::Fin(1),
            _ => Ext::inf(sign),
        }
    }

    pub(super) fn floor_div(self, d: i128) -> Ext {
        match self {
            // `d` is positive and finite here; Euclidean division is then floor division.
            Ext::Fin(v) => Ext::Fin(v.div_euclid(d)),
            inf => inf,
        }
    }
}

/// A closed interval of integers; `lo` is never `PosInf` and `hi` never `NegInf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Range {
    pub(super) lo: Ext,
    pub(super) hi: Ext,
}

impl Range {
    pub(super) fn point(v: i64) -> Range {
        Range {
            lo: Ext::Fin(i128::from(v)),
            hi: Ext::Fin(i128::from(v)),
        }
    }

    pub(super) fn from_bounds((lo, hi): Bounds) -> Range {
        Range {
            lo: lo.map_or(Ext::NegInf, |v| Ext::Fin(i128::from(v))),
            hi: hi.map_or(Ext::PosInf, |v| Ext::Fin(i128::from(v))),
        }
    }

    /// Widens finite ends that left the `i64` range: a lower bound above it is lowered to
    /// `i64::MAX`, one below it becomes unbounded, and symmetrically for the upper bound.
    pub(super) fn new(lo: Ext, hi: Ext) -> Range {
        pub(super) const MIN: i128 = i64::MIN as i128;
        pub(super) const MAX: i128 = i64::MAX as i128;
        let lo = match lo {
            Ext::Fin(v) if v < MIN => Ext::NegInf,
            Ext::Fin(v) if v > MAX => Ext::Fin(MAX),
            Ext::PosInf => Ext::Fin(MAX),
            other => other,
        };
        let hi = match hi {
            Ext::Fin(v) if v > MAX => Ext::PosInf,
            Ext::Fin(v) if v < MIN => Ext::Fin(MIN),
            Ext::NegInf => Ext::Fin(MIN),
            other => other,
        };
        Range { lo, hi }
    }

    pub(super) fn to_bounds(self) -> Bounds {
        let finite = |e: Ext| match e {
            Ext::Fin(v) => i64::try_from(v).ok(),
            _ => None,
        };
        (finite(self.lo), finite(self.hi))
    }

    pub(super) fn neg(self) -> Range {
        Range::new(self.hi.neg(), self.lo.neg())
    }

    pub(super) fn add(self, other: Range) -> Range {
        Range::new(self.lo.add(other.lo), self.hi.add(other.hi))
    }

    pub(super) fn mul(self, other: Range) -> Range {
        let corners = [
            self.lo.mul(other.lo),
            self.lo.mul(other.hi),
            self.hi.mul(other.lo),
            self.hi.mul(other.hi),
        ];
        let lo = corners.iter().copied().min().unwrap_or(Ext::NegInf);
        let hi = corners.iter().copied().max().unwrap_or(Ext::PosInf);
        Range::new(lo, hi)
    }

    pub(super) fn pow(self, k: u32) -> Range {
        let zero = Ext::Fin(0);
        if !k.is_multiple_of(2) || self.lo >= zero {
            // Monotone on this interval.
            Range::new(self.lo.pow(k), self.hi.pow(k))
        } else if self.hi <= zero {
            Range::new(self.hi.pow(k), self.lo.pow(k))
        } else {
            Range::new(zero, self.lo.pow(k).max(self.hi.pow(k)))
        }
    }

    /// Python's `a // b` for `a` in `num` and `b` in `den`.
    pub(super) fn floor_div(num: Range, den: Range) -> Range {
        if den.lo >= Ext::Fin(1) {
            Range::floor_div_positive(num, den)
        } else if den.hi <= Ext::Fin(-1) {
            // a // b == (-a) // (-b)
            Range::floor_div_positive(num.neg(), den.neg())
        } else {
            // Any non-zero integer divisor: |a // b| <= |a|.
            let m = num.lo.abs().max(num.hi.abs());
            Range::new(m.neg(), m)
        }
    }

    /// `a // b` with `den.lo >= 1`.
    pub(super) fn floor_div_positive(num: Range, den: Range) -> Range {
        let (Ext::Fin(b_lo), b_hi) = (den.lo, den.hi) else {
            return Range::new(Ext::NegInf, Ext::PosInf);
        };
        // Smallest quotient: a non-negative `a` over the largest `b`, a negative one over the
        // smallest; largest quotient the other way round.
        let lo = match num.lo {
            Ext::Fin(a) if a >= 0 => match b_hi {
                Ext::Fin(b) => Ext::Fin(a.div_euclid(b)),
                _ => Ext::Fin(0),
            },
            a => a.floor_div(b_lo),
        };
        let hi = match num.hi {
            Ext::Fin(a) if a < 0 => match b_hi {
                Ext::Fin(b) => Ext::Fin(a.div_euclid(b)),
                // a / b tends to 0 from below: the floor stays -1.
                _ => Ext::Fin(-1),
            },
            a => a.floor_div(b_lo),
        };
        Range::new(lo, hi)
    }

    /// Python's `a % b` for `a` in `num` and `b` in `den`.
    pub(super) fn modulo(num: Range, den: Range) -> Range {
        let zero = Ext::Fin(0);
        if den.lo >= Ext::Fin(1) {
            if num.lo >= zero && num.hi < den.lo {
                return num; // a < b: the remainder is a itself
            }
            let mut hi = den.hi.add(Ext::Fin(-1));
            if num.lo >= zero {
                hi = hi.min(num.hi); // 0 <= a % b <= a
            }
            Range::new(zero, hi)
        } else if den.hi <= Ext::Fin(-1) {
            Range::new(den.lo.add(Ext::Fin(1)), zero)
        } else {
            // |a % b| < |b|, with the sign of b.
            let m = den.lo.abs().max(den.hi.abs()).add(Ext::Fin(-1)).max(zero);
            Range::new(m.neg(), m)
        }
    }
}
