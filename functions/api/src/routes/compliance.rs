//! The platform's locked compliance blocks: opt-out text, GDPR notice, legal footer.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use herald::config::{ComplianceBlock, ComplianceBlockName};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ListOf, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceBlockPut {
    /// The version you read, or 0 for the first write.
    pub version: u64,
    /// 1 to 8,192 bytes of UTF-8, not all white space.
    #[schema(
        min_length = 1,
        max_length = 8192,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub text: String,
    /// 1 to 16,384 bytes of UTF-8, not all white space.
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub html: Option<String>,
}

super::api_routes! {
    (list_compliance_blocks),
    (get_compliance_block, put_compliance_block),
}

fn block_name(raw: &str) -> ApiResult<ComplianceBlockName> {
    ComplianceBlockName::parse(raw).ok_or(ApiError::NotFound)
}

/// List the compliance blocks (any key may read them).
#[utoipa::path(get, path = "/api/v1/communication/compliance", tag = "compliance",
    responses((status = 200, body = ListOf<ComplianceBlock>)), security(("api_key" = [])))]
pub async fn list_compliance_blocks(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<ListOf<ComplianceBlock>>> {
    let mut blocks = state.store.list_compliance_blocks().await?;
    blocks.sort_by_key(|b| b.name);
    Ok(Json(ListOf::new(blocks)))
}

/// Read one block: `opt_out_text`, `gdpr_notice` or `legal_footer`.
#[utoipa::path(get, path = "/api/v1/communication/compliance/{name}", tag = "compliance", params(("name" = ComplianceBlockName, Path)),
    responses((status = 200, body = ComplianceBlock)), security(("api_key" = [])))]
pub async fn get_compliance_block(
    State(state): State<AppState>,
    _principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ComplianceBlock>> {
    state
        .store
        .get_compliance_block(block_name(&name)?)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Write one block (platform administrators). Every rendered message carries all three.
#[utoipa::path(put, path = "/api/v1/communication/compliance/{name}", tag = "compliance", params(("name" = ComplianceBlockName, Path)), request_body = ComplianceBlockPut,
    responses((status = 200, body = ComplianceBlock), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn put_compliance_block(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<ComplianceBlockPut>,
) -> ApiResult<Json<ComplianceBlock>> {
    principal.require_platform_admin()?;
    let name = block_name(&name)?;
    let mut issues = Vec::new();
    if body.text.trim().is_empty() || body.text.len() > 8192 {
        issues.push(herald::providers::FieldIssue::new(
            "text",
            "1 to 8192 bytes",
        ));
    }
    if body
        .html
        .as_ref()
        .is_some_and(|h| h.trim().is_empty() || h.len() > 16384)
    {
        issues.push(herald::providers::FieldIssue::new(
            "html",
            "1 to 16384 bytes",
        ));
    }
    reject_if_any(issues)?;
    let block = ComplianceBlock {
        name,
        text: body.text,
        html: body.html,
        version: next_version(body.version),
        updated_at: Utc::now(),
    };
    state
        .store
        .put_compliance_block(&block, body.version)
        .await?;
    Ok(Json(block))
}
