//! Every API error is an `application/problem+json` document (RFC 9457) with a stable `type`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald::providers::FieldIssue;
use herald::store::StoreError;
use herald::template_syntax::SyntaxIssue;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    /// A provider callback whose signature is missing or does not verify (says which).
    #[error("{0}")]
    BadSignature(String),
    /// A provider's webhook verification request that does not match (says what).
    #[error("{0}")]
    VerificationRefused(String),
    #[error("{0}")]
    Forbidden(String),
    /// A guest's signed link (preferences, unsubscribe, RSVP) that is tampered, malformed,
    /// expired or of another tenant: the guest has no API key, so not [`ApiError::Forbidden`].
    #[error("{0}")]
    LinkRefused(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{detail}")]
    Conflict {
        detail: String,
        current_version: Option<u64>,
    },
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("the request body is larger than 1 MiB")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Validation {
        detail: String,
        errors: Vec<FieldIssue>,
        syntax_errors: Vec<SyntaxIssue>,
    },
    /// An AWS service or provider that Herald depends on failed; nothing was changed.
    #[error("an upstream service failed; nothing was changed: {0}")]
    Upstream(anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(errors: Vec<FieldIssue>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self::Validation {
            detail,
            errors,
            syntax_errors: Vec::new(),
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldIssue::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request is malformed",
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "The API key's role does not allow this",
            ),
            ApiError::LinkRefused(_) => (
                StatusCode::FORBIDDEN,
                "link-refused",
                "This link is not valid",
            ),
            ApiError::BadSignature(_) => (
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                "The provider's request signature does not verify",
            ),
            ApiError::VerificationRefused(_) => (
                StatusCode::FORBIDDEN,
                "verification-refused",
                "The webhook verification request does not match",
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Conflict { .. } => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request is invalid",
            ),
            ApiError::Upstream(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream",
                "An upstream service failed",
            ),
            ApiError::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::AlreadyExists => ApiError::Conflict {
                detail: "it already exists".to_owned(),
                current_version: None,
            },
            StoreError::StaleVersion { expected, current } => ApiError::Conflict {
                detail: format!(
                    "version {expected} is stale; the current version is {current}: read it again and retry"
                ),
                current_version: Some(current),
            },
            StoreError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable identifier of the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-level problems of a 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
    /// Template syntax errors of a 422, with line and column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syntax_errors: Vec<SyntaxIssue>,
    /// The current version, on a 409 caused by a stale version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        // An API key is what a 401 asks for, except from a provider's callback.
        let bearer = matches!(self, ApiError::Unauthorized);
        let detail = match &self {
            ApiError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                "an unexpected error occurred; it has been logged".to_owned()
            }
            ApiError::Upstream(e) => {
                tracing::warn!(error = ?e, "upstream failure");
                self.to_string()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let (errors, syntax_errors, current_version) = match self {
            ApiError::Validation {
                errors,
                syntax_errors,
                ..
            } => (errors, syntax_errors, None),
            ApiError::Conflict {
                current_version, ..
            } => (Vec::new(), Vec::new(), current_version),
            _ => (Vec::new(), Vec::new(), None),
        };
        let body = Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
            syntax_errors,
            current_version,
        };
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if bearer {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The error answers as the OpenAPI document shows them: one shared response per status
/// (`#/components/responses/{Name}`), which operations reference by `$ref`.
///
/// Operations that take an API key get theirs from what the document already says of them
/// (see [`document_errors`]); each handler's annotation names only the others (`Forbidden`,
/// `Conflict`, `BadGateway`, ...), as `responses((status = 200, body = T), Forbidden)`.
pub mod responses {
    use std::collections::BTreeMap;

    use utoipa::openapi::{RefOr, Response};

    macro_rules! problem_responses {
        ($($name:ident = $status:literal, $description:literal;)+) => {
            $(
                #[doc = $description]
                pub struct $name;

                impl utoipa::IntoResponses for $name {
                    fn responses() -> BTreeMap<String, RefOr<Response>> {
                        BTreeMap::from([(
                            $status.to_owned(),
                            RefOr::Ref(utoipa::openapi::Ref::from_response_name(stringify!($name))),
                        )])
                    }
                }
            )+

            /// Every shared error response: (component name, status, description).
            pub const ALL: &[(&str, &str, &str)] = &[$((stringify!($name), $status, $description)),+];
        };
    }

    problem_responses! {
        BadRequest = "400", "Malformed request: invalid JSON, or an unknown or malformed query parameter";
        Unauthorized = "401", "Missing, unknown, expired or revoked credentials";
        Forbidden = "403", "The key's role does not allow this";
        LinkRefused = "403", "The guest's link is not valid: tampered, malformed, of another tenant, or expired (`/problems/link-refused`)";
        NotFound = "404", "Not found, or not visible to this key";
        Conflict = "409", "Conflict with the current state: it already exists, a stale version, or a precondition the state does not meet";
        PayloadTooLarge = "413", "The body is larger than the route takes (1 MiB; 5 MiB for a guest import)";
        UnsupportedMediaType = "415", "The body is not of a media type the route takes";
        Unprocessable = "422", "Invalid fields, with field-level details";
        TooManyRequests = "429", "Over the key's or the tenant's rate limit: retry after `Retry-After` seconds";
        BadGateway = "502", "An AWS service or provider failed; nothing was changed";
    }
}

/// Puts the shared error responses in the document's components, and gives each operation
/// that takes an API key the ones its shape implies, besides those its annotation names:
///
/// - query parameters or a body: 400 (unknown, malformed or out-of-range parameters; bad JSON);
/// - an API key: 401 and 429;
/// - an id in the path, or an id in the query: 404;
/// - a body: 413 and 422, and 415 when the body is required (an optional body is read as JSON
///   whatever its media type).
///
/// Routes without an API key (a guest's preference link, providers' callbacks) name all of
/// theirs in their annotations.
pub fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder};

    let components = doc.components.get_or_insert_with(Default::default);
    for (name, status, description) in responses::ALL {
        let mut response = ResponseBuilder::new().description(*description).content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        );
        let integer = || {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Integer)
                .minimum(Some(0))
        };
        let string = || {
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String)
        };
        match *status {
            "401" => {
                response = response.header(
                    "WWW-Authenticate",
                    HeaderBuilder::new()
                        .schema(string())
                        .description(Some("`Bearer`"))
                        .build(),
                );
            }
            "429" => {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(integer())
                        .description(Some("Seconds to wait"))
                        .build(),
                );
            }
            _ => {}
        }
        components
            .responses
            .insert((*name).to_owned(), RefOr::T(response.build()));
    }
    let shared = |status: &str| {
        responses::ALL
            .iter()
            .find(|(_, s, _)| *s == status)
            .map(|(name, _, _)| RefOr::Ref(Ref::from_response_name(*name)))
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            if op.security.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            let parameters = op.parameters.as_deref().unwrap_or_default();
            let has = |place: ParameterIn| parameters.iter().any(|p| p.parameter_in == place);
            let id_in_query = parameters
                .iter()
                .any(|p| p.parameter_in == ParameterIn::Query && p.name.ends_with("_id"));
            let body = op.request_body.as_ref();
            let required_body =
                body.is_some_and(|b| matches!(b.required, Some(utoipa::openapi::Required::True)));
            let mut wanted = vec!["401", "429"];
            if has(ParameterIn::Query) || body.is_some() {
                wanted.push("400");
            }
            if has(ParameterIn::Path) || id_in_query {
                wanted.push("404");
            }
            if body.is_some() {
                wanted.extend(["413", "422"]);
            }
            if required_body {
                wanted.push("415");
            }
            for status in wanted {
                if let Some(response) = shared(status) {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(response);
                }
            }
        }
    }
}
