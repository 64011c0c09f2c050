//! The checked graph: what a valid dump says, with names resolved and
//! expressions parsed. Nothing here knows about salsa or files.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pytree::TreeSpec;
use crate::schema::Schema;
use serde::Serialize;

use super::expr::SizeExpr;

/// How the call is to be analysed (format §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Config {
    pub keep_input_mutations: bool,
    pub is_train: bool,
    pub grad_enabled: bool,
    pub dynamic_shapes: bool,
    pub num_params_buffers: usize,
    /// The `aot_export_module` flavours asked for, in order (absent: inference only).
    pub export: Vec<Flavour>,
}

/// Which graph `aot_export_module` traces: the forward under `no_grad`, or
/// forward and backward of a scalar loss (`trace_joint=True`) under `enable_grad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    Inference,
    Joint,
}

impl Flavour {
    pub const ALL: [Flavour; 2] = [Flavour::Inference, Flavour::Joint];

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
    pub hint: i64,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub source: Option<String>,
}

pub type Symbols = BTreeMap<String, Symbol>;

/// One operator of the dump: its schema text and tags (format §4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The dump's schema, parsed once when the dump is loaded.
    pub schema: Arc<Schema>,
    /// `None` when the dump had no `operator_tags` (semantics §3.1.3 then decides).
    pub tags: Option<Vec<String>>,
}

pub type Operators = BTreeMap<String, Operator>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Parameter,
    Buffer,
    UserInput,
    Token,
}

/// What a node is, apart from the value it produced. This is the part of a
/// node that rarely changes between recompilations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeStructure {
    pub name: Arc<str>,
    pub op: NodeOp,
    pub target: Arc<str>,
    pub args: Vec<Arg>,
    pub kwargs: Vec<(String, Arg)>,
    /// Identity of the tensor object the node produced (format §8.1).
    pub tensor_id: Option<u64>,
    pub base_tensor_id: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeOp {
    Placeholder {
        kind: InputKind,
        fqn: Option<String>,
        source: Option<String>,
    },
    CallFunction,
    GetAttr,
    Output,
}

/// An argument (format §6). Node references are by name so that inserting a
/// node does not change the arguments of the nodes around it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    Node(Arc<str>),
    Int(i64),
    Float(F64),
    Bool(bool),
    None,
    Str(String),
    List(Vec<Arg>),
    /// `{"dtype": ...}`, `{"device": ...}`, `{"memory_format": ...}`, `{"layout": ...}`.
    Tagged(String, String),
}

/// An `f64` compared bit for bit, so values can live in salsa.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct F64(pub u64);

impl F64 {
    pub fn new(v: f64) -> Self {
        F64(v.to_bits())
    }
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// The value a node produced (format §7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    None,
    Tensor(TensorMeta),
    Int(i64),
    SymInt(SizeExpr),
    Float(F64),
    SymFloat(String),
    Bool(bool),
    SymBool(String),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    /// A non-tensor value in the dump's own encoding (format §7:
    /// `{"int": 3}`, `{"symint": "s0"}`, ...), as PyTorch's results print
    /// non-tensor arguments; `None` for a tensor, which has a writer of its own.
    pub fn scalar_json(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        Some(match self {
            Value::Tensor(_) => return None,
            Value::None => serde_json::Value::Null,
            Value::Int(v) => json!({ "int": v }),
            Value::SymInt(e) => match e.as_int() {
                // A SymInt known to be constant is written as an int.
                Some(v) => json!({ "int": v }),
                None => json!({ "symint": e.to_json() }),
            },
            Value::Float(v) => match v.get() {
                f if f.is_finite() => json!({ "float": f }),
                f if f.is_nan() => json!({ "float": "nan" }),
                f if f > 0.0 => json!({ "float": "inf" }),
                _ => json!({ "float": "-inf" }),
            },
            Value::SymFloat(e) => json!({ "symfloat": e }),
            Value::Bool(v) => json!({ "bool": v }),
            Value::SymBool(e) => json!({ "symbool": e }),
            Value::Str(v) => json!({ "str": v }),
            Value::List(items) => json!({
                "list": items
                    .iter()
                    .map(|v| v.scalar_json().unwrap_or(serde_json::Value::Null))
                    .collect::<Vec<_>>()
            }),
        })
    }

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
    pub geometry: Geometry,
    pub autograd: Autograd,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Geometry {
    pub shape: Vec<SizeExpr>,
    pub stride: Vec<SizeExpr>,
    pub storage_offset: SizeExpr,
    pub dtype: Arc<str>,
    pub device: Arc<str>,
    pub storage: u64,
    pub storage_nbytes: SizeExpr,
    pub layout: Arc<str>,
    pub is_conj: bool,
    pub is_neg: bool,
}

impl Geometry {
    pub fn is_sparse(&self) -> bool {
        self.layout.starts_with("sparse")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Autograd {
    pub requires_grad: bool,
    pub is_leaf: bool,
    pub is_view: bool,
    pub grad_fn: GradFn,
}

/// The kind of a value's autograd node (format §7, key `grad_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GradFn {
    None,
    Builtin,
    Custom,
    /// The dump predates the key: fall back to `is_leaf` (semantics §3.3.4).
    Unknown,
}

/// A base of a view input that is not necessarily an input itself (format §8.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputBase {
    pub tensor_id: u64,
    pub val: TensorMeta,
}

/// A whole checked dump, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    pub name: String,
    pub description: String,
    pub config: Config,
    pub symbols: Symbols,
    pub operators: Operators,
    pub nodes: Vec<Node>,
    pub input_bases: Vec<InputBase>,
    /// `in_spec` and `out_spec`, read and checked against the graph at load.
    pub in_spec: Option<TreeSpec>,
    pub out_spec: Option<TreeSpec>,
}

/// A node and the value it produced, immutable once built so that its
/// fingerprint always describes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    structure: NodeStructure,
    val: Value,
    fingerprint: u64,
}

impl Node {
    pub fn new(structure: NodeStructure, val: Value) -> Node {
        let fingerprint = fingerprint(&structure, &val);
        Node {
            structure,
            val,
            fingerprint,
        }
    }

    pub fn structure(&self) -> &NodeStructure {
        &self.structure
    }

    pub fn val(&self) -> &Value {
        &self.val
    }

    /// A hash of structure and value, taken when the node is built: two
    /// versions of a graph are compared node by node through it, without
    /// walking the nodes again.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub fn into_parts(self) -> (NodeStructure, Value) {
        (self.structure, self.val)
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
