//! torch.export's serialized form of a signature: `input_specs` and `output_specs` as
//! `torch._export.serde` writes them.

use super::*;

/// torch.export's serialized graph signature (`torch._export.serde.schema`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportSpecs {
    /// torch.export's `GraphSignature.input_specs`.
    pub input_specs: Vec<InputSpec>,
    /// torch.export's `GraphSignature.output_specs`.
    pub output_specs: Vec<OutputSpec>,
}

/// torch.export's `TensorArgument`: a tensor by graph name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TensorArgument {
    /// The graph name.
    pub name: String,
}

/// torch.export's `SymIntArgument` (and its float and bool kin): a symbol by graph name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymArgument {
    /// `as_name`.
    AsName(String),
}

/// A float as JSON: a number when finite, else Python's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FloatValue(pub F64);

impl Serialize for FloatValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0.get();
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

/// torch.export's `Argument`: one graph input or output.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Argument {
    /// `as_none`.
    AsNone(bool),
    /// `as_tensor`.
    AsTensor(TensorArgument),
    /// `as_int`.
    AsInt(i64),
    /// `as_float`.
    AsFloat(FloatValue),
    /// `as_string`.
    AsString(String),
    /// `as_bool`.
    AsBool(bool),
    /// `as_sym_int`.
    AsSymInt(SymArgument),
    /// `as_sym_float`.
    AsSymFloat(SymArgument),
    /// `as_sym_bool`.
    AsSymBool(SymArgument),
}

/// torch.export's `ConstantValue`: a constant input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstantValue {
    /// `as_none`.
    AsNone(bool),
    /// `as_int`.
    AsInt(i64),
    /// `as_float`.
    AsFloat(FloatValue),
    /// `as_string`.
    AsString(String),
    /// `as_bool`.
    AsBool(bool),
}

/// torch.export's `InputSpec`: what one graph input is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSpec {
    /// `user_input`.
    UserInput {
        /// The graph input or output.
        arg: Argument,
    },
    /// `parameter`.
    Parameter {
        /// The graph input or output.
        arg: TensorArgument,
        /// The parameter's module path.
        parameter_name: String,
    },
    /// `buffer`.
    Buffer {
        /// The graph input or output.
        arg: TensorArgument,
        /// The buffer's module path.
        buffer_name: String,
        /// A dump does not say; registered buffers are persistent by default.
        persistent: bool,
    },
    /// `token`.
    Token {
        /// The graph input or output.
        arg: TensorArgument,
    },
    /// A static Python scalar argument: a placeholder whose value is baked in.
    ConstantInput {
        /// The graph name.
        name: String,
        /// The constant.
        value: ConstantValue,
    },
}

/// torch.export's `OutputSpec`: what one graph output is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpec {
    /// `user_output`.
    UserOutput {
        /// The graph input or output.
        arg: Argument,
    },
    /// `loss_output`.
    LossOutput {
        /// The graph input or output.
        arg: TensorArgument,
    },
    /// `buffer_mutation`.
    BufferMutation {
        /// The graph input or output.
        arg: TensorArgument,
        /// The buffer's module path.
        buffer_name: String,
    },
    /// `parameter_mutation`.
    ParameterMutation {
        /// The graph input or output.
        arg: TensorArgument,
        /// The parameter's module path.
        parameter_name: String,
    },
    /// `user_input_mutation`.
    UserInputMutation {
        /// The graph input or output.
        arg: TensorArgument,
        /// The graph name of the user input.
        user_input_name: String,
    },
    /// `gradient_to_parameter`.
    GradientToParameter {
        /// The graph input or output.
        arg: TensorArgument,
        /// The parameter's module path.
        parameter_name: String,
    },
    /// `gradient_to_user_input`.
    GradientToUserInput {
        /// The graph input or output.
        arg: TensorArgument,
        /// The graph name of the user input.
        user_input_name: String,
    },
    /// `token`.
    Token {
        /// The graph input or output.
        arg: TensorArgument,
    },
}

pub(super) fn constant_value(c: &Constant) -> ConstantValue {
    match c {
        Constant::None => ConstantValue::AsNone(true),
        Constant::Int(v) => ConstantValue::AsInt(*v),
        Constant::Float(v) => ConstantValue::AsFloat(FloatValue(*v)),
        Constant::Bool(v) => ConstantValue::AsBool(*v),
        Constant::Str(v) | Constant::Other(v) => ConstantValue::AsString(v.clone()),
    }
}

pub(super) fn argument(kind: &ArgKind, name: Option<&String>) -> Argument {
    let named = || name.cloned().unwrap_or_default();
    match kind {
        ArgKind::Tensor => Argument::AsTensor(TensorArgument { name: named() }),
        ArgKind::SymInt => Argument::AsSymInt(SymArgument::AsName(named())),
        ArgKind::SymFloat => Argument::AsSymFloat(SymArgument::AsName(named())),
        ArgKind::SymBool => Argument::AsSymBool(SymArgument::AsName(named())),
        ArgKind::Constant(c) => match constant_value(c) {
            ConstantValue::AsNone(v) => Argument::AsNone(v),
            ConstantValue::AsInt(v) => Argument::AsInt(v),
            ConstantValue::AsFloat(v) => Argument::AsFloat(v),
            ConstantValue::AsString(v) => Argument::AsString(v),
            ConstantValue::AsBool(v) => Argument::AsBool(v),
        },
    }
}

impl ExportedGraph {
    /// torch.export's `input_specs`/`output_specs`, classified by position
    /// in the calling convention, not by name: names can collide (an updated
    /// input also returned), and the loss is the user output at the loss
    /// index, where PyTorch's `loss_output` quirk does not look. Gradients
    /// name the FQN of the input they belong to, buffers included (§5 item 19).
    pub fn torch_export(&self) -> ExportSpecs {
        let g = &self.graph;
        let tensor = |name: Option<&String>| TensorArgument {
            name: name.cloned().unwrap_or_default(),
        };
        let kind = |q: usize| g.inputs.get(q).map(|r| r.kind);
        let fqn = |q: usize| {
            g.inputs
                .get(q)
                .and_then(|r| r.fqn.clone())
                .unwrap_or_default()
        };
        let input_name = |q: usize| g.input_names.get(q).cloned().unwrap_or_default();

        let input_specs = g
            .input_names
            .iter()
            .zip(&g.inputs)
            .enumerate()
            .map(|(q, (name, role))| match (role.kind, &role.arg) {
                (InputKind::Token, _) => InputSpec::Token {
                    arg: tensor(Some(name)),
                },
                (InputKind::Parameter, _) => InputSpec::Parameter {
                    arg: tensor(Some(name)),
                    parameter_name: fqn(q),
                },
                (InputKind::Buffer, _) => InputSpec::Buffer {
                    arg: tensor(Some(name)),
                    buffer_name: fqn(q),
                    persistent: true,
                },
                (InputKind::UserInput, ArgKind::Constant(c)) => InputSpec::ConstantInput {
                    name: name.clone(),
                    value: constant_value(c),
                },
                (InputKind::UserInput, arg) => InputSpec::UserInput {
                    arg: argument(arg, Some(name)),
                },
            })
            .collect();

        let mut output_specs = Vec::with_capacity(g.output_names.len());
        let mut outputs = g.output_names.iter().zip(&g.output_args);
        for (name, _) in outputs.by_ref().take(g.num_tokens) {
            output_specs.push(OutputSpec::Token {
                arg: tensor(name.as_ref()),
            });
        }
        for (&q, (name, _)) in g.mutated.iter().zip(outputs.by_ref()) {
            let arg = tensor(name.as_ref());
            output_specs.push(match kind(q) {
                Some(InputKind::Parameter) => OutputSpec::ParameterMutation {
                    arg,
                    parameter_name: fqn(q),
                },
                Some(InputKind::Buffer) => OutputSpec::BufferMutation {
                    arg,
                    buffer_name: fqn(q),
                },
                _ => OutputSpec::UserInputMutation {
                    arg,
                    user_input_name: input_name(q),
                },
            });
        }
        for (k, (name, arg)) in outputs.by_ref().take(g.num_user_outputs).enumerate() {
            output_specs.push(if g.loss == Some(k) {
                OutputSpec::LossOutput {
                    arg: tensor(name.as_ref()),
                }
            } else {
                OutputSpec::UserOutput {
                    arg: argument(arg, name.as_ref()),
                }
            });
        }
        for (&q, (name, _)) in g.gradients.iter().zip(outputs) {
            let arg = tensor(name.as_ref());
            output_specs.push(match kind(q) {
                Some(InputKind::Parameter | InputKind::Buffer) => OutputSpec::GradientToParameter {
                    arg,
                    parameter_name: fqn(q),
                },
                _ => OutputSpec::GradientToUserInput {
                    arg,
                    user_input_name: input_name(q),
                },
            });
        }
        ExportSpecs {
            input_specs,
            output_specs,
        }
    }

    /// `(named, loss)`: the graph output PyTorch's `loss_output` names and
    /// the true loss's position, when they differ (§5 item 19).
    pub fn misplaced_loss(&self) -> Option<(usize, usize)> {
        let g = &self.graph;
        let named = g.loss?;
        let loss = g
            .num_tokens
            .checked_add(g.mutated.len())?
            .checked_add(named)?;
        (named != loss).then_some((named, loss))
    }

    /// The dump's name of graph input `q`, for people reading both.
    pub fn dump_name(&self, q: usize) -> &str {
        self.graph.inputs.get(q).map_or("?", |r| &r.dump_name)
    }

    /// The position of a graph input, by its graph name.
    pub fn input_position(&self, graph_name: &str) -> Option<usize> {
        self.graph.input_names.iter().position(|n| n == graph_name)
    }
}
