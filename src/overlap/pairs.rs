//! The overlapping pairs, produced lazily in `(i, j)` order.
//!
//! PyTorch's answer is a member set; pairs are for people and tests. A group
//! where every view overlaps every other has `n²/2` pairs, so they are never
//! built up front: [`Pairs`] walks the members in index order and, for each,
//! asks an [`IntervalIndex`] of the members' address ranges for the later
//! members whose ranges meet its own, and tests only those. Listing the
//! first `k` pairs costs about what finding them costs.

use super::canonical::ElementSet;
use super::exact::EXACT_WORK_BOUND;
use super::sweep::{Extent, IntervalIndex};
use super::torch::torch_definitely_do_not_overlap;
use super::torch_members::{classify, Class};
use super::{Mode, StridedView};

/// How one member takes part in the pair tests.
enum Part {
    /// Never in a pair.
    Empty,
    /// Compared with every other non-empty member (malformed geometry).
    Everyone,
    /// Compared with the members whose address ranges meet its own.
    Range,
}

/// Iterator over the overlapping pairs `(i, j)`, `i < j`, in increasing
/// order, restricted to the given members (a pair's two views are always
/// members of the overlapping set, so nothing else needs looking at).
///
/// Exact mode spends at most `budget` units of work on tests (one per pair
/// looked at plus the solver's search nodes, at most [`EXACT_WORK_BOUND`] on
/// one pair); a pair it cannot decide is produced as "may overlap" and sets
/// [`Pairs::inexact`]. Torch mode's test is `O(1)` and needs no budget.
pub struct Pairs<'a> {
    views: &'a [StridedView],
    mode: Mode,
    members: Vec<usize>,
    parts: Vec<Part>,
    /// Exact mode's normalized views, by position in `members`.
    sets: Vec<ElementSet>,
    index: IntervalIndex<i128>,
    /// Positions (in `members`) of the `Everyone` members, ascending.
    everyone: Vec<usize>,
    /// Position of the member whose partners are being listed.
    at: usize,
    /// Its later partners' positions still to test, ascending.
    candidates: Vec<usize>,
    next: usize,
    budget: u64,
    visited: u64,
    inexact: bool,
}

impl<'a> Pairs<'a> {
    pub(super) fn new(
        views: &'a [StridedView],
        members: &[usize],
        mode: Mode,
        budget: u64,
    ) -> Self {
        let members: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| i < views.len())
            .collect();
        let mut parts = Vec::with_capacity(members.len());
        let mut sets = Vec::new();
        let mut extents = Vec::new();
        for (pos, v) in members.iter().filter_map(|&i| views.get(i)).enumerate() {
            let (part, range) = match mode {
                Mode::Torch => match classify(v) {
                    Class::Empty => (Part::Empty, None),
                    Class::Odd => (Part::Everyone, None),
                    Class::Plain(p) => (
                        Part::Range,
                        Some((i128::from(p.offset), i128::from(p.last))),
                    ),
                },
                Mode::Exact => {
                    let set = ElementSet::of(v);
                    let out = match &set {
                        ElementSet::Empty => (Part::Empty, None),
                        ElementSet::Unknown => (Part::Everyone, None),
                        ElementSet::Strided(c) => (Part::Range, Some((c.offset, c.last))),
                    };
                    sets.push(set);
                    out
                }
            };
            if let Some((lo, hi)) = range {
                extents.push(Extent { lo, hi, id: pos });
            }
            parts.push(part);
        }
        let everyone = parts
            .iter()
            .enumerate()
            .filter_map(|(pos, p)| matches!(p, Part::Everyone).then_some(pos))
            .collect();
        let mut pairs = Self {
            views,
            mode,
            members,
            parts,
            sets,
            index: IntervalIndex::new(extents),
            everyone,
            at: 0,
            candidates: Vec::new(),
            next: 0,
            budget,
            visited: 0,
            inexact: false,
        };
        pairs.load_candidates();
        pairs
    }

    /// Whether some produced pair was only "may overlap" (exact mode).
    pub fn inexact(&self) -> bool {
        self.inexact
    }

    /// Pairs looked at so far (produced or not): the work done.
    pub fn visited(&self) -> u64 {
        self.visited
    }

    /// Fills `candidates` with the later partners of the member at `at`.
    fn load_candidates(&mut self) {
        self.candidates.clear();
        self.next = 0;
        let at = self.at;
        match self.parts.get(at) {
            None | Some(Part::Empty) => {}
            Some(Part::Everyone) => {
                let later = self.parts.iter().enumerate().skip(at + 1);
                self.candidates.extend(
                    later.filter_map(|(pos, p)| (!matches!(p, Part::Empty)).then_some(pos)),
                );
            }
            Some(Part::Range) => {
                if let Some((lo, hi)) = self.range_of(at) {
                    self.index.meeting(lo, hi, &mut self.candidates);
                }
                self.candidates.retain(|&pos| pos > at);
                let later_everyone = self.everyone.iter().filter(|&&pos| pos > at);
                self.candidates.extend(later_everyone);
                self.candidates.sort_unstable();
            }
        }
    }

    fn range_of(&self, pos: usize) -> Option<(i128, i128)> {
        match self.mode {
            Mode::Torch => match classify(self.views.get(*self.members.get(pos)?)?) {
                Class::Plain(p) => Some((i128::from(p.offset), i128::from(p.last))),
                _ => None,
            },
            Mode::Exact => match self.sets.get(pos)? {
                ElementSet::Strided(c) => Some((c.offset, c.last)),
                _ => None,
            },
        }
    }

    /// Whether the members at positions `a < b` may overlap (`true` also for
    /// an undecided exact pair, which then sets `inexact`).
    fn test(&mut self, a: usize, b: usize) -> bool {
        self.visited += 1;
        let (Some(&i), Some(&j)) = (self.members.get(a), self.members.get(b)) else {
            return false;
        };
        match self.mode {
            // PyTorch's argument order: the later index first.
            Mode::Torch => match (self.views.get(j), self.views.get(i)) {
                (Some(later), Some(earlier)) => !torch_definitely_do_not_overlap(later, earlier),
                _ => false,
            },
            Mode::Exact => {
                self.budget = self.budget.saturating_sub(1);
                let verdict = match (self.sets.get(a), self.sets.get(b)) {
                    (Some(ElementSet::Strided(x)), Some(ElementSet::Strided(y))) => {
                        let mut pair = self.budget.min(EXACT_WORK_BOUND);
                        let before = pair;
                        let verdict = x.meets(y, &mut pair);
                        self.budget = self.budget.saturating_sub(before - pair);
                        verdict
                    }
                    _ => None,
                };
                verdict.unwrap_or_else(|| {
                    self.inexact = true;
                    true
                })
            }
        }
    }
}

impl Iterator for Pairs<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        loop {
            while let Some(&b) = self.candidates.get(self.next) {
                self.next += 1;
                let a = self.at;
                if self.test(a, b) {
                    return Some((*self.members.get(a)?, *self.members.get(b)?));
                }
            }
            if self.at + 1 >= self.members.len() {
                return None;
            }
            self.at += 1;
            self.load_candidates();
        }
    }
}
