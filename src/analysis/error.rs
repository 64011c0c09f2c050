//! Errors of the analyses: PyTorch's own refusals, and graphs that load but
//! make no sense to the analysis.

use std::fmt;

use serde::Serialize;

use crate::ir::Diagnostic;

/// The stage of AOTAutograd that refused a case (the conformance data's `stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `collect_metadata`.
    CollectMetadata,
    /// `dedupe`.
    Dedupe,
    /// `merge_view_inputs`.
    MergeViewInputs,
    /// `create_synthetic_base_metadata`.
    SyntheticBaseMetadata,
    /// `graph_signature`.
    GraphSignature,
}

impl Stage {
    /// The stage's name in the conformance data.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::CollectMetadata => "collect_metadata",
            Stage::Dedupe => "dedupe",
            Stage::MergeViewInputs => "merge_view_inputs",
            Stage::SyntheticBaseMetadata => "create_synthetic_base_metadata",
            Stage::GraphSignature => "graph_signature",
        }
    }
}

/// The Python exception class PyTorch raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ExceptionType {
    /// Python's `AssertionError`.
    AssertionError,
    /// Python's `RuntimeError`.
    RuntimeError,
    /// Python's list indexing failing inside PyTorch (a quirk reproduced, §3.5.3).
    IndexError,
}

/// A case PyTorch refuses: reproduced, with the same stage and exception type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TorchError {
    /// Where PyTorch refuses.
    pub stage: Stage,
    /// The exception PyTorch raises.
    #[serde(rename = "type")]
    pub kind: ExceptionType,
    /// PyTorch's message, or aotio's account of it.
    pub message: String,
    /// Graph position of the node that causes the refusal, where one does:
    /// aotio's evidence for reports, not part of PyTorch's error.
    #[serde(skip)]
    pub node: Option<usize>,
    /// The input the refusal is about where no single node causes it: its
    /// position among the placeholders, or among the deduplicated inputs
    /// for the stages that run after dedupe (merging view inputs and
    /// synthetic-base metadata).
    #[serde(skip)]
    pub input: Option<usize>,
}

impl TorchError {
    /// A refusal at `stage` with exception `kind`.
    pub fn new(stage: Stage, kind: ExceptionType, message: impl Into<String>) -> Self {
        TorchError {
            stage,
            kind,
            message: message.into(),
            node: None,
            input: None,
        }
    }

    /// The same refusal, caused by node `node` (graph position).
    pub fn at_node(mut self, node: usize) -> Self {
        self.node = Some(node);
        self
    }

    /// The same refusal, about input `input` (see [`TorchError::input`]).
    pub fn at_input(mut self, input: usize) -> Self {
        self.input = Some(input);
        self
    }
}

/// Why an analysis has no result.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnalysisError {
    /// PyTorch would refuse this case too.
    Torch(TorchError),
    /// The dump loads but cannot be analysed (e.g. an in-place op on a non-tensor).
    Invalid(Diagnostic),
}

impl AnalysisError {
    /// A graph that loads but cannot be analysed, at `node`'s `field`.
    pub fn invalid(node: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        AnalysisError::Invalid(Diagnostic::at(Some(node), field, message))
    }
}

impl From<TorchError> for AnalysisError {
    fn from(e: TorchError) -> Self {
        AnalysisError::Torch(e)
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::Torch(e) => write!(
                f,
                "PyTorch refuses this case at {} ({:?}): {}",
                e.stage.as_str(),
                e.kind,
                e.message
            ),
            AnalysisError::Invalid(d) => write!(f, "{d}"),
        }
    }
}

impl std::error::Error for AnalysisError {}
