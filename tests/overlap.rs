//! Conformance: every line of `tests/data/conformance/overlap.jsonl` in both
//! modes, through every entry point of `aotio::overlap`.

use aotio::overlap::{check_jsonl_line, OverlapCase};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conformance/overlap.jsonl"
);

/// How many failing lines to print in full.
const SHOWN: usize = 10;

#[test]
fn overlap_jsonl_both_modes() {
    let text = match std::fs::read_to_string(DATA) {
        Ok(text) => text,
        Err(e) => panic!("cannot read {DATA}: {e}"),
    };
    let mut lines = 0;
    let mut failures: Vec<String> = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        lines += 1;
        let case: OverlapCase = match serde_json::from_str(line) {
            Ok(case) => case,
            Err(e) => panic!("{DATA}:{}: not an overlap case: {e}", n + 1),
        };
        if let Err(diff) = check_jsonl_line(&case) {
            failures.push(diff);
        }
    }
    assert_eq!(lines, 3000, "expected the 3000 lines of {DATA}");
    assert!(
        failures.is_empty(),
        "{} of {lines} lines differ; the first {}:\n{}",
        failures.len(),
        failures.len().min(SHOWN),
        failures
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
