//! `aotio overlap`: the overlap engine over groups of views, one per line.

use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use aotio::overlap::{compute_overlap, Mode, StridedView};

use super::{fail, read_input};

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

pub fn run(file: &std::path::Path, mode: Mode) -> ExitCode {
    let text = match read_input(file) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let mut bad = 0usize;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = match serde_json::from_str(line) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("aotio: {}, line {}: {e}", file.display(), n + 1);
                bad += 1;
                continue;
            }
        };
        if let Some(k) = parsed
            .tensors
            .iter()
            .position(|t| t.sizes.len() != t.strides.len())
        {
            eprintln!(
                "aotio: {}, line {}: tensors[{k}]: shape and stride have different lengths",
                file.display(),
                n + 1
            );
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
        match serde_json::to_string(&answer) {
            Ok(json) => println!("{json}"),
            Err(e) => return fail(format!("cannot write JSON: {e}")),
        }
    }
    if bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
