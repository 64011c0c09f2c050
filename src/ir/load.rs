//! Reading a graph dump (format v1) into a checked [`Graph`].
//!
//! The text is read once into the borrowed structures of `ir::raw`,
//! then checked into the model. Loading never stops at the first problem:
//! every problem found is collected, so `aotio check` can list them all. Each
//! names the node and field. A problem is reported once: a node that could
//! not be read is still known by name, so references to it say nothing more.
//!
//! Version 1 readers refuse keys the format does not define in the objects it
//! defines (a misspelt `"vall"` would otherwise leave a node without a value):
//! keys come with new versions, which this reader refuses anyway. The
//! top-level `expect` of conformance files is allowed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::de::DeserializeSeed;

use super::diagnostic::{Diagnostic, LoadError};
use super::dtype::itemsize;
use super::expr::{ExprError, SizeExpr};
use super::model::*;
use super::pytree::{SpecError, TreeSpec};
use super::raw::{
    Entries, GraphSeed, KeyProblems, Kind, Lax, NodeSink, RawArg, RawBase, RawConfig, RawGraph,
    RawNode, RawSymbol, RawTensor, RawVal, Scalar, Text,
};
use super::vocabulary;
use crate::schema::{builtin_schema, is_python_callable, Schema};

/// The dump's `format` value.
pub const FORMAT: &str = "aotio.graph";
/// The format version this loader reads.
pub const SUPPORTED_VERSION: i64 = 1;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Parses and checks a dump given as JSON text.
pub fn load_str(text: &str) -> Result<Graph, LoadError> {
    let mut loader = Loader::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = GraphSeed(&mut loader)
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(|e| LoadError::single(json_error(&e)))?;
    loader.finish(raw)
}

/// Checks an already parsed dump.
pub fn load_json(json: &serde_json::Value) -> Result<Graph, LoadError> {
    let mut loader = Loader::default();
    let raw = GraphSeed(&mut loader)
        .deserialize(json)
        .map_err(|e| LoadError::single(json_error(&e)))?;
    loader.finish(raw)
}

/// A JSON syntax error, its position said once (serde's message ends with it too).
fn json_error(e: &serde_json::Error) -> Diagnostic {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    let (line, column) = match e.line() {
        0 => (None, None),
        line => (Some(line), Some(e.column())),
    };
    Diagnostic {
        line,
        column,
        ..Diagnostic::at(None, "", format!("not valid JSON: {message}"))
    }
}

/// A reference to a node not read yet: a cycle or a dangling name, told
/// apart once every name is known.
struct Pending {
    node: Arc<str>,
    field: String,
    target: Box<str>,
}

/// The first use of a symbolic size expression, where an undeclared symbol
/// in it is reported (once per symbol, not once per use).
struct FirstUse {
    expr: SizeExpr,
    node: Option<Arc<str>>,
    field: String,
}

#[derive(Default)]
struct Loader {
    diagnostics: Vec<Diagnostic>,
    symbols: Symbols,
    nodes: Vec<Node>,
    /// Node name → its shared copy, filled as nodes are read, so a reference
    /// to a node not yet seen is a forward reference (a cycle in FX terms).
    /// Nodes that could not be read are here too: references to them are
    /// not problems of their own.
    seen: FastMap<Arc<str>, ()>,
    pending: Vec<Pending>,
    /// Each distinct size expression text, parsed once.
    sizes: FastMap<Box<str>, Result<SizeExpr, String>>,
    first_uses: Vec<FirstUse>,
    /// Targets, dtypes, devices and layouts: one lookup in the process-wide
    /// vocabulary per distinct word.
    words: FastMap<Box<str>, Arc<str>>,
    /// Set when a node was left out: the checks of the whole node list would
    /// only repeat its problem.
    dropped_node: bool,
}

/// Where a value being read sits, for messages.
#[derive(Clone, Copy)]
struct At<'a> {
    node: Option<&'a str>,
}

const TOP: At<'static> = At { node: None };

impl Loader {
    fn error(&mut self, at: At<'_>, field: impl Into<String>, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::at(at.node, field, message));
    }

    /// Refuses the keys an object of the format does not define or repeats;
    /// `prefix` is the object's field path (empty at the top level).
    fn keys(&mut self, at: At<'_>, prefix: &str, keys: &KeyProblems<'_>) {
        let path = |key: &Text<'_>| {
            if prefix.is_empty() {
                key.0.to_string()
            } else {
                format!("{prefix}.{}", key.0)
            }
        };
        for key in &keys.unknown {
            self.error(
                at,
                path(key),
                "unknown key (version 1 of the format has no such key here)",
            );
        }
        for key in &keys.repeated {
            self.error(at, path(key), "duplicate key");
        }
    }

    /// Refuses names given twice in a name-keyed object.
    fn repeated_names<T>(&mut self, at: At<'_>, prefix: &str, entries: &Entries<'_, T>) {
        let names = || entries.0.iter().map(|(name, _)| &*name.0);
        // Most such objects are a node's few kwargs: compare them pairwise.
        let repeated: Vec<&str> = if entries.0.len() <= 8 {
            names()
                .enumerate()
                .filter(|&(i, name)| names().take(i).any(|earlier| earlier == name))
                .map(|(_, name)| name)
                .collect()
        } else {
            let mut seen = FastSet::default();
            names().filter(|name| !seen.insert(*name)).collect()
        };
        for name in repeated {
            self.error(at, format!("{prefix}.{name}"), "duplicate key");
        }
    }

    fn word(&mut self, text: &str) -> Arc<str> {
        if let Some(w) = self.words.get(text) {
            return w.clone();
        }
        let w = vocabulary::shared(text);
        self.words.insert(Box::from(text), w.clone());
        w
    }

    fn finish(mut self, raw: Lax<RawGraph<'_>>) -> Result<Graph, LoadError> {
        // The nodes were checked as they were read; the dump's own problems come first.
        let node_problems = std::mem::take(&mut self.diagnostics);
        let graph = self.graph(raw, node_problems);
        match graph {
            Some(g) if self.diagnostics.is_empty() => Ok(g),
            _ => Err(LoadError {
                diagnostics: if self.diagnostics.is_empty() {
                    vec![Diagnostic::at(None, "", "invalid graph dump")]
                } else {
                    self.diagnostics
                },
            }),
        }
    }

    fn graph(&mut self, raw: Lax<RawGraph<'_>>, node_problems: Vec<Diagnostic>) -> Option<Graph> {
        let Lax::Ok(raw) = raw else {
            self.error(TOP, "", "a graph dump must be a JSON object");
            return None;
        };
        match raw.format.as_ref().map(|f| f.as_str()) {
            Some(Some(FORMAT)) => {}
            Some(Some(other)) => {
                self.error(
                    TOP,
                    "format",
                    format!("expected \"{FORMAT}\", found \"{other}\""),
                );
                return None;
            }
            _ => {
                self.error(TOP, "format", format!("missing; expected \"{FORMAT}\""));
                return None;
            }
        }
        match raw.version.as_ref().and_then(Scalar::as_i64) {
            Some(SUPPORTED_VERSION) => {}
            Some(v) => {
                self.error(
                    TOP,
                    "version",
                    format!("version {v} is not supported (this aotio reads version {SUPPORTED_VERSION})"),
                );
                return None;
            }
            None => {
                self.error(TOP, "version", "missing or not an integer");
                return None;
            }
        }
        self.keys(TOP, "", &raw.keys);
        let text = |s: &Option<Scalar<'_>>| {
            s.as_ref()
                .and_then(Scalar::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let name = text(&raw.name);
        let description = text(&raw.description);
        let config = self.config(raw.config.as_ref());
        self.symbols = self.symbol_table(raw.symbols.as_ref());
        let operators = self.operators(raw.operators.as_ref(), raw.operator_tags.as_ref());

        let Some(Lax::Ok(())) = raw.nodes else {
            self.error(TOP, "nodes", "missing or not an array");
            return None;
        };
        self.diagnostics.extend(node_problems);
        self.resolve_pending();
        self.check_symbols();
        let nodes = std::mem::take(&mut self.nodes);
        if !self.dropped_node {
            self.check_node_order(&nodes);
        }
        self.check_operators(&nodes, &operators);

        let input_bases = self.input_bases(raw.input_bases.as_ref());
        let (in_spec, out_spec) = self.specs(&nodes, raw.in_spec, raw.out_spec);
        Some(Graph {
            name,
            description,
            config: config?,
            symbols: std::mem::take(&mut self.symbols),
            operators,
            nodes,
            input_bases,
            in_spec,
            out_spec,
        })
    }

    /// `in_spec` and `out_spec`, read into trees and checked against the
    /// graph: the input spec rebuilds the call from the user inputs, the
    /// output spec the result from the output node's values.
    fn specs(
        &mut self,
        nodes: &[Node],
        in_spec: Option<serde_json::Value>,
        out_spec: Option<serde_json::Value>,
    ) -> (Option<TreeSpec>, Option<TreeSpec>) {
        let user_inputs = nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.structure().op,
                    NodeOp::Placeholder {
                        kind: InputKind::UserInput,
                        ..
                    }
                )
            })
            .count();
        let output = nodes.iter().find(|n| n.structure().op == NodeOp::Output);
        let outputs = match output.and_then(|n| n.structure().args.first()) {
            Some(Arg::List(items)) => items.len(),
            _ => 0,
        };
        let mut read = |json: Option<serde_json::Value>, name: &str, leaves: usize, what: &str| {
            let json = json.filter(|v| !v.is_null())?;
            let checked = TreeSpec::from_json(&json, name).and_then(|spec| {
                let found = spec.num_leaves();
                if found == leaves {
                    Ok(spec)
                } else {
                    Err(SpecError {
                        path: name.to_owned(),
                        message: format!(
                            "rebuilds from {found} values, but the graph has {leaves} {what}"
                        ),
                    })
                }
            });
            match checked {
                Ok(spec) => Some(spec),
                Err(e) => {
                    self.error(TOP, e.path, e.message);
                    None
                }
            }
        };
        (
            read(in_spec, "in_spec", user_inputs, "user inputs"),
            read(out_spec, "out_spec", outputs, "outputs"),
        )
    }

    fn config(&mut self, raw: Option<&Lax<RawConfig<'_>>>) -> Option<Config> {
        let Some(Lax::Ok(raw)) = raw else {
            self.error(TOP, "config", "missing or not an object");
            return None;
        };
        self.keys(TOP, "config", &raw.keys);
        let flag =
            |this: &mut Self, key: &str, value: &Option<Scalar<'_>>, default: bool| match value {
                None => default,
                Some(Scalar::Bool(b)) => *b,
                Some(_) => {
                    this.error(TOP, format!("config.{key}"), "must be true or false");
                    default
                }
            };
        let keep_input_mutations = flag(
            self,
            "keep_input_mutations",
            &raw.keep_input_mutations,
            false,
        );
        let is_train = flag(self, "is_train", &raw.is_train, false);
        let grad_enabled = flag(self, "grad_enabled", &raw.grad_enabled, true);
        let dynamic_shapes = flag(self, "dynamic_shapes", &raw.dynamic_shapes, false);
        let num_params_buffers = match &raw.num_params_buffers {
            None => 0,
            Some(v) => match v.as_u64().and_then(|v| usize::try_from(v).ok()) {
                Some(n) => n,
                None => {
                    self.error(
                        TOP,
                        "config.num_params_buffers",
                        "must be a non-negative integer",
                    );
                    0
                }
            },
        };
        let export = self.export_flavours(raw.export.as_ref());
        let mut text = |key: &str, raw: &Option<Scalar<'_>>| match raw {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Str(s)) => Some(s.to_string()),
            Some(_) => {
                self.error(TOP, format!("config.{key}"), "must be a string");
                None
            }
        };
        let tracer = text("tracer", &raw.tracer);
        let torch_version = text("torch_version", &raw.torch_version);
        Some(Config {
            keep_input_mutations,
            is_train,
            grad_enabled,
            dynamic_shapes,
            num_params_buffers,
            export,
            tracer,
            torch_version,
        })
    }

    /// `config.export`: a subset of `["inference", "joint"]` in that order.
    fn export_flavours(&mut self, raw: Option<&serde_json::Value>) -> Vec<Flavour> {
        let Some(raw) = raw else {
            return vec![Flavour::Inference];
        };
        let Some(items) = raw.as_array() else {
            self.error(TOP, "config.export", "must be a list of flavours");
            return Vec::new();
        };
        let mut out: Vec<Flavour> = Vec::new();
        for (k, item) in items.iter().enumerate() {
            let flavour = match item.as_str() {
                Some("inference") => Flavour::Inference,
                Some("joint") => Flavour::Joint,
                _ => {
                    self.error(
                        TOP,
                        format!("config.export[{k}]"),
                        "must be \"inference\" or \"joint\"",
                    );
                    continue;
                }
            };
            if out.last().is_some_and(|last| *last >= flavour) {
                self.error(
                    TOP,
                    format!("config.export[{k}]"),
                    "flavours are listed once each, inference before joint",
                );
                continue;
            }
            out.push(flavour);
        }
        out
    }

    fn symbol_table(&mut self, raw: Option<&Lax<Entries<'_, Lax<RawSymbol<'_>>>>>) -> Symbols {
        let mut out = BTreeMap::new();
        let entries = match raw {
            None | Some(Lax::Wrong(Kind::Null)) => return out,
            Some(Lax::Ok(entries)) => entries,
            Some(Lax::Wrong(_)) => {
                self.error(TOP, "symbols", "must be an object");
                return out;
            }
        };
        self.repeated_names(TOP, "symbols", entries);
        for (name, info) in &entries.0 {
            let field = format!("symbols.{}", name.0);
            let Lax::Ok(info) = info else {
                self.error(TOP, field, "must be an object with `hint`");
                continue;
            };
            self.keys(TOP, &field, &info.keys);
            let Some(hint) = info.hint.as_ref().and_then(Scalar::as_i64) else {
                self.error(TOP, format!("{field}.hint"), "missing or not an integer");
                continue;
            };
            let bound = |this: &mut Self, key: &str, value: &Option<Scalar<'_>>| match value {
                None | Some(Scalar::Null) => None,
                Some(v) => match v.as_i64() {
                    Some(b) => Some(b),
                    None => {
                        this.error(TOP, format!("{field}.{key}"), "must be an integer or null");
                        None
                    }
                },
            };
            let replaced_by = match &info.replaced_by {
                None | Some(Scalar::Null) => None,
                Some(Scalar::Int(v)) => Some(Replacement::Int(*v)),
                Some(Scalar::Str(e)) => Some(Replacement::Expr(e.to_string())),
                Some(_) => {
                    self.error(
                        TOP,
                        format!("{field}.replaced_by"),
                        "must be an integer or an expression string",
                    );
                    None
                }
            };
            let min = bound(self, "min", &info.min);
            let max = bound(self, "max", &info.max);
            if min.is_some_and(|m| hint < m) || max.is_some_and(|m| hint > m) {
                self.error(
                    TOP,
                    format!("{field}.hint"),
                    format!("hint {hint} lies outside [min, max]"),
                );
            }
            out.insert(
                name.0.to_string(),
                Symbol {
                    hint,
                    min,
                    max,
                    source: info
                        .source
                        .as_ref()
                        .and_then(Scalar::as_str)
                        .map(str::to_owned),
                    replaced_by,
                },
            );
        }
        out
    }

    fn operators(
        &mut self,
        raw: Option<&Lax<Entries<'_, Scalar<'_>>>>,
        tags: Option<&Lax<Entries<'_, Lax<Vec<Scalar<'_>>>>>>,
    ) -> Operators {
        let mut out = BTreeMap::new();
        let tags = tags.and_then(Lax::ok);
        if let Some(tags) = tags {
            self.repeated_names(TOP, "operator_tags", tags);
        }
        let ops = match raw {
            None | Some(Lax::Wrong(Kind::Null)) => return out,
            Some(Lax::Ok(ops)) => ops,
            Some(Lax::Wrong(_)) => {
                self.error(TOP, "operators", "must be an object");
                return out;
            }
        };
        self.repeated_names(TOP, "operators", ops);
        for (target, schema) in &ops.0 {
            let target = &*target.0;
            let Some(schema) = schema.as_str() else {
                self.error(
                    TOP,
                    format!("operators.{target}"),
                    "must be a schema string",
                );
                continue;
            };
            let schema = match Schema::parse(schema) {
                Ok(schema) => Arc::new(schema),
                Err(e) => {
                    self.error(
                        TOP,
                        format!("operators.{target}"),
                        format!("bad schema: {e}"),
                    );
                    continue;
                }
            };
            let op_tags = tags
                .and_then(|t| t.0.iter().find(|(name, _)| name.0 == target))
                .and_then(|(_, list)| list.ok())
                .map(|list| {
                    list.iter()
                        .filter_map(Scalar::as_str)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                });
            out.insert(
                target.to_owned(),
                Operator {
                    schema,
                    tags: op_tags,
                },
            );
        }
        out
    }

    /// References to nodes that were not read yet when they were met.
    fn resolve_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            let at = At {
                node: Some(&p.node),
            };
            let target = &*p.target;
            if self.seen.contains_key(target) || at.node == Some(target) {
                self.error(
                    at,
                    p.field,
                    format!("refers to node `{target}`, which does not come earlier (a cycle)"),
                );
            } else {
                self.error(at, p.field, format!("refers to unknown node `{target}`"));
            }
        }
    }

    /// Every symbol of a size expression is declared: reported at its first use.
    fn check_symbols(&mut self) {
        let mut reported = HashSet::new();
        for u in std::mem::take(&mut self.first_uses) {
            for s in u.expr.symbols() {
                if !self.symbols.contains_key(&s) && reported.insert(s.clone()) {
                    self.error(
                        At {
                            node: u.node.as_deref(),
                        },
                        u.field.clone(),
                        format!("symbol `{s}` is not declared in `symbols`"),
                    );
                }
            }
        }
    }

    fn node(&mut self, index: usize, raw: &Lax<RawNode<'_>>) -> Option<Node> {
        let Lax::Ok(raw) = raw else {
            self.error(TOP, format!("nodes[{index}]"), "must be an object");
            return None;
        };
        let Some(name) = raw.name.as_ref().and_then(Scalar::as_str) else {
            self.error(
                TOP,
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
        let node = self.node_named(at, name.clone(), raw);
        // Known from here on, read or not: later references to a node that
        // could not be read would only repeat its problem.
        self.seen.insert(name, ());
        node
    }

    fn node_named(&mut self, at: At<'_>, name: Arc<str>, raw: &RawNode<'_>) -> Option<Node> {
        self.keys(at, "", &raw.keys);
        let text = |s: &Option<Scalar<'_>>| s.as_ref().and_then(Scalar::as_str).map(str::to_owned);
        let op = match raw.op.as_ref().and_then(Scalar::as_str) {
            Some("placeholder") => NodeOp::Placeholder {
                kind: self.input_kind(at, raw.kind.as_ref()),
                fqn: text(&raw.fqn),
                source: text(&raw.source),
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
        let target: Arc<str> = match raw.target.as_ref().and_then(Scalar::as_str) {
            Some(t) => self.word(t),
            None => {
                self.error(at, "target", "missing or not a string");
                Arc::from("")
            }
        };
        let args = match &raw.args {
            None => Vec::new(),
            Some(Lax::Ok(a)) => a
                .iter()
                .enumerate()
                .map(|(i, a)| self.arg(at, &|| format!("args[{i}]"), a))
                .collect(),
            Some(Lax::Wrong(_)) => {
                self.error(at, "args", "must be an array");
                Vec::new()
            }
        };
        let kwargs = match &raw.kwargs {
            None | Some(Lax::Wrong(Kind::Null)) => Vec::new(),
            Some(Lax::Ok(m)) => {
                self.repeated_names(at, "kwargs", m);
                m.0.iter()
                    .map(|(k, v)| {
                        let arg = self.arg(at, &|| format!("kwargs.{}", k.0), v);
                        (k.0.to_string(), arg)
                    })
                    .collect()
            }
            Some(Lax::Wrong(_)) => {
                self.error(at, "kwargs", "must be an object");
                Vec::new()
            }
        };
        let val = match &raw.val {
            None => Value::None,
            Some(v) => self.value(at, "val", v),
        };
        let tensor_id = self.opt_id(at, "tensor_id", raw.tensor_id.as_ref());
        let base_tensor_id = self.opt_id(at, "base_tensor_id", raw.base_tensor_id.as_ref());
        if matches!(val, Value::Tensor(_)) && tensor_id.is_none() {
            self.error(
                at,
                "tensor_id",
                "a node whose value is a tensor needs a tensor_id",
            );
        }
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

    fn input_kind(&mut self, at: At<'_>, raw: Option<&Scalar<'_>>) -> InputKind {
        match raw.and_then(Scalar::as_str) {
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

    fn opt_id(&mut self, at: At<'_>, key: &str, raw: Option<&Scalar<'_>>) -> Option<u64> {
        match raw {
            None | Some(Scalar::Null) => None,
            Some(v) => match v.as_u64() {
                Some(id) => Some(id),
                None => {
                    self.error(at, key, "must be a non-negative integer or null");
                    None
                }
            },
        }
    }

    /// `field` is built only when there is a problem to report.
    fn arg(&mut self, at: At<'_>, field: &dyn Fn() -> String, raw: &RawArg<'_>) -> Arg {
        match raw {
            RawArg::Scalar(s) => match s {
                Scalar::Null => Arg::None,
                Scalar::Bool(b) => Arg::Bool(*b),
                Scalar::Int(i) => Arg::Int(*i),
                Scalar::Big(_) => {
                    self.error(at, field(), "integer does not fit in 64 bits");
                    Arg::None
                }
                Scalar::Float(f) => Arg::Float(F64::new(*f)),
                Scalar::Str(s) => Arg::Str(s.to_string()),
                // Not produced for arguments: lists and objects have variants of their own.
                Scalar::Array | Scalar::Object => Arg::None,
            },
            RawArg::List(items) => Arg::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.arg(at, &|| format!("{}[{i}]", field()), a))
                    .collect(),
            ),
            RawArg::NotOneKey => {
                self.error(at, field(), "a tagged argument must have exactly one key");
                Arg::None
            }
            RawArg::Tagged(key, value) => match (&*key.0, value) {
                ("node", Scalar::Str(target)) => self.node_ref(at, field, target),
                ("float", Scalar::Str(s)) => match &**s {
                    "inf" => Arg::Float(F64::new(f64::INFINITY)),
                    "-inf" => Arg::Float(F64::new(f64::NEG_INFINITY)),
                    "nan" => Arg::Float(F64::new(f64::NAN)),
                    _ => {
                        self.error(at, field(), format!("unknown float `{s}`"));
                        Arg::None
                    }
                },
                ("dtype" | "device" | "memory_format" | "layout", Scalar::Str(s)) => {
                    Arg::Tagged(key.0.to_string(), s.to_string())
                }
                _ => {
                    self.error(at, field(), format!("unknown tagged argument `{}`", key.0));
                    Arg::None
                }
            },
        }
    }

    fn node_ref(&mut self, at: At<'_>, field: &dyn Fn() -> String, target: &str) -> Arg {
        // A reference shares its node's name.
        if let Some((name, ())) = self.seen.get_key_value(target) {
            return Arg::Node(name.clone());
        }
        self.pending.push(Pending {
            node: Arc::from(at.node.unwrap_or_default()),
            field: field(),
            target: Box::from(target),
        });
        Arg::Node(Arc::from(target))
    }

    fn value(&mut self, at: At<'_>, field: &str, raw: &RawVal<'_>) -> Value {
        let wrong_payload = |this: &mut Self, key: &str| {
            this.error(
                at,
                format!("{field}.{key}"),
                format!("unknown value kind `{key}` or wrong payload"),
            );
            Value::None
        };
        match raw {
            RawVal::Null => Value::None,
            RawVal::NotObject => {
                self.error(at, field, "a value must be null or a one-key object");
                Value::None
            }
            RawVal::NotOneKey => {
                self.error(at, field, "a value must have exactly one key");
                Value::None
            }
            RawVal::Tensor(t) => match t {
                Lax::Ok(t) => match self.tensor(at, &format!("{field}.tensor"), t) {
                    Some(t) => Value::Tensor(t),
                    None => Value::None,
                },
                Lax::Wrong(_) => wrong_payload(self, "tensor"),
            },
            RawVal::List(Lax::Ok(items)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.value(at, &format!("{field}.list[{i}]"), v))
                    .collect(),
            ),
            RawVal::List(Lax::Wrong(_)) => wrong_payload(self, "list"),
            RawVal::Tagged(key, v) => {
                let key = &*key.0;
                match (key, v) {
                    ("int", v) => match v.as_i64() {
                        Some(i) => Value::Int(i),
                        None => {
                            self.error(at, format!("{field}.int"), "must be a 64-bit integer");
                            Value::None
                        }
                    },
                    ("symint", v) => match self.size(at, &|| format!("{field}.symint"), v) {
                        Some(e) => Value::SymInt(e),
                        None => Value::None,
                    },
                    ("float", v) => match v {
                        Scalar::Int(_) | Scalar::Big(_) | Scalar::Float(_) => {
                            Value::Float(F64::new(v.as_f64().unwrap_or(f64::NAN)))
                        }
                        Scalar::Str(s) if s == "inf" => Value::Float(F64::new(f64::INFINITY)),
                        Scalar::Str(s) if s == "-inf" => Value::Float(F64::new(f64::NEG_INFINITY)),
                        Scalar::Str(s) if s == "nan" => Value::Float(F64::new(f64::NAN)),
                        _ => {
                            self.error(at, format!("{field}.float"), "must be a number");
                            Value::None
                        }
                    },
                    ("symfloat", Scalar::Str(s)) => Value::SymFloat(s.to_string()),
                    ("bool", Scalar::Bool(b)) => Value::Bool(*b),
                    ("symbool", Scalar::Str(s)) => Value::SymBool(s.to_string()),
                    ("str", Scalar::Str(s)) => Value::Str(s.to_string()),
                    _ => wrong_payload(self, key),
                }
            }
        }
    }

    /// A size expression, parsed and checked once per distinct text.
    fn size(
        &mut self,
        at: At<'_>,
        field: &dyn Fn() -> String,
        raw: &Scalar<'_>,
    ) -> Option<SizeExpr> {
        let checked = match raw {
            Scalar::Int(i) => Ok(SizeExpr::int(*i)),
            Scalar::Str(text) => match self.sizes.get(&**text) {
                Some(done) => done.clone(),
                None => {
                    let done = parse_size(text);
                    if let Ok(expr) = &done {
                        if !expr.is_constant() {
                            self.first_uses.push(FirstUse {
                                expr: expr.clone(),
                                node: at.node.map(Arc::from),
                                field: field(),
                            });
                        }
                    }
                    self.sizes.insert(Box::from(&**text), done.clone());
                    done
                }
            },
            Scalar::Big(_) => Err(format!("bad size expression: {}", ExprError::Overflow)),
            other => Err(format!(
                "bad size expression: expected an integer or a string, found {}",
                match other {
                    Scalar::Null => "null",
                    Scalar::Bool(_) => "a boolean",
                    Scalar::Float(_) => "a fractional number",
                    Scalar::Array => "an array",
                    _ => "an object",
                }
            )),
        };
        match checked {
            Ok(e) => Some(e),
            Err(message) => {
                self.error(at, field(), message);
                None
            }
        }
    }

    fn tensor(&mut self, at: At<'_>, field: &str, t: &RawTensor<'_>) -> Option<TensorMeta> {
        let errors_before = self.diagnostics.len();
        self.keys(at, field, &t.keys);
        let sizes = |this: &mut Self, key: &str, raw: &Option<Lax<Vec<Scalar<'_>>>>| match raw {
            Some(Lax::Ok(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| this.size(at, &|| format!("{field}.{key}[{i}]"), v))
                .collect(),
            _ => {
                this.error(at, format!("{field}.{key}"), "missing or not an array");
                Vec::new()
            }
        };
        let shape: Vec<SizeExpr> = sizes(self, "shape", &t.shape);
        let stride: Vec<SizeExpr> = sizes(self, "stride", &t.stride);
        // A size that could not be read was reported; the ranks would only repeat it.
        if shape.len() != stride.len() && self.diagnostics.len() == errors_before {
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
        let storage_offset = match &t.storage_offset {
            Some(v) => self.size(at, &|| format!("{field}.storage_offset"), v),
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
        let storage_nbytes = match &t.storage_nbytes {
            Some(v) => self.size(at, &|| format!("{field}.storage_nbytes"), v),
            None => Some(SizeExpr::int(0)),
        };
        let storage = match t.storage.as_ref().and_then(Scalar::as_u64) {
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
        let flag =
            |this: &mut Self, key: &str, raw: &Option<Scalar<'_>>, default: Option<bool>| match (
                raw, default,
            ) {
                (Some(Scalar::Bool(b)), _) => *b,
                (None, Some(d)) => d,
                _ => {
                    this.error(at, format!("{field}.{key}"), "missing or not a bool");
                    false
                }
            };
        let requires_grad = flag(self, "requires_grad", &t.requires_grad, None);
        let is_leaf = flag(self, "is_leaf", &t.is_leaf, Some(!requires_grad));
        let is_view = flag(self, "is_view", &t.is_view, Some(false));
        let is_conj = flag(self, "is_conj", &t.is_conj, Some(false));
        let is_neg = flag(self, "is_neg", &t.is_neg, Some(false));
        let grad_fn = match &t.grad_fn {
            None => GradFn::Unknown,
            Some(Scalar::Null) => GradFn::None,
            Some(Scalar::Str(s)) if s == "builtin" => GradFn::Builtin,
            Some(Scalar::Str(s)) if s == "custom" => GradFn::Custom,
            Some(_) => {
                self.error(
                    at,
                    format!("{field}.grad_fn"),
                    "must be null, \"builtin\" or \"custom\"",
                );
                GradFn::Unknown
            }
        };
        let text =
            |this: &mut Self, key: &str, raw: &Option<Scalar<'_>>, default: Option<&str>| match (
                raw.as_ref().and_then(Scalar::as_str),
                default,
            ) {
                (Some(s), _) => this.word(s),
                (None, Some(d)) => this.word(d),
                (None, None) => {
                    this.error(at, format!("{field}.{key}"), "missing or not a string");
                    Arc::from("")
                }
            };
        let dtype = text(self, "dtype", &t.dtype, None);
        let device = text(self, "device", &t.device, Some("cpu"));
        let layout = text(self, "layout", &t.layout, Some("strided"));
        if self.diagnostics.len() != errors_before {
            return None;
        }
        let geometry = Geometry {
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
        };
        if t.storage_nbytes.is_some() {
            if let Err(message) = within_storage(&geometry) {
                self.error(at, field, message);
                return None;
            }
        }
        Some(TensorMeta {
            geometry,
            autograd: Autograd {
                requires_grad,
                is_leaf,
                is_view,
                grad_fn,
            },
        })
    }

    fn input_bases(&mut self, raw: Option<&Lax<Vec<Lax<RawBase<'_>>>>>) -> Vec<InputBase> {
        let Some(Lax::Ok(items)) = raw else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("input_bases[{i}]");
            let Lax::Ok(item) = item else {
                self.error(
                    TOP,
                    format!("{field}.tensor_id"),
                    "missing or not an integer",
                );
                continue;
            };
            self.keys(TOP, &field, &item.keys);
            let Some(id) = item.tensor_id.as_ref().and_then(Scalar::as_u64) else {
                self.error(
                    TOP,
                    format!("{field}.tensor_id"),
                    "missing or not an integer",
                );
                continue;
            };
            let errors_before = self.diagnostics.len();
            match item
                .val
                .as_ref()
                .map(|v| self.value(TOP, &format!("{field}.val"), v))
            {
                Some(Value::Tensor(val)) => out.push(InputBase { tensor_id: id, val }),
                // The value's own problem was reported.
                _ if self.diagnostics.len() != errors_before => {}
                _ => self.error(TOP, format!("{field}.val"), "must be a tensor value"),
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
            ([], _) => self.error(TOP, "nodes", "the graph has no output node"),
            _ => self.error(
                TOP,
                "nodes",
                "the graph must have exactly one output node, and it must be the last node",
            ),
        }
    }

    /// Every operator call (ATen or custom) needs a schema, from the dump or
    /// the built-in table; only Python callables go without.
    fn check_operators(&mut self, nodes: &[Node], operators: &Operators) {
        for node in nodes {
            let s = node.structure();
            if s.op != NodeOp::CallFunction || is_python_callable(&s.target) {
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
    }
}

impl<'a> NodeSink<'a> for Loader {
    fn node(&mut self, index: usize, node: Lax<RawNode<'a>>) {
        match Loader::node(self, index, &node) {
            Some(node) => self.nodes.push(node),
            None => self.dropped_node = true,
        }
    }
}

fn parse_size(text: &str) -> Result<SizeExpr, String> {
    SizeExpr::parse(text).map_err(|err| match err {
        ExprError::Syntax {
            text,
            position,
            message,
        } => format!("bad size expression {text:?}: {message} at byte {position}"),
        other => format!("bad size expression: {other}"),
    })
}

/// A strided tensor of known integer geometry must lie inside its storage:
/// its last element's bytes end at or before `storage_nbytes`. Symbolic
/// geometry, other layouts, empty tensors and unknown dtypes are not checked.
fn within_storage(g: &Geometry) -> Result<(), String> {
    if g.is_sparse() || &*g.layout != "strided" {
        return Ok(());
    }
    let int = |e: &SizeExpr| e.as_int().map(i128::from);
    let (Some(offset), Some(nbytes), Some(item)) = (
        int(&g.storage_offset),
        int(&g.storage_nbytes),
        itemsize(&g.dtype),
    ) else {
        return Ok(());
    };
    let mut last = offset;
    for (size, stride) in g.shape.iter().zip(&g.stride) {
        let (Some(size), Some(stride)) = (int(size), int(stride)) else {
            return Ok(());
        };
        if size == 0 {
            return Ok(());
        }
        // Each factor fits in 64 bits, so each product fits in 128.
        last = match (size - 1)
            .checked_mul(stride)
            .and_then(|step| last.checked_add(step))
        {
            Some(l) => l,
            None => return Err(beyond(g, None, nbytes)),
        };
    }
    let end = last
        .checked_add(1)
        .and_then(|n| n.checked_mul(i128::from(item)));
    match end {
        Some(end) if end <= nbytes => Ok(()),
        end => Err(beyond(g, end, nbytes)),
    }
}

fn beyond(g: &Geometry, end: Option<i128>, nbytes: i128) -> String {
    let list = |l: &[SizeExpr]| {
        l.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reach = match end {
        Some(end) => format!("reach byte {end}"),
        None => "lie beyond any 64-bit address".to_owned(),
    };
    format!(
        "its elements (storage_offset {}, shape [{}], stride [{}], {}) {reach}, \
         outside its storage of {nbytes} bytes (storage_nbytes)",
        g.storage_offset,
        list(&g.shape),
        list(&g.stride),
        g.dtype
    )
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}
