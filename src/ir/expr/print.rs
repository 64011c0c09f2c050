//! Printing of derived expressions after sympy's `StrPrinter`: term order, precedence
//! and brackets as PyTorch prints a `SymInt`.

use super::*;

// Printing, after sympy's StrPrinter

/// sympy's precedence levels, and the ones torch gives its functions.
pub(super) const PREC_MOD: u16 = 35; // torch's PythonMod: below Add, so sympy brackets it almost everywhere
pub(super) const PREC_ADD: u16 = 40;
pub(super) const PREC_MUL: u16 = 50; // also torch's FloorDiv
pub(super) const PREC_POW: u16 = 60;
pub(super) const PREC_ATOM: u16 = 1000;

pub(super) fn atom_precedence(atom: &Atom) -> u16 {
    match atom {
        Atom::Symbol(_) => PREC_ATOM,
        Atom::FloorDiv(_) => PREC_MUL,
        Atom::Mod(_) => PREC_MOD,
    }
}

/// The precedence sympy gives the expression a normal form stands for.
pub(super) fn norm_precedence(norm: &Norm) -> u16 {
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
pub(super) enum Piece<'a> {
    Name(&'a str),
    Atom(&'a Atom),
    Text(&'a str, u16),
}

impl Piece<'_> {
    pub(super) fn precedence(&self) -> u16 {
        match self {
            Piece::Name(_) => PREC_ATOM,
            Piece::Atom(atom) => atom_precedence(atom),
            Piece::Text(_, precedence) => *precedence,
        }
    }

    pub(super) fn write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Piece::Name(name) => out.write_str(name),
            Piece::Atom(atom) => write_atom(out, atom),
            Piece::Text(text, _) => out.write_str(text),
        }
    }

    /// sympy's `parenthesize(item, level, strict=False)`: brackets at or below `level`.
    pub(super) fn write_at(&self, out: &mut dyn fmt::Write, level: u16) -> fmt::Result {
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
pub(super) fn write_mul(
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

pub(super) fn write_norm(out: &mut dyn fmt::Write, norm: &Norm) -> fmt::Result {
    match norm {
        Norm::Const(v) => write!(out, "{v}"),
        Norm::Poly(p) => write_poly(out, p),
    }
}

/// sympy's `_print_Add`: terms in `as_ordered_terms` order, joined by ` + ` / ` - `.
pub(super) fn write_poly(out: &mut dyn fmt::Write, poly: &Poly) -> fmt::Result {
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
pub(super) fn write_atom(out: &mut dyn fmt::Write, atom: &Atom) -> fmt::Result {
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

pub(super) fn write_operand(out: &mut dyn fmt::Write, norm: &Norm) -> fmt::Result {
    if norm_precedence(norm) < PREC_ATOM {
        out.write_char('(')?;
        write_norm(out, norm)?;
        out.write_char(')')
    } else {
        write_norm(out, norm)
    }
}

/// A term's factors as (generator rank, atom, power), sorted by rank, and its coefficient.
pub(super) type RankedTerm<'a> = (Vec<(usize, &'a Atom, u32)>, i64);

/// A term with its factors in sympy's order.
pub(super) struct OrderedTerm<'a> {
    pub(super) coeff: i64,
    pub(super) factors: Vec<(&'a Atom, u32)>,
    /// Each factor's atom key (exponent and coefficient 1), computed once:
    /// recomputing them per use is exponential in the nesting of `//` and `%`.
    pub(super) keys: Vec<SortKey>,
}

/// sympy's `Expr.as_ordered_terms()`: the atoms ("generators") are sorted by sort key, and the
/// terms by their exponent vectors over them, lexicographically, largest first. One exception:
/// a positive number plus a negative multiple of one factor prints the number first (`1 - s0`).
pub(super) fn ordered_terms(poly: &Poly) -> Vec<OrderedTerm<'_>> {
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
pub(super) fn lex_descending(a: &[(usize, &Atom, u32)], b: &[(usize, &Atom, u32)]) -> Ordering {
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
pub(super) struct SortKey {
    pub(super) class: (u8, u32, &'static str),
    pub(super) args: KeyArgs,
    pub(super) exp: i64,
    pub(super) coeff: i64,
}

pub(super) const NUMBER_CLASS: (u8, u32, &str) = (1, 0, "Number");
pub(super) const SYMBOL_CLASS: (u8, u32, &str) = (2, 0, "Symbol");
pub(super) const MUL_CLASS: (u8, u32, &str) = (3, 0, "Mul");
pub(super) const ADD_CLASS: (u8, u32, &str) = (3, 1, "Add");
pub(super) const FLOOR_DIV_CLASS: (u8, u32, &str) = (4, 10_000, "FloorDiv");
pub(super) const PYTHON_MOD_CLASS: (u8, u32, &str) = (4, 10_000, "PythonMod");

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum KeyArgs {
    /// An atom's `(str(self),)`.
    Name(Arc<str>),
    /// The sort keys of the arguments.
    List(Vec<SortKey>),
}

impl KeyArgs {
    pub(super) fn len(&self) -> usize {
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

pub(super) fn number_key(v: i64) -> SortKey {
    SortKey {
        class: NUMBER_CLASS,
        args: KeyArgs::List(Vec::new()),
        exp: 0,
        coeff: v,
    }
}

pub(super) fn atom_key(atom: &Atom, exp: u32, coeff: i64) -> SortKey {
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

pub(super) fn operand_keys(o: &Operands) -> KeyArgs {
    KeyArgs::List(vec![expr_key(&o.num), expr_key(&o.den)])
}

/// `c * x**k` keys as `x` with exponent `k` and coefficient `c`; a longer product as a `Mul`.
pub(super) fn term_key(term: &OrderedTerm<'_>) -> SortKey {
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

pub(super) fn expr_key(norm: &Norm) -> SortKey {
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
