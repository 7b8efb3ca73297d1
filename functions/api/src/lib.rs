//! Herald's HTTP API: one axum Router, served by lambda_http in Lambda and by axum locally.

pub mod audit;
pub mod auth;
pub mod doc;
pub mod extract;
pub mod pages;
pub mod problem;
pub mod routes;
pub mod rsvp;
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
    components(schemas(
        problem::Problem,
        herald::ids::TenantId,
        herald::ids::EventId,
        herald::ids::GuestId,
        herald::ids::ContactId,
        herald::ids::CampaignId,
        herald::ids::MessageId,
        herald::ids::TemplateId,
        herald::ids::ProviderId,
        herald::ids::ApiKeyId,
        herald::ids::SyncRunId,
        herald::ids::WebhookId,
        herald::ids::WebhookMessageId,
        doc::Name,
        doc::LocalDateTime,
        doc::SenderIdentity,
        doc::BrandField,
        doc::DeadLetterQueueName,
        doc::Address,
        doc::AddressKind,
        doc::SuppressionKey,
        doc::EndpointUrl,
        doc::ProviderUrl,
        doc::ApiConsentSource,
        doc::WordingVersion,
        doc::PageLanguage,
        doc::LinkToken,
        herald::domain::EmailAddress,
        herald::domain::PhoneE164,
    ))
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

/// Every route group (see [`routes`]), named once: `with_every_group!(m)` is `m!(tenants, ...)`.
macro_rules! with_every_group {
    ($m:ident) => {
        $m!(
            tenants,
            api_keys,
            events,
            effective,
            providers,
            templates,
            senders,
            brand,
            compliance,
            wizard,
            preview,
            guests,
            guest_import,
            journeys,
            journey_view,
            messages,
            campaigns,
            dead_letters,
            analytics,
            suppressions,
            webhooks,
            webhook_endpoints,
            contacts,
            contact_history,
            crm,
            audit,
            preferences,
            rsvp,
            rsvp_admin,
            rsvp_page,
            rsvp_link,
            inbound_webhooks,
            conversations,
            attachments,
            conversation_settings
        )
    };
}

/// Every group's routes added to `router`, one Router for all of them.
fn every_route(router: Router<AppState>) -> Router<AppState> {
    macro_rules! add_each {
        ($($group:ident),+) => {{
            $(let router = routes::$group::add_to(router);)+
            router
        }};
    }
    with_every_group!(add_each)
}

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`, generated from the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    macro_rules! merge_each {
        ($($group:ident),+) => {
            OpenApiRouter::with_openapi(ApiDoc::openapi())
                $(.merge(routes::$group::documented()))+
                .into_openapi()
        };
    }
    let mut doc = with_every_group!(merge_each);
    problem::document_errors(&mut doc);
    doc::refine(&mut doc);
    doc
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
    every_route(Router::new())
        .route("/api/v1/openapi.json", get(|| async { openapi_json() }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One layer of the three (outermost first), so each route's service is wrapped once.
        .layer(
            tower::ServiceBuilder::new()
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    // The route, not the path: a preference link's path is its token (a credential).
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", |m| m.as_str());
                    tracing::info_span!("request", method = %req.method(), route = %route, key_id = tracing::field::Empty)
                }))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record)),
        )
        .with_state(state)
}

/// Serves `app` through lambda_http in Lambda, or on 127.0.0.1 (port `PORT`, else
/// `default_port`) anywhere else: the API's and the console's `main`.
pub async fn serve(app: Router, default_port: u16) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e));
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default_port);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    tracing::info!(%port, "serving");
    axum::serve(listener, app).await.context("serving")
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound
}

async fn method_not_allowed(method: Method) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on this route"))
}
