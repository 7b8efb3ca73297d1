//! Analytics as pictures: the sent → delivered → opened → clicked funnel of each channel and
//! provider, messages per minute over the last hour by channel (SVG drawn here), the
//! insights with their evidence beside them, and a CSV of the figures.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{TenantParam, id, not_found};
use crate::ConsoleState;
use crate::charts;
use crate::session::Signed;

const FUNNEL: &[(&str, &str)] = &[
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("opened_unique", "opened"),
    ("clicked_unique", "clicked"),
];

fn funnel(title: &str, counts: &Value) -> String {
    let rows: Vec<(String, u64)> = FUNNEL
        .iter()
        .map(|(k, label)| ((*label).to_owned(), counts[k].as_u64().unwrap_or(0)))
        .collect();
    charts::bars(title, &rows, true)
}

/// Every (scope, counts, rates) row of a dashboard: the total, each channel, each provider.
fn groups(dashboard: &Value) -> Vec<(String, Value, Value)> {
    let mut out = vec![(
        "all channels".to_owned(),
        dashboard["totals"]["counts"].clone(),
        dashboard["totals"]["rates"].clone(),
    )];
    for (key, label) in [("by_channel", "channel"), ("by_provider", "provider")] {
        if let Some(map) = dashboard[key].as_object() {
            for (name, g) in map {
                out.push((
                    format!("{label} {name}"),
                    g["counts"].clone(),
                    g["rates"].clone(),
                ));
            }
        }
    }
    out
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let event = attempt!(here.event(&event_id).await);
    let (dashboard, realtime, insights) = tokio::join!(
        here.get(format!(
            "/api/v1/communication/analytics/dashboard?event_id={event_id}"
        )),
        here.get("/api/v1/communication/analytics/realtime"),
        here.get(format!(
            "/api/v1/communication/analytics/insights?event_id={event_id}"
        )),
    );
    let dashboard = attempt!(dashboard);
    let funnels: Vec<Value> = groups(&dashboard)
        .into_iter()
        .map(|(name, counts, rates)| {
            json!({
                "name": name,
                "svg": funnel(&format!("Funnel, {name}"), &counts),
                "counts": counts,
                "rates": rates,
            })
        })
        .collect();
    // Messages per minute over the last hour, one line per channel (sent and delivered).
    let over_time = realtime.ok().map(|r| {
        let buckets = r["buckets"].as_array().cloned().unwrap_or_default();
        let labels: Vec<String> = buckets
            .iter()
            .map(|b| b["minute"].as_str().unwrap_or_default().get(11..16).unwrap_or_default().to_owned())
            .collect();
        let mut channels: Vec<String> = buckets
            .iter()
            .filter_map(|b| b["by_channel"].as_object())
            .flat_map(|m| m.keys().cloned())
            .collect();
        channels.sort();
        channels.dedup();
        let mut series = vec![
            ("sent, all".to_owned(), buckets.iter().map(|b| b["counts"]["sent"].as_u64().unwrap_or(0)).collect::<Vec<_>>()),
            ("delivered, all".to_owned(), buckets.iter().map(|b| b["counts"]["delivered"].as_u64().unwrap_or(0)).collect()),
        ];
        for c in &channels {
            series.push((
                format!("sent, {c}"),
                buckets.iter().map(|b| b["by_channel"][c]["sent"].as_u64().unwrap_or(0)).collect(),
            ));
        }
        json!({
            "svg": charts::lines("Messages per minute, last hour (UTC), the tenant's", &labels, &series),
            "total_sent": series[0].1.iter().sum::<u64>(),
        })
    });
    here.page(
        "console/analytics.html",
        crate::ctx! {
            event, funnels, over_time,
            insights => insights.ok().map(|i| i["insights"].clone()),
        },
    )
}

/// The figures as CSV: one row per scope (all, each channel, each provider).
pub async fn csv(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(event_id) = id(&event_id) else {
        return not_found(&who);
    };
    let dashboard = attempt!(
        here.get(format!(
            "/api/v1/communication/analytics/dashboard?event_id={event_id}"
        ))
        .await
    );
    let rows = groups(&dashboard);
    let count_names: Vec<String> = rows
        .first()
        .and_then(|(_, c, _)| c.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    let rate_names: Vec<String> = rows
        .first()
        .and_then(|(_, _, r)| r.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    let mut out = String::from("scope");
    for n in count_names.iter().chain(&rate_names) {
        out.push(',');
        out.push_str(n);
    }
    out.push_str("\r\n");
    for (name, counts, rates) in &rows {
        out.push_str(name);
        for n in &count_names {
            out.push(',');
            out.push_str(&counts[n].as_u64().unwrap_or(0).to_string());
        }
        for n in &rate_names {
            out.push(',');
            if let Some(r) = rates[n].as_f64() {
                out.push_str(&format!("{r:.4}"));
            }
        }
        out.push_str("\r\n");
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"analytics-{event_id}.csv\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    crate::view::secure_headers(headers);
    response
}
