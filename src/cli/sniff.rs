//! What kind of file a command was handed, judged from its first JSON
//! value, so that a file of another kind gets one line saying so instead of
//! one error per line.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// The kinds of file the commands read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One graph dump (`aotio.graph`): what `analyze` and `check` read.
    GraphDump,
    /// Graph dumps, one per line: what `replay` reads.
    GraphLines,
    /// Groups of strided views, one per line: what `overlap` reads.
    ViewGroups,
}

/// The keys that tell the kinds apart; every other key is skipped.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    nodes: Option<IgnoredAny>,
    #[serde(default)]
    tensors: Option<IgnoredAny>,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum One {
    Graph,
    Views,
}

impl Probe {
    fn kind(&self) -> Option<One> {
        let graph = self
            .format
            .as_ref()
            .is_some_and(|f| f.as_str() == Some("aotio.graph"))
            || self.nodes.is_some();
        if graph {
            Some(One::Graph)
        } else if self.tensors.is_some() {
            Some(One::Views)
        } else {
            None
        }
    }
}

fn non_blank(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim().is_empty())
}

/// The kind of `text`, when its first value says so.
pub(crate) fn detect(text: &str) -> Option<Kind> {
    let mut lines = non_blank(text);
    let first = lines.next()?;
    // Objects only (serde would read a struct from an array, too).
    if !first.trim_start().starts_with('{') {
        return None;
    }
    if let Ok(probe) = serde_json::from_str::<Probe>(first) {
        return Some(match probe.kind()? {
            One::Graph if lines.next().is_some() => Kind::GraphLines,
            One::Graph => Kind::GraphDump,
            One::Views => Kind::ViewGroups,
        });
    }
    // The first line is not a whole value: one document over several lines.
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Probe>();
    match values.next()?.ok()?.kind()? {
        One::Graph => Some(Kind::GraphDump),
        One::Views => Some(Kind::ViewGroups),
    }
}

/// One line saying what `text` is, when it is not of the `expected` kind.
pub(crate) fn wrong_kind(text: &str, expected: Kind) -> Option<String> {
    let found = detect(text)?;
    if found == expected {
        return None;
    }
    Some(match found {
        Kind::GraphDump => "this is a graph dump (`aotio.graph`), not groups of strided views one \
                            per line: `aotio analyze` reads it"
            .to_owned(),
        Kind::GraphLines => format!(
            "this holds {} graph dumps, one per line (JSON lines), not {}: `aotio replay` reads it",
            non_blank(text).count(),
            match expected {
                Kind::ViewGroups => "groups of strided views",
                _ => "one dump",
            }
        ),
        Kind::ViewGroups => "this holds groups of strided views (the input of `aotio overlap`), \
                             not a graph dump"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let dump = "{\n \"format\": \"aotio.graph\",\n \"nodes\": []\n}\n";
        assert_eq!(detect(dump), Some(Kind::GraphDump));
        let line = r#"{"format": "aotio.graph", "nodes": []}"#;
        assert_eq!(detect(line), Some(Kind::GraphDump));
        assert_eq!(detect(&format!("{line}\n{line}\n")), Some(Kind::GraphLines));
        let views = r#"{"id": 1, "tensors": []}"#;
        assert_eq!(detect(&format!("{views}\n{views}")), Some(Kind::ViewGroups));
        assert_eq!(detect("{\"id\": 1}\n"), None);
        assert_eq!(detect("[1, 2]"), None);
        assert_eq!(detect(""), None);
    }

    #[test]
    fn only_other_kinds_are_wrong() {
        let views = r#"{"id": 1, "tensors": []}"#;
        assert_eq!(wrong_kind(views, Kind::ViewGroups), None);
        assert!(wrong_kind(views, Kind::GraphDump).is_some_and(|m| m.contains("aotio overlap")));
    }
}
