//! Trends formulas (`A+2*B`, `(A-B)/A`): parsed once, evaluated per bucket over the series' values,
//! where `A` is the first series. Division by zero gives 0, as PostHog's charts show it.

use crate::error::{Error, Result};

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// A number.
    Number(f64),
    /// The value of series `n` (0 for `A`).
    Series(usize),
    /// `-x`.
    Neg(Box<Formula>),
    /// `x op y` with op one of `+ - * /`.
    Binary(char, Box<Formula>, Box<Formula>),
}

const MAX_LENGTH: usize = 1_000;
const MAX_DEPTH: usize = 64;

impl Formula {
    /// Parses `text` for `series_count` series; `field` names the request field in errors.
    pub fn parse(text: &str, series_count: usize, field: &str) -> Result<Formula> {
        if text.len() > MAX_LENGTH {
            return Err(Error::invalid(field, "the formula is too long"));
        }
        let tokens: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut parser = Parser {
            tokens,
            at: 0,
            series_count,
            field,
            depth: 0,
        };
        let formula = parser.sum()?;
        if parser.at != parser.tokens.len() {
            return Err(parser.error("unexpected character"));
        }
        Ok(formula)
    }

    /// The value for `values[i]` = value of series i.
    pub fn eval(&self, values: &[f64]) -> f64 {
        match self {
            Formula::Number(n) => *n,
            Formula::Series(i) => values.get(*i).copied().unwrap_or(0.0),
            Formula::Neg(x) => -x.eval(values),
            Formula::Binary(op, a, b) => {
                let (a, b) = (a.eval(values), b.eval(values));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => {
                        if b == 0.0 {
                            0.0
                        } else {
                            a / b
                        }
                    }
                }
            }
        }
    }
}

struct Parser<'a> {
    tokens: Vec<char>,
    at: usize,
    series_count: usize,
    field: &'a str,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> Error {
        Error::invalid(
            self.field,
            format!("{what} at character {} of the formula", self.at + 1),
        )
    }

    fn peek(&self) -> Option<char> {
        self.tokens.get(self.at).copied()
    }

    fn sum(&mut self) -> Result<Formula> {
        let mut left = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.at += 1;
            let right = self.product()?;
            left = Formula::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Formula> {
        let mut left = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.at += 1;
            let right = self.unary()?;
            left = Formula::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Formula> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("the formula nests too deeply"));
        }
        let out = self.unary_inner();
        self.depth -= 1;
        out
    }

    fn unary_inner(&mut self) -> Result<Formula> {
        match self.peek() {
            Some('-') => {
                self.at += 1;
                Ok(Formula::Neg(Box::new(self.unary()?)))
            }
            Some('+') => {
                self.at += 1;
                self.unary()
            }
            Some('(') => {
                self.at += 1;
                let inner = self.sum()?;
                if self.peek() != Some(')') {
                    return Err(self.error("expected `)`"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let index = (c.to_ascii_uppercase() as u8 - b'A') as usize;
                if index >= self.series_count {
                    return Err(self.error(&format!("`{c}` names no series")));
                }
                self.at += 1;
                Ok(Formula::Series(index))
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.at;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit() || c == '.') {
                    self.at += 1;
                }
                let text: String = self.tokens[start..self.at].iter().collect();
                text.parse()
                    .map(Formula::Number)
                    .map_err(|_| self.error("bad number"))
            }
            _ => Err(self.error("expected a series letter, a number or `(`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_division_by_zero() {
        let f = Formula::parse("A+2*B", 2, "f").unwrap();
        assert_eq!(f.eval(&[1.0, 3.0]), 7.0);
        let f = Formula::parse("(A-B)/B", 2, "f").unwrap();
        assert_eq!(f.eval(&[1.0, 0.0]), 0.0);
        assert_eq!(
            Formula::parse("-a * 1.5", 1, "f").unwrap().eval(&[2.0]),
            -3.0
        );
        assert!(Formula::parse("A+C", 2, "f").is_err());
        assert!(Formula::parse("A+", 2, "f").is_err());
        assert!(Formula::parse(&"(".repeat(500), 2, "f").is_err());
    }
}
