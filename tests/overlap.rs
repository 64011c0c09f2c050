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

/// Runs `aotio overlap - ARGS` on `input`: (exit code, stdout, stderr).
fn overlap_cli(input: &str, args: &[&str]) -> (Option<i32>, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_aotio"))
        .args(["overlap", "-"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aotio runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    let out = child.wait_with_output().expect("aotio ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn overlap_input_refuses_negative_geometry_like_analyze() {
    let good = r#"{"shape": [4], "stride": [1], "storage_offset": 0}"#;
    for (bad, message) in [
        (
            r#"{"shape": [4], "stride": [-1], "storage_offset": 3}"#,
            "line 1: tensors[1].stride[0]: negative stride -1",
        ),
        (
            r#"{"shape": [-2, 2], "stride": [2, 1], "storage_offset": 0}"#,
            "line 1: tensors[1].shape[0]: negative shape -2",
        ),
    ] {
        let line = format!(r#"{{"id": 0, "tensors": [{good}, {bad}]}}"#);
        for mode in ["torch", "exact"] {
            let (code, stdout, stderr) = overlap_cli(&line, &["--mode", mode]);
            assert_eq!(code, Some(3), "{mode}: {stdout}");
            assert!(stdout.is_empty(), "{mode}: answered {stdout}");
            assert!(stderr.contains(message), "{mode}: {stderr}");
        }
    }
}

#[test]
fn overlap_pairs_are_capped_and_counted() {
    // 100 views of 16 elements at offsets 0..8: every pair overlaps.
    let tensors: Vec<String> = (0..100)
        .map(|k| {
            format!(
                r#"{{"shape": [16], "stride": [1], "storage_offset": {}}}"#,
                k % 8
            )
        })
        .collect();
    let line = format!(r#"{{"id": "crowd", "tensors": [{}]}}"#, tensors.join(", "));
    for mode in ["torch", "exact"] {
        let (code, stdout, stderr) = overlap_cli(&line, &["--mode", mode, "--max-pairs", "3"]);
        assert_eq!(code, Some(0), "{stderr}");
        let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        assert_eq!(answer["overlapping"].as_array().map(Vec::len), Some(100));
        assert_eq!(answer["pairs"], serde_json::json!([[0, 1], [0, 2], [0, 3]]));
        // Counting may look at 100 pairs per listed pair: 300 of 4,950.
        assert_eq!(
            answer["pairs_at_least"].as_u64().map(|n| n >= 300),
            Some(true)
        );
        assert_eq!(answer.get("pairs_total"), None);
        let (_, all, _) = overlap_cli(&line, &["--mode", mode, "--max-pairs", "5000"]);
        let all: serde_json::Value = serde_json::from_str(all.trim()).expect("one JSON line");
        assert_eq!(all["pairs_total"], 4950);
        assert_eq!(all["pairs"].as_array().map(Vec::len), Some(4950));
    }
}
