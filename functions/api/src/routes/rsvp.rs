//! The guest's RSVP through their link, as JSON (the API behind the RSVP page, for a tenant's
//! own front end): `GET` and `PUT /api/v1/rsvp/{token}`. No API key: the link's token is the
//! credential (see `herald::rsvp::token`).
//!
//! A tampered, foreign or expired token is a 403 and changes nothing; a guest who was erased
//! (or removed from the event) is a 404; an answer after the deadline is a 409 naming it; a
//! party size over the form's, a missing required answer or an option not offered is a 422
//! naming the field.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use herald::consent::TokenError;
use herald::domain::{RsvpState, TimeZone};
use herald::rsvp::{Rsvp, RsvpClaims, RsvpForm, RsvpIn};
use herald::store::{EventStatus, RsvpContext};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::JsonBody;
use crate::problem::responses::{
    BadGateway, BadRequest, Conflict, LinkRefused, NotFound, PayloadTooLarge, Unprocessable,
    UnsupportedMediaType,
};
use crate::problem::{ApiError, ApiResult};
use crate::rsvp::{Giver, answer, context};
use crate::state::AppState;

super::api_routes! {
    (get_rsvp, put_rsvp),
}

/// Why an RSVP link does not open.
#[derive(Debug)]
pub enum Refused {
    Token(TokenError),
    /// The guest (or the event) is gone.
    Gone,
    Api(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Api(e)
    }
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Token(TokenError::Expired) => ApiError::LinkRefused(
                "the RSVP link has expired; use the link of a more recent message".into(),
            ),
            Refused::Token(_) => ApiError::LinkRefused("the RSVP link is not valid".into()),
            Refused::Gone => ApiError::NotFound,
            Refused::Api(e) => e,
        }
    }
}

/// A link that opens: its claims and what the answer reads.
pub struct Opened {
    pub claims: RsvpClaims,
    pub context: RsvpContext,
}

/// Verifies a token under its tenant's key (a tenant without a key signed nothing) and reads
/// the event, guest and tenant in one BatchGetItem.
pub async fn open(state: &AppState, token: &str) -> Result<Opened, Refused> {
    let tenant = RsvpClaims::tenant_of(token).map_err(Refused::Token)?;
    let key = state
        .links
        .existing(tenant)
        .await
        .map_err(ApiError::Upstream)?
        .ok_or(Refused::Token(TokenError::BadSignature))?;
    let claims = RsvpClaims::verify(token, key.as_ref(), Utc::now()).map_err(Refused::Token)?;
    let context = match context(state, claims.tenant, claims.event, claims.guest).await {
        Ok(c) if c.tenant.is_some() => c,
        Ok(_) | Err(ApiError::NotFound) => return Err(Refused::Gone),
        Err(e) => return Err(e.into()),
    };
    Ok(Opened { claims, context })
}

/// The event as the guest sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpEventView {
    pub name: String,
    /// Local to `time_zone`.
    #[schema(value_type = String, example = "2027-05-01T18:00:00")]
    pub starts_at: chrono::NaiveDateTime,
    #[schema(value_type = String, example = "2027-05-01T23:30:00")]
    pub ends_at: chrono::NaiveDateTime,
    pub time_zone: TimeZone,
    pub cancelled: bool,
}

/// What the JSON API shows a guest.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpView {
    pub event: RsvpEventView,
    /// Who invites.
    pub tenant_name: String,
    /// The guest's name.
    pub guest_name: String,
    /// The guest's answer, if they gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsvp: Option<Rsvp>,
    pub state: RsvpState,
    pub form: RsvpForm,
    /// Until when answers are taken (the form's deadline, else the event's start).
    pub closes_at: DateTime<Utc>,
    /// Whether an answer is taken now.
    pub open: bool,
    /// The guest's language when the link was made (`de-DE`), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// The confirmation queued for this answer (`PUT` only, when the answer changed and the
    /// event sends `rsvp_confirmation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_id: Option<herald::ids::MessageId>,
}

pub fn view(opened: &Opened) -> Option<RsvpView> {
    let (event, guest, tenant) = (
        opened.context.event.as_ref()?,
        opened.context.guest.as_ref()?,
        opened.context.tenant.as_ref()?,
    );
    let closes_at = event.rsvp_closes();
    let cancelled = event.fields.status == EventStatus::Cancelled;
    Some(RsvpView {
        event: RsvpEventView {
            name: event.fields.name.clone(),
            starts_at: event.fields.starts_at,
            ends_at: event.fields.ends_at,
            time_zone: event.fields.time_zone,
            cancelled,
        },
        tenant_name: tenant.name.clone(),
        guest_name: guest.name.clone(),
        rsvp: guest.rsvp.clone(),
        state: herald::rsvp::state_of(guest.rsvp.as_ref()),
        form: event.rsvp_form(),
        closes_at,
        open: !cancelled && Utc::now() <= closes_at,
        language: opened.claims.locale.clone(),
        expires_at: DateTime::from_timestamp(i64::from(opened.claims.expires), 0)
            .unwrap_or_default(),
        confirmation_id: None,
    })
}

/// A guest's RSVP and the event's form (JSON; the token of an RSVP link is the credential).
#[utoipa::path(get, path = "/api/v1/rsvp/{token}", tag = "rsvp",
    params(("token" = crate::doc::LinkToken, Path)),
    responses((status = 200, body = RsvpView), LinkRefused, NotFound))]
pub async fn get_rsvp(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<RsvpView>> {
    let opened = open(&state, &token).await?;
    view(&opened).map(Json).ok_or(ApiError::NotFound)
}

/// Answer (or change the answer) through an RSVP link, until the deadline: `accepted`,
/// `declined` or `maybe`, the party size and the form's questions. A change sends the
/// `rsvp_confirmation` at once (once per change; the same answer again sends nothing).
#[utoipa::path(put, path = "/api/v1/rsvp/{token}", tag = "rsvp",
    params(("token" = crate::doc::LinkToken, Path)),
    request_body = RsvpIn,
    responses((status = 200, body = RsvpView), BadRequest, LinkRefused, NotFound, Conflict,
        PayloadTooLarge, UnsupportedMediaType, Unprocessable, BadGateway))]
pub async fn put_rsvp(
    State(state): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<RsvpIn>,
) -> ApiResult<Json<RsvpView>> {
    let mut opened = open(&state, &token).await?;
    let claims = &opened.claims;
    let answered = answer(
        &state,
        (claims.tenant, claims.event, claims.guest),
        body,
        Giver::Guest,
        Some(opened.context.clone()),
    )
    .await?;
    opened.context.event = Some(answered.event);
    opened.context.guest = Some(answered.guest);
    let mut shown = view(&opened).ok_or(ApiError::NotFound)?;
    shown.confirmation_id = answered.confirmation;
    Ok(Json(shown))
}
