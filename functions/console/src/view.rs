//! Rendering pages: the console's templates (embedded in the binary) in the shared page
//! environment (`herald::pages`: minijinja, HTML-escaped, strict about undefined values), and
//! the headers every page is served with.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value, context};

use crate::call::Problem;
use crate::session::Signed;

/// A template context, as minijinja's `context!` writes it (`name`, `name => value`), for any
/// serializable values (the API's JSON included).
#[macro_export]
macro_rules! ctx {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = std::collections::BTreeMap::<&'static str, $crate::__minijinja::Value>::new();
        $( map.insert(stringify!($key), $crate::__minijinja::Value::from($crate::__minijinja::value::Serde(&$crate::ctx!(@value $key $(, $value)?)))); )*
        $crate::__minijinja::Value::from($crate::__minijinja::value::Serde(&map))
    }};
    (@value $key:ident) => { $key };
    (@value $key:ident, $value:expr) => { $value };
}

/// The console's templates: (name, source), embedded at compile time.
macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),+]
    };
}

pub static TEMPLATES: &[(&str, &str)] = templates!(
    "console/layout.html",
    "console/macros.html",
    "console/sign_in.html",
    "console/status.html",
    "console/api_index.html",
    "console/reference.html",
    "console/reference_group.html",
    "console/overview.html",
    "console/overview_live.html",
    "console/event.html",
    "console/journey.html",
    "console/rsvp.html",
    "console/wizard.html",
    "console/template.html",
    "console/template_preview.html",
    "console/wizard_progress.html",
    "console/guests.html",
    "console/guest.html",
    "console/message.html",
    "console/campaigns.html",
    "console/campaign.html",
    "console/campaign_live.html",
    "console/analytics.html",
    "console/settings.html",
    "console/webhook.html",
    "console/audit.html",
    "console/suppressions.html",
    "console/crm.html",
    "console/outbox.html",
    "console/inbox.html",
    "console/conversation.html",
);

/// The console's translations: a folder of `.ftl` files per language under `locales/`.
pub static LOCALES: &herald::pages::Sources = &[(
    "en",
    &[("console.ftl", include_str!("../locales/en/console.ftl"))],
)];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| herald::pages::environment_with(TEMPLATES, LOCALES))
}

/// What console pages are served with: scripts and styles from the console only (htmx is
/// served by it), inline styles for rendered email previews, images from anywhere over https
/// (a brand's logo), nothing framed but the console's own sandboxed previews.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Renders a template to a response with `status`.
pub fn render_status(status: StatusCode, name: &str, ctx: Value) -> Response {
    match environment()
        .get_template(name)
        .and_then(|t| t.render(context! { lang => "en", ..ctx }))
    {
        Ok(html) => html_response(status, html),
        Err(e) => {
            tracing::error!(template = name, error = %e, "console page does not render");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><html lang=\"en\"><title>Error</title><main><h1>This page could not be shown</h1><p>The error has been logged.</p></main></html>".to_owned(),
            )
        }
    }
}

/// An HTML fragment already escaped by its maker (htmx swaps it in).
pub fn fragment(html: String) -> Response {
    html_response(StatusCode::OK, html)
}

/// Renders a fragment or page to a string (for tests and the outbox).
pub fn render_string(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    environment()
        .get_template(name)?
        .render(context! { lang => "en", ..ctx })
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(headers);
    response
}

pub fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// The signed-in person, as every page's header shows them.
pub fn me(who: &Signed) -> Value {
    context! {
        name => &who.key.name,
        role => who.key.role.as_str(),
        tenant_id => who.key.tenant_id.map(|t| t.to_string()),
        platform => who.is_platform_admin(),
        manager => who.is_event_manager(),
    }
}

/// A signed-in page: the template gets `me` and `csrf` besides `ctx`.
pub fn page(who: &Signed, name: &str, ctx: Value) -> Response {
    page_status(who, StatusCode::OK, name, ctx)
}

pub fn page_status(who: &Signed, status: StatusCode, name: &str, ctx: Value) -> Response {
    render_status(
        status,
        name,
        context! { me => me(who), csrf => &who.session.csrf, ..ctx },
    )
}

/// A message of the console's catalogue, for text a handler computes (English).
pub fn text(id: &str) -> String {
    static CATALOGUE: OnceLock<herald::pages::Catalogue> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| herald::pages::Catalogue::new([LOCALES]))
        .lookup(herald::pages::Lang::ENGLISH, id, &[])
        .unwrap_or_else(|| id.to_owned())
}

/// A page that only says something (errors, refusals).
pub fn status_page(who: Option<&Signed>, status: StatusCode, title: &str, text: &str) -> Response {
    let ctx = context! { title, text, code => status.as_u16() };
    match who {
        Some(who) => page_status(who, status, "console/status.html", ctx),
        None => render_status(status, "console/status.html", ctx),
    }
}

/// The API's problem as a page: a 404 exactly as for an id that exists nowhere.
pub fn problem(who: &Signed, problem: &Problem) -> Response {
    match problem.status {
        StatusCode::NOT_FOUND => status_page(
            Some(who),
            StatusCode::NOT_FOUND,
            &text("console-not-found-title"),
            &text("console-not-found-text"),
        ),
        StatusCode::UNAUTHORIZED => see_other("/console/sign-in?why=signed_out"),
        status => status_page(Some(who), status, &problem.title, &problem.detail),
    }
}

pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub async fn not_found() -> Response {
    status_page(
        None,
        StatusCode::NOT_FOUND,
        &text("console-not-found-title"),
        &text("console-nowhere-text"),
    )
}

pub fn unexpected(e: &dyn std::fmt::Debug) -> Response {
    tracing::error!(error = ?e, "console request failed");
    status_page(
        None,
        StatusCode::INTERNAL_SERVER_ERROR,
        &text("console-unexpected-title"),
        &text("console-unexpected-text"),
    )
}

/// An error of the API's own checks (the rate limit) as a page.
pub fn from_api_error(e: herald_api::problem::ApiError) -> Response {
    let response = e.into_response();
    let status = response.status();
    let retry = response.headers().get(header::RETRY_AFTER).cloned();
    let mut page = status_page(
        None,
        status,
        &text("console-busy-title"),
        &text("console-busy-text"),
    );
    if let Some(retry) = retry {
        page.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("…")` of the console's templates names a message of its catalogue.
    #[test]
    fn every_message_a_template_uses_is_in_the_catalogue() {
        let catalogue = herald::pages::Catalogue::new([LOCALES]);
        let mut used = 0;
        for (name, source) in TEMPLATES {
            for part in source.split("t(\"").skip(1) {
                let id = part.split('"').next().unwrap_or_default();
                if id.is_empty() || id.contains(' ') || id.ends_with('-') {
                    continue;
                }
                used += 1;
                assert!(
                    catalogue
                        .lookup(herald::pages::Lang::ENGLISH, id, &[])
                        .is_some()
                        || id.starts_with("console-why-"),
                    "{name}: {id}"
                );
            }
        }
        assert!(used > 10, "{used}");
        assert_eq!(text("console-not-found-title"), "Page not found");
    }
}
