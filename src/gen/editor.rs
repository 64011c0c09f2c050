//! Edits of a graph as a recompilation loop is handed them: layouts, ops,
//! aliasing between inputs, storages, `requires_grad`, added, removed and
//! renamed nodes.

use super::*;

/// What the edits need to know about a graph's nodes.
pub(super) struct Index {
    pub(super) names: HashMap<Arc<str>, usize>,
    /// Per node, the later nodes whose arguments name it.
    pub(super) users: Vec<Vec<usize>>,
    /// Tensor ids carried by more than one node: objects written in place.
    pub(super) written: HashSet<u64>,
}

impl Index {
    pub(super) fn new(nodes: &[Open]) -> Index {
        let mut names = HashMap::new();
        let mut users = vec![Vec::new(); nodes.len()];
        let mut seen_ids = HashSet::new();
        let mut written = HashSet::new();
        for (i, node) in nodes.iter().enumerate() {
            names.insert(node.s.name.clone(), i);
            for r in refs(node) {
                if let Some(users) = names.get(r).and_then(|&j| users.get_mut(j)) {
                    if users.last() != Some(&i) {
                        users.push(i);
                    }
                }
            }
            if let Some(id) = node.s.tensor_id {
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

/// The names a node's arguments refer to, in order.
pub(super) fn refs(node: &Open) -> Vec<&str> {
    let mut out = Vec::new();
    let args = node
        .s
        .args
        .iter()
        .chain(node.s.kwargs.iter().map(|(_, a)| a));
    args.for_each(|a| collect_refs(a, &mut out));
    out
}

pub(super) fn collect_refs<'a>(arg: &'a Arg, out: &mut Vec<&'a str>) {
    match arg {
        Arg::Node(name) => out.push(name),
        Arg::List(items) => items.iter().for_each(|a| collect_refs(a, out)),
        _ => {}
    }
}

/// Renames the references of a node's arguments by `to`.
pub(super) fn rename_refs(node: &mut Open, to: &dyn Fn(&str) -> Option<Arc<str>>) {
    fn walk(arg: &mut Arg, to: &dyn Fn(&str) -> Option<Arc<str>>) {
        match arg {
            Arg::Node(name) => {
                if let Some(new) = to(name) {
                    *name = new;
                }
            }
            Arg::List(items) => items.iter_mut().for_each(|a| walk(a, to)),
            _ => {}
        }
    }
    let args = node.s.args.iter_mut();
    args.chain(node.s.kwargs.iter_mut().map(|(_, a)| a))
        .for_each(|a| walk(a, to));
}

pub(super) fn is_placeholder(node: &Open) -> bool {
    matches!(node.s.op, NodeOp::Placeholder { .. })
}

pub(super) fn is_user_input(node: &Open) -> bool {
    matches!(
        node.s.op,
        NodeOp::Placeholder {
            kind: InputKind::UserInput,
            ..
        }
    )
}

pub(super) fn target(node: &Open) -> &str {
    &node.s.target
}

pub(super) fn node_tensor(node: &Open) -> Option<&TensorMeta> {
    node.val.as_tensor()
}

/// A call whose value is new: no view, not its argument returned (the
/// results of its users then do not depend on the layout or identity of
/// what they read).
pub(super) fn makes_fresh_value(index: &Index, nodes: &[Open], user: usize) -> bool {
    let Some(node) = nodes.get(user) else {
        return false;
    };
    if node.s.op != NodeOp::CallFunction || target(node) == "_operator.getitem" {
        return false;
    }
    match &node.val {
        Value::List(items) => items
            .iter()
            .all(|item| item.as_tensor().is_some_and(|t| !t.is_view())),
        Value::Tensor(t) => {
            !t.is_view()
                && node.s.base_tensor_id.is_none()
                && node
                    .s
                    .tensor_id
                    .is_some_and(|id| !index.written.contains(&id))
        }
        _ => false,
    }
}

/// A user that reads only the sizes of what it reads (`sym_size`), so it
/// stays as it is whatever changes in the layout, autograd facts or identity.
pub(super) fn reads_only_sizes(nodes: &[Open], user: usize) -> bool {
    nodes
        .get(user)
        .is_some_and(|n| target(n) == "aten.sym_size.int")
}

/// A user whose value stays the same when what it reads changes layout,
/// `requires_grad` (given another input requiring grad) or identity.
pub(super) fn is_indifferent_user(index: &Index, nodes: &[Open], user: usize) -> bool {
    makes_fresh_value(index, nodes, user) || reads_only_sizes(nodes, user)
}

/// Flips a placeholder between row-major and "dimension 1 outermost".
pub(super) fn edit_layout(draft: &mut Draft, rng: &mut SplitMix64) -> Result<String, GenError> {
    let nodes = &mut draft.nodes;
    let index = Index::new(nodes);
    let transposes = |i: usize| -> Option<Vec<usize>> {
        let mut ts = Vec::new();
        for &u in index.users(i) {
            let user = nodes.get(u)?;
            if is_indifferent_user(&index, nodes, u) {
                continue;
            }
            let is_t = target(user) == "aten.t.default"
                && user
                    .s
                    .tensor_id
                    .is_some_and(|id| !index.written.contains(&id))
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
        let ok = is_placeholder(node)
            && node_tensor(node)
                .is_some_and(|t| t.geometry.shape.len() >= 2 && !t.is_view() && t.is_float())
            && node
                .s
                .tensor_id
                .is_some_and(|id| !index.written.contains(&id))
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
    let Some(node) = nodes.get_mut(i) else {
        return Err(GenError::NoCandidate(EditKind::TensorMetadata));
    };
    let Value::Tensor(val) = &mut node.val else {
        return Err(GenError::NoCandidate(EditKind::TensorMetadata));
    };
    let g = &mut val.geometry;
    let row_major = contiguous(&g.shape)?;
    let mut order: Vec<usize> = (0..g.shape.len()).collect();
    order.swap(0, 1);
    let (stride, layout) = if g.stride == row_major {
        (strides_in_order(&g.shape, &order)?, "dimension 1 outermost")
    } else {
        (row_major, "row-major")
    };
    g.stride = stride;
    let transposed: Vec<SizeExpr> = g.stride.iter().rev().cloned().collect();
    let name = node.s.name.clone();
    for t in ts {
        if let Some(Value::Tensor(tv)) = nodes.get_mut(t).map(|n| &mut n.val) {
            tv.geometry.stride = transposed.clone();
        }
    }
    Ok(format!("{name} laid out {layout}"))
}

/// Swaps one operator for another of the same signature.
pub(super) fn edit_op(draft: &mut Draft, rng: &mut SplitMix64) -> Result<String, GenError> {
    const SWAPS: &[(&str, &str)] = &[
        ("aten.gelu.default", "aten.relu.default"),
        ("aten.relu.default", "aten.gelu.default"),
        ("aten.add.Tensor", "aten.sub.Tensor"),
        ("aten.sub.Tensor", "aten.add.Tensor"),
    ];
    let candidates: Vec<(usize, &str)> = draft
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let to = SWAPS.iter().find(|(from, _)| *from == target(n))?.1;
            // gelu's `approximate` has no relu counterpart.
            let plain = n.s.kwargs.is_empty() || !to.contains("relu");
            plain.then_some((i, to))
        })
        .collect();
    let &(i, to) = rng
        .pick(&candidates)
        .ok_or(GenError::NoCandidate(EditKind::Op))?;
    let mut what = String::new();
    if let Some(node) = draft.nodes.get_mut(i) {
        what = format!("{} {} -> {to}", node.s.name, node.s.target);
        node.s.target = Arc::from(to);
    }
    sync_operators(draft)?;
    Ok(what)
}

/// Symbol hints and input bases, read before the nodes are borrowed for editing.
pub(super) struct Context {
    pub(super) hints: HashMap<String, i64>,
    pub(super) bases: HashMap<u64, TensorMeta>,
}

impl Context {
    pub(super) fn of(graph: &Graph) -> Context {
        let hints = graph
            .symbols
            .iter()
            .map(|(name, s)| (name.clone(), s.hint))
            .collect();
        let bases = graph
            .input_bases
            .iter()
            .map(|b| (b.tensor_id, b.val.clone()))
            .collect();
        Context { hints, bases }
    }

    /// Value of `e` with every symbol at its hint.
    pub(super) fn eval(&self, e: &SizeExpr) -> Option<i64> {
        e.eval(&|s: &str| self.hints.get(s).copied()).ok()
    }

    /// The base's value, from `input_bases` or the placeholder that is the base.
    pub(super) fn base(&self, nodes: &[Open], id: u64) -> Option<TensorMeta> {
        self.bases.get(&id).cloned().or_else(|| {
            nodes
                .iter()
                .find(|n| is_placeholder(n) && n.s.tensor_id == Some(id))
                .and_then(node_tensor)
                .cloned()
        })
    }

    /// Elements of `t`'s storage.
    pub(super) fn storage_elements(&self, t: &TensorMeta) -> Option<i64> {
        let size = i64::try_from(itemsize(&t.geometry.dtype)?).ok()?;
        Some(self.eval(&t.geometry.storage_nbytes)? / size)
    }

    /// Does the element range of `b` meet that of `a`?
    pub(super) fn overlaps(&self, a: &TensorMeta, b: &TensorMeta) -> Option<bool> {
        let a0 = self.eval(&a.geometry.storage_offset)?;
        let b0 = self.eval(&b.geometry.storage_offset)?;
        let a1 = a0 + self.eval(&extent(a).ok()?)?;
        let b1 = b0 + self.eval(&extent(b).ok()?)?;
        Some(a0 < b1 && b0 < a1)
    }

    /// Does `t` lie inside its storage of `elements` elements?
    pub(super) fn fits(&self, t: &TensorMeta, elements: i64) -> Option<bool> {
        Some(self.eval(&t.geometry.storage_offset)? + self.eval(&extent(t).ok()?)? <= elements)
    }
}

/// A user input that may change without touching any other node: not
/// written, read only by ops that make fresh values.
pub(super) fn is_free_input(index: &Index, nodes: &[Open], i: usize) -> bool {
    nodes.get(i).is_some_and(|n| {
        is_user_input(n)
            && n.s.tensor_id.is_some_and(|id| !index.written.contains(&id))
            && index
                .users(i)
                .iter()
                .all(|&u| is_indifferent_user(index, nodes, u))
    })
}

/// The view inputs of each base, in input order, with their values.
pub(super) fn view_inputs(nodes: &[Open]) -> BTreeMap<u64, Vec<(usize, TensorMeta)>> {
    let mut groups: BTreeMap<u64, Vec<(usize, TensorMeta)>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let (true, Some(base), Some(t)) = (is_user_input(n), n.s.base_tensor_id, node_tensor(n))
        {
            if t.is_view() {
                groups.entry(base).or_default().push((i, t.clone()));
            }
        }
    }
    groups
}

/// `a`'s geometry moved one step of its outermost dimension: overlapping `a`.
pub(super) fn shifted(a: &TensorMeta) -> Result<TensorMeta, ExprError> {
    let mut t = a.clone();
    let g = &a.geometry;
    t.geometry.storage_offset = g
        .storage_offset
        .checked_add(g.stride.first().unwrap_or(&int(1)))?;
    Ok(t)
}

/// Sets a node's value; says its name.
fn set_val(nodes: &mut [Open], i: usize, val: TensorMeta) -> Option<&mut Open> {
    let node = nodes.get_mut(i)?;
    node.val = Value::Tensor(val);
    Some(node)
}

/// Moves a view input between overlapping its sibling and lying after it.
pub(super) fn edit_overlap(draft: &mut Draft, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::InputAliasing);
    let cx = Context::of(&draft.graph);
    let nodes = &mut draft.nodes;
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
            let start = &first.geometry.storage_offset;
            moved.geometry.storage_offset = match cx.overlaps(first, t) {
                Some(true) => start.checked_add(&extent(first)?)?,
                Some(false) => shifted(first)?.geometry.storage_offset,
                None => continue,
            };
            if cx.fits(&moved, elements) == Some(true) {
                candidates.push((*i, moved));
            }
        }
    }
    let (i, moved) = rng.pick(&candidates).cloned().ok_or_else(no)?;
    let offset = moved.geometry.storage_offset.clone();
    let node = set_val(nodes, i, moved).ok_or_else(no)?;
    Ok(format!("{} moved to storage offset {offset}", node.s.name))
}

/// Takes a view input off its shared base (own storage), or puts a plain
/// input back on a base beside another view, overlapping it.
pub(super) fn edit_storage(draft: &mut Draft, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::InputStorage);
    let cx = Context::of(&draft.graph);
    let nodes = &mut draft.nodes;
    let index = Index::new(nodes);
    let groups = view_inputs(nodes);
    // (node, its new value, its new `base_tensor_id`)
    let mut candidates: Vec<(usize, TensorMeta, Option<u64>)> = Vec::new();
    // Off the base, when another view keeps the base an input base.
    for views in groups.values().filter(|v| v.len() >= 2) {
        for (i, t) in views {
            if is_free_input(&index, nodes, *i) {
                // A storage id past any in use; renumbered below.
                let mut own = dense(t.geometry.shape.clone(), &t.geometry.dtype, u64::MAX)?;
                own.autograd.requires_grad = t.requires_grad();
                candidates.push((*i, own, None));
            }
        }
    }
    // Onto a base, overlapping the first view input of the same shape.
    for (i, n) in nodes.iter().enumerate() {
        let Some(t) = node_tensor(n) else { continue };
        if t.is_view() || !is_free_input(&index, nodes, i) {
            continue;
        }
        for (&base, views) in &groups {
            let same = views.iter().find(|(_, v)| {
                v.geometry.shape == t.geometry.shape && v.geometry.dtype == t.geometry.dtype
            });
            let (Some((_, first)), Some(base_t)) = (same, cx.base(nodes, base)) else {
                continue;
            };
            let shared = shifted(first)?;
            let fits = cx
                .storage_elements(&base_t)
                .and_then(|n| cx.fits(&shared, n));
            if base_t.requires_grad() == t.requires_grad() && fits == Some(true) {
                candidates.push((i, shared, Some(base)));
                break;
            }
        }
    }
    let (i, val, base) = rng.pick(&candidates).cloned().ok_or_else(no)?;
    let node = set_val(nodes, i, val).ok_or_else(no)?;
    node.s.base_tensor_id = base;
    let what = match base {
        Some(_) => format!("{} now a view of a shared base", node.s.name),
        None => format!("{} now has its own storage", node.s.name),
    };
    normalize_ids(draft);
    Ok(what)
}

/// Flips `requires_grad` of a user input whose users already require grad
/// through another argument (so no other value changes).
pub(super) fn edit_requires_grad(
    draft: &mut Draft,
    rng: &mut SplitMix64,
) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::RequiresGrad);
    let nodes = &mut draft.nodes;
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
        if t.is_view() || !t.is_float() || !is_free_input(&index, nodes, i) {
            continue;
        }
        let me = &*n.s.name;
        let users_keep_grad = index.users(i).iter().all(|&u| {
            let Some(user) = nodes.get(u) else {
                return false;
            };
            if reads_only_sizes(nodes, u) {
                return true;
            }
            let mut refs = Vec::new();
            user.s.args.iter().for_each(|a| collect_refs(a, &mut refs));
            let other_requires_grad = refs
                .iter()
                .filter(|r| **r != me)
                .any(|r| tensor_of(r).is_some_and(|t| t.requires_grad()));
            let result_requires_grad = match &user.val {
                Value::Tensor(v) => v.requires_grad(),
                Value::List(items) => items
                    .first()
                    .and_then(Value::as_tensor)
                    .is_some_and(|v| v.requires_grad()),
                _ => false,
            };
            other_requires_grad && result_requires_grad
        });
        if users_keep_grad {
            candidates.push(i);
        }
    }
    let &i = rng.pick(&candidates).ok_or_else(no)?;
    let node = nodes.get_mut(i).ok_or_else(no)?;
    let Value::Tensor(t) = &mut node.val else {
        return Err(no());
    };
    t.autograd.requires_grad = !t.autograd.requires_grad;
    let what = format!("{} requires_grad={}", node.s.name, t.autograd.requires_grad);
    draft.graph.config.is_train = nodes
        .iter()
        .filter(|n| is_placeholder(n))
        .any(|n| node_tensor(n).is_some_and(|t| t.requires_grad()));
    Ok(what)
}

/// Inserts `y = x * c` after an intermediate `x` and makes `x`'s users read `y`.
pub(super) fn edit_add_node(draft: &mut Draft, rng: &mut SplitMix64) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::AddNode);
    let nodes = &mut draft.nodes;
    let index = Index::new(nodes);
    let mut candidates = Vec::new();
    let mut grad_enabled = draft.graph.config.grad_enabled;
    for (i, n) in nodes.iter().enumerate() {
        if target(n) == "torch._C._set_grad_enabled" {
            if let Some(Arg::Bool(on)) = n.s.args.first() {
                grad_enabled = *on;
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
    let x = node.s.name.clone();
    let t = node_tensor(node).ok_or_else(no)?;
    let taken: HashSet<&str> = nodes.iter().map(|n| &*n.s.name).collect();
    let name: Arc<str> = (0..)
        .map(|k| {
            if k == 0 {
                "mul".to_owned()
            } else {
                format!("mul_{k}")
            }
        })
        .find(|c| !taken.contains(c.as_str()))
        .unwrap_or_default()
        .into();
    // Ids past any in use; renumbered below into node order.
    let val = dense(t.geometry.shape.clone(), &t.geometry.dtype, u64::MAX)?
        .with_grad(t.requires_grad() && grad_enabled, grad_enabled);
    let new = Open {
        s: NodeStructure {
            name: name.clone(),
            op: NodeOp::CallFunction,
            target: Arc::from("aten.mul.Tensor"),
            args: vec![Arg::Node(x.clone()), float(scale)],
            kwargs: Vec::new(),
            tensor_id: Some(u64::MAX),
            base_tensor_id: None,
        },
        val: Value::Tensor(val),
    };
    for &u in index.users(i) {
        if let Some(user) = nodes.get_mut(u) {
            rename_refs(user, &|r| (r == &*x).then(|| name.clone()));
        }
    }
    nodes.insert(i + 1, new);
    sync_operators(draft)?;
    normalize_ids(draft);
    Ok(format!("{name} = {x} * {scale:?}"))
}

/// Removes a `mul` by a constant, as [`edit_add_node`] inserts, whose users
/// keep their values when they read its input instead.
pub(super) fn edit_remove_node(
    draft: &mut Draft,
    rng: &mut SplitMix64,
) -> Result<String, GenError> {
    let no = || GenError::NoCandidate(EditKind::RemoveNode);
    let nodes = &mut draft.nodes;
    let index = Index::new(nodes);
    let mut candidates = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if target(n) != "aten.mul.Tensor" || !makes_fresh_value(&index, nodes, i) {
            continue;
        }
        let [Arg::Node(x), Arg::Int(_) | Arg::Float(_)] = n.s.args.as_slice() else {
            continue;
        };
        let Some(&xi) = index.names.get(x) else {
            continue;
        };
        // The input stands in for the product only if nothing its users
        // see changes: the same sizes, dtype and `requires_grad`.
        let same = match (node_tensor(n), nodes.get(xi).and_then(node_tensor)) {
            (Some(m), Some(x)) => {
                m.geometry.shape == x.geometry.shape
                    && m.geometry.dtype == x.geometry.dtype
                    && m.requires_grad() == x.requires_grad()
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
    let name = nodes.get(i).map(|n| n.s.name.clone()).ok_or_else(no)?;
    let x = nodes.get(xi).map(|n| n.s.name.clone()).ok_or_else(no)?;
    for &u in index.users(i) {
        if let Some(user) = nodes.get_mut(u) {
            rename_refs(user, &|r| (r == &*name).then(|| x.clone()));
        }
    }
    nodes.remove(i);
    sync_operators(draft)?;
    normalize_ids(draft);
    Ok(format!("{name} removed, its users read {x}"))
}

/// Renames every call the way FX names the nodes of a fresh trace, in
/// order (placeholders and the output keep their names); says how many
/// names changed.
pub(super) fn rename_as_fx(draft: &mut Draft) -> usize {
    let nodes = &mut draft.nodes;
    let mut names = Namer::default();
    for n in nodes.iter() {
        if n.s.op != NodeOp::CallFunction {
            names.take(&n.s.name);
        }
    }
    let mut renamed: HashMap<Arc<str>, Arc<str>> = HashMap::new();
    for n in nodes.iter() {
        if n.s.op == NodeOp::CallFunction {
            let new = names.name(node_base_name(target(n)));
            if *new != *n.s.name {
                renamed.insert(n.s.name.clone(), Arc::from(new));
            }
        }
    }
    for n in nodes.iter_mut() {
        if let Some(new) = renamed.get(&n.s.name) {
            n.s.name = new.clone();
        }
        // A name may become another's old name: all at once.
        rename_refs(n, &|r| renamed.get(r).cloned());
    }
    renamed.len()
}

pub(super) fn set_description(draft: &mut Draft, what: &str) {
    const MARK: &str = " | edit: ";
    let d = &mut draft.graph.description;
    let base = d.split(MARK).next().unwrap_or(d).to_owned();
    *d = format!("{base}{MARK}{what}");
}
