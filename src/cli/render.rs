//! The human-readable report.

use std::fmt::Write;

use aotio::analysis::dedupe::Strategy;
use aotio::analysis::synthetic_base::InnerArg;
use aotio::analysis::{InputAliasInfo, MutationType, OutputType, TensorSpec};
use aotio::ir::{Arg, NodeOp};
use aotio::session::{Report, Stage};
use aotio::Session;

pub fn text(label: &str, session: &Session, report: &Report) -> String {
    let mut out = String::new();
    let db = session.db();
    let graph = session.graph();
    let nodes = graph.nodes(db);
    let placeholders: Vec<&str> = nodes
        .iter()
        .map(|n| n.structure(db))
        .filter(|s| matches!(s.op, NodeOp::Placeholder { .. }))
        .map(|s| &*s.name)
        .collect();
    let outputs: Vec<String> = nodes
        .last()
        .map(|n| match n.structure(db).args.first() {
            Some(Arg::List(items)) => items.iter().map(describe_arg).collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();

    let _ = writeln!(out, "aotio analysis of {label} ({} nodes)", nodes.len());
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "\nPyTorch refuses this graph at {} with {:?}:\n  {}",
            e.stage.as_str(),
            e.kind,
            e.message.replace('\n', "\n  ")
        );
        if let Some(sigs) = &report.graph_signature {
            let _ = write!(out, "\n{sigs}");
        }
        return out;
    }
    let Some(meta) = &report.fw_metadata else {
        return out;
    };
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
    if let Some(mode) = meta.grad_enabled_mutation {
        let _ = writeln!(
            out,
            "the function leaves grad mode {}",
            if mode { "on" } else { "off" }
        );
    }

    let _ = writeln!(out, "\ninputs ({}):", meta.input_info.len());
    for (i, info) in meta.input_info.iter().enumerate() {
        let name = placeholders.get(i).copied().unwrap_or("?");
        let _ = writeln!(
            out,
            "  [{i}] {name:<24} {:<18} {}",
            mutation_type(info.mutation_type),
            input_flags(info)
        );
    }

    let _ = writeln!(out, "\noutputs ({}):", meta.output_info.len());
    for (k, o) in meta.output_info.iter().enumerate() {
        let name = outputs.get(k).map(String::as_str).unwrap_or("?");
        let base = match (o.output_type, o.base_idx) {
            (_, None) => String::new(),
            (OutputType::AliasOfInput | OutputType::IsInput | OutputType::NonAlias, Some(b)) => {
                format!(
                    " of input [{b}] {}",
                    placeholders.get(b).copied().unwrap_or("?")
                )
            }
            (OutputType::AliasOfIntermediateBaseIsUserOutput, Some(b)) => {
                format!(" of output [{b}]")
            }
            (_, Some(b)) => format!(" of intermediate base [{b}]"),
        };
        let mut grad = String::new();
        if o.requires_grad {
            grad.push_str(" requires_grad");
        }
        if o.requires_grad_for_backward {
            grad.push_str(" gets_tangent");
        }
        let _ = writeln!(
            out,
            "  [{k}] {name:<24} {}{base}{grad}",
            output_type(o.output_type)
        );
    }

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
    rewrites(&mut out, &placeholders, report);
    if let Some(sigs) = &report.graph_signature {
        let _ = write!(out, "\n{sigs}");
    }
    out
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
                    for (p, (&keep, &to)) in mask.iter().zip(map).enumerate() {
                        let arrow = if keep { "kept as" } else { "dropped, reads" };
                        let _ = writeln!(out, "  [{p}] {:<24} {arrow} [{to}]", name(p));
                    }
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

/// Graphviz: inputs, their storages, overlap edges, synthetic bases.
pub fn dot(session: &Session, report: &Report) -> String {
    let db = session.db();
    let nodes = session.graph().nodes(db);
    let mut out =
        String::from("digraph aotio {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    let mut storages = std::collections::BTreeSet::new();
    let mut input = 0usize;
    for n in nodes {
        let s = n.structure(db);
        if !matches!(s.op, NodeOp::Placeholder { .. }) {
            continue;
        }
        let mutated = report
            .fw_metadata
            .as_ref()
            .and_then(|m| m.input_info.get(input))
            .is_some_and(|i| i.mutates_data);
        let style = if mutated {
            ", style=filled, fillcolor=\"#f4c7c3\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  in{input} [label=\"[{input}] {}\", shape=box{style}];",
            s.name
        );
        if let Some(t) = n.value(db).as_tensor() {
            storages.insert(t.geometry.storage);
            let _ = writeln!(
                out,
                "  in{input} -> storage{} [style=dashed];",
                t.geometry.storage
            );
        }
        input += 1;
    }
    for st in storages {
        let _ = writeln!(
            out,
            "  storage{st} [label=\"storage {st}\", shape=cylinder];"
        );
    }
    if let Some(groups) = &report.overlapping_inputs {
        for g in groups.iter() {
            for (k, &i) in g.overlapping.iter().enumerate() {
                for &j in g.overlapping.iter().skip(k + 1) {
                    let _ = writeln!(
                        out,
                        "  in{i} -> in{j} [dir=none, color=red, label=\"may overlap\"];"
                    );
                }
            }
        }
    }
    if let Some(Ok(Some(c))) = report.synthetic_base.as_ref().map(|s| &s.plan.outcome) {
        for (b, members) in c.merge.base_groups.iter().enumerate() {
            let _ = writeln!(
                out,
                "  base{b} [label=\"synthetic base {b}\", shape=ellipse, color=blue];"
            );
            for &m in members {
                let _ = writeln!(out, "  base{b} -> in{m} [color=blue, label=\"view\"];");
            }
        }
    }
    out.push_str("}\n");
    out
}

fn describe_arg(a: &Arg) -> String {
    match a {
        Arg::Node(n) => n.to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.get().to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::None => "None".to_owned(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::List(_) => "[...]".to_owned(),
        Arg::Tagged(k, v) => format!("{k}={v}"),
    }
}

fn mutation_type(t: MutationType) -> &'static str {
    match t {
        MutationType::NotMutated => "not mutated",
        MutationType::MutatedInGraph => "mutated in graph",
        MutationType::MutatedOutGraph => "mutated out of graph",
    }
}

fn output_type(t: OutputType) -> &'static str {
    match t {
        OutputType::NonAlias => "non_alias",
        OutputType::AliasOfInput => "alias_of_input",
        OutputType::IsInput => "is_input",
        OutputType::AliasOfIntermediateSaveAsOutput => "alias_of_intermediate_save_as_output",
        OutputType::AliasOfIntermediate => "alias_of_intermediate",
        OutputType::AliasOfIntermediateBaseIsUserOutput => {
            "alias_of_intermediate_base_is_user_output"
        }
        OutputType::UnsafeViewAlias => "unsafe_view_alias",
        OutputType::CustomFunctionView => "custom_function_view",
    }
}

/// The flags that are set, in PyTorch's words.
fn input_flags(i: &InputAliasInfo) -> String {
    let flags = [
        (i.mutates_data, "data"),
        (i.mutates_metadata, "metadata"),
        (i.mutates_storage_metadata, "storage"),
        (i.mutation_is_shallow_copy_data, "shallow_copy"),
        (
            i.mutates_data && i.mutations_under_no_grad_or_inference_mode,
            "under_no_grad",
        ),
        (i.requires_grad, "requires_grad"),
        (i.is_leaf, "leaf"),
    ];
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" ")
}

fn spec(s: &TensorSpec) -> String {
    let list = |v: &[aotio::ir::expr::SizeExpr]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
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
    let dedupe = match &report.dedupe {
        Some(Stage::Refused { error }) => Some(error),
        _ => None,
    };
    let synthetic = report
        .synthetic_base
        .as_ref()
        .and_then(|s| s.plan.outcome.as_ref().err());
    let e = report.error.as_ref().or(dedupe).or(synthetic)?;
    Some(format!(
        "PyTorch refuses this program at {} with {:?}: {}",
        e.stage.as_str(),
        e.kind,
        e.message.replace('\n', " ")
    ))
}
