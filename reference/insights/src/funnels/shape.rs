//! A funnel's rows shaped into PostHog's `FunnelsQueryResponse.results`: a list of steps
//! (`action_id`, `name`, `custom_name`, `order`, `people`, `count`, `type`,
//! `average_conversion_time`, `median_conversion_time`), one such list per breakdown value (with
//! `breakdown` and `breakdown_value`), for trends one series of conversion rates per interval
//! (`count`, `data`, `days`, `labels`), or for time to convert one histogram (`bins`, a list of
//! `[from_seconds, persons]`, and `average_conversion_time`).

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::{Funnels, Order, Viz};
use crate::error::{Error, Result};

pub(super) fn shape(f: &Funnels, rows: &[Value]) -> Result<Map<String, Value>> {
    let results = match f.viz {
        Viz::Steps => steps(f, rows)?,
        Viz::Trends => trends(f, rows)?,
        Viz::TimeToConvert => time_to_convert(f, rows)?,
    };
    let mut out = Map::new();
    out.insert("results".into(), results);
    Ok(out)
}

fn cells(row: &Value, expected: usize) -> Result<&Vec<Value>> {
    let cells = row
        .as_array()
        .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
    if cells.len() != expected {
        return Err(Error::Rows(format!(
            "expected {expected} columns, got {}",
            cells.len()
        )));
    }
    Ok(cells)
}

/// A count cell (numbers or numeric strings).
fn count(value: &Value) -> i64 {
    crate::number(value).map_or(0, |n| n as i64)
}

/// A conversion time: null (or NaN) when no person converted.
fn seconds(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        other => match crate::number(other) {
            Some(n) if n.is_finite() => json!(n),
            _ => Value::Null,
        },
    }
}

/// One funnel (a list of steps) from the count, average and median cells.
fn funnel(f: &Funnels, cells: &[Value], breakdown: Option<&Value>) -> Vec<Value> {
    let n = f.steps.len();
    (0..n)
        .map(|order| {
            let step = &f.steps[order];
            let (avg, median) = if order == 0 {
                (Value::Null, Value::Null)
            } else {
                (
                    seconds(&cells[n + order - 1]),
                    seconds(&cells[2 * n + order - 2]),
                )
            };
            let (action_id, name) = match f.order {
                Order::Unordered => (
                    Value::Null,
                    json!(format!(
                        "Completed {} step{}",
                        order + 1,
                        if order == 0 { "" } else { "s" }
                    )),
                ),
                _ => (json!(step.event), json!(step.event)),
            };
            let mut item = json!({
                "action_id": action_id,
                "name": name,
                "custom_name": step.custom_name,
                "order": order,
                "people": [],
                "count": count(&cells[order]),
                "type": "events",
                "average_conversion_time": avg,
                "median_conversion_time": median,
            });
            if let (Some(value), Some(map)) = (breakdown, item.as_object_mut()) {
                map.insert("breakdown".into(), value.clone());
                map.insert("breakdown_value".into(), value.clone());
            }
            item
        })
        .collect()
}

fn steps(f: &Funnels, rows: &[Value]) -> Result<Value> {
    let n = f.steps.len();
    let width = 3 * n - 2;
    if f.breakdown.is_none() {
        let results = match rows.first() {
            Some(row) => funnel(f, cells(row, width)?, None),
            None => funnel(f, &vec![Value::Null; width], None),
        };
        return Ok(Value::Array(results));
    }
    let mut funnels = Vec::new();
    for row in rows {
        let cells = cells(row, width + 1)?;
        funnels.push((
            cells[0].clone(),
            count(&cells[1]),
            funnel(f, &cells[1..], Some(&cells[0])),
        ));
    }
    let is_other = |v: &Value| {
        v.as_array()
            .is_some_and(|a| a.len() == 1 && a[0] == super::FUNNEL_OTHER)
    };
    // Most persons at the first step first, then by value; "other" last.
    funnels.sort_by(|(va, ca, _), (vb, cb, _)| {
        is_other(va)
            .cmp(&is_other(vb))
            .then(cb.cmp(ca))
            .then_with(|| {
                va.to_string()
                    .partial_cmp(&vb.to_string())
                    .unwrap_or(Ordering::Equal)
            })
    });
    Ok(Value::Array(
        funnels
            .into_iter()
            .map(|(_, _, steps)| Value::Array(steps))
            .collect(),
    ))
}

fn trends(f: &Funnels, rows: &[Value]) -> Result<Value> {
    let buckets = f.range.buckets();
    let mut reached = vec![(0_i64, 0_i64); buckets.len()];
    for row in rows {
        let cells = cells(row, 3)?;
        let bucket = count(&cells[0]);
        if bucket >= 1
            && let Some(slot) = reached.get_mut(bucket as usize - 1)
        {
            *slot = (count(&cells[1]), count(&cells[2]));
        }
    }
    let data: Vec<Value> = reached
        .iter()
        .map(|(from, to)| {
            if *from == 0 {
                json!(0.0)
            } else {
                json!((*to as f64 / *from as f64 * 10_000.0).round() / 100.0)
            }
        })
        .collect();
    Ok(json!([{
        "count": buckets.len(),
        "data": data,
        "days": buckets.iter().map(|b| f.range.day(*b)).collect::<Vec<_>>(),
        "labels": buckets.iter().map(|b| f.range.label(*b)).collect::<Vec<_>>(),
    }]))
}

/// A number of seconds: an integer when it is one (bin starts are whole seconds).
fn whole(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn time_to_convert(f: &Funnels, rows: &[Value]) -> Result<Value> {
    // No one converted: PostHog's bounds are 0 and 1 and, without `binCount`, one bin.
    let mut bins = f.bin_count.unwrap_or(1);
    let (mut lo, mut width, mut average) = (0.0, (1.0 / bins as f64).ceil(), Value::Null);
    let mut persons = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let cells = cells(row, 6)?;
        if i == 0 {
            lo = crate::number(&cells[0]).unwrap_or(f64::NAN);
            width = crate::number(&cells[1]).unwrap_or(f64::NAN);
            average = seconds(&cells[2]);
            bins = count(&cells[3]);
        }
        persons.push((count(&cells[4]), count(&cells[5])));
    }
    let usable =
        (1..=super::MAX_BINS).contains(&bins) && width > 0.0 && width.is_finite() && lo.is_finite();
    if !usable {
        return Err(Error::Rows(format!(
            "time to convert: {bins} bins of {width} seconds from {lo}"
        )));
    }
    let histogram: Vec<Value> = (0..=bins)
        .map(|i| {
            let n: i64 = persons
                .iter()
                .filter(|(idx, _)| *idx == i)
                .map(|(_, n)| n)
                .sum();
            json!([whole(lo + i as f64 * width), n])
        })
        .collect();
    Ok(json!({"bins": histogram, "average_conversion_time": average}))
}
