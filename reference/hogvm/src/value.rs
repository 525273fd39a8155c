//! The value model: what a Hog program holds on its stack, shaped like PostHog's VM values.
//!
//! PostHog's reference VM is JavaScript, so numbers are one type there; Hogref keeps integers (`Int`, always
//! within ±2^53 so every one is exact in JavaScript too) and floats (`Float`) apart for speed, and every
//! observable behaviour (printing, `typeof`, equality, dict keys) treats them as the one JavaScript number.
//! Arrays, tuples and dicts are shared and mutable (`Rc<RefCell<..>>`), as JavaScript objects are: a
//! `SET_PROPERTY` through one reference is seen through every other. Dicts keep insertion order.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use indexmap::IndexMap;

/// The largest integer JavaScript represents exactly; `Int` values stay within ±this.
pub const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// A dict: insertion-ordered, keyed by JavaScript's SameValueZero (1 and 1.0 are one key, '1' another).
pub type Dict = IndexMap<Key, Value>;

/// One Hog value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `null` (JavaScript's `undefined` reads as this too).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer number within ±2^53.
    Int(i64),
    /// Any other number (fractions, NaN, infinities, integers too large for `Int`).
    Float(f64),
    /// A string.
    Str(Rc<str>),
    /// An array (1-based in Hog).
    Array(Rc<RefCell<Vec<Value>>>),
    /// A tuple: an array that prints as `(a, b)`.
    Tuple(Rc<RefCell<Vec<Value>>>),
    /// A dict.
    Dict(Rc<RefCell<Dict>>),
    /// A function value with its captured upvalues.
    Closure(Rc<Closure>),
    /// A function before `CLOSURE` turned it into a closure.
    Callable(Rc<Callable>),
    /// An error object (`Error('...')`, what `catch` binds).
    Error(Rc<HogError>),
    /// A date and time: seconds since the epoch and an IANA zone name.
    DateTime(Rc<DateTime>),
    /// A calendar date.
    Date(Rc<Date>),
}

/// What kind of function a callable is, as PostHog names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallableKind {
    /// Bytecode in a chunk.
    Local,
    /// A standard-library function.
    Stl,
    /// An async function the host runs.
    Async,
}

impl CallableKind {
    /// PostHog's name for the kind (`__hogCallable__`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Stl => "stl",
            Self::Async => "async",
        }
    }
}

/// Which bytecode a callable's `ip` points into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// The program being run.
    Root,
    /// A standard-library function written in bytecode (`stl/NAME`); the index is into the bytecode STL.
    Stl(usize),
    /// No bytecode (native STL and async functions).
    None(&'static str),
}

/// A function: its name, arity, upvalue count and where its body starts.
#[derive(Clone, Debug)]
pub struct Callable {
    /// `local`, `stl` or `async`.
    pub kind: CallableKind,
    /// The name (`lambda` for anonymous functions).
    pub name: Value,
    /// Where the body is.
    pub chunk: Chunk,
    /// The declared number of arguments.
    pub arg_count: i64,
    /// How many upvalues `CLOSURE` must capture.
    pub upvalue_count: i64,
    /// The instruction pointer of the body (in `chunk`).
    pub ip: i64,
}

/// A callable with the ids of the upvalues it captured.
#[derive(Clone, Debug)]
pub struct Closure {
    /// The function.
    pub callable: Rc<Callable>,
    /// Upvalue ids (1-based, 0 stands for one that does not exist).
    pub upvalues: Vec<usize>,
}

/// An error object: `type`, `message` and an optional payload, as `Error(message, payload)` builds it.
#[derive(Clone, Debug)]
pub struct HogError {
    /// The error type, e.g. `Error`, `RetryError`.
    pub kind: Value,
    /// The message.
    pub message: Value,
    /// `None` when the payload was never given (JavaScript's `undefined`).
    pub payload: Option<Value>,
}

/// `{__hogDateTime__: true, dt, zone}`.
#[derive(Clone, Debug)]
pub struct DateTime {
    /// Seconds since the Unix epoch (may have a fraction).
    pub dt: Value,
    /// The IANA time zone name.
    pub zone: Value,
}

/// `{__hogDate__: true, year, month, day}`.
#[derive(Clone, Debug)]
pub struct Date {
    /// The year.
    pub year: Value,
    /// The month, 1-12.
    pub month: Value,
    /// The day of the month.
    pub day: Value,
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Self {
        Self::Str(Rc::from(s))
    }

    /// A string value from an owned string.
    pub fn string(s: String) -> Self {
        Self::Str(Rc::from(s))
    }

    /// A new array.
    pub fn array(items: Vec<Value>) -> Self {
        Self::Array(Rc::new(RefCell::new(items)))
    }

    /// A new tuple.
    pub fn tuple(items: Vec<Value>) -> Self {
        Self::Tuple(Rc::new(RefCell::new(items)))
    }

    /// A new dict.
    pub fn dict(d: Dict) -> Self {
        Self::Dict(Rc::new(RefCell::new(d)))
    }

    /// A number: an `Int` when it is an integer JavaScript holds exactly, else a `Float`.
    pub fn number(f: f64) -> Self {
        if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INT as f64 && !(f == 0.0 && f.is_sign_negative())
        {
            #[allow(clippy::cast_possible_truncation)]
            Self::Int(f as i64)
        } else {
            Self::Float(f)
        }
    }

    /// An integer; outside ±2^53 it becomes a float, as in JavaScript.
    pub fn int(i: i64) -> Self {
        if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&i) {
            Self::Int(i)
        } else {
            #[allow(clippy::cast_precision_loss)]
            Self::Float(i as f64)
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Whether this is a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Self::Int(_) | Self::Float(_))
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Float(f) => *f != 0.0 && !f.is_nan(),
            Self::Str(s) => !s.is_empty(),
            _ => true,
        }
    }

    /// Whether this is an object in JavaScript's sense (`typeof x === 'object' && x !== null`).
    pub fn is_object(&self) -> bool {
        !matches!(
            self,
            Self::Null | Self::Bool(_) | Self::Int(_) | Self::Float(_) | Self::Str(_)
        )
    }

    /// JavaScript's `typeof` for the value as PostHog's VM holds it.
    pub fn js_typeof(&self) -> &'static str {
        match self {
            Self::Null => "object",
            Self::Bool(_) => "boolean",
            Self::Int(_) | Self::Float(_) => "number",
            Self::Str(_) => "string",
            _ => "object",
        }
    }

    /// An identity for objects (pointer), used for cycle detection and strict equality.
    pub fn ptr(&self) -> Option<usize> {
        match self {
            Self::Array(a) | Self::Tuple(a) => Some(Rc::as_ptr(a) as *const () as usize),
            Self::Dict(d) => Some(Rc::as_ptr(d) as *const () as usize),
            Self::Closure(c) => Some(Rc::as_ptr(c) as *const () as usize),
            Self::Callable(c) => Some(Rc::as_ptr(c) as *const () as usize),
            Self::Error(e) => Some(Rc::as_ptr(e) as *const () as usize),
            Self::DateTime(d) => Some(Rc::as_ptr(d) as *const () as usize),
            Self::Date(d) => Some(Rc::as_ptr(d) as *const () as usize),
            _ => None,
        }
    }

    /// JavaScript's `===`.
    pub fn strict_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Str(a), Self::Str(b)) => a == b,
            (a, b) if a.is_number() && b.is_number() => a.as_f64() == b.as_f64(),
            (a, b) => match (a.ptr(), b.ptr()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }

    /// JavaScript's SameValueZero (`includes`, Map keys): `===` except NaN equals NaN.
    pub fn same_value_zero(&self, other: &Value) -> bool {
        match (self, other) {
            (Self::Float(a), Self::Float(b)) if a.is_nan() && b.is_nan() => true,
            _ => self.strict_eq(other),
        }
    }
}

/// Dropping a deeply nested value must not recurse once per level (a Hog loop can nest arrays a
/// million deep): containers nobody else holds hand their elements to an explicit work list.
impl Drop for Value {
    #[inline]
    fn drop(&mut self) {
        let unique = match self {
            Value::Array(a) | Value::Tuple(a) => Rc::strong_count(a) == 1,
            Value::Dict(d) => Rc::strong_count(d) == 1,
            _ => false,
        };
        if unique {
            drop_nested(self);
        }
    }
}

#[cold]
#[inline(never)]
fn drop_nested(v: &mut Value) {
    fn take(v: &mut Value, work: &mut Vec<Value>) {
        match v {
            Value::Array(a) | Value::Tuple(a) => {
                if Rc::strong_count(a) == 1
                    && let Ok(mut items) = a.try_borrow_mut()
                {
                    work.append(&mut items);
                }
            }
            Value::Dict(d) => {
                if Rc::strong_count(d) == 1
                    && let Ok(mut map) = d.try_borrow_mut()
                {
                    for (k, v) in map.drain(..) {
                        work.push(k.0);
                        work.push(v);
                    }
                }
            }
            _ => {}
        }
    }
    let mut work = Vec::new();
    take(v, &mut work);
    while let Some(mut item) = work.pop() {
        take(&mut item, &mut work);
    }
}

/// A dict key: a value compared by SameValueZero.
#[derive(Clone, Debug)]
pub struct Key(pub Value);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_value_zero(&other.0)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => {
                1u8.hash(state);
                b.hash(state);
            }
            Value::Int(_) | Value::Float(_) => {
                2u8.hash(state);
                let f = self.0.as_f64().unwrap_or(0.0);
                let bits = if f == 0.0 {
                    0
                } else if f.is_nan() {
                    1
                } else {
                    f.to_bits()
                };
                bits.hash(state);
            }
            Value::Str(s) => {
                3u8.hash(state);
                s.hash(state);
            }
            other => {
                4u8.hash(state);
                other.ptr().hash(state);
            }
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key(Value::str(s))
    }
}
