//! Building a dump node by node: FX's names, tensor and storage ids in order
//! of first appearance, operators with their schemas and tags.

use super::*;

/// The schema and tags the dump records for an operator the generator or an
/// edit uses: the built-in table's, which are PyTorch's own text.
pub(super) fn known_operator(target: &str) -> Option<Operator> {
    Some(Operator {
        schema: Arc::new(builtin_parsed(target)?.clone()),
        tags: Some(
            builtin_tags(target)?
                .iter()
                .map(|t| t.to_string())
                .collect(),
        ),
    })
}

/// A node whose value is one tensor, as later nodes use it.
#[derive(Clone, Debug)]
pub(super) struct Ref {
    pub(super) name: Arc<str>,
    pub(super) val: TensorMeta,
    pub(super) id: u64,
    /// The root of its view chain (format §8.2).
    pub(super) base: Option<u64>,
}

impl Ref {
    pub(super) fn arg(&self) -> Arg {
        Arg::Node(self.name.clone())
    }

    /// `base_tensor_id` of a view of this tensor.
    pub(super) fn root(&self) -> u64 {
        self.base.unwrap_or(self.id)
    }
}

/// A view of some tensor: its geometry; storage and autograd come from the viewed tensor.
pub(super) struct ViewGeometry {
    pub(super) shape: Vec<SizeExpr>,
    pub(super) stride: Vec<SizeExpr>,
    pub(super) offset: SizeExpr,
}

/// Appends nodes in execution order, naming them as FX does and handing
/// out tensor and storage ids (renumbered in order of first appearance at
/// the end, see [`normalize_ids`]).
pub(super) struct Builder {
    pub(super) nodes: Vec<Open>,
    pub(super) names: Namer,
    pub(super) next_id: u64,
    pub(super) next_storage: u64,
    pub(super) grad_enabled: bool,
    pub(super) operators: BTreeSet<&'static str>,
}

/// FX's naming of the nodes of one graph, in the order they are made.
#[derive(Default)]
pub(super) struct Namer {
    pub(super) used: HashSet<String>,
    pub(super) counters: HashMap<String, usize>,
}

impl Namer {
    /// The op's name, then `name_1`, `name_2`, ... once taken.
    pub(super) fn name(&mut self, base: &str) -> String {
        if !PYTHON_BUILTINS.contains(&base) && self.used.insert(base.to_owned()) {
            return base.to_owned();
        }
        loop {
            let counter = self.counters.entry(base.to_owned()).or_insert(0);
            *counter += 1;
            let candidate = format!("{base}_{counter}");
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
        }
    }

    /// A name given otherwise (a placeholder's).
    pub(super) fn take(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }
}

/// Names FX suffixes even when free, because they shadow Python builtins.
pub(super) const PYTHON_BUILTINS: &[&str] = &[
    "slice", "sum", "max", "min", "abs", "all", "any", "pow", "round",
];

impl Builder {
    pub(super) fn new() -> Builder {
        Builder {
            nodes: Vec::new(),
            names: Namer::default(),
            next_id: 0,
            next_storage: 0,
            grad_enabled: true,
            operators: BTreeSet::new(),
        }
    }

    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    pub(super) fn storage(&mut self) -> u64 {
        self.next_storage += 1;
        self.next_storage - 1
    }

    pub(super) fn name(&mut self, base: &str) -> String {
        self.names.name(base)
    }

    pub(super) fn placeholder(
        &mut self,
        name: &str,
        kind: InputKind,
        fqn: Option<&str>,
        val: TensorMeta,
        base: Option<u64>,
    ) -> Ref {
        self.names.take(name);
        let id = self.id();
        let source = match fqn {
            Some(fqn) => module_source(fqn, kind),
            None => format!("L['{name}']"),
        };
        let name: Arc<str> = Arc::from(name);
        self.nodes.push(Open {
            s: NodeStructure {
                name: name.clone(),
                op: NodeOp::Placeholder {
                    kind,
                    fqn: fqn.map(str::to_owned),
                    source: Some(source),
                },
                target: name.clone(),
                args: Vec::new(),
                kwargs: Vec::new(),
                tensor_id: Some(id),
                base_tensor_id: base,
            },
            val: Value::Tensor(val.clone()),
        });
        Ref {
            name,
            val,
            id,
            base,
        }
    }

    pub(super) fn parameter(&mut self, fqn: &str, shape: Vec<SizeExpr>) -> Result<Ref, GenError> {
        let storage = self.storage();
        let val = dense(shape, FLOAT, storage)?.with_grad(true, false);
        let name = format!("p_{}", fqn.replace('.', "_"));
        Ok(self.placeholder(&name, InputKind::Parameter, Some(fqn), val, None))
    }

    pub(super) fn linear_params(
        &mut self,
        fqn: &str,
        out: &SizeExpr,
        inp: &SizeExpr,
    ) -> Result<(Ref, Ref), GenError> {
        Ok((
            self.parameter(&format!("{fqn}.weight"), vec![out.clone(), inp.clone()])?,
            self.parameter(&format!("{fqn}.bias"), vec![out.clone()])?,
        ))
    }

    pub(super) fn norm_params(
        &mut self,
        fqn: &str,
        width: &SizeExpr,
    ) -> Result<(Ref, Ref), GenError> {
        Ok((
            self.parameter(&format!("{fqn}.weight"), vec![width.clone()])?,
            self.parameter(&format!("{fqn}.bias"), vec![width.clone()])?,
        ))
    }

    pub(super) fn buffer(
        &mut self,
        fqn: &str,
        shape: Vec<SizeExpr>,
        dtype: &str,
    ) -> Result<Ref, GenError> {
        let storage = self.storage();
        let val = dense(shape, dtype, storage)?;
        let name = format!("b_{}", fqn.replace('.', "_"));
        Ok(self.placeholder(&name, InputKind::Buffer, Some(fqn), val, None))
    }

    pub(super) fn call(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        val: Value,
        ids: Option<(u64, Option<u64>)>,
    ) -> Arc<str> {
        let name: Arc<str> = Arc::from(self.name(node_base_name(target)));
        if target.starts_with("aten.") {
            self.operators.insert(target);
        }
        self.nodes.push(Open {
            s: NodeStructure {
                name: name.clone(),
                op: NodeOp::CallFunction,
                target: Arc::from(target),
                args,
                kwargs: Vec::new(),
                tensor_id: ids.map(|(id, _)| id),
                base_tensor_id: ids.and_then(|(_, base)| base),
            },
            val,
        });
        name
    }

    /// An op returning a new dense tensor, requiring grad when grad mode is
    /// on and an input does.
    pub(super) fn fresh(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        inputs: &[&Ref],
        shape: Vec<SizeExpr>,
        dtype: &str,
    ) -> Result<Ref, GenError> {
        let requires_grad = self.grad_enabled && inputs.iter().any(|r| r.val.requires_grad());
        let storage = self.storage();
        let val = dense(shape, dtype, storage)?.with_grad(requires_grad, self.grad_enabled);
        let id = self.id();
        let name = self.call(target, args, Value::Tensor(val.clone()), Some((id, None)));
        Ok(Ref {
            name,
            val,
            id,
            base: None,
        })
    }

    /// A view of `of`: its storage, its `requires_grad`; a graph node of its
    /// own only when made with grad on.
    /// An elementwise op of `first` and `others`: a new tensor shaped like `first`.
    pub(super) fn pointwise(
        &mut self,
        target: &'static str,
        first: &Ref,
        others: &[&Ref],
    ) -> Result<Ref, GenError> {
        let inputs: Vec<&Ref> = std::iter::once(first)
            .chain(others.iter().copied())
            .collect();
        let args = inputs.iter().map(|r| r.arg()).collect();
        self.fresh(
            target,
            args,
            &inputs,
            first.val.geometry.shape.clone(),
            FLOAT,
        )
    }

    pub(super) fn view_val(&self, of: &Ref, g: ViewGeometry) -> TensorMeta {
        let mut val = of
            .val
            .clone()
            .with_grad(of.val.requires_grad(), self.grad_enabled);
        val.geometry.shape = g.shape;
        val.geometry.stride = g.stride;
        val.geometry.storage_offset = g.offset;
        val.autograd.is_view = true;
        val
    }

    pub(super) fn view(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        of: &Ref,
        g: ViewGeometry,
    ) -> Ref {
        let val = self.view_val(of, g);
        let id = self.id();
        let base = Some(of.root());
        let name = self.call(target, args, Value::Tensor(val.clone()), Some((id, base)));
        Ref {
            name,
            val,
            id,
            base,
        }
    }

    /// An in-place op on `of`: the same object, now requiring grad if grad
    /// mode is on and something written into it does.
    pub(super) fn inplace(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        of: &Ref,
        inputs: &[&Ref],
    ) -> Ref {
        let mut val = of.val.clone();
        if self.grad_enabled && !val.requires_grad() && inputs.iter().any(|r| r.val.requires_grad())
        {
            val = val.with_grad(true, true);
        }
        let name = self.call(
            target,
            args,
            Value::Tensor(val.clone()),
            Some((of.id, of.base)),
        );
        Ref {
            name,
            val,
            id: of.id,
            base: of.base,
        }
    }

    /// A node returning a fixed number of values, and one `getitem` per element.
    pub(super) fn list<const N: usize>(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        elements: [(TensorMeta, Option<u64>); N],
    ) -> [Ref; N] {
        let vals = elements
            .iter()
            .map(|(v, _)| Value::Tensor(v.clone()))
            .collect();
        let list = self.call(target, args, Value::List(vals), None);
        let mut k = 0;
        elements.map(|(val, base)| {
            k += 1;
            self.getitem(&list, k - 1, val, base)
        })
    }

    /// `_operator.getitem` of element `k` of node `list`.
    pub(super) fn getitem(
        &mut self,
        list: &Arc<str>,
        k: i64,
        val: TensorMeta,
        base: Option<u64>,
    ) -> Ref {
        let id = self.id();
        let args = vec![Arg::Node(list.clone()), Arg::Int(k)];
        let name = self.call(
            "_operator.getitem",
            args,
            Value::Tensor(val.clone()),
            Some((id, base)),
        );
        Ref {
            name,
            val,
            id,
            base,
        }
    }

    /// Views of `of`, one per element of a multi-output view op.
    pub(super) fn multi_view<const N: usize>(
        &mut self,
        target: &'static str,
        args: Vec<Arg>,
        of: &Ref,
        pieces: [ViewGeometry; N],
    ) -> [Ref; N] {
        let elements = pieces.map(|g| (self.view_val(of, g), Some(of.root())));
        self.list(target, args, elements)
    }

    pub(super) fn set_grad_enabled(&mut self, on: bool) {
        self.call(
            "torch._C._set_grad_enabled",
            vec![Arg::Bool(on)],
            Value::None,
            None,
        );
        self.grad_enabled = on;
    }

    pub(super) fn operators(&self) -> Operators {
        self.operators
            .iter()
            .filter_map(|&target| Some((target.to_owned(), known_operator(target)?)))
            .collect()
    }
}

/// The name FX gives a node calling `target`, before any suffix.
pub(super) fn node_base_name(target: &str) -> &str {
    match target {
        "_operator.getitem" => "getitem",
        "torch._C._set_grad_enabled" => "_set_grad_enabled",
        "aten.sym_size.int" => "sym_size_int",
        other => other.split('.').nth(1).unwrap_or(other),
    }
}

/// Dynamo's source of a parameter or buffer: `L['self']._modules['a']._parameters['w']`.
pub(super) fn module_source(fqn: &str, kind: InputKind) -> String {
    let mut source = "L['self']".to_owned();
    let mut parts: Vec<&str> = fqn.split('.').collect();
    let attr = parts.pop().unwrap_or_default();
    for module in parts {
        source.push_str(&format!("._modules['{module}']"));
    }
    let table = if kind == InputKind::Buffer {
        "_buffers"
    } else {
        "_parameters"
    };
    source.push_str(&format!(".{table}['{attr}']"));
    source
}
