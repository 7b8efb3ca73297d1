//! The console's pages, one module per area. Each handler reads through the API ([`Api`]) as
//! the signed-in key and renders a template; a problem of the API becomes its page.

pub mod analytics;
pub mod campaigns;
pub mod events;
pub mod guests;
pub mod inbox;
pub mod index;
pub mod journey;
pub mod overview;
pub mod providers;
pub mod settings;
pub mod template_editor;
pub mod wizard;

use axum::response::Response;
use minijinja::Value;
use serde::Deserialize;

use crate::ConsoleState;
use crate::call::{Api, Problem};
use crate::session::Signed;
use crate::view;

/// `?tenant_id=` on any console page: the tenant a platform admin is acting in.
#[derive(Debug, Default, Deserialize)]
pub struct TenantParam {
    pub tenant_id: Option<String>,
}

/// An id as it may appear in a URL: letters, digits, `_` and `-` (anything else cannot be an
/// id, and is a 404 before it reaches the API).
pub fn id(raw: &str) -> Option<&str> {
    (!raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some(raw)
}

/// `?name=value&...` of the pairs that have a value (URL-encoded), or nothing.
pub fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    let q = q.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// What a page needs: who, their API, and the tenant they act in (platform admins name it).
pub struct Here<'a> {
    pub who: &'a Signed,
    pub api: Api<'a>,
    pub tenant: Option<String>,
}

impl<'a> Here<'a> {
    pub fn new(
        state: &'a ConsoleState,
        who: &'a Signed,
        tenant: Option<String>,
    ) -> Result<Self, Response> {
        let tenant = match tenant.as_deref() {
            None | Some("") => None,
            Some(t) => Some(id(t).ok_or_else(|| not_found(who))?.to_owned()),
        };
        Ok(Self {
            who,
            api: Api::new(state, &who.key),
            tenant,
        })
    }

    /// `path` with `tenant_id` for a platform admin's tenant.
    pub fn uri(&self, path: &str) -> String {
        crate::call::scoped(path, self.tenant.as_deref())
    }

    /// The query string console links carry (`?tenant_id=…` or nothing).
    pub fn q(&self) -> String {
        query_string(&[("tenant_id", self.tenant.as_deref())])
    }

    pub async fn get(&self, path: impl AsRef<str>) -> Result<serde_json::Value, Response> {
        self.api
            .get(self.uri(path.as_ref()))
            .await
            .map_err(|p| view::problem(self.who, &p))
    }

    /// The event (404 for another tenant's or an event manager's other events), with `q` for
    /// its links.
    pub async fn event(&self, raw: &str) -> Result<serde_json::Value, Response> {
        let event_id = id(raw).ok_or_else(|| not_found(self.who))?;
        let mut event = self.get(format!("/api/v1/events/{event_id}")).await?;
        event["q"] = self.q().into();
        Ok(event)
    }

    pub fn page(&self, name: &str, ctx: Value) -> Response {
        view::page(
            self.who,
            name,
            minijinja::context! { q => self.q(), tenant_id => &self.tenant, ..ctx },
        )
    }

    pub fn problem(&self, problem: &Problem) -> Response {
        view::problem(self.who, problem)
    }
}

pub fn not_found(who: &Signed) -> Response {
    view::problem(
        who,
        &Problem::new(axum::http::StatusCode::NOT_FOUND, "Not found", ""),
    )
}

/// The issues of a problem for a page's error summary, each linking to its field's id when
/// the page has one (`anchors`: API field name → element id).
pub fn issues(problem: &Problem, anchors: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = problem
        .issues()
        .into_iter()
        .map(|i| {
            let anchor = anchors
                .iter()
                .find(|(f, _)| i.field == *f || i.field.starts_with(&format!("{f}.")))
                .map(|(_, a)| *a);
            serde_json::json!({
                "field": i.field, "message": i.message, "line": i.line, "column": i.column,
                "anchor": anchor,
            })
        })
        .collect();
    if out.is_empty() {
        out.push(serde_json::json!({ "message": if problem.detail.is_empty() { &problem.title } else { &problem.detail } }));
    }
    out
}
