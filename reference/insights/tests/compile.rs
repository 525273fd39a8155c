//! Every planned query compiles with hogql-compiler for a team, with the team guard, and bad
//! requests are refused naming their field. Pure: no services.

use chrono::NaiveDateTime;
use serde_json::{Value, json};

fn ctx() -> insights::Context {
    insights::Context {
        timezone: "UTC".into(),
        now: NaiveDateTime::parse_from_str("2020-01-20 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap(),
        earliest_event: None,
    }
}

#[track_caller]
fn check_compiles(query: Value) -> String {
    let plan = insights::plan(&query, &ctx()).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut context = hogql_compiler::Context::new(7);
    context.timezone = "Europe/Berlin".into();
    let compiled = hogql_compiler::compile(&plan.hogql, &mut context)
        .unwrap_or_else(|e| panic!("{}\n-> {e}", plan.hogql));
    assert!(
        compiled.clickhouse.contains("equals(events.team_id, 7)"),
        "{}",
        compiled.clickhouse
    );
    compiled.clickhouse
}

#[track_caller]
fn check_refused(query: Value, field: &str) {
    let err = insights::plan(&query, &ctx()).expect_err("planned");
    assert_eq!(err.field(), Some(field), "{err}");
}

#[test]
fn trends_variants_compile() {
    let ev = |event: &str| json!({"kind": "EventsNode", "event": event});
    let range = json!({"date_from": "2020-01-09", "date_to": "2020-01-19"});
    check_compiles(json!({"kind": "TrendsQuery", "series": [ev("$pageview")], "dateRange": range}));
    for math in ["dau", "unique_session", "total"] {
        check_compiles(
            json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview", "math": math}], "dateRange": range}),
        );
    }
    for math in ["sum", "avg", "min", "max", "median", "p90", "p95", "p99"] {
        check_compiles(
            json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview", "math": math, "math_property": "prop"}], "dateRange": range}),
        );
    }
    check_compiles(
        json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": null, "math": "unique_group", "math_group_type_index": 0}], "dateRange": range}),
    );
    for interval in ["hour", "day", "week", "month"] {
        check_compiles(
            json!({"kind": "TrendsQuery", "series": [ev("a")], "interval": interval, "dateRange": {"date_from": "-14d"}}),
        );
        for math in ["weekly_active", "monthly_active"] {
            check_compiles(
                json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "a", "math": math}], "interval": interval, "dateRange": {"date_from": "-14d"}, "compareFilter": {"compare": true}}),
            );
        }
    }
    check_compiles(json!({
        "kind": "TrendsQuery",
        "series": [ev("$pageview"), ev("$pageleave")],
        "dateRange": range,
        "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event", "breakdown_limit": 2},
        "compareFilter": {"compare": true, "compare_to": "-1w"},
        "trendsFilter": {"formulas": ["A+2*B"], "display": "ActionsLineGraph"},
        "properties": [
            {"key": "$browser", "value": ["Chrome", "Safari"], "operator": "exact", "type": "event"},
            {"key": "name", "value": "p", "operator": "icontains", "type": "person"},
            {"key": "prop", "value": 10, "operator": "gt", "type": "event"},
            {"key": "industry", "value": "finance", "operator": "exact", "type": "group", "group_type_index": 0},
            {"key": "it's `odd`", "operator": "is_set", "type": "event"}
        ]
    }));
    for kind in ["person", "group", "session"] {
        check_compiles(
            json!({"kind": "TrendsQuery", "series": [ev("a")], "dateRange": range, "breakdownFilter": {"breakdown": if kind == "session" { "$session_duration" } else { "name" }, "breakdown_type": kind, "breakdown_group_type_index": 0}}),
        );
    }
    check_compiles(
        json!({"kind": "TrendsQuery", "series": [ev("a")], "dateRange": range, "trendsFilter": {"display": "BoldNumber"}}),
    );
    check_compiles(
        json!({"kind": "TrendsQuery", "series": [ev("a")], "dateRange": range, "properties": {"type": "AND", "values": [{"type": "OR", "values": [{"key": "a", "value": "b", "operator": "exact", "type": "event"}, {"key": "a", "value": "c", "operator": "regex", "type": "event"}]}]}}),
    );
}

#[test]
fn trends_refusals_name_the_field() {
    let ev = json!({"kind": "EventsNode", "event": "a"});
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "nope": 1}),
        "query.nope",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "a", "math": "avg_count_per_actor"}]}),
        "query.series[0].math",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "a", "math": "sum"}]}),
        "query.series[0].math_property",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "a", "math": "weekly_active"}], "breakdownFilter": {"breakdown": "$browser"}}),
        "query.series[0].math",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "filterTestAccounts": true}),
        "query.filterTestAccounts",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "samplingFactor": 0.1}),
        "query.samplingFactor",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "interval": "fortnight"}),
        "query.interval",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "dateRange": {"date_from": "all"}}),
        "query.dateRange.date_from",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "properties": [{"key": "id", "value": 3, "type": "cohort"}]}),
        "query.properties[0].type",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "trendsFilter": {"formula": "A+B"}}),
        "query.trendsFilter.formula",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "breakdownFilter": {"breakdowns": [{"property": "a"}]}}),
        "query.breakdownFilter.breakdowns",
    );
    check_refused(
        json!({"kind": "TrendsQuery", "series": [ev], "dateRange": {"date_from": "1900-01-01", "date_to": "2020-01-01"}, "interval": "hour"}),
        "query.dateRange.date_from",
    );
    check_refused(json!({"kind": "PathsQuery"}), "query.kind");
}

#[test]
fn stickiness_variants_compile() {
    for interval in ["hour", "day", "week", "month"] {
        check_compiles(json!({"kind": "StickinessQuery",
            "series": [{"kind": "EventsNode", "event": "$pageview"}, {"kind": "EventsNode", "event": null, "math": "unique_group", "math_group_type_index": 0}],
            "interval": interval, "dateRange": {"date_from": "2020-01-11", "date_to": "2020-01-12"},
            "properties": [{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}],
            "stickinessFilter": {"compare": true}}));
    }
    check_refused(
        json!({"kind": "StickinessQuery", "series": [{"kind": "EventsNode", "event": "a", "math": "sum", "math_property": "x"}]}),
        "query.series[0].math",
    );
    for interval in ["hour", "day", "week", "month"] {
        check_compiles(json!({"kind": "StickinessQuery",
            "series": [{"kind": "EventsNode", "event": "$pageview", "math": "dau"}],
            "interval": interval, "intervalCount": 2,
            "dateRange": {"date_from": "2020-01-11", "date_to": "2020-01-20"},
            "stickinessFilter": {"computedAs": "cumulative", "stickinessCriteria": {"operator": "gte", "value": 2}}}));
    }
    check_refused(
        json!({"kind": "StickinessQuery", "series": [{"kind": "EventsNode", "event": "a"}], "stickinessFilter": {"computedAs": "sometimes"}}),
        "query.stickinessFilter.computedAs",
    );
    check_refused(
        json!({"kind": "StickinessQuery", "series": [{"kind": "EventsNode", "event": "a"}], "stickinessFilter": {"stickinessCriteria": {"operator": "gt", "value": 2}}}),
        "query.stickinessFilter.stickinessCriteria.operator",
    );
    check_refused(
        json!({"kind": "StickinessQuery", "series": [{"kind": "EventsNode", "event": "a"}], "intervalCount": 0}),
        "query.intervalCount",
    );
}

#[test]
fn lifecycle_variants_compile() {
    for interval in ["hour", "day", "week", "month"] {
        check_compiles(json!({"kind": "LifecycleQuery",
            "series": [{"kind": "EventsNode", "event": "$pageview"}],
            "interval": interval, "dateRange": {"date_from": "2020-01-11", "date_to": "2020-01-12"},
            "properties": [{"key": "name", "value": "p1", "operator": "exact", "type": "person"}]}));
    }
    check_refused(
        json!({"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "a"}, {"kind": "EventsNode", "event": "b"}]}),
        "query.series",
    );
    check_refused(
        json!({"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "a"}], "aggregation_group_type_index": 0}),
        "query.aggregation_group_type_index",
    );
    // `toggledLifecycles` only chooses what the chart shows; the four statuses are answered.
    check_compiles(
        json!({"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "a"}],
        "lifecycleFilter": {"toggledLifecycles": ["new", "dormant"]}}),
    );
    check_refused(
        json!({"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "a"}], "lifecycleFilter": {"toggledLifecycles": ["new", "gone"]}}),
        "query.lifecycleFilter.toggledLifecycles[1]",
    );
}

#[test]
fn funnel_variants_compile() {
    let step = |e: &str| json!({"kind": "EventsNode", "event": e});
    check_compiles(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("a"), step("c"), step("d")],
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-14"},
        "funnelsFilter": {"funnelWindowInterval": 7, "funnelWindowIntervalUnit": "day", "funnelOrderType": "ordered", "funnelVizType": "steps"},
        "properties": [{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}]}),
    );
    for order in ["ordered", "strict", "unordered"] {
        check_compiles(
            json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")],
            "funnelsFilter": {"funnelOrderType": order}}),
        );
        check_compiles(
            json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")],
            "funnelsFilter": {"funnelOrderType": order, "funnelVizType": "trends"}}),
        );
        for attribution in ["first_touch", "last_touch", "all_events", "step"] {
            if order == "strict" && attribution == "step" {
                continue;
            }
            check_compiles(
                json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")],
                "breakdownFilter": {"breakdown": ["$browser", "v"], "breakdown_type": "event", "breakdown_limit": 3},
                "funnelsFilter": {"funnelOrderType": order, "breakdownAttributionType": attribution, "breakdownAttributionValue": if order == "unordered" { 0 } else { 1 }}}),
            );
        }
    }
    for order in ["ordered", "unordered"] {
        check_compiles(
            json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")],
            "funnelsFilter": {"funnelOrderType": order, "exclusions": [
                {"kind": "FunnelExclusionEventsNode", "event": "x", "funnelFromStep": 0, "funnelToStep": 2}]}}),
        );
    }
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")], "funnelsFilter": {"funnelOrderType": "strict", "exclusions": [{"kind": "EventsNode", "event": "x", "funnelFromStep": 0, "funnelToStep": 1}]}}),
        "query.funnelsFilter.exclusions",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")], "funnelsFilter": {"funnelOrderType": "unordered", "exclusions": [{"kind": "EventsNode", "event": "x", "funnelFromStep": 0, "funnelToStep": 1}]}}),
        "query.funnelsFilter.exclusions[0].funnelFromStep",
    );
    for order in ["ordered", "strict", "unordered"] {
        for filter in [
            json!({"funnelOrderType": order, "funnelVizType": "time_to_convert"}),
            json!({"funnelOrderType": order, "funnelVizType": "time_to_convert", "funnelFromStep": 1, "funnelToStep": 2, "binCount": 500}),
        ] {
            check_compiles(
                json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")], "funnelsFilter": filter}),
            );
        }
    }
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")], "funnelsFilter": {"funnelVizType": "time_to_convert", "funnelFromStep": 1, "funnelToStep": 1}}),
        "query.funnelsFilter.funnelToStep",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")], "funnelsFilter": {"funnelVizType": "time_to_convert"},
        "breakdownFilter": {"breakdown": "$browser"}}),
        "query.breakdownFilter.breakdown",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")], "funnelsFilter": {"exclusions": [{"kind": "EventsNode", "event": "x", "funnelFromStep": 1, "funnelToStep": 1}]}}),
        "query.funnelsFilter.exclusions[0].funnelToStep",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")], "breakdownFilter": {"breakdown": 3, "breakdown_type": "cohort"}}),
        "query.breakdownFilter.breakdown",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a")]}),
        "query.series",
    );
    // No actions or cohorts are stored (PostgreSQL has neither table), so funnels refuse them.
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), {"kind": "ActionsNode", "id": 4}]}),
        "query.series[1].kind",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")], "funnelsFilter": {"exclusions": [
            {"kind": "FunnelExclusionActionsNode", "id": 4, "funnelFromStep": 0, "funnelToStep": 1}]}}),
        "query.funnelsFilter.exclusions[0].kind",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")],
        "properties": [{"key": "id", "value": 2, "type": "cohort", "operator": "in"}]}),
        "query.properties[0].type",
    );
    check_refused(
        json!({"kind": "FunnelsQuery", "series": [step("a"), {"kind": "EventsNode", "event": "b",
            "properties": [{"key": "id", "value": 2, "type": "cohort", "operator": "in"}]}]}),
        "query.series[1].properties[0].type",
    );
}

#[test]
fn retention_variants_compile() {
    let range = json!({"date_to": "2020-06-16T00:00:00"});
    check_compiles(json!({"kind": "RetentionQuery", "retentionFilter": {}}));
    for period in ["Hour", "Day", "Week", "Month"] {
        for kind in ["retention_recurring", "retention_first_time"] {
            check_compiles(json!({"kind": "RetentionQuery", "dateRange": range,
                "retentionFilter": {"period": period, "retentionType": kind, "totalIntervals": 5}}));
        }
    }
    check_compiles(json!({"kind": "RetentionQuery", "dateRange": range,
        "aggregation_group_type_index": 1,
        "properties": [{"key": "email", "value": "a@b.c", "operator": "exact", "type": "person"}],
        "breakdownFilter": {"breakdowns": [{"property": "it's `odd`", "type": "event"}], "breakdown_limit": 2},
        "retentionFilter": {"cumulative": true, "minimumOccurrences": 3,
            "targetEntity": {"id": null, "type": "events"},
            "returningEntity": {"id": "x'y", "type": "events", "properties": [{"key": "p", "value": "v", "operator": "exact", "type": "event"}]}}}));
    check_compiles(json!({"kind": "RetentionQuery", "dateRange": range,
        "breakdownFilter": {"breakdown": "country", "breakdown_type": "person"}}));
}

#[test]
fn retention_refusals_name_the_field() {
    check_refused(
        json!({"kind": "RetentionQuery", "retentionFilter": {"targetEntity": {"id": 3, "type": "actions"}}}),
        "query.retentionFilter.targetEntity.type",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "retentionFilter": {"totalIntervals": 100000}}),
        "query.retentionFilter.totalIntervals",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "retentionFilter": {"period": "Fortnight"}}),
        "query.retentionFilter.period",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "breakdownFilter": {"breakdown_type": "cohort", "breakdown": [3]}}),
        "query.breakdownFilter.breakdown_type",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "retentionFilter": {"retentionType": "retention_first_ever_occurrence"}}),
        "query.retentionFilter.retentionType",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "dateRange": {"date_from": "2000-01-01"}, "retentionFilter": {"period": "Hour"}}),
        "query.dateRange.date_from",
    );
    check_refused(
        json!({"kind": "RetentionQuery", "retentionFilter": {"bogus": 1}}),
        "query.retentionFilter.bogus",
    );
}
