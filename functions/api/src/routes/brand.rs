//! Brand assets of a tenant (defaults) or an event (per-field overrides).

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald::config::{Brand, BrandFields, Owner};
use herald::providers::FieldIssue;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{ScopeQuery, owner_of};
use crate::state::AppState;

/// The whole brand of a layer. A field left out (or null) is inherited from the tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandPut {
    /// The version you read, or 0 when the layer has no brand yet.
    pub version: u64,
    /// An https URL of at most 2,048 characters, without white space.
    #[schema(
        max_length = 2048,
        pattern = r"^https://[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub logo_url: Option<String>,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub primary_color: Option<String>,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub secondary_color: Option<String>,
    /// 1 to 100 characters, not all white space.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub sender_name: Option<String>,
    /// 1 to 2,000 characters, not all white space.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub footer: Option<String>,
}

super::api_routes! {
    (get_brand, put_brand),
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

/// Checks one brand field's value, adding what is wrong to `issues`.
pub fn check_field(field: &str, value: &str, issues: &mut Vec<FieldIssue>) {
    match field {
        "primary_color" | "secondary_color" => {
            let ok = value.len() == 7
                && value.starts_with('#')
                && value[1..].chars().all(|x| x.is_ascii_hexdigit());
            if !ok {
                issues.push(FieldIssue::new(field, "a colour as #RRGGBB"));
            }
        }
        "logo_url" => {
            if !value.starts_with("https://")
                || value.len() > 2048
                || value.contains(char::is_whitespace)
            {
                issues.push(FieldIssue::new(
                    field,
                    "an https URL of at most 2048 characters",
                ));
            }
        }
        "sender_name" | "footer" => {
            let max = if field == "footer" { 2000 } else { 100 };
            if value.trim().is_empty() || value.chars().count() > max {
                issues.push(FieldIssue::new(field, format!("1 to {max} characters")));
            }
        }
        _ => issues.push(FieldIssue::new(
            "field",
            "one of logo_url, primary_color, secondary_color, sender_name, footer",
        )),
    }
}

fn check(body: &BrandPut) -> ApiResult<BrandFields> {
    let fields = BrandFields {
        logo_url: body.logo_url.clone(),
        primary_color: body.primary_color.clone(),
        secondary_color: body.secondary_color.clone(),
        sender_name: body.sender_name.clone(),
        footer: body.footer.clone(),
    };
    let mut issues = Vec::new();
    for (field, value) in fields.entries() {
        if let Some(value) = value {
            check_field(field, value, &mut issues);
        }
    }
    reject_if_any(issues)?;
    Ok(fields)
}

/// Read the scoped layer's brand (404 when it has none).
#[utoipa::path(get, path = "/api/v1/communication/brand", tag = "brand", params(ScopeQuery),
    responses((status = 200, body = Brand)), security(("api_key" = [])))]
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
    responses((status = 200, body = Brand), Forbidden, Conflict), security(("api_key" = [])))]
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
