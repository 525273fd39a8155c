//! The crate's one error type: every message names the variable (or `.env` line) at fault.
//!
//! Messages never repeat a secret: URL and key errors describe the problem, not the value.

use std::fmt;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration problem. [`Settings::from_env`](crate::Settings::from_env) and
/// [`parse_dotenv`](crate::parse_dotenv) report every problem they find, as [`Error::Many`]
/// when there is more than one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A variable without a default is unset or empty.
    #[error("{var}: required but not set")]
    Missing { var: &'static str },
    /// Not a TCP port number.
    #[error("{var}: `{value}` is not a port number (1-65535)")]
    Port { var: &'static str, value: String },
    /// Two listeners were given the same port.
    #[error("{var}: same port as {other} ({port})")]
    PortClash {
        var: &'static str,
        other: &'static str,
        port: u16,
    },
    /// Not a whole number in range (a count must be at least 1).
    #[error(
        "{var}: `{value}` is not a valid count or index (a non-negative integer; a count is at least 1)"
    )]
    Count { var: &'static str, value: String },
    /// `INGESTION_WORKER_INDEX` is not below `INGESTION_WORKER_COUNT`.
    #[error("INGESTION_WORKER_INDEX: {index} is not below INGESTION_WORKER_COUNT ({count})")]
    WorkerIndex { index: u32, count: u32 },
    /// Not a boolean.
    #[error("{var}: `{value}` is not a boolean (true/false, 1/0, yes/no, on/off)")]
    Bool { var: &'static str, value: String },
    /// Not an IPv4 or IPv6 address.
    #[error("{var}: `{value}` is not an IP address")]
    IpAddr { var: &'static str, value: String },
    /// Not one of the log levels.
    #[error("{var}: `{value}` is not a log level (error, warn, info, debug, trace)")]
    LogLevel { var: &'static str, value: String },
    /// The value does not parse as a URL (the value itself is not repeated: it may hold a password).
    #[error("{var}: not a valid URL ({reason})")]
    Url { var: &'static str, reason: String },
    /// The URL parses but has the wrong scheme.
    #[error("{var}: URL scheme `{scheme}` is not {expected}")]
    UrlScheme {
        var: &'static str,
        scheme: String,
        expected: &'static str,
    },
    /// The URL parses but is unusable here (no host, credentials in the wrong place, ...).
    #[error("{var}: {problem}")]
    UrlShape {
        var: &'static str,
        problem: &'static str,
    },
    /// A database or cluster name that is not a plain ClickHouse identifier.
    #[error(
        "{var}: `{value}` is not a plain identifier (ASCII letters, digits and `_`, not starting with a digit)"
    )]
    Identifier { var: &'static str, value: String },
    /// An entry of a comma-separated `host:port` list is malformed (1-based `index`).
    #[error("{var}: entry {index} `{value}` is not host:port")]
    HostPort {
        var: &'static str,
        index: usize,
        value: String,
    },
    /// A Kafka topic prefix with characters Kafka does not allow in topic names.
    #[error("{var}: `{value}` may only contain ASCII letters, digits, `.`, `_` and `-`")]
    TopicPrefix { var: &'static str, value: String },
    /// An encryption key (1-based `index` in the comma-separated list) is not base64url of 32 bytes.
    #[error("{var}: key {index} is not base64url of 32 bytes ({problem})")]
    Key {
        var: &'static str,
        index: usize,
        problem: KeyProblem,
    },
    /// A `HOGREF_*` variable this crate does not know: most likely a typo.
    #[error("{var}: unknown Hogref variable{}", did_you_mean.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    Unknown {
        var: String,
        did_you_mean: Option<&'static str>,
    },
    /// A line of a `.env` file that does not parse (1-based `line`).
    #[error("line {line}: {problem}")]
    DotEnv { line: usize, problem: DotEnvProblem },
    /// More than one problem, in the order found.
    #[error("{} configuration problems:{}", .0.len(), .0.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Many(Vec<Error>),
}

impl Error {
    /// Folds a list of problems into `Ok(())`, the single error, or [`Error::Many`].
    pub(crate) fn from_list(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }

    /// The individual problems: the list inside [`Error::Many`], or this error alone.
    pub fn problems(&self) -> &[Error] {
        match self {
            Error::Many(list) => list,
            single => std::slice::from_ref(single),
        }
    }
}

/// Why an encryption key was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// Nothing between two commas (or an empty variable).
    Empty,
    /// `+` or `/`: standard base64, not base64url.
    StandardAlphabet { ch: char },
    /// A character outside the base64url alphabet (`position` is 1-based).
    InvalidChar { ch: char, position: usize },
    /// `=` somewhere other than as trailing padding of a 4-character-aligned string.
    Padding,
    /// A length no base64 string can have (e.g. 4n+1 characters).
    ImpossibleLength { chars: usize },
    /// The last character carries non-zero unused bits: not the canonical encoding of any bytes.
    NonCanonicalEnd,
    /// Well-formed, but the wrong number of bytes.
    Length { bytes: usize },
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Empty => write!(f, "it is empty"),
            KeyProblem::StandardAlphabet { ch } => write!(
                f,
                "contains `{ch}`: that is standard base64; base64url uses `-` and `_` instead of `+` and `/`"
            ),
            KeyProblem::InvalidChar { ch, position } => {
                write!(f, "invalid character {ch:?} at position {position}")
            }
            KeyProblem::Padding => write!(f, "misplaced `=` padding"),
            KeyProblem::ImpossibleLength { chars } => {
                write!(f, "length {chars} is impossible for base64")
            }
            KeyProblem::NonCanonicalEnd => {
                write!(f, "the last character has non-zero unused bits")
            }
            KeyProblem::Length { bytes } => write!(f, "decodes to {bytes} bytes"),
        }
    }
}

/// Why a `.env` line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotEnvProblem {
    /// Neither blank, a comment, nor `KEY=VALUE`.
    NoEquals,
    /// The name left of `=` is not `[A-Za-z_][A-Za-z0-9_]*`.
    InvalidKey { key: String },
    /// An opening quote without its closing quote on the same line.
    UnterminatedQuote { key: String, quote: char },
    /// Something other than a comment after the closing quote.
    TrailingText { key: String },
    /// A `$` that docker compose would interpolate but this parser would not.
    Dollar { key: String },
    /// The same name twice.
    Duplicate { key: String, first_line: usize },
}

impl fmt::Display for DotEnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DotEnvProblem::NoEquals => write!(f, "expected KEY=VALUE, a comment or a blank line"),
            DotEnvProblem::InvalidKey { key } => write!(
                f,
                "`{key}` is not a variable name (ASCII letters, digits and `_`, not starting with a digit)"
            ),
            DotEnvProblem::UnterminatedQuote { key, quote } => {
                write!(f, "`{key}`: {quote} quote is not closed on this line")
            }
            DotEnvProblem::TrailingText { key } => {
                write!(f, "`{key}`: unexpected text after the closing quote")
            }
            DotEnvProblem::Dollar { key } => write!(
                f,
                "`{key}`: `$` would be interpolated by docker compose; single-quote the value to keep it literal"
            ),
            DotEnvProblem::Duplicate { key, first_line } => {
                write!(f, "`{key}` is already set on line {first_line}")
            }
        }
    }
}
