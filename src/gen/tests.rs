//! The generator's dumps load, analyse and are deterministic; edits keep them valid.

use super::*;

/// The generator names nodes as FX does, so renaming a fresh dump the
/// FX way changes nothing, and renaming twice changes nothing more.
#[test]
fn generated_names_are_fx_names() {
    for dynamic_shapes in [false, true] {
        let opts = GenOptions {
            nodes: 300,
            seed: 2,
            dynamic_shapes,
        };
        let dump = generate(&opts).expect("generates");
        assert_eq!(rename_as_fx(&mut Draft::open(&dump)), 0);
        let edited = edit(&dump, EditKind::AddNodeRenumbered, 1).expect("applies");
        assert_eq!(rename_as_fx(&mut Draft::open(&edited)), 0);
    }
}
