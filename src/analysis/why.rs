//! The evidence behind the analysis' answers, for reports: which nodes
//! mutated an input (and the grad mode there), and the chain of view ops
//! from an aliased output back to its base. None of it is a PyTorch field.

use std::sync::Arc;

use serde::Serialize;

use super::trace::{AliasTrace, OutputSlot};

/// One write that reached an input's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MutationSite {
    /// Index of the node in the graph.
    pub node: usize,
    /// Grad mode at the write.
    pub grad_enabled: bool,
}

/// Per placeholder, the data writes that reach its storage (through the
/// input itself or any view of it), in graph order, and the `resize_` nodes.
pub fn input_mutations(trace: &AliasTrace) -> Vec<Vec<MutationSite>> {
    trace
        .inputs
        .iter()
        .map(|input| {
            let Some(storage) = input
                .and_then(|o| trace.objects.get(o))
                .map(|o| o.functional_storage)
            else {
                return Vec::new();
            };
            let on_storage = |o: usize| {
                trace
                    .objects
                    .get(o)
                    .is_some_and(|x| x.functional_storage == storage)
            };
            let mut sites: Vec<MutationSite> = trace
                .writes
                .iter()
                .filter(|w| on_storage(w.object))
                .map(|w| MutationSite {
                    node: w.node,
                    grad_enabled: w.grad_enabled,
                })
                .collect();
            sites.dedup();
            sites
        })
        .collect()
}

/// Where an output's memory comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseOf {
    /// Placeholder position.
    Input(usize),
    /// The node that made the base (an intermediate).
    Node(usize),
}

/// An aliased output's base and the view ops from it, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewChain {
    /// Where the output's memory comes from.
    pub base: BaseOf,
    /// The view ops from the base to the output, in order.
    pub view_chain: Vec<Arc<str>>,
}

/// Per output: its base and view chain when it is a view or an input itself.
pub fn output_chains(trace: &AliasTrace) -> Vec<Option<ViewChain>> {
    let input_of = |o: usize| trace.inputs.iter().position(|i| *i == Some(o));
    trace
        .outputs
        .iter()
        .map(|slot| {
            let OutputSlot::Tensor(o) = *slot else {
                return None;
            };
            let object = trace.objects.get(o)?;
            if let Some(i) = input_of(o) {
                return Some(ViewChain {
                    base: BaseOf::Input(i),
                    view_chain: Vec::new(),
                });
            }
            let base = object.base?;
            let base_object = trace.objects.get(base)?;
            Some(ViewChain {
                base: match input_of(base) {
                    Some(i) => BaseOf::Input(i),
                    None => BaseOf::Node(base_object.first_node),
                },
                view_chain: trace.view_chain(o),
            })
        })
        .collect()
}
