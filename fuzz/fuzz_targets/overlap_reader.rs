//! Arbitrary bytes as an `aotio overlap` input file: every line is read with
//! the CLI's reader, and every accepted group is decided in both modes with a
//! small budget and its first pairs listed. Nothing may panic or run long;
//! a refused line must say which tensor is wrong.
#![no_main]

use aotio::overlap::{members, GroupLine, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        let group = match GroupLine::parse(line) {
            Ok(group) => group,
            Err(e) => {
                assert!(!e.is_empty());
                continue;
            }
        };
        let views = &group.tensors;
        for mode in [Mode::Torch, Mode::Exact] {
            let found = members(views, mode, 10_000);
            assert!(found.undecided.iter().all(|k| found.overlapping.contains(k)));
            let pairs: Vec<(usize, usize)> = found.pairs(views, mode, 10_000).take(50).collect();
            for &(i, j) in &pairs {
                assert!(i < j && found.overlapping.contains(&i) && found.overlapping.contains(&j));
            }
            assert!(pairs.windows(2).all(|w| w[0] < w[1]), "pairs out of order");
        }
    }
});
