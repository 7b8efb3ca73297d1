//! Templates at the platform (global), tenant and event layers: one per (category, channel) per layer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use herald::config::{Owner, Template, TemplateContent};
use herald::domain::{Channel, TemplateCategory};
use herald::ids::TemplateId;
use herald::render::{RenderContext, RenderedMessage, render_message};
use herald::template_syntax::{SyntaxIssue, check_template};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, next_version};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{ScopeQuery, owner_of};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// Email only, and required for email (not all white space).
    #[schema(max_length = 102400)]
    pub subject: Option<String>,
    /// Email only: an email needs `html`, `text` or both.
    #[schema(max_length = 102400)]
    pub html: Option<String>,
    /// Required for SMS and WhatsApp (not all white space).
    #[schema(max_length = 102400)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePut {
    /// The version you read; a stale one is a 409.
    pub version: u64,
    /// As on create, for the template's channel: email needs a subject and `html` or `text`;
    /// SMS and WhatsApp need `text` and take no subject or html.
    #[schema(max_length = 102400)]
    pub subject: Option<String>,
    #[schema(max_length = 102400)]
    pub html: Option<String>,
    #[schema(max_length = 102400)]
    pub text: Option<String>,
}

/// Restore an old version as the newest: `version` is the current version you read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreIn {
    pub version: u64,
}

/// The template rendered with sample guest data, strictly (undefined variables are errors).
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateTestResult {
    pub ok: bool,
    pub rendered: RenderedMessage,
    pub errors: Vec<SyntaxIssue>,
}

super::api_routes! {
    (create_template, list_templates),
    (get_template, update_template, delete_template),
    (test_template),
    (list_template_versions),
    (get_template_version),
    (restore_template_version),
}

fn checked(channel: Channel, content: TemplateContent) -> ApiResult<TemplateContent> {
    check_template(channel, &content).map_err(|(errors, syntax_errors)| {
        let detail = match (errors.len(), syntax_errors.first()) {
            (0, Some(s)) => format!(
                "{} has a syntax error at line {}: {}",
                s.field, s.line, s.message
            ),
            _ => "the template is invalid".to_owned(),
        };
        ApiError::Validation {
            detail,
            errors,
            syntax_errors,
        }
    })?;
    Ok(content)
}

async fn find(state: &AppState, owner: Owner, id: &str) -> ApiResult<Template> {
    state
        .store
        .get_template(owner, path_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Create a template for a (category, channel) at the scoped layer; a second one is a 409.
#[utoipa::path(post, path = "/api/v1/communication/templates", tag = "templates", params(ScopeQuery), request_body = TemplateIn,
    responses((status = 201, body = Template), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<TemplateIn>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let owner = owner_of(&state, &principal, &scope).await?;
    principal.check_write(owner)?;
    let content = checked(
        body.channel,
        TemplateContent {
            subject: body.subject,
            html: body.html,
            text: body.text,
        },
    )?;
    let now = Utc::now();
    let template = Template {
        id: TemplateId::new(),
        layer: owner.layer(),
        tenant_id: owner.tenant(),
        event_id: owner.event(),
        category: body.category,
        channel: body.channel,
        content,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_template(owner, &template)
        .await
        .map_err(|e| match e {
            herald::store::StoreError::AlreadyExists => ApiError::Conflict {
                detail: format!(
                    "this layer already has a {} {} template: update it with PUT",
                    template.category, template.channel
                ),
                current_version: None,
            },
            other => other.into(),
        })?;
    tracing::info!(template_id = %template.id, layer = %template.layer, "template created");
    Ok((StatusCode::CREATED, Json(template)))
}

/// List the templates of the scoped layer (no inheritance; see `/templates/effective`).
#[utoipa::path(get, path = "/api/v1/communication/templates", tag = "templates", params(ScopeQuery),
    responses((status = 200, body = ListOf<Template>)), security(("api_key" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<ListOf<Template>>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    Ok(Json(ListOf::new(state.store.list_templates(owner).await?)))
}

/// Read a template of the scoped layer.
#[utoipa::path(get, path = "/api/v1/communication/templates/{id}", tag = "templates", params(("id" = TemplateId, Path), ScopeQuery),
    responses((status = 200, body = Template)), security(("api_key" = [])))]
pub async fn get_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<Template>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    Ok(Json(find(&state, owner, &id).await?))
}

/// Replace a template's subject and bodies.
#[utoipa::path(put, path = "/api/v1/communication/templates/{id}", tag = "templates", params(("id" = TemplateId, Path), ScopeQuery), request_body = TemplatePut,
    responses((status = 200, body = Template), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn update_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<TemplatePut>,
) -> ApiResult<Json<Template>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    principal.check_write(owner)?;
    let current = find(&state, owner, &id).await?;
    let content = checked(
        current.channel,
        TemplateContent {
            subject: body.subject,
            html: body.html,
            text: body.text,
        },
    )?;
    let updated = Template {
        content,
        version: next_version(body.version),
        updated_at: Utc::now(),
        ..current
    };
    state
        .store
        .replace_template(owner, &updated, body.version)
        .await?;
    Ok(Json(updated))
}

/// Delete a template; the slot falls back to the layer below (event → tenant → global).
#[utoipa::path(delete, path = "/api/v1/communication/templates/{id}", tag = "templates", params(("id" = TemplateId, Path), ScopeQuery),
    responses((status = 204, description = "Deleted"), Forbidden), security(("api_key" = [])))]
pub async fn delete_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<StatusCode> {
    let owner = owner_of(&state, &principal, &scope).await?;
    principal.check_write(owner)?;
    let deleted = state.store.delete_template(owner, path_id(&id)?).await?;
    tracing::info!(template_id = %deleted.id, "template deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Render a template with sample guest data and the platform's compliance blocks, and report
/// what fails (undefined variables, runaway loops or recursion, bad dates).
#[utoipa::path(post, path = "/api/v1/communication/templates/{id}/test", tag = "templates", params(("id" = TemplateId, Path), ScopeQuery),
    responses((status = 200, body = TemplateTestResult)), security(("api_key" = [])))]
pub async fn test_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<TemplateTestResult>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    let template = find(&state, owner, &id).await?;
    let compliance = state.store.list_compliance_blocks().await?;
    let rendered = render_message(
        template.channel,
        &template.content,
        &RenderContext::sample(),
        &compliance,
    );
    Ok(Json(match rendered {
        Ok(rendered) => TemplateTestResult {
            ok: true,
            rendered,
            errors: Vec::new(),
        },
        Err(errors) => TemplateTestResult {
            ok: false,
            rendered: RenderedMessage::default(),
            errors,
        },
    }))
}

/// Every saved version of a template, newest first (kept after the template is deleted).
#[utoipa::path(get, path = "/api/v1/communication/templates/{id}/versions", tag = "templates", params(("id" = TemplateId, Path), ScopeQuery),
    responses((status = 200, body = ListOf<Template>)), security(("api_key" = [])))]
pub async fn list_template_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<ListOf<Template>>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    let mut versions = state
        .store
        .list_template_versions(owner, path_id(&id)?)
        .await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound);
    }
    versions.reverse();
    Ok(Json(ListOf::new(versions)))
}

/// One saved version of a template.
#[utoipa::path(get, path = "/api/v1/communication/templates/{id}/versions/{version}", tag = "templates",
    params(("id" = TemplateId, Path), ("version" = u64, Path), ScopeQuery),
    responses((status = 200, body = Template)), security(("api_key" = [])))]
pub async fn get_template_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, version)): Path<(String, String)>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<Template>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    let version: u64 = path_id(&version)?;
    state
        .store
        .get_template_version(owner, path_id(&id)?, version)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Restore an old version: its content becomes a new, newest version.
#[utoipa::path(post, path = "/api/v1/communication/templates/{id}/versions/{version}/restore", tag = "templates",
    params(("id" = TemplateId, Path), ("version" = u64, Path), ScopeQuery), request_body = RestoreIn,
    responses((status = 200, body = Template), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn restore_template_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, version)): Path<(String, String)>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<RestoreIn>,
) -> ApiResult<Json<Template>> {
    let owner = owner_of(&state, &principal, &scope).await?;
    principal.check_write(owner)?;
    let current = find(&state, owner, &id).await?;
    let old = state
        .store
        .get_template_version(owner, current.id, path_id(&version)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    let restored = Template {
        content: old.content,
        version: next_version(body.version),
        updated_at: Utc::now(),
        ..current
    };
    state
        .store
        .replace_template(owner, &restored, body.version)
        .await?;
    tracing::info!(template_id = %restored.id, from_version = old.version, "template version restored");
    Ok(Json(restored))
}
