//! Reading a graph dump (format v1) into a checked [`Graph`].
//!
//! Loading never stops at the first problem: every problem found is collected,
//! so `aotio check` can list them all. Each names the node and field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::diagnostic::{Diagnostic, LoadError};
use super::expr::SizeExpr;
use super::model::*;
use super::vocabulary;
use crate::schema::{builtin_schema, builtin_tags, Schema};

pub const FORMAT: &str = "aotio.graph";
pub const SUPPORTED_VERSION: i64 = 1;

/// Parses and checks a dump given as JSON text.
pub fn load_str(text: &str) -> Result<Graph, LoadError> {
    let json: Json = serde_json::from_str(text).map_err(|e| {
        LoadError::single(Diagnostic {
            line: Some(e.line()),
            column: Some(e.column()),
            ..Diagnostic::at(None, "", format!("not valid JSON: {e}"))
        })
    })?;
    load_json(&json)
}

/// Checks an already parsed dump.
pub fn load_json(json: &Json) -> Result<Graph, LoadError> {
    let mut loader = Loader::default();
    let graph = loader.graph(json);
    match graph {
        Some(g) if loader.diagnostics.is_empty() => Ok(g),
        _ => Err(LoadError {
            diagnostics: if loader.diagnostics.is_empty() {
                vec![Diagnostic::at(None, "", "invalid graph dump")]
            } else {
                loader.diagnostics
            },
        }),
    }
}

#[derive(Default)]
struct Loader {
    diagnostics: Vec<Diagnostic>,
    symbols: Symbols,
    /// Node name → position, filled as nodes are read, so a reference to a
    /// node not yet seen is a forward reference (a cycle in FX terms).
    seen: HashMap<Arc<str>, usize>,
    all_names: HashMap<String, usize>,
}

/// Where a value being read sits, for messages.
#[derive(Clone, Copy)]
struct At<'a> {
    node: Option<&'a str>,
}

impl Loader {
    fn error(&mut self, at: At<'_>, field: impl Into<String>, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::at(at.node, field, message));
    }

    fn graph(&mut self, json: &Json) -> Option<Graph> {
        let top = At { node: None };
        let Some(obj) = json.as_object() else {
            self.error(top, "", "a graph dump must be a JSON object");
            return None;
        };
        match obj.get("format").and_then(Json::as_str) {
            Some(FORMAT) => {}
            Some(other) => {
                self.error(
                    top,
                    "format",
                    format!("expected \"{FORMAT}\", found \"{other}\""),
                );
                return None;
            }
            None => {
                self.error(top, "format", format!("missing; expected \"{FORMAT}\""));
                return None;
            }
        }
        match obj.get("version").and_then(Json::as_i64) {
            Some(SUPPORTED_VERSION) => {}
            Some(v) => {
                self.error(
                    top,
                    "version",
                    format!("version {v} is not supported (this aotio reads version {SUPPORTED_VERSION})"),
                );
                return None;
            }
            None => {
                self.error(top, "version", "missing or not an integer");
                return None;
            }
        }
        let name = opt_str(obj, "name").unwrap_or_default().to_owned();
        let description = opt_str(obj, "description").unwrap_or_default().to_owned();
        let config = self.config(obj.get("config"));
        self.symbols = self.symbol_table(obj.get("symbols"));
        let operators = self.operators(obj);

        let nodes_json = match obj.get("nodes").and_then(Json::as_array) {
            Some(n) => n,
            None => {
                self.error(top, "nodes", "missing or not an array");
                return None;
            }
        };
        // Names first, so a reference to a later node can be told from a dangling one.
        for (i, n) in nodes_json.iter().enumerate() {
            if let Some(name) = n.get("name").and_then(Json::as_str) {
                self.all_names.entry(name.to_owned()).or_insert(i);
            }
        }
        let mut nodes = Vec::with_capacity(nodes_json.len());
        for (i, n) in nodes_json.iter().enumerate() {
            if let Some(node) = self.node(i, n) {
                nodes.push(node);
            }
        }
        self.check_node_order(&nodes);
        self.check_operators(&nodes, &operators);

        let input_bases = self.input_bases(obj.get("input_bases"));
        let spec = |k: &str| obj.get(k).filter(|v| !v.is_null()).cloned();
        Some(Graph {
            name,
            description,
            config: config?,
            symbols: std::mem::take(&mut self.symbols),
            operators,
            nodes,
            input_bases,
            in_spec: spec("in_spec"),
            out_spec: spec("out_spec"),
        })
    }

    fn config(&mut self, json: Option<&Json>) -> Option<Config> {
        let top = At { node: None };
        let Some(obj) = json.and_then(Json::as_object) else {
            self.error(top, "config", "missing or not an object");
            return None;
        };
        let flag = |this: &mut Self, key: &str, default: bool| match obj.get(key) {
            None => default,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                this.error(top, format!("config.{key}"), "must be true or false");
                default
            }
        };
        let keep_input_mutations = flag(self, "keep_input_mutations", false);
        let is_train = flag(self, "is_train", false);
        let grad_enabled = flag(self, "grad_enabled", true);
        let dynamic_shapes = flag(self, "dynamic_shapes", false);
        let num_params_buffers = match obj.get("num_params_buffers") {
            None => 0,
            Some(v) => match v.as_u64().and_then(|v| usize::try_from(v).ok()) {
                Some(n) => n,
                None => {
                    self.error(
                        top,
                        "config.num_params_buffers",
                        "must be a non-negative integer",
                    );
                    0
                }
            },
        };
        Some(Config {
            keep_input_mutations,
            is_train,
            grad_enabled,
            dynamic_shapes,
            num_params_buffers,
        })
    }

    fn symbol_table(&mut self, json: Option<&Json>) -> Symbols {
        let top = At { node: None };
        let mut out = BTreeMap::new();
        let Some(json) = json.filter(|j| !j.is_null()) else {
            return out;
        };
        let Some(obj) = json.as_object() else {
            self.error(top, "symbols", "must be an object");
            return out;
        };
        for (name, info) in obj {
            let field = format!("symbols.{name}");
            let Some(info) = info.as_object() else {
                self.error(top, field, "must be an object with `hint`");
                continue;
            };
            let Some(hint) = info.get("hint").and_then(Json::as_i64) else {
                self.error(top, format!("{field}.hint"), "missing or not an integer");
                continue;
            };
            let bound = |this: &mut Self, key: &str| match info.get(key) {
                None | Some(Json::Null) => None,
                Some(v) => match v.as_i64() {
                    Some(b) => Some(b),
                    None => {
                        this.error(top, format!("{field}.{key}"), "must be an integer or null");
                        None
                    }
                },
            };
            let min = bound(self, "min");
            let max = bound(self, "max");
            if min.is_some_and(|m| hint < m) || max.is_some_and(|m| hint > m) {
                self.error(
                    top,
                    format!("{field}.hint"),
                    format!("hint {hint} lies outside [min, max]"),
                );
            }
            out.insert(
                name.clone(),
                Symbol {
                    hint,
                    min,
                    max,
                    source: opt_str(info, "source").map(str::to_owned),
                },
            );
        }
        out
    }

    fn operators(&mut self, obj: &Map<String, Json>) -> Operators {
        let top = At { node: None };
        let mut out = BTreeMap::new();
        let tags = obj.get("operator_tags").and_then(Json::as_object);
        if let Some(ops) = obj.get("operators").filter(|j| !j.is_null()) {
            let Some(ops) = ops.as_object() else {
                self.error(top, "operators", "must be an object");
                return out;
            };
            for (target, schema) in ops {
                let Some(schema) = schema.as_str() else {
                    self.error(
                        top,
                        format!("operators.{target}"),
                        "must be a schema string",
                    );
                    continue;
                };
                if let Err(e) = Schema::parse(schema) {
                    self.error(
                        top,
                        format!("operators.{target}"),
                        format!("bad schema: {e}"),
                    );
                    continue;
                }
                let op_tags = tags
                    .and_then(|t| t.get(target))
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    });
                out.insert(
                    target.clone(),
                    Operator {
                        schema: schema.to_owned(),
                        tags: op_tags,
                    },
                );
            }
        }
        out
    }

    fn node(&mut self, index: usize, json: &Json) -> Option<Node> {
        let Some(obj) = json.as_object() else {
            self.error(
                At { node: None },
                format!("nodes[{index}]"),
                "must be an object",
            );
            return None;
        };
        let Some(name) = obj.get("name").and_then(Json::as_str) else {
            self.error(
                At { node: None },
                format!("nodes[{index}].name"),
                "missing or not a string",
            );
            return None;
        };
        let at = At { node: Some(name) };
        if !is_identifier(name) {
            self.error(at, "name", "must be a valid identifier");
        }
        let name: Arc<str> = Arc::from(name);
        if self.seen.contains_key(&name) {
            self.error(at, "name", "duplicate node name");
        }
        let op = match obj.get("op").and_then(Json::as_str) {
            Some("placeholder") => NodeOp::Placeholder {
                kind: self.input_kind(at, obj),
                fqn: opt_str(obj, "fqn").map(str::to_owned),
                source: opt_str(obj, "source").map(str::to_owned),
            },
            Some("call_function") => NodeOp::CallFunction,
            Some("get_attr") => NodeOp::GetAttr,
            Some("output") => NodeOp::Output,
            Some(other) => {
                self.error(at, "op", format!("unknown op `{other}`"));
                return None;
            }
            None => {
                self.error(at, "op", "missing or not a string");
                return None;
            }
        };
        let target: Arc<str> = match obj.get("target").and_then(Json::as_str) {
            Some(t) => vocabulary::shared(t),
            None => {
                self.error(at, "target", "missing or not a string");
                Arc::from("")
            }
        };
        let args = match obj.get("args") {
            None => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, a)| self.arg(at, &format!("args[{i}]"), a))
                .collect(),
            Some(_) => {
                self.error(at, "args", "must be an array");
                Vec::new()
            }
        };
        let kwargs = match obj.get("kwargs") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), self.arg(at, &format!("kwargs.{k}"), v)))
                .collect(),
            Some(_) => {
                self.error(at, "kwargs", "must be an object");
                Vec::new()
            }
        };
        let val = match obj.get("val") {
            None => Value::None,
            Some(v) => self.value(at, "val", v),
        };
        let tensor_id = self.opt_id(at, obj, "tensor_id");
        let base_tensor_id = self.opt_id(at, obj, "base_tensor_id");
        if matches!(val, Value::Tensor(_)) && tensor_id.is_none() {
            self.error(
                at,
                "tensor_id",
                "a node whose value is a tensor needs a tensor_id",
            );
        }
        self.seen.insert(name.clone(), index);
        Some(Node::new(
            NodeStructure {
                name,
                op,
                target,
                args,
                kwargs,
                tensor_id,
                base_tensor_id,
            },
            val,
        ))
    }

    fn input_kind(&mut self, at: At<'_>, obj: &Map<String, Json>) -> InputKind {
        match obj.get("kind").and_then(Json::as_str) {
            None | Some("user_input") => InputKind::UserInput,
            Some("parameter") => InputKind::Parameter,
            Some("buffer") => InputKind::Buffer,
            Some("token") => InputKind::Token,
            Some(other) => {
                self.error(at, "kind", format!("unknown input kind `{other}`"));
                InputKind::UserInput
            }
        }
    }

    fn opt_id(&mut self, at: At<'_>, obj: &Map<String, Json>, key: &str) -> Option<u64> {
        match obj.get(key) {
            None | Some(Json::Null) => None,
            Some(v) => match v.as_u64() {
                Some(id) => Some(id),
                None => {
                    self.error(at, key, "must be a non-negative integer or null");
                    None
                }
            },
        }
    }

    fn arg(&mut self, at: At<'_>, field: &str, json: &Json) -> Arg {
        match json {
            Json::Null => Arg::None,
            Json::Bool(b) => Arg::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Arg::Int(i)
                } else if n.is_u64() {
                    self.error(at, field, "integer does not fit in 64 bits");
                    Arg::None
                } else {
                    Arg::Float(F64::new(n.as_f64().unwrap_or(f64::NAN)))
                }
            }
            Json::String(s) => Arg::Str(s.clone()),
            Json::Array(items) => Arg::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.arg(at, &format!("{field}[{i}]"), a))
                    .collect(),
            ),
            Json::Object(m) => {
                let mut entries = m.iter();
                let (Some((key, value)), None) = (entries.next(), entries.next()) else {
                    self.error(at, field, "a tagged argument must have exactly one key");
                    return Arg::None;
                };
                match (key.as_str(), value) {
                    ("node", Json::String(target)) => self.node_ref(at, field, target),
                    ("float", Json::String(s)) => match s.as_str() {
                        "inf" => Arg::Float(F64::new(f64::INFINITY)),
                        "-inf" => Arg::Float(F64::new(f64::NEG_INFINITY)),
                        "nan" => Arg::Float(F64::new(f64::NAN)),
                        _ => {
                            self.error(at, field, format!("unknown float `{s}`"));
                            Arg::None
                        }
                    },
                    ("dtype" | "device" | "memory_format" | "layout", Json::String(s)) => {
                        Arg::Tagged(key.clone(), s.clone())
                    }
                    _ => {
                        self.error(at, field, format!("unknown tagged argument `{key}`"));
                        Arg::None
                    }
                }
            }
        }
    }

    fn node_ref(&mut self, at: At<'_>, field: &str, target: &str) -> Arg {
        // A reference shares its node's name.
        if let Some((name, _)) = self.seen.get_key_value(target) {
            return Arg::Node(name.clone());
        }
        {
            if self.all_names.contains_key(target) || at.node == Some(target) {
                self.error(
                    at,
                    field,
                    format!("refers to node `{target}`, which does not come earlier (a cycle)"),
                );
            } else {
                self.error(at, field, format!("refers to unknown node `{target}`"));
            }
        }
        Arg::Node(Arc::from(target))
    }

    fn value(&mut self, at: At<'_>, field: &str, json: &Json) -> Value {
        let obj = match json {
            Json::Null => return Value::None,
            Json::Object(o) => o,
            _ => {
                self.error(at, field, "a value must be null or a one-key object");
                return Value::None;
            }
        };
        let mut entries = obj.iter();
        let (Some((key, v)), None) = (entries.next(), entries.next()) else {
            self.error(at, field, "a value must have exactly one key");
            return Value::None;
        };
        let field = format!("{field}.{key}");
        match (key.as_str(), v) {
            ("tensor", Json::Object(t)) => match self.tensor(at, &field, t) {
                Some(t) => Value::Tensor(t),
                None => Value::None,
            },
            ("int", v) => match v.as_i64() {
                Some(i) => Value::Int(i),
                None => {
                    self.error(at, field, "must be a 64-bit integer");
                    Value::None
                }
            },
            ("symint", v) => match self.size(at, &field, v) {
                Some(e) => Value::SymInt(e),
                None => Value::None,
            },
            ("float", v) => match v {
                Json::Number(n) => Value::Float(F64::new(n.as_f64().unwrap_or(f64::NAN))),
                Json::String(s) if s == "inf" => Value::Float(F64::new(f64::INFINITY)),
                Json::String(s) if s == "-inf" => Value::Float(F64::new(f64::NEG_INFINITY)),
                Json::String(s) if s == "nan" => Value::Float(F64::new(f64::NAN)),
                _ => {
                    self.error(at, field, "must be a number");
                    Value::None
                }
            },
            ("symfloat", Json::String(s)) => Value::SymFloat(s.clone()),
            ("bool", Json::Bool(b)) => Value::Bool(*b),
            ("symbool", Json::String(s)) => Value::SymBool(s.clone()),
            ("str", Json::String(s)) => Value::Str(s.clone()),
            ("list", Json::Array(items)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.value(at, &format!("{field}[{i}]"), v))
                    .collect(),
            ),
            _ => {
                self.error(
                    at,
                    field,
                    format!("unknown value kind `{key}` or wrong payload"),
                );
                Value::None
            }
        }
    }

    fn size(&mut self, at: At<'_>, field: &str, json: &Json) -> Option<SizeExpr> {
        let e = match SizeExpr::from_json(json) {
            Ok(e) => e,
            Err(err) => {
                self.error(at, field, format!("bad size expression: {err}"));
                return None;
            }
        };
        for s in e.symbols() {
            if !self.symbols.contains_key(&s) {
                self.error(
                    at,
                    field,
                    format!("symbol `{s}` is not declared in `symbols`"),
                );
                return None;
            }
        }
        Some(e)
    }

    fn tensor(&mut self, at: At<'_>, field: &str, t: &Map<String, Json>) -> Option<TensorMeta> {
        let errors_before = self.diagnostics.len();
        let sizes = |this: &mut Self, key: &str| -> Vec<SizeExpr> {
            match t.get(key) {
                Some(Json::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| this.size(at, &format!("{field}.{key}[{i}]"), v))
                    .collect(),
                _ => {
                    this.error(at, format!("{field}.{key}"), "missing or not an array");
                    Vec::new()
                }
            }
        };
        let shape = sizes(self, "shape");
        let stride = sizes(self, "stride");
        if shape.len() != stride.len() {
            self.error(
                at,
                format!("{field}.stride"),
                format!(
                    "rank mismatch: shape has {} dimensions, stride {}",
                    shape.len(),
                    stride.len()
                ),
            );
        }
        for (key, list) in [("shape", &shape), ("stride", &stride)] {
            for (i, e) in list.iter().enumerate() {
                if e.as_int().is_some_and(|v| v < 0) {
                    self.error(
                        at,
                        format!("{field}.{key}[{i}]"),
                        format!("negative {key} {e}"),
                    );
                }
            }
        }
        let storage_offset = match t.get("storage_offset") {
            Some(v) => self.size(at, &format!("{field}.storage_offset"), v),
            None => {
                self.error(at, format!("{field}.storage_offset"), "missing");
                None
            }
        };
        if storage_offset
            .as_ref()
            .and_then(SizeExpr::as_int)
            .is_some_and(|v| v < 0)
        {
            self.error(
                at,
                format!("{field}.storage_offset"),
                "negative storage offset",
            );
        }
        let storage_nbytes = match t.get("storage_nbytes") {
            Some(v) => self.size(at, &format!("{field}.storage_nbytes"), v),
            None => Some(SizeExpr::int(0)),
        };
        let storage = match t.get("storage").and_then(Json::as_u64) {
            Some(s) => s,
            None => {
                self.error(
                    at,
                    format!("{field}.storage"),
                    "missing or not a non-negative integer",
                );
                0
            }
        };
        let flag = |this: &mut Self, key: &str, default: Option<bool>| match (t.get(key), default) {
            (Some(Json::Bool(b)), _) => *b,
            (None, Some(d)) => d,
            _ => {
                this.error(at, format!("{field}.{key}"), "missing or not a bool");
                false
            }
        };
        let requires_grad = flag(self, "requires_grad", None);
        let is_leaf = flag(self, "is_leaf", Some(!requires_grad));
        let is_view = flag(self, "is_view", Some(false));
        let is_conj = flag(self, "is_conj", Some(false));
        let is_neg = flag(self, "is_neg", Some(false));
        let grad_fn = match t.get("grad_fn") {
            None => GradFn::Unknown,
            Some(Json::Null) => GradFn::None,
            Some(Json::String(s)) if s == "builtin" => GradFn::Builtin,
            Some(Json::String(s)) if s == "custom" => GradFn::Custom,
            Some(_) => {
                self.error(
                    at,
                    format!("{field}.grad_fn"),
                    "must be null, \"builtin\" or \"custom\"",
                );
                GradFn::Unknown
            }
        };
        let text = |this: &mut Self, key: &str, default: Option<&str>| -> Arc<str> {
            match (t.get(key).and_then(Json::as_str), default) {
                (Some(s), _) => vocabulary::shared(s),
                (None, Some(d)) => vocabulary::shared(d),
                (None, None) => {
                    this.error(at, format!("{field}.{key}"), "missing or not a string");
                    Arc::from("")
                }
            }
        };
        let dtype = text(self, "dtype", None);
        let device = text(self, "device", Some("cpu"));
        let layout = text(self, "layout", Some("strided"));
        if self.diagnostics.len() != errors_before {
            return None;
        }
        Some(TensorMeta {
            geometry: Geometry {
                shape,
                stride,
                storage_offset: storage_offset?,
                dtype,
                device,
                storage,
                storage_nbytes: storage_nbytes?,
                layout,
                is_conj,
                is_neg,
            },
            autograd: Autograd {
                requires_grad,
                is_leaf,
                is_view,
                grad_fn,
            },
        })
    }

    fn input_bases(&mut self, json: Option<&Json>) -> Vec<InputBase> {
        let top = At { node: None };
        let Some(items) = json.and_then(Json::as_array) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("input_bases[{i}]");
            let Some(id) = item.get("tensor_id").and_then(Json::as_u64) else {
                self.error(
                    top,
                    format!("{field}.tensor_id"),
                    "missing or not an integer",
                );
                continue;
            };
            match item
                .get("val")
                .map(|v| self.value(top, &format!("{field}.val"), v))
            {
                Some(Value::Tensor(val)) => out.push(InputBase { tensor_id: id, val }),
                _ => self.error(top, format!("{field}.val"), "must be a tensor value"),
            }
        }
        out
    }

    /// Placeholders first, exactly one output node, last.
    fn check_node_order(&mut self, nodes: &[Node]) {
        let mut seen_other = false;
        for node in nodes {
            let at = At {
                node: Some(&node.structure().name),
            };
            match node.structure().op {
                NodeOp::Placeholder { .. } if seen_other => {
                    self.error(at, "op", "placeholders must come before every other node");
                }
                NodeOp::Placeholder { .. } => {}
                _ => seen_other = true,
            }
        }
        let outputs: Vec<&Node> = nodes
            .iter()
            .filter(|n| n.structure().op == NodeOp::Output)
            .collect();
        match (outputs.as_slice(), nodes.last()) {
            ([only], Some(last)) if std::ptr::eq(*only, last) => {
                if !matches!(only.structure().args.as_slice(), [Arg::List(_)]) {
                    self.error(
                        At {
                            node: Some(&only.structure().name),
                        },
                        "args",
                        "the output node takes one argument: the list of returned values",
                    );
                }
            }
            ([], _) => self.error(At { node: None }, "nodes", "the graph has no output node"),
            _ => self.error(
                At { node: None },
                "nodes",
                "the graph must have exactly one output node, and it must be the last node",
            ),
        }
    }

    /// Every ATen call needs a schema, from the dump or the built-in table.
    fn check_operators(&mut self, nodes: &[Node], operators: &Operators) {
        for node in nodes {
            let s = node.structure();
            if s.op != NodeOp::CallFunction || !s.target.starts_with("aten.") {
                continue;
            }
            if operators.contains_key(&*s.target) {
                continue;
            }
            if builtin_schema(&s.target).is_none() {
                self.error(
                    At {
                        node: Some(&s.name),
                    },
                    "target",
                    format!(
                        "unknown operator `{}`: add its schema to `operators` (no built-in schema)",
                        s.target
                    ),
                );
            }
        }
        let _ = builtin_tags;
    }
}

fn opt_str<'a>(obj: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Json::as_str)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}
