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
        text: String,
        position: usize,
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
    TooLong { len: usize },
    /// Expansion beyond [`MAX_TERMS`] terms.
    #[error("size expression expands to more than {} terms", MAX_TERMS)]
    TooManyTerms,
    /// `**` with an exponent that is not an integer constant in `0..=MAX_EXPONENT`.
    #[error(
        "exponent `{exponent}` is not an integer constant between 0 and {}",
        MAX_EXPONENT
    )]
    BadExponent { exponent: String },
    /// A JSON value that is neither an integer nor a string.
    #[error("expected a size expression (an integer or a string), found {0}")]
    NotAnExpression(String),
}

// ---------------------------------------------------------------------------------------------
// The public type
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Normal form
// ---------------------------------------------------------------------------------------------

/// An integer constant, or a polynomial with at least one non-constant term. Keeping constants
/// out of `Poly` makes them allocation-free and makes structural equality canonical.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Norm {
    Const(i64),
    Poly(Arc<Poly>),
}

/// Terms sorted by monomial, monomials distinct, coefficients non-zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Poly {
    terms: Vec<Term>,
}

/// A monomial and its coefficient; the constant term has the empty monomial.
type Term = (Mono, i64);

/// Distinct atoms in increasing order, each with a power of at least 1.
type Mono = Vec<(Atom, u32)>;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Atom {
    Symbol(Arc<str>),
    FloorDiv(Arc<Operands>),
    Mod(Arc<Operands>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Operands {
    num: Norm,
    den: Norm,
    /// How many opaque atoms are nested here (1 for `s0//2`); bounded by [`MAX_DEPTH`] so that
    /// the recursive walks over the normal form stay shallow.
    depth: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DivOp {
    FloorDiv,
    Mod,
}

impl Norm {
    fn symbol(name: &str) -> Norm {
        Norm::atom(Atom::Symbol(Arc::from(name)))
    }

    fn atom(atom: Atom) -> Norm {
        Norm::Poly(Arc::new(Poly {
            terms: vec![(vec![(atom, 1)], 1)],
        }))
    }

    /// Wraps terms that already satisfy the `Poly` invariants.
    fn from_terms(terms: Vec<Term>) -> Result<Norm, ExprError> {
        if terms.len() > MAX_TERMS {
            return Err(ExprError::TooManyTerms);
        }
        Ok(match terms.as_slice() {
            [] => Norm::Const(0),
            [(mono, c)] if mono.is_empty() => Norm::Const(*c),
            _ => Norm::Poly(Arc::new(Poly { terms })),
        })
    }

    /// Sorts, collects like monomials and drops zeros. Sums run in `i128`, so only a final
    /// coefficient that does not fit in `i64` is an overflow.
    fn collect(mut raw: Vec<(Mono, i128)>) -> Result<Norm, ExprError> {
        raw.sort_by(|a, b| a.0.cmp(&b.0));
        let mut terms: Vec<Term> = Vec::with_capacity(raw.len());
        let mut pending: Option<(Mono, i128)> = None;
        for (mono, c) in raw {
            match &mut pending {
                Some((held, sum)) if *held == mono => {
                    *sum = sum.checked_add(c).ok_or(ExprError::Overflow)?;
                }
                _ => {
                    if let Some(done) = pending.replace((mono, c)) {
                        push_term(&mut terms, done)?;
                    }
                }
            }
        }
        if let Some(done) = pending {
            push_term(&mut terms, done)?;
        }
        Norm::from_terms(terms)
    }

    fn as_const(&self) -> Option<i64> {
        match self {
            Norm::Const(v) => Some(*v),
            Norm::Poly(_) => None,
        }
    }

    /// The monomial and coefficient when there is exactly one non-constant term.
    fn single_term(&self) -> Option<(&[(Atom, u32)], i64)> {
        match self {
            Norm::Poly(p) => match p.terms.as_slice() {
                [(mono, c)] => Some((mono.as_slice(), *c)),
                _ => None,
            },
            Norm::Const(_) => None,
        }
    }

    /// Runs `f` on the terms, a non-zero constant being one term with the empty monomial.
    fn with_terms<R>(&self, f: impl FnOnce(&[Term]) -> R) -> R {
        match self {
            Norm::Const(0) => f(&[]),
            Norm::Const(c) => f(&[(Vec::new(), *c)]),
            Norm::Poly(p) => f(&p.terms),
        }
    }

    fn add(&self, other: &Norm) -> Result<Norm, ExprError> {
        Norm::sum_all([(false, self), (false, other)])
    }

    fn sub(&self, other: &Norm) -> Result<Norm, ExprError> {
        Norm::sum_all([(false, self), (true, other)])
    }

    /// The sum of `terms`, each flagged `true` when subtracted.
    fn sum_all<'a>(
        terms: impl IntoIterator<Item = (bool, &'a Norm)> + Clone,
    ) -> Result<Norm, ExprError> {
        // |coefficient| <= 2^63, so negating one in i128 cannot overflow.
        let signed = |subtract: bool, c: i64| {
            if subtract {
                -i128::from(c)
            } else {
                i128::from(c)
            }
        };
        if terms
            .clone()
            .into_iter()
            .all(|(_, norm)| norm.as_const().is_some())
        {
            let mut total: i128 = 0;
            for (subtract, norm) in terms {
                let c = norm.as_const().unwrap_or(0);
                total = checked(total.checked_add(signed(subtract, c)))?;
            }
            return i64::try_from(total)
                .map(Norm::Const)
                .map_err(|_| ExprError::Overflow);
        }
        let mut raw = Vec::new();
        for (subtract, norm) in terms {
            norm.with_terms(|ts| {
                raw.extend(ts.iter().map(|(m, c)| (m.clone(), signed(subtract, *c))))
            });
        }
        Norm::collect(raw)
    }

    /// The product of `factors`: constants and monomials are merged with one sort, and only
    /// the remaining sums are multiplied out.
    fn product_all<'a>(factors: impl IntoIterator<Item = &'a Norm>) -> Result<Norm, ExprError> {
        let mut coeff: i64 = 1;
        let mut atoms: Mono = Vec::new();
        let mut sums = Vec::new();
        for factor in factors {
            match factor {
                Norm::Const(c) => coeff = checked(coeff.checked_mul(*c))?,
                Norm::Poly(p) => match p.terms.as_slice() {
                    [(mono, c)] => {
                        coeff = checked(coeff.checked_mul(*c))?;
                        atoms.extend(mono.iter().cloned());
                    }
                    _ => sums.push(factor),
                },
            }
        }
        if coeff == 0 {
            return Ok(Norm::Const(0));
        }
        atoms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut mono: Mono = Vec::with_capacity(atoms.len());
        for (atom, power) in atoms {
            match mono.last_mut() {
                Some((last, p)) if *last == atom => *p = checked(p.checked_add(power))?,
                _ => mono.push((atom, power)),
            }
        }
        let mut acc = Norm::from_terms(vec![(mono, coeff)])?;
        for sum in sums {
            acc = acc.mul(sum)?;
        }
        Ok(acc)
    }

    fn neg(&self) -> Result<Norm, ExprError> {
        self.scale(-1)
    }

    fn scale(&self, k: i64) -> Result<Norm, ExprError> {
        self.clone().into_scaled(k)
    }

    /// Scales in place when nothing else shares the polynomial (as in the parser).
    fn into_scaled(self, k: i64) -> Result<Norm, ExprError> {
        match self {
            Norm::Const(v) => checked(v.checked_mul(k)).map(Norm::Const),
            Norm::Poly(_) if k == 0 => Ok(Norm::Const(0)),
            Norm::Poly(_) if k == 1 => Ok(self),
            // Scaling by a non-zero integer keeps the order and creates no zero.
            Norm::Poly(mut p) => {
                for (_, c) in &mut Arc::make_mut(&mut p).terms {
                    *c = checked(c.checked_mul(k))?;
                }
                Ok(Norm::Poly(p))
            }
        }
    }

    /// `self * other` for owned operands, scaling in place when one is a constant.
    fn into_mul(self, other: Norm) -> Result<Norm, ExprError> {
        match (self, other) {
            (Norm::Const(k), p) | (p, Norm::Const(k)) => p.into_scaled(k),
            (a, b) => a.mul(&b),
        }
    }

    fn mul(&self, other: &Norm) -> Result<Norm, ExprError> {
        match (self, other) {
            (Norm::Const(a), Norm::Const(b)) => checked(a.checked_mul(*b)).map(Norm::Const),
            (Norm::Const(k), p) | (p, Norm::Const(k)) => p.scale(*k),
            (Norm::Poly(a), Norm::Poly(b)) => {
                if let ([(ma, ca)], [(mb, cb)]) = (a.terms.as_slice(), b.terms.as_slice()) {
                    // One monomial times another: nothing to collect.
                    let c = checked(ca.checked_mul(*cb))?;
                    return Norm::from_terms(vec![(mono_mul(ma, mb)?, c)]);
                }
                let work = a.terms.len().saturating_mul(b.terms.len());
                if work > MAX_MUL_WORK {
                    return Err(ExprError::TooManyTerms);
                }
                let mut raw = Vec::with_capacity(work);
                for (ma, ca) in &a.terms {
                    for (mb, cb) in &b.terms {
                        // The product of two i64 values always fits in i128.
                        raw.push((mono_mul(ma, mb)?, i128::from(*ca) * i128::from(*cb)));
                    }
                }
                Norm::collect(raw)
            }
        }
    }

    fn pow(&self, k: u32) -> Result<Norm, ExprError> {
        if let Norm::Const(v) = self {
            return checked(v.checked_pow(k)).map(Norm::Const);
        }
        // Square and multiply; the base is squared only while a higher bit remains.
        let mut result = Norm::Const(1);
        let mut base = self.clone();
        let mut rest = k;
        while rest > 0 {
            if rest & 1 == 1 {
                result = result.mul(&base)?;
            }
            rest >>= 1;
            if rest > 0 {
                base = base.mul(&base)?;
            }
        }
        Ok(result)
    }

    fn floor_div(&self, den: &Norm) -> Result<Norm, ExprError> {
        match (self, den) {
            (_, Norm::Const(0)) => Err(ExprError::DivisionByZero),
            (Norm::Const(a), Norm::Const(b)) => floor_div_i64(*a, *b).map(Norm::Const),
            // a // -c == (-a) // c
            (_, Norm::Const(c)) if *c < 0 => self
                .neg()?
                .floor_div(&Norm::Const(checked(c.checked_neg())?)),
            (_, Norm::Const(1)) => Ok(self.clone()),
            (Norm::Poly(p), Norm::Const(c)) => {
                // (c*q + r) // c == q + r // c for integer-valued q: split off the terms that c
                // divides, and cancel the common factor of what remains.
                let (quotient, rest) = split_multiples(&p.terms, *c)?;
                let rest = match rest {
                    Norm::Const(r) => Norm::Const(floor_div_i64(r, *c)?),
                    Norm::Poly(_) => {
                        let g = common_factor(&rest, *c);
                        let den = Norm::Const(checked(c.checked_div(g))?);
                        Norm::opaque(DivOp::FloorDiv, rest.div_exact(g)?, den)?
                    }
                };
                quotient.add(&rest)
            }
            // As torch's FloorDiv: 0 // x is 0.
            (Norm::Const(0), _) => Ok(Norm::Const(0)),
            _ => {
                let g = common_factor(self, content(den));
                Norm::opaque(DivOp::FloorDiv, self.div_exact(g)?, den.div_exact(g)?)
            }
        }
    }

    fn modulo(&self, den: &Norm) -> Result<Norm, ExprError> {
        match (self, den) {
            (_, Norm::Const(0)) => Err(ExprError::DivisionByZero),
            (Norm::Const(a), Norm::Const(b)) => py_mod_i64(*a, *b).map(Norm::Const),
            // a % -c == -((-a) % c)
            (_, Norm::Const(c)) if *c < 0 => self
                .neg()?
                .modulo(&Norm::Const(checked(c.checked_neg())?))?
                .neg(),
            (_, Norm::Const(1)) => Ok(Norm::Const(0)),
            (Norm::Poly(p), Norm::Const(c)) => {
                // (c*q + r) % c == r % c, and (g*r) % (g*c) == g * (r % c) for g > 0.
                let (_, rest) = split_multiples(&p.terms, *c)?;
                match rest {
                    Norm::Const(r) => py_mod_i64(r, *c).map(Norm::Const),
                    Norm::Poly(_) => {
                        let g = common_factor(&rest, *c);
                        let den = Norm::Const(checked(c.checked_div(g))?);
                        Norm::opaque(DivOp::Mod, rest.div_exact(g)?, den)?.scale(g)
                    }
                }
            }
            // As torch's PythonMod: 0 % x, x % x and (-x) % x are 0.
            (Norm::Const(0), _) => Ok(Norm::Const(0)),
            _ if self == den || self.add(den)? == Norm::Const(0) => Ok(Norm::Const(0)),
            _ => {
                let g = common_factor(self, content(den));
                Norm::opaque(DivOp::Mod, self.div_exact(g)?, den.div_exact(g)?)?.scale(g)
            }
        }
    }

    /// An opaque `num // den` or `num % den` atom.
    fn opaque(op: DivOp, num: Norm, den: Norm) -> Result<Norm, ExprError> {
        let depth = 1 + num.depth().max(den.depth());
        if depth > MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        let operands = Arc::new(Operands { num, den, depth });
        Ok(Norm::atom(match op {
            DivOp::FloorDiv => Atom::FloorDiv(operands),
            DivOp::Mod => Atom::Mod(operands),
        }))
    }

    /// Divides every coefficient by `g > 0`, which must divide them all.
    fn div_exact(&self, g: i64) -> Result<Norm, ExprError> {
        match self {
            _ if g == 1 => Ok(self.clone()),
            Norm::Const(v) => checked(v.checked_div(g)).map(Norm::Const),
            Norm::Poly(p) => Norm::from_terms(
                p.terms
                    .iter()
                    .map(|(m, c)| Ok((m.clone(), checked(c.checked_div(g))?)))
                    .collect::<Result<_, ExprError>>()?,
            ),
        }
    }

    /// Nesting depth of opaque atoms.
    fn depth(&self) -> usize {
        match self {
            Norm::Const(_) => 0,
            Norm::Poly(p) => p
                .terms
                .iter()
                .flat_map(|(mono, _)| mono.iter())
                .map(|(atom, _)| atom.depth())
                .max()
                .unwrap_or(0),
        }
    }

    fn collect_symbols<'a>(&'a self, names: &mut BTreeSet<&'a str>) {
        if let Norm::Poly(p) = self {
            for (atom, _) in p.terms.iter().flat_map(|(mono, _)| mono.iter()) {
                match atom {
                    Atom::Symbol(name) => {
                        names.insert(name);
                    }
                    Atom::FloorDiv(o) | Atom::Mod(o) => {
                        o.num.collect_symbols(names);
                        o.den.collect_symbols(names);
                    }
                }
            }
        }
    }

    fn eval(&self, env: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
        let p = match self {
            Norm::Const(v) => return Ok(*v),
            Norm::Poly(p) => p,
        };
        // Terms and their sum run in i128, so cancelling terms that overflow i64 on their own
        // still give the right value, as with Python's integers.
        let mut total: i128 = 0;
        for (mono, c) in &p.terms {
            let mut term = i128::from(*c);
            for (atom, k) in mono {
                let factor = checked(i128::from(atom.eval(env)?).checked_pow(*k))?;
                term = checked(term.checked_mul(factor))?;
            }
            total = checked(total.checked_add(term))?;
        }
        i64::try_from(total).map_err(|_| ExprError::Overflow)
    }

    fn range(&self, env: &dyn Fn(&str) -> Bounds) -> Range {
        let p = match self {
            Norm::Const(v) => return Range::point(*v),
            Norm::Poly(p) => p,
        };
        p.terms.iter().fold(Range::point(0), |total, (mono, c)| {
            let term = mono.iter().fold(Range::point(*c), |acc, (atom, k)| {
                acc.mul(atom.range(env).pow(*k))
            });
            total.add(term)
        })
    }
}

impl Atom {
    fn depth(&self) -> usize {
        match self {
            Atom::Symbol(_) => 0,
            Atom::FloorDiv(o) | Atom::Mod(o) => o.depth,
        }
    }

    fn eval(&self, env: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
        match self {
            Atom::Symbol(name) => {
                env(name).ok_or_else(|| ExprError::UnknownSymbol(name.to_string()))
            }
            Atom::FloorDiv(o) => floor_div_i64(o.num.eval(env)?, o.den.eval(env)?),
            Atom::Mod(o) => py_mod_i64(o.num.eval(env)?, o.den.eval(env)?),
        }
    }

    fn range(&self, env: &dyn Fn(&str) -> Bounds) -> Range {
        match self {
            Atom::Symbol(name) => Range::from_bounds(env(name)),
            Atom::FloorDiv(o) => Range::floor_div(o.num.range(env), o.den.range(env)),
            Atom::Mod(o) => Range::modulo(o.num.range(env), o.den.range(env)),
        }
    }
}

fn checked<T>(value: Option<T>) -> Result<T, ExprError> {
    value.ok_or(ExprError::Overflow)
}

fn push_term(terms: &mut Vec<Term>, (mono, c): (Mono, i128)) -> Result<(), ExprError> {
    if c != 0 {
        terms.push((mono, i64::try_from(c).map_err(|_| ExprError::Overflow)?));
    }
    Ok(())
}

/// Product of two monomials: a merge of the sorted atom lists, adding powers of shared atoms.
fn mono_mul(a: &Mono, b: &Mono) -> Result<Mono, ExprError> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return Ok(out),
            (Some(x), None) => {
                out.push(x.clone());
                i += 1;
            }
            (None, Some(y)) => {
                out.push(y.clone());
                j += 1;
            }
            (Some((x, p)), Some((y, q))) => match x.cmp(y) {
                Ordering::Less => {
                    out.push((x.clone(), *p));
                    i += 1;
                }
                Ordering::Greater => {
                    out.push((y.clone(), *q));
                    j += 1;
                }
                Ordering::Equal => {
                    out.push((x.clone(), checked(p.checked_add(*q))?));
                    i += 1;
                    j += 1;
                }
            },
        }
    }
}

/// Splits `terms` into (the quotient of the terms `c > 1` divides, the other terms).
fn split_multiples(terms: &[Term], c: i64) -> Result<(Norm, Norm), ExprError> {
    let mut quotient = Vec::new();
    let mut rest = Vec::new();
    for (mono, k) in terms {
        if checked(k.checked_rem(c))? == 0 {
            quotient.push((mono.clone(), checked(k.checked_div(c))?));
        } else {
            rest.push((mono.clone(), *k));
        }
    }
    Ok((Norm::from_terms(quotient)?, Norm::from_terms(rest)?))
}

/// The gcd of all coefficients (0 for the zero polynomial).
fn content(norm: &Norm) -> i64 {
    i64::try_from(
        norm.with_terms(|terms| terms.iter().fold(0, |g, (_, c)| gcd(g, c.unsigned_abs()))),
    )
    // Only a content of 2^63 does not fit; skipping the reduction then is harmless.
    .unwrap_or(1)
}

/// The positive common factor of `norm`'s coefficients and `c`, or 1.
fn common_factor(norm: &Norm, c: i64) -> i64 {
    i64::try_from(gcd(content(norm).unsigned_abs(), c.unsigned_abs()))
        .ok()
        .filter(|&g| g > 0)
        .unwrap_or(1)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Python's `a // b`: rounds toward negative infinity.
fn floor_div_i64(a: i64, b: i64) -> Result<i64, ExprError> {
    if b == 0 {
        return Err(ExprError::DivisionByZero);
    }
    let q = checked(a.checked_div(b))?;
    if checked(a.checked_rem(b))? != 0 && ((a < 0) != (b < 0)) {
        checked(q.checked_sub(1))
    } else {
        Ok(q)
    }
}

/// Python's `a % b`: the remainder takes the divisor's sign.
fn py_mod_i64(a: i64, b: i64) -> Result<i64, ExprError> {
    if b == 0 {
        return Err(ExprError::DivisionByZero);
    }
    // `checked_rem` fails only for i64::MIN % -1, whose remainder is 0.
    let r = a.checked_rem(b).unwrap_or(0);
    if r != 0 && ((r < 0) != (b < 0)) {
        checked(r.checked_add(b))
    } else {
        Ok(r)
    }
}

// ---------------------------------------------------------------------------------------------
// Interval arithmetic for `bounds`
// ---------------------------------------------------------------------------------------------

/// An extended integer. Finite values are kept within `i64` between operations, so one
/// product of two of them never overflows the `i128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ext {
    NegInf,
    Fin(i128),
    PosInf,
}

impl Ext {
    fn neg(self) -> Ext {
        match self {
            Ext::NegInf => Ext::PosInf,
            Ext::Fin(v) => Ext::Fin(-v),
            Ext::PosInf => Ext::NegInf,
        }
    }

    fn abs(self) -> Ext {
        match self {
            Ext::Fin(v) => Ext::Fin(v.abs()),
            _ => Ext::PosInf,
        }
    }

    fn signum(self) -> i8 {
        match self {
            Ext::NegInf => -1,
            Ext::Fin(v) => v.signum() as i8,
            Ext::PosInf => 1,
        }
    }

    /// Infinity of the given sign (`0` meaning the value 0).
    fn inf(sign: i8) -> Ext {
        match sign.cmp(&0) {
            Ordering::Less => Ext::NegInf,
            Ordering::Equal => Ext::Fin(0),
            Ordering::Greater => Ext::PosInf,
        }
    }

    /// Only used on a lower bound plus a lower bound, or upper plus upper, so no ∞ - ∞.
    fn add(self, other: Ext) -> Ext {
        match (self, other) {
            (Ext::Fin(a), Ext::Fin(b)) => a
                .checked_add(b)
                .map_or(Ext::inf(a.signum() as i8), Ext::Fin),
            (Ext::NegInf, _) | (_, Ext::NegInf) => Ext::NegInf,
            _ => Ext::PosInf,
        }
    }

    /// With 0 · ∞ = 0, which is what interval products need.
    fn mul(self, other: Ext) -> Ext {
        match (self, other) {
            (Ext::Fin(a), Ext::Fin(b)) => a
                .checked_mul(b)
                .map_or(Ext::inf(self.signum() * other.signum()), Ext::Fin),
            _ => Ext::inf(self.signum() * other.signum()),
        }
    }

    fn pow(self, k: u32) -> Ext {
        let sign = if k.is_multiple_of(2) {
            self.signum().abs()
        } else {
            self.signum()
        };
        match self {
            Ext::Fin(v) => v.checked_pow(k).map_or(Ext::inf(sign), Ext::Fin),
            _ if k == 0 => Ext::Fin(1),
            _ => Ext::inf(sign),
        }
    }

    fn floor_div(self, d: i128) -> Ext {
        match self {
            // `d` is positive and finite here; Euclidean division is then floor division.
            Ext::Fin(v) => Ext::Fin(v.div_euclid(d)),
            inf => inf,
        }
    }
}

/// A closed interval of integers; `lo` is never `PosInf` and `hi` never `NegInf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    lo: Ext,
    hi: Ext,
}

impl Range {
    fn point(v: i64) -> Range {
        Range {
            lo: Ext::Fin(i128::from(v)),
            hi: Ext::Fin(i128::from(v)),
        }
    }

    fn from_bounds((lo, hi): Bounds) -> Range {
        Range {
            lo: lo.map_or(Ext::NegInf, |v| Ext::Fin(i128::from(v))),
            hi: hi.map_or(Ext::PosInf, |v| Ext::Fin(i128::from(v))),
        }
    }

    /// Widens finite ends that left the `i64` range: a lower bound above it is lowered to
    /// `i64::MAX`, one below it becomes unbounded, and symmetrically for the upper bound.
    fn new(lo: Ext, hi: Ext) -> Range {
        const MIN: i128 = i64::MIN as i128;
        const MAX: i128 = i64::MAX as i128;
        let lo = match lo {
            Ext::Fin(v) if v < MIN => Ext::NegInf,
            Ext::Fin(v) if v > MAX => Ext::Fin(MAX),
            Ext::PosInf => Ext::Fin(MAX),
            other => other,
        };
        let hi = match hi {
            Ext::Fin(v) if v > MAX => Ext::PosInf,
            Ext::Fin(v) if v < MIN => Ext::Fin(MIN),
            Ext::NegInf => Ext::Fin(MIN),
            other => other,
        };
        Range { lo, hi }
    }

    fn to_bounds(self) -> Bounds {
        let finite = |e: Ext| match e {
            Ext::Fin(v) => i64::try_from(v).ok(),
            _ => None,
        };
        (finite(self.lo), finite(self.hi))
    }

    fn neg(self) -> Range {
        Range::new(self.hi.neg(), self.lo.neg())
    }

    fn add(self, other: Range) -> Range {
        Range::new(self.lo.add(other.lo), self.hi.add(other.hi))
    }

    fn mul(self, other: Range) -> Range {
        let corners = [
            self.lo.mul(other.lo),
            self.lo.mul(other.hi),
            self.hi.mul(other.lo),
            self.hi.mul(other.hi),
        ];
        let lo = corners.iter().copied().min().unwrap_or(Ext::NegInf);
        let hi = corners.iter().copied().max().unwrap_or(Ext::PosInf);
        Range::new(lo, hi)
    }

    fn pow(self, k: u32) -> Range {
        let zero = Ext::Fin(0);
        if !k.is_multiple_of(2) || self.lo >= zero {
            // Monotone on this interval.
            Range::new(self.lo.pow(k), self.hi.pow(k))
        } else if self.hi <= zero {
            Range::new(self.hi.pow(k), self.lo.pow(k))
        } else {
            Range::new(zero, self.lo.pow(k).max(self.hi.pow(k)))
        }
    }

    /// Python's `a // b` for `a` in `num` and `b` in `den`.
    fn floor_div(num: Range, den: Range) -> Range {
        if den.lo >= Ext::Fin(1) {
            Range::floor_div_positive(num, den)
        } else if den.hi <= Ext::Fin(-1) {
            // a // b == (-a) // (-b)
            Range::floor_div_positive(num.neg(), den.neg())
        } else {
            // Any non-zero integer divisor: |a // b| <= |a|.
            let m = num.lo.abs().max(num.hi.abs());
            Range::new(m.neg(), m)
        }
    }

    /// `a // b` with `den.lo >= 1`.
    fn floor_div_positive(num: Range, den: Range) -> Range {
        let (Ext::Fin(b_lo), b_hi) = (den.lo, den.hi) else {
            return Range::new(Ext::NegInf, Ext::PosInf);
        };
        // Smallest quotient: a non-negative `a` over the largest `b`, a negative one over the
        // smallest; largest quotient the other way round.
        let lo = match num.lo {
            Ext::Fin(a) if a >= 0 => match b_hi {
                Ext::Fin(b) => Ext::Fin(a.div_euclid(b)),
                _ => Ext::Fin(0),
            },
            a => a.floor_div(b_lo),
        };
        let hi = match num.hi {
            Ext::Fin(a) if a < 0 => match b_hi {
                Ext::Fin(b) => Ext::Fin(a.div_euclid(b)),
                // a / b tends to 0 from below: the floor stays -1.
                _ => Ext::Fin(-1),
            },
            a => a.floor_div(b_lo),
        };
        Range::new(lo, hi)
    }

    /// Python's `a % b` for `a` in `num` and `b` in `den`.
    fn modulo(num: Range, den: Range) -> Range {
        let zero = Ext::Fin(0);
        if den.lo >= Ext::Fin(1) {
            if num.lo >= zero && num.hi < den.lo {
                return num; // a < b: the remainder is a itself
            }
            let mut hi = den.hi.add(Ext::Fin(-1));
            if num.lo >= zero {
                hi = hi.min(num.hi); // 0 <= a % b <= a
            }
            Range::new(zero, hi)
        } else if den.hi <= Ext::Fin(-1) {
            Range::new(den.lo.add(Ext::Fin(1)), zero)
        } else {
            // |a % b| < |b|, with the sign of b.
            let m = den.lo.abs().max(den.hi.abs()).add(Ext::Fin(-1)).max(zero);
            Range::new(m.neg(), m)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// What the parser builds: the normal form alone (the fast, common case), or the normal form
/// with sympy's factor structure (for flattening a parsed text into a product).
trait Value: Sized {
    fn int(v: i64) -> Result<Self, ExprError>;
    fn symbol(name: &str) -> Result<Self, ExprError>;
    /// The sum of two or more terms, each flagged `true` when subtracted; `text` is the sum's
    /// source.
    fn sum(terms: Vec<(bool, Self)>, text: &str) -> Result<Self, ExprError>;
    /// The product of two or more factors.
    fn product(factors: Vec<Self>) -> Result<Self, ExprError>;
    fn divide(self, op: DivOp, rhs: Self) -> Result<Self, ExprError>;
    fn negate(self) -> Result<Self, ExprError>;
    fn power(self, k: u32) -> Result<Self, ExprError>;
    fn constant(&self) -> Option<i64>;
}

impl Value for Norm {
    fn int(v: i64) -> Result<Norm, ExprError> {
        Ok(Norm::Const(v))
    }

    fn symbol(name: &str) -> Result<Norm, ExprError> {
        Ok(Norm::symbol(name))
    }

    fn sum(terms: Vec<(bool, Norm)>, _text: &str) -> Result<Norm, ExprError> {
        Norm::sum_all(terms.iter().map(|(subtract, norm)| (*subtract, norm)))
    }

    fn product(factors: Vec<Norm>) -> Result<Norm, ExprError> {
        match <[Norm; 2]>::try_from(factors) {
            Ok([a, b]) => a.into_mul(b),
            Err(factors) => Norm::product_all(&factors),
        }
    }

    fn divide(self, op: DivOp, rhs: Norm) -> Result<Norm, ExprError> {
        match op {
            DivOp::FloorDiv => self.floor_div(&rhs),
            DivOp::Mod => self.modulo(&rhs),
        }
    }

    fn negate(self) -> Result<Norm, ExprError> {
        self.into_scaled(-1)
    }

    fn power(self, k: u32) -> Result<Norm, ExprError> {
        self.pow(k)
    }

    fn constant(&self) -> Option<i64> {
        self.as_const()
    }
}

/// Recursive-descent parser over bytes; every position it stops at is an ASCII token boundary,
/// so slicing the text there is safe (and done with `get` regardless).
struct Parser<'t> {
    text: &'t str,
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn run<V: Value>(text: &'t str) -> Result<V, ExprError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(ExprError::TooLong { len: text.len() });
        }
        let mut parser = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        let value = parser.sum()?;
        parser.skip_ws();
        match parser.peek() {
            None => Ok(value),
            Some(_) => Err(parser.unexpected()),
        }
    }

    /// Terms are gathered and added in one go: folding them pairwise would re-collect the
    /// growing polynomial at every `+`, quadratic in the length of the text.
    fn sum<V: Value>(&mut self) -> Result<V, ExprError> {
        self.skip_ws();
        let start = self.pos;
        let first = self.term()?;
        // Empty, hence not allocated, for the common lone term.
        let mut rest: Vec<(bool, V)> = Vec::new();
        loop {
            let save = self.pos;
            self.skip_ws();
            let subtract = match self.peek() {
                Some(b'+') => false,
                Some(b'-') => true,
                _ => {
                    self.pos = save;
                    break;
                }
            };
            self.pos += 1;
            rest.push((subtract, self.term()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        rest.insert(0, (false, first));
        V::sum(rest, self.text.get(start..self.pos).unwrap_or_default())
    }

    /// Runs of `*` are multiplied in one go, for the same reason as in `sum`; `//` and `%`
    /// (same precedence, left-associative) close the run before them.
    fn term<V: Value>(&mut self) -> Result<V, ExprError> {
        let mut head = self.unary()?;
        // The factors of the current run after `head`; not allocated for a lone factor.
        let mut run: Vec<V> = Vec::new();
        loop {
            let save = self.pos;
            self.skip_ws();
            let op = if self.eat("//") {
                Some(DivOp::FloorDiv)
            } else if self.eat("%") {
                Some(DivOp::Mod)
            } else if !self.rest().starts_with("**") && self.eat("*") {
                None
            } else {
                self.pos = save;
                return Parser::multiply(head, run);
            };
            let rhs = self.unary()?;
            match op {
                None => run.push(rhs),
                Some(op) => {
                    head = Parser::multiply(head, std::mem::take(&mut run))?.divide(op, rhs)?;
                }
            }
        }
    }

    fn multiply<V: Value>(head: V, mut rest: Vec<V>) -> Result<V, ExprError> {
        if rest.is_empty() {
            return Ok(head);
        }
        rest.insert(0, head);
        V::product(rest)
    }

    /// Every nesting (parentheses, signs, exponents, function arguments) passes through here,
    /// so this is where the depth is limited.
    fn unary<V: Value>(&mut self) -> Result<V, ExprError> {
        // The outermost call is level 0, so MAX_DEPTH parentheses around an atom are accepted.
        if self.depth > MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        self.depth += 1;
        self.skip_ws();
        let value = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                match self.negative_literal()? {
                    Some(v) => V::int(v)?,
                    None => self.unary::<V>()?.negate()?,
                }
            }
            Some(b'+') => {
                self.pos += 1;
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Ok(value)
    }

    /// After a unary minus: a literal that is not a power base is read as one negative number,
    /// so that `-9223372036854775808` parses. `-2**2` stays `-(2**2)`.
    fn negative_literal(&mut self) -> Result<Option<i64>, ExprError> {
        let save = self.pos;
        self.skip_ws();
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos = save;
            return Ok(None);
        }
        let magnitude = self.digits()?;
        let end = self.pos;
        self.skip_ws();
        if self.rest().starts_with("**") {
            self.pos = save;
            return Ok(None);
        }
        self.pos = end;
        i64::try_from(-i128::from(magnitude))
            .map(Some)
            .map_err(|_| ExprError::Overflow)
    }

    fn power<V: Value>(&mut self) -> Result<V, ExprError> {
        let base = self.primary()?;
        let save = self.pos;
        self.skip_ws();
        if !self.eat("**") {
            self.pos = save;
            return Ok(base);
        }
        self.skip_ws();
        let start = self.pos;
        let exponent: V = self.unary()?;
        let k = exponent
            .constant()
            .and_then(|k| u32::try_from(k).ok())
            .filter(|&k| k <= MAX_EXPONENT)
            .ok_or_else(|| ExprError::BadExponent {
                exponent: self
                    .text
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_owned(),
            })?;
        base.power(k)
    }

    fn primary<V: Value>(&mut self) -> Result<V, ExprError> {
        self.skip_ws();
        match self.peek() {
            Some(b'0'..=b'9') => {
                let v = self.digits()?;
                V::int(i64::try_from(v).map_err(|_| ExprError::Overflow)?)
            }
            Some(b) if is_name_start(b) => {
                let start = self.pos;
                while self.peek().is_some_and(is_name_continue) {
                    self.pos += 1;
                }
                let name = self.text.get(start..self.pos).unwrap_or_default();
                let save = self.pos;
                self.skip_ws();
                if self.peek() != Some(b'(') {
                    self.pos = save;
                    return V::symbol(name);
                }
                let op = match name {
                    "FloorDiv" => DivOp::FloorDiv,
                    "PythonMod" | "Mod" => DivOp::Mod,
                    _ => return Err(self.syntax_at(start, format!("unknown function `{name}`"))),
                };
                self.pos += 1;
                let num: V = self.sum()?;
                self.expect(b',')?;
                let den: V = self.sum()?;
                self.expect(b')')?;
                num.divide(op, den)
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.sum()?;
                self.expect(b')')?;
                Ok(inner)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// A run of decimal digits as an unsigned magnitude.
    fn digits(&mut self) -> Result<u64, ExprError> {
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            v = checked(v.checked_mul(10))?;
            v = checked(v.checked_add(u64::from(d - b'0')))?;
            self.pos += 1;
        }
        Ok(v)
    }

    fn expect(&mut self, byte: u8) -> Result<(), ExprError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            let wanted = format!("expected `{}`", char::from(byte));
            Err(match self.peek() {
                None => self.syntax_at(self.pos, format!("{wanted}, found the end")),
                Some(_) => self.syntax_at(self.pos, format!("{wanted}, found {}", self.found())),
            })
        }
    }

    fn unexpected(&self) -> ExprError {
        match self.peek() {
            None if self.text.trim().is_empty() => {
                self.syntax_at(self.pos, "empty expression".into())
            }
            None => self.syntax_at(self.pos, "unexpected end".into()),
            Some(_) => self.syntax_at(self.pos, format!("unexpected {}", self.found())),
        }
    }

    /// The character at the current position, quoted.
    fn found(&self) -> String {
        match self.rest().chars().next() {
            Some(c) => format!("{c:?}"),
            None => "the end".into(),
        }
    }

    fn syntax_at(&self, position: usize, message: String) -> ExprError {
        let mut cut = self.text.len().min(MAX_QUOTED);
        while !self.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut text = self.text.get(..cut).unwrap_or_default().to_owned();
        if cut < self.text.len() {
            text.push('…');
        }
        ExprError::Syntax {
            text,
            position,
            message,
        }
    }

    fn rest(&self) -> &'t str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// sympy's view of products (for `product`)
// ---------------------------------------------------------------------------------------------

/// A sympy `Mul`, flattened: coefficient × symbol powers × other factors (sums and opaque
/// atoms), which is what a factor contributes when multiplied into a product.
#[derive(Clone, Debug)]
struct MulForm {
    coeff: i64,
    /// Sorted by name.
    symbols: Vec<(Arc<str>, u32)>,
    /// In order of first appearance; equal bases are merged into one power.
    others: Vec<Factor>,
}

/// A factor that is not a symbol: a sum, or an opaque `//` / `%` atom.
#[derive(Clone, Debug)]
struct Factor {
    norm: Norm,
    /// How the base prints on its own (a sum without its parentheses).
    text: Arc<str>,
    precedence: u16,
    power: u32,
}

impl MulForm {
    fn constant(coeff: i64) -> MulForm {
        MulForm {
            coeff,
            symbols: Vec::new(),
            others: Vec::new(),
        }
    }

    fn of_sum(norm: Norm, text: Arc<str>) -> MulForm {
        MulForm {
            coeff: 1,
            symbols: Vec::new(),
            others: vec![Factor {
                norm,
                text,
                precedence: PREC_ADD,
                power: 1,
            }],
        }
    }

    /// The factor structure sympy gives an expanded polynomial.
    fn of_norm(norm: &Norm) -> MulForm {
        let (mono, coeff) = match norm {
            Norm::Const(c) => return MulForm::constant(*c),
            Norm::Poly(p) => match p.terms.as_slice() {
                [(mono, c)] => (mono, *c),
                _ => {
                    return MulForm::of_sum(
                        norm.clone(),
                        render(|out| write_norm(out, norm)).into(),
                    )
                }
            },
        };
        let mut form = MulForm::constant(coeff);
        for (atom, power) in mono {
            match atom {
                Atom::Symbol(name) => form.symbols.push((name.clone(), *power)),
                _ => form.others.push(Factor {
                    norm: Norm::atom(atom.clone()),
                    text: render(|out| write_atom(out, atom)).into(),
                    precedence: atom_precedence(atom),
                    power: *power,
                }),
            }
        }
        form
    }

    fn absorb(&mut self, other: MulForm) -> Result<(), ExprError> {
        self.coeff = checked(self.coeff.checked_mul(other.coeff))?;
        for (name, power) in other.symbols {
            match self.symbols.binary_search_by(|(n, _)| n.cmp(&name)) {
                Ok(i) => {
                    if let Some((_, p)) = self.symbols.get_mut(i) {
                        *p = checked(p.checked_add(power))?;
                    }
                }
                Err(i) => self.symbols.insert(i, (name, power)),
            }
        }
        for factor in other.others {
            match self.others.iter_mut().find(|f| f.norm == factor.norm) {
                Some(f) => f.power = checked(f.power.checked_add(factor.power))?,
                None => self.others.push(factor),
            }
        }
        Ok(())
    }

    fn pow(mut self, k: u32) -> Result<MulForm, ExprError> {
        if k == 0 {
            return Ok(MulForm::constant(1));
        }
        self.coeff = checked(self.coeff.checked_pow(k))?;
        for (_, p) in &mut self.symbols {
            *p = checked(p.checked_mul(k))?;
        }
        for f in &mut self.others {
            f.power = checked(f.power.checked_mul(k))?;
        }
        Ok(self)
    }

    /// sympy's two-argument rule: a number times a single sum distributes (`3*s5 + 3`).
    fn distributes(&self) -> bool {
        !matches!(self.coeff, 0 | 1)
            && self.symbols.is_empty()
            && matches!(self.others.as_slice(), [f] if f.power == 1 && f.precedence == PREC_ADD)
    }

    fn write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        // sympy orders the factors by sort key: symbols (by name), then sums, then functions.
        let mut others: Vec<(&Factor, SortKey)> = self
            .others
            .iter()
            .map(|f| {
                let mut key = expr_key(&f.norm);
                key.exp = i64::from(f.power);
                (f, key)
            })
            .collect();
        others.sort_by(|a, b| a.1.cmp(&b.1));
        let pieces: Vec<(Piece<'_>, u32)> = self
            .symbols
            .iter()
            .map(|(name, power)| (Piece::Name(name), *power))
            .chain(
                others
                    .iter()
                    .map(|(f, _)| (Piece::Text(&f.text, f.precedence), f.power)),
            )
            .collect();
        if self.coeff < 0 {
            out.write_char('-')?;
        }
        write_mul(out, self.coeff < 0, self.coeff.unsigned_abs(), &pieces)
    }
}

/// A parsed value with its sympy factor structure.
#[derive(Clone, Debug)]
struct Viewed {
    norm: Norm,
    form: Form,
}

#[derive(Clone, Debug)]
enum Form {
    Mul(MulForm),
    /// A sum, with its source text.
    Sum(Arc<str>),
}

impl Viewed {
    fn into_mul(self) -> MulForm {
        match self.form {
            Form::Mul(m) => m,
            Form::Sum(text) => MulForm::of_sum(self.norm, text),
        }
    }

    fn of_norm(norm: Norm) -> Viewed {
        let form = Form::Mul(MulForm::of_norm(&norm));
        Viewed { norm, form }
    }
}

impl Value for Viewed {
    fn int(v: i64) -> Result<Viewed, ExprError> {
        Ok(Viewed::of_norm(Norm::Const(v)))
    }

    fn symbol(name: &str) -> Result<Viewed, ExprError> {
        Ok(Viewed::of_norm(Norm::symbol(name)))
    }

    fn sum(terms: Vec<(bool, Viewed)>, text: &str) -> Result<Viewed, ExprError> {
        let norm = Norm::sum_all(terms.iter().map(|(subtract, v)| (*subtract, &v.norm)))?;
        Ok(match norm {
            Norm::Const(_) => Viewed::of_norm(norm),
            Norm::Poly(_) => Viewed {
                norm,
                form: Form::Sum(Arc::from(text)),
            },
        })
    }

    fn product(factors: Vec<Viewed>) -> Result<Viewed, ExprError> {
        let norm = Norm::product_all(factors.iter().map(|v| &v.norm))?;
        let mut form = MulForm::constant(1);
        for factor in factors {
            form.absorb(factor.into_mul())?;
        }
        Ok(Viewed {
            norm,
            form: Form::Mul(form),
        })
    }

    fn divide(self, op: DivOp, rhs: Viewed) -> Result<Viewed, ExprError> {
        Ok(Viewed::of_norm(self.norm.divide(op, rhs.norm)?))
    }

    fn negate(self) -> Result<Viewed, ExprError> {
        Viewed::product(vec![Viewed::of_norm(Norm::Const(-1)), self])
    }

    fn power(self, k: u32) -> Result<Viewed, ExprError> {
        let norm = self.norm.pow(k)?;
        let form = self.into_mul().pow(k)?;
        Ok(Viewed {
            norm,
            form: Form::Mul(form),
        })
    }

    fn constant(&self) -> Option<i64> {
        self.norm.as_const()
    }
}

// ---------------------------------------------------------------------------------------------
// Printing, after sympy's StrPrinter
// ---------------------------------------------------------------------------------------------

/// sympy's precedence levels, and the ones torch gives its functions.
const PREC_MOD: u16 = 35; // torch's PythonMod: below Add, so sympy brackets it almost everywhere
const PREC_ADD: u16 = 40;
const PREC_MUL: u16 = 50; // also torch's FloorDiv
const PREC_POW: u16 = 60;
const PREC_ATOM: u16 = 1000;

fn atom_precedence(atom: &Atom) -> u16 {
    match atom {
        Atom::Symbol(_) => PREC_ATOM,
        Atom::FloorDiv(_) => PREC_MUL,
        Atom::Mod(_) => PREC_MOD,
    }
}

/// The precedence sympy gives the expression a normal form stands for.
fn norm_precedence(norm: &Norm) -> u16 {
    match norm {
        Norm::Const(v) if *v < 0 => PREC_ADD,
        Norm::Const(_) => PREC_ATOM,
        Norm::Poly(_) => match norm.single_term() {
            Some(([(atom, 1)], 1)) => atom_precedence(atom),
            Some(([_], 1)) => PREC_POW,
            Some((_, c)) if c < 0 => PREC_ADD,
            Some(_) => PREC_MUL,
            None => PREC_ADD,
        },
    }
}

/// One factor of a printed product.
enum Piece<'a> {
    Name(&'a str),
    Atom(&'a Atom),
    Text(&'a str, u16),
}

impl Piece<'_> {
    fn precedence(&self) -> u16 {
        match self {
            Piece::Name(_) => PREC_ATOM,
            Piece::Atom(atom) => atom_precedence(atom),
            Piece::Text(_, precedence) => *precedence,
        }
    }

    fn write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Piece::Name(name) => out.write_str(name),
            Piece::Atom(atom) => write_atom(out, atom),
            Piece::Text(text, _) => out.write_str(text),
        }
    }

    /// sympy's `parenthesize(item, level, strict=False)`: brackets at or below `level`.
    fn write_at(&self, out: &mut dyn fmt::Write, level: u16) -> fmt::Result {
        if self.precedence() <= level {
            out.write_char('(')?;
            self.write(out)?;
            out.write_char(')')
        } else {
            self.write(out)
        }
    }
}

/// The body of `±mag * Π pieces` as sympy's `_print_Mul` prints it; the caller writes the sign.
/// A negative product has Add's precedence in sympy, so its factors are bracketed less eagerly.
fn write_mul(
    out: &mut dyn fmt::Write,
    negative: bool,
    mag: u64,
    pieces: &[(Piece<'_>, u32)],
) -> fmt::Result {
    match pieces {
        [] => return write!(out, "{mag}"),
        // Not a product at all: the factor prints alone.
        [(piece, 1)] if mag == 1 && !negative => return piece.write(out),
        _ => {}
    }
    let level = if negative { PREC_ADD } else { PREC_MUL };
    let mut separator = "";
    if mag != 1 {
        write!(out, "{mag}")?;
        separator = "*";
    }
    for (piece, power) in pieces {
        out.write_str(separator)?;
        separator = "*";
        if *power == 1 {
            piece.write_at(out, level)?;
        } else {
            piece.write_at(out, PREC_POW)?;
            write!(out, "**{power}")?;
        }
    }
    Ok(())
}

fn write_norm(out: &mut dyn fmt::Write, norm: &Norm) -> fmt::Result {
    match norm {
        Norm::Const(v) => write!(out, "{v}"),
        Norm::Poly(p) => write_poly(out, p),
    }
}

/// sympy's `_print_Add`: terms in `as_ordered_terms` order, joined by ` + ` / ` - `.
fn write_poly(out: &mut dyn fmt::Write, poly: &Poly) -> fmt::Result {
    let terms = ordered_terms(poly);
    let several = terms.len() > 1;
    for (i, term) in terms.iter().enumerate() {
        let negative = term.coeff < 0;
        let pieces: Vec<(Piece<'_>, u32)> = term
            .factors
            .iter()
            .map(|(atom, power)| (Piece::Atom(atom), *power))
            .collect();
        if i > 0 && term.coeff == i64::MIN {
            // `- 9223372036854775808` would not parse back: 2^63 is no i64. Not sympy's
            // printing, but no dump has such a coefficient.
            out.write_str(" + (-")?;
            write_mul(out, negative, term.coeff.unsigned_abs(), &pieces)?;
            out.write_char(')')?;
            continue;
        }
        out.write_str(match (i, negative) {
            (0, false) => "",
            (0, true) => "-",
            (_, false) => " + ",
            (_, true) => " - ",
        })?;
        // A lone term below Add's precedence (torch's PythonMod) is bracketed inside a sum.
        let bracket = several
            && term.coeff == 1
            && matches!(pieces.as_slice(), [(piece, 1)] if piece.precedence() < PREC_ADD);
        if bracket {
            out.write_char('(')?;
        }
        write_mul(out, negative, term.coeff.unsigned_abs(), &pieces)?;
        if bracket {
            out.write_char(')')?;
        }
    }
    Ok(())
}

/// torch's printing: `(a//b)` with non-atomic operands bracketed, and `PythonMod(a, b)`.
fn write_atom(out: &mut dyn fmt::Write, atom: &Atom) -> fmt::Result {
    match atom {
        Atom::Symbol(name) => out.write_str(name),
        Atom::FloorDiv(o) => {
            out.write_char('(')?;
            write_operand(out, &o.num)?;
            out.write_str("//")?;
            write_operand(out, &o.den)?;
            out.write_char(')')
        }
        Atom::Mod(o) => {
            out.write_str("PythonMod(")?;
            write_norm(out, &o.num)?;
            out.write_str(", ")?;
            write_norm(out, &o.den)?;
            out.write_char(')')
        }
    }
}

fn write_operand(out: &mut dyn fmt::Write, norm: &Norm) -> fmt::Result {
    if norm_precedence(norm) < PREC_ATOM {
        out.write_char('(')?;
        write_norm(out, norm)?;
        out.write_char(')')
    } else {
        write_norm(out, norm)
    }
}

/// A term's factors as (generator rank, atom, power), sorted by rank, and its coefficient.
type RankedTerm<'a> = (Vec<(usize, &'a Atom, u32)>, i64);

/// A term with its factors in sympy's order.
struct OrderedTerm<'a> {
    coeff: i64,
    factors: Vec<(&'a Atom, u32)>,
    /// Each factor's atom key (exponent and coefficient 1), computed once:
    /// recomputing them per use is exponential in the nesting of `//` and `%`.
    keys: Vec<SortKey>,
}

/// sympy's `Expr.as_ordered_terms()`: the atoms ("generators") are sorted by sort key, and the
/// terms by their exponent vectors over them, lexicographically, largest first. One exception:
/// a positive number plus a negative multiple of one factor prints the number first (`1 - s0`).
fn ordered_terms(poly: &Poly) -> Vec<OrderedTerm<'_>> {
    let atoms: BTreeSet<&Atom> = poly
        .terms
        .iter()
        .flat_map(|(mono, _)| mono.iter().map(|(atom, _)| atom))
        .collect();
    let mut gens: Vec<(&Atom, SortKey)> = atoms
        .into_iter()
        .map(|atom| (atom, atom_key(atom, 1, 1)))
        .collect();
    // Ties (never expected) fall back to the structural order, keeping the order total.
    gens.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    let rank: BTreeMap<&Atom, usize> = gens
        .iter()
        .enumerate()
        .map(|(i, (atom, _))| (*atom, i))
        .collect();

    let mut ranked: Vec<RankedTerm<'_>> = poly
        .terms
        .iter()
        .map(|(mono, c)| {
            let mut factors: Vec<(usize, &Atom, u32)> = mono
                .iter()
                .map(|(atom, power)| (rank.get(atom).copied().unwrap_or(usize::MAX), atom, *power))
                .collect();
            factors.sort_by_key(|f| f.0);
            (factors, *c)
        })
        .collect();
    ranked.sort_by(|a, b| lex_descending(&a.0, &b.0));
    if let [(first, c1), (second, c2)] = ranked.as_slice() {
        if second.is_empty() && *c2 > 0 && *c1 < 0 && first.len() == 1 {
            ranked.swap(0, 1);
        }
    }
    ranked
        .into_iter()
        .map(|(factors, coeff)| OrderedTerm {
            coeff,
            keys: factors
                .iter()
                .map(|(rank, atom, _)| {
                    gens.get(*rank)
                        .map_or_else(|| atom_key(atom, 1, 1), |(_, key)| key.clone())
                })
                .collect(),
            factors: factors
                .into_iter()
                .map(|(_, atom, power)| (atom, power))
                .collect(),
        })
        .collect()
}

/// Compares exponent vectors, given as (generator rank, power) lists sorted by rank, so that
/// the lexicographically larger vector comes first.
fn lex_descending(a: &[(usize, &Atom, u32)], b: &[(usize, &Atom, u32)]) -> Ordering {
    let mut a = a.iter();
    let mut b = b.iter();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (Some((ra, _, pa)), Some((rb, _, pb))) => {
                // A generator present only in `a` (smaller rank) makes `a` larger.
                let order = ra.cmp(rb).then_with(|| pb.cmp(pa));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// sympy's `default_sort_key`, for the expressions a normal form stands for:
/// `(class_key, (len(args), args), exponent, coefficient)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    class: (u8, u32, &'static str),
    args: KeyArgs,
    exp: i64,
    coeff: i64,
}

const NUMBER_CLASS: (u8, u32, &str) = (1, 0, "Number");
const SYMBOL_CLASS: (u8, u32, &str) = (2, 0, "Symbol");
const MUL_CLASS: (u8, u32, &str) = (3, 0, "Mul");
const ADD_CLASS: (u8, u32, &str) = (3, 1, "Add");
const FLOOR_DIV_CLASS: (u8, u32, &str) = (4, 10_000, "FloorDiv");
const PYTHON_MOD_CLASS: (u8, u32, &str) = (4, 10_000, "PythonMod");

#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyArgs {
    /// An atom's `(str(self),)`.
    Name(Arc<str>),
    /// The sort keys of the arguments.
    List(Vec<SortKey>),
}

impl KeyArgs {
    fn len(&self) -> usize {
        match self {
            KeyArgs::Name(_) => 1,
            KeyArgs::List(keys) => keys.len(),
        }
    }
}

impl Ord for KeyArgs {
    /// Python compares `(len(args), args)`.
    fn cmp(&self, other: &KeyArgs) -> Ordering {
        self.len()
            .cmp(&other.len())
            .then_with(|| match (self, other) {
                (KeyArgs::Name(a), KeyArgs::Name(b)) => a.cmp(b),
                (KeyArgs::List(a), KeyArgs::List(b)) => a.cmp(b),
                (KeyArgs::Name(_), KeyArgs::List(_)) => Ordering::Less,
                (KeyArgs::List(_), KeyArgs::Name(_)) => Ordering::Greater,
            })
    }
}

impl PartialOrd for KeyArgs {
    fn partial_cmp(&self, other: &KeyArgs) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn number_key(v: i64) -> SortKey {
    SortKey {
        class: NUMBER_CLASS,
        args: KeyArgs::List(Vec::new()),
        exp: 0,
        coeff: v,
    }
}

fn atom_key(atom: &Atom, exp: u32, coeff: i64) -> SortKey {
    let (class, args) = match atom {
        Atom::Symbol(name) => (SYMBOL_CLASS, KeyArgs::Name(name.clone())),
        Atom::FloorDiv(o) => (FLOOR_DIV_CLASS, operand_keys(o)),
        Atom::Mod(o) => (PYTHON_MOD_CLASS, operand_keys(o)),
    };
    SortKey {
        class,
        args,
        exp: i64::from(exp),
        coeff,
    }
}

fn operand_keys(o: &Operands) -> KeyArgs {
    KeyArgs::List(vec![expr_key(&o.num), expr_key(&o.den)])
}

/// `c * x**k` keys as `x` with exponent `k` and coefficient `c`; a longer product as a `Mul`.
fn term_key(term: &OrderedTerm<'_>) -> SortKey {
    let keyed = |key: &SortKey, power: u32, coeff: i64| SortKey {
        exp: i64::from(power),
        coeff,
        ..key.clone()
    };
    match (term.factors.as_slice(), term.keys.as_slice()) {
        ([], _) => number_key(term.coeff),
        ([(_, power)], [key]) => keyed(key, *power, term.coeff),
        (factors, keys) => SortKey {
            class: MUL_CLASS,
            args: KeyArgs::List(
                factors
                    .iter()
                    .zip(keys)
                    .map(|((_, p), key)| keyed(key, *p, 1))
                    .collect(),
            ),
            exp: 1,
            coeff: term.coeff,
        },
    }
}

fn expr_key(norm: &Norm) -> SortKey {
    let p = match norm {
        Norm::Const(v) => return number_key(*v),
        Norm::Poly(p) => p,
    };
    let terms = ordered_terms(p);
    match terms.as_slice() {
        [term] => term_key(term),
        _ => SortKey {
            class: ADD_CLASS,
            args: KeyArgs::List(terms.iter().map(term_key).collect()),
            exp: 1,
            coeff: 1,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Evaluation environment of the tables: `sN` is worth N; other names have no value.
    fn values(name: &str) -> Option<i64> {
        name.strip_prefix('s')?.parse().ok()
    }

    /// Bounds environment of the tables: `sN` in [2, N], `pN` in [0, ∞), `nN` in [-N, -1],
    /// anything else unbounded.
    fn ranges(name: &str) -> Bounds {
        let number = |prefix: char| name.strip_prefix(prefix)?.parse::<i64>().ok();
        if let Some(n) = number('s') {
            (Some(2), Some(n))
        } else if number('p').is_some() {
            (Some(0), None)
        } else if let Some(n) = number('n') {
            (Some(-n), Some(-1))
        } else {
            (None, None)
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Expect {
        /// Parses, and is polynomially equal to the other expression.
        Same(&'static str),
        /// Parses, and is not equal to the other expression.
        Differs(&'static str),
        /// Parses to this integer constant.
        Int(i64),
        /// The normal form prints like this.
        Canon(&'static str),
        /// Evaluates to this under `values`.
        Eval(i64),
        /// Evaluation under `values` fails with a message containing this.
        EvalErr(&'static str),
        /// Bounds under `ranges`.
        Range(Option<i64>, Option<i64>),
        /// Parsing fails with a message containing this.
        Error(&'static str),
    }
    use Expect::*;

    const CASES: &[(&str, Expect)] = &[
        // Polynomial equality.
        ("s77", Same("s77")),
        ("4*s77", Same("s77*4")),
        ("s27*s77", Same("s77*s27")),
        ("s24 + s37", Same("s37 + s24")),
        ("4*s92*(s93 - 1) + 4*s92", Same("4*s92*s93")),
        ("s27**2", Same("s27*s27")),
        ("(s0 + s1)**2", Same("s0**2 + 2*s0*s1 + s1**2")),
        ("(s0 - s1)*(s0 + s1)", Same("s0**2 - s1**2")),
        ("  s5\t", Same("s5")),
        ("+s5", Same("s5")),
        ("--s5", Same("s5")),
        ("s0 + 1", Differs("s0")),
        ("s0*s1", Differs("s0 + s1")),
        ("s1", Differs("s10")),
        ("s0//s1", Differs("s0//s2")),
        // Constants.
        ("2 + 2", Int(4)),
        ("s0 - s0", Int(0)),
        ("0*s0", Int(0)),
        ("s0**0", Int(1)),
        ("-2**2", Int(-4)),
        ("(-2)**2", Int(4)),
        ("2**3**2", Int(512)),
        ("-9223372036854775808", Int(i64::MIN)),
        ("- 9223372036854775808", Int(i64::MIN)),
        ("9223372036854775807", Int(i64::MAX)),
        ("9223372036854775807 + 1 - 1", Int(i64::MAX)),
        ("007", Int(7)),
        // Python's // and %.
        ("7//2", Int(3)),
        ("-7//2", Int(-4)),
        ("7//-2", Int(-4)),
        ("-7 % 3", Int(2)),
        ("7 % -3", Int(-2)),
        ("-9223372036854775808 % -1", Int(0)),
        ("(4*s0 + 8)//4", Same("s0 + 2")),
        ("(4*s0 + 6)//4", Same("s0 + 1")),
        ("(2*s0 + 2)//4", Same("(s0 + 1)//2")),
        ("(s0 + 2*s1)//2", Same("s1 + s0//2")),
        ("(s0 + 2*s1) % 2", Same("s0 % 2")),
        ("(2*s0) % 4", Same("2*(s0 % 2)")),
        ("(2*s0)//(2*s1)", Same("s0//s1")),
        ("s0 // -2", Same("(-s0)//2")),
        ("s0 % -2", Same("-((-s0) % 2)")),
        ("s0//1", Same("s0")),
        ("s0 % 1", Int(0)),
        ("s0 % s0", Int(0)),
        ("0 // s1", Int(0)),
        ("FloorDiv(s0, 2)", Same("s0//2")),
        ("PythonMod(s0, 2)", Same("s0 % 2")),
        ("Mod(s0, 2)", Same("s0 % 2")),
        ("2*((s0//2))", Same("2*(s0//2)")),
        ("s1*s0//2", Same("(s0*s1)//2")),
        ("s0//2*s1", Same("s1*(s0//2)")),
        // Printing of normal forms, after sympy.
        ("1 + s0", Canon("s0 + 1")),
        ("-s0 + 1", Canon("1 - s0")),
        ("-3*s0 + 2", Canon("2 - 3*s0")),
        ("1 - s0**2", Canon("1 - s0**2")),
        ("1 - s0*s1", Canon("-s0*s1 + 1")),
        ("-1 - s0", Canon("-s0 - 1")),
        ("s37 + s24", Canon("s24 + s37")),
        ("s1 + s0**2", Canon("s0**2 + s1")),
        ("s1**2 + s0", Canon("s0 + s1**2")),
        ("s0*s1 + s0 + s1**2", Canon("s0*s1 + s0 + s1**2")),
        ("4*s92*(s93 - 1) + 4*s92", Canon("4*s92*s93")),
        ("(s0 + 1)**2", Canon("s0**2 + 2*s0 + 1")),
        ("s77*s27*4", Canon("4*s27*s77")),
        ("s5*s100*s27", Canon("s100*s27*s5")),
        ("-s0", Canon("-s0")),
        ("-s0**2", Canon("-s0**2")),
        ("-(2*s0*s1)", Canon("-2*s0*s1")),
        ("s0//2", Canon("(s0//2)")),
        ("(s0 + 1)//2", Canon("((s0 + 1)//2)")),
        ("-s0//2", Canon("((-s0)//2)")),
        ("(s0//2)//3", Canon("(((s0//2))//3)")),
        ("2*(s0//2)", Canon("2*((s0//2))")),
        ("-2*(s0//2)", Canon("-2*(s0//2)")),
        ("(s0//2)**2", Canon("((s0//2))**2")),
        ("s1 + s0//2", Canon("s1 + (s0//2)")),
        ("s0 % 3", Canon("PythonMod(s0, 3)")),
        ("s1 + s0 % 3", Canon("s1 + (PythonMod(s0, 3))")),
        ("s1 - s0 % 3", Canon("s1 - (PythonMod(s0, 3))")),
        (
            "s0 - 9223372036854775807*s1 - s1",
            Canon("s0 + (-9223372036854775808*s1)"),
        ),
        ("-9223372036854775808", Canon("-9223372036854775808")),
        // Evaluation.
        ("s7//s2", Eval(3)),
        ("-s7//s2", Eval(-4)),
        ("s7 % s3", Eval(1)),
        ("-s7 % s3", Eval(2)),
        ("s7 % (-s3)", Eval(-2)),
        ("s3**3 - s2", Eval(25)),
        ("4*s92*(s93 - 1) + 4*s92", Eval(4 * 92 * 93)),
        // Terms that overflow alone but cancel, as with Python's integers.
        (
            "s4611686018427387904*s2 - s4611686018427387904*s02",
            Eval(0),
        ),
        ("x + 1", EvalErr("no value for symbol `x`")),
        ("s1 // s0", EvalErr("division by zero")),
        ("s1 % s0", EvalErr("division by zero")),
        ("s9223372036854775807 + 1", EvalErr("overflow")),
        ("s3037000500**2", EvalErr("overflow")),
        // Bounds.
        ("7", Range(Some(7), Some(7))),
        ("s10", Range(Some(2), Some(10))),
        ("s10*s3", Range(Some(4), Some(30))),
        ("s10 - s3", Range(Some(-1), Some(8))),
        ("-s10", Range(Some(-10), Some(-2))),
        ("p0*s3", Range(Some(0), None)),
        ("u0", Range(None, None)),
        ("u0**2", Range(Some(0), None)),
        ("u0**2 + 1", Range(Some(1), None)),
        ("n5**3", Range(Some(-125), Some(-1))),
        ("n5**2", Range(Some(1), Some(25))),
        ("s10*u0", Range(None, None)),
        ("s9223372036854775807*s4", Range(Some(4), None)),
        ("s10//s3", Range(Some(0), Some(5))),
        ("n9//2", Range(Some(-5), Some(-1))),
        ("p0//4", Range(Some(0), None)),
        ("u0//4", Range(None, None)),
        ("s10//u1", Range(Some(-10), Some(10))),
        ("s10//n3", Range(Some(-10), Some(-1))),
        ("s10 % s3", Range(Some(0), Some(2))),
        ("s10 % 20", Range(Some(2), Some(10))),
        ("u0 % 4", Range(Some(0), Some(3))),
        ("u0 % n5", Range(Some(-4), Some(0))),
        ("s10 % u1", Range(None, None)),
        // Errors.
        ("", Error("empty expression")),
        ("   ", Error("empty expression")),
        ("s0 +", Error("unexpected end")),
        ("s0**", Error("unexpected end")),
        ("(s0", Error("expected `)`, found the end")),
        ("s0)", Error("unexpected ')' at byte 2")),
        ("s0 $ 1", Error("unexpected '$' at byte 3")),
        ("s0 s1", Error("unexpected 's'")),
        ("*s0", Error("unexpected '*' at byte 0")),
        ("s0 * * s1", Error("unexpected '*'")),
        ("2.5", Error("unexpected '.'")),
        ("s0 / 2", Error("unexpected '/'")),
        ("s0 + é", Error("unexpected 'é' at byte 5")),
        ("foo(1, 2)", Error("unknown function `foo`")),
        ("FloorDiv(s0)", Error("expected `,`")),
        ("FloorDiv(s0, 2, 3)", Error("expected `)`, found ','")),
        ("s0 // 0", Error("division by zero")),
        ("s0 % (s1 - s1)", Error("division by zero")),
        ("1 // 0", Error("division by zero")),
        ("s0**s1", Error("exponent `s1`")),
        ("s0**-1", Error("exponent `-1`")),
        ("s0**1001", Error("exponent `1001`")),
        ("99999999999999999999", Error("overflow")),
        ("9223372036854775808", Error("overflow")),
        ("-9223372036854775809", Error("overflow")),
        ("-9223372036854775808**1", Error("overflow")),
        ("2**63", Error("overflow")),
        ("(s0 + 1)**1000", Error("overflow")),
        (
            "(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9)**8",
            Error("more than 10000 terms"),
        ),
        ("s0**1000**1000", Error("overflow")),
    ];

    fn check(full_input: &str, expect: Expect) {
        let parsed = SizeExpr::parse(full_input);
        // Failure messages quote long generated inputs by their start only.
        let input = full_input.get(..80).unwrap_or(full_input);
        if let Error(fragment) = expect {
            let err = parsed.expect_err(input).to_string();
            assert!(
                err.contains(fragment),
                "{input:?}: error {err:?} lacks {fragment:?}"
            );
            return;
        }
        let e = parsed.unwrap_or_else(|err| panic!("{input:?}: {err}"));
        assert!(
            e.to_string() == full_input,
            "{input:?}: display keeps the parsed text"
        );
        assert_eq!(
            SizeExpr::parse(&e.canonical().to_string()).unwrap(),
            e,
            "{input:?}"
        );
        match expect {
            Same(other) => assert_eq!(e, SizeExpr::parse(other).unwrap(), "{input:?}"),
            Differs(other) => assert_ne!(e, SizeExpr::parse(other).unwrap(), "{input:?}"),
            Int(v) => {
                assert_eq!(e.as_int(), Some(v), "{input:?}");
                assert_eq!(e, SizeExpr::int(v), "{input:?}");
            }
            Canon(text) => assert_eq!(e.canonical().to_string(), text, "{input:?}"),
            Eval(v) => assert_eq!(e.eval(&values), Ok(v), "{input:?}"),
            EvalErr(fragment) => {
                let err = e.eval(&values).expect_err(input).to_string();
                assert!(
                    err.contains(fragment),
                    "{input:?}: error {err:?} lacks {fragment:?}"
                );
            }
            Range(lo, hi) => assert_eq!(e.bounds(&ranges), (lo, hi), "{input:?}"),
            Error(_) => unreachable!(),
        }
    }

    #[test]
    fn table() {
        for (input, expect) in CASES {
            check(input, *expect);
        }
    }

    #[test]
    fn limits() {
        let nest = |n: usize| format!("{}s0{}", "(".repeat(n), ")".repeat(n));
        check(&nest(MAX_DEPTH), Same("s0"));
        check(&nest(MAX_DEPTH + 1), Error("nested deeper than 200"));
        check(&nest(20_000), Error("nested deeper than 200"));
        check(&format!("{}s0", "-".repeat(30_000)), Error("nested deeper"));
        check(
            &format!("s0{}", "**1".repeat(20_000)),
            Error("nested deeper"),
        );
        check(
            &format!("s0{}", "//2".repeat(MAX_DEPTH + 1)),
            Error("nested deeper"),
        );
        check(
            &format!("s0{}", "%s1".repeat(MAX_DEPTH + 1)),
            Error("nested deeper"),
        );
        check(
            &"1".repeat(MAX_TEXT_LEN + 1),
            Error("exceeds the limit of 65536 bytes"),
        );
        // Long flat sums and products are fine, and fast.
        let n = 7_000;
        let sum = (0..n)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" + ");
        assert_eq!(
            SizeExpr::parse(&sum).unwrap().eval(&values),
            Ok(n * (n - 1) / 2)
        );
        let product = (0..n)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join("*");
        assert_eq!(SizeExpr::parse(&product).unwrap().symbols().len(), 7_000);
        let many = format!("s0{}", " + s0".repeat(10_000));
        check(&many, Same("10001*s0"));
    }

    #[test]
    fn syntax_errors_locate_and_quote() {
        let long = format!("{} $", "s0 + ".repeat(100));
        match SizeExpr::parse(&long) {
            Err(ExprError::Syntax { text, position, .. }) => {
                assert_eq!(position, 501);
                assert!(text.ends_with('…') && text.len() < 210, "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    const PRODUCTS: &[(&[&str], &str)] = &[
        (&["s53", "s27"], "s27*s53"),
        (&["4", "s77"], "4*s77"),
        (&["s27", "s5 + 1"], "s27*(s5 + 1)"),
        (&["s27", "s27"], "s27**2"),
        (&["1", "1"], "1"),
        (&[], "1"),
        (&["0", "s0"], "0"),
        (&["s5", "s100", "s27"], "s100*s27*s5"),
        (&["s77", "s27", "s53"], "s27*s53*s77"),
        (&["3", "s5 + 1"], "3*s5 + 3"),
        (&["-1", "s5 + 1"], "-s5 - 1"),
        (&["3", "s5 + 1", "s2"], "3*s2*(s5 + 1)"),
        (&["s5 + 1", "s5 + 1"], "(s5 + 1)**2"),
        (&["s5 + 1", "1 + s5"], "(s5 + 1)**2"),
        (&["s1 + 1", "s0 + 1"], "(s0 + 1)*(s1 + 1)"),
        (&["s0 + s1 + 1", "s2 + 1"], "(s2 + 1)*(s0 + s1 + 1)"),
        (&["s0 + 1"], "s0 + 1"),
        (&["s0 + 1", "1"], "s0 + 1"),
        (&["-1", "s0"], "-s0"),
        (&["-2", "s1", "s0"], "-2*s0*s1"),
        (&["4*s77", "2*s5"], "8*s5*s77"),
        (&["s0**2", "s0"], "s0**3"),
        (&["s0*(s1 + 1)", "s2"], "s0*s2*(s1 + 1)"),
        (&["-s0*(s1 + 1)", "s2"], "-s0*s2*(s1 + 1)"),
        (&["(s1 + 1)**2", "s1 + 1"], "(s1 + 1)**3"),
        (
            &["4*s92*(s93 - 1) + 4*s92", "s1"],
            "s1*(4*s92*(s93 - 1) + 4*s92)",
        ),
        (&["s0//2", "2"], "2*((s0//2))"),
        (&["s0//2", "-2"], "-2*(s0//2)"),
        (&["s0//2", "s1 + 1", "s1"], "s1*(s1 + 1)*((s0//2))"),
        (&["s0 % 2", "s1"], "s1*(PythonMod(s0, 2))"),
    ];

    /// `factors` are parsed, except that a factor written `[a; b]` is the product of a and b.
    fn check_product(factors: &[&str], expected: &str) {
        let parsed: Vec<SizeExpr> = factors
            .iter()
            .map(|f| SizeExpr::parse(f).unwrap())
            .collect();
        let p = SizeExpr::product(&parsed).unwrap();
        assert_eq!(p.to_string(), expected, "{factors:?}");
        let value: i64 = parsed.iter().map(|f| f.eval(&values).unwrap()).product();
        assert_eq!(p.eval(&values), Ok(value), "{factors:?}");
        assert_eq!(SizeExpr::parse(expected).unwrap(), p, "{factors:?}");
        assert_eq!(p.is_constant(), p.to_json().is_i64(), "{factors:?}");
    }

    #[test]
    fn products() {
        for (factors, expected) in PRODUCTS {
            check_product(factors, expected);
        }
    }

    #[test]
    fn products_fold_like_pytorch_strides() {
        // Contiguous strides of [s2, s5 + 1, 3]: 1, 3, then 3*(s5 + 1) distributed by sympy,
        // then that sum times s2.
        let three = SizeExpr::int(3);
        let middle = SizeExpr::parse("s5 + 1").unwrap();
        let s2 = SizeExpr::symbol("s2");
        let stride1 = SizeExpr::product(&[three, middle]).unwrap();
        assert_eq!(stride1.to_string(), "3*s5 + 3");
        let stride0 = SizeExpr::product(&[stride1, s2.clone()]).unwrap();
        assert_eq!(stride0.to_string(), "s2*(3*s5 + 3)");
        // A product fed back in is flattened, not parenthesized.
        let inner =
            SizeExpr::product(&[SizeExpr::symbol("s27"), SizeExpr::parse("s5 + 1").unwrap()])
                .unwrap();
        let outer = SizeExpr::product(&[inner, s2]).unwrap();
        assert_eq!(outer.to_string(), "s2*s27*(s5 + 1)");
    }

    #[test]
    fn json_forms() {
        let cases: &[(serde_json::Value, Result<&str, &str>)] = &[
            (serde_json::json!(7), Ok("7")),
            (serde_json::json!(-3), Ok("-3")),
            (serde_json::json!("s77"), Ok("s77")),
            (
                serde_json::json!("4*s92*(s93 - 1) + 4*s92"),
                Ok("4*s92*(s93 - 1) + 4*s92"),
            ),
            (serde_json::json!("12"), Ok("12")),
            (serde_json::json!(" 12 "), Ok(" 12 ")),
            (serde_json::json!(2.0), Err("found the number 2.0")),
            (serde_json::json!(u64::MAX), Err("overflow")),
            (serde_json::json!(true), Err("found `true`")),
            (serde_json::json!(null), Err("found null")),
            (serde_json::json!([1]), Err("found an array")),
            (serde_json::json!({"a": 1}), Err("found an object")),
            (serde_json::json!("s0 +"), Err("unexpected end")),
        ];
        for (json, expected) in cases {
            match (SizeExpr::from_json(json), expected) {
                (Ok(e), Ok(text)) => {
                    assert_eq!(e.to_string(), *text);
                    let back = e.to_json();
                    assert_eq!(back.is_i64(), e.is_constant(), "{json}");
                    assert_eq!(SizeExpr::from_json(&back).unwrap(), e);
                    assert_eq!(serde_json::to_value(&e).unwrap(), back);
                    let de: SizeExpr = serde_json::from_value(json.clone()).unwrap();
                    assert_eq!(de, e);
                }
                (Err(err), Err(fragment)) => {
                    let msg = err.to_string();
                    assert!(msg.contains(fragment), "{json}: {msg:?} lacks {fragment:?}");
                    assert!(
                        serde_json::from_value::<SizeExpr>(json.clone()).is_err(),
                        "{json}"
                    );
                }
                (got, _) => panic!("{json}: unexpected {got:?}"),
            }
        }
        // A constant written as a sum is a number in JSON.
        assert_eq!(
            SizeExpr::parse("2 + 2").unwrap().to_json(),
            serde_json::json!(4)
        );
    }

    #[test]
    fn accessors() {
        let e = SizeExpr::parse("s5*(s27//s3) + PythonMod(s100, s3) + 2").unwrap();
        assert_eq!(e.symbols(), ["s100", "s27", "s3", "s5"]);
        assert_eq!(SizeExpr::parse("s9").unwrap().as_symbol(), Some("s9"));
        assert_eq!(SizeExpr::parse("(s9)").unwrap().as_symbol(), Some("s9"));
        assert_eq!(SizeExpr::parse("2*s9").unwrap().as_symbol(), None);
        assert_eq!(SizeExpr::parse("s9 + 0").unwrap().as_symbol(), Some("s9"));
        assert!(SizeExpr::int(3).is_constant());
        assert!(!SizeExpr::symbol("s1").is_constant());
        let sum = SizeExpr::symbol("s1")
            .checked_add(&SizeExpr::int(1))
            .unwrap();
        assert_eq!(sum.to_string(), "s1 + 1");
        assert_eq!(
            sum.checked_sub(&SizeExpr::int(1)).unwrap().to_string(),
            "s1"
        );
        assert_eq!(
            sum.checked_mul(&sum).unwrap().to_string(),
            "s1**2 + 2*s1 + 1"
        );
        assert_eq!(sum.checked_neg().unwrap().to_string(), "-s1 - 1");
        assert_eq!(
            SizeExpr::int(i64::MAX).checked_add(&SizeExpr::int(1)),
            Err(ExprError::Overflow)
        );
        assert_eq!(
            format!("{:?}", SizeExpr::parse("2 + 2").unwrap()),
            "SizeExpr(2 + 2 = 4)"
        );
        assert_eq!(
            format!("{:?}", SizeExpr::parse("4*s77").unwrap()),
            "SizeExpr(4*s77)"
        );
        let mut set = std::collections::HashSet::new();
        set.insert(SizeExpr::parse("s77*s27").unwrap());
        assert!(set.contains(&SizeExpr::parse("s27*s77").unwrap()));
    }

    // ---- properties ----

    /// A reference expression tree, printed fully parenthesized and evaluated independently.
    #[derive(Clone, Debug)]
    enum Tree {
        Int(i64),
        Sym(usize),
        Add(Box<Tree>, Box<Tree>),
        Sub(Box<Tree>, Box<Tree>),
        Mul(Box<Tree>, Box<Tree>),
        Neg(Box<Tree>),
        Pow(Box<Tree>, u32),
        FloorDiv(Box<Tree>, Box<Tree>),
        Mod(Box<Tree>, Box<Tree>),
    }

    const NAMES: [&str; 4] = ["s0", "s1", "s27", "s100"];

    fn tree(with_division: bool) -> impl Strategy<Value = Tree> {
        tree_with(-20..20, with_division)
    }

    fn tree_with(ints: std::ops::Range<i64>, with_division: bool) -> impl Strategy<Value = Tree> {
        let leaf = prop_oneof![
            ints.prop_map(Tree::Int),
            (0..NAMES.len()).prop_map(Tree::Sym)
        ];
        leaf.prop_recursive(4, 24, 2, move |inner| {
            let pair = || (inner.clone(), inner.clone());
            let b = |(x, y): (Tree, Tree)| (Box::new(x), Box::new(y));
            let mut options = vec![
                pair()
                    .prop_map(move |p| {
                        let (x, y) = b(p);
                        Tree::Add(x, y)
                    })
                    .boxed(),
                pair()
                    .prop_map(move |p| {
                        let (x, y) = b(p);
                        Tree::Sub(x, y)
                    })
                    .boxed(),
                pair()
                    .prop_map(move |p| {
                        let (x, y) = b(p);
                        Tree::Mul(x, y)
                    })
                    .boxed(),
                inner.clone().prop_map(|x| Tree::Neg(Box::new(x))).boxed(),
                (inner.clone(), 0u32..4)
                    .prop_map(|(x, k)| Tree::Pow(Box::new(x), k))
                    .boxed(),
            ];
            if with_division {
                options.push(
                    pair()
                        .prop_map(move |p| {
                            let (x, y) = b(p);
                            Tree::FloorDiv(x, y)
                        })
                        .boxed(),
                );
                options.push(
                    pair()
                        .prop_map(move |p| {
                            let (x, y) = b(p);
                            Tree::Mod(x, y)
                        })
                        .boxed(),
                );
            }
            proptest::strategy::Union::new(options)
        })
    }

    fn text(t: &Tree) -> String {
        match t {
            Tree::Int(v) => format!("({v})"),
            Tree::Sym(i) => NAMES[*i].to_owned(),
            Tree::Add(x, y) => format!("({} + {})", text(x), text(y)),
            Tree::Sub(x, y) => format!("({} - {})", text(x), text(y)),
            Tree::Mul(x, y) => format!("({}*{})", text(x), text(y)),
            Tree::Neg(x) => format!("(-{})", text(x)),
            Tree::Pow(x, k) => format!("({}**{k})", text(x)),
            Tree::FloorDiv(x, y) => format!("({}//{})", text(x), text(y)),
            Tree::Mod(x, y) => format!("({} % {})", text(x), text(y)),
        }
    }

    /// Python semantics in i128; `None` on division by zero or when i128 overflows.
    fn reference(t: &Tree, env: &[i64; 4]) -> Option<i128> {
        let pair = |x: &Tree, y: &Tree| Some((reference(x, env)?, reference(y, env)?));
        match t {
            Tree::Int(v) => Some(i128::from(*v)),
            Tree::Sym(i) => Some(i128::from(env[*i])),
            Tree::Add(x, y) => pair(x, y).and_then(|(a, b)| a.checked_add(b)),
            Tree::Sub(x, y) => pair(x, y).and_then(|(a, b)| a.checked_sub(b)),
            Tree::Mul(x, y) => pair(x, y).and_then(|(a, b)| a.checked_mul(b)),
            Tree::Neg(x) => reference(x, env)?.checked_neg(),
            Tree::Pow(x, k) => reference(x, env)?.checked_pow(*k),
            Tree::FloorDiv(x, y) => {
                let (a, b) = pair(x, y)?;
                let q = a.checked_div_euclid(b)?;
                // Euclidean division rounds up for a negative divisor and a remainder.
                Some(if b < 0 && a.rem_euclid(b) != 0 {
                    q - 1
                } else {
                    q
                })
            }
            Tree::Mod(x, y) => {
                let (a, b) = pair(x, y)?;
                let r = a.checked_rem_euclid(b)?;
                Some(if b < 0 && r != 0 { r + b } else { r })
            }
        }
    }

    /// Parsing and evaluating `t` gives Python's value, or reports an overflow (coefficients
    /// may overflow where a value does not), or a division by zero that Python meets too.
    fn agrees_with_python(t: &Tree, env: &[i64; 4]) -> Result<(), TestCaseError> {
        let source = text(t);
        let expected = reference(t, env);
        let e = match SizeExpr::parse(&source) {
            Ok(e) => e,
            Err(ExprError::Overflow) => return Ok(()),
            Err(ExprError::DivisionByZero) => {
                prop_assert_eq!(expected, None, "{}", source);
                return Ok(());
            }
            Err(err) => return Err(TestCaseError::fail(format!("{source}: {err}"))),
        };
        prop_assert_eq!(e.to_string(), source.as_str());
        match (e.eval(&lookup(env)), expected) {
            (Ok(v), Some(r)) => prop_assert_eq!(i128::from(v), r, "{}", e.canonical()),
            // Python fails where the normal form simplified `x % x`, `0 // x` and the like.
            (Ok(_), None) => {}
            (Err(ExprError::Overflow), _) => {}
            (Err(ExprError::DivisionByZero), r) => prop_assert_eq!(r, None, "{}", source),
            (Err(err), _) => return Err(TestCaseError::fail(format!("{source}: {err}"))),
        }
        Ok(())
    }

    /// Expansions whose coefficients leave i64, or that grow past the term limit, are no
    /// counterexamples; any other error is.
    fn too_large(err: &ExprError) -> bool {
        matches!(err, ExprError::Overflow | ExprError::TooManyTerms)
    }

    fn value_fits(got: Result<i64, ExprError>, expected: i128) -> Result<(), TestCaseError> {
        match got {
            Ok(v) => prop_assert_eq!(i128::from(v), expected),
            Err(err) => prop_assert!(too_large(&err), "{}", err),
        }
        Ok(())
    }

    fn equal_if_fits(
        a: Result<SizeExpr, ExprError>,
        b: Result<SizeExpr, ExprError>,
    ) -> Result<(), TestCaseError> {
        match (a, b) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(err), _) | (_, Err(err)) => prop_assert!(too_large(&err), "{}", err),
        }
        Ok(())
    }

    fn lookup(env: &[i64; 4]) -> impl Fn(&str) -> Option<i64> + '_ {
        move |name| NAMES.iter().position(|n| *n == name).map(|i| env[i])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_agrees_with_python(t in tree(true), env in prop::array::uniform4(-6i64..7)) {
            agrees_with_python(&t, &env)?;
        }

        #[test]
        fn overflow_is_reported_never_wrapped(
            t in tree_with(-(1 << 40)..(1 << 40), true),
            env in prop::array::uniform4(-(1i64 << 20)..(1 << 20)),
        ) {
            agrees_with_python(&t, &env)?;
        }

        #[test]
        fn canonical_printing_round_trips(t in tree(true)) {
            if let Ok(e) = SizeExpr::parse(&text(&t)) {
                let printed = e.canonical().to_string();
                prop_assert_eq!(SizeExpr::parse(&printed), Ok(e.clone()), "{}", printed);
                prop_assert_eq!(SizeExpr::from_json(&e.to_json()), Ok(e));
            }
        }

        #[test]
        fn eval_is_a_ring_homomorphism(
            a in tree(true),
            b in tree(true),
            env in prop::array::uniform4(-6i64..7),
        ) {
            let (Ok(x), Ok(y)) = (SizeExpr::parse(&text(&a)), SizeExpr::parse(&text(&b))) else {
                return Ok(());
            };
            let env = lookup(&env);
            let (Ok(vx), Ok(vy)) = (x.eval(&env), y.eval(&env)) else { return Ok(()) };
            let (vx, vy) = (i128::from(vx), i128::from(vy));
            value_fits(x.checked_add(&y).and_then(|s| s.eval(&env)), vx + vy)?;
            value_fits(x.checked_sub(&y).and_then(|d| d.eval(&env)), vx - vy)?;
            value_fits(x.checked_mul(&y).and_then(|p| p.eval(&env)), vx * vy)?;
            let p = SizeExpr::product(&[x.clone(), y.clone(), x.clone()]);
            value_fits(p.clone().and_then(|p| p.eval(&env)), vx * vy * vx)?;
            if let Ok(p) = p {
                prop_assert_eq!(SizeExpr::parse(&p.to_string()), Ok(p));
            }
        }

        #[test]
        fn equality_is_polynomial_equality(a in tree(false), b in tree(false), c in tree(false)) {
            let [Ok(x), Ok(y), Ok(z)] = [&a, &b, &c].map(|t| SizeExpr::parse(&text(t))) else {
                return Ok(());
            };
            // Ring laws hold as equalities of the normal forms...
            equal_if_fits(x.checked_mul(&y), y.checked_mul(&x))?;
            equal_if_fits(
                x.checked_add(&y).and_then(|s| s.checked_mul(&z)),
                x.checked_mul(&z).and_then(|xz| xz.checked_add(&y.checked_mul(&z)?)),
            )?;
            equal_if_fits(x.checked_sub(&x), Ok(SizeExpr::int(0)))?;
            let regrouped = SizeExpr::parse(&format!("{} + {}", text(&b), text(&a)));
            equal_if_fits(regrouped, x.checked_add(&y))?;
            // ...a difference in value at some point means a difference in form...
            let env = [3, -2, 5, 7];
            if x.eval(&lookup(&env)) != y.eval(&lookup(&env)) {
                prop_assert_ne!(&x, &y);
            }
            // ...and equal forms have equal values everywhere.
            if x == y {
                for env in [[1, 2, 3, 4], [-5, 0, 6, -1]] {
                    prop_assert_eq!(x.eval(&lookup(&env)), y.eval(&lookup(&env)));
                }
            }
        }

        #[test]
        fn bounds_are_sound(
            t in tree(true),
            lows in prop::array::uniform4(-8i64..8),
            widths in prop::array::uniform4(0i64..6),
            picks in prop::array::uniform4(0i64..6),
            open in prop::array::uniform4(0u8..6),
        ) {
            let Ok(e) = SizeExpr::parse(&text(&t)) else { return Ok(()) };
            // Some sides unbounded; the sample point lies inside the interval either way.
            let interval = |i: usize| {
                let lo = (open[i] != 1).then_some(lows[i]);
                let hi = (open[i] != 2).then_some(lows[i] + widths[i]);
                (lo, hi)
            };
            let bounds = e.bounds(&|name| {
                NAMES.iter().position(|n| *n == name).map_or((None, None), interval)
            });
            let point: [i64; 4] = std::array::from_fn(|i| lows[i] + picks[i].min(widths[i]));
            let value = e.eval(&lookup(&point));
            if let Ok(v) = value {
                prop_assert!(bounds.0.is_none_or(|lo| lo <= v), "{} = {} below {:?}", e, v, bounds);
                prop_assert!(bounds.1.is_none_or(|hi| v <= hi), "{} = {} above {:?}", e, v, bounds);
            }
        }

        #[test]
        fn parse_never_panics(s in "[ s0-9a-zA-Z_()+*/%,.-]{0,40}") {
            if let Ok(e) = SizeExpr::parse(&s) {
                prop_assert_eq!(e.to_string(), s);
                let _ = e.eval(&values);
                let _ = e.bounds(&ranges);
                let _ = SizeExpr::product(&[e.clone(), e]);
            }
        }

        #[test]
        fn parse_never_panics_on_any_text(s in any::<String>()) {
            let _ = SizeExpr::parse(&s);
        }
    }
}
