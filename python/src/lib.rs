//! `aotio._aotio`: the Rust side of the Python package.
//!
//! A client of the library like the CLI, and as thin: Python objects become
//! an `ir::Graph` through the loader's public entry point, reports go back as
//! Python objects through serde. The typed, PyTorch-named report classes live
//! in Python (`aotio/_report.py`) and are built from `Report.to_dict()` only
//! when asked for, so `analyze` itself costs the analysis and nothing more.

// Data from Python must never panic the interpreter that embeds aotio.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use serde_json::Value as Json;

use aotio::analysis::AnalysisError as RustAnalysisError;
use aotio::db::{Database, OverlapMode};
use aotio::ir::{self, LoadError};
use aotio::overlap::{overlapping_members, StridedView};

create_exception!(
    _aotio,
    GraphError,
    PyValueError,
    "A graph dump that is not valid (format v1). `diagnostics` lists every \
     problem found, each a dict with `node`, `field`, `message`, `line` and `column`."
);
create_exception!(
    _aotio,
    AnalysisError,
    GraphError,
    "A dump that loads but that the analysis cannot follow (for example an \
     in-place op on a non-tensor). Not raised for cases PyTorch refuses: \
     those come back as `Report.error`."
);

fn overlap_mode(name: &str) -> PyResult<OverlapMode> {
    match name {
        "torch" => Ok(OverlapMode::Torch),
        "exact" => Ok(OverlapMode::Exact),
        other => Err(PyValueError::new_err(format!(
            "overlap mode must be \"torch\" or \"exact\", not {other:?}"
        ))),
    }
}

/// A `GraphError` carrying the diagnostics as data as well as in its message.
fn graph_error(py: Python<'_>, label: Option<&str>, error: &LoadError) -> PyErr {
    let lines: Vec<String> = error
        .diagnostics
        .iter()
        .map(|d| match label {
            Some(l) => format!("{l}: {d}"),
            None => d.to_string(),
        })
        .collect();
    let err = GraphError::new_err(lines.join("\n"));
    let diagnostics = error
        .diagnostics
        .iter()
        .map(|d| {
            let dict = PyDict::new(py);
            dict.set_item("node", d.location.node.as_deref())?;
            dict.set_item("field", &d.location.field)?;
            dict.set_item("message", &d.message)?;
            dict.set_item("line", d.line)?;
            dict.set_item("column", d.column)?;
            Ok(dict)
        })
        .collect::<PyResult<Vec<_>>>();
    match diagnostics {
        Ok(list) => match err.value(py).setattr("diagnostics", list) {
            Ok(()) => err,
            Err(e) => e,
        },
        Err(e) => e,
    }
}

fn analysis_error(e: &RustAnalysisError) -> PyErr {
    match e {
        RustAnalysisError::Invalid(d) => AnalysisError::new_err(d.to_string()),
        // `report()` turns refusals into results; one reaching here is a stage
        // that has no place for it in the report.
        RustAnalysisError::Torch(t) => AnalysisError::new_err(format!(
            "PyTorch refuses this graph at {:?}: {}",
            t.stage, t.message
        )),
    }
}

/// A checked graph dump (format `aotio.graph` v1).
///
/// Build one with `Graph.from_dict`, `Graph.loads` or `Graph.load`, or with
/// `aotio.trace` from a PyTorch program. Immutable: a changed program is a
/// new `Graph` (hand it to `Session.update`).
#[pyclass(frozen, module = "aotio")]
pub struct Graph {
    graph: Arc<ir::Graph>,
    /// The dump as given, for `to_dict`/`to_json`/`save`.
    source: Arc<Json>,
}

impl Graph {
    fn from_json(py: Python<'_>, json: Json, label: Option<&str>) -> PyResult<Graph> {
        // Checking a large dump takes a while; other Python threads may run.
        let loaded = py.detach(|| ir::load_json(&json));
        match loaded {
            Ok(graph) => Ok(Graph {
                graph: Arc::new(graph),
                source: Arc::new(json),
            }),
            Err(e) => Err(graph_error(py, label, &e)),
        }
    }

    fn parse(py: Python<'_>, text: &str, label: Option<&str>) -> PyResult<Graph> {
        match serde_json::from_str::<Json>(text) {
            Ok(json) => Graph::from_json(py, json, label),
            // The loader words syntax errors (with line and column); let it.
            Err(_) => match ir::load_str(text) {
                Err(e) => Err(graph_error(py, label, &e)),
                Ok(_) => Err(GraphError::new_err("not valid JSON")),
            },
        }
    }
}

#[pymethods]
impl Graph {
    /// Checks a dump given as a dict (the parsed JSON: dicts, lists, str,
    /// int, float, bool, None). Raises `GraphError` listing every problem.
    #[staticmethod]
    fn from_dict(py: Python<'_>, dump: &Bound<'_, PyAny>) -> PyResult<Graph> {
        if !dump.is_instance_of::<PyDict>() {
            return Err(PyTypeError::new_err(format!(
                "a graph dump is a dict, not {}",
                dump.get_type().name()?
            )));
        }
        let json: Json = pythonize::depythonize(dump)
            .map_err(|e| GraphError::new_err(format!("not a JSON-like value: {e}")))?;
        Graph::from_json(py, json, None)
    }

    /// Checks a dump given as JSON text.
    #[staticmethod]
    fn loads(py: Python<'_>, text: &str) -> PyResult<Graph> {
        Graph::parse(py, text, None)
    }

    /// Reads and checks the dump in the file at `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Graph> {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| PyOSError::new_err(format!("cannot read {}: {e}", path.display())))?;
        Graph::parse(py, &text, Some(&path.display().to_string()))
    }

    /// The dump as JSON text; `indent` spaces per level, or one line when None.
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        to_json_text(&*self.source, indent)
    }

    /// Writes the dump to `path` (JSON, indented by 1 like the reference dumps).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let text = to_json_text(&*self.source, Some(1))?;
        std::fs::write(&path, text + "\n")
            .map_err(|e| PyOSError::new_err(format!("cannot write {}: {e}", path.display())))
    }

    /// The dump as a new dict (changing it does not change this graph).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        JsonToPy::new(py).convert(&self.source)
    }

    /// The dump's `name`.
    #[getter]
    fn name(&self) -> &str {
        &self.graph.name
    }

    /// The graph's inputs in order (index `i` is `fw_metadata.input_info[i]`):
    /// one dict per placeholder with `name`, `kind` (`parameter`, `buffer`,
    /// `user_input`, `token`), `fqn` (parameters and buffers) and `source`
    /// (Dynamo-style, such as `L['x']`).
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.graph
            .nodes
            .iter()
            .filter_map(|node| {
                let s = node.structure();
                match &s.op {
                    ir::NodeOp::Placeholder { kind, fqn, source } => Some((s, kind, fqn, source)),
                    _ => None,
                }
            })
            .map(|(s, kind, fqn, source)| {
                let dict = PyDict::new(py);
                dict.set_item("name", &*s.name)?;
                dict.set_item("kind", pythonize::pythonize(py, kind)?)?;
                dict.set_item("fqn", fqn.as_deref())?;
                dict.set_item("source", source.as_deref())?;
                Ok(dict)
            })
            .collect()
    }

    /// Number of nodes (placeholders, ops and the output node).
    fn __len__(&self) -> usize {
        self.graph.nodes.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Graph(name={:?}, nodes={})",
            self.graph.name,
            self.graph.nodes.len()
        )
    }

    /// Graphs are equal when their checked contents are (compared through the
    /// node fingerprints first), whatever their JSON text looked like.
    fn __eq__(&self, other: &Graph) -> bool {
        Arc::ptr_eq(&self.graph, &other.graph)
            || (self.graph.nodes.len() == other.graph.nodes.len()
                && self
                    .graph
                    .nodes
                    .iter()
                    .zip(&other.graph.nodes)
                    .all(|(a, b)| a.fingerprint() == b.fingerprint())
                && *self.graph == *other.graph)
    }
}

/// JSON values to Python objects. Written out rather than through
/// `pythonize`, which is several times slower on large reports; keys repeat
/// (every `InputAliasInfo` has the same ten), so they are made once each.
struct JsonToPy<'py> {
    py: Python<'py>,
    keys: HashMap<String, Bound<'py, PyString>>,
}

impl<'py> JsonToPy<'py> {
    fn new(py: Python<'py>) -> Self {
        JsonToPy {
            py,
            keys: HashMap::new(),
        }
    }

    fn convert(&mut self, value: &Json) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match value {
            Json::Null => py.None().into_bound(py),
            Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    i.into_pyobject(py)?.into_any()
                } else if let Some(u) = n.as_u64() {
                    u.into_pyobject(py)?.into_any()
                } else {
                    n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
                }
            }
            Json::String(s) => PyString::new(py, s).into_any(),
            Json::Array(items) => {
                let list = PyList::empty(py);
                for item in items {
                    list.append(self.convert(item)?)?;
                }
                list.into_any()
            }
            Json::Object(map) => {
                let dict = PyDict::new(py);
                for (k, v) in map {
                    let key = match self.keys.get(k) {
                        Some(key) => key.clone(),
                        None => {
                            let key = PyString::intern(py, k);
                            self.keys.insert(k.clone(), key.clone());
                            key
                        }
                    };
                    dict.set_item(key, self.convert(v)?)?;
                }
                dict.into_any()
            }
        })
    }
}

fn to_json_text<T: serde::Serialize>(value: &T, indent: Option<usize>) -> PyResult<String> {
    let result = match indent {
        None => serde_json::to_string(value),
        Some(n) => {
            let spaces = vec![b' '; n];
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(value, &mut ser)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        }
    };
    result.map_err(|e| PyValueError::new_err(format!("cannot write JSON: {e}")))
}

/// What aotio computed for a graph: the raw result. `aotio.Report` wraps it
/// with typed, PyTorch-named views.
#[pyclass(frozen, module = "aotio._aotio")]
pub struct RawReport {
    report: aotio::Report,
}

#[pymethods]
impl RawReport {
    /// Exactly what `aotio analyze FILE --format json` prints, as a new dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // Through a JSON value, not straight to Python: serde tuples (pairs
        // in the report) would become Python tuples, the CLI prints lists.
        let json = serde_json::to_value(&self.report)
            .map_err(|e| PyValueError::new_err(format!("cannot convert the report: {e}")))?;
        JsonToPy::new(py).convert(&json)
    }

    /// One top-level key of `to_dict()` alone (None when the report has no
    /// such entry), so that reading `needs_autograd` does not convert the
    /// whole report.
    fn get<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.report;
        let part = match key {
            "needs_autograd" => serde_json::to_value(r.needs_autograd),
            "fw_metadata" => serde_json::to_value(&r.fw_metadata),
            "dedupe" => serde_json::to_value(&r.dedupe),
            "synthetic_base" => serde_json::to_value(&r.synthetic_base),
            "overlapping_inputs" => serde_json::to_value(&r.overlapping_inputs),
            "symbolic_overlap" => serde_json::to_value(&r.symbolic_overlap),
            "aot_guards" => serde_json::to_value(&r.aot_guards),
            "error" => serde_json::to_value(&r.error),
            "graph_signature" => serde_json::to_value(&r.graph_signature),
            other => return Err(PyKeyError::new_err(other.to_owned())),
        };
        let part =
            part.map_err(|e| PyValueError::new_err(format!("cannot convert `{key}`: {e}")))?;
        JsonToPy::new(py).convert(&part)
    }

    /// The same as JSON text (`indent=2` is the CLI's layout).
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        to_json_text(&self.report, indent)
    }
}

/// Runs every analysis on `graph` in a fresh database.
#[pyfunction]
#[pyo3(signature = (graph, overlap="torch"))]
fn analyze(py: Python<'_>, graph: &Graph, overlap: &str) -> PyResult<RawReport> {
    let mode = overlap_mode(overlap)?;
    let graph = graph.graph.clone();
    let report = py.detach(move || {
        let mut session = aotio::Session::from_graph((*graph).clone());
        let input = session.graph();
        session.db_mut().set_overlap_mode(input, mode);
        session.report()
    });
    report
        .map(|report| RawReport { report })
        .map_err(|e| analysis_error(&e))
}

/// What `Session.update` changed.
#[pyclass(frozen, module = "aotio", get_all)]
pub struct UpdateSummary {
    /// Nodes in the new graph with no node of the same name before.
    nodes_added: usize,
    /// Nodes of the old graph with no node of the same name now.
    nodes_removed: usize,
    /// Kept nodes whose op, target, arguments or identities changed.
    structures_changed: usize,
    /// Kept nodes whose value (tensor metadata, autograd facts) changed.
    values_changed: usize,
    /// Graph-level fields that changed (`config`, `symbols`, ...).
    fields_changed: Vec<&'static str>,
}

#[pymethods]
impl UpdateSummary {
    /// True when the update changed nothing.
    fn is_empty(&self) -> bool {
        self.nodes_added == 0
            && self.nodes_removed == 0
            && self.structures_changed == 0
            && self.values_changed == 0
            && self.fields_changed.is_empty()
    }

    fn __repr__(&self) -> String {
        // Field names are identifiers: quoting them Python's way is enough.
        let fields: Vec<String> = self
            .fields_changed
            .iter()
            .map(|f| format!("'{f}'"))
            .collect();
        format!(
            "UpdateSummary(nodes_added={}, nodes_removed={}, structures_changed={}, \
             values_changed={}, fields_changed=[{}])",
            self.nodes_added,
            self.nodes_removed,
            self.structures_changed,
            self.values_changed,
            fields.join(", ")
        )
    }
}

/// One graph in a database that keeps results between versions; see `aotio.Session`.
// The database is `Send` but not `Sync`: a mutex makes the class shareable,
// and it is only ever locked with the GIL released, so a thread waiting for it
// never blocks the one holding it.
#[pyclass(frozen, module = "aotio._aotio")]
pub struct RawSession {
    state: Mutex<SessionState>,
}

struct SessionState {
    session: aotio::Session,
    executed: Vec<String>,
}

fn poisoned(_: ()) -> PyErr {
    PyRuntimeError::new_err("an earlier call on this session failed midway; start a new Session")
}

#[pymethods]
impl RawSession {
    #[new]
    #[pyo3(signature = (graph, overlap="torch"))]
    fn new(py: Python<'_>, graph: &Graph, overlap: &str) -> PyResult<RawSession> {
        let mode = overlap_mode(overlap)?;
        let graph = graph.graph.clone();
        let session = py.detach(move || {
            let mut session =
                aotio::Session::with_database(Database::with_execution_log(), (*graph).clone());
            let input = session.graph();
            session.db_mut().set_overlap_mode(input, mode);
            session
        });
        Ok(RawSession {
            state: Mutex::new(SessionState {
                session,
                executed: Vec::new(),
            }),
        })
    }

    /// Brings the session in line with `graph` (nodes matched by name).
    fn update(&self, py: Python<'_>, graph: &Graph) -> PyResult<UpdateSummary> {
        let new = graph.graph.clone();
        let state = &self.state;
        let s = py.detach(move || {
            state
                .lock()
                .map_err(drop)
                .map(|mut st| st.session.update(&new))
        });
        let s = s.map_err(poisoned)?;
        Ok(UpdateSummary {
            nodes_added: s.nodes_added,
            nodes_removed: s.nodes_removed,
            structures_changed: s.structures_changed,
            values_changed: s.values_changed,
            fields_changed: s.fields_changed,
        })
    }

    /// Every analysis of the current graph; re-runs only what changed.
    fn report(&self, py: Python<'_>) -> PyResult<RawReport> {
        let state = &self.state;
        let report = py.detach(move || {
            state.lock().map_err(drop).map(|mut st| {
                // Updates only set inputs, so nothing before this report ran a query.
                st.session.db().take_executed();
                let report = st.session.report();
                st.executed = st.session.db().take_executed();
                report
            })
        });
        report
            .map_err(poisoned)?
            .map(|report| RawReport { report })
            .map_err(|e| analysis_error(&e))
    }

    /// The queries executed (not merely confirmed) for the last `report()`.
    fn executed_queries(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let state = &self.state;
        py.detach(move || state.lock().map_err(drop).map(|st| st.executed.clone()))
            .map_err(poisoned)
    }
}

/// Overlap of strided views of one storage, from their geometry alone:
/// `views` is a list of `(sizes, strides, storage_offset)` counted in
/// elements. Returns the sorted indices of the members that overlap another
/// member: PyTorch's verdict (`mode="torch"`) or the true one (`"exact"`; a
/// false positive only where the exact solver hit its work bound). For fake
/// or symbolic tensors, pass sizes read at their hints.
#[pyfunction]
#[pyo3(signature = (views, mode="torch"))]
fn overlapping_views(
    py: Python<'_>,
    views: Vec<(Vec<i64>, Vec<i64>, i64)>,
    mode: &str,
) -> PyResult<Vec<usize>> {
    let mode = overlap_mode(mode)?;
    let views: Vec<StridedView> = views
        .into_iter()
        .enumerate()
        .map(|(i, (sizes, strides, offset))| {
            if sizes.len() == strides.len() {
                Ok(StridedView::new(sizes, strides, offset))
            } else {
                Err(PyValueError::new_err(format!(
                    "views[{i}]: {} sizes but {} strides",
                    sizes.len(),
                    strides.len()
                )))
            }
        })
        .collect::<PyResult<_>>()?;
    // The member set alone (no pair list): O(n log n) for the common families.
    Ok(py.detach(move || overlapping_members(&views, mode).0))
}

#[pymodule]
fn _aotio(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("GraphError", py.get_type::<GraphError>())?;
    m.add("AnalysisError", py.get_type::<AnalysisError>())?;
    m.add_class::<Graph>()?;
    m.add_class::<RawReport>()?;
    m.add_class::<UpdateSummary>()?;
    m.add_class::<RawSession>()?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(overlapping_views, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
