//! Herald's web console: server-rendered pages for organisers, an axum Router served by
//! lambda_http under `/console` (and `/`, `/api/v1`, `/api/v1/reference`).
//!
//! The pages act through the API's own Router, called in this process with the signed-in key
//! (see [`call`]): roles, tenant isolation, validation and the audit log are the API's, by
//! construction. A session ([`session`]) holds the hash of the key it signed in with, so a
//! revoked or expired key ends it on the next click. Pages work without JavaScript; the
//! vendored htmx adds partial updates and polling of live counts ([`assets`]).

// Handlers answer a refusal with its page: an axum `Response` is the natural error type here.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod call;
pub mod charts;
pub mod form;
pub mod pages;
pub mod session;
pub mod view;

use axum::Router;
use axum::routing::{get, post};
use herald_api::AppState;

/// What every console handler gets: the API's state and Router, and how cookies are set.
#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    /// The API's Router: the console's pages call it in-process.
    pub api: Router,
    /// Served over https: cookies are `Secure` with the `__Host-` prefix.
    pub secure: bool,
}

impl ConsoleState {
    /// `public_url` is where the console is served (`HERALD_PUBLIC_URL`); over anything but
    /// plain http (the local stack) cookies are `Secure`.
    pub fn new(app: AppState, public_url: Option<&str>) -> Self {
        let secure = !public_url.is_some_and(|u| u.starts_with("http://"));
        Self {
            api: herald_api::router(app.clone()),
            app,
            secure,
        }
    }
}

/// Every console route, for a state to be given (the local stack adds its outbox page).
pub fn routes() -> Router<ConsoleState> {
    use pages::{
        analytics, campaigns, events, guests, inbox, index, journey, overview, providers, settings,
        template_editor, wizard,
    };
    Router::new()
        .route("/", get(index::root))
        .route("/api/v1", get(index::api_index))
        .route("/api/v1/reference", get(index::reference))
        .route("/api/v1/reference/{tag}", get(index::reference_group))
        .route("/console/assets/{name}", get(assets::serve))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console", get(overview::page))
        .route("/console/overview/live", get(overview::live))
        .route("/console/events/{id}", get(events::page))
        .route("/console/events/{id}/journey", get(journey::page))
        .route(
            "/console/events/{id}/journey/move",
            post(journey::move_event),
        )
        .route("/console/events/{id}/rsvp", get(events::rsvp))
        .route("/console/events/{id}/wizard", get(wizard::page))
        .route("/console/events/{id}/wizard/uses", post(wizard::save_uses))
        .route(
            "/console/events/{id}/wizard/providers",
            post(wizard::set_provider_mode),
        )
        .route(
            "/console/events/{id}/wizard/providers/test",
            post(providers::test_provider),
        )
        .route(
            "/console/events/{id}/wizard/providers/new",
            post(providers::add_provider),
        )
        .route(
            "/console/events/{id}/wizard/email-sender",
            post(wizard::save_sender),
        )
        .route(
            "/console/events/{id}/wizard/brand",
            post(wizard::save_brand),
        )
        .route(
            "/console/events/{id}/wizard/templates/{category}/{channel}",
            get(template_editor::page).post(template_editor::save),
        )
        .route(
            "/console/events/{id}/wizard/templates/{category}/{channel}/preview",
            post(template_editor::preview),
        )
        .route(
            "/console/events/{id}/wizard/complete",
            post(wizard::complete),
        )
        .route(
            "/console/events/{id}/wizard/progress",
            get(wizard::progress),
        )
        .route("/console/events/{id}/guests", get(guests::list))
        .route("/console/events/{id}/guests/import", post(guests::import))
        .route(
            "/console/events/{id}/guests/{guest_id}",
            get(guests::timeline),
        )
        .route(
            "/console/events/{id}/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/console/events/{id}/analytics", get(analytics::page))
        .route("/console/events/{id}/analytics.csv", get(analytics::csv))
        .route("/console/messages/{id}", get(guests::message))
        .route("/console/campaigns/{id}", get(campaigns::page))
        .route("/console/campaigns/{id}/live", get(campaigns::live))
        .route("/console/campaigns/{id}/send", post(campaigns::send))
        .route("/console/campaigns/{id}/cancel", post(campaigns::cancel))
        .route("/console/inbox", get(inbox::list))
        .route("/console/conversations/{id}", get(inbox::thread))
        .route("/console/conversations/{id}/reply", post(inbox::reply))
        .route("/console/conversations/{id}/edit", post(inbox::edit))
        .route(
            "/console/conversations/{id}/messages/{message}/attachments/{index}",
            get(inbox::attachment),
        )
        .route("/console/settings", get(settings::page))
        .route("/console/settings/keys", post(settings::create_key))
        .route(
            "/console/settings/keys/{id}/rotate",
            post(settings::rotate_key),
        )
        .route(
            "/console/settings/keys/{id}/revoke",
            post(settings::revoke_key),
        )
        .route("/console/settings/webhooks/{id}", get(settings::webhook))
        .route("/console/settings/audit", get(settings::audit))
        .route(
            "/console/settings/suppressions",
            get(settings::suppressions),
        )
        .route("/console/settings/crm", get(settings::crm))
}

#[doc(hidden)]
pub use minijinja as __minijinja;

/// The console function's Router: its routes, and a page for anything else.
pub fn router(state: ConsoleState) -> Router {
    finish(routes(), state).fallback(view::not_found)
}

/// `routes` (and any added to them) with the console's layers, given `state`: any other path
/// under `/console` is the console's 404 page. No fallback, so it merges with the API's Router.
pub fn finish(routes: Router<ConsoleState>, state: ConsoleState) -> Router {
    routes
        .route("/console/{*rest}", axum::routing::any(view::not_found))
        .layer(axum::extract::DefaultBodyLimit::max(
            herald_api::routes::guest_import::IMPORT_MAX_BODY_BYTES + 64 * 1024,
        ))
        .with_state(state)
}
