//! Signatures of hand-built export graphs: flavours, refusals, custom operators.

use super::*;
use crate::analysis::meta::{OutputType, RawType};
use crate::analysis::trace::NodeRefs;
use crate::ir::expr::SizeExpr;

fn input(name: &str, kind: InputKind) -> ExportInput {
    let fqn = matches!(kind, InputKind::Parameter | InputKind::Buffer).then(|| name.to_owned());
    ExportInput {
        name: Arc::from(name),
        kind,
        fqn,
        arg: ArgKind::Tensor,
        requires_grad: false,
        is_leaf: true,
        tensor_id: None,
        storage: None,
        resized: false,
        update_hint: None,
    }
}

fn unmutated() -> InputAliasInfo {
    InputAliasInfo {
        is_leaf: true,
        mutates_data: false,
        mutates_metadata: false,
        mutations_hidden_from_autograd: true,
        mutations_under_no_grad_or_inference_mode: false,
        mutation_inductor_storage_resize: false,
        mutates_storage_metadata: false,
        mutation_is_shallow_copy_data: false,
        requires_grad: false,
        keep_input_mutations: false,
        mutation_type: MutationType::NotMutated,
    }
}

fn data_mutated() -> InputAliasInfo {
    InputAliasInfo {
        mutates_data: true,
        mutations_hidden_from_autograd: false,
        mutation_type: MutationType::MutatedOutGraph,
        ..unmutated()
    }
}

fn output_info(requires_grad: bool) -> OutputAliasInfo {
    OutputAliasInfo {
        output_type: OutputType::NonAlias,
        raw_type: RawType::FunctionalTensor,
        base_idx: None,
        dynamic_dims: Some(Vec::new()),
        requires_grad,
        requires_grad_for_backward: requires_grad,
        view_meta_sequence: None,
    }
}

fn fresh(object: usize, hint: &str) -> ExportOutput {
    ExportOutput {
        value: OutputValue::Tensor {
            object,
            hint: Arc::from(hint),
        },
        floating: true,
        custom_op: None,
    }
}

type Inputs = Vec<(ExportInput, InputAliasInfo)>;

/// A graph and its collected metadata, with flat specs.
struct Case {
    graph: ExportGraph,
    input_info: Vec<InputAliasInfo>,
    output_info: Vec<OutputAliasInfo>,
    traced_tangents: Vec<Tangent>,
    grad_enabled_mutation: Option<bool>,
}

impl Case {
    fn new(inputs: Inputs, outputs: Vec<ExportOutput>) -> Case {
        let count =
            |f: &dyn Fn(InputKind) -> bool| inputs.iter().filter(|(i, _)| f(i.kind)).count();
        let (in_spec, out_spec) = export_specs(
            None,
            None,
            count(&|k| matches!(k, InputKind::Parameter | InputKind::Buffer)),
            count(&|k| k == InputKind::UserInput),
            outputs.len(),
        )
        .expect("flat specs fit");
        let output_info = outputs.iter().map(|_| output_info(true)).collect();
        let (inputs, input_info) = inputs.into_iter().unzip();
        Case {
            graph: ExportGraph {
                inputs,
                outputs,
                in_spec,
                out_spec,
            },
            input_info,
            output_info,
            traced_tangents: Vec::new(),
            grad_enabled_mutation: None,
        }
    }

    fn collected(&self) -> Collected<'_> {
        Collected {
            input_info: &self.input_info,
            output_info: &self.output_info,
            traced_tangents: &self.traced_tangents,
            grad_enabled_mutation: self.grad_enabled_mutation,
        }
    }

    /// Export with storages standing for overlap: a mutated input
    /// sharing its storage with another needs a synthetic base.
    fn export(&self, flavour: Flavour) -> Export {
        let storages = SharedStorages(self.graph.inputs.iter().map(|i| i.storage).collect());
        export(&self.graph, flavour, Ok(self.collected()), &storages)
    }
}

/// Each input's storage: sharing one stands for overlapping.
struct SharedStorages(Vec<Option<u64>>);

impl SyntheticBaseCheck for SharedStorages {
    fn synthetic_base_needed(&self, info: &[InputAliasInfo], _: bool) -> Result<bool, TorchError> {
        let storages = &self.0;
        Ok(storages.iter().enumerate().any(|(i, s)| {
            s.is_some()
                && info.get(i).is_some_and(|m| m.mutates_data)
                && storages.iter().enumerate().any(|(j, t)| j != i && t == s)
        }))
    }
}

fn exported(e: Export) -> ExportedGraph {
    match e {
        Export::Exported(g) => *g,
        other => panic!("expected a signature, got {other:?}"),
    }
}

fn dict(entries: &[(&str, &str)]) -> PyDict<String> {
    PyDict(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn kinds(specs: &ExportSpecs) -> (Vec<String>, Vec<String>) {
    let kind = |v: serde_json::Value| {
        v.as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    };
    let all = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(kind)
            .collect()
    };
    let json = serde_json::to_value(specs).unwrap_or_default();
    (
        all(json["input_specs"].clone()),
        all(json["output_specs"].clone()),
    )
}

/// Semantics E7.1: a mutated parameter and a mutated user input.
#[test]
fn inference_with_mutated_parameter_and_input() {
    let w = ExportInput {
        update_hint: Some(Arc::from("add_")),
        ..input("w", InputKind::Parameter)
    };
    let x = ExportInput {
        update_hint: Some(Arc::from("add__1")),
        ..input("x", InputKind::UserInput)
    };
    let case = Case::new(
        vec![
            (w, data_mutated()),
            (input("buf", InputKind::Buffer), unmutated()),
            (x, data_mutated()),
            (input("y", InputKind::UserInput), unmutated()),
        ],
        vec![fresh(7, "add_3")],
    );
    let g = exported(case.export(Flavour::Inference));
    let sig = &g.signature;
    assert_eq!(
        sig.graph_input_names,
        ["arg0_1", "arg1_1", "arg2_1", "arg3_1"]
    );
    assert_eq!(
        sig.graph_output_names,
        [
            Some("add_".into()),
            Some("add__1".into()),
            Some("add_3".into())
        ]
    );
    assert_eq!(sig.inputs_to_parameters, dict(&[("arg0_1", "w")]));
    assert_eq!(sig.inputs_to_buffers, dict(&[("arg1_1", "buf")]));
    assert_eq!(sig.parameters_to_mutate, dict(&[("add_", "w")]));
    assert_eq!(sig.user_inputs_to_mutate, dict(&[("add__1", "arg2_1")]));
    assert!(sig.buffers_to_mutate.is_empty());
    assert_eq!(sig.user_inputs, ["arg2_1", "arg3_1"]);
    assert_eq!(sig.user_outputs, [Some("add_3".into())]);
    assert_eq!(sig.backward_signature, None);
    assert_eq!(sig.in_spec.to_string(), "((*, *, *, *), {})");
    let (inputs, outputs) = kinds(&g.torch_export());
    assert_eq!(inputs, ["parameter", "buffer", "user_input", "user_input"]);
    assert_eq!(
        outputs,
        ["parameter_mutation", "user_input_mutation", "user_output"]
    );
}

/// Semantics E7.2: effect tokens come first on both sides.
#[test]
fn tokens_lead_inputs_and_outputs() {
    let buf = ExportInput {
        update_hint: Some(Arc::from("add")),
        ..input("buf", InputKind::Buffer)
    };
    let case = Case::new(
        vec![
            (input("token", InputKind::Token), unmutated()),
            (buf, data_mutated()),
            (input("x", InputKind::UserInput), unmutated()),
        ],
        vec![fresh(5, "add_1")],
    );
    let g = exported(case.export(Flavour::Inference));
    let sig = &g.signature;
    assert_eq!(sig.input_tokens, ["arg0_1"]);
    assert_eq!(sig.output_tokens, [Some("token".into())]);
    assert_eq!(sig.inputs_to_buffers, dict(&[("arg1_1", "buf")]));
    assert_eq!(sig.buffers_to_mutate, dict(&[("add", "buf")]));
    assert_eq!(sig.user_inputs, ["arg2_1"]);
    assert_eq!(sig.user_outputs, [Some("add_1".into())]);
    let (inputs, outputs) = kinds(&g.torch_export());
    assert_eq!(inputs, ["token", "buffer", "user_input"]);
    assert_eq!(outputs, ["token", "buffer_mutation", "user_output"]);
}

/// A mutated input that is also returned is one FX node: one name, so
/// the name-keyed maps point at the later position, as PyTorch's do.
#[test]
fn returned_updated_input_shares_its_name() {
    let x = ExportInput {
        update_hint: Some(Arc::from("mul_")),
        ..input("x", InputKind::UserInput)
    };
    let returned = ExportOutput {
        value: OutputValue::Input(0),
        floating: true,
        custom_op: None,
    };
    let case = Case::new(vec![(x, data_mutated())], vec![returned.clone(), returned]);
    let sig = exported(case.export(Flavour::Inference)).signature;
    let mul = Some("mul_".to_owned());
    assert_eq!(sig.graph_output_names, [mul.clone(), mul.clone(), mul]);
    assert_eq!(sig.user_inputs_to_mutate, dict(&[("mul_", "arg0_1")]));
}

#[test]
fn joint_gradients_and_loss_quirk() {
    let w = ExportInput {
        requires_grad: true,
        ..input("w", InputKind::Parameter)
    };
    let steps = ExportInput {
        update_hint: Some(Arc::from("add_")),
        ..input("steps", InputKind::Buffer)
    };
    let x = ExportInput {
        requires_grad: true,
        ..input("x", InputKind::UserInput)
    };
    let case = Case::new(
        vec![
            (w, unmutated()),
            (steps, data_mutated()),
            (x, unmutated()),
            (input("y", InputKind::UserInput), unmutated()),
        ],
        vec![fresh(9, "mul"), fresh(10, "sum_1")],
    );
    let g = exported(case.export(Flavour::Joint));
    let sig = &g.signature;
    assert_eq!(
        sig.graph_output_names,
        [
            Some("add_".into()),
            Some("loss".into()),
            Some("w_grad".into()),
            Some("x_grad".into())
        ]
    );
    assert_eq!(sig.user_outputs, [Some("loss".into())]);
    let backward = sig.backward_signature.as_ref().expect("a joint signature");
    assert_eq!(backward.gradients_to_parameters, dict(&[("w_grad", "w")]));
    assert_eq!(
        backward.gradients_to_user_inputs,
        dict(&[("x_grad", "arg2_1")])
    );
    // `graph_output_names[0]`: the buffer update, not the loss.
    assert_eq!(backward.loss_output.as_deref(), Some("add_"));
    assert_eq!(g.misplaced_loss(), Some((0, 1)));
    assert_eq!(sig.out_spec.to_string(), "(*,)");
    let (_, outputs) = kinds(&g.torch_export());
    assert_eq!(
        outputs,
        [
            "buffer_mutation",
            "loss_output",
            "gradient_to_parameter",
            "gradient_to_user_input"
        ]
    );
}

#[test]
fn refusals_have_pytorchs_type() {
    let rg = |i: ExportInput| ExportInput {
        requires_grad: true,
        ..i
    };
    let metadata = InputAliasInfo {
        mutates_metadata: true,
        mutation_type: MutationType::MutatedOutGraph,
        ..unmutated()
    };
    let set_kept = InputAliasInfo {
        mutates_metadata: true,
        mutates_storage_metadata: true,
        keep_input_mutations: true,
        mutation_type: MutationType::MutatedInGraph,
        ..unmutated()
    };
    let rg_mutated = InputAliasInfo {
        requires_grad: true,
        ..data_mutated()
    };
    let w = || rg(input("w", InputKind::Parameter));
    let x = || input("x", InputKind::UserInput);
    let cases: Vec<(&str, Inputs, Flavour, ExceptionType, &str)> = vec![
        (
            "metadata mutation",
            vec![(x(), metadata)],
            Flavour::Inference,
            ExceptionType::RuntimeError,
            "Found an input that received a metadata mutation",
        ),
        (
            "set_ without keep_input_mutations",
            vec![(x(), set_kept)],
            Flavour::Inference,
            ExceptionType::AssertionError,
            "Encountered a set_ on a graph input",
        ),
        (
            "grad-requiring input mutated",
            vec![(w(), unmutated()), (x(), rg_mutated)],
            Flavour::Joint,
            ExceptionType::RuntimeError,
            "Found a graph input that requires gradients, and received a mutation",
        ),
        (
            "frozen parameter mutated",
            vec![
                (w(), unmutated()),
                (input("frozen", InputKind::Parameter), data_mutated()),
            ],
            Flavour::Joint,
            ExceptionType::AssertionError,
            "a parameter is mutated in a joint graph",
        ),
        (
            "grad-requiring buffer indexes the parameter names",
            vec![
                (w(), unmutated()),
                (rg(input("b", InputKind::Buffer)), unmutated()),
            ],
            Flavour::Joint,
            ExceptionType::IndexError,
            "list index out of range",
        ),
    ];
    for (what, inputs, flavour, kind, message) in cases {
        let case = Case::new(inputs, vec![fresh(9, "out")]);
        match case.export(flavour) {
            Export::Refused(e) => {
                assert_eq!((e.flavour, e.kind), (flavour, kind), "{what}");
                assert!(e.message.starts_with(message), "{what}: {}", e.message);
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    let e = ExportError::new(Flavour::Joint, ExceptionType::RuntimeError, "m");
    assert_eq!(
        serde_json::to_value(e).unwrap_or_default(),
        serde_json::json!({"stage": "aot_export_module[joint]", "type": "RuntimeError", "message": "m"})
    );
}

#[test]
fn collection_refusals_are_reported_at_the_export_stage() {
    let case = Case::new(
        vec![(input("x", InputKind::UserInput), unmutated())],
        vec![fresh(3, "out")],
    );
    let refusal = TorchError::new(
        crate::analysis::Stage::CollectMetadata,
        ExceptionType::RuntimeError,
        "Attempted to resize a view tensor to a larger size.",
    );
    let never = SharedStorages(Vec::new());
    let sigs = Signatures(vec![(
        Flavour::Inference,
        export(&case.graph, Flavour::Inference, Err(&refusal), &never),
    )]);
    assert_eq!(
        serde_json::to_value(&sigs).unwrap_or_default(),
        serde_json::json!({"inference": {"error": {
            "stage": "aot_export_module[inference]",
            "type": "RuntimeError",
            "message": "Attempted to resize a view tensor to a larger size."}}})
    );
}

fn refused(export: Export) -> (ExceptionType, String) {
    match export {
        Export::Refused(e) => (e.kind, e.message),
        Export::Exported(g) => panic!("expected a refusal, got {:?}", g.signature),
    }
}

/// Mutated inputs passed twice, or sharing memory that needs a
/// synthetic base, are refused in both flavours; aliases that are not
/// mutated export fine.
#[test]
fn duplicated_and_aliased_mutated_inputs_are_refused() {
    let tensor = |name: &str, id: u64, storage: u64| ExportInput {
        tensor_id: Some(id),
        storage: Some(storage),
        ..input(name, InputKind::UserInput)
    };
    let dup = Case::new(
        vec![
            (tensor("x", 0, 0), data_mutated()),
            (tensor("y", 0, 0), data_mutated()),
        ],
        vec![fresh(9, "out")],
    );
    let alias = Case::new(
        vec![
            (tensor("x", 0, 0), data_mutated()),
            (tensor("y", 1, 0), unmutated()),
        ],
        vec![fresh(9, "out")],
    );
    for flavour in Flavour::ALL {
        let (kind, message) = refused(dup.export(flavour));
        assert_eq!(kind, ExceptionType::RuntimeError);
        assert!(
            message.starts_with("Encountered duplicated inputs"),
            "{message}"
        );
        let (kind, message) = refused(alias.export(flavour));
        assert_eq!(kind, ExceptionType::RuntimeError);
        assert!(
            message.starts_with("Encountered aliased inputs"),
            "{message}"
        );
    }
    let shared = Case::new(
        vec![
            (tensor("x", 0, 0), unmutated()),
            (tensor("y", 1, 0), unmutated()),
        ],
        vec![fresh(9, "out")],
    );
    assert!(matches!(
        shared.export(Flavour::Inference),
        Export::Exported(_)
    ));
}

/// Inference runs under `no_grad`: an output that still requires grad
/// (made under `enable_grad` inside) makes export trace a joint graph
/// without tangents, and its assertion fails.
#[test]
fn inference_output_requiring_grad_trips_the_tangent_assertion() {
    let x = ExportInput {
        requires_grad: true,
        ..input("x", InputKind::UserInput)
    };
    let tangent = |shape: &[i64]| Tangent {
        spec: crate::analysis::meta::TensorSpec {
            shape: shape.iter().map(|&d| SizeExpr::int(d)).collect(),
            stride: shape.iter().map(|_| SizeExpr::int(1)).collect(),
            storage_offset: SizeExpr::int(0),
            dtype: Arc::from("float32"),
        },
        desc: String::new(),
    };
    let mut case = Case::new(vec![(x, unmutated())], vec![fresh(9, "out")]);
    case.traced_tangents = vec![tangent(&[4])];
    let (kind, message) = refused(case.export(Flavour::Inference));
    assert_eq!(kind, ExceptionType::AssertionError);
    assert!(message.contains("single scalar tangent"), "{message}");
    assert!(matches!(case.export(Flavour::Joint), Export::Exported(_)));
    // One scalar tangent passes the assertion.
    case.traced_tangents = vec![tangent(&[])];
    assert!(matches!(
        case.export(Flavour::Inference),
        Export::Exported(_)
    ));
}

/// Joint: the loss must require grad, and its backward cannot run
/// through a custom operator without an autograd formula.
#[test]
fn joint_needs_a_loss_and_a_backward() {
    let w = ExportInput {
        requires_grad: true,
        ..input("w", InputKind::Parameter)
    };
    let inputs = || {
        vec![
            (w.clone(), unmutated()),
            (input("x", InputKind::UserInput), unmutated()),
        ]
    };
    let mut no_loss = Case::new(inputs(), vec![fresh(9, "out")]);
    no_loss.output_info = vec![output_info(false)];
    let (kind, message) = refused(no_loss.export(Flavour::Joint));
    assert_eq!(kind, ExceptionType::RuntimeError);
    assert!(message.contains("does not require gradients"), "{message}");
    assert!(matches!(
        no_loss.export(Flavour::Inference),
        Export::Exported(_)
    ));

    let custom = ExportOutput {
        custom_op: Some(Arc::from("mylib.double.default")),
        ..fresh(9, "double")
    };
    let case = Case::new(inputs(), vec![custom]);
    let (kind, message) = refused(case.export(Flavour::Joint));
    assert_eq!(kind, ExceptionType::RuntimeError);
    assert!(
        message.starts_with("Trying to backward through mylib.double.default"),
        "{message}"
    );
}

#[test]
fn custom_operators_upstream_of_grad_requiring_values() {
    let node = |name: &str, target: &str, args: Vec<Arg>| NodeStructure {
        name: Arc::from(name),
        op: NodeOp::CallFunction,
        target: Arc::from(target),
        args,
        kwargs: Vec::new(),
        tensor_id: None,
        base_tensor_id: None,
    };
    let at = |name: &str| Arg::Node(Arc::from(name));
    let nodes = [
        NodeStructure {
            op: NodeOp::Placeholder {
                kind: InputKind::UserInput,
                fqn: None,
                source: None,
            },
            ..node("x", "x", Vec::new())
        },
        node("double", "mylib.double.default", vec![at("x")]),
        node("add", "aten.add.Tensor", vec![at("double"), Arg::Int(1)]),
        node(
            "sum",
            "aten.stack.default",
            vec![Arg::List(vec![at("x"), at("add")])],
        ),
        node("plain", "mylib.plain.default", vec![at("x")]),
        node("mul", "aten.mul.Tensor", vec![at("plain"), at("x")]),
    ];
    let refs: Vec<&NodeStructure> = nodes.iter().collect();
    // `plain`'s result does not require grad, so no backward runs through it.
    struct AllButPlain;
    impl RecordedAutograd for AllButPlain {
        fn recorded_autograd(&self, node: usize) -> Option<crate::ir::Autograd> {
            Some(crate::ir::Autograd {
                requires_grad: node != 4,
                is_leaf: false,
                is_view: false,
                grad_fn: crate::ir::GradFn::Builtin,
            })
        }
    }
    let calls: Vec<Call> = refs.iter().map(|n| Call::of(n)).collect();
    let calls: Vec<&Call> = calls.iter().collect();
    let node_refs: Vec<NodeRefs> = refs.iter().map(|n| NodeRefs::of(n)).collect();
    let links = Links::of(&node_refs.iter().collect::<Vec<_>>());
    let got = custom_ops_upstream(&calls, &links, &AllButPlain);
    let double = Some(Arc::<str>::from("mylib.double.default"));
    assert_eq!(
        got,
        [None, double.clone(), double.clone(), double, None, None]
    );
}

#[test]
fn names_are_unique_per_value() {
    let mut names = Names::default();
    names.reserve("arg0_1");
    assert_eq!(names.of(ValueId::Tensor(0), "add"), "add");
    assert_eq!(names.of(ValueId::Tensor(1), "add"), "add_1");
    assert_eq!(names.of(ValueId::Tensor(0), "ignored"), "add");
    assert_eq!(names.of(ValueId::Loss, "arg0_1"), "arg0_1_1");
    assert_eq!(names.of(ValueId::Gradient(0), "add_1"), "add_1_1");
}

#[test]
fn python_slices_clamp() {
    let v = [1, 2, 3];
    assert_eq!(py_slice(&v, 1, 2), [2]);
    assert_eq!(py_slice(&v, 2, 9), [3]);
    assert!(py_slice(&v, 5, 9).is_empty());
    assert!(py_slice(&v, 2, 1).is_empty());
}
