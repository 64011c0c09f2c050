//! Limits instead of crashes: huge graphs and numbers must give results or
//! clear errors, never a stack overflow, a panic or quadratic blow-up.

use std::sync::Arc;

use aotio::ir::expr::SizeExpr;
use aotio::ir::*;

fn tensor(shape: &[i64], stride: &[i64], offset: i64, storage: u64, nbytes: i64) -> Value {
    Value::Tensor(TensorMeta {
        geometry: Geometry {
            shape: shape.iter().map(|&s| SizeExpr::int(s)).collect(),
            stride: stride.iter().map(|&s| SizeExpr::int(s)).collect(),
            storage_offset: SizeExpr::int(offset),
            dtype: Arc::from("float32"),
            device: Arc::from("cpu"),
            storage,
            storage_nbytes: SizeExpr::int(nbytes),
            layout: Arc::from("strided"),
            is_conj: false,
            is_neg: false,
        },
        autograd: Autograd {
            requires_grad: false,
            is_leaf: true,
            is_view: false,
            grad_fn: GradFn::None,
        },
    })
}

fn node(name: &str, op: NodeOp, target: &str, args: Vec<Arg>, val: Value, id: Option<u64>) -> Node {
    Node::new(
        NodeStructure {
            name: Arc::from(name),
            op,
            target: Arc::from(target),
            args,
            kwargs: Vec::new(),
            tensor_id: id,
            base_tensor_id: None,
        },
        val,
    )
}

/// `x`, then `n` views each of the previous one, a write through the last, and the last returned.
fn chain_of_views(n: usize) -> Graph {
    let mut nodes = Vec::with_capacity(n + 3);
    nodes.push(node(
        "x",
        NodeOp::Placeholder {
            kind: InputKind::UserInput,
            fqn: None,
            source: None,
        },
        "x",
        Vec::new(),
        tensor(&[4], &[1], 0, 0, 16),
        Some(0),
    ));
    let mut prev: Arc<str> = Arc::from("x");
    for i in 0..n {
        let name = format!("view_{i}");
        nodes.push(node(
            &name,
            NodeOp::CallFunction,
            "aten.view.default",
            vec![Arg::Node(prev.clone()), Arg::List(vec![Arg::Int(-1)])],
            tensor(&[4], &[1], 0, 0, 16),
            Some(i as u64 + 1),
        ));
        prev = Arc::from(name.as_str());
    }
    nodes.push(node(
        "mul_",
        NodeOp::CallFunction,
        "aten.mul_.Tensor",
        vec![Arg::Node(prev.clone()), Arg::Int(2)],
        tensor(&[4], &[1], 0, 0, 16),
        Some(n as u64),
    ));
    nodes.push(node(
        "output",
        NodeOp::Output,
        "output",
        vec![Arg::List(vec![Arg::Node(Arc::from("mul_"))])],
        Value::None,
        None,
    ));
    Graph {
        name: "chain".into(),
        description: String::new(),
        config: Config {
            keep_input_mutations: false,
            is_train: false,
            grad_enabled: true,
            dynamic_shapes: false,
            num_params_buffers: 0,
            export: vec![Flavour::Inference],
            tracer: None,
            torch_version: None,
        },
        symbols: Default::default(),
        operators: Default::default(),
        nodes,
        input_bases: Vec::new(),
        in_spec: None,
        out_spec: None,
    }
}

#[test]
fn a_million_node_chain_of_views() {
    let session = aotio::Session::from_graph(chain_of_views(1_000_000));
    let meta = session.fw_metadata().expect("analyses");
    // The write through the last view is a data mutation of `x`; the output aliases it.
    assert!(meta.input_info[0].mutates_data);
    assert_eq!(meta.output_info[0].base_idx, Some(0));
}

#[test]
fn huge_sizes_do_not_overflow() {
    let text = include_str!("data/incremental/two_storages.json")
        .replace(
            "\"storage_offset\": 8",
            "\"storage_offset\": 9223372036854775000",
        )
        .replace("\"shape\": [3]", "\"shape\": [9223372036854775807]");
    if let Ok(session) = aotio::Session::from_json_str(&text) {
        let _ = session.report();
    }
}

#[test]
fn deeply_nested_arguments_are_refused() {
    let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = include_str!("data/incremental/two_storages.json").replace(
        "[{\"node\": \"x\"}]",
        &format!("[{{\"node\": \"x\"}}, {nested}]"),
    );
    let err = aotio::Session::from_json_str(&text).err().expect("refused");
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn deeply_nested_expressions_are_refused() {
    let deep = format!("{}s0{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(SizeExpr::parse(&deep).is_err());
}

/// Fuzzing found printing exponential in the nesting of `%` (sort keys were
/// recomputed at every level): 60 levels must print at once.
#[test]
fn nested_modulo_prints_in_linear_time() {
    let found =
        "l*j%al*j%sl%al*j%l*j%s%al*j%sl%al*j%slel*el*j%sl%al*j%slel%lel*el*j%sl%al*j%slel%l";
    let deep = "s0*s1%s2".to_owned() + &"*s1%s2".repeat(60);
    for text in [found, deep.as_str()] {
        let e = SizeExpr::parse(text).expect("parses");
        let printed = e.canonical().to_string();
        assert_eq!(SizeExpr::parse(&printed).expect("printed form parses"), e);
    }
}

/// Fuzzing found a power of a long sum of high-degree terms that took
/// seconds to refuse: each multiplication's work is now bounded tightly.
#[test]
fn large_powers_are_refused_quickly() {
    let slow = "(iz*eeA*z*zey-em4zA*-em*zey*e---zA*z*y*em-e*z*sW1s62*+(c47*ss74ss-s4% Ws%s4%l8-eml8%s+818%s7+sWc%w+ sW1))**999";
    assert!(matches!(
        SizeExpr::parse(slow),
        Err(aotio::ir::expr::ExprError::TooManyTerms)
    ));
}
