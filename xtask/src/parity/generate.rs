//! A seeded generator of valid-ish HogQL: grammar-driven random queries and expressions, with keyword-case and
//! comment "jiggle", and token-level mutations that make some of them invalid.

use hogql_parser::EntryPoint;

/// SplitMix64: tiny, seedable, and good enough to pick grammar branches.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub(crate) fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated case.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    pub(crate) entry: EntryPoint,
    pub(crate) src: String,
    /// Whether a mutation was applied (the input is then likely, not certainly, invalid).
    pub(crate) mutated: bool,
}

/// `count` cases from `seed`: about 70% SELECTs, 25% expressions, 5% ORDER BY elements; a quarter mutated.
pub(crate) fn generate(seed: u64, count: usize) -> Vec<Generated> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut g = Gen {
                rng: &mut rng,
                budget: 60,
            };
            let roll = g.rng.below(100);
            let (entry, src) = if roll < 70 {
                (EntryPoint::Select, g.select(0))
            } else if roll < 95 {
                (EntryPoint::Expr, g.expr(0))
            } else {
                (EntryPoint::OrderExpr, g.order_item(0))
            };
            let src = jiggle(&mut rng, &src);
            if rng.chance(25) {
                Generated {
                    entry,
                    src: mutate(&mut rng, &src),
                    mutated: true,
                }
            } else {
                Generated {
                    entry,
                    src,
                    mutated: false,
                }
            }
        })
        .collect()
}

const FIELDS: &[&str] = &[
    "event",
    "timestamp",
    "person_id",
    "distinct_id",
    "properties.$browser",
    "properties.$os",
    "e.properties.plan",
    "person.properties.email",
    "a",
    "b",
    "c",
    "x",
    "`quoted name`",
    "\"dq\"",
    "$session_id",
    "t.1",
    "properties.`$current_url`",
    "date",
    "year",
];
const TABLES: &[&str] = &[
    "events",
    "persons",
    "sessions",
    "groups",
    "t",
    "posthog.events",
];
const FUNCS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "toString",
    "toDateTime",
    "toStartOfDay",
    "now",
    "coalesce",
    "if",
    "ifNull",
    "length",
    "lower",
    "concat",
    "arrayJoin",
    "has",
    "uniq",
    "any",
    "argMax",
    "round",
    "dateDiff",
    "JSONExtractString",
    "toInt",
    "toFloat",
    "splitByChar",
    "notEmpty",
];
const BINOPS: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "like",
    "ilike",
    "not like",
    "not ilike",
    "~",
    "!~",
    "=~*",
    "in",
    "not in",
    "??",
    "<=>",
    "is distinct from",
    "is not distinct from",
    "and",
    "or",
];
const UNITS: &[&str] = &[
    "second", "minute", "hour", "day", "week", "month", "quarter", "year",
];
const TYPES: &[&str] = &[
    "Int64",
    "String",
    "Float64",
    "DateTime",
    "Nullable(String)",
    "UUID",
];

struct Gen<'a> {
    rng: &'a mut Rng,
    /// Remaining node budget: generation turns to leaves once it runs out.
    budget: i32,
}

impl Gen<'_> {
    fn leaf(&mut self) -> String {
        match self.rng.below(14) {
            0..=4 => self.rng.pick(FIELDS).to_string(),
            5 => self.rng.below(1000).to_string(),
            6 => format!("{}.{}", self.rng.below(100), self.rng.below(100)),
            7 => self
                .rng
                .pick(&["'x'", "'$pageview'", "'it''s'", "'a\\nb'", "''", "'%y%'"])
                .to_string(),
            8 => self
                .rng
                .pick(&[
                    "null", "true", "false", "inf", "nan", "-1", "0x1F", "1e3", "2.5e-3", "0b11",
                ])
                .to_string(),
            9 => format!("{{{}}}", self.rng.pick(&["p", "filter", "x.y"])),
            10 => format!("#{}", 1 + self.rng.below(3)),
            11 => self.rng.pick(&["*", "e.*"]).to_string(),
            _ => self.rng.pick(FIELDS).to_string(),
        }
    }

    fn exprs(&mut self, depth: u32, max: usize) -> String {
        let n = 1 + self.rng.below(max);
        (0..n)
            .map(|_| self.expr(depth + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expr(&mut self, depth: u32) -> String {
        self.budget -= 1;
        if depth > 5 || self.budget <= 0 || self.rng.chance(30) {
            return self.leaf();
        }
        let d = depth + 1;
        match self.rng.below(30) {
            0..=6 => {
                let op = self.rng.pick(BINOPS);
                format!("{} {op} {}", self.expr(d), self.expr(d))
            }
            7 => format!("not {}", self.expr(d)),
            8 => format!("-{}", self.expr(d)),
            9 => format!("({})", self.expr(d)),
            10..=12 => {
                let f = self.rng.pick(FUNCS);
                if self.rng.chance(10) {
                    format!("{f}(distinct {})", self.expr(d))
                } else if self.rng.chance(10) {
                    format!(
                        "quantile({})({})",
                        self.rng.pick(&["0.5", "0.9"]),
                        self.expr(d)
                    )
                } else if self.rng.chance(15) {
                    format!("{f}()")
                } else {
                    format!("{f}({})", self.exprs(d, 3))
                }
            }
            13 => format!(
                "{} {}between {} and {}",
                self.expr(d),
                if self.rng.chance(30) { "not " } else { "" },
                self.expr(d),
                self.expr(d)
            ),
            14 => format!(
                "{} is {}null",
                self.expr(d),
                if self.rng.chance(50) { "not " } else { "" }
            ),
            15 => format!("[{}]", self.exprs(d, 3)),
            16 => format!("({}, {})", self.expr(d), self.expr(d)),
            17 => format!(
                "case when {} then {} {}end",
                self.expr(d),
                self.expr(d),
                if self.rng.chance(50) {
                    format!("else {} ", self.expr(d))
                } else {
                    String::new()
                }
            ),
            18 => format!(
                "case {} when {} then {} else {} end",
                self.expr(d),
                self.expr(d),
                self.expr(d),
                self.expr(d)
            ),
            19 => {
                let t = self.rng.pick(TYPES);
                match self.rng.below(3) {
                    0 => format!("cast({} as {t})", self.expr(d)),
                    1 => format!("try_cast({} as {t})", self.expr(d)),
                    _ => format!("{}::{t}", self.leaf()),
                }
            }
            20 => {
                let unit = self.rng.pick(UNITS);
                if self.rng.chance(50) {
                    format!("interval {} {unit}", 1 + self.rng.below(30))
                } else {
                    format!("interval '{} {unit}'", 1 + self.rng.below(30))
                }
            }
            21 => format!(
                "arrayMap({} -> {}, {})",
                self.rng.pick(&["x", "(x, y)", "()"]),
                self.expr(d),
                self.expr(d)
            ),
            22 => format!("{} ? {} : {}", self.expr(d), self.expr(d), self.expr(d)),
            23 => format!("{}[{}]", self.leaf(), self.expr(d)),
            24 => format!(
                "f'{} {{{}}} text'",
                self.rng.pick(&["a", "b c", ""]),
                self.expr(d)
            ),
            25 => format!(
                "{}({}) over ({})",
                self.rng.pick(&["row_number", "sum", "lagInFrame", "rank"]),
                if self.rng.chance(50) {
                    self.expr(d)
                } else {
                    String::new()
                },
                self.window_spec(d)
            ),
            26 => format!(
                "{} {}in ({})",
                self.expr(d),
                if self.rng.chance(30) { "not " } else { "" },
                if self.rng.chance(30) {
                    self.select(d + 2)
                } else {
                    self.exprs(d, 3)
                }
            ),
            27 => format!(
                "{} {} {}",
                self.expr(d),
                self.rng.pick(&["and", "or"]),
                self.expr(d)
            ),
            28 => format!("{{'{}': {}}}", self.rng.pick(&["k", "a"]), self.expr(d)),
            _ => format!("{}?.{}", self.leaf(), self.rng.pick(&["a", "b", "1"])),
        }
    }

    fn window_spec(&mut self, depth: u32) -> String {
        let mut parts = Vec::new();
        if self.rng.chance(50) {
            parts.push(format!("partition by {}", self.exprs(depth, 2)));
        }
        if self.rng.chance(60) {
            parts.push(format!("order by {}", self.order_item(depth)));
        }
        if self.rng.chance(30) {
            parts.push(
                self.rng
                    .pick(&[
                        "rows between unbounded preceding and current row",
                        "range between 1 preceding and 1 following",
                        "rows 3 preceding",
                        "rows between current row and unbounded following",
                    ])
                    .to_string(),
            );
        }
        parts.join(" ")
    }

    fn order_item(&mut self, depth: u32) -> String {
        let mut s = self.expr(depth + 1);
        if self.rng.chance(60) {
            s.push(' ');
            s.push_str(self.rng.pick_str(&["asc", "desc", "ASC", "DESC"]));
        }
        if self.rng.chance(15) {
            s.push_str(self.rng.pick_str(&[" nulls first", " nulls last"]));
        }
        if self.rng.chance(5) {
            s.push_str(" with fill");
        }
        s
    }

    fn column(&mut self, depth: u32) -> String {
        let e = self.expr(depth + 1);
        match self.rng.below(10) {
            0..=1 => format!(
                "{e} as {}",
                self.rng.pick(&["a", "total", "`my col`", "x1"])
            ),
            2 => format!("{e} {}", self.rng.pick(&["alias1", "y"])),
            _ => e,
        }
    }

    fn table(&mut self, depth: u32) -> String {
        let mut s = match self.rng.below(10) {
            0..=5 => self.rng.pick(TABLES).to_string(),
            6 if depth < 3 => format!("({})", self.select(depth + 2)),
            7 => format!("numbers({})", 1 + self.rng.below(100)),
            8 => "{tbl}".to_string(),
            _ => self.rng.pick(TABLES).to_string(),
        };
        if self.rng.chance(30) {
            s.push_str(self.rng.pick_str(&[" as e", " e", " as t", " p"]));
        }
        if self.rng.chance(5) {
            s.push_str(" final");
        }
        if self.rng.chance(5) {
            s.push_str(
                self.rng
                    .pick_str(&[" sample 0.1", " sample 1/10 offset 1/2"]),
            );
        }
        s
    }

    fn from(&mut self, depth: u32) -> String {
        let mut s = self.table(depth);
        let joins = if self.rng.chance(30) {
            1 + self.rng.below(2)
        } else {
            0
        };
        for _ in 0..joins {
            let kind = *self.rng.pick(&[
                "join",
                "inner join",
                "left join",
                "left outer join",
                "right join",
                "full outer join",
                "any left join",
                "asof join",
                "cross join",
                ",",
                "left semi join",
                "global any inner join",
            ]);
            let t = self.table(depth);
            if kind == "cross join" || kind == "," {
                s = format!("{s}{} {t}", if kind == "," { "," } else { " cross join" });
            } else if self.rng.chance(20) {
                s = format!(
                    "{s} {kind} {t} using {}",
                    self.rng.pick(&["id", "(id, ts)"])
                );
            } else {
                s = format!("{s} {kind} {t} on {}", self.expr(depth + 1));
            }
        }
        if self.rng.chance(5) {
            s.push_str(
                self.rng
                    .pick_str(&[" array join arr as a", " left array join [1, 2] as x"]),
            );
        }
        s
    }

    fn select(&mut self, depth: u32) -> String {
        let mut s = String::new();
        if self.rng.chance(10) {
            s.push_str(&format!("with {} as cte_val ", self.expr(depth + 1)));
        } else if self.rng.chance(5) && depth < 3 {
            s.push_str(&format!("with q as ({}) ", self.select(depth + 2)));
        }
        s.push_str("select ");
        if self.rng.chance(10) {
            s.push_str("distinct ");
        }
        let n = 1 + self.rng.below(4);
        let cols: Vec<String> = (0..n).map(|_| self.column(depth)).collect();
        s.push_str(&cols.join(", "));
        if self.rng.chance(80) {
            s.push_str(&format!(" from {}", self.from(depth)));
        }
        if self.rng.chance(5) {
            s.push_str(&format!(" prewhere {}", self.expr(depth + 1)));
        }
        if self.rng.chance(50) {
            s.push_str(&format!(" where {}", self.expr(depth + 1)));
        }
        if self.rng.chance(25) {
            match self.rng.below(6) {
                0 => s.push_str(" group by all"),
                1 => s.push_str(&format!(" group by rollup({})", self.exprs(depth, 2))),
                2 => s.push_str(&format!(" group by {} with totals", self.exprs(depth, 2))),
                _ => s.push_str(&format!(" group by {}", self.exprs(depth, 3))),
            }
            if self.rng.chance(30) {
                s.push_str(&format!(" having {}", self.expr(depth + 1)));
            }
        }
        if self.rng.chance(3) {
            s.push_str(&format!(" qualify {}", self.expr(depth + 1)));
        }
        if self.rng.chance(30) {
            let n = 1 + self.rng.below(2);
            let items: Vec<String> = (0..n).map(|_| self.order_item(depth)).collect();
            s.push_str(&format!(" order by {}", items.join(", ")));
        }
        if self.rng.chance(5) {
            s.push_str(&format!(
                " limit {} by {}",
                1 + self.rng.below(5),
                self.exprs(depth, 2)
            ));
        }
        if self.rng.chance(30) {
            match self.rng.below(4) {
                0 => s.push_str(&format!(
                    " limit {} offset {}",
                    self.rng.below(100),
                    self.rng.below(100)
                )),
                1 => s.push_str(&format!(
                    " limit {}, {}",
                    self.rng.below(100),
                    self.rng.below(100)
                )),
                2 => s.push_str(&format!(" limit {} with ties", self.rng.below(100))),
                _ => s.push_str(&format!(" limit {}", self.rng.below(100))),
            }
        }
        if depth < 2 && self.rng.chance(8) {
            let op = self
                .rng
                .pick(&["union all", "union distinct", "intersect", "except"]);
            s = format!("{s} {op} {}", self.select(depth + 2));
        }
        s
    }
}

/// Random keyword case, comments and whitespace, outside string literals and quoted names.
fn jiggle(rng: &mut Rng, src: &str) -> String {
    let tokens = tokenize(src);
    let mut out = String::with_capacity(src.len() + 16);
    for tok in tokens {
        let is_word = tok.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if is_word && KEYWORDS.contains(&tok.to_ascii_lowercase().as_str()) && rng.chance(20) {
            out.push_str(&tok.to_ascii_uppercase());
        } else {
            out.push_str(&tok);
        }
        if tok.chars().all(char::is_whitespace) && rng.chance(2) {
            out.push_str(rng.pick_str(&["/* c */ ", "-- c\n", "\n\t", "// c\n"]));
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "as",
    "join",
    "left",
    "on",
    "group",
    "by",
    "order",
    "limit",
    "case",
    "when",
    "then",
    "else",
    "end",
    "in",
    "like",
    "is",
    "null",
    "between",
    "interval",
    "with",
    "union",
    "all",
    "distinct",
    "over",
    "partition",
    "desc",
    "asc",
];

/// Rough tokens for mutation and shrinking: words, numbers, quoted runs, whitespace runs, single punctuation.
pub(crate) fn tokenize(src: &str) -> Vec<String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_alphanumeric() || c == '_' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '$'
                    || chars[i] == '.')
            {
                i += 1;
            }
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
        } else if c == '\'' || c == '`' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
        } else {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

const HOSTILE: &[&str] = &[
    ")", "(", ",", ".", ";", "{", "}", "[", "]", "'", "\"", "^", " select ", " from ", " where ",
    " and ", "::", " as ", "->", "?", ":", " not ", "<", "</a>", " 1 ", "--", "/*",
];

/// One random mutation: delete, duplicate, swap, inject a hostile token, drop a bracket, or truncate.
pub(crate) fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut toks = tokenize(src);
    if toks.is_empty() {
        return rng.pick(HOSTILE).to_string();
    }
    let i = rng.below(toks.len());
    match rng.below(6) {
        0 => {
            toks.remove(i);
        }
        1 => {
            let t = toks[i].clone();
            toks.insert(i, t);
        }
        2 if toks.len() > 1 => {
            let j = if i + 1 < toks.len() { i + 1 } else { i - 1 };
            toks.swap(i, j);
        }
        3 => toks.insert(i, rng.pick(HOSTILE).to_string()),
        4 => {
            if let Some(p) = toks
                .iter()
                .position(|t| t == "(" || t == ")" || t == "[" || t == "]")
            {
                toks.remove(p);
            } else {
                toks.remove(i);
            }
        }
        _ => toks.truncate(i.max(1)),
    }
    toks.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a: Vec<String> = generate(7, 50).into_iter().map(|g| g.src).collect();
        let b: Vec<String> = generate(7, 50).into_iter().map(|g| g.src).collect();
        let c: Vec<String> = generate(8, 50).into_iter().map(|g| g.src).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tokenize_round_trips_the_input() {
        let src = "select `a b`, 'it\\'s' from t where x.y >= 1.5 -- c\n";
        assert_eq!(tokenize(src).concat(), src);
    }
}
