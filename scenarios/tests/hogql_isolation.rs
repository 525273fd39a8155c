//! Team isolation as a property: generated HogQL queries (selects over `events` (with its
//! `pdi`, `person`, `group_0` and `session` lazy joins), `persons`, `person_distinct_ids`,
//! `raw_persons`, `raw_groups`, `groups`, `sessions` with WHERE, GROUP BY, joins, IN-subqueries,
//! FROM-subqueries and UNION ALL) compiled for team 420 and executed on ClickHouse return exactly what they return
//! when team 421's rows do not exist at all.
//!
//! Two databases get Hogref's schema: one with the whole two-team dataset of
//! `fixtures/hogql/exec/dataset/`, one with team 420's rows only. For every generated query:
//!
//! Each query runs with one of the persons-on-events modes or persons argMax versions.
//!
//! * the compiler does not panic (a panic on its thread comes back as "internal compiler error");
//! * no string constant of the query appears as a literal in the SQL (all go through the values
//!   map as `%(hogql_val_N)s`);
//! * both databases give the same rows (as a multiset), and no cell mentions `421` (every
//!   team-421 row is marked so), or both fail with the same ClickHouse error.
//!
//! A second test generates aliases that shadow guarded tables (table aliases, table names,
//! ClickHouse names, `alias.team_id`, `team_id`, in SELECT, ARRAY JOIN, WHERE, subqueries and
//! beside joins) and user expressions that throw on team 421's values only (WHERE, PREWHERE,
//! HAVING, JOIN ON); the dataset's teams share parts (one INSERT per table).
//!
//! The constants the generator uses include team 421's marks (`t421`, `only_421_event`, its
//! uuids), so a missing guard would show as extra rows.
#![cfg(feature = "services")]

mod hogql_support;

use std::sync::Mutex;
use std::time::Instant;

use hogql_compiler::escape::escape_string;
use hogql_compiler::{Context, bind_values, compile};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Generated cases per run: each runs two queries on ClickHouse; the whole test stays well under
/// a minute on the local stack.
const CASES: u32 = 256;

/// String constants the queries compare with: team 420's values, team 421's marks, and values
/// that need escaping.
const STRINGS: &[&str] = &[
    "x",
    "x421",
    "t420",
    "t421",
    "alice",
    "bob",
    "$pageview",
    "only_421_event",
    "only-421-user",
    "Chrome",
    "%a%",
    "it's",
    "a\\b",
    "00000421-0000-4000-8000-000000000099",
    "00000420-0000-4000-a000-000000000001",
    "alice@team421.example",
    "%@posthog.com",
];

/// A table the generator selects from, with the fields that make sense in it.
struct Table {
    name: &'static str,
    /// String-valued fields (comparable with the string constants).
    fields: &'static [&'static str],
    /// A DateTime field compared with date strings (on `events` and `sessions` such bounds also
    /// narrow the sessions subquery, PostHog's min_timestamp pre-filter).
    time: Option<&'static str>,
}

/// Dates inside and around the dataset's range (2024-01-01 … 2024-01-03).
const DATES: &[&str] = &[
    "2023-12-25",
    "2024-01-01",
    "2024-01-02 12:00:00",
    "2024-01-03",
    "2024-02-01",
];

const TABLES: &[Table] = &[
    Table {
        name: "events",
        fields: &[
            "event",
            "distinct_id",
            "toString(uuid)",
            "properties.foo",
            "properties.team",
            "properties.$browser",
            "toString(person_id)",
            "person.properties.email",
            "pdi.distinct_id",
            "group_0.properties.name",
            "session.$entry_current_url",
        ],
        time: Some("timestamp"),
    },
    Table {
        name: "persons",
        fields: &["toString(id)", "properties.email", "properties.name"],
        time: None,
    },
    Table {
        name: "person_distinct_ids",
        fields: &["distinct_id", "toString(person_id)"],
        time: None,
    },
    Table {
        name: "raw_persons",
        fields: &["toString(id)", "properties.email"],
        time: None,
    },
    Table {
        name: "raw_groups",
        fields: &["key", "properties.name"],
        time: None,
    },
    Table {
        name: "groups",
        fields: &["key", "properties.name"],
        time: None,
    },
    Table {
        name: "sessions",
        fields: &["session_id", "distinct_id", "$entry_current_url"],
        time: Some("$start_timestamp"),
    },
];

/// A generated query and the string constants it uses.
#[derive(Debug, Clone)]
struct Query {
    hogql: String,
    strings: Vec<String>,
}

fn quote(s: &str) -> String {
    // HogQL string literal: backslash escapes like ClickHouse.
    escape_string(s)
}

fn string_const() -> impl Strategy<Value = String> {
    proptest::sample::select(STRINGS).prop_map(str::to_owned)
}

/// `field` with the table qualifier `qual` (`e.`) put on the column, inside a `toString(…)` too.
fn qualify(qual: &str, field: &str) -> String {
    match field.strip_prefix("toString(") {
        Some(inner) => format!("toString({qual}{inner}"),
        None => format!("{qual}{field}"),
    }
}

/// A boolean condition over `table`'s fields (qualified with `qual.` when given).
fn condition(table: usize, qual: &'static str) -> BoxedStrategy<(String, Vec<String>)> {
    let fields = TABLES[table].fields;
    let field = proptest::sample::select(fields).prop_map(move |f| qualify(qual, f));
    let cmp = (
        field.clone(),
        proptest::sample::select(&["=", "!=", "like", "ilike", "not like", "<", ">="][..]),
        string_const(),
    )
        .prop_map(|(f, op, s)| (format!("{f} {op} {}", quote(&s)), vec![s]));
    let in_list = (field.clone(), string_const(), string_const())
        .prop_map(|(f, a, b)| (format!("{f} in ({}, {})", quote(&a), quote(&b)), vec![a, b]));
    let null_check = (field, any::<bool>()).prop_map(|(f, not)| {
        (
            format!("{f} is {}null", if not { "not " } else { "" }),
            vec![],
        )
    });
    let atom = match TABLES[table].time {
        Some(time) => {
            let field = qualify(qual, time);
            let bound = (
                proptest::sample::select(&[">", ">=", "<", "<=", "="][..]),
                proptest::sample::select(DATES),
            )
                .prop_map(move |(op, d)| {
                    (format!("{field} {op} {}", quote(d)), vec![d.to_owned()])
                });
            prop_oneof![4 => cmp, 2 => in_list, 1 => null_check, 2 => bound].boxed()
        }
        None => prop_oneof![4 => cmp, 2 => in_list, 1 => null_check].boxed(),
    };
    atom.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|((a, sa), (b, sb))| (format!("({a} and {b})"), [sa, sb].concat())),
            (inner.clone(), inner.clone())
                .prop_map(|((a, sa), (b, sb))| (format!("({a} or {b})"), [sa, sb].concat())),
            inner.prop_map(|(a, sa)| (format!("not ({a})"), sa)),
        ]
    })
    .boxed()
}

/// `distinct_id in (select distinct_id from <team-guarded table> where …)`.
fn in_subquery() -> BoxedStrategy<(String, Vec<String>)> {
    (condition(2, ""), any::<bool>())
        .prop_map(|((w, s), from_events)| {
            let source = if from_events {
                "events"
            } else {
                "person_distinct_ids"
            };
            (
                format!("distinct_id in (select distinct_id from {source} where {w})"),
                s,
            )
        })
        .boxed()
}

/// A single-table SELECT: plain columns or one grouped column with aggregates.
fn single_table() -> BoxedStrategy<Query> {
    (0..TABLES.len())
        .prop_flat_map(|t| {
            let fields = TABLES[t].fields;
            (
                Just(t),
                proptest::sample::subsequence(fields, 1..=3.min(fields.len())),
                proptest::option::of(condition(t, "")),
                any::<bool>(),
                proptest::option::of(1u32..5),
            )
        })
        .prop_map(|(t, cols, cond, grouped, limit)| {
            let table = TABLES[t].name;
            let (mut strings, where_sql) = match cond {
                Some((w, s)) => (s, format!(" where {w}")),
                None => (vec![], String::new()),
            };
            let hogql = if grouped {
                let g = cols[0];
                format!(
                    "select {g}, count(), count(distinct {g}), min({g}) from {table}{where_sql} group by {g} order by {g}"
                )
            } else {
                let order = cols.join(", ");
                format!(
                    "select {} from {table}{where_sql} order by {order}{}",
                    cols.join(", "),
                    limit.map(|l| format!(" limit {l}")).unwrap_or_default()
                )
            };
            strings.sort();
            Query { hogql, strings }
        })
        .boxed()
}

/// Shapes over several tables: joins, IN-subqueries, FROM-subqueries, UNION ALL.
fn composite() -> BoxedStrategy<Query> {
    let join_persons = (
        proptest::sample::select(&["join", "left join", "inner join"][..]),
        proptest::option::of(condition(0, "e.")),
    )
        .prop_map(|(kind, cond)| {
            let (w, s) = cond.map_or((String::new(), vec![]), |(w, s)| (format!(" where {w}"), s));
            Query {
                hogql: format!(
                    "select e.event, e.distinct_id, p.properties.email from events e {kind} persons p on e.person_id = p.id{w}"
                ),
                strings: s,
            }
        });
    let join_pdi = proptest::option::of(condition(2, "d.")).prop_map(|cond| {
        let (w, s) = cond.map_or((String::new(), vec![]), |(w, s)| (format!(" where {w}"), s));
        Query {
            hogql: format!(
                "select e.uuid, d.person_id from events e left join person_distinct_ids d on e.distinct_id = d.distinct_id{w}"
            ),
            strings: s,
        }
    });
    let self_join = condition(0, "a.").prop_map(|(w, s)| Query {
        hogql: format!(
            "select a.event, b.event from events a join events b on a.distinct_id = b.distinct_id where {w}"
        ),
        strings: s,
    });
    let with_in = in_subquery().prop_map(|(w, s)| Query {
        hogql: format!("select event, distinct_id from events where {w}"),
        strings: s,
    });
    let from_sub = (condition(0, ""), any::<bool>()).prop_map(|((w, s), count)| Query {
        hogql: if count {
            format!(
                "select count(), uniq(d) from (select distinct_id as d, event from events where {w})"
            )
        } else {
            format!("select s.d, s.e from (select distinct_id as d, event as e from events where {w}) as s")
        },
        strings: s,
    });
    let union = (condition(0, ""), condition(2, "")).prop_map(|((a, sa), (b, sb))| Query {
        hogql: format!(
            "select distinct_id from events where {a} union all select distinct_id from person_distinct_ids where {b}"
        ),
        strings: [sa, sb].concat(),
    });
    let cte = condition(0, "").prop_map(|(w, s)| Query {
        hogql: format!(
            "with recent as (select uuid, distinct_id from events where {w}) select distinct_id, count() from recent group by distinct_id"
        ),
        strings: s,
    });
    let cross = condition(4, "raw_groups.").prop_map(|(w, s)| Query {
        hogql: format!("select event, raw_groups.key from events cross join raw_groups where {w}"),
        strings: s,
    });
    prop_oneof![
        join_persons,
        join_pdi,
        self_join,
        with_in,
        from_sub,
        union,
        cte,
        cross
    ]
    .boxed()
}

fn query() -> BoxedStrategy<Query> {
    prop_oneof![3 => single_table(), 2 => composite()].boxed()
}

/// The modifiers a query runs with: each persons-on-events mode (the override modes join
/// `person_distinct_id_overrides`) and each persons argMax version.
const MODIFIERS: &[&str] = &[
    "{}",
    r#"{"personsOnEventsMode": "person_id_no_override_properties_on_events"}"#,
    r#"{"personsOnEventsMode": "person_id_override_properties_on_events"}"#,
    r#"{"personsOnEventsMode": "person_id_override_properties_joined"}"#,
    r#"{"personsArgMaxVersion": "v1"}"#,
    r#"{"personsArgMaxVersion": "v2"}"#,
];

fn sorted(rows: &hogql_support::Rows) -> Vec<String> {
    let mut out: Vec<String> = rows
        .rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect();
    out.sort();
    out
}

#[test]
fn team_420_queries_never_see_team_421() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let all_db = scenarios::unique("hogql_iso_all");
    let own_db = scenarios::unique("hogql_iso_420");
    let (all, own) = rt.block_on(async {
        let all = hogql_support::dataset_database(&all_db, &[], None).await?;
        let own = hogql_support::dataset_database(&own_db, &[], Some(hogql_support::TEAM)).await?;
        anyhow::Ok((all, own))
    })?;

    // The dataset makes a leak visible: SQL without the team guard differs between the two
    // databases and shows team 421's marks.
    let unguarded = "SELECT event, distinct_id, properties FROM events";
    let (a, b) = rt.block_on(async {
        anyhow::Ok((
            hogql_support::execute(&all, unguarded).await?,
            hogql_support::execute(&own, unguarded).await?,
        ))
    })?;
    anyhow::ensure!(
        sorted(&a) != sorted(&b) && sorted(&a).iter().any(|r| r.contains("421")),
        "the dataset does not tell the teams apart"
    );

    let stats = Mutex::new((0u32, 0u32, 0u32)); // executed, failed on ClickHouse, compile errors
    let started = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (query(), proptest::sample::select(MODIFIERS));
    let outcome = runner.run(&strategy, |(q, modifiers)| {
        let mut ctx = Context::new(hogql_support::TEAM);
        ctx.global_settings = false;
        ctx.modifiers = serde_json::from_str(modifiers)
            .map_err(|e| TestCaseError::fail(format!("modifiers {modifiers}: {e}")))?;
        let compiled = match compile(&q.hogql, &mut ctx) {
            Ok(c) => c,
            Err(e) => {
                prop_assert!(
                    !e.to_string().contains("internal compiler error"),
                    "compiler panicked on {}",
                    q.hogql
                );
                stats
                    .lock()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .2 += 1;
                eprintln!("compile error for {}: [{}] {e}", q.hogql, e.code());
                return Ok(());
            }
        };
        for s in &q.strings {
            prop_assert!(
                !compiled.clickhouse.contains(&escape_string(s)),
                "string {s:?} inlined in {}",
                compiled.clickhouse
            );
            prop_assert!(
                compiled
                    .values
                    .iter()
                    .any(|(_, v)| v == &hogql_compiler::context::ParamValue::Str(s.clone())),
                "string {s:?} missing from the values of {}",
                q.hogql
            );
        }
        let sql = bind_values(&compiled.clickhouse, &compiled.values)
            .map_err(|e| TestCaseError::fail(format!("binding: {e}")))?;
        let (a, b) = rt.block_on(async {
            (
                hogql_support::execute(&all, &sql).await,
                hogql_support::execute(&own, &sql).await,
            )
        });
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let (a, b) = (sorted(&a), sorted(&b));
                prop_assert_eq!(
                    &a,
                    &b,
                    "rows differ with and without team 421 for {}\n  SQL: {}",
                    q.hogql,
                    sql
                );
                for row in &a {
                    prop_assert!(!row.contains("421"), "team 421 data {row} for {}", q.hogql);
                }
                stats
                    .lock()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .0 += 1;
            }
            (Err(a), Err(b)) => {
                let (a, b) = (format!("{a:#}"), format!("{b:#}"));
                let code = |m: &str| m.split("(").nth(1).map(str::to_owned).unwrap_or_default();
                prop_assert_eq!(code(&a), code(&b), "different errors for {}", q.hogql);
                stats
                    .lock()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .1 += 1;
                eprintln!("clickhouse error for {}: {a}", q.hogql);
            }
            (a, b) => {
                return Err(TestCaseError::fail(format!(
                    "only one database answers {}: with 421 {:?}, without {:?}",
                    q.hogql,
                    a.map(|r| r.rows.len()),
                    b.map(|r| r.rows.len())
                )));
            }
        }
        Ok(())
    });
    rt.block_on(async {
        hogql_support::drop_database(&all_db).await?;
        hogql_support::drop_database(&own_db).await
    })?;
    let (executed, ch_errors, compile_errors) =
        *stats.lock().map_err(|e| anyhow::anyhow!("stats: {e}"))?;
    eprintln!(
        "hogql_isolation: {CASES} cases in {:.1} s: {executed} executed, {ch_errors} ClickHouse errors, {compile_errors} compile errors",
        started.elapsed().as_secs_f64()
    );
    outcome.map_err(|e| anyhow::anyhow!("{e}"))?;
    // The property is only worth something if most generated queries really run.
    anyhow::ensure!(
        executed * 10 >= CASES * 9,
        "only {executed} of {CASES} generated queries executed ({ch_errors} ClickHouse errors, {compile_errors} compile errors)"
    );
    Ok(())
}

/// A FROM entry printed with the team guard right on it, with a string field and the names a
/// shadowing alias could take: its HogQL name and its ClickHouse name.
const GUARDED: &[(&str, &str, &str)] = &[
    ("events", "event", "events"),
    ("raw_persons", "toString(id)", "person"),
    (
        "raw_person_distinct_ids",
        "distinct_id",
        "person_distinct_id2",
    ),
    ("raw_groups", "key", "groups"),
];

/// Values a shadowing alias takes: each makes `<alias>.team_id` read 420 on every row.
const SHADOW_VALUES: &[&str] = &[
    r#"JSONExtract('{"team_id": 420}', 'Tuple(team_id Int64)')"#,
    "tuple(420)",
    "420",
];

/// Queries whose aliases shadow a guarded table (its alias, its HogQL or ClickHouse name, a
/// dotted `alias.team_id`, `team_id` itself) in SELECT, ARRAY JOIN, WHERE, a subquery or
/// beside a join.
fn shadowing() -> BoxedStrategy<Query> {
    (
        proptest::sample::select(GUARDED),
        proptest::sample::select(SHADOW_VALUES),
        0usize..10,
    )
        .prop_map(|((table, field, ch_name), value, shape)| {
            let hogql = match shape {
                0 => format!("select {value} as e, {} from {table} as e", qualify("e.", field)),
                1 => format!("select {value} as {table}, {field} from {table}"),
                2 => format!("select {value} as {ch_name}, {field} from {table}"),
                3 => format!(
                    "select {} from {table} as e array join [{value}] as e",
                    qualify("e.", field)
                ),
                4 => format!(
                    "select * from (select {value} as e, {} as f from {table} as e)",
                    qualify("e.", field)
                ),
                5 => format!(
                    "select {value} as b, a.event, {} from events as a cross join {table} as b",
                    qualify("b.", field)
                ),
                6 => format!(
                    "select {} from {table} as e where length(tuple({value} as e)) > 0",
                    qualify("e.", field)
                ),
                7 => format!(
                    "select 420 as `e.team_id`, {} from {table} as e",
                    qualify("e.", field)
                ),
                8 => format!("select {field} from {table} array join [420] as team_id"),
                _ => format!(
                    "select {field}, count() from {table} where (420 as team_id) = 420 group by {field}"
                ),
            };
            Query {
                hogql,
                strings: vec![],
            }
        })
        .boxed()
}

/// Queries with a user expression that throws on team 421's rows only (a regex built from
/// `properties.team`, which is `t421` on every team-421 event, compiled by `match`), in WHERE,
/// PREWHERE, HAVING (pushed down by ClickHouse) and a join's ON. The guard must filter those
/// rows first: the query succeeds and returns team 420's rows.
fn throwing_on_421() -> BoxedStrategy<Query> {
    let bad = |t: &str| {
        format!(
            "match({t}.event, if({t}.properties.team = 't421', concat('(', {t}.properties.team), '.'))"
        )
    };
    let shapes = vec![
        format!("select event, distinct_id from events as e where {}", bad("e")),
        format!("select event, distinct_id from events as e prewhere {}", bad("e")),
        format!(
            "select event, distinct_id from events as e where e.distinct_id != 'nobody' and {}",
            bad("e")
        ),
        "select properties.team as t, count() from events group by t having match(t, if(t = 't421', '(', '.'))".to_owned(),
        format!(
            "select a.event, b.event from events as a join events as b on a.distinct_id = b.distinct_id and {}",
            bad("b")
        ),
        format!(
            "select a.event, b.event from events as a left join events as b on a.uuid = b.uuid and {}",
            bad("b")
        ),
    ];
    proptest::sample::select(shapes)
        .prop_map(|hogql| Query {
            hogql,
            strings: vec![],
        })
        .boxed()
}

/// Compiles `q` (PostHog's global settings printed, as the query API does) and runs it on both
/// databases. `Ok(None)` when the compiler refused it with one of `refusals`; `Ok(Some(rows))`
/// when both databases return the same rows without team 421's marks.
fn run_both(
    rt: &tokio::runtime::Runtime,
    all: &clickhouse::Client,
    own: &clickhouse::Client,
    q: &Query,
    refusals: &[&str],
) -> Result<Option<usize>, TestCaseError> {
    let mut ctx = Context::new(hogql_support::TEAM);
    let compiled = match compile(&q.hogql, &mut ctx) {
        Ok(c) => c,
        Err(e) if refusals.contains(&e.code()) => return Ok(None),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "compile error for {}: [{}] {e}",
                q.hogql,
                e.code()
            )));
        }
    };
    let sql = bind_values(&compiled.clickhouse, &compiled.values)
        .map_err(|e| TestCaseError::fail(format!("binding: {e}")))?;
    let (a, b) = rt.block_on(async {
        (
            hogql_support::execute(all, &sql).await,
            hogql_support::execute(own, &sql).await,
        )
    });
    let a =
        a.map_err(|e| TestCaseError::fail(format!("with 421 {}: {e:#}\n  SQL: {sql}", q.hogql)))?;
    let b = b.map_err(|e| {
        TestCaseError::fail(format!("without 421 {}: {e:#}\n  SQL: {sql}", q.hogql))
    })?;
    let (a, b) = (sorted(&a), sorted(&b));
    prop_assert_eq!(
        &a,
        &b,
        "rows differ with and without team 421 for {}\n  SQL: {}",
        q.hogql,
        sql
    );
    for row in &a {
        prop_assert!(!row.contains("421"), "team 421 data {row} for {}", q.hogql);
    }
    Ok(Some(a.len()))
}

/// Aliases that shadow a guarded table are refused with a code, or (where ClickHouse cannot be
/// misled) run and return team 420's rows only. Before the fix every shape compiled and the
/// `JSONExtract(…) AS e … FROM events AS e` ones returned team 421's rows.
///
/// Then user expressions that throw on team 421's values run after the guard on a dataset whose
/// teams share parts (each table is loaded by one INSERT of both teams' rows): the queries
/// succeed. Before the fix ClickHouse moved the guard behind them (or evaluated ON first) and
/// failed with `cannot compile re2: (t421`.
#[test]
fn shadowing_aliases_and_throwing_expressions_never_reach_team_421() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let all_db = scenarios::unique("hogql_iso_shadow_all");
    let own_db = scenarios::unique("hogql_iso_shadow_420");
    let (all, own) = rt.block_on(async {
        let all = hogql_support::dataset_database(&all_db, &[], None).await?;
        let own = hogql_support::dataset_database(&own_db, &[], Some(hogql_support::TEAM)).await?;
        anyhow::Ok((all, own))
    })?;
    let counts = Mutex::new((0u32, 0u32)); // refused, executed
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let shadow = runner.run(&shadowing(), |q| {
        let outcome = run_both(&rt, &all, &own, &q, &["alias_shadows_table", "query_error"])?;
        let mut c = counts
            .lock()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match outcome {
            None => c.0 += 1,
            Some(_) => c.1 += 1,
        }
        Ok(())
    });
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let throwing = runner.run(&throwing_on_421(), |q| {
        let rows = run_both(&rt, &all, &own, &q, &[])?;
        prop_assert!(rows.is_some_and(|n| n > 0), "no rows for {}", q.hogql);
        Ok(())
    });
    rt.block_on(async {
        hogql_support::drop_database(&all_db).await?;
        hogql_support::drop_database(&own_db).await
    })?;
    let (refused, executed) = *counts.lock().map_err(|e| anyhow::anyhow!("counts: {e}"))?;
    eprintln!("shadowing aliases: {refused} refused, {executed} executed");
    shadow.map_err(|e| anyhow::anyhow!("shadowing aliases: {e}"))?;
    throwing.map_err(|e| anyhow::anyhow!("throwing user expressions: {e}"))?;
    anyhow::ensure!(refused > 0, "no shadowing alias was refused");
    Ok(())
}
