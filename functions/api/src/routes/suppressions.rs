//! The tenant's suppression list: addresses Herald does not send to (hard bounces and
//! complaints land here at once; tenants add and remove entries). Entries hold no address in
//! clear (see `herald::suppression`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald::domain::{Channel, EmailAddress, PhoneE164};
use herald::ids::TenantId;
use herald::suppression::{Suppression, SuppressionSource, key_of_id};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{Forbidden, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, tenant_of};
use crate::state::AppState;

super::api_routes! {
    (list_suppressions, add_suppression),
    (get_suppression, remove_suppression),
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// Only entries of this kind.
    #[param(value_type = Option<crate::doc::AddressKind>)]
    pub kind: Option<String>,
    /// Look one address up (an email address or an E.164 number); the other parameters are
    /// then not used.
    #[param(value_type = Option<crate::doc::Address>)]
    pub address: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(value_type = Option<crate::doc::SuppressionKey>)]
    pub cursor: Option<String>,
    /// 1 to 100 (default 50).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub items: Vec<Suppression>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionIn {
    /// An email address or an E.164 phone number (a phone's entry covers SMS and WhatsApp).
    #[schema(value_type = crate::doc::Address)]
    pub address: String,
    /// Why (1 to 500 characters, not all white space).
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovalIn {
    /// Why the address may receive messages again (1 to 500 characters, not all white
    /// space); kept with a record of the removed entry.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: String,
}

/// The channel an address is for, and its normalised form.
fn parse_address(field: &str, raw: &str) -> ApiResult<(Channel, String)> {
    let raw = raw.trim();
    if raw.starts_with('+') {
        let phone = PhoneE164::parse(raw)
            .map_err(|e| ApiError::invalid_field(field, format!("not an E.164 number: {e}")))?;
        Ok((Channel::Sms, phone.as_str().to_owned()))
    } else {
        let email = EmailAddress::parse(raw)
            .map_err(|e| ApiError::invalid_field(field, format!("not an email address: {e}")))?;
        Ok((Channel::Email, email.as_str().to_owned()))
    }
}

fn reason_of(raw: &str) -> ApiResult<String> {
    let reason = raw.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid_field("reason", "1 to 500 characters"));
    }
    Ok(reason.to_owned())
}

/// The tenant's suppression list, a page at a time in id order, or the entry of one
/// `address`. Tenant and platform administrators.
#[utoipa::path(get, path = "/api/v1/communication/suppressions", tag = "suppressions", params(ListQuery),
    responses((status = 200, body = SuppressionPage), Forbidden, Unprocessable), security(("api_key" = [])))]
pub async fn list_suppressions(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<ListQuery>,
) -> ApiResult<Json<SuppressionPage>> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    if let Some(address) = &q.address {
        let (channel, address) = parse_address("address", address)?;
        let entry = Suppression::new(channel, &address, SuppressionSource::Manual, "", None);
        let found = state.store.get_suppression(tenant, &entry.key()).await?;
        return Ok(Json(SuppressionPage {
            items: found.into_iter().collect(),
            next_cursor: None,
        }));
    }
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k @ ("email" | "phone")) => Some(k),
        Some(_) => return Err(ApiError::BadRequest("kind: email or phone".into())),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 100".into()));
    }
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(
            key_of_id(c)
                .ok_or_else(|| ApiError::BadRequest("cursor: not one this API gave".into()))?,
        ),
    };
    let (items, next) = state
        .store
        .list_suppressions(tenant, kind, after.as_deref(), limit)
        .await?;
    Ok(Json(SuppressionPage {
        items,
        next_cursor: next.map(|k| herald::suppression::id_of_key(&k)),
    }))
}

/// Puts an address on the list (201; an address already on it is replaced, with the new
/// reason). Its messages are then recorded `suppressed`, not sent.
#[utoipa::path(post, path = "/api/v1/communication/suppressions", tag = "suppressions", params(TenantQuery),
    request_body = SuppressionIn, responses((status = 201, body = Suppression), Forbidden), security(("api_key" = [])))]
pub async fn add_suppression(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<SuppressionIn>,
) -> ApiResult<(StatusCode, Json<Suppression>)> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    let (channel, address) = parse_address("address", &body.address)?;
    let reason = reason_of(&body.reason)?;
    let entry = Suppression::new(channel, &address, SuppressionSource::Manual, &reason, None);
    state.store.add_suppression(tenant, &entry).await?;
    tracing::info!(tenant_id = %tenant, suppression_id = %entry.id, "address suppressed over the API");
    Ok((StatusCode::CREATED, Json(entry)))
}

fn key_of(id: &str) -> ApiResult<String> {
    key_of_id(id).ok_or_else(|| {
        ApiError::BadRequest("a suppression id is email:<sha256> or phone:<sha256>".into())
    })
}

/// One entry.
#[utoipa::path(get, path = "/api/v1/communication/suppressions/{id}", tag = "suppressions", params(("id" = crate::doc::SuppressionKey, Path), TenantQuery),
    responses((status = 200, body = Suppression), Forbidden), security(("api_key" = [])))]
pub async fn get_suppression(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Suppression>> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    let key = key_of(&id)?;
    state
        .store
        .get_suppression(tenant, &key)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Takes an entry off the list, with the reason (kept, with the entry, in a removal record).
/// The address receives messages again.
#[utoipa::path(delete, path = "/api/v1/communication/suppressions/{id}", tag = "suppressions", params(("id" = crate::doc::SuppressionKey, Path), TenantQuery),
    request_body = RemovalIn, responses((status = 204), Forbidden), security(("api_key" = [])))]
pub async fn remove_suppression(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<RemovalIn>,
) -> ApiResult<StatusCode> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    let key = key_of(&id)?;
    let reason = reason_of(&body.reason)?;
    state
        .store
        .remove_suppression(tenant, &key, &reason)
        .await
        .map_err(|e| match e {
            herald::store::StoreError::NotFound => ApiError::NotFound,
            other => other.into(),
        })?;
    tracing::info!(tenant_id = %tenant, suppression_id = %id, "suppression removed over the API");
    Ok(StatusCode::NO_CONTENT)
}
