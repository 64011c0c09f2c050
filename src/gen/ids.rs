//! Keeping an edited dump canonical: its operator table in step with its
//! nodes, tensor and storage ids renumbered in order of first appearance.

use super::*;

/// `operators` and `operator_tags` for exactly the ATen targets called,
/// in the dump's own schemas where it has them.
pub(super) fn sync_operators(dump: &mut Json) -> Result<(), GenError> {
    let used: BTreeSet<String> = nodes_mut(dump)?
        .iter()
        .filter(|n| n.get("op").and_then(Json::as_str) == Some("call_function"))
        .map(|n| target(n).to_owned())
        .filter(|t| t.starts_with("aten."))
        .collect();
    let old_schemas = dump.get("operators").and_then(Json::as_object);
    let old_tags = dump.get("operator_tags").and_then(Json::as_object);
    let mut schemas = Map::new();
    let mut tags = Map::new();
    for target in used {
        let known = known_operator(&target);
        let schema = old_schemas
            .and_then(|s| s.get(&target))
            .cloned()
            .or_else(|| known.map(|(s, _)| json!(s)))
            .ok_or_else(|| GenError::Malformed(format!("no schema for `{target}`")))?;
        let tag = old_tags
            .and_then(|t| t.get(&target))
            .cloned()
            .or_else(|| known.map(|(_, t)| json!(t)))
            .unwrap_or_else(|| json!([]));
        schemas.insert(target.clone(), schema);
        tags.insert(target, tag);
    }
    if let Some(obj) = dump.as_object_mut() {
        obj.insert("operators".to_owned(), Json::Object(schemas));
        obj.insert("operator_tags".to_owned(), Json::Object(tags));
    }
    Ok(())
}

/// Renumbers tensor ids (the caller's tensors in placeholder order, then
/// the bases of view inputs, then new objects in node order; format §8.1)
/// and storage ids (order of first appearance; format §7).
pub(super) fn normalize_ids(dump: &mut Json) -> Result<(), GenError> {
    let mut ids = Renumbering::default();
    let nodes = dump
        .get("nodes")
        .and_then(Json::as_array)
        .ok_or_else(|| GenError::Malformed("no `nodes` array".into()))?;
    let is_placeholder = |n: &&Json| n.get("op").and_then(Json::as_str) == Some("placeholder");
    nodes
        .iter()
        .filter(is_placeholder)
        .filter_map(tensor_id)
        .for_each(|id| {
            ids.get(id);
        });
    let bases = dump.get("input_bases").and_then(Json::as_array);
    for base in bases.into_iter().flatten() {
        if let Some(id) = base.get("tensor_id").and_then(Json::as_u64) {
            ids.get(id);
        }
    }
    nodes
        .iter()
        .filter(|n| !is_placeholder(n))
        .filter_map(tensor_id)
        .for_each(|id| {
            ids.get(id);
        });

    let mut storages = Renumbering::default();
    for node in nodes_mut(dump)? {
        if let Some(obj) = node.as_object_mut() {
            for key in ["tensor_id", "base_tensor_id"] {
                if let Some(id) = obj.get(key).and_then(Json::as_u64) {
                    obj.insert(key.to_owned(), json!(ids.get(id)));
                }
            }
            if let Some(val) = obj.get_mut("val") {
                renumber_storages(val, &mut storages);
            }
        }
    }
    let bases = dump.get_mut("input_bases").and_then(Json::as_array_mut);
    for base in bases.into_iter().flatten() {
        if let Some(obj) = base.as_object_mut() {
            if let Some(id) = obj.get("tensor_id").and_then(Json::as_u64) {
                obj.insert("tensor_id".to_owned(), json!(ids.get(id)));
            }
            if let Some(val) = obj.get_mut("val") {
                renumber_storages(val, &mut storages);
            }
        }
    }
    Ok(())
}

#[derive(Default)]
pub(super) struct Renumbering(HashMap<u64, u64>);

impl Renumbering {
    pub(super) fn get(&mut self, old: u64) -> u64 {
        let next = self.0.len() as u64;
        *self.0.entry(old).or_insert(next)
    }
}

pub(super) fn renumber_storages(val: &mut Json, storages: &mut Renumbering) {
    if let Some(t) = val.get_mut("tensor").and_then(Json::as_object_mut) {
        if let Some(s) = t.get("storage").and_then(Json::as_u64) {
            t.insert("storage".to_owned(), json!(storages.get(s)));
        }
    } else if let Some(items) = val.get_mut("list").and_then(Json::as_array_mut) {
        items
            .iter_mut()
            .for_each(|v| renumber_storages(v, storages));
    }
}
