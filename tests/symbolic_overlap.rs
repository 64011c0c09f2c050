//! "Holds for all values" verdicts are confirmed by sampling symbol values
//! in range; "hints only" verdicts must have a reason to be.

use aotio::analysis::symbolic_overlap::{pair_verdicts, SymView, Validity};
use aotio::ir::expr::SizeExpr;
use aotio::ir::{Symbol, Symbols};
use aotio::overlap::{torch_definitely_do_not_overlap, StridedView};
use proptest::prelude::*;

fn symbols(hints: [i64; 2]) -> Symbols {
    ["s0", "s1"]
        .iter()
        .zip(hints)
        .map(|(name, hint)| {
            let s = Symbol {
                hint,
                min: Some(2),
                max: Some(9),
                source: None,
                replaced_by: None,
            };
            (name.to_string(), s)
        })
        .collect()
}

/// A size expression from a small menu: constants and simple polynomials in s0, s1.
fn text_expr() -> impl Strategy<Value = SizeExpr> {
    prop_oneof![
        (0i64..6).prop_map(SizeExpr::int),
        prop::sample::select(vec!["s0", "s1", "s0 + 1", "2*s0", "s0*s1", "s1 + 3"])
            .prop_map(|t| SizeExpr::parse(t).expect("valid")),
    ]
}

fn view() -> impl Strategy<Value = SymView> {
    (1usize..3)
        .prop_flat_map(|dims| {
            (
                proptest::collection::vec(text_expr(), dims),
                proptest::collection::vec(text_expr(), dims),
                text_expr(),
            )
        })
        .prop_map(|(shape, stride, offset)| SymView {
            shape,
            stride,
            offset,
        })
}

fn at(v: &SymView, s0: i64, s1: i64) -> StridedView {
    let env = |name: &str| match name {
        "s0" => Some(s0),
        "s1" => Some(s1),
        _ => None,
    };
    let eval = |e: &SizeExpr| e.eval(&env).expect("evaluates");
    StridedView::new(
        v.shape.iter().map(eval).collect(),
        v.stride.iter().map(eval).collect(),
        eval(&v.offset),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn all_values_verdicts_hold_at_every_sampled_value(
        views in proptest::collection::vec(view(), 2..4),
        hints in (2i64..10, 2i64..10),
    ) {
        let table = symbols([hints.0, hints.1]);
        let verdicts = pair_verdicts(&views, &table).expect("evaluates at the hints");
        for v in verdicts.iter().filter(|v| v.validity == Validity::AllValues) {
            let (i, j) = v.pair;
            for s0 in 2..=9 {
                for s1 in 2..=9 {
                    let disjoint = torch_definitely_do_not_overlap(&at(&views[j], s0, s1), &at(&views[i], s0, s1));
                    prop_assert_eq!(!disjoint, v.may_overlap, "pair {:?} at s0={}, s1={}: {:?}", v.pair, s0, s1, views);
                }
            }
        }
    }
}

#[test]
fn static_pairs_hold_everywhere() {
    let v = |offset: i64| SymView {
        shape: vec![SizeExpr::int(4)],
        stride: vec![SizeExpr::int(1)],
        offset: SizeExpr::int(offset),
    };
    let verdicts = pair_verdicts(&[v(0), v(4), v(2)], &Symbols::new()).expect("static");
    assert!(verdicts.iter().all(|p| p.validity == Validity::AllValues));
    let overlapping: Vec<_> = verdicts
        .iter()
        .filter(|p| p.may_overlap)
        .map(|p| p.pair)
        .collect();
    assert_eq!(overlapping, vec![(0, 2), (1, 2)]);
}

#[test]
fn a_coincidence_at_the_hints_is_hints_only() {
    // Rows of length s1 with row stride s0: contiguous only when s0 == s1.
    let row = |offset: &str| SymView {
        shape: vec![
            SizeExpr::parse("s0").expect("ok"),
            SizeExpr::parse("s1").expect("ok"),
        ],
        stride: vec![SizeExpr::parse("s0").expect("ok"), SizeExpr::int(1)],
        offset: SizeExpr::parse(offset).expect("ok"),
    };
    let verdicts = pair_verdicts(&[row("0"), row("s0*s0")], &symbols([4, 4])).expect("evaluates");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].validity, Validity::HintsOnly);
}
