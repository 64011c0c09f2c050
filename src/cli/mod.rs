//! Command-line parsing, files, and output formats. The only layer that
//! knows about any of them.

mod gen;
mod overlap;
mod render;
mod replay;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use aotio::db::OverlapMode;
use aotio::ir::{self, LoadError};
use aotio::Session;

/// PyTorch AOTAutograd's input/output analysis: which inputs a graph
/// mutates, what its outputs alias, and the calling-convention rewrites that
/// follow, computed from a graph dump (format `aotio.graph` v1).
#[derive(Parser, Debug)]
#[command(name = "aotio", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse a graph dump and print the results.
    ///
    /// Without FILE, analyses an embedded example (a training step through
    /// Linear, BatchNorm with running-statistics updates, an in-place ReLU,
    /// and a returned view). `-` reads the dump from standard input.
    Analyze {
        /// Graph dump (JSON); `-` for standard input.
        file: Option<PathBuf>,
        /// Output format: `text` for people, `json` for machines (the layout
        /// of a conformance file's `expect` block), `dot` for Graphviz (inputs,
        /// their storages, overlap edges and synthetic bases).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Which overlap relation decides synthetic bases and `overlapping_inputs`:
        /// `torch` reproduces PyTorch exactly (its false negatives included),
        /// `exact` reports only real sharing of elements and never misses one.
        #[arg(long, value_enum, default_value_t = OverlapArg::Torch)]
        overlap: OverlapArg,
    },
    /// Decide storage overlap for groups of strided views, one group per line.
    ///
    /// Each input line is a JSON object with `id` and `tensors` (each with
    /// `shape`, `stride`, `storage_offset`), the layout of the conformance
    /// data's overlap.jsonl. Prints one JSON object per line:
    /// `{"id": ..., "overlapping": [...], "pairs": [[i, j], ...]}`, plus
    /// `"inexact": true` where the exact solver hit its work bound.
    Overlap {
        /// JSON-lines file; `-` for standard input.
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OverlapArg::Torch)]
        mode: OverlapArg,
    },
    /// Write synthetic graph dumps (transformer-like blocks with parameters,
    /// buffer updates, in-place ops, views and aliased inputs), and sequences
    /// of edits of them, reproducibly from a seed.
    Gen(gen::GenArgs),
    /// Run a sequence of dumps through one session, as a recompilation loop
    /// would: per step what changed, how many queries re-ran, and the time.
    Replay(replay::ReplayArgs),
    /// Check a graph dump and list every problem found, not only the first.
    Check {
        /// Graph dump (JSON); `-` for standard input.
        file: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum OverlapArg {
    Torch,
    Exact,
}

impl From<OverlapArg> for OverlapMode {
    fn from(a: OverlapArg) -> Self {
        match a {
            OverlapArg::Torch => OverlapMode::Torch,
            OverlapArg::Exact => OverlapMode::Exact,
        }
    }
}

/// Exit status for input that is not a valid dump.
pub(crate) const BAD_INPUT: u8 = 2;

pub fn run() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze {
            file,
            format,
            overlap,
        } => analyze(file, format, overlap.into()),
        Command::Check { file } => check(&file),
        Command::Gen(args) => gen::gen(args),
        Command::Replay(args) => replay::replay(args),
        Command::Overlap { file, mode } => overlap::run(&file, mode.into()),
    }
}

fn init_tracing() {
    // `AOTIO_LOG=debug` shows a span per query.
    let filter = tracing_subscriber::EnvFilter::try_from_env("AOTIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) fn read_input(file: &std::path::Path) -> Result<String, String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
    }
}

pub(crate) fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("aotio: {message}");
    ExitCode::from(BAD_INPUT)
}

fn load(file: Option<&std::path::Path>) -> Result<(String, Session), ExitCode> {
    let (label, text) = match file {
        None => (
            "embedded example".to_owned(),
            aotio::EXAMPLE_DUMP.to_owned(),
        ),
        Some(path) => (path.display().to_string(), read_input(path).map_err(fail)?),
    };
    let session =
        Session::from_json_str(&text).map_err(|e: LoadError| fail(format!("{label}: {e}")))?;
    Ok((label, session))
}

fn analyze(file: Option<PathBuf>, format: Format, mode: OverlapMode) -> ExitCode {
    let (label, mut session) = match load(file.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let graph = session.graph();
    session.db_mut().set_overlap_mode(graph, mode);
    let report = match session.report() {
        Ok(r) => r,
        Err(e) => return fail(format!("{label}: {e}")),
    };
    match format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => return fail(format!("cannot write JSON: {e}")),
        },
        Format::Text => print!("{}", render::text(&label, &session, &report)),
        Format::Dot => print!("{}", render::dot(&session, &report)),
    }
    ExitCode::SUCCESS
}

fn check(file: &std::path::Path) -> ExitCode {
    let text = match read_input(file) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match ir::load_str(&text) {
        Ok(graph) => {
            // A dump that loads can still be one the analysis cannot follow.
            match Session::from_graph(graph).report() {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{}: {e}", file.display());
                    ExitCode::from(BAD_INPUT)
                }
            }
        }
        Err(e) => {
            for d in &e.diagnostics {
                println!("{}: {d}", file.display());
            }
            println!("{} problem(s) found", e.diagnostics.len());
            ExitCode::from(BAD_INPUT)
        }
    }
}
