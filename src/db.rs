//! The salsa database: a graph is an input, each node is an input whose
//! structure and value are separate fields, so an edit to one tensor's
//! metadata invalidates only what reads that value.

use std::sync::{Arc, Mutex};

use salsa::Setter;

use crate::ir::{Config, Graph, InputBase, Node, NodeStructure, Operators, Symbols, Value};
pub use crate::overlap::Mode as OverlapMode;

#[salsa::input(debug)]
pub struct GraphInput {
    #[returns(ref)]
    pub name: String,
    #[returns(ref)]
    pub config: Config,
    #[returns(ref)]
    pub symbols: Symbols,
    #[returns(ref)]
    pub operators: Operators,
    #[returns(ref)]
    pub nodes: Vec<NodeInput>,
    #[returns(ref)]
    pub input_bases: Vec<InputBase>,
    /// `in_spec` and `out_spec`, kept as JSON.
    #[returns(ref)]
    pub specs: (Option<serde_json::Value>, Option<serde_json::Value>),
    /// Which overlap relation decides synthetic bases and `overlapping_inputs`.
    #[returns(copy)]
    pub overlap_mode: OverlapMode,
}

#[salsa::input(debug)]
pub struct NodeInput {
    /// Op, target, args, identities: what the alias analysis reads.
    #[returns(ref)]
    pub structure: NodeStructure,
    /// The value the node produced: shapes, strides, autograd flags.
    #[returns(ref)]
    pub value: Value,
}

/// The database. `executed` records which queries ran, when logging is on
/// (tests of incrementality read it).
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
    log: Arc<Mutex<Option<Vec<String>>>>,
}

#[salsa::db]
impl salsa::Database for Database {}

impl Database {
    /// A database that records the name of every query it executes.
    pub fn with_execution_log() -> Self {
        let log: Arc<Mutex<Option<Vec<String>>>> = Arc::new(Mutex::new(Some(Vec::new())));
        let sink = log.clone();
        let storage = salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind {
                if let Ok(mut guard) = sink.lock() {
                    if let Some(log) = guard.as_mut() {
                        log.push(format!("{database_key:?}"));
                    }
                }
            }
        })));
        Database { storage, log }
    }

    /// Takes the names of the queries executed since the last call.
    pub fn take_executed(&self) -> Vec<String> {
        self.log
            .lock()
            .ok()
            .and_then(|mut g| g.as_mut().map(std::mem::take))
            .unwrap_or_default()
    }

    /// Loads a checked graph as new inputs.
    pub fn add_graph(&self, graph: Graph) -> GraphInput {
        let nodes = graph
            .nodes
            .into_iter()
            .map(|Node { structure, val }| NodeInput::new(self, structure, val))
            .collect();
        GraphInput::new(
            self,
            graph.name,
            graph.config,
            graph.symbols,
            graph.operators,
            nodes,
            graph.input_bases,
            (graph.in_spec, graph.out_spec),
            OverlapMode::Torch,
        )
    }

    /// Replaces one node's value (new shapes, strides, flags).
    pub fn set_node_value(&mut self, node: NodeInput, value: Value) {
        node.set_value(self).to(value);
    }

    /// Chooses PyTorch's overlap verdicts (the default) or the exact ones.
    pub fn set_overlap_mode(&mut self, graph: GraphInput, mode: OverlapMode) {
        graph.set_overlap_mode(self).to(mode);
    }

    /// Replaces one node's structure (op, target, args, identities).
    pub fn set_node_structure(&mut self, node: NodeInput, structure: NodeStructure) {
        node.set_structure(self).to(structure);
    }
}
