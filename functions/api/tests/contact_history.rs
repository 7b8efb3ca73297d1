//! A contact's whole history across channels through the local stack: the invitation Herald
//! sent them (by reference: category, subject, delivery story, no body) and their
//! conversation (their emailed reply, Herald's automatic answer, a person's answer), newest
//! first, filtered by channel and paged without losing or repeating an entry.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::consent::{contact_of, invited, ready, sent_mail};
use common::conversations::conversations;
use common::*;
use herald_local::testing::TestStack;
use serde_json::{Value, json};

fn history_uri(contact: &str, query: &str) -> String {
    format!("/api/v1/communication/contacts/{contact}/history{query}")
}

/// Polls (bounded) the history until `done` says it is complete.
async fn history_when(
    stack: &TestStack,
    key: &str,
    contact: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..120 {
        let page = expect(
            stack,
            Method::GET,
            &history_uri(contact, ""),
            key,
            None,
            200,
        )
        .await;
        let found = items(&page);
        if done(&found) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the history of {contact} did not settle in 30 s");
}

#[tokio::test]
async fn a_contacts_history_holds_messages_by_reference_and_conversations_with_text() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/conversation-settings",
        key,
        Some(json!({"version": 0,
            "rules": [{"id": "thanks", "words": ["merci"], "reply": "Thank you {{ guest.first_name }}!"}]})),
        200,
    )
    .await;
    let (guest, reply_to) = invited(&stack, key, &s.event, "Zoé").await;
    let invitation = &sent_mail(&guest).await[0];
    let contact = contact_of(&stack, key, &s.event, &guest).await;
    let raw = format!(
        "From: Zoé <{guest}>\r\nTo: {reply_to}\r\nSubject: Re: Gala\r\nMessage-ID: <{}@example.com>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Merci ! We will be there.\r\n",
        ulid::Ulid::generate()
    );
    stack
        .inbound()
        .unwrap()
        .mail(
            raw.as_bytes(),
            std::slice::from_ref(&reply_to),
            Default::default(),
        )
        .await
        .unwrap();
    // The message, its delivery story told, and the reply with Herald's answer.
    let entries = history_when(&stack, key, &contact, |e| {
        e.len() >= 3
            && e.iter().any(|x| {
                x["kind"] == "message"
                    && x["message"]["story"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|step| step["type"] == "delivered"))
            })
            && e.iter()
                .all(|x| x["conversation_message"]["delivery"] != "queued")
    })
    .await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let sent = entries.iter().find(|e| e["kind"] == "message").unwrap();
    assert_eq!(sent["channel"], "email");
    assert_eq!(sent["event_id"], json!(s.event));
    assert_eq!(sent["message"]["category"], "invitation");
    assert_eq!(sent["message"]["subject"], invitation["subject"], "{sent}");
    assert!(sent["message"].get("text").is_none() && sent["message"].get("html").is_none());
    let said: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "conversation")
        .map(|e| {
            (
                e["conversation_message"]["direction"].as_str().unwrap(),
                e["conversation_message"]["written"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("outbound", "Thank you Zoé!"),
            ("inbound", "Merci ! We will be there.")
        ],
        "newest first"
    );
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    // A person answers: the newest entry.
    let conversation = entries[0]["conversation_id"].as_str().unwrap().to_owned();
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/communication/conversations/{conversation}/messages"),
        key,
        Some(json!({"text": "See you at the gala."})),
        202,
    )
    .await;
    let entries = history_when(&stack, key, &contact, |e| {
        e.len() >= 4 && e[0]["conversation_message"]["delivery"] == "sent"
    })
    .await;
    let answer = &entries[0]["conversation_message"];
    assert_eq!(answer["written"], "See you at the gala.");
    assert_eq!(
        answer["subject"], "Re: Gala",
        "answers the thread's subject"
    );

    // Paged one at a time: every entry once, in the same order.
    let mut walked = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..10 {
        let query = match &before {
            Some(b) => format!("?limit=1&before={}", b.replace('#', "%23")),
            None => "?limit=1".to_owned(),
        };
        let page = expect(
            &stack,
            Method::GET,
            &history_uri(&contact, &query),
            key,
            None,
            200,
        )
        .await;
        walked.extend(items(&page));
        match page["next_before"].as_str() {
            Some(b) => before = Some(b.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, entries);
    let sms_only = items(
        &expect(
            &stack,
            Method::GET,
            &history_uri(&contact, "?channel=sms"),
            key,
            None,
            200,
        )
        .await,
    );
    assert!(sms_only.is_empty(), "{sms_only:?}");

    // Bad input and other people's contacts.
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?before=yesterday", "before"),
        ("?channel=pigeon", "channel"),
        ("?colour=red", "colour"),
    ] {
        let answer = stack
            .call(Method::GET, &history_uri(&contact, query), Some(key), None)
            .await;
        assert_problem(&answer, 400, query);
        assert!(
            answer.body.to_string().contains(field),
            "{query}: {}",
            answer.body
        );
    }
    let answer = stack
        .call(
            Method::GET,
            &history_uri("con_01HZ0000000000000000000000", ""),
            Some(key),
            None,
        )
        .await;
    assert_problem(&answer, 404, "an unknown contact");
    let other = tenant(&stack, "Other").await;
    let answer = stack
        .call(
            Method::GET,
            &history_uri(&contact, ""),
            Some(&other.admin),
            None,
        )
        .await;
    assert_problem(&answer, 404, "another tenant's contact");
    let (_, manager) = event_manager(&stack, key, &s.t.id, &[&s.event]).await;
    let answer = stack
        .call(
            Method::GET,
            &history_uri(&contact, ""),
            Some(&manager),
            None,
        )
        .await;
    assert_problem(&answer, 403, "an event manager");
}

#[tokio::test]
async fn a_sender_who_becomes_a_contact_brings_their_earlier_conversation_into_history_export_and_erasure()
 {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let number = two_way_number(&stack, key).await;
    let phone = format!("+4479{:08}", rand_u32() % 100_000_000);
    // A stranger texts first: a conversation with an unknown sender.
    stack
        .inbound()
        .unwrap()
        .sms(&phone, &number, "Is the gala open to the public?", None)
        .await
        .unwrap();
    let stranger = conversations(&stack, key, "?q=public", 1).await;
    assert_eq!(stranger[0]["address"], json!(phone), "{stranger:?}");
    assert!(stranger[0].get("contact_id").is_none());
    // Then they are invited: a contact with that number.
    let email = unique_email("stranger");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "Sam", "email": email, "phone": phone})],
    )
    .await;
    let contact = contact_of(&stack, key, &s.event, &email).await;
    let history = history_when(&stack, key, &contact, |e| !e.is_empty()).await;
    assert_eq!(
        history[0]["conversation_message"]["written"],
        "Is the gala open to the public?"
    );
    let export = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/communication/contacts/{contact}/export"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(export["conversations"].as_array().map(Vec::len), Some(1));
    let erased = expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/contacts/{contact}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(erased["conversations"], 1);
    assert_table_lacks(&stack, "open to the public").await;
    let left = items(
        &expect(
            &stack,
            Method::GET,
            "/api/v1/communication/conversations",
            key,
            None,
            200,
        )
        .await,
    );
    assert!(left.is_empty(), "{left:?}");
}
