//! `create_graph_signature`: the `GraphSignature` (and backward signature) of a functional
//! graph, as `aot_export_module` returns it.

use super::*;

/// `create_graph_signature` and `GraphSignature.from_tracing_metadata`
/// (semantics §3.10.2–3), on the names of the traced graph.
pub(super) fn create_graph_signature(
    graph: &ExportGraph,
    flat: &[usize],
    info: &[InputAliasInfo],
    fgraph: &FunctionalGraph,
    flavour: Flavour,
) -> Result<GraphSignature, ExportError> {
    let assertion = |what: &str| ExportError::new(flavour, ExceptionType::AssertionError, what);
    let index_error = || {
        ExportError::new(
            flavour,
            ExceptionType::IndexError,
            "list index out of range",
        )
    };
    let overflow = || assertion("count overflow");

    let inputs: Vec<&ExportInput> = flat.iter().filter_map(|&p| graph.inputs.get(p)).collect();
    let names_of = |kind: InputKind| -> Vec<String> {
        inputs
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.fqn.clone().unwrap_or_else(|| i.name.to_string()))
            .collect()
    };
    let parameters = names_of(InputKind::Parameter);
    let buffers = names_of(InputKind::Buffer);
    let params_and_buffers: Vec<&ExportInput> = inputs
        .iter()
        .copied()
        .filter(|i| matches!(i.kind, InputKind::Parameter | InputKind::Buffer))
        .collect();
    let user_args: Vec<&ExportInput> = inputs
        .iter()
        .copied()
        .filter(|i| i.kind == InputKind::UserInput)
        .collect();

    let graph_inputs = &fgraph.input_names;
    let graph_outputs = &fgraph.output_names;
    let num_tokens = graph.inputs.len().saturating_sub(flat.len());
    let num_mutated = info
        .iter()
        .filter(|i| i.mutation_type == MutationType::MutatedOutGraph)
        .count();

    // create_graph_signature
    let num_params_buffers = parameters
        .len()
        .checked_add(buffers.len())
        .ok_or_else(overflow)?;
    let num_user_args = graph_inputs
        .len()
        .checked_sub(num_params_buffers)
        .and_then(|n| n.checked_sub(num_tokens))
        .ok_or_else(|| assertion("more parameters, buffers and tokens than graph inputs"))?;
    let (backward_signature, num_user_outputs) = match flavour {
        Flavour::Joint => {
            let num_user_fw_outs = fgraph.num_user_outputs;
            let num_fw_outs = num_user_fw_outs
                .checked_add(num_mutated)
                .ok_or_else(overflow)?;
            let backward_outputs = py_slice(graph_outputs, num_fw_outs, graph_outputs.len());
            let mut grad_index = 0usize;
            let mut next_grad = || -> Result<String, ExportError> {
                let name = backward_outputs.get(grad_index).ok_or_else(index_error)?;
                grad_index = grad_index.checked_add(1).ok_or_else(overflow)?;
                Ok(key(name.as_ref()))
            };
            let mut gradients_to_parameters = PyDict::default();
            for (i, input) in params_and_buffers.iter().enumerate() {
                if input.requires_grad {
                    let grad = next_grad()?;
                    // `i` runs over parameters *and* buffers but indexes the
                    // parameter names (§5 item 19).
                    let name = parameters.get(i).ok_or_else(index_error)?;
                    gradients_to_parameters.insert(grad, name.clone());
                }
            }
            let mut gradients_to_user_inputs = PyDict::default();
            for (i, input) in user_args.iter().enumerate() {
                if input.requires_grad && input.arg == ArgKind::Tensor {
                    let grad = next_grad()?;
                    // Tokens are not skipped here (§5 item 19).
                    let position = i
                        .checked_add(params_and_buffers.len())
                        .ok_or_else(overflow)?;
                    let name = graph_inputs.get(position).ok_or_else(index_error)?;
                    gradients_to_user_inputs.insert(grad, name.clone());
                }
            }
            let num_gradients = gradients_to_parameters
                .len()
                .checked_add(gradients_to_user_inputs.len())
                .ok_or_else(overflow)?;
            if num_gradients != backward_outputs.len() {
                return Err(assertion("not every backward output is a gradient"));
            }
            let loss_index = fgraph.loss.ok_or_else(|| assertion("no loss index"))?;
            // Not shifted past tokens and updated inputs (§5 item 19).
            let loss_output = graph_outputs
                .get(loss_index)
                .ok_or_else(index_error)?
                .clone();
            let backward = BackwardSignature {
                gradients_to_parameters,
                gradients_to_user_inputs,
                loss_output,
            };
            (Some(backward), num_user_fw_outs)
        }
        Flavour::Inference => {
            let n = graph_outputs
                .len()
                .checked_sub(num_mutated)
                .and_then(|n| n.checked_sub(num_tokens))
                .ok_or_else(|| assertion("fewer graph outputs than updated inputs and tokens"))?;
            (None, n)
        }
    };

    // GraphSignature.from_tracing_metadata
    let mut stop = num_tokens;
    let input_tokens = py_slice(graph_inputs, 0, stop).to_vec();
    let mut take = |n: usize| -> Result<(usize, usize), ExportError> {
        let start = stop;
        stop = stop.checked_add(n).ok_or_else(overflow)?;
        Ok((start, stop))
    };
    let zip = |names: &[String], values: &[String]| {
        let mut dict = PyDict::default();
        for (k, v) in names.iter().zip(values) {
            dict.insert(k.clone(), v.clone());
        }
        dict
    };
    let (start, end) = take(parameters.len())?;
    let inputs_to_parameters = zip(py_slice(graph_inputs, start, end), &parameters);
    let (start, end) = take(buffers.len())?;
    let inputs_to_buffers = zip(py_slice(graph_inputs, start, end), &buffers);
    let (start, end) = take(num_user_args)?;
    let user_inputs = py_slice(graph_inputs, start, end).to_vec();
    if graph_inputs.len() != stop {
        return Err(assertion("the graph inputs are not all accounted for"));
    }

    let output_tokens = py_slice(graph_outputs, 0, num_tokens).to_vec();
    let names: Vec<&String> = input_tokens
        .iter()
        .chain(&parameters)
        .chain(&buffers)
        .chain(&user_inputs)
        .collect();
    let mut mutations = Vec::new();
    for (idx, input) in info.iter().enumerate() {
        if input.mutates_data {
            if flavour == Flavour::Joint && idx < parameters.len() {
                return Err(assertion("a parameter is mutated in a joint graph"));
            }
            let position = idx.checked_add(num_tokens).ok_or_else(overflow)?;
            mutations.push(*names.get(position).ok_or_else(index_error)?);
        }
    }
    if mutations.len() != num_mutated {
        return Err(assertion(
            "the data-mutated inputs are not the inputs mutated at runtime",
        ));
    }
    let mut stop = num_tokens;
    let start = stop;
    stop = stop.checked_add(num_mutated).ok_or_else(overflow)?;
    let mut outputs_to_mutations: PyDict<&String> = PyDict::default();
    for (output, mutation) in py_slice(graph_outputs, start, stop).iter().zip(&mutations) {
        outputs_to_mutations.insert(key(output.as_ref()), *mutation);
    }
    let mut user_inputs_to_mutate = PyDict::default();
    let mut buffers_to_mutate = PyDict::default();
    let mut parameters_to_mutate = PyDict::default();
    // Classified by name (§5 item 20): a parameter FQN equal to a user
    // input's graph name counts as the user input.
    for (output, &mutation) in outputs_to_mutations.iter() {
        if user_inputs.contains(mutation) {
            user_inputs_to_mutate.insert(output.to_owned(), mutation.clone());
        } else if buffers.contains(mutation) {
            buffers_to_mutate.insert(output.to_owned(), mutation.clone());
        } else if parameters.contains(mutation) {
            parameters_to_mutate.insert(output.to_owned(), mutation.clone());
        } else {
            return Err(assertion(
                "a mutated input is no user input, buffer or parameter",
            ));
        }
    }
    let start = stop;
    stop = stop.checked_add(num_user_outputs).ok_or_else(overflow)?;
    let user_outputs = py_slice(graph_outputs, start, stop).to_vec();
    let num_gradients = backward_signature.as_ref().map_or(0, |b| {
        b.gradients_to_parameters
            .len()
            .saturating_add(b.gradients_to_user_inputs.len())
    });
    if stop.checked_add(num_gradients) != Some(graph_outputs.len()) {
        return Err(assertion("the graph outputs are not all accounted for"));
    }

    let out_spec = match flavour {
        Flavour::Inference => graph.out_spec.clone().tuple_unless_sequence(),
        Flavour::Joint => TreeSpec::tuple(vec![TreeSpec::Leaf]),
    };
    Ok(GraphSignature {
        parameters,
        buffers,
        user_inputs,
        user_outputs,
        inputs_to_parameters,
        inputs_to_buffers,
        buffers_to_mutate,
        parameters_to_mutate,
        user_inputs_to_mutate,
        in_spec: graph.in_spec.clone(),
        out_spec,
        backward_signature,
        input_tokens,
        output_tokens,
        graph_input_names: graph_inputs.clone(),
        graph_output_names: graph_outputs.clone(),
    })
}
