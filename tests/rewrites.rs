//! Invariants of the calling-convention rewrites (dedupe, synthetic bases)
//! on conformance cases perturbed at random: duplicated arguments, inputs
//! moved onto a shared storage, both overlap modes.

mod common;
#[path = "../src/reach.rs"]
mod reach;

use aotio::analysis::dedupe::Strategy as DedupeStrategy;
use aotio::analysis::synthetic_base::SyntheticBaseEntry;
use aotio::db::OverlapMode;
use aotio::session::Stage;
use aotio::Session;
use proptest::prelude::*;
use reach::Reach;
use serde_json::Value;

#[derive(Clone, Debug)]
enum Perturbation {
    /// Placeholder `b` becomes the same object as placeholder `a`.
    Duplicate(usize, usize),
    /// Placeholder `b` moves onto placeholder `a`'s storage.
    ShareStorage(usize, usize),
    /// A placeholder's offset moves, so overlaps come and go.
    Shift(usize, i64),
}

fn apply(v: &mut Value, p: &Perturbation) {
    let ph = common::tensor_nodes(v, true);
    if ph.is_empty() {
        return;
    }
    let at = |k: usize| ph[k % ph.len()];
    match *p {
        Perturbation::Duplicate(a, b) => {
            let (a, b) = (at(a), at(b));
            let source = v["nodes"][a].clone();
            v["nodes"][b]["val"] = source["val"].clone();
            v["nodes"][b]["tensor_id"] = source["tensor_id"].clone();
            v["nodes"][b]["base_tensor_id"] = source["base_tensor_id"].clone();
        }
        Perturbation::ShareStorage(a, b) => {
            let (a, b) = (at(a), at(b));
            let storage = v["nodes"][a]["val"]["tensor"]["storage"].clone();
            let nbytes = v["nodes"][a]["val"]["tensor"]["storage_nbytes"].clone();
            v["nodes"][b]["val"]["tensor"]["storage"] = storage;
            v["nodes"][b]["val"]["tensor"]["storage_nbytes"] = nbytes;
        }
        Perturbation::Shift(a, by) => {
            let t = &mut v["nodes"][at(a)]["val"]["tensor"];
            if let Some(o) = t["storage_offset"].as_i64() {
                t["storage_offset"] = (o + by).max(0).into();
            }
        }
    }
}

fn perturbation() -> impl Strategy<Value = Perturbation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Perturbation::Duplicate(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Perturbation::ShareStorage(a, b)),
        (any::<usize>(), -3i64..4).prop_map(|(a, by)| Perturbation::Shift(a, by)),
    ]
}

static REWRITES_REACH: Reach = Reach::new();

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rewrites_keep_their_invariants(
        case in 0usize..1000,
        perturbations in proptest::collection::vec(perturbation(), 1..4),
        exact in any::<bool>(),
    ) {
        let reach = REWRITES_REACH.case(256, 120);
        let files = common::case_files();
        let path = &files[case % files.len()];
        let mut dump = common::read_json(path);
        for p in &perturbations {
            apply(&mut dump, p);
        }
        let Ok(graph) = aotio::ir::load_json(&dump) else { return Ok(()) };
        let num_inputs = graph
            .nodes
            .iter()
            .filter(|n| matches!(n.structure().op, aotio::ir::NodeOp::Placeholder { .. }))
            .count();
        let mut session = Session::from_graph(graph);
        let g = session.graph();
        if exact {
            session.db_mut().set_overlap_mode(g, OverlapMode::Exact);
        }
        let Ok(report) = session.report() else { return Ok(()) };
        let Some(meta) = &report.fw_metadata else { return Ok(()) };
        reach.reached();
        let num_user_outputs = meta.output_info.len();

        // Dedupe: every outer index maps to a kept one; the kept inputs are what follows.
        let mut post_dedupe = num_inputs;
        if let Some(Stage::Done(d)) = &report.dedupe {
            if d.strategy == DedupeStrategy::RemoveDuplicates {
                let mask = d.keep_arg_mask.as_ref().expect("mask");
                let map = d.add_dupe_map.as_ref().expect("map");
                prop_assert_eq!(mask.len(), num_inputs);
                prop_assert_eq!(map.len(), num_inputs);
                post_dedupe = mask.iter().filter(|k| **k).count();
                for (p, &to) in map.iter().enumerate() {
                    prop_assert!(to < post_dedupe, "add_dupe_map[{}] = {} out of {}", p, to, post_dedupe);
                    if mask[p] {
                        prop_assert_eq!(mask.iter().take(p).filter(|k| **k).count(), to);
                    }
                }
                let deduped = d.fw_metadata.as_ref().expect("deduped meta");
                prop_assert_eq!(deduped.input_info.len(), post_dedupe);
                prop_assert_eq!(deduped.output_info.len(), num_user_outputs);
            }
        }

        // Synthetic bases: every outer input reachable, every index in range.
        if let Some(Ok(Some(c))) = report.synthetic_base.as_ref().map(|s| &s.plan.outcome) {
            let info = &c.merge.synthetic_base_info;
            prop_assert_eq!(info.len(), post_dedupe);
            let inner = c.merge.inner_args.len();
            let bases = c.merge.base_groups.len();
            let mut reached = vec![0usize; inner];
            for e in info {
                match *e {
                    SyntheticBaseEntry::Inner(j) => {
                        prop_assert!(j >= bases && j < inner);
                        reached[j] += 1;
                    }
                    SyntheticBaseEntry::ViewOf(b) => {
                        prop_assert!(b < bases);
                        reached[b] += 1;
                    }
                }
            }
            // Each passed-through argument is used once; each base by its group.
            prop_assert!(reached.iter().all(|&r| r >= 1));
            prop_assert_eq!(c.fw_metadata.input_info.len(), inner);
            // User outputs survive; metadata-mutated merged inputs come after them.
            prop_assert_eq!(
                c.fw_metadata.output_info.len(),
                num_user_outputs + c.outer_aliased_arg_idx_with_metadata_mutations.len()
            );
            for o in &c.fw_metadata.output_info {
                if o.output_type.aliases_input() {
                    prop_assert!(o.base_idx.is_some_and(|b| b < inner));
                }
            }
        }
    }
}
