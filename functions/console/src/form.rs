//! Posted forms: `application/x-www-form-urlencoded` fields, in order (a field may repeat:
//! checkboxes), and the CSRF check every console form passes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

use crate::ConsoleState;
use crate::session::Signed;
use crate::view;

#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `name` as typed (not trimmed), or empty.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    /// Every value of `name` (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A signed-in session's form, its CSRF token checked (403 when missing or wrong).
pub struct Posted {
    pub who: Signed,
    pub fields: Fields,
    /// Sent by htmx (`HX-Request`): answer with the fragment it swaps in, not a whole page.
    pub htmx: bool,
}

impl FromRequest<ConsoleState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ConsoleState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let who = Signed::from_parts(&mut parts, state).await?;
        let htmx = parts.headers.contains_key("hx-request");
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = Fields::parse(&bytes);
        who.check_csrf(fields.get("csrf"))?;
        Ok(Self { who, fields, htmx })
    }
}

/// A 403 page: the form's CSRF token was missing or not this session's.
pub fn csrf_refused(who: Option<&Signed>) -> Response {
    view::status_page(
        who,
        axum::http::StatusCode::FORBIDDEN,
        &view::text("console-csrf-title"),
        &view::text("console-csrf-text"),
    )
}
