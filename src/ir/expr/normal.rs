//! The normal form: an integer polynomial over atoms (symbols, and floor-division and
//! modulo sub-terms kept opaque), expanded with like monomials collected, so that equal
//! expressions have equal normal forms; evaluation and substitution.

use super::*;

// Normal form

/// An integer constant, or a polynomial with at least one non-constant term. Keeping constants
/// out of `Poly` makes them allocation-free and makes structural equality canonical.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Norm {
    Const(i64),
    Poly(Arc<Poly>),
}

/// Terms sorted by monomial, monomials distinct, coefficients non-zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Poly {
    pub(super) terms: Vec<Term>,
}

/// A monomial and its coefficient; the constant term has the empty monomial.
pub(super) type Term = (Mono, i64);

/// Distinct atoms in increasing order, each with a power of at least 1.
pub(super) type Mono = Vec<(Atom, u32)>;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Atom {
    Symbol(Arc<str>),
    FloorDiv(Arc<Operands>),
    Mod(Arc<Operands>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Operands {
    pub(super) num: Norm,
    pub(super) den: Norm,
    /// How many opaque atoms are nested here (1 for `s0//2`); bounded by [`MAX_DEPTH`] so that
    /// the recursive walks over the normal form stay shallow.
    pub(super) depth: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DivOp {
    FloorDiv,
    Mod,
}

impl Norm {
    pub(super) fn symbol(name: &str) -> Norm {
        Norm::atom(Atom::Symbol(Arc::from(name)))
    }

    pub(super) fn atom(atom: Atom) -> Norm {
        Norm::Poly(Arc::new(Poly {
            terms: vec![(vec![(atom, 1)], 1)],
        }))
    }

    /// Wraps terms that already satisfy the `Poly` invariants.
    pub(super) fn from_terms(terms: Vec<Term>) -> Result<Norm, ExprError> {
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
    pub(super) fn collect(mut raw: Vec<(Mono, i128)>) -> Result<Norm, ExprError> {
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

    pub(super) fn as_const(&self) -> Option<i64> {
        match self {
            Norm::Const(v) => Some(*v),
            Norm::Poly(_) => None,
        }
    }

    /// The monomial and coefficient when there is exactly one non-constant term.
    pub(super) fn single_term(&self) -> Option<(&[(Atom, u32)], i64)> {
        match self {
            Norm::Poly(p) => match p.terms.as_slice() {
                [(mono, c)] => Some((mono.as_slice(), *c)),
                _ => None,
            },
            Norm::Const(_) => None,
        }
    }

    /// Runs `f` on the terms, a non-zero constant being one term with the empty monomial.
    pub(super) fn with_terms<R>(&self, f: impl FnOnce(&[Term]) -> R) -> R {
        match self {
            Norm::Const(0) => f(&[]),
            Norm::Const(c) => f(&[(Vec::new(), *c)]),
            Norm::Poly(p) => f(&p.terms),
        }
    }

    pub(super) fn add(&self, other: &Norm) -> Result<Norm, ExprError> {
        Norm::sum_all([(false, self), (false, other)])
    }

    pub(super) fn sub(&self, other: &Norm) -> Result<Norm, ExprError> {
        Norm::sum_all([(false, self), (true, other)])
    }

    /// The sum of `terms`, each flagged `true` when subtracted.
    pub(super) fn sum_all<'a>(
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
    pub(super) fn product_all<'a>(
        factors: impl IntoIterator<Item = &'a Norm>,
    ) -> Result<Norm, ExprError> {
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

    pub(super) fn neg(&self) -> Result<Norm, ExprError> {
        self.scale(-1)
    }

    pub(super) fn scale(&self, k: i64) -> Result<Norm, ExprError> {
        self.clone().into_scaled(k)
    }

    /// Scales in place when nothing else shares the polynomial (as in the parser).
    pub(super) fn into_scaled(self, k: i64) -> Result<Norm, ExprError> {
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
    pub(super) fn into_mul(self, other: Norm) -> Result<Norm, ExprError> {
        match (self, other) {
            (Norm::Const(k), p) | (p, Norm::Const(k)) => p.into_scaled(k),
            (a, b) => a.mul(&b),
        }
    }

    pub(super) fn mul(&self, other: &Norm) -> Result<Norm, ExprError> {
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

    pub(super) fn pow(&self, k: u32) -> Result<Norm, ExprError> {
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

    pub(super) fn floor_div(&self, den: &Norm) -> Result<Norm, ExprError> {
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

    pub(super) fn modulo(&self, den: &Norm) -> Result<Norm, ExprError> {
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
    pub(super) fn opaque(op: DivOp, num: Norm, den: Norm) -> Result<Norm, ExprError> {
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
    pub(super) fn div_exact(&self, g: i64) -> Result<Norm, ExprError> {
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
    pub(super) fn depth(&self) -> usize {
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

    pub(super) fn collect_symbols<'a>(&'a self, names: &mut BTreeSet<&'a str>) {
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

    pub(super) fn eval(&self, env: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
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

    pub(super) fn range(&self, env: &dyn Fn(&str) -> Bounds) -> Range {
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
    pub(super) fn depth(&self) -> usize {
        match self {
            Atom::Symbol(_) => 0,
            Atom::FloorDiv(o) | Atom::Mod(o) => o.depth,
        }
    }

    pub(super) fn eval(&self, env: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
        match self {
            Atom::Symbol(name) => {
                env(name).ok_or_else(|| ExprError::UnknownSymbol(name.to_string()))
            }
            Atom::FloorDiv(o) => floor_div_i64(o.num.eval(env)?, o.den.eval(env)?),
            Atom::Mod(o) => py_mod_i64(o.num.eval(env)?, o.den.eval(env)?),
        }
    }

    pub(super) fn range(&self, env: &dyn Fn(&str) -> Bounds) -> Range {
        match self {
            Atom::Symbol(name) => Range::from_bounds(env(name)),
            Atom::FloorDiv(o) => Range::floor_div(o.num.range(env), o.den.range(env)),
            Atom::Mod(o) => Range::modulo(o.num.range(env), o.den.range(env)),
        }
    }
}

pub(super) fn checked<T>(value: Option<T>) -> Result<T, ExprError> {
    value.ok_or(ExprError::Overflow)
}

pub(super) fn push_term(terms: &mut Vec<Term>, (mono, c): (Mono, i128)) -> Result<(), ExprError> {
    if c != 0 {
        terms.push((mono, i64::try_from(c).map_err(|_| ExprError::Overflow)?));
    }
    Ok(())
}

/// Product of two monomials: a merge of the sorted atom lists, adding powers of shared atoms.
pub(super) fn mono_mul(a: &Mono, b: &Mono) -> Result<Mono, ExprError> {
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
pub(super) fn split_multiples(terms: &[Term], c: i64) -> Result<(Norm, Norm), ExprError> {
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
pub(super) fn content(norm: &Norm) -> i64 {
    i64::try_from(
        norm.with_terms(|terms| terms.iter().fold(0, |g, (_, c)| gcd(g, c.unsigned_abs()))),
    )
    // Only a content of 2^63 does not fit; skipping the reduction then is harmless.
    .unwrap_or(1)
}

/// The positive common factor of `norm`'s coefficients and `c`, or 1.
pub(super) fn common_factor(norm: &Norm, c: i64) -> i64 {
    i64::try_from(gcd(content(norm).unsigned_abs(), c.unsigned_abs()))
        .ok()
        .filter(|&g| g > 0)
        .unwrap_or(1)
}

pub(super) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Python's `a // b`: rounds toward negative infinity.
pub(super) fn floor_div_i64(a: i64, b: i64) -> Result<i64, ExprError> {
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
pub(super) fn py_mod_i64(a: i64, b: i64) -> Result<i64, ExprError> {
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
