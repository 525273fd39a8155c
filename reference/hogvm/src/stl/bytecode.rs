//! The standard-library functions PostHog writes in Hog and runs as bytecode (`arrayMap`, `arrayFilter`,
//! `arrayExists`, `arrayCount`, `arrayReduce`, `inCohort`, `notInCohort`, `sortableSemver`). Hogref's
//! versions are its own bytecode, assembled here from a small listing with labels: they run on the
//! VM's stack, so the lambdas they call can use every feature (closures, throw, async calls).

use std::rc::Rc;

use super::BytecodeFn;
use crate::value::Value;

const GET_GLOBAL_CALL: i64 = 2; // CALL_GLOBAL
const EQ: i64 = 11;
const LT_EQ: i64 = 16;
const PLUS: i64 = 6;
const TRUE: i64 = 29;
const FALSE: i64 = 30;
const NULL: i64 = 31;
const STRING: i64 = 32;
const INTEGER: i64 = 33;
const POP: i64 = 35;
const GET_LOCAL: i64 = 36;
const SET_LOCAL: i64 = 37;
const RETURN: i64 = 38;
const JUMP: i64 = 39;
const JUMP_IF_FALSE: i64 = 40;
const ARRAY: i64 = 43;
const GET_PROPERTY: i64 = 45;
const JUMP_IF_STACK_NOT_NULL: i64 = 47;
const THROW: i64 = 49;
const CALLABLE: i64 = 52;
const CLOSURE: i64 = 53;
const CALL_LOCAL: i64 = 54;

/// One item of a listing.
#[derive(Clone, Copy)]
enum A {
    /// An opcode or integer operand.
    I(i64),
    /// A string operand.
    S(&'static str),
    /// Defines a label.
    Label(u8),
    /// A jump instruction to a label.
    Jump(i64, u8),
}

use A::{I, Jump, Label, S};

fn assemble(items: &[A]) -> Vec<Value> {
    let mut labels = [0i64; 8];
    let mut pos = 2i64;
    for item in items {
        match item {
            I(_) | S(_) => pos += 1,
            Jump(..) => pos += 2,
            Label(l) => labels[usize::from(*l)] = pos,
        }
    }
    let mut out = vec![Value::str("_H"), Value::Int(1)];
    for item in items {
        match item {
            I(i) => out.push(Value::Int(*i)),
            S(s) => out.push(Value::str(s)),
            Jump(op, l) => {
                out.push(Value::Int(*op));
                // the jump lands at `operand + offset + 1`
                let operand = i64::try_from(out.len()).unwrap_or(0);
                out.push(Value::Int(labels[usize::from(*l)] - operand - 1));
            }
            Label(_) => {}
        }
    }
    out
}

fn call(name: &'static str, argc: i64) -> [A; 3] {
    [I(GET_GLOBAL_CALL), S(name), I(argc)]
}

/// The loop over `values(arr)` every array function shares; `body` runs with the item in local `item`.
/// Locals: 0 func, 1 arr, then `first` onwards: vals, n, i, item.
fn each(first: i64, body: &[A]) -> Vec<A> {
    let (vals, n, i) = (first, first + 1, first + 2);
    let mut v = vec![I(GET_LOCAL), I(1)];
    v.extend(call("values", 1));
    v.extend([I(GET_LOCAL), I(vals)]);
    v.extend(call("length", 1));
    v.extend([
        I(INTEGER),
        I(1),
        Label(0),
        I(GET_LOCAL),
        I(n),
        I(GET_LOCAL),
        I(i),
        I(LT_EQ),
        Jump(JUMP_IF_FALSE, 1),
    ]);
    v.extend([I(GET_LOCAL), I(vals), I(GET_LOCAL), I(i), I(GET_PROPERTY)]);
    v.extend_from_slice(body);
    v.extend([
        I(POP),
        I(GET_LOCAL),
        I(i),
        I(INTEGER),
        I(1),
        I(PLUS),
        I(SET_LOCAL),
        I(i),
        Jump(JUMP, 0),
        Label(1),
    ]);
    v
}

fn func(name: &'static str, args: usize, items: &[A]) -> BytecodeFn {
    BytecodeFn {
        name,
        args,
        code: Rc::from(assemble(items)),
    }
}

fn call_func_on_item(item: i64) -> Vec<A> {
    vec![
        I(GET_LOCAL),
        I(item),
        I(GET_LOCAL),
        I(0),
        I(CALL_LOCAL),
        I(1),
    ]
}

fn cohort(name: &'static str, found: i64, missing: i64) -> BytecodeFn {
    let message = if found == TRUE {
        "inCohort() requires cohort membership to be loaded for this evaluation"
    } else {
        "notInCohort() requires cohort membership to be loaded for this evaluation"
    };
    // locals: 0 cohort_id, 1 cohort_ids, 2 vals, 3 n, 4 i, 5 item
    let mut v = vec![
        I(NULL),
        I(GET_LOCAL),
        I(1),
        I(EQ),
        Jump(JUMP_IF_FALSE, 2),
        I(STRING),
        S(message),
    ];
    v.extend(call("Error", 1));
    v.extend([I(THROW), Label(2)]);
    let body = [
        I(GET_LOCAL),
        I(0),
        I(GET_LOCAL),
        I(5),
        I(EQ),
        Jump(JUMP_IF_FALSE, 3),
        I(found),
        I(RETURN),
        Label(3),
    ];
    v.extend(each(2, &body));
    v.extend([I(missing), I(RETURN)]);
    func(name, 2, &v)
}

/// Every bytecode function.
pub(super) fn functions() -> Vec<BytecodeFn> {
    // arrayMap(func, arr): locals 2 result, 3 vals, 4 n, 5 i, 6 item
    let mut map = vec![I(ARRAY), I(0)];
    let mut body = vec![I(GET_LOCAL), I(2)];
    body.extend(call_func_on_item(6));
    body.extend(call("arrayPushBack", 2));
    body.extend([I(SET_LOCAL), I(2)]);
    map.extend(each(3, &body));
    map.extend([I(GET_LOCAL), I(2), I(RETURN)]);

    // arrayFilter(func, arr)
    let mut filter = vec![I(ARRAY), I(0)];
    let mut body = call_func_on_item(6);
    body.extend([
        Jump(JUMP_IF_FALSE, 2),
        I(GET_LOCAL),
        I(2),
        I(GET_LOCAL),
        I(6),
    ]);
    body.extend(call("arrayPushBack", 2));
    body.extend([I(SET_LOCAL), I(2), Label(2)]);
    filter.extend(each(3, &body));
    filter.extend([I(GET_LOCAL), I(2), I(RETURN)]);

    // arrayCount(func, arr)
    let mut count = vec![I(INTEGER), I(0)];
    let mut body = call_func_on_item(6);
    body.extend([
        Jump(JUMP_IF_FALSE, 2),
        I(GET_LOCAL),
        I(2),
        I(INTEGER),
        I(1),
        I(PLUS),
        I(SET_LOCAL),
        I(2),
        Label(2),
    ]);
    count.extend(each(3, &body));
    count.extend([I(GET_LOCAL), I(2), I(RETURN)]);

    // arrayExists(func, arr): locals 2 vals, 3 n, 4 i, 5 item
    let mut body = call_func_on_item(5);
    body.extend([Jump(JUMP_IF_FALSE, 2), I(TRUE), I(RETURN), Label(2)]);
    let mut exists = each(2, &body);
    exists.extend([I(FALSE), I(RETURN)]);

    // arrayReduce(func, arr, initial): locals 3 acc, 4 vals, 5 n, 6 i, 7 item
    let mut reduce = vec![I(GET_LOCAL), I(2)];
    let body = [
        I(GET_LOCAL),
        I(3),
        I(GET_LOCAL),
        I(7),
        I(GET_LOCAL),
        I(0),
        I(CALL_LOCAL),
        I(2),
        I(SET_LOCAL),
        I(3),
    ];
    reduce.extend(each(4, &body));
    reduce.extend([I(GET_LOCAL), I(3), I(RETURN)]);

    // sortableSemver(version): locals 1 matched, 2 parts
    let mut semver = vec![
        I(NULL),
        I(GET_LOCAL),
        I(0),
        I(EQ),
        Jump(JUMP_IF_FALSE, 2),
        I(ARRAY),
        I(0),
        I(RETURN),
        Label(2),
    ];
    semver.extend([I(GET_LOCAL), I(0), I(STRING), S("(\\d+(\\.\\d+)+)")]);
    semver.extend(call("extractRegex", 2));
    semver.extend([I(GET_LOCAL), I(1)]);
    semver.extend(call("empty", 1));
    semver.extend([Jump(JUMP_IF_FALSE, 3), I(ARRAY), I(0), I(RETURN), Label(3)]);
    semver.extend([I(STRING), S("."), I(GET_LOCAL), I(1)]);
    semver.extend(call("splitByString", 2));
    let lambda = [
        I(GET_LOCAL),
        I(0),
        I(GET_GLOBAL_CALL),
        S("toInt"),
        I(1),
        I(JUMP_IF_STACK_NOT_NULL),
        I(3),
        I(POP),
        I(INTEGER),
        I(0),
        I(RETURN),
    ];
    semver.extend([
        I(CALLABLE),
        S("lambda"),
        I(1),
        I(0),
        I(i64::try_from(lambda.len()).unwrap_or(0)),
    ]);
    semver.extend(lambda);
    semver.extend([I(CLOSURE), I(0), I(GET_LOCAL), I(2)]);
    semver.extend(call("arrayMap", 2));
    semver.extend([I(RETURN)]);

    vec![
        func("arrayMap", 2, &map),
        func("arrayFilter", 2, &filter),
        func("arrayCount", 2, &count),
        func("arrayExists", 2, &exists),
        func("arrayReduce", 3, &reduce),
        cohort("inCohort", TRUE, FALSE),
        cohort("notInCohort", FALSE, TRUE),
        func("sortableSemver", 1, &semver),
    ]
}
