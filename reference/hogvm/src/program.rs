//! Bytecode as the VM reads it: PostHog's JSON array (`["_H", 1, op, operand, ...]`, or the older
//! header-less `["_h", ...]`), held as values so constants push without conversion; and JSON ⇄ value
//! conversion in JavaScript's shape (object keys in JavaScript's order, numbers as one type).

use std::rc::Rc;

use crate::error::{Code, Error, Result};
use crate::js::array_index;
use crate::value::{Date, DateTime, Dict, HogError, Key, Value};

/// A parsed program: the root chunk and its format version.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) code: Rc<[Value]>,
    /// `_H` programs carry a version (arguments are in call order from version 1); `_h` is version 0.
    pub(crate) version: f64,
}

impl Program {
    /// Parses bytecode JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::vm(
                Code::InvalidBytecode,
                format!("bytecode is not valid JSON: {e}"),
            )
        })?;
        Self::from_json(&json)
    }

    /// Builds a program from a parsed JSON array.
    pub fn from_json(json: &serde_json::Value) -> Result<Self> {
        let Some(items) = json.as_array() else {
            return Err(Error::vm(
                Code::InvalidBytecode,
                "Invalid HogQL bytecode, must start with '_H'",
            ));
        };
        let code: Vec<Value> = items
            .iter()
            .map(|j| json_to_value(j, JsonFlavor::Raw))
            .collect();
        Self::from_values(code)
    }

    /// Builds a program from its elements.
    pub fn from_values(code: Vec<Value>) -> Result<Self> {
        let version = match code.first() {
            Some(Value::Str(s)) if &**s == "_H" => code.get(1).map_or(0.0, crate::js::to_number),
            Some(Value::Str(s)) if &**s == "_h" => 0.0,
            _ => {
                return Err(Error::vm(
                    Code::InvalidBytecode,
                    "Invalid HogQL bytecode, must start with '_H'",
                ));
            }
        };
        Ok(Self {
            code: code.into(),
            version,
        })
    }
}

/// How JSON objects become values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonFlavor {
    /// Every object is a dict (operands inside bytecode).
    Raw,
    /// `convertJSToHog`: objects marked `__hogDateTime__`/`__hogDate__` become dates (globals, async
    /// results).
    Globals,
    /// `jsonParse`: as `Globals`, and `__hogError__` objects become errors.
    Parse,
}

fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::int(i)
    } else {
        Value::number(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Object entries in JavaScript's property order: array-index keys ascending, then the rest.
fn js_ordered(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Vec<(&String, &serde_json::Value)> {
    let mut index: Vec<_> = map
        .iter()
        .filter(|(k, _)| array_index(k).is_some())
        .collect();
    if index.is_empty() {
        return map.iter().collect();
    }
    index.sort_by_key(|(k, _)| array_index(k).unwrap_or(0));
    index.extend(map.iter().filter(|(k, _)| array_index(k).is_none()));
    index
}

fn truthy_json(j: Option<&serde_json::Value>) -> bool {
    match j {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A JSON value as a Hog value.
pub fn json_to_value(j: &serde_json::Value, flavor: JsonFlavor) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => number(n),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::array(items.iter().map(|x| json_to_value(x, flavor)).collect())
        }
        serde_json::Value::Object(map) => {
            let field = |k: &str| map.get(k).map_or(Value::Null, |v| json_to_value(v, flavor));
            if flavor != JsonFlavor::Raw {
                if truthy_json(map.get("__hogDateTime__")) {
                    let zone = field("zone");
                    return Value::DateTime(Rc::new(DateTime {
                        dt: field("dt"),
                        zone: if zone.truthy() {
                            zone
                        } else {
                            Value::str("UTC")
                        },
                    }));
                }
                if truthy_json(map.get("__hogDate__")) {
                    return Value::Date(Rc::new(Date {
                        year: field("year"),
                        month: field("month"),
                        day: field("day"),
                    }));
                }
                if flavor == JsonFlavor::Parse && truthy_json(map.get("__hogError__")) {
                    return Value::Error(Rc::new(new_error(
                        field("type"),
                        field("message"),
                        map.get("payload").map(|p| json_to_value(p, flavor)),
                    )));
                }
            }
            let mut d = Dict::with_capacity(map.len());
            for (k, v) in js_ordered(map) {
                d.insert(Key(Value::str(k)), json_to_value(v, flavor));
            }
            Value::dict(d)
        }
    }
}

/// `newHogError`: an empty type is `Error`, an empty message `An error occurred`.
pub fn new_error(kind: Value, message: Value, payload: Option<Value>) -> HogError {
    HogError {
        kind: if kind.truthy() {
            kind
        } else {
            Value::str("Error")
        },
        message: if message.truthy() {
            message
        } else {
            Value::str("An error occurred")
        },
        payload,
    }
}
