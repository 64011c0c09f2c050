//! A dump's JSON read in one pass straight into typed structures that borrow
//! their strings from the text: no JSON tree is built for the graph.
//!
//! Every field accepts any JSON: a value of the wrong kind is kept as its
//! kind ([`Scalar::Array`], [`Lax::Wrong`], ...) instead of failing the parse,
//! so the loader can name the node and field of every problem and go on to
//! the next one, as `aotio check` needs. Serde's derived impls stop at the
//! first mismatch with a message that names neither, hence the visitors here.
//! Only JSON syntax errors fail the parse.
//!
//! The nodes are handed over one by one as they are read ([`NodeSink`]).
//! Objects with a fixed set of keys record the keys they do not know and the
//! keys that appear twice, for the loader to refuse.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A string of the text, borrowed unless it had escapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The kind of a JSON value found where another kind was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// A JSON value where a scalar is expected; an array or object there is
/// skipped, not built, and only its kind kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` (still below 2^64).
    Big(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Scalar<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::Int(i) => u64::try_from(*i).ok(),
            Scalar::Big(u) => Some(*u),
            _ => None,
        }
    }

    /// Any JSON number as a float, as Python's `float()` of it.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Big(u) => Some(*u as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(i64::try_from(v).map_or(Scalar::Big(v), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                skip_seq(seq)?;
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                skip_map(map)?;
                Ok(Scalar::Object)
            }
        }
        d.deserialize_any(V)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A structure read from a JSON object or array; the other shape is skipped.
pub trait Shape<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        skip_map(map)?;
        Ok(None)
    }
    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        skip_seq(seq)?;
        Ok(None)
    }
}

/// `T` when the JSON has the shape `T` is read from, else what was there.
#[derive(Debug)]
pub enum Lax<T> {
    Ok(T),
    Wrong(Kind),
}

impl<T> Lax<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Lax::Ok(t) => Some(t),
            Lax::Wrong(_) => None,
        }
    }
}

/// A seeded [`Shape`]: reads its structure with some state at hand.
pub trait ShapeOf<'de>: Sized {
    type Value;
    fn read_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Self::Value>, A::Error> {
        skip_map(map)?;
        Ok(None)
    }
    fn read_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Self::Value>, A::Error> {
        skip_seq(seq)?;
        Ok(None)
    }
}

impl<'de, T: Shape<'de>> ShapeOf<'de> for PhantomData<T> {
    type Value = T;
    fn read_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        T::from_map(map)
    }
    fn read_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<T>, A::Error> {
        T::from_seq(seq)
    }
}

/// Reads a [`Lax`] of whatever `S` reads.
struct ShapeVisitor<S>(S);

impl<'de, S: ShapeOf<'de>> Visitor<'de> for ShapeVisitor<S> {
    type Value = Lax<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Null))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Bool))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Number))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Number))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::Number))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lax::Wrong(Kind::String))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(self
            .0
            .read_seq(seq)?
            .map_or(Lax::Wrong(Kind::Array), Lax::Ok))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(self
            .0
            .read_map(map)?
            .map_or(Lax::Wrong(Kind::Object), Lax::Ok))
    }
}

impl<'de, T: Shape<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor(PhantomData::<T>))
    }
}

impl<'de, T: Deserialize<'de>> Shape<'de> for Vec<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        // No preallocation from the size hint: a hostile hint must not reserve memory.
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(Some(out))
    }
}

/// An object whose keys are names (symbols, operators, kwargs), in order,
/// repeated keys kept for the loader to refuse.
#[derive(Debug)]
pub struct Entries<'a, T>(pub Vec<(Text<'a>, T)>);

impl<'de, T: Deserialize<'de>> Shape<'de> for Entries<'de, T> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry()? {
            out.push(entry);
        }
        Ok(Some(Entries(out)))
    }
}

/// Keys of a fixed-key object that it does not have, or has twice.
#[derive(Debug, Default)]
pub struct KeyProblems<'a> {
    pub unknown: Vec<Text<'a>>,
    pub repeated: Vec<Text<'a>>,
}

/// A structure read from an object with a fixed set of keys, each an
/// optional field (absent and `null` differ: `null` is a [`Scalar::Null`] or
/// a [`Lax::Wrong`]). The JSON key is the field's name.
macro_rules! object {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name<'a> {
            $($(#[$fmeta])* pub $field: Option<$ty>,)*
            pub keys: KeyProblems<'a>,
        }

        impl<'a> Shape<'a> for $name<'a> {
            fn from_map<A: MapAccess<'a>>(mut map: A) -> Result<Option<Self>, A::Error> {
                let mut out = Self::default();
                while let Some(key) = map.next_key::<Text<'a>>()? {
                    match &*key.0 {
                        $(stringify!($field) => {
                            if out.$field.is_some() {
                                out.keys.repeated.push(key);
                                map.next_value::<IgnoredAny>()?;
                            } else {
                                out.$field = Some(map.next_value()?);
                            }
                        })*
                        _ => {
                            out.keys.unknown.push(key);
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Some(out))
            }
        }
    };
}

/// Receives each element of `nodes` as soon as it is read, so that a node
/// is checked while its text is hot and no list of raw nodes is kept.
pub trait NodeSink<'a> {
    fn node(&mut self, index: usize, node: Lax<RawNode<'a>>);
}

/// The top level (format §1), its `nodes` given to a [`NodeSink`].
#[derive(Debug, Default)]
pub struct RawGraph<'a> {
    pub format: Option<Scalar<'a>>,
    pub version: Option<Scalar<'a>>,
    pub name: Option<Scalar<'a>>,
    pub description: Option<Scalar<'a>>,
    pub config: Option<Lax<RawConfig<'a>>>,
    pub symbols: Option<Lax<Entries<'a, Lax<RawSymbol<'a>>>>>,
    pub operators: Option<Lax<Entries<'a, Scalar<'a>>>>,
    pub operator_tags: Option<Lax<Entries<'a, Lax<Vec<Scalar<'a>>>>>>,
    /// Whether `nodes` was an array (its elements went to the sink).
    pub nodes: Option<Lax<()>>,
    pub input_bases: Option<Lax<Vec<Lax<RawBase<'a>>>>>,
    pub in_spec: Option<serde_json::Value>,
    pub out_spec: Option<serde_json::Value>,
    pub keys: KeyProblems<'a>,
}

/// Reads a whole dump, its nodes into `S`.
pub struct GraphSeed<'s, S>(pub &'s mut S);

impl<'de, S: NodeSink<'de>> DeserializeSeed<'de> for GraphSeed<'_, S> {
    type Value = Lax<RawGraph<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ShapeVisitor(self))
    }
}

impl<'de, S: NodeSink<'de>> ShapeOf<'de> for GraphSeed<'_, S> {
    type Value = RawGraph<'de>;

    fn read_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<RawGraph<'de>>, A::Error> {
        let mut out = RawGraph::default();
        let mut sink = Some(self.0);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            macro_rules! field {
                ($field:ident) => {
                    if out.$field.is_some() {
                        out.keys.repeated.push(key);
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        out.$field = Some(map.next_value()?);
                    }
                };
            }
            match &*key.0 {
                "format" => field!(format),
                "version" => field!(version),
                "name" => field!(name),
                "description" => field!(description),
                "config" => field!(config),
                "symbols" => field!(symbols),
                "operators" => field!(operators),
                "operator_tags" => field!(operator_tags),
                "input_bases" => field!(input_bases),
                "in_spec" => field!(in_spec),
                "out_spec" => field!(out_spec),
                "nodes" => match sink.take() {
                    Some(sink) => out.nodes = Some(map.next_value_seed(NodesSeed(sink))?),
                    None => {
                        out.keys.repeated.push(key);
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                // PyTorch's results in a conformance file, not part of the format.
                "expect" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    out.keys.unknown.push(key);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

struct NodesSeed<'s, S>(&'s mut S);

impl<'de, S: NodeSink<'de>> DeserializeSeed<'de> for NodesSeed<'_, S> {
    type Value = Lax<()>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Lax<()>, D::Error> {
        d.deserialize_any(ShapeVisitor(self))
    }
}

impl<'de, S: NodeSink<'de>> ShapeOf<'de> for NodesSeed<'_, S> {
    type Value = ();

    fn read_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<()>, A::Error> {
        let mut index = 0;
        while let Some(node) = seq.next_element()? {
            self.0.node(index, node);
            index += 1;
        }
        Ok(Some(()))
    }
}

object! {
    /// Format §2.
    RawConfig {
        keep_input_mutations: Scalar<'a>,
        is_train: Scalar<'a>,
        grad_enabled: Scalar<'a>,
        dynamic_shapes: Scalar<'a>,
        num_params_buffers: Scalar<'a>,
        /// Read by the signature analysis (format §2).
        export: serde_json::Value,
        /// Informational (format §2).
        tracer: Scalar<'a>,
        torch_version: Scalar<'a>,
    }
}

object! {
    /// Format §3.
    RawSymbol {
        hint: Scalar<'a>,
        min: Scalar<'a>,
        max: Scalar<'a>,
        source: Scalar<'a>,
        /// Already applied to the dump's expressions (format §3).
        replaced_by: Scalar<'a>,
    }
}

object! {
    /// Format §5 and §8.4.
    RawNode {
        name: Scalar<'a>,
        op: Scalar<'a>,
        target: Scalar<'a>,
        args: Lax<Vec<RawArg<'a>>>,
        kwargs: Lax<Entries<'a, RawArg<'a>>>,
        val: RawVal<'a>,
        tensor_id: Scalar<'a>,
        base_tensor_id: Scalar<'a>,
        kind: Scalar<'a>,
        fqn: Scalar<'a>,
        source: Scalar<'a>,
    }
}

object! {
    /// The payload of `{"tensor": ...}` (format §7).
    RawTensor {
        shape: Lax<Vec<Scalar<'a>>>,
        stride: Lax<Vec<Scalar<'a>>>,
        storage_offset: Scalar<'a>,
        dtype: Scalar<'a>,
        device: Scalar<'a>,
        requires_grad: Scalar<'a>,
        is_leaf: Scalar<'a>,
        is_view: Scalar<'a>,
        storage: Scalar<'a>,
        storage_nbytes: Scalar<'a>,
        grad_fn: Scalar<'a>,
        layout: Scalar<'a>,
        is_conj: Scalar<'a>,
        is_neg: Scalar<'a>,
    }
}

object! {
    /// An element of `input_bases` (format §8.3).
    RawBase {
        tensor_id: Scalar<'a>,
        val: RawVal<'a>,
    }
}

/// An argument (format §6).
#[derive(Debug)]
pub enum RawArg<'a> {
    Scalar(Scalar<'a>),
    List(Vec<RawArg<'a>>),
    /// `{"node": ...}`, `{"dtype": ...}`, ...: a one-key object.
    Tagged(Text<'a>, Scalar<'a>),
    /// An object without exactly one key.
    NotOneKey,
}

impl<'de> Deserialize<'de> for RawArg<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawArg<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an argument")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Null))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Int(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(
                    i64::try_from(v).map_or(Scalar::Big(v), Scalar::Int),
                ))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Float(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawArg<'de>, E> {
                Ok(RawArg::Scalar(Scalar::Str(Cow::Owned(v))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawArg<'de>, A::Error> {
                Ok(Vec::from_seq(seq)?.map_or(RawArg::NotOneKey, RawArg::List))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawArg<'de>, A::Error> {
                let Some((key, value)) = map.next_entry::<Text<'de>, Scalar<'de>>()? else {
                    return Ok(RawArg::NotOneKey);
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<IgnoredAny>()?;
                    skip_map(map)?;
                    return Ok(RawArg::NotOneKey);
                }
                Ok(RawArg::Tagged(key, value))
            }
        }
        d.deserialize_any(V)
    }
}

/// A node's value (format §7): `null` or a one-key object.
// Unboxed: one node's value is read at a time, on the stack; a box would
// cost an allocation per tensor.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RawVal<'a> {
    Null,
    Tensor(Lax<RawTensor<'a>>),
    List(Lax<Vec<RawVal<'a>>>),
    /// `{"int": 3}`, `{"symint": "s0"}`, ... and unknown kinds.
    Tagged(Text<'a>, Scalar<'a>),
    /// Neither `null` nor an object.
    NotObject,
    /// An object without exactly one key.
    NotOneKey,
}

impl<'de> Deserialize<'de> for RawVal<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawVal<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawVal<'de>, E> {
                Ok(RawVal::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawVal<'de>, E> {
                Ok(RawVal::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawVal<'de>, E> {
                Ok(RawVal::NotObject)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawVal<'de>, E> {
                Ok(RawVal::NotObject)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawVal<'de>, E> {
                Ok(RawVal::NotObject)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawVal<'de>, E> {
                Ok(RawVal::NotObject)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawVal<'de>, E> {
                Ok(RawVal::NotObject)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawVal<'de>, A::Error> {
                skip_seq(seq)?;
                Ok(RawVal::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawVal<'de>, A::Error> {
                let Some(key) = map.next_key::<Text<'de>>()? else {
                    return Ok(RawVal::NotOneKey);
                };
                let val = match &*key.0 {
                    "tensor" => RawVal::Tensor(map.next_value()?),
                    "list" => RawVal::List(map.next_value()?),
                    _ => {
                        let payload = map.next_value()?;
                        RawVal::Tagged(key, payload)
                    }
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<IgnoredAny>()?;
                    skip_map(map)?;
                    return Ok(RawVal::NotOneKey);
                }
                Ok(val)
            }
        }
        d.deserialize_any(V)
    }
}
