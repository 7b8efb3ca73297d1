//! Importing guests into an event: JSON or CSV, up to 10,000 rows, each checked on its own;
//! an `rsvp` column records the guest's answer as the organiser has it.

use std::collections::HashMap;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::header;
use herald::config::Owner;
use herald::guests::{
    CheckedGuest, GuestIn, ImportedRsvp, MAX_IMPORT_ROWS, RowIssue, check_row, parse_csv,
};
use herald::ids::EventId;
use herald::providers::FieldIssue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::extract::{StrictQuery, path_id};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_record};
use crate::state::AppState;

super::api_routes! {
    (import_guests),
}

/// An import body may be this large (10,000 rows of CSV or JSON).
pub const IMPORT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// A JSON import. (CSV: send `Content-Type: text/csv` with a header row instead.)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestsIn {
    /// 1 to 10,000 rows; each is checked on its own (see `GuestIn`), and no two good rows may
    /// share an email address or a phone number.
    #[schema(value_type = Vec<GuestIn>, min_items = 1, max_items = 10000)]
    pub guests: Vec<serde_json::Value>,
}

/// What an import did. Good rows are kept even when others are rejected.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
    pub created: usize,
    pub updated: usize,
    /// New tenant-wide contacts.
    pub contacts_created: usize,
    pub rejected: usize,
    pub errors: Vec<RowIssue>,
}

/// Import guests into an event: `application/json` (`{"guests": [...]}`) or `text/csv` with a
/// header row (columns: first_name, last_name, name, email, phone, locale, time_zone, tags
/// separated by `;`, preferred_channel, rsvp (accepted, declined, maybe, or no_response to
/// clear an answer; empty keeps the guest's) and party_size; the guest export's own columns
/// are left out; any other column is a custom field). Up to 10,000
/// rows. Each row links to the tenant's contact with the same email (else phone), or a new
/// one; a guest already in the event (same contact) is updated. Bad rows are reported by row
/// number with the reason, and the good rows are kept; when no row is good the answer is a 422.
#[utoipa::path(post, path = "/api/v1/events/{id}/guests", tag = "guests", params(("id" = EventId, Path), TenantQuery),
    request_body(
        description = "`application/json`, or `text/csv` (UTF-8): a header row (with an `email` or a `phone` column), then 1 to 10,000 rows in at most 5 MiB; the columns are `GuestIn`'s (tags separated by `;`), any other column a custom field. At least one row must be a guest (else 422)",
        content(
            (GuestsIn = "application/json"),
            (String = "text/csv"),
        ),
    ),
    responses((status = 200, body = ImportResult)), security(("api_key" = [])))]
pub async fn import_guests(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    request: Request,
) -> ApiResult<Json<ImportResult>> {
    let record = event_record(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    let (tenant, event) = (record.tenant_id, record.id);
    principal.check_write(Owner::Event(tenant, event))?;
    let max_party = record.rsvp_form().max_party();
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = to_bytes(request.into_body(), IMPORT_MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let (rows, mut errors) = parse_rows(&media, &body)?;
    let Checked {
        good,
        numbers,
        errors: row_errors,
    } = check_rows(rows, max_party);
    errors.extend(row_errors);
    if good.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(ApiError::invalid(
            errors
                .iter()
                .take(100)
                .map(|e| FieldIssue::new(format!("rows[{}].{}", e.row, e.field), &e.message))
                .collect(),
        ));
    }
    let written = state.store.import_guests(tenant, event, &good).await?;
    for (later, earlier) in &written.same_contact {
        let ((row, line), (first, _)) = (numbers[*later], numbers[*earlier]);
        errors.push(RowIssue {
            row,
            line,
            field: "row".to_owned(),
            message: format!(
                "the same person as row {first}: one contact holds the email or phone of both"
            ),
        });
    }
    errors.sort_by_key(|e| e.row);
    let rejected = {
        let mut rows: Vec<usize> = errors.iter().map(|e| e.row).collect();
        rows.dedup();
        rows.len()
    };
    // Guests joining after a journey step went out get it now when the step says so.
    let caught_up = match state
        .journeys()
        .catch_up(tenant, event, &written.added)
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(tenant_id = %tenant, event_id = %event, error = ?e, "queuing the catch-up of late guests failed");
            0
        }
    };
    if !written.rsvp_changed.is_empty() {
        crate::rsvp::imported(&state, &record, &written.rsvp_changed).await;
    }
    let imported = good.len() - written.same_contact.len();
    tracing::info!(tenant_id = %tenant, event_id = %event, imported, rejected, caught_up, "guests imported");
    Ok(Json(ImportResult {
        imported,
        created: written.created,
        updated: written.updated,
        contacts_created: written.contacts_created,
        rejected,
        errors,
    }))
}

/// A row as read: its CSV line (JSON rows have none) and the row, `None` when it did not
/// even deserialise (its issue is reported).
pub type ReadRow = (Option<u64>, Option<GuestIn>);

/// Reads an import's body (`text/csv` or `application/json`): its rows, and the issues of
/// rows that do not deserialise. Refuses an empty import or one over the row limit.
pub fn parse_rows(media: &str, body: &[u8]) -> ApiResult<(Vec<ReadRow>, Vec<RowIssue>)> {
    // (line, row) for CSV; (None, row) for JSON; a row that is not even an object is an issue.
    let mut errors: Vec<RowIssue> = Vec::new();
    let rows: Vec<(Option<u64>, Option<GuestIn>)> = match media {
        "text/csv" => parse_csv(body)
            .map_err(|m| ApiError::invalid_field("body", m))?
            .into_iter()
            .map(|(line, row)| (Some(line), Some(row)))
            .collect(),
        "application/json" => {
            let parsed: GuestsIn = crate::extract::parse_json(body)?;
            let mut out = Vec::with_capacity(parsed.guests.len());
            for (i, value) in parsed.guests.into_iter().enumerate() {
                match serde_path_to_error::deserialize::<_, GuestIn>(value) {
                    Ok(row) => out.push((None, Some(row))),
                    Err(e) => {
                        let path = e.path().to_string();
                        errors.push(RowIssue {
                            row: i + 1,
                            line: None,
                            field: if path == "." { "row".into() } else { path },
                            message: e.inner().to_string(),
                        });
                        out.push((None, None));
                    }
                }
            }
            out
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send application/json or text/csv".to_owned(),
            ));
        }
    };
    if rows.is_empty() {
        return Err(ApiError::invalid_field("guests", "no rows to import"));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(ApiError::invalid_field(
            "guests",
            format!(
                "{} rows; an import carries at most {MAX_IMPORT_ROWS}",
                rows.len()
            ),
        ));
    }
    Ok((rows, errors))
}

/// The good rows of an import, each with its row number and CSV line, and every bad row's
/// issues. Nothing is written: the console previews an import with this before it runs.
#[derive(Debug, Default)]
pub struct Checked {
    pub good: Vec<CheckedGuest>,
    pub numbers: Vec<(usize, Option<u64>)>,
    pub errors: Vec<RowIssue>,
}

/// Checks each row on its own, then that no two good rows share an email or phone, and
/// party sizes against the event's RSVP form (`max_party`).
pub fn check_rows(rows: Vec<ReadRow>, max_party: u32) -> Checked {
    let mut errors: Vec<RowIssue> = Vec::new();
    let mut good: Vec<CheckedGuest> = Vec::new();
    // Each good row's number and CSV line.
    let mut numbers: Vec<(usize, Option<u64>)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (line, row)) in rows.into_iter().enumerate() {
        let Some(row) = row else { continue };
        let number = i + 1;
        let issue = |field: &str, message: String| RowIssue {
            row: number,
            line,
            field: field.to_owned(),
            message,
        };
        match check_row(row) {
            Err(issues) => errors.extend(issues.into_iter().map(|(f, m)| issue(&f, m))),
            Ok(checked) => {
                let addresses = [
                    (
                        "email",
                        checked.email.as_ref().map(|e| e.as_str().to_owned()),
                    ),
                    (
                        "phone",
                        checked.phone.as_ref().map(|p| p.as_str().to_owned()),
                    ),
                ];
                let repeated = addresses.iter().find_map(|(field, a)| {
                    let a = a.as_ref()?;
                    seen.get(&format!("{field}:{a}")).map(|r| (*field, *r))
                });
                if let Some((field, first)) = repeated {
                    errors.push(issue(field, format!("the same {field} as row {first}")));
                    continue;
                }
                if let Some(ImportedRsvp::Answer {
                    party_size: Some(n),
                    ..
                }) = checked.rsvp
                    && n > max_party
                {
                    errors.push(issue(
                        "party_size",
                        format!("1 to {max_party}: the event's RSVP form allows no more"),
                    ));
                    continue;
                }
                for (field, a) in addresses {
                    if let Some(a) = a {
                        seen.insert(format!("{field}:{a}"), number);
                    }
                }
                good.push(checked);
                numbers.push((number, line));
            }
        }
    }
    Checked {
        good,
        numbers,
        errors,
    }
}
