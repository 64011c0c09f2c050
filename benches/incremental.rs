//! The recompilation loop, measured (issue 6): generated decoder graphs of
//! 1,000, 10,000 and 100,000 nodes (`aotio gen --nodes N --seed 1` writes
//! the same dumps), one group per size, each case beside its cold baseline:
//!
//! * `load`: parsing and checking the dump's JSON text (not part of the rest);
//! * `cold`: a new session over an already loaded graph, and its report;
//! * `warm_no_change`: the report again, nothing changed;
//! * `tensor_metadata`: `Session::update` with a version in which one weight
//!   is stored transposed (the weight and its `t` view change), and the report;
//! * `tensor_metadata_set`: the same edit set directly on the two node
//!   inputs, without diffing a whole graph: the query engine's share;
//! * `op`: `update` with one residual `add` turned into `sub`, and the report;
//! * `input_aliasing`: `update` with a view input moved from overlapping its
//!   sibling to lying after it (no synthetic base needed any more), and the report;
//! * `add_node`, `remove_node`, `add_node_renumbered`: `update` with a `mul`
//!   inserted, one removed, and one inserted with every later call renamed as
//!   FX renames them, and the report.
//!
//! Edits alternate between the two versions, so every iteration is a change.

use std::hint::black_box;
use std::time::Duration;

use aotio::db::NodeInput;
use aotio::gen::{edit, generate, EditKind, GenOptions};
use aotio::ir::{self, Graph, Node, Value};
use aotio::Session;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, SamplingMode,
};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const SEED: u64 = 1;
/// Picks which node each edit touches; fixed so that runs compare.
const EDIT_SEED: u64 = 1;

struct Fixture {
    text: String,
    base: Graph,
    metadata: Graph,
    op: Graph,
    aliasing: Graph,
    inserted: Graph,
    removed: Graph,
    renumbered: Graph,
}

impl Fixture {
    fn new(nodes: usize) -> Fixture {
        let opts = GenOptions {
            nodes,
            seed: SEED,
            dynamic_shapes: false,
        };
        let dump = generate(&opts).expect("generates");
        // Each version as loading its dump makes it (strings interned, each
        // distinct size expression shared), as a recompilation loop gets it.
        let loaded = |graph: &Graph| ir::load_str(&ir::write::to_json(graph).to_string());
        let edited = |kind| {
            let next = edit(&dump, kind, EDIT_SEED).expect("an edit applies");
            eprintln!("{nodes} nodes, {}", edit_of(&next));
            loaded(&next).expect("an edited dump loads")
        };
        Fixture {
            metadata: edited(EditKind::TensorMetadata),
            op: edited(EditKind::Op),
            aliasing: edited(EditKind::InputAliasing),
            inserted: edited(EditKind::AddNode),
            removed: edited(EditKind::RemoveNode),
            renumbered: edited(EditKind::AddNodeRenumbered),
            base: loaded(&dump).expect("the dump loads"),
            text: ir::write::to_json(&dump).to_string(),
        }
    }
}

fn edit_of(graph: &Graph) -> &str {
    let description = &graph.description;
    description.split(" | edit: ").nth(1).unwrap_or(description)
}

fn analysed(graph: &Graph) -> Session {
    let session = Session::from_graph(graph.clone());
    session.report().expect("analyses");
    session
}

/// Edits `session` towards the edited version and back, alternately, and
/// reports after each: `prepare(towards_edited)` builds the edit outside the
/// timing, `apply` makes it; whatever `prepare` built is freed outside too.
fn alternate<I>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    batch: BatchSize,
    session: &mut Session,
    mut prepare: impl FnMut(bool) -> I,
    mut apply: impl FnMut(&mut Session, &mut I),
) {
    let mut towards_edited = false;
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || {
                towards_edited = !towards_edited;
                prepare(towards_edited)
            },
            |edit| {
                apply(session, edit);
                session.report().expect("analyses")
            },
            batch,
        )
    });
}

/// A copy of `graph` in new memory, as loading a dump hands it over (a
/// clone would share the nodes, which the fixture keeps warm in the cache).
fn fresh_copy(graph: &Graph) -> Graph {
    Graph {
        nodes: graph
            .nodes
            .iter()
            .map(|n| Node::new(n.structure().clone(), n.val().clone()))
            .collect(),
        ..graph.clone()
    }
}

/// `Session::update` with the whole edited graph, then the base again.
fn by_update(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    f: &Fixture,
    edited: &Graph,
    batch: BatchSize,
) {
    let mut session = analysed(&f.base);
    let version = |towards_edited| fresh_copy(if towards_edited { edited } else { &f.base });
    alternate(group, name, batch, &mut session, version, |s, graph| {
        s.update(graph);
    });
}

/// The edit's changed node values, set on the inputs directly.
fn by_direct_edit(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    f: &Fixture,
    edited: &Graph,
    batch: BatchSize,
) {
    let mut session = analysed(&f.base);
    let inputs: Vec<NodeInput> = session.graph().nodes(session.db()).clone();
    let changes: Vec<(NodeInput, Value, Value)> = f
        .base
        .nodes
        .iter()
        .zip(&edited.nodes)
        .zip(inputs)
        .filter(|((a, b), _)| a.val() != b.val())
        .map(|((a, b), input)| (input, a.val().clone(), b.val().clone()))
        .collect();
    let values = |towards_edited| -> Vec<(NodeInput, Value)> {
        changes
            .iter()
            .map(|(input, before, after)| {
                (*input, if towards_edited { after } else { before }.clone())
            })
            .collect()
    };
    alternate(group, name, batch, &mut session, values, |s, values| {
        for (input, value) in std::mem::take(values) {
            s.db_mut().set_node_value(input, value);
        }
    });
}

fn incremental(c: &mut Criterion) {
    for nodes in SIZES {
        let f = Fixture::new(nodes);
        let mut group = c.benchmark_group(format!("incremental/{nodes}"));
        // Large graphs: few, flat samples, so that the whole run takes minutes.
        let batch = if nodes >= 10_000 {
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(if nodes >= 100_000 { 10 } else { 20 });
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(if nodes >= 100_000 { 10 } else { 5 }));
            BatchSize::PerIteration
        } else {
            group.sample_size(50);
            group.measurement_time(Duration::from_secs(3));
            BatchSize::SmallInput
        };

        group.bench_function("load", |b| {
            b.iter_with_large_drop(|| ir::load_str(black_box(&f.text)).expect("loads"))
        });
        group.bench_function("cold", |b| {
            b.iter_batched(
                || fresh_copy(&f.base),
                |graph| {
                    let session = Session::from_graph(graph);
                    session.report().expect("analyses");
                    session
                },
                batch,
            )
        });
        let session = analysed(&f.base);
        group.bench_function("warm_no_change", |b| {
            b.iter_with_large_drop(|| session.report().expect("analyses"))
        });
        drop(session);
        by_update(&mut group, "tensor_metadata", &f, &f.metadata, batch);
        by_direct_edit(&mut group, "tensor_metadata_set", &f, &f.metadata, batch);
        by_update(&mut group, "op", &f, &f.op, batch);
        by_update(&mut group, "input_aliasing", &f, &f.aliasing, batch);
        by_update(&mut group, "add_node", &f, &f.inserted, batch);
        by_update(&mut group, "remove_node", &f, &f.removed, batch);
        by_update(&mut group, "add_node_renumbered", &f, &f.renumbered, batch);
        group.finish();
    }
}

criterion_group!(benches, incremental);
criterion_main!(benches);
