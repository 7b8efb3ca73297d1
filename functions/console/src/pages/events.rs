//! An event: its summary, its journey on a time line around the event date, its RSVP figures.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone as _, Utc};
use serde_json::Value;

use super::TenantParam;
use crate::ConsoleState;
use crate::charts::{self, Mark};
use crate::session::Signed;

macro_rules! here {
    ($state:expr, $who:expr, $p:expr) => {
        match $crate::pages::Here::new(&$state, &$who, $p.tenant_id) {
            Ok(h) => h,
            Err(r) => return r,
        }
    };
}
pub(crate) use here;

macro_rules! attempt {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}
pub(crate) use attempt;

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let event = attempt!(here.event(&id).await);
    let wizard = here
        .get(&format!("/api/v1/events/{id}/wizard"))
        .await
        .unwrap_or(Value::Null);
    here.page(
        "console/event.html",
        crate::ctx! { event, review => wizard["steps"]["review"].clone() },
    )
}

/// An event's local time (`2027-05-01T18:00:00` in `zone`) as UTC.
pub fn event_utc(local: &str, zone: &str) -> Option<chrono::DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S").ok()?;
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn hours_between(from: chrono::DateTime<Utc>, to: &str) -> Option<f64> {
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some((to.with_timezone(&Utc) - from).num_minutes() as f64 / 60.0)
}

/// A duration in hours as people say it: "3 days before", "2 h after".
fn relative(hours: f64) -> String {
    let (n, unit) = if hours.abs() >= 48.0 {
        ((hours.abs() / 24.0).round(), "days")
    } else if hours.abs() >= 1.0 {
        (hours.abs().round(), "h")
    } else {
        ((hours.abs() * 60.0).round(), "min")
    };
    if n == 0.0 {
        "at the start".to_owned()
    } else if hours < 0.0 {
        format!("{n} {unit} before")
    } else {
        format!("{n} {unit} after")
    }
}

pub async fn journey(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let event = attempt!(here.event(&id).await);
    let journey = attempt!(here.get(format!("/api/v1/events/{id}/journey")).await);
    let zone = event["time_zone"].as_str().unwrap_or("UTC");
    let start = event_utc(event["starts_at"].as_str().unwrap_or_default(), zone);
    let end = event_utc(event["ends_at"].as_str().unwrap_or_default(), zone);
    let mut marks = Vec::new();
    let mut steps = Vec::new();
    for step in journey["steps"].as_array().cloned().unwrap_or_default() {
        let hours = start.and_then(|s| hours_between(s, step["time"]["utc"].as_str()?));
        if let Some(h) = hours {
            marks.push(Mark {
                label: step["key"].as_str().unwrap_or_default().to_owned(),
                hours: h,
                event: false,
            });
        }
        let mut step = step;
        step["relative"] = hours.map(relative).into();
        steps.push(step);
    }
    if let Some(s) = start {
        marks.push(Mark {
            label: "event starts".into(),
            hours: 0.0,
            event: true,
        });
        if let Some(e) = end {
            marks.push(Mark {
                label: "ends".into(),
                hours: (e - s).num_minutes() as f64 / 60.0,
                event: true,
            });
        }
    }
    marks.sort_by(|a, b| a.hours.total_cmp(&b.hours));
    let svg = charts::time_line(
        &format!(
            "The journey of {} around its date",
            event["name"].as_str().unwrap_or("the event")
        ),
        &marks,
    );
    here.page(
        "console/journey.html",
        crate::ctx! { event, journey, steps, svg },
    )
}

pub async fn rsvp(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let event = attempt!(here.event(&id).await);
    let figures = attempt!(here.get(format!("/api/v1/events/{id}/rsvp")).await);
    let counts: Vec<(String, u64)> = ["accepted", "declined", "maybe", "no_response"]
        .iter()
        .map(|k| {
            (
                k.replace('_', " "),
                figures["counts"][k].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let svg = charts::bars("RSVP answers", &counts, false);
    let questions: Vec<Value> = figures["questions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut q| {
            let rows: Vec<(String, u64)> = q["options"]
                .as_array()
                .map(|os| {
                    os.iter()
                        .map(|o| {
                            (
                                o["label"].as_str().unwrap_or_default().to_owned(),
                                o["count"].as_u64().unwrap_or(0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !rows.is_empty() {
                q["svg"] =
                    charts::bars(q["label"].as_str().unwrap_or("Question"), &rows, false).into();
            }
            q
        })
        .collect();
    here.page(
        "console/rsvp.html",
        crate::ctx! { event, figures, svg, questions },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_and_offsets() {
        let start = event_utc("2027-05-01T18:00:00", "Europe/Paris");
        assert_eq!(
            start.map(|s| s.to_rfc3339()),
            Some("2027-05-01T16:00:00+00:00".into())
        );
        assert_eq!(relative(-72.0), "3 days before");
        assert_eq!(relative(2.0), "2 h after");
        assert_eq!(relative(0.0), "at the start");
    }
}
