//! `--overlap exact` changes what a compiler does exactly where PyTorch's
//! verdict is wrong: a base PyTorch skips, and a base it builds needlessly.

mod common;

use aotio::db::OverlapMode;
use aotio::Session;
use serde_json::{json, Value};

fn report(file: &str, mode: OverlapMode) -> Value {
    let path = common::data_path(&format!("incremental/{file}"));
    let mut session = Session::from_json_str(&common::read_text(&path)).expect("loads");
    let g = session.graph();
    session.db_mut().set_overlap_mode(g, mode);
    serde_json::to_value(session.report().expect("analyses")).expect("json")
}

/// One row: a case, and per mode whether storage 1's group ([2, 3]) gets a base.
fn check(file: &str, torch_merges: bool, exact_merges: bool) {
    for (mode, merges) in [
        (OverlapMode::Torch, torch_merges),
        (OverlapMode::Exact, exact_merges),
    ] {
        let r = report(file, mode);
        let sb = &r["synthetic_base"];
        assert_eq!(sb["needed"], json!(merges), "{file} in {mode:?}: {sb}");
        if merges {
            assert_eq!(
                sb["wrapper"]["base_groups"]["0"],
                json!([2, 3]),
                "{file} in {mode:?}"
            );
        }
        let changed = sb.get("changed_by_exact_mode");
        if mode == OverlapMode::Exact && torch_merges != exact_merges {
            assert_eq!(
                changed,
                Some(&json!([{"members": [2, 3], "merged_by_torch": torch_merges}]))
            );
        } else {
            assert_eq!(changed, None, "{file} in {mode:?}");
        }
    }
}

#[test]
fn pytorch_misses_a_real_overlap() {
    check("row_rule_miss.json", false, true);
    let r = report("row_rule_miss.json", OverlapMode::Exact);
    assert_eq!(r["overlapping_inputs"][1]["missed_by_torch"], json!([2, 3]));
}

#[test]
fn pytorch_merges_views_that_share_nothing() {
    check("interleaved_false_positive.json", true, false);
}

#[test]
fn both_agree_on_a_real_overlap() {
    check("two_storages.json", true, true);
}
