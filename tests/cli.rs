//! The command line as a caller sees it: exit statuses, which stream gets
//! what, a reader that stops early, logging from the environment, files of
//! the wrong kind, and the small options of `gen`, `overlap` and `replay`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const OK: i32 = 0;
const REFUSED: i32 = 1;
const USAGE: i32 = 2;
const INVALID_INPUT: i32 = 3;

fn graph(name: &str) -> PathBuf {
    common::cases_dir().join(format!("{name}.json"))
}

fn overlap_lines() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance/overlap.jsonl")
}

/// The binary with a clean logging environment.
fn aotio(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aotio"));
    c.args(args)
        .env_remove("AOTIO_LOG")
        .env_remove("RUST_LOG")
        .env_remove("AOTIO_LOG_SPANS")
        .env_remove("NO_COLOR");
    c
}

fn run(args: &[&str]) -> Output {
    aotio(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary file that removes itself.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str, contents: &str) -> Temp {
        let path = std::env::temp_dir().join(format!("aotio-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("temp file");
        Temp(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A valid dump with two problems: a stride of the wrong rank and an
/// argument naming a node that does not exist.
fn two_problems() -> String {
    let mut v = common::read_json(&common::data_path("incremental/two_storages.json"));
    common::node_mut(&mut v, "x")["val"]["tensor"]["stride"] = json!([1, 1]);
    common::node_mut(&mut v, "relu")["args"][0] = json!({"node": "nowhere"});
    v.to_string()
}

// ---- item 1: a reader that stops early -------------------------------------

/// Runs `args` with standard output a pipe whose reading end is closed
/// before the command can write: `input` goes to standard input only after
/// the close, and commands read all their input before they print.
fn closed_stdout(args: &[&str], input: &[u8]) -> Output {
    let mut child = aotio(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    if let Some(mut stdin) = child.stdin.take() {
        // The command may stop reading once its output is gone.
        let _ = stdin.write_all(input);
    }
    child.wait_with_output().expect("the binary ends")
}

fn assert_quiet(args: &[&str], out: &Output) {
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args:?}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(OK), "{args:?}: {stderr}");
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dump = std::fs::read(graph("mlp_large")).expect("case");
    for format in ["text", "json", "dot"] {
        let args = ["analyze", "-", "--format", format];
        assert_quiet(&args, &closed_stdout(&args, &dump));
    }
    let args = ["check", "-"];
    assert_quiet(&args, &closed_stdout(&args, &dump));
    let views = std::fs::read(overlap_lines()).expect("overlap cases");
    for mode in ["torch", "exact"] {
        let args = ["overlap", "-", "--overlap", mode];
        assert_quiet(&args, &closed_stdout(&args, &views));
    }
    // Megabytes: more than a pipe holds, whenever the reader goes.
    let args = ["gen", "--nodes", "3000"];
    assert_quiet(&args, &closed_stdout(&args, b""));
    let dumps = run(&["gen", "--nodes", "60", "--edits", "3"]).stdout;
    for format in ["text", "json"] {
        let args = ["replay", "-", "--format", format];
        assert_quiet(&args, &closed_stdout(&args, &dumps));
    }
    let args = ["--help"];
    assert_quiet(&args, &closed_stdout(&args, b""));
}

// ---- item 5: exit statuses -----------------------------------------------

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["analyze", "--format", "xml"][..],
        &["frobnicate"],
        &["overlap"],
        &["gen", "--nodes", "-3"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(USAGE),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(run(&["--help"]).status.code(), Some(OK));
    assert_eq!(run(&["--version"]).status.code(), Some(OK));
}

#[test]
fn invalid_input_exits_3() {
    let bad = Temp::new("bad.json", &two_problems());
    for args in [
        &["analyze", "/nonexistent/dump.json"][..],
        &["analyze", bad.arg()],
        &["analyze", bad.arg(), "--format", "json"],
        &["check", bad.arg()],
        &["check", "/nonexistent/dump.json"],
        &["overlap", "/nonexistent/views.jsonl"],
        &["replay", "/nonexistent/dumps.jsonl"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(INVALID_INPUT),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
}

#[test]
fn a_program_pytorch_refuses_exits_1() {
    // The case's `expect` holds PyTorch's RuntimeError at collect_metadata.
    let case = graph("resize_grow_input_error");
    let case = case.to_str().expect("UTF-8 path");
    for format in ["text", "json", "dot"] {
        let out = run(&["analyze", case, "--format", format]);
        assert_eq!(out.status.code(), Some(REFUSED), "{format}");
        assert!(!out.stdout.is_empty(), "the report is still printed");
    }
    let json: Value = serde_json::from_slice(&run(&["analyze", case, "--format", "json"]).stdout)
        .expect("JSON report");
    assert_eq!(json["error"]["type"], json!("RuntimeError"));
    let out = run(&["check", case]);
    assert_eq!(out.status.code(), Some(REFUSED));
    assert!(
        text(&out.stderr).contains("PyTorch refuses this program at collect_metadata"),
        "{}",
        text(&out.stderr)
    );
    // And one PyTorch accepts.
    let out = run(&[
        "check",
        graph("module_linear").to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(OK), "{}", text(&out.stderr));
}

#[test]
fn exit_statuses_are_documented() {
    let help = text(&run(&["--help"]).stdout);
    for line in [
        "0  success",
        "1  PyTorch would refuse",
        "2  usage error",
        "3  invalid input",
        "4  internal error",
    ] {
        assert!(help.contains(line), "`{line}` missing from:\n{help}");
    }
    let help = text(&run(&["analyze", "--help"]).stdout);
    assert!(help.contains("1  PyTorch would refuse"), "{help}");
}

#[test]
fn check_and_analyze_report_problems_on_standard_error() {
    let bad = Temp::new("same-stream.json", &two_problems());
    let check = run(&["check", bad.arg()]);
    let analyze = run(&["analyze", bad.arg()]);
    assert!(check.stdout.is_empty(), "{}", text(&check.stdout));
    assert!(analyze.stdout.is_empty(), "{}", text(&analyze.stdout));
    let check = text(&check.stderr);
    let analyze = text(&analyze.stderr);
    assert!(
        check.contains("rank mismatch") && check.contains("unknown node `nowhere`"),
        "{check}"
    );
    assert!(check.contains("2 problem(s) found"), "{check}");
    // analyze: the first problem, in the words check uses.
    let first = analyze
        .trim_end()
        .split(" (and ")
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        check.lines().any(|l| l == first),
        "{first:?} not in {check}"
    );
}

// ---- item 6: logging -----------------------------------------------------

fn log_run(env: &[(&str, &str)]) -> Output {
    let mut c = aotio(&[
        "analyze",
        graph("module_linear").to_str().expect("UTF-8 path"),
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

#[test]
fn rust_log_works_and_aotio_log_wins() {
    let quiet = log_run(&[]);
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    let rust_log = log_run(&[("RUST_LOG", "debug")]);
    assert_eq!(rust_log.status.code(), Some(OK));
    assert!(
        text(&rust_log.stderr).contains("executing query"),
        "{}",
        text(&rust_log.stderr)
    );
    let both = log_run(&[("RUST_LOG", "debug"), ("AOTIO_LOG", "off")]);
    assert!(both.stderr.is_empty(), "{}", text(&both.stderr));
    let aotio_log = log_run(&[("RUST_LOG", "off"), ("AOTIO_LOG", "debug")]);
    assert!(text(&aotio_log.stderr).contains("executing query"));
}

#[test]
fn no_colour_codes_off_a_terminal() {
    let out = log_run(&[("AOTIO_LOG", "debug")]);
    let stderr = text(&out.stderr);
    assert!(!stderr.is_empty());
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn span_durations_on_request() {
    let without = text(&log_run(&[("AOTIO_LOG", "debug")]).stderr);
    assert!(!without.contains("time.busy"), "{without}");
    let with = text(&log_run(&[("AOTIO_LOG", "debug"), ("AOTIO_LOG_SPANS", "close")]).stderr);
    assert!(
        with.lines()
            .any(|l| l.contains("close") && l.contains("time.busy")),
        "{with}"
    );
}

#[test]
fn an_invalid_log_setting_is_a_usage_error() {
    for env in [
        &[("AOTIO_LOG", "aotio=loud")][..],
        &[("AOTIO_LOG", "debgu")],
        &[("RUST_LOG", "aotio=[")],
        &[("AOTIO_LOG", "debug"), ("AOTIO_LOG_SPANS", "sometimes")],
    ] {
        let out = log_run(env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(USAGE), "{env:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{env:?}");
        let (var, _) = env.last().expect("one setting");
        assert!(stderr.contains(var), "{env:?}: {stderr}");
    }
}

// ---- item 4: one line per problem that matters ---------------------------

#[test]
fn the_count_of_further_problems_says_how_to_see_them() {
    let bad = Temp::new("count.json", &two_problems());
    let out = run(&["analyze", bad.arg()]);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("and 1 more problem") && stderr.contains("aotio check"),
        "{stderr}"
    );
}

/// One line on standard error naming the other kind, status 3, nothing on
/// standard output.
fn assert_one_line(args: &[&str], says: &str) {
    let out = run(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(INVALID_INPUT), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

#[test]
fn a_file_of_the_wrong_kind_gets_one_line() {
    let dump = graph("mlp_large");
    let dump = dump.to_str().expect("UTF-8 path");
    let views = overlap_lines();
    let views = views.to_str().expect("UTF-8 path");
    let lines = Temp::new(
        "dumps.jsonl",
        &text(&run(&["gen", "--nodes", "60", "--edits", "2"]).stdout),
    );
    assert_one_line(&["overlap", dump], "graph dump");
    assert_one_line(&["overlap", lines.arg()], "graph dumps, one per line");
    assert_one_line(&["replay", dump], "one graph dump over several lines");
    assert_one_line(&["replay", views], "groups of strided views");
    assert_one_line(&["analyze", views], "groups of strided views");
    assert_one_line(&["check", views], "groups of strided views");
    assert_one_line(&["analyze", lines.arg()], "aotio replay");
}

// ---- item 11: gen, overlap, replay options -------------------------------

#[test]
fn gen_refuses_zero_nodes_and_lists_kinds() {
    let out = run(&["gen", "--nodes", "0"]);
    assert_eq!(out.status.code(), Some(USAGE));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("at least 1"),
        "{}",
        text(&out.stderr)
    );
    let help = text(&run(&["gen", "--help"]).stdout);
    for kind in [
        "tensor-metadata",
        "op",
        "input-aliasing",
        "input-storage",
        "requires-grad",
        "add-node",
    ] {
        assert!(help.contains(kind), "{kind} missing from:\n{help}");
    }
}

#[test]
fn one_name_for_the_overlap_relation() {
    let views = overlap_lines();
    let views = views.to_str().expect("UTF-8 path");
    let new = run(&["overlap", views, "--overlap", "exact"]);
    // The old name stays for scripts (the shared overlap_check.py uses it).
    let old = run(&["overlap", views, "--mode", "exact"]);
    assert_eq!(new.status.code(), Some(OK), "{}", text(&new.stderr));
    assert_eq!(new.stdout, old.stdout);
    assert_ne!(
        new.stdout,
        run(&["overlap", views, "--overlap", "torch"]).stdout
    );
    for sub in ["overlap", "analyze"] {
        let help = text(&run(&[sub, "--help"]).stdout);
        assert!(help.contains("--overlap <OVERLAP>"), "{sub}: {help}");
        assert!(!help.contains("--mode"), "{sub}: {help}");
    }
    let dump = graph("overlapping_slices_no_mutation");
    let dump = dump.to_str().expect("UTF-8 path");
    let a = run(&["analyze", dump, "--format", "json", "--overlap", "exact"]);
    let b = run(&["analyze", dump, "--format", "json", "--mode", "exact"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn replay_has_headers_and_counts_the_load() {
    let lines = Temp::new(
        "replay.jsonl",
        &text(&run(&["gen", "--nodes", "60", "--edits", "3"]).stdout),
    );
    let out = run(&["replay", lines.arg()]);
    assert_eq!(out.status.code(), Some(OK), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    for column in [
        "step",
        "change",
        "queries re-run",
        "share",
        "analysis ms",
        "load ms",
    ] {
        assert!(header.contains(column), "{column} missing from {header:?}");
    }
    assert!(
        stdout.contains("faster than cold with the load"),
        "{stdout}"
    );
    assert!(stdout.contains("ms load +"), "{stdout}");
}

// ---- item 10: the DOT picture --------------------------------------------

fn dot(case: &str, overlap: &str) -> (Option<i32>, String) {
    let path = graph(case);
    let out = run(&[
        "analyze",
        path.to_str().expect("UTF-8 path"),
        "--format",
        "dot",
        "--overlap",
        overlap,
    ]);
    let text = text(&out.stdout);
    assert!(text.starts_with("digraph aotio {") && text.trim_end().ends_with('}'));
    assert_eq!(
        text.matches('{').count(),
        text.matches('}').count(),
        "{text}"
    );
    (out.status.code(), text)
}

#[test]
fn dot_labels_exact_overlaps_with_a_witness() {
    // a = rows of 4 at stride 8 from 0, b the same from 2: both touch 2.
    let (_, exact) = dot("overlapping_slices_mutation", "exact");
    assert!(
        exact.contains("in0 -> in1 [dir=none, color=red, fontcolor=red, style=solid, label=\"overlaps\\nboth touch element 2\""),
        "{exact}"
    );
    assert!(
        exact.contains("base0 -> in0") && exact.contains("base0 -> in1"),
        "{exact}"
    );
    assert!(exact.contains("storage0 [shape=cylinder"), "{exact}");
    let (_, torch) = dot("overlapping_slices_mutation", "torch");
    assert!(torch.contains("label=\"may overlap\""), "{torch}");
    assert!(!torch.contains("both touch element"), "{torch}");
}

#[test]
fn dot_draws_geometry_outputs_bases_duplicates_and_a_legend() {
    let (_, mixed) = dot("mixed_outputs", "torch");
    assert!(
        mixed.contains("[0] x\\lfloat32[2, 3] stride [3, 1]\\loffset 0  storage 0"),
        "{mixed}"
    );
    // PyTorch: output 1 aliases input 0, output 2 is input 1, outputs 3 and
    // 4 alias intermediate base 0.
    for edge in [
        "in0 -> out1 [color=darkgreen, fontcolor=darkgreen, label=\"alias_of_input\"]",
        "in1 -> out2 [color=darkgreen, fontcolor=darkgreen, label=\"is_input\"]",
        "ib0 -> out3",
        "ib0 -> out4",
    ] {
        assert!(mixed.contains(edge), "{edge} missing from {mixed}");
    }
    assert!(mixed.contains("cluster_legend"), "{mixed}");
    let (_, dup) = dot("dup_args_mutation", "torch");
    assert!(
        dup.contains("in1 -> in0 [style=dotted, label=\"duplicate of\"]"),
        "{dup}"
    );
    let (code, refused) = dot("resize_grow_input_error", "torch");
    assert_eq!(code, Some(REFUSED));
    assert!(
        refused.contains("PyTorch refuses this program at collect_metadata"),
        "{refused}"
    );
    let (_, large) = dot("mlp_large", "torch");
    for p in 0..29 {
        assert!(
            large.contains(&format!("    in{p} [shape=box")),
            "input {p}"
        );
    }
}

// ---- item 9: why, and `aotio explain` -----------------------------------

/// On every conformance case PyTorch accepts: the `why` of each input
/// PyTorch marks `mutates_data` names the nodes, with the grad mode PyTorch's
/// `mutations_under_no_grad_or_inference_mode` implies; unmutated inputs
/// have none; outputs PyTorch marks as aliasing input `base_idx` name it.
#[test]
fn why_agrees_with_pytorch_on_every_case() {
    let mut checked = 0;
    for path in common::case_files() {
        let case = common::read_json(&path);
        let Some(meta) = case["expect"].get("fw_metadata") else {
            continue;
        };
        let out = run(&[
            "analyze",
            path.to_str().expect("UTF-8 path"),
            "--format",
            "json",
            "--why",
        ]);
        let got: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        let why = &got["why"];
        let name = path.display();
        for (i, info) in meta["input_info"]
            .as_array()
            .expect("inputs")
            .iter()
            .enumerate()
        {
            let entry = why["inputs"]
                .as_array()
                .expect("why.inputs")
                .iter()
                .find(|e| e["input"] == json!(i));
            if info["mutates_data"] != json!(true) {
                assert!(
                    entry.is_none(),
                    "{name}: input {i} is not mutated: {entry:?}"
                );
                continue;
            }
            let sites = entry
                .and_then(|e| e["mutated_by"].as_array())
                .unwrap_or_else(|| panic!("{name}: no why for mutated input {i}"));
            assert!(!sites.is_empty(), "{name}: input {i}");
            let any_grad = sites.iter().any(|s| s["grad_enabled"] == json!(true));
            let under_no_grad = info["mutations_under_no_grad_or_inference_mode"] == json!(true);
            assert_eq!(any_grad, !under_no_grad, "{name}: input {i}: {sites:?}");
        }
        for (k, o) in meta["output_info"]
            .as_array()
            .expect("outputs")
            .iter()
            .enumerate()
        {
            if !matches!(
                o["output_type"].as_str(),
                Some("alias_of_input" | "is_input")
            ) {
                continue;
            }
            let entry = why["outputs"]
                .as_array()
                .expect("why.outputs")
                .iter()
                .find(|e| e["output"] == json!(k))
                .unwrap_or_else(|| panic!("{name}: no why for output {k}"));
            let base = format!("input [{}] ", o["base_idx"]);
            assert!(
                entry["base"].as_str().is_some_and(|b| b.starts_with(&base)),
                "{name}: output {k}: {entry}"
            );
        }
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn explain_tells_one_story() {
    let case = graph("overlapping_slices_mutation");
    let case = case.to_str().expect("UTF-8 path");
    let out = run(&["explain", case, "a", "--overlap", "exact"]);
    assert_eq!(out.status.code(), Some(OK), "{}", text(&out.stderr));
    let story = text(&out.stdout);
    for line in [
        "input [0] a",
        "tensor float32[3, 4], stride [8, 1], storage offset 0, storage 0",
        "mutation_type MUTATED_OUT_GRAPH",
        "mutated by node add_ (grad enabled)",
        "shares its storage with input [1] b: overlapping (both touch element 2)",
        "regenerated from synthetic base 0",
    ] {
        assert!(story.contains(line), "`{line}` missing from:\n{story}");
    }
    let out = run(&[
        "explain",
        graph("mixed_outputs").to_str().expect("UTF-8 path"),
        "view",
    ]);
    let story = text(&out.stdout);
    assert!(story.contains("output_type alias_of_input"), "{story}");
    assert!(
        story.contains("is a view of input [0] x through view"),
        "{story}"
    );
    let out = run(&["explain", case, "nope"]);
    assert_eq!(out.status.code(), Some(USAGE));
    assert!(
        text(&out.stderr).contains("inputs: a, b"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_refusal_names_its_node_beside_pytorchs_error() {
    // PyTorch: RuntimeError at collect_metadata, from growing `x` with resize_.
    let case = graph("resize_grow_input_error");
    let out = run(&[
        "analyze",
        case.to_str().expect("UTF-8 path"),
        "--format",
        "json",
        "--why",
    ]);
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(
        got["why"]["refusal"],
        json!({"stage": "collect_metadata", "node": "resize_"})
    );
    // PyTorch's error object keeps exactly its own fields.
    let keys: Vec<&str> = got["error"]
        .as_object()
        .expect("error")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["stage", "type", "message"]);
    let out = run(&["analyze", case.to_str().expect("UTF-8 path")]);
    assert!(
        text(&out.stdout).contains("PyTorch refuses at collect_metadata because of node resize_"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_json_has_why_only_when_asked() {
    let case = graph("overlapping_slices_mutation");
    let case = case.to_str().expect("UTF-8 path");
    let plain: Value =
        serde_json::from_slice(&run(&["analyze", case, "--format", "json"]).stdout).expect("JSON");
    let with: Value =
        serde_json::from_slice(&run(&["analyze", case, "--format", "json", "--why"]).stdout)
            .expect("JSON");
    assert!(plain.get("why").is_none());
    assert_eq!(with["why"]["overlaps"][0]["witness"], json!(2));
    // Everything else is the same, PyTorch's fields untouched.
    let mut without = with.clone();
    without.as_object_mut().expect("object").remove("why");
    assert_eq!(without, plain);
}
