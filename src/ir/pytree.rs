//! PyTorch pytree specs (`torch.utils._pytree.TreeSpec`) as a typed tree.
//!
//! A dump carries `in_spec`/`out_spec` as `treespec_dumps` writes them,
//! parsed into JSON (format §10): `[1, {"type", "context", "children_spec"}]`.
//! A spec is read once, when the dump is loaded, into [`TreeSpec`] and
//! checked against the graph there (its leaves are the flat values), and written back in exactly the same layout,
//! so a spec that only passes through aotio compares equal to PyTorch's.

use std::fmt;

use serde::ser::{SerializeMap, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

/// The only serialization protocol `treespec_dumps` writes.
pub const PROTOCOL: u64 = 1;

/// The Python type of an inner node, by its serialized name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeType {
    /// `builtins.tuple`.
    Tuple,
    /// `builtins.list`.
    List,
    /// `builtins.dict`.
    Dict,
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `collections.defaultdict`.
    DefaultDict,
    /// `collections.namedtuple`.
    NamedTuple,
    /// Any other registered pytree node type, kept by name.
    Other(String),
}

impl NodeType {
    fn from_name(name: &str) -> NodeType {
        match name {
            "builtins.tuple" => NodeType::Tuple,
            "builtins.list" => NodeType::List,
            "builtins.dict" => NodeType::Dict,
            "collections.OrderedDict" => NodeType::OrderedDict,
            "collections.defaultdict" => NodeType::DefaultDict,
            "collections.namedtuple" => NodeType::NamedTuple,
            other => NodeType::Other(other.to_owned()),
        }
    }

    /// The serialized type name.
    pub fn name(&self) -> &str {
        match self {
            NodeType::Tuple => "builtins.tuple",
            NodeType::List => "builtins.list",
            NodeType::Dict => "builtins.dict",
            NodeType::OrderedDict => "collections.OrderedDict",
            NodeType::DefaultDict => "collections.defaultdict",
            NodeType::NamedTuple => "collections.namedtuple",
            NodeType::Other(name) => name,
        }
    }

    /// Types whose context is the JSON list of their keys, one per child.
    fn has_keys(&self) -> bool {
        matches!(self, NodeType::Dict | NodeType::OrderedDict)
    }
}

/// One node of a spec: a leaf (one flat value) or a container of sub-specs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TreeSpec {
    /// One flat value.
    Leaf,
    /// A container.
    Node {
        /// The container's type.
        node_type: NodeType,
        /// The context exactly as serialized: itself JSON text (`"null"` for a
        /// tuple, the key list for a dict), or none.
        context: Option<String>,
        /// The children (none for a leaf).
        children: Vec<TreeSpec>,
    },
}

/// A spec that cannot be read, with the JSON path of the offending part.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecError {
    /// Where in the spec (`in_spec[1]`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for SpecError {}

fn error(path: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl TreeSpec {
    /// Reads a serialized spec: `[protocol, spec]`. `name` prefixes error paths.
    pub fn from_json(json: &Json, name: &str) -> Result<TreeSpec, SpecError> {
        let Some([protocol, spec]) = json.as_array().map(Vec::as_slice) else {
            return Err(error(name, "expected `[protocol, spec]`"));
        };
        match protocol.as_u64() {
            Some(PROTOCOL) => {}
            _ => {
                return Err(error(
                    &format!("{name}[0]"),
                    format!("unsupported treespec protocol {protocol} (expected {PROTOCOL})"),
                ))
            }
        }
        Self::node_from_json(spec, &format!("{name}[1]"))
    }

    fn node_from_json(json: &Json, path: &str) -> Result<TreeSpec, SpecError> {
        let Some(obj) = json.as_object() else {
            return Err(error(path, "a spec node must be an object"));
        };
        let children_json = match obj.get("children_spec") {
            Some(Json::Array(items)) => items.as_slice(),
            Some(_) => return Err(error(path, "`children_spec` must be an array")),
            None => return Err(error(path, "missing `children_spec`")),
        };
        let context = match obj.get("context") {
            None | Some(Json::Null) => None,
            Some(Json::String(text)) => Some(text.clone()),
            Some(_) => return Err(error(path, "`context` must be JSON text or null")),
        };
        let type_name = match obj.get("type") {
            None | Some(Json::Null) => None,
            Some(Json::String(name)) => Some(name.as_str()),
            Some(_) => return Err(error(path, "`type` must be a string or null")),
        };
        let Some(type_name) = type_name else {
            if !children_json.is_empty() {
                return Err(error(path, "a leaf (`type: null`) cannot have children"));
            }
            return Ok(TreeSpec::Leaf);
        };
        let node_type = NodeType::from_name(type_name);
        let children = children_json
            .iter()
            .enumerate()
            .map(|(i, c)| Self::node_from_json(c, &format!("{path}.children_spec[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(text) = &context {
            let parsed: Json = serde_json::from_str(text)
                .map_err(|e| error(path, format!("`context` is not JSON text: {e}")))?;
            if node_type.has_keys() {
                let keys = parsed.as_array().map_or(0, Vec::len);
                if !parsed.is_array() || keys != children.len() {
                    return Err(error(
                        path,
                        format!(
                            "a {} needs one key per child: {} children, context {text}",
                            node_type.name(),
                            children.len()
                        ),
                    ));
                }
            }
        }
        Ok(TreeSpec::Node {
            node_type,
            context,
            children,
        })
    }

    /// A leaf.
    pub fn leaf() -> TreeSpec {
        TreeSpec::Leaf
    }

    /// A tuple of `children`, serialized as Python's pytree does (context `"null"`).
    pub fn tuple(children: Vec<TreeSpec>) -> TreeSpec {
        TreeSpec::Node {
            node_type: NodeType::Tuple,
            context: Some("null".to_owned()),
            children,
        }
    }

    /// An empty keyword-argument dict.
    pub fn empty_dict() -> TreeSpec {
        TreeSpec::Node {
            node_type: NodeType::Dict,
            context: Some("[]".to_owned()),
            children: Vec::new(),
        }
    }

    /// Whether it is a leaf.
    pub fn is_leaf(&self) -> bool {
        matches!(self, TreeSpec::Leaf)
    }

    /// The children (none for a leaf).
    pub fn children(&self) -> &[TreeSpec] {
        match self {
            TreeSpec::Leaf => &[],
            TreeSpec::Node { children, .. } => children,
        }
    }

    /// The number of flat values the spec rebuilds from.
    pub fn num_leaves(&self) -> usize {
        match self {
            TreeSpec::Leaf => 1,
            TreeSpec::Node { children, .. } => children.iter().map(TreeSpec::num_leaves).sum(),
        }
    }

    /// For a spec of `(args, kwargs)`: the same spec with `n` leaves put in
    /// front of the positional arguments. `aot_export_module` flattens
    /// `(params ⊕ buffers ⊕ args, kwargs)`, so this turns a dump's user-input
    /// spec into the export's.
    pub fn with_leading_args(&self, n: usize) -> Result<TreeSpec, SpecError> {
        let TreeSpec::Node {
            node_type: NodeType::Tuple,
            context,
            children,
        } = self
        else {
            return Err(error(
                "in_spec",
                "expected the spec of an `(args, kwargs)` tuple",
            ));
        };
        let [TreeSpec::Node {
            node_type: args_type,
            context: args_context,
            children: args,
        }, kwargs] = children.as_slice()
        else {
            return Err(error(
                "in_spec",
                "expected the spec of an `(args, kwargs)` tuple with a container of positional arguments",
            ));
        };
        let mut leading: Vec<TreeSpec> = std::iter::repeat_n(TreeSpec::Leaf, n).collect();
        leading.extend(args.iter().cloned());
        Ok(TreeSpec::Node {
            node_type: NodeType::Tuple,
            context: context.clone(),
            children: vec![
                TreeSpec::Node {
                    node_type: args_type.clone(),
                    context: args_context.clone(),
                    children: leading,
                },
                kwargs.clone(),
            ],
        })
    }

    /// Export insists on a tuple of outputs: anything that is not a tuple or
    /// a list (a bare value, a dict) becomes a 1-tuple. A namedtuple is a tuple.
    pub fn tuple_unless_sequence(self) -> TreeSpec {
        match &self {
            TreeSpec::Node {
                node_type: NodeType::Tuple | NodeType::List | NodeType::NamedTuple,
                ..
            } => self,
            _ => TreeSpec::tuple(vec![self]),
        }
    }
}

/// One spec node in the `treespec_dumps` layout.
struct NodeLayout<'a>(&'a TreeSpec);

impl Serialize for NodeLayout<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (type_name, context, children) = match self.0 {
            TreeSpec::Leaf => (None, None, &[][..]),
            TreeSpec::Node {
                node_type,
                context,
                children,
            } => (
                Some(node_type.name()),
                context.as_deref(),
                children.as_slice(),
            ),
        };
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("type", &type_name)?;
        map.serialize_entry("context", &context)?;
        map.serialize_entry(
            "children_spec",
            &children.iter().map(NodeLayout).collect::<Vec<_>>(),
        )?;
        map.end()
    }
}

impl Serialize for TreeSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&PROTOCOL)?;
        t.serialize_element(&NodeLayout(self))?;
        t.end()
    }
}

impl fmt::Display for TreeSpec {
    /// Python-like shorthand: `((*, *), {})`, `[*, *]`, `{'a': *}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TreeSpec::Node {
            node_type,
            context,
            children,
        } = self
        else {
            return f.write_str("*");
        };
        let keys: Option<Vec<Json>> = node_type
            .has_keys()
            .then(|| {
                context
                    .as_deref()
                    .and_then(|c| serde_json::from_str::<Vec<Json>>(c).ok())
            })
            .flatten();
        let (open, close) = match node_type {
            NodeType::Tuple => ("(", ")"),
            NodeType::List => ("[", "]"),
            NodeType::Dict | NodeType::OrderedDict | NodeType::DefaultDict => ("{", "}"),
            NodeType::NamedTuple | NodeType::Other(_) => {
                write!(f, "{}", node_type.name())?;
                ("(", ")")
            }
        };
        f.write_str(open)?;
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some(key) = keys.as_ref().and_then(|k| k.get(i)) {
                write!(f, "{key}: ")?;
            }
            write!(f, "{child}")?;
        }
        if matches!(node_type, NodeType::Tuple) && children.len() == 1 {
            f.write_str(",")?;
        }
        f.write_str(close)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn leaf() -> Json {
        json!({"type": null, "context": null, "children_spec": []})
    }

    fn args_kwargs() -> Json {
        json!([1, {"type": "builtins.tuple", "context": "null", "children_spec": [
            {"type": "builtins.tuple", "context": "null", "children_spec": [leaf()]},
            {"type": "builtins.dict", "context": "[\"scale\", \"extra\"]", "children_spec": [
                leaf(),
                {"type": "builtins.dict", "context": "[\"w\", \"buf\"]", "children_spec": [leaf(), leaf()]}
            ]}
        ]}])
    }

    #[test]
    fn round_trips_exactly() {
        let json = args_kwargs();
        let spec = TreeSpec::from_json(&json, "in_spec").expect("a valid spec");
        assert_eq!(spec.num_leaves(), 4);
        assert_eq!(serde_json::to_value(&spec).ok(), Some(json));
        assert_eq!(
            spec.to_string(),
            r#"((*,), {"scale": *, "extra": {"w": *, "buf": *}})"#
        );
    }

    #[test]
    fn leading_args_go_before_user_args() {
        let spec = TreeSpec::from_json(&args_kwargs(), "in_spec").expect("a valid spec");
        let export = spec.with_leading_args(2).expect("an (args, kwargs) spec");
        assert_eq!(export.num_leaves(), 6);
        assert_eq!(
            export.to_string(),
            r#"((*, *, *), {"scale": *, "extra": {"w": *, "buf": *}})"#
        );
        assert!(TreeSpec::Leaf.with_leading_args(1).is_err());
    }

    #[test]
    fn bare_or_dict_output_becomes_a_tuple() {
        assert_eq!(TreeSpec::Leaf.tuple_unless_sequence().to_string(), "(*,)");
        let list = TreeSpec::Node {
            node_type: NodeType::List,
            context: Some("null".into()),
            children: vec![TreeSpec::Leaf],
        };
        assert_eq!(list.clone().tuple_unless_sequence(), list);
        let dict = TreeSpec::Node {
            node_type: NodeType::Dict,
            context: Some(r#"["a"]"#.into()),
            children: vec![TreeSpec::Leaf],
        };
        assert_eq!(dict.tuple_unless_sequence().to_string(), r#"({"a": *},)"#);
    }

    #[test]
    fn errors_name_the_offending_part() {
        let cases = [
            (json!({"type": null}), "in_spec: expected `[protocol, spec]`"),
            (json!([2, leaf()]), "in_spec[0]: unsupported treespec protocol 2 (expected 1)"),
            (
                json!([1, {"type": null, "context": null, "children_spec": [leaf()]}]),
                "in_spec[1]: a leaf (`type: null`) cannot have children",
            ),
            (
                json!([1, {"type": "builtins.tuple", "context": "null", "children_spec": [
                    {"type": "builtins.dict", "context": "[\"a\"]", "children_spec": []}]}]),
                "in_spec[1].children_spec[0]: a builtins.dict needs one key per child: 0 children, context [\"a\"]",
            ),
            (
                json!([1, {"type": "builtins.list", "context": "{oops", "children_spec": []}]),
                "in_spec[1]: `context` is not JSON text: key must be a string at line 1 column 2",
            ),
            (
                json!([1, {"type": 3, "context": null, "children_spec": []}]),
                "in_spec[1]: `type` must be a string or null",
            ),
        ];
        for (json, expected) in cases {
            let got = TreeSpec::from_json(&json, "in_spec").map_err(|e| e.to_string());
            assert_eq!(got, Err(expected.to_owned()), "{json}");
        }
    }

    #[test]
    fn unknown_types_are_kept_by_name() {
        let json = json!([1, {"type": "torch.fx.immutable_collections.immutable_list",
            "context": "null", "children_spec": [leaf(), leaf()]}]);
        let spec = TreeSpec::from_json(&json, "out_spec").expect("a valid spec");
        assert_eq!(spec.num_leaves(), 2);
        assert_eq!(serde_json::to_value(&spec).ok(), Some(json));
    }
}
