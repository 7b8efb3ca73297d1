//! Attachments of the mails guests send: each is stored by the inbound function as its own
//! object in the inbound bucket, and downloaded through a URL this route signs (valid five
//! minutes, naming the file and its type), so a file of any size SES takes never passes
//! through the API. Whoever may read the conversation may download its attachments.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald::conversations::ThreadMessage;
use herald::ids::{ConversationId, ThreadMessageId};
use herald::inbound::attachment_key;
use serde::Serialize;
use utoipa::ToSchema;

use super::conversations::conversation_of;
use crate::auth::Principal;
use crate::extract::{StrictQuery, path_id};
use crate::problem::responses::{Forbidden, NotFound};
use crate::problem::{ApiError, ApiResult};
use crate::scope::TenantQuery;
use crate::state::AppState;

super::api_routes! {
    (download_attachment),
}

/// How long a download URL works.
const VALID_FOR: Duration = Duration::from_secs(300);

/// Where to download an attachment (also the `Location` of the 303).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentLink {
    /// A signed S3 URL: GET it, without Herald's API key.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// An attachment of a guest's mail: 303 See Other to a signed download URL valid five
/// minutes (the body says the same). 404 for an attachment Herald did not store (SMS and
/// WhatsApp media are listed, not kept).
#[utoipa::path(get, path = "/api/v1/communication/conversations/{id}/messages/{message_id}/attachments/{index}",
    tag = "conversations",
    params(("id" = ConversationId, Path), ("message_id" = ThreadMessageId, Path),
        ("index" = u32, Path, minimum = 0, maximum = 99, description = "The attachment's `index`"),
        TenantQuery),
    responses(
        (status = 303, body = AttachmentLink, description = "the download URL",
            headers(("Location" = String, description = "the signed download URL"))),
        Forbidden, NotFound),
    security(("api_key" = [])))]
pub async fn download_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, message, index)): Path<(String, String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Response> {
    let message: ThreadMessageId = path_id(&message)?;
    let index: u32 = path_id(&index)?;
    let c = conversation_of(&state, &principal, q.tenant_id, &id).await?;
    let link = link(&state, c.tenant_id, c.id, message, index)
        .await?
        .ok_or(ApiError::NotFound)?;
    let location = HeaderValue::from_str(&link.url)
        .map_err(|e| anyhow::anyhow!("a presigned URL that is not a header value: {e}"))?;
    let mut response = (StatusCode::SEE_OTHER, Json(link)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// The download link of an attachment of a conversation's message, if Herald stored it.
async fn link(
    state: &AppState,
    tenant: herald::ids::TenantId,
    conversation: ConversationId,
    message: ThreadMessageId,
    index: u32,
) -> ApiResult<Option<AttachmentLink>> {
    let Some(bucket) = &state.queues.inbound_bucket else {
        return Ok(None);
    };
    let Some(m) = state
        .store
        .thread_message(tenant, conversation, message)
        .await?
    else {
        return Ok(None);
    };
    let Some(attachment) = stored(&m, index) else {
        return Ok(None);
    };
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(VALID_FOR)
        .map_err(anyhow::Error::new)?;
    let signed = state
        .queues
        .s3
        .get_object()
        .bucket(bucket)
        .key(attachment_key(tenant, m.id, attachment.index))
        .response_content_type(&attachment.content_type)
        .response_content_disposition(disposition(&attachment.name))
        .presigned(config)
        .await
        .map_err(|e| anyhow::Error::new(e).context("presigning an attachment's download"))?;
    Ok(Some(AttachmentLink {
        url: signed.uri().to_owned(),
        expires_at: Utc::now() + chrono::Duration::seconds(VALID_FOR.as_secs() as i64),
        name: attachment.name.clone(),
        content_type: attachment.content_type.clone(),
        size: attachment.size,
    }))
}

fn stored(m: &ThreadMessage, index: u32) -> Option<&herald::inbound::Attachment> {
    m.attachments
        .iter()
        .find(|a| a.index == index && a.downloadable)
}

/// `attachment` with the file's name as RFC 6266 gives it: an ASCII fallback and the name
/// itself percent-encoded in UTF-8 (RFC 8187).
fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' if c != '"' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn file_names_are_quoted_and_encoded() {
        assert_eq!(
            disposition("menu.pdf"),
            "attachment; filename=\"menu.pdf\"; filename*=UTF-8''menu.pdf"
        );
        assert_eq!(
            disposition("Zoé \"plan\" 100%.pdf"),
            "attachment; filename=\"Zo_ _plan_ 100_.pdf\"; filename*=UTF-8''Zo%C3%A9%20%22plan%22%20100%25.pdf"
        );
    }
}
