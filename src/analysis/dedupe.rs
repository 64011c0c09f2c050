//! Duplicate-argument handling (semantics §3.5): a tensor passed twice is
//! either replaced by a detached leaf (not mutated) or removed from the
//! calling convention (mutated), with the metadata rewritten to match.

use serde::Serialize;

use super::error::{ExceptionType, Stage, TorchError};
use super::meta::{OutputAliasInfo, ViewAndMutationMeta};

/// How `AOTDedupeWrapper` treats inputs passed twice (semantics §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// No tensor is passed twice.
    None,
    /// Later copies become detached leaves; the metadata is unchanged.
    Leafify,
    /// A duplicate is mutated: later copies are dropped.
    RemoveDuplicates,
}

/// The outcome of `AOTDedupeWrapper.pre_compile`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Dedupe {
    /// What dedupe did.
    pub strategy: Strategy,
    /// PyTorch's flag: a runtime wrapper is needed exactly when duplicates are removed.
    pub needs_post_compile: bool,
    /// PyTorch's `keep_arg_mask`: which flat inputs the inner function keeps.
    pub keep_arg_mask: Option<Vec<bool>>,
    /// PyTorch's `add_dupe_map`: the kept input each flat input reads.
    pub add_dupe_map: Option<Vec<usize>>,
    /// Later copies of a duplicated input that export passes as separate leaves.
    pub leafified_indices: Vec<usize>,
    /// `remove_dupe_metadata`'s result (only when duplicates are removed).
    pub fw_metadata: Option<ViewAndMutationMeta>,
}

impl Dedupe {
    /// Original positions that survive, in order: the post-dedupe inputs.
    pub fn kept_positions(&self, num_inputs: usize) -> Vec<usize> {
        match &self.keep_arg_mask {
            Some(mask) => (0..num_inputs)
                .filter(|&p| mask.get(p).copied().unwrap_or(true))
                .collect(),
            None => (0..num_inputs).collect(),
        }
    }
}

/// `tensor_ids[p]` is the identity of flat argument `p` (none for non-tensors).
pub fn dedupe(
    tensor_ids: &[Option<u64>],
    meta: &ViewAndMutationMeta,
) -> Result<Dedupe, TorchError> {
    // Strategy 1: every repeated tensor is unmutated (its flags equal the first
    // occurrence's, since both positions share one functional wrapper).
    let mut seen = std::collections::HashSet::new();
    let mut leafified = Vec::new();
    let mut leafify_ok = true;
    for (p, id) in tensor_ids.iter().enumerate() {
        let Some(id) = id else { continue };
        if seen.insert(*id) {
            continue;
        }
        let info = meta.input_info.get(p);
        if info.is_some_and(|i| !i.mutates_data && !i.mutates_metadata) {
            leafified.push(p);
        } else {
            leafify_ok = false;
            break;
        }
    }
    if leafify_ok {
        return Ok(Dedupe {
            strategy: if leafified.is_empty() {
                Strategy::None
            } else {
                Strategy::Leafify
            },
            needs_post_compile: false,
            keep_arg_mask: None,
            add_dupe_map: None,
            leafified_indices: leafified,
            fw_metadata: None,
        });
    }

    // Strategy 2: drop the later copies.
    let mut first_kept: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut keep_arg_mask = Vec::with_capacity(tensor_ids.len());
    let mut add_dupe_map = Vec::with_capacity(tensor_ids.len());
    let mut next = 0usize;
    for id in tensor_ids {
        match id.and_then(|id| first_kept.get(&id).copied()) {
            Some(kept) => {
                keep_arg_mask.push(false);
                add_dupe_map.push(kept);
            }
            None => {
                if let Some(id) = id {
                    first_kept.insert(*id, next);
                }
                keep_arg_mask.push(true);
                add_dupe_map.push(next);
                next += 1;
            }
        }
    }
    let fw_metadata = remove_dupe_metadata(meta, &keep_arg_mask, &add_dupe_map)?;
    Ok(Dedupe {
        strategy: Strategy::RemoveDuplicates,
        needs_post_compile: true,
        keep_arg_mask: Some(keep_arg_mask),
        add_dupe_map: Some(add_dupe_map),
        leafified_indices: Vec::new(),
        fw_metadata: Some(fw_metadata),
    })
}

/// `remove_dupe_metadata` (semantics §3.5.3), mis-pairing of tangents included (§5 item 13).
pub fn remove_dupe_metadata(
    m: &ViewAndMutationMeta,
    keep_arg_mask: &[bool],
    add_dupe_map: &[usize],
) -> Result<ViewAndMutationMeta, TorchError> {
    let assertion = |msg: &str| TorchError::new(Stage::Dedupe, ExceptionType::AssertionError, msg);
    if m.input_info.len() != keep_arg_mask.len() {
        return Err(assertion(
            "keep_arg_mask does not match the number of inputs",
        ));
    }
    if keep_arg_mask.first() != Some(&true) {
        return Err(assertion("the first argument must be kept"));
    }
    let nd = m.input_info.iter().filter(|i| i.mutates_data).count();
    let runtime_indices = m.derived().mutated_inp_runtime_indices;
    let split = nd.min(m.traced_tangents.len());
    let (head, tail) = m.traced_tangents.split_at(split);
    let mut traced_tangents = Vec::with_capacity(m.traced_tangents.len());
    for (t, tangent) in head.iter().enumerate() {
        // PyTorch assumes the t-th tangent belongs to the t-th runtime-mutated input.
        let Some(&input) = runtime_indices.get(t) else {
            // Caused by the dropped duplicate: the tangents no longer line up.
            let dropped = keep_arg_mask.iter().position(|keep| !keep).unwrap_or(0);
            return Err(TorchError::new(
                Stage::Dedupe,
                ExceptionType::IndexError,
                "list index out of range",
            )
            .at_input(dropped));
        };
        if keep_arg_mask.get(input).copied().unwrap_or(false) {
            traced_tangents.push(tangent.clone());
        }
    }
    traced_tangents.extend(tail.iter().cloned());

    let input_info = m
        .input_info
        .iter()
        .zip(keep_arg_mask)
        .filter(|(_, keep)| **keep)
        .map(|(i, _)| i.clone())
        .collect();
    let output_info = m
        .output_info
        .iter()
        .map(|o| {
            let mut o: OutputAliasInfo = o.clone();
            if o.output_type.aliases_input() {
                o.base_idx = o
                    .base_idx
                    .map(|b| add_dupe_map.get(b).copied().unwrap_or(b));
            }
            o
        })
        .collect();
    Ok(ViewAndMutationMeta::rewritten(
        m,
        input_info,
        output_info,
        traced_tangents,
    ))
}
