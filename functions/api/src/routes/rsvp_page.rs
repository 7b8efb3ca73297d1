//! The RSVP page a guest's link opens (HTML, no JavaScript needed): `GET /rsvp/{token}` shows
//! the event, the guest's answer and the form; `POST /rsvp/{token}` takes the form and
//! answers with a redirect to the page saying it is saved (post/redirect/get), or the page
//! again with every error and what was typed. After the deadline (or once the event is
//! cancelled) the page shows the answer and says answers are closed. The JSON API behind it
//! is [`super::rsvp`]; the page is `guest/rsvp.html` of `herald::pages`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use herald::pages::Lang;

use super::preferences::PageQuery;
use super::rsvp::{Opened, Refused, open};
use crate::pages::rsvp_page::{self, PageError, RsvpTyped, Subject};
use crate::pages::{self, Refusal};
use crate::problem::ApiError;
use crate::rsvp::{Giver, answer};
use crate::state::AppState;

super::api_routes! {
    (rsvp_page, answer_rsvp_page),
}

/// An opened link with the page's language.
struct PageRequest {
    opened: Opened,
    lang: Lang,
    asked: Option<Lang>,
    token: String,
}

impl PageRequest {
    fn url(&self, outcome: Option<&str>) -> String {
        pages::page_url(&format!("/rsvp/{}", self.token), self.asked, outcome)
    }

    /// Renders the page with `typed` and its `errors`.
    fn render(
        &self,
        status: StatusCode,
        typed: &RsvpTyped,
        errors: Vec<PageError>,
        saved: bool,
    ) -> Response {
        let ctx = &self.opened.context;
        let (Some(event), Some(guest), Some(tenant)) = (&ctx.event, &ctx.guest, &ctx.tenant) else {
            return pages::refused(self.lang, Refusal::Gone);
        };
        let subject = Subject {
            event,
            guest,
            tenant: &tenant.name,
            whose: pages::whose_of(
                &guest.name,
                guest.email.as_ref().map(|e| e.as_str()),
                guest.phone.as_ref().map(|p| p.as_str()),
            ),
            action: self.url(None),
        };
        let context = rsvp_page::page(subject, self.lang, typed, errors, saved, Utc::now());
        pages::page(status, "guest/rsvp.html", self.lang, context)
    }
}

async fn open_page(
    state: &AppState,
    token: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<PageRequest, Response> {
    let asked = query.lang.as_deref().and_then(Lang::negotiate);
    match open(state, token).await {
        Ok(opened) => {
            let guest_locale = opened
                .context
                .guest
                .as_ref()
                .and_then(|g| g.locale.as_ref())
                .map(|l| l.as_str().to_owned());
            let link = opened.claims.locale.clone().or(guest_locale);
            let lang = pages::language(query.lang.as_deref(), link.as_deref(), headers);
            Ok(PageRequest {
                opened,
                lang,
                asked,
                token: token.to_owned(),
            })
        }
        Err(refused) => {
            let lang = pages::language(query.lang.as_deref(), None, headers);
            Err(match refused {
                Refused::Token(e) => pages::refused(lang, Refusal::of_token(&e)),
                Refused::Gone => pages::refused(lang, Refusal::Gone),
                Refused::Api(e) => e.into_response(),
            })
        }
    }
}

/// The guest's RSVP page (HTML): the event, their answer and the form until the deadline;
/// afterwards their answer and that answers are closed.
#[utoipa::path(get, path = "/rsvp/{token}", tag = "rsvp",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    responses((status = 200, description = "the page (after an answer, `?outcome=saved`: its title, a heading and a status message say so)", content_type = "text/html", body = String),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to answer any more (the guest was erased or removed)", content_type = "text/html", body = String)))]
pub async fn rsvp_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let typed = RsvpTyped::of(
        request
            .opened
            .context
            .guest
            .as_ref()
            .and_then(|g| g.rsvp.as_ref()),
    );
    let saved = query.outcome.as_deref() == Some("saved");
    request.render(StatusCode::OK, &typed, Vec::new(), saved)
}

/// The RSVP form's submission: recorded (and its confirmation sent), it answers a redirect
/// to the page saying so; with errors, the page again with every error and what was typed;
/// after the deadline, the page saying answers are closed.
#[utoipa::path(post, path = "/rsvp/{token}", tag = "rsvp",
    params(("token" = crate::doc::LinkToken, Path), PageQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`status` (`accepted`, `declined`, `maybe`), `party_size`, and `answer-{question id}` for each question (repeated for a multiple choice)"),
    responses((status = 303, description = "recorded: to the page with `outcome=saved` (and the `lang` asked for)",
            headers(("Location" = String, description = "`/rsvp/{token}?outcome=saved`"))),
        (status = 403, description = "an invalid or expired link", content_type = "text/html", body = String),
        (status = 404, description = "nothing to answer any more", content_type = "text/html", body = String),
        (status = 409, description = "answers are closed (the deadline passed or the event was cancelled): the page saying so, with the answer given before", content_type = "text/html", body = String),
        (status = 422, description = "the form does not make sense: the page with an error summary, every field's error and what was typed", content_type = "text/html", body = String)))]
pub async fn answer_rsvp_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = match open_page(&state, &token, &query, &headers).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let typed = RsvpTyped::parse(&body);
    let Some(event) = request.opened.context.event.as_ref() else {
        return pages::refused(request.lang, Refusal::Gone);
    };
    if rsvp_page::closed(event, Utc::now()).is_some() {
        return request.render(StatusCode::CONFLICT, &typed, Vec::new(), false);
    }
    let given = match typed.answer(
        &event.rsvp_form(),
        request.lang,
        event.fields.default_locale.as_str(),
    ) {
        Ok(given) => given,
        Err(errors) => {
            return request.render(StatusCode::UNPROCESSABLE_ENTITY, &typed, errors, false);
        }
    };
    let claims = &request.opened.claims;
    let ids = (claims.tenant, claims.event, claims.guest);
    match answer(
        &state,
        ids,
        given,
        Giver::Guest,
        Some(request.opened.context.clone()),
    )
    .await
    {
        Ok(_) => pages::see_other(&request.url(Some("saved"))),
        Err(ApiError::NotFound) => pages::refused(request.lang, Refusal::Gone),
        Err(ApiError::Conflict { .. }) => {
            // Closed (or cancelled) while the form was open: show the page as it now stands.
            match crate::rsvp::context(&state, ids.0, ids.1, ids.2).await {
                Ok(context) => {
                    request.opened.context = context;
                    request.render(StatusCode::CONFLICT, &typed, Vec::new(), false)
                }
                Err(ApiError::NotFound) => pages::refused(request.lang, Refusal::Gone),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}
