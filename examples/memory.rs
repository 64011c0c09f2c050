//! Resident memory over a long recompilation loop (issue 6): 10,000
//! consecutive edits of a generated 10,000-node graph through one session,
//! each applied with `Session::update` and followed by a full report. Prints
//! the resident set size (`VmRSS`) after the cold analysis, after 100 edits,
//! every 1,000 edits, and at the end, and the growth after the first 100.
//!
//! ```text
//! cargo run --release --example memory -- [--nodes 10000] [--edits 10000] [--chain 200] [--seed 1]
//! ```
//!
//! Parsing 10,000 dumps of that size would take far longer than the loop
//! itself, so a chain of `--chain` successive edits (metadata, op, aliasing
//! and `requires_grad` edits: the graph keeps its size) is generated first
//! and kept as node diffs; the loop walks it forwards and backwards, every
//! step an edit (the reverse of an edit is one too).
//!
//! glibc keeps freed memory mapped, so each figure is printed twice: as the
//! kernel reports it, and after `malloc_trim` has returned free pages (what
//! is live, plus fragmentation). Without the trim after the preparation, the
//! JSON of the chain would pad the baseline and hide growth.

use std::process::ExitCode;
use std::time::Instant;

use aotio::gen::{EditKind, EditSequence, GenOptions};
use aotio::ir::{Graph, Node};
use aotio::Session;
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    nodes: usize,
    #[arg(long, default_value_t = 10_000)]
    edits: usize,
    /// Distinct versions generated, walked forwards and backwards.
    #[arg(long, default_value_t = 200)]
    chain: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One edit of the chain, both ways.
struct Step {
    nodes: Vec<(usize, Node, Node)>,
    /// Graph-level fields an edit may change (`is_train`, the operators).
    before: Graph,
    after: Graph,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memory: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let opts = GenOptions {
        nodes: args.nodes,
        seed: args.seed,
        dynamic_shapes: false,
    };
    let kinds = [
        EditKind::TensorMetadata,
        EditKind::Op,
        EditKind::InputAliasing,
        EditKind::RequiresGrad,
    ];
    let started = Instant::now();
    let mut versions = EditSequence::with_kinds(&opts, args.seed, &kinds)
        .take(args.chain.max(1) + 1)
        .map(|graph| graph.map_err(|e| e.to_string()));
    let first = versions.next().ok_or("no dump generated")??;
    let mut steps = Vec::with_capacity(args.chain);
    let mut previous = first.clone();
    for next in versions {
        let next = next?;
        steps.push(diff(&previous, &next)?);
        previous = next;
    }
    drop(previous);
    trim();
    println!(
        "{} nodes, a chain of {} edits prepared in {:.1} s",
        first.nodes.len(),
        steps.len(),
        started.elapsed().as_secs_f64()
    );

    let mut working = first;
    let mut session = Session::from_graph(working.clone());
    session.report().map_err(|e| e.to_string())?;
    println!("after the cold analysis: {}", rss()?);

    let (mut after_100, mut last) = (None, None);
    // Time per edit since the last report: a loop that slows down shows here.
    let (mut since, mut since_done) = (Instant::now(), 0);
    // Position in the chain, and direction.
    let (mut at, mut forward) = (0usize, true);
    for done in 1..=args.edits {
        if steps.is_empty() {
            break;
        }
        if (forward && at == steps.len()) || (!forward && at == 0) {
            forward = !forward;
        }
        let index = if forward { at } else { at - 1 };
        let Some(step) = steps.get(index) else {
            break;
        };
        apply(&mut working, step, forward);
        at = if forward { at + 1 } else { at - 1 };
        session.update(&working);
        session.report().map_err(|e| e.to_string())?;
        if done == 100 || done % 1_000 == 0 || done == args.edits {
            let per_edit = since.elapsed().as_secs_f64() * 1e3 / (done - since_done) as f64;
            let rss = rss()?;
            println!("after {done:>6} edits: {rss}  ({per_edit:.1} ms per edit lately)");
            (since, since_done) = (Instant::now(), done);
            if done == 100 {
                after_100 = Some(rss);
            }
            last = Some(rss);
        }
    }
    if let (Some(base), Some(end)) = (after_100, last) {
        let growth = |a: u64, b: u64| 100.0 * (b as f64 - a as f64) / a as f64;
        println!(
            "growth after the first 100 edits: {:+.1}% as reported, {:+.1}% after trimming \
             (target: at most +20%)",
            growth(base.reported, end.reported),
            growth(base.trimmed, end.trimmed),
        );
    }
    println!("peak: {}", mib(status_kib("VmHWM")?));
    Ok(())
}

/// Resident set size as the kernel reports it, and after `malloc_trim`.
#[derive(Clone, Copy)]
struct Rss {
    reported: u64,
    trimmed: u64,
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} trimmed)", mib(self.reported), mib(self.trimmed))
    }
}

fn rss() -> Result<Rss, String> {
    let reported = status_kib("VmRSS")?;
    trim();
    Ok(Rss {
        reported,
        trimmed: status_kib("VmRSS")?,
    })
}

/// Returns free heap pages to the kernel (glibc only; elsewhere a no-op).
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only releases free memory of the allocator
        // and has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The nodes and graph-level fields that differ between two versions.
fn diff(a: &Graph, b: &Graph) -> Result<Step, String> {
    if a.nodes.len() != b.nodes.len() {
        return Err("an edit of the chain changed the number of nodes".into());
    }
    let nodes = a
        .nodes
        .iter()
        .zip(&b.nodes)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i, x.clone(), y.clone()))
        .collect();
    let fields = |g: &Graph| Graph {
        nodes: Vec::new(),
        ..g.clone()
    };
    Ok(Step {
        nodes,
        before: fields(a),
        after: fields(b),
    })
}

fn apply(g: &mut Graph, step: &Step, forward: bool) {
    let fields = if forward { &step.after } else { &step.before };
    for (i, before, after) in &step.nodes {
        if let Some(node) = g.nodes.get_mut(*i) {
            *node = if forward { after } else { before }.clone();
        }
    }
    g.config = fields.config.clone();
    g.operators = fields.operators.clone();
    g.symbols = fields.symbols.clone();
    g.input_bases = fields.input_bases.clone();
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(key: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
