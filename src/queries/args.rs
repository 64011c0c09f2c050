//! The post-dedupe arguments as merging reads them: identities and storages
//! from the value facts for every argument, geometry only for the arguments
//! merging looks at, and all of it, in chunks, for the report.

use std::collections::HashMap;
use std::sync::Arc;

use super::dedupe::dedupe;
use super::meta::alias_trace;
use super::{ok, QueryResult};
use crate::analysis::meta::TensorSpec;
use crate::analysis::synthetic_base::{ArgTensor, BaseTensor, MergeArg, MergeArgs, MergeInputs};
use crate::db::{GraphInput, NodeInput};
use crate::ir::TensorMeta;

/// Where a view input's autograd `_base` is described: the placeholder with
/// that identity, else one of `input_bases`.
#[salsa::tracked(returns(ref))]
fn placeholders_by_identity(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> HashMap<u64, NodeInput> {
    // A tensor passed twice is described by its last placeholder.
    input_args(db, graph)
        .iter()
        .flatten()
        .filter_map(|a| Some((a.tensor_id?, a.placeholder)))
        .collect()
}

/// A placeholder as merging reads it, before its geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct InputArg {
    pub(super) placeholder: NodeInput,
    tensor_id: Option<u64>,
    base_tensor_id: Option<u64>,
    /// What merging groups by. A tensor without an identity is no view
    /// candidate: like a non-tensor, it has none.
    storage: Option<u64>,
}

/// Every placeholder's [`InputArg`]. It reads no geometry, so a shape or
/// stride edit confirms it without visiting the placeholders.
#[salsa::tracked(returns(ref))]
fn input_args(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Vec<InputArg>> {
    let trace = ok(alias_trace(db, graph))?;
    let nodes = graph.nodes(db);
    Ok(trace
        .input_nodes
        .iter()
        .filter_map(|&n| {
            let placeholder = *nodes.get(n)?;
            let s = placeholder.structure(db);
            Some(InputArg {
                placeholder,
                tensor_id: s.tensor_id,
                base_tensor_id: s.base_tensor_id,
                storage: s.tensor_id.and(placeholder.facts(db).storage),
            })
        })
        .collect())
}

/// A post-dedupe argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct KeptArg {
    /// Among the flat (pre-dedupe) arguments.
    position: usize,
    pub(super) arg: InputArg,
}

#[salsa::tracked(returns(ref))]
fn kept_args(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Vec<KeptArg>> {
    let args = ok(input_args(db, graph))?;
    let d = ok(dedupe(db, graph))?;
    Ok(d.kept_positions(args.len())
        .into_iter()
        .filter_map(|position| {
            Some(KeptArg {
                position,
                arg: *args.get(position)?,
            })
        })
        .collect())
}

/// The post-dedupe arguments, read on demand: storages from the value
/// facts, a tensor's geometry only when merging asks for it, so that an edit
/// to an input that shares no storage reaches only `merge_args`.
pub(super) struct ArgReader<'db> {
    db: &'db dyn salsa::Database,
    graph: GraphInput,
    pub(super) kept: &'db [KeptArg],
    leafified: &'db [usize],
}

/// Every placeholder as a post-dedupe argument, and the later copies of a
/// tensor passed twice: the arguments export's `merge_view_inputs` sees,
/// where mutated duplicates are refused first and the others leafified.
#[salsa::tracked(returns(ref))]
fn export_args(
    db: &dyn salsa::Database,
    graph: GraphInput,
) -> QueryResult<(Vec<KeptArg>, Vec<usize>)> {
    let args = ok(input_args(db, graph))?;
    let mut seen = std::collections::HashSet::new();
    let mut leafified = Vec::new();
    let kept = args
        .iter()
        .enumerate()
        .map(|(position, arg)| {
            if arg.tensor_id.is_some_and(|id| !seen.insert(id)) {
                leafified.push(position);
            }
            KeptArg {
                position,
                arg: *arg,
            }
        })
        .collect();
    Ok((kept, leafified))
}

impl<'db> ArgReader<'db> {
    /// The arguments of export's `merge_view_inputs` ([`export_args`]).
    pub(super) fn for_export(
        db: &'db dyn salsa::Database,
        graph: GraphInput,
    ) -> QueryResult<ArgReader<'db>> {
        let (kept, leafified) = ok(export_args(db, graph))?;
        Ok(ArgReader {
            db,
            graph,
            kept,
            leafified,
        })
    }

    pub(super) fn new(
        db: &'db dyn salsa::Database,
        graph: GraphInput,
    ) -> QueryResult<ArgReader<'db>> {
        Ok(ArgReader {
            db,
            graph,
            kept: ok(kept_args(db, graph))?,
            leafified: &ok(dedupe(db, graph))?.leafified_indices,
        })
    }

    fn base(&self, id: u64) -> Option<BaseTensor> {
        let db = self.db;
        let t: &TensorMeta = placeholders_by_identity(db, self.graph)
            .get(&id)
            .and_then(|n| n.value(db).as_tensor())
            .or_else(|| {
                let bases = self.graph.input_bases(db);
                Some(&bases.iter().find(|b| b.tensor_id == id)?.val)
            })?;
        Some(BaseTensor {
            identity: id,
            spec: TensorSpec::of(&t.geometry),
            requires_grad: t.autograd.requires_grad,
        })
    }

    fn merge_arg(&self, i: usize) -> MergeArg {
        match self.tensor(i) {
            Some(t) => MergeArg::Tensor(Box::new(t)),
            None => MergeArg::Other(match self.kept.get(i) {
                Some(k) => (**k.arg.placeholder.value(self.db)).clone(),
                None => crate::ir::Value::None,
            }),
        }
    }
}

impl MergeInputs for ArgReader<'_> {
    fn arg_count(&self) -> usize {
        self.kept.len()
    }

    fn storage(&self, i: usize) -> Option<u64> {
        self.kept.get(i)?.arg.storage
    }

    fn tensor(&self, i: usize) -> Option<ArgTensor> {
        let KeptArg { position: p, arg } = *self.kept.get(i)?;
        let id = arg.tensor_id?;
        let t = arg.placeholder.value(self.db).as_tensor()?;
        // A leafified duplicate is a new detached object: no base, its own identity.
        let leafified = self.leafified.contains(&p);
        Some(ArgTensor {
            identity: if leafified { u64::MAX - p as u64 } else { id },
            storage: t.geometry.storage,
            spec: TensorSpec::of(&t.geometry),
            storage_nbytes: t.geometry.storage_nbytes.clone(),
            requires_grad: t.autograd.requires_grad,
            base: if leafified {
                None
            } else {
                arg.base_tensor_id.and_then(|b| self.base(b))
            },
        })
    }
}

/// A run of [`MERGE_ARG_CHUNK`] post-dedupe arguments starting at `start`.
#[salsa::interned(debug)]
struct ArgChunk<'db> {
    #[returns(copy)]
    graph: GraphInput,
    #[returns(copy)]
    start: usize,
}

/// Chunks bound what one edit re-reads to one chunk, and what checking
/// `merge_args` costs to one dependency per chunk.
const MERGE_ARG_CHUNK: usize = 64;

#[salsa::tracked(returns(ref))]
fn chunk_args<'db>(
    db: &'db dyn salsa::Database,
    chunk: ArgChunk<'db>,
) -> QueryResult<Arc<[MergeArg]>> {
    let args = ArgReader::new(db, chunk.graph(db))?;
    let start = chunk.start(db);
    let end = args.kept.len().min(start.saturating_add(MERGE_ARG_CHUNK));
    Ok((start..end).map(|i| args.merge_arg(i)).collect())
}

/// The post-dedupe inputs as `merge_view_inputs` sees them, all of them:
/// the report prints their geometry.
#[salsa::tracked(returns(ref))]
pub fn merge_args(db: &dyn salsa::Database, graph: GraphInput) -> QueryResult<Arc<MergeArgs>> {
    let count = ok(kept_args(db, graph))?.len();
    let chunks = (0..count)
        .step_by(MERGE_ARG_CHUNK)
        .map(|start| ok(chunk_args(db, ArgChunk::new(db, graph, start))).cloned())
        .collect::<QueryResult<Vec<_>>>()?;
    Ok(Arc::new(MergeArgs::from_chunks(chunks, MERGE_ARG_CHUNK)))
}
