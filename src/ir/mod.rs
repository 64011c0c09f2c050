//! The graph-dump model: size expressions, the checked graph, loading and
//! writing (format v1). Knows nothing of salsa or of the analyses.

pub mod diagnostic;
pub mod dtype;
pub mod expr;
pub mod load;
pub mod model;
pub mod pytree;
mod raw;
pub mod vocabulary;
pub mod write;

pub use diagnostic::{Diagnostic, LoadError, Location};
pub use load::{load_json, load_str};
pub use model::*;
