//! Authentication (`Authorization: Bearer <key>`) and the authorisation rules of the three roles.
//!
//! A key of one tenant never learns whether another tenant's ids exist: every such request is
//! answered 404, exactly as for an id that exists nowhere.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use herald::config::Owner;
use herald::domain::Role;
use herald::ids::{ApiKeyId, EventId, TenantId};
use herald::store::{ApiKey, hash_secret};

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// A key that an in-process front end (the console) has already authenticated, put in a
/// request's extensions when it calls the Router: the API then acts for that key exactly as
/// for a request bearing its secret (same roles, scopes, checks and audit).
#[derive(Debug, Clone)]
pub struct Authenticated(pub ApiKey);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub events: Vec<EventId>,
    /// Where the audit log learns who acted on which tenant (mutating requests).
    pub audit: Option<crate::audit::AuditSlot>,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A front end in the same process (the console) that has authenticated the key itself
        // (from its session, and admitted the request against the rate limits) hands it over;
        // nothing from outside the process can set a request's extensions.
        if let Some(Authenticated(key)) = parts.extensions.get::<Authenticated>().cloned() {
            if !key.usable(chrono::Utc::now()) {
                return Err(ApiError::Unauthorized);
            }
            let audit = parts.extensions.get::<crate::audit::AuditSlot>().cloned();
            if let Some(slot) = &audit {
                slot.actor(key.id, key.role, key.tenant_id);
            }
            return Ok(Principal {
                audit,
                ..Principal::from(key)
            });
        }
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|s| s.starts_with(herald::store::SECRET_PREFIX) && s.len() < 128)
            .ok_or(ApiError::Unauthorized)?;
        let key = state
            .store
            .find_api_key(&hash_secret(secret))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !key.usable(chrono::Utc::now()) {
            return Err(ApiError::Unauthorized);
        }
        tracing::Span::current().record("key_id", tracing::field::display(key.id));
        let audit = parts.extensions.get::<crate::audit::AuditSlot>().cloned();
        if let Some(slot) = &audit {
            slot.actor(key.id, key.role, key.tenant_id);
        }
        state.admit(&key).await?;
        Ok(Principal {
            audit,
            ..Principal::from(key)
        })
    }
}

impl From<ApiKey> for Principal {
    fn from(key: ApiKey) -> Self {
        Self {
            key_id: key.id,
            role: key.role,
            tenant: key.tenant_id,
            events: key.event_ids,
            audit: None,
        }
    }
}

impl Principal {
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    pub fn require_platform_admin(&self) -> ApiResult<()> {
        if self.is_platform_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only platform administrators may do this".to_owned(),
            ))
        }
    }

    /// Tenant administrators and platform administrators; event managers may not.
    pub fn require_tenant_admin(&self) -> ApiResult<()> {
        match self.role {
            Role::PlatformAdmin | Role::TenantAdmin => Ok(()),
            Role::EventManager => Err(ApiError::Forbidden(
                "event managers may only change the events on their key".to_owned(),
            )),
        }
    }

    /// The tenant a request is about: the key's own, or for a platform key the `tenant_id` asked
    /// for. Another tenant's id is a 404.
    pub fn tenant_scope(&self, requested: Option<TenantId>) -> ApiResult<TenantId> {
        let scoped = self.scope(requested);
        if let (Ok(tenant), Some(slot)) = (&scoped, &self.audit) {
            slot.tenant(*tenant);
        }
        scoped
    }

    fn scope(&self, requested: Option<TenantId>) -> ApiResult<TenantId> {
        match (self.tenant, requested) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(asked)) if own == asked => Ok(own),
            (Some(_), Some(_)) => Err(ApiError::NotFound),
            (None, Some(asked)) => Ok(asked),
            (None, None) => Err(ApiError::BadRequest(
                "platform keys must name the tenant with the tenant_id query parameter".to_owned(),
            )),
        }
    }

    /// Whether the key may see this event of its tenant (event managers: only listed events).
    pub fn check_event(&self, event: EventId) -> ApiResult<()> {
        match self.role {
            Role::EventManager if !self.events.contains(&event) => Err(ApiError::NotFound),
            _ => Ok(()),
        }
    }

    /// May this key change configuration owned by `owner`?
    pub fn check_write(&self, owner: Owner) -> ApiResult<()> {
        match owner {
            Owner::Platform => self.require_platform_admin(),
            Owner::Tenant(_) => self.require_tenant_admin(),
            Owner::Event(..) => Ok(()),
        }
    }
}
