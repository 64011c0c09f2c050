//! Symbolic overlap verdicts: PyTorch decides every comparison of a symbolic
//! pair at the hints (semantics §3.6.2). For each pair this module says
//! whether that verdict holds for every value the symbols may take (their
//! `min`/`max`), or only at the hints — the second kind is what a runtime
//! guard must protect.

use serde::Serialize;

use crate::ir::expr::{Bounds, SizeExpr};
use crate::ir::Symbols;
use crate::overlap::{torch_decision, Arg, StridedView, TorchTest};

/// A view with symbolic geometry, in elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymView {
    /// Sizes.
    pub shape: Vec<SizeExpr>,
    /// Strides.
    pub stride: Vec<SizeExpr>,
    /// Storage offset.
    pub offset: SizeExpr,
}

/// For which symbol values a verdict holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Every comparison behind the verdict comes out the same for all allowed values.
    AllValues,
    /// Some comparison was only decided at the hints: a guard must protect it.
    HintsOnly,
}

/// PyTorch's verdict on one pair `(i, j)`, `i < j`, and how far it holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PairVerdict {
    /// The two inputs (post-dedupe indices).
    pub pair: (usize, usize),
    /// PyTorch's verdict at the hints: the pair may overlap.
    pub may_overlap: bool,
    /// Whether the verdict holds for every allowed value.
    pub validity: Validity,
}

/// Pairs beyond this many members are not examined (the check is pairwise).
pub const MAX_MEMBERS: usize = 512;

/// The views at the hints, where PyTorch decides symbolic overlap; `None`
/// when some expression does not evaluate (unknown symbol, overflow).
pub fn at_hints(views: &[SymView], symbols: &Symbols) -> Option<Vec<StridedView>> {
    let hint = |s: &str| symbols.get(s).map(|sym| sym.hint);
    let eval = |e: &SizeExpr| e.eval(&hint).ok();
    views
        .iter()
        .map(|v| {
            Some(StridedView::new(
                v.shape.iter().map(eval).collect::<Option<_>>()?,
                v.stride.iter().map(eval).collect::<Option<_>>()?,
                eval(&v.offset)?,
            ))
        })
        .collect()
}

/// The verdicts for every pair, or `None` when the views do not evaluate at
/// the hints or the group is larger than [`MAX_MEMBERS`].
pub fn pair_verdicts(views: &[SymView], symbols: &Symbols) -> Option<Vec<PairVerdict>> {
    if views.len() > MAX_MEMBERS {
        return None;
    }
    let at_hints = at_hints(views, symbols)?;
    let range = |s: &str| {
        symbols
            .get(s)
            .map_or((None, None), |sym| (sym.min, sym.max))
    };
    let mut out = Vec::new();
    for j in 0..views.len() {
        for i in 0..j {
            let (Some(later), Some(earlier)) = (at_hints.get(j), at_hints.get(i)) else {
                continue;
            };
            let (Some(first), Some(second)) = (views.get(j), views.get(i)) else {
                continue;
            };
            // PyTorch's driver passes (later, earlier).
            let decision = torch_decision(later, earlier);
            let pair = Pair {
                first,
                second,
                range: &range,
            };
            let everywhere = decision
                .tests
                .iter()
                .all(|&(t, outcome)| pair.holds(t, outcome));
            out.push(PairVerdict {
                pair: (i, j),
                may_overlap: !decision.disjoint,
                validity: if everywhere {
                    Validity::AllValues
                } else {
                    Validity::HintsOnly
                },
            });
        }
    }
    out.sort_by_key(|v| v.pair);
    Some(out)
}

struct Pair<'a> {
    first: &'a SymView,
    second: &'a SymView,
    range: &'a dyn Fn(&str) -> Bounds,
}

impl Pair<'_> {
    fn view(&self, arg: Arg) -> &SymView {
        match arg {
            Arg::First => self.first,
            Arg::Second => self.second,
        }
    }

    fn other(arg: Arg) -> Arg {
        match arg {
            Arg::First => Arg::Second,
            Arg::Second => Arg::First,
        }
    }

    /// Whether `test` comes out as `outcome` for every allowed symbol value.
    fn holds(&self, test: TorchTest, outcome: bool) -> bool {
        self.decided(test, outcome).unwrap_or(false)
    }

    fn decided(&self, test: TorchTest, outcome: bool) -> Option<bool> {
        let size = |a: Arg, d: usize| self.view(a).shape.get(d).cloned();
        let stride = |a: Arg, d: usize| self.view(a).stride.get(d).cloned();
        let offset = |a: Arg| self.view(a).offset.clone();
        let one = SizeExpr::int(1);
        Some(match test {
            TorchTest::NumelIsZero(a) => {
                let shape = &self.view(a).shape;
                if outcome {
                    shape.iter().any(|s| s.as_int() == Some(0))
                } else {
                    shape.iter().all(|s| self.always_at_least(s, 1))
                }
            }
            TorchTest::FirstOffsetGreater => {
                self.compare_lt(&offset(Arg::Second), &offset(Arg::First), outcome)?
            }
            TorchTest::IsContiguous(a) => {
                let v = self.view(a);
                // True as a polynomial identity holds everywhere; a numeric
                // coincidence at the hints does not.
                outcome && crate::analysis::layout::is_contiguous(&v.shape, &v.stride)
                    || !outcome && self.never_contiguous(v)
            }
            TorchTest::ContiguousRangesMeet { lower } => {
                let upper = Self::other(lower);
                let numel = numel(&self.view(lower).shape)?;
                let end = offset(lower).checked_add(&numel).ok()?;
                self.compare_lt(&offset(upper), &end, outcome)?
            }
            TorchTest::LastBeforeUpperStart { lower } => {
                let upper = Self::other(lower);
                let last = last_element(self.view(lower))?;
                self.compare_lt(&last, &offset(upper), outcome)?
            }
            TorchTest::InnerStrideIsOne(a) => self.compare_eq(&stride(a, 1)?, &one, outcome),
            TorchTest::OuterStridesEqual => {
                self.compare_eq(&stride(Arg::First, 0)?, &stride(Arg::Second, 0)?, outcome)
            }
            TorchTest::DeltaWithinFirstRow { lower } => {
                let delta = offset(Self::other(lower))
                    .checked_sub(&offset(lower))
                    .ok()?;
                self.compare_lt(&delta, &size(lower, 1)?, outcome)?
            }
            TorchTest::LowerEndsBeforeDelta { lower } => {
                let delta = offset(Self::other(lower))
                    .checked_sub(&offset(lower))
                    .ok()?;
                let rows = size(lower, 0)?.checked_sub(&one).ok()?;
                let end = stride(lower, 0)?
                    .checked_mul(&rows)
                    .ok()?
                    .checked_add(&size(lower, 1)?)
                    .ok()?;
                // `end <= delta` is `!(delta < end)`.
                self.compare_lt(&delta, &end, !outcome)?
            }
            TorchTest::UpperRowFitsInPeriod { lower } => {
                // Modular arithmetic: decided everywhere only when nothing in it is symbolic.
                let upper = Self::other(lower);
                [
                    offset(lower),
                    offset(upper),
                    stride(lower, 0)?,
                    size(upper, 1)?,
                ]
                .iter()
                .all(SizeExpr::is_constant)
            }
            TorchTest::Overflow => false,
        })
    }

    fn bounds(&self, e: &SizeExpr) -> Bounds {
        e.bounds(self.range)
    }

    fn always_at_least(&self, e: &SizeExpr, k: i64) -> bool {
        self.bounds(e).0.is_some_and(|lo| lo >= k)
    }

    /// `a < b` comes out as `outcome` for all values.
    fn compare_lt(&self, a: &SizeExpr, b: &SizeExpr, outcome: bool) -> Option<bool> {
        let d = b.checked_sub(a).ok()?;
        let (lo, hi) = self.bounds(&d);
        Some(if outcome {
            lo.is_some_and(|lo| lo >= 1)
        } else {
            hi.is_some_and(|hi| hi <= 0)
        })
    }

    /// `a == b` comes out as `outcome` for all values.
    fn compare_eq(&self, a: &SizeExpr, b: &SizeExpr, outcome: bool) -> bool {
        if outcome {
            return a == b;
        }
        let Ok(d) = a.checked_sub(b) else {
            return false;
        };
        let (lo, hi) = self.bounds(&d);
        lo.is_some_and(|lo| lo > 0) || hi.is_some_and(|hi| hi < 0)
    }

    /// Some dimension's stride differs from the row-major one for all values.
    fn never_contiguous(&self, v: &SymView) -> bool {
        let mut expected = SizeExpr::int(1);
        for (size, st) in v.shape.iter().zip(&v.stride).rev() {
            if size.as_int() == Some(1) {
                continue;
            }
            // A size that may be 1 would be skipped at some values.
            if !self.always_at_least(size, 2) {
                return false;
            }
            if st != &expected {
                return self.compare_eq(st, &expected, false);
            }
            let Ok(next) = expected.checked_mul(size) else {
                return false;
            };
            expected = next;
        }
        false
    }
}

fn numel(shape: &[SizeExpr]) -> Option<SizeExpr> {
    shape
        .iter()
        .try_fold(SizeExpr::int(1), |acc, s| acc.checked_mul(s).ok())
}

fn last_element(v: &SymView) -> Option<SizeExpr> {
    let one = SizeExpr::int(1);
    v.shape
        .iter()
        .zip(&v.stride)
        .try_fold(v.offset.clone(), |acc, (size, st)| {
            let steps = size.checked_sub(&one).ok()?;
            acc.checked_add(&steps.checked_mul(st).ok()?).ok()
        })
}
