//! The final autograd state of every tensor object (semantics §3.2, "Final
//! autograd state", rules A1–A3): what a dump recorded when each node was
//! produced, corrected for changes that reached an object through an alias.

use super::error::{AnalysisError, ExceptionType, Stage, TorchError};
use super::trace::{AliasTrace, ObjectIdx};
use crate::ir::{Autograd, GradFn};

/// An object's autograd facts at the end of the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FinalAutograd {
    pub requires_grad: bool,
    /// `g ≠ none` of semantics §3.3.4.
    pub has_grad_fn: bool,
    pub custom_grad_fn: bool,
    /// A view made under no_grad whose base was later written with grad (A3):
    /// any use of its autograd state is an error.
    pub poisoned: bool,
}

impl FinalAutograd {
    fn from_recorded(a: &Autograd) -> Self {
        let has_grad_fn = match a.grad_fn {
            GradFn::None => false,
            GradFn::Builtin | GradFn::Custom => true,
            // Dumps without the key: a non-leaf has a grad_fn (semantics §3.3.4).
            GradFn::Unknown => !a.is_leaf,
        };
        FinalAutograd {
            requires_grad: a.requires_grad,
            has_grad_fn,
            custom_grad_fn: a.grad_fn == GradFn::Custom,
            poisoned: false,
        }
    }
}

/// `recorded(node)` is the autograd facts a tensor node's value carries.
pub fn final_autograd(
    trace: &AliasTrace,
    recorded: &dyn Fn(usize) -> Option<Autograd>,
) -> Result<Vec<FinalAutograd>, AnalysisError> {
    let mut state: Vec<FinalAutograd> = trace
        .objects
        .iter()
        .map(|o| {
            recorded(o.last_node)
                .map(|a| FinalAutograd::from_recorded(&a))
                .unwrap_or(FinalAutograd {
                    requires_grad: false,
                    has_grad_fn: false,
                    custom_grad_fn: false,
                    poisoned: false,
                })
        })
        .collect();

    // A1: a grad-requiring write through a differentiable view reaches its root base.
    let mut upgraded: std::collections::HashSet<ObjectIdx> = std::collections::HashSet::new();
    for w in &trace.writes {
        let Some(obj) = trace.objects.get(w.object) else {
            continue;
        };
        let result_requires_grad = recorded(w.node).is_some_and(|a| a.requires_grad);
        if !w.grad_enabled || !result_requires_grad {
            continue;
        }
        let Some(base) = obj.base else {
            continue;
        };
        if !obj.created_with_grad {
            return Err(TorchError::new(
                Stage::CollectMetadata,
                ExceptionType::RuntimeError,
                "a view was created in no_grad mode and is being modified inplace with grad mode enabled",
            )
            .at_node(w.node)
            .into());
        }
        if let Some(b) = state.get_mut(base) {
            if !b.requires_grad {
                upgraded.insert(base);
            }
            b.requires_grad = true;
            b.has_grad_fn = true;
            b.custom_grad_fn = false;
        }
    }

    // A2: views follow a base that started requiring grad; A3: no_grad views are poisoned.
    if !upgraded.is_empty() {
        for (idx, obj) in trace.objects.iter().enumerate() {
            if !obj.base.is_some_and(|b| upgraded.contains(&b)) {
                continue;
            }
            if let Some(v) = state.get_mut(idx) {
                if !obj.created_with_grad {
                    v.poisoned = true;
                } else if !v.requires_grad {
                    v.requires_grad = true;
                    v.has_grad_fn = true;
                }
            }
        }
    }
    Ok(state)
}
