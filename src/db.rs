//! The salsa database: a graph is an input, each node is an input whose
//! structure, value facts and value are separate fields, so an edit to one
//! tensor's metadata invalidates only what reads that value.
//!
//! Fields carry durabilities by how often a recompilation changes them:
//! shapes and strides most often (low), autograd flags and storages seldom
//! (medium), ops and graph-wide fields rarely (high). After a low edit salsa
//! confirms a result that read only medium and high fields without walking
//! its dependencies, which on a large graph is most of the cost of an edit.

use std::sync::{Arc, Mutex};

use salsa::{Durability, Setter};

pub use crate::analysis::facts::ValueFacts;
use crate::ir::pytree::TreeSpec;
use crate::ir::{Config, Graph, InputBase, Node, NodeStructure, Operators, Symbols, Value};
pub use crate::overlap::Mode as OverlapMode;

pub use inputs::{GraphInput, NodeInput};

// salsa generates constructors, builders and setters without docs: the
// input structs live in a module that allows it.
#[allow(missing_docs)]
mod inputs {
    use super::*;

    /// One graph: its graph-wide fields and its nodes, in order.
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
        /// `in_spec` and `out_spec`, as the loader read and checked them.
        #[returns(ref)]
        pub specs: (Option<TreeSpec>, Option<TreeSpec>),
        /// Which overlap relation decides synthetic bases and `overlapping_inputs`.
        #[returns(copy)]
        pub overlap_mode: OverlapMode,
    }

    /// One node. Edit it through `Database::set_node_value`, `set_node_structure`
    /// or `set_node`, which keep its facts in step with its value; the
    /// setters salsa generates do not.
    #[salsa::input(debug)]
    pub struct NodeInput {
        /// Op, target, args, identities: what the alias analysis reads.
        #[returns(ref)]
        pub structure: Arc<NodeStructure>,
        /// What the analyses read of the value besides its geometry.
        #[returns(ref)]
        pub facts: ValueFacts,
        /// The value the node produced: shapes, strides, autograd flags;
        /// shared, so that a report holds the inputs' values without copies.
        #[returns(ref)]
        pub value: Arc<Value>,
    }
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
            .map(|node| self.add_node(node))
            .collect();
        GraphInput::builder(
            graph.name,
            graph.config,
            graph.symbols,
            graph.operators,
            nodes,
            graph.input_bases,
            (graph.in_spec, graph.out_spec),
            OverlapMode::Torch,
        )
        // Graph-wide fields change rarely; see `add_node`.
        .durability(Durability::HIGH)
        .new(self)
    }

    /// A new node input, its fields at the durabilities the module explains.
    pub fn add_node(&self, node: Node) -> NodeInput {
        let (structure, val) = (node.shared_structure().clone(), node.shared_val().clone());
        NodeInput::builder(structure, ValueFacts::of(&val), val)
            .structure_durability(Durability::HIGH)
            .facts_durability(Durability::MEDIUM)
            .new(self)
    }

    /// Replaces one node's value (new shapes, strides, flags); its facts
    /// are set only when they differ, so results reading only them stay valid.
    pub fn set_node_value(&mut self, node: NodeInput, value: Value) {
        self.write_value(node, Arc::new(value));
    }

    fn write_value(&mut self, node: NodeInput, value: Arc<Value>) {
        let facts = ValueFacts::of(&value);
        if *node.facts(self) != facts {
            node.set_facts(self).to(facts);
        }
        node.set_value(self).to(value);
    }

    /// Chooses PyTorch's overlap verdicts (the default) or the exact ones.
    pub fn set_overlap_mode(&mut self, graph: GraphInput, mode: OverlapMode) {
        graph.set_overlap_mode(self).to(mode);
    }

    /// Replaces one node's structure (op, target, args, identities).
    pub fn set_node_structure(&mut self, node: NodeInput, structure: NodeStructure) {
        node.set_structure(self).to(Arc::new(structure));
    }

    /// Replaces what differs of one node, and says what did: (structure, value).
    pub fn set_node(&mut self, input: NodeInput, node: &Node) -> (bool, bool) {
        self.set_node_parts(input, node.shared_structure(), node.shared_val())
    }

    /// [`Database::set_node`] from a node's parts, which the database
    /// shares rather than copies.
    pub fn set_node_parts(
        &mut self,
        input: NodeInput,
        structure: &Arc<NodeStructure>,
        value: &Arc<Value>,
    ) -> (bool, bool) {
        let structure_differs = input.structure(self) != structure;
        if structure_differs {
            input.set_structure(self).to(structure.clone());
        }
        let value_differs = input.value(self) != value;
        if value_differs {
            self.write_value(input, value.clone());
        }
        (structure_differs, value_differs)
    }
}
