//! The checked graph: what a valid dump says, with names resolved and
//! expressions parsed. Nothing here knows about salsa or files.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::pytree::TreeSpec;
use crate::schema::Schema;
use serde::Serialize;

use super::expr::SizeExpr;

/// How the call is to be analysed (format §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Config {
    /// `config.keep_input_mutations`: in-place input writes stay in the graph.
    pub keep_input_mutations: bool,
    /// `config.is_train`: the function was traced for training.
    pub is_train: bool,
    /// `config.grad_enabled`: grad mode when the function was traced.
    pub grad_enabled: bool,
    /// `config.dynamic_shapes`: sizes may be symbolic.
    pub dynamic_shapes: bool,
    /// `config.num_params_buffers`: how many leading inputs are parameters and buffers.
    pub num_params_buffers: usize,
    /// The `aot_export_module` flavours asked for, in order (absent: inference only).
    pub export: Vec<Flavour>,
    /// `config.tracer`: how the dump was made (informational).
    #[serde(skip)]
    pub tracer: Option<String>,
    /// `config.torch_version`: the PyTorch release it came from (informational).
    #[serde(skip)]
    pub torch_version: Option<String>,
}

/// Which graph `aot_export_module` traces: the forward under `no_grad`, or
/// forward and backward of a scalar loss (`trace_joint=True`) under `enable_grad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// `aot_export_module(..., trace_joint=False)`, under `no_grad`.
    Inference,
    /// `aot_export_module(..., trace_joint=True)`: forward and backward.
    Joint,
}

impl Flavour {
    /// Both flavours, in the conformance data's order.
    pub const ALL: [Flavour; 2] = [Flavour::Inference, Flavour::Joint];

    /// The flavour's name in the dump.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Inference => "inference",
            Flavour::Joint => "joint",
        }
    }

    /// The grad mode export runs the flavour in, whatever the dump's.
    pub fn grad_enabled(self) -> bool {
        self == Flavour::Joint
    }
}

/// A shape symbol and what the shape environment knows of it (format §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Symbol {
    /// The value the symbol had when traced.
    pub hint: i64,
    /// Lower bound, if any.
    pub min: Option<i64>,
    /// Upper bound, if any.
    pub max: Option<i64>,
    /// Dynamo's source for it (`L['x'].size()[0]`).
    pub source: Option<String>,
    /// What tracing proved it equal to; the dump's expressions already
    /// have it applied (format §3), so only the writer reads it.
    #[serde(skip)]
    pub replaced_by: Option<Replacement>,
}

/// The value or expression a symbol was replaced by (format §3, `replaced_by`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Replacement {
    /// An integer.
    Int(i64),
    /// An expression, as the dump wrote it.
    Expr(String),
}

/// The dump's symbols, by name.
pub type Symbols = BTreeMap<String, Symbol>;

/// One operator of the dump: its schema text and tags (format §4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The dump's schema, parsed once when the dump is loaded.
    pub schema: Arc<Schema>,
    /// `None` when the dump had no `operator_tags` (semantics §3.1.3 then decides).
    pub tags: Option<Vec<String>>,
}

/// The dump's operators, by target.
pub type Operators = BTreeMap<String, Operator>;

/// What a placeholder is (format §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A module parameter.
    Parameter,
    /// A module buffer.
    Buffer,
    /// An argument of the user function.
    UserInput,
    /// An effect token.
    Token,
}

/// What a node is, apart from the value it produced. This is the part of a
/// node that rarely changes between recompilations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeStructure {
    /// FX's node name.
    pub name: Arc<str>,
    /// FX's `op`.
    pub op: NodeOp,
    /// The called operator (`aten.add.Tensor`), or the FX target.
    pub target: Arc<str>,
    /// Positional arguments.
    pub args: Vec<Arg>,
    /// Keyword arguments, in order.
    pub kwargs: Vec<(String, Arg)>,
    /// Identity of the tensor object the node produced (format §8.1).
    pub tensor_id: Option<u64>,
    /// The identity of the tensor's autograd `_base`, for a view.
    pub base_tensor_id: Option<u64>,
}

/// FX's node kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeOp {
    /// An input of the graph.
    Placeholder {
        /// What the input is.
        kind: InputKind,
        /// A parameter's or buffer's module path.
        fqn: Option<String>,
        /// Dynamo's source for the input (`L['x']`).
        source: Option<String>,
    },
    /// A call of an operator or Python callable.
    CallFunction,
    /// A module attribute read.
    GetAttr,
    /// The graph's return.
    Output,
}

/// An argument (format §6). Node references are by name so that inserting a
/// node does not change the arguments of the nodes around it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// Another node, by name.
    Node(Arc<str>),
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(F64),
    /// A `bool`.
    Bool(bool),
    /// `None`.
    None,
    /// A `str`.
    Str(String),
    /// A list or tuple.
    List(Vec<Arg>),
    /// `{"dtype": ...}`, `{"device": ...}`, `{"memory_format": ...}`, `{"layout": ...}`.
    Tagged(String, String),
}

/// An `f64` compared bit for bit, so values can live in salsa.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct F64(pub u64);

impl F64 {
    /// Wraps `v` by its bits (so `0.0` and `-0.0`, or two NaNs, may differ).
    pub fn new(v: f64) -> Self {
        F64(v.to_bits())
    }
    /// The float.
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// The value a node produced (format §7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// `None`.
    None,
    /// A tensor.
    Tensor(TensorMeta),
    /// An `int`.
    Int(i64),
    /// A `SymInt`, as its expression.
    SymInt(SizeExpr),
    /// A `float`.
    Float(F64),
    /// A `SymFloat`, as PyTorch prints it.
    SymFloat(String),
    /// A `bool`.
    Bool(bool),
    /// A `SymBool`, as PyTorch prints it.
    SymBool(String),
    /// A `str`.
    Str(String),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    /// A non-tensor value in the dump's own encoding (format §7:
    /// `{"int": 3}`, `{"symint": "s0"}`, ...), as PyTorch's results print
    /// non-tensor arguments; `None` for a tensor, which has a writer of its own.
    pub fn scalar_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Tensor(_) => return None,
            // A SymInt known to be constant is written as an int.
            Value::SymInt(e) => match e.as_int() {
                Some(v) => serde_json::json!({ "int": v }),
                None => super::write::value_json(self),
            },
            Value::List(items) => serde_json::json!({
                "list": items
                    .iter()
                    .map(|v| v.scalar_json().unwrap_or(serde_json::Value::Null))
                    .collect::<Vec<_>>()
            }),
            other => super::write::value_json(other),
        })
    }

    /// The tensor, if the value is one.
    pub fn as_tensor(&self) -> Option<&TensorMeta> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }
}

/// A tensor value, split by what the analyses read: geometry (overlap,
/// tangents, metadata mutations) and autograd facts (output classification).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorMeta {
    /// Where its elements are.
    pub geometry: Geometry,
    /// Its autograd facts.
    pub autograd: Autograd,
}

/// A tensor's layout in its storage (format §7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Geometry {
    /// Sizes.
    pub shape: Vec<SizeExpr>,
    /// Strides, in elements.
    pub stride: Vec<SizeExpr>,
    /// Offset into the storage, in elements.
    pub storage_offset: SizeExpr,
    /// PyTorch's dtype name.
    pub dtype: Arc<str>,
    /// The device (`cpu`, `cuda:0`).
    pub device: Arc<str>,
    /// The real storage it lives in (format §8.1).
    pub storage: u64,
    /// The storage's size, in bytes.
    pub storage_nbytes: SizeExpr,
    /// `torch.strided` or a sparse layout.
    pub layout: Arc<str>,
    /// A lazily conjugated view.
    pub is_conj: bool,
    /// A lazily negated view.
    pub is_neg: bool,
}

impl Geometry {
    /// A sparse layout.
    pub fn is_sparse(&self) -> bool {
        self.layout.starts_with("sparse")
    }
}

/// A tensor's autograd facts as traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Autograd {
    /// `requires_grad`.
    pub requires_grad: bool,
    /// `is_leaf`.
    pub is_leaf: bool,
    /// `_is_view()`.
    pub is_view: bool,
    /// What its `grad_fn` is.
    pub grad_fn: GradFn,
}

/// The kind of a value's autograd node (format §7, key `grad_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GradFn {
    /// No `grad_fn`.
    None,
    /// A PyTorch `grad_fn`.
    Builtin,
    /// A custom `autograd.Function`.
    Custom,
    /// The dump predates the key: fall back to `is_leaf` (semantics §3.3.4).
    Unknown,
}

/// A base of a view input that is not necessarily an input itself (format §8.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputBase {
    /// The base's tensor identity.
    pub tensor_id: u64,
    /// The base tensor.
    pub val: TensorMeta,
}

/// A whole checked dump, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// The graph name.
    pub name: String,
    /// What the graph is.
    pub description: String,
    /// How it was traced.
    pub config: Config,
    /// Its symbols.
    pub symbols: Symbols,
    /// Schemas and tags of its operators.
    pub operators: Operators,
    /// Its nodes, in graph order.
    pub nodes: Vec<Node>,
    /// `_base`s of view inputs that are not inputs themselves.
    pub input_bases: Vec<InputBase>,
    /// `in_spec` and `out_spec`, read and checked against the graph at load.
    pub in_spec: Option<TreeSpec>,
    /// The result spec.
    pub out_spec: Option<TreeSpec>,
}

/// A node and the value it produced, immutable once built so that its
/// fingerprint always describes it. Structure and value are shared, not
/// copied, with other versions of the graph and with the database; the
/// fingerprint sits beside them, so comparing two versions reads a compact
/// array of fingerprints and no unchanged node.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Node {
    fingerprint: u64,
    structure: Arc<NodeStructure>,
    val: Arc<Value>,
}

impl Node {
    /// A node; its fingerprint is taken here.
    pub fn new(structure: NodeStructure, val: Value) -> Node {
        Node::from_shared(Arc::new(structure), Arc::new(val))
    }

    /// A node of shared parts.
    pub fn from_shared(structure: Arc<NodeStructure>, val: Arc<Value>) -> Node {
        Node {
            fingerprint: fingerprint(&structure, &val),
            structure,
            val,
        }
    }

    /// Op, target, args and identities.
    pub fn structure(&self) -> &NodeStructure {
        &self.structure
    }

    /// The value it produced.
    pub fn val(&self) -> &Value {
        &self.val
    }

    /// The structure, shared.
    pub fn shared_structure(&self) -> &Arc<NodeStructure> {
        &self.structure
    }

    /// The value, shared.
    pub fn shared_val(&self) -> &Arc<Value> {
        &self.val
    }

    /// A hash of structure and value, taken when the node is built: two
    /// versions of a graph are compared node by node through it, without
    /// walking the nodes again.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Structure and value (copied where another graph shares them).
    pub fn into_parts(self) -> (NodeStructure, Value) {
        (
            Arc::unwrap_or_clone(self.structure),
            Arc::unwrap_or_clone(self.val),
        )
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("structure", self.structure())
            .field("val", self.val())
            .finish()
    }
}

/// The fingerprint of a node with this structure and value. Keyed per
/// process, so that no dump can be built to collide with another.
pub fn fingerprint(structure: &NodeStructure, val: &Value) -> u64 {
    use std::hash::BuildHasher;
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    KEYS.get_or_init(std::hash::RandomState::new)
        .hash_one((structure, val))
}
