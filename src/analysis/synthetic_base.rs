//! Aliased-input merging (semantics §3.7–§3.8): inputs that share a storage,
//! overlap, and include a data-mutated one are replaced by one base argument,
//! and the metadata is rewritten for the new calling convention.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::collect::coerce;
use super::error::{ExceptionType, Stage, TorchError};
use super::meta::{
    InputAliasInfo, MutationType, OutputAliasInfo, OutputType, RawType, Tangent, TensorSpec,
    ViewAndMutationMeta,
};
use crate::ir::dtype::itemsize;
use crate::ir::expr::SizeExpr;
use crate::ir::Value;

/// A tensor argument as `merge_view_inputs` sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgTensor {
    /// Object identity (a leafified duplicate is a new object).
    pub identity: u64,
    /// Real storage (the dump's `storage` id).
    pub storage: u64,
    /// Geometry and dtype.
    pub spec: TensorSpec,
    /// The size of its storage, in bytes.
    pub storage_nbytes: SizeExpr,
    /// The argument requires grad.
    pub requires_grad: bool,
    /// The autograd `_base`, if the argument is a view.
    pub base: Option<BaseTensor>,
}

/// An argument's autograd `_base`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaseTensor {
    /// The base's tensor identity.
    pub identity: u64,
    /// Geometry and dtype.
    pub spec: TensorSpec,
    /// The base requires grad.
    pub requires_grad: bool,
}

/// One post-dedupe input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MergeArg {
    /// A tensor argument.
    Tensor(Box<ArgTensor>),
    /// A non-tensor argument (a SymInt, an int, ...): passed through in
    /// place, and printed as the dump writes it.
    Other(Value),
}

/// An inner argument: a base, or an outer argument passed through.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InnerArg {
    /// A synthetic base: a new tensor over the whole storage, or a shared `_base`.
    Base {
        /// Geometry and dtype.
        spec: TensorSpec,
        /// The base requires grad.
        requires_grad: bool,
        /// How PyTorch describes it (`args[0]._base`, ...).
        desc: String,
    },
    /// An outer argument passed through, by position.
    Outer(usize),
}

/// How the compiled function gets outer input `p` (semantics §2.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyntheticBaseEntry {
    /// Passed unchanged as this inner argument.
    Inner(usize),
    /// Regenerated as a view of this inner argument (a base).
    ViewOf(usize),
}

/// The new calling convention.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Merge {
    /// PyTorch's `synthetic_base_info`: per outer argument, its inner argument or the base it is a view of.
    pub synthetic_base_info: Vec<SyntheticBaseEntry>,
    /// The inner function's arguments.
    pub inner_args: Vec<InnerArg>,
    /// For each base (inner index = position), the outer members regenerated from it.
    pub base_groups: Vec<Vec<usize>>,
    /// Outer indices of the arguments passed through, in inner order.
    pub other_arg_indices: Vec<usize>,
}

/// Groups of post-dedupe inputs sharing a real storage (`storages[i]` is
/// input `i`'s, none for a non-tensor), in order of their first member,
/// members ascending.
pub fn storage_groups(storages: &[Option<u64>]) -> Vec<(u64, Vec<usize>)> {
    let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
    let mut position: HashMap<u64, usize> = HashMap::with_capacity(storages.len());
    for (i, storage) in storages.iter().enumerate() {
        let Some(storage) = *storage else { continue };
        match position.entry(storage) {
            Entry::Occupied(g) => {
                if let Some((_, members)) = groups.get_mut(*g.get()) {
                    members.push(i);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(groups.len());
                groups.push((storage, vec![i]));
            }
        }
    }
    groups
}

/// All post-dedupe arguments, in chunks of a fixed length that versions of
/// a graph can share.
// Equality is the derived one with a shortcut, so the derived hash agrees with it.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, Hash)]
pub struct MergeArgs {
    chunks: Vec<Arc<[MergeArg]>>,
    chunk_len: usize,
}

/// Shared chunks are equal without a look inside: `Arc`'s own comparison
/// takes that shortcut only for sized contents, and after an edit salsa
/// compares the old arguments with the new ones, which share all chunks
/// but one.
impl PartialEq for MergeArgs {
    fn eq(&self, other: &MergeArgs) -> bool {
        self.chunk_len == other.chunk_len
            && self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
    }
}

impl MergeArgs {
    /// Every chunk but the last holds `chunk_len` arguments.
    pub fn from_chunks(chunks: Vec<Arc<[MergeArg]>>, chunk_len: usize) -> MergeArgs {
        MergeArgs { chunks, chunk_len }
    }

    /// Argument `i`.
    pub fn get(&self, i: usize) -> Option<&MergeArg> {
        self.chunks
            .get(i.checked_div(self.chunk_len)?)?
            .get(i % self.chunk_len)
    }
}

/// The post-dedupe arguments as merging reads them. Storages are read for
/// every argument, a tensor's description only for the few arguments merging
/// looks at, so an implementation may read those lazily.
pub trait MergeInputs {
    /// How many post-dedupe arguments there are.
    fn arg_count(&self) -> usize;
    /// The argument's real storage; none for a non-tensor.
    fn storage(&self, i: usize) -> Option<u64>;
    /// Argument `i`'s tensor facts, when it is a tensor.
    fn tensor(&self, i: usize) -> Option<ArgTensor>;
}

impl MergeInputs for [MergeArg] {
    fn arg_count(&self) -> usize {
        self.len()
    }
    fn storage(&self, i: usize) -> Option<u64> {
        match self.get(i) {
            Some(MergeArg::Tensor(t)) => Some(t.storage),
            _ => None,
        }
    }
    fn tensor(&self, i: usize) -> Option<ArgTensor> {
        match self.get(i) {
            Some(MergeArg::Tensor(t)) => Some((**t).clone()),
            _ => None,
        }
    }
}

fn refusal(kind: ExceptionType, message: String) -> TorchError {
    TorchError::new(Stage::MergeViewInputs, kind, message)
}

/// `compute_overlapping_inputs` for a storage group under one overlap
/// relation: the query layer answers from its memoized per-group verdicts.
pub trait OverlapOf {
    /// The overlapping members of `group` (post-dedupe input indices).
    fn overlapping(&self, group: &[usize]) -> Vec<usize>;
}

/// `merge_view_inputs` (semantics §3.7), with `overlap` deciding which
/// members of a storage group overlap.
pub fn merge_view_inputs(
    args: &dyn MergeInputs,
    input_info: &[InputAliasInfo],
    is_inference: bool,
    overlap: &dyn OverlapOf,
) -> Result<Option<Merge>, TorchError> {
    if args.arg_count() != input_info.len() {
        return Err(refusal(
            ExceptionType::AssertionError,
            "one InputAliasInfo per input is required".into(),
        ));
    }
    let mutated = |i: usize| input_info.get(i).is_some_and(|m| m.mutates_data);
    if !(0..args.arg_count()).any(mutated) {
        return Ok(None);
    }
    let storages: Vec<Option<u64>> = (0..args.arg_count()).map(|i| args.storage(i)).collect();
    // Non-tensors go first among the passed-through arguments.
    let mut other: Vec<usize> = (0..args.arg_count())
        .filter(|&i| storages.get(i).is_some_and(Option::is_none))
        .collect();
    let mut bases: Vec<InnerArg> = Vec::new();
    let mut base_groups: Vec<Vec<usize>> = Vec::new();
    for (_, group) in storage_groups(&storages) {
        if group.len() <= 1
            || !group.iter().any(|&i| mutated(i))
            || overlap.overlapping(&group).len() <= 1
        {
            other.extend(&group);
            continue;
        }
        let members: Vec<Option<ArgTensor>> = group.iter().map(|&i| args.tensor(i)).collect();
        let tensor = |i: usize| {
            let k = group.iter().position(|&g| g == i)?;
            members.get(k)?.as_ref()
        };
        // Only consecutive members are compared ("assumed transitive", §5 item 5).
        for pair in group.windows(2) {
            let &[a, b] = pair else { continue };
            let (Some(v1), Some(v2)) = (tensor(a), tensor(b)) else {
                continue;
            };
            if !is_inference && !differentiable_views(v1, v2) {
                return Err(refusal(
                    ExceptionType::AssertionError,
                    format!(
                        "aot_autograd() does not yet handle non-differentiable view input mutations. \
                         input {a} and input {b} share storage but are not differentiable views of each other."
                    ),
                )
                .at_input(b));
            }
            if !same_dtype_views(v1, v2) {
                return Err(refusal(
                    ExceptionType::AssertionError,
                    format!(
                        "aot_autograd() does not yet handle input mutations on views with different dtypes \
                         (inputs {a} and {b})."
                    ),
                )
                .at_input(b));
            }
        }
        bases.push(base_for(&group, &tensor)?);
        base_groups.push(group);
    }
    if bases.is_empty() {
        return Ok(None);
    }
    let num_bases = bases.len();
    let mut info = vec![SyntheticBaseEntry::Inner(0); args.arg_count()];
    for (b, members) in base_groups.iter().enumerate() {
        for &p in members {
            if let Some(slot) = info.get_mut(p) {
                *slot = SyntheticBaseEntry::ViewOf(b);
            }
        }
    }
    for (q, &p) in other.iter().enumerate() {
        if let Some(slot) = info.get_mut(p) {
            *slot = SyntheticBaseEntry::Inner(num_bases + q);
        }
    }
    let mut inner_args = bases;
    inner_args.extend(other.iter().map(|&p| InnerArg::Outer(p)));
    Ok(Some(Merge {
        synthetic_base_info: info,
        inner_args,
        base_groups,
        other_arg_indices: other,
    }))
}

/// The base of a merged group: a shared `_base`, or a fresh storage-wide tensor.
fn base_for<'a>(
    group: &[usize],
    tensor: &dyn Fn(usize) -> Option<&'a ArgTensor>,
) -> Result<InnerArg, TorchError> {
    let with_base: Vec<(usize, &BaseTensor)> = group
        .iter()
        .filter_map(|&i| tensor(i).and_then(|t| t.base.as_ref()).map(|b| (i, b)))
        .collect();
    let Some(&(i0, base)) = with_base.first() else {
        let first = group.first().copied().unwrap_or(0);
        let Some(t) = tensor(first) else {
            return Err(refusal(
                ExceptionType::AssertionError,
                "a merged group holds a non-tensor".into(),
            )
            .at_input(first));
        };
        // A storage-wide 1-D base; PyTorch cannot build one over a symbolic storage (§5 item 27).
        let nbytes = t.storage_nbytes.as_int().ok_or_else(|| {
            refusal(
                ExceptionType::RuntimeError,
                format!(
                    "cannot create a synthetic base over a storage of symbolic size {}",
                    t.storage_nbytes
                ),
            )
            .at_input(first)
        })?;
        let size = itemsize(&t.spec.dtype)
            .and_then(|e| i64::try_from(e).ok())
            .filter(|e| *e > 0)
            .map(|e| nbytes / e)
            .ok_or_else(|| {
                refusal(
                    ExceptionType::RuntimeError,
                    format!("unknown element size of dtype {}", t.spec.dtype),
                )
                .at_input(first)
            })?;
        return Ok(InnerArg::Base {
            spec: TensorSpec {
                shape: vec![SizeExpr::int(size)],
                stride: vec![SizeExpr::int(1)],
                storage_offset: SizeExpr::int(0),
                dtype: t.spec.dtype.clone(),
            },
            requires_grad: t.requires_grad,
            desc: format!("__make_synthetic_base(args[{first}])"),
        });
    };
    if let Some(&(other, _)) = with_base.iter().find(|(_, b)| b.identity != base.identity) {
        return Err(refusal(
            ExceptionType::AssertionError,
            "aliased inputs that are views have distinct _base tensors".into(),
        )
        .at_input(other));
    }
    for &i in group {
        if let Some(t) = tensor(i) {
            if t.base.is_none() && t.identity != base.identity {
                return Err(refusal(
                    ExceptionType::AssertionError,
                    format!("input {i} aliases the others but is neither a view nor their _base"),
                )
                .at_input(i));
            }
        }
    }
    Ok(InnerArg::Base {
        spec: base.spec.clone(),
        requires_grad: base.requires_grad,
        desc: format!("args[{i0}]._base"),
    })
}

fn differentiable_views(v1: &ArgTensor, v2: &ArgTensor) -> bool {
    if v1.identity == v2.identity {
        return true;
    }
    match (&v1.base, &v2.base) {
        (None, None) => false,
        (Some(b1), Some(b2)) if b1.identity == b2.identity => true,
        (Some(b1), _) if b1.identity == v2.identity => true,
        (_, Some(b2)) if v1.identity == b2.identity => true,
        _ => false,
    }
}

fn same_dtype_views(v1: &ArgTensor, v2: &ArgTensor) -> bool {
    let own = |v: &ArgTensor| v.base.as_ref().is_none_or(|b| b.spec.dtype == v.spec.dtype);
    v1.spec.dtype == v2.spec.dtype && own(v1) && own(v2)
}

/// `create_synthetic_base_metadata` (semantics §3.8): the metadata for the
/// inner convention, and the outer inputs whose metadata mutations the
/// runtime must apply back.
pub fn create_synthetic_base_metadata(
    m: &ViewAndMutationMeta,
    merge: &Merge,
    args: &dyn MergeInputs,
) -> Result<(ViewAndMutationMeta, Vec<usize>), TorchError> {
    let x = &m.input_info;
    let assertion = |msg: String| {
        TorchError::new(
            Stage::SyntheticBaseMetadata,
            ExceptionType::AssertionError,
            msg,
        )
    };
    let outer_of = |q: usize| -> Vec<usize> {
        match merge.base_groups.get(q) {
            Some(members) => members.clone(),
            None => merge
                .other_arg_indices
                .get(q - merge.base_groups.len())
                .map_or_else(Vec::new, |&p| vec![p]),
        }
    };
    let mut input_info = Vec::with_capacity(merge.inner_args.len());
    for q in 0..merge.inner_args.len() {
        let members: Vec<&InputAliasInfo> = outer_of(q).iter().filter_map(|&p| x.get(p)).collect();
        let Some(first) = members.first() else {
            return Err(assertion(format!(
                "inner argument {q} has no outer argument"
            )));
        };
        let any = |f: fn(&InputAliasInfo) -> bool| members.iter().any(|i| f(i));
        let all = |f: fn(&InputAliasInfo) -> bool| members.iter().all(|i| f(i));
        let outer = outer_of(q).first().copied().unwrap_or(0);
        if any(|i| i.is_leaf) != all(|i| i.is_leaf) {
            return Err(
                assertion("a synthetic base would mix leaf and non-leaf inputs".into())
                    .at_input(outer),
            );
        }
        let merged = members.len() > 1;
        let mut info = InputAliasInfo {
            is_leaf: any(|i| i.is_leaf),
            mutates_data: merged || first.mutates_data,
            mutates_metadata: !merged && first.mutates_metadata,
            mutations_hidden_from_autograd: all(|i| i.mutations_hidden_from_autograd),
            mutations_under_no_grad_or_inference_mode: all(|i| {
                i.mutations_under_no_grad_or_inference_mode
            }),
            mutation_inductor_storage_resize: all(|i| i.mutation_inductor_storage_resize),
            mutates_storage_metadata: !merged && first.mutates_storage_metadata,
            mutation_is_shallow_copy_data: !merged && first.mutation_is_shallow_copy_data,
            requires_grad: any(|i| i.requires_grad),
            keep_input_mutations: m.keep_input_mutations,
            mutation_type: MutationType::NotMutated,
        };
        info.mutation_type = info.derive_mutation_type().map_err(|e| e.at_input(outer))?;
        input_info.push(info);
    }

    let entry = |p: usize| merge.synthetic_base_info.get(p).copied();
    let outer_tensor = |p: usize| args.tensor(p);
    let meta_mutated_outer: Vec<usize> = (0..x.len())
        .filter(|&p| {
            x.get(p).is_some_and(|i| i.mutates_metadata)
                && matches!(entry(p), Some(SyntheticBaseEntry::ViewOf(_)))
        })
        .collect();

    let mut output_info: Vec<OutputAliasInfo> = m
        .output_info
        .iter()
        .map(|o| {
            let mut o = o.clone();
            if let (Some(b), true) = (o.base_idx, o.output_type.aliases_input()) {
                match entry(b) {
                    Some(SyntheticBaseEntry::ViewOf(base)) => {
                        o.base_idx = Some(base);
                        o.output_type = OutputType::AliasOfInput;
                    }
                    Some(SyntheticBaseEntry::Inner(j)) => o.base_idx = Some(j),
                    None => {}
                }
            }
            o
        })
        .collect();
    for &p in &meta_mutated_outer {
        let (Some(SyntheticBaseEntry::ViewOf(base)), Some(t)) = (entry(p), outer_tensor(p)) else {
            continue;
        };
        output_info.push(OutputAliasInfo {
            output_type: OutputType::AliasOfInput,
            raw_type: RawType::FunctionalTensor,
            base_idx: Some(base),
            dynamic_dims: Some(
                t.spec
                    .shape
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_int().is_none())
                    .map(|(d, _)| d)
                    .collect(),
            ),
            requires_grad: t.requires_grad,
            requires_grad_for_backward: t.requires_grad,
            view_meta_sequence: None,
        });
    }

    // The tangents of the mutated inner inputs replace the first old ones (§5 item 14).
    let mut traced_tangents: Vec<Tangent> = Vec::new();
    for (q, info) in input_info.iter().enumerate() {
        if !(info.mutates_data && info.requires_grad) {
            continue;
        }
        let (spec, desc) = match merge.inner_args.get(q) {
            Some(InnerArg::Base { spec, desc, .. }) => (spec.clone(), desc.clone()),
            Some(InnerArg::Outer(p)) => match outer_tensor(*p) {
                Some(t) => (t.spec.clone(), format!("args[{p}]")),
                None => continue,
            },
            None => continue,
        };
        traced_tangents.push(Tangent {
            spec: coerce(spec),
            desc: format!("__output_tangent(__input_mutation({desc}))"),
        });
    }
    let replaced = traced_tangents.len();
    traced_tangents.extend(m.traced_tangents.iter().skip(replaced).cloned());

    Ok((
        ViewAndMutationMeta::rewritten(m, input_info, output_info, traced_tangents),
        meta_mutated_outer,
    ))
}

/// What merging decided. It reads the geometry of only the arguments it
/// looks at; the report adds the others' for printing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyntheticBasePlan {
    /// Merging ran for an inference graph.
    pub is_inference: bool,
    /// The new calling convention (none needed), or PyTorch's refusal.
    pub outcome: Result<Option<MergedConvention>, TorchError>,
    /// In exact mode: the groups whose merging differs from PyTorch's decision.
    pub changed_by_exact_mode: Vec<GroupChange>,
}

/// A storage group merged under one overlap relation and not the other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GroupChange {
    /// The group's members (post-dedupe indices).
    pub members: Vec<usize>,
    /// True: PyTorch builds a base that exact verdicts show is needless;
    /// false: PyTorch skips a base the real overlap needs.
    pub merged_by_torch: bool,
}

/// `merge_view_inputs` and `create_synthetic_base_metadata` (semantics
/// §3.7–§3.8) for the post-dedupe metadata `meta`, with `overlap` deciding
/// storage overlap. When `overlap` is the exact relation, `torch` is
/// PyTorch's, and the groups whose merging the two decide differently are
/// listed in [`SyntheticBasePlan::changed_by_exact_mode`].
pub fn plan_synthetic_bases(
    meta: &ViewAndMutationMeta,
    args: &dyn MergeInputs,
    is_inference: bool,
    overlap: &dyn OverlapOf,
    torch: Option<&dyn OverlapOf>,
) -> SyntheticBasePlan {
    let merge = merge_view_inputs(args, &meta.input_info, is_inference, overlap);
    let changed_by_exact_mode = match (&merge, torch) {
        (Ok(exact), Some(torch)) => {
            match merge_view_inputs(args, &meta.input_info, is_inference, torch) {
                Ok(torch) => group_changes(&torch, exact),
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let outcome = merge.and_then(|merge| {
        merge
            .map(|merge| {
                let (fw_metadata, meta_mutated) =
                    create_synthetic_base_metadata(meta, &merge, args)?;
                Ok(MergedConvention {
                    merge,
                    fw_metadata,
                    outer_aliased_arg_idx_with_metadata_mutations: meta_mutated,
                })
            })
            .transpose()
    });
    SyntheticBasePlan {
        is_inference,
        outcome,
        changed_by_exact_mode,
    }
}

/// The groups merged under one relation and not the other, by members.
fn group_changes(torch: &Option<Merge>, exact: &Option<Merge>) -> Vec<GroupChange> {
    let merged = |m: &Option<Merge>| m.as_ref().map_or_else(Vec::new, |m| m.base_groups.clone());
    let (torch, exact) = (merged(torch), merged(exact));
    let change = |members: &Vec<usize>, merged_by_torch| GroupChange {
        members: members.clone(),
        merged_by_torch,
    };
    let mut changes: Vec<GroupChange> = exact
        .iter()
        .filter(|g| !torch.contains(g))
        .map(|g| change(g, false))
        .chain(
            torch
                .iter()
                .filter(|g| !exact.contains(g))
                .map(|g| change(g, true)),
        )
        .collect();
    changes.sort_by(|a, b| a.members.cmp(&b.members));
    changes
}

/// The `synthetic_base` block of a report (the conformance layout).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyntheticBaseReport {
    /// What merging decided.
    pub plan: Arc<SyntheticBasePlan>,
    /// The post-dedupe arguments, for the views' geometry.
    pub args: Arc<MergeArgs>,
}

/// A merge and the metadata of the new calling convention.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MergedConvention {
    /// The inner calling convention.
    pub merge: Merge,
    /// The metadata rewritten for it (`create_synthetic_base_metadata`).
    pub fw_metadata: ViewAndMutationMeta,
    /// PyTorch's `outer_aliased_arg_idx_with_metadata_mutations`.
    pub outer_aliased_arg_idx_with_metadata_mutations: Vec<usize>,
}

struct TensorJson<'a> {
    spec: &'a TensorSpec,
    requires_grad: bool,
}

impl Serialize for TensorJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Inner<'a> {
            #[serde(flatten)]
            spec: &'a TensorSpec,
            requires_grad: bool,
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(
            "tensor",
            &Inner {
                spec: self.spec,
                requires_grad: self.requires_grad,
            },
        )?;
        map.end()
    }
}

impl Serialize for SyntheticBaseReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (plan, args) = (&self.plan, &*self.args);
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("is_inference", &plan.is_inference)?;
        if !plan.changed_by_exact_mode.is_empty() {
            map.serialize_entry("changed_by_exact_mode", &plan.changed_by_exact_mode)?;
        }
        match &plan.outcome {
            Err(e) => map.serialize_entry("error", e)?,
            Ok(None) => map.serialize_entry("needed", &false)?,
            Ok(Some(c)) => {
                map.serialize_entry("needed", &true)?;
                map.serialize_entry("synthetic_base_info", &InfoJson(c, args))?;
                map.serialize_entry("inner_args", &InnerJson(c, args))?;
                let descs: Vec<String> = c
                    .merge
                    .inner_args
                    .iter()
                    .map(|a| match a {
                        InnerArg::Base { desc, .. } => desc.clone(),
                        InnerArg::Outer(p) => format!("args[{p}]"),
                    })
                    .collect();
                map.serialize_entry("inner_args_descs", &descs)?;
                map.serialize_entry(
                    "outer_aliased_arg_idx_with_metadata_mutations",
                    &c.outer_aliased_arg_idx_with_metadata_mutations,
                )?;
                map.serialize_entry("fw_metadata", &c.fw_metadata)?;
                let base_groups: BTreeMap<String, &Vec<usize>> = c
                    .merge
                    .base_groups
                    .iter()
                    .enumerate()
                    .map(|(b, m)| (b.to_string(), m))
                    .collect();
                #[derive(Serialize)]
                struct Wrapper<'a> {
                    base_groups: BTreeMap<String, &'a Vec<usize>>,
                    other_arg_indices: &'a [usize],
                    aliased_arg_idx_with_metadata_mutations: &'a [usize],
                }
                map.serialize_entry(
                    "wrapper",
                    &Wrapper {
                        base_groups,
                        other_arg_indices: &c.merge.other_arg_indices,
                        aliased_arg_idx_with_metadata_mutations: &c
                            .outer_aliased_arg_idx_with_metadata_mutations,
                    },
                )?;
            }
        }
        map.end()
    }
}

fn arg_json<'a>(args: &'a MergeArgs, p: usize) -> Option<TensorJson<'a>> {
    match args.get(p) {
        Some(MergeArg::Tensor(t)) => Some(TensorJson {
            spec: &t.spec,
            requires_grad: t.requires_grad,
        }),
        _ => None,
    }
}

/// An inner argument passed through: a tensor's meta, or a non-tensor value
/// in the dump's encoding (PyTorch keeps SymInts and other scalars in place).
#[derive(Serialize)]
#[serde(untagged)]
enum PassedJson<'a> {
    Tensor(Option<TensorJson<'a>>),
    Value(serde_json::Value),
}

fn passed_json(args: &MergeArgs, p: usize) -> PassedJson<'_> {
    match args.get(p) {
        Some(MergeArg::Other(v)) => {
            PassedJson::Value(v.scalar_json().unwrap_or(serde_json::Value::Null))
        }
        _ => PassedJson::Tensor(arg_json(args, p)),
    }
}

struct InfoJson<'a>(&'a MergedConvention, &'a MergeArgs);

impl Serialize for InfoJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(Some(c.merge.synthetic_base_info.len()))?;
        for (p, e) in c.merge.synthetic_base_info.iter().enumerate() {
            match e {
                SyntheticBaseEntry::Inner(j) => seq.serialize_element(j)?,
                SyntheticBaseEntry::ViewOf(b) => {
                    seq.serialize_element(&(b, arg_json(self.1, p)))?
                }
            }
        }
        seq.end()
    }
}

struct InnerJson<'a>(&'a MergedConvention, &'a MergeArgs);

impl Serialize for InnerJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(Some(c.merge.inner_args.len()))?;
        for a in &c.merge.inner_args {
            match a {
                InnerArg::Base {
                    spec,
                    requires_grad,
                    ..
                } => seq.serialize_element(&TensorJson {
                    spec,
                    requires_grad: *requires_grad,
                })?,
                InnerArg::Outer(p) => seq.serialize_element(&passed_json(self.1, *p))?,
            }
        }
        seq.end()
    }
}
