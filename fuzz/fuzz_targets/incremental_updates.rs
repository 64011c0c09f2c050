//! A random sequence of edits applied to one session gives, after every
//! step, the results a fresh database computes for the same dump.
#![no_main]

use aotio::Session;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SEEDS: &[&str] = &[
    aotio::EXAMPLE_DUMP,
    include_str!("../../tests/data/incremental/two_storages.json"),
    include_str!("../../tests/data/conformance/graphs/overlapping_slices_mutation.json"),
    include_str!("../../tests/data/conformance/graphs/dup_args_interleaved.json"),
    include_str!("../../tests/data/conformance/graphs/view_copy_grad_into_input_kim.json"),
];

fn outcome(session: &Session) -> String {
    match session.report() {
        Ok(r) => serde_json::to_string(&r).unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, edits)) = data.split_first() else { return };
    let Ok(mut dump) = serde_json::from_str::<Value>(SEEDS[usize::from(seed) % SEEDS.len()]) else {
        return;
    };
    let Ok(graph) = aotio::ir::load_json(&dump) else { return };
    let mut session = Session::from_graph(graph);
    let _ = outcome(&session);
    for edit in edits.chunks(3) {
        let &[kind, which, amount] = edit else { break };
        let nodes = dump["nodes"].as_array().map_or(0, Vec::len);
        if nodes == 0 {
            break;
        }
        let node = &mut dump["nodes"][usize::from(which) % nodes];
        match kind % 5 {
            0 => {
                if let Some(t) = node["val"].get_mut("tensor") {
                    t["storage_offset"] = i64::from(amount % 8).into();
                }
            }
            1 => {
                if let Some(t) = node["val"].get_mut("tensor") {
                    t["requires_grad"] = (amount % 2 == 0).into();
                }
            }
            2 => {
                if let Some(t) = node["val"].get_mut("tensor") {
                    t["storage"] = i64::from(amount % 4).into();
                }
            }
            3 => {
                let k = dump["config"]["keep_input_mutations"].as_bool().unwrap_or(false);
                dump["config"]["keep_input_mutations"] = (!k).into();
            }
            _ => {
                if let Some(t) = node["val"].get_mut("tensor") {
                    if t["shape"].get(0).is_some() {
                        t["shape"][0] = i64::from(amount % 6).into();
                    }
                }
            }
        }
        let Ok(graph) = aotio::ir::load_json(&dump) else { continue };
        session.update(&graph);
        let fresh = Session::from_graph(graph);
        assert_eq!(outcome(&session), outcome(&fresh));
    }
});
