//! Identities that survive re-tracing. A tracer numbers tensors and
//! storages in the order it meets them, so inserting one node renumbers
//! every later tensor; were those numbers stored as they come, one insertion
//! would change every later node. The database instead holds *stable*
//! numbers: each version's numbering is translated before it is compared
//! with the database, and a tensor matched to one already there keeps that
//! one's number. The analyses compare identities only with each other, so
//! any one-to-one translation gives the same results; this one keeps what
//! did not change unchanged.

use std::borrow::Cow;
use std::sync::Arc;
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

use crate::ir::{Graph, InputBase, Node, NodeStructure, TensorMeta, Value};

/// One namespace's translation (tensor ids or storage ids), one-to-one.
#[derive(Clone, Debug, Default)]
struct Translation {
    to_stable: HashMap<u64, u64>,
    to_raw: HashMap<u64, u64>,
    /// Above every stable number given so far.
    next: u64,
    /// How many raw numbers translate to another number.
    moved: usize,
}

impl Translation {
    /// The stable number of `raw`, a fresh one if it has none.
    fn stable(&mut self, raw: u64) -> u64 {
        if let Some(&s) = self.to_stable.get(&raw) {
            return s;
        }
        let s = self.fresh(raw);
        self.bind(raw, s);
        s
    }

    /// `raw` itself while that number is free (so that a first version
    /// translates to itself), else the next free one.
    fn fresh(&mut self, raw: u64) -> u64 {
        let s = if self.to_raw.contains_key(&raw) {
            while self.to_raw.contains_key(&self.next) {
                self.next = self.next.saturating_add(1);
            }
            self.next
        } else {
            raw
        };
        self.next = self.next.max(s.saturating_add(1));
        s
    }

    fn bind(&mut self, raw: u64, stable: u64) {
        if self
            .to_stable
            .insert(raw, stable)
            .is_some_and(|old| old != raw)
        {
            self.moved -= 1;
        }
        self.moved += usize::from(stable != raw);
        self.to_raw.insert(stable, raw);
    }

    /// Makes `raw` translate to `stable`, which the raw number holding it
    /// gives up for `raw`'s old one (or a fresh one). The raw numbers whose
    /// translation changed are added to `changed`.
    fn pin(&mut self, raw: u64, stable: u64, changed: &mut HashSet<u64>) {
        let had = self.to_stable.get(&raw).copied();
        if had == Some(stable) {
            return;
        }
        let holder = self.to_raw.get(&stable).copied();
        if let Some(h) = had {
            self.to_raw.remove(&h);
        }
        self.bind(raw, stable);
        changed.insert(raw);
        if let Some(holder) = holder {
            let other = match had {
                Some(h) => h,
                None => self.fresh(holder),
            };
            self.bind(holder, other);
            changed.insert(holder);
        }
    }

    /// The raw number of the latest version that `stable` stands for.
    fn raw(&self, stable: u64) -> u64 {
        self.to_raw.get(&stable).copied().unwrap_or(stable)
    }

    /// Forgets numbers no longer in use once they outnumber `live` by far.
    fn prune(&mut self, live: usize, in_use: impl Fn(u64) -> bool) {
        if self.to_stable.len() > live.saturating_mul(4).saturating_add(1024) {
            self.to_stable.retain(|&raw, _| in_use(raw));
            let kept: HashMap<u64, u64> = self.to_stable.iter().map(|(&r, &s)| (s, r)).collect();
            self.to_raw = kept;
            self.moved = self.to_stable.iter().filter(|(r, s)| r != s).count();
        }
    }
}

/// The translation of tensor and storage identities into stable ones.
#[derive(Clone, Debug, Default)]
pub(super) struct Identities {
    tensors: Translation,
    storages: Translation,
}

/// Raw numbers whose translation an update changed.
#[derive(Default)]
pub(super) struct Changed {
    tensors: HashSet<u64>,
    storages: HashSet<u64>,
}

impl Changed {
    pub(super) fn is_empty(&self) -> bool {
        self.tensors.is_empty() && self.storages.is_empty()
    }
}

impl Identities {
    /// Makes node `new` (raw numbers) translate as `old` (stable numbers,
    /// from the database) where the two have the same shape.
    pub(super) fn pin_node(
        &mut self,
        new: &Node,
        old: (&NodeStructure, &Value),
        changed: &mut Changed,
    ) {
        let (s, v) = (new.structure(), old.0);
        for (raw, stable) in [
            (s.tensor_id, v.tensor_id),
            (s.base_tensor_id, v.base_tensor_id),
        ] {
            if let (Some(raw), Some(stable)) = (raw, stable) {
                self.tensors.pin(raw, stable, &mut changed.tensors);
            }
        }
        pin_storages(&mut self.storages, new.val(), old.1, &mut changed.storages);
    }

    /// Does `node` hold a raw number whose translation changed?
    pub(super) fn touches(node: &Node, changed: &Changed) -> bool {
        let s = node.structure();
        let tensor = |id: Option<u64>| id.is_some_and(|id| changed.tensors.contains(&id));
        if tensor(s.tensor_id) || tensor(s.base_tensor_id) {
            return true;
        }
        let mut hit = false;
        each_tensor(node.val(), &mut |t| {
            hit |= changed.storages.contains(&t.geometry.storage)
        });
        hit
    }

    /// `node`'s structure and value in stable numbers: the node's own where
    /// no number translates differently, copies where one does.
    pub(super) fn translate(&mut self, node: &Node) -> (Arc<NodeStructure>, Arc<Value>) {
        let s = node.structure();
        let mut structure = Cow::Borrowed(s);
        for (k, id) in [s.tensor_id, s.base_tensor_id].into_iter().enumerate() {
            let Some(raw) = id else { continue };
            let stable = self.tensors.stable(raw);
            if stable != raw {
                let st = structure.to_mut();
                *if k == 0 {
                    &mut st.tensor_id
                } else {
                    &mut st.base_tensor_id
                } = Some(stable);
            }
        }
        let mut moved = false;
        each_tensor(node.val(), &mut |t| {
            moved |= self.storages.stable(t.geometry.storage) != t.geometry.storage;
        });
        let value = if moved {
            let mut value = node.val().clone();
            each_tensor_mut(&mut value, &mut |t| {
                t.geometry.storage = self.storages.stable(t.geometry.storage)
            });
            Arc::new(value)
        } else {
            node.shared_val().clone()
        };
        let structure = match structure {
            Cow::Borrowed(_) => node.shared_structure().clone(),
            Cow::Owned(s) => Arc::new(s),
        };
        (structure, value)
    }

    /// The graph's `input_bases` in stable numbers.
    pub(super) fn translate_bases(&mut self, bases: &[InputBase]) -> Vec<InputBase> {
        bases
            .iter()
            .map(|b| {
                let mut b = b.clone();
                b.tensor_id = self.tensors.stable(b.tensor_id);
                b.val.geometry.storage = self.storages.stable(b.val.geometry.storage);
                b
            })
            .collect()
    }

    /// Does any storage number translate to another?
    pub(super) fn storages_moved(&self) -> bool {
        self.storages.moved > 0
    }

    /// A value of the database with the latest version's storage numbers,
    /// for printing; `None` when they are the same.
    pub(super) fn raw_value(&self, value: &Value) -> Option<Value> {
        if self.storages.moved == 0 {
            return None;
        }
        let mut differs = false;
        each_tensor(value, &mut |t| {
            differs |= self.storages.raw(t.geometry.storage) != t.geometry.storage
        });
        differs.then(|| {
            let mut v = value.clone();
            each_tensor_mut(&mut v, &mut |t| {
                t.geometry.storage = self.storages.raw(t.geometry.storage)
            });
            v
        })
    }

    /// Forgets the numbers `graph` (the latest version, raw) no longer uses,
    /// once they are many.
    pub(super) fn prune(&mut self, graph: &Graph) {
        let live = graph.nodes.len() + graph.input_bases.len();
        if self.tensors.to_stable.len() <= live * 4 + 1024
            && self.storages.to_stable.len() <= live * 4 + 1024
        {
            return;
        }
        let mut tensors: HashSet<u64> = HashSet::default();
        let mut storages: HashSet<u64> = HashSet::default();
        for n in &graph.nodes {
            tensors.extend(n.structure().tensor_id);
            tensors.extend(n.structure().base_tensor_id);
            each_tensor(n.val(), &mut |t| {
                storages.insert(t.geometry.storage);
            });
        }
        for b in &graph.input_bases {
            tensors.insert(b.tensor_id);
            storages.insert(b.val.geometry.storage);
        }
        self.tensors.prune(live, |r| tensors.contains(&r));
        self.storages.prune(live, |r| storages.contains(&r));
    }
}

fn pin_storages(storages: &mut Translation, new: &Value, old: &Value, changed: &mut HashSet<u64>) {
    match (new, old) {
        (Value::Tensor(n), Value::Tensor(o)) => {
            storages.pin(n.geometry.storage, o.geometry.storage, changed)
        }
        (Value::List(n), Value::List(o)) => {
            for (n, o) in n.iter().zip(o) {
                pin_storages(storages, n, o, changed);
            }
        }
        _ => {}
    }
}

fn each_tensor(value: &Value, f: &mut dyn FnMut(&TensorMeta)) {
    match value {
        Value::Tensor(t) => f(t),
        Value::List(items) => items.iter().for_each(|v| each_tensor(v, f)),
        _ => {}
    }
}

fn each_tensor_mut(value: &mut Value, f: &mut dyn FnMut(&mut TensorMeta)) {
    match value {
        Value::Tensor(t) => f(t),
        Value::List(items) => items.iter_mut().for_each(|v| each_tensor_mut(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_keeps_the_translation_one_to_one() {
        let mut t = Translation::default();
        for raw in 0..4 {
            assert_eq!(t.stable(raw), raw, "a first version translates to itself");
        }
        // An insertion before tensor 1: raw 1 is new, raws 2.. were 1.. before.
        let mut changed = HashSet::default();
        for raw in (2..5).rev() {
            t.pin(raw, raw - 1, &mut changed);
        }
        let fresh = t.stable(1);
        assert!(fresh >= 4, "the new tensor gets an unused number: {fresh}");
        let stables: Vec<u64> = (0..5).map(|r| t.stable(r)).collect();
        assert_eq!(stables, [0, fresh, 1, 2, 3]);
        let mut sorted = stables.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "one-to-one: {stables:?}");
        assert_eq!(t.raw(1), 2);
    }
}
