//! The human-readable reports: text (this module; export signatures in
//! `signature`) and Graphviz DOT. Each is a function of the `Report` alone.

use std::fmt::Write;

use aotio::analysis::dedupe::Strategy;
use aotio::analysis::symbolic_overlap::Validity;
use aotio::analysis::synthetic_base::InnerArg;
use aotio::analysis::{InputAliasInfo, MutationType, OutputType, TensorSpec, ViewAndMutationMeta};
use aotio::db::OverlapMode;
use aotio::ir::Value;
use aotio::overlap::StridedView;

use super::why;

mod signature;
use aotio::analysis::storage_overlap::Guard;
use aotio::session::{Report, Stage};

pub fn text(label: &str, report: &Report, mode: OverlapMode) -> String {
    let mut out = String::new();
    let graph = &report.graph;
    let placeholders: Vec<(&str, Value)> = graph
        .inputs
        .iter()
        .map(|i| (&*i.name, (*i.value).clone()))
        .collect();
    let names: Vec<&str> = placeholders.iter().map(|(name, _)| *name).collect();
    let outputs = &graph.output_names;

    let _ = writeln!(
        out,
        "aotio analysis of {label} ({} nodes)",
        graph.node_names.len()
    );
    let meta = report.fw_metadata.as_deref();
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "\nPyTorch refuses this graph at {} with {:?}:\n  {}",
            e.stage.as_str(),
            e.kind,
            e.message.replace('\n', "\n  ")
        );
    }
    if let Some(na) = report.needs_autograd {
        let _ = writeln!(
            out,
            "graph kind: {}",
            if na {
                "joint (forward + backward)"
            } else {
                "inference"
            }
        );
    }
    if let Some(mode) = meta.and_then(|m| m.grad_enabled_mutation) {
        let _ = writeln!(
            out,
            "the function leaves grad mode {}",
            if mode { "on" } else { "off" }
        );
    }
    inputs(&mut out, &placeholders, meta);
    let Some(meta) = meta else {
        super::why::text(&mut out, &super::why::why(report, mode));
        if let Some(sigs) = &report.graph_signature {
            out.push('\n');
            let _ = signature::signatures(&mut out, sigs);
        }
        return out;
    };

    let _ = writeln!(out, "\noutputs ({}):", meta.output_info.len());
    let mut table = Table::new(&["#", "name", "output_type", "base", "flags"]);
    for (k, o) in meta.output_info.iter().enumerate() {
        let name = outputs.get(k).map(String::as_str).unwrap_or("?");
        let base = match (o.output_type, o.base_idx) {
            (_, None) => "-".to_owned(),
            (OutputType::AliasOfInput | OutputType::IsInput | OutputType::NonAlias, Some(b)) => {
                format!("input [{b}] {}", names.get(b).copied().unwrap_or("?"))
            }
            (OutputType::AliasOfIntermediateBaseIsUserOutput, Some(b)) => {
                format!(
                    "output [{b}] {}",
                    outputs.get(b).map_or("?", String::as_str)
                )
            }
            (_, Some(b)) => format!("intermediate base [{b}]"),
        };
        let flags = [
            (o.requires_grad, "requires_grad"),
            (o.requires_grad_for_backward, "requires_grad_for_backward"),
        ];
        table.row(vec![
            k.to_string(),
            name.to_owned(),
            output_type(o.output_type).0.to_owned(),
            base,
            set_flags(&flags),
        ]);
    }
    table.render(&mut out);
    let _ = writeln!(out);
    legend(
        &mut out,
        meta.output_info.iter().map(|o| output_type(o.output_type)),
    );

    let derived = meta.derived();
    let _ = writeln!(out, "\nintermediate bases: {}", meta.num_intermediate_bases);
    let _ = writeln!(out, "traced tangents ({}):", meta.traced_tangents.len());
    for t in &meta.traced_tangents {
        let _ = writeln!(out, "  {} {}", spec(&t.spec), t.desc);
    }
    let _ = writeln!(
        out,
        "\nforward returns: {} = {} mutated inputs + {} outputs + {} intermediate bases",
        derived.num_forward_returns,
        derived.num_mutated_inp_runtime_indices,
        derived.num_outputs,
        meta.num_intermediate_bases
    );
    let _ = writeln!(
        out,
        "mutated_inp_runtime_indices: {:?}; mutated_graph_handled_indices: {:?}",
        derived.mutated_inp_runtime_indices, derived.mutated_graph_handled_indices
    );
    rewrites(&mut out, &names, report);
    super::why::text(&mut out, &super::why::why(report, mode));
    if let Some(sigs) = &report.graph_signature {
        out.push('\n');
        let _ = signature::signatures(&mut out, sigs);
    }
    out
}

/// The inputs: geometry from the dump, and what the analysis found (when
/// PyTorch got that far).
fn inputs(out: &mut String, placeholders: &[(&str, Value)], meta: Option<&ViewAndMutationMeta>) {
    let _ = writeln!(out, "\ninputs ({}):", placeholders.len());
    let mut header = vec!["#", "name", "tensor", "stride", "offset", "storage"];
    if meta.is_some() {
        header.extend(["mutation_type", "flags"]);
    }
    let mut table = Table::new(&header);
    for (i, (name, value)) in placeholders.iter().enumerate() {
        let mut row = vec![i.to_string(), (*name).to_owned()];
        match value.as_tensor() {
            Some(t) => {
                let g = &t.geometry;
                row.extend([
                    format!("{}[{}]", g.dtype, list(&g.shape)),
                    format!("[{}]", list(&g.stride)),
                    g.storage_offset.to_string(),
                    g.storage.to_string(),
                ]);
            }
            None => row.extend([
                value_kind(value).to_owned(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
        if let Some(meta) = meta {
            match meta.input_info.get(i) {
                Some(info) => row.extend([
                    mutation_type(info.mutation_type).0.to_owned(),
                    input_flags(info),
                ]),
                None => row.extend(["?".to_owned(), String::new()]),
            }
        }
        table.row(row);
    }
    table.render(out);
    if let Some(meta) = meta {
        let _ = writeln!(out);
        legend(
            out,
            meta.input_info
                .iter()
                .map(|i| mutation_type(i.mutation_type)),
        );
    }
}

/// Rows printed in columns as wide as their widest cell, two spaces apart.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let mut widths: Vec<usize> = Vec::new();
        for row in &self.rows {
            for (c, cell) in row.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(c) {
                    Some(max) => *max = (*max).max(w),
                    None => widths.push(w),
                }
            }
        }
        for row in &self.rows {
            let mut line = String::from("  ");
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<width$}  ");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

/// Dedupe, storage overlap and synthetic bases: the calling-convention rewrites.
fn rewrites(out: &mut String, placeholders: &[&str], report: &Report) {
    let name = |i: usize| placeholders.get(i).copied().unwrap_or("?");
    let _ = writeln!(out, "\ndedupe:");
    let mut kept: Vec<usize> = (0..placeholders.len()).collect();
    match &report.dedupe {
        Some(Stage::Done(d)) => match d.strategy {
            Strategy::None => {
                let _ = writeln!(out, "  no tensor is passed twice");
            }
            Strategy::Leafify => {
                for &i in &d.leafified_indices {
                    let _ = writeln!(
                        out,
                        "  [{i}] {} is a duplicate that is never mutated: passed as a detached leaf",
                        name(i)
                    );
                }
            }
            Strategy::RemoveDuplicates => {
                kept = d.kept_positions(placeholders.len());
                if let (Some(mask), Some(map)) = (&d.keep_arg_mask, &d.add_dupe_map) {
                    let mut table = Table::new(&["#", "name", "keep_arg_mask", "add_dupe_map"]);
                    for (p, (&keep, &to)) in mask.iter().zip(map).enumerate() {
                        let arrow = if keep {
                            format!("{to} (kept as inner [{to}])")
                        } else {
                            format!("{to} (dropped: reads inner [{to}])")
                        };
                        table.row(vec![
                            p.to_string(),
                            name(p).to_owned(),
                            keep.to_string(),
                            arrow,
                        ]);
                    }
                    table.render(out);
                }
            }
        },
        Some(Stage::Refused { error }) => {
            let _ = writeln!(out, "  PyTorch refuses: {}", error.message);
        }
        None => {}
    }
    let outer = |i: usize| kept.get(i).copied().map_or("?", name);

    if let Some(groups) = &report.overlapping_inputs {
        let _ = writeln!(out, "\ninputs sharing a storage:");
        if groups.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for g in groups.iter() {
            let members: Vec<String> = g
                .aliased_input_indices
                .iter()
                .map(|&i| format!("[{i}] {}", outer(i)))
                .collect();
            let _ = writeln!(
                out,
                "  {}: overlapping {:?}{}",
                members.join(", "),
                g.overlapping,
                if g.inexact {
                    " (work bound hit: may overlap)"
                } else {
                    ""
                }
            );
            if !g.missed_by_torch.is_empty() {
                let _ = writeln!(
                    out,
                    "  warning: PyTorch's check misses the overlap of {:?} and would skip a synthetic base",
                    g.missed_by_torch
                );
            }
        }
    }

    if let Some(groups) = report.symbolic_overlap.as_deref().filter(|g| !g.is_empty()) {
        let _ = writeln!(
            out,
            "\nsymbolic overlap (PyTorch decides at the size hints):"
        );
        for g in groups {
            for v in &g.pairs {
                let (i, j) = v.pair;
                let _ = writeln!(
                    out,
                    "  [{i}] {}, [{j}] {}: {}, {}",
                    outer(i),
                    outer(j),
                    if v.may_overlap {
                        "may overlap"
                    } else {
                        "disjoint"
                    },
                    match v.validity {
                        Validity::AllValues => "for every allowed size",
                        Validity::HintsOnly => "only at the hints (a guard protects it)",
                    }
                );
            }
        }
    }
    if let Some(guards) = report.aot_guards.as_deref().filter(|g| !g.is_empty()) {
        let _ = writeln!(out, "\nguards PyTorch installs:");
        for guard in guards {
            match guard {
                Guard::StorageOverlap {
                    overlapping_sources,
                    non_overlapping_sources,
                } => {
                    let names = |v: &[String]| {
                        if v.is_empty() {
                            "none".to_owned()
                        } else {
                            v.join(", ")
                        }
                    };
                    let _ = writeln!(
                        out,
                        "  StorageOverlap: overlapping {}; non-overlapping {}",
                        names(overlapping_sources),
                        names(non_overlapping_sources)
                    );
                }
            }
        }
    }

    if let Some(sb) = &report.synthetic_base {
        let _ = writeln!(out, "\nsynthetic bases:");
        for change in &sb.plan.changed_by_exact_mode {
            let _ = writeln!(
                out,
                "  exact mode: inputs {:?} {}",
                change.members,
                if change.merged_by_torch {
                    "need no base (PyTorch merges them although they share no element)"
                } else {
                    "need a base (PyTorch misses their overlap and would skip it)"
                }
            );
        }
        match &sb.plan.outcome {
            Ok(None) => {
                let _ = writeln!(out, "  none needed");
            }
            Err(e) => {
                let _ = writeln!(out, "  PyTorch refuses ({:?}): {}", e.kind, e.message);
            }
            Ok(Some(c)) => {
                for (b, members) in c.merge.base_groups.iter().enumerate() {
                    let desc = match c.merge.inner_args.get(b) {
                        Some(InnerArg::Base { desc, .. }) => desc.as_str(),
                        _ => "?",
                    };
                    let names: Vec<String> = members
                        .iter()
                        .map(|&i| format!("[{i}] {}", outer(i)))
                        .collect();
                    let _ = writeln!(
                        out,
                        "  inner [{b}] = {desc}: regenerates {} (they overlap and one is mutated)",
                        names.join(", ")
                    );
                }
                let _ = writeln!(
                    out,
                    "  other inputs pass through as inner {:?}",
                    (c.merge.base_groups.len()..c.merge.inner_args.len()).collect::<Vec<_>>()
                );
                if !c.outer_aliased_arg_idx_with_metadata_mutations.is_empty() {
                    let _ = writeln!(
                        out,
                        "  metadata mutations applied back to inputs {:?}",
                        c.outer_aliased_arg_idx_with_metadata_mutations
                    );
                }
            }
        }
    }
}

/// Graphviz: inputs with their geometry, the storages they share, overlap
/// edges (exact mode: "overlaps" with a shared element; torch mode: "may
/// overlap", PyTorch's verdict), duplicates, synthetic bases, outputs and
/// the bases they alias, a refusal, and a legend.
pub fn dot(label: &str, report: &Report, mode: OverlapMode) -> String {
    let graph = &report.graph;
    let symbols = &graph.symbols;
    let hint = |s: &str| symbols.get(s).map(|sym| sym.hint);
    let meta = report.fw_metadata.as_deref();
    let mut out = String::from(
        "digraph aotio {\n  rankdir=LR;\n  newrank=true;\n  nodesep=0.15;\n  \
         node [fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    let mut title = format!("aotio: {}", label);
    if let Some(refusal) = refusal(report) {
        title.push('\n');
        title.push_str(&refusal);
    }
    let _ = writeln!(
        out,
        "  labelloc=t;\n  label=\"{}\";{}",
        escape(&title),
        if refusal(report).is_some() {
            "\n  fontcolor=\"#b00020\";"
        } else {
            ""
        }
    );

    // Inputs, and the views they are at the hints (for overlap witnesses).
    let placeholders = &graph.inputs;
    let mut views: Vec<Option<StridedView>> = Vec::new();
    let mut storage_users: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    let dropped: Vec<usize> = match &report.dedupe {
        Some(Stage::Done(d)) => d
            .keep_arg_mask
            .as_ref()
            .map(|m| {
                m.iter()
                    .enumerate()
                    .filter(|(_, k)| !**k)
                    .map(|(p, _)| p)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    out.push_str("  subgraph cluster_inputs {\n    label=\"inputs\";\n    style=rounded;\n    fontcolor=black;\n");
    for (p, n) in placeholders.iter().enumerate() {
        let name = n.name.clone();
        let value = &n.value;
        let mut lines = vec![format!("[{p}] {name}")];
        let tensor = value.as_tensor();
        match tensor {
            Some(t) => {
                let g = &t.geometry;
                lines.push(format!(
                    "{}[{}] stride [{}]",
                    g.dtype,
                    list(&g.shape),
                    list(&g.stride)
                ));
                lines.push(format!(
                    "offset {}  storage {}",
                    g.storage_offset, g.storage
                ));
                storage_users.entry(g.storage).or_default().push(p);
                let eval = |e: &aotio::ir::expr::SizeExpr| e.eval(&hint).ok();
                views.push((|| {
                    Some(StridedView::new(
                        g.shape.iter().map(eval).collect::<Option<_>>()?,
                        g.stride.iter().map(eval).collect::<Option<_>>()?,
                        eval(&g.storage_offset)?,
                    ))
                })());
            }
            None => {
                lines.push(value_kind(value).to_owned());
                views.push(None);
            }
        }
        let info = meta.and_then(|m| m.input_info.get(p));
        if let Some(info) = info {
            lines.push(mutation_type(info.mutation_type).0.to_owned());
        }
        let style = if dropped.contains(&p) {
            ", style=\"filled,dashed\", fillcolor=\"#e0e0e0\""
        } else if info.is_some_and(|i| i.mutates_data || i.mutates_metadata) {
            ", style=filled, fillcolor=\"#f4c7c3\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    in{p} [shape=box, label=\"{}\\l\"{style}];",
            lines
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("\\l")
        );
    }
    // Many inputs: columns of `rows` (invisible edges make the columns),
    // so the picture stays about square instead of one tall column.
    let rows = (1..)
        .find(|r: &usize| r * r >= placeholders.len())
        .unwrap_or(1)
        .max(4);
    for p in rows..placeholders.len() {
        let _ = writeln!(out, "    in{} -> in{p} [style=invis];", p - rows);
    }
    out.push_str("  }\n");

    // Storages drawn only where inputs share one: a storage per input
    // would double the picture and say nothing.
    for (st, users) in storage_users.iter().filter(|(_, u)| u.len() > 1) {
        let _ = writeln!(
            out,
            "  storage{st} [shape=cylinder, label=\"storage {st}\"];"
        );
        for p in users {
            let _ = writeln!(
                out,
                "  in{p} -> storage{st} [style=dashed, color=gray40, arrowhead=none];"
            );
        }
    }

    // Duplicates: the dropped argument reads the kept one.
    if let Some(Stage::Done(d)) = &report.dedupe {
        if let (Some(mask), Some(map)) = (&d.keep_arg_mask, &d.add_dupe_map) {
            let kept = d.kept_positions(placeholders.len());
            for (p, (&keep, &to)) in mask.iter().zip(map).enumerate() {
                if let (false, Some(&q)) = (keep, kept.get(to)) {
                    let _ = writeln!(
                        out,
                        "  in{p} -> in{q} [style=dotted, label=\"duplicate of\"];"
                    );
                }
            }
        }
    }
    let kept = match &report.dedupe {
        Some(Stage::Done(d)) => d.kept_positions(placeholders.len()),
        _ => (0..placeholders.len()).collect(),
    };
    let outer = |i: usize| kept.get(i).copied();

    // Overlap: pairs decided again on the members' views at the hints.
    if let Some(groups) = &report.overlapping_inputs {
        for g in groups.iter() {
            let members: Vec<usize> = g.overlapping.iter().filter_map(|&i| outer(i)).collect();
            let decided = why::overlapping_pairs(&members, &views, mode);
            let certain = mode == OverlapMode::Exact && !g.inexact && decided.is_some();
            // Symbolic geometry that does not evaluate: every pair may overlap.
            let pairs = decided.unwrap_or_else(|| {
                members
                    .iter()
                    .enumerate()
                    .flat_map(|(k, &a)| members.iter().skip(k + 1).map(move |&b| (a, b)))
                    .collect()
            });
            for (a, b) in pairs {
                let label = match (certain, why::witness_of(&views, a, b)) {
                    (true, Some(w)) => format!("overlaps\\nboth touch element {w}"),
                    (true, None) => "overlaps".to_owned(),
                    (false, _) => "may overlap".to_owned(),
                };
                let style = if certain { "solid" } else { "dashed" };
                let _ = writeln!(
                    out,
                    "  in{a} -> in{b} [dir=none, color=red, fontcolor=red, style={style}, label=\"{label}\", constraint=false];"
                );
            }
        }
    }

    // Synthetic bases and the inputs they regenerate.
    if let Some(Ok(Some(c))) = report.synthetic_base.as_ref().map(|s| &s.plan.outcome) {
        for (b, members) in c.merge.base_groups.iter().enumerate() {
            let _ = writeln!(
                out,
                "  base{b} [label=\"synthetic base {b}\", shape=ellipse, color=blue, fontcolor=blue];"
            );
            for &m in members {
                if let Some(p) = outer(m) {
                    let _ = writeln!(out, "  base{b} -> in{p} [color=blue, label=\"view\"];");
                }
            }
        }
    }

    // Outputs, and what they alias.
    if let Some(meta) = meta {
        let names = &graph.output_names;
        out.push_str("  subgraph cluster_outputs {\n    label=\"outputs\";\n    style=rounded;\n    fontcolor=black;\n");
        for (k, o) in meta.output_info.iter().enumerate() {
            let name = names.get(k).map_or("?", String::as_str);
            let _ = writeln!(
                out,
                "    out{k} [shape=box, style=rounded, label=\"[{k}] {}\\l{}\\l\"];",
                escape(name),
                output_type(o.output_type).0
            );
        }
        out.push_str("  }\n");
        for b in 0..meta.num_intermediate_bases {
            let _ = writeln!(
                out,
                "  ib{b} [shape=ellipse, style=dashed, label=\"intermediate base {b}\"];"
            );
        }
        for (k, o) in meta.output_info.iter().enumerate() {
            let from = match (o.output_type, o.base_idx) {
                (_, None) => continue,
                (OutputType::AliasOfInput | OutputType::IsInput, Some(b)) => format!("in{b}"),
                (OutputType::AliasOfIntermediateBaseIsUserOutput, Some(b)) => format!("out{b}"),
                (OutputType::NonAlias, Some(_)) => continue,
                (_, Some(b)) => format!("ib{b}"),
            };
            let _ = writeln!(
                out,
                "  {from} -> out{k} [color=darkgreen, fontcolor=darkgreen, label=\"{}\"];",
                output_type(o.output_type).0
            );
        }
        if meta.output_info.is_empty() {
            let _ = writeln!(out, "  // no outputs");
        }
    }

    // Inputs on the left, then outputs, then the legend.
    let last_input = placeholders.len().checked_sub(1).map(|p| format!("in{p}"));
    let outputs_node = meta
        .filter(|m| !m.output_info.is_empty())
        .map(|_| "out0".to_owned());
    out.push_str(LEGEND);
    let chain: Vec<String> = [last_input, outputs_node, Some("legend".to_owned())]
        .into_iter()
        .flatten()
        .collect();
    for pair in chain.windows(2) {
        if let [a, b] = pair {
            let _ = writeln!(out, "  {a} -> {b} [style=invis];");
        }
    }
    out.push_str("}\n");
    out
}

const LEGEND: &str = r##"  subgraph cluster_legend {
    label="legend";
    style=rounded;
    fontcolor=black;
    legend [shape=plaintext, label=<<table border="0" cellspacing="2" cellpadding="2">
      <tr><td bgcolor="#f4c7c3">   </td><td align="left">input mutated (data or metadata)</td></tr>
      <tr><td bgcolor="#e0e0e0">   </td><td align="left">duplicate input, dropped by dedupe (dotted: the input it reads)</td></tr>
      <tr><td><font color="gray40">- -</font></td><td align="left">shares the storage (drawn when shared)</td></tr>
      <tr><td><font color="red">———</font></td><td align="left">overlaps: exact mode, with an element both touch</td></tr>
      <tr><td><font color="red">- -</font></td><td align="left">may overlap: PyTorch's check (torch mode)</td></tr>
      <tr><td><font color="blue">———</font></td><td align="left">synthetic base and the inputs regenerated from it</td></tr>
      <tr><td><font color="darkgreen">———</font></td><td align="left">output aliasing an input, output or intermediate base</td></tr>
    </table>>];
  }
"##;

/// A string inside a DOT double-quoted label.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// PyTorch's name, and what it means for the caller.
pub(crate) fn mutation_type(t: MutationType) -> (&'static str, &'static str) {
    match t {
        MutationType::NotMutated => ("NOT_MUTATED", "never written"),
        MutationType::MutatedInGraph => (
            "MUTATED_IN_GRAPH",
            "written by the compiled graph itself (keep_input_mutations)",
        ),
        MutationType::MutatedOutGraph => (
            "MUTATED_OUT_GRAPH",
            "written: the graph returns the new value and the runtime copies it back",
        ),
    }
}

/// PyTorch's name, and what it means for the caller.
pub(crate) fn output_type(t: OutputType) -> (&'static str, &'static str) {
    match t {
        OutputType::NonAlias => ("non_alias", "a new tensor (or not a tensor)"),
        OutputType::AliasOfInput => (
            "alias_of_input",
            "a view of an input, regenerated from it at runtime",
        ),
        OutputType::IsInput => ("is_input", "the input itself"),
        OutputType::AliasOfIntermediateSaveAsOutput => (
            "alias_of_intermediate_save_as_output",
            "a view of an intermediate, whose base is returned as an extra output",
        ),
        OutputType::AliasOfIntermediate => (
            "alias_of_intermediate",
            "a view of an intermediate base another output already returns",
        ),
        OutputType::AliasOfIntermediateBaseIsUserOutput => (
            "alias_of_intermediate_base_is_user_output",
            "a view of another output, its base",
        ),
        OutputType::UnsafeViewAlias => (
            "unsafe_view_alias",
            "a view of an intermediate, returned as a new tensor",
        ),
        OutputType::CustomFunctionView => (
            "custom_function_view",
            "a view made inside an autograd.Function",
        ),
    }
}

/// One line per distinct term of a column, under its table.
fn legend(out: &mut String, terms: impl IntoIterator<Item = (&'static str, &'static str)>) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for term in terms {
        if !seen.contains(&term) {
            seen.push(term);
        }
    }
    let width = seen.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, gloss) in seen {
        let _ = writeln!(out, "  {name:<width$}  {gloss}");
    }
}

/// The `InputAliasInfo` fields that are set, by PyTorch's names; those
/// about mutation only when the input is mutated.
pub(crate) fn input_flags(i: &InputAliasInfo) -> String {
    let mutated = i.mutates_data || i.mutates_metadata || i.mutates_storage_metadata;
    set_flags(&[
        (i.mutates_data, "mutates_data"),
        (i.mutates_metadata, "mutates_metadata"),
        (i.mutates_storage_metadata, "mutates_storage_metadata"),
        (
            i.mutation_inductor_storage_resize,
            "mutation_inductor_storage_resize",
        ),
        (
            i.mutation_is_shallow_copy_data,
            "mutation_is_shallow_copy_data",
        ),
        (
            mutated && i.mutations_under_no_grad_or_inference_mode,
            "mutations_under_no_grad_or_inference_mode",
        ),
        (
            mutated && i.mutations_hidden_from_autograd,
            "mutations_hidden_from_autograd",
        ),
        (i.requires_grad, "requires_grad"),
        (i.is_leaf, "is_leaf"),
    ])
}

pub(crate) fn set_flags(flags: &[(bool, &str)]) -> String {
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn list(v: &[aotio::ir::expr::SizeExpr]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Tensor(_) => "Tensor",
        Value::Int(_) => "int",
        Value::SymInt(_) => "SymInt",
        Value::Float(_) => "float",
        Value::SymFloat(_) => "SymFloat",
        Value::Bool(_) => "bool",
        Value::SymBool(_) => "SymBool",
        Value::Str(_) => "str",
        Value::List(_) => "list",
    }
}

fn spec(s: &TensorSpec) -> String {
    format!(
        "{}[{}] stride [{}] offset {}",
        s.dtype,
        list(&s.shape),
        list(&s.stride),
        s.storage_offset
    )
}
/// Where PyTorch refuses the program, if it does: at metadata collection,
/// dedupe or synthetic bases (the stages of `aot_function`), in one line.
pub fn refusal(report: &Report) -> Option<String> {
    let e = refusal_error(report)?;
    Some(format!(
        "PyTorch refuses this program at {} with {:?}: {}",
        e.stage.as_str(),
        e.kind,
        e.message.replace('\n', " ")
    ))
}

/// PyTorch's refusal, whichever stage of `aot_function` makes it.
pub fn refusal_error(report: &Report) -> Option<&aotio::analysis::TorchError> {
    let dedupe = match &report.dedupe {
        Some(Stage::Refused { error }) => Some(error),
        _ => None,
    };
    let synthetic = report
        .synthetic_base
        .as_ref()
        .and_then(|s| s.plan.outcome.as_ref().err());
    report.error.as_ref().or(dedupe).or(synthetic)
}
