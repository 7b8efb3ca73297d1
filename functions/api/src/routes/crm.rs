//! A tenant's CRM connection (HubSpot or Salesforce), its field mappings, a connection test,
//! on-demand sync runs and their reports. Tenant administrators only; the credentials are
//! sealed with KMS and only their hints are ever returned.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald::crm::client::TestOutcome;
use herald::crm::{
    CREDENTIALS_OWNER, Connection, ConnectionSettings, CrmJob, FieldMapping, SyncRun, SyncTrigger,
    default_mappings, mapping_issues,
};
use herald::domain::CrmKind;
use herald::ids::{SyncRunId, TenantId};
use herald::providers::{FieldIssue, check_base_url};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ListOf, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Forbidden, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, admin_tenant_of};
use crate::state::AppState;

super::api_routes! {
    (get_connection, put_connection, delete_connection),
    (test_connection),
    (start_sync),
    (list_runs),
    (get_run),
}

const MAX_SECRET: usize = 1000;

/// Connect (or reconfigure) the tenant's CRM.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionIn {
    pub kind: CrmKind,
    /// HubSpot: the private app's access token (required to connect; omit to keep the
    /// token of a HubSpot connection). 1 to 1,000 bytes, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub access_token: Option<String>,
    /// HubSpot: the API's base URL (default `https://api.hubapi.com`).
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::ProviderUrl>)]
    pub base_url: Option<String>,
    /// Salesforce (required): the org's My Domain URL, e.g. `https://acme.my.salesforce.com`.
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::ProviderUrl>)]
    pub my_domain_url: Option<String>,
    /// Salesforce (required): the connected app's consumer key. 1 to 1,000 bytes, no control
    /// characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub client_id: Option<String>,
    /// Salesforce: the connected app's consumer secret (required to connect; omit to keep the
    /// secret of a Salesforce connection). 1 to 1,000 bytes, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub client_secret: Option<String>,
    /// Field mappings (default: the CRM's standard fields and Herald's custom ones). Each
    /// contact field at most once, each CRM property at most once (whatever its case), and
    /// `email` or `phone` pulled.
    #[serde(default)]
    pub mappings: Option<Vec<FieldMapping>>,
    /// Skip scheduled runs (runs started over the API still run).
    #[serde(default)]
    pub paused: bool,
}

/// A CRM connection as shown: no secrets, only a hint of each.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub settings: ConnectionSettings,
    /// e.g. `{"access_token": "••••abcd"}`.
    pub credential_hints: BTreeMap<String, String>,
    pub mappings: Vec<FieldMapping>,
    pub paused: bool,
    /// The last CRM change applied (the next run pulls from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<DateTime<Utc>>,
    /// The latest run's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<SyncRun>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

async fn connection_of(state: &AppState, tenant: TenantId) -> ApiResult<Connection> {
    state
        .store
        .get_crm_connection(tenant)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn view(state: &AppState, tenant: TenantId, c: Connection) -> ApiResult<ConnectionView> {
    let cursor = state.store.crm_cursor(tenant).await?;
    let last_run = state
        .store
        .list_sync_runs(tenant, 1, None)
        .await?
        .into_iter()
        .next();
    Ok(ConnectionView {
        settings: c.settings,
        credential_hints: c.credentials.hints,
        mappings: c.mappings,
        paused: c.paused,
        cursor,
        last_run,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

/// The tenant's CRM connection.
#[utoipa::path(get, path = "/api/v1/communication/crm", tag = "crm", params(TenantQuery),
    responses((status = 200, body = ConnectionView), Forbidden), security(("api_key" = [])))]
pub async fn get_connection(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ConnectionView>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let c = connection_of(&state, tenant).await?;
    Ok(Json(view(&state, tenant, c).await?))
}

fn secret(field: &str, value: Option<&String>, issues: &mut Vec<FieldIssue>) -> Option<String> {
    let v = value?.trim();
    if v.is_empty() || v.len() > MAX_SECRET || v.chars().any(char::is_control) {
        issues.push(FieldIssue::new(
            field,
            format!("1 to {MAX_SECRET} printable characters"),
        ));
        return None;
    }
    Some(v.to_owned())
}

/// Connects the tenant's CRM, or changes its connection (omit the secret to keep it; a
/// connection to another CRM starts again from the beginning).
#[utoipa::path(put, path = "/api/v1/communication/crm", tag = "crm", params(TenantQuery),
    request_body = ConnectionIn,
    responses((status = 200, body = ConnectionView), Forbidden), security(("api_key" = [])))]
pub async fn put_connection(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<ConnectionIn>,
) -> ApiResult<Json<ConnectionView>> {
    let mut issues = Vec::new();
    let url = |field: &str, v: &str, issues: &mut Vec<FieldIssue>| {
        if let Err(m) = check_base_url(v, state.url_policy) {
            issues.push(FieldIssue::new(field, m));
        }
        v.trim_end_matches('/').to_owned()
    };
    let (settings, secret_field, secret_value) = match body.kind {
        CrmKind::Hubspot => {
            for (f, v) in [
                ("my_domain_url", &body.my_domain_url),
                ("client_id", &body.client_id),
                ("client_secret", &body.client_secret),
            ] {
                if v.is_some() {
                    issues.push(FieldIssue::new(f, "not a HubSpot setting"));
                }
            }
            let base_url = body
                .base_url
                .as_deref()
                .map(|u| url("base_url", u, &mut issues));
            (
                ConnectionSettings::Hubspot { base_url },
                "access_token",
                secret("access_token", body.access_token.as_ref(), &mut issues),
            )
        }
        CrmKind::Salesforce => {
            for (f, v) in [
                ("access_token", &body.access_token),
                ("base_url", &body.base_url),
            ] {
                if v.is_some() {
                    issues.push(FieldIssue::new(f, "not a Salesforce setting"));
                }
            }
            let my_domain_url = match body.my_domain_url.as_deref() {
                Some(u) => url("my_domain_url", u, &mut issues),
                None => {
                    issues.push(FieldIssue::new("my_domain_url", "required for Salesforce"));
                    String::new()
                }
            };
            let client_id = secret("client_id", body.client_id.as_ref(), &mut issues);
            if body.client_id.is_none() {
                issues.push(FieldIssue::new("client_id", "required for Salesforce"));
            }
            (
                ConnectionSettings::Salesforce {
                    my_domain_url,
                    client_id: client_id.unwrap_or_default(),
                },
                "client_secret",
                secret("client_secret", body.client_secret.as_ref(), &mut issues),
            )
        }
    };
    let mappings = body
        .mappings
        .clone()
        .unwrap_or_else(|| default_mappings(body.kind));
    issues.extend(mapping_issues(&mappings));
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let existing = state.store.get_crm_connection(tenant).await?;
    let same_kind = existing.as_ref().filter(|e| e.settings.kind() == body.kind);
    if secret_value.is_none()
        && same_kind.is_none()
        && !issues.iter().any(|i| i.field == secret_field)
    {
        issues.push(FieldIssue::new(
            secret_field,
            "required to connect (omit it only to keep the secret of a connection to the same CRM)",
        ));
    }
    reject_if_any(issues)?;
    let credentials = match (secret_value, same_kind) {
        (Some(v), _) => {
            state
                .sealer
                .seal(
                    tenant,
                    CREDENTIALS_OWNER,
                    &BTreeMap::from([(secret_field.to_owned(), v)]),
                )
                .await?
        }
        (None, Some(e)) => e.credentials.clone(),
        (None, None) => return Err(ApiError::invalid_field(secret_field, "required")),
    };
    let now = Utc::now();
    if existing.as_ref().is_some_and(|e| e.settings != settings) {
        // Another CRM, or another org or portal: its records are new to Herald.
        state.store.delete_crm_connection(tenant).await?;
    }
    let connection = Connection {
        tenant_id: tenant,
        settings,
        credentials,
        mappings,
        paused: body.paused,
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
    };
    state.store.put_crm_connection(tenant, &connection).await?;
    tracing::info!(tenant_id = %tenant, kind = %body.kind, "CRM connection saved");
    Ok(Json(view(&state, tenant, connection).await?))
}

/// Disconnects the tenant's CRM (contacts keep their data; the reports stay).
#[utoipa::path(delete, path = "/api/v1/communication/crm", tag = "crm", params(TenantQuery),
    responses((status = 204, description = "Disconnected"), Forbidden), security(("api_key" = [])))]
pub async fn delete_connection(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<StatusCode> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    if !state.store.delete_crm_connection(tenant).await? {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a connection test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrmCheck {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TestOutcome>,
    /// Why the CRM could not be reached or refused the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Tests the connection: the credentials reach the CRM, and which mapped properties it lacks.
#[utoipa::path(post, path = "/api/v1/communication/crm/test", tag = "crm", params(TenantQuery),
    responses((status = 200, body = CrmCheck), Forbidden), security(("api_key" = [])))]
pub async fn test_connection(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<CrmCheck>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let c = connection_of(&state, tenant).await?;
    let credentials = state
        .sealer
        .open(tenant, CREDENTIALS_OWNER, &c.credentials)
        .await?;
    let client = c.client(state.providers.http.clone(), &credentials)?;
    let check = match client.test(&c.mappings).await {
        Ok(outcome) => CrmCheck {
            ok: outcome.missing_properties.is_empty(),
            outcome: Some(outcome),
            error: None,
        },
        Err(e) => CrmCheck {
            ok: false,
            outcome: None,
            error: Some(e.to_string()),
        },
    };
    tracing::info!(tenant_id = %tenant, ok = check.ok, "CRM connection tested");
    Ok(Json(check))
}

/// Starts a sync run now; its report (`queued`, then `running`, then `completed` or `failed`)
/// is at `/api/v1/communication/crm/runs/{id}`.
#[utoipa::path(post, path = "/api/v1/communication/crm/sync", tag = "crm", params(TenantQuery),
    responses((status = 202, body = SyncRun), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn start_sync(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<(StatusCode, Json<SyncRun>)> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let c = connection_of(&state, tenant).await?;
    let run = SyncRun::queued(
        SyncRunId::new(),
        tenant,
        c.settings.kind(),
        SyncTrigger::Api,
        Utc::now(),
    );
    state.store.put_sync_run(tenant, &run).await?;
    let job = CrmJob::Sync {
        tenant_id: tenant,
        run_id: run.id,
        trigger: SyncTrigger::Api,
    };
    state
        .queues
        .sqs
        .send_message()
        .queue_url(&state.queues.crm_sync)
        .message_body(serde_json::to_string(&job).map_err(anyhow::Error::from)?)
        .send()
        .await
        .map_err(|e| {
            ApiError::Upstream(anyhow::Error::new(e).context("SQS SendMessage crm-sync"))
        })?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Platform administrators: the tenant.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    /// At most this many (1–100, default 20).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// Runs older than this one (the last id of the previous page).
    #[serde(default)]
    pub before: Option<SyncRunId>,
}

/// The tenant's sync runs, newest first.
#[utoipa::path(get, path = "/api/v1/communication/crm/runs", tag = "crm", params(RunsQuery),
    responses((status = 200, body = ListOf<SyncRun>), Forbidden, Unprocessable), security(("api_key" = [])))]
pub async fn list_runs(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<RunsQuery>,
) -> ApiResult<Json<ListOf<SyncRun>>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "1 to 100"));
    }
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let runs = state.store.list_sync_runs(tenant, limit, q.before).await?;
    Ok(Json(ListOf::new(runs)))
}

/// One run's report: counts, conflicts and errors.
#[utoipa::path(get, path = "/api/v1/communication/crm/runs/{id}", tag = "crm",
    params(("id" = SyncRunId, Path), TenantQuery),
    responses((status = 200, body = SyncRun), Forbidden), security(("api_key" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<SyncRun>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id: SyncRunId = id.parse().map_err(|_| ApiError::NotFound)?;
    state
        .store
        .get_sync_run(tenant, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}
