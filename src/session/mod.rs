//! The library's front door: a database holding one graph, and the report
//! of every analysis over it.

use std::collections::HashSet;
use std::sync::Arc;

use salsa::Setter;
use serde::Serialize;

use crate::analysis::dedupe::Dedupe;
use crate::analysis::signature::Signatures;
use crate::analysis::storage_overlap::{Guard, OverlappingInputs, SymbolicOverlap};
use crate::analysis::synthetic_base::SyntheticBaseReport;
use crate::analysis::trace::AliasTrace;
use crate::analysis::{AnalysisError, TorchError, ViewAndMutationMeta};
use crate::db::{Database, GraphInput, NodeInput};
use crate::ir::{self, Arg, Graph, LoadError, Node, Symbols, Value};
use crate::queries;

mod identity;
mod matching;

use identity::{Changed, Identities};
use matching::{match_nodes, Match};

/// One graph under analysis, in a database that keeps results between edits.
pub struct Session {
    db: Database,
    graph: GraphInput,
    /// Inputs of removed nodes, for reuse.
    spare: Vec<NodeInput>,
    /// The fingerprints ([`Node::fingerprint`]) of the graph's nodes in
    /// order: the one record of what the database holds, so that `update`
    /// compares versions without reading the nodes. Dropped whenever the
    /// database is handed out for direct edits, and then taken again.
    fingerprints: Option<Vec<u64>>,
    /// The translation of each version's tensor and storage numbers into
    /// the database's (see `identity`).
    identities: Identities,
}

/// What [`Session::update`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateSummary {
    /// Nodes new in this version.
    pub nodes_added: usize,
    /// Nodes gone from it.
    pub nodes_removed: usize,
    /// Nodes whose op, target, args or identities changed.
    pub structures_changed: usize,
    /// Nodes whose value changed.
    pub values_changed: usize,
    /// Graph-level fields that changed (`config`, `symbols`, ...).
    pub fields_changed: Vec<&'static str>,
}

impl UpdateSummary {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == UpdateSummary::default()
    }
}

/// Everything aotio computes for a graph, in the layout of a conformance
/// file's `expect` block. A PyTorch refusal is a result (`error`), not a failure.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// PyTorch's joint-or-inference decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_autograd: Option<bool>,
    /// The collected `ViewAndMutationMeta`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fw_metadata: Option<Arc<ViewAndMutationMeta>>,
    /// What dedupe did, or its refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<Stage<Arc<Dedupe>>>,
    /// The synthetic-base rewrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic_base: Option<Arc<SyntheticBaseReport>>,
    /// Per storage group, the members that overlap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlapping_inputs: Option<Arc<Vec<OverlappingInputs>>>,
    /// Symbolic groups: whether each overlap verdict holds for all symbol values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbolic_overlap: Option<Arc<Vec<SymbolicOverlap>>>,
    /// The guards PyTorch installs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aot_guards: Option<Arc<Vec<Guard>>>,
    /// PyTorch's refusal during metadata collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TorchError>,
    /// The export signatures of the flavours asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_signature: Option<Arc<Signatures>>,
    /// What printing the report needs of the graph itself; not a PyTorch field.
    #[serde(skip)]
    pub graph: Arc<GraphFacts>,
}

/// What a report's readers need of the graph besides PyTorch's fields:
/// names, the inputs' values, and the alias trace behind the evidence
/// (`analysis::why`). Renderers read this, never the database.
#[derive(Clone, Debug)]
pub struct GraphFacts {
    /// Every node's name, in graph order.
    pub node_names: Arc<Vec<Arc<str>>>,
    /// The placeholders, in input order.
    pub inputs: Inputs,
    /// The output node's arguments, as Python prints them.
    pub output_names: Vec<String>,
    /// The graph's symbols, to evaluate sizes at their hints.
    pub symbols: Symbols,
    /// The functionalization model's record, when the graph could be traced.
    pub trace: Option<Arc<AliasTrace>>,
}

/// The placeholders of a graph, in input order, kept in the chunks the
/// database computes them in (so that a report after a one-input edit
/// shares all but one chunk with the report before).
#[derive(Clone, Debug, Default)]
pub struct Inputs(Vec<Arc<Vec<InputFacts>>>);

impl Inputs {
    /// How many placeholders.
    pub fn len(&self) -> usize {
        self.0.iter().map(|c| c.len()).sum()
    }

    /// No placeholders.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|c| c.is_empty())
    }

    /// Placeholder `i`.
    pub fn get(&self, i: usize) -> Option<&InputFacts> {
        self.iter().nth(i)
    }

    /// The placeholders, in order.
    pub fn iter(&self) -> impl Iterator<Item = &InputFacts> + '_ {
        self.0.iter().flat_map(|c| c.iter())
    }
}

/// A placeholder: its name and the value it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFacts {
    /// The placeholder's name.
    pub name: Arc<str>,
    /// Its value, shared with the database.
    pub value: Arc<Value>,
}

impl GraphFacts {
    fn of(db: &Database, graph: GraphInput) -> GraphFacts {
        GraphFacts {
            node_names: queries::meta::node_names(db, graph).clone(),
            inputs: input_facts(db, graph),
            output_names: output_names(db, graph).clone(),
            symbols: graph.symbols(db).clone(),
            trace: queries::meta::alias_trace(db, graph).as_ref().ok().cloned(),
        }
    }
}

/// Placeholders per [`input_facts_chunk`]: an edit of one input's value
/// re-reads its chunk, not every input.
const INPUT_CHUNK: usize = 64;

/// The placeholders' names and values.
fn input_facts(db: &dyn salsa::Database, graph: GraphInput) -> Inputs {
    let count = match queries::meta::alias_trace(db, graph) {
        Ok(trace) => trace.input_nodes.len(),
        Err(_) => graph.nodes(db).len(),
    };
    let chunks = (0..count.div_ceil(INPUT_CHUNK)).map(|k| input_facts_chunk(db, graph, k).clone());
    Inputs(chunks.collect())
}

/// Chunk `k` of [`input_facts`]: the placeholders among the trace's inputs
/// `k * INPUT_CHUNK..`, or among all nodes when the graph cannot be traced.
#[salsa::tracked(returns(ref))]
fn input_facts_chunk(
    db: &dyn salsa::Database,
    graph: GraphInput,
    k: usize,
) -> Arc<Vec<InputFacts>> {
    let nodes = graph.nodes(db);
    let start = k.saturating_mul(INPUT_CHUNK);
    let positions: Vec<usize> = match queries::meta::alias_trace(db, graph) {
        Ok(trace) => trace
            .input_nodes
            .iter()
            .skip(start)
            .take(INPUT_CHUNK)
            .copied()
            .collect(),
        Err(_) => (start..nodes.len().min(start.saturating_add(INPUT_CHUNK))).collect(),
    };
    // Whether a node is a placeholder, and its name, come from per-graph
    // queries: after a shape edit salsa then confirms one field per input
    // here (its value), not three.
    let names = queries::meta::node_names(db, graph);
    let placeholders = queries::meta::placeholder_positions(db, graph);
    let facts = positions
        .iter()
        .filter(|&&i| placeholders.binary_search(&i).is_ok())
        .filter_map(|&i| Some((names.get(i)?, nodes.get(i)?)))
        .map(|(name, n)| InputFacts {
            name: name.clone(),
            value: n.value(db).clone(),
        });
    Arc::new(facts.collect())
}

/// The output node's arguments, as Python prints them.
#[salsa::tracked(returns(ref))]
fn output_names(db: &dyn salsa::Database, graph: GraphInput) -> Vec<String> {
    match graph
        .nodes(db)
        .last()
        .and_then(|n| n.structure(db).args.first())
    {
        Some(Arg::List(items)) => items.iter().map(python_repr).collect(),
        _ => Vec::new(),
    }
}

/// An output node's argument as Python prints the value it stands for.
fn python_repr(a: &Arg) -> String {
    match a {
        Arg::Node(n) => n.to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.get().to_string(),
        Arg::Bool(true) => "True".to_owned(),
        Arg::Bool(false) => "False".to_owned(),
        Arg::None => "None".to_owned(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::List(_) => "[...]".to_owned(),
        Arg::Tagged(k, v) => format!("{k}={v}"),
    }
}

/// The result of a later stage: its value, or PyTorch's refusal there.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Stage<T> {
    /// The stage's result.
    Done(T),
    /// PyTorch refuses at this stage.
    Refused {
        /// The refusal.
        error: TorchError,
    },
}

impl<T> Stage<Arc<T>> {
    fn of(result: &Result<Arc<T>, AnalysisError>) -> Result<Self, AnalysisError> {
        match result {
            Ok(v) => Ok(Stage::Done(v.clone())),
            Err(AnalysisError::Torch(error)) => Ok(Stage::Refused {
                error: error.clone(),
            }),
            Err(e) => Err(e.clone()),
        }
    }
}

impl Session {
    /// A session over a dump's JSON text.
    pub fn from_json_str(text: &str) -> Result<Session, LoadError> {
        Ok(Session::from_graph(ir::load_str(text)?))
    }

    /// A session over a loaded graph.
    pub fn from_graph(graph: Graph) -> Session {
        Session::with_database(Database::default(), graph)
    }

    /// A session over `graph` in `db` (e.g. one that logs executed queries).
    pub fn with_database(db: Database, graph: Graph) -> Session {
        let fingerprints = graph.nodes.iter().map(Node::fingerprint).collect();
        // A first version translates to itself; this records its numbers as taken.
        let mut identities = Identities::default();
        for node in &graph.nodes {
            let _ = identities.translate(node);
        }
        let _ = identities.translate_bases(&graph.input_bases);
        let graph = db.add_graph(graph);
        Session {
            db,
            graph,
            spare: Vec::new(),
            fingerprints: Some(fingerprints),
            identities,
        }
    }

    /// Brings the database in line with a new version of the graph, as a
    /// recompilation would hand it over: nodes are matched to the ones
    /// already there (`matching`), their tensor and storage numbers are
    /// translated into the database's (`identity`), and only the fields that
    /// differ are set, so salsa re-runs only what they feed. An inserted,
    /// removed or renamed node changes its own node and the nodes that name
    /// it, not every later one.
    pub fn update(&mut self, new: &Graph) -> UpdateSummary {
        let db = &mut self.db;
        let graph = self.graph;
        let mut summary = UpdateSummary::default();
        let old: Vec<NodeInput> = graph.nodes(db).clone();
        let old_prints = match self.fingerprints.take() {
            Some(prints) if prints.len() == old.len() => prints,
            _ => old
                .iter()
                .map(|n| ir::fingerprint(n.structure(db), n.value(db)))
                .collect(),
        };
        let matches = match_nodes(db, &old, &old_prints, new);
        // A matched node keeps its tensors' and storages' numbers.
        let mut changed = Changed::default();
        for (node, m) in new.nodes.iter().zip(&matches) {
            if let Match::Changed(input) = *m {
                let old_node = (&**input.structure(db), &**input.value(db));
                self.identities.pin_node(node, old_node, &mut changed);
            }
        }
        let mut nodes: Vec<Option<NodeInput>> = Vec::with_capacity(new.nodes.len());
        for (node, m) in new.nodes.iter().zip(&matches) {
            let input = match *m {
                // Unchanged, unless one of its numbers now translates differently.
                Match::Same(input)
                    if changed.is_empty() || !Identities::touches(node, &changed) =>
                {
                    nodes.push(Some(input));
                    continue;
                }
                Match::Same(input) | Match::Changed(input) => input,
                Match::New => {
                    nodes.push(None);
                    summary.nodes_added += 1;
                    continue;
                }
            };
            let (structure, value) = self.identities.translate(node);
            let (structure, value) = db.set_node_parts(input, &structure, &value);
            summary.structures_changed += usize::from(structure);
            summary.values_changed += usize::from(value);
            nodes.push(Some(input));
        }
        summary.nodes_removed = old.len() + summary.nodes_added - nodes.len();
        // Salsa inputs live as long as the database: a removed node's input
        // is kept and given to the next added node, so a loop that renames
        // nodes does not grow the database without bound.
        if summary.nodes_removed > 0 {
            let kept: HashSet<NodeInput> = nodes.iter().flatten().copied().collect();
            self.spare.extend(old.iter().filter(|n| !kept.contains(n)));
        }
        let nodes: Vec<NodeInput> = nodes
            .into_iter()
            .zip(&new.nodes)
            .map(|(input, node)| {
                if let Some(input) = input {
                    return input;
                }
                let (structure, value) = self.identities.translate(node);
                match self.spare.pop() {
                    Some(spare) => {
                        db.set_node_parts(spare, &structure, &value);
                        spare
                    }
                    None => db.add_node(Node::from_shared(structure, value)),
                }
            })
            .collect();
        if old != nodes {
            graph.set_nodes(db).to(nodes);
        }
        self.fingerprints = Some(new.nodes.iter().map(Node::fingerprint).collect());
        macro_rules! update_field {
            ($get:ident, $set:ident, $value:expr) => {
                if *graph.$get(db) != $value {
                    graph.$set(db).to($value.clone());
                    summary.fields_changed.push(stringify!($get));
                }
            };
        }
        update_field!(name, set_name, new.name);
        update_field!(config, set_config, new.config);
        update_field!(symbols, set_symbols, new.symbols);
        update_field!(operators, set_operators, new.operators);
        let input_bases = self.identities.translate_bases(&new.input_bases);
        update_field!(input_bases, set_input_bases, input_bases);
        // Specs describe every input and output: compared before they are copied.
        let (in_spec, out_spec) = graph.specs(db);
        if *in_spec != new.in_spec || *out_spec != new.out_spec {
            graph
                .set_specs(db)
                .to((new.in_spec.clone(), new.out_spec.clone()));
            summary.fields_changed.push("specs");
        }
        self.identities.prune(new);
        summary
    }

    /// [`Session::update`] from a dump's JSON text.
    pub fn update_from_json_str(&mut self, text: &str) -> Result<UpdateSummary, LoadError> {
        Ok(self.update(&ir::load_str(text)?))
    }

    /// The database, to run queries.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The database, for direct edits of its inputs. Its tensor and
    /// storage numbers are the session's own: those of the first version,
    /// and for a tensor first seen later a number no other one has.
    pub fn db_mut(&mut self) -> &mut Database {
        self.fingerprints = None;
        &mut self.db
    }

    /// The graph input.
    pub fn graph(&self) -> GraphInput {
        self.graph
    }

    /// The node input named `name`, for direct edits (a scan of the nodes).
    pub fn node(&self, name: &str) -> Option<NodeInput> {
        let db = &self.db;
        self.graph
            .nodes(db)
            .iter()
            .copied()
            .find(|n| &*n.structure(db).name == name)
    }

    /// What printing a report needs, with the inputs' storages numbered
    /// as the latest version numbers them.
    fn graph_facts(&self) -> Arc<GraphFacts> {
        let mut facts = GraphFacts::of(&self.db, self.graph);
        if !self.identities.storages_moved() {
            return Arc::new(facts);
        }
        let raw: Vec<Option<Value>> = facts
            .inputs
            .iter()
            .map(|i| self.identities.raw_value(&i.value))
            .collect();
        if raw.iter().any(Option::is_some) {
            let inputs = facts.inputs.iter().zip(raw).map(|(i, raw)| InputFacts {
                name: i.name.clone(),
                value: raw.map_or_else(|| i.value.clone(), Arc::new),
            });
            facts.inputs = Inputs(vec![Arc::new(inputs.collect())]);
        }
        Arc::new(facts)
    }

    /// The collected `ViewAndMutationMeta`.
    pub fn fw_metadata(&self) -> Result<&ViewAndMutationMeta, &AnalysisError> {
        queries::meta::fw_metadata(&self.db, self.graph)
            .as_ref()
            .map(|m| &**m)
    }

    /// Runs every analysis. Graphs the analysis cannot make sense of give an
    /// `Err`; cases PyTorch refuses give a report with `error` set.
    pub fn report(&self) -> Result<Report, AnalysisError> {
        // Export runs its own collection, so it has a result even where this one is refused.
        let graph_signature =
            Some(queries::signature::graph_signatures(&self.db, self.graph).clone()?);
        // Results are shared with the database, not copied: a warm report is a lookup.
        let meta = match queries::meta::fw_metadata(&self.db, self.graph) {
            Ok(m) => m.clone(),
            Err(AnalysisError::Torch(e)) => {
                return Ok(Report {
                    needs_autograd: None,
                    fw_metadata: None,
                    dedupe: None,
                    synthetic_base: None,
                    overlapping_inputs: None,
                    symbolic_overlap: None,
                    aot_guards: None,
                    error: Some(e.clone()),
                    graph_signature,
                    graph: self.graph_facts(),
                })
            }
            Err(e) => return Err(e.clone()),
        };
        let db = &self.db;
        let needs_autograd = queries::meta::needs_autograd(db, self.graph).clone()?;
        let dedupe = Stage::of(queries::dedupe::dedupe(db, self.graph))?;
        // Later stages only run when dedupe succeeded.
        fn later<T>(q: &Result<Arc<T>, AnalysisError>) -> Result<Option<Arc<T>>, AnalysisError> {
            q.as_ref().map(|v| Some(v.clone())).map_err(Clone::clone)
        }
        let (synthetic_base, overlapping_inputs, symbolic_overlap, aot_guards) = match &dedupe {
            Stage::Done(_) => (
                later(queries::synthetic_base::synthetic_bases(db, self.graph))?,
                later(queries::overlap::overlapping_inputs(db, self.graph))?,
                later(queries::overlap::symbolic_overlap(db, self.graph))?,
                later(queries::overlap::aot_guards(db, self.graph))?,
            ),
            Stage::Refused { .. } => (None, None, None, None),
        };
        Ok(Report {
            needs_autograd: Some(needs_autograd),
            fw_metadata: Some(meta),
            dedupe: Some(dedupe),
            synthetic_base,
            overlapping_inputs,
            symbolic_overlap,
            aot_guards,
            error: None,
            graph_signature,
            graph: self.graph_facts(),
        })
    }
}
