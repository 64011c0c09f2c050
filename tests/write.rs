//! The writer is the loader's inverse: every dump the tests hold, written
//! and loaded again, is the same graph, and writing it again gives the
//! same text.

mod common;

use aotio::gen::{edit, generate, EditKind, GenOptions};
use aotio::ir::{self, write, Graph};
use common::*;

/// Writes `graph`, loads the text back and compares, field by field.
fn check(what: &str, graph: &Graph) {
    let text = write::to_json(graph).to_string();
    let again =
        ir::load_str(&text).unwrap_or_else(|e| panic!("{what}: written dump fails to load: {e}"));
    if &again != graph {
        panic!(
            "{what}: the written dump loads as another graph: {}",
            first_difference(graph, &again)
        );
    }
    assert_eq!(
        write::to_json(&again).to_string(),
        text,
        "{what}: writing is not stable"
    );
}

#[test]
fn traced_dumps_round_trip() {
    let files = case_files()
        .into_iter()
        .chain(case_files_in(&pytorch_cases_dir()));
    let mut n = 0;
    for path in files {
        let mut dump = read_json(&path);
        // The conformance files carry PyTorch's results beside the dump.
        if let Some(obj) = dump.as_object_mut() {
            obj.remove("expect");
        }
        check(&path.display().to_string(), &load(&dump));
        n += 1;
    }
    assert!(n > 80, "only {n} cases found");
    let example = ir::load_str(aotio::EXAMPLE_DUMP).expect("the example loads");
    check("the embedded example", &example);
}

#[test]
fn generated_dumps_and_their_edits_round_trip() {
    for dynamic_shapes in [false, true] {
        let opts = GenOptions {
            nodes: 200,
            seed: 4,
            dynamic_shapes,
        };
        let graph = generate(&opts).expect("generates");
        check("generated", &graph);
        for kind in EditKind::ALL {
            let edited = edit(&graph, kind, 1).expect("an edit applies");
            check(kind.as_str(), &edited);
        }
    }
}

/// The first part of `b` that differs from `a`, readably.
fn first_difference(a: &Graph, b: &Graph) -> String {
    let nodes = a.nodes.iter().zip(&b.nodes).enumerate();
    if let Some((i, (x, y))) = nodes
        .clone()
        .find(|(_, (x, y))| x.structure() != y.structure())
    {
        return format!(
            "node {i} structure:\n{:#?}\nvs\n{:#?}",
            x.structure(),
            y.structure()
        );
    }
    if let Some((i, (x, y))) = nodes.clone().find(|(_, (x, y))| x.val() != y.val()) {
        return format!(
            "node {i} ({}) value:\n{:#?}\nvs\n{:#?}",
            x.structure().name,
            x.val(),
            y.val()
        );
    }
    let parts = [
        ("name", a.name == b.name),
        ("description", a.description == b.description),
        ("config", a.config == b.config),
        ("symbols", a.symbols == b.symbols),
        ("operators", a.operators == b.operators),
        ("node count", a.nodes.len() == b.nodes.len()),
        ("input_bases", a.input_bases == b.input_bases),
        ("in_spec", a.in_spec == b.in_spec),
        ("out_spec", a.out_spec == b.out_spec),
    ];
    let differ: Vec<&str> = parts
        .iter()
        .filter(|(_, same)| !same)
        .map(|(k, _)| *k)
        .collect();
    format!("{differ:?}")
}
