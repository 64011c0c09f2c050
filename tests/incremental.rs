//! Incrementality, tested rather than assumed: which queries re-run after an
//! edit (in the style of rust-analyzer's `incremental.rs`), and a property
//! test that incremental results always equal a fresh database's.

mod common;

use std::path::Path;

use aotio::db::Database;
use aotio::Session;
use proptest::prelude::*;
use serde_json::Value;

fn dump(path: &str) -> Value {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(full).expect("test data readable")).expect("JSON")
}

fn graph(v: &Value) -> aotio::ir::Graph {
    aotio::ir::load_json(v).expect("a valid dump")
}

/// A session that logs executed queries, with a first full analysis done.
fn analysed(v: &Value) -> Session {
    let session = Session::with_database(Database::with_execution_log(), graph(v));
    session.report().expect("analyses");
    session.db().take_executed();
    session
}

/// Applies `new` as an update and returns the queries that re-ran for a full report.
fn rerun_after(session: &mut Session, new: &Value) -> Vec<String> {
    session.update(&graph(new));
    session.report().expect("analyses");
    session.db().take_executed()
}

fn ran(log: &[String], query: &str) -> usize {
    log.iter()
        .filter(|k| k.starts_with(&format!("{query}(")))
        .count()
}

/// One row of the table: an edit, and how often each named query must re-run.
fn check(base: &Value, edit: impl Fn(&mut Value), expect: &[(&str, usize)]) {
    let mut session = analysed(base);
    let mut new = base.clone();
    edit(&mut new);
    let log = rerun_after(&mut session, &new);
    for (query, times) in expect {
        assert_eq!(
            ran(&log, query),
            *times,
            "`{query}` re-ran {} times; log: {log:#?}",
            ran(&log, query)
        );
    }
    // Whatever re-ran, the result must be the one a fresh database computes.
    let fresh = Session::from_graph(graph(&new)).report().expect("analyses");
    let incremental = session.report().expect("analyses");
    assert_eq!(
        serde_json::to_value(&incremental).expect("json"),
        serde_json::to_value(&fresh).expect("json")
    );
}

#[test]
fn resubmitting_the_same_dump_reruns_nothing() {
    let base = dump("incremental/two_storages.json");
    let mut session = analysed(&base);
    let log = rerun_after(&mut session, &base);
    assert!(log.is_empty(), "re-ran: {log:#?}");
}

#[test]
fn editing_one_tensors_offset_reruns_its_storage_group_only() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| common::node_mut(v, "a1")["val"]["tensor"]["storage_offset"] = 2.into(),
        &[
            // The alias structure reads no metadata.
            ("alias_trace", 0),
            ("operator_table", 0),
            // Nor do the autograd facts, nor the facts of an input never rewritten.
            ("final_autograd_state", 0),
            ("input_alias_info", 0),
            // Storage 0's group now overlaps; storage 1's group is untouched.
            ("group_overlap", 1),
        ],
    );
}

#[test]
fn editing_an_input_that_shares_no_storage_rereads_only_its_merge_arguments() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| {
            let t = &mut common::node_mut(v, "x")["val"]["tensor"];
            t["stride"] = serde_json::json!([2]);
            t["storage_nbytes"] = 24.into();
        },
        &[
            // Nothing reads the geometry of an input that is neither
            // rewritten, returned, nor aliased with another input...
            ("alias_trace", 0),
            ("final_autograd_state", 0),
            ("input_alias_info", 0),
            ("output_alias_info", 0),
            ("fw_metadata", 0),
            ("storage_groups", 0),
            ("group_overlap", 0),
            ("synthetic_base_plan", 0),
            // ...but the report prints every argument: its chunk is read again.
            ("chunk_args", 1),
            ("merge_args", 1),
        ],
    );
}

#[test]
fn renaming_a_node_reuses_the_removed_nodes_input() {
    let base = dump("incremental/two_storages.json");
    let mut session = analysed(&base);
    let inputs = |s: &Session| -> std::collections::HashSet<_> {
        s.graph().nodes(s.db()).iter().copied().collect()
    };
    let before = inputs(&session);
    let mut current = base.clone();
    let mut name = "relu".to_owned();
    for round in 0..3 {
        let renamed = format!("relu_{round}");
        common::node_mut(&mut current, &name)["name"] = renamed.clone().into();
        common::node_mut(&mut current, "output")["args"][0][0]["node"] = renamed.clone().into();
        name = renamed;
        let summary = session.update(&graph(&current));
        assert_eq!((summary.nodes_added, summary.nodes_removed), (1, 1));
        assert_eq!(inputs(&session), before, "round {round}: the database grew");
        let fresh = Session::from_graph(graph(&current))
            .report()
            .expect("analyses");
        assert_eq!(
            serde_json::to_value(session.report().expect("analyses")).expect("json"),
            serde_json::to_value(fresh).expect("json")
        );
    }
}

#[test]
fn update_after_a_direct_edit_restores_the_dump() {
    let base = dump("incremental/two_storages.json");
    let mut session = analysed(&base);
    let fresh = serde_json::to_value(session.report().expect("analyses")).expect("json");
    let x = session.node("x").expect("the dump has x");
    let aotio::ir::Value::Tensor(mut meta) = x.value(session.db()).clone() else {
        panic!("x is a tensor");
    };
    meta.autograd.requires_grad = true;
    session
        .db_mut()
        .set_node_value(x, aotio::ir::Value::Tensor(meta));
    let edited = serde_json::to_value(session.report().expect("analyses")).expect("json");
    assert_ne!(edited, fresh, "the direct edit changes the analysis");
    session.update(&graph(&base));
    let restored = serde_json::to_value(session.report().expect("analyses")).expect("json");
    assert_eq!(restored, fresh);
}

#[test]
fn editing_an_unrelated_op_leaves_overlap_alone() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| common::node_mut(v, "relu")["target"] = "aten.gelu.default".into(),
        &[
            ("alias_trace", 1),
            // The trace came out equal, so nothing after it re-ran.
            ("input_alias_info", 0),
            ("fw_metadata", 0),
            ("group_overlap", 0),
            ("synthetic_bases", 0),
        ],
    );
}

#[test]
fn flipping_keep_input_mutations_reruns_input_info_not_the_trace() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| v["config"]["keep_input_mutations"] = true.into(),
        &[
            ("alias_trace", 0),
            ("input_alias_info", 1),
            ("group_overlap", 0),
        ],
    );
}

#[test]
fn editing_an_intermediate_value_reruns_only_its_projections() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| common::node_mut(v, "relu")["val"]["tensor"]["requires_grad"] = false.into(),
        &[
            ("alias_trace", 0),
            ("group_overlap", 0),
            ("synthetic_bases", 0),
        ],
    );
}

/// Random edits that keep a dump loadable.
#[derive(Clone, Debug)]
enum Edit {
    FlipRequiresGrad(usize),
    ShiftOffset(usize),
    ShareStorage(usize, usize),
    ToggleKeepInputMutations,
    ResizeFirstDim(usize),
}

fn apply(v: &mut Value, edit: &Edit) {
    let tensors = common::tensor_nodes(v, false);
    if tensors.is_empty() {
        return;
    }
    let pick = |k: usize| tensors[k % tensors.len()];
    match *edit {
        Edit::FlipRequiresGrad(k) => {
            let t = &mut v["nodes"][pick(k)]["val"]["tensor"];
            let rg = t["requires_grad"].as_bool().unwrap_or(false);
            t["requires_grad"] = (!rg).into();
        }
        Edit::ShiftOffset(k) => {
            let t = &mut v["nodes"][pick(k)]["val"]["tensor"];
            if let Some(o) = t["storage_offset"].as_i64() {
                t["storage_offset"] = (o + 1).into();
            }
        }
        Edit::ShareStorage(a, b) => {
            let s = v["nodes"][pick(b)]["val"]["tensor"]["storage"].clone();
            v["nodes"][pick(a)]["val"]["tensor"]["storage"] = s;
        }
        Edit::ToggleKeepInputMutations => {
            let k = v["config"]["keep_input_mutations"]
                .as_bool()
                .unwrap_or(false);
            v["config"]["keep_input_mutations"] = (!k).into();
        }
        Edit::ResizeFirstDim(k) => {
            let t = &mut v["nodes"][pick(k)]["val"]["tensor"];
            if let Some(d) = t["shape"].get(0).and_then(Value::as_i64) {
                t["shape"][0] = (d % 5 + 1).into();
            }
        }
    }
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::FlipRequiresGrad),
        any::<usize>().prop_map(Edit::ShiftOffset),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::ShareStorage(a, b)),
        Just(Edit::ToggleKeepInputMutations),
        any::<usize>().prop_map(Edit::ResizeFirstDim),
    ]
}

/// A report, or the error, as comparable JSON.
fn outcome(session: &Session) -> Value {
    match session.report() {
        Ok(r) => serde_json::to_value(r).expect("json"),
        Err(e) => Value::String(e.to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_results_equal_fresh_results(
        case in 0usize..1000,
        edits in proptest::collection::vec(edit_strategy(), 1..6),
    ) {
        let files = common::case_files();
        let path = &files[case % files.len()];
        let mut current: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut session = Session::from_graph(graph(&current));
        let _ = outcome(&session);
        for edit in &edits {
            apply(&mut current, edit);
            let Ok(g) = aotio::ir::load_json(&current) else { continue };
            session.update(&g);
            let fresh = Session::from_graph(g);
            prop_assert_eq!(outcome(&session), outcome(&fresh), "after {:?} on {}", edit, path.display());
        }
    }
}
