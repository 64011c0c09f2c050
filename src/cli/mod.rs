//! Command-line parsing, files, and output formats. The only layer that
//! knows about any of them.

mod gen;
mod logging;
mod overlap;
mod render;
mod replay;
mod sniff;
mod why;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use aotio::db::OverlapMode;
use aotio::ir::{self, LoadError};
use aotio::Session;

/// Exit statuses, as `--help` lists them (keep the two in step).
pub(crate) mod status {
    /// Done; for `analyze` and `check`, PyTorch accepts the program.
    pub const OK: u8 = 0;
    /// The analysis ran and its answer is that PyTorch would refuse the program.
    pub const REFUSED: u8 = 1;
    /// Bad command line or environment (options, log filter).
    pub const USAGE: u8 = 2;
    /// The input is not what the command reads: unreadable, not a valid
    /// dump, a file of another kind.
    pub const INVALID_INPUT: u8 = 3;
    /// A bug in aotio.
    pub const INTERNAL: u8 = 4;
}

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success; for analyze, check and explain: PyTorch accepts the program
  1  PyTorch would refuse this program (the report says where and why)
  2  usage error: unknown option or bad value, invalid AOTIO_LOG / RUST_LOG /
     AOTIO_LOG_SPANS
  3  invalid input: unreadable file (or unwritable output), not a valid dump,
     a file of another kind (problems are printed on standard error)
  4  internal error: a bug in aotio
A reader that stops early (`aotio analyze f.json | head`) ends the command
quietly with status 0.

Logging (on standard error; colours only on a terminal, never with NO_COLOR):
  AOTIO_LOG=FILTER        e.g. `debug` (a span per query), `aotio=debug,salsa=warn`
  RUST_LOG=FILTER         used when AOTIO_LOG is not set
  AOTIO_LOG_SPANS=close   also log each span's duration when it closes
                          (comma-separated: new, enter, exit, close, active, full, none)";

/// PyTorch AOTAutograd's input/output analysis: which inputs a graph
/// mutates, what its outputs alias, and the calling-convention rewrites that
/// follow, computed from a graph dump (format `aotio.graph` v1).
#[derive(Parser, Debug)]
#[command(name = "aotio", version, about, long_about = None, after_help = EXIT_STATUS_HELP)]
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
    #[command(after_help = EXIT_STATUS_HELP)]
    Analyze {
        /// Graph dump (JSON); `-` for standard input.
        file: Option<PathBuf>,
        /// Output format: `text` for people, `json` for machines (the layout
        /// of a conformance file's `expect` block), `dot` for Graphviz (inputs,
        /// their storages, overlap edges and synthetic bases).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// With `--format json`: add a `why` object beside PyTorch's fields
        /// (the nodes that mutate each input, view chains, overlap witnesses,
        /// the node behind a refusal). The text report always ends with it.
        #[arg(long)]
        why: bool,
        #[command(flatten)]
        overlap: OverlapOpt,
    },
    /// Decide storage overlap for groups of strided views, one group per line.
    ///
    /// Each input line is a JSON object with `id` and `tensors` (each with
    /// `shape`, `stride`, `storage_offset`), the layout of the conformance
    /// data's overlap.jsonl. Prints one JSON object per line:
    /// `{"id": ..., "overlapping": [...], "pairs": [[i, j], ...], "pairs_total": N}`.
    /// `overlapping` is the answer (a set, as PyTorch's); `pairs` lists the
    /// first `--max-pairs` overlapping pairs and `pairs_total` counts them, or
    /// `pairs_at_least` bounds the count where counting would cost far more
    /// than listing. In exact mode `"inexact": true` and `"undecided": [...]`
    /// name the members only presumed to overlap (work budget spent, or
    /// malformed geometry).
    #[command(after_help = EXIT_STATUS_HELP)]
    Overlap {
        /// JSON-lines file; `-` for standard input.
        file: PathBuf,
        #[command(flatten)]
        overlap: OverlapOpt,
        #[command(flatten)]
        limits: overlap::Limits,
    },
    /// Write synthetic graph dumps (transformer-like blocks with parameters,
    /// buffer updates, in-place ops, views and aliased inputs), and sequences
    /// of edits of them, reproducibly from a seed.
    #[command(after_help = EXIT_STATUS_HELP)]
    Gen(gen::GenArgs),
    /// Run a sequence of dumps through one session, as a recompilation loop
    /// would: per step what changed, how many queries re-ran, and the time.
    #[command(after_help = EXIT_STATUS_HELP)]
    Replay(replay::ReplayArgs),
    /// Tell the story of one input or output: its geometry, PyTorch's
    /// verdicts on it, and why (the nodes that mutate it, the view ops back
    /// to its base, the inputs it overlaps and an element both touch).
    #[command(after_help = EXIT_STATUS_HELP)]
    Explain {
        /// Graph dump (JSON); `-` for standard input.
        file: PathBuf,
        /// The name of an input (placeholder) or output.
        name: String,
        #[command(flatten)]
        overlap: OverlapOpt,
    },
    /// Check a graph dump and list every problem found, not only the first.
    ///
    /// Problems go to standard error, as `analyze` prints them.
    #[command(after_help = EXIT_STATUS_HELP)]
    Check {
        /// Graph dump (JSON); `-` for standard input.
        file: PathBuf,
    },
}

/// The overlap relation, one option name for every subcommand.
#[derive(clap::Args, Debug)]
struct OverlapOpt {
    /// Which overlap relation decides storage overlap (and with it synthetic
    /// bases and `overlapping_inputs`): `torch` reproduces PyTorch exactly
    /// (its false negatives included), `exact` reports only real sharing of
    /// elements and never misses one.
    // `--mode` was `overlap`'s name for it: kept, hidden, for old scripts.
    #[arg(long = "overlap", alias = "mode", value_enum, default_value_t = OverlapArg::Torch)]
    overlap: OverlapArg,
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

/// How a command ended, when it ran to its end.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Done {
    Ok,
    /// PyTorch would refuse the program.
    Refused,
    /// Some input was invalid; the problems are already printed.
    Invalid,
}

/// Why a command stopped before its end.
#[derive(Debug)]
pub(crate) enum Failure {
    Usage(String),
    Input(String),
    Internal(String),
    /// Standard output's reader went away (`| head`): stop, quietly.
    Closed,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::Closed
        } else {
            Failure::Internal(format!("cannot write: {e}"))
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(io::ErrorKind::BrokenPipe) => Failure::Closed,
            Some(_) => Failure::Internal(format!("cannot write: {e}")),
            None => Failure::Internal(format!("cannot write JSON: {e}")),
        }
    }
}

pub(crate) type Outcome = Result<Done, Failure>;

fn exit_code(outcome: Outcome) -> ExitCode {
    let code = match outcome {
        Ok(Done::Ok) | Err(Failure::Closed) => status::OK,
        Ok(Done::Refused) => status::REFUSED,
        Ok(Done::Invalid) => status::INVALID_INPUT,
        Err(Failure::Usage(m)) => {
            say(m);
            status::USAGE
        }
        Err(Failure::Input(m)) => {
            say(m);
            status::INVALID_INPUT
        }
        Err(Failure::Internal(m)) => {
            say(format!("internal error: {m}"));
            status::INTERNAL
        }
    };
    ExitCode::from(code)
}

/// One line on standard error. Never panics: with standard error closed
/// there is nobody to tell.
pub(crate) fn say(message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "aotio: {message}");
}

/// Writes `text` to standard output; a closed pipe is [`Failure::Closed`].
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors; clap knows which is which.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                status::USAGE
            } else {
                status::OK
            });
        }
    };
    if let Err(e) = logging::init() {
        return exit_code(Err(Failure::Usage(e)));
    }
    exit_code(match cli.command {
        Command::Analyze {
            file,
            format,
            why,
            overlap,
        } => analyze(file, format, why, overlap.overlap.into()),
        Command::Check { file } => check(&file),
        Command::Explain {
            file,
            name,
            overlap,
        } => explain(&file, &name, overlap.overlap.into()),
        Command::Gen(args) => gen::gen(args),
        Command::Replay(args) => replay::replay(args),
        Command::Overlap {
            file,
            overlap,
            limits,
        } => overlap::run(&file, overlap.overlap.into(), &limits),
    })
}

pub(crate) fn read_input(file: &Path) -> Result<String, Failure> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Input(format!("cannot read standard input: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::Input(format!("cannot read {}: {e}", file.display())))
    }
}

/// A file name for messages and for the `aotio check` hint.
fn label(file: &Path) -> String {
    if file.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    }
}

/// A load error in one line: the first problem, and how to see the others.
pub(crate) fn load_error(e: &LoadError, check_hint: &str) -> String {
    let mut diagnostics = e.diagnostics.iter();
    let first = diagnostics
        .next()
        .map_or_else(|| "invalid graph dump".to_owned(), ToString::to_string);
    match diagnostics.len() {
        0 => first,
        1 => format!("{first} (and 1 more problem: {check_hint} lists all)"),
        n => format!("{first} (and {n} more problems: {check_hint} lists all)"),
    }
}

fn load(file: Option<&Path>) -> Result<(String, Session), Failure> {
    let Some(path) = file else {
        let session = Session::from_json_str(aotio::EXAMPLE_DUMP)
            .map_err(|e| Failure::Internal(format!("the embedded example: {e}")))?;
        return Ok(("embedded example".to_owned(), session));
    };
    let label = label(path);
    let text = read_input(path)?;
    let session = Session::from_json_str(&text).map_err(|e| {
        if let Some(kind) = sniff::wrong_kind(&text, sniff::Kind::GraphDump) {
            return Failure::Input(format!("{label}: {kind}"));
        }
        let hint = format!("`aotio check {}`", path.display());
        Failure::Input(format!("{label}: {}", load_error(&e, &hint)))
    })?;
    Ok((label, session))
}

fn analyze(file: Option<PathBuf>, format: Format, with_why: bool, mode: OverlapMode) -> Outcome {
    let (label, mut session) = load(file.as_deref())?;
    let graph = session.graph();
    session.db_mut().set_overlap_mode(graph, mode);
    let report = session
        .report()
        .map_err(|e| Failure::Input(format!("{label}: {e}")))?;
    match format {
        Format::Json => {
            // PyTorch's fields as the report has them (the library's and the
            // Python package's layout), then, when asked, aotio's evidence.
            let mut json = serde_json::to_value(&report)?;
            if let Some(object) = json.as_object_mut().filter(|_| with_why) {
                let why = why::why(&report, mode);
                object.insert("why".to_owned(), serde_json::to_value(&why)?);
            }
            let mut out = io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
            out.flush()?;
        }
        Format::Text => emit(&render::text(&label, &report, mode))?,
        Format::Dot => emit(&render::dot(&label, &report, mode))?,
    }
    let done = if render::refusal(&report).is_some() {
        Done::Refused
    } else {
        Done::Ok
    };
    left_to_exit((session, report));
    Ok(done)
}

/// Leaves a command's last large values to the end of the process: freeing a
/// graph and its session object by object costs a tenth of a whole `check`,
/// and the operating system takes the memory back at once anyway.
fn left_to_exit<T>(values: T) {
    std::mem::forget(values);
}

fn explain(file: &Path, name: &str, mode: OverlapMode) -> Outcome {
    let (label, mut session) = load(Some(file))?;
    let graph = session.graph();
    session.db_mut().set_overlap_mode(graph, mode);
    let report = session
        .report()
        .map_err(|e| Failure::Input(format!("{label}: {e}")))?;
    let Some(story) = why::explain(&report, mode, name) else {
        let inputs = why::inputs(&report).names;
        let outputs = &report.graph.output_names;
        return Err(Failure::Usage(format!(
            "{label} has no input or output named `{name}` (inputs: {}; outputs: {})",
            inputs.join(", "),
            outputs.join(", ")
        )));
    };
    emit(&story)?;
    Ok(match render::refusal(&report) {
        Some(refusal) => {
            say(format!("{label}: {refusal}"));
            Done::Refused
        }
        None => Done::Ok,
    })
}

fn check(file: &Path) -> Outcome {
    let label = label(file);
    let text = read_input(file)?;
    match ir::load_str(&text) {
        Ok(graph) => {
            // A dump that loads can still be one the analysis cannot follow.
            let session = Session::from_graph(graph);
            let report = session
                .report()
                .map_err(|e| Failure::Input(format!("{label}: {e}")))?;
            let done = match render::refusal(&report) {
                None => {
                    emit(&format!("{label}: ok\n"))?;
                    Done::Ok
                }
                Some(refusal) => {
                    say(format!("{label}: {refusal}"));
                    Done::Refused
                }
            };
            left_to_exit((text, session, report));
            Ok(done)
        }
        Err(e) => {
            if let Some(kind) = sniff::wrong_kind(&text, sniff::Kind::GraphDump) {
                return Err(Failure::Input(format!("{label}: {kind}")));
            }
            for d in &e.diagnostics {
                say(format!("{label}: {d}"));
            }
            say(format!("{} problem(s) found", e.diagnostics.len()));
            Ok(Done::Invalid)
        }
    }
}
