//! Reading the audit log (see `crate::audit`): tenant administrators read their tenant's,
//! platform administrators any tenant's (`tenant_id`) or, without one, the platform's own.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald::ids::TenantId;
use herald::store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::extract::StrictQuery;
use crate::problem::responses::Forbidden;
use crate::problem::{ApiError, ApiResult};
use crate::scope::tenant_of;
use crate::state::AppState;

super::api_routes! {
    (audit_log),
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// Entries at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339); after `from`, when both are given.
    pub to: Option<DateTime<Utc>>,
    /// From the previous page's `next_cursor`.
    #[param(max_length = 79, pattern = "^[0-9]{13}\\.")]
    pub cursor: Option<String>,
    /// 1 to 100 (default 50).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogPage {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The audit log: every mutating call made with an API key, newest first. Read-only: no
/// route changes or deletes it.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditLogPage), Forbidden), security(("api_key" = [])))]
pub async fn audit_log(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<AuditQuery>,
) -> ApiResult<Json<AuditLogPage>> {
    principal.require_tenant_admin()?;
    let tenant = match (principal.tenant, q.tenant_id) {
        (None, None) => None,
        _ => Some(tenant_of(&state, &principal, q.tenant_id).await?),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 100".into()));
    }
    // Entry ids start with 13 digits of milliseconds (until the year 2286).
    const LAST_MS: i64 = 9_999_999_999_999;
    let from = q.from.map_or(0, |t| t.timestamp_millis()).clamp(0, LAST_MS);
    let to =
        q.to.map_or(LAST_MS, |t| t.timestamp_millis() - 1)
            .clamp(0, LAST_MS);
    if from > to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    // A cursor is an entry id with its `#` as `.` (URL-safe).
    let cursor = match q.cursor.as_deref() {
        None => None,
        Some(c)
            if c.len() < 80
                && c.split_once('.').is_some_and(|(ms, _)| {
                    ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit())
                }) =>
        {
            Some(c.replacen('.', "#", 1))
        }
        Some(_) => return Err(ApiError::BadRequest("cursor: not one this API gave".into())),
    };
    // A cursor outside the range has nothing after it.
    if cursor
        .as_deref()
        .and_then(|c| c.get(..13))
        .and_then(|ms| ms.parse::<i64>().ok())
        .is_some_and(|ms| ms < from || ms > to.saturating_add(1))
    {
        return Ok(Json(AuditLogPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let page = state
        .store
        .audit_log(tenant, from, to, cursor.as_deref(), limit)
        .await?;
    Ok(Json(AuditLogPage {
        items: page.items,
        next_cursor: page.next.map(|id| id.replacen('#', ".", 1)),
    }))
}
