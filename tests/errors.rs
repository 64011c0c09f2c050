//! Bad input gets a clear error naming the node and field, never a panic:
//! one row per kind of problem, each a small edit of a valid dump.

mod common;

use std::process::Command;

use serde_json::{json, Value};

fn base() -> Value {
    common::read_json(&common::data_path("incremental/two_storages.json"))
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

/// Every problem `text` has, as printed.
fn problems(text: &str) -> Vec<String> {
    match aotio::ir::load_str(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn unknown_keys_are_refused_where_the_format_has_none() {
    // A misspelt `val` used to leave the placeholder without a value.
    check_edit(
        |v| {
            let x = common::node_mut(v, "x");
            let val = x["val"].take();
            x.as_object_mut().expect("a node").remove("val");
            x["vall"] = val;
        },
        &["node `x`", "`vall`", "unknown key"],
    );
    check_edit(
        |v| common::node_mut(v, "x")["val"]["tensor"]["strides"] = json!([1]),
        &["node `x`", "`val.tensor.strides`", "unknown key"],
    );
    check_edit(
        |v| v["config"]["keep_input_mutation"] = json!(true),
        &["`config.keep_input_mutation`", "unknown key"],
    );
    check_edit(|v| v["node"] = json!([]), &["`node`", "unknown key"]);
    check_edit(
        |v| v["input_bases"][0]["value"] = json!(null),
        &["`input_bases[0].value`", "unknown key"],
    );
}

#[test]
fn conformance_files_keep_their_expect_block() {
    let mut v = base();
    v["expect"] = json!({"needs_autograd": false});
    assert_eq!(problems(&v.to_string()), Vec::<String>::new());
}

#[test]
fn duplicate_json_keys_are_refused() {
    let text = base().to_string();
    // `"name": "x"` then the same key again inside node `x`.
    let once = text.replacen(
        "\"name\":\"x\",",
        "\"name\":\"x\",\"tensor_id\":4,\"tensor_id\":9,",
        1,
    );
    assert_ne!(once, text, "the edit applies");
    let found = problems(&once);
    assert!(
        found.iter().any(|p| p.contains("node `x`")
            && p.contains("`tensor_id`")
            && p.contains("duplicate key")),
        "{found:#?}"
    );
    let top = text.replacen("{", "{\"version\":1,", 1);
    let found = problems(&top);
    assert!(
        found
            .iter()
            .any(|p| p.contains("`version`") && p.contains("duplicate key")),
        "{found:#?}"
    );
    let kwargs = text.replacen("\"kwargs\":{}", "\"kwargs\":{\"alpha\":1,\"alpha\":2}", 1);
    let found = problems(&kwargs);
    assert!(
        found
            .iter()
            .any(|p| p.contains("`kwargs.alpha`") && p.contains("duplicate key")),
        "{found:#?}"
    );
}

#[test]
fn a_view_outside_its_storage_is_refused() {
    // 2^63 - 1 elements in: the end does not even fit in 64 bits.
    check_edit(
        |v| {
            let t = &mut common::node_mut(v, "x")["val"]["tensor"];
            t["storage_offset"] = json!(i64::MAX);
            t["storage_nbytes"] = json!(96);
        },
        &[
            "node `x`",
            "`val.tensor`",
            "storage_offset",
            "outside its storage of 96 bytes",
        ],
    );
    // One element past the end: 3 float32 elements from element 22 end at byte 100.
    check_edit(
        |v| {
            let t = &mut common::node_mut(v, "x")["val"]["tensor"];
            t["storage_offset"] = json!(22);
            t["storage_nbytes"] = json!(96);
        },
        &[
            "node `x`",
            "reach byte 100",
            "outside its storage of 96 bytes",
        ],
    );
    // Exactly filling the storage is fine.
    let mut v = base();
    let t = &mut common::node_mut(&mut v, "x")["val"]["tensor"];
    t["storage_offset"] = json!(21);
    t["storage_nbytes"] = json!(96);
    assert_eq!(problems(&v.to_string()), Vec::<String>::new());
}

#[test]
fn one_bad_node_is_one_problem() {
    // `mul_`'s op is unknown: the nodes that use it say nothing more.
    let mut v = base();
    common::node_mut(&mut v, "mul_")["op"] = json!("call_method");
    let found = problems(&v.to_string());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("node `mul_`") && found[0].contains("unknown op"));

    // One undeclared symbol used by many sizes is reported once.
    let mut v = base();
    for name in ["a0", "a1", "x"] {
        common::node_mut(&mut v, name)["val"]["tensor"]["shape"] = json!(["s9"]);
    }
    let found = problems(&v.to_string());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("symbol `s9` is not declared"),
        "{found:#?}"
    );
}

#[test]
fn messages_say_things_once() {
    let found = problems("{\"format\": \"aotio.graph\",\n \"version\": }");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].matches("line 2").count(), 1, "{found:#?}");
    assert_eq!(found[0].matches("column").count(), 1, "{found:#?}");

    let mut v = base();
    v["symbols"] = json!({"s9": {"hint": 3, "min": 2, "max": null, "source": null}});
    common::node_mut(&mut v, "x")["val"]["tensor"]["shape"] = json!(["s9 +* 2"]);
    let found = problems(&v.to_string());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].matches("size expression").count(), 1, "{found:#?}");
}
