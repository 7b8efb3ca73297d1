//! Extractors that turn every malformed request into a problem+json answer.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use herald::providers::FieldIssue;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// A JSON request body: `application/json`, at most 1 MiB, every field checked with its path.
/// Malformed JSON is a 400; a well-formed body with wrong, missing or unknown fields is a 422.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if json != Some(true) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as Content-Type: application/json".to_owned(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("the request body could not be read".to_owned())
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON with the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), &path)
    })?;
    de.end().map_err(|e| json_error(e, "."))?;
    Ok(value)
}

fn json_error(inner: serde_json::Error, path: &str) -> ApiError {
    match inner.classify() {
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => {
            ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
        }
        serde_json::error::Category::Data => {
            let field = if path == "." {
                "body".to_owned()
            } else {
                path.to_owned()
            };
            ApiError::invalid(vec![FieldIssue::new(
                field,
                strip_position(&inner.to_string()),
            )])
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, strictly: unknown or malformed parameters are a 400 naming the parameter.
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(StrictQuery)
            .map_err(|e| {
                ApiError::BadRequest(format!("query parameter {}: {}", e.path(), e.inner()))
            })
    }
}

/// Parses an id from the path; an id of the wrong kind names nothing, so it is a 404.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}
