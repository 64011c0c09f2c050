//! One line of an overlap file, as `aotio overlap` reads it: a JSON object
//! with `id` and `tensors` (each `shape`, `stride`, `storage_offset`), the
//! layout of the conformance data's `overlap.jsonl` (other keys ignored).
//!
//! Geometry PyTorch cannot build is refused here, as the graph loader
//! refuses it in a dump: a negative size, stride or storage offset, or a
//! shape and stride of different lengths. The engine itself accepts any
//! geometry (answering "may overlap" where nothing better can be said), so
//! such a line would otherwise be answered silently.

use serde::Deserialize;

use super::StridedView;

/// A parsed, checked line.
#[derive(Clone, Debug, Deserialize)]
pub struct GroupLine {
    /// The caller's id for the group, echoed back.
    pub id: serde_json::Value,
    /// The views of one storage.
    pub tensors: Vec<StridedView>,
}

impl GroupLine {
    /// Parses and checks one line; the error names the field
    /// (`tensors[2].stride[0]: negative stride -1`).
    pub fn parse(line: &str) -> Result<Self, String> {
        let group: Self = serde_json::from_str(line).map_err(|e| e.to_string())?;
        for (k, t) in group.tensors.iter().enumerate() {
            check_view(t).map_err(|e| format!("tensors[{k}].{e}"))?;
        }
        Ok(group)
    }
}

/// The first reason `v` is not geometry PyTorch could build, as
/// `field: problem`.
fn check_view(v: &StridedView) -> Result<(), String> {
    if v.sizes.len() != v.strides.len() {
        return Err(format!(
            "stride: rank mismatch: shape has {} dimensions, stride {}",
            v.sizes.len(),
            v.strides.len()
        ));
    }
    for (key, list) in [("shape", &v.sizes), ("stride", &v.strides)] {
        if let Some((d, value)) = list.iter().enumerate().find(|(_, &x)| x < 0) {
            return Err(format!("{key}[{d}]: negative {key} {value}"));
        }
    }
    if v.offset < 0 {
        return Err(format!(
            "storage_offset: negative storage offset {}",
            v.offset
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_pytorch_cannot_build() {
        let line = |t: &str| GroupLine::parse(&format!(r#"{{"id": 7, "tensors": [{t}]}}"#));
        let ok = r#"{"shape": [2], "stride": [1], "storage_offset": 0}"#;
        assert!(line(ok).is_ok());
        for (tensor, message) in [
            (
                r#"{"shape": [2, -3], "stride": [1, 1], "storage_offset": 0}"#,
                "tensors[1].shape[1]: negative shape -3",
            ),
            (
                r#"{"shape": [2], "stride": [-1], "storage_offset": 4}"#,
                "tensors[1].stride[0]: negative stride -1",
            ),
            (
                r#"{"shape": [2], "stride": [1], "storage_offset": -4}"#,
                "tensors[1].storage_offset: negative storage offset -4",
            ),
            (
                r#"{"shape": [2], "stride": [1, 1], "storage_offset": 0}"#,
                "tensors[1].stride: rank mismatch: shape has 1 dimensions, stride 2",
            ),
        ] {
            assert_eq!(
                line(&format!("{ok}, {tensor}")).map(|g| g.tensors),
                Err(message.to_owned())
            );
        }
        assert!(GroupLine::parse(r#"{"id": 1}"#).is_err());
    }
}
