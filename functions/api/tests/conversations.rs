//! Two-way messaging end to end through the local stack: mail and SMS delivered by the inbound
//! simulator exactly as SES receiving and End User Messaging would (raw MIME in S3 and SES's
//! `Received` notification; the two-way SMS payload), through the inbound queue and function,
//! into conversations the API lists, searches and answers.

mod common;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::Method;
use common::consent::{invited, ready, sent_mail};
use common::conversations::{CONVERSATIONS, bucket_keys, conversations, thread};
use common::*;
use serde_json::json;

fn reply_mail(from: &str, to: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: Guest <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.com>\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
        ulid::Ulid::generate()
    )
}

#[tokio::test]
async fn an_emailed_reply_threads_to_its_message_is_searchable_and_answered_once_per_day() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/conversation-settings",
        key,
        Some(json!({"version": 0, "help_text": "Questions? events@acme.example",
            "rules": [{"id": "parking", "words": ["parking"], "reply": "Hello {{ guest.first_name }}, parking is at gate B.", "queue": "logistics"},
                      {"id": "refund", "words": ["refund"], "priority": "high"}]})),
        200,
    )
    .await;
    let (guest, reply_to) = invited(&stack, key, &s.event, "Zoé").await;
    let inbound = stack.inbound().unwrap();
    // The guest's client drops In-Reply-To: the address alone threads the reply.
    let raw = reply_mail(
        &guest,
        &reply_to,
        "Re: Gala",
        "",
        "Nous viendrons au café ! Is there parking?\r\n\r\nOn Tue, Acme wrote:\r\n> You are invited\r\n",
    );
    inbound
        .mail(
            raw.as_bytes(),
            std::slice::from_ref(&reply_to),
            Default::default(),
        )
        .await
        .unwrap();
    // Searched without the accent, in upper case.
    let found = conversations(&stack, key, "?q=CAFE", 1).await;
    let c = &found[0];
    assert_eq!(c["event_id"], s.event);
    assert_eq!(
        c["contact_id"],
        contact_of(&stack, key, &s.event, &guest).await
    );
    assert_eq!(
        (c["queue"].as_str(), c["status"].as_str()),
        (Some("logistics"), Some("open"))
    );
    assert!(c.get("words").is_none(), "search words are never shown");
    let id = text(c, "id");
    let messages = thread(&stack, key, &id, 2).await;
    let (answer, question) = (&messages[0], &messages[1]);
    assert_eq!(
        question["written"],
        "Nous viendrons au café ! Is there parking?"
    );
    assert!(
        question["text"]
            .as_str()
            .unwrap()
            .contains("> You are invited"),
        "the original is kept"
    );
    assert!(
        question["message_id"].is_string(),
        "it names the invitation it answers"
    );
    assert_eq!(answer["auto"], "auto_reply:parking");
    assert_eq!(answer["delivery"], "sent", "{answer}");
    assert_eq!(answer["text"], "Hello Zoé, parking is at gate B.");
    let answered = sent_mail(&guest).await;
    assert_eq!(answered.len(), 2, "the invitation and one automatic reply");
    assert_eq!(
        answered.last().unwrap()["headers"]["Auto-Submitted"],
        "auto-replied"
    );
    assert!(
        answered.last().unwrap()["reply_to"][0]
            .as_str()
            .is_some_and(|r| r.ends_with("@reply.herald.test")),
        "the automatic reply threads back too"
    );
    // Once per rule per conversation per day; an automatic mail gets no answer at all.
    let again = reply_mail(
        &guest,
        &reply_to,
        "Re: Gala",
        "",
        "parking again? and a refund",
    );
    inbound
        .mail(
            again.as_bytes(),
            std::slice::from_ref(&reply_to),
            Default::default(),
        )
        .await
        .unwrap();
    let away = reply_mail(
        &guest,
        &reply_to,
        "Out of office",
        "Auto-Submitted: auto-replied\r\n",
        "I am away; parking",
    );
    inbound
        .mail(
            away.as_bytes(),
            std::slice::from_ref(&reply_to),
            Default::default(),
        )
        .await
        .unwrap();
    let messages = thread(&stack, key, &id, 4).await;
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(messages[0]["automatic"], "auto-submitted");
    let c = &conversations(
        &stack,
        key,
        &format!("?event_id={}&priority=high", s.event),
        1,
    )
    .await[0];
    assert_eq!(c["id"], id);
    assert_eq!(
        sent_mail(&guest).await.len(),
        2,
        "no second automatic reply"
    );
    // A person answers: by email, recorded with the key, waiting for the guest.
    let reply = expect(
        &stack,
        Method::POST,
        &format!("{CONVERSATIONS}/{id}/messages"),
        key,
        Some(json!({"text": "See you there!"})),
        202,
    )
    .await;
    assert_eq!(
        (reply["channel"].as_str(), reply["delivery"].as_str()),
        (Some("email"), Some("queued"))
    );
    let messages = thread(&stack, key, &id, 5).await;
    assert_eq!(messages[0]["delivery"], "sent", "{:?}", messages[0]);
    assert!(messages[0]["sent_by"].is_string());
    let person = sent_mail(&guest).await;
    assert_eq!(person.len(), 3);
    assert!(
        person[2]["reply_to"][0]
            .as_str()
            .unwrap()
            .ends_with("@reply.herald.test")
    );
    let view = expect(
        &stack,
        Method::GET,
        &format!("{CONVERSATIONS}/{id}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(view["conversation"]["status"], "waiting");
}

#[tokio::test]
async fn forged_replies_virus_and_second_deliveries_write_nothing_twice() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let (guest, reply_to) = invited(&stack, key, &s.event, "forger").await;
    let function = stack.inbound_function().unwrap();
    let sim = stack.inbound().unwrap();
    // An altered token: refused before any tenant data is read by it.
    let mut forged = reply_to.clone();
    let flip = if forged.starts_with('a') { "b" } else { "a" };
    forged.replace_range(0..1, flip);
    let before = items(&expect(&stack, Method::GET, CONVERSATIONS, key, None, 200).await).len();
    let raw = reply_mail(&guest, &forged, "Re", "", "hello");
    sim.mail(
        raw.as_bytes(),
        std::slice::from_ref(&forged),
        Default::default(),
    )
    .await
    .unwrap();
    // A virus: recorded as dropped, without text.
    let infected = reply_mail(&guest, &reply_to, "Re", "", "EICAR");
    sim.mail(
        infected.as_bytes(),
        std::slice::from_ref(&reply_to),
        herald_local::inbound_sim::Verdicts {
            spam: false,
            virus: true,
        },
    )
    .await
    .unwrap();
    let c = conversations(&stack, key, "", before + 1).await;
    assert_eq!(c.len(), before + 1, "the forged reply landed nowhere");
    let messages = thread(&stack, key, &text(&c[0], "id"), 1).await;
    assert_eq!(messages[0]["actions"], json!(["dropped:virus"]));
    assert_eq!(messages[0]["text"], "");
    // The same SMS record handed to the function twice (SQS delivers at least once): one
    // message in the thread. An SMS to a number nobody claimed is counted and skipped.
    let number = two_way_number(&stack, key).await;
    let payload = json!({"originationNumber": "+15005550006", "destinationNumber": number,
        "messageKeyword": "HI", "messageBody": "Hi, who is this?", "inboundMessageId": "in-1",
        "previousPublishedMessageId": ""});
    let mut record = SqsMessage::default();
    record.message_id = Some("r1".into());
    record.body = Some(payload.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![record.clone(), record.clone()];
    let answer = function.handle(event.clone()).await;
    assert!(answer.batch_item_failures.is_empty());
    let answer = function.handle(event).await;
    assert!(answer.batch_item_failures.is_empty());
    let unknown = conversations(&stack, key, "?channel=sms", 1).await;
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0]["contact_id"].is_null(),
        "an unknown sender gets a conversation of its own"
    );
    assert_eq!(
        unknown[0]["message_count"], 1,
        "one message however often it came"
    );
    let mut nobody = SqsMessage::default();
    nobody.body = Some(
        json!({"originationNumber": "+15005550006", "destinationNumber": "+15005559999",
        "messageBody": "STOP", "inboundMessageId": "in-2"})
        .to_string(),
    );
    let mut malformed = SqsMessage::default();
    malformed.body = Some("{not json".into());
    let mut event = SqsEvent::default();
    event.records = vec![nobody, malformed];
    assert!(function.handle(event).await.batch_item_failures.is_empty());
    let counters = &function.counters;
    assert_eq!(
        counters
            .unclaimed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        counters
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(
        counters
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test]
async fn sms_stop_help_start_and_yes_by_reply() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let number = two_way_number(&stack, key).await;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/conversation-settings",
        key,
        Some(json!({"version": 0, "help_text": "Gala help: events@acme.example"})),
        200,
    )
    .await;
    let phone = format!("+4477{:08}", rand_u32() % 100_000_000);
    let email = unique_email("texter");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "T", "email": email, "phone": phone})],
    )
    .await;
    let contact = contact_of(&stack, key, &s.event, &email).await;
    let sim = stack.inbound().unwrap();
    let sms_before = Outbox::read().await.sms_to(&phone);
    sim.sms(&phone, &number, "Stop.", None).await.unwrap();
    let c = conversations(&stack, key, &format!("?contact_id={contact}"), 1).await;
    let id = text(&c[0], "id");
    let messages = thread(&stack, key, &id, 2).await;
    assert_eq!(
        messages[1]["actions"],
        json!(["keyword:stop", "opted_out:sms"])
    );
    assert!(
        messages[0]["text"]
            .as_str()
            .unwrap()
            .contains("Reply START"),
        "{messages:?}"
    );
    assert_eq!(messages[0]["delivery"], "sent");
    let ledger = common::consent::ledger(&stack, key, &contact).await;
    assert_eq!(ledger.last().unwrap()["source"], "keyword");
    assert_eq!(
        Outbox::read().await.sms_to(&phone),
        sms_before + 1,
        "exactly one confirmation"
    );
    // A person may not text a guest who opted out; email stays open.
    let refused = stack
        .call(
            Method::POST,
            &format!("{CONVERSATIONS}/{id}/messages"),
            Some(key),
            Some(json!({"text": "Are you sure?", "channel": "sms"})),
        )
        .await;
    assert_problem(&refused, 409, "a reply on an opted-out channel");
    // HELP answers with the tenant's text; START opts back in; "yes" answers the RSVP.
    sim.sms(&phone, &number, "help", None).await.unwrap();
    let messages = thread(&stack, key, &id, 4).await;
    assert_eq!(
        messages[0]["text"],
        "Gala: Gala help: events@acme.example Reply STOP to opt out."
    );
    sim.sms(&phone, &number, "START", None).await.unwrap();
    let messages = thread(&stack, key, &id, 6).await;
    assert_eq!(
        messages[1]["actions"],
        json!(["keyword:start", "opted_in:sms"])
    );
    sim.sms(&phone, &number, "Yes!", None).await.unwrap();
    thread(&stack, key, &id, 7).await;
    let guest = guest_of(&stack, key, &s.event, &email).await;
    assert_eq!(guest["rsvp"]["status"], "accepted", "{guest}");
    assert_eq!(guest["rsvp"]["source"], "reply");
    // "please stop texting me" is not a keyword: flagged for a person, consent untouched.
    sim.sms(&phone, &number, "please stop texting me", None)
        .await
        .unwrap();
    let messages = thread(&stack, key, &id, 8).await;
    assert_eq!(messages[0]["actions"], json!(["flagged:opt_out_words"]));
    let view = expect(
        &stack,
        Method::GET,
        &format!("{CONVERSATIONS}/{id}"),
        key,
        None,
        200,
    )
    .await;
    assert!(
        view["conversation"]["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("opt_out_words"))
    );
}

#[tokio::test]
async fn conversation_routes_refuse_bad_input_and_other_tenants() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let other = tenant(&stack, "Other").await;
    for (query, what) in [
        ("?limit=0", "limit"),
        ("?cursor=nope", "cursor"),
        ("?queue=Bad.Queue", "queue"),
        (
            "?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
            "since after until",
        ),
        ("?status=maybe", "status"),
        (&format!("?q={}", "a+".repeat(9)) as &str, "too many words"),
    ] {
        let answer = stack
            .call(
                Method::GET,
                &format!("{CONVERSATIONS}{query}"),
                Some(&s.t.admin),
                None,
            )
            .await;
        assert_problem(&answer, 400, what);
    }
    let bad = stack
        .call(
            Method::PUT,
            "/api/v1/communication/conversation-settings",
            Some(&s.t.admin),
            Some(json!({"version": 0, "rules": [{"id": "Bad Id", "reply": "{{ unclosed"}]})),
        )
        .await;
    assert_problem(&bad, 422, "bad rules");
    let unknown = format!("{CONVERSATIONS}/cnv_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A");
    assert_problem(
        &stack
            .call(Method::GET, &unknown, Some(&other.admin), None)
            .await,
        404,
        "unknown",
    );
}

/// What one inbound message and one search cost in DynamoDB requests (counts that do not
/// depend on the machine; BENCHMARKS.md prices them).
#[tokio::test]
async fn dynamodb_requests_per_inbound_message_and_per_search() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let number = two_way_number(&stack, key).await;
    let phone = format!("+4477{:08}", rand_u32() % 100_000_000);
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "C", "phone": phone})],
    )
    .await;
    // The function with a counted DynamoDB client.
    let counter = herald::aws::RequestCounter::default();
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let mut function = stack.inbound_function().unwrap();
    let store = herald::store::Store::new(dynamo, &stack.table);
    function.store = store.clone();
    function.recorder.store = store.clone();
    function.links = herald::consent::LinkKeys::new(store, function.sealer.clone());
    let record = |id: &str, body: &str| {
        let mut r = SqsMessage::default();
        r.message_id = Some(id.into());
        r.body = Some(
            json!({"originationNumber": phone, "destinationNumber": number,
            "messageKeyword": "X", "messageBody": body, "inboundMessageId": id,
            "previousPublishedMessageId": ""})
            .to_string(),
        );
        let mut event = SqsEvent::default();
        event.records = vec![r];
        event
    };
    // The first message opens the conversation; the second is the steady state.
    assert!(
        function
            .handle(record("m1", "Hello, what time does it start?"))
            .await
            .batch_item_failures
            .is_empty()
    );
    counter.reset();
    assert!(
        function
            .handle(record("m2", "And is there a cloakroom?"))
            .await
            .batch_item_failures
            .is_empty()
    );
    let per_message = counter.count();
    println!(
        "DYNAMODB per inbound message: {per_message} {:?}",
        counter.by_operation()
    );
    assert!(
        per_message <= 11,
        "{per_message} requests: {:?}",
        counter.by_operation()
    );
    assert_eq!(
        counter.by_operation().get("TransactWriteItems"),
        Some(&1),
        "one write"
    );
    stack.dynamo_requests.reset();
    let found = expect(
        &stack,
        Method::GET,
        &format!("{CONVERSATIONS}?q=cloakroom"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&found).len(), 1);
    let per_search = stack.dynamo_requests.count();
    println!(
        "DYNAMODB per search: {per_search} {:?}",
        stack.dynamo_requests.by_operation()
    );
    // The key, the rate bucket, one Query.
    assert!(
        per_search <= 3,
        "{per_search}: {:?}",
        stack.dynamo_requests.by_operation()
    );
}

#[tokio::test]
async fn export_holds_the_conversation_and_erasure_leaves_nothing_of_it() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let (guest, reply_to) = invited(&stack, key, &s.event, "Eve").await;
    let secret = "My passport number is X1234567";
    let raw = reply_mail(&guest, &reply_to, "Re: Gala", "", secret);
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
    let c = conversations(&stack, key, "?q=passport", 1).await;
    let contact = text(&c[0], "contact_id");
    let contacts = "/api/v1/communication/contacts";
    let export = expect(
        &stack,
        Method::POST,
        &format!("{contacts}/{contact}/export"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(
        export["conversations"][0]["messages"][0]["written"], secret,
        "{export}"
    );
    assert!(
        export["conversations"][0]["messages"][0]
            .get("raw_object")
            .is_none()
    );
    assert_eq!(bucket_keys(&stack).await.len(), 1, "the raw mail is in S3");
    let erased = expect(
        &stack,
        Method::DELETE,
        &format!("{contacts}/{contact}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(erased["conversations"], 1);
    for _ in 0..120 {
        if bucket_keys(&stack).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        bucket_keys(&stack).await.is_empty(),
        "the raw mail is deleted"
    );
    assert_table_lacks(&stack, "passport").await;
    assert_table_lacks(&stack, &guest).await;
    let none = expect(&stack, Method::GET, CONVERSATIONS, key, None, 200).await;
    assert!(items(&none).is_empty(), "{none}");
}
