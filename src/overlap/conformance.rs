//! Checking the engine against one line of the conformance file
//! `overlap.jsonl` (format: conformance README, "Overlap file"). Parsing the
//! line is the caller's job (`serde_json::from_str::<OverlapCase>`), so this
//! module needs no JSON library.

use serde::Deserialize;

use super::exact_members::exact_members_with;
use super::torch_members::torch_members_with;
use super::{
    compute_overlap, indices_of, overlapping_members, shares_element,
    torch_definitely_do_not_overlap, torch_pairwise_baseline, Mode, StridedView, GROUP_WORK_BUDGET,
};

/// One line of `overlap.jsonl`; unknown keys (`dtype`, ...) are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct OverlapCase {
    /// The case's number.
    pub id: u64,
    /// The family it was drawn from.
    #[serde(default)]
    pub kind: String,
    /// The views of one storage.
    pub tensors: Vec<StridedView>,
    /// PyTorch's answer.
    pub expect: OverlapExpect,
}

/// PyTorch's answer on one case.
#[derive(Clone, Debug, Deserialize)]
pub struct OverlapExpect {
    /// PyTorch's `compute_overlapping_tensors`, sorted.
    pub torch: Vec<usize>,
    /// Pairs PyTorch reports on `[t_i, t_j]` alone.
    pub torch_pairs: Vec<(usize, usize)>,
    /// Members sharing an element with another member.
    pub exact: Vec<usize>,
    /// Pairs sharing an element.
    pub exact_pairs: Vec<(usize, usize)>,
}

/// Runs every entry point on the line's tensors and compares with `expect`:
/// both modes of [`compute_overlap`] and [`overlapping_members`] (also with
/// every cluster forced through the large-cluster algorithms), the baseline,
/// and both pairwise predicates on every pair. `Err` describes all mismatches
/// of the line, readably.
pub fn check_jsonl_line(case: &OverlapCase) -> Result<(), String> {
    let t = &case.tensors;
    let e = &case.expect;
    let mut problems: Vec<String> = Vec::new();
    let mut expect_eq = |what: &str, got: String, want: String| {
        if got != want {
            problems.push(format!("{what}: got {got}, expected {want}"));
        }
    };

    let torch = compute_overlap(t, Mode::Torch);
    expect_eq("torch members", fmt(&torch.overlapping), fmt(&e.torch));
    expect_eq("torch pairs", fmt(&torch.pairs), fmt(&e.torch_pairs));
    expect_eq(
        "torch fast members",
        fmt(&overlapping_members(t, Mode::Torch)),
        fmt(&(e.torch.clone(), false)),
    );
    expect_eq(
        "torch baseline",
        fmt(&torch_pairwise_baseline(t)),
        fmt(&e.torch),
    );
    // The lines are small, so also force them through the large-cluster paths.
    expect_eq(
        "torch counting path",
        fmt(&indices_of(&torch_members_with(t, 1))),
        fmt(&e.torch),
    );

    let exact = compute_overlap(t, Mode::Exact);
    expect_eq("exact members", fmt(&exact.overlapping), fmt(&e.exact));
    expect_eq("exact pairs", fmt(&exact.pairs), fmt(&e.exact_pairs));
    expect_eq("exact inexact flag", fmt(&exact.inexact), fmt(&false));
    expect_eq(
        "exact fast members",
        fmt(&overlapping_members(t, Mode::Exact)),
        fmt(&(e.exact.clone(), false)),
    );
    let forced = exact_members_with(t, 1, GROUP_WORK_BUDGET);
    expect_eq(
        "exact grid and table path",
        fmt(&(forced.overlapping, forced.undecided)),
        fmt(&(e.exact.clone(), Vec::<usize>::new())),
    );

    for (j, later) in t.iter().enumerate() {
        for (i, earlier) in t.iter().enumerate().take(j) {
            let torch_may = !torch_definitely_do_not_overlap(later, earlier);
            expect_eq(
                &format!("torch predicate on ({i}, {j})"),
                fmt(&torch_may),
                fmt(&e.torch_pairs.contains(&(i, j))),
            );
            expect_eq(
                &format!("shares_element({i}, {j})"),
                fmt(&shares_element(earlier, later)),
                fmt(&Some(e.exact_pairs.contains(&(i, j)))),
            );
        }
    }

    if problems.is_empty() {
        return Ok(());
    }
    let tensors: Vec<String> = t
        .iter()
        .enumerate()
        .map(|(k, v)| {
            format!(
                "  [{k}] offset {} sizes {:?} strides {:?}",
                v.offset, v.sizes, v.strides
            )
        })
        .collect();
    Err(format!(
        "line id {} ({}):\n  {}\n{}",
        case.id,
        case.kind,
        problems.join("\n  "),
        tensors.join("\n")
    ))
}

fn fmt<T: std::fmt::Debug>(value: &T) -> String {
    format!("{value:?}")
}
