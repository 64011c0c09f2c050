//! Why: the evidence behind the report, as the `why` object of the JSON
//! output (beside PyTorch's fields, which stay as they are), a section of
//! the text report, and `aotio explain`.

use std::fmt::Write;

use serde::Serialize;

use aotio::analysis::why::{input_mutations, output_chains, BaseOf};
use aotio::analysis::OutputType;
use aotio::db::OverlapMode;
use aotio::ir::Value;
use aotio::overlap::witness::witness;
use aotio::overlap::{compute_overlap, StridedView};
use aotio::session::{Report, Stage};

/// Witnesses need one view of the pair to have at most this many elements.
pub const WITNESS_BUDGET: usize = 1 << 16;
/// Pairs are listed for groups of at most this many members.
const MAX_LISTED_MEMBERS: usize = 64;

#[derive(Serialize)]
pub struct Why {
    /// Mutated inputs: the nodes whose writes reach them.
    pub inputs: Vec<InputWhy>,
    /// Outputs that alias an input or an intermediate: the base and view ops.
    pub outputs: Vec<OutputWhy>,
    /// Every pair of inputs sharing a storage, with its verdict's evidence.
    pub overlaps: Vec<PairWhy>,
    /// The inputs each synthetic base regenerates, and the mutated ones among them.
    pub synthetic_bases: Vec<BaseWhy>,
    /// Where PyTorch refuses the program, and the node that causes it when
    /// one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusalWhy>,
}

#[derive(Serialize)]
pub struct RefusalWhy {
    pub stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

#[derive(Serialize)]
pub struct InputWhy {
    pub input: usize,
    pub name: String,
    pub mutated_by: Vec<Site>,
}

#[derive(Serialize)]
pub struct Site {
    pub node: String,
    pub grad_enabled: bool,
}

#[derive(Serialize)]
pub struct OutputWhy {
    pub output: usize,
    pub name: String,
    /// `input [i] NAME` or `node NAME` (an intermediate).
    pub base: String,
    pub view_chain: Vec<String>,
}

#[derive(Serialize)]
pub struct PairWhy {
    /// Placeholder positions.
    pub inputs: (usize, usize),
    pub names: (String, String),
    /// The verdict of the mode in use.
    pub overlapping: bool,
    /// An element offset both views touch, when they are small enough to list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<i64>,
    pub reason: String,
}

#[derive(Serialize)]
pub struct BaseWhy {
    pub base: usize,
    /// Placeholder positions.
    pub inputs: Vec<usize>,
    pub mutated: Vec<usize>,
}

/// Placeholders: name, value, and the view they are at the size hints.
pub struct Inputs {
    pub names: Vec<String>,
    pub values: Vec<Value>,
    pub views: Vec<Option<StridedView>>,
    /// Some size, stride or offset is an expression over symbols.
    pub symbolic: Vec<bool>,
}

pub fn inputs(report: &Report) -> Inputs {
    let symbols = &report.graph.symbols;
    let hint = |s: &str| symbols.get(s).map(|sym| sym.hint);
    let eval = |e: &aotio::ir::expr::SizeExpr| e.eval(&hint).ok();
    let mut out = Inputs {
        names: Vec::new(),
        values: Vec::new(),
        views: Vec::new(),
        symbolic: Vec::new(),
    };
    for input in report.graph.inputs.iter() {
        let value = input.value.clone();
        let view = value.as_tensor().and_then(|t| {
            let g = &t.geometry;
            Some(StridedView::new(
                g.shape.iter().map(eval).collect::<Option<_>>()?,
                g.stride.iter().map(eval).collect::<Option<_>>()?,
                eval(&g.storage_offset)?,
            ))
        });
        let symbolic = value.as_tensor().is_some_and(|t| {
            let g = &t.geometry;
            g.shape
                .iter()
                .chain(&g.stride)
                .chain(std::iter::once(&g.storage_offset))
                .any(|e| !e.is_constant())
        });
        out.symbolic.push(symbolic);
        out.names.push(input.name.to_string());
        out.values.push((*value).clone());
        out.views.push(view);
    }
    out
}

/// Placeholder positions kept by dedupe (post-dedupe index → position).
pub fn kept(report: &Report, num_inputs: usize) -> Vec<usize> {
    match &report.dedupe {
        Some(Stage::Done(d)) => d.kept_positions(num_inputs),
        _ => (0..num_inputs).collect(),
    }
}

/// The pairs among `members` (placeholder positions) that overlap in `mode`,
/// decided on their views at the hints; `None` when some view does not
/// evaluate there.
pub fn overlapping_pairs(
    members: &[usize],
    views: &[Option<StridedView>],
    mode: OverlapMode,
) -> Option<Vec<(usize, usize)>> {
    let member_views: Vec<StridedView> = members
        .iter()
        .map(|&p| views.get(p).cloned().flatten())
        .collect::<Option<_>>()?;
    Some(
        compute_overlap(&member_views, mode)
            .pairs
            .into_iter()
            .filter_map(|(a, b)| Some((*members.get(a)?, *members.get(b)?)))
            .collect(),
    )
}

pub fn witness_of(views: &[Option<StridedView>], a: usize, b: usize) -> Option<i64> {
    let va = views.get(a)?.as_ref()?;
    let vb = views.get(b)?.as_ref()?;
    witness(va, vb, WITNESS_BUDGET)
}

pub fn why(report: &Report, mode: OverlapMode) -> Why {
    let node_names = &report.graph.node_names;
    let node = |i: usize| {
        node_names
            .get(i)
            .map_or_else(|| "?".to_owned(), |n| n.to_string())
    };
    let inputs = inputs(report);
    let name = |p: usize| {
        inputs
            .names
            .get(p)
            .cloned()
            .unwrap_or_else(|| "?".to_owned())
    };
    let outputs = &report.graph.output_names;
    let meta = report.fw_metadata.as_deref();
    let mut why = Why {
        inputs: Vec::new(),
        outputs: Vec::new(),
        overlaps: Vec::new(),
        synthetic_bases: Vec::new(),
        refusal: super::render::refusal_error(report).map(|e| RefusalWhy {
            stage: e.stage.as_str(),
            // The node that causes it, or else the input it is about
            // (a placeholder is a node too).
            node: e.node.map(node).or_else(|| {
                let p = e.input?;
                let position = match e.stage {
                    aotio::analysis::Stage::MergeViewInputs
                    | aotio::analysis::Stage::SyntheticBaseMetadata => {
                        *kept(report, report.graph.inputs.len()).get(p)?
                    }
                    _ => p,
                };
                Some(report.graph.inputs.get(position)?.name.to_string())
            }),
        }),
    };
    if let (Some(trace), Some(meta)) = (&report.graph.trace, meta) {
        for (p, sites) in input_mutations(trace).into_iter().enumerate() {
            let mutated = meta.input_info.get(p).is_some_and(|i| i.mutates_data);
            if mutated && !sites.is_empty() {
                why.inputs.push(InputWhy {
                    input: p,
                    name: name(p),
                    mutated_by: sites
                        .into_iter()
                        .map(|s| Site {
                            node: node(s.node),
                            grad_enabled: s.grad_enabled,
                        })
                        .collect(),
                });
            }
        }
        for (k, chain) in output_chains(trace).into_iter().enumerate() {
            let Some(info) = meta
                .output_info
                .get(k)
                .filter(|o| o.output_type != OutputType::NonAlias)
            else {
                continue;
            };
            let Some(chain) = chain else {
                continue;
            };
            // A duplicated input is one object in the trace: PyTorch's
            // `base_idx` says which of its positions it names.
            let base_input = match (info.output_type, info.base_idx, &chain.base) {
                (OutputType::AliasOfInput | OutputType::IsInput, Some(b), _) => Some(b),
                (_, _, BaseOf::Input(p)) => Some(*p),
                _ => None,
            };
            why.outputs.push(OutputWhy {
                output: k,
                name: outputs.get(k).cloned().unwrap_or_else(|| "?".to_owned()),
                base: match (base_input, &chain.base) {
                    (Some(p), _) => format!("input [{p}] {}", name(p)),
                    (None, BaseOf::Node(n)) => format!("node {}", node(*n)),
                    (None, BaseOf::Input(p)) => format!("input [{p}] {}", name(*p)),
                },
                view_chain: chain.view_chain.iter().map(ToString::to_string).collect(),
            });
        }
    }
    let kept = kept(report, inputs.names.len());
    let outer = |i: usize| kept.get(i).copied();
    for g in report.overlapping_inputs.iter().flat_map(|g| g.iter()) {
        let members: Vec<usize> = g
            .aliased_input_indices
            .iter()
            .filter_map(|&i| outer(i))
            .collect();
        if members.len() > MAX_LISTED_MEMBERS {
            continue;
        }
        let pairs = overlapping_pairs(&members, &inputs.views, mode);
        for (k, &a) in members.iter().enumerate() {
            for &b in members.iter().skip(k + 1) {
                let w = witness_of(&inputs.views, a, b);
                let overlapping = match &pairs {
                    Some(pairs) => pairs.contains(&(a, b)),
                    None => true,
                };
                let reason = match (overlapping, w, mode, &pairs) {
                    (_, _, _, None) => {
                        "the geometry does not evaluate at the hints: assumed to overlap".to_owned()
                    }
                    (true, Some(w), _, _) => format!("both touch element {w}"),
                    (true, None, OverlapMode::Exact, _) if g.inexact => {
                        "the work bound was hit: may overlap".to_owned()
                    }
                    (true, None, OverlapMode::Exact, _) => "they share an element".to_owned(),
                    (true, None, OverlapMode::Torch, _) => {
                        "PyTorch's check cannot rule it out (no shared element found)".to_owned()
                    }
                    (false, Some(w), _, _) => {
                        format!("PyTorch's check misses it: both touch element {w}")
                    }
                    (false, None, OverlapMode::Exact, _) => "no element in common".to_owned(),
                    (false, None, OverlapMode::Torch, _) => {
                        "PyTorch's check rules it out (their address ranges or strides keep \
                         them apart)"
                            .to_owned()
                    }
                };
                let symbolic = [a, b]
                    .iter()
                    .any(|&p| inputs.symbolic.get(p).copied().unwrap_or(false));
                let reason = if symbolic && w.is_some() {
                    format!("{reason}, at the size hints")
                } else {
                    reason
                };
                why.overlaps.push(PairWhy {
                    inputs: (a, b),
                    names: (name(a), name(b)),
                    overlapping,
                    witness: w,
                    reason,
                });
            }
        }
    }
    if let Some(Ok(Some(c))) = report.synthetic_base.as_ref().map(|s| &s.plan.outcome) {
        for (b, members) in c.merge.base_groups.iter().enumerate() {
            let positions: Vec<usize> = members.iter().filter_map(|&m| outer(m)).collect();
            let mutated = positions
                .iter()
                .copied()
                .filter(|&p| {
                    meta.and_then(|m| m.input_info.get(p))
                        .is_some_and(|i| i.mutates_data || i.mutates_metadata)
                })
                .collect();
            why.synthetic_bases.push(BaseWhy {
                base: b,
                inputs: positions,
                mutated,
            });
        }
    }
    why
}

fn grad(enabled: bool) -> &'static str {
    if enabled {
        "grad enabled"
    } else {
        "under no_grad"
    }
}

/// The `why` section of the text report.
pub fn text(out: &mut String, why: &Why) {
    if why.inputs.is_empty()
        && why.outputs.is_empty()
        && why.overlaps.is_empty()
        && why.synthetic_bases.is_empty()
        && why.refusal.is_none()
    {
        return;
    }
    let _ = writeln!(out, "\nwhy:");
    if let Some(r) = &why.refusal {
        match &r.node {
            Some(node) => {
                let _ = writeln!(
                    out,
                    "  PyTorch refuses at {} because of node {node}",
                    r.stage
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  PyTorch refuses at {} (aotio names no single node for this refusal)",
                    r.stage
                );
            }
        }
    }
    for i in &why.inputs {
        let _ = writeln!(
            out,
            "  input [{}] {} is mutated by {}",
            i.input,
            i.name,
            sites(&i.mutated_by)
        );
    }
    for o in &why.outputs {
        let _ = writeln!(out, "  output [{}] {} {}", o.output, o.name, chain(o));
    }
    for p in &why.overlaps {
        let _ = writeln!(
            out,
            "  [{}] {} and [{}] {} {}: {}",
            p.inputs.0,
            p.names.0,
            p.inputs.1,
            p.names.1,
            if p.overlapping {
                "overlap"
            } else {
                "are disjoint"
            },
            p.reason
        );
    }
    for b in &why.synthetic_bases {
        let _ = writeln!(
            out,
            "  synthetic base {} regenerates inputs {:?}: they share a storage, and {:?} {} mutated",
            b.base,
            b.inputs,
            b.mutated,
            if b.mutated.len() == 1 { "is" } else { "are" }
        );
    }
}

fn sites(sites: &[Site]) -> String {
    sites
        .iter()
        .map(|s| format!("node {} ({})", s.node, grad(s.grad_enabled)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn chain(o: &OutputWhy) -> String {
    if o.view_chain.is_empty() {
        format!("is {}", o.base)
    } else {
        format!(
            "is a view of {} through {}",
            o.base,
            o.view_chain.join(" → ")
        )
    }
}

/// `aotio explain`: the story of one input or output, by name.
pub fn explain(report: &Report, mode: OverlapMode, wanted: &str) -> Option<String> {
    let inputs = inputs(report);
    let outputs = &report.graph.output_names;
    let why = why(report, mode);
    let meta = report.fw_metadata.as_deref();
    let mut out = String::new();
    if let Some(p) = inputs.names.iter().position(|n| n == wanted) {
        let _ = writeln!(out, "input [{p}] {wanted}");
        if let Some(t) = inputs.values.get(p).and_then(Value::as_tensor) {
            let g = &t.geometry;
            let _ = writeln!(
                out,
                "  tensor {}[{}], stride [{}], storage offset {}, storage {}",
                g.dtype,
                super::render::list(&g.shape),
                super::render::list(&g.stride),
                g.storage_offset,
                g.storage
            );
        }
        if let Some(info) = meta.and_then(|m| m.input_info.get(p)) {
            let (name, gloss) = super::render::mutation_type(info.mutation_type);
            let _ = writeln!(out, "  mutation_type {name}: {gloss}");
            let _ = writeln!(out, "  flags: {}", super::render::input_flags(info));
        }
        for i in why.inputs.iter().filter(|i| i.input == p) {
            let _ = writeln!(out, "  mutated by {}", sites(&i.mutated_by));
        }
        if let Some(Stage::Done(d)) = &report.dedupe {
            if let (Some(mask), Some(map)) = (&d.keep_arg_mask, &d.add_dupe_map) {
                let kept = kept(report, inputs.names.len());
                if let (Some(false), Some(q)) = (
                    mask.get(p).copied(),
                    map.get(p).and_then(|&to| kept.get(to)),
                ) {
                    let name = inputs.names.get(*q).map_or("?", String::as_str);
                    let _ = writeln!(
                        out,
                        "  the same tensor as input [{q}] {name}: dedupe drops it"
                    );
                }
            }
        }
        for pair in why
            .overlaps
            .iter()
            .filter(|x| x.inputs.0 == p || x.inputs.1 == p)
        {
            let (q, other) = if pair.inputs.0 == p {
                (pair.inputs.1, &pair.names.1)
            } else {
                (pair.inputs.0, &pair.names.0)
            };
            let _ = writeln!(
                out,
                "  shares its storage with input [{q}] {other}: {} ({})",
                if pair.overlapping {
                    "overlapping"
                } else {
                    "disjoint"
                },
                pair.reason
            );
        }
        for b in why.synthetic_bases.iter().filter(|b| b.inputs.contains(&p)) {
            let _ = writeln!(
                out,
                "  regenerated from synthetic base {} with inputs {:?} (mutated: {:?})",
                b.base, b.inputs, b.mutated
            );
        }
        return Some(out);
    }
    let k = outputs.iter().position(|n| n == wanted)?;
    let _ = writeln!(out, "output [{k}] {wanted}");
    if let Some(o) = meta.and_then(|m| m.output_info.get(k)) {
        let (name, gloss) = super::render::output_type(o.output_type);
        let _ = writeln!(out, "  output_type {name}: {gloss}");
        let flags = [
            (o.requires_grad, "requires_grad"),
            (o.requires_grad_for_backward, "requires_grad_for_backward"),
        ];
        let _ = writeln!(out, "  flags: {}", super::render::set_flags(&flags));
    }
    for o in why.outputs.iter().filter(|o| o.output == k) {
        let _ = writeln!(out, "  {}", chain(o));
    }
    Some(out)
}
