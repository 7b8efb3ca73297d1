//! Settings of a tenant: API keys (create, rotate, revoke; a new secret is shown once),
//! webhook endpoints and their attempts, the audit log, suppressions, the CRM connection and
//! its runs. Event managers have none of these (the API refuses them, and so do the pages).

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{Here, TenantParam, id, issues, not_found, query_string};
use crate::ConsoleState;
use crate::form::Posted;
use crate::session::Signed;
use crate::view;

async fn render(
    here: &Here<'_>,
    status: StatusCode,
    errors: Vec<Value>,
    created: Option<Value>,
) -> Response {
    let (keys, endpoints, events) = tokio::join!(
        here.get("/api/v1/api-keys"),
        here.get("/api/v1/communication/webhook-endpoints"),
        here.get("/api/v1/events"),
    );
    let keys = attempt!(keys);
    view::page_status(
        here.who,
        status,
        "console/settings.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant,
            keys => keys["items"].clone(),
            endpoints => endpoints.ok().map(|e| e["items"].clone()),
            events => events.ok().map(|e| e["items"].clone()),
            errors, created,
            roles => if here.tenant.is_some() || !here.who.is_platform_admin() { vec!["tenant_admin", "event_manager"] } else { vec!["platform_admin"] },
        },
    )
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    render(&here, StatusCode::OK, Vec::new(), None).await
}

pub async fn create_key(
    State(state): State<ConsoleState>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    let f = &posted.fields;
    let body =
        json!({ "name": f.get("name"), "role": f.get("role"), "event_ids": f.all("event_ids") });
    match here.api.post(here.uri("/api/v1/api-keys"), &body).await {
        Ok(created) => render(&here, StatusCode::CREATED, Vec::new(), Some(created)).await,
        Err(p) if matches!(p.status.as_u16(), 400 | 403 | 409 | 422) => {
            render(
                &here,
                p.status,
                issues(
                    &p,
                    &[
                        ("name", "key-name"),
                        ("role", "key-role"),
                        ("event_ids", "key-events"),
                    ],
                ),
                None,
            )
            .await
        }
        Err(p) => here.problem(&p),
    }
}

pub async fn rotate_key(
    State(state): State<ConsoleState>,
    Path(kid): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    let Some(kid) = id(&kid) else {
        return not_found(&posted.who);
    };
    let grace: i64 = posted
        .fields
        .get("grace_hours")
        .and_then(|h| h.parse::<i64>().ok())
        .unwrap_or(24)
        * 3600;
    match here
        .api
        .post(
            here.uri(&format!("/api/v1/api-keys/{kid}/rotate")),
            &json!({ "grace_seconds": grace }),
        )
        .await
    {
        Ok(rotated) => {
            render(
                &here,
                StatusCode::OK,
                Vec::new(),
                Some(rotated["key"].clone()),
            )
            .await
        }
        Err(p) if matches!(p.status.as_u16(), 400 | 403 | 409 | 422) => {
            render(&here, p.status, issues(&p, &[]), None).await
        }
        Err(p) => here.problem(&p),
    }
}

pub async fn revoke_key(
    State(state): State<ConsoleState>,
    Path(kid): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    let Some(kid) = id(&kid) else {
        return not_found(&posted.who);
    };
    match here
        .api
        .send(
            Method::DELETE,
            &here.uri(&format!("/api/v1/api-keys/{kid}")),
            &Value::Null,
        )
        .await
    {
        Ok(_) => view::see_other(&format!("/console/settings{}", here.q())),
        Err(p) if matches!(p.status.as_u16(), 400 | 403 | 409) => {
            render(&here, p.status, issues(&p, &[]), None).await
        }
        Err(p) => here.problem(&p),
    }
}

pub async fn webhook(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(wid): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(wid) = id(&wid) else {
        return not_found(&who);
    };
    let (endpoint, attempts) = tokio::join!(
        here.get(format!("/api/v1/communication/webhook-endpoints/{wid}")),
        here.get(format!(
            "/api/v1/communication/webhook-endpoints/{wid}/attempts"
        )),
    );
    let endpoint = attempt!(endpoint);
    let attempts = attempt!(attempts);
    here.page(
        "console/webhook.html",
        crate::ctx! { endpoint, attempts => attempts["items"].clone() },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct PageParam {
    pub tenant_id: Option<String>,
    pub cursor: Option<String>,
}

/// A page of a paged API list (`api`, read from the cursor of `p`) in `template`, with the
/// link to the next page of `console` (the audit log, the suppressions).
async fn paged(
    state: &ConsoleState,
    who: &Signed,
    p: PageParam,
    (api, console, template): (&str, &str, &str),
) -> Response {
    let here = here!(
        state,
        who,
        TenantParam {
            tenant_id: p.tenant_id
        }
    );
    let cursor = p.cursor.as_deref().filter(|c| c.len() < 200);
    let list = attempt!(
        here.get(format!("{api}{}", query_string(&[("cursor", cursor)])))
            .await
    );
    let next = list["next_cursor"].as_str().map(|c| {
        let q = query_string(&[("cursor", Some(c)), ("tenant_id", here.tenant.as_deref())]);
        format!("{console}{q}")
    });
    here.page(
        template,
        crate::ctx! { entries => list["items"].clone(), next },
    )
}

pub async fn audit(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<PageParam>,
) -> Response {
    let pages = (
        "/api/v1/audit",
        "/console/settings/audit",
        "console/audit.html",
    );
    paged(&state, &who, p, pages).await
}

pub async fn suppressions(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<PageParam>,
) -> Response {
    let pages = (
        "/api/v1/communication/suppressions",
        "/console/settings/suppressions",
        "console/suppressions.html",
    );
    paged(&state, &who, p, pages).await
}

pub async fn crm(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let (connection, runs) = tokio::join!(
        here.api.get(here.uri("/api/v1/communication/crm")),
        here.get("/api/v1/communication/crm/runs"),
    );
    let connection = match connection {
        Ok(c) => Some(c),
        Err(p) if p.status == StatusCode::NOT_FOUND => None,
        Err(p) => return here.problem(&p),
    };
    let runs = attempt!(runs);
    here.page(
        "console/crm.html",
        crate::ctx! { connection, runs => runs["items"].clone() },
    )
}
