//! Email sender identities of a tenant: registered with SES, with the DNS records to publish.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use herald::senders::{
    Sender, SenderStatus, create_ses_identity, delete_ses_identity, parse_identity,
    ses_identity_status,
};
use herald::store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListOf;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, tenant_of};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SenderIn {
    /// A domain (`acme.example`) or an address (`events@acme.example`).
    #[schema(value_type = crate::doc::SenderIdentity)]
    pub identity: String,
}

/// A sender with what SES says of it now, and the DNS records to publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct SenderOut {
    #[serde(flatten)]
    pub sender: Sender,
    #[serde(flatten)]
    pub status: SenderStatus,
}

super::api_routes! {
    (create_sender, list_senders),
    (get_sender, delete_sender),
}

/// Register an email sender with SES (CreateEmailIdentity). The answer lists the DNS records to
/// publish: the DKIM CNAMEs, and SPF and DMARC recommendations.
#[utoipa::path(post, path = "/api/v1/communication/senders", tag = "senders", params(TenantQuery), request_body = SenderIn,
    responses((status = 201, body = SenderOut), Forbidden, Conflict, BadGateway), security(("api_key" = [])))]
pub async fn create_sender(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<SenderIn>,
) -> ApiResult<(StatusCode, Json<SenderOut>)> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, query.tenant_id).await?;
    let (identity, kind) = parse_identity(&body.identity)
        .map_err(|e| ApiError::invalid_field("identity", e.to_string()))?;
    let sender = Sender {
        identity,
        kind,
        tenant_id: tenant,
        created_at: Utc::now(),
    };
    state
        .store
        .create_sender(tenant, &sender)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists => ApiError::Conflict {
                detail: "this sender identity is already registered".to_owned(),
                current_version: None,
            },
            other => other.into(),
        })?;
    let status = match create_ses_identity(&state.providers.ses, &sender.identity).await {
        Ok(status) => status,
        Err(e) => {
            // Release the claim so that the tenant can try again.
            let _ = state.store.delete_sender(tenant, &sender.identity).await;
            return Err(ApiError::Upstream(e));
        }
    };
    tracing::info!(tenant_id = %tenant, kind = ?sender.kind, "sender registered");
    Ok((StatusCode::CREATED, Json(SenderOut { sender, status })))
}

/// List the tenant's senders (without asking SES; read one for its live status).
#[utoipa::path(get, path = "/api/v1/communication/senders", tag = "senders", params(TenantQuery),
    responses((status = 200, body = ListOf<Sender>)), security(("api_key" = [])))]
pub async fn list_senders(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<Sender>>> {
    let tenant = tenant_of(&state, &principal, query.tenant_id).await?;
    Ok(Json(ListOf::new(state.store.list_senders(tenant).await?)))
}

async fn find(
    state: &AppState,
    principal: &Principal,
    query: &TenantQuery,
    identity: &str,
) -> ApiResult<Sender> {
    let tenant = tenant_of(state, principal, query.tenant_id).await?;
    let (identity, _) = parse_identity(identity).map_err(|_| ApiError::NotFound)?;
    state
        .store
        .get_sender(tenant, &identity)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A sender with its verification and DKIM status from SES (GetEmailIdentity).
#[utoipa::path(get, path = "/api/v1/communication/senders/{identity}", tag = "senders", params(("identity" = crate::doc::SenderIdentity, Path), TenantQuery),
    responses((status = 200, body = SenderOut), BadGateway), security(("api_key" = [])))]
pub async fn get_sender(
    State(state): State<AppState>,
    principal: Principal,
    Path(identity): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<SenderOut>> {
    let sender = find(&state, &principal, &query, &identity).await?;
    let status = ses_identity_status(&state.providers.ses, &sender.identity)
        .await
        .map_err(ApiError::Upstream)?;
    Ok(Json(SenderOut { sender, status }))
}

/// Remove a sender from the tenant and from SES.
#[utoipa::path(delete, path = "/api/v1/communication/senders/{identity}", tag = "senders", params(("identity" = crate::doc::SenderIdentity, Path), TenantQuery),
    responses((status = 204, description = "Deleted"), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn delete_sender(
    State(state): State<AppState>,
    principal: Principal,
    Path(identity): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<StatusCode> {
    principal.require_tenant_admin()?;
    let sender = find(&state, &principal, &query, &identity).await?;
    state
        .store
        .delete_sender(sender.tenant_id, &sender.identity)
        .await?;
    delete_ses_identity(&state.providers.ses, &sender.identity)
        .await
        .map_err(ApiError::Upstream)?;
    tracing::info!(tenant_id = %sender.tenant_id, "sender removed");
    Ok(StatusCode::NO_CONTENT)
}
