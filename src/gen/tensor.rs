//! A tensor value as the generator writes it into a node's `val`.

use super::*;

/// A tensor value (format §7), as the generator builds it and the edits change it.
#[derive(Clone, Debug)]
pub(super) struct TensorVal {
    pub(super) shape: Vec<SizeExpr>,
    pub(super) stride: Vec<SizeExpr>,
    pub(super) offset: SizeExpr,
    pub(super) dtype: String,
    pub(super) device: String,
    pub(super) requires_grad: bool,
    pub(super) is_leaf: bool,
    pub(super) is_view: bool,
    pub(super) nbytes: SizeExpr,
    pub(super) storage: u64,
    pub(super) grad_fn: Option<String>,
    pub(super) layout: String,
    pub(super) is_conj: bool,
    pub(super) is_neg: bool,
}

impl TensorVal {
    /// A dense, row-major tensor of its own storage that does not require grad.
    pub(super) fn dense(
        shape: Vec<SizeExpr>,
        dtype: &str,
        storage: u64,
    ) -> Result<TensorVal, GenError> {
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
    pub(super) fn with_grad(mut self, requires_grad: bool, grad_enabled: bool) -> TensorVal {
        self.requires_grad = requires_grad;
        self.is_leaf = !(requires_grad && grad_enabled);
        self.grad_fn = (!self.is_leaf).then(|| "builtin".to_owned());
        self
    }

    pub(super) fn is_float(&self) -> bool {
        matches!(
            self.dtype.as_str(),
            "float32" | "float16" | "bfloat16" | "float64"
        )
    }

    pub(super) fn to_json(&self) -> Json {
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
    pub(super) fn from_json(val: &Json) -> Option<TensorVal> {
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
