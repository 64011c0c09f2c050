//! The human-readable report.

use std::fmt::Write;

use aotio::analysis::{InputAliasInfo, MutationType, OutputType, TensorSpec};
use aotio::ir::{Arg, NodeOp};
use aotio::session::Report;
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
