//! The model the generator writes: a pre-LN transformer decoder's training
//! step, block by block.

use super::*;
use crate::ir::pytree::{NodeType, TreeSpec};
use crate::ir::{Config, Flavour, InputBase};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Activation {
    Gelu,
    Relu,
    /// `nn.ReLU(inplace=True)`: `relu_` on the linear's output.
    ReluInplace,
}

impl Activation {
    pub(super) fn choose(rng: &mut SplitMix64) -> Activation {
        match rng.below(4) {
            0 | 1 => Activation::Gelu,
            2 => Activation::Relu,
            _ => Activation::ReluInplace,
        }
    }
}

/// Nodes outside the blocks (placeholders, prologue, head, output) and per
/// block, so that the requested node count picks the number of blocks.
pub(super) const FIXED_NODES: usize = 24;
pub(super) const BLOCK_NODES: usize = 54;

pub(super) fn block_count(nodes: usize, dynamic: bool) -> usize {
    let fixed = FIXED_NODES + usize::from(dynamic);
    ((nodes.saturating_sub(fixed) + BLOCK_NODES / 2) / BLOCK_NODES).max(1)
}

/// One block's parameters and buffers.
pub(super) struct BlockParams {
    pub(super) ln1: (Ref, Ref),
    pub(super) qkv: (Ref, Ref),
    pub(super) proj: (Ref, Ref),
    pub(super) ln2: (Ref, Ref),
    pub(super) fc1: (Ref, Ref),
    pub(super) fc2: (Ref, Ref),
    pub(super) k_cache: Ref,
    pub(super) v_cache: Ref,
}

pub(super) fn decoder(
    opts: &GenOptions,
    dims: &Dims,
    activations: &[Activation],
) -> Result<Draft, GenError> {
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
        InputKind::UserInput,
        None,
        dense(vec![int(BATCH), s.clone(), d.clone()], FLOAT, storage)?,
        None,
    );
    let storage = b.storage();
    let positions = b.placeholder(
        "cache_position",
        InputKind::UserInput,
        None,
        dense(vec![s.clone()], INT, storage)?,
        None,
    );
    let base_id = b.id();
    let storage = b.storage();
    let history = dense(
        vec![product(&[int(2), w.clone()])?, d.clone()],
        FLOAT,
        storage,
    )?;
    let window_view = |offset: SizeExpr| {
        let mut val = history.clone();
        val.geometry.shape = vec![w.clone(), d.clone()];
        val.geometry.storage_offset = offset;
        val.autograd.is_view = true;
        val
    };
    let hist = b.placeholder(
        "hist",
        InputKind::UserInput,
        None,
        window_view(int(0)),
        Some(base_id),
    );
    let win = b.placeholder(
        "win",
        InputKind::UserInput,
        None,
        window_view(d.clone()),
        Some(base_id),
    );

    // With dynamic shapes, slicing to the sequence length needs it as a node.
    let seq_end = if opts.dynamic_shapes {
        let name = b.call(
            "aten.sym_size.int",
            vec![x.arg(), Arg::Int(1)],
            Value::SymInt(s.clone()),
            None,
        );
        Arg::Node(name)
    } else {
        size_arg(&s)
    };

    b.inplace(
        "aten.add_.Tensor",
        vec![step.arg(), Arg::Int(1)],
        &step,
        &[],
    );
    b.inplace("aten.mul_.Tensor", vec![hist.arg(), float(0.9)], &hist, &[]);

    let bs = product(&[int(BATCH), s.clone()])?;
    let scale = 1.0 / (dims.model as f64).sqrt();
    let mut h = x.clone();
    let mut presents = Vec::with_capacity(blocks.len());
    for (params, act) in blocks.iter().zip(activations) {
        // Attention.
        let ln = layer_norm(&mut b, &h, &params.ln1)?;
        let qkv = linear_3d(&mut b, &ln, &params.qkv, &bs, dims.model, 3 * dims.model)?;
        let pieces = [0, 1, 2].map(|k| ViewGeometry {
            shape: vec![int(BATCH), s.clone(), d.clone()],
            stride: qkv.val.geometry.stride.clone(),
            offset: int(k * dims.model),
        });
        let [q, k, vv] = b.multi_view(
            "aten.split.Tensor",
            vec![qkv.arg(), Arg::Int(dims.model), Arg::Int(-1)],
            &qkv,
            pieces,
        );

        b.set_grad_enabled(false);
        let k_cache = b.inplace(
            "aten.index_copy_.default",
            vec![params.k_cache.arg(), Arg::Int(1), positions.arg(), k.arg()],
            &params.k_cache,
            &[&positions, &k],
        );
        let prefix = |cache: &Ref| ViewGeometry {
            shape: vec![int(BATCH), s.clone(), d.clone()],
            stride: cache.val.geometry.stride.clone(),
            offset: int(0),
        };
        let v_slice = b.view(
            "aten.slice.Tensor",
            vec![
                params.v_cache.arg(),
                Arg::Int(1),
                Arg::Int(0),
                seq_end.clone(),
            ],
            &params.v_cache,
            prefix(&params.v_cache),
        );
        b.inplace(
            "aten.copy_.default",
            vec![v_slice.arg(), vv.arg()],
            &v_slice,
            &[&vv],
        );
        b.set_grad_enabled(true);

        let kt = b.view(
            "aten.transpose.int",
            vec![k.arg(), Arg::Int(1), Arg::Int(2)],
            &k,
            ViewGeometry {
                shape: vec![int(BATCH), d.clone(), s.clone()],
                stride: swap12(&k.val.geometry.stride),
                offset: k.val.geometry.storage_offset.clone(),
            },
        );
        let scores_shape = vec![int(BATCH), s.clone(), s.clone()];
        let scores = b.fresh(
            "aten.bmm.default",
            vec![q.arg(), kt.arg()],
            &[&q, &kt],
            scores_shape.clone(),
            FLOAT,
        )?;
        let scaled = b.fresh(
            "aten.mul.Tensor",
            vec![scores.arg(), float(scale)],
            &[&scores],
            scores_shape.clone(),
            FLOAT,
        )?;
        let probs = b.fresh(
            "aten._softmax.default",
            vec![scaled.arg(), Arg::Int(-1), Arg::Bool(false)],
            &[&scaled],
            scores_shape,
            FLOAT,
        )?;
        let attn = b.fresh(
            "aten.bmm.default",
            vec![probs.arg(), vv.arg()],
            &[&probs, &vv],
            vec![int(BATCH), s.clone(), d.clone()],
            FLOAT,
        )?;
        let out = linear_3d(&mut b, &attn, &params.proj, &bs, dims.model, dims.model)?;
        h = b.pointwise("aten.add.Tensor", &h, &[&out])?;
        presents.push(b.view(
            "aten.slice.Tensor",
            vec![k_cache.arg(), Arg::Int(1), Arg::Int(0), seq_end.clone()],
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
                b.inplace("aten.relu_.default", vec![hidden.arg()], &hidden, &[])
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
        vec![win.arg(), Arg::List(vec![Arg::Int(0)])],
        &[&win],
        vec![d.clone()],
        FLOAT,
    )?;
    h = b.pointwise("aten.add.Tensor", &h, &[&mixed])?;
    let ln = layer_norm(&mut b, &h, &ln_f)?;
    let last = b.view(
        "aten.select.int",
        vec![ln.arg(), Arg::Int(1), Arg::Int(-1)],
        &ln,
        ViewGeometry {
            shape: vec![int(BATCH), d.clone()],
            stride: vec![
                ln.val
                    .geometry
                    .stride
                    .first()
                    .cloned()
                    .unwrap_or_else(|| int(1)),
                int(1),
            ],
            offset: s.checked_sub(&int(1))?.checked_mul(&d)?,
        },
    );
    let logits = linear_2d(&mut b, &last, &head, &int(BATCH), dims.vocab)?;
    let rows = product(&[s.clone(), d.clone()])?;
    let pieces = multiples::<BATCH_LEN>(&rows)?.map(|offset| ViewGeometry {
        shape: vec![s.clone(), d.clone()],
        stride: vec![d.clone(), int(1)],
        offset,
    });
    let per_batch = b.multi_view("aten.unbind.int", vec![ln.arg()], &ln, pieces);

    let mut outputs = vec![logits.arg()];
    outputs.extend(per_batch.iter().map(Ref::arg));
    outputs.extend(presents.iter().map(Ref::arg));
    b.nodes.push(Open {
        s: NodeStructure {
            name: Arc::from("output"),
            op: NodeOp::Output,
            target: Arc::from("output"),
            args: vec![Arg::List(outputs)],
            kwargs: Vec::new(),
            tensor_id: None,
            base_tensor_id: None,
        },
        val: Value::None,
    });

    let leaves = |n: usize| vec![TreeSpec::Leaf; n];
    let list = |children| TreeSpec::Node {
        node_type: NodeType::List,
        context: Some("null".to_owned()),
        children,
    };
    let in_spec = TreeSpec::tuple(vec![TreeSpec::tuple(leaves(4)), TreeSpec::empty_dict()]);
    let out_spec = TreeSpec::tuple(vec![
        TreeSpec::Leaf,
        TreeSpec::tuple(leaves(per_batch.len())),
        list(leaves(presents.len())),
    ]);
    let name = format!(
        "decoder_n{}_s{}{}",
        opts.nodes,
        opts.seed,
        if opts.dynamic_shapes { "_dynamic" } else { "" }
    );
    let graph = Graph {
        name,
        description: format!(
            "synthetic {}-block pre-LN transformer decoder, training step: kv caches written under no_grad, \
             a step counter, two overlapping view inputs (one mutated), views returned",
            blocks.len()
        ),
        config: Config {
            keep_input_mutations: false,
            is_train: true,
            grad_enabled: true,
            dynamic_shapes: opts.dynamic_shapes,
            num_params_buffers,
            export: vec![Flavour::Inference],
            tracer: Some("aotio gen".to_owned()),
            torch_version: Some(TORCH_VERSION.to_owned()),
        },
        symbols: dims.symbols.clone(),
        operators: b.operators(),
        nodes: Vec::new(),
        input_bases: vec![InputBase {
            tensor_id: base_id,
            val: history,
        }],
        in_spec: Some(in_spec),
        out_spec: Some(out_spec),
    };
    Ok(Draft {
        graph,
        nodes: b.nodes,
    })
}

pub(super) fn swap12(v: &[SizeExpr]) -> Vec<SizeExpr> {
    let mut v = v.to_vec();
    v.swap(1, 2);
    v
}

pub(super) fn layer_norm(
    b: &mut Builder,
    x: &Ref,
    (weight, bias): &(Ref, Ref),
) -> Result<Ref, GenError> {
    let mut stats_shape = x.val.geometry.shape.clone();
    if let Some(last) = stats_shape.last_mut() {
        *last = int(1);
    }
    let normalized = x
        .val
        .geometry
        .shape
        .last()
        .cloned()
        .unwrap_or_else(|| int(1));
    let requires_grad = [x, weight, bias].iter().any(|r| r.val.requires_grad());
    let out = dense(x.val.geometry.shape.clone(), FLOAT, b.storage())?
        .with_grad(requires_grad, b.grad_enabled);
    // Mean and rstd are saved for backward, never differentiated.
    let mean = dense(stats_shape.clone(), FLOAT, b.storage())?;
    let rstd = dense(stats_shape, FLOAT, b.storage())?;
    let args = vec![
        x.arg(),
        Arg::List(vec![size_arg(&normalized)]),
        weight.arg(),
        bias.arg(),
        float(1e-5),
    ];
    let [out, _, _] = b.list(
        "aten.native_layer_norm.default",
        args,
        [(out, None), (mean, None), (rstd, None)],
    );
    Ok(out)
}

/// `x.view(-1, width)`.
pub(super) fn flatten(
    b: &mut Builder,
    x: &Ref,
    rows: &SizeExpr,
    width: i64,
) -> Result<Ref, GenError> {
    let shape = vec![rows.clone(), int(width)];
    let stride = contiguous(&shape)?;
    Ok(b.view(
        "aten.view.default",
        vec![x.arg(), Arg::List(vec![Arg::Int(-1), Arg::Int(width)])],
        x,
        ViewGeometry {
            shape,
            stride,
            offset: int(0),
        },
    ))
}

/// `x.view(BATCH, -1, width)`.
pub(super) fn unflatten(
    b: &mut Builder,
    x: &Ref,
    seq: &SizeExpr,
    width: i64,
) -> Result<Ref, GenError> {
    let shape = vec![int(BATCH), seq.clone(), int(width)];
    let stride = contiguous(&shape)?;
    Ok(b.view(
        "aten.view.default",
        vec![
            x.arg(),
            Arg::List(vec![Arg::Int(BATCH), Arg::Int(-1), Arg::Int(width)]),
        ],
        x,
        ViewGeometry {
            shape,
            stride,
            offset: int(0),
        },
    ))
}

/// `F.linear` of a matrix, decomposed: `addmm(bias, x, weight.t())`.
pub(super) fn linear_2d(
    b: &mut Builder,
    x: &Ref,
    (weight, bias): &(Ref, Ref),
    rows: &SizeExpr,
    out: i64,
) -> Result<Ref, GenError> {
    let wt = b.view(
        "aten.t.default",
        vec![weight.arg()],
        weight,
        ViewGeometry {
            shape: weight.val.geometry.shape.iter().rev().cloned().collect(),
            stride: weight.val.geometry.stride.iter().rev().cloned().collect(),
            offset: weight.val.geometry.storage_offset.clone(),
        },
    );
    b.fresh(
        "aten.addmm.default",
        vec![bias.arg(), x.arg(), wt.arg()],
        &[bias, x, &wt],
        vec![rows.clone(), int(out)],
        FLOAT,
    )
}

/// `F.linear` of a `(batch, seq, width)` tensor: flatten, `addmm`, unflatten.
pub(super) fn linear_3d(
    b: &mut Builder,
    x: &Ref,
    params: &(Ref, Ref),
    rows: &SizeExpr,
    width: i64,
    out: i64,
) -> Result<Ref, GenError> {
    let seq = x
        .val
        .geometry
        .shape
        .get(1)
        .cloned()
        .unwrap_or_else(|| int(1));
    let flat = flatten(b, x, rows, width)?;
    let y = linear_2d(b, &flat, params, rows, out)?;
    unflatten(b, &y, &seq, out)
}

/// A size as an argument: an int, or the expression's text.
pub(super) fn size_arg(e: &SizeExpr) -> Arg {
    match e.as_int() {
        Some(v) => Arg::Int(v),
        None => Arg::Str(e.to_string()),
    }
}

pub(super) fn float(v: f64) -> Arg {
    Arg::Float(F64::new(v))
}
