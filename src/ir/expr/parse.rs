//! The recursive-descent parser of the accepted syntax (see the module above), building
//! the normal form and the form the text is displayed in.

use super::*;

// Parser

/// What the parser builds: the normal form alone (the fast, common case), or the normal form
/// with sympy's factor structure (for flattening a parsed text into a product).
pub(super) trait Value: Sized {
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
pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl<'t> Parser<'t> {
    pub(super) fn run<V: Value>(text: &'t str) -> Result<V, ExprError> {
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
    pub(super) fn sum<V: Value>(&mut self) -> Result<V, ExprError> {
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
    pub(super) fn term<V: Value>(&mut self) -> Result<V, ExprError> {
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

    pub(super) fn multiply<V: Value>(head: V, mut rest: Vec<V>) -> Result<V, ExprError> {
        if rest.is_empty() {
            return Ok(head);
        }
        rest.insert(0, head);
        V::product(rest)
    }

    /// Every nesting (parentheses, signs, exponents, function arguments) passes through here,
    /// so this is where the depth is limited.
    pub(super) fn unary<V: Value>(&mut self) -> Result<V, ExprError> {
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
    pub(super) fn negative_literal(&mut self) -> Result<Option<i64>, ExprError> {
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

    pub(super) fn power<V: Value>(&mut self) -> Result<V, ExprError> {
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

    pub(super) fn primary<V: Value>(&mut self) -> Result<V, ExprError> {
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
    pub(super) fn digits(&mut self) -> Result<u64, ExprError> {
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            v = checked(v.checked_mul(10))?;
            v = checked(v.checked_add(u64::from(d - b'0')))?;
            self.pos += 1;
        }
        Ok(v)
    }

    pub(super) fn expect(&mut self, byte: u8) -> Result<(), ExprError> {
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

    pub(super) fn unexpected(&self) -> ExprError {
        match self.peek() {
            None if self.text.trim().is_empty() => {
                self.syntax_at(self.pos, "empty expression".into())
            }
            None => self.syntax_at(self.pos, "unexpected end".into()),
            Some(_) => self.syntax_at(self.pos, format!("unexpected {}", self.found())),
        }
    }

    /// The character at the current position, quoted.
    pub(super) fn found(&self) -> String {
        match self.rest().chars().next() {
            Some(c) => format!("{c:?}"),
            None => "the end".into(),
        }
    }

    pub(super) fn syntax_at(&self, position: usize, message: String) -> ExprError {
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

    pub(super) fn rest(&self) -> &'t str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(super) fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }
}

/// A sympy `Mul`, flattened: coefficient × symbol powers × other factors (sums and opaque
/// atoms), which is what a factor contributes when multiplied into a product.
#[derive(Clone, Debug)]
pub(super) struct MulForm {
    pub(super) coeff: i64,
    /// Sorted by name.
    pub(super) symbols: Vec<(Arc<str>, u32)>,
    /// In order of first appearance; equal bases are merged into one power.
    pub(super) others: Vec<Factor>,
}

/// A factor that is not a symbol: a sum, or an opaque `//` / `%` atom.
#[derive(Clone, Debug)]
pub(super) struct Factor {
    pub(super) norm: Norm,
    /// How the base prints on its own (a sum without its parentheses).
    pub(super) text: Arc<str>,
    pub(super) precedence: u16,
    pub(super) power: u32,
}

impl MulForm {
    pub(super) fn constant(coeff: i64) -> MulForm {
        MulForm {
            coeff,
            symbols: Vec::new(),
            others: Vec::new(),
        }
    }

    pub(super) fn of_sum(norm: Norm, text: Arc<str>) -> MulForm {
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
    pub(super) fn of_norm(norm: &Norm) -> MulForm {
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

    pub(super) fn absorb(&mut self, other: MulForm) -> Result<(), ExprError> {
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

    pub(super) fn pow(mut self, k: u32) -> Result<MulForm, ExprError> {
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
    pub(super) fn distributes(&self) -> bool {
        !matches!(self.coeff, 0 | 1)
            && self.symbols.is_empty()
            && matches!(self.others.as_slice(), [f] if f.power == 1 && f.precedence == PREC_ADD)
    }

    pub(super) fn write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
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
pub(super) struct Viewed {
    pub(super) norm: Norm,
    pub(super) form: Form,
}

#[derive(Clone, Debug)]
pub(super) enum Form {
    Mul(MulForm),
    /// A sum, with its source text.
    Sum(Arc<str>),
}

impl Viewed {
    pub(super) fn into_mul(self) -> MulForm {
        match self.form {
            Form::Mul(m) => m,
            Form::Sum(text) => MulForm::of_sum(self.norm, text),
        }
    }

    pub(super) fn of_norm(norm: Norm) -> Viewed {
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
