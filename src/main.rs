//! The `aotio` command line.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
