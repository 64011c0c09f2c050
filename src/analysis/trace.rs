//! The functionalization model of semantics §3.2, run over a graph's
//! *structure* only (ops, args, tensor identities, grad-mode switches).
//!
//! It decides which tensor objects share a functional storage, which were
//! written and under which grad mode, which saw in-place view ops or storage
//! swaps, and what each output is. None of this reads shapes or autograd
//! flags, so editing tensor metadata never re-runs it.

use std::collections::HashMap;

/// The whole-graph pass builds maps over every node: hashed fast, with a seed.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use super::error::{AnalysisError, ExceptionType, Stage, TorchError};
use super::ops::{OpInfo, OperatorLookup};
use crate::ir::{Arg, NodeOp, NodeStructure};
use crate::schema::{is_python_callable, OpClass, ReturnKind};

/// The target of a grad-mode switch node (format §9).
pub const GRAD_MODE_SWITCH: &str = "torch._C._set_grad_enabled";

/// Index of a tensor object in [`AliasTrace::objects`].
pub type ObjectIdx = usize;

/// A tensor object (a functional wrapper), identified by its `tensor_id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Object {
    /// The dump's tensor identity.
    pub tensor_id: u64,
    /// Functional storage: shared by views, swapped by `set_`.
    pub functional_storage: usize,
    /// Python-level storage identity used by output classification.
    pub py_storage: usize,
    /// Autograd `_base` (always a root): none for inputs, fresh tensors, `detach`, `_unsafe_view`.
    pub base: Option<ObjectIdx>,
    /// Made by a multi-output view op (`unbind`, `split`).
    pub multi_output_view: bool,
    /// Saw an in-place view op (or a shrinking `resize_`).
    pub metadata_flag: bool,
    /// Its storage was swapped (`set_`).
    pub storage_changed: bool,
    /// The swap was a shallow copy of data.
    pub shallow_copy: bool,
    /// The view-replay steps from the functional base, kept as a link to the
    /// object viewed (and how many of its own steps it had then) plus this
    /// object's own steps, so a long chain of views costs linear memory.
    pub view_parent: Option<(ObjectIdx, usize)>,
    /// The view ops that made it from its base, in order.
    pub own_steps: Vec<Arc<str>>,
    /// Node that created the object, and the last node carrying its `tensor_id` (its final value).
    pub first_node: usize,
    /// The last node that produced it.
    pub last_node: usize,
    /// Grad mode when the object was created (semantics §3.2 A3).
    pub created_with_grad: bool,
    /// It is a graph input.
    pub is_input: bool,
    /// The last node taking the object as an argument or returning it
    /// (autograd reads its `grad_fn` there), or `first_node`.
    pub last_use: usize,
}

impl AliasTrace {
    /// The view-replay steps of object `o`, from its functional base (iterative:
    /// chains can be a million views long).
    pub fn view_chain(&self, o: ObjectIdx) -> Vec<Arc<str>> {
        let mut pieces: Vec<&[Arc<str>]> = Vec::new();
        let mut current = self.objects.get(o).map(|obj| (obj, obj.own_steps.len()));
        // `set_` can link two objects to each other: never walk more links than objects.
        let mut budget = self.objects.len();
        while let Some((obj, take)) = current.filter(|_| budget > 0) {
            budget -= 1;
            pieces.push(obj.own_steps.get(..take).unwrap_or(&obj.own_steps));
            current = obj
                .view_parent
                .and_then(|(p, n)| self.objects.get(p).map(|parent| (parent, n)));
        }
        pieces
            .iter()
            .rev()
            .flat_map(|p| p.iter().cloned())
            .collect()
    }
}

/// Data-mutation counters of a functional storage (semantics §3.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FunctionalStorage {
    /// Data writes to the storage.
    pub mutations: u32,
    /// Of those, the writes under `no_grad`.
    pub no_grad_mutations: u32,
    /// Left behind by a `set_`: functionalization refuses writes to it.
    pub frozen: bool,
}

/// One write of a data-mutating op.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Write {
    /// The writing node.
    pub node: usize,
    /// The object written.
    pub object: ObjectIdx,
    /// Grad mode at the write.
    pub grad_enabled: bool,
    /// For an `out=` variant (every written argument keyword-only): the
    /// tensors it reads, whose `requires_grad` autograd checks.
    pub out_variant_inputs: Option<Vec<ObjectIdx>>,
}

/// A `resize_` whose growth can only be judged from the sizes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resize {
    /// The resizing node.
    pub node: usize,
    /// The node holding the object's value just before the resize.
    pub before: usize,
}

/// What one returned value is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OutputSlot {
    /// A tensor object.
    Tensor(ObjectIdx),
    /// A non-tensor node (SymInt, int...): its type comes from its value.
    Node(usize),
    /// A literal in the output node, by kind.
    Literal(&'static str),
}

/// The functionalization model's record of a run: objects, storages, writes and outputs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AliasTrace {
    /// Every tensor object, by `ObjectIdx`.
    pub objects: Vec<Object>,
    /// Every functional storage.
    pub storages: Vec<FunctionalStorage>,
    /// Per placeholder: its tensor object, or none for a non-tensor input.
    pub inputs: Vec<Option<ObjectIdx>>,
    /// Node index of each placeholder.
    pub input_nodes: Vec<usize>,
    /// What each output is.
    pub outputs: Vec<OutputSlot>,
    /// Every data write, in graph order.
    pub writes: Vec<Write>,
    /// Every `resize_`, in graph order.
    pub resizes: Vec<Resize>,
    /// Grad mode when the function starts.
    pub grad_enabled_at_entry: bool,
    /// Grad mode when it returns.
    pub grad_enabled_at_exit: bool,
    /// When replayed in another grad mode than the dump was traced in
    /// ([`trace_replayed`]): per node, whether this run's grad mode differs
    /// from the dump's there (so its recorded autograd facts do not hold).
    /// Empty otherwise.
    pub grad_mode_differs: Vec<bool>,
}

/// What a node's value is, in terms of objects.
#[derive(Clone, Debug)]
enum Produced {
    Object(ObjectIdx),
    /// A list value: element `i` is made by `getitem`.
    List(Vec<Element>),
    UniformList(Element),
    Other,
}

#[derive(Clone, Copy, Debug)]
enum Element {
    Fresh,
    ViewOf(ObjectIdx, bool),
    Is(ObjectIdx),
}

struct Tracer<'a> {
    nodes: &'a [&'a NodeStructure],
    ops: &'a dyn OperatorLookup,
    index_of: FastMap<&'a str, usize>,
    produced: Vec<Produced>,
    by_id: FastMap<u64, ObjectIdx>,
    grad_enabled: bool,
    /// The grad mode the dump was traced in at this point, and the open
    /// grad-mode blocks as (dump's mode before, this run's mode before).
    recorded_grad_enabled: bool,
    blocks: Vec<(bool, bool)>,
    py_storages: usize,
    out: AliasTrace,
}

/// Runs the functionalization model over `nodes` (a checked graph's structures, in order).
pub fn trace<'a>(
    nodes: &'a [&'a NodeStructure],
    ops: &'a dyn OperatorLookup,
    grad_enabled: bool,
) -> Result<AliasTrace, AnalysisError> {
    trace_replayed(nodes, ops, grad_enabled, grad_enabled)
}

/// [`trace`] of a dump traced with grad mode `recorded` at entry, run with
/// `grad_enabled` at entry instead (export runs each flavour in its own
/// mode). A grad-mode switch records a literal mode, but a `with` block's
/// exit restores whatever mode was in effect: a switch back to the mode
/// before the innermost open block is read as that block's exit.
pub fn trace_replayed<'a>(
    nodes: &'a [&'a NodeStructure],
    ops: &'a dyn OperatorLookup,
    recorded: bool,
    grad_enabled: bool,
) -> Result<AliasTrace, AnalysisError> {
    let replaying = recorded != grad_enabled;
    let mut t = Tracer {
        nodes,
        ops,
        index_of: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (&*n.name, i))
            .collect(),
        produced: Vec::with_capacity(nodes.len()),
        by_id: FastMap::default(),
        grad_enabled,
        recorded_grad_enabled: recorded,
        blocks: Vec::new(),
        py_storages: 0,
        out: AliasTrace {
            objects: Vec::new(),
            storages: Vec::new(),
            inputs: Vec::new(),
            input_nodes: Vec::new(),
            outputs: Vec::new(),
            writes: Vec::new(),
            resizes: Vec::new(),
            grad_enabled_at_entry: grad_enabled,
            grad_enabled_at_exit: grad_enabled,
            grad_mode_differs: Vec::new(),
        },
    };
    for (i, node) in nodes.iter().enumerate() {
        let produced = t.node(i, node)?;
        t.produced.push(produced);
        if replaying {
            let differs = t.grad_enabled != t.recorded_grad_enabled;
            t.out.grad_mode_differs.push(differs);
        }
    }
    t.out.grad_enabled_at_exit = t.grad_enabled;
    Ok(t.out)
}

impl<'a> Tracer<'a> {
    fn node(&mut self, i: usize, node: &'a NodeStructure) -> Result<Produced, AnalysisError> {
        match &node.op {
            NodeOp::Placeholder { .. } => {
                let obj = node.tensor_id.map(|id| {
                    // The same object passed twice is wrapped once.
                    self.object_for(i, id, |this| this.fresh_object(i, id, true))
                });
                self.out.inputs.push(obj);
                self.out.input_nodes.push(i);
                Ok(obj.map_or(Produced::Other, Produced::Object))
            }
            NodeOp::Output => {
                if let Some(Arg::List(items)) = node.args.first() {
                    for (k, item) in items.iter().enumerate() {
                        let slot = self.output_slot(node, k, item)?;
                        // Collection reads each returned tensor's `grad_fn`: a use.
                        if let OutputSlot::Tensor(o) = slot {
                            if let Some(obj) = self.out.objects.get_mut(o) {
                                obj.last_use = i;
                            }
                        }
                        self.out.outputs.push(slot);
                    }
                }
                Ok(Produced::Other)
            }
            NodeOp::GetAttr => Ok(self.fresh_result(i, node)),
            NodeOp::CallFunction => self.call(i, node),
        }
    }

    fn output_slot(
        &self,
        node: &NodeStructure,
        k: usize,
        item: &Arg,
    ) -> Result<OutputSlot, AnalysisError> {
        Ok(match item {
            Arg::Node(name) => {
                let j = self.lookup(node, &format!("args[0][{k}]"), name)?;
                match self.produced.get(j) {
                    Some(Produced::Object(o)) => OutputSlot::Tensor(*o),
                    _ => OutputSlot::Node(j),
                }
            }
            Arg::Int(_) => OutputSlot::Literal("int"),
            Arg::Float(_) => OutputSlot::Literal("float"),
            Arg::Bool(_) => OutputSlot::Literal("bool"),
            Arg::None => OutputSlot::Literal("NoneType"),
            Arg::Str(_) => OutputSlot::Literal("str"),
            Arg::List(_) => OutputSlot::Literal("list"),
            Arg::Tagged(tag, _) => OutputSlot::Literal(match tag.as_str() {
                "dtype" => "torch.dtype",
                "device" => "torch.device",
                "layout" => "torch.layout",
                _ => "torch.memory_format",
            }),
        })
    }

    fn call(&mut self, i: usize, node: &'a NodeStructure) -> Result<Produced, AnalysisError> {
        match &*node.target {
            GRAD_MODE_SWITCH => {
                match node.args.first() {
                    Some(Arg::Bool(b)) => self.switch_grad_mode(*b),
                    _ => {
                        return Err(AnalysisError::invalid(
                            &node.name,
                            "args[0]",
                            "_set_grad_enabled takes one bool",
                        ))
                    }
                }
                Ok(Produced::Other)
            }
            "_operator.getitem" => self.getitem(i, node),
            // SymInt arithmetic and other Python callables: a tensor they return is fresh.
            target if is_python_callable(target) => Ok(self.fresh_result(i, node)),
            // ATen and custom (`torch.library`) operators alike: read from the schema,
            // as functionalization reads them.
            target => {
                let op = self
                    .ops
                    .operator(target)
                    .map_err(|e| AnalysisError::invalid(&node.name, "target", e))?;
                self.operator(i, node, op)
            }
        }
    }

    fn switch_grad_mode(&mut self, to: bool) {
        match self.blocks.last() {
            Some(&(recorded_before, before)) if to == recorded_before => {
                self.blocks.pop();
                self.grad_enabled = before;
            }
            _ => {
                self.blocks
                    .push((self.recorded_grad_enabled, self.grad_enabled));
                self.grad_enabled = to;
            }
        }
        self.recorded_grad_enabled = to;
    }

    fn getitem(&mut self, i: usize, node: &NodeStructure) -> Result<Produced, AnalysisError> {
        let (Some(Arg::Node(src)), Some(Arg::Int(k))) = (node.args.first(), node.args.get(1))
        else {
            return Ok(self.fresh_result(i, node));
        };
        let j = self.lookup(node, "args[0]", src)?;
        let element = match self.produced.get(j) {
            Some(Produced::List(items)) => usize::try_from(*k)
                .ok()
                .and_then(|k| items.get(k).copied())
                .unwrap_or(Element::Fresh),
            Some(Produced::UniformList(e)) => *e,
            _ => Element::Fresh,
        };
        let Some(id) = node.tensor_id else {
            return Ok(Produced::Other);
        };
        let obj = match element {
            Element::Fresh => self.object_for(i, id, |this| this.fresh_object(i, id, false)),
            Element::ViewOf(arg, multi) => {
                let step = self
                    .nodes
                    .get(j)
                    .map(|n| step_name(&n.target))
                    .unwrap_or_default();
                self.object_for(i, id, |this| {
                    this.view_object(i, id, arg, multi, false, step)
                })
            }
            Element::Is(obj) => self.alias_id(i, id, obj),
        };
        Ok(Produced::Object(obj))
    }

    fn operator(
        &mut self,
        i: usize,
        node: &'a NodeStructure,
        op: &OpInfo,
    ) -> Result<Produced, AnalysisError> {
        let bound = bind(node, op);
        for (field, arg) in bound.iter().flatten() {
            for o in self.objects_in(node, &field.to_string(), arg)? {
                if let Some(obj) = self.out.objects.get_mut(o) {
                    obj.last_use = i;
                }
            }
        }
        let tensors_of = |this: &Self, p: usize| -> Result<Vec<ObjectIdx>, AnalysisError> {
            match bound.get(p).copied().flatten() {
                Some((field, arg)) => this.objects_in(node, &field.to_string(), arg),
                None => Ok(Vec::new()),
            }
        };
        let single = |this: &Self, p: usize, what: &str| -> Result<ObjectIdx, AnalysisError> {
            let field = bound
                .get(p)
                .copied()
                .flatten()
                .map_or_else(|| format!("args[{p}]"), |(f, _)| f.to_string());
            match tensors_of(this, p)?.as_slice() {
                [o] => Ok(*o),
                _ => Err(AnalysisError::invalid(
                    &node.name,
                    field,
                    format!("{what} must be a single tensor node"),
                )),
            }
        };
        match op.class {
            OpClass::Functional => Ok(self.result_from_returns(i, node, op, &bound)?),
            OpClass::View { multi_output } => {
                let viewed = op
                    .returns
                    .iter()
                    .find_map(|r| match r {
                        ReturnKind::ViewOf(p) => Some(*p),
                        _ => None,
                    })
                    .unwrap_or(0);
                let arg = single(self, viewed, "the viewed argument")?;
                let multi = multi_output || op.returns_list;
                if op.returns_list {
                    return Ok(Produced::UniformList(Element::ViewOf(arg, true)));
                }
                let Some(id) = node.tensor_id else {
                    return Ok(Produced::Other);
                };
                let step: Arc<str> = Arc::from(op.view_step.as_str());
                let detach = op.is_detach;
                Ok(Produced::Object(self.object_for(i, id, |this| {
                    this.view_object(i, id, arg, multi, detach, step)
                })))
            }
            OpClass::UnsafeView => {
                let arg = single(self, 0, "self")?;
                let Some(id) = node.tensor_id else {
                    return Ok(Produced::Other);
                };
                let step: Arc<str> = Arc::from(op.view_step.as_str());
                Ok(Produced::Object(self.object_for(i, id, |this| {
                    // Shares the functional storage, but is fresh to output classification (rule 1a).
                    let obj = this.view_object(i, id, arg, false, true, step);
                    this.py_storages += 1;
                    if let Some(o) = this.out.objects.get_mut(obj) {
                        o.py_storage = this.py_storages;
                    }
                    obj
                })))
            }
            OpClass::InplaceView => {
                let w = single(self, 0, "self")?;
                // VariableTypeManual's `detach_`: an autograd view cannot be detached in place.
                if op.is_detach && self.out.objects.get(w).is_some_and(|o| o.base.is_some()) {
                    return Err(TorchError::new(
                        Stage::CollectMetadata,
                        ExceptionType::RuntimeError,
                        format!(
                            "Can't detach views in-place. Use detach() instead. (node `{}`)",
                            node.name
                        ),
                    )
                    .at_node(i)
                    .into());
                }
                if let Some(o) = self.out.objects.get_mut(w) {
                    o.metadata_flag = true;
                    o.own_steps.push(Arc::from(op.view_step.as_str()));
                }
                Ok(self.result_is(i, node, w))
            }
            OpClass::Resize => {
                let w = single(self, 0, "self")?;
                let before = self.out.objects.get(w).map_or(i, |o| o.last_node);
                self.out.resizes.push(Resize { node: i, before });
                if let Some(o) = self.out.objects.get_mut(w) {
                    o.metadata_flag = true;
                }
                Ok(self.result_is(i, node, w))
            }
            OpClass::SetStorage { shallow_copy } => {
                let w = single(self, 0, "self")?;
                let src = tensors_of(self, 1)?.first().copied();
                let (fs, parent) = match src.and_then(|s| self.out.objects.get(s).map(|o| (s, o))) {
                    Some((s, o)) => (o.functional_storage, Some((s, o.own_steps.len()))),
                    None => (self.new_storage(), None),
                };
                // `set_` freezes the storage `w` leaves behind: views still on it become read-only.
                let old = self.out.objects.get(w).map(|o| o.functional_storage);
                if let Some(st) = old.and_then(|old| self.out.storages.get_mut(old)) {
                    st.frozen = true;
                }
                if let Some(o) = self.out.objects.get_mut(w) {
                    o.functional_storage = fs;
                    // `w` adopts the source's view chain.
                    o.view_parent = parent;
                    o.own_steps.clear();
                    o.storage_changed = true;
                    o.shallow_copy |= shallow_copy;
                }
                Ok(self.result_is(i, node, w))
            }
            OpClass::DataMutation => {
                let out_variant_inputs = if op.is_out_variant() {
                    let mut read = Vec::new();
                    for p in (0..op.params.len()).filter(|p| !op.written.contains(p)) {
                        read.extend(tensors_of(self, p)?);
                    }
                    Some(read)
                } else {
                    None
                };
                for &p in &op.written {
                    for obj in tensors_of(self, p)? {
                        self.write(i, node, obj, out_variant_inputs.clone())?;
                    }
                }
                self.result_from_returns(i, node, op, &bound)
            }
        }
    }

    /// The result of an op decided return by return from the schema (rule 2).
    fn result_from_returns(
        &mut self,
        i: usize,
        node: &NodeStructure,
        op: &OpInfo,
        bound: &[Option<(Field<'_>, &Arg)>],
    ) -> Result<Produced, AnalysisError> {
        let element = |this: &Self, r: &ReturnKind| -> Result<Element, AnalysisError> {
            Ok(match r {
                ReturnKind::Fresh => Element::Fresh,
                ReturnKind::WrittenArgument(p) => match bound.get(*p).copied().flatten() {
                    Some((field, arg)) => {
                        match this.objects_in(node, &field.to_string(), arg)?.as_slice() {
                            [o] => Element::Is(*o),
                            _ => Element::Fresh,
                        }
                    }
                    None => Element::Fresh,
                },
                ReturnKind::ViewOf(p) => match bound.get(*p).copied().flatten() {
                    Some((field, arg)) => {
                        match this.objects_in(node, &field.to_string(), arg)?.as_slice() {
                            [o] => Element::ViewOf(*o, false),
                            _ => Element::Fresh,
                        }
                    }
                    None => Element::Fresh,
                },
            })
        };
        let elements = op
            .returns
            .iter()
            .map(|r| element(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        if op.returns_list {
            return Ok(Produced::UniformList(
                elements.first().copied().unwrap_or(Element::Fresh),
            ));
        }
        if elements.len() > 1 {
            return Ok(Produced::List(elements));
        }
        let Some(id) = node.tensor_id else {
            return Ok(Produced::Other);
        };
        let obj = match elements.first().copied().unwrap_or(Element::Fresh) {
            Element::Is(o) => self.alias_id(i, id, o),
            Element::ViewOf(arg, multi) => {
                let step = step_name(&node.target);
                self.object_for(i, id, |this| {
                    this.view_object(i, id, arg, multi, false, step)
                })
            }
            Element::Fresh => self.object_for(i, id, |this| this.fresh_object(i, id, false)),
        };
        Ok(Produced::Object(obj))
    }

    fn write(
        &mut self,
        i: usize,
        node: &NodeStructure,
        obj: ObjectIdx,
        out_variant_inputs: Option<Vec<ObjectIdx>>,
    ) -> Result<(), AnalysisError> {
        let grad_enabled = self.grad_enabled;
        if let Some(fs) = self
            .out
            .objects
            .get(obj)
            .and_then(|o| self.out.storages.get_mut(o.functional_storage))
        {
            if fs.frozen {
                // FunctionalStorageImpl::add_update.
                return Err(TorchError::new(
                    Stage::CollectMetadata,
                    ExceptionType::RuntimeError,
                    format!(
                        "cannot mutate tensors with frozen storage (node `{}` writes through a \
                         view taken before a `set_` of its base)",
                        node.name
                    ),
                )
                .at_node(i)
                .into());
            }
            fs.mutations = fs.mutations.saturating_add(1);
            if !grad_enabled {
                fs.no_grad_mutations = fs.no_grad_mutations.saturating_add(1);
            }
        }
        self.out.writes.push(Write {
            node: i,
            object: obj,
            grad_enabled,
            out_variant_inputs,
        });
        Ok(())
    }

    /// The node's value is object `w` itself (in-place ops return `self`).
    fn result_is(&mut self, i: usize, node: &NodeStructure, w: ObjectIdx) -> Produced {
        match node.tensor_id {
            Some(id) => Produced::Object(self.alias_id(i, id, w)),
            None => Produced::Object(w),
        }
    }

    fn alias_id(&mut self, i: usize, id: u64, obj: ObjectIdx) -> ObjectIdx {
        let obj = *self.by_id.entry(id).or_insert(obj);
        if let Some(o) = self.out.objects.get_mut(obj) {
            o.last_node = i;
        }
        obj
    }

    fn fresh_result(&mut self, i: usize, node: &NodeStructure) -> Produced {
        match node.tensor_id {
            Some(id) => {
                Produced::Object(self.object_for(i, id, |this| this.fresh_object(i, id, false)))
            }
            None => Produced::Other,
        }
    }

    /// The object with `tensor_id` `id`, made by `make` if it is new.
    fn object_for(
        &mut self,
        i: usize,
        id: u64,
        make: impl FnOnce(&mut Self) -> ObjectIdx,
    ) -> ObjectIdx {
        match self.by_id.get(&id) {
            Some(&obj) => {
                if let Some(o) = self.out.objects.get_mut(obj) {
                    o.last_node = i;
                }
                obj
            }
            None => {
                let obj = make(self);
                self.by_id.insert(id, obj);
                obj
            }
        }
    }

    fn new_storage(&mut self) -> usize {
        self.out.storages.push(FunctionalStorage::default());
        self.out.storages.len() - 1
    }

    fn fresh_object(&mut self, i: usize, id: u64, is_input: bool) -> ObjectIdx {
        let functional_storage = self.new_storage();
        self.py_storages += 1;
        self.push_object(Object {
            tensor_id: id,
            functional_storage,
            py_storage: self.py_storages,
            base: None,
            multi_output_view: false,
            metadata_flag: false,
            storage_changed: false,
            shallow_copy: false,
            view_parent: None,
            own_steps: Vec::new(),
            first_node: i,
            last_node: i,
            created_with_grad: self.grad_enabled,
            is_input,
            last_use: i,
        })
    }

    /// A view of `arg` (rule 1); `no_base` for `detach` and `_unsafe_view`.
    fn view_object(
        &mut self,
        i: usize,
        id: u64,
        arg: ObjectIdx,
        multi: bool,
        no_base: bool,
        step: Arc<str>,
    ) -> ObjectIdx {
        let Some(a) = self.out.objects.get(arg) else {
            return self.fresh_object(i, id, false);
        };
        let view_parent = Some((arg, a.own_steps.len()));
        let obj = Object {
            tensor_id: id,
            functional_storage: a.functional_storage,
            py_storage: a.py_storage,
            base: if no_base {
                None
            } else {
                Some(a.base.unwrap_or(arg))
            },
            multi_output_view: a.multi_output_view || multi,
            metadata_flag: false,
            storage_changed: false,
            shallow_copy: false,
            view_parent,
            own_steps: vec![step],
            first_node: i,
            last_node: i,
            created_with_grad: self.grad_enabled,
            is_input: false,
            last_use: i,
        };
        self.push_object(obj)
    }

    fn push_object(&mut self, o: Object) -> ObjectIdx {
        self.out.objects.push(o);
        self.out.objects.len() - 1
    }

    fn lookup(
        &self,
        node: &NodeStructure,
        field: &str,
        name: &str,
    ) -> Result<usize, AnalysisError> {
        self.index_of.get(name).copied().ok_or_else(|| {
            AnalysisError::invalid(&node.name, field, format!("unknown node `{name}`"))
        })
    }

    /// Tensor objects an argument holds (a node, or a list of nodes).
    fn objects_in(
        &self,
        node: &NodeStructure,
        field: &str,
        arg: &Arg,
    ) -> Result<Vec<ObjectIdx>, AnalysisError> {
        let mut out = Vec::new();
        let mut stack = vec![arg];
        while let Some(a) = stack.pop() {
            match a {
                Arg::Node(name) => {
                    let j = self.lookup(node, field, name)?;
                    if let Some(Produced::Object(o)) = self.produced.get(j) {
                        out.push(*o);
                    }
                }
                Arg::List(items) => stack.extend(items.iter().rev()),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Where a bound argument sits in the node, for messages.
#[derive(Clone, Copy, Debug)]
enum Field<'n> {
    Positional(usize),
    Keyword(&'n str),
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Positional(k) => write!(f, "args[{k}]"),
            Field::Keyword(name) => write!(f, "kwargs.{name}"),
        }
    }
}

/// Binds a node's args and kwargs to the schema's parameters: `(field, arg)` per parameter.
fn bind<'n>(node: &'n NodeStructure, op: &OpInfo) -> Vec<Option<(Field<'n>, &'n Arg)>> {
    let mut bound: Vec<Option<(Field<'n>, &Arg)>> = vec![None; op.params.len()];
    let positional = op.params.iter().enumerate().filter(|(_, p)| !p.kwarg_only);
    for ((p, _), (k, arg)) in positional.zip(node.args.iter().enumerate()) {
        if let Some(slot) = bound.get_mut(p) {
            *slot = Some((Field::Positional(k), arg));
        }
    }
    for (name, arg) in &node.kwargs {
        if let Some(p) = op.params.iter().position(|p| &p.name == name) {
            if let Some(slot) = bound.get_mut(p) {
                *slot = Some((Field::Keyword(name), arg));
            }
        }
    }
    bound
}

fn step_name(target: &str) -> Arc<str> {
    Arc::from(super::ops::view_step_name(target))
}
