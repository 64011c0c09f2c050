//! Parsing, normal forms, ranges and printing against sympy's behaviour.

use super::*;
use crate::reach::Reach;
use proptest::prelude::*;

/// Evaluation environment of the tables: `sN` is worth N; other names have no value.
fn values(name: &str) -> Option<i64> {
    name.strip_prefix('s')?.parse().ok()
}

/// Bounds environment of the tables: `sN` in [2, N], `pN` in [0, ∞), `nN` in [-N, -1],
/// anything else unbounded.
fn ranges(name: &str) -> Bounds {
    let number = |prefix: char| name.strip_prefix(prefix)?.parse::<i64>().ok();
    if let Some(n) = number('s') {
        (Some(2), Some(n))
    } else if number('p').is_some() {
        (Some(0), None)
    } else if let Some(n) = number('n') {
        (Some(-n), Some(-1))
    } else {
        (None, None)
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parses, and is polynomially equal to the other expression.
    Same(&'static str),
    /// Parses, and is not equal to the other expression.
    Differs(&'static str),
    /// Parses to this integer constant.
    Int(i64),
    /// The normal form prints like this.
    Canon(&'static str),
    /// Evaluates to this under `values`.
    Eval(i64),
    /// Evaluation under `values` fails with a message containing this.
    EvalErr(&'static str),
    /// Bounds under `ranges`.
    Range(Option<i64>, Option<i64>),
    /// Parsing fails with a message containing this.
    Error(&'static str),
}
use Expect::*;

const CASES: &[(&str, Expect)] = &[
    // Polynomial equality.
    ("s77", Same("s77")),
    ("4*s77", Same("s77*4")),
    ("s27*s77", Same("s77*s27")),
    ("s24 + s37", Same("s37 + s24")),
    ("4*s92*(s93 - 1) + 4*s92", Same("4*s92*s93")),
    ("s27**2", Same("s27*s27")),
    ("(s0 + s1)**2", Same("s0**2 + 2*s0*s1 + s1**2")),
    ("(s0 - s1)*(s0 + s1)", Same("s0**2 - s1**2")),
    ("  s5\t", Same("s5")),
    ("+s5", Same("s5")),
    ("--s5", Same("s5")),
    ("s0 + 1", Differs("s0")),
    ("s0*s1", Differs("s0 + s1")),
    ("s1", Differs("s10")),
    ("s0//s1", Differs("s0//s2")),
    // Constants.
    ("2 + 2", Int(4)),
    ("s0 - s0", Int(0)),
    ("0*s0", Int(0)),
    ("s0**0", Int(1)),
    ("-2**2", Int(-4)),
    ("(-2)**2", Int(4)),
    ("2**3**2", Int(512)),
    ("-9223372036854775808", Int(i64::MIN)),
    ("- 9223372036854775808", Int(i64::MIN)),
    ("9223372036854775807", Int(i64::MAX)),
    ("9223372036854775807 + 1 - 1", Int(i64::MAX)),
    ("007", Int(7)),
    // Python's // and %.
    ("7//2", Int(3)),
    ("-7//2", Int(-4)),
    ("7//-2", Int(-4)),
    ("-7 % 3", Int(2)),
    ("7 % -3", Int(-2)),
    ("-9223372036854775808 % -1", Int(0)),
    ("(4*s0 + 8)//4", Same("s0 + 2")),
    ("(4*s0 + 6)//4", Same("s0 + 1")),
    ("(2*s0 + 2)//4", Same("(s0 + 1)//2")),
    ("(s0 + 2*s1)//2", Same("s1 + s0//2")),
    ("(s0 + 2*s1) % 2", Same("s0 % 2")),
    ("(2*s0) % 4", Same("2*(s0 % 2)")),
    ("(2*s0)//(2*s1)", Same("s0//s1")),
    ("s0 // -2", Same("(-s0)//2")),
    ("s0 % -2", Same("-((-s0) % 2)")),
    ("s0//1", Same("s0")),
    ("s0 % 1", Int(0)),
    ("s0 % s0", Int(0)),
    ("0 // s1", Int(0)),
    ("FloorDiv(s0, 2)", Same("s0//2")),
    ("PythonMod(s0, 2)", Same("s0 % 2")),
    ("Mod(s0, 2)", Same("s0 % 2")),
    ("2*((s0//2))", Same("2*(s0//2)")),
    ("s1*s0//2", Same("(s0*s1)//2")),
    ("s0//2*s1", Same("s1*(s0//2)")),
    // Printing of normal forms, after sympy.
    ("1 + s0", Canon("s0 + 1")),
    ("-s0 + 1", Canon("1 - s0")),
    ("-3*s0 + 2", Canon("2 - 3*s0")),
    ("1 - s0**2", Canon("1 - s0**2")),
    ("1 - s0*s1", Canon("-s0*s1 + 1")),
    ("-1 - s0", Canon("-s0 - 1")),
    ("s37 + s24", Canon("s24 + s37")),
    ("s1 + s0**2", Canon("s0**2 + s1")),
    ("s1**2 + s0", Canon("s0 + s1**2")),
    ("s0*s1 + s0 + s1**2", Canon("s0*s1 + s0 + s1**2")),
    ("4*s92*(s93 - 1) + 4*s92", Canon("4*s92*s93")),
    ("(s0 + 1)**2", Canon("s0**2 + 2*s0 + 1")),
    ("s77*s27*4", Canon("4*s27*s77")),
    ("s5*s100*s27", Canon("s100*s27*s5")),
    ("-s0", Canon("-s0")),
    ("-s0**2", Canon("-s0**2")),
    ("-(2*s0*s1)", Canon("-2*s0*s1")),
    ("s0//2", Canon("(s0//2)")),
    ("(s0 + 1)//2", Canon("((s0 + 1)//2)")),
    ("-s0//2", Canon("((-s0)//2)")),
    ("(s0//2)//3", Canon("(((s0//2))//3)")),
    ("2*(s0//2)", Canon("2*((s0//2))")),
    ("-2*(s0//2)", Canon("-2*(s0//2)")),
    ("(s0//2)**2", Canon("((s0//2))**2")),
    ("s1 + s0//2", Canon("s1 + (s0//2)")),
    ("s0 % 3", Canon("PythonMod(s0, 3)")),
    ("s1 + s0 % 3", Canon("s1 + (PythonMod(s0, 3))")),
    ("s1 - s0 % 3", Canon("s1 - (PythonMod(s0, 3))")),
    (
        "s0 - 9223372036854775807*s1 - s1",
        Canon("s0 + (-9223372036854775808*s1)"),
    ),
    ("-9223372036854775808", Canon("-9223372036854775808")),
    // Evaluation.
    ("s7//s2", Eval(3)),
    ("-s7//s2", Eval(-4)),
    ("s7 % s3", Eval(1)),
    ("-s7 % s3", Eval(2)),
    ("s7 % (-s3)", Eval(-2)),
    ("s3**3 - s2", Eval(25)),
    ("4*s92*(s93 - 1) + 4*s92", Eval(4 * 92 * 93)),
    // Terms that overflow alone but cancel, as with Python's integers.
    (
        "s4611686018427387904*s2 - s4611686018427387904*s02",
        Eval(0),
    ),
    ("x + 1", EvalErr("no value for symbol `x`")),
    ("s1 // s0", EvalErr("division by zero")),
    ("s1 % s0", EvalErr("division by zero")),
    ("s9223372036854775807 + 1", EvalErr("overflow")),
    ("s3037000500**2", EvalErr("overflow")),
    // Bounds.
    ("7", Range(Some(7), Some(7))),
    ("s10", Range(Some(2), Some(10))),
    ("s10*s3", Range(Some(4), Some(30))),
    ("s10 - s3", Range(Some(-1), Some(8))),
    ("-s10", Range(Some(-10), Some(-2))),
    ("p0*s3", Range(Some(0), None)),
    ("u0", Range(None, None)),
    ("u0**2", Range(Some(0), None)),
    ("u0**2 + 1", Range(Some(1), None)),
    ("n5**3", Range(Some(-125), Some(-1))),
    ("n5**2", Range(Some(1), Some(25))),
    ("s10*u0", Range(None, None)),
    ("s9223372036854775807*s4", Range(Some(4), None)),
    ("s10//s3", Range(Some(0), Some(5))),
    ("n9//2", Range(Some(-5), Some(-1))),
    ("p0//4", Range(Some(0), None)),
    ("u0//4", Range(None, None)),
    ("s10//u1", Range(Some(-10), Some(10))),
    ("s10//n3", Range(Some(-10), Some(-1))),
    ("s10 % s3", Range(Some(0), Some(2))),
    ("s10 % 20", Range(Some(2), Some(10))),
    ("u0 % 4", Range(Some(0), Some(3))),
    ("u0 % n5", Range(Some(-4), Some(0))),
    ("s10 % u1", Range(None, None)),
    // Errors.
    ("", Error("empty expression")),
    ("   ", Error("empty expression")),
    ("s0 +", Error("unexpected end")),
    ("s0**", Error("unexpected end")),
    ("(s0", Error("expected `)`, found the end")),
    ("s0)", Error("unexpected ')' at byte 2")),
    ("s0 $ 1", Error("unexpected '$' at byte 3")),
    ("s0 s1", Error("unexpected 's'")),
    ("*s0", Error("unexpected '*' at byte 0")),
    ("s0 * * s1", Error("unexpected '*'")),
    ("2.5", Error("unexpected '.'")),
    ("s0 / 2", Error("unexpected '/'")),
    ("s0 + é", Error("unexpected 'é' at byte 5")),
    ("foo(1, 2)", Error("unknown function `foo`")),
    ("FloorDiv(s0)", Error("expected `,`")),
    ("FloorDiv(s0, 2, 3)", Error("expected `)`, found ','")),
    ("s0 // 0", Error("division by zero")),
    ("s0 % (s1 - s1)", Error("division by zero")),
    ("1 // 0", Error("division by zero")),
    ("s0**s1", Error("exponent `s1`")),
    ("s0**-1", Error("exponent `-1`")),
    ("s0**1001", Error("exponent `1001`")),
    ("99999999999999999999", Error("overflow")),
    ("9223372036854775808", Error("overflow")),
    ("-9223372036854775809", Error("overflow")),
    ("-9223372036854775808**1", Error("overflow")),
    ("2**63", Error("overflow")),
    ("(s0 + 1)**1000", Error("overflow")),
    (
        "(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9)**8",
        Error("more than 10000 terms"),
    ),
    ("s0**1000**1000", Error("overflow")),
];

fn check(full_input: &str, expect: Expect) {
    let parsed = SizeExpr::parse(full_input);
    // Failure messages quote long generated inputs by their start only.
    let input = full_input.get(..80).unwrap_or(full_input);
    if let Error(fragment) = expect {
        let err = parsed.expect_err(input).to_string();
        assert!(
            err.contains(fragment),
            "{input:?}: error {err:?} lacks {fragment:?}"
        );
        return;
    }
    let e = parsed.unwrap_or_else(|err| panic!("{input:?}: {err}"));
    assert!(
        e.to_string() == full_input,
        "{input:?}: display keeps the parsed text"
    );
    assert_eq!(
        SizeExpr::parse(&e.canonical().to_string()).unwrap(),
        e,
        "{input:?}"
    );
    match expect {
        Same(other) => assert_eq!(e, SizeExpr::parse(other).unwrap(), "{input:?}"),
        Differs(other) => assert_ne!(e, SizeExpr::parse(other).unwrap(), "{input:?}"),
        Int(v) => {
            assert_eq!(e.as_int(), Some(v), "{input:?}");
            assert_eq!(e, SizeExpr::int(v), "{input:?}");
        }
        Canon(text) => assert_eq!(e.canonical().to_string(), text, "{input:?}"),
        Eval(v) => assert_eq!(e.eval(&values), Ok(v), "{input:?}"),
        EvalErr(fragment) => {
            let err = e.eval(&values).expect_err(input).to_string();
            assert!(
                err.contains(fragment),
                "{input:?}: error {err:?} lacks {fragment:?}"
            );
        }
        Range(lo, hi) => assert_eq!(e.bounds(&ranges), (lo, hi), "{input:?}"),
        Error(_) => unreachable!(),
    }
}

#[test]
fn table() {
    for (input, expect) in CASES {
        check(input, *expect);
    }
}

#[test]
fn limits() {
    let nest = |n: usize| format!("{}s0{}", "(".repeat(n), ")".repeat(n));
    check(&nest(MAX_DEPTH), Same("s0"));
    check(&nest(MAX_DEPTH + 1), Error("nested deeper than 200"));
    check(&nest(20_000), Error("nested deeper than 200"));
    check(&format!("{}s0", "-".repeat(30_000)), Error("nested deeper"));
    check(
        &format!("s0{}", "**1".repeat(20_000)),
        Error("nested deeper"),
    );
    check(
        &format!("s0{}", "//2".repeat(MAX_DEPTH + 1)),
        Error("nested deeper"),
    );
    check(
        &format!("s0{}", "%s1".repeat(MAX_DEPTH + 1)),
        Error("nested deeper"),
    );
    check(
        &"1".repeat(MAX_TEXT_LEN + 1),
        Error("exceeds the limit of 65536 bytes"),
    );
    // Long flat sums and products are fine, and fast.
    let n = 7_000;
    let sum = (0..n)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(
        SizeExpr::parse(&sum).unwrap().eval(&values),
        Ok(n * (n - 1) / 2)
    );
    let product = (0..n)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join("*");
    assert_eq!(SizeExpr::parse(&product).unwrap().symbols().len(), 7_000);
    let many = format!("s0{}", " + s0".repeat(10_000));
    check(&many, Same("10001*s0"));
}

#[test]
fn syntax_errors_locate_and_quote() {
    let long = format!("{} $", "s0 + ".repeat(100));
    match SizeExpr::parse(&long) {
        Err(ExprError::Syntax { text, position, .. }) => {
            assert_eq!(position, 501);
            assert!(text.ends_with('…') && text.len() < 210, "{text}");
        }
        other => panic!("{other:?}"),
    }
}

const PRODUCTS: &[(&[&str], &str)] = &[
    (&["s53", "s27"], "s27*s53"),
    (&["4", "s77"], "4*s77"),
    (&["s27", "s5 + 1"], "s27*(s5 + 1)"),
    (&["s27", "s27"], "s27**2"),
    (&["1", "1"], "1"),
    (&[], "1"),
    (&["0", "s0"], "0"),
    (&["s5", "s100", "s27"], "s100*s27*s5"),
    (&["s77", "s27", "s53"], "s27*s53*s77"),
    (&["3", "s5 + 1"], "3*s5 + 3"),
    (&["-1", "s5 + 1"], "-s5 - 1"),
    (&["3", "s5 + 1", "s2"], "3*s2*(s5 + 1)"),
    (&["s5 + 1", "s5 + 1"], "(s5 + 1)**2"),
    (&["s5 + 1", "1 + s5"], "(s5 + 1)**2"),
    (&["s1 + 1", "s0 + 1"], "(s0 + 1)*(s1 + 1)"),
    (&["s0 + s1 + 1", "s2 + 1"], "(s2 + 1)*(s0 + s1 + 1)"),
    (&["s0 + 1"], "s0 + 1"),
    (&["s0 + 1", "1"], "s0 + 1"),
    (&["-1", "s0"], "-s0"),
    (&["-2", "s1", "s0"], "-2*s0*s1"),
    (&["4*s77", "2*s5"], "8*s5*s77"),
    (&["s0**2", "s0"], "s0**3"),
    (&["s0*(s1 + 1)", "s2"], "s0*s2*(s1 + 1)"),
    (&["-s0*(s1 + 1)", "s2"], "-s0*s2*(s1 + 1)"),
    (&["(s1 + 1)**2", "s1 + 1"], "(s1 + 1)**3"),
    (
        &["4*s92*(s93 - 1) + 4*s92", "s1"],
        "s1*(4*s92*(s93 - 1) + 4*s92)",
    ),
    (&["s0//2", "2"], "2*((s0//2))"),
    (&["s0//2", "-2"], "-2*(s0//2)"),
    (&["s0//2", "s1 + 1", "s1"], "s1*(s1 + 1)*((s0//2))"),
    (&["s0 % 2", "s1"], "s1*(PythonMod(s0, 2))"),
];

/// `factors` are parsed, except that a factor written `[a; b]` is the product of a and b.
fn check_product(factors: &[&str], expected: &str) {
    let parsed: Vec<SizeExpr> = factors
        .iter()
        .map(|f| SizeExpr::parse(f).unwrap())
        .collect();
    let p = SizeExpr::product(&parsed).unwrap();
    assert_eq!(p.to_string(), expected, "{factors:?}");
    let value: i64 = parsed.iter().map(|f| f.eval(&values).unwrap()).product();
    assert_eq!(p.eval(&values), Ok(value), "{factors:?}");
    assert_eq!(SizeExpr::parse(expected).unwrap(), p, "{factors:?}");
    assert_eq!(p.is_constant(), p.to_json().is_i64(), "{factors:?}");
}

#[test]
fn products() {
    for (factors, expected) in PRODUCTS {
        check_product(factors, expected);
    }
}

#[test]
fn products_fold_like_pytorch_strides() {
    // Contiguous strides of [s2, s5 + 1, 3]: 1, 3, then 3*(s5 + 1) distributed by sympy,
    // then that sum times s2.
    let three = SizeExpr::int(3);
    let middle = SizeExpr::parse("s5 + 1").unwrap();
    let s2 = SizeExpr::symbol("s2");
    let stride1 = SizeExpr::product(&[three, middle]).unwrap();
    assert_eq!(stride1.to_string(), "3*s5 + 3");
    let stride0 = SizeExpr::product(&[stride1, s2.clone()]).unwrap();
    assert_eq!(stride0.to_string(), "s2*(3*s5 + 3)");
    // A product fed back in is flattened, not parenthesized.
    let inner =
        SizeExpr::product(&[SizeExpr::symbol("s27"), SizeExpr::parse("s5 + 1").unwrap()]).unwrap();
    let outer = SizeExpr::product(&[inner, s2]).unwrap();
    assert_eq!(outer.to_string(), "s2*s27*(s5 + 1)");
}

#[test]
fn json_forms() {
    let cases: &[(serde_json::Value, Result<&str, &str>)] = &[
        (serde_json::json!(7), Ok("7")),
        (serde_json::json!(-3), Ok("-3")),
        (serde_json::json!("s77"), Ok("s77")),
        (
            serde_json::json!("4*s92*(s93 - 1) + 4*s92"),
            Ok("4*s92*(s93 - 1) + 4*s92"),
        ),
        (serde_json::json!("12"), Ok("12")),
        (serde_json::json!(" 12 "), Ok(" 12 ")),
        (serde_json::json!(2.0), Err("found the number 2.0")),
        (serde_json::json!(u64::MAX), Err("overflow")),
        (serde_json::json!(true), Err("found `true`")),
        (serde_json::json!(null), Err("found null")),
        (serde_json::json!([1]), Err("found an array")),
        (serde_json::json!({"a": 1}), Err("found an object")),
        (serde_json::json!("s0 +"), Err("unexpected end")),
    ];
    for (json, expected) in cases {
        match (SizeExpr::from_json(json), expected) {
            (Ok(e), Ok(text)) => {
                assert_eq!(e.to_string(), *text);
                let back = e.to_json();
                assert_eq!(back.is_i64(), e.is_constant(), "{json}");
                assert_eq!(SizeExpr::from_json(&back).unwrap(), e);
                assert_eq!(serde_json::to_value(&e).unwrap(), back);
                let de: SizeExpr = serde_json::from_value(json.clone()).unwrap();
                assert_eq!(de, e);
            }
            (Err(err), Err(fragment)) => {
                let msg = err.to_string();
                assert!(msg.contains(fragment), "{json}: {msg:?} lacks {fragment:?}");
                assert!(
                    serde_json::from_value::<SizeExpr>(json.clone()).is_err(),
                    "{json}"
                );
            }
            (got, _) => panic!("{json}: unexpected {got:?}"),
        }
    }
    // A constant written as a sum is a number in JSON.
    assert_eq!(
        SizeExpr::parse("2 + 2").unwrap().to_json(),
        serde_json::json!(4)
    );
}

#[test]
fn accessors() {
    let e = SizeExpr::parse("s5*(s27//s3) + PythonMod(s100, s3) + 2").unwrap();
    assert_eq!(e.symbols(), ["s100", "s27", "s3", "s5"]);
    assert_eq!(SizeExpr::parse("s9").unwrap().as_symbol(), Some("s9"));
    assert_eq!(SizeExpr::parse("(s9)").unwrap().as_symbol(), Some("s9"));
    assert_eq!(SizeExpr::parse("2*s9").unwrap().as_symbol(), None);
    assert_eq!(SizeExpr::parse("s9 + 0").unwrap().as_symbol(), Some("s9"));
    assert!(SizeExpr::int(3).is_constant());
    assert!(!SizeExpr::symbol("s1").is_constant());
    let sum = SizeExpr::symbol("s1")
        .checked_add(&SizeExpr::int(1))
        .unwrap();
    assert_eq!(sum.to_string(), "s1 + 1");
    assert_eq!(
        sum.checked_sub(&SizeExpr::int(1)).unwrap().to_string(),
        "s1"
    );
    assert_eq!(
        sum.checked_mul(&sum).unwrap().to_string(),
        "s1**2 + 2*s1 + 1"
    );
    assert_eq!(sum.checked_neg().unwrap().to_string(), "-s1 - 1");
    assert_eq!(
        SizeExpr::int(i64::MAX).checked_add(&SizeExpr::int(1)),
        Err(ExprError::Overflow)
    );
    assert_eq!(
        format!("{:?}", SizeExpr::parse("2 + 2").unwrap()),
        "SizeExpr(2 + 2 = 4)"
    );
    assert_eq!(
        format!("{:?}", SizeExpr::parse("4*s77").unwrap()),
        "SizeExpr(4*s77)"
    );
    let mut set = std::collections::HashSet::new();
    set.insert(SizeExpr::parse("s77*s27").unwrap());
    assert!(set.contains(&SizeExpr::parse("s27*s77").unwrap()));
}

// ---- properties ----

/// A reference expression tree, printed fully parenthesized and evaluated independently.
#[derive(Clone, Debug)]
enum Tree {
    Int(i64),
    Sym(usize),
    Add(Box<Tree>, Box<Tree>),
    Sub(Box<Tree>, Box<Tree>),
    Mul(Box<Tree>, Box<Tree>),
    Neg(Box<Tree>),
    Pow(Box<Tree>, u32),
    FloorDiv(Box<Tree>, Box<Tree>),
    Mod(Box<Tree>, Box<Tree>),
}

const NAMES: [&str; 4] = ["s0", "s1", "s27", "s100"];

fn tree(with_division: bool) -> impl Strategy<Value = Tree> {
    tree_with(-20..20, with_division)
}

fn tree_with(ints: std::ops::Range<i64>, with_division: bool) -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        ints.prop_map(Tree::Int),
        (0..NAMES.len()).prop_map(Tree::Sym)
    ];
    leaf.prop_recursive(4, 24, 2, move |inner| {
        let pair = || (inner.clone(), inner.clone());
        let b = |(x, y): (Tree, Tree)| (Box::new(x), Box::new(y));
        let mut options = vec![
            pair()
                .prop_map(move |p| {
                    let (x, y) = b(p);
                    Tree::Add(x, y)
                })
                .boxed(),
            pair()
                .prop_map(move |p| {
                    let (x, y) = b(p);
                    Tree::Sub(x, y)
                })
                .boxed(),
            pair()
                .prop_map(move |p| {
                    let (x, y) = b(p);
                    Tree::Mul(x, y)
                })
                .boxed(),
            inner.clone().prop_map(|x| Tree::Neg(Box::new(x))).boxed(),
            (inner.clone(), 0u32..4)
                .prop_map(|(x, k)| Tree::Pow(Box::new(x), k))
                .boxed(),
        ];
        if with_division {
            options.push(
                pair()
                    .prop_map(move |p| {
                        let (x, y) = b(p);
                        Tree::FloorDiv(x, y)
                    })
                    .boxed(),
            );
            options.push(
                pair()
                    .prop_map(move |p| {
                        let (x, y) = b(p);
                        Tree::Mod(x, y)
                    })
                    .boxed(),
            );
        }
        proptest::strategy::Union::new(options)
    })
}

fn text(t: &Tree) -> String {
    match t {
        Tree::Int(v) => format!("({v})"),
        Tree::Sym(i) => NAMES[*i].to_owned(),
        Tree::Add(x, y) => format!("({} + {})", text(x), text(y)),
        Tree::Sub(x, y) => format!("({} - {})", text(x), text(y)),
        Tree::Mul(x, y) => format!("({}*{})", text(x), text(y)),
        Tree::Neg(x) => format!("(-{})", text(x)),
        Tree::Pow(x, k) => format!("({}**{k})", text(x)),
        Tree::FloorDiv(x, y) => format!("({}//{})", text(x), text(y)),
        Tree::Mod(x, y) => format!("({} % {})", text(x), text(y)),
    }
}

/// Python semantics in i128; `None` on division by zero or when i128 overflows.
fn reference(t: &Tree, env: &[i64; 4]) -> Option<i128> {
    let pair = |x: &Tree, y: &Tree| Some((reference(x, env)?, reference(y, env)?));
    match t {
        Tree::Int(v) => Some(i128::from(*v)),
        Tree::Sym(i) => Some(i128::from(env[*i])),
        Tree::Add(x, y) => pair(x, y).and_then(|(a, b)| a.checked_add(b)),
        Tree::Sub(x, y) => pair(x, y).and_then(|(a, b)| a.checked_sub(b)),
        Tree::Mul(x, y) => pair(x, y).and_then(|(a, b)| a.checked_mul(b)),
        Tree::Neg(x) => reference(x, env)?.checked_neg(),
        Tree::Pow(x, k) => reference(x, env)?.checked_pow(*k),
        Tree::FloorDiv(x, y) => {
            let (a, b) = pair(x, y)?;
            let q = a.checked_div_euclid(b)?;
            // Euclidean division rounds up for a negative divisor and a remainder.
            Some(if b < 0 && a.rem_euclid(b) != 0 {
                q - 1
            } else {
                q
            })
        }
        Tree::Mod(x, y) => {
            let (a, b) = pair(x, y)?;
            let r = a.checked_rem_euclid(b)?;
            Some(if b < 0 && r != 0 { r + b } else { r })
        }
    }
}

/// Parsing and evaluating `t` gives Python's value, or reports an overflow (coefficients
/// may overflow where a value does not), or a division by zero that Python meets too.
fn agrees_with_python(t: &Tree, env: &[i64; 4]) -> Result<(), TestCaseError> {
    let source = text(t);
    let expected = reference(t, env);
    let e = match SizeExpr::parse(&source) {
        Ok(e) => e,
        Err(ExprError::Overflow) => return Ok(()),
        Err(ExprError::DivisionByZero) => {
            prop_assert_eq!(expected, None, "{}", source);
            return Ok(());
        }
        Err(err) => return Err(TestCaseError::fail(format!("{source}: {err}"))),
    };
    prop_assert_eq!(e.to_string(), source.as_str());
    match (e.eval(&lookup(env)), expected) {
        (Ok(v), Some(r)) => prop_assert_eq!(i128::from(v), r, "{}", e.canonical()),
        // Python fails where the normal form simplified `x % x`, `0 // x` and the like.
        (Ok(_), None) => {}
        (Err(ExprError::Overflow), _) => {}
        (Err(ExprError::DivisionByZero), r) => prop_assert_eq!(r, None, "{}", source),
        (Err(err), _) => return Err(TestCaseError::fail(format!("{source}: {err}"))),
    }
    Ok(())
}

/// Expansions whose coefficients leave i64, or that grow past the term limit, are no
/// counterexamples; any other error is.
fn too_large(err: &ExprError) -> bool {
    matches!(err, ExprError::Overflow | ExprError::TooManyTerms)
}

fn value_fits(got: Result<i64, ExprError>, expected: i128) -> Result<(), TestCaseError> {
    match got {
        Ok(v) => prop_assert_eq!(i128::from(v), expected),
        Err(err) => prop_assert!(too_large(&err), "{}", err),
    }
    Ok(())
}

fn equal_if_fits(
    a: Result<SizeExpr, ExprError>,
    b: Result<SizeExpr, ExprError>,
) -> Result<(), TestCaseError> {
    match (a, b) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(err), _) | (_, Err(err)) => prop_assert!(too_large(&err), "{}", err),
    }
    Ok(())
}

fn lookup(env: &[i64; 4]) -> impl Fn(&str) -> Option<i64> + '_ {
    move |name| NAMES.iter().position(|n| *n == name).map(|i| env[i])
}

static HOMOMORPHISM_REACH: Reach = Reach::new();
static EQUALITY_REACH: Reach = Reach::new();
static BOUNDS_REACH: Reach = Reach::new();

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_agrees_with_python(t in tree(true), env in prop::array::uniform4(-6i64..7)) {
        agrees_with_python(&t, &env)?;
    }

    #[test]
    fn overflow_is_reported_never_wrapped(
        t in tree_with(-(1 << 40)..(1 << 40), true),
        env in prop::array::uniform4(-(1i64 << 20)..(1 << 20)),
    ) {
        agrees_with_python(&t, &env)?;
    }

    #[test]
    fn canonical_printing_round_trips(t in tree(true)) {
        if let Ok(e) = SizeExpr::parse(&text(&t)) {
            let printed = e.canonical().to_string();
            prop_assert_eq!(SizeExpr::parse(&printed), Ok(e.clone()), "{}", printed);
            prop_assert_eq!(SizeExpr::from_json(&e.to_json()), Ok(e));
        }
    }

    #[test]
    fn eval_is_a_ring_homomorphism(
        a in tree(true),
        b in tree(true),
        env in prop::array::uniform4(-6i64..7),
    ) {
        let case = HOMOMORPHISM_REACH.case(512, 300);
        let (Ok(x), Ok(y)) = (SizeExpr::parse(&text(&a)), SizeExpr::parse(&text(&b))) else {
            return Ok(());
        };
        let env = lookup(&env);
        let (Ok(vx), Ok(vy)) = (x.eval(&env), y.eval(&env)) else { return Ok(()) };
        case.reached();
        let (vx, vy) = (i128::from(vx), i128::from(vy));
        value_fits(x.checked_add(&y).and_then(|s| s.eval(&env)), vx + vy)?;
        value_fits(x.checked_sub(&y).and_then(|d| d.eval(&env)), vx - vy)?;
        value_fits(x.checked_mul(&y).and_then(|p| p.eval(&env)), vx * vy)?;
        let p = SizeExpr::product(&[x.clone(), y.clone(), x.clone()]);
        value_fits(p.clone().and_then(|p| p.eval(&env)), vx * vy * vx)?;
        if let Ok(p) = p {
            prop_assert_eq!(SizeExpr::parse(&p.to_string()), Ok(p));
        }
    }

    #[test]
    fn equality_is_polynomial_equality(a in tree(false), b in tree(false), c in tree(false)) {
        let case = EQUALITY_REACH.case(512, 450);
        let [Ok(x), Ok(y), Ok(z)] = [&a, &b, &c].map(|t| SizeExpr::parse(&text(t))) else {
            return Ok(());
        };
        case.reached();
        // Ring laws hold as equalities of the normal forms...
        equal_if_fits(x.checked_mul(&y), y.checked_mul(&x))?;
        equal_if_fits(
            x.checked_add(&y).and_then(|s| s.checked_mul(&z)),
            x.checked_mul(&z).and_then(|xz| xz.checked_add(&y.checked_mul(&z)?)),
        )?;
        equal_if_fits(x.checked_sub(&x), Ok(SizeExpr::int(0)))?;
        let regrouped = SizeExpr::parse(&format!("{} + {}", text(&b), text(&a)));
        equal_if_fits(regrouped, x.checked_add(&y))?;
        // ...a difference in value at some point means a difference in form...
        let env = [3, -2, 5, 7];
        if x.eval(&lookup(&env)) != y.eval(&lookup(&env)) {
            prop_assert_ne!(&x, &y);
        }
        // ...and equal forms have equal values everywhere.
        if x == y {
            for env in [[1, 2, 3, 4], [-5, 0, 6, -1]] {
                prop_assert_eq!(x.eval(&lookup(&env)), y.eval(&lookup(&env)));
            }
        }
    }

    #[test]
    fn bounds_are_sound(
        t in tree(true),
        lows in prop::array::uniform4(-8i64..8),
        widths in prop::array::uniform4(0i64..6),
        picks in prop::array::uniform4(0i64..6),
        open in prop::array::uniform4(0u8..6),
    ) {
        let case = BOUNDS_REACH.case(512, 400);
        let Ok(e) = SizeExpr::parse(&text(&t)) else { return Ok(()) };
        case.reached();
        // Some sides unbounded; the sample point lies inside the interval either way.
        let interval = |i: usize| {
            let lo = (open[i] != 1).then_some(lows[i]);
            let hi = (open[i] != 2).then_some(lows[i] + widths[i]);
            (lo, hi)
        };
        let bounds = e.bounds(&|name| {
            NAMES.iter().position(|n| *n == name).map_or((None, None), interval)
        });
        let point: [i64; 4] = std::array::from_fn(|i| lows[i] + picks[i].min(widths[i]));
        let value = e.eval(&lookup(&point));
        if let Ok(v) = value {
            prop_assert!(bounds.0.is_none_or(|lo| lo <= v), "{} = {} below {:?}", e, v, bounds);
            prop_assert!(bounds.1.is_none_or(|hi| v <= hi), "{} = {} above {:?}", e, v, bounds);
        }
    }

    #[test]
    fn parse_never_panics(s in "[ s0-9a-zA-Z_()+*/%,.-]{0,40}") {
        if let Ok(e) = SizeExpr::parse(&s) {
            prop_assert_eq!(e.to_string(), s);
            let _ = e.eval(&values);
            let _ = e.bounds(&ranges);
            let _ = SizeExpr::product(&[e.clone(), e]);
        }
    }

    #[test]
    fn parse_never_panics_on_any_text(s in any::<String>()) {
        let _ = SizeExpr::parse(&s);
    }
}
