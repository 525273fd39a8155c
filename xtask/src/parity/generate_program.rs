//! A seeded generator of Hog programs for `program` parity: statements of every kind (let, `:=`,
//! if/else, while, for, for-in, fn, lambdas with block bodies, try/catch/finally, throw, return)
//! over a small expression grammar (literals, dicts, arrays, tuples, calls, f-strings, `??`, `?.`),
//! with token-level mutations that make some of them invalid.

use hogql_parser::EntryPoint;

use super::generate::{Generated, Rng, mutate};

const NAMES: &[&str] = &["a", "b", "count", "item", "acc", "user", "$x", "e"];
const FUNCS: &[&str] = &["print", "concat", "length", "arrayMap", "toString", "f"];
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "and", "or", "??", "||", "=~", "in", "like",
];

/// `count` programs from `seed`; about a fifth are mutated.
pub(crate) fn generate(seed: u64, count: usize) -> Vec<Generated> {
    let mut rng = Rng::new(seed ^ 0x4f67_5072_6f67);
    (0..count)
        .map(|_| {
            let mut g = ProgramGen {
                rng: &mut rng,
                budget: 40,
            };
            let src = g.program();
            if rng.chance(20) {
                Generated {
                    entry: EntryPoint::Program,
                    src: mutate(&mut rng, &src),
                    mutated: true,
                }
            } else {
                Generated {
                    entry: EntryPoint::Program,
                    src,
                    mutated: false,
                }
            }
        })
        .collect()
}

struct ProgramGen<'a> {
    rng: &'a mut Rng,
    /// Remaining node budget: generation turns to leaves once it runs out.
    budget: i32,
}

impl ProgramGen<'_> {
    fn program(&mut self) -> String {
        let n = 1 + self.rng.below(5);
        let sep = if self.rng.chance(50) { "\n" } else { "; " };
        (0..n)
            .map(|_| self.statement(0))
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn name(&mut self) -> &'static str {
        self.rng.pick_str(NAMES)
    }

    fn block(&mut self, depth: u32) -> String {
        let n = self.rng.below(3);
        let body: Vec<String> = (0..n).map(|_| self.statement(depth + 1)).collect();
        if body.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", body.join("; "))
        }
    }

    fn statement(&mut self, depth: u32) -> String {
        self.budget -= 1;
        let d = depth + 1;
        if depth > 3 || self.budget <= 0 {
            return format!("{} := {}", self.name(), self.expr(d));
        }
        match self.rng.below(16) {
            0..=2 => format!("let {} := {}", self.name(), self.expr(d)),
            3 => format!("let {}", self.name()),
            4 | 5 => format!("{} := {}", self.lvalue(), self.expr(d)),
            6 => format!("{}({})", self.rng.pick_str(FUNCS), self.args(d)),
            7 => {
                let mut s = format!("if ({}) {}", self.expr(d), self.block(d));
                if self.rng.chance(50) {
                    s.push_str(&format!(" else {}", self.block(d)));
                }
                s
            }
            8 => format!("while ({}) {}", self.expr(d), self.block(d)),
            9 => format!(
                "for (let i := 0; i < {}; i := i + 1) {}",
                self.rng.below(10),
                self.block(d)
            ),
            10 => {
                if self.rng.chance(50) {
                    format!("for (let v in {}) {}", self.expr(d), self.block(d))
                } else {
                    format!("for (let k, v in {}) {}", self.expr(d), self.block(d))
                }
            }
            11 => format!(
                "fn {}({}) {}",
                self.rng.pick_str(&["f", "g", "helper"]),
                self.params(),
                self.block(d)
            ),
            12 => {
                let mut s = format!("try {}", self.block(d));
                match self.rng.below(3) {
                    0 => s.push_str(&format!(" catch (e) {}", self.block(d))),
                    1 => s.push_str(&format!(" catch (e: RetryError) {}", self.block(d))),
                    _ => s.push_str(&format!(" catch {}", self.block(d))),
                }
                if self.rng.chance(40) {
                    s.push_str(&format!(" finally {}", self.block(d)));
                }
                s
            }
            13 => format!("throw Error({})", self.expr(d)),
            14 => {
                if self.rng.chance(30) {
                    "return".to_string()
                } else {
                    format!("return {}", self.expr(d))
                }
            }
            _ => self.block(d),
        }
    }

    fn params(&mut self) -> String {
        let n = self.rng.below(3);
        (0..n)
            .map(|i| ["x", "y", "z"][i].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lvalue(&mut self) -> String {
        match self.rng.below(4) {
            0 => format!("{}.{}", self.name(), self.name()),
            1 => format!("{}[{}]", self.name(), self.rng.below(3)),
            _ => self.name().to_string(),
        }
    }

    fn args(&mut self, depth: u32) -> String {
        let n = self.rng.below(3);
        (0..n)
            .map(|_| self.expr(depth + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn leaf(&mut self) -> String {
        match self.rng.below(8) {
            0..=2 => self.name().to_string(),
            3 => self.rng.below(100).to_string(),
            4 => self
                .rng
                .pick_str(&["'x'", "'it''s'", "''", "\"field\"", "'a\\nb'"])
                .to_string(),
            5 => self
                .rng
                .pick_str(&["null", "true", "false", "1.5", "-2"])
                .to_string(),
            6 => format!("{}.{}", self.name(), self.name()),
            _ => format!("{}?.{}", self.name(), self.name()),
        }
    }

    fn expr(&mut self, depth: u32) -> String {
        self.budget -= 1;
        if depth > 5 || self.budget <= 0 || self.rng.chance(35) {
            return self.leaf();
        }
        let d = depth + 1;
        match self.rng.below(14) {
            0..=3 => {
                let op = self.rng.pick_str(BINOPS);
                format!("{} {op} {}", self.expr(d), self.expr(d))
            }
            4 => format!("not {}", self.expr(d)),
            5 => format!("({})", self.expr(d)),
            6 => format!("{}({})", self.rng.pick_str(FUNCS), self.args(d)),
            7 => format!("[{}]", self.args(d)),
            8 => format!("({}, {})", self.expr(d), self.expr(d)),
            9 => {
                let n = self.rng.below(3);
                let items: Vec<String> = (0..n)
                    .map(|_| format!("'{}': {}", self.name(), self.expr(d)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            10 => format!("f'{} {{{}}}!'", self.name(), self.expr(d)),
            11 => format!("{} -> {}", self.name(), self.expr(d)),
            12 => format!(
                "({}) -> {{ let t := {}; return t }}",
                self.params(),
                self.expr(d)
            ),
            _ => format!("{}[{}]", self.name(), self.expr(d)),
        }
    }
}
