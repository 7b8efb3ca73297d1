//! Guests: the list (search, RSVP filter, pages), the CSV import that shows before anything is
//! written what will be imported and every rejected row with its reason, and a guest's
//! timeline with each message's delivery story.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use herald_api::routes::guest_import::{check_rows, parse_rows};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{Here, TenantParam, id, not_found, query_string};
use crate::ConsoleState;
use crate::session::Signed;
use crate::view;

#[derive(Debug, Default, Deserialize)]
pub struct ListParam {
    pub tenant_id: Option<String>,
    pub rsvp: Option<String>,
    pub search: Option<String>,
    pub cursor: Option<String>,
}

/// A search reads at most this many guests (pages of 500), and says when it stopped short.
const SEARCH_SCAN: usize = 5_000;

fn matches(guest: &Value, needle: &str) -> bool {
    ["name", "first_name", "last_name", "email", "phone"]
        .iter()
        .filter_map(|k| guest[k].as_str())
        .any(|v| v.to_lowercase().contains(needle))
        || guest["tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|v| v.as_str().is_some_and(|s| s.to_lowercase() == needle))
        })
}

fn rsvp_filter(raw: Option<&str>) -> Option<&str> {
    raw.filter(|r| ["accepted", "declined", "maybe", "no_response"].contains(r))
}

async fn render_list(
    here: &Here<'_>,
    event_id: &str,
    p: &ListParam,
    status: StatusCode,
    import: Option<Value>,
) -> Response {
    let event = attempt!(here.event(event_id).await);
    let rsvp = rsvp_filter(p.rsvp.as_deref());
    let search = p
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let base = format!("/api/v1/events/{event_id}/guests");
    let query = |limit: usize, cursor: Option<&str>| {
        let limit = limit.to_string();
        let q = query_string(&[("limit", Some(&limit)), ("rsvp", rsvp), ("cursor", cursor)]);
        format!("{base}{q}")
    };
    let (guests, next, scanned_all) = if let Some(needle) = &search {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        let mut read = 0;
        loop {
            let page = attempt!(here.get(&query(500, cursor.as_deref())).await);
            let items = page["items"].as_array().cloned().unwrap_or_default();
            read += items.len().max(1);
            found.extend(items.into_iter().filter(|g| matches(g, needle)));
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() || read >= SEARCH_SCAN || found.len() >= 200 {
                break;
            }
        }
        let all = cursor.is_none();
        (found, None, all)
    } else {
        let cursor = p.cursor.as_deref().filter(|c| c.len() < 100);
        let page = attempt!(here.get(&query(100, cursor)).await);
        (
            page["items"].as_array().cloned().unwrap_or_default(),
            page["next_cursor"].as_str().map(str::to_owned),
            true,
        )
    };
    let next_href = next.map(|c| {
        let q = query_string(&[
            ("cursor", Some(&c)),
            ("rsvp", rsvp),
            ("tenant_id", here.tenant.as_deref()),
        ]);
        format!("/console/events/{event_id}/guests{q}")
    });
    view::page_status(
        here.who,
        status,
        "console/guests.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant, event, guests, next_href, rsvp,
            search => p.search.clone().unwrap_or_default(), scanned_all, import,
        },
    )
}

pub async fn list(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<ListParam>,
) -> Response {
    let here = here!(
        state,
        who,
        TenantParam {
            tenant_id: p.tenant_id.clone()
        }
    );
    render_list(&here, &event_id, &p, StatusCode::OK, None).await
}

/// The import form's parts: the CSRF token, the file (or pasted text), and whether to write.
struct ImportForm {
    csrf: Option<String>,
    csv: Vec<u8>,
    commit: bool,
}

async fn read_form(mut multipart: Multipart) -> Result<ImportForm, String> {
    let mut form = ImportForm {
        csrf: None,
        csv: Vec::new(),
        commit: false,
    };
    let mut pasted = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        match name.as_str() {
            "csrf" => form.csrf = Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
            "file" => form.csv = bytes.to_vec(),
            "csv" => pasted = bytes.to_vec(),
            "action" => form.commit = &bytes[..] == b"import",
            _ => {}
        }
    }
    if form.csv.is_empty() {
        form.csv = pasted;
    }
    Ok(form)
}

/// Previews an import (nothing written: every row checked as the API checks it), or runs it.
pub async fn import(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<TenantParam>,
    multipart: Multipart,
) -> Response {
    let here = here!(state, who, p);
    if id(&event_id).is_none() {
        return not_found(&who);
    }
    let form = match read_form(multipart).await {
        Ok(f) => f,
        Err(e) => {
            return view::status_page(
                Some(&who),
                StatusCode::BAD_REQUEST,
                "The upload could not be read",
                &e,
            );
        }
    };
    if let Err(r) = who.check_csrf(form.csrf.as_deref()) {
        return r;
    }
    let list = ListParam {
        tenant_id: here.tenant.clone(),
        ..Default::default()
    };
    let refused = |message: String| json!({ "refused": message });
    if form.csv.is_empty() {
        return render_list(
            &here,
            &event_id,
            &list,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(refused("Choose a CSV file, or paste its rows.".into())),
        )
        .await;
    }
    if form.commit {
        let result = here
            .api
            .raw(
                Method::POST,
                &here.uri(&format!("/api/v1/events/{event_id}/guests")),
                Some("text/csv"),
                form.csv,
            )
            .await;
        return match result {
            Ok(done) => {
                render_list(
                    &here,
                    &event_id,
                    &list,
                    StatusCode::OK,
                    Some(json!({ "done": done })),
                )
                .await
            }
            Err(p) if matches!(p.status.as_u16(), 400 | 413 | 415 | 422) => {
                let message = if p.errors.is_empty() {
                    p.detail.clone()
                } else {
                    format!("No row could be imported ({} problems).", p.errors.len())
                };
                render_list(
                    &here,
                    &event_id,
                    &list,
                    p.status,
                    Some(json!({ "refused": message, "errors": p.errors })),
                )
                .await
            }
            Err(p) => here.problem(&p),
        };
    }
    let event = attempt!(here.event(&event_id).await);
    let max_party = 1 + event["rsvp"]["max_plus_ones"].as_u64().unwrap_or(0) as u32;
    let (rows, mut errors) = match parse_rows("text/csv", &form.csv) {
        Ok(r) => r,
        Err(e) => {
            let message = match e {
                herald_api::problem::ApiError::Validation { errors, detail, .. } => {
                    errors.first().map_or(detail, |i| i.message.clone())
                }
                other => other.to_string(),
            };
            return render_list(
                &here,
                &event_id,
                &list,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(refused(message)),
            )
            .await;
        }
    };
    let total = rows.len();
    let checked = check_rows(rows, max_party);
    errors.extend(checked.errors);
    errors.sort_by_key(|e| e.row);
    let good: Vec<Value> = checked
        .good
        .iter()
        .zip(&checked.numbers)
        .take(50)
        .map(|(g, (row, _))| {
            json!({
                "row": row, "name": g.name,
                "email": g.email.as_ref().map(|e| e.as_str().to_owned()),
                "phone": g.phone.as_ref().map(|p| p.as_str().to_owned()),
                "tags": g.tags,
            })
        })
        .collect();
    let preview = json!({
        "total": total,
        "good": checked.good.len(),
        "shown": good,
        "errors": errors,
        "csv": String::from_utf8_lossy(&form.csv),
    });
    render_list(
        &here,
        &event_id,
        &list,
        StatusCode::OK,
        Some(json!({ "preview": preview })),
    )
    .await
}

pub async fn timeline(
    State(state): State<ConsoleState>,
    who: Signed,
    Path((event_id, guest_id)): Path<(String, String)>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(guest_id) = id(&guest_id) else {
        return not_found(&who);
    };
    let event = attempt!(here.event(&event_id).await);
    let (guest, timeline) = tokio::join!(
        here.get(format!("/api/v1/events/{event_id}/guests/{guest_id}")),
        here.get(format!(
            "/api/v1/events/{event_id}/guests/{guest_id}/timeline"
        )),
    );
    let guest = attempt!(guest);
    let timeline = attempt!(timeline);
    let mut entries = timeline["entries"].as_array().cloned().unwrap_or_default();
    // Each message's delivery story (the newest 20 messages).
    for entry in entries.iter_mut().rev().take(20) {
        let Some(mid) = entry["message_id"].as_str().and_then(id).map(str::to_owned) else {
            continue;
        };
        if let Ok(message) = here
            .get(format!("/api/v1/communication/messages/{mid}"))
            .await
        {
            entry["story"] = message["events"].clone();
            entry["provider_id"] = message["provider_id"].clone();
            entry["error"] = message["last_error"].clone();
        }
    }
    here.page("console/guest.html", crate::ctx! { event, guest, entries })
}

/// One message: what happened to it, step by step (answers "what happened to this guest's
/// message"), with its guest and campaign.
pub async fn message(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(mid): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(mid) = id(&mid) else {
        return not_found(&who);
    };
    let message = attempt!(
        here.get(format!("/api/v1/communication/messages/{mid}"))
            .await
    );
    here.page("console/message.html", crate::ctx! { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_names_addresses_and_tags() {
        let g = json!({ "name": "Grace Hopper", "email": "grace@example.com", "tags": ["VIP"] });
        assert!(matches(&g, "hopper"));
        assert!(matches(&g, "example.com"));
        assert!(matches(&g, "vip"));
        assert!(!matches(&g, "ada"));
        assert_eq!(rsvp_filter(Some("maybe")), Some("maybe"));
        assert_eq!(rsvp_filter(Some("x")), None);
    }
}
