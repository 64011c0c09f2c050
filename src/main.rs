//! The `aotio` command line.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    guarded(cli::run)
}

/// A panic is a bug: the hook has printed where; the status says "internal
/// error" (documented in `--help`) rather than Rust's 101.
fn guarded(run: impl FnOnce() -> ExitCode + std::panic::UnwindSafe) -> ExitCode {
    std::panic::catch_unwind(run).unwrap_or_else(|_| {
        cli::say("internal error: this is a bug in aotio, please report it");
        ExitCode::from(cli::status::INTERNAL)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_internal_error() {
        let code = guarded(|| std::panic::resume_unwind(Box::new("a bug")));
        assert_eq!(code, ExitCode::from(cli::status::INTERNAL));
        assert_eq!(guarded(|| ExitCode::from(3)), ExitCode::from(3));
    }
}
