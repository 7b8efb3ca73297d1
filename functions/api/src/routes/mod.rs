//! One module per route group.
//!
//! Each module declares its handlers once with [`api_routes!`], which makes two functions of
//! the list: `add_to(router)`, the axum routes built from each handler's path and methods
//! alone, added to one Router (what the function serves: nothing of the OpenAPI document is
//! built at a cold start, and no group is a Router of its own to merge), and `documented()`,
//! the same routes with their OpenAPI operations and schemas (the document served at
//! `/api/v1/openapi.json`, built on its first request).

/// Declares a module's routes: groups of handlers sharing a path, as `utoipa_axum::routes!`
/// takes them.
macro_rules! api_routes {
    ($( ( $($handler:ident),+ $(,)? ) ),+ $(,)?) => {
        /// `router` with this module's routes (see [`crate::routes`]).
        pub fn add_to(router: axum::Router<crate::AppState>) -> axum::Router<crate::AppState> {
            $($(
                let router = utoipa_axum::paste! {
                    crate::routes::route::<[<__path_ $handler>], _, _>(router, $handler)
                };
            )+)+
            router
        }

        /// This module's routes with their OpenAPI operations (see [`crate::routes`]).
        pub fn documented() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                $( .routes(utoipa_axum::routes!($($handler),+)) )+
        }
    };
}
pub(crate) use api_routes;

pub mod analytics;
pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod brand;
pub mod campaigns;
pub mod compliance;
pub mod contact_history;
pub mod contacts;
pub mod conversation_settings;
pub mod conversations;
pub mod crm;
pub mod dead_letters;
pub mod effective;
pub mod events;
pub mod guest_import;
pub mod guests;
pub mod inbound_webhooks;
pub mod journey_view;
pub mod journeys;
pub mod messages;
pub mod preferences;
pub mod preview;
pub mod providers;
pub mod rsvp;
pub mod rsvp_admin;
pub mod rsvp_link;
pub mod rsvp_page;
pub mod senders;
pub mod suppressions;
pub mod templates;
pub mod tenants;
pub mod webhook_endpoints;
pub mod webhooks;
pub mod wizard;

use herald::providers::FieldIssue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;

/// A list answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListOf<T: ToSchema> {
    pub items: Vec<T>,
}

impl<T: ToSchema> ListOf<T> {
    pub fn new(items: Vec<T>) -> Self {
        Self { items }
    }
}

/// A required, trimmed, non-empty name of at most 200 characters.
pub fn check_name(field: &str, value: &str, issues: &mut Vec<FieldIssue>) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        issues.push(FieldIssue::new(field, "must be 1 to 200 characters"));
    }
    trimmed.to_owned()
}

/// The version a write creates from the version the client read. Saturating: a client that
/// names an impossible version gets a 409 from the store's version check, not an overflow.
pub fn next_version(read: u64) -> u64 {
    read.saturating_add(1)
}

pub fn reject_if_any(issues: Vec<FieldIssue>) -> Result<(), ApiError> {
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(issues))
    }
}

/// One handler at the path and methods its `#[utoipa::path]` names, without building its
/// OpenAPI operation.
pub(crate) fn route<P, H, T>(
    router: axum::Router<crate::AppState>,
    handler: H,
) -> axum::Router<crate::AppState>
where
    P: utoipa::Path,
    H: axum::handler::Handler<T, crate::AppState>,
    T: 'static,
{
    use utoipa_axum::PathItemExt;
    let methods = P::methods()
        .iter()
        .fold(axum::routing::MethodRouter::new(), |m, method| {
            m.on(method.to_method_filter(), handler.clone())
        });
    router.route(&P::path(), methods)
}
