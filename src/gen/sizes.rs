//! The model's sizes, integer or symbolic (format §3), and the stride
//! arithmetic over them.

use super::*;
use crate::ir::{Replacement, Symbol, Symbols};

pub(super) const BATCH_LEN: usize = 2;
pub(super) const BATCH: i64 = BATCH_LEN as i64;
/// Rows of each view input; the base holds twice as many.
pub(super) const WINDOW: i64 = 6;
pub(super) const TORCH_VERSION: &str = "2.15.0";
pub(super) const FLOAT: &str = "float32";
pub(super) const INT: &str = "int64";

/// Sizes of one generated model. Sequence and window lengths are symbols
/// with dynamic shapes; batch and model width are specialised, as Dynamo
/// does once they meet the static buffers and parameters.
pub(super) struct Dims {
    pub(super) model: i64,
    pub(super) ffn: i64,
    pub(super) vocab: i64,
    pub(super) max_seq: i64,
    pub(super) seq: SizeExpr,
    pub(super) window: SizeExpr,
    pub(super) symbols: Symbols,
}

impl Dims {
    pub(super) fn choose(rng: &mut SplitMix64, dynamic: bool) -> Dims {
        // Distinct from each other and from BATCH and WINDOW, so duck sizing
        // never merges two of them.
        let model = *rng.pick(&[16, 32, 64]).unwrap_or(&16);
        let seq_hint = *rng.pick(&[4, 8, 12]).unwrap_or(&8);
        let max_seq = 4 * seq_hint;
        let mut symbols = BTreeMap::new();
        let (seq, window) = if dynamic {
            let mut taken = HashSet::new();
            let mut symbol = |source: &str, info: Symbol, symbols: &mut Symbols| {
                let name = symbol_name(source, &mut taken);
                symbols.insert(name.clone(), info);
                name
            };
            let specialised = |source: &str, v: i64| Symbol {
                hint: v,
                min: Some(v),
                max: Some(v),
                source: Some(source.to_owned()),
                replaced_by: Some(Replacement::Int(v)),
            };
            let free = |source: &str, hint: i64, max: Option<i64>| Symbol {
                hint,
                min: Some(2),
                max,
                source: Some(source.to_owned()),
                replaced_by: None,
            };
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
            symbols,
        }
    }
}

/// PyTorch names symbols after a hash of their source (`s77`); so do we.
pub(super) fn symbol_name(source: &str, taken: &mut HashSet<u64>) -> String {
    let fnv = source.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut n = fnv % 100;
    while !taken.insert(n) {
        n = (n + 1) % 100;
    }
    format!("s{n}")
}

pub(super) fn int(v: i64) -> SizeExpr {
    SizeExpr::int(v)
}

pub(super) fn product(factors: &[SizeExpr]) -> Result<SizeExpr, ExprError> {
    SizeExpr::product(factors)
}

/// Row-major strides, folded the way PyTorch computes (and prints) them.
pub(super) fn contiguous(shape: &[SizeExpr]) -> Result<Vec<SizeExpr>, ExprError> {
    strides_in_order(shape, &(0..shape.len()).collect::<Vec<_>>())
}

/// Dense strides with dimensions laid out `order[0]` outermost.
pub(super) fn strides_in_order(
    shape: &[SizeExpr],
    order: &[usize],
) -> Result<Vec<SizeExpr>, ExprError> {
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
pub(super) fn multiples<const N: usize>(step: &SizeExpr) -> Result<[SizeExpr; N], ExprError> {
    let mut out = std::array::from_fn(|_| int(0));
    let mut next = int(0);
    for slot in &mut out {
        *slot = next.clone();
        next = next.checked_add(step)?;
    }
    Ok(out)
}

pub(super) fn numel(shape: &[SizeExpr]) -> Result<SizeExpr, ExprError> {
    product(shape)
}

/// Elements from the first to one past the last a view can reach:
/// `1 + Σ (size - 1)·stride` (the view is never empty here).
pub(super) fn extent(t: &TensorMeta) -> Result<SizeExpr, ExprError> {
    let mut total = int(1);
    let g = &t.geometry;
    for (size, stride) in g.shape.iter().zip(&g.stride) {
        total = total.checked_add(&size.checked_sub(&int(1))?.checked_mul(stride)?)?;
    }
    Ok(total)
}
