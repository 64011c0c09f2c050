//! Arbitrary text as an operator schema: parse, print back, classify.
#![no_main]

use aotio::schema::{classify, Schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(schema) = Schema::parse(text) {
        // What parses prints to text that parses to the same schema.
        let printed = schema.to_string();
        let again = Schema::parse(&printed).expect("printed schema parses");
        assert_eq!(schema, again, "{printed}");
        let target = format!("aten.{}.default", schema.base_name());
        let _ = classify(&target, &schema, None);
        let _ = schema.return_kinds();
        let _ = schema.written_arguments();
    }
});
