//! Symbolic size expressions: sizes, strides, storage offsets and SymInt values as PyTorch
//! prints them (sympy's `str()` of the expression behind a `SymInt`; format spec §3,
//! semantics §2.15).
//!
//! A [`SizeExpr`] pairs a *normal form* with the text it is displayed as.
//!
//! * The normal form is an integer polynomial over *atoms*: shape symbols, plus floor-division
//!   and modulo sub-terms that are kept opaque (their operands are normal forms themselves).
//!   Expanded, with like monomials collected, two expressions are equal exactly when their
//!   normal forms are equal, so `==` and `Hash` are polynomial equality.
//! * The display is the parsed text, unchanged; for [`SizeExpr::product`] sympy's printing of the
//!   unevaluated product; for other derived values a sympy-like printing of the polynomial.
//!
//! Accepted syntax (Python precedence; whitespace anywhere between tokens):
//!
//! ```text
//! sum     := term (('+' | '-') term)*
//! term    := unary (('*' | '//' | '%') unary)*
//! unary   := ('-' | '+') unary | power
//! power   := primary ('**' unary)?            exponent: an integer constant in 0..=MAX_EXPONENT
//! primary := integer | name | '(' sum ')'
//!          | ('FloorDiv' | 'PythonMod' | 'Mod') '(' sum ',' sum ')'
//! ```
//!
//! `//` and `%` follow Python (floor division; the remainder takes the divisor's sign). sympy's
//! `str()` prints torch's `FloorDiv` as `(a//b)` but its `PythonMod` and `Mod` as function
//! calls, hence the function forms (`Mod` is torch's modulo of non-negative operands, where it
//! agrees with Python's). Derived values print floor division and modulo the same way.
//!
//! Nothing here panics: overflow, division by zero, nesting deeper than [`MAX_DEPTH`], text
//! longer than [`MAX_TEXT_LEN`], expansions beyond [`MAX_TERMS`] terms and exponents beyond
//! [`MAX_EXPONENT`] are all reported as an [`ExprError`].
//!
//! One file per concept: this one holds the public type; `normal` the normal form and its
//! arithmetic, `range` the interval arithmetic behind [`SizeExpr::bounds`], `parse` the
//! parser, `print` the sympy-style printing of derived values.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Longest accepted expression text, in bytes.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Deepest accepted nesting: parentheses, unary signs, `**` chains and nested `//` or `%`.
pub const MAX_DEPTH: usize = 200;
/// Most terms a polynomial may have once expanded.
pub const MAX_TERMS: usize = 10_000;
/// Largest exponent accepted after `**`.
pub const MAX_EXPONENT: u32 = 1_000;
/// An interval `(min, max)` of integers; `None` means unbounded on that side.
pub type Bounds = (Option<i64>, Option<i64>);

/// Most monomial products one multiplication may form: bounds the work, not only the
/// result (fuzzing found powers of long sums that took seconds at 2^18).
const MAX_MUL_WORK: usize = 1 << 14;
/// Longest prefix of the input quoted in a syntax error.
const MAX_QUOTED: usize = 200;

/// Why an expression could not be parsed, built or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The text is not a size expression. `position` is a byte offset into the input; `text` is
    /// the input, cut to its first 200 bytes when longer.
    #[error("invalid size expression {text:?}: {message} at byte {position}")]
    Syntax {
        /// The text.
        text: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// Evaluation met a symbol the environment has no value for.
    #[error("no value for symbol `{0}`")]
    UnknownSymbol(String),
    /// A value or coefficient does not fit in 64 bits.
    #[error("integer overflow: a size expression value or coefficient does not fit in 64 bits")]
    Overflow,
    /// `//` or `%` by zero.
    #[error("division by zero in a size expression")]
    DivisionByZero,
    /// Nesting beyond [`MAX_DEPTH`].
    #[error("size expression nested deeper than {} levels", MAX_DEPTH)]
    TooDeep,
    /// Text longer than [`MAX_TEXT_LEN`].
    #[error(
        "size expression of {len} bytes exceeds the limit of {} bytes",
        MAX_TEXT_LEN
    )]
    TooLong {
        /// The text's length.
        len: usize,
    },
    /// Expansion beyond [`MAX_TERMS`] terms.
    #[error("size expression expands to more than {} terms", MAX_TERMS)]
    TooManyTerms,
    /// `**` with an exponent that is not an integer constant in `0..=MAX_EXPONENT`.
    #[error(
        "exponent `{exponent}` is not an integer constant between 0 and {}",
        MAX_EXPONENT
    )]
    BadExponent {
        /// The exponent as written.
        exponent: String,
    },
    /// A JSON value that is neither an integer nor a string.
    #[error("expected a size expression (an integer or a string), found {0}")]
    NotAnExpression(String),
}

/// A size, stride, storage offset or SymInt value: an integer polynomial over shape symbols
/// (floor-division and modulo sub-terms are kept as opaque atoms whose operands are themselves
/// normalised).
///
/// Equality and hashing are polynomial equality; `Display` is the text it was parsed from.
#[derive(Clone)]
pub struct SizeExpr {
    norm: Norm,
    shown: Shown,
}

/// How a [`SizeExpr`] displays.
#[derive(Clone)]
enum Shown {
    /// Print the normal form (integers, bare symbols and derived sums).
    Canonical,
    /// The text it was parsed from, verbatim.
    Text(Arc<str>),
    /// A product built by [`SizeExpr::product`], with its flattened factors so that a later
    /// product can flatten it again, as sympy's `Mul` does.
    Product(Arc<ProductShown>),
}

struct ProductShown {
    text: Box<str>,
    form: MulForm,
}

impl SizeExpr {
    /// The integer constant `v`.
    pub const fn int(v: i64) -> SizeExpr {
        SizeExpr {
            norm: Norm::Const(v),
            shown: Shown::Canonical,
        }
    }

    /// The shape symbol `name` (expected to be an identifier, e.g. `s77`).
    pub fn symbol(name: &str) -> SizeExpr {
        SizeExpr {
            norm: Norm::symbol(name),
            shown: Shown::Canonical,
        }
    }

    /// Parses PyTorch's printing of a SymInt. Keeps `text` so that `Display` prints it back
    /// unchanged.
    pub fn parse(text: &str) -> Result<SizeExpr, ExprError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(ExprError::TooLong { len: text.len() });
        }
        // Fast paths for the overwhelmingly common forms; both print back identically from the
        // normal form, so no text is kept.
        if let Some(v) = canonical_int(text) {
            return Ok(SizeExpr::int(v));
        }
        if is_name(text) {
            return Ok(SizeExpr::symbol(text));
        }
        let norm: Norm = Parser::run(text)?;
        Ok(SizeExpr {
            norm,
            shown: Shown::Text(Arc::from(text)),
        })
    }

    /// `Some(v)` when the expression simplifies to the integer constant `v`.
    pub fn as_int(&self) -> Option<i64> {
        self.norm.as_const()
    }

    /// True when the expression simplifies to an integer constant.
    pub fn is_constant(&self) -> bool {
        matches!(self.norm, Norm::Const(_))
    }

    /// The symbol's name when the expression is exactly one symbol.
    pub fn as_symbol(&self) -> Option<&str> {
        match self.norm.single_term()? {
            ([(Atom::Symbol(name), 1)], 1) => Some(name),
            _ => None,
        }
    }

    /// Symbol names used, sorted, deduplicated.
    pub fn symbols(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        self.norm.collect_symbols(&mut names);
        names.into_iter().map(str::to_owned).collect()
    }

    /// Value with every symbol replaced by `env(symbol)`; checked arithmetic; Python semantics
    /// for `//` and `%`.
    pub fn eval(&self, env: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
        self.norm.eval(env)
    }

    /// Interval of possible values when each symbol lies in `env(symbol) = (min, max)`, `None`
    /// meaning unbounded on that side. Sound: the true range lies inside the returned one.
    pub fn bounds(&self, env: &dyn Fn(&str) -> Bounds) -> Bounds {
        self.norm.range(env).to_bounds()
    }

    /// `self + other`, displayed canonically.
    pub fn checked_add(&self, other: &SizeExpr) -> Result<SizeExpr, ExprError> {
        self.norm.add(&other.norm).map(SizeExpr::derived)
    }

    /// `self - other`, displayed canonically.
    pub fn checked_sub(&self, other: &SizeExpr) -> Result<SizeExpr, ExprError> {
        self.norm.sub(&other.norm).map(SizeExpr::derived)
    }

    /// `self * other`, expanded and displayed canonically (see [`SizeExpr::product`] for the
    /// printing of an unevaluated product).
    pub fn checked_mul(&self, other: &SizeExpr) -> Result<SizeExpr, ExprError> {
        self.norm.mul(&other.norm).map(SizeExpr::derived)
    }

    /// `-self`, displayed canonically.
    pub fn checked_neg(&self) -> Result<SizeExpr, ExprError> {
        self.norm.neg().map(SizeExpr::derived)
    }

    /// The product of `factors`, displayed the way sympy prints an unevaluated product
    /// (semantics §2.15): integer coefficient first (omitted when 1), then single-symbol factors
    /// ordered by name compared as strings (`s100` before `s27` before `s5`), repeated symbols
    /// as `name**k`, then sum factors in parentheses (an integer times a single sum is
    /// distributed instead: `3*s5 + 3`); `*` without spaces. A constant result is an integer.
    ///
    /// Factors that are products themselves (`4*s77`, or an earlier `product`) are flattened
    /// into the result, as sympy's `Mul` does, so folding `product` over sizes two at a time
    /// prints what PyTorch's stride computation prints.
    pub fn product(factors: &[SizeExpr]) -> Result<SizeExpr, ExprError> {
        let norm = Norm::product_all(factors.iter().map(|f| &f.norm))?;
        let mut form = MulForm::constant(1);
        for factor in factors {
            form.absorb(factor.mul_form()?)?;
        }
        if norm.as_const().is_some() || form.distributes() {
            return Ok(SizeExpr::derived(norm));
        }
        let text = render(|out| form.write(out));
        Ok(SizeExpr {
            norm,
            shown: Shown::Product(Arc::new(ProductShown {
                text: text.into_boxed_str(),
                form,
            })),
        })
    }

    /// The same value, displayed from its normal form instead of its original text.
    pub fn canonical(&self) -> SizeExpr {
        SizeExpr::derived(self.norm.clone())
    }

    /// JSON form used in dumps: a number when constant, else the display string.
    pub fn to_json(&self) -> serde_json::Value {
        match self.as_int() {
            Some(v) => serde_json::Value::from(v),
            None => serde_json::Value::String(self.to_string()),
        }
    }

    /// Parses the JSON form: an integer number, or a string holding an expression (possibly
    /// just an integer). Floats, booleans, null, arrays and objects are errors, and so are
    /// integers outside the `i64` range.
    pub fn from_json(v: &serde_json::Value) -> Result<SizeExpr, ExprError> {
        match v {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(SizeExpr::int(i)),
                None if n.is_u64() => Err(ExprError::Overflow),
                None => Err(ExprError::NotAnExpression(format!("the number {n}"))),
            },
            serde_json::Value::String(s) => SizeExpr::parse(s),
            serde_json::Value::Null => Err(ExprError::NotAnExpression("null".into())),
            serde_json::Value::Bool(b) => Err(ExprError::NotAnExpression(format!("`{b}`"))),
            serde_json::Value::Array(_) => Err(ExprError::NotAnExpression("an array".into())),
            serde_json::Value::Object(_) => Err(ExprError::NotAnExpression("an object".into())),
        }
    }

    fn derived(norm: Norm) -> SizeExpr {
        SizeExpr {
            norm,
            shown: Shown::Canonical,
        }
    }

    /// This value as a factor of a sympy `Mul`.
    fn mul_form(&self) -> Result<MulForm, ExprError> {
        match &self.shown {
            Shown::Product(p) => Ok(p.form.clone()),
            Shown::Canonical => Ok(MulForm::of_norm(&self.norm)),
            // The text's structure decides, as it did for sympy: `s0*(s1 + 1)` is a product
            // with a sum factor, not the sum `s0*s1 + s0`.
            Shown::Text(text) => Ok(Parser::run::<Viewed>(text)?.into_mul()),
        }
    }
}

impl PartialEq for SizeExpr {
    fn eq(&self, other: &SizeExpr) -> bool {
        self.norm == other.norm
    }
}

impl Eq for SizeExpr {}

impl Hash for SizeExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.norm.hash(state);
    }
}

impl fmt::Display for SizeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shown {
            Shown::Canonical => write_norm(f, &self.norm),
            Shown::Text(text) => f.write_str(text),
            Shown::Product(p) => f.write_str(&p.text),
        }
    }
}

impl fmt::Debug for SizeExpr {
    /// `SizeExpr(4*s77)`, with the normal form added when the display differs from it:
    /// `SizeExpr(2 + 2 = 4)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.to_string();
        let canonical = render(|out| write_norm(out, &self.norm));
        if shown == canonical {
            write!(f, "SizeExpr({shown})")
        } else {
            write!(f, "SizeExpr({shown} = {canonical})")
        }
    }
}

impl From<i64> for SizeExpr {
    fn from(v: i64) -> SizeExpr {
        SizeExpr::int(v)
    }
}

impl FromStr for SizeExpr {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<SizeExpr, ExprError> {
        SizeExpr::parse(s)
    }
}

impl Serialize for SizeExpr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_int() {
            Some(v) => serializer.serialize_i64(v),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for SizeExpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SizeExpr, D::Error> {
        deserializer.deserialize_any(SizeExprVisitor)
    }
}

struct SizeExprVisitor;

impl Visitor<'_> for SizeExprVisitor {
    type Value = SizeExpr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a size expression string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeExpr, E> {
        Ok(SizeExpr::int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeExpr, E> {
        i64::try_from(v)
            .map(SizeExpr::int)
            .map_err(|_| E::custom(ExprError::Overflow))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeExpr, E> {
        SizeExpr::parse(v).map_err(E::custom)
    }
}

/// `Some(v)` when `text` is exactly how `v` prints (no sign `+`, no leading zeros, no `-0`).
fn canonical_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = match digits.as_bytes() {
        [] => false,
        [b'0'] => digits.len() == text.len(),
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
    };
    if canonical {
        text.parse().ok()
    } else {
        None
    }
}

/// An identifier: a letter or `_`, then letters, digits and `_`.
fn is_name(text: &str) -> bool {
    match text.as_bytes() {
        [first, rest @ ..] => is_name_start(*first) && rest.iter().all(|&b| is_name_continue(b)),
        [] => false,
    }
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Runs a printer into a fresh string (writing to a `String` cannot fail).
fn render(print: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut out = String::new();
    // The only possible error would come from a `Write` impl that fails; `String`'s never does.
    let _ = print(&mut out);
    out
}

mod normal;
mod parse;
mod print;
mod range;
#[cfg(test)]
mod tests;

use normal::*;
use parse::*;
use print::*;
use range::*;
