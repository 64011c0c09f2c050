//! The final autograd state of every tensor object (semantics §3.2, "Final
//! autograd state", rules A1–A3): what a dump recorded when each node was
//! produced, corrected for changes that reached an object through an alias.

use super::error::{AnalysisError, ExceptionType, Stage, TorchError};
use super::trace::{AliasTrace, ObjectIdx};
use crate::ir::{Autograd, GradFn};

/// The autograd facts the dump recorded for each node's value, by node
/// index: what the autograd analysis reads of the values.
pub trait RecordedAutograd {
    /// The recorded facts of node `node`'s value; `None` for a value that is not one tensor.
    fn recorded_autograd(&self, node: usize) -> Option<Autograd>;
}

/// An object's autograd facts at the end of the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FinalAutograd {
    /// `requires_grad` at the end of the function.
    pub requires_grad: bool,
    /// `g ≠ none` of semantics §3.3.4.
    pub has_grad_fn: bool,
    /// Its `grad_fn` comes from a custom `autograd.Function`.
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

/// Autograd's refusal, caused by graph node `node`.
fn refusal(message: String, node: usize) -> AnalysisError {
    TorchError::new(Stage::CollectMetadata, ExceptionType::RuntimeError, message)
        .at_node(node)
        .into()
}

/// `recorded` gives the autograd facts a tensor node's value carries.
///
/// Autograd's own refusals while the function is traced are raised here,
/// each where PyTorch raises it:
/// * `handle_view_on_rebase` (reached from `check_inplace`): an in-place
///   write with grad on, of a grad-requiring value, to a view made under
///   `no_grad` or to an output of a multi-output view op (`unbind`, `split`);
/// * `handle_view_on_rebase` (reached from `VariableHooks::grad_fn`): a view
///   made under `no_grad` or by a multi-output view op, used after its base
///   (or another view of it) was written with grad on by a grad-requiring value;
/// * `throw_error_out_requires_grad`: an `out=` op with grad on whose inputs
///   require grad;
/// * `VariableTypeManual`'s `resize_`: resizing a tensor that requires grad.
pub fn final_autograd(
    trace: &AliasTrace,
    recorded: &dyn RecordedAutograd,
) -> Result<Vec<FinalAutograd>, AnalysisError> {
    let mut state: Vec<FinalAutograd> = trace
        .objects
        .iter()
        .map(|o| {
            recorded
                .recorded_autograd(o.last_node)
                .map(|a| FinalAutograd::from_recorded(&a))
                .unwrap_or(FinalAutograd {
                    requires_grad: false,
                    has_grad_fn: false,
                    custom_grad_fn: false,
                    poisoned: false,
                })
        })
        .collect();
    let requires_grad_at = |node: usize| {
        recorded
            .recorded_autograd(node)
            .is_some_and(|a| a.requires_grad)
    };

    for r in &trace.resizes {
        if requires_grad_at(r.before) {
            return Err(refusal(
                "cannot resize variables that require grad".to_owned(),
                r.node,
            ));
        }
    }

    // A1: a grad-requiring write through a differentiable view reaches its root base.
    // Bases that start requiring grad, for the views that follow them (A2, A3).
    let mut upgraded: std::collections::HashSet<ObjectIdx> = std::collections::HashSet::new();
    // Every root written with grad by a grad-requiring value: those writes, in order.
    let mut rebased: std::collections::HashMap<ObjectIdx, Vec<usize>> =
        std::collections::HashMap::new();
    for w in &trace.writes {
        let Some(obj) = trace.objects.get(w.object) else {
            continue;
        };
        if let (true, Some(inputs)) = (w.grad_enabled, &w.out_variant_inputs) {
            let any = inputs.iter().any(|&o| {
                trace
                    .objects
                    .get(o)
                    .is_some_and(|i| requires_grad_at(i.first_node))
            });
            if any {
                return Err(refusal(
                    "functions with out=... arguments don't support automatic differentiation, \
                     but one of the arguments requires grad."
                        .to_owned(),
                    w.node,
                ));
            }
        }
        let result_requires_grad = requires_grad_at(w.node);
        if !w.grad_enabled || !result_requires_grad {
            continue;
        }
        rebased
            .entry(obj.base.unwrap_or(w.object))
            .or_default()
            .push(w.node);
        let Some(base) = obj.base else {
            // Written directly: a root that starts requiring grad rebases its views.
            if !requires_grad_at(obj.first_node) {
                upgraded.insert(w.object);
            }
            continue;
        };
        if !obj.created_with_grad {
            return Err(refusal(
                "A view was created in no_grad mode and is being modified inplace with grad mode enabled."
                    .to_owned(),
                w.node,
            ));
        }
        if obj.multi_output_view {
            return Err(refusal(
                "A view is the output of a function that returns multiple views and is being \
                 modified inplace. Such functions do not allow the output views to be modified \
                 inplace."
                    .to_owned(),
                w.node,
            ));
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

    // A view whose creation forbids rebasing (made under no_grad, or by a
    // multi-output view op), used after its base was rebased.
    for obj in &trace.objects {
        let Some(writes) = obj.base.and_then(|b| rebased.get(&b)) else {
            continue;
        };
        let restricted = !obj.created_with_grad || obj.multi_output_view;
        let between = writes
            .iter()
            .any(|&w| obj.first_node < w && w < obj.last_use);
        if restricted && between {
            let message = if obj.created_with_grad {
                "A view is the output of a function that returns multiple views, and its base or \
                 another view of its base has been modified inplace."
            } else {
                "A view was created in no_grad mode and its base or another view of its base has \
                 been modified inplace with grad mode enabled."
            };
            return Err(refusal(message.to_owned(), obj.last_use));
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
