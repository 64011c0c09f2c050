//! Property tests that count how many generated cases reached their
//! assertions: a generator or an early return that skips most cases must fail
//! the test, not pass it silently. Shared by the unit tests and, through
//! `#[path]`, by the integration tests. `AOTIO_REACH=1` (with `--nocapture`)
//! prints each count, to set a floor with a margin below what a run reaches.

use std::sync::atomic::{AtomicU32, Ordering};

/// The counters of one property test; a `static` beside it.
pub struct Reach {
    tried: AtomicU32,
    reached: AtomicU32,
}

impl Reach {
    pub const fn new() -> Self {
        Reach {
            tried: AtomicU32::new(0),
            reached: AtomicU32::new(0),
        }
    }

    /// Starts one generated case of a test configured for `cases` cases, of
    /// which at least `floor` must reach the assertions. The last case checks
    /// the floor when it ends (cases after it are proptest shrinking a
    /// failure, which reports itself).
    pub fn case(&self, cases: u32, floor: u32) -> Case<'_> {
        let tried = self.tried.fetch_add(1, Ordering::Relaxed) + 1;
        Case {
            reach: self,
            check: (tried == cases).then_some((cases, floor)),
        }
    }
}

/// One generated case; see [`Reach::case`].
pub struct Case<'a> {
    reach: &'a Reach,
    check: Option<(u32, u32)>,
}

impl Case<'_> {
    /// The case got past its early returns to the assertions.
    pub fn reached(&self) {
        self.reach.reached.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Case<'_> {
    fn drop(&mut self) {
        if let Some((cases, floor)) = self.check {
            let reached = self.reach.reached.load(Ordering::Relaxed);
            if std::env::var_os("AOTIO_REACH").is_some() {
                eprintln!("reach: {reached} of {cases} (floor {floor})");
            }
            // A panic here (not during unwinding) is a test failure proptest reports.
            if !std::thread::panicking() && reached < floor {
                #[allow(clippy::panic)]
                {
                    panic!(
                        "only {reached} of {cases} generated cases reached the assertions \
                         (at least {floor} must): the generator or an early return skips too many"
                    );
                }
            }
        }
    }
}
