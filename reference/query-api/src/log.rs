//! Structured logs: one JSON object per line on stderr (`ts`, `level`, `target`, `msg`, then fields),
//! filtered by a process-wide level (`HOGREF_LOG_LEVEL` in `hogref serve`).

use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

/// A log level, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something looks wrong.
    Warn = 2,
    /// Normal operation.
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Lines above `level` are dropped.
pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Writes one line if `level` passes the filter. `fields` should be a JSON object; its entries follow
/// the fixed ones.
pub fn log(level: Level, target: &str, msg: &str, fields: serde_json::Value) {
    if level as u8 > MAX_LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let mut line = serde_json::json!({
        "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": level.as_str(),
        "target": target,
        "msg": msg,
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
