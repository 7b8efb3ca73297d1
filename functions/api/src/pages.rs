//! The guest pages' plumbing (preferences, unsubscribe, RSVP): HTML answers with the strict
//! Content-Security-Policy, post/redirect/get, the page's language, refused links, and whose
//! page it is. Pages are templates and translations of `herald::pages`; the modules below
//! compute what each page shows.

pub mod preference_form;
pub mod preference_view;
pub mod rsvp_page;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald::domain::Channel;
use herald::guests::Contact;
use herald::pages::{CONTENT_SECURITY_POLICY, Lang};
use serde::Serialize;

use crate::problem::ApiError;

/// An HTML answer: never cached (it shows a guest's data), never framed, no script.
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::HeaderName::from_static("content-security-policy"),
                CONTENT_SECURITY_POLICY,
            ),
        ],
        body,
    )
        .into_response()
}

/// Renders a page of `herald::pages` as an HTML answer; a page that does not render (a bug
/// the tests catch) is a logged 500.
pub fn page<C: Serialize>(status: StatusCode, name: &str, lang: Lang, context: C) -> Response {
    match herald::pages::render(name, lang, context) {
        Ok(body) => html(status, body),
        Err(e) => ApiError::Unexpected(anyhow::Error::new(e)).into_response(),
    }
}

/// Post/redirect/get: a 303 to the page that shows the outcome, so a reload does not post
/// again.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page's language: the `?lang=` the guest asked for (`fr`, `fr-FR`), else the link's
/// (unless English, which a link without a locale also carries), else the browser's, else
/// English.
pub fn language(asked: Option<&str>, link: Option<&str>, headers: &HeaderMap) -> Lang {
    let browser = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .and_then(Lang::from_accept_language);
    asked
        .and_then(Lang::negotiate)
        .or(link.filter(|l| *l != "en").and_then(Lang::negotiate))
        .or(browser)
        .unwrap_or(Lang::ENGLISH)
}

/// A page's own URL, with the `lang` the guest asked for (so the form and the redirect keep
/// it) and an outcome to show.
pub fn page_url(path: &str, asked: Option<Lang>, outcome: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(lang) = asked {
        query.push(format!("lang={lang}"));
    }
    if let Some(outcome) = outcome {
        query.push(format!("outcome={outcome}"));
    }
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Why a guest's link does not open, as a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    Invalid,
    /// Nothing to show any more (the contact or guest was erased).
    Gone,
}

impl Refusal {
    /// Why a token does not open: expired, or not valid (tampered, malformed, foreign).
    pub fn of_token(error: &herald::consent::TokenError) -> Self {
        match error {
            herald::consent::TokenError::Expired => Refusal::Expired,
            _ => Refusal::Invalid,
        }
    }
}

pub fn refused(lang: Lang, refusal: Refusal) -> Response {
    let (status, reason) = match refusal {
        Refusal::Expired => (StatusCode::FORBIDDEN, "expired"),
        Refusal::Invalid => (StatusCode::FORBIDDEN, "invalid"),
        Refusal::Gone => (StatusCode::NOT_FOUND, "gone"),
    };
    #[derive(Serialize)]
    struct Context {
        reason: &'static str,
    }
    page(status, "guest/link_refused.html", lang, Context { reason })
}

/// Whose page it is, as the guest recognises it: their name, else their address masked
/// (`a•••@example.com`), never the whole address (a forwarded link shows it to others).
pub fn whose(contact: &Contact) -> String {
    let name = format!("{} {}", contact.first_name.trim(), contact.last_name.trim());
    whose_of(
        &name,
        contact.email.as_ref().map(|e| e.as_str()),
        contact.phone.as_ref().map(|p| p.as_str()),
    )
}

/// As [`whose`], from a name and the addresses.
pub fn whose_of(name: &str, email: Option<&str>, phone: Option<&str>) -> String {
    let name = name.trim();
    if !name.is_empty() {
        return name.to_owned();
    }
    if let Some(email) = email {
        return herald::suppression::hint(Channel::Email, email);
    }
    if let Some(phone) = phone {
        return herald::suppression::hint(Channel::Sms, phone);
    }
    "•••".to_owned()
}

/// The channels a contact can be reached on: email with an address, SMS and WhatsApp with
/// a phone number.
pub fn reachable(contact: &Contact) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|c| match c {
            Channel::Email => contact.email.is_some(),
            Channel::Sms | Channel::Whatsapp => contact.phone.is_some(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_language_prefers_what_the_guest_asked() {
        let none = HeaderMap::new();
        let mut german = HeaderMap::new();
        german.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-CH,de;q=0.9"),
        );
        let pick = |asked, link, headers| language(asked, link, headers).as_str();
        assert_eq!(pick(Some("fr-FR"), Some("es"), &german), "fr");
        assert_eq!(pick(Some("ja"), Some("es"), &german), "es");
        assert_eq!(pick(None, Some("en"), &german), "de");
        assert_eq!(pick(None, Some("en"), &none), "en");
        assert_eq!(pick(Some("xx-not-a-tag!"), None, &none), "en");
    }

    #[test]
    fn page_urls_keep_the_asked_language() {
        let fr = Lang::negotiate("fr");
        assert_eq!(page_url("/p/t", None, None), "/p/t");
        assert_eq!(
            page_url("/p/t", fr, Some("saved")),
            "/p/t?lang=fr&outcome=saved"
        );
    }
}
