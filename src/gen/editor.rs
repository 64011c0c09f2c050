//! Edits of a dump as a recompilation loop is handed them: layouts, ops,
//! aliasing between inputs, storages, `requires_grad`, added, removed and
//! renamed nodes.

use super::*;

/// What the edits need to know about a dump's nodes.
pub(super) struct Index {
    pub(super) names: HashMap<String, usize>,
    /// Per node, the later nodes whose arguments name it.
    pub(super) users: Vec<Vec<usize>>,
    /// Tensor ids carried by more than one node: objects written in place.
    pub(super) written: HashSet<u64>,
}

impl Index {
    pub(super) fn new(nodes: &[Json]) -> Index {
        let mut names = HashMap::new();
        let mut users = vec![Vec::new(); nodes.len()];
        let mut seen_ids = HashSet::new();
        let mut written = HashSet::new();
        for (i, node) in nodes.iter().enumerate() {
            if let Some(name) = node.get("name").and_then(Json::as_str) {
                names.insert(name.to_owned(), i);
            }
            let mut refs = Vec::new();
            for key in ["args", "kwargs"] {
                if let Some(a) = node.get(key) {
                    collect_refs(a, &mut refs);
                }
            }
            for r in refs {
                if let Some(users) = names.get(r).and_then(|&j| users.get_mut(j)) {
                    if users.last() != Some(&i) {
                        users.push(i);
                    }
                }
            }
            if let Some(id) = tensor_id(node) {
                if !seen_ids.insert(id) {
                    written.insert(id);
                }
            }
        }
        Index {
            names,
            users,
            written,
        }
    }

    pub(super) fn users(&self, i: usize) -> &[usize] {
        self.users.get(i).map_or(&[], Vec::as_slice)
    }
}

pub(super) fn collect_refs<'a>(arg: &'a Json, out: &mut Vec<&'a str>) {
    match arg {
        Json::Array(items) => items.iter().for_each(|a| collect_refs(a, out)),
        Json::Object(m) => match (m.len(), m.get("node").and_then(Json::as_str)) {
            (1, Some(name)) => out.push(name),
            _ => m.values().for_each(|a| collect_refs(a, out)),
        },
        _ => {}
    }
}

pub(super) fn tensor_id(node: &Json) -> Option<u64> {
    node.get("tensor_id").and_then(Json::as_u64)
}

pub(super) fn base_tensor_id(node: &Json) -> Option<u64> {
    node.get("base_tensor_id").and_then(Json::as_u64)
}

pub(super) fn is_user_input(node: &Json) -> bool {
    node.get("op").and_then(Json::as_str) == Some("placeholder")
        && node
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or("user_input")
            == "user_input"
}

pub(super) fn target(node: &Json) -> &str {
    node.get("target")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

pub(super) fn node_tensor(node: &Json) -> Option<TensorVal> {
    TensorVal::from_json(node.get("val")?)
}

pub(super) fn set_val(node: &mut Json, val: &TensorVal) {
    if let Some(obj) = node.as_object_mut() {
        obj.insert("val".to_owned(), val.to_json());
    }
}

pub(super) fn nodes_mut(dump: &mut Json) -> Result<&mut Vec<Json>, GenError> {
    dump.get_mut("nodes")
        .and_then(Json::as_array_mut)
        .ok_or_else(|| GenError::Malformed("no `nodes` array".into()))
}

pub(super) fn name_of(node: &Json) -> String {
    node.get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A call whose value is new: no view, not its argument returned (the
/// results of its users then do not depend on the layout or identity of
/// what they read).
pub(super) fn makes_fresh_value(index: &Index, nodes: &[Json], user: usize) -> bool {
    let Some(node) = nodes.get(user) else {
        return false;
    };
    if node.get("op").and_then(Json::as_str) != Some("call_function")
        || target(node) == "_operator.getitem"
    {
        return false;
    }
    match node.get("val") {
        Some(Json::Object(v)) if v.contains_key("list") => {
            v.get("list").and_then(Json::as_array).is_some_and(|items| {
                items
                    .iter()
                    .all(|item| TensorVal::from_json(item).is_some_and(|t| !t.is_view))
            })
        }
        Some(val) => {
            TensorVal::from_json(val).is_some_and(|t| !t.is_view)
                && base_tensor_id(node).is_none()
                && tensor_id(node).is_some_and(|id| !index.written.contains(&id))
        }
        None => false,
    }
}

/// A user that reads only the sizes of what it reads (`sym_size`), so it
/// stays as it is whatever changes in the layout, autograd facts or identity.
pub(super) fn reads_only_sizes(nodes: &[Json], user: usize) -> bool {
    nodes
        .get(user)
        .is_some_and(|n| target(n) == "aten.sym_size.int")
}

/// A user whose value stays the same when what it reads changes layout,
/// `requires_grad` (given another input requiring grad) or identity.
pub(super) fn is_indifferent_user(index: &Index, nodes: &[Json], user: usize) -> bool {
    makes_fresh_value(index, nodes, user) || reads_only_sizes(nodes, user)
}

/// Flips a placeholder between row-major and "dimension 1 outermost".
pub(super) fn edit_layout(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let transposes = |i: usize| -> Option<Vec<usize>> {
        let mut ts = Vec::new();
        for &u in index.users(i) {
            let user = nodes.get(u)?;
            if is_indifferent_user(&index, nodes, u) {
                continue;
            }
            let is_t = target(user) == "aten.t.default"
                && tensor_id(user).is_some_and(|id| !index.written.contains(&id))
                && index
                    .users(u)
                    .iter()
                    .all(|&uu| is_indifferent_user(&index, nodes, uu));
            if !is_t {
                return None;
            }
            ts.push(u);
        }
        Some(ts)
    };
    let mut candidates = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let ok = node.get("op").and_then(Json::as_str) == Some("placeholder")
            && node_tensor(node).is_some_and(|t| t.shape.len() >= 2 && !t.is_view && t.is_float())
            && tensor_id(node).is_some_and(|id| !index.written.contains(&id))
            && !index.users(i).is_empty();
        if ok {
            if let Some(ts) = transposes(i) {
                candidates.push((i, ts));
            }
        }
    }
    let (i, ts) = rng
        .pick(&candidates)
        .cloned()
        .ok_or(GenError::NoCandidate(EditKind::TensorMetadata))?;
    let Some(mut val) = nodes.get(i).and_then(node_tensor) else {
        return Err(GenError::NoCandidate(EditKind::TensorMetadata));
    };
    let row_major = contiguous(&val.shape)?;
    let mut order: Vec<usize> = (0..val.shape.len()).collect();
    order.swap(0, 1);
    let (stride, layout) = if val.stride == row_major {
        (
            strides_in_order(&val.shape, &order)?,
            "dimension 1 outermost",
        )
    } else {
        (row_major, "row-major")
    };
    val.stride = stride;
    let name = nodes.get(i).map(name_of).unwrap_or_default();
    if let Some(node) = nodes.get_mut(i) {
        set_val(node, &val);
    }
    for t in ts {
        if let Some(node) = nodes.get_mut(t) {
            if let Some(mut tv) = node_tensor(node) {
                tv.stride = val.stride.iter().rev().cloned().collect();
                set_val(node, &tv);
            }
        }
    }
    Ok(format!("{name} laid out {layout}"))
}

/// Swaps one operator for another of the same signature.
pub(super) fn edit_op(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    pub(super) const SWAPS: &[(&str, &str)] = &[
        ("aten.gelu.default", "aten.relu.default"),
        ("aten.relu.default", "aten.gelu.default"),
        ("aten.add.Tensor", "aten.sub.Tensor"),
        ("aten.sub.Tensor", "aten.add.Tensor"),
    ];
    let nodes = nodes_mut(dump)?;
    let candidates: Vec<(usize, &str)> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let to = SWAPS.iter().find(|(from, _)| *from == target(n))?.1;
            // gelu's `approximate` has no relu counterpart.
            let plain = n
                .get("kwargs")
                .and_then(Json::as_object)
                .is_none_or(|k| k.is_empty() || !to.contains("relu"));
            plain.then_some((i, to))
        })
        .collect();
    let &(i, to) = rng
        .pick(&candidates)
        .ok_or(GenError::NoCandidate(EditKind::Op))?;
    let mut what = String::new();
    if let Some(Json::Object(node)) = nodes.get_mut(i) {
        let from = node
            .get("target")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        what = format!(
            "{} {from} -> {to}",
            node.get("name").and_then(Json::as_str).unwrap_or_default()
        );
        node.insert("target".to_owned(), json!(to));
    }
    sync_operators(dump)?;
    Ok(what)
}

/// Symbol hints and input bases, read before the nodes are borrowed for editing.
pub(super) struct Context {
    pub(super) hints: HashMap<String, i64>,
    pub(super) bases: HashMap<u64, TensorVal>,
}

impl Context {
    pub(super) fn of(dump: &Json) -> Context {
        let hints = dump
            .get("symbols")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, s)| Some((name.clone(), s.get("hint")?.as_i64()?)))
            .collect();
        let bases = dump
            .get("input_bases")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| {
                let id = b.get("tensor_id")?.as_u64()?;
                Some((id, TensorVal::from_json(b.get("val")?)?))
            })
            .collect();
        Context { hints, bases }
    }

    /// Value of `e` with every symbol at its hint.
    pub(super) fn eval(&self, e: &SizeExpr) -> Option<i64> {
        e.eval(&|s: &str| self.hints.get(s).copied()).ok()
    }

    /// The base's value, from `input_bases` or the placeholder that is the base.
    pub(super) fn base(&self, nodes: &[Json], id: u64) -> Option<TensorVal> {
        self.bases.get(&id).cloned().or_else(|| {
            nodes
                .iter()
                .find(|n| {
                    n.get("op").and_then(Json::as_str) == Some("placeholder")
                        && tensor_id(n) == Some(id)
                })
                .and_then(node_tensor)
        })
    }

    /// Elements of `t`'s storage.
    pub(super) fn storage_elements(&self, t: &TensorVal) -> Option<i64> {
        let size = i64::try_from(itemsize(&t.dtype)?).ok()?;
        Some(self.eval(&t.nbytes)? / size)
    }

    /// Does the element range of `b` meet that of `a`?
    pub(super) fn overlaps(&self, a: &TensorVal, b: &TensorVal) -> Option<bool> {
        let (a0, b0) = (self.eval(&a.offset)?, self.eval(&b.offset)?);
        let a1 = a0 + self.eval(&extent(a).ok()?)?;
        let b1 = b0 + self.eval(&extent(b).ok()?)?;
        Some(a0 < b1 && b0 < a1)
    }

    /// Does `t` lie inside its storage of `elements` elements?
    pub(super) fn fits(&self, t: &TensorVal, elements: i64) -> Option<bool> {
        Some(self.eval(&t.offset)? + self.eval(&extent(t).ok()?)? <= elements)
    }
}

/// A user input that may change without touching any other node: not
/// written, read only by ops that make fresh values.
pub(super) fn is_free_input(index: &Index, nodes: &[Json], i: usize) -> bool {
    nodes.get(i).is_some_and(|n| {
        is_user_input(n)
            && tensor_id(n).is_some_and(|id| !index.written.contains(&id))
            && index
                .users(i)
                .iter()
                .all(|&u| is_indifferent_user(index, nodes, u))
    })
}

/// The view inputs of each base, in input order, with their values.
pub(super) fn view_inputs(nodes: &[Json]) -> BTreeMap<u64, Vec<(usize, TensorVal)>> {
    let mut groups: BTreeMap<u64, Vec<(usize, TensorVal)>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let (true, Some(base), Some(t)) = (is_user_input(n), base_tensor_id(n), node_tensor(n)) {
            if t.is_view {
                groups.entry(base).or_default().push((i, t));
            }
        }
    }
    groups
}

/// `a`'s geometry moved one step of its outermost dimension: overlapping `a`.
pub(super) fn shifted(a: &TensorVal) -> Result<TensorVal, ExprError> {
    let mut t = a.clone();
    t.offset = a.offset.checked_add(a.stride.first().unwrap_or(&int(1)))?;
    Ok(t)
}

/// Moves a view input between overlapping its sibling and lying after it.
pub(super) fn edit_overlap(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::InputAliasing);
    let cx = Context::of(dump);
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let mut candidates = Vec::new();
    for (base, views) in view_inputs(nodes) {
        let Some(elements) = cx.base(nodes, base).and_then(|b| cx.storage_elements(&b)) else {
            continue;
        };
        let Some((_, first)) = views.first() else {
            continue;
        };
        for (i, t) in views.iter().skip(1) {
            if !is_free_input(&index, nodes, *i) {
                continue;
            }
            let mut moved = t.clone();
            moved.offset = match cx.overlaps(first, t) {
                Some(true) => first.offset.checked_add(&extent(first)?)?,
                Some(false) => shifted(first)?.offset,
                None => continue,
            };
            if cx.fits(&moved, elements) == Some(true) {
                candidates.push((*i, moved));
            }
        }
    }
    let (i, moved) = rng.pick(&candidates).cloned().ok_or_else(no)?;
    let node = nodes.get_mut(i).ok_or_else(no)?;
    set_val(node, &moved);
    Ok(format!(
        "{} moved to storage offset {}",
        name_of(node),
        moved.offset
    ))
}

/// Takes a view input off its shared base (own storage), or puts a plain
/// input back on a base beside another view, overlapping it.
pub(super) fn edit_storage(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::InputStorage);
    let cx = Context::of(dump);
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let groups = view_inputs(nodes);
    // (node, its new value, its new `base_tensor_id`)
    let mut candidates: Vec<(usize, TensorVal, Option<u64>)> = Vec::new();
    // Off the base, when another view keeps the base an input base.
    for views in groups.values().filter(|v| v.len() >= 2) {
        for (i, t) in views {
            if is_free_input(&index, nodes, *i) {
                // A storage id past any in use; renumbered below.
                let mut own = TensorVal::dense(t.shape.clone(), &t.dtype, u64::MAX)?;
                own.requires_grad = t.requires_grad;
                candidates.push((*i, own, None));
            }
        }
    }
    // Onto a base, overlapping the first view input of the same shape.
    for (i, n) in nodes.iter().enumerate() {
        let Some(t) = node_tensor(n) else { continue };
        if t.is_view || !is_free_input(&index, nodes, i) {
            continue;
        }
        for (&base, views) in &groups {
            let same = views
                .iter()
                .find(|(_, v)| v.shape == t.shape && v.dtype == t.dtype);
            let (Some((_, first)), Some(base_t)) = (same, cx.base(nodes, base)) else {
                continue;
            };
            let shared = shifted(first)?;
            let fits = cx
                .storage_elements(&base_t)
                .and_then(|n| cx.fits(&shared, n));
            if base_t.requires_grad == t.requires_grad && fits == Some(true) {
                candidates.push((i, shared, Some(base)));
                break;
            }
        }
    }
    let (i, val, base) = rng.pick(&candidates).cloned().ok_or_else(no)?;
    let node = nodes.get_mut(i).ok_or_else(no)?;
    set_val(node, &val);
    if let Some(obj) = node.as_object_mut() {
        obj.insert("base_tensor_id".to_owned(), json!(base));
    }
    let what = match base {
        Some(_) => format!("{} now a view of a shared base", name_of(node)),
        None => format!("{} now has its own storage", name_of(node)),
    };
    normalize_ids(dump)?;
    Ok(what)
}

/// Flips `requires_grad` of a user input whose users already require grad
/// through another argument (so no other value changes).
pub(super) fn edit_requires_grad(
    dump: &mut Json,
    rng: &mut SplitMix64,
) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::RequiresGrad);
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let tensor_of = |name: &str| {
        index
            .names
            .get(name)
            .and_then(|&j| nodes.get(j))
            .and_then(node_tensor)
    };
    let mut candidates = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let Some(t) = node_tensor(n) else { continue };
        if t.is_view || !t.is_float() || !is_free_input(&index, nodes, i) {
            continue;
        }
        let me = name_of(n);
        let users_keep_grad = index.users(i).iter().all(|&u| {
            let Some(user) = nodes.get(u) else {
                return false;
            };
            if reads_only_sizes(nodes, u) {
                return true;
            }
            let mut refs = Vec::new();
            if let Some(args) = user.get("args") {
                collect_refs(args, &mut refs);
            }
            let other_requires_grad = refs
                .iter()
                .filter(|r| **r != me)
                .any(|r| tensor_of(r).is_some_and(|t| t.requires_grad));
            let result_requires_grad = match node_tensor(user) {
                Some(v) => v.requires_grad,
                None => user
                    .get("val")
                    .and_then(|v| v.get("list"))
                    .and_then(Json::as_array)
                    .and_then(|l| l.first())
                    .and_then(TensorVal::from_json)
                    .is_some_and(|v| v.requires_grad),
            };
            other_requires_grad && result_requires_grad
        });
        if users_keep_grad {
            candidates.push(i);
        }
    }
    let &i = rng.pick(&candidates).ok_or_else(no)?;
    let node = nodes.get_mut(i).ok_or_else(no)?;
    let mut t = node_tensor(node).ok_or_else(no)?;
    t.requires_grad = !t.requires_grad;
    set_val(node, &t);
    let what = format!("{} requires_grad={}", name_of(node), t.requires_grad);
    let is_train = nodes
        .iter()
        .filter(|n| n.get("op").and_then(Json::as_str) == Some("placeholder"))
        .any(|n| node_tensor(n).is_some_and(|t| t.requires_grad));
    if let Some(config) = dump.get_mut("config").and_then(Json::as_object_mut) {
        config.insert("is_train".to_owned(), json!(is_train));
    }
    Ok(what)
}

/// Inserts `y = x * c` after an intermediate `x` and makes `x`'s users read `y`.
pub(super) fn edit_add_node(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::AddNode);
    let grad_at_entry = dump
        .get("config")
        .and_then(|c| c.get("grad_enabled"))
        .and_then(Json::as_bool)
        .unwrap_or(true);
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let mut candidates = Vec::new();
    let mut grad_enabled = grad_at_entry;
    for (i, n) in nodes.iter().enumerate() {
        if target(n) == "torch._C._set_grad_enabled" {
            if let Some(on) = n.get("args").and_then(|a| a.get(0)).and_then(Json::as_bool) {
                grad_enabled = on;
            }
        }
        let ok = target(n).starts_with("aten.")
            && makes_fresh_value(&index, nodes, i)
            && node_tensor(n).is_some_and(|t| t.is_float())
            && !index.users(i).is_empty()
            && index
                .users(i)
                .iter()
                .all(|&u| is_indifferent_user(&index, nodes, u));
        if ok {
            candidates.push((i, grad_enabled));
        }
    }
    let &(i, grad_enabled) = rng.pick(&candidates).ok_or_else(no)?;
    let scale = *rng.pick(&[0.5, 2.0, 0.125]).unwrap_or(&0.5);
    let node = nodes.get(i).ok_or_else(no)?;
    let x = name_of(node);
    let t = node_tensor(node).ok_or_else(no)?;
    let taken: HashSet<&str> = nodes
        .iter()
        .filter_map(|n| n.get("name").and_then(Json::as_str))
        .collect();
    let name = (0..)
        .map(|k| {
            if k == 0 {
                "mul".to_owned()
            } else {
                format!("mul_{k}")
            }
        })
        .find(|c| !taken.contains(c.as_str()))
        .unwrap_or_default();
    // Ids past any in use; renumbered below into node order.
    let val = TensorVal::dense(t.shape.clone(), &t.dtype, u64::MAX)?
        .with_grad(t.requires_grad && grad_enabled, grad_enabled);
    let new = json!({
        "name": name, "op": "call_function", "target": "aten.mul.Tensor",
        "args": [{"node": x}, scale], "kwargs": {},
        "val": val.to_json(), "tensor_id": u64::MAX, "base_tensor_id": null,
    });
    for &u in index.users(i) {
        if let Some(user) = nodes.get_mut(u) {
            for key in ["args", "kwargs"] {
                if let Some(a) = user.get_mut(key) {
                    rename_refs(a, &x, &name);
                }
            }
        }
    }
    nodes.insert(i + 1, new);
    sync_operators(dump)?;
    normalize_ids(dump)?;
    Ok(format!("{name} = {x} * {scale:?}"))
}

/// Removes a `mul` by a constant, as [`edit_add_node`] inserts, whose users
/// keep their values when they read its input instead.
pub(super) fn edit_remove_node(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::RemoveNode);
    let nodes = nodes_mut(dump)?;
    let index = Index::new(nodes);
    let mut candidates = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if target(n) != "aten.mul.Tensor" || !makes_fresh_value(&index, nodes, i) {
            continue;
        }
        let Some([Json::Object(x), Json::Number(_)]) =
            n.get("args").and_then(Json::as_array).map(Vec::as_slice)
        else {
            continue;
        };
        let Some(&xi) = x
            .get("node")
            .and_then(Json::as_str)
            .and_then(|x| index.names.get(x))
        else {
            continue;
        };
        // The input stands in for the product only if nothing its users
        // see changes: the same sizes, dtype and `requires_grad`.
        let same = match (node_tensor(n), nodes.get(xi).and_then(node_tensor)) {
            (Some(m), Some(x)) => {
                m.shape == x.shape && m.dtype == x.dtype && m.requires_grad == x.requires_grad
            }
            _ => false,
        };
        let users = index.users(i);
        if same && !users.is_empty() && users.iter().all(|&u| is_indifferent_user(&index, nodes, u))
        {
            candidates.push((i, xi));
        }
    }
    let &(i, xi) = rng.pick(&candidates).ok_or_else(no)?;
    let name = nodes.get(i).map(name_of).ok_or_else(no)?;
    let x = nodes.get(xi).map(name_of).ok_or_else(no)?;
    for &u in index.users(i) {
        if let Some(user) = nodes.get_mut(u) {
            for key in ["args", "kwargs"] {
                if let Some(a) = user.get_mut(key) {
                    rename_refs(a, &name, &x);
                }
            }
        }
    }
    nodes.remove(i);
    sync_operators(dump)?;
    normalize_ids(dump)?;
    Ok(format!("{name} removed, its users read {x}"))
}

/// Renames every call the way FX names the nodes of a fresh trace, in
/// order (placeholders and the output keep their names); says how many
/// names changed.
pub(super) fn rename_as_fx(dump: &mut Json) -> Result<usize, GenError> {
    let nodes = nodes_mut(dump)?;
    let mut names = Namer::default();
    for n in nodes.iter() {
        if n.get("op").and_then(Json::as_str) != Some("call_function") {
            names.take(&name_of(n));
        }
    }
    let mut renamed = HashMap::new();
    for n in nodes.iter() {
        if n.get("op").and_then(Json::as_str) == Some("call_function") {
            let new = names.name(node_base_name(target(n)));
            let old = name_of(n);
            if new != old {
                renamed.insert(old, new);
            }
        }
    }
    for n in nodes.iter_mut() {
        let Some(obj) = n.as_object_mut() else {
            continue;
        };
        if let Some(new) = obj
            .get("name")
            .and_then(Json::as_str)
            .and_then(|old| renamed.get(old))
        {
            obj.insert("name".to_owned(), json!(new));
        }
        for key in ["args", "kwargs"] {
            if let Some(a) = obj.get_mut(key) {
                rename_all_refs(a, &renamed);
            }
        }
    }
    Ok(renamed.len())
}

/// [`rename_refs`] for many names at once (a name may become another's old name).
pub(super) fn rename_all_refs(arg: &mut Json, renamed: &HashMap<String, String>) {
    match arg {
        Json::Array(items) => items.iter_mut().for_each(|a| rename_all_refs(a, renamed)),
        Json::Object(m) => {
            let to = match (m.len(), m.get("node").and_then(Json::as_str)) {
                (1, Some(from)) => renamed.get(from).cloned(),
                _ => None,
            };
            match to {
                Some(to) => {
                    m.insert("node".to_owned(), json!(to));
                }
                None => m.values_mut().for_each(|a| rename_all_refs(a, renamed)),
            }
        }
        _ => {}
    }
}

pub(super) fn rename_refs(arg: &mut Json, from: &str, to: &str) {
    match arg {
        Json::Array(items) => items.iter_mut().for_each(|a| rename_refs(a, from, to)),
        Json::Object(m) => {
            if m.len() == 1 && m.get("node").and_then(Json::as_str) == Some(from) {
                m.insert("node".to_owned(), json!(to));
            } else {
                m.values_mut().for_each(|a| rename_refs(a, from, to));
            }
        }
        _ => {}
    }
}

pub(super) fn set_description(dump: &mut Json, what: &str) {
    pub(super) const MARK: &str = " | edit: ";
    let Some(obj) = dump.as_object_mut() else {
        return;
    };
    let base = obj
        .get("description")
        .and_then(Json::as_str)
        .map(|d| d.split(MARK).next().unwrap_or(d).to_owned())
        .unwrap_or_default();
    obj.insert(
        "description".to_owned(),
        json!(format!("{base}{MARK}{what}")),
    );
}
