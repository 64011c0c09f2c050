//! The analyses as memoized salsa queries. Each query only wires a pure
//! function of `analysis` to the inputs it reads; the split follows what
//! changes together, so salsa's early cutoff stops an edit early. The files
//! mirror `analysis`: metadata collection (`meta`), `dedupe`, storage
//! `overlap`, `synthetic_base`, export `signature`, and the post-dedupe
//! arguments they read (`args`).
//!
//! Callers name a query by its module (`queries::overlap::aot_guards`), as
//! they name the pure function behind it (`analysis::...`).
//!
//! Queries reach pure code through traits the pure side defines
//! (`MergeInputs`, `OverlapOf`, `StorageGroups`): the query layer implements
//! them with readers that call further queries only when asked.

mod args;
pub mod dedupe;
pub mod meta;
pub mod overlap;
pub mod signature;
pub mod synthetic_base;

pub use args::merge_args;

/// A query's result: the analysis' value, or why there is none.
pub type QueryResult<T> = Result<T, crate::analysis::AnalysisError>;

/// A memoized result borrowed, its error cloned: how one query reads another.
fn ok<T>(result: &QueryResult<T>) -> QueryResult<&T> {
    result.as_ref().map_err(Clone::clone)
}
