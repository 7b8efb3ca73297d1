//! An event's guests: list (filtered by RSVP), read, delete. Imports are in `guest_import`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald::config::Owner;
use herald::domain::RsvpState;
use herald::guests::Guest;
use herald::ids::{EventId, GuestId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::extract::{StrictQuery, path_id};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestPage {
    pub items: Vec<Guest>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GuestListQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<herald::ids::TenantId>,
    /// 1 to 500 (default 100).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    #[param(pattern = r"^\+?0*[0-7](:(gst_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})?)?$")]
    pub cursor: Option<String>,
    /// Only guests whose RSVP stands so: `accepted`, `declined`, `maybe` or `no_response`.
    /// A filtered page reads at most four times `limit` guests and may come back short (even
    /// empty) with a `next_cursor`: follow it to the end.
    pub rsvp: Option<RsvpState>,
}

super::api_routes! {
    (list_guests),
    (get_guest, delete_guest),
}

fn parse_cursor(raw: &str) -> ApiResult<(u32, Option<GuestId>)> {
    let bad =
        || ApiError::BadRequest("query parameter cursor: not a cursor from a previous page".into());
    let (shard, after) = raw.split_once(':').unwrap_or((raw, ""));
    let shard: u32 = shard.parse().map_err(|_| bad())?;
    if shard >= herald::guests::GUEST_SHARDS {
        return Err(bad());
    }
    let after = match after {
        "" => None,
        id => Some(id.parse().map_err(|_| bad())?),
    };
    Ok((shard, after))
}

/// An event's guests, a page at a time.
#[utoipa::path(get, path = "/api/v1/events/{id}/guests", tag = "guests", params(("id" = EventId, Path), GuestListQuery),
    responses((status = 200, body = GuestPage)), security(("api_key" = [])))]
pub async fn list_guests(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<GuestListQuery>,
) -> ApiResult<Json<GuestPage>> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "query parameter limit: 1 to 500".into(),
        ));
    }
    let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let (items, next) = state
        .store
        .list_guests_where(tenant, event, cursor, limit, q.rsvp)
        .await?;
    Ok(Json(GuestPage {
        items,
        next_cursor: next.map(|(shard, after)| match after {
            Some(id) => format!("{shard}:{id}"),
            None => shard.to_string(),
        }),
    }))
}

pub(crate) async fn guest_ids(
    state: &AppState,
    principal: &Principal,
    q: &TenantQuery,
    event: &str,
    guest: &str,
) -> ApiResult<(herald::ids::TenantId, EventId, GuestId)> {
    let guest: GuestId = path_id(guest)?;
    let (tenant, event) = event_of(state, principal, q.tenant_id, path_id(event)?).await?;
    Ok((tenant, event, guest))
}

/// One guest.
#[utoipa::path(get, path = "/api/v1/events/{id}/guests/{guest_id}", tag = "guests",
    params(("id" = EventId, Path), ("guest_id" = GuestId, Path), TenantQuery),
    responses((status = 200, body = Guest)), security(("api_key" = [])))]
pub async fn get_guest(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Guest>> {
    let (tenant, event, guest) = guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    let guest = state
        .store
        .get_guest(tenant, event, guest)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(guest))
}

/// Remove a guest from the event (the contact stays).
#[utoipa::path(delete, path = "/api/v1/events/{id}/guests/{guest_id}", tag = "guests",
    params(("id" = EventId, Path), ("guest_id" = GuestId, Path), TenantQuery),
    responses((status = 204)), security(("api_key" = [])))]
pub async fn delete_guest(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<StatusCode> {
    let (tenant, event, guest) = guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    state.store.delete_guest(tenant, event, guest).await?;
    Ok(StatusCode::NO_CONTENT)
}
