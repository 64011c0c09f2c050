//! Synthetic graph dumps for benchmarks and replays: valid, realistic,
//! deterministic, of any size.
//!
//! [`generate`] writes one training step of a pre-LN transformer decoder the
//! way `make_fx(pre_dispatch=True)` records it (format v1): parameters, then
//! buffers, then user inputs; per block a LayerNorm (`native_layer_norm` and
//! its three `getitem`s), linears as `view`/`t`/`addmm`/`view`, a fused QKV
//! projection `split` into three views, single-head attention (`transpose`,
//! `bmm`, `_softmax`), an MLP whose activation is `gelu`, `relu` or an
//! in-place `relu_`, residual adds, and a kv cache written under `no_grad`
//! (`index_copy_` into one buffer, `copy_` into a `slice` of the other) whose
//! present slice is returned. Around the blocks: a step counter (`add_` on a
//! buffer), two overlapping views of one base passed as inputs, one of them
//! mutated (AOTAutograd needs a synthetic base), and the last hidden state
//! returned `unbind` into views.
//!
//! [`edit`] derives the next version of a dump as a recompilation loop would
//! be handed it, and the result is as valid as its input. Tensor ids and
//! storage ids stay numbered in order of first appearance (format §7, §8.1),
//! so an edit that adds a storage or an object renumbers everything after it,
//! exactly as a fresh trace would.
//!
//! Everything is a pure function of the options and seeds: the same seed
//! gives the same dump, byte for byte.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value as Json};

use crate::ir::dtype::itemsize;
use crate::ir::expr::{ExprError, SizeExpr};
use crate::schema::{builtin_schema, builtin_tags};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Approximate number of nodes (the graph is whole blocks, and at least one).
    pub nodes: usize,
    pub seed: u64,
    /// Symbolic sequence and window lengths (format §3) instead of integers.
    pub dynamic_shapes: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            nodes: 1_000,
            seed: 0,
            dynamic_shapes: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    #[error("no node of this dump admits a `{0}` edit")]
    NoCandidate(EditKind),
    #[error("not a dump the generator can edit: {0}")]
    Malformed(String),
    #[error(transparent)]
    Expr(#[from] ExprError),
}

/// The kinds of edit [`edit`] makes, each what a recompilation typically sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EditKind {
    /// One input's memory layout flips between row-major and "dimension 1
    /// outermost" (a parameter stored transposed, activations stored
    /// sequence-first); a `t` view of it follows.
    TensorMetadata,
    /// One operator swapped for another of the same signature
    /// (`gelu` ↔ `relu`, `add` ↔ `sub`); the node keeps its name.
    Op,
    /// Two view inputs of one base move from overlapping to disjoint or back:
    /// one input's storage offset changes, and with it whether AOTAutograd
    /// needs a synthetic base.
    InputAliasing,
    /// One input stops being a view of a shared base (its own storage) or
    /// becomes one again; storage ids after it are renumbered.
    InputStorage,
    /// One user input's `requires_grad` flips.
    RequiresGrad,
    /// A `mul` by a constant is inserted after an intermediate and its users
    /// rewired; tensor and storage ids after it are renumbered.
    AddNode,
    /// A `mul` by a constant whose removal changes no other value is
    /// removed and its users read its input instead (the reverse of
    /// `AddNode`); ids after it are renumbered.
    RemoveNode,
    /// As `AddNode`, and then every call is renamed as a fresh FX trace
    /// names it: `mul_3` inserted before `mul_4` makes that `mul_5`, and
    /// so on for every later node of the same op.
    AddNodeRenumbered,
}

impl EditKind {
    pub const ALL: [EditKind; 8] = [
        EditKind::TensorMetadata,
        EditKind::Op,
        EditKind::InputAliasing,
        EditKind::InputStorage,
        EditKind::RequiresGrad,
        EditKind::AddNode,
        EditKind::RemoveNode,
        EditKind::AddNodeRenumbered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EditKind::TensorMetadata => "tensor-metadata",
            EditKind::Op => "op",
            EditKind::InputAliasing => "input-aliasing",
            EditKind::InputStorage => "input-storage",
            EditKind::RequiresGrad => "requires-grad",
            EditKind::AddNode => "add-node",
            EditKind::RemoveNode => "remove-node",
            EditKind::AddNodeRenumbered => "add-node-renumbered",
        }
    }

    /// Relative frequency in an [`EditSequence`]: metadata and op edits
    /// dominate real recompilations.
    fn weight(self) -> u64 {
        match self {
            EditKind::TensorMetadata | EditKind::Op => 3,
            EditKind::InputAliasing
            | EditKind::InputStorage
            | EditKind::RequiresGrad
            | EditKind::AddNode
            | EditKind::RemoveNode
            | EditKind::AddNodeRenumbered => 1,
        }
    }
}

impl fmt::Display for EditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EditKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EditKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EditKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown edit kind `{s}` (one of {})", names.join(", "))
            })
    }
}

/// Generates one dump (see the module documentation for what it contains).
pub fn generate(opts: &GenOptions) -> Result<Json, GenError> {
    let mut rng = SplitMix64::new(opts.seed);
    let dims = Dims::choose(&mut rng, opts.dynamic_shapes);
    let blocks = block_count(opts.nodes, opts.dynamic_shapes);
    let activations: Vec<Activation> = (0..blocks).map(|_| Activation::choose(&mut rng)).collect();
    let mut dump = decoder(opts, &dims, &activations)?;
    normalize_ids(&mut dump)?;
    Ok(dump)
}

/// The next version of `dump` after one edit of `kind`, which `seed` places.
/// The dump's `description` says what was edited.
pub fn edit(dump: &Json, kind: EditKind, seed: u64) -> Result<Json, GenError> {
    let mut rng = SplitMix64::new(seed ^ (kind as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = dump.clone();
    let what = match kind {
        EditKind::TensorMetadata => edit_layout(&mut out, &mut rng)?,
        EditKind::Op => edit_op(&mut out, &mut rng)?,
        EditKind::InputAliasing => edit_overlap(&mut out, &mut rng)?,
        EditKind::InputStorage => edit_storage(&mut out, &mut rng)?,
        EditKind::RequiresGrad => edit_requires_grad(&mut out, &mut rng)?,
        EditKind::AddNode => edit_add_node(&mut out, &mut rng)?,
        EditKind::RemoveNode => edit_remove_node(&mut out, &mut rng)?,
        EditKind::AddNodeRenumbered => {
            let what = edit_add_node(&mut out, &mut rng)?;
            let renamed = rename_as_fx(&mut out)?;
            format!("{what} (named before renumbering), {renamed} nodes renamed")
        }
    };
    set_description(&mut out, &format!("{kind}: {what}"));
    Ok(out)
}

/// A generated dump followed by an endless stream of edits of it, one kind
/// at a time drawn from `kinds` (weighted towards metadata and op edits).
/// Lazy, so long sequences of large graphs never sit in memory at once; it
/// ends after the first error.
pub struct EditSequence {
    state: SequenceState,
    kinds: Vec<EditKind>,
    rng: SplitMix64,
}

enum SequenceState {
    Start(GenOptions),
    At(Json),
    Done,
}

impl EditSequence {
    pub fn new(opts: &GenOptions, seed: u64) -> EditSequence {
        EditSequence::with_kinds(opts, seed, &EditKind::ALL)
    }

    /// Only edits of `kinds` (all kinds when empty).
    pub fn with_kinds(opts: &GenOptions, seed: u64, kinds: &[EditKind]) -> EditSequence {
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            kinds = EditKind::ALL.to_vec();
        }
        EditSequence {
            state: SequenceState::Start(opts.clone()),
            kinds,
            rng: SplitMix64::new(seed),
        }
    }

    fn step(&mut self, current: &Json) -> Result<Json, GenError> {
        let total: u64 = self.kinds.iter().map(|k| k.weight()).sum();
        let mut pick = self.rng.below(total);
        let start = self
            .kinds
            .iter()
            .position(|k| {
                let hit = pick < k.weight();
                pick = pick.saturating_sub(k.weight());
                hit
            })
            .unwrap_or(0);
        let seed = self.rng.next_u64();
        // A kind with no candidate left gives way to the next one; with none
        // at all, the step resubmits the same dump.
        for k in 0..self.kinds.len() {
            let Some(&kind) = self.kinds.get((start + k) % self.kinds.len()) else {
                continue;
            };
            match edit(current, kind, seed) {
                Err(GenError::NoCandidate(_)) => continue,
                other => return other,
            }
        }
        Ok(current.clone())
    }
}

impl Iterator for EditSequence {
    type Item = Result<Json, GenError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match std::mem::replace(&mut self.state, SequenceState::Done) {
            SequenceState::Start(opts) => generate(&opts),
            SequenceState::At(current) => self.step(&current),
            SequenceState::Done => return None,
        };
        if let Ok(dump) = &next {
            self.state = SequenceState::At(dump.clone());
        }
        Some(next)
    }
}

/// The generated dump and `steps` edits of it.
pub fn edit_sequence(opts: &GenOptions, steps: usize, seed: u64) -> Result<Vec<Json>, GenError> {
    EditSequence::new(opts, seed).take(steps + 1).collect()
}

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// splitmix64: tiny, fast, and well distributed from any seed, 0 included.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift: the bias is below 2⁻⁶⁴·n, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(n)).ok()?)
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes and symbols
// ---------------------------------------------------------------------------------------------

const BATCH_LEN: usize = 2;
const BATCH: i64 = BATCH_LEN as i64;
/// Rows of each view input; the base holds twice as many.
const WINDOW: i64 = 6;
const TORCH_VERSION: &str = "2.15.0";
const FLOAT: &str = "float32";
const INT: &str = "int64";

/// Sizes of one generated model. Sequence and window lengths are symbols
/// with dynamic shapes; batch and model width are specialised, as Dynamo
/// does once they meet the static buffers and parameters.
struct Dims {
    model: i64,
    ffn: i64,
    vocab: i64,
    max_seq: i64,
    seq: SizeExpr,
    window: SizeExpr,
    symbols: Json,
}

impl Dims {
    fn choose(rng: &mut SplitMix64, dynamic: bool) -> Dims {
        // Distinct from each other and from BATCH and WINDOW, so duck sizing
        // never merges two of them.
        let model = *rng.pick(&[16, 32, 64]).unwrap_or(&16);
        let seq_hint = *rng.pick(&[4, 8, 12]).unwrap_or(&8);
        let max_seq = 4 * seq_hint;
        let mut symbols = BTreeMap::new();
        let (seq, window) = if dynamic {
            let mut taken = HashSet::new();
            let mut symbol = |source: &str, info: Json, symbols: &mut BTreeMap<String, Json>| {
                let name = symbol_name(source, &mut taken);
                symbols.insert(name.clone(), info);
                name
            };
            let specialised = |source: &str, v: i64| json!({"hint": v, "min": v, "max": v, "source": source, "replaced_by": v});
            let free = |source: &str, hint: i64, max: Option<i64>| json!({"hint": hint, "min": 2, "max": max, "source": source});
            let b = "L['x'].size()[0]";
            let s = "L['x'].size()[1]";
            let d = "L['x'].size()[2]";
            let w = "L['hist'].size()[0]";
            symbol(b, specialised(b, BATCH), &mut symbols);
            let seq = symbol(s, free(s, seq_hint, Some(max_seq)), &mut symbols);
            symbol(d, specialised(d, model), &mut symbols);
            let window = symbol(w, free(w, WINDOW, None), &mut symbols);
            (SizeExpr::symbol(&seq), SizeExpr::symbol(&window))
        } else {
            (SizeExpr::int(seq_hint), SizeExpr::int(WINDOW))
        };
        Dims {
            model,
            ffn: 4 * model,
            vocab: 2 * model,
            max_seq,
            seq,
            window,
            symbols: Json::Object(symbols.into_iter().collect()),
        }
    }
}

/// PyTorch names symbols after a hash of their source (`s77`); so do we.
fn symbol_name(source: &str, taken: &mut HashSet<u64>) -> String {
    let fnv = source.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut n = fnv % 100;
    while !taken.insert(n) {
        n = (n + 1) % 100;
    }
    format!("s{n}")
}

fn int(v: i64) -> SizeExpr {
    SizeExpr::int(v)
}

fn product(factors: &[SizeExpr]) -> Result<SizeExpr, ExprError> {
    SizeExpr::product(factors)
}

/// Row-major strides, folded the way PyTorch computes (and prints) them.
fn contiguous(shape: &[SizeExpr]) -> Result<Vec<SizeExpr>, ExprError> {
    strides_in_order(shape, &(0..shape.len()).collect::<Vec<_>>())
}

/// Dense strides with dimensions laid out `order[0]` outermost.
fn strides_in_order(shape: &[SizeExpr], order: &[usize]) -> Result<Vec<SizeExpr>, ExprError> {
    let mut strides = vec![int(1); shape.len()];
    let mut step = int(1);
    for &d in order.iter().rev() {
        if let (Some(stride), Some(size)) = (strides.get_mut(d), shape.get(d)) {
            *stride = step.clone();
            step = product(&[step, size.clone()])?;
        }
    }
    Ok(strides)
}

/// `0, step, 2·step, ...`: the offsets of the elements of an `unbind`.
fn multiples<const N: usize>(step: &SizeExpr) -> Result<[SizeExpr; N], ExprError> {
    let mut out = std::array::from_fn(|_| int(0));
    let mut next = int(0);
    for slot in &mut out {
        *slot = next.clone();
        next = next.checked_add(step)?;
    }
    Ok(out)
}

fn numel(shape: &[SizeExpr]) -> Result<SizeExpr, ExprError> {
    product(shape)
}

/// Elements from the first to one past the last a view can reach:
/// `1 + Σ (size - 1)·stride` (the view is never empty here).
fn extent(t: &TensorVal) -> Result<SizeExpr, ExprError> {
    let mut total = int(1);
    for (size, stride) in t.shape.iter().zip(&t.stride) {
        total = total.checked_add(&size.checked_sub(&int(1))?.checked_mul(stride)?)?;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// Tensor values
// ---------------------------------------------------------------------------------------------

/// A tensor value (format §7), as the generator builds it and the edits change it.
#[derive(Clone, Debug)]
struct TensorVal {
    shape: Vec<SizeExpr>,
    stride: Vec<SizeExpr>,
    offset: SizeExpr,
    dtype: String,
    device: String,
    requires_grad: bool,
    is_leaf: bool,
    is_view: bool,
    nbytes: SizeExpr,
    storage: u64,
    grad_fn: Option<String>,
    layout: String,
    is_conj: bool,
    is_neg: bool,
}

impl TensorVal {
    /// A dense, row-major tensor of its own storage that does not require grad.
    fn dense(shape: Vec<SizeExpr>, dtype: &str, storage: u64) -> Result<TensorVal, GenError> {
        let size = itemsize(dtype)
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(1);
        Ok(TensorVal {
            stride: contiguous(&shape)?,
            nbytes: product(&[int(size), numel(&shape)?])?,
            shape,
            offset: int(0),
            dtype: dtype.to_owned(),
            device: "cpu".to_owned(),
            requires_grad: false,
            is_leaf: true,
            is_view: false,
            storage,
            grad_fn: None,
            layout: "strided".to_owned(),
            is_conj: false,
            is_neg: false,
        })
    }

    /// Autograd facts of a value made under `grad_enabled` that requires
    /// grad or not: a graph node exactly when grad is on and required.
    fn with_grad(mut self, requires_grad: bool, grad_enabled: bool) -> TensorVal {
        self.requires_grad = requires_grad;
        self.is_leaf = !(requires_grad && grad_enabled);
        self.grad_fn = (!self.is_leaf).then(|| "builtin".to_owned());
        self
    }

    fn is_float(&self) -> bool {
        matches!(
            self.dtype.as_str(),
            "float32" | "float16" | "bfloat16" | "float64"
        )
    }

    fn to_json(&self) -> Json {
        let sizes = |v: &[SizeExpr]| Json::Array(v.iter().map(SizeExpr::to_json).collect());
        json!({"tensor": {
            "shape": sizes(&self.shape),
            "stride": sizes(&self.stride),
            "storage_offset": self.offset.to_json(),
            "dtype": self.dtype,
            "device": self.device,
            "requires_grad": self.requires_grad,
            "is_leaf": self.is_leaf,
            "is_view": self.is_view,
            "storage_nbytes": self.nbytes.to_json(),
            "storage": self.storage,
            "grad_fn": self.grad_fn,
            "layout": self.layout,
            "is_conj": self.is_conj,
            "is_neg": self.is_neg,
        }})
    }

    /// The tensor a `val` holds; `None` for other values and malformed ones.
    fn from_json(val: &Json) -> Option<TensorVal> {
        let t = val.get("tensor")?.as_object()?;
        let sizes = |key: &str| -> Option<Vec<SizeExpr>> {
            t.get(key)?
                .as_array()?
                .iter()
                .map(|v| SizeExpr::from_json(v).ok())
                .collect()
        };
        let flag = |key: &str| t.get(key).and_then(Json::as_bool);
        let text = |key: &str, default: &str| {
            t.get(key)
                .and_then(Json::as_str)
                .unwrap_or(default)
                .to_owned()
        };
        let requires_grad = flag("requires_grad")?;
        Some(TensorVal {
            shape: sizes("shape")?,
            stride: sizes("stride")?,
            offset: SizeExpr::from_json(t.get("storage_offset")?).ok()?,
            dtype: t.get("dtype")?.as_str()?.to_owned(),
            device: text("device", "cpu"),
            requires_grad,
            is_leaf: flag("is_leaf").unwrap_or(!requires_grad),
            is_view: flag("is_view").unwrap_or(false),
            nbytes: SizeExpr::from_json(t.get("storage_nbytes")?).ok()?,
            storage: t.get("storage")?.as_u64()?,
            grad_fn: t.get("grad_fn").and_then(Json::as_str).map(str::to_owned),
            layout: text("layout", "strided"),
            is_conj: flag("is_conj").unwrap_or(false),
            is_neg: flag("is_neg").unwrap_or(false),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Building a graph
// ---------------------------------------------------------------------------------------------

/// The schema and tags the dump records for an operator the generator or an
/// edit uses: the built-in table's, which are PyTorch's own text.
fn known_operator(target: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some((builtin_schema(target)?, builtin_tags(target)?))
}

/// A node whose value is one tensor, as later nodes use it.
#[derive(Clone, Debug)]
struct Ref {
    name: String,
    val: TensorVal,
    id: u64,
    /// The root of its view chain (format §8.2).
    base: Option<u64>,
}

impl Ref {
    fn arg(&self) -> Json {
        json!({"node": self.name})
    }

    /// `base_tensor_id` of a view of this tensor.
    fn root(&self) -> u64 {
        self.base.unwrap_or(self.id)
    }
}

/// A view of some tensor: its geometry; storage and autograd come from the viewed tensor.
struct Geometry {
    shape: Vec<SizeExpr>,
    stride: Vec<SizeExpr>,
    offset: SizeExpr,
}

/// Appends nodes in execution order, naming them as FX does and handing
/// out tensor and storage ids (renumbered in order of first appearance at
/// the end, see [`normalize_ids`]).
struct Builder {
    nodes: Vec<Json>,
    names: Namer,
    next_id: u64,
    next_storage: u64,
    grad_enabled: bool,
    operators: BTreeSet<&'static str>,
}

/// FX's naming of the nodes of one graph, in the order they are made.
#[derive(Default)]
struct Namer {
    used: HashSet<String>,
    counters: HashMap<String, usize>,
}

impl Namer {
    /// The op's name, then `name_1`, `name_2`, ... once taken.
    fn name(&mut self, base: &str) -> String {
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
    fn take(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }
}

/// Names FX suffixes even when free, because they shadow Python builtins.
const PYTHON_BUILTINS: &[&str] = &[
    "slice", "sum", "max", "min", "abs", "all", "any", "pow", "round",
];

impl Builder {
    fn new() -> Builder {
        Builder {
            nodes: Vec::new(),
            names: Namer::default(),
            next_id: 0,
            next_storage: 0,
            grad_enabled: true,
            operators: BTreeSet::new(),
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn storage(&mut self) -> u64 {
        self.next_storage += 1;
        self.next_storage - 1
    }

    fn name(&mut self, base: &str) -> String {
        self.names.name(base)
    }

    fn placeholder(
        &mut self,
        name: &str,
        kind: &str,
        fqn: Option<&str>,
        val: TensorVal,
        base: Option<u64>,
    ) -> Ref {
        self.names.take(name);
        let id = self.id();
        let source = match fqn {
            Some(fqn) => module_source(fqn, kind),
            None => format!("L['{name}']"),
        };
        self.nodes.push(json!({
            "name": name, "op": "placeholder", "target": name, "args": [], "kwargs": {},
            "val": val.to_json(),
            "kind": kind, "fqn": fqn, "source": source,
            "tensor_id": id, "base_tensor_id": base,
        }));
        Ref {
            name: name.to_owned(),
            val,
            id,
            base,
        }
    }

    fn parameter(&mut self, fqn: &str, shape: Vec<SizeExpr>) -> Result<Ref, GenError> {
        let storage = self.storage();
        let val = TensorVal::dense(shape, FLOAT, storage)?.with_grad(true, false);
        let name = format!("p_{}", fqn.replace('.', "_"));
        Ok(self.placeholder(&name, "parameter", Some(fqn), val, None))
    }

    fn linear_params(
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

    fn norm_params(&mut self, fqn: &str, width: &SizeExpr) -> Result<(Ref, Ref), GenError> {
        Ok((
            self.parameter(&format!("{fqn}.weight"), vec![width.clone()])?,
            self.parameter(&format!("{fqn}.bias"), vec![width.clone()])?,
        ))
    }

    fn buffer(&mut self, fqn: &str, shape: Vec<SizeExpr>, dtype: &str) -> Result<Ref, GenError> {
        let storage = self.storage();
        let val = TensorVal::dense(shape, dtype, storage)?;
        let name = format!("b_{}", fqn.replace('.', "_"));
        Ok(self.placeholder(&name, "buffer", Some(fqn), val, None))
    }

    fn call(
        &mut self,
        target: &'static str,
        args: Json,
        val: Json,
        ids: Option<(u64, Option<u64>)>,
    ) -> String {
        let name = self.name(node_base_name(target));
        if target.starts_with("aten.") {
            self.operators.insert(target);
        }
        let mut node = json!({
            "name": name, "op": "call_function", "target": target, "args": args, "kwargs": {},
            "val": val,
        });
        if let (Some((id, base)), Some(obj)) = (ids, node.as_object_mut()) {
            obj.insert("tensor_id".to_owned(), json!(id));
            obj.insert("base_tensor_id".to_owned(), json!(base));
        }
        self.nodes.push(node);
        name
    }

    /// An op returning a new dense tensor, requiring grad when grad mode is
    /// on and an input does.
    fn fresh(
        &mut self,
        target: &'static str,
        args: Json,
        inputs: &[&Ref],
        shape: Vec<SizeExpr>,
        dtype: &str,
    ) -> Result<Ref, GenError> {
        let requires_grad = self.grad_enabled && inputs.iter().any(|r| r.val.requires_grad);
        let storage = self.storage();
        let val =
            TensorVal::dense(shape, dtype, storage)?.with_grad(requires_grad, self.grad_enabled);
        let id = self.id();
        let name = self.call(target, args, val.to_json(), Some((id, None)));
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
    fn pointwise(
        &mut self,
        target: &'static str,
        first: &Ref,
        others: &[&Ref],
    ) -> Result<Ref, GenError> {
        let inputs: Vec<&Ref> = std::iter::once(first)
            .chain(others.iter().copied())
            .collect();
        let args = Json::Array(inputs.iter().map(|r| r.arg()).collect());
        self.fresh(target, args, &inputs, first.val.shape.clone(), FLOAT)
    }

    fn view_val(&self, of: &Ref, g: Geometry) -> TensorVal {
        let mut val = of
            .val
            .clone()
            .with_grad(of.val.requires_grad, self.grad_enabled);
        val.shape = g.shape;
        val.stride = g.stride;
        val.offset = g.offset;
        val.is_view = true;
        val
    }

    fn view(&mut self, target: &'static str, args: Json, of: &Ref, g: Geometry) -> Ref {
        let val = self.view_val(of, g);
        let id = self.id();
        let base = Some(of.root());
        let name = self.call(target, args, val.to_json(), Some((id, base)));
        Ref {
            name,
            val,
            id,
            base,
        }
    }

    /// An in-place op on `of`: the same object, now requiring grad if grad
    /// mode is on and something written into it does.
    fn inplace(&mut self, target: &'static str, args: Json, of: &Ref, inputs: &[&Ref]) -> Ref {
        let mut val = of.val.clone();
        if self.grad_enabled && !val.requires_grad && inputs.iter().any(|r| r.val.requires_grad) {
            val = val.with_grad(true, true);
        }
        let name = self.call(target, args, val.to_json(), Some((of.id, of.base)));
        Ref {
            name,
            val,
            id: of.id,
            base: of.base,
        }
    }

    /// A node returning a fixed number of values, and one `getitem` per element.
    fn list<const N: usize>(
        &mut self,
        target: &'static str,
        args: Json,
        elements: [(TensorVal, Option<u64>); N],
    ) -> [Ref; N] {
        let vals: Vec<Json> = elements.iter().map(|(v, _)| v.to_json()).collect();
        let list = self.call(target, args, json!({ "list": vals }), None);
        let mut k = 0;
        elements.map(|(val, base)| {
            k += 1;
            self.getitem(&list, k - 1, val, base)
        })
    }

    /// `_operator.getitem` of element `k` of node `list`.
    fn getitem(&mut self, list: &str, k: usize, val: TensorVal, base: Option<u64>) -> Ref {
        let id = self.id();
        let args = json!([{ "node": list }, k]);
        let name = self.call("_operator.getitem", args, val.to_json(), Some((id, base)));
        Ref {
            name,
            val,
            id,
            base,
        }
    }

    /// Views of `of`, one per element of a multi-output view op.
    fn multi_view<const N: usize>(
        &mut self,
        target: &'static str,
        args: Json,
        of: &Ref,
        pieces: [Geometry; N],
    ) -> [Ref; N] {
        let elements = pieces.map(|g| (self.view_val(of, g), Some(of.root())));
        self.list(target, args, elements)
    }

    fn set_grad_enabled(&mut self, on: bool) {
        self.call("torch._C._set_grad_enabled", json!([on]), Json::Null, None);
        self.grad_enabled = on;
    }

    fn operators(&self) -> (Json, Json) {
        let mut schemas = Map::new();
        let mut tags = Map::new();
        for &target in &self.operators {
            if let Some((schema, t)) = known_operator(target) {
                schemas.insert(target.to_owned(), json!(schema));
                tags.insert(target.to_owned(), json!(t));
            }
        }
        (Json::Object(schemas), Json::Object(tags))
    }
}

/// The name FX gives a node calling `target`, before any suffix.
fn node_base_name(target: &str) -> &str {
    match target {
        "_operator.getitem" => "getitem",
        "torch._C._set_grad_enabled" => "_set_grad_enabled",
        "aten.sym_size.int" => "sym_size_int",
        other => other.split('.').nth(1).unwrap_or(other),
    }
}

/// Dynamo's source of a parameter or buffer: `L['self']._modules['a']._parameters['w']`.
fn module_source(fqn: &str, kind: &str) -> String {
    let mut source = "L['self']".to_owned();
    let mut parts: Vec<&str> = fqn.split('.').collect();
    let attr = parts.pop().unwrap_or_default();
    for module in parts {
        source.push_str(&format!("._modules['{module}']"));
    }
    let table = if kind == "buffer" {
        "_buffers"
    } else {
        "_parameters"
    };
    source.push_str(&format!(".{table}['{attr}']"));
    source
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    Gelu,
    Relu,
    /// `nn.ReLU(inplace=True)`: `relu_` on the linear's output.
    ReluInplace,
}

impl Activation {
    fn choose(rng: &mut SplitMix64) -> Activation {
        match rng.below(4) {
            0 | 1 => Activation::Gelu,
            2 => Activation::Relu,
            _ => Activation::ReluInplace,
        }
    }
}

/// Nodes outside the blocks (placeholders, prologue, head, output) and per
/// block, so that the requested node count picks the number of blocks.
const FIXED_NODES: usize = 24;
const BLOCK_NODES: usize = 54;

fn block_count(nodes: usize, dynamic: bool) -> usize {
    let fixed = FIXED_NODES + usize::from(dynamic);
    ((nodes.saturating_sub(fixed) + BLOCK_NODES / 2) / BLOCK_NODES).max(1)
}

/// One block's parameters and buffers.
struct BlockParams {
    ln1: (Ref, Ref),
    qkv: (Ref, Ref),
    proj: (Ref, Ref),
    ln2: (Ref, Ref),
    fc1: (Ref, Ref),
    fc2: (Ref, Ref),
    k_cache: Ref,
    v_cache: Ref,
}

fn decoder(opts: &GenOptions, dims: &Dims, activations: &[Activation]) -> Result<Json, GenError> {
    let mut b = Builder::new();
    let (d, f, v) = (int(dims.model), int(dims.ffn), int(dims.vocab));

    // Parameters in registration order: the blocks, then the final norm and the head.
    let mut weights = Vec::with_capacity(activations.len());
    for i in 0..activations.len() {
        let p = format!("layers.{i}");
        weights.push((
            b.norm_params(&format!("{p}.ln_1"), &d)?,
            b.linear_params(
                &format!("{p}.attn.qkv"),
                &product(&[int(3), d.clone()])?,
                &d,
            )?,
            b.linear_params(&format!("{p}.attn.proj"), &d, &d)?,
            b.norm_params(&format!("{p}.ln_2"), &d)?,
            b.linear_params(&format!("{p}.mlp.fc1"), &f, &d)?,
            b.linear_params(&format!("{p}.mlp.fc2"), &d, &f)?,
        ));
    }
    let ln_f = b.norm_params("ln_f", &d)?;
    let head = b.linear_params("lm_head", &v, &d)?;

    // Buffers: the root's step counter, then each block's kv cache.
    let step = b.buffer("step", vec![], INT)?;
    let cache_shape = vec![int(BATCH), int(dims.max_seq), d.clone()];
    let mut blocks = Vec::with_capacity(weights.len());
    for (i, (ln1, qkv, proj, ln2, fc1, fc2)) in weights.into_iter().enumerate() {
        let k_cache = b.buffer(
            &format!("layers.{i}.attn.k_cache"),
            cache_shape.clone(),
            FLOAT,
        )?;
        let v_cache = b.buffer(
            &format!("layers.{i}.attn.v_cache"),
            cache_shape.clone(),
            FLOAT,
        )?;
        blocks.push(BlockParams {
            ln1,
            qkv,
            proj,
            ln2,
            fc1,
            fc2,
            k_cache,
            v_cache,
        });
    }
    let num_params_buffers = b.nodes.len();

    // User inputs: activations, cache positions, and two overlapping views
    // (rows [0, W) and [1, W + 1)) of a history buffer of 2·W rows.
    let (s, w) = (dims.seq.clone(), dims.window.clone());
    let storage = b.storage();
    let x = b.placeholder(
        "x",
        "user_input",
        None,
        TensorVal::dense(vec![int(BATCH), s.clone(), d.clone()], FLOAT, storage)?,
        None,
    );
    let storage = b.storage();
    let positions = b.placeholder(
        "cache_position",
        "user_input",
        None,
        TensorVal::dense(vec![s.clone()], INT, storage)?,
        None,
    );
    let base_id = b.id();
    let storage = b.storage();
    let history = TensorVal::dense(
        vec![product(&[int(2), w.clone()])?, d.clone()],
        FLOAT,
        storage,
    )?;
    let window_view = |offset: SizeExpr| {
        let mut val = history.clone();
        val.shape = vec![w.clone(), d.clone()];
        val.offset = offset;
        val.is_view = true;
        val
    };
    let hist = b.placeholder(
        "hist",
        "user_input",
        None,
        window_view(int(0)),
        Some(base_id),
    );
    let win = b.placeholder(
        "win",
        "user_input",
        None,
        window_view(d.clone()),
        Some(base_id),
    );

    // With dynamic shapes, slicing to the sequence length needs it as a node.
    let seq_end = if opts.dynamic_shapes {
        let name = b.call(
            "aten.sym_size.int",
            json!([x.arg(), 1]),
            json!({"symint": s.to_json()}),
            None,
        );
        json!({"node": name})
    } else {
        s.to_json()
    };

    b.inplace("aten.add_.Tensor", json!([step.arg(), 1]), &step, &[]);
    b.inplace("aten.mul_.Tensor", json!([hist.arg(), 0.9]), &hist, &[]);

    let bs = product(&[int(BATCH), s.clone()])?;
    let scale = 1.0 / (dims.model as f64).sqrt();
    let mut h = x.clone();
    let mut presents = Vec::with_capacity(blocks.len());
    for (params, act) in blocks.iter().zip(activations) {
        // Attention.
        let ln = layer_norm(&mut b, &h, &params.ln1)?;
        let qkv = linear_3d(&mut b, &ln, &params.qkv, &bs, dims.model, 3 * dims.model)?;
        let pieces = [0, 1, 2].map(|k| Geometry {
            shape: vec![int(BATCH), s.clone(), d.clone()],
            stride: qkv.val.stride.clone(),
            offset: int(k * dims.model),
        });
        let [q, k, vv] = b.multi_view(
            "aten.split.Tensor",
            json!([qkv.arg(), dims.model, -1]),
            &qkv,
            pieces,
        );

        b.set_grad_enabled(false);
        let k_cache = b.inplace(
            "aten.index_copy_.default",
            json!([params.k_cache.arg(), 1, positions.arg(), k.arg()]),
            &params.k_cache,
            &[&positions, &k],
        );
        let prefix = |cache: &Ref| Geometry {
            shape: vec![int(BATCH), s.clone(), d.clone()],
            stride: cache.val.stride.clone(),
            offset: int(0),
        };
        let v_slice = b.view(
            "aten.slice.Tensor",
            json!([params.v_cache.arg(), 1, 0, seq_end.clone()]),
            &params.v_cache,
            prefix(&params.v_cache),
        );
        b.inplace(
            "aten.copy_.default",
            json!([v_slice.arg(), vv.arg()]),
            &v_slice,
            &[&vv],
        );
        b.set_grad_enabled(true);

        let kt = b.view(
            "aten.transpose.int",
            json!([k.arg(), 1, 2]),
            &k,
            Geometry {
                shape: vec![int(BATCH), d.clone(), s.clone()],
                stride: swap12(&k.val.stride),
                offset: k.val.offset.clone(),
            },
        );
        let scores_shape = vec![int(BATCH), s.clone(), s.clone()];
        let scores = b.fresh(
            "aten.bmm.default",
            json!([q.arg(), kt.arg()]),
            &[&q, &kt],
            scores_shape.clone(),
            FLOAT,
        )?;
        let scaled = b.fresh(
            "aten.mul.Tensor",
            json!([scores.arg(), scale]),
            &[&scores],
            scores_shape.clone(),
            FLOAT,
        )?;
        let probs = b.fresh(
            "aten._softmax.default",
            json!([scaled.arg(), -1, false]),
            &[&scaled],
            scores_shape,
            FLOAT,
        )?;
        let attn = b.fresh(
            "aten.bmm.default",
            json!([probs.arg(), vv.arg()]),
            &[&probs, &vv],
            vec![int(BATCH), s.clone(), d.clone()],
            FLOAT,
        )?;
        let out = linear_3d(&mut b, &attn, &params.proj, &bs, dims.model, dims.model)?;
        h = b.pointwise("aten.add.Tensor", &h, &[&out])?;
        presents.push(b.view(
            "aten.slice.Tensor",
            json!([k_cache.arg(), 1, 0, seq_end.clone()]),
            &k_cache,
            prefix(&k_cache),
        ));

        // MLP.
        let ln = layer_norm(&mut b, &h, &params.ln2)?;
        let flat = flatten(&mut b, &ln, &bs, dims.model)?;
        let hidden = linear_2d(&mut b, &flat, &params.fc1, &bs, dims.ffn)?;
        let hidden = match act {
            Activation::Gelu => b.pointwise("aten.gelu.default", &hidden, &[])?,
            Activation::Relu => b.pointwise("aten.relu.default", &hidden, &[])?,
            Activation::ReluInplace => {
                b.inplace("aten.relu_.default", json!([hidden.arg()]), &hidden, &[])
            }
        };
        let out = linear_2d(&mut b, &hidden, &params.fc2, &bs, dims.model)?;
        let out = unflatten(&mut b, &out, &s, dims.model)?;
        h = b.pointwise("aten.add.Tensor", &h, &[&out])?;
    }

    // Head: mix in the (mutated) history window, normalise, project the last
    // position, and return the hidden state per batch element as views.
    let mixed = b.fresh(
        "aten.sum.dim_IntList",
        json!([win.arg(), [0]]),
        &[&win],
        vec![d.clone()],
        FLOAT,
    )?;
    h = b.pointwise("aten.add.Tensor", &h, &[&mixed])?;
    let ln = layer_norm(&mut b, &h, &ln_f)?;
    let last = b.view(
        "aten.select.int",
        json!([ln.arg(), 1, -1]),
        &ln,
        Geometry {
            shape: vec![int(BATCH), d.clone()],
            stride: vec![
                ln.val.stride.first().cloned().unwrap_or_else(|| int(1)),
                int(1),
            ],
            offset: s.checked_sub(&int(1))?.checked_mul(&d)?,
        },
    );
    let logits = linear_2d(&mut b, &last, &head, &int(BATCH), dims.vocab)?;
    let rows = product(&[s.clone(), d.clone()])?;
    let pieces = multiples::<BATCH_LEN>(&rows)?.map(|offset| Geometry {
        shape: vec![s.clone(), d.clone()],
        stride: vec![d.clone(), int(1)],
        offset,
    });
    let per_batch = b.multi_view("aten.unbind.int", json!([ln.arg()]), &ln, pieces);

    let mut outputs = vec![logits.arg()];
    outputs.extend(per_batch.iter().map(Ref::arg));
    outputs.extend(presents.iter().map(Ref::arg));
    b.nodes.push(json!({"name": "output", "op": "output", "target": "output", "args": [outputs], "kwargs": {}, "val": null}));

    let (operators, operator_tags) = b.operators();
    let leaf = || json!({"type": null, "context": null, "children_spec": []});
    let node_spec = |ty: &str, n: usize| json!({"type": ty, "context": "null", "children_spec": (0..n).map(|_| leaf()).collect::<Vec<_>>()});
    let in_spec = json!([1, {"type": "builtins.tuple", "context": "null", "children_spec": [
        node_spec("builtins.tuple", 4),
        {"type": "builtins.dict", "context": "[]", "children_spec": []},
    ]}]);
    let out_spec = json!([1, {"type": "builtins.tuple", "context": "null", "children_spec": [
        leaf(),
        node_spec("builtins.tuple", per_batch.len()),
        node_spec("builtins.list", presents.len()),
    ]}]);
    let name = format!(
        "decoder_n{}_s{}{}",
        opts.nodes,
        opts.seed,
        if opts.dynamic_shapes { "_dynamic" } else { "" }
    );
    Ok(json!({
        "format": "aotio.graph",
        "version": 1,
        "name": name,
        "description": format!(
            "synthetic {}-block pre-LN transformer decoder, training step: kv caches written under no_grad, \
             a step counter, two overlapping view inputs (one mutated), views returned",
            blocks.len()
        ),
        "config": {
            "keep_input_mutations": false,
            "is_train": true,
            "grad_enabled": true,
            "dynamic_shapes": opts.dynamic_shapes,
            "num_params_buffers": num_params_buffers,
            "tracer": "aotio gen",
            "torch_version": TORCH_VERSION,
        },
        "symbols": dims.symbols,
        "operators": operators,
        "operator_tags": operator_tags,
        "nodes": b.nodes,
        "input_bases": [{"tensor_id": base_id, "val": history.to_json()}],
        "in_spec": in_spec,
        "out_spec": out_spec,
    }))
}

fn swap12(v: &[SizeExpr]) -> Vec<SizeExpr> {
    let mut v = v.to_vec();
    v.swap(1, 2);
    v
}

fn layer_norm(b: &mut Builder, x: &Ref, (weight, bias): &(Ref, Ref)) -> Result<Ref, GenError> {
    let mut stats_shape = x.val.shape.clone();
    if let Some(last) = stats_shape.last_mut() {
        *last = int(1);
    }
    let normalized = x.val.shape.last().cloned().unwrap_or_else(|| int(1));
    let requires_grad = [x, weight, bias].iter().any(|r| r.val.requires_grad);
    let out = TensorVal::dense(x.val.shape.clone(), FLOAT, b.storage())?
        .with_grad(requires_grad, b.grad_enabled);
    // Mean and rstd are saved for backward, never differentiated.
    let mean = TensorVal::dense(stats_shape.clone(), FLOAT, b.storage())?;
    let rstd = TensorVal::dense(stats_shape, FLOAT, b.storage())?;
    let args = json!([
        x.arg(),
        [normalized.to_json()],
        weight.arg(),
        bias.arg(),
        1e-5
    ]);
    let [out, _, _] = b.list(
        "aten.native_layer_norm.default",
        args,
        [(out, None), (mean, None), (rstd, None)],
    );
    Ok(out)
}

/// `x.view(-1, width)`.
fn flatten(b: &mut Builder, x: &Ref, rows: &SizeExpr, width: i64) -> Result<Ref, GenError> {
    let shape = vec![rows.clone(), int(width)];
    let stride = contiguous(&shape)?;
    Ok(b.view(
        "aten.view.default",
        json!([x.arg(), [-1, width]]),
        x,
        Geometry {
            shape,
            stride,
            offset: int(0),
        },
    ))
}

/// `x.view(BATCH, -1, width)`.
fn unflatten(b: &mut Builder, x: &Ref, seq: &SizeExpr, width: i64) -> Result<Ref, GenError> {
    let shape = vec![int(BATCH), seq.clone(), int(width)];
    let stride = contiguous(&shape)?;
    Ok(b.view(
        "aten.view.default",
        json!([x.arg(), [BATCH, -1, width]]),
        x,
        Geometry {
            shape,
            stride,
            offset: int(0),
        },
    ))
}

/// `F.linear` of a matrix, decomposed: `addmm(bias, x, weight.t())`.
fn linear_2d(
    b: &mut Builder,
    x: &Ref,
    (weight, bias): &(Ref, Ref),
    rows: &SizeExpr,
    out: i64,
) -> Result<Ref, GenError> {
    let wt = b.view(
        "aten.t.default",
        json!([weight.arg()]),
        weight,
        Geometry {
            shape: weight.val.shape.iter().rev().cloned().collect(),
            stride: weight.val.stride.iter().rev().cloned().collect(),
            offset: weight.val.offset.clone(),
        },
    );
    b.fresh(
        "aten.addmm.default",
        json!([bias.arg(), x.arg(), wt.arg()]),
        &[bias, x, &wt],
        vec![rows.clone(), int(out)],
        FLOAT,
    )
}

/// `F.linear` of a `(batch, seq, width)` tensor: flatten, `addmm`, unflatten.
fn linear_3d(
    b: &mut Builder,
    x: &Ref,
    params: &(Ref, Ref),
    rows: &SizeExpr,
    width: i64,
    out: i64,
) -> Result<Ref, GenError> {
    let seq = x.val.shape.get(1).cloned().unwrap_or_else(|| int(1));
    let flat = flatten(b, x, rows, width)?;
    let y = linear_2d(b, &flat, params, rows, out)?;
    unflatten(b, &y, &seq, out)
}

// ---------------------------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------------------------

/// What the edits need to know about a dump's nodes.
struct Index {
    names: HashMap<String, usize>,
    /// Per node, the later nodes whose arguments name it.
    users: Vec<Vec<usize>>,
    /// Tensor ids carried by more than one node: objects written in place.
    written: HashSet<u64>,
}

impl Index {
    fn new(nodes: &[Json]) -> Index {
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

    fn users(&self, i: usize) -> &[usize] {
        self.users.get(i).map_or(&[], Vec::as_slice)
    }
}

fn collect_refs<'a>(arg: &'a Json, out: &mut Vec<&'a str>) {
    match arg {
        Json::Array(items) => items.iter().for_each(|a| collect_refs(a, out)),
        Json::Object(m) => match (m.len(), m.get("node").and_then(Json::as_str)) {
            (1, Some(name)) => out.push(name),
            _ => m.values().for_each(|a| collect_refs(a, out)),
        },
        _ => {}
    }
}

fn tensor_id(node: &Json) -> Option<u64> {
    node.get("tensor_id").and_then(Json::as_u64)
}

fn base_tensor_id(node: &Json) -> Option<u64> {
    node.get("base_tensor_id").and_then(Json::as_u64)
}

fn is_user_input(node: &Json) -> bool {
    node.get("op").and_then(Json::as_str) == Some("placeholder")
        && node
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or("user_input")
            == "user_input"
}

fn target(node: &Json) -> &str {
    node.get("target")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

fn node_tensor(node: &Json) -> Option<TensorVal> {
    TensorVal::from_json(node.get("val")?)
}

fn set_val(node: &mut Json, val: &TensorVal) {
    if let Some(obj) = node.as_object_mut() {
        obj.insert("val".to_owned(), val.to_json());
    }
}

fn nodes_mut(dump: &mut Json) -> Result<&mut Vec<Json>, GenError> {
    dump.get_mut("nodes")
        .and_then(Json::as_array_mut)
        .ok_or_else(|| GenError::Malformed("no `nodes` array".into()))
}

fn name_of(node: &Json) -> String {
    node.get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A call whose value is new: no view, not its argument returned (the
/// results of its users then do not depend on the layout or identity of
/// what they read).
fn makes_fresh_value(index: &Index, nodes: &[Json], user: usize) -> bool {
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
fn reads_only_sizes(nodes: &[Json], user: usize) -> bool {
    nodes
        .get(user)
        .is_some_and(|n| target(n) == "aten.sym_size.int")
}

/// A user whose value stays the same when what it reads changes layout,
/// `requires_grad` (given another input requiring grad) or identity.
fn is_indifferent_user(index: &Index, nodes: &[Json], user: usize) -> bool {
    makes_fresh_value(index, nodes, user) || reads_only_sizes(nodes, user)
}

/// Flips a placeholder between row-major and "dimension 1 outermost".
fn edit_layout(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn edit_op(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
    const SWAPS: &[(&str, &str)] = &[
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
struct Context {
    hints: HashMap<String, i64>,
    bases: HashMap<u64, TensorVal>,
}

impl Context {
    fn of(dump: &Json) -> Context {
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
    fn eval(&self, e: &SizeExpr) -> Option<i64> {
        e.eval(&|s: &str| self.hints.get(s).copied()).ok()
    }

    /// The base's value, from `input_bases` or the placeholder that is the base.
    fn base(&self, nodes: &[Json], id: u64) -> Option<TensorVal> {
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
    fn storage_elements(&self, t: &TensorVal) -> Option<i64> {
        let size = i64::try_from(itemsize(&t.dtype)?).ok()?;
        Some(self.eval(&t.nbytes)? / size)
    }

    /// Does the element range of `b` meet that of `a`?
    fn overlaps(&self, a: &TensorVal, b: &TensorVal) -> Option<bool> {
        let (a0, b0) = (self.eval(&a.offset)?, self.eval(&b.offset)?);
        let a1 = a0 + self.eval(&extent(a).ok()?)?;
        let b1 = b0 + self.eval(&extent(b).ok()?)?;
        Some(a0 < b1 && b0 < a1)
    }

    /// Does `t` lie inside its storage of `elements` elements?
    fn fits(&self, t: &TensorVal, elements: i64) -> Option<bool> {
        Some(self.eval(&t.offset)? + self.eval(&extent(t).ok()?)? <= elements)
    }
}

/// A user input that may change without touching any other node: not
/// written, read only by ops that make fresh values.
fn is_free_input(index: &Index, nodes: &[Json], i: usize) -> bool {
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
fn view_inputs(nodes: &[Json]) -> BTreeMap<u64, Vec<(usize, TensorVal)>> {
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
fn shifted(a: &TensorVal) -> Result<TensorVal, ExprError> {
    let mut t = a.clone();
    t.offset = a.offset.checked_add(a.stride.first().unwrap_or(&int(1)))?;
    Ok(t)
}

/// Moves a view input between overlapping its sibling and lying after it.
fn edit_overlap(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn edit_storage(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn edit_requires_grad(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn edit_add_node(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn edit_remove_node(dump: &mut Json, rng: &mut SplitMix64) -> Result<String, GenError> {
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
fn rename_as_fx(dump: &mut Json) -> Result<usize, GenError> {
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
fn rename_all_refs(arg: &mut Json, renamed: &HashMap<String, String>) {
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

fn rename_refs(arg: &mut Json, from: &str, to: &str) {
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

fn set_description(dump: &mut Json, what: &str) {
    const MARK: &str = " | edit: ";
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

// ---------------------------------------------------------------------------------------------
// Keeping a dump canonical
// ---------------------------------------------------------------------------------------------

/// `operators` and `operator_tags` for exactly the ATen targets called,
/// in the dump's own schemas where it has them.
fn sync_operators(dump: &mut Json) -> Result<(), GenError> {
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
fn normalize_ids(dump: &mut Json) -> Result<(), GenError> {
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
struct Renumbering(HashMap<u64, u64>);

impl Renumbering {
    fn get(&mut self, old: u64) -> u64 {
        let next = self.0.len() as u64;
        *self.0.entry(old).or_insert(next)
    }
}

fn renumber_storages(val: &mut Json, storages: &mut Renumbering) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator names nodes as FX does, so renaming a fresh dump the
    /// FX way changes nothing, and renaming twice changes nothing more.
    #[test]
    fn generated_names_are_fx_names() {
        for dynamic_shapes in [false, true] {
            let opts = GenOptions {
                nodes: 300,
                seed: 2,
                dynamic_shapes,
            };
            let mut dump = generate(&opts).expect("generates");
            assert_eq!(rename_as_fx(&mut dump), Ok(0));
            let mut edited = edit(&dump, EditKind::AddNodeRenumbered, 1).expect("applies");
            assert_eq!(rename_as_fx(&mut edited), Ok(0));
        }
    }
}
