//! Recursive-descent parser for the runtime schema grammar (semantics §3.1.1),
//! mirroring `torch._C.parse_schema` including its quirks: where a list's
//! annotation lands, the bare `!`, and what happens after a wildcard.
//!
//! Not supported, as no FX graph of ATen operators needs them: the
//! TorchScript-only tuple, `Dict`, `Future`, `RRef`, `Await` and `Union`
//! types, varargs (`...`), and annotations inside nested lists.

use super::{AliasInfo, Argument, Return, Schema, SchemaError, Type};

/// Real schemas are well under 1 KiB; the limit only keeps hostile input cheap.
pub(super) const MAX_SCHEMA_LEN: usize = 64 * 1024;
/// `[]` / `?` suffixes on one type; real schemas use at most two. Bounding
/// them also bounds the recursion of every derived trait on [`Type`].
pub(super) const MAX_TYPE_DEPTH: usize = 16;

pub(super) fn parse_schema(text: &str) -> Result<Schema, SchemaError> {
    if text.len() > MAX_SCHEMA_LEN {
        return Err(SchemaError::TooLong {
            len: text.len(),
            max: MAX_SCHEMA_LEN,
        });
    }
    let mut parser = Parser {
        src: text,
        pos: 0,
        next_fresh_set: 0,
    };
    let schema = parser.schema()?;
    if !parser.at_end() {
        return Err(parser.expected("end of schema"));
    }
    Ok(schema)
}

/// A type with the annotations that belong to it (see [`Argument`]).
struct Annotated {
    ty: Type,
    alias: Option<AliasInfo>,
    element_alias: Option<AliasInfo>,
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset; always on a char boundary, because the parser only steps
    /// over ASCII outside string literals and stops on ASCII inside them.
    pos: usize,
    /// Numbers the sets created by bare `!`, as PyTorch does (`$0`, `$1`, ...).
    next_fresh_set: usize,
}

impl<'a> Parser<'a> {
    fn schema(&mut self) -> Result<Schema, SchemaError> {
        let (name, overload) = self.operator_name()?;
        let arguments = self.arguments()?;
        if !self.eat_str("->") {
            return Err(self.expected("`->` before the returns"));
        }
        let returns = self.returns()?;
        Ok(Schema {
            name,
            overload,
            arguments,
            returns,
        })
    }

    /// `ns::name.overload`, the namespace and overload being optional.
    fn operator_name(&mut self) -> Result<(String, String), SchemaError> {
        let mut name = self.ident("an operator name")?.to_owned();
        if self.eat(b':') {
            self.expect(b':', "`::`")?;
            let base = self.ident("an operator name after `::`")?;
            name = format!("{name}::{base}");
        }
        let mut overload = String::new();
        if self.eat(b'.') {
            self.skip_ws();
            let offset = self.pos;
            overload = self.ident("an overload name")?.to_owned();
            // `default` names the overload packet's default attribute in Python.
            if overload == "default" || overload == "__name__" {
                let message = format!("`{overload}` is not a legal overload name");
                return Err(SchemaError::Invalid { offset, message });
            }
        }
        Ok((name, overload))
    }

    fn arguments(&mut self) -> Result<Vec<Argument>, SchemaError> {
        self.expect(b'(', "`(` opening the arguments")?;
        let mut arguments = Vec::new();
        if self.eat(b')') {
            return Ok(arguments);
        }
        let mut kwarg_only = false;
        loop {
            self.reject_varargs()?;
            // Like PyTorch, accept `*` more than once and at the end.
            if self.eat(b'*') {
                kwarg_only = true;
            } else {
                arguments.push(self.argument(kwarg_only)?);
            }
            if !self.eat(b',') {
                self.expect(b')', "`,` or `)` after an argument")?;
                return Ok(arguments);
            }
        }
    }

    fn argument(&mut self, kwarg_only: bool) -> Result<Argument, SchemaError> {
        let Annotated {
            ty,
            alias,
            element_alias,
        } = self.annotated_type()?;
        let name = self.ident("an argument name")?.to_owned();
        let default = if self.eat(b'=') {
            Some(self.default_value()?)
        } else {
            None
        };
        Ok(Argument {
            name,
            ty,
            kwarg_only,
            default,
            alias,
            element_alias,
        })
    }

    /// A single return, or a parenthesised (possibly empty) list of them.
    fn returns(&mut self) -> Result<Vec<Return>, SchemaError> {
        self.reject_varargs()?;
        if !self.eat(b'(') {
            return Ok(vec![self.return_()?]);
        }
        let mut returns = Vec::new();
        if self.eat(b')') {
            return Ok(returns);
        }
        loop {
            self.reject_varargs()?;
            returns.push(self.return_()?);
            if !self.eat(b',') {
                self.expect(b')', "`,` or `)` after a return")?;
                return Ok(returns);
            }
        }
    }

    fn return_(&mut self) -> Result<Return, SchemaError> {
        let Annotated {
            ty,
            alias,
            element_alias,
        } = self.annotated_type()?;
        let name = if self.at_ident() {
            Some(self.ident("a return name")?.to_owned())
        } else {
            None
        };
        Ok(Return {
            name,
            ty,
            alias,
            element_alias,
        })
    }

    /// A type as written for an argument or return: [`Self::type_expr`]
    /// optionally followed by a sized list suffix `[N]`, its annotation and `?`.
    fn annotated_type(&mut self) -> Result<Annotated, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        let mut annotated = self.type_expr()?;
        // `[]` was consumed by `type_expr`, so a `[` here opens a size.
        if self.eat(b'[') {
            let size = self.list_size()?;
            self.expect(b']', "`]` closing the list size")?;
            annotated = self.list_of(annotated, Some(size), start)?;
            if self.eat(b'?') {
                annotated.ty = Type::Optional(Box::new(annotated.ty));
            }
        }
        Ok(annotated)
    }

    /// `base [alias] { ("[]" [alias] | "?") }`.
    fn type_expr(&mut self) -> Result<Annotated, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'(') {
            return Err(SchemaError::Unsupported {
                offset: start,
                what: "tuple types",
            });
        }
        let base = self.base_type()?;
        let mut annotated = Annotated {
            ty: Type::Named(base),
            alias: self.alias_annotation()?,
            element_alias: None,
        };
        let mut depth = 0;
        loop {
            if self.at_empty_brackets() {
                annotated = self.list_of(annotated, None, start)?;
            } else if self.eat(b'?') {
                annotated.ty = Type::Optional(Box::new(annotated.ty));
            } else {
                return Ok(annotated);
            }
            depth += 1;
            if depth > MAX_TYPE_DEPTH {
                return Err(SchemaError::TooDeep {
                    offset: start,
                    max: MAX_TYPE_DEPTH,
                });
            }
        }
    }

    fn base_type(&mut self) -> Result<String, SchemaError> {
        let offset = self.pos;
        let base = self.ident("a type")?;
        if matches!(base, "Dict" | "Future" | "RRef" | "Await" | "Union")
            && self.peek() == Some(b'(')
        {
            return Err(SchemaError::Unsupported {
                offset,
                what: "Dict, Future, RRef, Await and Union types",
            });
        }
        let mut name = base.to_owned();
        // Custom classes: `__torch__.torch.classes.ns.Name`.
        if base == "__torch__" {
            while self.eat(b'.') {
                name.push('.');
                name.push_str(self.ident("a custom class path component")?);
            }
        }
        Ok(name)
    }

    /// Wraps `element` in a list. An annotation on the element moves to
    /// `element_alias`; the list then gets the annotation written after `[]`,
    /// or one without sets whose write flag mirrors the element's.
    fn list_of(
        &mut self,
        element: Annotated,
        size: Option<usize>,
        start: usize,
    ) -> Result<Annotated, SchemaError> {
        let container = self.alias_annotation()?;
        let (alias, element_alias) = match (element.alias, element.element_alias) {
            (Some(_), Some(_)) => {
                return Err(SchemaError::Unsupported {
                    offset: start,
                    what: "alias annotations inside nested lists",
                })
            }
            (Some(inner), None) => {
                let implicit = || AliasInfo {
                    before: Vec::new(),
                    after: Vec::new(),
                    is_write: inner.is_write,
                };
                (Some(container.unwrap_or_else(implicit)), Some(inner))
            }
            (None, _) => (container, None),
        };
        Ok(Annotated {
            ty: Type::List(Box::new(element.ty), size),
            alias,
            element_alias,
        })
    }

    /// `"(" set ["!"] ["->" set] ")"` or a bare `!`.
    fn alias_annotation(&mut self) -> Result<Option<AliasInfo>, SchemaError> {
        if self.eat(b'(') {
            let before = self.alias_set()?;
            let is_write = self.eat(b'!');
            let after = if self.eat_str("->") {
                self.alias_set()?
            } else {
                before.clone()
            };
            self.expect(b')', "`)` closing the alias annotation")?;
            Ok(Some(AliasInfo {
                before,
                after,
                is_write,
            }))
        } else if self.eat(b'!') {
            let fresh = format!("${}", self.next_fresh_set);
            self.next_fresh_set += 1;
            Ok(Some(AliasInfo {
                before: vec![fresh],
                after: Vec::new(),
                is_write: true,
            }))
        } else {
            Ok(None)
        }
    }

    /// `elem { "|" elem }` where `elem` is `*` or a name. Once the set holds
    /// the wildcard PyTorch reads no more names: an element that is not `*`
    /// is then skipped when empty (`(*|)` is accepted) and an error otherwise.
    fn alias_set(&mut self) -> Result<Vec<String>, SchemaError> {
        let mut set: Vec<String> = Vec::new();
        loop {
            let element = if self.eat(b'*') {
                Some(AliasInfo::WILDCARD)
            } else if set.iter().any(|s| s == AliasInfo::WILDCARD) {
                if self.at_ident() {
                    let message =
                        "a name cannot follow the wildcard `*` in an alias set".to_owned();
                    return Err(SchemaError::Invalid {
                        offset: self.pos,
                        message,
                    });
                }
                None
            } else {
                Some(self.ident("an alias set name or `*`")?)
            };
            if let Some(element) = element {
                if !set.iter().any(|s| s == element) {
                    set.push(element.to_owned());
                }
            }
            if !self.eat(b'|') {
                return Ok(set);
            }
        }
    }

    fn list_size(&mut self) -> Result<usize, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.expected("a list size"));
        }
        digits.parse().map_err(|_| SchemaError::Invalid {
            offset: start,
            message: format!("list size {digits} is too large"),
        })
    }

    /// A default value is kept as written: a string literal, a bracketed
    /// list, or a single word such as `1`, `-1`, `1e-05`, `None`, `True`,
    /// `contiguous_format`. Its meaning never matters to the analyses.
    fn default_value(&mut self) -> Result<String, SchemaError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(quote @ (b'"' | b'\'')) => self.skip_string(quote)?,
            Some(b'[') => self.skip_list()?,
            _ => {
                let word = self.take_while(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+')
                });
                if word.is_empty() {
                    return Err(self.expected("a default value"));
                }
            }
        }
        Ok(self.slice(start).to_owned())
    }

    fn skip_string(&mut self, quote: u8) -> Result<(), SchemaError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.src.as_bytes().get(self.pos) {
                None => {
                    let message = "unterminated string literal".to_owned();
                    return Err(SchemaError::Invalid {
                        offset: start,
                        message,
                    });
                }
                Some(b'\\') => self.pos += 2,
                Some(&b) => {
                    self.pos += 1;
                    if b == quote {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn skip_list(&mut self) -> Result<(), SchemaError> {
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            match self.src.as_bytes().get(self.pos) {
                None => {
                    let message = "unterminated list default".to_owned();
                    return Err(SchemaError::Invalid {
                        offset: start,
                        message,
                    });
                }
                Some(&quote @ (b'"' | b'\'')) => self.skip_string(quote)?,
                Some(&b) => {
                    self.pos += 1;
                    if b == b'[' {
                        depth += 1;
                    } else if b == b']' {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    fn reject_varargs(&mut self) -> Result<(), SchemaError> {
        self.skip_ws();
        if self.rest().starts_with("...") {
            return Err(SchemaError::Unsupported {
                offset: self.pos,
                what: "varargs (`...`)",
            });
        }
        Ok(())
    }

    // Lexical helpers. Whitespace may separate any two tokens, as in PyTorch's lexer.

    fn ident(&mut self, what: &'static str) -> Result<&'a str, SchemaError> {
        if !self.at_ident() {
            return Err(self.expected(what));
        }
        Ok(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_'))
    }

    fn at_ident(&mut self) -> bool {
        self.peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
    }

    /// `[` followed by `]`: the unsized list suffix.
    fn at_empty_brackets(&mut self) -> bool {
        if self.peek() != Some(b'[') {
            return false;
        }
        let after = self
            .rest()
            .get(1..)
            .unwrap_or("")
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        if !after.starts_with(']') {
            return false;
        }
        self.pos = self.src.len() - after.len() + 1;
        true
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_str(&mut self, token: &str) -> bool {
        self.skip_ws();
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), SchemaError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn skip_ws(&mut self) {
        self.take_while(|b| b.is_ascii_whitespace());
    }

    /// Consumes ASCII bytes matching `pred`; stops at anything non-ASCII.
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let len = self
            .rest()
            .bytes()
            .take_while(|&b| b.is_ascii() && pred(b))
            .count();
        self.pos += len;
        self.slice(start)
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn slice(&self, start: usize) -> &'a str {
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn expected(&mut self, expected: &'static str) -> SchemaError {
        self.skip_ws();
        let rest = self.rest();
        let found = match rest.chars().next() {
            None => "end of input".to_owned(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(40)
                    .collect();
                format!("`{word}`")
            }
            Some(c) => format!("`{c}`"),
        };
        SchemaError::Expected {
            offset: self.pos,
            expected,
            found,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{classify, AliasInfo, Schema};
    use super::{MAX_SCHEMA_LEN, MAX_TYPE_DEPTH};

    /// Renders the parse of `text` one item a line, or the error.
    fn check(text: &str, expect: &str) {
        let actual = match Schema::parse(text) {
            Ok(schema) => render(&schema),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(actual.trim(), expect.trim(), "{text}");
    }

    fn render(schema: &Schema) -> String {
        let mut out = format!("{} .{}", schema.name, schema.overload);
        for arg in &schema.arguments {
            out += &format!("\n{}: {}", arg.name, arg.ty);
            if arg.kwarg_only {
                out += " kw";
            }
            if let Some(default) = &arg.default {
                out += &format!(" ={default}");
            }
            out += &render_aliases(arg.alias.as_ref(), arg.element_alias.as_ref());
        }
        for ret in &schema.returns {
            out += &format!("\n-> {}", ret.ty);
            if let Some(name) = &ret.name {
                out += &format!(" {name}");
            }
            out += &render_aliases(ret.alias.as_ref(), ret.element_alias.as_ref());
        }
        out
    }

    fn render_aliases(alias: Option<&AliasInfo>, element_alias: Option<&AliasInfo>) -> String {
        let render = |a: &AliasInfo| {
            format!(
                "{}{} -> {}",
                a.before.join("|"),
                if a.is_write { "!" } else { "" },
                a.after.join("|")
            )
        };
        let mut out = String::new();
        if let Some(a) = alias {
            out += &format!(" alias[{}]", render(a));
        }
        if let Some(a) = element_alias {
            out += &format!(" elem[{}]", render(a));
        }
        out
    }

    #[test]
    fn parses() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)", "
aten::add_ .Tensor
self: Tensor alias[a! -> a]
other: Tensor
alpha: Scalar kw =1
-> Tensor alias[a! -> a]"),
            // Wildcard after-set; list return annotated on its elements.
            ("aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]", "
aten::split .Tensor
self: Tensor alias[a -> *]
split_size: SymInt
dim: int =0
-> Tensor[] alias[ -> ] elem[a -> a]"),
            // The list of written elements is itself marked written.
            ("aten::_foreach_add_.Scalar(Tensor(a!)[] self, Scalar scalar) -> ()", "
aten::_foreach_add_ .Scalar
self: Tensor[] alias[! -> ] elem[a! -> a]
scalar: Scalar"),
            // After `[]` the annotation binds to the list; both levels can be annotated.
            ("f(Tensor[](a!) x, Tensor(a)[](b) y) -> ()", "
f .
x: Tensor[] alias[a! -> a]
y: Tensor[] alias[b -> b] elem[a -> a]"),
            // Before `?` it binds to the optional value.
            ("f(Tensor(a)? x, Tensor?[] indices, Tensor(b)?[] y) -> ()", "
f .
x: Tensor? alias[a -> a]
indices: Tensor?[]
y: Tensor?[] alias[ -> ] elem[b -> b]"),
            // Sized lists, at the argument level only.
            ("aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor", "
aten::sum .dim_IntList
self: Tensor
dim: int[1]?
keepdim: bool =False
dtype: ScalarType? kw =None
-> Tensor"),
            ("f(Tensor(a)[2] x, int[3](b) y) -> ()", "
f .
x: Tensor[2] alias[ -> ] elem[a -> a]
y: int[3] alias[b -> b]"),
            // Bare `!` makes fresh sets; the wildcard and set unions.
            ("f(Tensor! x, Tensor! y, Tensor(a|*) z, Tensor(*|) w, Tensor(a! -> a|b) v) -> Tensor(*)", "
f .
x: Tensor alias[$0! -> ]
y: Tensor alias[$1! -> ]
z: Tensor alias[a|* -> a|*]
w: Tensor alias[* -> *]
v: Tensor alias[a! -> a|b]
-> Tensor alias[* -> *]"),
            // Any identifier names a set; non-tensor types may be annotated.
            ("f(int(a) x, Tensor(alias) y, Tensor(A!) z) -> ()", "
f .
x: int alias[a -> a]
y: Tensor alias[alias -> alias]
z: Tensor alias[A! -> A]"),
            // Named returns; a single named return without parentheses.
            ("aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)", "
aten::max .dim
self: Tensor
dim: int
keepdim: bool =False
-> Tensor values
-> Tensor indices"),
            ("f() -> Tensor(a!) out", "
f .
-> Tensor out alias[a! -> a]"),
            // Defaults are kept as written.
            (r#"f(int[2] x=[0, 1], str s='a,)]', str t="q\"", float e=1e-05, int n=-1, Layout l=torch.strided) -> ()"#, r#"
f .
x: int[2] =[0, 1]
s: str ='a,)]'
t: str ="q\""
e: float =1e-05
n: int =-1
l: Layout =torch.strided"#),
            // Whitespace between any tokens; `*` may repeat or end the list.
            ("  aten :: f . o ( Tensor ( a ! ) self , * , * , Tensor [ ] x ) -> Tensor ( a ! )  ", "
aten::f .o
self: Tensor alias[a! -> a]
x: Tensor[] kw
-> Tensor alias[a! -> a]"),
            ("f(Tensor x, *) -> ()", "
f .
x: Tensor"),
            ("mylib::f(__torch__.torch.classes.ns.Cls x, t[] y) -> t", "
mylib::f .
x: __torch__.torch.classes.ns.Cls
y: t[]
-> t"),
        ];
        for (text, expect) in cases {
            check(text, expect);
        }
    }

    #[test]
    fn rejects() {
        let deep = format!("f(int{} x) -> ()", "?".repeat(MAX_TYPE_DEPTH + 1));
        let long = format!("f({}) -> ()", "int x, ".repeat(MAX_SCHEMA_LEN / 7));
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "expected an operator name at offset 0, found end of input"),
            ("aten::add", "expected `(` opening the arguments at offset 9, found end of input"),
            ("aten:add(Tensor x) -> Tensor", "expected `::` at offset 5, found `add`"),
            ("aten::add.default(Tensor x) -> Tensor", "`default` is not a legal overload name at offset 10"),
            ("f(Tensor x) Tensor", "expected `->` before the returns at offset 12, found `Tensor`"),
            ("f(Tensor x,) -> ()", "expected a type at offset 11, found `)`"),
            ("f(Tensor) -> ()", "expected an argument name at offset 8, found `)`"),
            ("f(Tensor x) -> Tensor junk more", "expected end of schema at offset 27, found `more`"),
            ("f(Tensor x) -> (Tensor,)", "expected a type at offset 23, found `)`"),
            ("f(Tensor() x) -> ()", "expected an alias set name or `*` at offset 9, found `)`"),
            ("f(Tensor(a!|b) x) -> ()", "expected `)` closing the alias annotation at offset 11, found `|`"),
            ("f(Tensor(*|a) x) -> ()", "a name cannot follow the wildcard `*` in an alias set at offset 11"),
            ("f(Tensor(a -> ) x) -> ()", "expected an alias set name or `*` at offset 14, found `)`"),
            ("f(Tensor?(a) x) -> ()", "expected an argument name at offset 9, found `(`"),
            ("f(Tensor(a)[][] x) -> ()", "alias annotations inside nested lists at offset 2 are not supported"),
            ("f(int[x] y) -> ()", "expected a list size at offset 6, found `x`"),
            ("f(int[99999999999999999999999] y) -> ()", "list size 99999999999999999999999 is too large at offset 6"),
            ("f(Tensor x=) -> ()", "expected a default value at offset 11, found `)`"),
            ("f(str x=\"abc) -> ()", "unterminated string literal at offset 8"),
            ("f(int[] x=[1, 2) -> ()", "unterminated list default at offset 10"),
            ("f(Tensor x=1 2) -> ()", "expected `,` or `)` after an argument at offset 13, found `2`"),
            ("f(...) -> ()", "varargs (`...`) at offset 2 are not supported"),
            ("f(Tensor x) -> ...", "varargs (`...`) at offset 15 are not supported"),
            ("f((int, int) x) -> ()", "tuple types at offset 2 are not supported"),
            ("f(Dict(str, Tensor) x) -> ()", "Dict, Future, RRef, Await and Union types at offset 2 are not supported"),
            ("f(Tensor x) -> Tensor(a) é", "expected end of schema at offset 25, found `é`"),
            ("f(Tensör x) -> ()", "expected an argument name at offset 6, found `ö`"),
            (&deep, "type at offset 2 nests more than 16 list or optional levels"),
            (&long, "schema text is 65543 bytes long, over the limit of 65536"),
        ];
        for (text, expect) in cases {
            check(text, &format!("error: {expect}"));
        }
    }

    /// Real schemas printed by PyTorch, the seeds of the mutation test.
    const SEEDS: &[&str] = &[
        "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
        "aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]",
        "aten::_native_batch_norm_legit(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!) running_mean, Tensor(b!) running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
        "aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
        "aten::empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
        "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor",
        "aten::index_put_(Tensor(a!) self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor(a!)",
        "aten::_foreach_add_.List(Tensor(a!)[] self, Tensor[] other, *, Scalar alpha=1) -> ()",
        "aten::native_layer_norm_backward.out(Tensor grad_out, Tensor input, SymInt[] normalized_shape, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, bool[3] output_mask, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2) -> (Tensor(a!), Tensor(b!), Tensor(c!))",
        "aten::set_.source_Tensor_storage_offset(Tensor(a!) self, Tensor source, SymInt storage_offset, SymInt[] size, SymInt[] stride=[]) -> Tensor(a!)",
    ];

    #[test]
    fn seeds_print_back_unchanged() {
        for seed in SEEDS {
            assert_eq!(
                Schema::parse(seed).map(|s| s.to_string()).as_deref(),
                Ok(*seed)
            );
        }
    }

    /// Whatever parses prints to a text that parses back to the same schema,
    /// and classifying it does not panic either.
    fn round_trips(text: &str) -> Result<(), TestCaseError> {
        if let Ok(schema) = Schema::parse(text) {
            let printed = schema.to_string();
            prop_assert_eq!(
                Schema::parse(&printed),
                Ok(schema.clone()),
                "printed as {}",
                printed
            );
            let target = schema.target().unwrap_or_default();
            let _ = classify(&target, &schema, None);
            let _ = classify(&target, &schema, Some(&["inplace_view".to_owned()]));
        }
        Ok(())
    }

    /// Characters that matter to the grammar, so that random text gets far.
    const ALPHABET: &[char] = &[
        '(', ')', '[', ']', '?', '!', '|', '*', ',', '=', '-', '>', ':', '.', ' ', '"', '\'', '\\',
        'a', 'b', 'T', '_', '0', '1', '9', 'é',
    ];

    fn grammar_text() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            prop::sample::select(ALPHABET).prop_map(String::from),
            prop::sample::select(
                &["Tensor", "int", "self", "aten::f", "->", "...", "[]", "(a!)", "(a -> *)", "=1"]
                    [..]
            )
            .prop_map(String::from),
        ];
        prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Delete(prop::sample::Index),
        Insert(prop::sample::Index, char),
        Replace(prop::sample::Index, char),
        Truncate(prop::sample::Index),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let ch = prop_oneof![4 => prop::sample::select(ALPHABET), 1 => any::<char>()];
        prop_oneof![
            any::<prop::sample::Index>().prop_map(Edit::Delete),
            (any::<prop::sample::Index>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
            (any::<prop::sample::Index>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
            any::<prop::sample::Index>().prop_map(Edit::Truncate),
        ]
    }

    fn mutated_seed() -> impl Strategy<Value = String> {
        (
            prop::sample::select(SEEDS),
            prop::collection::vec(edit(), 1..5),
        )
            .prop_map(|(seed, edits)| {
                let mut chars: Vec<char> = seed.chars().collect();
                for edit in edits {
                    let len = chars.len();
                    match edit {
                        Edit::Delete(i) if len > 0 => {
                            chars.remove(i.index(len));
                        }
                        Edit::Replace(i, c) if len > 0 => chars[i.index(len)] = c,
                        Edit::Insert(i, c) => chars.insert(i.index(len + 1), c),
                        Edit::Truncate(i) => chars.truncate(i.index(len + 1)),
                        Edit::Delete(_) | Edit::Replace(..) => {}
                    }
                }
                chars.into_iter().collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_strings_do_not_panic(text in any::<String>()) {
            round_trips(&text)?;
        }

        #[test]
        fn grammar_soup_does_not_panic(text in grammar_text()) {
            round_trips(&text)?;
        }

        #[test]
        fn mutated_real_schemas_do_not_panic(text in mutated_seed()) {
            round_trips(&text)?;
        }
    }
}
