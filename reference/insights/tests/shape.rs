//! Rows (as ClickHouse returns them for a plan's HogQL) shaped into PostHog's series. Pure.

use chrono::NaiveDateTime;
use serde_json::{Value, json};

fn plan(query: Value) -> insights::Plan {
    let ctx = insights::Context {
        timezone: "UTC".into(),
        now: NaiveDateTime::parse_from_str("2020-01-20 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap(),
        earliest_event: None,
    };
    insights::plan(&query, &ctx).unwrap()
}

#[test]
fn formulas_combine_series_per_bucket() {
    let p = plan(json!({"kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "a"}, {"kind": "EventsNode", "event": "b"}],
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-03"},
        "trendsFilter": {"formula": "A+2*B"}}));
    let rows = vec![
        json!([0, "2020-01-01 00:00:00", 1, ""]),
        json!([1, "2020-01-01 00:00:00.000000", 2, ""]),
        json!([1, "2020-01-03 00:00:00", "3", ""]),
    ];
    let out = p.shape(&rows).unwrap();
    assert_eq!(out["results"][0]["data"], json!([5.0, 0.0, 6.0]), "{out:?}");
    assert_eq!(out["results"][0]["count"], json!(11.0));
    assert_eq!(out["results"][0]["label"], "Formula (A+2*B)");
}

#[test]
fn breakdowns_rank_and_fold_the_rest_into_other() {
    let p = plan(json!({"kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "a"}],
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-02"},
        "breakdownFilter": {"breakdown": "x", "breakdown_limit": 2}}));
    let rows = vec![
        json!([0, "2020-01-01 00:00:00", 1, "small"]),
        json!([0, "2020-01-01 00:00:00", 5, "big"]),
        json!([0, "2020-01-02 00:00:00", 2, "mid"]),
        json!([0, "2020-01-02 00:00:00", 1, "$$_posthog_breakdown_null_$$"]),
    ];
    let out = p.shape(&rows).unwrap();
    let values: Vec<&Value> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["breakdown_value"])
        .collect();
    assert_eq!(
        values,
        [
            &json!("big"),
            &json!("mid"),
            &json!("$$_posthog_breakdown_other_$$")
        ]
    );
    assert_eq!(out["results"][2]["data"], json!([1, 1]));
    assert_eq!(
        out["results"][2]["label"],
        "Other (i.e. all remaining values)"
    );
    assert_eq!(out["hasMore"], true);
}

#[test]
fn funnel_steps_carry_conversion_times_and_breakdowns() {
    let step = |e: &str| json!({"kind": "EventsNode", "event": e});
    let p = plan(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")],
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-03"},
        "breakdownFilter": {"breakdown": "$browser"}}),
    );
    // value, step counts, average and median conversion times per step after the first.
    let rows = vec![
        json!([["Other"], 9, 1, 60.0, 60.0]),
        json!([["Safari"], 2, 1, 7200.0, 7200.0]),
        json!([["Chrome"], 3, 0, null, null]),
    ];
    let out = p.shape(&rows).unwrap();
    let values: Vec<&Value> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f[0]["breakdown_value"])
        .collect();
    assert_eq!(
        values,
        [&json!(["Chrome"]), &json!(["Safari"]), &json!(["Other"])]
    );
    assert_eq!(
        out["results"][1][1]["average_conversion_time"],
        json!(7200.0)
    );
    assert_eq!(out["results"][0][1]["median_conversion_time"], Value::Null);
    assert_eq!(out["results"][0][0]["average_conversion_time"], Value::Null);
    assert_eq!(out["results"][0][1]["name"], "b");
}

#[test]
fn funnel_trends_rates_are_percentages_rounded_to_two_places() {
    let step = |e: &str| json!({"kind": "EventsNode", "event": e});
    let p = plan(
        json!({"kind": "FunnelsQuery", "series": [step("a"), step("b"), step("c")],
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-03"},
        "funnelsFilter": {"funnelVizType": "trends", "funnelOrderType": "unordered"}}),
    );
    let rows = vec![json!([1, 3, 1]), json!([3, "2", "2"])];
    let out = p.shape(&rows).unwrap();
    assert_eq!(out["results"][0]["data"], json!([33.33, 0.0, 100.0]));
    assert_eq!(
        out["results"][0]["days"],
        json!(["2020-01-01", "2020-01-02", "2020-01-03"])
    );
    assert_eq!(out["results"][0]["count"], 3);
}

#[test]
fn funnel_time_to_convert_fills_every_bin() {
    let step = |e: &str| json!({"kind": "EventsNode", "event": e});
    let query = |filter: Value| {
        plan(
            json!({"kind": "FunnelsQuery", "series": [step("a"), step("b")],
            "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-03"}, "funnelsFilter": filter}),
        )
    };
    let p = query(json!({"funnelVizType": "time_to_convert"}));
    // lo, width, average, bins, bin index, persons: the empty middle bin is filled with 0.
    let rows = vec![
        json!([2220.0, 40290.0, 29540.0, 2, 0, 2]),
        json!([2220.0, 40290.0, 29540.0, 2, 2, "1"]),
    ];
    let out = p.shape(&rows).unwrap();
    assert_eq!(
        out["results"],
        json!({"bins": [[2220, 2], [42510, 0], [82800, 1]], "average_conversion_time": 29540.0})
    );
    // No one converted: PostHog's bounds 0 and 1, one bin (or binCount of them), no average.
    let out = p.shape(&[]).unwrap();
    assert_eq!(
        out["results"],
        json!({"bins": [[0, 0], [1, 0]], "average_conversion_time": null})
    );
    let p = query(json!({"funnelVizType": "time_to_convert", "binCount": 3}));
    let out = p.shape(&[]).unwrap();
    assert_eq!(
        out["results"]["bins"],
        json!([[0, 0], [1, 0], [2, 0], [3, 0]])
    );
    // A bin count the query cannot have given is an error, not a panic or a huge answer.
    assert!(p.shape(&[json!([0, 1, 1, 100000, 0, 1])]).is_err());
}

#[test]
fn retention_pads_date_to_and_fills_the_matrix() {
    // date_to 2020-01-15 06:00 (day): the range ends at the start of 2020-01-16, 3 intervals back.
    let p = plan(json!({"kind": "RetentionQuery",
        "dateRange": {"date_to": "2020-01-15T06:00:00"},
        "retentionFilter": {"totalIntervals": 3}}));
    assert!(
        p.hogql.contains("'2020-01-13 00:00:00.000000'"),
        "{}",
        p.hogql
    );
    assert!(
        p.hogql.contains("'2020-01-16 00:00:00.000000'"),
        "{}",
        p.hogql
    );
    let rows = vec![
        json!([0, 0, 2]),
        json!([0, 2, "1"]),
        json!([2, 0, 1]),
        json!([7, 0, 9]),
    ];
    let out = p.shape(&rows).unwrap();
    let counts: Vec<Vec<f64>> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["count"].as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        counts,
        vec![vec![2.0, 0.0, 1.0], vec![0.0; 3], vec![1.0, 0.0, 0.0]]
    );
    assert_eq!(out["results"][1]["label"], "Day 1");
    assert_eq!(out["results"][1]["date"], "2020-01-14T00:00:00Z");
    assert_eq!(out["results"][0]["values"][2]["label"], "Day 2");
}

#[test]
fn retention_breakdowns_rank_by_cohort_size_and_fold_into_other() {
    let p = plan(json!({"kind": "RetentionQuery",
        "dateRange": {"date_to": "2020-01-15"},
        "retentionFilter": {"totalIntervals": 2},
        "breakdownFilter": {"breakdowns": [{"property": "browser", "type": "event"}], "breakdown_limit": 1}}));
    let rows = vec![
        json!([0, 0, 1, "b"]),
        json!([1, 0, 1, "b"]),
        json!([0, 0, 1, "a"]),
        json!([0, 1, 1, "a"]),
        json!([1, 0, 1, "a"]),
        json!([0, 0, 1, "c"]),
    ];
    let out = p.shape(&rows).unwrap();
    let results = out["results"].as_array().unwrap();
    let values: Vec<&str> = results
        .iter()
        .map(|c| c["breakdown_value"].as_str().unwrap())
        .collect();
    let other = "$$_posthog_breakdown_other_$$";
    assert_eq!(values, vec!["a", "a", other, other]);
    // "b" and "c" both fold into "Other": its first cohort has both.
    assert_eq!(results[2]["values"][0]["count"], json!(2.0));
    assert_eq!(results[0]["values"][1]["count"], json!(1.0));
}

#[test]
fn cumulative_stickiness_counts_n_or_more_and_keeps_the_actor_count() {
    let p = plan(json!({"kind": "StickinessQuery",
        "series": [{"kind": "EventsNode", "event": "a"}],
        "dateRange": {"date_from": "2020-01-11", "date_to": "2020-01-13"},
        "stickinessFilter": {"computedAs": "cumulative"}}));
    // part, number of intervals, actors: one actor each of 1, 2 and 3 days.
    let rows = vec![json!([0, 1, 1]), json!([0, 2, "1"]), json!([0, 3, 1])];
    let out = p.shape(&rows).unwrap();
    assert_eq!(out["results"][0]["data"], json!([3, 2, 1]));
    assert_eq!(out["results"][0]["count"], json!(3.0));
    assert_eq!(
        out["results"][0]["labels"],
        json!(["1 day or more", "2 days or more", "3 days or more"])
    );
}
