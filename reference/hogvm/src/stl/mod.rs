//! PostHog's standard library: native functions (a table of name, arity and function) and the few
//! that PostHog writes in bytecode (`arrayMap`, `arrayFilter`, ...), which Hogref writes in bytecode too
//! (its own, in [`bytecode`]) so that the lambdas they call run on the VM's own stack and can suspend.
//!
//! Each function behaves as PostHog's JavaScript one does, including its coercions; where JavaScript
//! would throw a `TypeError` (e.g. `upper(null)`), the function fails with [`Error::Type`].

mod bytecode;
mod collections;
mod crypto;
mod text;
mod time;

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::value::Value;
use crate::vm::{Host, Vm};

/// What a native function sees: the VM (for its regex cache and limits), the host and its own name.
#[allow(missing_debug_implementations)]
pub struct Ctx<'a> {
    pub(crate) vm: &'a mut Vm,
    pub(crate) host: &'a mut dyn Host,
    pub(crate) name: &'a str,
}

/// A native function: `args` hold exactly the arguments passed (a missing one is JavaScript's
/// `undefined`; a `null` the caller passed is there as `Value::Null`).
pub type NativeFn = fn(&mut Ctx<'_>, Vec<Value>) -> Result<Value>;

/// One native function's entry.
#[derive(Clone, Copy)]
pub struct Native {
    /// The fewest arguments.
    pub min: usize,
    /// The most arguments (`None`: any number).
    pub max: Option<usize>,
    /// The function.
    pub func: NativeFn,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native")
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// A standard-library function written in bytecode.
#[derive(Debug)]
pub struct BytecodeFn {
    /// Its name.
    pub name: &'static str,
    /// How many arguments it takes (exactly).
    pub args: usize,
    /// The chunk (with an `_H` header).
    pub code: Rc<[Value]>,
}

/// The whole standard library.
#[derive(Debug)]
pub struct Stl {
    natives: HashMap<&'static str, Native>,
    /// The bytecode functions; a callable's `Chunk::Stl(i)` indexes this.
    pub bytecode: Vec<BytecodeFn>,
}

impl Stl {
    fn build() -> Self {
        let mut natives = HashMap::new();
        for (name, min, max, func) in text::FUNCTIONS
            .iter()
            .chain(collections::FUNCTIONS)
            .chain(crypto::FUNCTIONS)
            .chain(time::FUNCTIONS)
        {
            natives.insert(
                *name,
                Native {
                    min: *min,
                    max: *max,
                    func: *func,
                },
            );
        }
        Self {
            natives,
            bytecode: bytecode::functions(),
        }
    }

    /// A native function by name.
    pub fn native(&self, name: &str) -> Option<&Native> {
        self.natives.get(name)
    }

    /// A bytecode function's index by name.
    pub fn bytecode_index(&self, name: &str) -> Option<usize> {
        self.bytecode.iter().position(|b| b.name == name)
    }

    /// Every function name Hogref implements (native, bytecode and the async `sleep`), sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.natives.keys().copied().collect();
        names.extend(self.bytecode.iter().map(|b| b.name));
        names.push("sleep");
        names.sort_unstable();
        names
    }
}

thread_local! {
    /// A `null` to lend out for missing arguments (one per thread, never freed).
    static NULL: &'static Value = Box::leak(Box::new(Value::Null));
    static SHARED: Rc<Stl> = Rc::new(Stl::build());
}

/// The standard library, built once per thread.
pub fn shared() -> Rc<Stl> {
    SHARED.with(Rc::clone)
}

/// Every function name Hogref's standard library implements.
pub fn implemented_names() -> Vec<&'static str> {
    shared().names()
}

/// One row of a function table: name, fewest and most arguments, function.
pub(crate) type Row = (&'static str, usize, Option<usize>, NativeFn);

/// The argument at `i`, `Null` when missing.
pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    match args.get(i) {
        Some(v) => v,
        None => NULL.with(|n| *n),
    }
}

/// PostHog's `typeof` for a value.
pub fn hog_typeof(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::DateTime(_) => "datetime",
        Value::Date(_) => "date",
        Value::Error(_) => "error",
        Value::Callable(_) | Value::Closure(_) => "function",
        Value::Tuple(_) => "tuple",
        Value::Array(_) => "array",
        Value::Dict(_) => "object",
        Value::Int(_) => "integer",
        Value::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 {
                "integer"
            } else {
                "float"
            }
        }
        Value::Str(_) => "string",
        Value::Bool(_) => "boolean",
    }
}

/// The error PostHog's VM gets from JavaScript when a method is missing on a value (`null.length`).
pub(crate) fn type_err(ctx: &Ctx<'_>, v: &Value) -> Error {
    Error::type_error(format!(
        "{}() does not take a value of type {}",
        ctx.name,
        hog_typeof(v)
    ))
}
