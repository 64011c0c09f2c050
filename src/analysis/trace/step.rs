//! What the trace reads of each node, split in two so that an edit re-runs
//! only what it changes:
//!
//! * a [`Step`] per node, decided from the node and its operator alone: the
//!   schema bound to its arguments, what its returns alias. It holds no node
//!   names and no tensor identities, so renaming a node, renumbering
//!   identities or swapping `add` for `sub` leaves it equal;
//! * the graph's [`Links`]: which node each argument names, and each node's
//!   tensor identity, by position.
//!
//! The trace itself is then a fold over steps and links that only moves indices.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::GRAD_MODE_SWITCH;
use crate::analysis::ops::{view_step_name, OpInfo};
use crate::ir::{Arg, NodeOp, NodeStructure};
use crate::schema::{is_python_callable, OpClass, ReturnKind};

/// One node as the trace reads it. A node's *refs* are the nodes its
/// arguments name, in order (args, then kwargs; a list's items in place):
/// a step speaks of them by their place in that order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// An input.
    Placeholder,
    /// The graph's return.
    Output(Vec<OutputItem>),
    /// A `get_attr`, or a Python callable: a tensor it returns is fresh.
    Fresh,
    /// `torch._C._set_grad_enabled(mode)`.
    GradMode(bool),
    /// `getitem(node, k)`: element `k` of the value of the node ref 0 names.
    GetItem(i64),
    /// An operator call, read from its schema.
    Operator(OperatorStep),
    /// The node cannot be traced: reported as invalid at `field` when the
    /// trace reaches it (not before, so the first error in graph order wins).
    Invalid {
        /// Where in the node.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// One item of the output node's list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OutputItem {
    /// A node, by the index of the ref.
    Ref(u32),
    /// A literal, by Python type name.
    Literal(&'static str),
}

/// An operator call: the facts of its schema the trace reads, with the
/// node's arguments bound to the parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OperatorStep {
    /// What the operator does to aliasing.
    pub class: OpClass,
    /// Per schema parameter, the argument bound to it.
    pub params: Vec<Option<Bound>>,
    /// Parameters written.
    pub written: Vec<usize>,
    /// An `out=` variant (every written parameter keyword-only).
    pub out_variant: bool,
    /// What each return aliases.
    pub returns: Vec<ReturnKind>,
    /// A single `Tensor[]` return.
    pub returns_list: bool,
    /// `aten.detach` / `aten.detach_`.
    pub is_detach: bool,
    /// The view-replay step name PyTorch records, for an operator whose
    /// results can be views (none for the rest, so that swapping one plain
    /// operator for another changes nothing here).
    pub view_step: Option<Arc<str>>,
}

/// An argument bound to a parameter: where it is, and its refs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bound {
    /// Where the argument sits in the node, for messages.
    pub field: Field,
    /// Its refs, as a range of the node's refs.
    pub refs: Range<u32>,
}

/// Where an argument sits in a node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `args[k]`.
    Positional(u32),
    /// `kwargs.name`.
    Keyword(Arc<str>),
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Positional(k) => write!(f, "args[{k}]"),
            Field::Keyword(name) => write!(f, "kwargs.{name}"),
        }
    }
}

/// The step of `node`; `op` is its operator, resolved, when it calls one
/// (neither a Python callable nor a grad-mode switch nor `getitem`).
pub fn step(node: &NodeStructure, op: Option<&Result<OpInfo, String>>) -> Step {
    match &node.op {
        NodeOp::Placeholder { .. } => Step::Placeholder,
        NodeOp::Output => Step::Output(output_items(node)),
        NodeOp::GetAttr => Step::Fresh,
        NodeOp::CallFunction => match &*node.target {
            GRAD_MODE_SWITCH => match node.args.first() {
                Some(Arg::Bool(b)) => Step::GradMode(*b),
                _ => Step::Invalid {
                    field: "args[0]".to_owned(),
                    message: "_set_grad_enabled takes one bool".to_owned(),
                },
            },
            "_operator.getitem" => match (node.args.first(), node.args.get(1)) {
                (Some(Arg::Node(_)), Some(Arg::Int(k))) => Step::GetItem(*k),
                _ => Step::Fresh,
            },
            target if is_python_callable(target) => Step::Fresh,
            _ => match op {
                Some(Ok(op)) => Step::Operator(operator_step(node, op)),
                Some(Err(e)) => Step::Invalid {
                    field: "target".to_owned(),
                    message: e.clone(),
                },
                None => Step::Invalid {
                    field: "target".to_owned(),
                    message: format!("unknown operator `{}`", node.target),
                },
            },
        },
    }
}

/// Does `step` call an operator (so that [`step`] needs it resolved)?
pub fn calls_operator(node: &NodeStructure) -> bool {
    node.op == NodeOp::CallFunction
        && !matches!(&*node.target, GRAD_MODE_SWITCH | "_operator.getitem")
        && !is_python_callable(&node.target)
}

fn output_items(node: &NodeStructure) -> Vec<OutputItem> {
    let Some(Arg::List(items)) = node.args.first() else {
        return Vec::new();
    };
    let mut next = 0u32;
    items
        .iter()
        .map(|item| {
            let at = next;
            next = next.saturating_add(ref_count(item));
            match item {
                Arg::Node(_) => OutputItem::Ref(at),
                Arg::Int(_) => OutputItem::Literal("int"),
                Arg::Float(_) => OutputItem::Literal("float"),
                Arg::Bool(_) => OutputItem::Literal("bool"),
                Arg::None => OutputItem::Literal("NoneType"),
                Arg::Str(_) => OutputItem::Literal("str"),
                Arg::List(_) => OutputItem::Literal("list"),
                Arg::Tagged(tag, _) => OutputItem::Literal(match tag.as_str() {
                    "dtype" => "torch.dtype",
                    "device" => "torch.device",
                    "layout" => "torch.layout",
                    _ => "torch.memory_format",
                }),
            }
        })
        .collect()
}

/// Binds the node's args and kwargs to the schema's parameters as Python
/// does: positionals in order to the parameters that are not keyword-only,
/// keywords by name.
fn operator_step(node: &NodeStructure, op: &OpInfo) -> OperatorStep {
    let mut params: Vec<Option<Bound>> = vec![None; op.params.len()];
    let mut start = 0u32;
    let mut refs_of = |arg: &Arg| {
        let from = start;
        start = start.saturating_add(ref_count(arg));
        from..start
    };
    let positional = op.params.iter().enumerate().filter(|(_, p)| !p.kwarg_only);
    let mut positional = positional.map(|(p, _)| p);
    for (k, arg) in node.args.iter().enumerate() {
        let refs = refs_of(arg);
        if let Some(slot) = positional.next().and_then(|p| params.get_mut(p)) {
            let k = u32::try_from(k).unwrap_or(u32::MAX);
            *slot = Some(Bound {
                field: Field::Positional(k),
                refs,
            });
        }
    }
    for (name, arg) in &node.kwargs {
        let refs = refs_of(arg);
        if let Some(slot) = op
            .params
            .iter()
            .position(|p| &p.name == name)
            .and_then(|p| params.get_mut(p))
        {
            *slot = Some(Bound {
                field: Field::Keyword(Arc::from(name.as_str())),
                refs,
            });
        }
    }
    // Parameters left unbound at the end read as unbound anyway: trimmed,
    // so that `gelu(x)` and `relu(x)` make the same step.
    while params.last().is_some_and(Option::is_none) {
        params.pop();
    }
    let makes_views = matches!(
        op.class,
        OpClass::View { .. } | OpClass::UnsafeView | OpClass::InplaceView
    ) || op
        .returns
        .iter()
        .any(|r| matches!(r, ReturnKind::ViewOf(_)));
    OperatorStep {
        class: op.class,
        params,
        written: op.written.clone(),
        out_variant: op.is_out_variant(),
        returns: op.returns.clone(),
        returns_list: op.returns_list,
        is_detach: op.is_detach,
        view_step: makes_views.then(|| Arc::from(view_step_name(&node.target))),
    }
}

/// How many node references `arg` holds.
fn ref_count(arg: &Arg) -> u32 {
    match arg {
        Arg::Node(_) => 1,
        Arg::List(items) => items
            .iter()
            .fold(0u32, |n, item| n.saturating_add(ref_count(item))),
        _ => 0,
    }
}

/// A reference to a node, resolved by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ref<'a> {
    /// The node at this position.
    Node(u32),
    /// No node has this name (only in a graph edited past the loader's checks).
    Unknown(&'a str),
}

/// Every node's refs, resolved to positions, and its tensor identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Links {
    /// Where each node's refs start in `refs`; one entry more than nodes.
    starts: Vec<u32>,
    /// Positions; [`UNKNOWN`] for a name no node has, kept in `unknown`.
    refs: Vec<u32>,
    unknown: Vec<(u32, Arc<str>)>,
    /// Per node, the identity of the tensor object it produced.
    pub tensor_ids: Vec<Option<u64>>,
}

const UNKNOWN: u32 = u32::MAX;

/// What [`Links`] read of one node: its name, the names its arguments
/// give (in ref order) and its tensor identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRefs {
    /// The node's name.
    pub name: Arc<str>,
    /// The names of its refs, in order.
    pub refs: Vec<Arc<str>>,
    /// The identity of the tensor object it produced.
    pub tensor_id: Option<u64>,
}

impl NodeRefs {
    /// `node`'s refs.
    pub fn of(node: &NodeStructure) -> NodeRefs {
        fn walk(arg: &Arg, out: &mut Vec<Arc<str>>) {
            match arg {
                Arg::Node(name) => out.push(name.clone()),
                Arg::List(items) => items.iter().for_each(|a| walk(a, out)),
                _ => {}
            }
        }
        let mut refs = Vec::new();
        let args = node.args.iter().chain(node.kwargs.iter().map(|(_, a)| a));
        args.for_each(|a| walk(a, &mut refs));
        NodeRefs {
            name: node.name.clone(),
            refs,
            tensor_id: node.tensor_id,
        }
    }
}

impl Links {
    /// The links of a graph's nodes, in order. A name given twice means its
    /// last node, as everywhere else.
    pub fn of(nodes: &[&NodeRefs]) -> Links {
        let mut index: HashMap<&str, u32, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for (i, n) in nodes.iter().enumerate() {
            index.insert(&n.name, u32::try_from(i).unwrap_or(UNKNOWN));
        }
        let mut links = Links {
            starts: Vec::with_capacity(nodes.len() + 1),
            refs: Vec::with_capacity(nodes.len() * 2),
            unknown: Vec::new(),
            tensor_ids: nodes.iter().map(|n| n.tensor_id).collect(),
        };
        for node in nodes {
            links.starts.push(links.len_refs());
            for name in &node.refs {
                match index.get(&**name) {
                    Some(&j) => links.refs.push(j),
                    None => {
                        links.unknown.push((links.len_refs(), name.clone()));
                        links.refs.push(UNKNOWN);
                    }
                }
            }
        }
        links.starts.push(links.len_refs());
        links
    }

    fn len_refs(&self) -> u32 {
        u32::try_from(self.refs.len()).unwrap_or(UNKNOWN)
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let at = |k: usize| self.starts.get(k).map_or(0, |&s| s as usize);
        at(i)..at(i + 1)
    }

    fn resolve(&self, at: usize) -> Option<Ref<'_>> {
        match *self.refs.get(at)? {
            UNKNOWN => {
                let k = self
                    .unknown
                    .binary_search_by_key(&at, |(slot, _)| *slot as usize)
                    .ok()?;
                self.unknown.get(k).map(|(_, name)| Ref::Unknown(name))
            }
            j => Some(Ref::Node(j)),
        }
    }

    /// The refs of node `i`, in order.
    pub fn refs(&self, i: usize) -> impl DoubleEndedIterator<Item = Ref<'_>> + '_ {
        self.range(i).filter_map(|at| self.resolve(at))
    }

    /// Ref `k` of node `i`.
    pub fn get(&self, i: usize, k: u32) -> Option<Ref<'_>> {
        let range = self.range(i);
        let at = range
            .start
            .checked_add(k as usize)
            .filter(|at| range.contains(at))?;
        self.resolve(at)
    }
}
