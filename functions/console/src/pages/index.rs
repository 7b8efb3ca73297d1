//! `/` (to the console), `/api/v1` (a short index) and `/api/v1/reference` (the API's
//! reference, rendered on the server from its OpenAPI document).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::view;

pub async fn root() -> Response {
    view::see_other("/console")
}

/// The index: HTML for a browser, JSON for a client that asks for it.
pub async fn api_index(headers: HeaderMap) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json") && !a.contains("text/html"));
    if wants_json {
        let mut response = axum::Json(serde_json::json!({
            "openapi": "/api/v1/openapi.json",
            "reference": "/api/v1/reference",
            "console": "/console",
        }))
        .into_response();
        view::secure_headers(response.headers_mut());
        return response;
    }
    view::render_status(StatusCode::OK, "console/api_index.html", crate::ctx! {})
}

#[derive(Debug, Serialize)]
struct Operation {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    parameters: Vec<Parameter>,
    body: Option<String>,
    responses: Vec<(String, String)>,
    secured: bool,
}

#[derive(Debug, Serialize)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    description: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The reference's operations by tag, from the OpenAPI document.
fn operations(doc: &Value) -> BTreeMap<String, Vec<Operation>> {
    let mut by_tag: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return by_tag;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_owned();
            let parameters = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| Parameter {
                            name: text(p, "name"),
                            location: text(p, "in"),
                            required: p.get("required").and_then(Value::as_bool) == Some(true),
                            description: text(p, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = op.get("requestBody").map(|b| {
                b.get("content")
                    .and_then(Value::as_object)
                    .map(|c| {
                        c.iter()
                            .map(|(media, m)| {
                                let schema = m
                                    .pointer("/schema/$ref")
                                    .and_then(Value::as_str)
                                    .and_then(|r| r.rsplit('/').next())
                                    .unwrap_or("");
                                if schema.is_empty() {
                                    media.clone()
                                } else {
                                    format!("{schema} ({media})")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            });
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(code, r)| (code.clone(), text(r, "description")))
                        .collect()
                })
                .unwrap_or_default();
            let description = text(op, "description");
            let summary = match text(op, "summary") {
                s if s.is_empty() => description.lines().next().unwrap_or_default().to_owned(),
                s => s,
            };
            by_tag.entry(tag).or_default().push(Operation {
                anchor: format!("{method}-{path}")
                    .replace(['/', '{', '}'], "-")
                    .replace("--", "-"),
                method: method.to_uppercase(),
                path: path.clone(),
                summary,
                description,
                parameters,
                body,
                responses,
                secured: op.get("security").is_some(),
            });
        }
    }
    by_tag
}

/// The reference's groups, built once per process from the OpenAPI document.
fn document() -> &'static (Value, BTreeMap<String, Vec<Operation>>) {
    static DOC: OnceLock<(Value, BTreeMap<String, Vec<Operation>>)> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = serde_json::to_value(herald_api::openapi()).unwrap_or_default();
        let tags = operations(&doc);
        (doc, tags)
    })
}

fn html(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    view::secure_headers(response.headers_mut());
    response
}

/// The reference's index: the API's description and its groups of operations.
pub async fn reference() -> Response {
    let (doc, tags) = document();
    let groups: Vec<(String, usize)> = tags.iter().map(|(t, ops)| (t.clone(), ops.len())).collect();
    let count: usize = groups.iter().map(|(_, n)| n).sum();
    match view::render_string(
        "console/reference.html",
        crate::ctx! {
            title => doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("Herald API"),
            description => doc.pointer("/info/description").and_then(Value::as_str).unwrap_or(""),
            groups, count,
        },
    ) {
        Ok(body) => html(body),
        Err(e) => view::unexpected(&e),
    }
}

/// One group of the reference: its operations with their parameters, bodies and answers.
pub async fn reference_group(Path(tag): Path<String>) -> Response {
    let (_, tags) = document();
    let Some(ops) = tags.get(&tag) else {
        return view::not_found().await;
    };
    match view::render_string("console/reference_group.html", crate::ctx! { tag, ops }) {
        Ok(body) => html(body),
        Err(e) => view::unexpected(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_is_in_the_reference() {
        let doc = serde_json::to_value(herald_api::openapi()).unwrap_or_default();
        let tags = operations(&doc);
        let count: usize = tags.values().map(Vec::len).sum();
        let documented: usize = doc["paths"]
            .as_object()
            .map(|p| {
                p.values()
                    .map(|i| i.as_object().map_or(0, |o| o.len()))
                    .sum()
            })
            .unwrap_or(0);
        assert!(count > 50, "{count}");
        assert!(count <= documented);
        assert!(tags.contains_key("guests"), "{:?}", tags.keys());
    }
}
