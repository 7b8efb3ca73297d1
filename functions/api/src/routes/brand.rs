//! Brand assets of a tenant (defaults) or an event (per-field overrides).

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald::config::{Brand, BrandFields, Owner};
use herald::providers::FieldIssue;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Errors, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{ScopeQuery, owner_of};
use crate::state::AppState;

/// The whole brand of a layer. A field left out (or null) is inherited from the tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandPut {
    /// The version you read, or 0 when the layer has no brand yet.
    pub version: u64,
    pub logo_url: Option<String>,
    /// `#RRGGBB`.
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub sender_name: Option<String>,
    pub footer: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_brand, put_brand))
}

async fn brand_owner(
    state: &AppState,
    principal: &Principal,
    scope: &ScopeQuery,
) -> ApiResult<Owner> {
    match owner_of(state, principal, scope).await? {
        Owner::Platform => Err(ApiError::BadRequest(
            "brands belong to a tenant or an event: name one with tenant_id or event_id".to_owned(),
        )),
        owner => Ok(owner),
    }
}

fn check(body: &BrandPut) -> ApiResult<BrandFields> {
    let mut issues = Vec::new();
    let color = |field: &str, v: &Option<String>, issues: &mut Vec<FieldIssue>| {
        if let Some(c) = v {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
            if !ok {
                issues.push(FieldIssue::new(field, "a colour as #RRGGBB"));
            }
        }
    };
    color("primary_color", &body.primary_color, &mut issues);
    color("secondary_color", &body.secondary_color, &mut issues);
    let bad_url = |url: &String| {
        !url.starts_with("https://") || url.len() > 2048 || url.contains(char::is_whitespace)
    };
    if body.logo_url.as_ref().is_some_and(bad_url) {
        issues.push(FieldIssue::new(
            "logo_url",
            "an https URL of at most 2048 characters",
        ));
    }
    for (field, value, max) in [
        ("sender_name", &body.sender_name, 100),
        ("footer", &body.footer, 2000),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.trim().is_empty() || v.chars().count() > max)
        {
            issues.push(FieldIssue::new(field, format!("1 to {max} characters")));
        }
    }
    reject_if_any(issues)?;
    Ok(BrandFields {
        logo_url: body.logo_url.clone(),
        primary_color: body.primary_color.clone(),
        secondary_color: body.secondary_color.clone(),
        sender_name: body.sender_name.clone(),
        footer: body.footer.clone(),
    })
}

/// Read the scoped layer's brand (404 when it has none).
#[utoipa::path(get, path = "/api/v1/communication/brand", tag = "brand", params(ScopeQuery),
    responses((status = 200, body = Brand), Errors), security(("api_key" = [])))]
pub async fn get_brand(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<Brand>> {
    let owner = brand_owner(&state, &principal, &scope).await?;
    state
        .store
        .get_brand(owner)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Write the scoped layer's brand.
#[utoipa::path(put, path = "/api/v1/communication/brand", tag = "brand", params(ScopeQuery), request_body = BrandPut,
    responses((status = 200, body = Brand), Errors), security(("api_key" = [])))]
pub async fn put_brand(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<BrandPut>,
) -> ApiResult<Json<Brand>> {
    let owner = brand_owner(&state, &principal, &scope).await?;
    principal.check_write(owner)?;
    let brand = Brand {
        fields: check(&body)?,
        version: next_version(body.version),
        updated_at: Utc::now(),
    };
    state.store.put_brand(owner, &brand, body.version).await?;
    Ok(Json(brand))
}
