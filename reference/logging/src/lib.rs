//! The one logger for every Hogref server: `tracing` events written as JSON lines on stderr.
//!
//! Each line is one object: `ts` (RFC 3339, milliseconds, UTC), `level` (lowercase), `target` (the
//! module that logged), `msg`, then the event's own fields in the order they were written. The level
//! filter comes from `HOGREF_LOG_LEVEL` via [`settings::LogLevel`] (default `info`).
//!
//! Libraries only use `tracing`'s macros; binaries call [`init`] once. This lives in its own crate,
//! not in `settings`, because `settings` is pure (no I/O) and most of its users (tests, xtask) should
//! not pull in a subscriber.
//!
//! Spans are not recorded (no server opens one); `log`-crate records (rdkafka's) are not bridged.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

pub use settings::LogLevel;

/// What can go wrong installing the logger.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`init`] ran twice, or something else installed a global subscriber first.
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Installs the process-wide logger: JSON lines on stderr, events above `level` dropped.
pub fn init(level: LogLevel) -> Result<()> {
    tracing::subscriber::set_global_default(subscriber(level, std::io::stderr))
        .map_err(|_| Error::AlreadyInstalled)
}

/// The logger [`init`] installs, writing to `writer` instead of stderr (tests capture lines with it).
pub fn subscriber<W>(level: LogLevel, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_max_level(level_filter(level))
        .with_writer(writer)
        .event_format(JsonLines)
        .finish()
}

fn level_filter(level: LogLevel) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Formats one event as one JSON object on one line.
#[derive(Debug, Clone, Copy)]
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "ts".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_ascii_lowercase()),
        );
        line.insert("target".into(), Value::String(meta.target().into()));
        line.insert("msg".into(), Value::String(String::new()));
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields as JSON values; `message` becomes `msg`.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = match field.name() {
            "message" => "msg",
            name => name,
        };
        self.0.insert(name.to_owned(), value);
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer that keeps everything written to it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// Logs one event at every level under `level`; returns the parsed lines.
    fn lines_at(level: LogLevel) -> Vec<Value> {
        let captured = Captured::default();
        tracing::subscriber::with_default(subscriber(level, captured.clone()), || {
            tracing::error!(team_id = 7, "e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn msgs(lines: &[Value]) -> Vec<&str> {
        lines.iter().map(|l| l["msg"].as_str().unwrap()).collect()
    }

    #[test]
    fn the_level_drops_what_is_less_severe() {
        assert_eq!(msgs(&lines_at(LogLevel::Error)), ["e"]);
        assert_eq!(msgs(&lines_at(LogLevel::Warn)), ["e", "w"]);
        assert_eq!(msgs(&lines_at(LogLevel::Info)), ["e", "w", "i"]);
        assert_eq!(msgs(&lines_at(LogLevel::Debug)), ["e", "w", "i", "d"]);
        assert_eq!(msgs(&lines_at(LogLevel::Trace)), ["e", "w", "i", "d", "t"]);
    }

    #[test]
    fn a_line_has_ts_level_target_msg_then_the_fields() {
        let captured = Captured::default();
        tracing::subscriber::with_default(subscriber(LogLevel::Info, captured.clone()), || {
            let err = io::Error::other("boom");
            tracing::warn!(
                team_id = 42,
                status = 503u16,
                code = "clickhouse_unavailable",
                seconds = 0.5,
                cached = false,
                error = &err as &dyn std::error::Error,
                topics = ?["a", "b"],
                "query rejected"
            );
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: Value = serde_json::from_str(text.trim_end()).unwrap();
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ts", "level", "target", "msg", "team_id", "status", "code", "seconds", "cached",
                "error", "topics"
            ]
        );
        assert_eq!(line["level"], "warn");
        assert_eq!(line["target"], "logging::tests");
        assert_eq!(line["msg"], "query rejected");
        assert_eq!(line["team_id"], 42);
        assert_eq!(line["status"], 503);
        assert_eq!(line["code"], "clickhouse_unavailable");
        assert_eq!(line["seconds"], 0.5);
        assert_eq!(line["cached"], false);
        assert_eq!(line["error"], "boom");
        assert_eq!(line["topics"], r#"["a", "b"]"#);
        let ts = line["ts"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
            "{ts}"
        );
    }

    #[test]
    fn a_second_init_is_an_error_not_a_panic() {
        // Only this test installs a global logger in this binary; the second call must report.
        let _ = init(LogLevel::Info);
        assert!(matches!(init(LogLevel::Info), Err(Error::AlreadyInstalled)));
    }
}
