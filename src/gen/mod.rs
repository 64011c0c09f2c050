//! Synthetic graph dumps for benchmarks and replays: valid, realistic,
//! deterministic, of any size.
//!
//! [`generate`] writes one training step of a pre-LN transformer decoder the
//! way `make_fx(pre_dispatch=True)` records it (format v1): parameters, then
//! buffers, then user inputs; per block a LayerNorm (`native_layer_norm` and
//! its three `getitem`s), linears as `view`/`t`/`addmm`/`view`, a fused QKV
//! projection `split` into three views, single-head attention (`transpose`,
//! `bmm`, `_softmax`), an MLP whose activation is `gelu`, `relu` or an
//! in-place `relu_`, residual adds, and a kv cache written under `no_grad`
//! (`index_copy_` into one buffer, `copy_` into a `slice` of the other) whose
//! present slice is returned. Around the blocks: a step counter (`add_` on a
//! buffer), two overlapping views of one base passed as inputs, one of them
//! mutated (AOTAutograd needs a synthetic base), and the last hidden state
//! returned `unbind` into views.
//!
//! [`edit`] derives the next version of a dump as a recompilation loop would
//! be handed it, and the result is as valid as its input. Tensor ids and
//! storage ids stay numbered in order of first appearance (format §7, §8.1),
//! so an edit that adds a storage or an object renumbers everything after it,
//! exactly as a fresh trace would.
//!
//! Everything is a pure function of the options and seeds: the same seed
//! gives the same dump, byte for byte.
//!
//! The generator builds and edits [`ir::Graph`](crate::ir::Graph)s, the
//! model the loader produces; [`ir::write`](crate::ir::write) turns them
//! into dumps. This file holds the entry points and the `Draft` they
//! work on; `model` writes the decoder with the `builder`, `editor` derives
//! versions, `ids` keeps them canonical, and `sizes`, `tensor` and `rng`
//! are what they all share.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::ir::dtype::itemsize;
use crate::ir::expr::{ExprError, SizeExpr};
use crate::ir::{
    Arg, Graph, InputKind, Node, NodeOp, NodeStructure, Operator, Operators, TensorMeta, Value, F64,
};
use crate::schema::{builtin_parsed, builtin_tags};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Approximate number of nodes (the graph is whole blocks, and at least one).
    pub nodes: usize,
    /// Seed of the model's sizes.
    pub seed: u64,
    /// Symbolic sequence and window lengths (format §3) instead of integers.
    pub dynamic_shapes: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            nodes: 1_000,
            seed: 0,
            dynamic_shapes: false,
        }
    }
}

/// Why the generator cannot write or edit a dump.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    /// No node admits the edit.
    #[error("no node of this dump admits a `{0}` edit")]
    NoCandidate(EditKind),
    /// The dump is not one the generator wrote.
    #[error("not a dump the generator can edit: {0}")]
    Malformed(String),
    /// A size expression overflowed.
    #[error(transparent)]
    Expr(#[from] ExprError),
}

/// The kinds of edit [`edit`] makes, each what a recompilation typically sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EditKind {
    /// One input's memory layout flips between row-major and "dimension 1
    /// outermost" (a parameter stored transposed, activations stored
    /// sequence-first); a `t` view of it follows.
    TensorMetadata,
    /// One operator swapped for another of the same signature
    /// (`gelu` ↔ `relu`, `add` ↔ `sub`); the node keeps its name.
    Op,
    /// Two view inputs of one base move from overlapping to disjoint or back:
    /// one input's storage offset changes, and with it whether AOTAutograd
    /// needs a synthetic base.
    InputAliasing,
    /// One input stops being a view of a shared base (its own storage) or
    /// becomes one again; storage ids after it are renumbered.
    InputStorage,
    /// One user input's `requires_grad` flips.
    RequiresGrad,
    /// A `mul` by a constant is inserted after an intermediate and its users
    /// rewired; tensor and storage ids after it are renumbered.
    AddNode,
    /// A `mul` by a constant whose removal changes no other value is
    /// removed and its users read its input instead (the reverse of
    /// `AddNode`); ids after it are renumbered.
    RemoveNode,
    /// As `AddNode`, and then every call is renamed as a fresh FX trace
    /// names it: `mul_3` inserted before `mul_4` makes that `mul_5`, and
    /// so on for every later node of the same op.
    AddNodeRenumbered,
}

impl EditKind {
    /// Every kind, in the order `--kinds` lists them.
    pub const ALL: [EditKind; 8] = [
        EditKind::TensorMetadata,
        EditKind::Op,
        EditKind::InputAliasing,
        EditKind::InputStorage,
        EditKind::RequiresGrad,
        EditKind::AddNode,
        EditKind::RemoveNode,
        EditKind::AddNodeRenumbered,
    ];

    /// The kind's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EditKind::TensorMetadata => "tensor-metadata",
            EditKind::Op => "op",
            EditKind::InputAliasing => "input-aliasing",
            EditKind::InputStorage => "input-storage",
            EditKind::RequiresGrad => "requires-grad",
            EditKind::AddNode => "add-node",
            EditKind::RemoveNode => "remove-node",
            EditKind::AddNodeRenumbered => "add-node-renumbered",
        }
    }

    /// Relative frequency in an [`EditSequence`]: metadata and op edits
    /// dominate real recompilations.
    fn weight(self) -> u64 {
        match self {
            EditKind::TensorMetadata | EditKind::Op => 3,
            EditKind::InputAliasing
            | EditKind::InputStorage
            | EditKind::RequiresGrad
            | EditKind::AddNode
            | EditKind::RemoveNode
            | EditKind::AddNodeRenumbered => 1,
        }
    }
}

impl fmt::Display for EditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EditKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EditKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EditKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown edit kind `{s}` (one of {})", names.join(", "))
            })
    }
}

/// Generates one dump (see the module documentation for what it contains).
pub fn generate(opts: &GenOptions) -> Result<Graph, GenError> {
    let mut rng = SplitMix64::new(opts.seed);
    let dims = Dims::choose(&mut rng, opts.dynamic_shapes);
    let blocks = block_count(opts.nodes, opts.dynamic_shapes);
    let activations: Vec<Activation> = (0..blocks).map(|_| Activation::choose(&mut rng)).collect();
    let mut draft = decoder(opts, &dims, &activations)?;
    normalize_ids(&mut draft);
    Ok(draft.close())
}

/// The next version of `graph` after one edit of `kind`, which `seed`
/// places. The graph's `description` says what was edited.
pub fn edit(graph: &Graph, kind: EditKind, seed: u64) -> Result<Graph, GenError> {
    let mut rng = SplitMix64::new(seed ^ (kind as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = Draft::open(graph);
    let what = match kind {
        EditKind::TensorMetadata => edit_layout(&mut out, &mut rng)?,
        EditKind::Op => edit_op(&mut out, &mut rng)?,
        EditKind::InputAliasing => edit_overlap(&mut out, &mut rng)?,
        EditKind::InputStorage => edit_storage(&mut out, &mut rng)?,
        EditKind::RequiresGrad => edit_requires_grad(&mut out, &mut rng)?,
        EditKind::AddNode => edit_add_node(&mut out, &mut rng)?,
        EditKind::RemoveNode => edit_remove_node(&mut out, &mut rng)?,
        EditKind::AddNodeRenumbered => {
            let what = edit_add_node(&mut out, &mut rng)?;
            let renamed = rename_as_fx(&mut out);
            format!("{what} (named before renumbering), {renamed} nodes renamed")
        }
    };
    set_description(&mut out, &format!("{kind}: {what}"));
    Ok(out.close())
}

/// A graph being built or edited: its nodes still open, since an
/// [`ir::Node`](Node) is immutable once built (its fingerprint taken).
pub(super) struct Draft {
    /// Everything but the nodes (its `nodes` stay empty while open).
    pub(super) graph: Graph,
    pub(super) nodes: Vec<Open>,
}

/// A node of a [`Draft`].
#[derive(Clone, Debug)]
pub(super) struct Open {
    pub(super) s: NodeStructure,
    pub(super) val: Value,
}

impl Draft {
    pub(super) fn open(graph: &Graph) -> Draft {
        let mut graph = graph.clone();
        let nodes = std::mem::take(&mut graph.nodes)
            .into_iter()
            .map(|n| {
                let (s, val) = n.into_parts();
                Open { s, val }
            })
            .collect();
        Draft { graph, nodes }
    }

    pub(super) fn close(self) -> Graph {
        let mut graph = self.graph;
        graph.nodes = self
            .nodes
            .into_iter()
            .map(|o| Node::new(o.s, o.val))
            .collect();
        graph
    }
}

/// A generated dump followed by an endless stream of edits of it, one kind
/// at a time drawn from `kinds` (weighted towards metadata and op edits).
/// Lazy, so long sequences of large graphs never sit in memory at once; it
/// ends after the first error.
pub struct EditSequence {
    state: SequenceState,
    kinds: Vec<EditKind>,
    rng: SplitMix64,
}

enum SequenceState {
    Start(GenOptions),
    At(Box<Graph>),
    Done,
}

impl EditSequence {
    /// The versions of a generated dump, each an edit of the one before.
    pub fn new(opts: &GenOptions, seed: u64) -> EditSequence {
        EditSequence::with_kinds(opts, seed, &EditKind::ALL)
    }

    /// Only edits of `kinds` (all kinds when empty).
    pub fn with_kinds(opts: &GenOptions, seed: u64, kinds: &[EditKind]) -> EditSequence {
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            kinds = EditKind::ALL.to_vec();
        }
        EditSequence {
            state: SequenceState::Start(opts.clone()),
            kinds,
            rng: SplitMix64::new(seed),
        }
    }

    fn step(&mut self, current: &Graph) -> Result<Graph, GenError> {
        let total: u64 = self.kinds.iter().map(|k| k.weight()).sum();
        let mut pick = self.rng.below(total);
        let start = self
            .kinds
            .iter()
            .position(|k| {
                let hit = pick < k.weight();
                pick = pick.saturating_sub(k.weight());
                hit
            })
            .unwrap_or(0);
        let seed = self.rng.next_u64();
        // A kind with no candidate left gives way to the next one; with none
        // at all, the step resubmits the same dump.
        for k in 0..self.kinds.len() {
            let Some(&kind) = self.kinds.get((start + k) % self.kinds.len()) else {
                continue;
            };
            match edit(current, kind, seed) {
                Err(GenError::NoCandidate(_)) => continue,
                other => return other,
            }
        }
        Ok(current.clone())
    }
}

impl Iterator for EditSequence {
    type Item = Result<Graph, GenError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match std::mem::replace(&mut self.state, SequenceState::Done) {
            SequenceState::Start(opts) => generate(&opts),
            SequenceState::At(current) => self.step(&current),
            SequenceState::Done => return None,
        };
        if let Ok(graph) = &next {
            self.state = SequenceState::At(Box::new(graph.clone()));
        }
        Some(next)
    }
}

/// The generated dump and `steps` edits of it.
pub fn edit_sequence(opts: &GenOptions, steps: usize, seed: u64) -> Result<Vec<Graph>, GenError> {
    EditSequence::new(opts, seed).take(steps + 1).collect()
}

mod builder;
mod editor;
mod ids;
mod model;
mod rng;
mod sizes;
mod tensor;
#[cfg(test)]
mod tests;

use builder::*;
use editor::*;
use ids::*;
use model::*;
use rng::*;
use sizes::*;
use tensor::*;
