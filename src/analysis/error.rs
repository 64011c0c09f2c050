//! Errors of the analyses: PyTorch's own refusals, and graphs that load but
//! make no sense to the analysis.

use std::fmt;

use serde::Serialize;

use crate::ir::Diagnostic;

/// The stage of AOTAutograd that refused a case (the conformance data's `stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    CollectMetadata,
    Dedupe,
    MergeViewInputs,
    SyntheticBaseMetadata,
    GraphSignature,
}

impl Stage {
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
    AssertionError,
    RuntimeError,
    /// Python's list indexing failing inside PyTorch (a quirk reproduced, §3.5.3).
    IndexError,
}

/// A case PyTorch refuses: reproduced, with the same stage and exception type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TorchError {
    pub stage: Stage,
    #[serde(rename = "type")]
    pub kind: ExceptionType,
    pub message: String,
    /// Graph position of the node that causes the refusal, where one does:
    /// aotio's evidence for reports, not part of PyTorch's error.
    #[serde(skip)]
    pub node: Option<usize>,
}

impl TorchError {
    pub fn new(stage: Stage, kind: ExceptionType, message: impl Into<String>) -> Self {
        TorchError {
            stage,
            kind,
            message: message.into(),
            node: None,
        }
    }

    pub fn at_node(mut self, node: usize) -> Self {
        self.node = Some(node);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnalysisError {
    /// PyTorch would refuse this case too.
    Torch(TorchError),
    /// The dump loads but cannot be analysed (e.g. an in-place op on a non-tensor).
    Invalid(Diagnostic),
}

impl AnalysisError {
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
