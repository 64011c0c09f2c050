//! Bad input gets a clear error naming the node and field, never a panic:
//! one row per kind of problem, each a small edit of a valid dump.

mod common;

use std::process::Command;

use serde_json::{json, Value};

fn base() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/incremental/two_storages.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

/// Loads `text` and checks one reported problem mentions every fragment of `expect`.
fn check(text: &str, expect: &[&str]) {
    let problems: Vec<String> = match aotio::Session::from_json_str(text) {
        Ok(session) => match session.report() {
            Ok(_) => panic!("accepted a bad dump; expected an error with {expect:?}"),
            Err(e) => vec![e.to_string()],
        },
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    };
    let Some(err) = problems
        .iter()
        .find(|p| expect.iter().all(|f| p.contains(f)))
    else {
        panic!("no problem mentions all of {expect:?}: {problems:#?}");
    };
    // Every problem is one line, whatever the input.
    assert!(!err.contains('\n') || err.starts_with("PyTorch"), "{err}");
}

fn check_edit(edit: impl Fn(&mut Value), expect: &[&str]) {
    let mut v = base();
    edit(&mut v);
    check(&v.to_string(), expect);
}

#[test]
fn not_json() {
    check(
        "{\"format\": \"aotio.graph\",\n \"version\": }",
        &["line 2", "column", "not valid JSON"],
    );
}

#[test]
fn wrong_format_and_version() {
    check_edit(
        |v| v["format"] = "torch.fx".into(),
        &["`format`", "aotio.graph"],
    );
    check_edit(
        |v| v["version"] = 7.into(),
        &["`version`", "version 7 is not supported"],
    );
}

#[test]
fn dangling_and_forward_references() {
    check_edit(
        |v| common::node_mut(v, "relu")["args"][0] = json!({"node": "nowhere"}),
        &["node `relu`", "`args[0]`", "unknown node `nowhere`"],
    );
    check_edit(
        |v| common::node_mut(v, "mul_")["args"][0] = json!({"node": "relu"}),
        &["node `mul_`", "`args[0]`", "does not come earlier"],
    );
}

#[test]
fn duplicate_names() {
    check_edit(
        |v| common::node_mut(v, "relu")["name"] = "add_".into(),
        &["node `add_`", "duplicate node name"],
    );
}

#[test]
fn rank_mismatch_and_negative_sizes() {
    check_edit(
        |v| common::node_mut(v, "x")["val"]["tensor"]["stride"] = json!([1, 1]),
        &["node `x`", "stride", "rank mismatch"],
    );
    check_edit(
        |v| common::node_mut(v, "x")["val"]["tensor"]["shape"] = json!([-3]),
        &["node `x`", "shape[0]", "negative"],
    );
}

#[test]
fn symbols_and_expressions() {
    check_edit(
        |v| common::node_mut(v, "x")["val"]["tensor"]["shape"] = json!(["s9"]),
        &["node `x`", "shape[0]", "symbol `s9` is not declared"],
    );
    check_edit(
        |v| {
            v["symbols"] = json!({"s9": {"hint": 3, "min": 2, "max": null, "source": null}});
            common::node_mut(v, "x")["val"]["tensor"]["shape"] = json!(["s9 +* 2"]);
        },
        &["node `x`", "shape[0]", "bad size expression"],
    );
}

#[test]
fn unknown_operator() {
    check_edit(
        |v| common::node_mut(v, "relu")["target"] = "aten.frobnicate.default".into(),
        &["node `relu`", "`target`", "unknown operator"],
    );
}

#[test]
fn bad_schema() {
    check_edit(
        |v| v["operators"] = json!({"aten.relu.default": "aten::relu(Tensor self -> Tensor"}),
        &["operators.aten.relu.default", "bad schema"],
    );
}

#[test]
fn output_node_placement() {
    check_edit(
        |v| {
            let nodes = v["nodes"].as_array_mut().expect("nodes");
            let out = nodes.pop().expect("output");
            nodes.insert(5, out);
        },
        &["output node"],
    );
}

#[test]
fn check_lists_every_problem() {
    let mut v = base();
    common::node_mut(&mut v, "x")["val"]["tensor"]["stride"] = json!([1, 1]);
    common::node_mut(&mut v, "relu")["args"][0] = json!({"node": "nowhere"});
    let path = std::env::temp_dir().join(format!("aotio-check-{}.json", std::process::id()));
    std::fs::write(&path, v.to_string()).expect("temp file");
    let out = Command::new(env!("CARGO_BIN_EXE_aotio"))
        .arg("check")
        .arg(&path)
        .output()
        .expect("runs");
    let _ = std::fs::remove_file(&path);
    // Problems go to standard error; 3 is the status for invalid input.
    let stdout = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("rank mismatch") && stdout.contains("unknown node `nowhere`"),
        "{stdout}"
    );
    assert!(stdout.contains("2 problem(s) found"), "{stdout}");
}

#[test]
fn analyze_exits_3_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_aotio"))
        .args(["analyze", "/nonexistent/dump.json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn analyze_without_a_file_runs_the_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_aotio"))
        .args(["analyze", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["needs_autograd"], json!(true));
    assert!(report["fw_metadata"]["input_info"]
        .as_array()
        .is_some_and(|i| i.len() == 8));
}
