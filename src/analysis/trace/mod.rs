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

mod step;

pub use step::{
    calls_operator, step, Bound, Field, Links, NodeRefs, OperatorStep, OutputItem, Ref, Step,
};

use super::error::{AnalysisError, ExceptionType, Stage, TorchError};
use crate::schema::{OpClass, ReturnKind};

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
    steps: &'a [&'a Step],
    links: &'a Links,
    names: &'a dyn Fn(usize) -> Arc<str>,
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

/// Runs the functionalization model over a graph's [`Step`]s and
/// [`Links`], in grad mode `grad_enabled` at entry. `names` gives a node's
/// name, for messages only.
pub fn trace(
    steps: &[&Step],
    links: &Links,
    names: &dyn Fn(usize) -> Arc<str>,
    grad_enabled: bool,
) -> Result<AliasTrace, AnalysisError> {
    trace_replayed(steps, links, names, grad_enabled, grad_enabled)
}

/// [`trace`] of a dump traced with grad mode `recorded` at entry, run with
/// `grad_enabled` at entry instead (export runs each flavour in its own
/// mode). A grad-mode switch records a literal mode, but a `with` block's
/// exit restores whatever mode was in effect: a switch back to the mode
/// before the innermost open block is read as that block's exit.
pub fn trace_replayed(
    steps: &[&Step],
    links: &Links,
    names: &dyn Fn(usize) -> Arc<str>,
    recorded: bool,
    grad_enabled: bool,
) -> Result<AliasTrace, AnalysisError> {
    let replaying = recorded != grad_enabled;
    let mut t = Tracer {
        steps,
        links,
        names,
        produced: Vec::with_capacity(steps.len()),
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
    for (i, step) in steps.iter().enumerate() {
        let produced = t.node(i, step)?;
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
    fn node(&mut self, i: usize, step: &'a Step) -> Result<Produced, AnalysisError> {
        match step {
            Step::Placeholder => {
                let obj = self.tensor_id(i).map(|id| {
                    // The same object passed twice is wrapped once.
                    self.object_for(i, id, |this| this.fresh_object(i, id, true))
                });
                self.out.inputs.push(obj);
                self.out.input_nodes.push(i);
                Ok(obj.map_or(Produced::Other, Produced::Object))
            }
            Step::Output(items) => {
                for (k, item) in items.iter().enumerate() {
                    let slot = match item {
                        OutputItem::Ref(r) => {
                            let j = self.lookup(i, &format!("args[0][{k}]"), *r)?;
                            match self.produced.get(j) {
                                Some(Produced::Object(o)) => OutputSlot::Tensor(*o),
                                _ => OutputSlot::Node(j),
                            }
                        }
                        OutputItem::Literal(kind) => OutputSlot::Literal(kind),
                    };
                    // Collection reads each returned tensor's `grad_fn`: a use.
                    if let OutputSlot::Tensor(o) = slot {
                        if let Some(obj) = self.out.objects.get_mut(o) {
                            obj.last_use = i;
                        }
                    }
                    self.out.outputs.push(slot);
                }
                Ok(Produced::Other)
            }
            Step::Fresh => Ok(self.fresh_result(i)),
            Step::GradMode(to) => {
                self.switch_grad_mode(*to);
                Ok(Produced::Other)
            }
            Step::GetItem(k) => self.getitem(i, *k),
            Step::Operator(op) => self.operator(i, op),
            Step::Invalid { field, message } => Err(AnalysisError::invalid(
                &self.name(i),
                field.as_str(),
                message.as_str(),
            )),
        }
    }

    fn name(&self, i: usize) -> Arc<str> {
        (self.names)(i)
    }

    fn tensor_id(&self, i: usize) -> Option<u64> {
        self.links.tensor_ids.get(i).copied().flatten()
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

    fn getitem(&mut self, i: usize, k: i64) -> Result<Produced, AnalysisError> {
        let j = self.lookup(i, "args[0]", 0)?;
        let element = match self.produced.get(j) {
            Some(Produced::List(items)) => usize::try_from(k)
                .ok()
                .and_then(|k| items.get(k).copied())
                .unwrap_or(Element::Fresh),
            Some(Produced::UniformList(e)) => *e,
            _ => Element::Fresh,
        };
        let Some(id) = self.tensor_id(i) else {
            return Ok(Produced::Other);
        };
        let obj = match element {
            Element::Fresh => self.object_for(i, id, |this| this.fresh_object(i, id, false)),
            Element::ViewOf(arg, multi) => {
                // The list's elements are views recorded under the listing operator's name.
                let step = match self.steps.get(j) {
                    Some(Step::Operator(op)) => op.view_step.clone(),
                    _ => None,
                }
                .unwrap_or_else(|| Arc::from(""));
                self.object_for(i, id, |this| {
                    this.view_object(i, id, arg, multi, false, step)
                })
            }
            Element::Is(obj) => self.alias_id(i, id, obj),
        };
        Ok(Produced::Object(obj))
    }

    /// The objects held by the argument bound to parameter `p`, if any.
    fn param_objects(
        &self,
        i: usize,
        op: &OperatorStep,
        p: usize,
    ) -> Result<Vec<ObjectIdx>, AnalysisError> {
        match op.params.get(p).and_then(Option::as_ref) {
            Some(bound) => self.objects_in(i, bound),
            None => Ok(Vec::new()),
        }
    }

    /// The one object bound to parameter `p`.
    fn single(
        &self,
        i: usize,
        op: &OperatorStep,
        p: usize,
        what: &str,
    ) -> Result<ObjectIdx, AnalysisError> {
        match self.param_objects(i, op, p)?.as_slice() {
            [o] => Ok(*o),
            _ => {
                let field = op
                    .params
                    .get(p)
                    .and_then(Option::as_ref)
                    .map_or_else(|| format!("args[{p}]"), |b| b.field.to_string());
                Err(AnalysisError::invalid(
                    &self.name(i),
                    field,
                    format!("{what} must be a single tensor node"),
                ))
            }
        }
    }

    fn view_step(op: &OperatorStep) -> Arc<str> {
        op.view_step.clone().unwrap_or_else(|| Arc::from(""))
    }

    fn operator(&mut self, i: usize, op: &'a OperatorStep) -> Result<Produced, AnalysisError> {
        for bound in op.params.iter().flatten() {
            for o in self.objects_in(i, bound)? {
                if let Some(obj) = self.out.objects.get_mut(o) {
                    obj.last_use = i;
                }
            }
        }
        match op.class {
            OpClass::Functional => Ok(self.result_from_returns(i, op)?),
            OpClass::View { multi_output } => {
                let viewed = op
                    .returns
                    .iter()
                    .find_map(|r| match r {
                        ReturnKind::ViewOf(p) => Some(*p),
                        _ => None,
                    })
                    .unwrap_or(0);
                let arg = self.single(i, op, viewed, "the viewed argument")?;
                let multi = multi_output || op.returns_list;
                if op.returns_list {
                    return Ok(Produced::UniformList(Element::ViewOf(arg, true)));
                }
                let Some(id) = self.tensor_id(i) else {
                    return Ok(Produced::Other);
                };
                let step = Self::view_step(op);
                let detach = op.is_detach;
                Ok(Produced::Object(self.object_for(i, id, |this| {
                    this.view_object(i, id, arg, multi, detach, step)
                })))
            }
            OpClass::UnsafeView => {
                let arg = self.single(i, op, 0, "self")?;
                let Some(id) = self.tensor_id(i) else {
                    return Ok(Produced::Other);
                };
                let step = Self::view_step(op);
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
                let w = self.single(i, op, 0, "self")?;
                // VariableTypeManual's `detach_`: an autograd view cannot be detached in place.
                if op.is_detach && self.out.objects.get(w).is_some_and(|o| o.base.is_some()) {
                    return Err(TorchError::new(
                        Stage::CollectMetadata,
                        ExceptionType::RuntimeError,
                        format!(
                            "Can't detach views in-place. Use detach() instead. (node `{}`)",
                            self.name(i)
                        ),
                    )
                    .at_node(i)
                    .into());
                }
                if let Some(o) = self.out.objects.get_mut(w) {
                    o.metadata_flag = true;
                    o.own_steps.push(Self::view_step(op));
                }
                Ok(self.result_is(i, w))
            }
            OpClass::Resize => {
                let w = self.single(i, op, 0, "self")?;
                let before = self.out.objects.get(w).map_or(i, |o| o.last_node);
                self.out.resizes.push(Resize { node: i, before });
                if let Some(o) = self.out.objects.get_mut(w) {
                    o.metadata_flag = true;
                }
                Ok(self.result_is(i, w))
            }
            OpClass::SetStorage { shallow_copy } => {
                let w = self.single(i, op, 0, "self")?;
                let src = self.param_objects(i, op, 1)?.first().copied();
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
                Ok(self.result_is(i, w))
            }
            OpClass::DataMutation => {
                let out_variant_inputs = if op.out_variant {
                    let mut read = Vec::new();
                    for p in (0..op.params.len()).filter(|p| !op.written.contains(p)) {
                        read.extend(self.param_objects(i, op, p)?);
                    }
                    Some(read)
                } else {
                    None
                };
                for &p in &op.written {
                    for obj in self.param_objects(i, op, p)? {
                        self.write(i, obj, out_variant_inputs.clone())?;
                    }
                }
                self.result_from_returns(i, op)
            }
        }
    }

    /// The result of an op decided return by return from the schema (rule 2).
    fn result_from_returns(
        &mut self,
        i: usize,
        op: &OperatorStep,
    ) -> Result<Produced, AnalysisError> {
        let element = |this: &Self, r: &ReturnKind| -> Result<Element, AnalysisError> {
            Ok(match r {
                ReturnKind::Fresh => Element::Fresh,
                ReturnKind::WrittenArgument(p) => match this.param_objects(i, op, *p)?.as_slice() {
                    [o] => Element::Is(*o),
                    _ => Element::Fresh,
                },
                ReturnKind::ViewOf(p) => match this.param_objects(i, op, *p)?.as_slice() {
                    [o] => Element::ViewOf(*o, false),
                    _ => Element::Fresh,
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
        let Some(id) = self.tensor_id(i) else {
            return Ok(Produced::Other);
        };
        let obj = match elements.first().copied().unwrap_or(Element::Fresh) {
            Element::Is(o) => self.alias_id(i, id, o),
            Element::ViewOf(arg, multi) => {
                let step = Self::view_step(op);
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
                        (self.names)(i)
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
    fn result_is(&mut self, i: usize, w: ObjectIdx) -> Produced {
        match self.tensor_id(i) {
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

    fn fresh_result(&mut self, i: usize) -> Produced {
        match self.tensor_id(i) {
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

    /// The node that ref `r` of node `i` names.
    fn lookup(&self, i: usize, field: &str, r: u32) -> Result<usize, AnalysisError> {
        match self.links.get(i, r) {
            Some(Ref::Node(j)) => Ok(j as usize),
            Some(Ref::Unknown(name)) => Err(AnalysisError::invalid(
                &self.name(i),
                field,
                format!("unknown node `{name}`"),
            )),
            None => Err(AnalysisError::invalid(
                &self.name(i),
                field,
                "no such argument",
            )),
        }
    }

    /// Tensor objects a bound argument holds (a node, or a list of nodes).
    fn objects_in(&self, i: usize, bound: &Bound) -> Result<Vec<ObjectIdx>, AnalysisError> {
        let mut out = Vec::new();
        for r in bound.refs.clone() {
            let j = match self.links.get(i, r) {
                Some(Ref::Node(j)) => j as usize,
                _ => self.lookup(i, &bound.field.to_string(), r)?,
            };
            if let Some(Produced::Object(o)) = self.produced.get(j) {
                out.push(*o);
            }
        }
        Ok(out)
    }
}
