//! Herald's HTTP API: one axum Router, served by lambda_http in Lambda and by axum locally.

pub mod audit;
pub mod auth;
pub mod extract;
pub mod pages;
pub mod problem;
pub mod routes;
pub mod scope;
pub mod state;
pub mod telemetry;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use state::{AppState, Config, Queues, Schedules};

use crate::problem::ApiError;

/// Request bodies above this size are refused with a 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald API", description = "Multi-tenant communication for events: tenants, keys, events, providers, templates and their inheritance, email senders, and the event setup wizard that freezes an event's resolved configuration into versioned snapshots.\n\nScope: every configuration route takes `tenant_id` and `event_id` query parameters. With `event_id` the request addresses that event's layer; otherwise the tenant's (tenant keys may omit `tenant_id`); a platform key with neither addresses the platform layer (global templates).\n\nEvery error is `application/problem+json`."),
    modifiers(&BearerAuth),
    components(schemas(problem::Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The routes and the OpenAPI document generated from them.
pub fn router_and_openapi() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::tenants::router())
        .merge(routes::api_keys::router())
        .merge(routes::events::router())
        .merge(routes::effective::router())
        .merge(routes::providers::router())
        .merge(routes::templates::router())
        .merge(routes::senders::router())
        .merge(routes::brand::router())
        .merge(routes::compliance::router())
        .merge(routes::wizard::router())
        .merge(routes::preview::router())
        .merge(routes::guests::router())
        .merge(routes::messages::router())
        .merge(routes::campaigns::router())
        .merge(routes::dead_letters::router())
        .merge(routes::analytics::router())
        .merge(routes::suppressions::router())
        .merge(routes::webhooks::router())
        .merge(routes::webhook_endpoints::router())
        .merge(routes::contacts::router())
        .merge(routes::crm::router())
        .merge(routes::audit::router())
        .merge(routes::preferences::router())
        .split_for_parts()
}

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router_and_openapi().1
}

/// The whole API, ready to serve.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = router_and_openapi();
    let doc = std::sync::Arc::new(doc);
    routes
        .route("/api/v1/openapi.json", get(move || async move { axum::Json(doc.as_ref().clone()) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // The route, not the path: a preference link's path is its token (a credential).
            let route = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or("unmatched", |m| m.as_str());
            tracing::info_span!("request", method = %req.method(), route = %route, key_id = tracing::field::Empty)
        }))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound
}

async fn method_not_allowed(method: Method) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on this route"))
}
