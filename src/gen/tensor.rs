//! Tensor values as the generator makes them and the edits change them.

use super::*;
use crate::ir::{Autograd, Geometry, GradFn};

/// A dense, row-major tensor of its own storage that does not require grad.
pub(super) fn dense(
    shape: Vec<SizeExpr>,
    dtype: &str,
    storage: u64,
) -> Result<TensorMeta, GenError> {
    let size = itemsize(dtype)
        .and_then(|s| i64::try_from(s).ok())
        .unwrap_or(1);
    Ok(TensorMeta {
        geometry: Geometry {
            stride: contiguous(&shape)?,
            storage_nbytes: product(&[int(size), numel(&shape)?])?,
            shape,
            storage_offset: int(0),
            dtype: Arc::from(dtype),
            device: Arc::from("cpu"),
            storage,
            layout: Arc::from("strided"),
            is_conj: false,
            is_neg: false,
        },
        autograd: Autograd {
            requires_grad: false,
            is_leaf: true,
            is_view: false,
            grad_fn: GradFn::None,
        },
    })
}

/// What the generator asks of a tensor beyond the model's fields.
pub(super) trait TensorExt {
    /// Autograd facts of a value made under `grad_enabled` that requires
    /// grad or not: a graph node exactly when grad is on and required.
    fn with_grad(self, requires_grad: bool, grad_enabled: bool) -> Self;
    fn is_float(&self) -> bool;
    fn requires_grad(&self) -> bool;
    fn is_view(&self) -> bool;
}

impl TensorExt for TensorMeta {
    fn with_grad(mut self, requires_grad: bool, grad_enabled: bool) -> TensorMeta {
        let a = &mut self.autograd;
        a.requires_grad = requires_grad;
        a.is_leaf = !(requires_grad && grad_enabled);
        a.grad_fn = if a.is_leaf {
            GradFn::None
        } else {
            GradFn::Builtin
        };
        self
    }

    fn is_float(&self) -> bool {
        matches!(
            &*self.geometry.dtype,
            "float32" | "float16" | "bfloat16" | "float64"
        )
    }

    fn requires_grad(&self) -> bool {
        self.autograd.requires_grad
    }

    fn is_view(&self) -> bool {
        self.autograd.is_view
    }
}
