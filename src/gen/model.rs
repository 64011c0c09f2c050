//! The model the generator writes: a pre-LN transformer decoder's training
//! step, block by block.

use super::*;

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
) -> Result<Json, GenError> {
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
pub(super) fn linear_2d(
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
pub(super) fn linear_3d(
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
