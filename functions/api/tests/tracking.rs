//! Delivery tracking end to end through the local stack: SES events (fixtures in the shapes
//! SES's event-publishing documentation gives) published to Herald's SES event topic, through
//! SNS and SQS to the tracker; message stories, counters, suppression, duplicates,
//! out-of-order arrival and malformed bodies; Twilio and WhatsApp receipts, signed, unsigned
//! and mis-signed; the analytics API; and tenant isolation on every new endpoint.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{SecondsFormat, Utc};
use common::*;
use herald::ids::{MessageId, TenantId};
use serde_json::{Value, json};
use wiremock::{Respond, ResponseTemplate};

const MESSAGES: &str = "/api/v1/communication/messages";
const ANALYTICS: &str = "/api/v1/communication/analytics";
const SUPPRESSIONS: &str = "/api/v1/communication/suppressions";

/// What a fixture's placeholders stand for.
#[derive(Clone)]
struct Vars {
    tenant: String,
    event: String,
    message: String,
    provider: String,
    address: String,
    ses_id: String,
    sent_at: String,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn fixture(name: &str, v: &Vars, at: &str, link: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/ses/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .expect("fixture")
        .replace("{{tenant}}", &v.tenant)
        .replace("{{event}}", &v.event)
        .replace("{{message}}", &v.message)
        .replace("{{provider}}", &v.provider)
        .replace("{{address}}", &v.address)
        .replace("{{ses_id}}", &v.ses_id)
        .replace("{{sent_at}}", &v.sent_at)
        .replace("{{at}}", at)
        .replace("{{link}}", link)
}

async fn send_email(stack: &TestStack, key: &str, event: &str, address: &str) -> String {
    let answer = expect(
        stack,
        Method::POST,
        MESSAGES,
        key,
        Some(
            json!({"event_id": event, "category": "invitation", "channels": ["email"],
            "recipient": {"first_name": "G", "email": address}}),
        ),
        202,
    )
    .await;
    text(&answer, "id")
}

/// Polls a message (bounded, 40 s) until `done` holds.
async fn story(stack: &TestStack, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..160 {
        let answer = stack
            .call(Method::GET, &format!("{MESSAGES}/{id}"), Some(key), None)
            .await;
        if answer.status == 200 {
            last = answer.body;
            if done(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("message {id} did not reach the expected state within 40 s: {last}");
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["delivery_state"] == state
}

fn types(m: &Value) -> Vec<String> {
    m["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Polls the dashboard (bounded) until `done` holds.
async fn dashboard_until(
    stack: &TestStack,
    key: &str,
    query: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..160 {
        last = expect(
            stack,
            Method::GET,
            &format!("{ANALYTICS}/dashboard{query}"),
            key,
            None,
            200,
        )
        .await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the dashboard did not reach the expected counts within 40 s: {last}");
}

#[tokio::test]
async fn ses_events_tell_each_message_s_story_and_count_once() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    complete_wizard(&stack, key, &s.event).await;
    let names = [
        "opens",
        "bounces",
        "complains",
        "rejected",
        "unrendered",
        "delayed",
        "soft",
        "leaves",
    ];
    let addresses: Vec<String> = names.iter().map(|n| unique_email(n)).collect();
    let mut ids = Vec::new();
    for a in &addresses {
        ids.push(send_email(&stack, key, &s.event, a).await);
    }
    // The local stack publishes SES's Send and Delivery events for every email moto accepts.
    let mut vars = Vec::new();
    for (id, address) in ids.iter().zip(&addresses) {
        let m = story(&stack, key, id, state_is("delivered")).await;
        assert_eq!(types(&m), ["sent", "delivered"], "{m}");
        assert_eq!(m["status"], "sent");
        vars.push(Vars {
            tenant: s.t.id.clone(),
            event: s.event.clone(),
            message: id.clone(),
            provider: text(&m, "provider_id"),
            address: address.clone(),
            ses_id: text(&m, "provider_message_id"),
            sent_at: text(&m, "sent_at"),
        });
    }
    let link = "https://acme.example/rsvp?guest=1";
    let t = |secs: i64| {
        (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let (t1, t2, t3, t4) = (t(1), t(2), t(3), t(4));
    let first_open = fixture("open", &vars[0], &t1, link);
    let mut bodies = vec![
        // Opens: one reported twice (SNS delivers at least once), one more, then a click and
        // an open after it.
        first_open.clone(),
        first_open,
        fixture("open", &vars[0], &t2, link),
        fixture("click", &vars[0], &t3, link),
        fixture("open", &vars[0], &t4, link),
        // A hard bounce, then a late Delivery report for the same message.
        fixture("bounce_permanent", &vars[1], &t1, link),
        fixture("delivery", &vars[1], &t4, link),
        fixture("complaint", &vars[2], &t1, link),
        fixture("reject", &vars[3], &t1, link),
        fixture("rendering_failure", &vars[4], &t1, link),
        fixture("delivery_delay", &vars[5], &t1, link),
        fixture("bounce_transient", &vars[6], &t1, link),
        fixture("subscription", &vars[7], &t1, link),
    ];
    // Garbage, an unknown type and mail that is not Herald's: logged, counted, acknowledged.
    bodies.push("this is not JSON".to_owned());
    bodies.push(fixture("open", &vars[0], &t1, link).replace("\"Open\"", "\"Teleport\""));
    bodies.push(fixture("open", &vars[0], &t1, link).replace("herald_tenant", "someone_else"));
    for body in &bodies {
        stack.publish_ses_event(body).await.expect("publish");
    }
    let opened = story(&stack, key, &ids[0], |m| types(m).len() == 6).await;
    assert_eq!(
        opened["delivery_state"], "clicked",
        "an open after a click lowers nothing"
    );
    assert_eq!(
        types(&opened),
        ["sent", "delivered", "opened", "opened", "clicked", "opened"]
    );
    let click = &opened["events"][4];
    assert_eq!(click["link"], link);
    assert!(click.get("identity").is_none(), "{click}");
    let bounced = story(&stack, key, &ids[1], state_is("bounced")).await;
    assert_eq!(
        types(&bounced),
        ["sent", "delivered", "bounced"],
        "{bounced}"
    );
    assert_eq!(bounced["events"][2]["detail"], "Permanent/General (5.1.1)");
    story(&stack, key, &ids[2], state_is("complained")).await;
    story(&stack, key, &ids[3], state_is("rejected")).await;
    story(&stack, key, &ids[4], state_is("rendering_failed")).await;
    let delayed = story(&stack, key, &ids[5], |m| types(m).len() == 3).await;
    assert_eq!(
        delayed["delivery_state"], "delivered",
        "a delay before delivery"
    );
    story(&stack, key, &ids[6], state_is("bounced")).await;
    let left = story(&stack, key, &ids[7], |m| types(m).len() == 3).await;
    assert_eq!(
        left["delivery_state"], "delivered",
        "unsubscribing says nothing of delivery"
    );

    // Hard bounces and complaints are suppressed at once; the next send skips them. A soft
    // bounce is not.
    for (i, source) in [(1, "bounce"), (2, "complaint")] {
        let found = expect(
            &stack,
            Method::GET,
            &format!("{SUPPRESSIONS}?address={}", addresses[i]),
            key,
            None,
            200,
        )
        .await;
        let entry = &items(&found)[0];
        assert_eq!(entry["source"], source, "{found}");
        assert_eq!(entry["message_id"], ids[i].as_str());
        assert!(
            !found.to_string().contains(&addresses[i]),
            "no address in clear"
        );
        let again = send_email(&stack, key, &s.event, &addresses[i]).await;
        let m = story(&stack, key, &again, |m| m["status"] != "queued").await;
        assert_eq!(m["status"], "suppressed", "{m}");
    }
    let soft = expect(
        &stack,
        Method::GET,
        &format!("{SUPPRESSIONS}?address={}", addresses[6]),
        key,
        None,
        200,
    )
    .await;
    assert!(items(&soft).is_empty(), "{soft}");

    // Counted once each, in total, by channel and by provider.
    let q = format!("?event_id={}", s.event);
    let d = dashboard_until(&stack, key, &q, |d| {
        d["totals"]["counts"]["unsubscribed"] == 1 && d["totals"]["counts"]["opened"] == 3
    })
    .await;
    let c = &d["totals"]["counts"];
    assert_eq!(c["sent"], 8, "{d}");
    assert_eq!(
        c["delivered"], 8,
        "the late Delivery is the message's second: {d}"
    );
    assert_eq!(c["opened"], 3, "the duplicate open counts once: {d}");
    assert_eq!(c["opened_unique"], 1);
    assert_eq!(
        (c["clicked"].clone(), c["clicked_unique"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        (c["bounced"].clone(), c["bounced_permanent"].clone()),
        (json!(2), json!(1))
    );
    for m in [
        "complained",
        "rejected",
        "rendering_failed",
        "delayed",
        "unsubscribed",
    ] {
        assert_eq!(c[m], 1, "{m}: {d}");
    }
    assert_eq!(d["totals"]["rates"]["bounce_rate"], 0.25);
    assert_eq!(d["by_channel"]["email"]["counts"]["sent"], 8);
    assert_eq!(
        d["by_provider"][&vars[0].provider]["counts"]["delivered"],
        8
    );
    assert_eq!(d["links"], json!([{"url": link, "clicks": 1}]));
    let tenant_wide = expect(
        &stack,
        Method::GET,
        &format!("{ANALYTICS}/dashboard"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(tenant_wide["totals"]["counts"], d["totals"]["counts"]);
    assert_eq!(
        tenant_wide["links"],
        json!([]),
        "links are per event and campaign"
    );

    // The last hour, by minute: this minute (or the last) holds the sends.
    let rt = expect(
        &stack,
        Method::GET,
        &format!("{ANALYTICS}/realtime"),
        key,
        None,
        200,
    )
    .await;
    let buckets = rt["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 60);
    let sent: i64 = buckets
        .iter()
        .map(|b| b["counts"]["sent"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(sent, 8, "{rt}");
    let insights = expect(
        &stack,
        Method::GET,
        &format!("{ANALYTICS}/insights{q}"),
        key,
        None,
        200,
    )
    .await;
    assert!(insights["insights"].as_array().is_some(), "{insights}");
    assert_eq!(
        insights["checked"].as_array().map(Vec::len),
        Some(3),
        "{insights}"
    );

    // An event about a message not recorded yet is kept, and shows once the record lands.
    let early = MessageId::new();
    let early_vars = Vars {
        message: early.to_string(),
        ..vars[0].clone()
    };
    stack
        .publish_ses_event(&fixture("delivery", &early_vars, &now(), link))
        .await
        .expect("publish");
    let tenant: TenantId = s.t.id.parse().expect("tenant");
    let store = &stack.state.store;
    for _ in 0..160 {
        if store
            .message_with_events(tenant, early)
            .await
            .expect("read")
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut record = serde_json::from_value::<herald::messages::Message>(
        story(&stack, key, &ids[0], |_| true).await,
    )
    .expect("a message");
    record.id = early;
    store
        .finish_messages(tenant, &[record])
        .await
        .expect("record");
    let late = story(&stack, key, &early.to_string(), state_is("delivered")).await;
    assert_eq!(types(&late), ["delivered"]);

    // Nothing reached the tracker's dead-letter queue.
    let dlq = stack.queue_url("TrackerDeadLetterQueue").expect("dlq");
    let attrs = stack
        .state
        .queues
        .sqs
        .get_queue_attributes()
        .queue_url(dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("attributes");
    assert_eq!(
        attrs
            .attributes()
            .and_then(
                |a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            )
            .map(String::as_str),
        Some("0")
    );
}

/// A fake of Twilio's Messages API and the WhatsApp Cloud API's messages endpoint that keeps
/// each request's form or JSON body.
#[derive(Clone, Default)]
struct Fake {
    /// (path, body) of each request.
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Seen = (String, Vec<u8>);

impl Respond for Fake {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        self.seen
            .lock()
            .expect("lock")
            .push((path.clone(), request.body.clone()));
        if path.ends_with("/Messages.json") {
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": format!("SM{}", ulid::Ulid::generate())}))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "messages": [{"id": format!("wamid.{}", ulid::Ulid::generate())}]}))
        }
    }
}

impl Fake {
    fn last(&self, suffix: &str) -> Vec<u8> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|(p, _)| p.ends_with(suffix))
            .map(|(_, b)| b.clone())
            .expect("a request")
    }
}

async fn post_raw(
    stack: &TestStack,
    uri: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", content_type);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    stack
        .send(request.body(Body::from(body)).expect("request"))
        .await
}

#[tokio::test]
async fn twilio_and_whatsapp_receipts_count_only_when_signed() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    // Twilio and WhatsApp stood in for by fakes that check every request against the
    // providers' contracts; the sends are answered by `fake`, which keeps their bodies.
    let fake = Fake::default();
    let twilio_api = ProviderFake::start(Provider::Twilio).await;
    twilio_api.answer("messages-create", fake.clone()).await;
    let whatsapp_api = ProviderFake::start(Provider::Whatsapp).await;
    whatsapp_api.answer("messages-send", fake.clone()).await;
    // The wizard's connection checks: Twilio's account and WhatsApp's phone number.
    twilio_api
        .answer(
            "account-fetch",
            ResponseTemplate::new(200)
                .set_body_json(json!({"sid": TWILIO_SID, "status": "active"})),
        )
        .await;
    whatsapp_api
        .answer(
            "phone-number-get",
            ResponseTemplate::new(200).set_body_json(json!({"id": "1234567890"})),
        )
        .await;
    let twilio_token = "twilio-token-5678";
    let twilio = provider(
        &stack,
        key,
        "",
        twilio_json("Twilio", twilio_token, Some(&twilio_api.uri())),
    )
    .await;
    let app_secret = "meta-app-secret";
    let whatsapp = provider(
        &stack,
        key,
        "",
        json!({"kind": "whatsapp_cloud", "name": "WhatsApp",
            "settings": {"phone_number_id": "1234567890", "base_url": whatsapp_api.uri()},
            "credentials": {"access_token": "wa-token", "app_secret": app_secret, "verify_token": "let-me-in"}}),
    )
    .await;
    template(&stack, key, "", "invitation", "sms", "v1").await;
    template(&stack, key, "", "invitation", "whatsapp", "v1").await;
    common::consent::help_text(&stack, key).await;
    let run = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // Twilio: the sender gives each message a status callback URL naming it.
    let sms = expect(
        &stack,
        Method::POST,
        MESSAGES,
        key,
        Some(
            json!({"event_id": s.event, "category": "invitation", "channels": ["sms"],
            "recipient": {"first_name": "T", "phone": "+447700900201"}}),
        ),
        202,
    )
    .await;
    let sms_id = text(&sms, "id");
    let sent = story(&stack, key, &sms_id, state_is("sent")).await;
    assert_eq!(sent["provider_id"], id(&twilio).as_str(), "{sent}");
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&fake.last("/Messages.json")).expect("form");
    let callback = form
        .iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v.clone())
        .expect("a StatusCallback");
    let uri = callback
        .strip_prefix(herald_local::testing::PUBLIC_URL)
        .expect("the public URL")
        .to_owned();
    assert!(uri.contains(&sms_id), "{uri}");
    let sid = text(&sent, "provider_message_id");
    let fields: Vec<(String, String)> = vec![
        ("MessageSid".into(), sid.clone()),
        ("MessageStatus".into(), "delivered".into()),
        ("AccountSid".into(), TWILIO_SID.into()),
    ];
    let body = serde_urlencoded::to_string(&fields)
        .expect("form")
        .into_bytes();
    let form_type = "application/x-www-form-urlencoded";
    let good = herald::tracking::twilio_signature(twilio_token, &callback, &fields);
    let wrong = herald::tracking::twilio_signature("not-the-token", &callback, &fields);
    assert!(
        uri.contains("&seal="),
        "the sender seals the callback's ids: {uri}"
    );
    for (headers, says) in [
        (vec![], "no X-Twilio-Signature header"),
        (
            vec![("x-twilio-signature", wrong.as_str())],
            "X-Twilio-Signature is not the signature",
        ),
    ] {
        let answer = post_raw(&stack, &uri, form_type, &headers, body.clone()).await;
        assert_problem(&answer, 401, "an unsigned or mis-signed Twilio callback");
        assert_eq!(
            answer.body["type"], "/problems/bad-signature",
            "{}",
            answer.body
        );
        assert!(
            text(&answer.body, "detail").contains(says),
            "says what failed: {}",
            answer.body
        );
        assert!(answer.headers.get("www-authenticate").is_none());
    }
    // Signed by Twilio (the tenant's own token), but about a message Herald never sent: taken
    // and left out (unsealed, and no record of it).
    let made_up = MessageId::new().to_string();
    let unsealed = format!(
        "{}?message={made_up}&event={}",
        uri.split('?').next().unwrap_or_default(),
        s.event
    );
    let full = format!("{}{unsealed}", herald_local::testing::PUBLIC_URL);
    let signed_made_up = herald::tracking::twilio_signature(twilio_token, &full, &fields);
    let answer = post_raw(
        &stack,
        &unsealed,
        form_type,
        &[("x-twilio-signature", &signed_made_up)],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let nothing = stack
        .call(
            Method::GET,
            &format!("{MESSAGES}/{made_up}"),
            Some(key),
            None,
        )
        .await;
    assert_problem(&nothing, 404, "no events for a message Herald never sent");
    // Signed for another URL (the same fields replayed to another message): refused too.
    let elsewhere = uri.replace(&sms_id, &MessageId::new().to_string());
    let answer = post_raw(
        &stack,
        &elsewhere,
        form_type,
        &[("x-twilio-signature", &good)],
        body.clone(),
    )
    .await;
    assert_problem(&answer, 401, "a signature for another URL");
    assert_eq!(
        story(&stack, key, &sms_id, |_| true).await["delivery_state"],
        "sent"
    );
    for _ in 0..2 {
        let answer = post_raw(
            &stack,
            &uri,
            form_type,
            &[("x-twilio-signature", &good)],
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, 204, "{}", answer.body);
    }
    story(&stack, key, &sms_id, state_is("delivered")).await;

    // WhatsApp: each status carries the message in biz_opaque_callback_data.
    let wa = expect(
        &stack,
        Method::POST,
        MESSAGES,
        key,
        Some(
            json!({"event_id": s.event, "category": "invitation", "channels": ["whatsapp"],
            "recipient": {"first_name": "W", "phone": "+447700900202"}}),
        ),
        202,
    )
    .await;
    let wa_id = text(&wa, "id");
    let wa_sent = story(&stack, key, &wa_id, state_is("sent")).await;
    let request: Value = serde_json::from_slice(&fake.last("/messages")).expect("json");
    let data = request["biz_opaque_callback_data"]
        .as_str()
        .expect("callback data");
    assert!(data.contains(&wa_id), "{data}");
    assert!(data.starts_with("herald2|"), "sealed: {data}");
    let webhook = format!("/api/v1/webhooks/whatsapp/{}/{}", s.t.id, id(&whatsapp));
    let status = |state: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [{
                "id": text(&wa_sent, "provider_message_id"), "status": state,
                "timestamp": Utc::now().timestamp().to_string(), "recipient_id": "447700900202",
                "biz_opaque_callback_data": data}]}}]}]})
        .to_string()
        .into_bytes()
    };
    let read = status("read");
    let signed = herald::tracking::whatsapp_signature(app_secret, &read);
    let forged = herald::tracking::whatsapp_signature("guess", &read);
    for (headers, says) in [
        (vec![], "no X-Hub-Signature-256 header"),
        (
            vec![("x-hub-signature-256", forged.as_str())],
            "X-Hub-Signature-256 is not the signature",
        ),
    ] {
        let answer = post_raw(&stack, &webhook, "application/json", &headers, read.clone()).await;
        assert_problem(&answer, 401, "an unsigned or mis-signed WhatsApp webhook");
        assert!(
            text(&answer.body, "detail").contains(says),
            "says what failed: {}",
            answer.body
        );
    }
    assert_eq!(
        story(&stack, key, &wa_id, |_| true).await["delivery_state"],
        "sent"
    );
    let answer = post_raw(
        &stack,
        &webhook,
        "application/json",
        &[("x-hub-signature-256", &signed)],
        read,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let m = story(&stack, key, &wa_id, state_is("opened")).await;
    assert_eq!(types(&m), ["sent", "opened"], "{m}");
    // Meta's verification handshake.
    let verify = |token: &str| {
        format!("{webhook}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
    };
    let ok = stack
        .call(Method::GET, &verify("let-me-in"), None, None)
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!(1158201444));
    let no = stack.call(Method::GET, &verify("nope"), None, None).await;
    assert_problem(&no, 403, "a wrong verify token");
    assert_eq!(
        no.body["type"], "/problems/verification-refused",
        "{}",
        no.body
    );
    assert!(
        text(&no.body, "detail").contains("hub.verify_token does not match"),
        "{}",
        no.body
    );
    let no_mode = stack
        .call(
            Method::GET,
            &verify("let-me-in").replace("hub.mode=subscribe", "hub.mode=unsubscribe"),
            None,
            None,
        )
        .await;
    assert_problem(&no_mode, 403, "another mode");
    assert!(
        text(&no_mode.body, "detail").contains("hub.mode must be subscribe"),
        "{}",
        no_mode.body
    );

    let q = format!("?event_id={}", s.event);
    let d = dashboard_until(&stack, key, &q, |d| d["totals"]["counts"]["sent"] == 2).await;
    assert_eq!(
        d["by_channel"]["sms"]["counts"]["delivered"], 1,
        "the replay counts once: {d}"
    );
    assert_eq!(
        d["by_channel"]["whatsapp"]["counts"]["opened_unique"], 1,
        "{d}"
    );
    assert_eq!(d["by_provider"][id(&twilio)]["counts"]["sent"], 1, "{d}");

    // Another tenant sees none of it.
    let other = tenant(&stack, "Other").await;
    let theirs = [
        format!("{ANALYTICS}/dashboard?event_id={}", s.event),
        format!("{ANALYTICS}/insights?event_id={}", s.event),
        format!("{MESSAGES}/{sms_id}"),
        format!("{ANALYTICS}/dashboard?tenant_id={}", s.t.id),
        format!("{ANALYTICS}/realtime?tenant_id={}", s.t.id),
        format!("{SUPPRESSIONS}?tenant_id={}", s.t.id),
    ];
    for uri in &theirs {
        let answer = stack.call(Method::GET, uri, Some(&other.admin), None).await;
        assert_problem(&answer, 404, uri);
    }
    // A webhook path naming a tenant with another tenant's provider.
    let crossed = format!("/api/v1/webhooks/whatsapp/{}/{}", other.id, id(&whatsapp));
    let answer = post_raw(
        &stack,
        &crossed,
        "application/json",
        &[("x-hub-signature-256", &signed)],
        b"{}".to_vec(),
    )
    .await;
    assert_problem(&answer, 404, "another tenant's provider");
    twilio_api.assert_kept_contract();
    whatsapp_api.assert_kept_contract();
}

#[tokio::test]
async fn the_suppression_list_has_an_api() {
    let stack = stack().await;
    let t = tenant(&stack, "Suppressor").await;
    let key = &t.admin;
    let address = unique_email("manual");
    let created = expect(
        &stack,
        Method::POST,
        SUPPRESSIONS,
        key,
        Some(json!({"address": address, "reason": "asked us by phone"})),
        201,
    )
    .await;
    assert_eq!(created["source"], "manual");
    assert_eq!(created["kind"], "email");
    assert!(!created.to_string().contains(&address));
    let phone = expect(
        &stack,
        Method::POST,
        SUPPRESSIONS,
        key,
        Some(json!({"address": "+447700900333", "reason": "wrong number"})),
        201,
    )
    .await;
    assert_eq!(phone["hint"], "+44•••••33");
    let entry = format!("{SUPPRESSIONS}/{}", text(&created, "id"));
    assert_eq!(
        expect(&stack, Method::GET, &entry, key, None, 200).await,
        created
    );
    let page = expect(
        &stack,
        Method::GET,
        &format!("{SUPPRESSIONS}?limit=1"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&page).len(), 1);
    let next = text(&page, "next_cursor");
    let rest = expect(
        &stack,
        Method::GET,
        &format!("{SUPPRESSIONS}?limit=1&cursor={next}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&rest).len(), 1);
    assert_ne!(items(&page)[0]["id"], items(&rest)[0]["id"]);
    let emails = expect(
        &stack,
        Method::GET,
        &format!("{SUPPRESSIONS}?kind=email"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&emails), [text(&created, "id")]);

    // Bad input: 422 / 400, nothing written.
    for (body, status) in [
        (json!({"address": "not an address", "reason": "x"}), 422),
        (json!({"address": address, "reason": ""}), 422),
        (json!({"address": address}), 422),
        (json!({"address": address, "reason": "x", "extra": 1}), 422),
    ] {
        let answer = stack
            .call(Method::POST, SUPPRESSIONS, Some(key), Some(body.clone()))
            .await;
        assert_problem(&answer, status, &body.to_string());
    }
    for uri in [
        format!("{SUPPRESSIONS}?kind=fax"),
        format!("{SUPPRESSIONS}?limit=0"),
        format!("{SUPPRESSIONS}?cursor=nonsense"),
        format!("{SUPPRESSIONS}/email:nothex"),
    ] {
        let answer = stack.call(Method::GET, &uri, Some(key), None).await;
        assert_problem(&answer, 400, &uri);
    }

    // Another tenant: 404 on every entry; an event manager: 403.
    let other = tenant(&stack, "Other").await;
    for m in [Method::GET, Method::DELETE] {
        let answer = stack
            .call(
                m.clone(),
                &entry,
                Some(&other.admin),
                Some(json!({"reason": "mine now"})),
            )
            .await;
        assert_problem(&answer, 404, "another tenant's suppression");
    }
    let theirs = stack
        .call(
            Method::GET,
            &format!("{SUPPRESSIONS}?address={address}"),
            Some(&other.admin),
            None,
        )
        .await;
    assert!(items(&theirs.body).is_empty());
    let event = event(&stack, key, "", "Gala").await;
    let (_, manager) = event_manager(&stack, key, &t.id, &[&event]).await;
    let answer = stack
        .call(Method::GET, SUPPRESSIONS, Some(&manager), None)
        .await;
    assert_problem(
        &answer,
        403,
        "event managers do not manage the tenant's list",
    );

    // Removed with a reason; gone after.
    let answer = stack
        .call(Method::DELETE, &entry, Some(key), Some(json!({})))
        .await;
    assert_problem(&answer, 422, "a removal needs a reason");
    let answer = stack
        .call(
            Method::DELETE,
            &entry,
            Some(key),
            Some(json!({"reason": "confirmed the address"})),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let answer = stack.call(Method::GET, &entry, Some(key), None).await;
    assert_problem(&answer, 404, "removed");
    let answer = stack
        .call(
            Method::DELETE,
            &entry,
            Some(key),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_problem(&answer, 404, "removed twice");
}

/// 10,000 SES events (Send, Delivery, two opens or an open and a click for each of 2,500
/// messages of four campaigns), in the tracker's batches of 1,000, counting the tracker's
/// DynamoDB requests with an SDK interceptor: at most 0.3 write requests per event.
#[tokio::test]
async fn ten_thousand_events_take_one_write_each_and_at_most_0_3_more() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let stack = stack().await;
    let counter = herald::aws::RequestCounter::default();
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let tracker = herald_tracker::Tracker::new(
        herald::store::Store::new(dynamo, &stack.table),
        stack.state.sealer.clone(),
    );
    let tenant = TenantId::new();
    // The sender seals every message's tags with the tenant's key: so do these.
    let key = stack
        .state
        .links
        .key(tenant)
        .await
        .expect("the tenant's key");
    let event = herald::ids::EventId::new();
    let campaigns: Vec<herald::ids::CampaignId> =
        (0..4).map(|_| herald::ids::CampaignId::new()).collect();
    let provider = herald::ids::ProviderId::new();
    let base = Utc::now() - chrono::Duration::minutes(30);
    let at = |secs: i64| {
        (base + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let mut bodies = Vec::new();
    for m in 0..2_500i64 {
        let ids = herald::tracking::seal::SealedIds {
            tenant,
            message: MessageId::new(),
            event: Some(event),
            campaign: Some(campaigns[(m % 4) as usize]),
            contact: None,
            expires: None,
        };
        let seal = herald::tracking::seal::Seal::of(key.as_ref(), &ids);
        let mail = json!({
            "timestamp": at(m % 600), "source": "events@acme.example",
            "sendingAccountId": "123456789012", "messageId": format!("ses-{m}"),
            "destination": [format!("g{m}@example.com")],
            "tags": {"herald_tenant": [tenant.to_string()], "herald_event": [event.to_string()],
                "herald_campaign": [campaigns[(m % 4) as usize].to_string()],
                "herald_message": [ids.message.to_string()],
                "herald_provider": [provider.to_string()],
                "herald_seal": [seal.to_string()]}});
        bodies.push(json!({"eventType": "Send", "mail": mail, "send": {}}));
        bodies.push(json!({"eventType": "Delivery", "mail": mail,
            "delivery": {"timestamp": at(m % 600 + 1), "recipients": mail["destination"]}}));
        bodies.push(json!({"eventType": "Open", "mail": mail,
            "open": {"timestamp": at(m % 600 + 60), "userAgent": "a"}}));
        bodies.push(if m % 2 == 0 {
            json!({"eventType": "Click", "mail": mail, "click": {"timestamp": at(m % 600 + 70),
                "link": format!("https://acme.example/{}", m % 5)}})
        } else {
            json!({"eventType": "Open", "mail": mail,
                "open": {"timestamp": at(m % 600 + 90), "userAgent": "b"}})
        });
    }
    // SQS does not keep order: interleave messages across batches.
    bodies.sort_by_key(|b| herald::digest::sha256_hex(b.to_string()));
    assert_eq!(bodies.len(), 10_000);
    for (i, chunk) in bodies.chunks(1_000).enumerate() {
        let mut batch = SqsEvent::default();
        batch.records = chunk
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let mut r = SqsMessage::default();
                r.message_id = Some(format!("{i}-{j}"));
                r.body =
                    Some(json!({"Type": "Notification", "Message": b.to_string()}).to_string());
                r
            })
            .collect();
        let answer = tracker.handle(batch).await;
        assert!(answer.batch_item_failures.is_empty(), "batch {i} failed");
    }
    let by_op = counter.by_operation();
    // Vouching for sealed events reads nothing per event: the tenant's key once per process.
    let reads: usize = ["BatchGetItem", "GetItem", "Query"]
        .iter()
        .map(|op| by_op.get(*op).copied().unwrap_or(0))
        .sum();
    assert!(
        reads as f64 / 10_000.0 <= 0.02,
        "{reads} read requests for 10,000 events"
    );
    assert_eq!(
        by_op.get("GetItem").copied().unwrap_or(0),
        1,
        "the key, once"
    );
    let writes: usize = ["BatchWriteItem", "UpdateItem", "PutItem", "DeleteItem"]
        .iter()
        .map(|op| by_op.get(*op).copied().unwrap_or(0))
        .sum();
    let per_event = writes as f64 / 10_000.0;
    // Each new event is its own conditional PutItem (BatchWriteItem takes no conditions; a
    // batched item bills the same write unit); counters and suppressions come on top.
    let puts = by_op.get("PutItem").copied().unwrap_or(0);
    let others = (writes - puts) as f64 / 10_000.0;
    println!(
        "10,000 events: {writes} DynamoDB write requests ({per_event:.3} per event: {puts} conditional PutItem of the events, {others:.3} per event besides); all requests: {by_op:?}"
    );
    assert_eq!(puts, 10_000, "one conditional write per event, no more");
    assert!(others <= 0.3, "{others:.3} other write requests per event");
    assert_eq!(
        tracker
            .counters
            .recorded
            .load(std::sync::atomic::Ordering::Relaxed),
        10_000
    );
    let store = &stack.state.store;
    let d = store
        .counters(&herald::tracking::Scope::Event(tenant, event))
        .await
        .expect("counters");
    assert_eq!(d.get("n#sent"), 2_500);
    assert_eq!(d.get("n#delivered"), 2_500);
    assert_eq!(d.get("n#opened"), 3_750);
    assert_eq!(d.get("n#opened_unique"), 2_500);
    assert_eq!(d.get("n#clicked_unique"), 1_250);
}
