//! What export reads of the dump besides the collected metadata: the placeholders with
//! their kinds and identities, what each output is, the custom operators upstream of each
//! node, and the pytree specs checked against the flat inputs and outputs.

use super::*;

/// The export's specs from a dump's (which the loader checked against the
/// graph: `in_spec` rebuilds `(args, kwargs)` from the user inputs, `out_spec`
/// the result from the outputs). `in_spec` gains a leading leaf per parameter
/// and buffer (`aot_export_module` flattens `(params ⊕ buffers ⊕ args,
/// kwargs)`). A dump without specs gets flat ones: positional user inputs, a
/// tuple of outputs.
pub fn export_specs(
    in_spec: Option<&TreeSpec>,
    out_spec: Option<&TreeSpec>,
    num_params_buffers: usize,
    num_user_inputs: usize,
    num_outputs: usize,
) -> Result<(TreeSpec, TreeSpec), SpecError> {
    // The loader checked the dump's specs against the graph.
    let in_spec = in_spec.cloned().unwrap_or_else(|| {
        TreeSpec::tuple(vec![
            TreeSpec::tuple(vec![TreeSpec::Leaf; num_user_inputs]),
            TreeSpec::empty_dict(),
        ])
    });
    let out_spec = out_spec
        .cloned()
        .unwrap_or_else(|| TreeSpec::tuple(vec![TreeSpec::Leaf; num_outputs]));
    Ok((in_spec.with_leading_args(num_params_buffers)?, out_spec))
}

/// What [`custom_ops_upstream`] reads of a node's own call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// Not a `call_function` node.
    NotACall,
    /// A call of an `aten` operator or a Python callable.
    Builtin,
    /// A custom operator (neither from `aten` nor a Python callable), by target.
    Custom(Arc<str>),
}

impl Call {
    /// What `node` calls.
    pub fn of(node: &NodeStructure) -> Call {
        if node.op != NodeOp::CallFunction {
            Call::NotACall
        } else if !is_python_callable(&node.target) && !node.target.starts_with("aten.") {
            Call::Custom(node.target.clone())
        } else {
            Call::Builtin
        }
    }
}

/// What export reads of the nodes themselves: every node's name and
/// tensor identity, and the structures of the placeholders and the output,
/// read only when asked (so that an edit of another node is not read).
#[derive(Clone, Copy)]
pub struct DumpNodes<'a> {
    /// A node's structure, by position.
    pub structure: &'a dyn Fn(usize) -> Option<&'a NodeStructure>,
    /// Every node's name.
    pub names: &'a [Arc<str>],
    /// Every node's tensor identity.
    pub tensor_ids: &'a [Option<u64>],
}

/// Per node: the custom operator (one neither from `aten` nor a Python
/// callable) whose grad-requiring result the node's value is computed from,
/// through arguments (an in-place write makes the written object's later
/// uses depend on what was written). A node's recorded autograd facts are `None` for a
/// node whose value is not a single tensor (a list picked by `getitem`).
/// `calls` are the nodes' [`Call`]s, `links` their arguments.
pub fn custom_ops_upstream(
    calls: &[&Call],
    links: &Links,
    recorded: &dyn RecordedAutograd,
) -> Vec<Option<Arc<str>>> {
    let requires_grad = |i: usize| recorded.recorded_autograd(i).map(|a| a.requires_grad);
    let mut out: Vec<Option<Arc<str>>> = Vec::with_capacity(calls.len());
    for (i, call) in calls.iter().enumerate() {
        let found = match call {
            Call::NotACall => None,
            _ if requires_grad(i) == Some(false) => None,
            Call::Custom(target) => Some(target.clone()),
            // The last argument first: the first custom operator found that way wins.
            Call::Builtin => links.refs(i).rev().find_map(|r| match r {
                Ref::Node(j) if (j as usize) < i => out.get(j as usize).cloned().flatten(),
                _ => None,
            }),
        };
        out.push(found);
    }
    out
}

/// What export reads of the graph besides its metadata ([`ExportGraph`]),
/// from the nodes' structures and value facts (in graph order), the alias
/// trace and the dump's pytree specs.
pub fn export_graph<'a>(
    nodes: DumpNodes<'a>,
    output: Option<&'a NodeStructure>,
    facts: &[ValueFacts],
    trace: &AliasTrace,
    custom_ops: &[Option<Arc<str>>],
    in_spec: Option<&TreeSpec>,
    out_spec: Option<&TreeSpec>,
) -> Result<ExportGraph, AnalysisError> {
    // The last write to each functional storage, found once (not per input).
    let mut last_write = HashMap::new();
    for w in &trace.writes {
        if let Some(o) = trace.objects.get(w.object) {
            last_write.insert(o.functional_storage, w.node);
        }
    }
    let inputs = trace
        .input_nodes
        .iter()
        .enumerate()
        .map(|(p, &n)| export_input(nodes, facts, trace, p, n, &last_write))
        .collect::<Result<Vec<_>, _>>()?;
    check_input_order(&inputs)?;
    let outputs = export_outputs(nodes, output, facts, trace, custom_ops);
    let count = |f: fn(InputKind) -> bool| inputs.iter().filter(|i| f(i.kind)).count();
    let (in_spec, out_spec) = export_specs(
        in_spec,
        out_spec,
        count(|k| matches!(k, InputKind::Parameter | InputKind::Buffer)),
        count(|k| k == InputKind::UserInput),
        outputs.len(),
    )
    .map_err(|e| AnalysisError::Invalid(Diagnostic::at(None, e.path, e.message)))?;
    Ok(ExportGraph {
        inputs,
        outputs,
        in_spec,
        out_spec,
    })
}

/// Placeholder `p`, node `n`, as export reads it.
pub(super) fn export_input(
    nodes: DumpNodes<'_>,
    facts: &[ValueFacts],
    trace: &AliasTrace,
    p: usize,
    n: usize,
    last_write: &HashMap<usize, usize>,
) -> Result<ExportInput, AnalysisError> {
    let (Some(structure), Some(facts_of)) = ((nodes.structure)(n), facts.get(n)) else {
        return Err(AnalysisError::Invalid(Diagnostic::at(
            None,
            "nodes",
            format!("placeholder {p} is missing"),
        )));
    };
    let NodeOp::Placeholder { kind, fqn, .. } = &structure.op else {
        return Err(AnalysisError::invalid(
            &structure.name,
            "op",
            "expected a placeholder",
        ));
    };
    if matches!(kind, InputKind::Parameter | InputKind::Buffer) && fqn.is_none() {
        return Err(AnalysisError::invalid(
            &structure.name,
            "fqn",
            "a parameter or buffer needs its module path to be exported",
        ));
    }
    let autograd = facts_of.autograd;
    let object = trace.inputs.get(p).copied().flatten();
    let functional_storage = object
        .and_then(|o| trace.objects.get(o))
        .map(|o| o.functional_storage);
    // The last write to the input's memory names its updated value.
    let update_hint = functional_storage
        .and_then(|fs| last_write.get(&fs))
        .and_then(|&w| nodes.names.get(w))
        .cloned();
    let resized = structure.tensor_id.is_some()
        && trace
            .resizes
            .iter()
            .any(|r| nodes.tensor_ids.get(r.node) == Some(&structure.tensor_id));
    Ok(ExportInput {
        name: structure.name.clone(),
        kind: *kind,
        fqn: fqn.clone(),
        arg: facts_of.arg_kind.clone(),
        requires_grad: autograd.is_some_and(|a| a.requires_grad),
        is_leaf: autograd.is_none_or(|a| a.is_leaf),
        tensor_id: structure.tensor_id,
        storage: facts_of.storage,
        resized,
        update_hint,
    })
}

/// `GraphSignature` assumes parameters, then buffers, then user inputs (format §5).
pub(super) fn check_input_order(inputs: &[ExportInput]) -> Result<(), AnalysisError> {
    let rank = |k: InputKind| match k {
        InputKind::Parameter => Some(0),
        InputKind::Buffer => Some(1),
        InputKind::UserInput => Some(2),
        InputKind::Token => None,
    };
    let mut last = 0;
    for input in inputs {
        let Some(r) = rank(input.kind) else { continue };
        if r < last {
            return Err(AnalysisError::invalid(
                &input.name,
                "kind",
                "placeholders must list parameters, then buffers, then user inputs",
            ));
        }
        last = r;
    }
    Ok(())
}

/// What each output is in the functional graph.
pub(super) fn export_outputs<'a>(
    nodes: DumpNodes<'a>,
    output: Option<&'a NodeStructure>,
    facts: &[ValueFacts],
    trace: &AliasTrace,
    custom_ops: &[Option<Arc<str>>],
) -> Vec<ExportOutput> {
    let literals: &[Arg] = match output.and_then(|n| n.args.first()) {
        Some(Arg::List(items)) => items,
        _ => &[],
    };
    let name_of = |n: usize| {
        nodes
            .names
            .get(n)
            .map_or_else(|| Arc::from("out"), Arc::clone)
    };
    trace
        .outputs
        .iter()
        .enumerate()
        .map(|(k, slot)| match slot {
            OutputSlot::Tensor(o) => {
                let obj = trace.objects.get(*o);
                let last_node = obj.map_or(0, |obj| obj.last_node);
                let floating = facts.get(last_node).is_some_and(|f| f.is_floating);
                let input = obj
                    .filter(|obj| obj.is_input)
                    // FX binds a tensor passed twice to its last placeholder.
                    .and_then(|_| trace.inputs.iter().rposition(|i| *i == Some(*o)));
                let value = match input {
                    Some(p) => OutputValue::Input(p),
                    None => OutputValue::Tensor {
                        object: *o,
                        hint: name_of(last_node),
                    },
                };
                ExportOutput {
                    value,
                    floating,
                    custom_op: custom_ops.get(last_node).cloned().flatten(),
                }
            }
            OutputSlot::Node(n) => {
                let kind = facts
                    .get(*n)
                    .map_or(ArgKind::Constant(Constant::None), |f| f.arg_kind.clone());
                let value = match kind {
                    ArgKind::Constant(c) => OutputValue::Constant(c),
                    kind => match trace.input_nodes.iter().position(|i| i == n) {
                        Some(p) => OutputValue::Input(p),
                        None => OutputValue::Symbolic {
                            node: *n,
                            hint: name_of(*n),
                            kind,
                        },
                    },
                };
                ExportOutput {
                    value,
                    floating: false,
                    custom_op: None,
                }
            }
            OutputSlot::Literal(_) => ExportOutput {
                value: OutputValue::Constant(literal(literals.get(k))),
                floating: false,
                custom_op: None,
            },
        })
        .collect()
}

/// A literal output, as export records a constant.
pub(super) fn literal(arg: Option<&Arg>) -> Constant {
    match arg {
        None | Some(Arg::None) => Constant::None,
        Some(Arg::Int(v)) => Constant::Int(*v),
        Some(Arg::Float(v)) => Constant::Float(*v),
        Some(Arg::Bool(v)) => Constant::Bool(*v),
        Some(Arg::Str(v)) => Constant::Str(v.clone()),
        Some(Arg::Tagged(tag, v)) => Constant::Other(format!("{tag}={v}")),
        Some(Arg::List(_) | Arg::Node(_)) => Constant::Other("list".to_owned()),
    }
}
