//! aotio: PyTorch AOTAutograd's input/output analysis as an incremental,
//! query-based compiler pass.
//!
//! Layers, from the bottom; each uses only the ones listed before it:
//! - [`schema`]: operator schemas and what their alias annotations mean;
//! - [`ir`]: the graph-dump model (format v1), its loader (which parses the
//!   schemas and pytree specs once), and size expressions;
//! - [`overlap`]: the storage-overlap engine;
//! - [`analysis`]: the analyses as pure functions;
//! - [`db`] and [`queries`]: the salsa database and the memoized queries;
//! - [`session`]: one graph in a database, and its report;
//! - [`gen`]: synthetic dumps and edits of them, for benchmarks and replays
//!   (beside the analysis: it uses `ir`'s size expressions and the schema
//!   table, and writes format-v1 JSON).
//!
//! ```
//! let dump = aotio::EXAMPLE_DUMP;
//! let session = aotio::Session::from_json_str(dump).expect("a valid dump");
//! let report = session.report().expect("the example analyses");
//! let meta = report.fw_metadata.as_ref().expect("PyTorch accepts the example");
//! assert!(meta.input_info.iter().any(|i| i.mutates_data));
//! ```

// Data from outside must never panic the process that embeds aotio.
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod analysis;
pub mod db;
pub mod gen;
pub mod ir;
pub mod overlap;
pub mod queries;
#[cfg(test)]
mod reach;
pub mod schema;
pub mod session;

pub use session::{Report, Session, UpdateSummary};

/// The embedded example analysed by `aotio analyze` without a file: a
/// training step through Linear, BatchNorm (running statistics updated in
/// place), an in-place ReLU, and a view returned.
pub const EXAMPLE_DUMP: &str = include_str!("example.json");
