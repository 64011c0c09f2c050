//! Keeping an edited graph canonical: its operator table in step with its
//! nodes, tensor and storage ids renumbered in order of first appearance.

use super::*;

/// The operator table for exactly the ATen targets called, with the
/// graph's own schemas where it has them.
pub(super) fn sync_operators(draft: &mut Draft) -> Result<(), GenError> {
    let used: BTreeSet<&str> = draft
        .nodes
        .iter()
        .filter(|n| n.s.op == NodeOp::CallFunction)
        .map(target)
        .filter(|t| t.starts_with("aten."))
        .collect();
    let old = &draft.graph.operators;
    let mut operators = Operators::new();
    for target in used {
        let op = old
            .get(target)
            .cloned()
            .or_else(|| known_operator(target))
            .ok_or_else(|| GenError::Malformed(format!("no schema for `{target}`")))?;
        operators.insert(target.to_owned(), op);
    }
    draft.graph.operators = operators;
    Ok(())
}

/// Renumbers tensor ids (the caller's tensors in placeholder order, then
/// the bases of view inputs, then new objects in node order; format §8.1)
/// and storage ids (order of first appearance; format §7).
pub(super) fn normalize_ids(draft: &mut Draft) {
    let mut ids = Renumbering::default();
    let (placeholders, calls): (Vec<&Open>, Vec<&Open>) =
        draft.nodes.iter().partition(|n| is_placeholder(n));
    let first_seen = placeholders
        .iter()
        .filter_map(|n| n.s.tensor_id)
        .chain(draft.graph.input_bases.iter().map(|b| b.tensor_id))
        .chain(calls.iter().filter_map(|n| n.s.tensor_id));
    for id in first_seen {
        ids.get(id);
    }

    let mut storages = Renumbering::default();
    for node in &mut draft.nodes {
        for id in [&mut node.s.tensor_id, &mut node.s.base_tensor_id]
            .into_iter()
            .flatten()
        {
            *id = ids.get(*id);
        }
        renumber_storages(&mut node.val, &mut storages);
    }
    for base in &mut draft.graph.input_bases {
        base.tensor_id = ids.get(base.tensor_id);
        base.val.geometry.storage = storages.get(base.val.geometry.storage);
    }
}

#[derive(Default)]
pub(super) struct Renumbering(HashMap<u64, u64>);

impl Renumbering {
    pub(super) fn get(&mut self, old: u64) -> u64 {
        let next = self.0.len() as u64;
        *self.0.entry(old).or_insert(next)
    }
}

pub(super) fn renumber_storages(val: &mut Value, storages: &mut Renumbering) {
    match val {
        Value::Tensor(t) => t.geometry.storage = storages.get(t.geometry.storage),
        Value::List(items) => items
            .iter_mut()
            .for_each(|v| renumber_storages(v, storages)),
        _ => {}
    }
}
