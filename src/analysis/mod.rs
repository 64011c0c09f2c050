//! The analyses as pure functions over plain data. Nothing here knows about
//! salsa; `crate::queries` wires these to the database.

pub mod autograd;
pub mod collect;
pub mod dedupe;
pub mod error;
pub mod facts;
pub mod layout;
pub mod meta;
pub mod ops;

pub mod signature;
pub mod storage_overlap;
pub mod symbolic_overlap;
pub mod synthetic_base;
pub mod trace;
pub mod why;

pub use error::{AnalysisError, ExceptionType, Stage, TorchError};
pub use meta::{
    InputAliasInfo, MutationType, OutputAliasInfo, OutputType, TensorSpec, ViewAndMutationMeta,
};
