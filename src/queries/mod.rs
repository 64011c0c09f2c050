//! The analyses as memoized salsa queries. Each query only wires a pure
//! function of `analysis` to the inputs it reads; the split follows what
//! changes together, so salsa's early cutoff stops an edit early.

mod args;
mod meta;
mod rewrite;
mod signature;

pub use args::merge_args;
pub use meta::*;
pub use rewrite::*;
#[allow(unused_imports)]
pub use signature::*;

pub type QueryResult<T> = Result<T, crate::analysis::AnalysisError>;

/// A memoized result borrowed, its error cloned: how one query reads another.
fn ok<T>(result: &QueryResult<T>) -> QueryResult<&T> {
    result.as_ref().map_err(Clone::clone)
}
