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
///
/// Numbers are read as JSON Schema reads them (OpenAPI 3.1 uses its 2020-12 draft): a number
/// with a zero fraction, such as `1.0`, is an integer, so it is taken wherever an integer is
/// (within the 64-bit range; a fractional number still is not an integer, and `f64` fields take
/// both). A key given twice in one object is refused, as before.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Normalised(value) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), &path)
    })?;
    de.end().map_err(|e| json_error(e, "."))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), &path)
    })
}

/// A JSON value as [`parse_json`] reads it: integral numbers as integers, no repeated keys.
struct Normalised(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Normalised {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(NormalisedVisitor)
            .map(Normalised)
    }
}

struct NormalisedVisitor;

impl<'de> serde::de::Visitor<'de> for NormalisedVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // 2^64 and -2^63: the integers below the first and from the second fit u64 and i64.
        const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
        const MINUS_TWO_TO_63: f64 = -9_223_372_036_854_775_808.0;
        Ok(if v.fract() != 0.0 || !v.is_finite() {
            serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into)
        } else if (0.0..TWO_TO_64).contains(&v) {
            (v as u64).into()
        } else if (MINUS_TWO_TO_63..0.0).contains(&v) {
            (v as i64).into()
        } else {
            serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into)
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Normalised(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate field `{key}`"
                )));
            }
            let Normalised(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
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

/// An optional integer query parameter (`deserialize_with`): decimal digits, or with a zero
/// fraction (`20.0`), the integers JSON Schema describes (as in JSON bodies, see
/// [`parse_json`]).
pub fn query_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let Some(raw) = <Option<String> as serde::Deserialize>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let digits = match raw.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b == b'0') => {
            whole
        }
        _ => raw.as_str(),
    };
    digits.parse().map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        count: u32,
        #[serde(default)]
        offset: Option<i64>,
        #[serde(default)]
        ratio: Option<f64>,
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation { errors, .. } => errors[0].field.clone(),
            other => panic!("a 422, not {other:?}"),
        }
    }

    #[test]
    fn integral_numbers_are_integers_and_fractions_are_not() {
        let b: Body = parse_json(br#"{"count": 3.0, "offset": -2.00, "ratio": 2.0}"#).unwrap();
        assert_eq!((b.count, b.offset, b.ratio), (3, Some(-2), Some(2.0)));
        let b: Body = parse_json(br#"{"count": 1e2, "ratio": 0.25}"#).unwrap();
        assert_eq!((b.count, b.ratio), (100, Some(0.25)));
        assert_eq!(
            field_of(parse_json::<Body>(br#"{"count": 3.5}"#).unwrap_err()),
            "count"
        );
        // Beyond the 64-bit integers: still a float, not an integer.
        let big = br#"{"count": 1, "offset": 1e19}"#;
        assert_eq!(field_of(parse_json::<Body>(big).unwrap_err()), "offset");
        // Out of the field's range, as before.
        let over = br#"{"count": 4294967296.0}"#;
        assert_eq!(field_of(parse_json::<Body>(over).unwrap_err()), "count");
    }

    #[test]
    fn repeated_keys_bad_json_and_unknown_fields_are_refused() {
        let repeated = parse_json::<Body>(br#"{"count": 1, "count": 2}"#).unwrap_err();
        assert!(
            matches!(repeated, ApiError::Validation { .. }),
            "{repeated:?}"
        );
        assert!(matches!(
            parse_json::<Body>(br#"{"count": 1"#).unwrap_err(),
            ApiError::BadRequest(_)
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"count": 1} x"#).unwrap_err(),
            ApiError::BadRequest(_)
        ));
        assert_eq!(
            field_of(parse_json::<Body>(br#"{"count": 1, "other": 2}"#).unwrap_err()),
            "other"
        );
    }

    #[test]
    fn query_integers_take_a_zero_fraction() {
        #[derive(Debug, Deserialize)]
        struct Query {
            #[serde(default, deserialize_with = "query_integer")]
            limit: Option<u32>,
        }
        let parse = |q: &str| serde_urlencoded::from_str::<Query>(q).map(|q| q.limit);
        assert_eq!(parse("limit=20").unwrap(), Some(20));
        assert_eq!(parse("limit=20.00").unwrap(), Some(20));
        assert_eq!(parse("").unwrap(), None);
        for bad in ["limit=20.5", "limit=20.", "limit=.0", "limit=x", "limit=-1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
