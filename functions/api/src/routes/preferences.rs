//! The guest's side of consent, reached through the signed links in every message (no API
//! key: the link's token is the credential; see `herald::consent`):
//!
//! - `GET /preferences/{token}`: the preference page (HTML, no JavaScript needed);
//!   `POST /preferences/{token}`: its form.
//! - `POST /unsubscribe/{token}`: one-click unsubscribe (RFC 8058), the message's
//!   `List-Unsubscribe` URL: opts the guest out of the message's category on its channel with
//!   no page in between. `GET /unsubscribe/{token}` shows the preference page.
//! - `GET` and `PUT /api/v1/preferences/{token}`: the JSON API behind the page.
//!
//! A tampered or foreign token is 403, an expired one 403 with its own problem type; a contact
//! that no longer exists (erased) is 404. Every change writes the contact's consent ledger
//! with the wording version the guest saw.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald::consent::{LinkClaims, ONE_CLICK_WORDING, PAGE_WORDING, Preferences, TokenError};
use herald::domain::{Channel, ConsentSource, TemplateCategory};
use herald::guests::Contact;
use herald::store::{ChangeContext, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::JsonBody;
use crate::pages::{self, Notice, Texts};
use crate::problem::responses::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType,
};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

super::api_routes! {
    (preference_page, save_preference_page),
    (unsubscribe_page, one_click_unsubscribe),
    (get_preferences, put_preferences),
}

/// Why a link does not open.
#[derive(Debug)]
enum LinkRefused {
    Token(TokenError),
    /// The contact is gone (erased).
    Gone,
    Api(ApiError),
}

impl From<ApiError> for LinkRefused {
    fn from(e: ApiError) -> Self {
        LinkRefused::Api(e)
    }
}

impl From<LinkRefused> for ApiError {
    fn from(r: LinkRefused) -> Self {
        match r {
            LinkRefused::Token(TokenError::Expired) => ApiError::Forbidden(
                "the preference link has expired; use the link of a more recent message".into(),
            ),
            LinkRefused::Token(_) => ApiError::Forbidden("the preference link is not valid".into()),
            LinkRefused::Gone => ApiError::NotFound,
            LinkRefused::Api(e) => e,
        }
    }
}

/// What a link that verifies opens: its claims, its contact, and who the messages are from.
struct Opened {
    claims: LinkClaims,
    contact: Contact,
    tenant_name: String,
}

/// Verifies a token under its tenant's key and reads its contact (and the tenant, once).
async fn open(state: &AppState, token: &str) -> Result<Opened, LinkRefused> {
    let tenant = LinkClaims::tenant_of(token).map_err(LinkRefused::Token)?;
    // A token naming a tenant that does not exist is refused like a bad signature, before any
    // key is made for it.
    let Some(tenant_row) = state
        .store
        .get_tenant(tenant)
        .await
        .map_err(ApiError::from)?
    else {
        return Err(LinkRefused::Token(TokenError::BadSignature));
    };
    let key = state.links.key(tenant).await.map_err(ApiError::Upstream)?;
    let claims = LinkClaims::verify(token, key.as_ref(), Utc::now()).map_err(LinkRefused::Token)?;
    let contact = state
        .store
        .get_contact(claims.tenant, claims.contact)
        .await
        .map_err(ApiError::from)?
        .ok_or(LinkRefused::Gone)?;
    Ok(Opened {
        claims,
        contact,
        tenant_name: tenant_row.name,
    })
}

/// As [`open`], for the HTML routes: the opened link and the page's language, or the page
/// that says why the link does not open.
async fn open_page(
    state: &AppState,
    token: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<(Opened, &'static Texts), Response> {
    match open(state, token).await {
        Ok(opened) => {
            let texts = language(query, Some(&opened.claims), headers);
            Ok((opened, texts))
        }
        Err(refused) => Err(refused_page(language(query, None, headers), refused)),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// A language for the page (`en`, `fr`, `de`, `es`), instead of the link's.
    pub lang: Option<String>,
}

/// The page's language: `?lang=`, else the link's, else the browser's, else English.
fn language(query: &PageQuery, claims: Option<&LinkClaims>, headers: &HeaderMap) -> &'static Texts {
    let asked = query.lang.as_deref().and_then(|l| {
        herald::consent::LANGUAGES
            .iter()
            .find(|k| **k == l)
            .copied()
    });
    let from_link = claims.map(LinkClaims::language).filter(|l| *l != "en");
    let browser = pages::accepted_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|h| h.to_str().ok()),
    );
    pages::texts(asked.or(from_link).or(browser).unwrap_or("en"))
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::HeaderName::from_static("content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

/// A refused link as a page.
fn refused_page(texts: &Texts, refused: LinkRefused) -> Response {
    match refused {
        LinkRefused::Token(TokenError::Expired) => {
            html(StatusCode::FORBIDDEN, pages::expired(texts))
        }
        LinkRefused::Token(_) => html(StatusCode::FORBIDDEN, pages::invalid(texts)),
        LinkRefused::Gone => html(StatusCode::NOT_FOUND, pages::gone(texts)),
        LinkRefused::Api(e) => e.into_response(),
    }
}

async fn show_page(
    state: &AppState,
    token: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Response {
    let (opened, texts) = match open_page(state, token, query, headers).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    html(
        StatusCode::OK,
        pages::preference_page(
            texts,
            &opened.tenant_name,
            &Preferences::of(&opened.contact),
            &format!("/preferences/{token}"),
            &Notice::None,
        ),
    )
}

/// The guest's preference page (HTML).
#[utoipa::path(get, path = "/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more (the contact was erased)", content_type = "text/html", body = String)))]
pub async fn preference_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    show_page(&state, &token, &query, &headers).await
}

/// What a message's unsubscribe link shows when opened in a browser: the preference page.
#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    responses((status = 200, description = "the preference page", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String)))]
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    show_page(&state, &token, &query, &headers).await
}

/// Applies a guest's change through a link, and counts an unsubscribe from the link's message.
async fn change(
    state: &AppState,
    claims: &LinkClaims,
    source: ConsentSource,
    wording: &str,
    next: impl Fn(&Preferences) -> Preferences,
) -> ApiResult<(Preferences, Preferences)> {
    let context = ChangeContext {
        wording_version: Some(wording.to_owned()),
        message: claims.message,
        ..ChangeContext::default()
    };
    let changed = state
        .store
        .change_preferences(claims.tenant, claims.contact, source, &context, next)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound,
            e => e.into(),
        })?;
    if let Some(event) = changed
        .record
        .as_ref()
        .and_then(|r| herald::webhooks::unsubscribed_event(claims.tenant, r))
    {
        state.emit_after(&[event]).await;
    }
    let after = Preferences::of(&changed.contact);
    let before = changed
        .record
        .as_ref()
        .map(|r| r.before.clone())
        .unwrap_or_else(|| after.clone());
    if let (Some(record), Some(message)) = (&changed.record, claims.message) {
        let (category, channel) = (claims.category, claims.channel);
        let dropped = match (category, channel) {
            (Some(cat), Some(ch)) => before.allows(cat, ch) && !after.allows(cat, ch),
            _ => !before.unsubscribed && after.unsubscribed,
        };
        if dropped {
            count_unsubscribe(state, claims, message, record.at).await;
        }
    }
    Ok((before, after))
}

/// Records the unsubscribe as an event of its message (analytics count it with the
/// providers' own). Failing here loses a count, never the opt-out: logged, not raised.
async fn count_unsubscribe(
    state: &AppState,
    claims: &LinkClaims,
    message: herald::ids::MessageId,
    at: DateTime<Utc>,
) {
    let result = async {
        if let Some(m) = state.store.get_message(claims.tenant, message).await? {
            state
                .store
                .ingest_events(&[herald::tracking::unsubscribed(&m, at)])
                .await?;
        }
        anyhow::Ok(())
    };
    if let Err(e) = result.await {
        tracing::warn!(tenant_id = %claims.tenant, message_id = %message, error = ?e, "counting an unsubscribe failed");
    }
}

/// The preference form's submission: saves and shows the page again with the outcome.
#[utoipa::path(post, path = "/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`subscribe` (repeated, `{category}#{channel}` for each ticked box), `unsubscribe_all`, `cap_max`, `cap_per`, `quiet_start`, `quiet_end`, `time_zone`"),
    responses((status = 200, description = "saved: the page again", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String),
        (status = 422, description = "the form does not make sense: the page with what to fix", content_type = "text/html", body = String)))]
pub async fn save_preference_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (
        Opened {
            claims,
            contact,
            tenant_name: name,
        },
        texts,
    ) = match open_page(&state, &token, &query, &headers).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let action = format!("/preferences/{token}");
    let wanted = match pages::read_form(&body) {
        Ok(p) => p,
        Err(errors) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::preference_page(
                    texts,
                    &name,
                    &Preferences::of(&contact),
                    &action,
                    &Notice::Errors(errors),
                ),
            );
        }
    };
    match change(
        &state,
        &claims,
        ConsentSource::GuestLink,
        PAGE_WORDING,
        |_| wanted.clone(),
    )
    .await
    {
        Ok((_, after)) => html(
            StatusCode::OK,
            pages::preference_page(texts, &name, &after, &action, &Notice::Saved),
        ),
        Err(ApiError::NotFound) => refused_page(texts, LinkRefused::Gone),
        Err(e) => e.into_response(),
    }
}

/// One-click unsubscribe (RFC 8058): a mail client POSTs `List-Unsubscribe=One-Click` to the
/// message's `List-Unsubscribe` URL; the guest is opted out of the message's category on its
/// channel (of everything, for a link without a message) at once. Answers a short page.
#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`List-Unsubscribe=One-Click`"),
    responses((status = 200, description = "unsubscribed", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String)))]
pub async fn one_click_unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (
        Opened {
            claims,
            tenant_name: name,
            ..
        },
        texts,
    ) = match open_page(&state, &token, &query, &headers).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let target = claims.category.zip(claims.channel);
    let result = change(
        &state,
        &claims,
        ConsentSource::OneClick,
        ONE_CLICK_WORDING,
        |p| match target {
            Some((category, channel)) => p.without(category, channel),
            None => Preferences {
                unsubscribed: true,
                ..p.clone()
            },
        },
    )
    .await;
    match result {
        Ok((_, after)) => {
            tracing::info!(tenant_id = %claims.tenant, contact_id = %claims.contact, "one-click unsubscribe");
            let notice = match target {
                Some((category, channel)) => Notice::Unsubscribed(category, channel),
                None => Notice::Saved,
            };
            html(
                StatusCode::OK,
                pages::preference_page(
                    texts,
                    &name,
                    &after,
                    &format!("/preferences/{token}"),
                    &notice,
                ),
            )
        }
        Err(ApiError::NotFound) => refused_page(texts, LinkRefused::Gone),
        Err(e) => e.into_response(),
    }
}

/// What the JSON API shows a guest.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceView {
    pub preferences: Preferences,
    /// Who the messages are from.
    pub tenant_name: String,
    /// The link's message category and channel (what one-click unsubscribe opts out of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<TemplateCategory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The language of the link (`en`, `fr`, `de`, `es`).
    pub language: String,
    /// The categories and channels that can be opted in and out of.
    pub categories: Vec<TemplateCategory>,
    pub channels: Vec<Channel>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// The wording version a change through this API is recorded with unless the request
    /// names another.
    pub wording_version: String,
}

fn view(opened: &Opened, prefs: Preferences) -> PreferenceView {
    let claims = &opened.claims;
    PreferenceView {
        preferences: prefs,
        tenant_name: opened.tenant_name.clone(),
        category: claims.category,
        channel: claims.channel,
        language: claims.language().to_owned(),
        categories: TemplateCategory::ALL.to_vec(),
        channels: Channel::ALL.to_vec(),
        expires_at: DateTime::from_timestamp(i64::from(claims.expires), 0).unwrap_or_default(),
        wording_version: PAGE_WORDING.to_owned(),
    }
}

/// A guest's preferences (JSON; the token of a preference link is the credential).
#[utoipa::path(get, path = "/api/v1/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path)),
    responses((status = 200, body = PreferenceView), Forbidden, NotFound))]
pub async fn get_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<PreferenceView>> {
    let opened = open(&state, &token).await?;
    let prefs = Preferences::of(&opened.contact);
    Ok(Json(view(&opened, prefs)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestPreferencesIn {
    pub preferences: Preferences,
    /// The version of the wording the guest saw (1 to 100 printable characters, not all
    /// white space); Herald's page's when absent.
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::WordingVersion>)]
    pub wording_version: Option<String>,
}

/// Replaces a guest's preferences (JSON); recorded in the consent ledger as the guest's.
#[utoipa::path(put, path = "/api/v1/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path)),
    request_body = GuestPreferencesIn,
    responses((status = 200, body = PreferenceView), BadRequest, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, Unprocessable))]
pub async fn put_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<GuestPreferencesIn>,
) -> ApiResult<Json<PreferenceView>> {
    let issues = body.preferences.issues();
    if !issues.is_empty() {
        return Err(ApiError::invalid(issues));
    }
    let wording = wording_of(body.wording_version.as_deref())?;
    let opened = open(&state, &token).await?;
    let wanted = body.preferences;
    let (_, after) = change(
        &state,
        &opened.claims,
        ConsentSource::GuestLink,
        wording.as_deref().unwrap_or(PAGE_WORDING),
        |_| wanted.clone(),
    )
    .await?;
    Ok(Json(view(&opened, after)))
}

/// A caller's wording version: 1 to 100 printable characters.
pub fn wording_of(raw: Option<&str>) -> ApiResult<Option<String>> {
    wording_checked(raw).map_err(|issue| ApiError::invalid(vec![issue]))
}

/// As [`wording_of`], the problem as a field issue (to report with others).
pub fn wording_checked(raw: Option<&str>) -> Result<Option<String>, herald::providers::FieldIssue> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some(w)
            if !w.is_empty() && w.chars().count() <= 100 && !w.chars().any(char::is_control) =>
        {
            Ok(Some(w.to_owned()))
        }
        Some(_) => Err(herald::providers::FieldIssue::new(
            "wording_version",
            "1 to 100 printable characters",
        )),
    }
}
