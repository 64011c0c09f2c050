//! What the analyses read of a node's value besides its geometry: derived
//! from the value once, stored beside it in the database, so that a shape
//! or stride edit leaves everything that reads only these facts valid.

use super::autograd::RecordedAutograd;
use super::collect::python_type;
use super::signature::ArgKind;
use crate::ir::dtype::is_floating_point;
use crate::ir::{Autograd, Value};

/// A value's facts that change less often than its geometry, derived from
/// the value whenever it is set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValueFacts {
    /// The recorded autograd facts of a tensor value.
    pub autograd: Option<Autograd>,
    /// The tensor's real storage.
    pub storage: Option<u64>,
    /// A tensor of a floating-point dtype.
    pub is_floating: bool,
    /// What export sees: a tensor, a symbol, or a constant.
    pub arg_kind: ArgKind,
    /// The Python type of the value as AOTAutograd sees it.
    pub type_name: &'static str,
}

impl ValueFacts {
    /// The facts of `value`.
    pub fn of(value: &Value) -> ValueFacts {
        let tensor = value.as_tensor();
        ValueFacts {
            autograd: tensor.map(|t| t.autograd),
            storage: tensor.map(|t| t.geometry.storage),
            is_floating: tensor.is_some_and(|t| is_floating_point(&t.geometry.dtype)),
            arg_kind: ArgKind::of(value),
            type_name: python_type(value),
        }
    }
}

/// Every node's facts in graph order: the recorded autograd facts are read from them.
impl RecordedAutograd for &[ValueFacts] {
    fn recorded_autograd(&self, node: usize) -> Option<Autograd> {
        self.get(node).and_then(|f| f.autograd)
    }
}
