//! `aotio overlap`: the overlap engine over groups of views, one per line.

use std::io::Write;

use serde::{Deserialize, Serialize};

use aotio::overlap::{compute_overlap, Mode, StridedView};

use super::{read_input, say, sniff, Done, Failure, Outcome};

#[derive(Deserialize)]
struct Line {
    id: serde_json::Value,
    tensors: Vec<StridedView>,
}

#[derive(Serialize)]
struct Answer<'a> {
    id: &'a serde_json::Value,
    overlapping: Vec<usize>,
    pairs: Vec<(usize, usize)>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inexact: bool,
}

pub fn run(file: &std::path::Path, mode: Mode) -> Outcome {
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
        let parsed: Line = match serde_json::from_str(line) {
            Ok(l) => l,
            Err(e) => {
                say(format!("{}, line {}: {e}", file.display(), n + 1));
                bad += 1;
                continue;
            }
        };
        if let Some(k) = parsed
            .tensors
            .iter()
            .position(|t| t.sizes.len() != t.strides.len())
        {
            say(format!(
                "{}, line {}: tensors[{k}]: shape and stride have different lengths",
                file.display(),
                n + 1
            ));
            bad += 1;
            continue;
        }
        let result = compute_overlap(&parsed.tensors, mode);
        let answer = Answer {
            id: &parsed.id,
            overlapping: result.overlapping,
            pairs: result.pairs,
            inexact: result.inexact,
        };
        serde_json::to_writer(&mut out, &answer)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if bad > 0 { Done::Invalid } else { Done::Ok })
}
