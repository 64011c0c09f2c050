//! Incrementality, tested rather than assumed: which queries re-run after an
//! edit (in the style of rust-analyzer's `incremental.rs`), and a property
//! test that incremental results always equal a fresh database's.

mod common;

use aotio::db::Database;
use aotio::gen::{edit, generate, EditKind, GenOptions};
use aotio::Session;
use expect_test::{expect, Expect};
use proptest::prelude::*;
use serde_json::Value;

fn dump(path: &str) -> Value {
    common::read_json(&common::data_path(path))
}

use common::load as graph;

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

/// The executed-query log as a snapshot: every query that ran, by name, with
/// how many times (instances of a query differ only in their arguments).
fn executed(log: &[String]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for entry in log {
        let name = entry.split('(').next().unwrap_or(entry);
        *counts.entry(name.to_owned()).or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(name, n)| format!("{name} ×{n}\n"))
        .collect()
}

/// One row of the table: an edit, and the whole list of queries that must
/// re-run for a full report afterwards (a renamed or added query changes it).
fn check(base: &Value, edit: impl Fn(&mut Value), expect: Expect) {
    let mut session = analysed(base);
    let mut new = base.clone();
    edit(&mut new);
    let log = rerun_after(&mut session, &new);
    expect.assert_eq(&executed(&log));
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
    expect![[""]].assert_eq(&executed(&log));
}

#[test]
fn editing_one_tensors_offset_reruns_its_storage_group_only() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| common::node_mut(v, "a1")["val"]["tensor"]["storage_offset"] = 2.into(),
        // The alias structure reads no metadata.
        // Nor do the autograd facts, nor the facts of an input never rewritten.
        // Storage 0's group now overlaps; storage 1's group is untouched.
        expect![[r#"
            chunk_args ×1
            graph_signatures ×1
            group_overlap ×1
            input_facts_chunk ×1
            merge_args ×1
            overlapping_inputs ×1
            storage_groups ×1
            synthetic_base_plan ×1
            synthetic_bases ×1
        "#]],
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
        // Nothing reads the geometry of an input that is neither
        // rewritten, returned, nor aliased with another input...
        // ...but the report prints every argument: its chunk is read again.
        expect![[r#"
            chunk_args ×1
            input_facts_chunk ×1
            merge_args ×1
            synthetic_bases ×1
        "#]],
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
    let aotio::ir::Value::Tensor(mut meta) = (**x.value(session.db())).clone() else {
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
        // The trace came out equal, so nothing after it re-ran.
        expect![[r#"
            block_local ×1
            operator_info ×1
        "#]],
    );
}

#[test]
fn flipping_keep_input_mutations_reruns_input_info_not_the_trace() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| v["config"]["keep_input_mutations"] = true.into(),
        expect![[r#"
            aot_guards ×1
            dedupe ×1
            export_flavours ×1
            export_metadata ×1
            fw_metadata ×1
            grad_enabled_at_entry ×1
            graph_signatures ×1
            input_alias_info ×1
            keep_input_mutations ×1
            needs_autograd ×1
            output_alias_info ×1
            synthetic_base_plan ×1
            synthetic_bases ×1
            traced_tangents ×1
        "#]],
    );
}

/// A structural edit of a generated decoder graph (one edit of `kind`):
/// what `update` says changed, and the queries that re-ran for a report.
fn check_structural(kind: EditKind, expect: Expect) {
    let opts = GenOptions {
        nodes: 300,
        seed: 4,
        dynamic_shapes: false,
    };
    let base = generate(&opts).expect("generates");
    let edited = edit(&base, kind, 2).expect("an edit applies");
    let mut session = Session::with_database(Database::with_execution_log(), base);
    session.report().expect("analyses");
    session.db().take_executed();
    let summary = session.update(&edited);
    session.report().expect("analyses");
    let what = edited
        .description
        .split(" | edit: ")
        .nth(1)
        .unwrap_or_default();
    let log = session.db().take_executed();
    expect.assert_eq(&format!("{what}\n{summary:?}\n{}", executed(&log)));
    let fresh = Session::from_graph(edited).report().expect("analyses");
    assert_eq!(
        serde_json::to_value(session.report().expect("analyses")).expect("json"),
        serde_json::to_value(&fresh).expect("json")
    );
}

#[test]
fn inserting_a_node_changes_only_it_and_its_user() {
    // Every later tensor and storage is renumbered; matched nodes keep their numbers.
    check_structural(
        EditKind::AddNode,
        expect![[r#"
            add-node: mul_5 = add_3 * 0.125
            UpdateSummary { nodes_added: 1, nodes_removed: 0, structures_changed: 2, values_changed: 0, fields_changed: [] }
            alias_trace ×1
            alias_trace_in_mode ×1
            block_local ×2
            block_members ×6
            custom_ops_upstream ×1
            dedupe ×1
            export_graph ×1
            export_metadata ×1
            final_autograd_state ×1
            fw_metadata ×1
            graph_signatures ×1
            input_alias_info ×1
            input_args ×1
            input_facts_chunk ×2
            input_sources ×1
            names_and_links ×1
            needs_autograd ×1
            node_blocks ×1
            node_links ×1
            node_names ×1
            output_alias_info ×1
            output_names ×1
            placeholder_positions ×1
            traced_tangents ×1
            value_facts ×1
        "#]],
    );
}

#[test]
fn removing_a_node_changes_only_its_users() {
    check_structural(
        EditKind::RemoveNode,
        expect![[r#"
            remove-node: mul_4 removed, its users read bmm_8
            UpdateSummary { nodes_added: 0, nodes_removed: 1, structures_changed: 1, values_changed: 0, fields_changed: [] }
            alias_trace ×1
            alias_trace_in_mode ×1
            block_local ×1
            block_members ×6
            custom_ops_upstream ×1
            dedupe ×1
            export_graph ×1
            export_metadata ×1
            final_autograd_state ×1
            fw_metadata ×1
            graph_signatures ×1
            input_alias_info ×1
            input_args ×1
            input_facts_chunk ×2
            input_sources ×1
            names_and_links ×1
            needs_autograd ×1
            node_blocks ×1
            node_links ×1
            node_names ×1
            output_alias_info ×1
            output_names ×1
            placeholder_positions ×1
            traced_tangents ×1
            value_facts ×1
        "#]],
    );
}

#[test]
fn renumbered_names_change_the_renamed_nodes_and_their_users() {
    // Matched by content, not by name: no renamed node counts as removed and added.
    check_structural(
        EditKind::AddNodeRenumbered,
        expect![[r#"
            add-node-renumbered: mul_5 = add * 0.5 (named before renumbering), 5 nodes renamed
            UpdateSummary { nodes_added: 2, nodes_removed: 1, structures_changed: 9, values_changed: 1, fields_changed: [] }
            alias_trace ×1
            alias_trace_in_mode ×1
            block_local ×3
            block_members ×6
            custom_ops_upstream ×1
            dedupe ×1
            export_graph ×1
            export_metadata ×1
            final_autograd_state ×1
            fw_metadata ×1
            graph_signatures ×1
            input_alias_info ×1
            input_args ×1
            input_facts_chunk ×2
            input_sources ×1
            names_and_links ×1
            needs_autograd ×1
            node_blocks ×1
            node_links ×1
            node_names ×1
            output_alias_info ×1
            output_names ×1
            placeholder_positions ×1
            traced_tangents ×1
            value_facts ×1
        "#]],
    );
}

#[test]
fn editing_an_intermediate_value_reruns_only_its_projections() {
    let base = dump("incremental/two_storages.json");
    check(
        &base,
        |v| common::node_mut(v, "relu")["val"]["tensor"]["requires_grad"] = false.into(),
        expect![[""]],
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
        let mut current = common::read_json(path);
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
