//! The functional graph export traces: its inputs (tokens, parameters, buffers, user
//! inputs, tangents) and outputs (input updates, user outputs, gradients), with FX's names.

use super::*;

/// A graph input: its kind, its FQN (parameters and buffers), what it
/// carries, and the dump's name for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct InputRole {
    pub(super) kind: InputKind,
    pub(super) fqn: Option<String>,
    pub(super) arg: ArgKind,
    pub(super) dump_name: Arc<str>,
}

/// Which value an output of the functional graph is: equal ids are one FX node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum ValueId {
    Token(usize),
    Updated(usize),
    Tensor(usize),
    Symbolic(usize),
    Loss,
    Gradient(usize),
}

/// FX-style unique names: a hint as it is while free, else with `_1`, `_2`...
#[derive(Default)]
pub(super) struct Names {
    pub(super) used: HashSet<String>,
    pub(super) given: HashMap<ValueId, String>,
}

impl Names {
    pub(super) fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }

    pub(super) fn of(&mut self, id: ValueId, hint: &str) -> String {
        if let Some(name) = self.given.get(&id) {
            return name.clone();
        }
        // Among `used.len() + 1` candidates one is free.
        let name = std::iter::once(hint.to_owned())
            .chain((1..=self.used.len()).map(|k| format!("{hint}_{k}")))
            .find(|c| !self.used.contains(c))
            .unwrap_or_else(|| format!("{hint}_{}", self.used.len().saturating_add(1)));
        self.used.insert(name.clone());
        self.given.insert(id, name.clone());
        name
    }
}

/// The calling convention of the exported graph: inputs `tokens ⊕ params ⊕
/// buffers ⊕ user inputs`, outputs `tokens ⊕ updated inputs ⊕ user outputs ⊕
/// gradients` (the joint flavour's only user output is the loss).
pub(super) fn functional_graph(
    graph: &ExportGraph,
    flat: &[usize],
    info: &[InputAliasInfo],
    flavour: Flavour,
) -> FunctionalGraph {
    let tokens: Vec<usize> = (0..graph.inputs.len())
        .filter(|p| !flat.contains(p))
        .collect();
    let order: Vec<usize> = tokens.iter().chain(flat).copied().collect();
    let input_names: Vec<String> = (0..order.len()).map(|q| format!("arg{q}_1")).collect();
    let inputs: Vec<InputRole> = order
        .iter()
        .filter_map(|&p| graph.inputs.get(p))
        .map(|i| InputRole {
            kind: i.kind,
            fqn: i.fqn.clone(),
            arg: i.arg.clone(),
            dump_name: i.name.clone(),
        })
        .collect();
    let num_tokens = tokens.len();
    // Index into `input_info` (tokens excluded) → graph input position.
    let position = |j: usize| j.saturating_add(num_tokens);
    // Placeholder index → position in `flat` (input_info's index space).
    let flat_index: HashMap<usize, usize> = flat.iter().enumerate().map(|(j, &p)| (p, j)).collect();
    let graph_name = |p: usize| -> Option<String> {
        order
            .iter()
            .position(|&x| x == p)
            .and_then(|q| input_names.get(q).cloned())
    };
    let dump_name = |p: usize| -> &str { graph.inputs.get(p).map_or("input", |i| &i.name) };

    let mut names = Names::default();
    for n in &input_names {
        names.reserve(n);
    }
    let mut output_names = Vec::new();
    let mut output_args = Vec::new();

    for k in 0..tokens.len() {
        output_names.push(Some(names.of(ValueId::Token(k), "token")));
        output_args.push(ArgKind::Tensor);
    }
    let mutated: Vec<usize> = info
        .iter()
        .enumerate()
        .filter(|(_, i)| i.mutation_type == MutationType::MutatedOutGraph)
        .map(|(j, _)| j)
        .collect();
    let updated_name = |names: &mut Names, p: usize| {
        let hint = graph
            .inputs
            .get(p)
            .and_then(|i| i.update_hint.clone())
            .unwrap_or_else(|| Arc::from(dump_name(p)));
        names.of(ValueId::Updated(p), &hint)
    };
    for &j in &mutated {
        let p = flat.get(j).copied().unwrap_or(j);
        output_names.push(Some(updated_name(&mut names, p)));
        output_args.push(ArgKind::Tensor);
    }

    let (num_user_outputs, loss, gradients) = match flavour {
        Flavour::Inference => {
            for out in &graph.outputs {
                let (name, arg) = match &out.value {
                    OutputValue::Input(p) => {
                        let is_updated = flat_index.get(p).is_some_and(|j| mutated.contains(j));
                        let arg = graph
                            .inputs
                            .get(*p)
                            .map_or(ArgKind::Tensor, |i| i.arg.clone());
                        let name = if is_updated {
                            Some(updated_name(&mut names, *p))
                        } else {
                            graph_name(*p)
                        };
                        (name, arg)
                    }
                    OutputValue::Tensor { object, hint } => (
                        Some(names.of(ValueId::Tensor(*object), hint)),
                        ArgKind::Tensor,
                    ),
                    OutputValue::Symbolic { node, hint, kind } => {
                        (Some(names.of(ValueId::Symbolic(*node), hint)), kind.clone())
                    }
                    OutputValue::Constant(c) => (None, ArgKind::Constant(c.clone())),
                };
                output_names.push(name);
                output_args.push(arg);
            }
            (graph.outputs.len(), None, Vec::new())
        }
        Flavour::Joint => {
            output_names.push(Some(names.of(ValueId::Loss, "loss")));
            output_args.push(ArgKind::Tensor);
            // `flattened_joint` returns a gradient for every grad-requiring
            // argument, parameters and buffers first (they come first).
            let gradients: Vec<usize> = flat
                .iter()
                .enumerate()
                .filter(|(_, &p)| {
                    graph
                        .inputs
                        .get(p)
                        .is_some_and(|i| i.requires_grad && i.arg == ArgKind::Tensor)
                })
                .map(|(j, _)| j)
                .collect();
            for &j in &gradients {
                let p = flat.get(j).copied().unwrap_or(j);
                let hint = format!("{}_grad", dump_name(p));
                output_names.push(Some(names.of(ValueId::Gradient(p), &hint)));
                output_args.push(ArgKind::Tensor);
            }
            (1, Some(0), gradients)
        }
    };
    FunctionalGraph {
        input_names,
        output_names,
        inputs,
        output_args,
        num_tokens,
        mutated: mutated.into_iter().map(position).collect(),
        gradients: gradients.into_iter().map(position).collect(),
        num_user_outputs,
        loss,
    }
}

/// Python's `seq[start:stop]`: out-of-range bounds are clamped.
pub(super) fn py_slice<T>(seq: &[T], start: usize, stop: usize) -> &[T] {
    let stop = stop.min(seq.len());
    seq.get(start.min(stop)..stop).unwrap_or(&[])
}

/// A dict key from an output name; Python's `json.dumps` writes a `None` key as `"null"`.
pub(super) fn key(name: Option<&String>) -> String {
    name.cloned().unwrap_or_else(|| "null".to_owned())
}
