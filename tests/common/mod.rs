//! Shared by the integration tests: where the test data is and how it is
//! read, the conformance cases, and a field-by-field diff of aotio's JSON
//! against PyTorch's `expect` block.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// A file under `tests/data`.
pub fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// A file's text; the test data is the tests' own, so failing to read it is a bug.
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON file of the test data.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A dump that must load.
pub fn load(dump: &Value) -> aotio::ir::Graph {
    aotio::ir::load_json(dump).unwrap_or_else(|e| panic!("a valid dump: {e}"))
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance/graphs")
}

/// aotio's own cases: hand-written dumps of programs whose `expect` came
/// from PyTorch (`tests/data/pytorch/make_expect.py`).
pub fn pytorch_cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch")
}

/// Every case file (the folder grows: read it, don't list it).
pub fn case_files() -> Vec<PathBuf> {
    case_files_in(&cases_dir())
}

/// Every case file of `dir`.
pub fn case_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the case folder is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != "index.json")
        })
        .collect();
    files.sort();
    files
}

const IN_FIELDS: &[&str] = &[
    "is_leaf",
    "mutates_data",
    "mutates_metadata",
    "mutations_hidden_from_autograd",
    "mutations_under_no_grad_or_inference_mode",
    "mutation_inductor_storage_resize",
    "mutates_storage_metadata",
    "mutation_is_shallow_copy_data",
    "requires_grad",
    "keep_input_mutations",
    "mutation_type",
];
const OUT_FIELDS: &[&str] = &[
    "output_type",
    "base_idx",
    "dynamic_dims",
    "requires_grad",
    "requires_grad_for_backward",
];
const META_SCALARS: &[&str] = &[
    "num_intermediate_bases",
    "keep_input_mutations",
    "grad_enabled_mutation",
    "num_tokens",
    "mutated_inp_runtime_indices",
    "num_mutated_inp_runtime_indices",
    "mutated_graph_handled_indices",
    "num_mutated_graph_handled_indices",
    "mutated_graph_handled_indices_seen_by_autograd",
    "num_mutated_graph_handled_indices_seen_by_autograd",
    "aliased_out_indices",
    "unsafe_view_out_indices",
    "num_outputs",
    "num_outputs_non_aliased",
    "num_outputs_aliased_to_inputs",
    "num_outputs_aliased_to_intermediates",
    "num_outputs_aliased",
    "num_unsafe_view_outputs",
    "dynamic_outputs",
    "output_types",
    "is_rng_op_functionalized",
    "num_outputs_rng_offset",
    "num_forward_returns",
    "num_forward",
];
const TENSOR_FIELDS: &[&str] = &["shape", "stride", "storage_offset", "dtype"];

fn pick(v: &Value, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        m.insert((*k).to_owned(), v.get(*k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(m)
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

pub fn tensor_meta(v: &Value) -> Value {
    let t = v.get("tensor").unwrap_or(v);
    if t.is_object() {
        pick(t, TENSOR_FIELDS)
    } else {
        t.clone()
    }
}

/// "FunctionalTensor" → "Tensor", "torch.SymInt" → "SymInt", as the scoring tool does.
fn raw_kind(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_str) {
        None => Value::Null,
        Some(s) if s.contains("Tensor") => json!("Tensor"),
        Some(s) => json!(s.rsplit('.').next().unwrap_or(s)),
    }
}

/// The exact fields of a `ViewAndMutationMeta` (conformance README).
pub fn norm_meta(m: Option<&Value>) -> Value {
    let Some(m) = m.filter(|m| !m.is_null()) else {
        return Value::Null;
    };
    let mut out = Map::new();
    out.insert(
        "input_info".into(),
        Value::Array(
            list(m.get("input_info"))
                .iter()
                .map(|i| pick(i, IN_FIELDS))
                .collect(),
        ),
    );
    out.insert(
        "output_info".into(),
        Value::Array(
            list(m.get("output_info"))
                .iter()
                .map(|o| {
                    let mut p = pick(o, OUT_FIELDS);
                    if let Some(obj) = p.as_object_mut() {
                        obj.insert("raw_kind".into(), raw_kind(o.get("raw_type")));
                    }
                    p
                })
                .collect(),
        ),
    );
    out.insert(
        "traced_tangents".into(),
        Value::Array(
            list(m.get("traced_tangents"))
                .iter()
                .map(tensor_meta)
                .collect(),
        ),
    );
    for k in META_SCALARS {
        out.insert((*k).to_owned(), m.get(*k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

pub fn norm_error(e: Option<&Value>) -> Value {
    match e {
        None | Some(Value::Null) => Value::Null,
        Some(e) => pick(e, &["stage", "type"]),
    }
}

/// Differences between `expected` and `got`, one line per field path.
pub fn diff(expected: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                diff(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if expected == got => {}
        _ => out.push(format!("{path}: expected {expected}, got {got}")),
    }
}

/// The exact fields of `expect.dedupe`.
pub fn norm_dedupe(d: Option<&Value>) -> Value {
    let Some(d) = d.filter(|d| !d.is_null()) else {
        return Value::Null;
    };
    let mut out = pick(
        d,
        &[
            "strategy",
            "needs_post_compile",
            "keep_arg_mask",
            "add_dupe_map",
            "leafified_indices",
        ],
    );
    if let Some(obj) = out.as_object_mut() {
        obj.insert("fw_metadata".into(), norm_meta(d.get("fw_metadata")));
    }
    out
}

/// The exact fields of `expect.synthetic_base` (descriptors are informational).
pub fn norm_synthetic_base(s: Option<&Value>) -> Value {
    let Some(s) = s.filter(|s| !s.is_null()) else {
        return Value::Null;
    };
    if s.get("error").is_some() {
        return json!({ "error": norm_error(s.get("error")) });
    }
    let info: Vec<Value> = list(s.get("synthetic_base_info"))
        .iter()
        .map(|e| match e.as_array() {
            Some(pair) => json!([pair.first(), pair.get(1).map(tensor_meta)]),
            None => e.clone(),
        })
        .collect();
    json!({
        "is_inference": s.get("is_inference"),
        "needed": s.get("needed"),
        "synthetic_base_info": info,
        "inner_args": list(s.get("inner_args")).iter().map(tensor_meta).collect::<Vec<_>>(),
        "outer_aliased_arg_idx_with_metadata_mutations":
            s.get("outer_aliased_arg_idx_with_metadata_mutations"),
        "fw_metadata": norm_meta(s.get("fw_metadata")),
        "wrapper": s.get("wrapper"),
    })
}

/// The exact fields of one `graph_signature` flavour, names turned into
/// positions in `graph_input_names`/`graph_output_names` (a name that is not
/// there stays `["?", name]`), as the scoring tool's `norm_sig1` does.
pub fn norm_sig(g: Option<&Value>) -> Value {
    let Some(g) = g.filter(|g| !g.is_null()) else {
        return Value::Null;
    };
    if g.get("error").is_some() {
        return json!({ "error": norm_error(g.get("error")) });
    }
    // Python's `{n: i for i, n in enumerate(names)}`: the last position wins.
    let positions = |key: &str| -> std::collections::HashMap<String, usize> {
        list(g.get(key))
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_str().map(|n| (n.to_owned(), i)))
            .collect()
    };
    let ins = positions("graph_input_names");
    let outs = positions("graph_output_names");
    let pos = |map: &std::collections::HashMap<String, usize>, n: &Value| -> Value {
        match n.as_str() {
            None => Value::Null,
            Some(name) => map
                .get(name)
                .map_or_else(|| json!(["?", name]), |i| json!(i)),
        }
    };
    let pi = |n: &Value| pos(&ins, n);
    let po = |n: &Value| pos(&outs, n);
    let names = |key: &str, f: &dyn Fn(&Value) -> Value| -> Value {
        Value::Array(list(g.get(key)).iter().map(f).collect())
    };
    // Python's `sorted((f(k), g(v)) for k, v in d.items())`: pairs compared as JSON text.
    let pairs = |m: Option<&Value>, fk: &dyn Fn(&Value) -> Value, fv: &dyn Fn(&Value) -> Value| {
        let mut v: Vec<Value> = m
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| json!([fk(&json!(k)), fv(v)]))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|p| p.to_string());
        Value::Array(v)
    };
    let same = |v: &Value| v.clone();
    let backward = match g.get("backward_signature").filter(|b| !b.is_null()) {
        None => Value::Null,
        Some(b) => json!({
            "gradients_to_parameters": pairs(b.get("gradients_to_parameters"), &po, &same),
            "gradients_to_user_inputs": pairs(b.get("gradients_to_user_inputs"), &po, &pi),
        }),
    };
    json!({
        "parameters": g.get("parameters"),
        "buffers": g.get("buffers"),
        "user_inputs": names("user_inputs", &pi),
        "user_outputs": names("user_outputs", &po),
        "inputs_to_parameters": pairs(g.get("inputs_to_parameters"), &pi, &same),
        "inputs_to_buffers": pairs(g.get("inputs_to_buffers"), &pi, &same),
        "buffers_to_mutate": pairs(g.get("buffers_to_mutate"), &po, &same),
        "parameters_to_mutate": pairs(g.get("parameters_to_mutate"), &po, &same),
        "user_inputs_to_mutate": pairs(g.get("user_inputs_to_mutate"), &po, &pi),
        "input_tokens": names("input_tokens", &pi),
        "output_tokens": names("output_tokens", &po),
        "in_spec": g.get("in_spec"),
        "out_spec": g.get("out_spec"),
        "backward_signature": backward,
    })
}

/// The node named `name` of a dump, for editing.
pub fn node_mut<'a>(dump: &'a mut Value, name: &str) -> &'a mut Value {
    dump["nodes"]
        .as_array_mut()
        .expect("a dump has nodes")
        .iter_mut()
        .find(|n| n["name"] == name)
        .expect("the node exists")
}

/// Positions of the nodes whose value is a tensor (placeholders only, if asked).
pub fn tensor_nodes(dump: &Value, placeholders_only: bool) -> Vec<usize> {
    dump["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n["val"].get("tensor").is_some())
                .filter(|(_, n)| !placeholders_only || n["op"] == "placeholder")
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}
