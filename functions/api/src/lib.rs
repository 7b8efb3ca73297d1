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

/// Every route group, as `f` makes it (see [`routes`]): `router` or `documented`.
macro_rules! every_group {
    ($f:ident, $first:expr) => {
        $first
            .merge(routes::tenants::$f())
            .merge(routes::api_keys::$f())
            .merge(routes::events::$f())
            .merge(routes::effective::$f())
            .merge(routes::providers::$f())
            .merge(routes::templates::$f())
            .merge(routes::senders::$f())
            .merge(routes::brand::$f())
            .merge(routes::compliance::$f())
            .merge(routes::wizard::$f())
            .merge(routes::preview::$f())
            .merge(routes::guests::$f())
            .merge(routes::messages::$f())
            .merge(routes::campaigns::$f())
            .merge(routes::dead_letters::$f())
            .merge(routes::analytics::$f())
            .merge(routes::suppressions::$f())
            .merge(routes::webhooks::$f())
            .merge(routes::webhook_endpoints::$f())
            .merge(routes::contacts::$f())
            .merge(routes::crm::$f())
            .merge(routes::audit::$f())
            .merge(routes::preferences::$f())
    };
}

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`, generated from the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    every_group!(documented, OpenApiRouter::with_openapi(ApiDoc::openapi())).into_openapi()
}

/// The document, serialised once, on its first request (building it is the slowest part of
/// the API's start, so a cold start does not pay for it).
fn openapi_json() -> axum::response::Response {
    static DOC: std::sync::OnceLock<Result<axum::body::Bytes, String>> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        serde_json::to_vec(&openapi())
            .map(axum::body::Bytes::from)
            .map_err(|e| e.to_string())
    });
    match doc {
        Ok(bytes) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes.clone(),
        )
            .into_response(),
        Err(e) => ApiError::Unexpected(anyhow::anyhow!("serialising the OpenAPI document: {e}"))
            .into_response(),
    }
}

/// The whole API, ready to serve.
pub fn router(state: AppState) -> Router {
    every_group!(router, Router::new())
        .route("/api/v1/openapi.json", get(|| async { openapi_json() }))
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
