//! Contacts: the person behind a tenant's guests, where consent lives. Tenant administrators
//! (and platform administrators naming the tenant) read a contact and its consent ledger,
//! change its preferences on the guest's behalf (recorded as the API's, or the CRM's), and
//! issue preference links.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use herald::consent::{ConsentRecord, LinkClaims, Preferences};
use herald::conversations::ThreadMessage;
use herald::domain::ConsentSource;
use herald::guests::Contact;
use herald::ids::{ContactId, GuestId, TenantId};
use herald::providers::FieldIssue;
use herald::store::{ChangeContext, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ListOf;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, tenant_of};
use crate::state::AppState;

super::api_routes! {
    (get_contact, edit_contact, erase_contact),
    (export_contact),
    (set_preferences),
    (consent_history),
    (preference_link),
}

/// A contact id from the path: malformed is a 404, like one that does not exist.
pub fn contact_id(raw: &str) -> ApiResult<ContactId> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// The tenant of a contact request (tenant administrators) and the contact, which must exist.
pub async fn contact_of(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw: &str,
) -> ApiResult<(TenantId, Contact)> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(state, principal, tenant).await?;
    let id = contact_id(raw)?;
    let contact = state
        .store
        .get_contact(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((tenant, contact))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub contact: Contact,
    pub preferences: Preferences,
}

/// A contact and its preferences.
#[utoipa::path(get, path = "/api/v1/communication/contacts/{id}", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery),
    responses((status = 200, body = ContactView), Forbidden), security(("api_key" = [])))]
pub async fn get_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ContactView>> {
    let (_, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let preferences = Preferences::of(&contact);
    Ok(Json(ContactView {
        contact,
        preferences,
    }))
}

/// A field that is present (null included): absent stays `None`, null is `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Profile fields to change (absent: unchanged; null: cleared). Addresses are not edited
/// here: they key a contact's consent and suppression.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactEdit {
    /// At most 200 characters, no control characters (surrounding white space is removed).
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub first_name: Option<String>,
    /// At most 200 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub last_name: Option<String>,
    /// At most 200 characters, no control characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub company: Option<Option<String>>,
    /// At most 200 characters, no control characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub lifecycle_stage: Option<Option<String>>,
}

/// Edits a contact's profile; a contact synced with the CRM gets the change at the next sync
/// (and the later change wins if the CRM changed the same field too).
#[utoipa::path(patch, path = "/api/v1/communication/contacts/{id}", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery), request_body = ContactEdit,
    responses((status = 200, body = ContactView), Forbidden), security(("api_key" = [])))]
pub async fn edit_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<ContactEdit>,
) -> ApiResult<Json<ContactView>> {
    let mut issues = Vec::new();
    let text = |field: &str, v: &Option<String>, issues: &mut Vec<FieldIssue>| {
        let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty());
        if v.is_some_and(|v| v.chars().count() > 200 || v.chars().any(char::is_control)) {
            issues.push(FieldIssue::new(field, "at most 200 printable characters"));
        }
        v.map(str::to_owned)
    };
    let first = body
        .first_name
        .as_ref()
        .map(|v| text("first_name", &Some(v.clone()), &mut issues));
    let last = body
        .last_name
        .as_ref()
        .map(|v| text("last_name", &Some(v.clone()), &mut issues));
    let company = body
        .company
        .as_ref()
        .map(|v| text("company", v, &mut issues));
    let stage = body
        .lifecycle_stage
        .as_ref()
        .map(|v| text("lifecycle_stage", v, &mut issues));
    super::reject_if_any(issues)?;
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let edited = state
        .store
        .edit_contact(tenant, contact.id, |c| {
            if let Some(v) = &first {
                c.first_name = v.clone().unwrap_or_default();
            }
            if let Some(v) = &last {
                c.last_name = v.clone().unwrap_or_default();
            }
            if let Some(v) = &company {
                c.company = v.clone();
            }
            if let Some(v) = &stage {
                c.lifecycle_stage = v.clone();
            }
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound,
            e => e.into(),
        })?;
    let preferences = Preferences::of(&edited);
    Ok(Json(ContactView {
        contact: edited,
        preferences,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesIn {
    pub preferences: Preferences,
    /// Where the change comes from: `api` (default) or `crm`.
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::ApiConsentSource>)]
    pub source: Option<ConsentSource>,
    /// The version of the consent wording the person agreed to (1 to 100 printable
    /// characters, not all white space).
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::WordingVersion>)]
    pub wording_version: Option<String>,
}

/// Replaces a contact's preferences; the consent ledger records the change with its source
/// (`api` or `crm`), the wording version and the key that made it.
#[utoipa::path(put, path = "/api/v1/communication/contacts/{id}/preferences", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery), request_body = PreferencesIn,
    responses((status = 200, body = ContactView), Forbidden), security(("api_key" = [])))]
pub async fn set_preferences(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<PreferencesIn>,
) -> ApiResult<Json<ContactView>> {
    let source = body.source.unwrap_or(ConsentSource::Api);
    if !matches!(source, ConsentSource::Api | ConsentSource::Crm) {
        return Err(ApiError::invalid_field(
            "source",
            "api or crm (the other sources are Herald's own)",
        ));
    }
    let mut issues = body.preferences.issues();
    let wording = super::preferences::wording_checked(body.wording_version.as_deref())
        .unwrap_or_else(|issue| {
            issues.push(issue);
            None
        });
    if !issues.is_empty() {
        return Err(ApiError::invalid(issues));
    }
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let context = ChangeContext {
        wording_version: wording,
        key: Some(principal.key_id),
        ..ChangeContext::default()
    };
    let wanted = body.preferences;
    let changed = state
        .store
        .change_preferences(tenant, contact.id, source, &context, |_| wanted.clone())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound,
            e => e.into(),
        })?;
    if let Some(event) = changed
        .record
        .as_ref()
        .and_then(|r| herald::webhooks::unsubscribed_event(tenant, r))
    {
        state.emit_after(&[event]).await;
    }
    let preferences = Preferences::of(&changed.contact);
    Ok(Json(ContactView {
        contact: changed.contact,
        preferences,
    }))
}

/// A message as exported: the record and its provider events.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedMessage {
    pub message: herald::messages::Message,
    pub events: Vec<herald::tracking::TimelineEvent>,
}

/// Everything Herald holds about a contact (GDPR access and portability).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactExport {
    pub exported_at: DateTime<Utc>,
    pub contact: Contact,
    pub preferences: Preferences,
    pub consent: Vec<ConsentRecord>,
    /// The contact as a guest of each of the tenant's events.
    pub guests: Vec<herald::guests::Guest>,
    pub messages: Vec<ExportedMessage>,
    /// Suppression entries of the contact's addresses.
    pub suppressions: Vec<herald::suppression::Suppression>,
    /// The contact's conversations, each with its whole thread (what they wrote, what they
    /// were answered).
    pub conversations: Vec<herald::store::ConversationExport>,
}

/// Exports everything Herald holds about a contact as one JSON document: the contact, its
/// preferences and consent ledger, its guests, its messages with their events, and the
/// suppression entries of its addresses. A POST, so that each export is in the audit log.
#[utoipa::path(post, path = "/api/v1/communication/contacts/{id}/export", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery),
    responses((status = 200, body = ContactExport), Forbidden), security(("api_key" = [])))]
pub async fn export_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ContactExport>> {
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let data = state.store.contact_data(tenant, &contact).await?;
    let consent = state.store.consent_history(tenant, contact.id).await?;
    let conversations = state.store.contact_threads(tenant, &contact).await?;
    tracing::info!(tenant_id = %tenant, contact_id = %contact.id, "contact exported");
    Ok(Json(ContactExport {
        exported_at: Utc::now(),
        preferences: Preferences::of(&contact),
        contact,
        consent,
        guests: data.guests,
        messages: data
            .messages
            .into_iter()
            .map(|(message, events)| ExportedMessage { message, events })
            .collect(),
        suppressions: data.suppressions,
        conversations: conversations
            .into_iter()
            .map(|mut c| {
                c.conversation = c.conversation.shown();
                c.messages = c.messages.into_iter().map(ThreadMessage::shown).collect();
                c
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub contact_id: ContactId,
    /// Guests deleted.
    pub guests: usize,
    /// Messages whose personal fields were removed (and their events deleted).
    pub messages: usize,
    /// The address kinds kept as hashed suppression entries (`email`, `phone`).
    pub suppressed: Vec<String>,
    /// Conversations deleted with their messages (the raw mails' S3 objects are deleted by
    /// the inbound function, queued with the erasure).
    pub conversations: usize,
}

/// Erases a contact (GDPR): its guests, the contact, its consent ledger, its address keys,
/// its conversations (their messages and the raw mails in S3) and the personal fields of its
/// messages are deleted; its addresses stay only as hashed
/// suppression entries, so the opt-out holds if the person is imported again. Running it
/// again after a failure finishes the job.
#[utoipa::path(delete, path = "/api/v1/communication/contacts/{id}", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery),
    responses((status = 200, body = Erased), Forbidden), security(("api_key" = [])))]
pub async fn erase_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Erased>> {
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let data = state.store.contact_data(tenant, &contact).await?;
    // Conversations first (their pointers are in the contact's partition): a run that stops
    // part way is finished by running it again.
    let threads = state.store.contact_threads(tenant, &contact).await?;
    let objects = state
        .store
        .erase_threads(tenant, contact.id, &threads)
        .await?;
    super::inbound_webhooks::erase_mail(&state, tenant, objects).await?;
    state.store.erase_contact(tenant, &contact, &data).await?;
    tracing::info!(tenant_id = %tenant, contact_id = %contact.id, guests = data.guests.len(), messages = data.messages.len(), "contact erased");
    let mut suppressed = Vec::new();
    if contact.email.is_some() {
        suppressed.push("email".to_owned());
    }
    if contact.phone.is_some() {
        suppressed.push("phone".to_owned());
    }
    Ok(Json(Erased {
        contact_id: contact.id,
        guests: data.guests.len(),
        messages: data.messages.len(),
        suppressed,
        conversations: threads.len(),
    }))
}

/// A contact's consent ledger, oldest first: every change with its time, source, wording
/// version, and the preferences before and after.
#[utoipa::path(get, path = "/api/v1/communication/contacts/{id}/consent", tag = "contacts",
    params(("id" = ContactId, Path), TenantQuery),
    responses((status = 200, body = ListOf<ConsentRecord>), Forbidden), security(("api_key" = [])))]
pub async fn consent_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<ConsentRecord>>> {
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    Ok(Json(ListOf::new(
        state.store.consent_history(tenant, contact.id).await?,
    )))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// How long the link works: 1 to 365 days (default 30).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<i64>,
    /// The pages' language; by default the contact's own (the locale of its most recently
    /// updated guest that has one, `de-DE` giving German), else English.
    #[param(value_type = Option<crate::doc::PageLanguage>)]
    pub lang: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceLink {
    pub token: String,
    /// The preference page.
    pub preferences_url: String,
    /// One-click unsubscribe (POST) from everything; a GET shows the unsubscribe page, whose
    /// button does the same.
    pub unsubscribe_url: String,
    pub expires_at: DateTime<Utc>,
}

/// A preference link for a contact (for a tenant's own messages or pages), not tied to a
/// message: its one-click unsubscribe is from everything. Its pages are in `lang`, else in
/// the contact's own language (its guests' locale).
#[utoipa::path(post, path = "/api/v1/communication/contacts/{id}/preference-link", tag = "contacts",
    params(("id" = ContactId, Path), LinkQuery),
    responses((status = 201, body = PreferenceLink), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn preference_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<LinkQuery>,
    headers: HeaderMap,
) -> ApiResult<(axum::http::StatusCode, Json<PreferenceLink>)> {
    let days = q.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::BadRequest("days: 1 to 365".into()));
    }
    let asked = match q.lang.as_deref() {
        None => None,
        Some(l) if herald::consent::LANGUAGES.contains(&l) => Some(l),
        Some(_) => return Err(ApiError::BadRequest("lang: en, fr, de or es".into())),
    };
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let language = match asked {
        Some(l) => herald::consent::language_index(Some(l)),
        None => {
            let own = contact_locale(&state, tenant, contact.id).await?;
            herald::consent::language_index(own.as_deref())
        }
    };
    let now = Utc::now();
    let claims = LinkClaims {
        tenant,
        contact: contact.id,
        message: None,
        category: None,
        channel: None,
        language,
        expires: herald::consent::expiry(now, days),
    };
    let key = state.links.key(tenant).await.map_err(ApiError::Upstream)?;
    let token = claims.sign(key.as_ref());
    let (unsubscribe_url, preferences_url) =
        herald::consent::links(&state.public_base(&headers), &token);
    Ok((
        axum::http::StatusCode::CREATED,
        Json(PreferenceLink {
            token,
            preferences_url,
            unsubscribe_url,
            expires_at: DateTime::from_timestamp(i64::from(claims.expires), 0).unwrap_or(now),
        }),
    ))
}

/// A contact's own locale: that of its most recently updated guest with one. Guest ids follow
/// from (event, contact), so this is one Query of the tenant's events, then one BatchGetItem
/// per event, eight at a time.
async fn contact_locale(
    state: &AppState,
    tenant: TenantId,
    contact: ContactId,
) -> ApiResult<Option<String>> {
    let events = state.store.list_events(tenant).await?;
    let mut guests = Vec::new();
    for chunk in events.chunks(8) {
        let mut lookups = tokio::task::JoinSet::new();
        for event in chunk {
            let store = state.store.clone();
            let event_id = event.id;
            let guest = GuestId::derived(&[&event_id.to_string(), &contact.to_string()]);
            lookups.spawn(async move { store.get_guests(tenant, event_id, &[guest]).await });
        }
        while let Some(found) = lookups.join_next().await {
            let found = found.map_err(|e| ApiError::Unexpected(anyhow::Error::new(e)))?;
            guests.extend(found?);
        }
    }
    Ok(guests
        .into_iter()
        .filter(|g| g.locale.is_some())
        .max_by_key(|g| g.updated_at)
        .and_then(|g| g.locale)
        .map(|l| l.as_str().to_owned()))
}
