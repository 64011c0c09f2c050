//! `aotio gen`: synthetic graph dumps and sequences of edits of them, so
//! that anyone can reproduce the benchmarks and replays.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::Serialize;
use serde_json::Value as Json;

use aotio::gen::{EditKind, EditSequence, GenOptions};

use super::replay::Progress;
use super::{Done, Failure, Outcome};

#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// Approximate number of nodes, at least 1 (the graph is whole
    /// transformer blocks of 54 nodes, and at least one block).
    #[arg(long, default_value_t = 1_000, value_parser = parse_nodes)]
    nodes: usize,
    /// Seed of the model's sizes and of the edits: the same seed writes the
    /// same dumps.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Symbolic sequence and window lengths instead of integers.
    #[arg(long)]
    dynamic: bool,
    /// Also write this many edited versions, each an edit of the one before.
    #[arg(long, default_value_t = 0)]
    edits: usize,
    /// Kinds of edit to draw from, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_parser = kind_parser())]
    kinds: Vec<EditKind>,
    /// Where to write. One dump: a file. With --edits: a folder of numbered
    /// dumps (000.json, 001.json, ...), or a JSON-lines file when the name
    /// ends in `.jsonl`. Without --out, or with `-`: standard output (JSON
    /// lines with --edits). On a terminal, standard output needs an explicit
    /// `--out -`: the dumps run to megabytes.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn kind_parser() -> impl TypedValueParser<Value = EditKind> {
    // The choices are listed in `--help` and in the error for a wrong one.
    PossibleValuesParser::new(EditKind::ALL.map(EditKind::as_str))
        .try_map(|s| s.parse::<EditKind>())
}

fn parse_nodes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (a graph is at least one block of 54 nodes)".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Refuses to pour megabytes of JSON onto a terminal nobody asked to write to.
fn terminal_guard(out: Option<&Path>, stdout_is_terminal: bool, bytes: usize) -> Outcome {
    if out.is_none() && stdout_is_terminal {
        return Err(Failure::Usage(format!(
            "gen writes about {:.1} MB of JSON; on a terminal that is noise: \
             pass --out FILE, pipe it, or --out - to write it here anyway",
            bytes as f64 / 1e6
        )));
    }
    Ok(Done::Ok)
}

/// Rough size of the output (about 750 bytes a node, indented).
fn estimated_bytes(args: &GenArgs) -> usize {
    args.nodes
        .max(54)
        .saturating_mul(750)
        .saturating_mul(args.edits.saturating_add(1))
}

/// Where the dumps go.
enum Sink {
    Stdout,
    File(PathBuf),
    Folder(PathBuf),
    Lines(PathBuf),
}

pub fn gen(args: GenArgs) -> Outcome {
    terminal_guard(
        args.out.as_deref(),
        io::stdout().is_terminal(),
        estimated_bytes(&args),
    )?;
    let opts = GenOptions {
        nodes: args.nodes,
        seed: args.seed,
        dynamic_shapes: args.dynamic,
    };
    let sink = match args.out {
        None => Sink::Stdout,
        Some(p) if p.as_os_str() == "-" => Sink::Stdout,
        Some(p) if args.edits == 0 => Sink::File(p),
        Some(p) if p.extension().is_some_and(|x| x == "jsonl") => Sink::Lines(p),
        Some(p) => Sink::Folder(p),
    };
    let dumps = EditSequence::with_kinds(&opts, args.seed, &args.kinds)
        .take(args.edits + 1)
        .map(|g| {
            g.map(|g| aotio::ir::write::to_json(&g))
                .map_err(std::io::Error::other)
        });
    let result = match sink {
        Sink::Stdout if args.edits == 0 => {
            write_all(std::io::stdout().lock(), dumps, Layout::Pretty)
        }
        Sink::Stdout => write_all(std::io::stdout().lock(), dumps, Layout::Lines),
        Sink::File(path) => create(&path).and_then(|f| write_all(f, dumps, Layout::Pretty)),
        Sink::Lines(path) => create(&path).and_then(|f| write_all(f, dumps, Layout::Lines)),
        Sink::Folder(dir) => write_folder(&dir, dumps, args.edits + 1),
    };
    match result {
        Ok(()) => Ok(Done::Ok),
        // The reader stopped early (`| head`): not a failure of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Failure::Closed),
        // Generation errors and files that cannot be written.
        Err(e) => Err(Failure::Input(e.to_string())),
    }
}

#[derive(Clone, Copy)]
enum Layout {
    /// One dump, indented by one space as the conformance files are.
    Pretty,
    /// One dump per line.
    Lines,
}

/// An I/O error that names the file.
fn at(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    File::create(path).map(BufWriter::new).map_err(at(path))
}

fn write_dump(out: &mut impl Write, dump: &Json, layout: Layout) -> io::Result<()> {
    match layout {
        Layout::Pretty => {
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
            let mut ser = serde_json::Serializer::with_formatter(&mut *out, formatter);
            dump.serialize(&mut ser)?;
        }
        Layout::Lines => serde_json::to_writer(&mut *out, dump)?,
    }
    writeln!(out)
}

fn write_all(
    mut out: impl Write,
    dumps: impl Iterator<Item = io::Result<Json>>,
    layout: Layout,
) -> io::Result<()> {
    for dump in dumps {
        write_dump(&mut out, &dump?, layout)?;
    }
    out.flush()
}

fn write_folder(
    dir: &Path,
    dumps: impl Iterator<Item = io::Result<Json>>,
    count: usize,
) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(at(dir))?;
    // Wide enough that file-name order is step order.
    let width = count.saturating_sub(1).to_string().len().max(3);
    let mut progress =
        (count > 1 && io::stderr().is_terminal()).then(|| Progress::new(Some(count)));
    for (step, dump) in dumps.enumerate() {
        if let Some(p) = progress.as_mut() {
            p.show(step);
        }
        let path = dir.join(format!("{step:0width$}.json"));
        let mut file = create(&path)?;
        write_dump(&mut file, &dump?, Layout::Pretty)
            .and_then(|()| file.flush())
            .map_err(at(&path))?;
    }
    if let Some(p) = progress.as_mut() {
        p.finish();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_needs_an_explicit_out() {
        assert!(matches!(
            terminal_guard(None, true, 1 << 20),
            Err(Failure::Usage(m)) if m.contains("--out -")
        ));
        assert!(terminal_guard(Some(Path::new("-")), true, 1 << 20).is_ok());
        assert!(terminal_guard(None, false, 1 << 20).is_ok());
        assert!(terminal_guard(Some(Path::new("x.json")), true, 1 << 20).is_ok());
    }

    #[test]
    fn nodes_are_at_least_one() {
        assert!(parse_nodes("0").is_err());
        assert_eq!(parse_nodes("54"), Ok(54));
        assert!(parse_nodes("-1").is_err());
    }
}
