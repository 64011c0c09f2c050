//! `aotio gen`: synthetic graph dumps and sequences of edits of them, so
//! that anyone can reproduce the benchmarks and replays.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value as Json;

use aotio::gen::{EditKind, EditSequence, GenOptions};

use super::fail;
use super::replay::Progress;

#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// Approximate number of nodes (whole transformer blocks of 54 nodes).
    #[arg(long, default_value_t = 1_000)]
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
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<EditKind>,
    /// Where to write. One dump: a file. With --edits: a folder of numbered
    /// dumps (000.json, 001.json, ...), or a JSON-lines file when the name
    /// ends in `.jsonl`. Without --out, or with `-`: standard output (JSON
    /// lines with --edits).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn parse_kind(s: &str) -> Result<EditKind, String> {
    s.parse()
}

/// Where the dumps go.
enum Sink {
    Stdout,
    File(PathBuf),
    Folder(PathBuf),
    Lines(PathBuf),
}

pub fn gen(args: GenArgs) -> ExitCode {
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
        .map(|d| d.map_err(std::io::Error::other));
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
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped early (`| head`): not a failure of ours.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(e),
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
