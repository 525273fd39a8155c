//! Strict reading of a request object: every key must be known (or explicitly tolerated), and every
//! error names the field by its path.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// An object being read, with the path used in error messages.
#[derive(Debug)]
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

/// Keys PostHog's frontend sends on every node that change nothing about the numbers.
const TOLERATED: &[&str] = &["version", "tags", "response", "kind"];

impl<'a> Obj<'a> {
    /// `value` as an object at `path`.
    pub(crate) fn new(path: impl Into<String>, value: &'a Value) -> Result<Obj<'a>> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Obj { path, map }),
            _ => Err(Error::invalid(path, "must be an object")),
        }
    }

    /// The path of a child field.
    pub(crate) fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Fails on the first key that is neither in `known` nor tolerated.
    pub(crate) fn deny_unknown(&self, known: &[&str]) -> Result<()> {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) && !TOLERATED.contains(&key.as_str()) {
                return Err(Error::invalid(self.child(key), "unknown field"));
            }
        }
        Ok(())
    }

    /// The value of `key`, `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid(self.child(key), "must be a string")),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(self.child(key), "must be a boolean")),
        }
    }

    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::invalid(self.child(key), "must be an integer")),
        }
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| Error::invalid(self.child(key), "must be a number")),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(Error::invalid(self.child(key), "must be an array")),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Obj::new(self.child(key), v).map(Some),
        }
    }

    /// Fails when `key` is present with a value other than null, false, 1 or an empty list.
    pub(crate) fn reject_set(&self, key: &str, what: &str) -> Result<()> {
        match self.get(key) {
            None | Some(Value::Bool(false)) => Ok(()),
            Some(Value::Array(a)) if a.is_empty() => Ok(()),
            Some(Value::Object(o)) if o.is_empty() => Ok(()),
            Some(_) => Err(Error::unsupported(self.child(key), what)),
        }
    }
}
