//! `aotio overlap`: the overlap engine over groups of views, one per line.

use std::io::Write;

use serde::Serialize;

use aotio::overlap::{members, GroupLine, Mode, GROUP_WORK_BUDGET};

use super::{read_input, say, sniff, Done, Failure, Outcome};

/// How much of each group's answer to work out.
#[derive(clap::Args, Debug)]
pub struct Limits {
    /// List at most this many overlapping pairs per group.
    #[arg(long, default_value_t = 1000)]
    max_pairs: usize,
    /// Exact mode's work per group (elements listed, pairs tested, solver
    /// steps); past it, undecided views count as "may overlap".
    #[arg(long, default_value_t = GROUP_WORK_BUDGET)]
    budget: u64,
}

/// Pairs looked at to count them, per pair listed, beyond the listing.
const COUNT_WORK_PER_LISTED_PAIR: u64 = 100;

#[derive(Serialize)]
struct Answer<'a> {
    id: &'a serde_json::Value,
    overlapping: Vec<usize>,
    pairs: Vec<(usize, usize)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pairs_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pairs_at_least: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inexact: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    undecided: Vec<usize>,
}

pub fn run(file: &std::path::Path, mode: Mode, limits: &Limits) -> Outcome {
    let text = read_input(file)?;
    if let Some(kind) = sniff::wrong_kind(&text, sniff::Kind::ViewGroups) {
        return Err(Failure::Input(format!("{}: {kind}", file.display())));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = 0usize;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let group = match GroupLine::parse(line) {
            Ok(g) => g,
            Err(e) => {
                say(format!("{}, line {}: {e}", file.display(), n + 1));
                bad += 1;
                continue;
            }
        };
        serde_json::to_writer(&mut out, &answer(&group, mode, limits))?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if bad > 0 { Done::Invalid } else { Done::Ok })
}

/// The member set, then the first pairs and their count, within bounds.
fn answer<'a>(group: &'a GroupLine, mode: Mode, limits: &Limits) -> Answer<'a> {
    let views = &group.tensors;
    let found = members(views, mode, limits.budget);
    let mut pairs = found.pairs(views, mode, limits.budget);
    let mut listed = Vec::new();
    let mut total = 0u64;
    let count_work = u64::try_from(limits.max_pairs)
        .unwrap_or(u64::MAX)
        .max(1)
        .saturating_mul(COUNT_WORK_PER_LISTED_PAIR);
    let mut complete = true;
    while let Some(pair) = pairs.next() {
        total += 1;
        if listed.len() < limits.max_pairs {
            listed.push(pair);
        } else if pairs.visited() >= count_work {
            complete = false;
            break;
        }
    }
    Answer {
        id: &group.id,
        pairs: listed,
        pairs_total: complete.then_some(total),
        pairs_at_least: (!complete).then_some(total),
        inexact: found.inexact() || pairs.inexact(),
        overlapping: found.overlapping,
        undecided: found.undecided,
    }
}
