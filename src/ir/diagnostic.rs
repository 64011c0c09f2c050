//! Problems found in a graph dump, each naming where it is.

use std::fmt;

/// Where in a dump a problem is: a node (by name) or a top-level key, and the
/// field inside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The node's name, if the problem is in a node.
    pub node: Option<String>,
    /// The field's path (`val.tensor.stride`).
    pub field: String,
}

/// One problem with a dump. `line`/`column` are set for JSON syntax errors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// Line in the JSON text, when known.
    pub line: Option<usize>,
    /// Column in the JSON text, when known.
    pub column: Option<usize>,
}

impl Diagnostic {
    /// A problem at `node`'s `field`.
    pub fn at(node: Option<&str>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location {
                node: node.map(str::to_owned),
                field: field.into(),
            },
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "line {line}, column {column}: ")?;
        }
        match &self.location.node {
            Some(node) => write!(f, "node `{node}`, field `{}`: ", self.location.field)?,
            None if self.location.field.is_empty() => {}
            None => write!(f, "field `{}`: ", self.location.field)?,
        }
        f.write_str(&self.message)
    }
}

/// Every problem found while loading a dump (at least one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// Every problem found, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// An error of one problem.
    pub fn single(d: Diagnostic) -> Self {
        LoadError {
            diagnostics: vec![d],
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diagnostics.as_slice() {
            [] => f.write_str("invalid graph dump"),
            [first] => write!(f, "{first}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more problems)", rest.len()),
        }
    }
}

impl std::error::Error for LoadError {}
