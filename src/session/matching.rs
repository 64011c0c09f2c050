//! Which node of the database each node of a new version is. A version of
//! the same length is matched by position (a node unchanged there costs one
//! fingerprint comparison), then by name. One with nodes inserted or removed
//! is matched by *content*: op, target, constant arguments and the matches of
//! the nodes its arguments name (for a placeholder: its kind, module path
//! and source), since a re-trace renumbers names after an insertion
//! (`add_5` becomes `add_6`); name, then order, break ties.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::db::{Database, NodeInput};
use crate::ir::{Arg, Graph, NodeOp, NodeStructure};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// What a new node is to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Match {
    /// This input, whose node is unchanged (same fingerprint).
    Same(NodeInput),
    /// This input, whose node may differ.
    Changed(NodeInput),
    /// No input: a new node.
    New,
}

impl Match {
    pub(super) fn input(self) -> Option<NodeInput> {
        match self {
            Match::Same(n) | Match::Changed(n) => Some(n),
            Match::New => None,
        }
    }
}

/// Matches `new`'s nodes to `old` (the database's, in order, with their
/// fingerprints `old_prints`).
pub(super) fn match_nodes(
    db: &Database,
    old: &[NodeInput],
    old_prints: &[u64],
    new: &Graph,
) -> Vec<Match> {
    if old.len() == new.nodes.len() {
        by_position(db, old, old_prints, new)
    } else {
        by_content(db, old, old_prints, new)
    }
}

fn by_position(db: &Database, old: &[NodeInput], old_prints: &[u64], new: &Graph) -> Vec<Match> {
    // Index the old nodes by name only once a name is not where it was.
    let mut by_name: Option<HashMap<&str, NodeInput>> = None;
    new.nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            // Only the fingerprint is read of an unchanged node.
            if let (Some(&n), Some(&print)) = (old.get(i), old_prints.get(i)) {
                if print == node.fingerprint() {
                    return Match::Same(n);
                }
            }
            let name = &*node.structure().name;
            match old.get(i) {
                Some(&n) if &*n.structure(db).name == name => Match::Changed(n),
                _ => by_name
                    .get_or_insert_with(|| {
                        old.iter().map(|&n| (&*n.structure(db).name, n)).collect()
                    })
                    .get(name)
                    .map_or(Match::New, |&n| Match::Changed(n)),
            }
        })
        .collect()
}

fn by_content(db: &Database, old: &[NodeInput], old_prints: &[u64], new: &Graph) -> Vec<Match> {
    let hasher = foldhash::fast::FixedState::default();
    let old_by_name: HashMap<&str, NodeInput> =
        old.iter().map(|&n| (&*n.structure(db).name, n)).collect();
    // Up to the first edit the versions agree node for node.
    let prefix = old
        .iter()
        .zip(old_prints)
        .zip(&new.nodes)
        .take_while(|((_, &print), node)| print == node.fingerprint())
        .count();
    // Old nodes by content key, in order: equal keys are taken first come.
    let mut by_key: HashMap<u64, VecDeque<(usize, NodeInput)>> = HashMap::default();
    for (i, &n) in old.iter().enumerate().skip(prefix) {
        let key = content_key(&hasher, n.structure(db), &|name| {
            old_by_name.get(name).copied()
        });
        by_key.entry(key).or_default().push_back((i, n));
    }
    let mut taken: HashSet<NodeInput> = HashSet::default();
    let mut matched_by_name: HashMap<&str, NodeInput> = HashMap::default();
    let mut out = Vec::with_capacity(new.nodes.len());
    for (node, &n) in new.nodes.iter().zip(old).take(prefix) {
        matched_by_name.insert(&node.structure().name, n);
        taken.insert(n);
        out.push(Match::Same(n));
    }
    for node in new.nodes.iter().skip(prefix) {
        let s = node.structure();
        let key = content_key(&hasher, s, &|name| matched_by_name.get(name).copied());
        let by_content = by_key.get_mut(&key).and_then(|queue| {
            while let Some((i, n)) = queue.pop_front() {
                if !taken.contains(&n) {
                    return Some((i, n));
                }
            }
            None
        });
        let m = match by_content {
            Some((i, n)) if old_prints.get(i) == Some(&node.fingerprint()) => Match::Same(n),
            Some((_, n)) => Match::Changed(n),
            None => match old_by_name.get(&*s.name) {
                Some(&n) if !taken.contains(&n) => Match::Changed(n),
                _ => Match::New,
            },
        };
        if let Some(n) = m.input() {
            taken.insert(n);
            matched_by_name.insert(&s.name, n);
        }
        out.push(m);
    }
    out
}

/// What a node is, apart from its name and identities: the nodes its
/// arguments name count through `resolve` (what they were matched to).
fn content_key(
    hasher: &impl BuildHasher,
    s: &NodeStructure,
    resolve: &dyn Fn(&str) -> Option<NodeInput>,
) -> u64 {
    fn arg(a: &Arg, h: &mut impl Hasher, resolve: &dyn Fn(&str) -> Option<NodeInput>) {
        std::mem::discriminant(a).hash(h);
        match a {
            Arg::Node(name) => resolve(name).hash(h),
            Arg::List(items) => {
                items.len().hash(h);
                items.iter().for_each(|a| arg(a, h, resolve));
            }
            other => other.hash(h),
        }
    }
    let mut h = hasher.build_hasher();
    match &s.op {
        NodeOp::Placeholder { kind, fqn, source } => (0u8, kind, fqn, source).hash(&mut h),
        other => std::mem::discriminant(other).hash(&mut h),
    }
    s.target.hash(&mut h);
    s.args.len().hash(&mut h);
    s.args.iter().for_each(|a| arg(a, &mut h, resolve));
    for (k, a) in &s.kwargs {
        k.hash(&mut h);
        arg(a, &mut h, resolve);
    }
    h.finish()
}
