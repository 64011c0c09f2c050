//! What each operator of a graph does to aliasing and mutation, resolved from
//! the dump's schema (or the built-in table) and tags.

use crate::ir::Operators;
use crate::schema::{builtin_parsed, builtin_tags, classify, OpClass, ReturnKind, Schema};

/// A schema parameter, for binding a node's args and kwargs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// The parameter's name in the schema.
    pub name: String,
    /// Declared after `*`: passed by keyword only.
    pub kwarg_only: bool,
}

/// The facts of one operator that the functionalization model needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpInfo {
    /// What the operator does to aliasing: functional, view, in-place, ...
    pub class: OpClass,
    /// The schema's parameters, in order.
    pub params: Vec<Param>,
    /// Parameters the operator writes.
    pub written: Vec<usize>,
    /// What each return aliases.
    pub returns: Vec<ReturnKind>,
    /// A single `Tensor[]` return (unbind, split): elements are picked by getitem.
    pub returns_list: bool,
    /// `aten.detach.*` is a view for functionalization but has no autograd
    /// base; `aten.detach_.*` detaches in place.
    pub is_detach: bool,
    /// The view-replay step name PyTorch records (`view`, `select_int`, ...).
    pub view_step: String,
}

impl OpInfo {
    /// An `out=` variant: it writes only keyword-only arguments (`*, Tensor(a!) out`).
    pub fn is_out_variant(&self) -> bool {
        !self.written.is_empty()
            && self
                .written
                .iter()
                .all(|&p| self.params.get(p).is_some_and(|p| p.kwarg_only))
    }
}

/// Resolves `target` ("aten.mul_.Tensor") against the dump's operators, then the built-in table.
pub fn resolve(target: &str, operators: &Operators) -> Result<OpInfo, String> {
    // Schemas are parsed once: the dump's when it is loaded, the built-in ones once per process.
    let (schema, tags): (&Schema, Option<Vec<String>>) = match operators.get(target) {
        Some(op) => (&op.schema, op.tags.clone()),
        None => match builtin_parsed(target) {
            Some(schema) => (
                schema,
                builtin_tags(target).map(|t| t.iter().map(|s| s.to_string()).collect()),
            ),
            None => return Err(format!("unknown operator `{target}` (no schema)")),
        },
    };
    let class = classify(target, schema, tags.as_deref())
        .map_err(|e| format!("unsupported schema for `{target}`: {e}"))?;
    Ok(OpInfo {
        class,
        params: schema
            .arguments
            .iter()
            .map(|a| Param {
                name: a.name.clone(),
                kwarg_only: a.kwarg_only,
            })
            .collect(),
        written: schema.written_arguments(),
        returns: schema.return_kinds(),
        returns_list: schema.returns_tensor_list(),
        is_detach: target.starts_with("aten.detach.") || target.starts_with("aten.detach_."),
        view_step: view_step_name(target),
    })
}

/// `aten.select.int` → `select_int`, `aten.view.default` → `view`.
pub fn view_step_name(target: &str) -> String {
    let mut parts = target.split('.').skip(1);
    let name = parts.next().unwrap_or_default();
    match parts.next() {
        Some("default") | None => name.to_owned(),
        Some(overload) => format!("{name}_{overload}"),
    }
}
