//! `aotio replay`: a sequence of dumps through one session, as a
//! recompilation loop hands them over: the first analysed cold, each later
//! one applied as an update. Per step: what changed, how many queries re-ran
//! out of the cold run's, and the time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use aotio::db::Database;
use aotio::{ir, Session, UpdateSummary};

use super::{load_error, say, sniff, Done, Failure, Outcome};

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A folder of dumps, replayed in file-name order (`aotio gen --edits K
    /// --out DIR` writes one), or a JSON-lines file of dumps, one per line;
    /// `-` reads JSON lines from standard input.
    path: PathBuf,
    /// `text` for people; `json` for machines: one JSON object per step.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
    format: ReplayFormat,
    /// Also list which queries re-ran, by query (text format; `json` always does).
    #[arg(long, short)]
    verbose: bool,
    /// Never draw the progress bar (drawn on standard error when it is a
    /// terminal and standard output is not).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ReplayFormat {
    Text,
    Json,
}

/// One step of the replay, as `--format json` prints it.
#[derive(Serialize)]
struct Step<'a> {
    step: usize,
    source: &'a str,
    /// `None` for the cold first step.
    changed: Option<&'a UpdateSummary>,
    executed: usize,
    cold_executed: usize,
    /// How often each query re-ran.
    queries: BTreeMap<&'a str, usize>,
    load_ms: f64,
    analysis_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn replay(args: ReplayArgs) -> Outcome {
    let source = Source::open(&args.path).map_err(Failure::Input)?;
    let show_progress =
        !args.no_progress && std::io::stderr().is_terminal() && !std::io::stdout().is_terminal();
    let mut progress = show_progress.then(|| Progress::new(source.len()));
    let mut out = std::io::stdout().lock();
    let mut session: Option<Session> = None;
    let mut cold_executed = 0;
    let mut failures = 0usize;
    let mut incremental = Vec::new();
    let mut cold: Option<Timing> = None;
    if args.format == ReplayFormat::Text {
        writeln!(out, "{}", header())?;
    }

    for (step, (label, text)) in source.enumerate() {
        if let Some(p) = progress.as_mut() {
            p.show(step);
        }
        let started = Instant::now();
        let loaded = text.and_then(|t| {
            ir::load_str(&t).map_err(|e| load_error(&e, "`aotio check` on that dump"))
        });
        let load_time = started.elapsed();
        let graph = match loaded {
            Ok(g) => g,
            Err(e) => {
                failures += 1;
                say(format!("step {step}: {label}: {e}"));
                continue;
            }
        };
        let started = Instant::now();
        let (changed, report) = match session.as_mut() {
            Some(s) => {
                let changed = s.update(&graph);
                (Some(changed), s.report())
            }
            None => {
                let s = session.insert(Session::with_database(
                    Database::with_execution_log(),
                    graph,
                ));
                (None, s.report())
            }
        };
        let analysis_time = started.elapsed();
        let executed = session
            .as_ref()
            .map(|s| s.db().take_executed())
            .unwrap_or_default();
        if changed.is_none() {
            cold_executed = executed.len();
            cold = Some(Timing {
                analysis: analysis_time,
                load: load_time,
                executed: executed.len(),
            });
        } else {
            incremental.push(Timing {
                analysis: analysis_time,
                load: load_time,
                executed: executed.len(),
            });
        }
        let error = report.err().map(|e| e.to_string());
        if error.is_some() {
            failures += 1;
        }
        let line = Step {
            step,
            source: &label,
            changed: changed.as_ref(),
            executed: executed.len(),
            cold_executed,
            queries: by_query(&executed),
            load_ms: millis(load_time),
            analysis_ms: millis(analysis_time),
            error,
        };
        match args.format {
            ReplayFormat::Json => {
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            }
            ReplayFormat::Text => writeln!(out, "{}", text_line(&line, args.verbose))?,
        }
    }
    if let Some(p) = progress.as_mut() {
        p.finish();
    }
    if let (ReplayFormat::Text, Some(cold)) = (args.format, &cold) {
        writeln!(out, "{}", summary(cold, &incremental))?;
    }
    out.flush()?;
    if failures > 0 {
        say(format!("{failures} step(s) failed"));
        return Ok(Done::Invalid);
    }
    Ok(Done::Ok)
}

/// Time and work of one incremental step.
struct Timing {
    analysis: Duration,
    load: Duration,
    executed: usize,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Counts per query name (`fw_metadata(Id(400))` counts for `fw_metadata`).
fn by_query(executed: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for key in executed {
        let name = key.split('(').next().unwrap_or(key);
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// The column titles of [`text_line`].
fn header() -> String {
    format!(
        "{:>5}  {:<40} {:>15} {:>8} {:>12} {:>9}",
        "step", "change", "queries re-run", "share", "analysis ms", "load ms"
    )
}

fn text_line(s: &Step<'_>, verbose: bool) -> String {
    let changed = match s.changed {
        None => "cold".to_owned(),
        Some(c) if c.is_empty() => "no change".to_owned(),
        Some(c) => describe(c),
    };
    let share = if s.cold_executed > 0 {
        format!("{:.2}%", 100.0 * s.executed as f64 / s.cold_executed as f64)
    } else {
        String::new()
    };
    let queries = format!("{}/{}", s.executed, s.cold_executed);
    let mut line = format!(
        "{:>5}  {:<40} {queries:>15} {share:>8} {:>12.3} {:>9.3}",
        s.step, changed, s.analysis_ms, s.load_ms
    );
    if let Some(e) = &s.error {
        line.push_str(&format!("\n       error: {e}"));
    }
    if verbose && s.changed.is_some() && !s.queries.is_empty() {
        let names: Vec<String> = s
            .queries
            .iter()
            .map(|(q, n)| {
                if *n == 1 {
                    (*q).to_owned()
                } else {
                    format!("{q}×{n}")
                }
            })
            .collect();
        line.push_str(&format!("\n       re-ran: {}", names.join(", ")));
    }
    line
}

/// `2 values, 1 structure, +1 node, fields: operators`.
fn describe(c: &UpdateSummary) -> String {
    let count = |n: usize, what: &str| match n {
        0 => None,
        1 => Some(format!("1 {what}")),
        n => Some(format!("{n} {what}s")),
    };
    let mut parts: Vec<String> = [
        count(c.values_changed, "value"),
        count(c.structures_changed, "structure"),
        (c.nodes_added > 0).then(|| format!("+{} nodes", c.nodes_added)),
        (c.nodes_removed > 0).then(|| format!("-{} nodes", c.nodes_removed)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !c.fields_changed.is_empty() {
        parts.push(c.fields_changed.join("+"));
    }
    parts.join(", ")
}

/// The cold run against the median update, with and without the load: a
/// recompiling compiler loads every version, so the ratio that counts
/// includes it.
fn summary(cold: &Timing, incremental: &[Timing]) -> String {
    let cold_total = cold.analysis + cold.load;
    let mut line = format!(
        "cold: {:.3} ms ({:.3} ms load + {:.3} ms analysis), {} queries",
        millis(cold_total),
        millis(cold.load),
        millis(cold.analysis),
        cold.executed
    );
    if incremental.is_empty() {
        return line;
    }
    let median = |f: &dyn Fn(&Timing) -> Duration| {
        let mut times: Vec<Duration> = incremental.iter().map(f).collect();
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    };
    let total = median(&|t| t.analysis + t.load);
    let analysis = median(&|t| t.analysis);
    let load = median(&|t| t.load);
    let max = incremental
        .iter()
        .map(|t| t.analysis + t.load)
        .max()
        .unwrap_or_default();
    let executed: usize = incremental.iter().map(|t| t.executed).sum();
    let runs = incremental.len().saturating_mul(cold.executed);
    let mean_share = if runs > 0 {
        100.0 * executed as f64 / runs as f64
    } else {
        0.0
    };
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    line.push_str(&format!(
        "\n{} updates: median {:.3} ms ({:.3} ms load + {:.3} ms update and analysis), \
         {:.1}× faster than cold with the load ({:.1}× for the analysis alone), \
         max {:.3} ms; {mean_share:.2}% of the queries re-ran on average",
        incremental.len(),
        millis(total),
        millis(load),
        millis(analysis),
        ratio(cold_total, total),
        ratio(cold.analysis, analysis),
        millis(max),
    ));
    line
}

/// Where the dumps come from: the files of a folder, or the lines of a
/// JSON-lines file, read one at a time.
enum Source {
    Files(std::vec::IntoIter<PathBuf>, usize),
    Lines {
        lines: std::iter::Enumerate<std::io::Lines<Box<dyn BufRead>>>,
        label: String,
        len: Option<usize>,
    },
}

impl Source {
    fn open(path: &Path) -> Result<Source, String> {
        if path.as_os_str() == "-" {
            let stdin: Box<dyn BufRead> = Box::new(BufReader::new(std::io::stdin()));
            return Ok(Source::Lines {
                lines: stdin.lines().enumerate(),
                label: "stdin".to_owned(),
                len: None,
            });
        }
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(cannot)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!("{}: no .json dumps in this folder", path.display()));
            }
            let len = files.len();
            return Ok(Source::Files(files.into_iter(), len));
        }
        check_lines(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = count_lines(path).map_err(cannot)?;
        let file: Box<dyn BufRead> = Box::new(BufReader::new(File::open(path).map_err(cannot)?));
        Ok(Source::Lines {
            lines: file.lines().enumerate(),
            label: path.display().to_string(),
            len: Some(len),
        })
    }

    /// Number of dumps, when known up front.
    fn len(&self) -> Option<usize> {
        match self {
            Source::Files(_, n) => Some(*n),
            Source::Lines { len, .. } => *len,
        }
    }
}

impl Iterator for Source {
    /// A label for messages, and the dump's text.
    type Item = (String, Result<String, String>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Source::Files(files, _) => {
                let path = files.next()?;
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string());
                let label = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                );
                Some((label, text))
            }
            Source::Lines { lines, label, .. } => loop {
                let (n, line) = lines.next()?;
                match line {
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => return Some((format!("{label}:{}", n + 1), Ok(l))),
                    Err(e) => return Some((format!("{label}:{}", n + 1), Err(e.to_string()))),
                }
            },
        }
    }
}

/// One line saying so when a file is not JSON lines of graph dumps, judged
/// from its first line (the whole file is read only when that line is not
/// a JSON value).
fn check_lines(path: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot read it: {e}");
    let mut reader = BufReader::new(File::open(path).map_err(cannot)?);
    let mut first = String::new();
    while first.trim().is_empty() {
        first.clear();
        if reader.read_line(&mut first).map_err(cannot)? == 0 {
            return Ok(());
        }
    }
    if let Some(wrong) = sniff::wrong_kind(&first, sniff::Kind::GraphLines)
        .filter(|_| sniff::detect(&first) == Some(sniff::Kind::ViewGroups))
    {
        return Err(wrong);
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(&first).is_ok() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(cannot)?;
    Err(match sniff::detect(&text) {
        Some(sniff::Kind::GraphDump) => {
            "this is one graph dump over several lines, not JSON lines \
            of dumps: `aotio analyze` reads it; replay reads a folder of dumps or a JSON-lines \
            file (`aotio gen --edits K --out F.jsonl`)"
                .to_owned()
        }
        _ => "its first line is not a JSON value: replay reads a folder of dumps or a \
              JSON-lines file of dumps, one per line"
            .to_owned(),
    })
}

/// Non-blank lines of a file, without holding it in memory.
fn count_lines(path: &Path) -> std::io::Result<usize> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut count = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(count);
        }
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            count += 1;
        }
    }
}

/// A progress bar on standard error, redrawn at most ten times a second.
pub(super) struct Progress {
    total: Option<usize>,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    pub(super) fn new(total: Option<usize>) -> Progress {
        Progress {
            total,
            started: Instant::now(),
            drawn: None,
        }
    }

    pub(super) fn show(&mut self, done: usize) {
        let now = Instant::now();
        if self
            .drawn
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        let elapsed = self.started.elapsed().as_secs();
        let clock = format!("{}:{:02}", elapsed / 60, elapsed % 60);
        let line = match self.total {
            Some(total) if total > 0 => {
                const WIDTH: usize = 30;
                let filled = (done * WIDTH / total).min(WIDTH);
                format!(
                    "[{}{}] {done:>w$}/{total}  {clock}",
                    "=".repeat(filled),
                    " ".repeat(WIDTH - filled),
                    w = total.to_string().len()
                )
            }
            _ => format!("[{done}]  {clock}"),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }

    pub(super) fn finish(&mut self) {
        // Clear the line so that what follows starts clean.
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
}
