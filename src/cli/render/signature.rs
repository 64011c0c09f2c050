//! Text of the export graph signatures: one block per flavour asked for,
//! one line per graph input and output by torch.export kind.

use std::fmt::{self, Write};

use aotio::analysis::signature::{
    Argument, ConstantValue, Export, ExportedGraph, InputSpec, OutputSpec, Signatures, SymArgument,
};

fn describe_arg(arg: &Argument) -> String {
    match arg {
        Argument::AsNone(_) => "None".to_owned(),
        Argument::AsTensor(t) => t.name.clone(),
        Argument::AsInt(v) => v.to_string(),
        Argument::AsFloat(v) => v.0.get().to_string(),
        Argument::AsString(v) => format!("{v:?}"),
        Argument::AsBool(v) => if *v { "True" } else { "False" }.to_owned(),
        Argument::AsSymInt(SymArgument::AsName(n))
        | Argument::AsSymFloat(SymArgument::AsName(n))
        | Argument::AsSymBool(SymArgument::AsName(n)) => n.clone(),
    }
}

/// A graph input's name with the dump's name beside it: `arg4_1 (out)`.
fn input_label(g: &ExportedGraph, graph_name: &str) -> String {
    match g.input_position(graph_name) {
        Some(q) => format!("{graph_name} ({})", g.dump_name(q)),
        None => graph_name.to_owned(),
    }
}

fn describe_constant(value: &ConstantValue) -> String {
    match value {
        ConstantValue::AsNone(_) => "None".to_owned(),
        ConstantValue::AsInt(v) => v.to_string(),
        ConstantValue::AsFloat(v) => v.0.get().to_string(),
        ConstantValue::AsString(v) => format!("{v:?}"),
        ConstantValue::AsBool(v) => if *v { "True" } else { "False" }.to_owned(),
    }
}

/// One line per graph input and output, by torch.export kind.
fn exported_graph(f: &mut String, g: &ExportedGraph) -> fmt::Result {
    {
        let specs = g.torch_export();
        let mut inputs = Vec::with_capacity(specs.input_specs.len());
        for (q, spec) in specs.input_specs.iter().enumerate() {
            let (name, what) = match spec {
                InputSpec::UserInput { arg } => (
                    describe_arg(arg),
                    format!("user input `{}`", g.dump_name(q)),
                ),
                InputSpec::Parameter {
                    arg,
                    parameter_name,
                } => (arg.name.clone(), format!("parameter {parameter_name}")),
                InputSpec::Buffer {
                    arg, buffer_name, ..
                } => (arg.name.clone(), format!("buffer {buffer_name}")),
                InputSpec::Token { arg } => (arg.name.clone(), "token".to_owned()),
                InputSpec::ConstantInput { name, value } => (
                    name.clone(),
                    format!(
                        "constant input `{}` = {}",
                        g.dump_name(q),
                        describe_constant(value)
                    ),
                ),
            };
            inputs.push((name, what));
        }
        let mut outputs = Vec::with_capacity(specs.output_specs.len());
        for spec in &specs.output_specs {
            let (name, what) = match spec {
                OutputSpec::UserOutput { arg } => (describe_arg(arg), "user output".to_owned()),
                OutputSpec::LossOutput { arg } => (arg.name.clone(), "loss".to_owned()),
                OutputSpec::BufferMutation { arg, buffer_name } => {
                    (arg.name.clone(), format!("updated buffer {buffer_name}"))
                }
                OutputSpec::ParameterMutation {
                    arg,
                    parameter_name,
                } => (
                    arg.name.clone(),
                    format!("updated parameter {parameter_name}"),
                ),
                OutputSpec::UserInputMutation {
                    arg,
                    user_input_name,
                } => (
                    arg.name.clone(),
                    format!("updated user input {}", input_label(g, user_input_name)),
                ),
                OutputSpec::GradientToParameter {
                    arg,
                    parameter_name,
                } => (
                    arg.name.clone(),
                    format!("gradient of parameter {parameter_name}"),
                ),
                OutputSpec::GradientToUserInput {
                    arg,
                    user_input_name,
                } => (
                    arg.name.clone(),
                    format!("gradient of user input {}", input_label(g, user_input_name)),
                ),
                OutputSpec::Token { arg } => (arg.name.clone(), "token".to_owned()),
            };
            outputs.push((name, what));
        }
        let width = inputs
            .iter()
            .chain(&outputs)
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        for (title, rows) in [("inputs", &inputs), ("outputs", &outputs)] {
            writeln!(f, "    {title}:")?;
            for (k, (name, what)) in rows.iter().enumerate() {
                writeln!(f, "      [{k}] {name:<width$}  {what}")?;
            }
        }
        writeln!(
            f,
            "    in_spec {}  out_spec {}",
            g.signature.in_spec, g.signature.out_spec
        )?;
        if let Some((named, loss)) = g.misplaced_loss() {
            let name = |k: usize| {
                g.signature
                    .graph_output_names
                    .get(k)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "None".to_owned())
            };
            writeln!(
                f,
                "    note: PyTorch's backward_signature.loss_output is output [{named}] `{}`, \
                 not the loss at [{loss}] `{}`: it does not skip the updated inputs \
                 (semantics §5 item 19)",
                name(named),
                name(loss)
            )?;
        }
        Ok(())
    }
}

/// The export signatures of every flavour asked for.
pub fn signatures(f: &mut String, sigs: &Signatures) -> fmt::Result {
    {
        writeln!(f, "export graph signatures (aot_export_module):")?;
        if sigs.0.is_empty() {
            writeln!(f, "  none asked for (config.export is empty)")?;
        }
        for (flavour, export) in &sigs.0 {
            match export {
                Export::Refused(e) => {
                    writeln!(
                        f,
                        "  {}: PyTorch refuses at {} with {:?}:",
                        flavour.as_str(),
                        flavour.stage(),
                        e.kind
                    )?;
                    for line in e.message.lines() {
                        if line.is_empty() {
                            writeln!(f)?;
                        } else {
                            writeln!(f, "    {line}")?;
                        }
                    }
                }
                Export::Exported(graph) => {
                    writeln!(f, "  {}:", flavour.as_str())?;
                    exported_graph(f, graph)?;
                }
            }
        }
        Ok(())
    }
}
