//! A guest's RSVP link, issued to the tenant: for its own messages or its own front end (the
//! JSON API at `/api/v1/rsvp/{token}` takes the same token). Messages Herald sends carry one
//! already (`links.rsvp`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use herald::ids::{EventId, GuestId};
use herald::rsvp::RsvpClaims;
use serde::Serialize;
use utoipa::ToSchema;

use super::guests::guest_ids;
use crate::auth::Principal;
use crate::extract::StrictQuery;
use crate::problem::responses::{BadGateway, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::TenantQuery;
use crate::state::AppState;

super::api_routes! {
    (rsvp_link),
}

/// A guest's RSVP link.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpLink {
    /// The credential of the RSVP page and of `/api/v1/rsvp/{token}`.
    pub token: String,
    /// The RSVP page (HTML).
    pub rsvp_url: String,
    /// 30 days after the event ends, and at least 30 days from now.
    pub expires_at: DateTime<Utc>,
}

/// Issue a guest's RSVP link (signed with the tenant's link key; in the guest's language).
#[utoipa::path(post, path = "/api/v1/events/{id}/guests/{guest_id}/rsvp-link", tag = "rsvp",
    params(("id" = EventId, Path), ("guest_id" = GuestId, Path), TenantQuery),
    responses((status = 201, body = RsvpLink), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn rsvp_link(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<RsvpLink>)> {
    let (tenant, event, guest) = guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    let ctx = crate::rsvp::context(&state, tenant, event, guest).await?;
    let (Some(event_record), Some(guest_record)) = (ctx.event, ctx.guest) else {
        return Err(ApiError::NotFound);
    };
    let ends = herald::journeys::to_instant(
        event_record.fields.ends_at,
        event_record.fields.time_zone.tz(),
    )
    .utc;
    let now = Utc::now();
    let claims = RsvpClaims::for_guest(
        tenant,
        event,
        guest,
        guest_record.locale.as_ref().map(|l| l.as_str()),
        ends,
        now,
    );
    let key = state.links.key(tenant).await.map_err(ApiError::Upstream)?;
    let token = claims.sign(key.as_ref());
    Ok((
        StatusCode::CREATED,
        Json(RsvpLink {
            rsvp_url: herald::rsvp::token::link(&state.public_base(&headers), &token),
            expires_at: DateTime::from_timestamp(i64::from(claims.expires), 0).unwrap_or(now),
            token,
        }),
    ))
}
