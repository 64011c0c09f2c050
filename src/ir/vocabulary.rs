//! Strings drawn from a small vocabulary (op targets, dtypes, devices,
//! layouts) are shared by every graph the process loads: comparing two
//! versions of a graph, as `Session::update` does, then compares them by
//! pointer instead of byte by byte.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

/// Beyond this many distinct words (a hostile dump), strings are no longer shared.
const CAPACITY: usize = 4096;

static WORDS: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();

/// The shared copy of `word`.
pub fn shared(word: &str) -> Arc<str> {
    let Ok(mut words) = WORDS.get_or_init(Mutex::default).lock() else {
        return Arc::from(word);
    };
    if let Some(w) = words.get(word) {
        return w.clone();
    }
    let w: Arc<str> = Arc::from(word);
    if words.len() < CAPACITY {
        words.insert(w.clone());
    }
    w
}

#[cfg(test)]
mod tests {
    use super::shared;
    use std::sync::Arc;

    #[test]
    fn one_copy_per_word() {
        assert!(Arc::ptr_eq(&shared("float32"), &shared("float32")));
        assert!(!Arc::ptr_eq(&shared("float32"), &shared("float16")));
    }
}
