//! Arbitrary text as a size expression: parse, evaluate, print back.
#![no_main]

use aotio::ir::expr::SizeExpr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(e) = SizeExpr::parse(text) else { return };
    let env = |s: &str| Some(s.len() as i64 + 1);
    let value = e.eval(&env);
    // The canonical printing means the same polynomial, so the same value.
    let canonical = e.canonical().to_string();
    if let Ok(again) = SizeExpr::parse(&canonical) {
        assert_eq!(e, again, "{text} printed as {canonical}");
        if let (Ok(a), Ok(b)) = (&value, again.eval(&env)) {
            assert_eq!(*a, b);
        }
    }
    let (lo, hi) = e.bounds(&|_| (Some(1), Some(64)));
    if let Ok(v) = e.eval(&|_| Some(7)) {
        assert!(lo.is_none_or(|lo| lo <= v) && hi.is_none_or(|hi| v <= hi), "{text}: {v} outside {lo:?}..{hi:?}");
    }
});
