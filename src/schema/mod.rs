//! Operator schemas: parsing PyTorch schema strings, reading their alias
//! annotations, and classifying operators the way functionalization does
//! (semantics §3.1 and §3.2).
//!
//! Two readings of the annotations coexist in PyTorch and are kept apart here:
//!
//! * [`Schema::return_kinds`] follows the Python-level aliasing correction
//!   (`return_and_correct_aliasing`): which argument object a result *is*, and
//!   which argument's storage a result shares. This is what output
//!   classification sees.
//! * [`classify`] follows the functionalization code generator plus the tag
//!   rules of §3.1.3: whether an operator is a view, an in-place view, a data
//!   mutation, or one of the storage-level special cases.
//!
//! The module knows nothing about graphs or databases; it is plain data and
//! pure functions.

mod builtin;
mod parse;

use std::fmt;

use serde::Serialize;

pub use builtin::{builtin_parsed, builtin_schema, builtin_tags};

/// A parsed operator schema, e.g.
/// `aten::mul_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Schema {
    /// Qualified name, `aten::mul_` (unqualified names are accepted too).
    pub name: String,
    /// Overload name, `Tensor`; empty for the default overload.
    pub overload: String,
    /// Positional, keyword-only and out arguments, in schema order.
    pub arguments: Vec<Argument>,
    /// The returns, in order.
    pub returns: Vec<Return>,
}

/// One argument of a schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Argument {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Declared after `*`.
    pub kwarg_only: bool,
    /// The default value as written in the schema (`1`, `None`, `"none"`, `[0, 1]`).
    pub default: Option<String>,
    /// Alias info of the value itself. For `Tensor(a!)[]` this is the list's
    /// own info: no sets, write flag mirroring the elements (§3.1.1).
    pub alias: Option<AliasInfo>,
    /// Alias info of the list elements (`Tensor(a!)[]`).
    pub element_alias: Option<AliasInfo>,
}

/// One return of a schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Return {
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its type.
    pub ty: Type,
    /// Its alias annotation (`Tensor(a)`).
    pub alias: Option<AliasInfo>,
    /// The alias annotation of a list's elements (`Tensor(a)[]`).
    pub element_alias: Option<AliasInfo>,
}

/// A schema type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Type {
    /// `Tensor`, `int`, `SymInt`, `Scalar`, a type variable such as `t`, ...
    Named(String),
    /// `T?`
    Optional(Box<Type>),
    /// `T[]`, or `T[N]` with a size hint (`int[2] stride`).
    List(Box<Type>, Option<usize>),
}

/// One alias annotation: `(a)`, `(a!)`, `(a -> *)`, or a bare `!`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AliasInfo {
    /// Alias sets before the call, in written order without duplicates;
    /// [`AliasInfo::WILDCARD`] stands for "any set".
    pub before: Vec<String>,
    /// Alias sets after the call; equal to `before` unless `->` was written.
    pub after: Vec<String>,
    /// Annotated `!`: written.
    pub is_write: bool,
}

/// What one return of an operator is (Python-level identity, §3.2 rules 1–2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ReturnKind {
    /// A new tensor (or a non-tensor).
    Fresh,
    /// `Tensor(a!)`: the written argument itself (index into `arguments`).
    WrittenArgument(usize),
    /// A non-written alias of that argument (`Tensor(a) self -> Tensor(a)`),
    /// including the list elements of `Tensor(a -> *) self -> Tensor(a)[]`.
    ViewOf(usize),
}

/// How the functionalization model treats an operator (§3.1.3, §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum OpClass {
    /// No aliasing, no mutation.
    Functional,
    /// Returns views of an argument; `multi_output` when it returns a list of
    /// views (`unbind`, `split`).
    View {
        /// Returns a list of views (`unbind`, `split`).
        multi_output: bool,
    },
    /// `aten::_unsafe_view`: shares storage but is declared fresh (rule 1a).
    UnsafeView,
    /// Mutates the metadata of `self` in place (`t_`, `transpose_`, ...).
    InplaceView,
    /// Writes the data of [`Schema::written_arguments`].
    DataMutation,
    /// `set_` (all overloads) and `shallow_copy_data_` (rule 4).
    SetStorage {
        /// Swaps in a shallow copy of another tensor's data.
        shallow_copy: bool,
    },
    /// `resize_` and `resize_as_` (rule 5).
    Resize,
}

/// Why a schema could not be parsed or interpreted. Offsets are byte offsets
/// into the schema text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SchemaError {
    #[error("schema text is {len} bytes long, over the limit of {max}")]
    /// The text is longer than the parser reads.
    TooLong {
        /// The length.
        len: usize,
        /// The limit.
        max: usize,
    },
    #[error("type at offset {offset} nests more than {max} list or optional levels")]
    /// Nesting is deeper than the parser reads.
    TooDeep {
        /// Byte offset of the problem.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// A token other than the one expected.
    #[error("expected {expected} at offset {offset}, found {found}")]
    Expected {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    #[error("{what} at offset {offset} are not supported")]
    /// Valid syntax this parser does not read.
    Unsupported {
        /// Byte offset of the problem.
        offset: usize,
        /// The construct.
        what: &'static str,
    },
    #[error("{message} at offset {offset}")]
    /// Syntax that is not a schema.
    Invalid {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// PyTorch's "Unsupported schema": the alias annotations of the returns
    /// cannot be interpreted (mixed written and unwritten returns, a written
    /// return that matches no argument, ...).
    #[error("unsupported schema {schema}: {reason}")]
    UnsupportedSchema {
        /// The schema text.
        schema: String,
        /// Why.
        reason: String,
    },
    #[error("node target {target} does not name the operator of schema {schema}")]
    /// The schema names another operator than the node's target.
    TargetMismatch {
        /// The node's target.
        target: String,
        /// The schema text.
        schema: String,
    },
}

impl Schema {
    /// Parses the runtime schema grammar of §3.1.1. Never panics; inputs over
    /// 64 KiB or with absurdly nested types are rejected.
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        parse::parse_schema(text)
    }

    /// `aten` for `aten::mul_`.
    pub fn namespace(&self) -> Option<&str> {
        self.name.split_once("::").map(|(ns, _)| ns)
    }

    /// `mul_` for `aten::mul_`.
    pub fn base_name(&self) -> &str {
        self.name
            .split_once("::")
            .map_or(self.name.as_str(), |(_, base)| base)
    }

    /// The FX node target naming this overload, `aten.mul_.Tensor` or
    /// `aten.t_.default`; `None` for an unqualified name.
    pub fn target(&self) -> Option<String> {
        let namespace = self.namespace()?;
        let overload = if self.overload.is_empty() {
            "default"
        } else {
            &self.overload
        };
        Some(format!("{namespace}.{}.{overload}", self.base_name()))
    }

    /// Some argument (positional, keyword-only or out) is written.
    pub fn is_mutable(&self) -> bool {
        self.arguments.iter().any(Argument::is_written)
    }

    /// Indices into `arguments` of every argument the op writes (its own alias
    /// info or its elements' is written).
    pub fn written_arguments(&self) -> Vec<usize> {
        let written = self
            .arguments
            .iter()
            .enumerate()
            .filter(|(_, arg)| arg.is_written());
        written.map(|(i, _)| i).collect()
    }

    /// For each return: what it is. A return whose annotation cannot be
    /// resolved counts as [`ReturnKind::Fresh`]; [`classify`] rejects such
    /// schemas, so call it first.
    pub fn return_kinds(&self) -> Vec<ReturnKind> {
        self.returns
            .iter()
            .map(|ret| self.resolve_return(ret).unwrap_or(ReturnKind::Fresh))
            .collect()
    }

    /// The op returns a single list of tensors (`unbind`, `split`, `unbind_copy`).
    pub fn returns_tensor_list(&self) -> bool {
        match self.returns.as_slice() {
            [ret] => ret.ty.is_tensor_list(),
            _ => false,
        }
    }

    /// The code generator's view test without the tag part (§3.1.3): some
    /// return has a non-written annotation, or some argument's after-set has
    /// the wildcard.
    pub fn declares_view(&self) -> bool {
        let aliased_return = self
            .returns
            .iter()
            .filter_map(Return::annotation)
            .any(|alias| !alias.is_write);
        let wildcard_argument = self
            .arguments
            .iter()
            .filter_map(Argument::annotation)
            .any(AliasInfo::is_wildcard_after);
        aliased_return || wildcard_argument
    }

    /// Mirrors `return_and_correct_aliasing`: a written return is the one
    /// argument carrying its set; an unwritten annotated return aliases every
    /// unwritten argument sharing a set with it, and since PyTorch applies
    /// those matches in argument order, the last one wins.
    fn resolve_return(&self, ret: &Return) -> Result<ReturnKind, String> {
        let Some(alias) = ret.annotation() else {
            return Ok(ReturnKind::Fresh);
        };
        // PyTorch asserts a single set on every annotated return.
        let [set] = alias.before.as_slice() else {
            return Err(format!(
                "annotated return `{alias}` must name exactly one alias set"
            ));
        };
        let arguments = self.arguments.iter().enumerate();
        if alias.is_write {
            let mut owners = arguments
                .filter(|(_, arg)| arg.annotation().is_some_and(|a| a.before.contains(set)));
            match (owners.next(), owners.next()) {
                (Some((i, _)), None) => Ok(ReturnKind::WrittenArgument(i)),
                (None, _) => Err(format!("written return `{alias}` matches no argument")),
                (Some(_), Some(_)) => Err(format!(
                    "written return `{alias}` matches several arguments"
                )),
            }
        } else {
            let read_only_match = |arg: &Argument| {
                arg.annotation()
                    .is_some_and(|a| !a.is_write && a.before.contains(set))
            };
            let source = arguments.rev().find(|(_, arg)| read_only_match(arg));
            source
                .map(|(i, _)| ReturnKind::ViewOf(i))
                .ok_or_else(|| format!("aliased return `{alias}` matches no unwritten argument"))
        }
    }

    /// Rejects what `return_and_correct_aliasing` refuses: unresolvable
    /// annotated returns, and written returns mixed with other returns.
    fn check_returns(&self) -> Result<(), SchemaError> {
        let mut written = 0;
        for (i, ret) in self.returns.iter().enumerate() {
            match self.resolve_return(ret) {
                Ok(ReturnKind::WrittenArgument(_)) => written += 1,
                Ok(_) => {}
                Err(reason) => return Err(self.unsupported(format!("return {i}: {reason}"))),
            }
        }
        if written > 0 && written < self.returns.len() {
            return Err(self.unsupported(
                "mixes written returns with returns that are not written".to_owned(),
            ));
        }
        Ok(())
    }

    fn unsupported(&self, reason: String) -> SchemaError {
        SchemaError::UnsupportedSchema {
            schema: self.to_string(),
            reason,
        }
    }
}

impl Argument {
    /// The op writes this argument or its elements.
    pub fn is_written(&self) -> bool {
        is_written(self.alias.as_ref(), self.element_alias.as_ref())
    }

    /// The annotation naming this argument's alias sets: the value's own, or
    /// its elements' for `Tensor(a)[]` (as PyTorch's Python side reads it).
    pub fn annotation(&self) -> Option<&AliasInfo> {
        annotation(self.alias.as_ref(), self.element_alias.as_ref())
    }
}

impl Return {
    /// See [`Argument::annotation`].
    pub fn annotation(&self) -> Option<&AliasInfo> {
        annotation(self.alias.as_ref(), self.element_alias.as_ref())
    }
}

fn is_written(alias: Option<&AliasInfo>, element_alias: Option<&AliasInfo>) -> bool {
    alias.is_some_and(|a| a.is_write) || element_alias.is_some_and(|a| a.is_write)
}

fn annotation<'a>(
    alias: Option<&'a AliasInfo>,
    element_alias: Option<&'a AliasInfo>,
) -> Option<&'a AliasInfo> {
    alias.filter(|a| !a.before.is_empty()).or(element_alias)
}

impl Type {
    /// A list type.
    pub fn is_list(&self) -> bool {
        matches!(self, Type::List(..))
    }

    /// `Tensor[]` or `Tensor?[]`.
    pub fn is_tensor_list(&self) -> bool {
        match self {
            Type::List(element, _) => match element.as_ref() {
                Type::Optional(inner) => inner.is_tensor(),
                element => element.is_tensor(),
            },
            _ => false,
        }
    }

    /// `Tensor` (optional or not).
    pub fn is_tensor(&self) -> bool {
        matches!(self, Type::Named(name) if name == "Tensor")
    }
}

impl AliasInfo {
    /// The set name `*`: aliases anything.
    pub const WILDCARD: &'static str = "*";

    /// Annotated `-> *`: may alias anything after the call.
    pub fn is_wildcard_after(&self) -> bool {
        self.after.iter().any(|set| set == Self::WILDCARD)
    }

    /// Made by a bare `!`: one fresh set (`$0`, `$1`, ...), written, empty after-set.
    fn is_fresh(&self) -> bool {
        matches!(self.before.as_slice(), [set] if set.starts_with('$'))
            && self.after.is_empty()
            && self.is_write
    }
}

/// Modules whose functions a graph calls as Python callables (format §5):
/// `_operator.getitem`, `torch._C._set_grad_enabled`, `math.floor`. Every
/// other `call_function` target names an operator overload,
/// `<namespace>.<name>.<overload>` (`aten.add_.Tensor`, a `torch.library`
/// op such as `mylib.scale_.default`), and needs a schema.
const PYTHON_MODULES: &[&str] = &["_operator", "operator", "builtins", "math", "torch"];

/// The target is a Python callable rather than an operator overload.
pub fn is_python_callable(target: &str) -> bool {
    let module = target.split('.').next().unwrap_or(target);
    PYTHON_MODULES.contains(&module)
}

/// In-place view operators without `set_`, `resize_`, `resize_as_` (those
/// have rules of their own), as (base name, overload): the normative list of
/// §3.1.3 for dumps without `operator_tags`.
const INPLACE_VIEW_OPS: &[(&str, &str)] = &[
    ("as_strided_", ""),
    ("detach_", ""),
    ("squeeze_", ""),
    ("squeeze_", "dim"),
    ("squeeze_", "dims"),
    ("swapaxes_", ""),
    ("swapdims_", ""),
    ("t_", ""),
    ("transpose_", ""),
    ("unsqueeze_", ""),
];

/// How the functionalization model treats an operator (§3.1.3, §3.2).
///
/// `target` is the dump's node target (`aten.t_.default`) and must name the
/// schema's operator. `tags` are the operator's tags from the dump; `None`
/// means the dump had no `operator_tags`, and the normative list of in-place
/// view operators decides. Errors on schemas whose returns PyTorch refuses
/// ("Unsupported schema").
pub fn classify(
    target: &str,
    schema: &Schema,
    tags: Option<&[String]>,
) -> Result<OpClass, SchemaError> {
    if schema.target().as_deref() != Some(target) {
        return Err(SchemaError::TargetMismatch {
            target: target.to_owned(),
            schema: schema.to_string(),
        });
    }
    schema.check_returns()?;

    let is_aten = schema.namespace() == Some("aten");
    let base = schema.base_name();
    // These keep their own rules whatever the tags say.
    if is_aten {
        match base {
            "set_" => {
                return Ok(OpClass::SetStorage {
                    shallow_copy: false,
                })
            }
            "shallow_copy_data_" => return Ok(OpClass::SetStorage { shallow_copy: true }),
            "resize_" | "resize_as_" => return Ok(OpClass::Resize),
            // `_unsafe_view.out` is an ordinary out= variant.
            "_unsafe_view" if !schema.is_mutable() => return Ok(OpClass::UnsafeView),
            _ => {}
        }
    }

    if schema.is_mutable() {
        // Only the tag tells a metadata mutation from a data mutation: both write `self`.
        let inplace_view = match tags {
            Some(tags) => tags.iter().any(|tag| tag == "inplace_view"),
            None => is_aten && INPLACE_VIEW_OPS.contains(&(base, schema.overload.as_str())),
        };
        return Ok(if inplace_view {
            OpClass::InplaceView
        } else {
            OpClass::DataMutation
        });
    }

    if schema.declares_view() {
        // As the code generator decides it: the first return is a list.
        let multi_output = schema.returns.first().is_some_and(|ret| ret.ty.is_list());
        return Ok(OpClass::View { multi_output });
    }
    Ok(OpClass::Functional)
}

// Printing follows PyTorch's own schema printer closely enough that every
// schema it prints reads back unchanged, and every parsed schema prints to a
// text that parses back to it.

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.overload.is_empty() {
            write!(f, ".{}", self.overload)?;
        }
        f.write_str("(")?;
        let mut in_kwargs = false;
        for (i, arg) in self.arguments.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if arg.kwarg_only && !in_kwargs {
                f.write_str("*, ")?;
                in_kwargs = true;
            }
            write!(f, "{arg}")?;
        }
        f.write_str(") -> ")?;
        match self.returns.as_slice() {
            [ret] if ret.name.is_none() => write!(f, "{ret}"),
            returns => {
                f.write_str("(")?;
                for (i, ret) in returns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{ret}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_annotated_type(
            f,
            &self.ty,
            self.alias.as_ref(),
            self.element_alias.as_ref(),
        )?;
        write!(f, " {}", self.name)?;
        if let Some(default) = &self.default {
            write!(f, "={default}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Return {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_annotated_type(
            f,
            &self.ty,
            self.alias.as_ref(),
            self.element_alias.as_ref(),
        )?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        Ok(())
    }
}

/// Writes a type with its annotations where the parser expects them: the
/// value's annotation after the base type or after `[]`, before any `?`.
fn write_annotated_type(
    f: &mut fmt::Formatter<'_>,
    ty: &Type,
    alias: Option<&AliasInfo>,
    element_alias: Option<&AliasInfo>,
) -> fmt::Result {
    match ty {
        Type::Named(name) => {
            f.write_str(name)?;
            write_alias(f, alias)
        }
        Type::Optional(inner) => {
            write_annotated_type(f, inner, alias, element_alias)?;
            f.write_str("?")
        }
        Type::List(element, size) => {
            write_annotated_type(f, element, element_alias, None)?;
            match size {
                Some(n) => write!(f, "[{n}]")?,
                None => f.write_str("[]")?,
            }
            write_alias(f, alias)
        }
    }
}

/// The list container's implicit info (no sets) is not written.
fn write_alias(f: &mut fmt::Formatter<'_>, alias: Option<&AliasInfo>) -> fmt::Result {
    match alias {
        Some(alias) if !alias.before.is_empty() => write!(f, "{alias}"),
        _ => Ok(()),
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Named(name) => f.write_str(name),
            Type::Optional(inner) => write!(f, "{inner}?"),
            Type::List(element, Some(n)) => write!(f, "{element}[{n}]"),
            Type::List(element, None) => write!(f, "{element}[]"),
        }
    }
}

impl fmt::Display for AliasInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_fresh() {
            return f.write_str("!");
        }
        write!(f, "({}", self.before.join("|"))?;
        if self.is_write {
            f.write_str("!")?;
        }
        if self.after != self.before {
            write!(f, " -> {}", self.after.join("|"))?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_callables_and_operators() {
        for target in [
            "_operator.getitem",
            "_operator.add",
            "torch._C._set_grad_enabled",
        ] {
            assert!(is_python_callable(target), "{target}");
        }
        for target in [
            "aten.add_.Tensor",
            "mylib.scale_.default",
            "aotio_s.double.default",
        ] {
            assert!(!is_python_callable(target), "{target}");
        }
    }

    /// A `torch.library` op reads like an ATen op: writes through `(a0!)`,
    /// views through `(a)`.
    #[test]
    fn custom_operators_classify_from_their_schema() {
        check(
            "mylib.scale_.default",
            "mylib::scale_(Tensor(a0!) x, float s) -> ()",
            Some(&[]),
            "DataMutation written=[0] returns=[]",
        );
        check(
            "mylib.alias.default",
            "mylib::alias(Tensor(a) x) -> Tensor(a)",
            Some(&[]),
            "View { multi_output: false } written=[] returns=[ViewOf(0)]",
        );
        check(
            "aotio_s.double.default",
            "aotio_s::double(Tensor x) -> Tensor",
            None,
            "Functional written=[] returns=[Fresh]",
        );
    }

    /// Classifies `text` (or the built-in schema of `target` when `text` is
    /// empty) and renders what the analyses read from it.
    fn check(target: &str, text: &str, tags: Option<&[&str]>, expect: &str) {
        let text = if text.is_empty() {
            builtin_schema(target).unwrap_or_default()
        } else {
            text
        };
        let schema = match Schema::parse(text) {
            Ok(schema) => schema,
            Err(err) => panic!("{text}: {err}"),
        };
        let tags: Option<Vec<String>> =
            tags.map(|tags| tags.iter().map(|t| (*t).to_owned()).collect());
        let actual = match classify(target, &schema, tags.as_deref()) {
            Ok(class) => format!(
                "{class:?} written={:?} returns={:?}{}",
                schema.written_arguments(),
                schema.return_kinds(),
                if schema.returns_tensor_list() {
                    " list"
                } else {
                    ""
                },
            ),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(actual, expect, "{target}: {text}");
    }

    const INPLACE_VIEW: Option<&[&str]> = Some(&["inplace", "inplace_view"]);

    #[test]
    fn classifies_operators() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&[&str]>, &str)] = &[
            // Functional.
            ("aten.mul.Tensor", "", None, "Functional written=[] returns=[Fresh]"),
            ("aten.sym_size.int", "", None, "Functional written=[] returns=[Fresh]"),
            ("aten.empty.memory_format", "", None, "Functional written=[] returns=[Fresh]"),
            ("aten.max.dim", "", None, "Functional written=[] returns=[Fresh, Fresh]"),
            ("aten.unbind_copy.int", "", Some(&["view_copy"]), "Functional written=[] returns=[Fresh] list"),
            ("aten._native_batch_norm_legit_no_training.default", "", None, "Functional written=[] returns=[Fresh, Fresh, Fresh]"),
            // Views; `detach` is one too.
            ("aten.view.default", "", None, "View { multi_output: false } written=[] returns=[ViewOf(0)]"),
            ("aten.detach.default", "", None, "View { multi_output: false } written=[] returns=[ViewOf(0)]"),
            ("aten.split.Tensor", "", None, "View { multi_output: true } written=[] returns=[ViewOf(0)] list"),
            ("aten.unbind.int", "", Some(&[]), "View { multi_output: true } written=[] returns=[ViewOf(0)] list"),
            ("aten._unsafe_view.default", "", None, "UnsafeView written=[] returns=[Fresh]"),
            // Two unwritten arguments in the return's set: PyTorch applies the last match.
            ("my.two.default", "my::two(Tensor(a) x, Tensor(a) y) -> Tensor(a)", None, "View { multi_output: false } written=[] returns=[ViewOf(1)]"),
            // A wildcard after-set alone makes a view operator.
            ("my.wild.default", "my::wild(Tensor(a -> *) x) -> Tensor", None, "View { multi_output: false } written=[] returns=[Fresh]"),
            // In-place views: the normative list without tags, the tags when present.
            ("aten.t_.default", "", None, "InplaceView written=[0] returns=[WrittenArgument(0)]"),
            ("aten.t_.default", "", INPLACE_VIEW, "InplaceView written=[0] returns=[WrittenArgument(0)]"),
            ("aten.t_.default", "", Some(&["inplace"]), "DataMutation written=[0] returns=[WrittenArgument(0)]"),
            ("aten.squeeze_.dims", "", None, "InplaceView written=[0] returns=[WrittenArgument(0)]"),
            ("aten.new_view_.default", "aten::new_view_(Tensor(a!) self) -> Tensor(a!)", INPLACE_VIEW, "InplaceView written=[0] returns=[WrittenArgument(0)]"),
            ("aten.new_view_.default", "aten::new_view_(Tensor(a!) self) -> Tensor(a!)", None, "DataMutation written=[0] returns=[WrittenArgument(0)]"),
            // Data mutations.
            ("aten.add_.Tensor", "", None, "DataMutation written=[0] returns=[WrittenArgument(0)]"),
            ("aten.copy_.default", "", Some(&["inplace"]), "DataMutation written=[0] returns=[WrittenArgument(0)]"),
            ("aten.add.out", "", Some(&["out"]), "DataMutation written=[3] returns=[WrittenArgument(3)]"),
            ("aten.native_layer_norm_backward.out", "aten::native_layer_norm_backward.out(Tensor grad_out, Tensor input, SymInt[] normalized_shape, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, bool[3] output_mask, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2) -> (Tensor(a!), Tensor(b!), Tensor(c!))", None,
                "DataMutation written=[8, 9, 10] returns=[WrittenArgument(8), WrittenArgument(9), WrittenArgument(10)]"),
            // Writes two arguments, returns three fresh tensors.
            ("aten._native_batch_norm_legit.default", "", None, "DataMutation written=[3, 4] returns=[Fresh, Fresh, Fresh]"),
            ("aten._foreach_add_.Scalar", "aten::_foreach_add_.Scalar(Tensor(a!)[] self, Scalar scalar) -> ()", None, "DataMutation written=[0] returns=[]"),
            ("aten._unsafe_view.out", "aten::_unsafe_view.out(Tensor self, SymInt[] size, *, Tensor(a!) out) -> Tensor(a!)", None, "DataMutation written=[2] returns=[WrittenArgument(2)]"),
            // Special names matter only in `aten`.
            ("my.set_.default", "my::set_(Tensor(a!) self, Tensor source) -> Tensor(a!)", None, "DataMutation written=[0] returns=[WrittenArgument(0)]"),
            // Storage and resize rules win over tags and the list.
            ("aten.set_.source_Tensor", "", Some(&[]), "SetStorage { shallow_copy: false } written=[0] returns=[WrittenArgument(0)]"),
            ("aten.set_.default", "", INPLACE_VIEW, "SetStorage { shallow_copy: false } written=[0] returns=[WrittenArgument(0)]"),
            ("aten.shallow_copy_data_.default", "", Some(&[]), "SetStorage { shallow_copy: true } written=[0] returns=[WrittenArgument(0)]"),
            ("aten.resize_.default", "", None, "Resize written=[0] returns=[WrittenArgument(0)]"),
            ("aten.resize_as_.default", "", INPLACE_VIEW, "Resize written=[0] returns=[WrittenArgument(0)]"),
            // Returns PyTorch refuses.
            ("my.mixed.default", "my::mixed(Tensor(a!) x) -> (Tensor(a!), Tensor)", None,
                "error: unsupported schema my::mixed(Tensor(a!) x) -> (Tensor(a!), Tensor): mixes written returns with returns that are not written"),
            ("my.lost.default", "my::lost(Tensor(a!) x) -> Tensor(b!)", None,
                "error: unsupported schema my::lost(Tensor(a!) x) -> Tensor(b!): return 0: written return `(b!)` matches no argument"),
            ("my.twice.default", "my::twice(Tensor(a!) x, Tensor(a!) y) -> Tensor(a!)", None,
                "error: unsupported schema my::twice(Tensor(a!) x, Tensor(a!) y) -> Tensor(a!): return 0: written return `(a!)` matches several arguments"),
            ("my.unwritten.default", "my::unwritten(Tensor(a!) x) -> Tensor(a)", None,
                "error: unsupported schema my::unwritten(Tensor(a!) x) -> Tensor(a): return 0: aliased return `(a)` matches no unwritten argument"),
            ("my.sets.default", "my::sets(Tensor(a) x, Tensor(b) y) -> Tensor(a|b)", None,
                "error: unsupported schema my::sets(Tensor(a) x, Tensor(b) y) -> Tensor(a|b): return 0: annotated return `(a|b)` must name exactly one alias set"),
            // The target must name the schema.
            ("aten.add.Tensor", "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor", None,
                "error: node target aten.add.Tensor does not name the operator of schema aten::mul.Tensor(Tensor self, Tensor other) -> Tensor"),
            ("f.default", "f(Tensor self) -> Tensor", None,
                "error: node target f.default does not name the operator of schema f(Tensor self) -> Tensor"),
        ];
        for (target, text, tags, expect) in cases {
            check(target, text, *tags, expect);
        }
    }

    #[test]
    fn names_and_targets() {
        let schema = Schema::parse("aten::t_(Tensor(a!) self) -> Tensor(a!)");
        let schema = schema
            .as_ref()
            .map(|s| (s.namespace(), s.base_name(), s.target()));
        assert_eq!(
            schema,
            Ok((Some("aten"), "t_", Some("aten.t_.default".to_owned())))
        );
        let schema = Schema::parse("foo.bar(Tensor self) -> Tensor");
        let schema = schema
            .as_ref()
            .map(|s| (s.namespace(), s.base_name(), s.target()));
        assert_eq!(schema, Ok((None, "foo", None)));
    }
}
