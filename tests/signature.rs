//! Export graph signatures against PyTorch's (`expect.graph_signature`) on
//! every shared case, for the flavours each asks for, refusals included;
//! names are compared as positions, as the scoring tool does.

mod common;

use std::path::Path;

use serde_json::{json, Value};

use aotio::analysis::signature::{Export, Flavour};
use aotio::queries::signature::graph_signatures;
use aotio::Session;

use common::{case_files, case_files_in, diff, norm_sig};

fn read_case(path: &Path) -> (String, Value) {
    let text = common::read_text(path);
    let case = serde_json::from_str(&text).expect("case is JSON");
    (text, case)
}

fn session(text: &str) -> Session {
    Session::from_json_str(text).expect("conformance dumps load")
}

/// aotio's `graph_signature`, as JSON.
fn signatures_json(session: &Session) -> Value {
    let sigs = graph_signatures(session.db(), session.graph())
        .as_ref()
        .expect("conformance dumps analyse");
    serde_json::to_value(&**sigs).expect("signatures serialize")
}

/// Differences per flavour: a flavour present on one side only is one
/// (the dump's `config.export` decides which are computed).
fn check(path: &Path) -> Vec<(&'static str, String)> {
    let (text, case) = read_case(path);
    let expected = case["expect"]
        .get("graph_signature")
        .cloned()
        .unwrap_or(json!({}));
    let got = signatures_json(&session(&text));
    let mut problems = Vec::new();
    for flavour in Flavour::ALL {
        let key = flavour.as_str();
        let mut diffs = Vec::new();
        diff(
            &norm_sig(expected.get(key)),
            &norm_sig(got.get(key)),
            key,
            &mut diffs,
        );
        problems.extend(diffs.into_iter().map(|d| (key, d)));
    }
    if let Some(extra) = got.as_object().and_then(|g| {
        g.keys()
            .find(|k| !Flavour::ALL.iter().any(|f| f.as_str() == k.as_str()))
            .cloned()
    }) {
        problems.push(("?", format!("unexpected key `{extra}`")));
    }
    problems
}

#[test]
fn graph_signatures_match_pytorch() {
    let files = case_files();
    assert!(!files.is_empty(), "no conformance cases found");
    check_files(&files);
}

/// aotio's own PyTorch-derived cases (`tests/data/pytorch`): export's
/// refusals per flavour, each flavour in its own grad mode, dict outputs.
#[test]
fn pytorch_cases_graph_signatures_match_pytorch() {
    let files = case_files_in(&common::pytorch_cases_dir());
    assert!(files.len() >= 15, "the PyTorch-derived cases are missing");
    check_files(&files);
}

fn check_files(files: &[std::path::PathBuf]) {
    let mut failures = Vec::new();
    for f in files {
        let problems = check(f);
        if !problems.is_empty() {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lines: Vec<String> = problems.into_iter().map(|(_, d)| d).collect();
            failures.push(format!("{name}:\n    {}", lines.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyTorch on graph_signature:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The flavours computed are exactly those asked for, refusals included.
#[test]
fn flavours_are_the_ones_asked_for() {
    let (session, case) = case("module_buffer_and_input_mutation");
    let got = signatures_json(&session);
    assert_eq!(case["config"]["export"], json!(["inference", "joint"]));
    assert!(got["inference"].get("user_inputs").is_some(), "{got}");
    assert_eq!(got["joint"]["error"]["stage"], "aot_export_module[joint]");
    assert_eq!(got["joint"]["error"]["type"], "RuntimeError");

    // The same graph asked for nothing, or for the joint graph only.
    let path = common::cases_dir().join("module_buffer_and_input_mutation.json");
    let (_, mut case) = read_case(&path);
    for (export, keys) in [
        (json!([]), vec![]),
        (json!(["joint"]), vec!["joint"]),
        (Value::Null, vec!["inference"]),
    ] {
        match &export {
            Value::Null => case["config"].as_object_mut().map(|c| c.remove("export")),
            _ => {
                case["config"]["export"] = export.clone();
                None
            }
        };
        let got = signatures_json(&self::session(&case.to_string()));
        let got_keys: Vec<&str> = got
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(got_keys, keys, "export {export}");
    }
}

#[test]
fn unknown_export_flavours_are_load_errors() {
    let path = common::cases_dir().join("plain_pointwise.json");
    let (_, mut case) = read_case(&path);
    for (export, message) in [
        (json!(["training"]), "config.export[0]"),
        (json!(["joint", "inference"]), "config.export[1]"),
        (json!("inference"), "config.export"),
    ] {
        case["config"]["export"] = export.clone();
        let err =
            aotio::ir::load_str(&case.to_string()).expect_err("a bad flavour list is refused");
        let text = err.to_string();
        assert!(text.contains(message), "{export}: {text}");
    }
}

fn case(name: &str) -> (Session, Value) {
    let path = common::cases_dir().join(format!("{name}.json"));
    let (text, case) = read_case(&path);
    (session(&text), case)
}

fn kinds(specs: &Value) -> Vec<String> {
    specs
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_object().and_then(|o| o.keys().next().cloned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn torch_export_form_classifies_by_position() {
    let (session, _) = case("module_buffer_and_input_mutation");
    let got = signatures_json(&session);
    let export = &got["inference"]["torch_export"];
    assert_eq!(
        kinds(&export["input_specs"]),
        ["parameter", "buffer", "buffer", "user_input", "user_input"]
    );
    assert_eq!(
        kinds(&export["output_specs"]),
        [
            "buffer_mutation",
            "buffer_mutation",
            "user_input_mutation",
            "user_output"
        ]
    );
    assert_eq!(
        export["input_specs"][1],
        json!({"buffer": {"arg": {"name": "arg1_1"}, "buffer_name": "steps", "persistent": true}})
    );
    assert_eq!(
        export["output_specs"][2],
        json!({"user_input_mutation": {"arg": {"name": "copy_"}, "user_input_name": "arg4_1"}})
    );
}

#[test]
fn joint_loss_output_quirk_is_kept_and_flagged() {
    let (session, case) = case("module_batchnorm_train");
    let got = signatures_json(&session);
    let joint = &got["joint"];
    let outputs = joint["graph_output_names"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // PyTorch names output 0, the running-mean update, as the loss...
    assert_eq!(joint["backward_signature"]["loss_output"], outputs[0]);
    let expected = &case["expect"]["graph_signature"]["joint"];
    assert_eq!(
        expected["backward_signature"]["loss_output"],
        expected["graph_output_names"][0]
    );
    // ...torch.export's form puts the loss where it is, after the three updates...
    let specs = kinds(&joint["torch_export"]["output_specs"]);
    assert_eq!(
        specs[..4],
        [
            "buffer_mutation",
            "buffer_mutation",
            "buffer_mutation",
            "loss_output"
        ]
    );
    assert_eq!(specs[4..], ["gradient_to_parameter"; 4]);
    // ...and the text report says so.
    let sigs = graph_signatures(session.db(), session.graph())
        .as_ref()
        .expect("analyses");
    let path = common::cases_dir().join("module_batchnorm_train.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aotio"))
        .arg("analyze")
        .arg(&path)
        .output()
        .expect("aotio runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("loss_output is output [0]"), "{text}");
    assert!(matches!(
        sigs.get(Flavour::Joint),
        Some(Export::Exported(_))
    ));
}

#[test]
fn constants_and_symbolic_values_in_torch_export_form() {
    let (session, _) = case("scalar_args_static");
    let got = signatures_json(&session);
    assert_eq!(
        got["inference"]["torch_export"]["input_specs"][1],
        json!({"constant_input": {"name": "arg1_1", "value": {"as_int": 3}}})
    );
    let (session, _) = case("non_tensor_outputs");
    let got = signatures_json(&session);
    let outputs = &got["inference"]["torch_export"]["output_specs"];
    assert_eq!(outputs[1], json!({"user_output": {"arg": {"as_int": 3}}}));
    assert_eq!(
        outputs[4],
        json!({"user_output": {"arg": {"as_none": true}}})
    );
    assert_eq!(
        outputs[5],
        json!({"user_output": {"arg": {"as_string": "tag"}}})
    );
    let (session, _) = case("sym_kv_cache_narrow_copy");
    let got = signatures_json(&session);
    assert_eq!(
        got["inference"]["torch_export"]["input_specs"][2],
        json!({"user_input": {"arg": {"as_sym_int": {"as_name": "arg2_1"}}}})
    );
}

/// A spec is read and checked when the dump is loaded: a bad one is a load
/// error whose field is the spec's path.
#[test]
fn specs_that_disagree_with_the_graph_are_load_errors() {
    let path = common::cases_dir().join("plain_pointwise.json");
    let (_, mut case) = read_case(&path);
    // Two user inputs, but the spec rebuilds the call from one.
    case["in_spec"][1]["children_spec"][0]["children_spec"]
        .as_array_mut()
        .expect("an args tuple")
        .pop();
    let problems = |case: &Value| match Session::from_json_str(&case.to_string()) {
        Ok(_) => panic!("a bad spec is a load error"),
        Err(e) => e.to_string(),
    };
    let err = problems(&case);
    assert!(
        err.contains("field `in_spec`: rebuilds from 1 values, but the graph has 2 user inputs"),
        "{err}"
    );

    case["out_spec"] = json!([2, {"type": null, "context": null, "children_spec": []}]);
    case["in_spec"] = Value::Null;
    let err = problems(&case);
    assert!(
        err.contains("field `out_spec[0]`: unsupported treespec protocol 2 (expected 1)"),
        "{err}"
    );
}

/// The signatures read placeholders, outputs and collected metadata: a new
/// stride on an intermediate the metadata never reads must not redo them.
#[test]
fn editing_an_intermediate_keeps_the_signatures() {
    use aotio::db::Database;
    use aotio::ir::{expr::SizeExpr, Value};

    let path = common::cases_dir().join("module_linear.json");
    let (text, _) = read_case(&path);
    let graph = aotio::ir::load_str(&text).expect("loads");
    let mut session = Session::with_database(Database::with_execution_log(), graph);
    let before = graph_signatures(session.db(), session.graph()).clone();
    let _ = session.db().take_executed();

    let node = session
        .node("t")
        .expect("module_linear transposes its weight");
    let Value::Tensor(mut meta) = (**node.value(session.db())).clone() else {
        panic!("`t` is a tensor");
    };
    meta.geometry.storage_offset = SizeExpr::int(1);
    session.db_mut().set_node_value(node, Value::Tensor(meta));

    let after = graph_signatures(session.db(), session.graph()).clone();
    assert_eq!(before, after);
    let executed = session.db().take_executed();
    // Export reads no geometry: the edit stops before it.
    assert!(
        !executed
            .iter()
            .any(|q| q.contains("graph_signatures") || q.contains("export_graph")),
        "re-ran: {executed:?}"
    );
}
