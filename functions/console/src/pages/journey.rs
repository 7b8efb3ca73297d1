//! An event's journey on a time line around its date, and what moving the event does to it:
//! given new start and end times, each step's time is computed as the journey's sync would
//! (the same pure rules, `herald::journeys::step_time`, daylight-saving changes included) and
//! shown beside today's, before anything is saved; then the event can be moved from here.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use herald::journeys::{LocalClock, Offset, step_time};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{attempt, event_utc, here};
use super::{Here, TenantParam, id, issues, not_found, query_string};
use crate::ConsoleState;
use crate::charts::{self, Mark};
use crate::form::Posted;
use crate::session::Signed;
use crate::view;

#[derive(Debug, Default, Deserialize)]
pub struct JourneyParam {
    pub tenant_id: Option<String>,
    /// A move to preview: the event's new local start and end (`datetime-local` values).
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub saved: Option<String>,
}

/// A `datetime-local` value (seconds optional) as a local time.
fn local(value: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
        .ok()
}

fn hours_between(from: DateTime<Utc>, to: &str) -> Option<f64> {
    let to = DateTime::parse_from_rfc3339(to).ok()?;
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

/// Where one step would be if the event started at `start` and ended at `end` (local, in
/// `zone`): its new local time, or why it stays.
fn moved(step: &Value, start: NaiveDateTime, end: NaiveDateTime, zone: chrono_tz::Tz) -> Value {
    if matches!(
        step["status"].as_str(),
        Some("sent" | "sending" | "skipped" | "cancelled")
    ) {
        return json!({ "stays": format!("stays {}", step["status"].as_str().unwrap_or_default()) });
    }
    let base = match step["anchor"].as_str() {
        Some("event_start") => start,
        Some("event_end") => end,
        // The RSVP deadline is the form's, which moving the event leaves as it is.
        _ => return json!({ "stays": "keeps its time (anchored to the RSVP deadline)" }),
    };
    let Some(offset) = step["offset"].as_str().and_then(|o| Offset::parse(o).ok()) else {
        return json!({ "stays": "sent only if the event is cancelled" });
    };
    let at = step["at"].as_str().and_then(|a| LocalClock::parse(a).ok());
    let time = step_time(base, zone, &offset, at);
    let past = time.utc < Utc::now();
    json!({
        "local": time.local.format("%Y-%m-%d %H:%M").to_string(),
        "adjusted": time.adjusted.is_some(),
        "past": past,
        "when_missed": step["when_missed"],
    })
}

async fn render(
    here: &Here<'_>,
    event_id: &str,
    p: &JourneyParam,
    status: StatusCode,
    errors: Vec<Value>,
) -> Response {
    let event = attempt!(here.event(event_id).await);
    let journey = attempt!(here.get(format!("/api/v1/events/{event_id}/journey")).await);
    let zone_name = event["time_zone"].as_str().unwrap_or("UTC");
    let zone: chrono_tz::Tz = zone_name.parse().unwrap_or(chrono_tz::UTC);
    let start = event_utc(event["starts_at"].as_str().unwrap_or_default(), zone_name);
    let end = event_utc(event["ends_at"].as_str().unwrap_or_default(), zone_name);
    let proposal = match (
        p.starts_at.as_deref().and_then(local),
        p.ends_at.as_deref().and_then(local),
    ) {
        (Some(s), Some(e)) if e > s => Some((s, e)),
        _ => None,
    };
    let mut marks = Vec::new();
    let mut steps = Vec::new();
    for mut step in journey["steps"].as_array().cloned().unwrap_or_default() {
        let hours = start.and_then(|s| hours_between(s, step["time"]["utc"].as_str()?));
        if let Some(h) = hours {
            marks.push(Mark {
                label: step["key"].as_str().unwrap_or_default().to_owned(),
                hours: h,
                event: false,
            });
        }
        step["relative"] = hours.map(relative).into();
        if let Some((s, e)) = proposal {
            step["moved"] = moved(&step, s, e, zone);
        }
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
    let typed = json!({
        "starts_at": p.starts_at.clone().unwrap_or_else(|| event["starts_at"].as_str().unwrap_or_default().get(..16).unwrap_or_default().to_owned()),
        "ends_at": p.ends_at.clone().unwrap_or_else(|| event["ends_at"].as_str().unwrap_or_default().get(..16).unwrap_or_default().to_owned()),
    });
    let bad_proposal = p.starts_at.is_some() && proposal.is_none();
    view::page_status(
        here.who,
        status,
        "console/journey.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant, event, journey, steps, svg, typed,
            previewing => proposal.is_some(), bad_proposal, errors,
            moved_notice => p.saved.as_deref() == Some("moved"),
        },
    )
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<JourneyParam>,
) -> Response {
    let here = here!(
        state,
        who,
        TenantParam {
            tenant_id: p.tenant_id.clone()
        }
    );
    render(&here, &event_id, &p, StatusCode::OK, Vec::new()).await
}

/// Moves the event (a PUT of the event with the version the page was read at): its pending
/// steps move with it. A version changed meanwhile is a conflict, shown with the typed times.
pub async fn move_event(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    if id(&event_id).is_none() {
        return not_found(&posted.who);
    }
    let f = &posted.fields;
    let typed = JourneyParam {
        tenant_id: here.tenant.clone(),
        starts_at: f.get("starts_at").map(str::to_owned),
        ends_at: f.get("ends_at").map(str::to_owned),
        saved: None,
    };
    let event = attempt!(here.event(&event_id).await);
    let with_seconds = |v: Option<&str>| {
        v.and_then(local)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
    };
    let body = json!({
        "version": f.get("version").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        "name": event["name"],
        "starts_at": with_seconds(f.get("starts_at")),
        "ends_at": with_seconds(f.get("ends_at")),
        "time_zone": event["time_zone"],
        "default_locale": event["default_locale"],
    });
    match here
        .api
        .put(here.uri(&format!("/api/v1/events/{event_id}")), &body)
        .await
    {
        Ok(_) => {
            let q = query_string(&[
                ("tenant_id", here.tenant.as_deref()),
                ("saved", Some("moved")),
            ]);
            view::see_other(&format!("/console/events/{event_id}/journey{q}"))
        }
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422) => {
            let mut errors = issues(&p, &[("starts_at", "move-start"), ("ends_at", "move-end")]);
            if p.status == StatusCode::CONFLICT {
                errors = vec![
                    json!({ "message": "Someone changed the event while you looked at it: its current times are shown; your times are kept in the form. Preview again, then move it.", "anchor": "move-start" }),
                ];
            }
            render(&here, &event_id, &typed, p.status, errors).await
        }
        Err(p) => here.problem(&p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_step_keeps_its_offset_and_a_sent_one_stays() {
        let start = local("2027-05-08T18:00").unwrap_or_default();
        let end = local("2027-05-08T23:00").unwrap_or_default();
        let zone = chrono_tz::Europe::Paris;
        let step = json!({ "status": "scheduled", "anchor": "event_start", "offset": "-P7D", "when_missed": "skip" });
        assert_eq!(moved(&step, start, end, zone)["local"], "2027-05-01 18:00");
        let at =
            json!({ "status": "scheduled", "anchor": "event_end", "offset": "P1D", "at": "09:30" });
        assert_eq!(moved(&at, start, end, zone)["local"], "2027-05-09 09:30");
        let sent = json!({ "status": "sent", "anchor": "event_start", "offset": "-P7D" });
        assert_eq!(moved(&sent, start, end, zone)["stays"], "stays sent");
        assert_eq!(relative(-72.0), "3 days before");
        assert_eq!(relative(2.0), "2 h after");
        assert_eq!(relative(0.0), "at the start");
    }
}
