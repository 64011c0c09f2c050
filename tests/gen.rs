//! The synthetic graph generator: every dump and every edit loads, analyses
//! without a PyTorch refusal, keeps the format's invariants, and changes only
//! what it says; the same seed gives the same dump.

use std::collections::{HashMap, HashSet};

use aotio::gen::{edit, generate, EditKind, EditSequence, GenOptions};
use aotio::ir::{self, write, Graph, InputKind, NodeOp, Value as IrValue};
use aotio::session::Stage;
use aotio::Session;

fn opts(nodes: usize, seed: u64, dynamic_shapes: bool) -> GenOptions {
    GenOptions {
        nodes,
        seed,
        dynamic_shapes,
    }
}

/// The generated graph as its dump loads: the loader checks what the
/// generator made.
fn load(graph: &Graph) -> Graph {
    match ir::load_str(&write::to_json(graph).to_string()) {
        Ok(g) => g,
        Err(e) => panic!(
            "{}: does not load:\n{}",
            graph.description,
            e.diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Loads, checks the invariants, analyses: PyTorch must accept the case.
fn check(dump: &Graph) -> Graph {
    let graph = load(dump);
    invariants(&graph);
    let report = Session::from_graph(graph.clone())
        .report()
        .unwrap_or_else(|e| panic!("{}: does not analyse: {e}", dump.description));
    assert!(
        report.error.is_none(),
        "{}: refused: {:?}",
        dump.description,
        report.error
    );
    assert!(matches!(report.dedupe, Some(Stage::Done(_))));
    let merge = report.synthetic_base.as_ref().map(|s| &s.plan.outcome);
    assert!(
        matches!(merge, Some(Ok(_))),
        "{}: merging view inputs refused: {merge:?}",
        dump.description
    );
    graph
}

/// The format's rules a producer must keep (format §5, §7, §8).
fn invariants(g: &Graph) {
    let hint = |e: &ir::expr::SizeExpr| {
        e.eval(&|s: &str| g.symbols.get(s).map(|sym| sym.hint))
            .expect("every symbol has a hint")
    };
    let tensors = |v: &IrValue| -> Vec<ir::TensorMeta> {
        match v {
            IrValue::Tensor(t) => vec![t.clone()],
            IrValue::List(items) => items
                .iter()
                .filter_map(|i| i.as_tensor().cloned())
                .collect(),
            _ => Vec::new(),
        }
    };

    // Names unique; placeholders first, as parameters, buffers, user inputs.
    let mut names = HashSet::new();
    let mut kinds = Vec::new();
    for n in &g.nodes {
        assert!(names.insert(n.structure().name.clone()), "duplicate name");
        if let NodeOp::Placeholder { kind, .. } = &n.structure().op {
            kinds.push(*kind);
        }
    }
    let rank = |k: &InputKind| match k {
        InputKind::Parameter => 0,
        InputKind::Buffer => 1,
        _ => 2,
    };
    assert!(kinds.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])));
    let params_buffers = kinds.iter().filter(|k| rank(k) < 2).count();
    assert_eq!(g.config.num_params_buffers, params_buffers);
    let any_input_requires_grad = g.nodes.iter().any(|n| {
        matches!(n.structure().op, NodeOp::Placeholder { .. })
            && n.val()
                .as_tensor()
                .is_some_and(|t| t.autograd.requires_grad)
    });
    assert_eq!(g.config.is_train, any_input_requires_grad);

    // Storage ids in order of first appearance.
    let mut next_storage = 0;
    let all_values = g
        .nodes
        .iter()
        .flat_map(|n| tensors(n.val()))
        .chain(g.input_bases.iter().map(|b| b.val.clone()));
    for t in all_values {
        assert!(
            t.geometry.storage <= next_storage,
            "storage ids out of order"
        );
        if t.geometry.storage == next_storage {
            next_storage += 1;
        }
    }

    // Tensor ids: the caller's tensors, then input bases, then new objects.
    let is_placeholder = |n: &&ir::Node| matches!(n.structure().op, NodeOp::Placeholder { .. });
    let order: Vec<u64> = g
        .nodes
        .iter()
        .filter(is_placeholder)
        .filter_map(|n| n.structure().tensor_id)
        .chain(g.input_bases.iter().map(|b| b.tensor_id))
        .chain(
            g.nodes
                .iter()
                .filter(|n| !is_placeholder(n))
                .filter_map(|n| n.structure().tensor_id),
        )
        .collect();
    let mut next_id = 0;
    for id in order {
        assert!(id <= next_id, "tensor ids out of order");
        if id == next_id {
            next_id += 1;
        }
    }

    // Autograd facts agree; views share their base's storage; in-place
    // results are the object they wrote; everything lies inside its storage.
    let mut by_id: HashMap<u64, ir::TensorMeta> = g
        .input_bases
        .iter()
        .map(|b| (b.tensor_id, b.val.clone()))
        .collect();
    for n in &g.nodes {
        let s = n.structure();
        for t in tensors(n.val()) {
            let a = t.autograd;
            assert_eq!(a.is_leaf, a.grad_fn == ir::GradFn::None, "{}", s.name);
            assert!(a.requires_grad || a.is_leaf, "{}", s.name);
            let geo = &t.geometry;
            let size = ir::dtype::itemsize(&geo.dtype).expect("known dtype") as i64;
            let mut last = hint(&geo.storage_offset);
            for (d, st) in geo.shape.iter().zip(&geo.stride) {
                last += (hint(d) - 1) * hint(st);
            }
            assert!(
                (last + 1) * size <= hint(&geo.storage_nbytes),
                "{} reaches past its storage",
                s.name
            );
        }
        let Some(t) = n.val().as_tensor() else {
            continue;
        };
        let id = s.tensor_id.expect("a tensor node has a tensor_id");
        assert_eq!(t.autograd.is_view, s.base_tensor_id.is_some(), "{}", s.name);
        if let Some(base) = s.base_tensor_id {
            let base = by_id.get(&base).expect("the base comes earlier");
            assert_eq!(base.geometry.storage, t.geometry.storage, "{}", s.name);
        }
        if let Some(before) = by_id.get(&id) {
            let (b, a) = (&before.geometry, &t.geometry);
            assert_eq!(
                (&b.shape, &b.stride, &b.storage_offset, b.storage),
                (&a.shape, &a.stride, &a.storage_offset, a.storage),
                "{} changes the geometry of the object it writes",
                s.name
            );
        }
        by_id.insert(id, t.clone());
    }

    // Exactly the operators called are declared, all with tags.
    let called: HashSet<&str> = g
        .nodes
        .iter()
        .map(|n| &*n.structure().target)
        .filter(|t| t.starts_with("aten."))
        .collect();
    let declared: HashSet<&str> = g.operators.keys().map(String::as_str).collect();
    assert_eq!(called, declared);
    assert!(g.operators.values().all(|o| o.tags.is_some()));
}

#[test]
fn generated_dumps_load_analyse_and_keep_the_invariants() {
    for dynamic in [false, true] {
        for seed in [0, 1, 7] {
            for nodes in [40, 400, 1_500] {
                let dump = generate(&opts(nodes, seed, dynamic)).expect("generates");
                let graph = check(&dump);
                assert_eq!(graph.config.dynamic_shapes, dynamic);
                assert_eq!(graph.symbols.is_empty(), !dynamic);
                let n = graph.nodes.len();
                assert!(
                    nodes < 80 || n.abs_diff(nodes) <= 30,
                    "asked for {nodes} nodes, got {n}"
                );
            }
        }
    }
}

#[test]
fn generated_dumps_hold_every_feature_the_benchmarks_need() {
    let dump = generate(&opts(300, 3, false)).expect("generates");
    let targets: HashSet<&str> = dump.nodes.iter().map(|n| &*n.structure().target).collect();
    for t in [
        "aten.native_layer_norm.default",
        "_operator.getitem",
        "aten.t.default",
        "aten.addmm.default",
        "aten.view.default",
        "aten.split.Tensor",
        "aten.select.int",
        "aten.slice.Tensor",
        "aten.unbind.int",
        "aten.index_copy_.default",
        "aten.copy_.default",
        "aten.add_.Tensor",
        "aten.mul_.Tensor",
        "torch._C._set_grad_enabled",
    ] {
        assert!(targets.contains(t), "no {t}");
    }
    assert!(targets.contains("aten.gelu.default") || targets.contains("aten.relu.default"));
    let report = Session::from_graph(load(&dump)).report().expect("analyses");
    let meta = report.fw_metadata.expect("metadata");
    assert!(meta.input_info.iter().any(|i| i.mutates_data));
    let merged = report
        .synthetic_base
        .expect("merge ran")
        .plan
        .outcome
        .clone();
    assert!(
        matches!(merged, Ok(Some(_))),
        "the overlapping mutated view inputs need a synthetic base"
    );
}

#[test]
fn the_same_seed_gives_the_same_dump() {
    for dynamic in [false, true] {
        let a = generate(&opts(500, 42, dynamic)).expect("generates");
        let b = generate(&opts(500, 42, dynamic)).expect("generates");
        assert_eq!(
            write::to_json(&a).to_string(),
            write::to_json(&b).to_string()
        );
        let c = generate(&opts(500, 43, dynamic)).expect("generates");
        assert_ne!(a, c);
        for kind in EditKind::ALL {
            assert_eq!(edit(&a, kind, 5), edit(&b, kind, 5));
        }
    }
    let seq = |seed| -> Vec<Graph> {
        EditSequence::new(&opts(200, 1, false), seed)
            .take(12)
            .collect::<Result<_, _>>()
            .expect("edits")
    };
    assert_eq!(seq(9), seq(9));
    assert_ne!(seq(9), seq(10));
}

#[test]
fn every_edit_keeps_the_dump_valid() {
    for dynamic in [false, true] {
        for seed in [0, 1, 2] {
            let mut dump = generate(&opts(250, seed, dynamic)).expect("generates");
            // Repeated edits of one kind walk through its states (toggles and growth).
            for kind in EditKind::ALL {
                for step in 0..3 {
                    dump = edit(&dump, kind, seed * 100 + step).expect("an edit applies");
                    check(&dump);
                }
            }
        }
    }
}

/// What [`Session::update`] sees for each kind of edit of a generated dump.
#[test]
fn edits_change_only_what_they_say() {
    let base = generate(&opts(400, 11, false)).expect("generates");
    for kind in EditKind::ALL {
        for seed in 0..4 {
            let edited = edit(&base, kind, seed).expect("an edit applies");
            let mut session = Session::from_graph(load(&base));
            let s = session.update(&load(&edited));
            let what = &edited.description;
            match kind {
                EditKind::TensorMetadata => {
                    // The input, and its `t` view when it is a weight.
                    assert!((1..=2).contains(&s.values_changed), "{what}: {s:?}");
                    assert_eq!(s.structures_changed, 0, "{what}");
                    assert!(s.fields_changed.is_empty(), "{what}");
                }
                EditKind::RequiresGrad | EditKind::InputAliasing => {
                    assert_eq!(s.values_changed, 1, "{what}: {s:?}");
                    assert_eq!(s.structures_changed, 0, "{what}");
                    assert!(s.fields_changed.is_empty(), "{what}");
                }
                EditKind::Op => {
                    assert_eq!(s.structures_changed, 1, "{what}: {s:?}");
                    assert_eq!(s.values_changed, 0, "{what}");
                }
                EditKind::InputStorage => {
                    assert_eq!(s.structures_changed, 1, "{what}: {s:?}");
                    assert!(s.values_changed >= 1, "{what}");
                }
                EditKind::AddNode => {
                    assert_eq!(s.nodes_added, 1, "{what}: {s:?}");
                    assert_eq!(s.nodes_removed, 0, "{what}");
                }
                EditKind::RemoveNode => {
                    assert_eq!(s.nodes_removed, 1, "{what}: {s:?}");
                    assert_eq!(s.nodes_added, 0, "{what}");
                }
                EditKind::AddNodeRenumbered => {
                    // Renamed nodes match no old name: each counts as removed and added.
                    assert_eq!(s.nodes_added, s.nodes_removed + 1, "{what}: {s:?}");
                    assert_eq!(edited.nodes.len(), base.nodes.len() + 1, "{what}");
                }
            }
        }
    }
}

/// Replaying a sequence through one session gives what a fresh session gives.
#[test]
fn a_replayed_sequence_matches_fresh_analyses() {
    for dynamic in [false, true] {
        let mut session: Option<Session> = None;
        for dump in EditSequence::new(&opts(150, 5, dynamic), 8).take(25) {
            let dump = dump.expect("edits");
            let graph = check(&dump);
            let fresh = Session::from_graph(graph.clone()).report().expect("fresh");
            let session = session.get_or_insert_with(|| Session::from_graph(graph.clone()));
            session.update(&graph);
            let incremental = session.report().expect("incremental");
            assert_eq!(
                serde_json::to_value(&incremental).expect("serialises"),
                serde_json::to_value(&fresh).expect("serialises"),
                "{}",
                dump.description
            );
        }
    }
}

/// Insertions, removals and FX's renumbering, replayed through one session,
/// give what a fresh session gives.
#[test]
fn structural_edits_replay_as_fresh_analyses() {
    let kinds = [
        EditKind::AddNode,
        EditKind::RemoveNode,
        EditKind::AddNodeRenumbered,
        EditKind::Op,
    ];
    let mut session: Option<Session> = None;
    let mut seen = std::collections::BTreeSet::new();
    for dump in EditSequence::with_kinds(&opts(300, 3, false), 4, &kinds).take(16) {
        let dump = dump.expect("edits");
        let description = dump.description.clone();
        if let Some(kind) = description.split(" | edit: ").nth(1) {
            seen.insert(kind.split(':').next().unwrap_or_default().to_owned());
        }
        let graph = check(&dump);
        let fresh = Session::from_graph(graph.clone()).report().expect("fresh");
        let session = session.get_or_insert_with(|| Session::from_graph(graph.clone()));
        session.update(&graph);
        let incremental = session.report().expect("incremental");
        assert_eq!(
            serde_json::to_value(&incremental).expect("serialises"),
            serde_json::to_value(&fresh).expect("serialises"),
            "{description}"
        );
    }
    for kind in ["add-node", "remove-node", "add-node-renumbered"] {
        assert!(seen.contains(kind), "no {kind} edit in {seen:?}");
    }
}

#[test]
fn edit_kinds_parse_from_their_names() {
    for kind in EditKind::ALL {
        assert_eq!(kind.as_str().parse::<EditKind>(), Ok(kind));
    }
    assert!("bogus".parse::<EditKind>().is_err());
}
