//! Signing in and out, and the session every page reads.
//!
//! Sign-in exchanges an API key for a random session token in a cookie (HttpOnly,
//! SameSite=Lax, `Secure` with the `__Host-` prefix over https). The table keeps only the
//! token's hash, with the hash of the key, a CSRF token and an expiry ([`SESSION_HOURS`]). The
//! cookie is `{token}.{key hash}`, so every request reads the session and the key together
//! (one BatchGetItem; a key hash is no credential): revoking, rotating out or expiring the
//! key ends the session at once. The sign-in form has its own CSRF token (a cookie and a field that must
//! match), as it comes before any session.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{Duration, Utc};
use herald::domain::Role;
use herald::store::{ApiKey, SESSION_HOURS, Session, hash_secret};
use minijinja::context;
use rand::RngCore as _;
use serde::Deserialize;

use crate::ConsoleState;
use crate::form::{Fields, csrf_refused};
use crate::view;

/// A signed-in request: its key (read again from the table) and session.
#[derive(Debug, Clone)]
pub struct Signed {
    pub key: ApiKey,
    pub session: Session,
    token_hash: String,
}

impl Signed {
    pub fn is_platform_admin(&self) -> bool {
        self.key.role == Role::PlatformAdmin
    }

    pub fn is_event_manager(&self) -> bool {
        self.key.role == Role::EventManager
    }

    /// A form's CSRF token must be this session's.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), Response> {
        match token {
            Some(t) if same(t, &self.session.csrf) => Ok(()),
            _ => Err(csrf_refused(Some(self))),
        }
    }

    pub(crate) async fn from_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Response> {
        let back = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let htmx = parts.headers.contains_key("hx-request");
        let away = |why: &str| to_sign_in(why, &back, htmx);
        let Some((token, key_hash)) = cookie(&parts.headers, &session_cookie(state.secure))
            .and_then(|v| v.split_once('.').map(|(t, k)| (t.to_owned(), k.to_owned())))
        else {
            return Err(away("signed_out"));
        };
        let token_hash = hash_secret(&token);
        let store = &state.app.store;
        let (session, key) = match store.find_session_with_key(&token_hash, &key_hash).await {
            Ok((Some(s), k)) => (s, k),
            Ok((None, _)) => return Err(away("signed_out")),
            Err(e) => return Err(view::unexpected(&e)),
        };
        let now = Utc::now();
        if !session.usable(now) {
            return Err(away("expired"));
        }
        let key = match key {
            Some(k) if k.usable(now) => k,
            found => {
                // The key was revoked, rotated out or expired: the session ends with it.
                if let Err(e) = store.delete_session(&token_hash).await {
                    tracing::warn!(error = ?e, "ending a session whose key stopped working");
                }
                let why = if found.is_some_and(|k| k.revoked_at.is_none()) {
                    "key_expired"
                } else {
                    "key_revoked"
                };
                return Err(away(why));
            }
        };
        if let Err(e) = state.app.admit(&key).await {
            return Err(view::from_api_error(e));
        }
        tracing::Span::current().record("key_id", tracing::field::display(key.id));
        Ok(Self {
            key,
            session,
            token_hash,
        })
    }
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts, state).await
    }
}

/// Constant-time comparison of two tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_cookie(secure: bool) -> String {
    if secure {
        "__Host-herald_session".to_owned()
    } else {
        "herald_session".to_owned()
    }
}

fn sign_in_cookie(secure: bool) -> String {
    if secure {
        "__Host-herald_sign_in".to_owned()
    } else {
        "herald_sign_in".to_owned()
    }
}

/// A `Set-Cookie` value: host-only, whole site, HttpOnly, SameSite=Lax, `Secure` over https.
fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() < 200)
}

/// Where a page may send the browser back to after signing in: a console path only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("/console/sign-")
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

fn to_sign_in(why: &str, back: &str, htmx: bool) -> Response {
    let back = if back.contains("/live") || back.contains("/progress") {
        "/console"
    } else {
        back
    };
    let target = format!(
        "/console/sign-in?why={why}&next={}",
        form_urlencoded::byte_serialize(safe_next(Some(back)).as_bytes()).collect::<String>()
    );
    if htmx {
        // htmx follows this header with a whole-page navigation.
        let mut response = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", v);
        }
        return response;
    }
    view::see_other(&target)
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    why: Option<String>,
    next: Option<String>,
}

/// Why the sign-in page is shown: the id of its message (`console-why-…`), for known reasons.
fn why_text(why: Option<&str>) -> Option<String> {
    let why = why?;
    ["expired", "key_revoked", "key_expired", "signed_out", "bye"]
        .contains(&why)
        .then(|| format!("console-why-{why}"))
}

/// The sign-in page; `notice` and `error` are message ids of the console's catalogue.
fn sign_in_form(
    state: &ConsoleState,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    next: &str,
) -> Response {
    let csrf = random_token();
    let mut response = view::render_status(
        status,
        "console/sign_in.html",
        context! { notice, error, next, csrf => &csrf },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&sign_in_cookie(state.secure), &csrf, 3600, state.secure),
    );
    response
}

pub async fn sign_in_page(
    State(state): State<ConsoleState>,
    Query(q): Query<SignInQuery>,
) -> Response {
    sign_in_form(
        &state,
        StatusCode::OK,
        why_text(q.why.as_deref()).as_deref(),
        None,
        &safe_next(q.next.as_deref()),
    )
}

pub async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let next = safe_next(fields.get("next"));
    let expected = cookie(&headers, &sign_in_cookie(state.secure));
    match (fields.get("csrf"), expected.as_deref()) {
        (Some(a), Some(b)) if same(a, b) => {}
        _ => return csrf_refused(None),
    }
    let Some(secret) = fields.get("api_key") else {
        return sign_in_form(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("console-error-no-key"),
            &next,
        );
    };
    let now = Utc::now();
    let refused =
        |text: &str| sign_in_form(&state, StatusCode::UNAUTHORIZED, None, Some(text), &next);
    if !secret.starts_with(herald::store::SECRET_PREFIX) || secret.len() >= 128 {
        return refused("console-error-not-a-key");
    }
    let key_hash = hash_secret(secret);
    let key = match state.app.store.find_api_key(&key_hash).await {
        Ok(Some(k)) if k.usable(now) => k,
        Ok(Some(_)) => return refused("console-error-key-unusable"),
        Ok(None) => return refused("console-error-key-unknown"),
        Err(e) => return view::unexpected(&e),
    };
    if let Err(e) = state.app.admit(&key).await {
        return view::from_api_error(e);
    }
    let token = random_token();
    let session = Session {
        key_hash,
        key_id: key.id,
        csrf: random_token(),
        created_at: now,
        expires_at: now + Duration::hours(SESSION_HOURS),
        ttl: (now + Duration::hours(SESSION_HOURS + 1)).timestamp(),
    };
    if let Err(e) = state
        .app
        .store
        .create_session(&hash_secret(&token), &session)
        .await
    {
        return view::unexpected(&e);
    }
    tracing::info!(key_id = %key.id, "console session started");
    let mut response = view::see_other(&next);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            &session_cookie(state.secure),
            &format!("{token}.{}", session.key_hash),
            SESSION_HOURS * 3600,
            state.secure,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&sign_in_cookie(state.secure), "", 0, state.secure),
    );
    response
}

pub async fn sign_out(State(state): State<ConsoleState>, posted: crate::form::Posted) -> Response {
    if let Err(e) = state.app.store.delete_session(&posted.who.token_hash).await {
        return view::unexpected(&e);
    }
    tracing::info!(key_id = %posted.who.key.id, "console session ended");
    let mut response = view::see_other("/console/sign-in?why=bye");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&session_cookie(state.secure), "", 0, state.secure),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/events/evt_1")),
            "/console/events/evt_1"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/console//evil",
            "/api/v1",
            "/console/sign-out",
            "/console\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn cookies_are_host_only_http_only_and_secure_over_https() {
        let c = set_cookie(&session_cookie(true), "abc", 60, true);
        let c = c.to_str().unwrap_or_default();
        assert!(c.starts_with("__Host-herald_session=abc; Path=/;"), "{c}");
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"),
            "{c}"
        );
        assert!(!c.contains("Domain"), "{c}");
        let plain = set_cookie(&session_cookie(false), "abc", 60, false);
        assert!(!plain.to_str().unwrap_or_default().contains("Secure"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
