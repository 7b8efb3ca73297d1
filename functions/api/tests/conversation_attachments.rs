//! Attachments of guests' mails through the local stack: the inbound function stores each one
//! beside the raw mail, the API answers a download with a 303 to a signed URL that works
//! without Herald's key and names the file, nothing else is downloadable, and erasing the
//! contact deletes the mail and its attachments from the bucket.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::consent::{invited, ready};
use common::conversations::{bucket_keys, conversations};
use common::*;
use serde_json::Value;

const PDF: &[u8] = b"%PDF-1.4\n% a dietary form\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn with_attachment(from: &str, to: &str) -> String {
    use base64::Engine as _;
    let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
    format!(
        "From: Guest <{from}>\r\nTo: {to}\r\nSubject: Re: Gala\r\nMessage-ID: <{}@example.com>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nMy dietary form is attached.\r\n--b\r\n\
Content-Type: application/pdf; name=\"régime.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9gime.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n",
        ulid::Ulid::generate()
    )
}

#[tokio::test]
async fn a_mails_attachment_is_downloaded_through_a_signed_url_and_erased_with_the_contact() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let (guest, reply_to) = invited(&stack, key, &s.event, "Eve").await;
    stack
        .inbound()
        .unwrap()
        .mail(
            with_attachment(&guest, &reply_to).as_bytes(),
            std::slice::from_ref(&reply_to),
            Default::default(),
        )
        .await
        .unwrap();
    let found = conversations(&stack, key, "?q=dietary", 1).await;
    let conversation = text(&found[0], "id");
    let contact = text(&found[0], "contact_id");
    let view = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/conversations/{conversation}"),
        key,
        None,
        200,
    )
    .await;
    let message = &view["messages"][0];
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["name"], "régime.pdf", "{message}");
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["size"], PDF.len());
    assert_eq!(attachment["downloadable"], true);
    let message_id = text(message, "id");
    let download = format!(
        "/api/v1/communication/conversations/{conversation}/messages/{message_id}/attachments/0"
    );

    // 303 to a signed URL, which needs no key and names the file.
    let answer = stack.call(Method::GET, &download, Some(key), None).await;
    assert_eq!(answer.status, 303, "{:?}", answer.body);
    let location = answer.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(answer.body["url"], Value::from(location.clone()));
    assert_eq!(answer.body["name"], "régime.pdf");
    let file = reqwest::get(&location).await.expect("S3 answers");
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains("filename*=UTF-8''r%C3%A9gime.pdf"),
        "{disposition}"
    );
    assert_eq!(file.bytes().await.unwrap().as_ref(), PDF);
    // Signed (SigV4 in the query) for five minutes; moto does not check signatures, S3 does.
    assert!(
        location.contains("X-Amz-Expires=300") && location.contains("X-Amz-Signature="),
        "{location}"
    );

    // Nothing else downloads: another index, another message, another tenant, no key.
    for uri in [
        format!(
            "/api/v1/communication/conversations/{conversation}/messages/{message_id}/attachments/1"
        ),
        format!(
            "/api/v1/communication/conversations/{conversation}/messages/cvm_01HZ0000000000000000000000/attachments/0"
        ),
        format!(
            "/api/v1/communication/conversations/{conversation}/messages/{message_id}/attachments/x"
        ),
        format!(
            "/api/v1/communication/conversations/{conversation}/messages/not-an-id/attachments/0"
        ),
    ] {
        let answer = stack.call(Method::GET, &uri, Some(key), None).await;
        assert_problem(&answer, 404, &uri);
    }
    let other = tenant(&stack, "Other").await;
    let answer = stack
        .call(Method::GET, &download, Some(&other.admin), None)
        .await;
    assert_problem(&answer, 404, "another tenant's attachment");
    let answer = stack.call(Method::GET, &download, None, None).await;
    assert_problem(&answer, 401, "no key");

    // Erasure: the mail and its attachment leave the bucket.
    let keys = bucket_keys(&stack).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("attachments/")),
        "{keys:?}"
    );
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/contacts/{contact}"),
        key,
        None,
        200,
    )
    .await;
    for _ in 0..120 {
        if bucket_keys(&stack).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(bucket_keys(&stack).await, Vec::<String>::new());
}
