//! Freeing the reference cycles a Hog program builds.
//!
//! Values are reference counted (`Rc`), so `let a := [1]; a[2] := a` or a dict holding itself would
//! outlive the run: PostHog's JavaScript VM leaves such cycles to the garbage collector, Hogref collects
//! them itself. A cycle can only be closed by a write into an existing container (`SET_PROPERTY` is the
//! one instruction that writes into a container; a new container holds only older values), so the VM
//! records ([`Tracker`]) a `Weak` to every container that received an object as key or value, and
//! when the run ends (it returns or fails, or the VM is dropped) it lets go of its own stack, upvalues
//! and globals and runs [`collect`] on the recorded containers still alive.
//!
//! [`collect`] is trial deletion (as CPython's collector): it finds every object reachable from the
//! candidates, counts for each how many references come from inside that set, and whatever has more
//! holders than that is held from outside (the returned value, a host, the program's constants) and
//! stays intact with everything it reaches. The rest is held only by cycles among themselves: their
//! arrays, tuples and dicts are emptied, which frees them. Work and memory are linear in what the
//! candidates reach, with explicit work lists (no recursion, values can be a million levels deep), and
//! none of it counts against a run's operation or memory budgets. Printing and comparing values do not
//! change: a cycle still prints as `null` while it is alive.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::rc::{Rc, Weak};

use crate::value::{Dict, Value};

/// A recorded container, held weakly.
#[derive(Clone, Debug)]
enum WeakContainer {
    List(Weak<RefCell<Vec<Value>>>, bool),
    Dict(Weak<RefCell<Dict>>),
}

impl WeakContainer {
    fn alive(&self) -> bool {
        match self {
            Self::List(w, _) => w.strong_count() > 0,
            Self::Dict(w) => w.strong_count() > 0,
        }
    }

    fn upgrade(&self) -> Option<Value> {
        match self {
            Self::List(w, false) => w.upgrade().map(Value::Array),
            Self::List(w, true) => w.upgrade().map(Value::Tuple),
            Self::Dict(w) => w.upgrade().map(Value::Dict),
        }
    }
}

/// The containers a run wrote objects into: the only places a cycle can have been closed.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Keyed by address: a `Weak` keeps the allocation, so an address is not reused while recorded.
    written: HashMap<usize, WeakContainer>,
    /// The last address recorded (a loop writing into one container skips the hash).
    last: usize,
    /// When `written` reaches this size, the dead entries are dropped (amortized linear).
    prune_at: usize,
}

impl Tracker {
    /// Records that `obj` had `key`/`value` written into it, if that can have closed a cycle.
    #[inline]
    pub(crate) fn wrote(&mut self, obj: &Value, key: &Value, value: &Value) {
        if !(key.is_object() || value.is_object()) {
            return;
        }
        let Some(addr) = obj.ptr() else { return };
        if addr == self.last {
            return;
        }
        let weak = match obj {
            Value::Array(a) => WeakContainer::List(Rc::downgrade(a), false),
            Value::Tuple(a) => WeakContainer::List(Rc::downgrade(a), true),
            Value::Dict(d) => WeakContainer::Dict(Rc::downgrade(d)),
            _ => return,
        };
        self.last = addr;
        if let Entry::Vacant(e) = self.written.entry(addr) {
            WITNESS.with_borrow_mut(|w| {
                if let Some(w) = w {
                    w.push(weak.clone());
                }
            });
            e.insert(weak);
        }
        if self.written.len() >= self.prune_at {
            self.written.retain(|_, w| w.alive());
            self.last = 0;
            self.prune_at = (self.written.len() * 2).max(1024);
        }
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// Empties the record, giving the containers still alive.
    pub(crate) fn take(&mut self) -> Vec<Value> {
        self.last = 0;
        self.prune_at = 0;
        self.written
            .drain()
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    }
}

thread_local! {
    static WITNESS: RefCell<Option<Vec<WeakContainer>>> = const { RefCell::new(None) };
}

/// For tests: runs `f` (which runs programs on this thread and drops or releases what they return),
/// then tells how many containers the runs wrote objects into (every cycle has one), and how many of
/// them are still alive: 0 when no cycle outlived its run.
#[doc(hidden)]
pub fn written_alive_after(f: impl FnOnce()) -> (usize, usize) {
    let outer = WITNESS.with_borrow_mut(|w| w.replace(Vec::new()));
    f();
    let seen = WITNESS
        .with_borrow_mut(|w| std::mem::replace(w, outer))
        .unwrap_or_default();
    let alive = seen.iter().filter(|w| w.alive()).count();
    (seen.len(), alive)
}

/// Drops a value the host is done with (say a run's returned value), first freeing the reference
/// cycles in it that nothing else holds. Dropping such a value plainly would leak its cycles.
pub fn release(v: Value) {
    collect(vec![v]);
}

/// An object that holds values: its address, or `None` for any other value.
fn node_addr(v: &Value) -> Option<usize> {
    match v {
        Value::Array(_) | Value::Tuple(_) | Value::Dict(_) => v.ptr(),
        Value::Error(_) | Value::DateTime(_) | Value::Date(_) => v.ptr(),
        _ => None,
    }
}

/// The strong count of a node's `Rc`.
fn strong(v: &Value) -> usize {
    match v {
        Value::Array(a) | Value::Tuple(a) => Rc::strong_count(a),
        Value::Dict(d) => Rc::strong_count(d),
        Value::Error(e) => Rc::strong_count(e),
        Value::DateTime(d) => Rc::strong_count(d),
        Value::Date(d) => Rc::strong_count(d),
        _ => 0,
    }
}

/// Calls `f` on every value `v` holds directly; `false` when its contents could not be read (a
/// container borrowed right now).
fn for_each_child(v: &Value, mut f: impl FnMut(&Value)) -> bool {
    match v {
        Value::Array(a) | Value::Tuple(a) => {
            let Ok(items) = a.try_borrow() else {
                return false;
            };
            items.iter().for_each(f);
        }
        Value::Dict(d) => {
            let Ok(map) = d.try_borrow() else {
                return false;
            };
            for (k, v) in map.iter() {
                f(&k.0);
                f(v);
            }
        }
        Value::Error(e) => {
            f(&e.kind);
            f(&e.message);
            if let Some(p) = &e.payload {
                f(p);
            }
        }
        Value::DateTime(d) => {
            f(&d.dt);
            f(&d.zone);
        }
        Value::Date(d) => {
            f(&d.year);
            f(&d.month);
            f(&d.day);
        }
        _ => {}
    }
    true
}

/// Frees the objects reachable from `candidates` that only cycles keep alive (see the module doc);
/// drops `candidates`.
pub(crate) fn collect(candidates: Vec<Value>) {
    // Every object reachable from the candidates, each held once here, with the edges between them.
    let mut nodes: Vec<Value> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    for c in candidates {
        if let Some(addr) = node_addr(&c)
            && !index.contains_key(&addr)
        {
            index.insert(addr, nodes.len());
            nodes.push(c);
        }
    }
    if nodes.is_empty() {
        return;
    }
    let mut internal: Vec<usize> = vec![0; nodes.len()];
    let mut edge_start: Vec<usize> = Vec::with_capacity(nodes.len() + 1);
    let mut edges: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < nodes.len() {
        edge_start.push(edges.len());
        let base = nodes.len();
        let mut found: Vec<Value> = Vec::new();
        let readable = for_each_child(&nodes[i], |child| {
            if let Some(addr) = node_addr(child) {
                let j = *index.entry(addr).or_insert_with(|| {
                    found.push(child.clone());
                    base + found.len() - 1
                });
                edges.push(j);
            }
        });
        if !readable {
            // Some contents are being read or written: nothing can be decided safely now.
            return;
        }
        internal.resize(base + found.len(), 0);
        for &j in &edges[edge_start[i]..] {
            internal[j] += 1;
        }
        nodes.append(&mut found);
        i += 1;
    }
    edge_start.push(edges.len());

    // Held from outside: more strong references than this set (plus the one `nodes` holds) accounts for.
    let mut live = vec![false; nodes.len()];
    let mut work: Vec<usize> = Vec::new();
    for (j, node) in nodes.iter().enumerate() {
        if strong(node) > internal[j] + 1 {
            live[j] = true;
            work.push(j);
        }
    }
    while let Some(j) = work.pop() {
        for &k in &edges[edge_start[j]..edge_start[j + 1]] {
            if !live[k] {
                live[k] = true;
                work.push(k);
            }
        }
    }

    // The rest only cycles hold: empty their containers, then drop what they held.
    let mut garbage: Vec<Value> = Vec::new();
    for (node, _) in nodes.iter().zip(&live).filter(|(_, live)| !**live) {
        match node {
            Value::Array(a) | Value::Tuple(a) => {
                if let Ok(mut items) = a.try_borrow_mut() {
                    garbage.append(&mut items);
                }
            }
            Value::Dict(d) => {
                if let Ok(mut map) = d.try_borrow_mut() {
                    for (k, v) in map.drain(..) {
                        garbage.push(k.0);
                        garbage.push(v);
                    }
                }
            }
            _ => {}
        }
    }
    drop(nodes);
    drop(garbage);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_forgets_dead_containers() {
        // A long run writing into many short-lived containers keeps a bounded record.
        let mut tracker = Tracker::default();
        let live = Value::array(vec![]);
        for _ in 0..100_000 {
            let a = Value::array(vec![]);
            tracker.wrote(&a, &Value::Int(1), &live);
            tracker.wrote(&live, &Value::Int(1), &a);
        }
        assert!(tracker.written.len() <= 1024, "{}", tracker.written.len());
        assert_eq!(tracker.take().len(), 1);
        assert!(tracker.is_empty());
    }

    #[test]
    fn writes_of_plain_values_are_not_recorded() {
        let mut tracker = Tracker::default();
        let a = Value::array(vec![]);
        tracker.wrote(&a, &Value::Int(1), &Value::str("x"));
        assert!(tracker.is_empty());
        tracker.wrote(&a, &a, &Value::Null);
        assert!(!tracker.is_empty());
    }

    #[test]
    fn collect_frees_only_what_cycles_alone_hold() {
        let held = Value::array(vec![Value::Int(7)]);
        let cyclic = Value::array(vec![held.clone()]);
        let Value::Array(rc) = &cyclic else {
            unreachable!()
        };
        rc.borrow_mut().push(cyclic.clone());
        let weak = Rc::downgrade(rc);
        collect(vec![cyclic]);
        assert_eq!(weak.strong_count(), 0);
        let Value::Array(h) = &held else {
            unreachable!()
        };
        assert_eq!(h.borrow().len(), 1);
        assert_eq!(Rc::strong_count(h), 1);
    }
}
