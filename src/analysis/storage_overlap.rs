//! What AOTAutograd reports and guards about inputs that share a storage:
//! the `overlapping_inputs` entries, the symbolic verdicts of a group, and
//! the `StorageOverlap` guards (semantics §2.12, §3.6.3). The verdicts
//! themselves come from `crate::overlap`; this module only assembles them.

use serde::Serialize;

use super::meta::InputAliasInfo;
use super::symbolic_overlap::{PairVerdict, Validity};

/// The storage groups of the post-dedupe inputs, as the guard reads them.
/// The query layer answers from its memoized per-group results, so only the
/// groups a guard needs have their overlap computed.
pub trait StorageGroups {
    /// How many groups there are.
    fn count(&self) -> usize;
    /// Post-dedupe input indices, ascending.
    fn members(&self, group: usize) -> &[usize];
    /// Whether some size, stride or offset of a member is symbolic.
    fn is_symbolic(&self, group: usize) -> bool;
    /// PyTorch's overlapping members of the group.
    fn torch_overlapping(&self, group: usize) -> Vec<usize>;
}

/// One entry of `overlapping_inputs`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OverlappingInputs {
    /// The group: post-dedupe inputs that share one storage.
    pub aliased_input_indices: Vec<usize>,
    /// The members that overlap another member.
    pub overlapping: Vec<usize>,
    /// Exact mode: members the torch verdict would miss (PyTorch's false negatives).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missed_by_torch: Vec<usize>,
    /// Exact mode hit its work bound: some members only may overlap.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inexact: bool,
}

impl OverlappingInputs {
    /// The entry of a group; `torch` is PyTorch's verdict when `overlapping`
    /// is the exact one, so the members it misses can be named.
    pub fn new(
        members: Vec<usize>,
        overlapping: Vec<usize>,
        inexact: bool,
        torch: Option<&[usize]>,
    ) -> Self {
        let missed_by_torch = torch.map_or_else(Vec::new, |torch| {
            overlapping
                .iter()
                .copied()
                .filter(|i| !torch.contains(i))
                .collect()
        });
        OverlappingInputs {
            aliased_input_indices: members,
            overlapping,
            missed_by_torch,
            inexact,
        }
    }
}

/// A symbolic group's verdicts, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SymbolicOverlap {
    /// The group: post-dedupe inputs that share one storage.
    pub aliased_input_indices: Vec<usize>,
    /// False when some verdict was only decided at the hints (a guard protects it).
    pub holds_for_all_values: bool,
    /// The verdict on each pair.
    pub pairs: Vec<PairVerdict>,
}

impl SymbolicOverlap {
    /// The summary of a group's pair verdicts.
    pub fn new(members: Vec<usize>, pairs: Vec<PairVerdict>) -> Self {
        SymbolicOverlap {
            aliased_input_indices: members,
            holds_for_all_values: pairs.iter().all(|p| p.validity == Validity::AllValues),
            pairs,
        }
    }
}

/// A guard AOTAutograd records (semantics §2.12, §3.6.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind")]
pub enum Guard {
    /// PyTorch's `StorageOverlap` guard: which sources overlap and which do not.
    StorageOverlap {
        /// Dynamo sources of the overlapping members.
        overlapping_sources: Vec<String>,
        /// Dynamo sources of the other members.
        non_overlapping_sources: Vec<String>,
    },
}

/// The `StorageOverlap` guards PyTorch 2.15 installs: one for each symbolic
/// group that `merge_view_inputs` examines (two or more members, one of them
/// data-mutated), when the inputs have Dynamo sources. `sources` are the
/// placeholders' sources in input order, `kept` the positions dedupe keeps.
pub fn storage_overlap_guards(
    input_info: &[InputAliasInfo],
    sources: &[Option<String>],
    kept: &[usize],
    groups: &dyn StorageGroups,
) -> Vec<Guard> {
    if sources.iter().all(Option::is_none) || !input_info.iter().any(|i| i.mutates_data) {
        return Vec::new();
    }
    let source_of = |i: usize| -> String {
        kept.get(i)
            .and_then(|&p| sources.get(p)?.as_deref())
            .unwrap_or("?")
            .to_owned()
    };
    let mut guards = Vec::new();
    for g in 0..groups.count() {
        let members = groups.members(g);
        let mutated = members
            .iter()
            .any(|&i| input_info.get(i).is_some_and(|m| m.mutates_data));
        if !mutated || !groups.is_symbolic(g) {
            continue;
        }
        let overlapping = groups.torch_overlapping(g);
        guards.push(Guard::StorageOverlap {
            overlapping_sources: overlapping.iter().map(|&i| source_of(i)).collect(),
            non_overlapping_sources: members
                .iter()
                .filter(|i| !overlapping.contains(i))
                .map(|&i| source_of(i))
                .collect(),
        });
    }
    guards
}
