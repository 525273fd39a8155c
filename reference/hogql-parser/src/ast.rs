//! The AST: uniform nodes that mirror PostHog's JSON shape (node name, named fields, optional span).
//!
//! Every node carries its PostHog type name (`kind`, e.g. `"SelectQuery"`), its fields in PostHog's
//! names (`select_from`, `next_join`, ...), and an optional byte span into the source. Fields that
//! PostHog's parsers leave as null/false are simply absent, so the JSON compares directly.

/// A byte span `[start, end)` into the parsed source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: u32,
    /// Byte offset just past the last character.
    pub end: u32,
}

/// One AST node. Equality ignores the order of fields.
#[derive(Debug, Clone)]
pub struct Node {
    /// PostHog's node type name, e.g. `"Field"`.
    pub kind: &'static str,
    /// Where the node came from; `None` for nodes the parser synthesises (e.g. the `0` in `0 - a`).
    pub span: Option<Span>,
    /// Named fields, in insertion order (the JSON writer sorts them by name).
    pub fields: Vec<(&'static str, Value)>,
}

/// A field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A child node.
    Node(Box<Node>),
    /// A list of values (nodes, strings, pairs ...).
    List(Vec<Value>),
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// JSON null (only the value of a NULL constant).
    Null,
    /// A name-keyed map (the `WINDOW` clause).
    Map(Vec<(String, Value)>),
}

/// Dropping a tree takes its descendants apart with an explicit stack, so a tree of any depth
/// is freed without recursion (the derived drop would recurse once per level and overflow a
/// thread's stack on a deep enough tree, whatever the parser's limits).
impl Drop for Node {
    fn drop(&mut self) {
        let nested = |v: &Value| match v {
            Value::Node(_) => true,
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            _ => false,
        };
        if !self.fields.iter().any(|(_, v)| nested(v)) {
            return;
        }
        let mut todo: Vec<Value> = std::mem::take(&mut self.fields)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        while let Some(value) = todo.pop() {
            match value {
                // the child's own drop then finds no fields left
                Value::Node(mut n) => {
                    todo.extend(std::mem::take(&mut n.fields).into_iter().map(|(_, v)| v))
                }
                Value::List(items) => todo.extend(items),
                Value::Map(items) => todo.extend(items.into_iter().map(|(_, v)| v)),
                Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null => {}
            }
        }
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.span == other.span
            && self.fields.len() == other.fields.len()
            && self.fields.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Node {
    /// How many nodes this tree holds, itself included (iterative, so any depth is fine).
    pub fn size(&self) -> usize {
        let mut count = 0;
        let mut todo: Vec<&Value> = Vec::new();
        count += 1;
        todo.extend(self.fields.iter().map(|(_, v)| v));
        while let Some(v) = todo.pop() {
            match v {
                Value::Node(n) => {
                    count += 1;
                    todo.extend(n.fields.iter().map(|(_, v)| v));
                }
                Value::List(vs) => todo.extend(vs.iter()),
                Value::Map(kvs) => todo.extend(kvs.iter().map(|(_, v)| v)),
                Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null => {}
            }
        }
        count
    }

    /// A node with no fields.
    pub fn new(kind: &'static str, span: Option<Span>) -> Self {
        Node {
            kind,
            span,
            fields: Vec::new(),
        }
    }

    /// Builder: adds a field.
    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.fields.push((key, value));
        self
    }

    /// Adds or replaces a field.
    pub fn set(&mut self, key: &'static str, value: Value) {
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.fields.push((key, value));
        }
    }

    /// The field named `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Mutable access to the field named `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Removes and returns the field named `key`.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(k, _)| *k == key)?;
        Some(self.fields.remove(i).1)
    }

    /// The child node in field `key`.
    pub fn node(&self, key: &str) -> Option<&Node> {
        match self.get(key) {
            Some(Value::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// The list in field `key` (empty when absent).
    pub fn list(&self, key: &str) -> &[Value] {
        match self.get(key) {
            Some(Value::List(l)) => l,
            _ => &[],
        }
    }

    /// The string in field `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// True when field `key` holds `true`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    /// Clears the spans of this node and all its descendants.
    pub fn clear_spans(&mut self) {
        self.span = None;
        for (_, v) in &mut self.fields {
            v.clear_spans();
        }
    }

    /// A copy without spans, for comparing trees modulo positions.
    pub fn without_spans(&self) -> Node {
        let mut n = self.clone();
        n.clear_spans();
        n
    }
}

impl Value {
    /// Wraps a node.
    pub fn node(n: Node) -> Value {
        Value::Node(Box::new(n))
    }

    /// A list of nodes.
    pub fn nodes(ns: Vec<Node>) -> Value {
        Value::List(ns.into_iter().map(Value::node).collect())
    }

    /// The node inside, if this is one.
    pub fn as_node(&self) -> Option<&Node> {
        match self {
            Value::Node(n) => Some(n),
            _ => None,
        }
    }

    fn clear_spans(&mut self) {
        match self {
            Value::Node(n) => n.clear_spans(),
            Value::List(l) => l.iter_mut().for_each(Value::clear_spans),
            Value::Map(m) => m.iter_mut().for_each(|(_, v)| v.clear_spans()),
            _ => {}
        }
    }
}

/// A copy of `n` that grows the stack on demand, for trees as deep as the nesting limit allows
/// (the derived `Clone` recurses once per level on whatever stack is left).
pub(crate) fn deep_clone(n: &Node) -> Node {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || Node {
        kind: n.kind,
        span: n.span,
        fields: n
            .fields
            .iter()
            .map(|(k, v)| (*k, deep_clone_value(v)))
            .collect(),
    })
}

fn deep_clone_value(v: &Value) -> Value {
    match v {
        Value::Node(n) => Value::Node(Box::new(deep_clone(n))),
        Value::List(vs) => Value::List(vs.iter().map(deep_clone_value).collect()),
        Value::Map(kvs) => Value::Map(
            kvs.iter()
                .map(|(k, v)| (k.clone(), deep_clone_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
