//! Tracing on standard error, set up from the environment: `AOTIO_LOG` (or
//! `RUST_LOG`) for the filter, `AOTIO_LOG_SPANS` for span events. A setting
//! that does not parse is a usage error, not a silent fallback.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Targets that log through tracing in this program.
const TARGETS: [&str; 2] = ["aotio", "salsa"];

pub fn init() -> Result<(), String> {
    let (var, spec) = match (setting("AOTIO_LOG")?, setting("RUST_LOG")?) {
        (Some(spec), _) => ("AOTIO_LOG", spec),
        (None, Some(spec)) => ("RUST_LOG", spec),
        (None, None) => ("", "warn".to_owned()),
    };
    let filter = filter(&spec).map_err(|e| format!("{var}={spec:?}: {e}"))?;
    let spans = match setting("AOTIO_LOG_SPANS")? {
        Some(s) => span_events(&s).map_err(|e| format!("AOTIO_LOG_SPANS={s:?}: {e}"))?,
        None => FmtSpan::NONE,
    };
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Fails only when a subscriber is already set, which `main` never does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_span_events(spans)
        .try_init();
    Ok(())
}

/// A variable's value; unset and empty are the same.
fn setting(var: &str) -> Result<Option<String>, String> {
    match std::env::var(var) {
        Ok(s) if s.trim().is_empty() => Ok(None),
        Ok(s) => Ok(Some(s)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{var} is not valid UTF-8")),
    }
}

/// A filter in `EnvFilter` syntax, strictly: every directive must parse, and
/// a bare word must be a level or one of our targets (a misspelt level would
/// otherwise turn into a target that matches nothing).
pub fn filter(spec: &str) -> Result<EnvFilter, String> {
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[', ':']);
        let level = LEVELS.iter().any(|l| l.eq_ignore_ascii_case(directive));
        let target = TARGETS.iter().any(|t| directive.starts_with(t));
        if bare && !level && !target {
            return Err(format!(
                "`{directive}` is neither a level ({}) nor a target ({}); \
                 write TARGET=LEVEL for other targets",
                LEVELS.join(", "),
                TARGETS.join(", ")
            ));
        }
    }
    EnvFilter::builder().parse(spec).map_err(|e| {
        format!("not a valid log filter: {e} (e.g. `debug`, `aotio=debug,salsa=warn`)")
    })
}

/// `close`, `new,close`, `full`, `none`...
pub fn span_events(spec: &str) -> Result<FmtSpan, String> {
    let mut events = FmtSpan::NONE;
    for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        events |= match word.to_ascii_lowercase().as_str() {
            "new" => FmtSpan::NEW,
            "enter" => FmtSpan::ENTER,
            "exit" => FmtSpan::EXIT,
            "close" => FmtSpan::CLOSE,
            "active" => FmtSpan::ACTIVE,
            "full" => FmtSpan::FULL,
            "none" => FmtSpan::NONE,
            _ => {
                return Err(format!(
                    "unknown span event `{word}` (one or more of new, enter, exit, close, \
                     active, full, none)"
                ))
            }
        };
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert!(filter("debug").is_ok());
        assert!(filter("aotio=debug,salsa=warn").is_ok());
        assert!(filter("aotio::queries=trace").is_ok());
        assert!(filter("salsa").is_ok());
        assert!(filter("debgu").is_err());
        assert!(filter("aotio=loud").is_err());
    }

    #[test]
    fn spans() {
        assert_eq!(span_events("close").ok(), Some(FmtSpan::CLOSE));
        assert_eq!(
            span_events("new, close").ok(),
            Some(FmtSpan::NEW | FmtSpan::CLOSE)
        );
        assert!(span_events("closed").is_err());
    }
}
