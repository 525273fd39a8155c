//! The interpreter loop: one [`Vm`] runs one program until it finishes, fails, or suspends on an async
//! call, which the host answers with [`Vm::resume`].
//!
//! It follows PostHog's VM instruction by instruction (the instruction pointer moves the same way, so
//! even odd but valid bytecode behaves the same), with its limits: 1000 nested calls, 300 arguments, 100
//! async steps, a time budget read from the host's clock, and a memory limit on the stack. Every limit is
//! an error with a code; nothing in here panics, whatever the bytecode.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Code, Error, Result};
use crate::gc;
use crate::js;
use crate::ops::{self, Cmp};
use crate::print;
use crate::program::{JsonFlavor, Program, json_to_value, new_error};
use crate::stl::{self, Stl};
use crate::value::{Callable, CallableKind, Chunk, Closure, Dict, Key, Value};

/// PostHog's limit on nested calls.
pub const CALLSTACK_LENGTH: usize = 1000;
/// PostHog's limit on arguments of one call.
pub const MAX_FUNCTION_ARGS_LENGTH: i64 = 300;
/// PostHog's default number of async calls per run.
pub const DEFAULT_MAX_ASYNC_STEPS: u32 = 100;
/// PostHog's default memory limit (bytes of stack).
pub const DEFAULT_MAX_MEMORY: usize = 64 * 1024 * 1024;
/// PostHog's default time budget.
pub const DEFAULT_TIMEOUT_MS: f64 = 5000.0;

/// What the VM needs from the world: a clock, randomness and an output for `print`.
pub trait Host {
    /// Milliseconds since the Unix epoch (the time budget and `now()` read it).
    fn now_ms(&mut self) -> f64;
    /// A random float in [0, 1).
    fn random(&mut self) -> f64;
    /// One line `print` wrote.
    fn print(&mut self, line: &str);
}

/// How a run is limited and what it sees.
#[derive(Clone, Debug)]
pub struct Options {
    /// The globals (a dict); `GET_GLOBAL` reads through it.
    pub globals: Value,
    /// Names of the host's async functions (`fetch`, `postHogCapture`, ...): calling one suspends the run.
    pub async_functions: Vec<String>,
    /// The time budget over all sync steps, in milliseconds.
    pub timeout_ms: f64,
    /// An operation budget (deterministic, unlike the time budget); `None` for none.
    pub max_ops: Option<u64>,
    /// The memory limit in bytes (0 for none).
    pub memory_limit: usize,
    /// How many async calls a run may make.
    pub max_async_steps: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            globals: Value::dict(Dict::new()),
            async_functions: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_ops: None,
            memory_limit: DEFAULT_MAX_MEMORY,
            max_async_steps: DEFAULT_MAX_ASYNC_STEPS,
        }
    }
}

impl Options {
    /// Sets the globals from JSON (dates marked `__hogDateTime__` become datetimes, as PostHog converts).
    #[must_use]
    pub fn with_globals_json(mut self, globals: &serde_json::Value) -> Self {
        self.globals = json_to_value(globals, JsonFlavor::Globals);
        self
    }
}

/// How a run ended (for now).
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The program returned this value.
    Finished(Value),
    /// The program called an async function; run it and pass its result to [`Vm::resume`].
    Suspended {
        /// The function's name.
        name: String,
        /// Its arguments.
        args: Vec<Value>,
    },
}

#[derive(Clone, Debug)]
struct Frame {
    ip: i64,
    chunk: Chunk,
    stack_start: usize,
    closure: Rc<Closure>,
}

#[derive(Clone, Debug)]
struct Upvalue {
    location: usize,
    closed: bool,
    value: Value,
}

#[derive(Clone, Copy, Debug)]
struct TryFrame {
    call_stack_len: usize,
    stack_len: usize,
    catch_ip: i64,
}

/// A running program.
#[derive(Debug)]
pub struct Vm {
    program: Program,
    stl: Rc<Stl>,
    options: Options,
    stack: Vec<Value>,
    costs: Vec<u32>,
    mem_used: usize,
    created: usize,
    frames: Vec<Frame>,
    throw_stack: Vec<TryFrame>,
    upvalues: Vec<Upvalue>,
    /// Upvalue ids ordered by stack location (ties in creation order), as PostHog keeps them.
    sorted_upvalues: Vec<usize>,
    declared: HashMap<String, (i64, i64)>,
    ops: u64,
    async_steps: u32,
    sync_ms: f64,
    done: bool,
    /// The containers written into, where the run may have closed reference cycles.
    written: gc::Tracker,
    pub(crate) regex_cache: HashMap<String, Rc<regex::Regex>>,
}

/// A VM dropped before its run ended (say, suspended on an async call the host gave up on) frees
/// the cycles the run built too.
impl Drop for Vm {
    fn drop(&mut self) {
        self.free_cycles();
    }
}

/// Cost of a value on the stack: 8 bytes, plus its characters for a string, plus 8 per element of a
/// container (shallow: the elements were counted when they were on the stack).
#[inline]
fn cost(v: &Value) -> u32 {
    let n = match v {
        Value::Str(s) => 8 + s.len(),
        Value::Array(a) | Value::Tuple(a) => 8 + 8 * a.borrow().len(),
        Value::Dict(d) => 8 + 16 * d.borrow().len(),
        _ => 8,
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn bad(message: impl Into<String>) -> Error {
    Error::vm(Code::BadInstruction, message)
}

#[inline]
fn operand_int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        #[allow(clippy::cast_possible_truncation)]
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
        other => Err(bad(format!("Invalid operand: {}", print::raw_json(other)))),
    }
}

fn root_closure() -> Rc<Closure> {
    Rc::new(Closure {
        callable: Rc::new(Callable {
            kind: CallableKind::Local,
            name: Value::str(""),
            chunk: Chunk::Root,
            arg_count: 0,
            upvalue_count: 0,
            ip: 1,
        }),
        upvalues: Vec::new(),
    })
}

impl Vm {
    /// A VM ready to run `program`.
    pub fn new(program: &Program, options: Options) -> Self {
        Self {
            program: program.clone(),
            stl: stl::shared(),
            options,
            stack: Vec::with_capacity(64),
            costs: Vec::with_capacity(64),
            mem_used: 0,
            created: 0,
            frames: vec![Frame {
                ip: 0,
                chunk: Chunk::Root,
                stack_start: 0,
                closure: root_closure(),
            }],
            throw_stack: Vec::new(),
            upvalues: Vec::new(),
            sorted_upvalues: Vec::new(),
            declared: HashMap::new(),
            ops: 0,
            async_steps: 0,
            sync_ms: 0.0,
            done: false,
            written: gc::Tracker::default(),
            regex_cache: HashMap::new(),
        }
    }

    /// Operations performed so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Runs until the program finishes, fails or suspends.
    pub fn run(&mut self, host: &mut dyn Host) -> Result<Outcome> {
        if self.done {
            return Err(Error::vm(
                Code::InvalidBytecode,
                "the program already finished",
            ));
        }
        let start = host.now_ms();
        let result = self.run_inner(host, start);
        match &result {
            Ok(Outcome::Suspended { .. }) => self.sync_ms += host.now_ms() - start,
            _ => {
                self.done = true;
                self.free_cycles();
            }
        }
        result
    }

    /// Lets go of the run's state (stack, upvalues, globals), then frees the reference cycles the run
    /// built that nothing outside holds (see [`gc`]); what the host holds, such as the returned value,
    /// stays intact. Only once the run is over: at its end, or when the VM is dropped.
    fn free_cycles(&mut self) {
        if self.written.is_empty() {
            return;
        }
        self.stack.clear();
        self.costs.clear();
        self.mem_used = 0;
        self.upvalues.clear();
        self.sorted_upvalues.clear();
        self.frames.clear();
        self.throw_stack.clear();
        self.options.globals = Value::Null;
        gc::collect(self.written.take());
    }

    /// Answers the async call the run is suspended on, then continues it.
    pub fn resume(&mut self, value: Value, host: &mut dyn Host) -> Result<Outcome> {
        self.push(value)?;
        self.run(host)
    }

    fn chunk_code(&self, chunk: &Chunk) -> Result<Rc<[Value]>> {
        match chunk {
            Chunk::Root => Ok(Rc::clone(&self.program.code)),
            Chunk::Stl(i) => self
                .stl
                .bytecode
                .get(*i)
                .map(|b| Rc::clone(&b.code))
                .ok_or_else(|| Error::vm(Code::BadInstruction, "Unknown chunk")),
            Chunk::None(name) => Err(Error::vm(
                Code::BadInstruction,
                format!("Unknown chunk: {name}"),
            )),
        }
    }

    fn chunk_name(chunk: &Chunk, stl: &Stl) -> String {
        match chunk {
            Chunk::Root => "root".into(),
            Chunk::Stl(i) => format!("stl/{}", stl.bytecode.get(*i).map_or("", |b| b.name)),
            Chunk::None(n) => (*n).to_string(),
        }
    }

    /// Enters the top frame's chunk; skips the header when the frame starts at 0.
    fn enter_chunk(&mut self) -> Result<Rc<[Value]>> {
        let chunk = self
            .frames
            .last()
            .map(|f| f.chunk.clone())
            .unwrap_or(Chunk::Root);
        let code = self.chunk_code(&chunk)?;
        if let Some(frame) = self.frames.last_mut()
            && frame.ip == 0
        {
            match code.first() {
                Some(Value::Str(s)) if &**s == "_H" => frame.ip += 2,
                Some(Value::Str(s)) if &**s == "_h" => frame.ip += 1,
                _ => {}
            }
        }
        Ok(code)
    }

    #[inline]
    pub(crate) fn push(&mut self, v: Value) -> Result<()> {
        let c = cost(&v);
        // A value nobody else holds was just made: count it against the run's allocation budget.
        let fresh = match &v {
            Value::Str(s) => Rc::strong_count(s) == 1,
            Value::Array(a) | Value::Tuple(a) => Rc::strong_count(a) == 1,
            Value::Dict(d) => Rc::strong_count(d) == 1,
            _ => false,
        };
        if fresh && self.options.memory_limit > 0 {
            self.created += c as usize;
            if self.created > self.options.memory_limit.saturating_mul(16) {
                return Err(Error::vm(
                    Code::MemoryLimit,
                    format!(
                        "Allocation limit of {} bytes exceeded over the run",
                        self.options.memory_limit.saturating_mul(16)
                    ),
                ));
            }
        }
        self.mem_used += c as usize;
        if self.options.memory_limit > 0 && self.mem_used > self.options.memory_limit {
            return Err(Error::vm(
                Code::MemoryLimit,
                format!(
                    "Memory limit of {} bytes exceeded. Tried to allocate {} bytes.",
                    self.options.memory_limit, self.mem_used
                ),
            ));
        }
        self.costs.push(c);
        self.stack.push(v);
        Ok(())
    }

    #[inline]
    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(v) => {
                self.mem_used -= self.costs.pop().unwrap_or(0) as usize;
                Ok(v)
            }
            None => Err(Error::vm(
                Code::StackUnderflow,
                "Invalid HogQL bytecode, stack is empty, can not pop",
            )),
        }
    }

    /// Closes the upvalues at or above `count`, then cuts the stack to `count` values.
    fn close_upvalues(&mut self, count: usize) {
        for &id in self.sorted_upvalues.iter().rev() {
            let Some(u) = self.upvalues.get_mut(id - 1) else {
                continue;
            };
            if u.location < count {
                break;
            }
            if !u.closed {
                u.closed = true;
                u.value = self.stack.get(u.location).cloned().unwrap_or(Value::Null);
            }
        }
    }

    fn keep_first(&mut self, count: usize) -> Result<()> {
        if self.stack.len() < count {
            return Err(Error::vm(Code::StackUnderflow, "Stack underflow"));
        }
        self.close_upvalues(count);
        for c in self.costs.drain(count..) {
            self.mem_used -= c as usize;
        }
        self.stack.truncate(count);
        Ok(())
    }

    fn split_off(&mut self, count: usize) -> Result<Vec<Value>> {
        if self.stack.len() < count {
            return Err(Error::vm(Code::StackUnderflow, "Stack underflow"));
        }
        self.close_upvalues(count);
        for c in self.costs.drain(count..) {
            self.mem_used -= c as usize;
        }
        Ok(self.stack.split_off(count))
    }

    /// `spliceStack2`: takes the top `n` values without closing upvalues (DICT, ARRAY, TUPLE).
    fn splice_top(&mut self, n: i64) -> Vec<Value> {
        if n <= 0 {
            return Vec::new();
        }
        let start = self
            .stack
            .len()
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
        for c in self.costs.drain(start..) {
            self.mem_used -= c as usize;
        }
        self.stack.split_off(start)
    }

    fn capture_upvalue(&mut self, location: usize) -> usize {
        for &id in self.sorted_upvalues.iter().rev() {
            let loc = self.upvalues[id - 1].location;
            if loc < location {
                break;
            }
            if loc == location {
                return id;
            }
        }
        self.upvalues.push(Upvalue {
            location,
            closed: false,
            value: Value::Null,
        });
        let id = self.upvalues.len();
        let pos = self
            .sorted_upvalues
            .partition_point(|&i| self.upvalues[i - 1].location <= location);
        self.sorted_upvalues.insert(pos, id);
        id
    }

    fn check_timeout(&mut self, host: &mut dyn Host, start: f64) -> Result<()> {
        if let Some(max) = self.options.max_ops
            && self.ops > max
        {
            return Err(Error::vm(
                Code::Timeout,
                format!(
                    "Execution exceeded the budget of {max} operations. Performed {} ops.",
                    self.ops
                ),
            ));
        }
        if self.sync_ms + host.now_ms() - start > self.options.timeout_ms {
            return Err(Error::vm(
                Code::Timeout,
                format!(
                    "Execution timed out after {} seconds. Performed {} ops.",
                    js::number_to_string(self.options.timeout_ms / 1000.0),
                    self.ops
                ),
            ));
        }
        Ok(())
    }

    fn is_async(&self, name: &str) -> bool {
        name == "sleep" || self.options.async_functions.iter().any(|n| n == name)
    }

    /// Pops a call's arguments in call order (version 0 bytecode pushed them reversed).
    fn call_args(&mut self, count: i64) -> Result<Vec<Value>> {
        if self.program.version == 0.0 {
            let n =
                usize::try_from(count).map_err(|_| Error::type_error("Invalid array length"))?;
            let mut args = Vec::with_capacity(n);
            for _ in 0..n {
                args.push(self.pop()?);
            }
            Ok(args)
        } else {
            let n = usize::try_from(count).unwrap_or(usize::MAX);
            let start = self
                .stack
                .len()
                .checked_sub(n)
                .ok_or_else(|| Error::vm(Code::StackUnderflow, "Stack underflow"))?;
            self.split_off(start)
        }
    }

    fn global(&mut self, chain: &[Value], chunk: &Chunk) -> Result<Value> {
        let first = chain
            .first()
            .map(js::to_string)
            .unwrap_or_else(|| "undefined".into());
        if matches!(chunk, Chunk::Root)
            && let Value::Dict(g) = &self.options.globals
        {
            let found = g.borrow().get(&Key(Value::str(&first))).cloned();
            if let Some(mut v) = found {
                for key in &chain[1..] {
                    if matches!(v, Value::Null) {
                        break;
                    }
                    v = global_step(&v, key)?;
                }
                return Ok(deep_copy(&v));
            }
        }
        if chain.len() == 1 {
            let async_args = if first == "sleep" {
                Some(1)
            } else if self.options.async_functions.contains(&first) {
                Some(0)
            } else {
                None
            };
            if let Some(arg_count) = async_args {
                return Ok(fn_closure(
                    CallableKind::Async,
                    &first,
                    Chunk::None("async"),
                    arg_count,
                    -1,
                ));
            }
            if let Some(f) = self.stl.native(&first) {
                let arg_count = f.max.map_or(0, |m| i64::try_from(m).unwrap_or(0));
                return Ok(fn_closure(
                    CallableKind::Stl,
                    &first,
                    Chunk::None("stl"),
                    arg_count,
                    -1,
                ));
            }
            if let Some(i) = self.stl.bytecode_index(&first) {
                let arg_count = i64::try_from(self.stl.bytecode[i].args).unwrap_or(0);
                return Ok(fn_closure(
                    CallableKind::Stl,
                    &first,
                    Chunk::Stl(i),
                    arg_count,
                    0,
                ));
            }
        }
        let names: Vec<String> = chain
            .iter()
            .map(|v| {
                if matches!(v, Value::Null) {
                    String::new()
                } else {
                    js::to_string(v)
                }
            })
            .collect();
        Err(Error::vm(
            Code::GlobalNotFound,
            format!("Global variable not found: {}", names.join(".")),
        ))
    }

    fn regex_match(&mut self, pattern: &str, value: &Value) -> Result<bool> {
        let re = self.regex(pattern)?;
        Ok(re.is_match(&js::to_string(value)))
    }

    pub(crate) fn regex(&mut self, pattern: &str) -> Result<Rc<regex::Regex>> {
        if let Some(re) = self.regex_cache.get(pattern) {
            return Ok(Rc::clone(re));
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map_err(|e| Error::type_error(format!("invalid regular expression: {e}")))?;
        let re = Rc::new(re);
        if self.regex_cache.len() > 256 {
            self.regex_cache.clear();
        }
        self.regex_cache.insert(pattern.to_string(), Rc::clone(&re));
        Ok(re)
    }

    #[allow(clippy::too_many_lines)]
    fn run_inner(&mut self, host: &mut dyn Host, start: f64) -> Result<Outcome> {
        let mut code = self.enter_chunk()?;
        let mut ip = self.frames.last().map_or(0, |f| f.ip);
        let mut stack_start = self.frames.last().map_or(0, |f| f.stack_start);
        let version = self.program.version;
        let op_limit = self.options.max_ops.unwrap_or(u64::MAX);

        macro_rules! next {
            () => {{
                if ip >= code.len() as i64 - 1 {
                    return Err(Error::vm(
                        Code::BadInstruction,
                        "Unexpected end of bytecode",
                    ));
                }
                ip += 1;
                usize::try_from(ip)
                    .ok()
                    .and_then(|i| code.get(i))
                    .cloned()
                    .unwrap_or(Value::Null)
            }};
        }
        macro_rules! next_int {
            () => {{
                let v = next!();
                operand_int(&v)?
            }};
        }
        // Saves the current frame's ip (before a call or when the frame is left).
        macro_rules! save_ip {
            () => {
                if let Some(f) = self.frames.last_mut() {
                    f.ip = ip;
                }
            };
        }
        // Loads the top frame after the frame stack changed.
        macro_rules! load_frame {
            () => {{
                code = self.enter_chunk()?;
                let f = self
                    .frames
                    .last()
                    .ok_or_else(|| Error::vm(Code::StackUnderflow, "no call frame"))?;
                ip = f.ip;
                stack_start = f.stack_start;
            }};
        }

        loop {
            if ip >= code.len() as i64 {
                let last = self.frames.pop();
                if last.is_none() || self.frames.is_empty() {
                    let result = if self.stack.is_empty() {
                        Value::Null
                    } else {
                        self.pop()?
                    };
                    return Ok(Outcome::Finished(result));
                }
                let start_of = last.map_or(0, |f| f.stack_start);
                self.keep_first(start_of)?;
                self.push(Value::Null)?;
                load_frame!();
            }
            self.ops += 1;
            // The operation budget is exact (one compare); the clock is read every 32 operations, as PostHog does.
            if self.ops & 31 == 0 || self.ops > op_limit {
                save_ip!();
                self.check_timeout(host, start)?;
            }
            let op = usize::try_from(ip).ok().and_then(|i| code.get(i));
            let opcode = match op {
                Some(Value::Int(i)) => *i,
                Some(Value::Null) => {
                    ip += 1;
                    continue;
                }
                other => {
                    let shown = other.map_or_else(|| "undefined".to_string(), js::to_string);
                    let chunk = self
                        .frames
                        .last()
                        .map(|f| Self::chunk_name(&f.chunk, &self.stl))
                        .unwrap_or_default();
                    return Err(bad(format!(
                        "Unexpected node while running bytecode in chunk \"{chunk}\": {shown}"
                    )));
                }
            };
            match opcode {
                32..=34 => {
                    let v = next!();
                    self.push(v)?;
                }
                29 => self.push(Value::Bool(true))?,
                30 => self.push(Value::Bool(false))?,
                31 => self.push(Value::Null)?,
                5 => {
                    let v = self.pop()?;
                    self.push(Value::Bool(!v.truthy()))?;
                }
                3 | 4 => {
                    let n = next_int!();
                    let mut acc = opcode == 3;
                    for _ in 0..n.max(0) {
                        let v = self.pop()?.truthy();
                        acc = if opcode == 3 { v && acc } else { v || acc };
                    }
                    self.push(Value::Bool(acc))?;
                }
                6..=10 => {
                    let a = self.pop()?;
                    let b = self.pop()?;
                    let r = match opcode {
                        6 => ops::add(&a, &b),
                        7 => ops::sub(&a, &b),
                        8 => ops::mul(&a, &b),
                        9 => ops::div(&a, &b),
                        _ => ops::rem(&a, &b),
                    };
                    self.push(r)?;
                }
                11..=16 => {
                    let left = self.pop()?;
                    let right = self.pop()?;
                    let cmp = match opcode {
                        11 => Cmp::Eq,
                        12 => Cmp::NotEq,
                        13 => Cmp::Gt,
                        14 => Cmp::GtEq,
                        15 => Cmp::Lt,
                        _ => Cmp::LtEq,
                    };
                    self.push(Value::Bool(ops::compare(&left, &right, cmp)))?;
                }
                17..=20 => {
                    let string = self.pop()?;
                    let pattern = self.pop()?;
                    let ci = opcode == 18 || opcode == 20;
                    let m = self.regex_match(&ops::like_regex(&pattern, ci), &string)?;
                    self.push(Value::Bool(if opcode <= 18 { m } else { !m }))?;
                }
                21 | 22 => {
                    let item = self.pop()?;
                    let container = self.pop()?;
                    let found = ops::includes(&container, &item)?;
                    self.push(Value::Bool(if opcode == 21 { found } else { !found }))?;
                }
                23..=26 => {
                    let value = self.pop()?;
                    let regex = self.pop()?;
                    let pattern = if opcode >= 25 {
                        Value::string(format!("(?i){}", js::to_string(&regex)))
                    } else {
                        regex
                    };
                    let m = if pattern.truthy() && value.truthy() {
                        self.regex_match(&js::to_string(&pattern), &value)?
                    } else {
                        false
                    };
                    self.push(Value::Bool(if opcode == 23 || opcode == 25 {
                        m
                    } else {
                        !m
                    }))?;
                }
                1 => {
                    let count = next_int!();
                    let mut chain = Vec::new();
                    for _ in 0..count.max(0) {
                        chain.push(self.pop()?);
                    }
                    let chunk = self.frames.last().map_or(Chunk::Root, |f| f.chunk.clone());
                    let v = self.global(&chain, &chunk)?;
                    self.push(v)?;
                }
                35 => {
                    self.pop()?;
                }
                57 => {
                    let n = self
                        .stack
                        .len()
                        .checked_sub(1)
                        .ok_or_else(|| Error::vm(Code::StackUnderflow, "Stack underflow"))?;
                    self.keep_first(n)?;
                }
                38 => {
                    let result = self.pop()?;
                    let last = self.frames.pop();
                    if self.frames.is_empty() || last.is_none() {
                        self.stack.clear();
                        self.costs.clear();
                        self.mem_used = 0;
                        return Ok(Outcome::Finished(result));
                    }
                    self.keep_first(last.map_or(0, |f| f.stack_start))?;
                    self.push(result)?;
                    load_frame!();
                    continue;
                }
                36 => {
                    let i = next_int!();
                    let idx = i64::try_from(stack_start)
                        .unwrap_or(i64::MAX)
                        .saturating_add(i);
                    let v = usize::try_from(idx)
                        .ok()
                        .and_then(|i| self.stack.get(i))
                        .cloned()
                        .unwrap_or(Value::Null);
                    self.push(v)?;
                }
                37 => {
                    let i = next_int!();
                    let idx = i64::try_from(stack_start)
                        .unwrap_or(i64::MAX)
                        .saturating_add(i);
                    let v = self.pop()?;
                    if let Ok(idx) = usize::try_from(idx) {
                        self.set_slot(idx, v)?;
                    }
                }
                45 | 48 => {
                    let key = self.pop()?;
                    let obj = self.pop()?;
                    let v = ops::get_property(&obj, &key)?;
                    self.push(v)?;
                }
                46 => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let obj = self.pop()?;
                    self.written.wrote(&obj, &key, &value);
                    ops::set_property(&obj, &key, value)?;
                }
                42 => {
                    let n = next_int!();
                    let items = self.splice_top(n.saturating_mul(2));
                    let mut d = Dict::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let Some(k) = it.next() {
                        let v = it.next().unwrap_or(Value::Null);
                        d.insert(Key(k), v);
                    }
                    self.push(Value::dict(d))?;
                }
                43 | 44 => {
                    let n = next_int!();
                    let items = self.splice_top(n);
                    self.push(if opcode == 43 {
                        Value::array(items)
                    } else {
                        Value::tuple(items)
                    })?;
                }
                39 => {
                    let off = next_int!();
                    ip = ip.saturating_add(off);
                }
                40 => {
                    let off = next_int!();
                    if !self.pop()?.truthy() {
                        ip = ip.saturating_add(off);
                    }
                }
                47 => {
                    let off = next_int!();
                    if self.stack.last().is_some_and(|v| !matches!(v, Value::Null)) {
                        ip = ip.saturating_add(off);
                    }
                }
                41 => {
                    let name = next!();
                    let arg_count = next_int!();
                    let body = next_int!();
                    self.declared
                        .insert(js::to_string(&name), (ip + 1, arg_count));
                    ip = ip.saturating_add(body);
                }
                52 => {
                    let name = next!();
                    let arg_count = next_int!();
                    let upvalue_count = next_int!();
                    let body = next_int!();
                    let chunk = self.frames.last().map_or(Chunk::Root, |f| f.chunk.clone());
                    self.push(Value::Callable(Rc::new(Callable {
                        kind: CallableKind::Local,
                        name,
                        chunk,
                        arg_count,
                        upvalue_count,
                        ip: ip + 1,
                    })))?;
                    ip = ip.saturating_add(body);
                }
                53 => {
                    let callable = self.pop()?;
                    let Value::Callable(callable) = &callable else {
                        return Err(Error::vm(
                            Code::NotCallable,
                            format!("Invalid callable: {}", print::raw_json(&callable)),
                        ));
                    };
                    let callable = Rc::clone(callable);
                    let count = next_int!();
                    if count != callable.upvalue_count {
                        return Err(Error::vm(
                            Code::Upvalue,
                            format!(
                                "Invalid upvalue count. Expected {}, got {count}",
                                callable.upvalue_count
                            ),
                        ));
                    }
                    let mut ids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
                    for _ in 0..count {
                        let is_local = next!().truthy();
                        let index = next_int!();
                        if is_local {
                            let loc =
                                usize::try_from(i64::try_from(stack_start).unwrap_or(0) + index)
                                    .map_err(|_| bad("Invalid upvalue location"))?;
                            ids.push(self.capture_upvalue(loc));
                        } else {
                            let outer = self.frames.last().map(|f| Rc::clone(&f.closure));
                            let id = outer
                                .and_then(|c| {
                                    usize::try_from(index)
                                        .ok()
                                        .and_then(|i| c.upvalues.get(i).copied())
                                })
                                .unwrap_or(0);
                            ids.push(id);
                        }
                    }
                    self.push(Value::Closure(Rc::new(Closure {
                        callable,
                        upvalues: ids,
                    })))?;
                }
                55 | 56 => {
                    let index = next_int!();
                    let closure = self.frames.last().map(|f| Rc::clone(&f.closure));
                    let ups = closure.map(|c| c.upvalues.clone()).unwrap_or_default();
                    if index >= i64::try_from(ups.len()).unwrap_or(i64::MAX) {
                        return Err(Error::vm(
                            Code::Upvalue,
                            format!("Invalid upvalue index: {index}"),
                        ));
                    }
                    let id = usize::try_from(index)
                        .ok()
                        .and_then(|i| ups.get(i).copied())
                        .unwrap_or(0);
                    if id == 0 || id > self.upvalues.len() {
                        return Err(Error::vm(Code::Upvalue, "Invalid upvalue: undefined"));
                    }
                    if opcode == 55 {
                        let u = &self.upvalues[id - 1];
                        let v = if u.closed {
                            u.value.clone()
                        } else {
                            self.stack.get(u.location).cloned().unwrap_or(Value::Null)
                        };
                        self.push(v)?;
                    } else {
                        let v = self.pop()?;
                        let u = &mut self.upvalues[id - 1];
                        if u.closed {
                            u.value = v;
                        } else {
                            let loc = u.location;
                            self.set_slot(loc, v)?;
                        }
                    }
                }
                2 => {
                    save_ip!();
                    self.check_timeout(host, start)?;
                    let name_v = next!();
                    let name = js::to_string(&name_v);
                    let argc = next_int!();
                    if name != "toString"
                        && let Some(&(func_ip, arg_len)) = self.declared.get(&name)
                    {
                        ip += 1;
                        for _ in argc..arg_len {
                            self.push(Value::Null)?;
                        }
                        save_ip!();
                        let chunk = self.frames.last().map_or(Chunk::Root, |f| f.chunk.clone());
                        let closure = fn_closure_rc(
                            CallableKind::Local,
                            &name,
                            chunk.clone(),
                            arg_len,
                            func_ip,
                        );
                        self.frames.push(Frame {
                            ip: func_ip,
                            chunk,
                            stack_start: self
                                .stack
                                .len()
                                .saturating_sub(usize::try_from(arg_len).unwrap_or(0)),
                            closure,
                        });
                        load_frame!();
                        continue;
                    }
                    if argc > i64::try_from(self.stack.len()).unwrap_or(i64::MAX) {
                        return Err(Error::vm(Code::Arity, "Not enough arguments on the stack"));
                    }
                    if argc > MAX_FUNCTION_ARGS_LENGTH {
                        return Err(Error::vm(Code::Arity, "Too many arguments"));
                    }
                    if name == "import" {
                        let args = self.call_args(argc)?;
                        if args.len() != 1 {
                            return Err(Error::vm(
                                Code::Arity,
                                format!("Function {name} requires exactly 1 argument"),
                            ));
                        }
                        return Err(Error::vm(
                            Code::NotCallable,
                            format!("Unknown chunk: {}", js::to_string(&args[0])),
                        ));
                    }
                    if name != "toString" && self.is_async(&name) {
                        if self.async_steps >= self.options.max_async_steps {
                            return Err(Error::vm(
                                Code::AsyncSteps,
                                format!(
                                    "Exceeded maximum number of async steps: {}",
                                    self.options.max_async_steps
                                ),
                            ));
                        }
                        let args = self.call_args(argc)?;
                        ip += 1;
                        save_ip!();
                        self.async_steps += 1;
                        return Ok(Outcome::Suspended { name, args });
                    }
                    if let Some(f) = self.stl.native(&name) {
                        let n = usize::try_from(argc).unwrap_or(0);
                        if n < f.min {
                            return Err(Error::vm(
                                Code::Arity,
                                format!("Function {name} requires at least {} arguments", f.min),
                            ));
                        }
                        if let Some(max) = f.max
                            && n > max
                        {
                            return Err(Error::vm(
                                Code::Arity,
                                format!("Function {name} requires at most {max} arguments"),
                            ));
                        }
                        let func = f.func;
                        let args = self.call_args(argc)?;
                        let v = func(
                            &mut stl::Ctx {
                                vm: self,
                                host,
                                name: &name,
                            },
                            args,
                        )?;
                        self.push(v)?;
                    } else if let Some(i) = self.stl.bytecode_index(&name) {
                        let want = self.stl.bytecode[i].args;
                        if usize::try_from(argc).ok() != Some(want) {
                            return Err(Error::vm(
                                Code::Arity,
                                format!("Function {name} requires exactly {want} arguments"),
                            ));
                        }
                        ip += 1;
                        save_ip!();
                        let closure =
                            fn_closure_rc(CallableKind::Stl, &name, Chunk::Stl(i), argc, 0);
                        self.frames.push(Frame {
                            ip: 0,
                            chunk: Chunk::Stl(i),
                            stack_start: self.stack.len() - want,
                            closure,
                        });
                        load_frame!();
                        if self.frames.len() > CALLSTACK_LENGTH {
                            return Err(Error::vm(
                                Code::CallStackOverflow,
                                format!("Call stack exceeded maximum length of {CALLSTACK_LENGTH}"),
                            ));
                        }
                        continue;
                    } else {
                        return Err(Error::vm(
                            Code::NotCallable,
                            format!("Unsupported function call: {name}"),
                        ));
                    }
                }
                54 => {
                    save_ip!();
                    self.check_timeout(host, start)?;
                    let closure = self.pop()?;
                    let Value::Closure(closure) = &closure else {
                        return Err(Error::vm(
                            Code::NotCallable,
                            format!("Invalid closure: {}", print::raw_json(&closure)),
                        ));
                    };
                    let closure = Rc::clone(closure);
                    let argc = next_int!();
                    if argc > i64::try_from(self.stack.len()).unwrap_or(i64::MAX) {
                        return Err(Error::vm(Code::Arity, "Not enough arguments on the stack"));
                    }
                    if argc > MAX_FUNCTION_ARGS_LENGTH {
                        return Err(Error::vm(Code::Arity, "Too many arguments"));
                    }
                    let callable = Rc::clone(&closure.callable);
                    match callable.kind {
                        CallableKind::Local => {
                            if callable.arg_count > argc {
                                for _ in argc..callable.arg_count {
                                    self.push(Value::Null)?;
                                }
                            } else if callable.arg_count < argc {
                                return Err(Error::vm(
                                    Code::Arity,
                                    format!(
                                        "Too many arguments. Passed {argc}, expected {}",
                                        callable.arg_count
                                    ),
                                ));
                            }
                            ip += 1;
                            save_ip!();
                            let n = usize::try_from(callable.arg_count).unwrap_or(0);
                            self.frames.push(Frame {
                                ip: callable.ip,
                                chunk: callable.chunk.clone(),
                                stack_start: self.stack.len().saturating_sub(n),
                                closure,
                            });
                            load_frame!();
                            if self.frames.len() > CALLSTACK_LENGTH {
                                return Err(Error::vm(
                                    Code::CallStackOverflow,
                                    format!(
                                        "Call stack exceeded maximum length of {CALLSTACK_LENGTH}"
                                    ),
                                ));
                            }
                            continue;
                        }
                        CallableKind::Stl => {
                            let name = js::to_string(&callable.name);
                            let Some(f) = self.stl.native(&name) else {
                                return Err(Error::vm(
                                    Code::NotCallable,
                                    format!("Unsupported function call: {name}"),
                                ));
                            };
                            let n = usize::try_from(argc).unwrap_or(0);
                            if n < f.min {
                                return Err(Error::vm(
                                    Code::Arity,
                                    format!(
                                        "Function {name} requires at least {} arguments",
                                        f.min
                                    ),
                                ));
                            }
                            if let Some(max) = f.max
                                && n > max
                            {
                                return Err(Error::vm(
                                    Code::Arity,
                                    format!("Function {name} requires at most {max} arguments"),
                                ));
                            }
                            let (func, max) = (f.func, f.max);
                            let mut args = Vec::with_capacity(n);
                            for _ in 0..n {
                                args.push(self.pop()?);
                            }
                            if version > 0.0 {
                                args.reverse();
                            }
                            if let Some(max) = max {
                                while args.len() < max {
                                    args.push(Value::Null);
                                }
                            }
                            let v = func(
                                &mut stl::Ctx {
                                    vm: self,
                                    host,
                                    name: &name,
                                },
                                args,
                            )?;
                            self.push(v)?;
                        }
                        CallableKind::Async => {
                            if self.async_steps >= self.options.max_async_steps {
                                return Err(Error::vm(
                                    Code::AsyncSteps,
                                    format!(
                                        "Exceeded maximum number of async steps: {}",
                                        self.options.max_async_steps
                                    ),
                                ));
                            }
                            let n = usize::try_from(argc).unwrap_or(0);
                            let mut args = Vec::with_capacity(n);
                            for _ in 0..n {
                                args.push(self.pop()?);
                            }
                            // PostHog's VM does not step past the argument count here: resuming runs it
                            // as an instruction. Hogref does the same.
                            save_ip!();
                            self.async_steps += 1;
                            return Ok(Outcome::Suspended {
                                name: js::to_string(&callable.name),
                                args,
                            });
                        }
                    }
                }
                50 => {
                    let at = ip;
                    let off = next_int!();
                    self.throw_stack.push(TryFrame {
                        call_stack_len: self.frames.len(),
                        stack_len: self.stack.len(),
                        catch_ip: at.saturating_add(1).saturating_add(off),
                    });
                }
                51 => {
                    if self.throw_stack.pop().is_none() {
                        return Err(bad("Invalid operation POP_TRY: no try block to pop"));
                    }
                }
                49 => {
                    let exception = self.pop()?;
                    let Value::Error(err) = &exception else {
                        return Err(Error::vm(
                            Code::Type,
                            "Can not throw: value is not of type Error",
                        ));
                    };
                    if let Some(t) = self.throw_stack.pop() {
                        self.keep_first(t.stack_len)?;
                        self.frames.truncate(t.call_stack_len);
                        self.push(exception)?;
                        code = self.enter_chunk()?;
                        stack_start = self.frames.last().map_or(0, |f| f.stack_start);
                        ip = t.catch_ip;
                        continue;
                    }
                    return Err(Error::Uncaught {
                        kind: js::to_string(&err.kind),
                        message: js::to_string(&err.message),
                        payload: err.payload.as_ref().map(print::print_value),
                    });
                }
                _ => {
                    let chunk = self
                        .frames
                        .last()
                        .map(|f| Self::chunk_name(&f.chunk, &self.stl))
                        .unwrap_or_default();
                    return Err(bad(format!(
                        "Unexpected node while running bytecode in chunk \"{chunk}\": {opcode}"
                    )));
                }
            }
            ip += 1;
        }
    }

    /// `stack[idx] = v`, growing the stack when `idx` is at or past its end.
    fn set_slot(&mut self, idx: usize, v: Value) -> Result<()> {
        if idx < self.stack.len() {
            let c = cost(&v);
            self.mem_used = self.mem_used - self.costs[idx] as usize + c as usize;
            self.costs[idx] = c;
            self.stack[idx] = v;
            return Ok(());
        }
        if idx - self.stack.len() > 1 << 16 {
            return Err(Error::vm(
                Code::MemoryLimit,
                "stack slot too far past the end of the stack",
            ));
        }
        while self.stack.len() < idx {
            self.push(Value::Null)?;
        }
        self.push(v)
    }

    /// Pushes a program's error value: what `Error(...)` builds.
    pub fn new_error_value(kind: Value, message: Value, payload: Option<Value>) -> Value {
        Value::Error(Rc::new(new_error(kind, message, payload)))
    }
}

fn fn_closure_rc(
    kind: CallableKind,
    name: &str,
    chunk: Chunk,
    arg_count: i64,
    ip: i64,
) -> Rc<Closure> {
    Rc::new(Closure {
        callable: Rc::new(Callable {
            kind,
            name: Value::str(name),
            chunk,
            arg_count,
            upvalue_count: 0,
            ip,
        }),
        upvalues: Vec::new(),
    })
}

fn fn_closure(kind: CallableKind, name: &str, chunk: Chunk, arg_count: i64, ip: i64) -> Value {
    Value::Closure(fn_closure_rc(kind, name, chunk, arg_count, ip))
}

/// One step of `getNestedValue` through globals (plain JavaScript objects: a number indexes arrays
/// 1-based, and is a property name `n-1` of an object).
fn global_step(v: &Value, key: &Value) -> Result<Value> {
    match v {
        Value::Dict(d) if key.is_number() => {
            let k = key.as_f64().unwrap_or(f64::NAN);
            if k == 0.0 {
                return Err(Error::func("Hog arrays start from index 1"));
            }
            let name = if k > 0.0 {
                js::number_to_string(k - 1.0)
            } else {
                "NaN".into()
            };
            Ok(d.borrow()
                .get(&Key(Value::string(name)))
                .cloned()
                .unwrap_or(Value::Null))
        }
        Value::Dict(d) => Ok(d
            .borrow()
            .get(&Key(Value::string(js::to_string(key))))
            .cloned()
            .unwrap_or(Value::Null)),
        other => ops::get_property(other, key),
    }
}

/// A fresh copy of a global (PostHog converts globals anew at every read, so writes do not stick).
fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::array(a.borrow().iter().map(deep_copy).collect()),
        Value::Tuple(a) => Value::tuple(a.borrow().iter().map(deep_copy).collect()),
        Value::Dict(d) => Value::dict(
            d.borrow()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
