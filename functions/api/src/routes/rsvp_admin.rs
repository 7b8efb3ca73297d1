//! An event's RSVP, for the tenant: its form, a guest's answer set (or removed) by the tenant,
//! the figures, and the guest list with answers as CSV.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use herald::config::Owner;
use herald::ids::{EventId, GuestId};
use herald::providers::FieldIssue;
use herald::rsvp::export::Export;
use herald::rsvp::{Question, RsvpFigures, RsvpForm, RsvpFormIn, RsvpIn, Tally, check_form};
use herald::store::{Event, RsvpWrite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{JourneyOutcome, replace_and_sync};
use super::guests::guest_ids;
use super::next_version;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{BadGateway, Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::rsvp::{Giver, answer, changed_event};
use crate::scope::{TenantQuery, event_record};
use crate::state::AppState;

super::api_routes! {
    (get_rsvp_form, put_rsvp_form),
    (rsvp_figures),
    (export_guests),
    (set_guest_rsvp, clear_guest_rsvp),
}

/// An event's RSVP form, with the version it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpFormPut {
    /// The form's version you read (0 before it was first set); a stale one is a 409.
    #[schema(minimum = 0)]
    pub version: u64,
    /// The last moment to answer, local to the event's time zone, before the event ends.
    /// Absent: guests may answer until the event starts. Journey steps anchored to
    /// `rsvp_deadline` move with it.
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::LocalDateTime>)]
    pub deadline: Option<NaiveDateTime>,
    /// How many others a guest may bring: 0 to 20 (0: none).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 20)]
    pub max_plus_ones: u32,
    /// At most 10; ids unique; a choice question has 2 to 20 options with unique ids; each
    /// label in 1 to 12 languages (tags such as `en`, `fr`, `pt-BR`), at most 300 characters.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub questions: Vec<Question>,
}

/// An event's RSVP form as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpFormView {
    pub form: RsvpForm,
    /// When answers close: the deadline, else the event's start.
    pub closes_at: DateTime<Utc>,
    /// After a change: what it did to the journey's steps anchored to the deadline (present
    /// when the event has an active journey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journey: Option<JourneyOutcome>,
}

async fn event_for(
    state: &AppState,
    principal: &Principal,
    q: &TenantQuery,
    id: &str,
) -> ApiResult<Event> {
    event_record(state, principal, q.tenant_id, path_id(id)?).await
}

/// An event's RSVP form (the default, version 0, until one is set: answers until the event
/// starts, no one else, no questions).
#[utoipa::path(get, path = "/api/v1/events/{id}/rsvp/form", tag = "rsvp", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = RsvpFormView)), security(("api_key" = [])))]
pub async fn get_rsvp_form(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<RsvpFormView>> {
    let event = event_for(&state, &principal, &q, &id).await?;
    Ok(Json(RsvpFormView {
        closes_at: event.rsvp_closes(),
        form: event.rsvp_form(),
        journey: None,
    }))
}

/// Set an event's RSVP form: deadline, others a guest may bring, questions. Answers already
/// given stay as they are (those to questions removed are kept, not shown); journey steps
/// anchored to the deadline move with it, within the request.
#[utoipa::path(put, path = "/api/v1/events/{id}/rsvp/form", tag = "rsvp", params(("id" = EventId, Path), TenantQuery),
    request_body = RsvpFormPut,
    responses((status = 200, body = RsvpFormView), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn put_rsvp_form(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<RsvpFormPut>,
) -> ApiResult<Json<RsvpFormView>> {
    let event = event_for(&state, &principal, &q, &id).await?;
    let tenant = event.tenant_id;
    principal.check_write(Owner::Event(tenant, event.id))?;
    let current = event.rsvp_form();
    if body.version != current.version {
        return Err(ApiError::Conflict {
            detail: format!(
                "version {} is stale; the form's current version is {}: read it again and retry",
                body.version, current.version
            ),
            current_version: Some(current.version),
        });
    }
    let mut issues = Vec::new();
    if let Some(deadline) = body.deadline
        && deadline >= event.fields.ends_at
    {
        issues.push(FieldIssue::new(
            "deadline",
            format!(
                "must be before the event ends ({})",
                event.fields.ends_at.format("%Y-%m-%dT%H:%M:%S")
            ),
        ));
    }
    let fields = match check_form(RsvpFormIn {
        deadline: body.deadline,
        max_plus_ones: body.max_plus_ones,
        questions: body.questions,
    }) {
        Ok(f) if issues.is_empty() => f,
        Ok(_) => return Err(ApiError::invalid(issues)),
        Err(more) => {
            issues.extend(more);
            return Err(ApiError::invalid(issues));
        }
    };
    let now = Utc::now();
    let form = RsvpForm {
        fields,
        version: next_version(current.version),
        updated_at: Some(now),
    };
    let expected = event.version;
    let updated = Event {
        rsvp: Some(form.clone()),
        version: next_version(expected),
        updated_at: now,
        ..event
    };
    // The deadline anchors journey steps: written like a move of the event.
    let journey = replace_and_sync(&state, tenant, &updated, expected).await?;
    tracing::info!(tenant_id = %tenant, event_id = %updated.id, version = form.version, "RSVP form set");
    Ok(Json(RsvpFormView {
        closes_at: updated.rsvp_closes(),
        form,
        journey,
    }))
}

/// An event's RSVP figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpFiguresView {
    #[serde(flatten)]
    pub figures: RsvpFigures,
    pub closes_at: DateTime<Utc>,
    /// The form's version the answers' labels are from.
    pub form_version: u64,
}

/// The event's RSVP figures: guests by answer (`accepted`, `declined`, `maybe`,
/// `no_response`), expected attendance (the party sizes of those who accepted, added up),
/// answers per question (choice questions by option, labels in the event's language), answers
/// by day (in the event's time zone) and the same counts by guest tag. Counted over the
/// guest list when asked (one Query per shard and 1,000 guests).
#[utoipa::path(get, path = "/api/v1/events/{id}/rsvp", tag = "rsvp", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = RsvpFiguresView)), security(("api_key" = [])))]
pub async fn rsvp_figures(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<RsvpFiguresView>> {
    let event = event_for(&state, &principal, &q, &id).await?;
    let form = event.rsvp_form();
    let mut tally = Tally::new(&form, event.fields.time_zone.tz());
    state
        .store
        .each_guest(event.tenant_id, event.id, |g| tally.add(g))
        .await?;
    Ok(Json(RsvpFiguresView {
        figures: tally.finish(event.fields.default_locale.as_str()),
        closes_at: event.rsvp_closes(),
        form_version: form.version,
    }))
}

/// The guest list with RSVP answers as CSV (UTF-8, a header row), for a spreadsheet: each
/// guest's id, names, email, phone, locale, tags (`;`), `rsvp` (accepted, declined, maybe or
/// no_response), `party_size`, `rsvp_at`, `rsvp_source`, one `answer_{question}` column per
/// question (options by their label in the event's language) and the custom fields. A text
/// cell a spreadsheet would take for a formula starts with `'`. It imports again as it is
/// (the columns Herald keeps are left out).
#[utoipa::path(get, path = "/api/v1/events/{id}/guests/export", tag = "guests", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, description = "the guest list as CSV", content_type = "text/csv", body = String)),
    security(("api_key" = [])))]
pub async fn export_guests(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Response> {
    let event = event_for(&state, &principal, &q, &id).await?;
    let form = event.rsvp_form();
    // Two passes would read the list twice: the guests are held (an event's list is at most
    // what its imports wrote, 10,000 rows at a time).
    let mut guests = Vec::new();
    state
        .store
        .each_guest(event.tenant_id, event.id, |g| guests.push(g.clone()))
        .await?;
    let fields: BTreeSet<String> = guests
        .iter()
        .flat_map(|g| g.fields.keys().cloned())
        .collect();
    let mut export = Export::new(&form, event.fields.default_locale.as_str(), fields);
    for g in &guests {
        export.add(g);
    }
    let name = format!("guests-{}.csv", event.id);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        export.finish(),
    )
        .into_response())
}

/// A guest's answer as the tenant records it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestRsvpPut {
    pub status: herald::domain::RsvpStatus,
    /// As the guest gives it (see `RsvpIn`).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 21)]
    pub party_size: Option<u32>,
    /// As the guest gives them (see `RsvpIn`).
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, herald::rsvp::AnswerValue>)]
    pub answers: std::collections::BTreeMap<String, herald::rsvp::AnswerValue>,
    /// Send the guest the `rsvp_confirmation` of this change (default false).
    #[serde(default)]
    pub send_confirmation: bool,
}

/// The guest with the answer recorded, and its confirmation if one was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestRsvpChanged {
    pub guest: herald::guests::Guest,
    /// Whether the answer changed (false: the guest's RSVP already said this).
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_id: Option<herald::ids::MessageId>,
}

/// Record a guest's RSVP (source `api`), e.g. an answer given by phone: checked against the
/// form like the guest's own, and taken after the deadline too.
#[utoipa::path(put, path = "/api/v1/events/{id}/guests/{guest_id}/rsvp", tag = "rsvp",
    params(("id" = EventId, Path), ("guest_id" = GuestId, Path), TenantQuery),
    request_body = GuestRsvpPut,
    responses((status = 200, body = GuestRsvpChanged), Forbidden, Conflict, BadGateway), security(("api_key" = [])))]
pub async fn set_guest_rsvp(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<GuestRsvpPut>,
) -> ApiResult<Json<GuestRsvpChanged>> {
    let (tenant, event, guest) = guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    let answered = answer(
        &state,
        (tenant, event, guest),
        RsvpIn {
            status: body.status,
            party_size: body.party_size,
            answers: body.answers,
        },
        Giver::Tenant {
            confirm: body.send_confirmation,
        },
        None,
    )
    .await?;
    Ok(Json(GuestRsvpChanged {
        guest: answered.guest,
        changed: answered.changed,
        confirmation_id: answered.confirmation,
    }))
}

/// Remove a guest's RSVP: the guest is `no_response` again.
#[utoipa::path(delete, path = "/api/v1/events/{id}/guests/{guest_id}/rsvp", tag = "rsvp",
    params(("id" = EventId, Path), ("guest_id" = GuestId, Path), TenantQuery),
    responses((status = 204), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn clear_guest_rsvp(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<StatusCode> {
    let (tenant, event, guest) = guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    for _ in 0..5 {
        let ctx = crate::rsvp::context(&state, tenant, event, guest).await?;
        let (Some(record), Some(current)) = (ctx.event, ctx.guest) else {
            return Err(ApiError::NotFound);
        };
        let Some(rsvp) = &current.rsvp else {
            return Ok(StatusCode::NO_CONTENT);
        };
        let now = Utc::now();
        let written = state
            .store
            .record_rsvp(&RsvpWrite {
                tenant,
                event,
                guest,
                rsvp: None,
                replaces: rsvp.version,
                confirmation: None,
                crm: None,
                now,
            })
            .await?;
        if written {
            let cleared = herald::guests::Guest {
                rsvp: None,
                updated_at: now,
                ..current
            };
            state
                .emit_after(&[changed_event(tenant, &record, &cleared)])
                .await;
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    Err(ApiError::Conflict {
        detail: "the guest's answer kept changing: try again".into(),
        current_version: None,
    })
}
