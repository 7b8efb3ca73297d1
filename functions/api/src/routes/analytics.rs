//! Delivery analytics: dashboards per tenant, event or campaign; the last hour by minute; and
//! insights computed from the counts (see `herald::analytics`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, DurationRound as _, Utc};
use herald::analytics::{Breakdown, Insight, METRICS};
use herald::ids::{CampaignId, EventId, TenantId};
use herald::tracking::{Scope, minute_of};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::extract::StrictQuery;
use crate::problem::responses::Forbidden;
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of, tenant_of};
use crate::state::AppState;

super::api_routes! {
    (dashboard),
    (realtime),
    (insights),
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// The tenant (platform keys only).
    pub tenant_id: Option<TenantId>,
    /// One event's figures.
    pub event_id: Option<EventId>,
    /// One campaign's figures.
    pub campaign_id: Option<CampaignId>,
}

/// Insights are per tenant or per event: campaigns are segments within an event's.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InsightsQuery {
    /// The tenant (platform keys only).
    pub tenant_id: Option<TenantId>,
    /// One event's insights (its campaigns are among its segments).
    pub event_id: Option<EventId>,
}

/// What a dashboard covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsScope {
    pub tenant_id: TenantId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub scope: AnalyticsScope,
    #[serde(flatten)]
    pub figures: Breakdown,
}

/// The counters scope a query names, checked against the key (a tenant-wide view needs a
/// tenant or platform administrator; an event manager sees its events and their campaigns).
async fn scope_of(
    state: &AppState,
    principal: &Principal,
    q: &AnalyticsQuery,
) -> ApiResult<(Scope, AnalyticsScope)> {
    match (q.event_id, q.campaign_id) {
        (_, Some(c)) => {
            let tenant = tenant_of(state, principal, q.tenant_id).await?;
            let campaign = state
                .store
                .campaign_item(tenant, c)
                .await?
                .ok_or(ApiError::NotFound)?;
            principal.check_event(campaign.event_id)?;
            if q.event_id.is_some_and(|e| e != campaign.event_id) {
                return Err(ApiError::NotFound);
            }
            Ok((
                Scope::Campaign(tenant, c),
                AnalyticsScope {
                    tenant_id: tenant,
                    event_id: Some(campaign.event_id),
                    campaign_id: Some(c),
                },
            ))
        }
        (Some(e), None) => {
            let (tenant, event) = event_of(state, principal, q.tenant_id, e).await?;
            Ok((
                Scope::Event(tenant, event),
                AnalyticsScope {
                    tenant_id: tenant,
                    event_id: Some(event),
                    campaign_id: None,
                },
            ))
        }
        (None, None) => {
            principal.require_tenant_admin()?;
            let tenant = tenant_of(state, principal, q.tenant_id).await?;
            Ok((
                Scope::Tenant(tenant),
                AnalyticsScope {
                    tenant_id: tenant,
                    event_id: None,
                    campaign_id: None,
                },
            ))
        }
    }
}

/// Delivery figures for the tenant, an event (`event_id`) or a campaign (`campaign_id`):
/// sent, delivered, bounced (and permanently), complained, opened and clicked (total and
/// unique), unsubscribed, with their rates, in total, by channel and by provider, and clicks
/// per link (events and campaigns). Counted from the providers' reports as the tracker
/// ingests them (within seconds); each report counts once.
#[utoipa::path(get, path = "/api/v1/communication/analytics/dashboard", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Dashboard), Forbidden), security(("api_key" = [])))]
pub async fn dashboard(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<AnalyticsQuery>,
) -> ApiResult<Json<Dashboard>> {
    let (scope, shown) = scope_of(&state, &principal, &q).await?;
    let counters = state.store.counters(&scope).await?;
    Ok(Json(Dashboard {
        scope: shown,
        figures: Breakdown::of(&counters),
    }))
}

/// One minute of the realtime view.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinuteBucket {
    /// The minute's start (UTC).
    pub minute: DateTime<Utc>,
    /// Every metric, zero when nothing happened.
    pub counts: BTreeMap<String, i64>,
    /// By channel, only the channels with events in the minute.
    pub by_channel: BTreeMap<String, BTreeMap<String, i64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Realtime {
    pub tenant_id: TenantId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Sixty one-minute buckets, oldest first, the current minute last.
    pub buckets: Vec<MinuteBucket>,
}

/// The tenant's last hour in one-minute buckets (by when each event happened): one DynamoDB
/// Query. Tenant and platform administrators.
#[utoipa::path(get, path = "/api/v1/communication/analytics/realtime", tag = "analytics", params(TenantQuery),
    responses((status = 200, body = Realtime), Forbidden), security(("api_key" = [])))]
pub async fn realtime(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Realtime>> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    let now = Utc::now()
        .duration_trunc(Duration::minutes(1))
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("truncating the time: {e}")))?;
    let from = now - Duration::minutes(59);
    let minutes = state
        .store
        .minute_counters(tenant, minute_of(from), minute_of(now))
        .await?;
    let mut buckets = Vec::with_capacity(60);
    for i in 0..60 {
        let at = from + Duration::minutes(i);
        let c = minutes.get(&minute_of(at));
        let counts = METRICS
            .iter()
            .map(|m| {
                let n = c.map(|c| c.get(&format!("n#{m}"))).unwrap_or(0);
                ((*m).to_owned(), n)
            })
            .collect();
        let mut by_channel: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (name, n) in c.map(|c| c.counts.iter()).into_iter().flatten() {
            if let Some((channel, metric)) = name.strip_prefix("c#").and_then(|r| r.split_once('#'))
            {
                by_channel
                    .entry(channel.to_owned())
                    .or_default()
                    .insert(metric.to_owned(), *n);
            }
        }
        buckets.push(MinuteBucket {
            minute: at,
            counts,
            by_channel,
        });
    }
    Ok(Json(Realtime {
        tenant_id: tenant,
        from,
        to: now + Duration::minutes(1),
        buckets,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Insights {
    pub scope: AnalyticsScope,
    /// Warnings first.
    pub insights: Vec<Insight>,
    /// What was looked at, for an empty list to mean something.
    pub checked: Vec<String>,
}

/// Findings computed from the counts, each with its evidence: providers over SES's review
/// thresholds (bounce rate 5%, complaint rate 0.1%; at least 100 sent); with `event_id`, the
/// hour of day whose messages were opened most (hours with at least 30 sent, against the
/// others, with a two-proportion z-test); and the channel that reaches each segment best (the
/// event's audience and each of its campaigns' audiences: delivery rates of channels with at
/// least 30 sent and delivery reports). Statistics over real counts, not generated prose.
#[utoipa::path(get, path = "/api/v1/communication/analytics/insights", tag = "analytics", params(InsightsQuery),
    responses((status = 200, body = Insights), Forbidden), security(("api_key" = [])))]
pub async fn insights(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<InsightsQuery>,
) -> ApiResult<Json<Insights>> {
    let q = AnalyticsQuery {
        tenant_id: q.tenant_id,
        event_id: q.event_id,
        campaign_id: None,
    };
    let (scope, shown) = scope_of(&state, &principal, &q).await?;
    let tenant = shown.tenant_id;
    let mut checked = vec!["provider bounce and complaint rates".to_owned()];
    let mut wanted = vec![Scope::Tenant(tenant)];
    let mut segments: Vec<(String, Scope)> = Vec::new();
    if let Scope::Event(_, event) = scope {
        wanted.push(scope);
        segments.push((format!("event {event}"), scope));
        for c in state
            .store
            .list_campaigns(tenant)
            .await?
            .into_iter()
            .filter(|c| c.event_id == event)
        {
            let s = Scope::Campaign(tenant, c.id);
            wanted.push(s);
            segments.push((format!("campaign '{}' ({})", c.name, c.id), s));
        }
        checked.push("the best hour to send for the event".to_owned());
        checked.push(format!(
            "the best channel for {} segments (the event and its campaigns)",
            segments.len()
        ));
    }
    let counters = state.store.counters_of(&wanted).await?;
    let names: BTreeMap<String, String> = state
        .store
        .query_prefix::<herald::config::Provider>(&herald::store::keys::providers_pk(tenant), "")
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), format!("{} ({})", p.name, p.kind)))
        .collect();
    let empty = herald::store::Counters::default();
    let get = |s: &Scope| counters.get(s).unwrap_or(&empty);
    let mut found = herald::analytics::provider_insights(get(&Scope::Tenant(tenant)), &names);
    if let Scope::Event(..) = scope {
        found.extend(herald::analytics::best_open_hour(get(&scope)));
    }
    for (name, s) in &segments {
        found.extend(herald::analytics::best_channel(name, get(s)));
    }
    found.sort_by_key(|i| i.severity != "warning");
    Ok(Json(Insights {
        scope: shown,
        insights: found,
        checked,
    }))
}
