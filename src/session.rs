//! The library's front door: a database holding one graph, and the report
//! of every analysis over it.

use serde::Serialize;

use crate::analysis::dedupe::Dedupe;
use crate::analysis::synthetic_base::SyntheticBaseReport;
use crate::analysis::{AnalysisError, TorchError, ViewAndMutationMeta};
use crate::db::{Database, GraphInput};
use crate::ir::{self, Graph, LoadError};
use crate::queries;
use crate::queries::OverlappingInputs;

/// One graph under analysis, in a database that keeps results between edits.
pub struct Session {
    db: Database,
    graph: GraphInput,
}

/// Everything aotio computes for a graph, in the layout of a conformance
/// file's `expect` block. A PyTorch refusal is a result (`error`), not a failure.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_autograd: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fw_metadata: Option<ViewAndMutationMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<Stage<Dedupe>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic_base: Option<SyntheticBaseReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlapping_inputs: Option<Vec<OverlappingInputs>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TorchError>,
}

/// The result of a later stage: its value, or PyTorch's refusal there.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Stage<T> {
    Done(T),
    Refused { error: TorchError },
}

impl<T: Clone> Stage<T> {
    fn of(result: &Result<std::sync::Arc<T>, AnalysisError>) -> Result<Self, AnalysisError> {
        match result {
            Ok(v) => Ok(Stage::Done((**v).clone())),
            Err(AnalysisError::Torch(error)) => Ok(Stage::Refused {
                error: error.clone(),
            }),
            Err(e) => Err(e.clone()),
        }
    }
}

impl Session {
    pub fn from_json_str(text: &str) -> Result<Session, LoadError> {
        Ok(Session::from_graph(ir::load_str(text)?))
    }

    pub fn from_graph(graph: Graph) -> Session {
        Session::with_database(Database::default(), graph)
    }

    pub fn with_database(db: Database, graph: Graph) -> Session {
        let graph = db.add_graph(graph);
        Session { db, graph }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    pub fn db_mut(&mut self) -> &mut Database {
        &mut self.db
    }

    pub fn graph(&self) -> GraphInput {
        self.graph
    }

    /// The collected `ViewAndMutationMeta`.
    pub fn fw_metadata(&self) -> Result<&ViewAndMutationMeta, &AnalysisError> {
        queries::fw_metadata(&self.db, self.graph)
            .as_ref()
            .map(|m| &**m)
    }

    /// Runs every analysis. Graphs the analysis cannot make sense of give an
    /// `Err`; cases PyTorch refuses give a report with `error` set.
    pub fn report(&self) -> Result<Report, AnalysisError> {
        let meta = match self.fw_metadata() {
            Ok(m) => m.clone(),
            Err(AnalysisError::Torch(e)) => {
                return Ok(Report {
                    needs_autograd: None,
                    fw_metadata: None,
                    dedupe: None,
                    synthetic_base: None,
                    overlapping_inputs: None,
                    error: Some(e.clone()),
                })
            }
            Err(e) => return Err(e.clone()),
        };
        let db = &self.db;
        let needs_autograd = queries::needs_autograd(db, self.graph).clone()?;
        let dedupe = Stage::of(queries::dedupe(db, self.graph))?;
        // Later stages only run when dedupe succeeded.
        let (synthetic_base, overlapping_inputs) = match &dedupe {
            Stage::Done(_) => (
                Some(
                    (**queries::synthetic_bases(db, self.graph)
                        .as_ref()
                        .map_err(Clone::clone)?)
                    .clone(),
                ),
                Some(
                    (**queries::overlapping_inputs(db, self.graph)
                        .as_ref()
                        .map_err(Clone::clone)?)
                    .clone(),
                ),
            ),
            Stage::Refused { .. } => (None, None),
        };
        Ok(Report {
            needs_autograd: Some(needs_autograd),
            fw_metadata: Some(meta),
            dedupe: Some(dedupe),
            synthetic_base,
            overlapping_inputs,
            error: None,
        })
    }
}
