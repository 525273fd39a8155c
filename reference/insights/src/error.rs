//! The crate's error type: every rejection names the request field it is about.

/// Why an insight query cannot be planned or its rows cannot be shaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The field is malformed (wrong type, unknown name, bad value).
    #[error("`{field}`: {message}")]
    Invalid {
        /// Dotted path of the field, e.g. `series[0].math`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The field is valid for PostHog but outside the subset this implementation answers.
    #[error("`{field}`: {message} is not supported")]
    Unsupported {
        /// Dotted path of the field.
        field: String,
        /// What is not supported.
        message: String,
    },
    /// ClickHouse answered rows of an unexpected shape (a bug, never user input).
    #[error("unexpected result rows: {0}")]
    Rows(String),
}

impl Error {
    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_input",
            Error::Unsupported { .. } => "unsupported_insight",
            Error::Rows(_) => "unexpected_rows",
        }
    }

    /// The request field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } | Error::Unsupported { field, .. } => Some(field),
            Error::Rows(_) => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Unsupported {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
