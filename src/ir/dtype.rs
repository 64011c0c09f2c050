//! Element sizes of the dtypes a dump may name (semantics §2.16).

/// Bytes per element of `dtype` (the name without `torch.`), or `None` for an unknown dtype.
pub fn itemsize(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "bool" | "int8" | "uint8" | "float8_e4m3fn" | "float8_e4m3fnuz" | "float8_e5m2"
        | "float8_e5m2fnuz" | "float8_e8m0fnu" | "float4_e2m1fn_x2" | "qint8" | "quint8"
        | "quint4x2" | "quint2x4" | "bits8" | "bits1x8" | "bits2x4" | "bits4x2" => 1,
        "float16" | "bfloat16" | "int16" | "uint16" | "bits16" => 2,
        "float32" | "int32" | "uint32" | "qint32" | "complex32" | "bcomplex32" => 4,
        "float64" | "int64" | "uint64" | "complex64" => 8,
        "complex128" => 16,
        // The sub-byte integer types report one byte per element.
        other if is_sub_byte_int(other) => 1,
        _ => return None,
    })
}

/// `torch.dtype.is_floating_point`.
pub fn is_floating_point(dtype: &str) -> bool {
    dtype.starts_with("float") || dtype == "bfloat16"
}

fn is_sub_byte_int(dtype: &str) -> bool {
    let bits = dtype
        .strip_prefix("uint")
        .or_else(|| dtype.strip_prefix("int"));
    matches!(bits, Some("1" | "2" | "3" | "4" | "5" | "6" | "7"))
}

#[cfg(test)]
mod tests {
    use super::itemsize;

    #[test]
    fn itemsizes() {
        for (dtype, size) in [
            ("float32", Some(4)),
            ("bfloat16", Some(2)),
            ("complex128", Some(16)),
            ("uint3", Some(1)),
            ("int64", Some(8)),
            ("int9", None),
            ("float", None),
        ] {
            assert_eq!(itemsize(dtype), size, "{dtype}");
        }
    }
}
