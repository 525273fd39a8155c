//! The HogVM operations and their numbers (bytecode version 1), as PostHog's VMs define them.

/// The bytecode header's first element.
pub const BYTECODE_IDENTIFIER: &str = "_H";
/// The bytecode version this compiler emits.
pub const BYTECODE_VERSION: i64 = 1;

/// One HogVM operation. The discriminant is the number written into the bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// `GET_GLOBAL n`: pops `n` chain parts (last part first) and pushes the global they name.
    GetGlobal = 1,
    /// `CALL_GLOBAL name n`: calls an STL or host function with `n` arguments.
    CallGlobal = 2,
    /// `AND n`
    And = 3,
    /// `OR n`
    Or = 4,
    /// `NOT`
    Not = 5,
    /// `+`
    Plus = 6,
    /// `-`
    Minus = 7,
    /// `*`
    Multiply = 8,
    /// `/`
    Divide = 9,
    /// `%`
    Mod = 10,
    /// `==`
    Eq = 11,
    /// `!=`
    NotEq = 12,
    /// `>`
    Gt = 13,
    /// `>=`
    GtEq = 14,
    /// `<`
    Lt = 15,
    /// `<=`
    LtEq = 16,
    /// `like`
    Like = 17,
    /// `ilike`
    ILike = 18,
    /// `not like`
    NotLike = 19,
    /// `not ilike`
    NotILike = 20,
    /// `in`
    In = 21,
    /// `not in`
    NotIn = 22,
    /// `=~`
    Regex = 23,
    /// `!~`
    NotRegex = 24,
    /// `=~*`
    IRegex = 25,
    /// `!~*`
    NotIRegex = 26,
    /// `in cohort` (rejected by the compiler, as PostHog's is)
    InCohort = 27,
    /// `not in cohort` (rejected by the compiler)
    NotInCohort = 28,
    /// push `true`
    True = 29,
    /// push `false`
    False = 30,
    /// push `null`
    Null = 31,
    /// `STRING s`
    String = 32,
    /// `INTEGER i`
    Integer = 33,
    /// `FLOAT f`
    Float = 34,
    /// discard the top of the stack
    Pop = 35,
    /// `GET_LOCAL i`
    GetLocal = 36,
    /// `SET_LOCAL i`
    SetLocal = 37,
    /// return the top of the stack
    Return = 38,
    /// `JUMP offset`
    Jump = 39,
    /// `JUMP_IF_FALSE offset`
    JumpIfFalse = 40,
    /// `DECLARE_FN` (bytecode version 0 functions; never emitted)
    DeclareFn = 41,
    /// `DICT n` (n key/value pairs)
    Dict = 42,
    /// `ARRAY n`
    Array = 43,
    /// `TUPLE n`
    Tuple = 44,
    /// `GET_PROPERTY`
    GetProperty = 45,
    /// `SET_PROPERTY`
    SetProperty = 46,
    /// `JUMP_IF_STACK_NOT_NULL offset`
    JumpIfStackNotNull = 47,
    /// `GET_PROPERTY_NULLISH` (`?.`)
    GetPropertyNullish = 48,
    /// `THROW`
    Throw = 49,
    /// `TRY offset`: where the catch handler starts
    Try = 50,
    /// `POP_TRY`
    PopTry = 51,
    /// `CALLABLE name argc upvaluec len body...`
    Callable = 52,
    /// `CLOSURE upvaluec (is_local index)*`
    Closure = 53,
    /// `CALL_LOCAL n`: calls the closure on top of the stack
    CallLocal = 54,
    /// `GET_UPVALUE i`
    GetUpvalue = 55,
    /// `SET_UPVALUE i`
    SetUpvalue = 56,
    /// `CLOSE_UPVALUE`: pops a captured local, closing its upvalue
    CloseUpvalue = 57,
}

/// Every operation, in number order.
pub const ALL: [Op; 57] = [
    Op::GetGlobal,
    Op::CallGlobal,
    Op::And,
    Op::Or,
    Op::Not,
    Op::Plus,
    Op::Minus,
    Op::Multiply,
    Op::Divide,
    Op::Mod,
    Op::Eq,
    Op::NotEq,
    Op::Gt,
    Op::GtEq,
    Op::Lt,
    Op::LtEq,
    Op::Like,
    Op::ILike,
    Op::NotLike,
    Op::NotILike,
    Op::In,
    Op::NotIn,
    Op::Regex,
    Op::NotRegex,
    Op::IRegex,
    Op::NotIRegex,
    Op::InCohort,
    Op::NotInCohort,
    Op::True,
    Op::False,
    Op::Null,
    Op::String,
    Op::Integer,
    Op::Float,
    Op::Pop,
    Op::GetLocal,
    Op::SetLocal,
    Op::Return,
    Op::Jump,
    Op::JumpIfFalse,
    Op::DeclareFn,
    Op::Dict,
    Op::Array,
    Op::Tuple,
    Op::GetProperty,
    Op::SetProperty,
    Op::JumpIfStackNotNull,
    Op::GetPropertyNullish,
    Op::Throw,
    Op::Try,
    Op::PopTry,
    Op::Callable,
    Op::Closure,
    Op::CallLocal,
    Op::GetUpvalue,
    Op::SetUpvalue,
    Op::CloseUpvalue,
];

impl Op {
    /// The number written into the bytecode.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The operation numbered `code`.
    pub fn from_code(code: i64) -> Option<Op> {
        usize::try_from(code)
            .ok()
            .and_then(|c| c.checked_sub(1))
            .and_then(|i| ALL.get(i).copied())
    }

    /// The comparison operation of a `CompareOperation` op string.
    pub(crate) fn compare(op: &str) -> Option<Op> {
        Some(match op {
            "==" => Op::Eq,
            "!=" => Op::NotEq,
            ">" => Op::Gt,
            ">=" => Op::GtEq,
            "<" => Op::Lt,
            "<=" => Op::LtEq,
            "like" => Op::Like,
            "ilike" => Op::ILike,
            "not like" => Op::NotLike,
            "not ilike" => Op::NotILike,
            "in" => Op::In,
            "not in" => Op::NotIn,
            "in cohort" => Op::InCohort,
            "not in cohort" => Op::NotInCohort,
            "=~" => Op::Regex,
            "!~" => Op::NotRegex,
            "=~*" => Op::IRegex,
            "!~*" => Op::NotIRegex,
            _ => return None,
        })
    }

    /// The arithmetic operation of an `ArithmeticOperation` op string.
    pub(crate) fn arithmetic(op: &str) -> Option<Op> {
        Some(match op {
            "+" => Op::Plus,
            "-" => Op::Minus,
            "*" => Op::Multiply,
            "/" => Op::Divide,
            "%" => Op::Mod,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_dense_and_round_trip() {
        for (i, op) in ALL.iter().enumerate() {
            assert_eq!(op.code() as usize, i + 1);
            assert_eq!(Op::from_code(i as i64 + 1), Some(*op));
        }
        assert_eq!(Op::from_code(0), None);
        assert_eq!(Op::from_code(58), None);
        assert_eq!(Op::CloseUpvalue.code(), 57);
    }
}
