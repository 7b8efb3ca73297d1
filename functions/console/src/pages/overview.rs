//! The overview: the tenant's events, what is sending now with its counts, provider health,
//! bounce and complaint rates against SES's thresholds, escalated conversations; for a platform admin without a tenant,
//! every tenant and the dead-letter queues.
//!
//! The page reads four things (events, campaigns, the tenant's counters, escalations); what changes while
//! something sends (campaign counts, provider health) is the live panel, polled by htmx every
//! 5 seconds while a campaign is sending (and loaded once otherwise).

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Here, TenantParam};
use crate::ConsoleState;
use crate::session::Signed;

/// SES reviews an account whose bounce rate reaches 5% and may pause it at 10%; complaints:
/// 0.1% and 0.5% (the SES developer guide's reputation metrics).
pub const SES_BOUNCE: (f64, f64) = (0.05, 0.10);
pub const SES_COMPLAINT: (f64, f64) = (0.001, 0.005);

fn against(rate: Option<f64>, (review, pause): (f64, f64)) -> Value {
    let rate = rate.unwrap_or(0.0);
    let level = if rate >= pause {
        "bad"
    } else if rate >= review {
        "warn"
    } else {
        "ok"
    };
    json!({
        "rate": format!("{:.2}%", rate * 100.0),
        "review": format!("{:.1}%", review * 100.0),
        "pause": format!("{:.1}%", pause * 100.0),
        "level": level,
    })
}

fn is_live(c: &Value) -> bool {
    matches!(c["status"].as_str(), Some("sending" | "scheduled"))
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = match Here::new(&state, &who, p.tenant_id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    if who.is_platform_admin() && here.tenant.is_none() {
        let tenants = match here.get("/api/v1/tenants").await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let queues = here
            .get("/api/v1/admin/dead-letters")
            .await
            .unwrap_or(Value::Null);
        return here.page(
            "console/overview.html",
            crate::ctx! { platform_home => true, tenants => tenants["items"].clone(), queues => queues["items"].clone() },
        );
    }
    let (events, campaigns, dashboard, escalated) = tokio::join!(
        here.get("/api/v1/events"),
        here.get("/api/v1/communication/campaigns"),
        here.get("/api/v1/communication/analytics/dashboard"),
        here.get("/api/v1/communication/conversations?escalated=true&limit=10"),
    );
    let events = match events {
        Ok(v) => v["items"].as_array().cloned().unwrap_or_default(),
        Err(r) => return r,
    };
    let campaigns: Vec<Value> = campaigns
        .map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    let names: std::collections::HashMap<String, String> = events
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_owned(),
                e["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let recent: Vec<Value> = campaigns
        .iter()
        .rev()
        .take(10)
        .map(|c| {
            let mut c = c.clone();
            c["event_name"] = names
                .get(c["event_id"].as_str().unwrap_or_default())
                .cloned()
                .into();
            c
        })
        .collect();
    let rates = dashboard.ok().map(|d| {
        json!({
            "sent": d["totals"]["counts"]["sent"],
            "bounce": against(d["totals"]["rates"]["bounce_rate"].as_f64(), SES_BOUNCE),
            "complaint": against(d["totals"]["rates"]["complaint_rate"].as_f64(), SES_COMPLAINT),
        })
    });
    // Event managers list conversations event by event: the inbox shows them theirs.
    let escalated = escalated
        .ok()
        .map(|v| v["items"].as_array().cloned().unwrap_or_default());
    here.page(
        "console/overview.html",
        crate::ctx! {
            platform_home => false,
            events, rates,
            recent, escalated,
            live => campaigns.iter().any(is_live),
        },
    )
}

/// The live panel: campaigns and journey steps sending (or scheduled) with their counts, and
/// the providers' health. htmx polls it while something is sending.
pub async fn live(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = match Here::new(&state, &who, p.tenant_id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let (campaigns, providers) = tokio::join!(
        here.get("/api/v1/communication/campaigns"),
        here.get("/api/v1/communication/providers"),
    );
    let sending: Vec<Value> = campaigns
        .map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(is_live)
        .map(super::campaigns::with_progress)
        .collect();
    let providers = providers
        .map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .ok();
    here.page(
        "console/overview_live.html",
        crate::ctx! { sending => &sending, providers, polling => !sending.is_empty(), now => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true) },
    )
}
