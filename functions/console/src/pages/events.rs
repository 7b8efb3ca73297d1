//! An event: its summary, its journey on a time line around the event date, its RSVP figures.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone as _, Utc};
use serde_json::Value;

use super::TenantParam;
use crate::ConsoleState;
use crate::charts;
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
    }
}
