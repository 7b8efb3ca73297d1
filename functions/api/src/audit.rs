//! The audit log: every mutating API call (POST, PUT, PATCH, DELETE) made with an API key is
//! recorded after it is answered: the key, its role, the tenant it acted on, the action (method
//! and route), the target (the path), the answer's status, the time, the request id and the
//! SHA-256 of the request body (a digest of the change, never the change itself: bodies carry
//! addresses and secrets). Calls refused before a key was recognised (401) have no actor and
//! are not recorded.
//!
//! A tenant's administrators read their own log (`GET /api/v1/audit`); no route edits or
//! deletes it, and the API function's IAM policy denies UpdateItem and DeleteItem on it. A
//! failed audit write does not undo the answered change: it is logged and counted
//! (`AuditWriteFailures`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use herald::domain::Role;
use herald::ids::{ApiKeyId, TenantId};
use herald::store::AuditEntry;

use crate::problem::ApiError;
use crate::state::AppState;

/// What the request's handler learnt about its caller, for the audit entry.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Noted>>);

#[derive(Debug, Default)]
struct Noted {
    actor: Option<(ApiKeyId, Role, Option<TenantId>)>,
    tenant: Option<TenantId>,
}

impl AuditSlot {
    pub fn actor(&self, key: ApiKeyId, role: Role, tenant: Option<TenantId>) {
        if let Ok(mut n) = self.0.lock() {
            n.actor = Some((key, role, tenant));
        }
    }

    /// The tenant the request acted on (a platform key names it per request).
    pub fn tenant(&self, tenant: TenantId) {
        if let Ok(mut n) = self.0.lock() {
            n.tenant = Some(tenant);
        }
    }
}

/// The request id: API Gateway's, or a new ULID locally.
fn request_id(request: &Request) -> String {
    #[allow(irrefutable_let_patterns)]
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    ulid::Ulid::generate().to_string()
}

fn mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The middleware: every answer carries `x-request-id`; mutating calls with a key are recorded.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = if mutating(&method) {
        let (mut parts, body) = request.into_parts();
        // The largest body any route takes (a guest import); each route's own limit still
        // applies when its handler reads the body.
        let bytes =
            match axum::body::to_bytes(body, crate::routes::guest_import::IMPORT_MAX_BODY_BYTES)
                .await
            {
                Ok(b) => b,
                Err(_) => return ApiError::PayloadTooLarge.into_response(),
            };
        let digest =
            (!bytes.is_empty()).then(|| format!("sha256:{}", herald::digest::sha256_hex(&bytes)));
        let slot = AuditSlot::default();
        parts.extensions.insert(slot.clone());
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        let noted = slot.0.lock().map(|mut n| std::mem::take(&mut *n)).ok();
        if let Some(Noted {
            actor: Some((key, role, key_tenant)),
            tenant,
        }) = noted
        {
            let now = Utc::now();
            let entry = AuditEntry {
                id: format!("{:013}#{id}", now.timestamp_millis()),
                at: now,
                request_id: id.clone(),
                key_id: key,
                role,
                tenant_id: tenant.or(key_tenant),
                action: format!("{method} {}", route.as_deref().unwrap_or(&path)),
                target: path.chars().take(1024).collect(),
                status: response.status().as_u16(),
                digest,
            };
            if let Err(e) = state.store.add_audit_entry(&entry).await {
                tracing::error!(error = ?e, request_id = %id, key_id = %key, "writing the audit entry failed");
                herald::telemetry::emit(
                    &[("Function", "api")],
                    &[("AuditWriteFailures", 1.0, "Count")],
                );
            }
        }
        response
    } else {
        next.run(request).await
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
