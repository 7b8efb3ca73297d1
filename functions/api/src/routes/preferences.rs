//! The guest's side of consent, reached through the signed links in every message (no API
//! key: the link's token is the credential; see `herald::consent`):
//!
//! - `GET /preferences/{token}`: the preference page (HTML, no JavaScript needed);
//!   `POST /preferences/{token}`: its form, answered by a redirect to the page with the
//!   outcome (post/redirect/get), or the page again with every error and what was typed.
//! - `GET /unsubscribe/{token}`: the page of a message's unsubscribe link, whose one button
//!   does what the link promised; `POST /unsubscribe/{token}`: one-click unsubscribe
//!   (RFC 8058, the message's `List-Unsubscribe` URL) from the message's category on its
//!   channel, with no page in between, or that button (answered by a redirect).
//! - `GET` and `PUT /api/v1/preferences/{token}`: the JSON API behind the page.
//!
//! A tampered or foreign token is 403 (`/problems/link-refused` in JSON), an expired one 403
//! saying so; a contact that no longer exists (erased) is 404. Every change writes the
//! contact's consent ledger with the wording version the guest saw. The pages are templates
//! of `herald::pages` (see [`crate::pages`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald::consent::{LinkClaims, ONE_CLICK_WORDING, PAGE_WORDING, Preferences, TokenError};
use herald::domain::{Channel, ConsentSource, TemplateCategory};
use herald::guests::Contact;
use herald::pages::Lang;
use herald::store::{ChangeContext, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::JsonBody;
use crate::pages::preference_form::PreferenceForm;
use crate::pages::preference_view::{self, Guest};
use crate::pages::{self, Refusal};
use crate::problem::responses::{
    BadRequest, LinkRefused as LinkRefusedResponse, NotFound, PayloadTooLarge, Unprocessable,
    UnsupportedMediaType,
};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

super::api_routes! {
    (preference_page, save_preference_page),
    (unsubscribe_page, one_click_unsubscribe),
    (get_preferences, put_preferences),
}

/// The wording a guest saw when unsubscribing with the unsubscribe page's button.
pub const UNSUBSCRIBE_PAGE_WORDING: &str = "unsubscribe-page/2026-12";

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
            LinkRefused::Token(TokenError::Expired) => ApiError::LinkRefused(
                "the preference link has expired; use the link of a more recent message".into(),
            ),
            LinkRefused::Token(_) => {
                ApiError::LinkRefused("the preference link is not valid".into())
            }
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

impl Opened {
    /// What the message's unsubscribe link opts out of (everything, for a link without one).
    fn target(&self) -> Option<(TemplateCategory, Channel)> {
        self.claims.category.zip(self.claims.channel)
    }
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

/// A page request: the link, its language, and the URLs of its pages.
struct PageRequest {
    opened: Opened,
    lang: Lang,
    /// The language the guest asked for with `?lang=`, kept in the pages' URLs.
    asked: Option<Lang>,
    token: String,
}

impl PageRequest {
    fn url(&self, page: &str, outcome: Option<&str>) -> String {
        pages::page_url(&format!("/{page}/{}", self.token), self.asked, outcome)
    }

    fn whose(&self) -> String {
        pages::whose(&self.opened.contact)
    }
}

/// As [`open`], for the HTML routes: the opened link and the page's language, or the page
/// that says why the link does not open.
async fn open_page(
    state: &AppState,
    token: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<PageRequest, Response> {
    let asked = query.lang.as_deref().and_then(Lang::negotiate);
    match open(state, token).await {
        Ok(opened) => {
            let lang = pages::language(
                query.lang.as_deref(),
                Some(opened.claims.language()),
                headers,
            );
            Ok(PageRequest {
                opened,
                lang,
                asked,
                token: token.to_owned(),
            })
        }
        Err(refused) => Err(refused_page(
            pages::language(query.lang.as_deref(), None, headers),
            refused,
        )),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// A language for the page instead of the link's: a language tag (`fr`, `fr-FR`, `de-CH`);
    /// one Herald has no translation for is ignored.
    pub lang: Option<String>,
    /// What the guest just did, shown by the page a form redirects to: `saved` (preferences)
    /// or `unsubscribed`; anything else is ignored.
    pub outcome: Option<String>,
}

/// A refused link as a page.
fn refused_page(lang: Lang, refused: LinkRefused) -> Response {
    match refused {
        LinkRefused::Token(e) => pages::refused(lang, Refusal::of_token(&e)),
        LinkRefused::Gone => pages::refused(lang, Refusal::Gone),
        LinkRefused::Api(e) => e.into_response(),
    }
}

/// The preference page of an opened link: the saved preferences, or the form as typed with
/// its errors.
fn preference_page_of(
    request: &PageRequest,
    status: StatusCode,
    form: &PreferenceForm,
    errors: &[pages::preference_form::FieldError],
    saved: bool,
) -> Response {
    let whose = request.whose();
    let reachable = pages::reachable(&request.opened.contact);
    let guest = Guest {
        tenant: &request.opened.tenant_name,
        whose: &whose,
        reachable: &reachable,
    };
    let action = request.url("preferences", None);
    let context =
        preference_view::preference_page(request.lang, &guest, form, errors, saved, &action);
    pages::page(status, "guest/preferences.html", request.lang, context)
}

/// The guest's preference page (HTML).
#[utoipa::path(get, path = "/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    responses((status = 200, description = "the page (after a save, `?outcome=saved`: its title, a heading and a status message say so)", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more (the contact was erased)", content_type = "text/html", body = String)))]
pub async fn preference_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let form = PreferenceForm::of(&Preferences::of(&request.opened.contact));
    let saved = query.outcome.as_deref() == Some("saved");
    preference_page_of(&request, StatusCode::OK, &form, &[], saved)
}

/// The page of a message's unsubscribe link (HTML): the unsubscribe it promised, one button;
/// once done, what it stopped and what the guest still receives. Changes nothing.
#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    responses((status = 200, description = "the unsubscribe page (after its button, `?outcome=unsubscribed`: the outcome, announced)", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String)))]
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let prefs = Preferences::of(&request.opened.contact);
    let just_done = query.outcome.as_deref() == Some("unsubscribed");
    unsubscribe_page_of(&request, StatusCode::OK, &prefs, just_done)
}

fn unsubscribe_page_of(
    request: &PageRequest,
    status: StatusCode,
    prefs: &Preferences,
    just_done: bool,
) -> Response {
    let whose = request.whose();
    let reachable = pages::reachable(&request.opened.contact);
    let guest = Guest {
        tenant: &request.opened.tenant_name,
        whose: &whose,
        reachable: &reachable,
    };
    let action = request.url("unsubscribe", None);
    let preferences_url = request.url("preferences", None);
    let context = preference_view::unsubscribe_page(
        request.lang,
        &guest,
        prefs,
        request.opened.target(),
        just_done,
        &action,
        &preferences_url,
    );
    pages::page(status, "guest/unsubscribe.html", request.lang, context)
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

/// The preference form's submission: saved, it answers a redirect to the page showing the
/// outcome (post/redirect/get); with errors, the page again with every error and what the
/// guest typed. Channels the guest cannot be reached on are not on the form and keep their
/// choices.
#[utoipa::path(post, path = "/preferences/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`subscribe` (repeated, `{category}#{channel}` for each ticked box), `unsubscribe_all`, `cap_max`, `cap_per`, `quiet_start`, `quiet_end`, `time_zone`"),
    responses((status = 303, description = "saved: to the page with `outcome=saved` (and the `lang` asked for)",
            headers(("Location" = String, description = "`/preferences/{token}?outcome=saved`"))),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String),
        (status = 422, description = "the form does not make sense: the page with an error summary, every field's error and what was typed", content_type = "text/html", body = String)))]
pub async fn save_preference_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let form = PreferenceForm::parse(&body);
    let current = Preferences::of(&request.opened.contact);
    let reachable = pages::reachable(&request.opened.contact);
    let wanted = match form.check(&reachable, &current) {
        Ok(p) => p,
        Err(errors) => {
            return preference_page_of(
                &request,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
                false,
            );
        }
    };
    let claims = &request.opened.claims;
    match change(
        &state,
        claims,
        ConsentSource::GuestLink,
        PAGE_WORDING,
        |_| wanted.clone(),
    )
    .await
    {
        Ok(_) => pages::see_other(&request.url("preferences", Some("saved"))),
        Err(ApiError::NotFound) => refused_page(request.lang, LinkRefused::Gone),
        Err(e) => e.into_response(),
    }
}

/// Unsubscribes from what the link names: the message's category on its channel, or
/// everything for a link without a message. A mail client's one-click POST (RFC 8058,
/// `List-Unsubscribe=One-Click`) is answered at once with the page saying what happened; the
/// unsubscribe page's button (`confirm=yes`) with a redirect to it (post/redirect/get).
#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "preferences",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`List-Unsubscribe=One-Click` (a mail client), or `confirm=yes` (the unsubscribe page's button)"),
    responses((status = 200, description = "unsubscribed (one-click): what stopped and what the guest still receives", content_type = "text/html", body = String),
        (status = 303, description = "unsubscribed (the page's button): to the unsubscribe page with `outcome=unsubscribed`",
            headers(("Location" = String, description = "`/unsubscribe/{token}?outcome=unsubscribed`"))),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to manage any more", content_type = "text/html", body = String)))]
pub async fn one_click_unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let from_page = form_urlencoded::parse(&body).any(|(k, v)| k == "confirm" && v == "yes");
    let (source, wording) = if from_page {
        (ConsentSource::GuestLink, UNSUBSCRIBE_PAGE_WORDING)
    } else {
        (ConsentSource::OneClick, ONE_CLICK_WORDING)
    };
    let target = request.opened.target();
    let claims = &request.opened.claims;
    let result = change(&state, claims, source, wording, |p| {
        preference_view::after_unsubscribe(p, target)
    })
    .await;
    match result {
        Ok((_, after)) => {
            tracing::info!(tenant_id = %claims.tenant, contact_id = %claims.contact, from_page, "unsubscribe");
            if from_page {
                pages::see_other(&request.url("unsubscribe", Some("unsubscribed")))
            } else {
                unsubscribe_page_of(&request, StatusCode::OK, &after, true)
            }
        }
        Err(ApiError::NotFound) => refused_page(request.lang, LinkRefused::Gone),
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
    responses((status = 200, body = PreferenceView), LinkRefusedResponse, NotFound))]
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
    responses((status = 200, body = PreferenceView), BadRequest, LinkRefusedResponse, NotFound, PayloadTooLarge, UnsupportedMediaType, Unprocessable))]
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
