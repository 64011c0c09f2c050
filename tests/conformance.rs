//! Every shared conformance case, compared field by field with what PyTorch
//! computed (`expect`), on the fields the conformance README marks exact.

mod common;

use std::path::Path;

use serde_json::{json, Value};

use common::{
    case_files, case_files_in, diff, norm_dedupe, norm_error, norm_meta, norm_synthetic_base,
    pytorch_cases_dir,
};

/// aotio's report for one case, as JSON (the CLI's `--format json`).
fn analyze(text: &str) -> Value {
    let session = aotio::Session::from_json_str(text).expect("conformance dumps load");
    let report = session.report().expect("conformance dumps analyse");
    serde_json::to_value(report).expect("reports serialize")
}

/// The differences between aotio and PyTorch on the keys of `keys` present in `expect`.
fn check(path: &Path, keys: &[&str]) -> Vec<String> {
    let text = common::read_text(path);
    let case: Value = serde_json::from_str(&text).expect("case is JSON");
    let expect = &case["expect"];
    let got = analyze(&text);
    let mut problems = Vec::new();
    if expect.get("error").is_some() {
        diff(
            &norm_error(expect.get("error")),
            &norm_error(got.get("error")),
            "error",
            &mut problems,
        );
        return problems;
    }
    for key in keys {
        let Some(e) = expect.get(*key) else { continue };
        let (e, g) = match *key {
            "fw_metadata" => (norm_meta(Some(e)), norm_meta(got.get(*key))),
            "dedupe" => (norm_dedupe(Some(e)), norm_dedupe(got.get(*key))),
            "synthetic_base" => (
                norm_synthetic_base(Some(e)),
                norm_synthetic_base(got.get(*key)),
            ),
            _ => (e.clone(), got.get(*key).cloned().unwrap_or(json!(null))),
        };
        diff(&e, &g, key, &mut problems);
    }
    problems
}

fn check_all(keys: &[&str]) {
    check_files(&case_files(), keys);
}

fn check_files(files: &[std::path::PathBuf], keys: &[&str]) {
    assert!(!files.is_empty(), "no conformance cases found");
    let mut failures = Vec::new();
    for f in files {
        let problems = check(f, keys);
        if !problems.is_empty() {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            failures.push(format!("{name}:\n    {}", problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyTorch on {keys:?}:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn fw_metadata_matches_pytorch() {
    check_all(&["needs_autograd", "fw_metadata"]);
}

#[test]
fn dedupe_matches_pytorch() {
    check_all(&["dedupe"]);
}

#[test]
fn synthetic_bases_match_pytorch() {
    check_all(&["synthetic_base"]);
}

#[test]
fn overlapping_inputs_match_pytorch() {
    check_all(&["overlapping_inputs"]);
}

/// The `StorageOverlap` guards with their Dynamo sources (the shared
/// scoring tool does not score them; this test does).
#[test]
fn aot_guards_match_pytorch() {
    check_all(&["aot_guards"]);
}

/// A custom operator is read from its schema; without one it cannot be
/// analysed, and loading names the node and the operator.
#[test]
fn custom_operator_without_schema_is_a_load_error() {
    let path = common::cases_dir().join("custom_op_mutates_input.json");
    let mut case = common::read_json(&path);
    case["operators"]
        .as_object_mut()
        .expect("operators")
        .remove("aotio_s.add_into_.default");
    let err = aotio::ir::load_str(&case.to_string()).expect_err("no schema, no analysis");
    assert_eq!(
        err.to_string(),
        "node `add_into_`, field `target`: unknown operator `aotio_s.add_into_.default`: \
         add its schema to `operators` (no built-in schema)"
    );
}

/// aotio's own PyTorch-derived cases (`tests/data/pytorch`): autograd's
/// view and in-place refusals during metadata collection, and what
/// collection accepts although eager autograd would not.
#[test]
fn pytorch_cases_match_pytorch() {
    let files = case_files_in(&pytorch_cases_dir());
    assert!(files.len() >= 15, "the PyTorch-derived cases are missing");
    check_files(
        &files,
        &["needs_autograd", "fw_metadata", "dedupe", "synthetic_base"],
    );
}
