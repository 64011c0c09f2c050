//! Arbitrary bytes as a graph dump: loading and every analysis must return
//! a result or an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(session) = aotio::Session::from_json_str(text) {
        let _ = session.report();
    }
});
