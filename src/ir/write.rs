//! Writing a [`Graph`] back as a format-v1 dump: the inverse of
//! [`load`](super::load), so that `load(write(g)) == g` for every graph
//! the loader accepts.
//!
//! Keys come in the order the format lists them, and optional keys are
//! written only when the graph holds something for them (a call's ids when
//! it produced a tensor, `config.export` when it is not the default), so
//! that the generator's dumps read like a tracer's.

use serde_json::{json, Map, Value as Json};

use super::expr::SizeExpr;
use super::model::{
    Arg, Config, Flavour, GradFn, Graph, InputKind, Node, NodeOp, Operators, Replacement, Symbol,
    TensorMeta, Value,
};

/// The format's name, in every dump's `format` key.
pub const FORMAT: &str = "aotio.graph";

/// The format version this writer writes.
pub const VERSION: u64 = 1;

/// The dump of `graph`, as a JSON tree.
pub fn to_json(graph: &Graph) -> Json {
    let mut out = Map::new();
    out.insert("format".into(), json!(FORMAT));
    out.insert("version".into(), json!(VERSION));
    out.insert("name".into(), json!(graph.name));
    out.insert("description".into(), json!(graph.description));
    out.insert("config".into(), config_json(&graph.config));
    let symbols = graph
        .symbols
        .iter()
        .map(|(name, s)| (name.clone(), symbol_json(s)))
        .collect();
    out.insert("symbols".into(), Json::Object(symbols));
    let (operators, tags) = operators_json(&graph.operators);
    out.insert("operators".into(), operators);
    out.insert("operator_tags".into(), tags);
    let nodes = graph.nodes.iter().map(node_json).collect();
    out.insert("nodes".into(), Json::Array(nodes));
    let bases = graph
        .input_bases
        .iter()
        .map(|b| json!({ "tensor_id": b.tensor_id, "val": tensor_json(&b.val) }))
        .collect();
    out.insert("input_bases".into(), Json::Array(bases));
    if let Some(spec) = &graph.in_spec {
        out.insert("in_spec".into(), json!(spec));
    }
    if let Some(spec) = &graph.out_spec {
        out.insert("out_spec".into(), json!(spec));
    }
    Json::Object(out)
}

fn config_json(config: &Config) -> Json {
    let mut out = Map::new();
    out.insert(
        "keep_input_mutations".into(),
        json!(config.keep_input_mutations),
    );
    out.insert("is_train".into(), json!(config.is_train));
    out.insert("grad_enabled".into(), json!(config.grad_enabled));
    out.insert("dynamic_shapes".into(), json!(config.dynamic_shapes));
    out.insert(
        "num_params_buffers".into(),
        json!(config.num_params_buffers),
    );
    // Absent means inference only (format §2).
    if config.export != [Flavour::Inference] {
        let flavours: Vec<&str> = config.export.iter().map(|f| f.as_str()).collect();
        out.insert("export".into(), json!(flavours));
    }
    if let Some(tracer) = &config.tracer {
        out.insert("tracer".into(), json!(tracer));
    }
    if let Some(version) = &config.torch_version {
        out.insert("torch_version".into(), json!(version));
    }
    Json::Object(out)
}

fn symbol_json(s: &Symbol) -> Json {
    let mut out = json!({ "hint": s.hint, "min": s.min, "max": s.max, "source": s.source });
    if let (Some(r), Some(obj)) = (&s.replaced_by, out.as_object_mut()) {
        let r = match r {
            Replacement::Int(v) => json!(v),
            Replacement::Expr(e) => json!(e),
        };
        obj.insert("replaced_by".into(), r);
    }
    out
}

/// `operators` and `operator_tags`; an operator without tags has no entry
/// in the latter (semantics §3.1.3 then decides).
fn operators_json(operators: &Operators) -> (Json, Json) {
    let schemas = operators
        .iter()
        .map(|(target, op)| (target.clone(), json!(op.schema.to_string())))
        .collect();
    let tags = operators
        .iter()
        .filter_map(|(target, op)| Some((target.clone(), json!(op.tags.as_ref()?))))
        .collect();
    (Json::Object(schemas), Json::Object(tags))
}

fn node_json(node: &Node) -> Json {
    let s = node.structure();
    let mut out = Map::new();
    out.insert("name".into(), json!(&*s.name));
    let op = match s.op {
        NodeOp::Placeholder { .. } => "placeholder",
        NodeOp::CallFunction => "call_function",
        NodeOp::GetAttr => "get_attr",
        NodeOp::Output => "output",
    };
    out.insert("op".into(), json!(op));
    out.insert("target".into(), json!(&*s.target));
    out.insert(
        "args".into(),
        Json::Array(s.args.iter().map(arg_json).collect()),
    );
    let kwargs = s.kwargs.iter().map(|(k, a)| (k.clone(), arg_json(a)));
    out.insert("kwargs".into(), Json::Object(kwargs.collect()));
    out.insert("val".into(), value_json(node.val()));
    if let NodeOp::Placeholder { kind, fqn, source } = &s.op {
        out.insert("kind".into(), json!(input_kind(*kind)));
        out.insert("fqn".into(), json!(fqn));
        out.insert("source".into(), json!(source));
    }
    let placeholder = matches!(s.op, NodeOp::Placeholder { .. });
    if placeholder || s.tensor_id.is_some() || s.base_tensor_id.is_some() {
        out.insert("tensor_id".into(), json!(s.tensor_id));
        out.insert("base_tensor_id".into(), json!(s.base_tensor_id));
    }
    Json::Object(out)
}

fn input_kind(kind: InputKind) -> &'static str {
    match kind {
        InputKind::Parameter => "parameter",
        InputKind::Buffer => "buffer",
        InputKind::UserInput => "user_input",
        InputKind::Token => "token",
    }
}

/// An argument (format §6).
pub fn arg_json(arg: &Arg) -> Json {
    match arg {
        Arg::Node(name) => json!({ "node": &**name }),
        Arg::Int(v) => json!(v),
        Arg::Float(v) if v.get().is_finite() => json!(v.get()),
        Arg::Float(v) => json!({ "float": non_finite(v.get()) }),
        Arg::Bool(v) => json!(v),
        Arg::None => Json::Null,
        Arg::Str(v) => json!(v),
        Arg::List(items) => Json::Array(items.iter().map(arg_json).collect()),
        Arg::Tagged(key, v) => json!({ key.as_str(): v }),
    }
}

/// JSON has no infinities or NaN: the format spells them as strings.
fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "nan"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// A node's value (format §7).
pub fn value_json(val: &Value) -> Json {
    match val {
        Value::None => Json::Null,
        Value::Tensor(t) => tensor_json(t),
        Value::Int(v) => json!({ "int": v }),
        Value::SymInt(e) => json!({ "symint": e.to_json() }),
        Value::Float(v) if v.get().is_finite() => json!({ "float": v.get() }),
        Value::Float(v) => json!({ "float": non_finite(v.get()) }),
        Value::SymFloat(e) => json!({ "symfloat": e }),
        Value::Bool(v) => json!({ "bool": v }),
        Value::SymBool(e) => json!({ "symbool": e }),
        Value::Str(v) => json!({ "str": v }),
        Value::List(items) => json!({ "list": items.iter().map(value_json).collect::<Vec<_>>() }),
    }
}

/// `{"tensor": {...}}`.
pub fn tensor_json(t: &TensorMeta) -> Json {
    let sizes = |v: &[SizeExpr]| Json::Array(v.iter().map(SizeExpr::to_json).collect());
    let (g, a) = (&t.geometry, &t.autograd);
    let mut out = Map::new();
    out.insert("shape".into(), sizes(&g.shape));
    out.insert("stride".into(), sizes(&g.stride));
    out.insert("storage_offset".into(), g.storage_offset.to_json());
    out.insert("dtype".into(), json!(&*g.dtype));
    out.insert("device".into(), json!(&*g.device));
    out.insert("requires_grad".into(), json!(a.requires_grad));
    out.insert("is_leaf".into(), json!(a.is_leaf));
    out.insert("is_view".into(), json!(a.is_view));
    out.insert("storage_nbytes".into(), g.storage_nbytes.to_json());
    out.insert("storage".into(), json!(g.storage));
    let grad_fn = match a.grad_fn {
        GradFn::None => Some(Json::Null),
        GradFn::Builtin => Some(json!("builtin")),
        GradFn::Custom => Some(json!("custom")),
        // The dump predates the key.
        GradFn::Unknown => None,
    };
    if let Some(grad_fn) = grad_fn {
        out.insert("grad_fn".into(), grad_fn);
    }
    out.insert("layout".into(), json!(&*g.layout));
    out.insert("is_conj".into(), json!(g.is_conj));
    out.insert("is_neg".into(), json!(g.is_neg));
    json!({ "tensor": out })
}
