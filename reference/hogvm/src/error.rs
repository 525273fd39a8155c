//! The VM's one error type. Every error ends the run (PostHog's VM cannot catch its own exceptions
//! either: only a Hog `throw` is catchable) and carries a stable code and PostHog's message.

/// What went wrong, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The bytecode is not valid JSON or has no `_H`/`_h` header.
    InvalidBytecode,
    /// An opcode or operand PostHog's VM does not accept (unknown opcode, end of bytecode, bad operand).
    BadInstruction,
    /// Popping an empty stack, or a frame below its base.
    StackUnderflow,
    /// The time budget (PostHog's `timeout`) or Hogref's operation budget ran out.
    Timeout,
    /// The stack's memory went over the limit, or the run allocated too much.
    MemoryLimit,
    /// Too many nested calls (PostHog allows 1000).
    CallStackOverflow,
    /// Too many async calls (PostHog allows 100).
    AsyncSteps,
    /// `GET_GLOBAL` of a name that is neither a global nor a function.
    GlobalNotFound,
    /// A call of a function that does not exist, or of a value that is not a function.
    NotCallable,
    /// A call with too few or too many arguments.
    Arity,
    /// A closure's upvalues do not match its callable.
    Upvalue,
    /// A Hog `throw` nobody caught.
    Uncaught,
    /// A standard-library function refused its arguments (PostHog's VM throws a JavaScript `Error`).
    Function,
    /// An operation on a value of the wrong type (PostHog's VM hits a JavaScript `TypeError`).
    Type,
}

impl Code {
    /// The stable code, e.g. `hogvm.timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidBytecode => "hogvm.invalid_bytecode",
            Self::BadInstruction => "hogvm.bad_instruction",
            Self::StackUnderflow => "hogvm.stack_underflow",
            Self::Timeout => "hogvm.timeout",
            Self::MemoryLimit => "hogvm.memory_limit",
            Self::CallStackOverflow => "hogvm.call_stack_overflow",
            Self::AsyncSteps => "hogvm.async_steps",
            Self::GlobalNotFound => "hogvm.global_not_found",
            Self::NotCallable => "hogvm.not_callable",
            Self::Arity => "hogvm.arity",
            Self::Upvalue => "hogvm.upvalue",
            Self::Uncaught => "hogvm.uncaught",
            Self::Function => "hogvm.function",
            Self::Type => "hogvm.type",
        }
    }
}

/// An error that ended a run.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The VM itself refused (PostHog's `HogVMException`).
    #[error("{message}")]
    Vm {
        /// The stable code.
        code: Code,
        /// PostHog's message.
        message: String,
    },
    /// A Hog error was thrown and not caught (PostHog's `UncaughtHogVMException`).
    #[error("{kind}('{}')", message.replace('\'', "\\'"))]
    Uncaught {
        /// The error's type, e.g. `Error`.
        kind: String,
        /// Its message.
        message: String,
        /// Its payload, printed as `print` shows it.
        payload: Option<String>,
    },
    /// A standard-library function or a property access refused a value (a JavaScript `Error` in
    /// PostHog's VM, with the same message).
    #[error("{message}")]
    Function {
        /// The message.
        message: String,
    },
    /// An operation on a value of a type it does not take (a JavaScript `TypeError` in PostHog's VM,
    /// whose message is the JavaScript engine's and is not reproduced).
    #[error("{message}")]
    Type {
        /// Hogref's message.
        message: String,
    },
}

impl Error {
    /// A VM error.
    pub fn vm(code: Code, message: impl Into<String>) -> Self {
        Self::Vm {
            code,
            message: message.into(),
        }
    }

    /// A function error.
    pub fn func(message: impl Into<String>) -> Self {
        Self::Function {
            message: message.into(),
        }
    }

    /// A type error.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::Type {
            message: message.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Vm { code, .. } => *code,
            Self::Uncaught { .. } => Code::Uncaught,
            Self::Function { .. } => Code::Function,
            Self::Type { .. } => Code::Type,
        }
    }

    /// The class PostHog's VM (JavaScript) would raise: `HogVMException`, `UncaughtHogVMException`,
    /// `Error` or `TypeError`.
    pub fn js_name(&self) -> &'static str {
        match self {
            Self::Vm { .. } => "HogVMException",
            Self::Uncaught { .. } => "UncaughtHogVMException",
            Self::Function { .. } => "Error",
            Self::Type { .. } => "TypeError",
        }
    }

    /// The message alone (for `Uncaught`, the thrown error's message).
    pub fn message(&self) -> &str {
        match self {
            Self::Vm { message, .. }
            | Self::Uncaught { message, .. }
            | Self::Function { message }
            | Self::Type { message } => message,
        }
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
