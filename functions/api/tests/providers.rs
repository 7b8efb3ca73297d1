//! Provider credentials are sealed (never stored or shown in plaintext) and connection tests call
//! the provider: SNS and SES on the emulator, the HTTP providers on a fake server that checks
//! every call against the provider's published contract.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};
use wiremock::{Respond, ResponseTemplate};

const SENDGRID_KEY: &str = "SG.abcdefghijklmnop";
const BREVO_KEY: &str = "xkeysib-good-1234567890";
const TWILIO_TOKEN: &str = "twilio-token-1234";
/// base64 of `{TWILIO_SID}:{TWILIO_TOKEN}`.
const TWILIO_BASIC: &str =
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tdG9rZW4tMTIzNA==";
const WHATSAPP_TOKEN: &str = "EAAG-good-token";
const PHONE_NUMBER_ID: &str = "1098765432";

/// A body for each HTTP kind, pointed at `base`, with `secret` as its credential.
fn http_provider(kind: &str, base: &str, secret: &str) -> Value {
    match kind {
        "sendgrid" | "brevo" => json!({"kind": kind, "name": kind,
            "settings": {"from_address": "events@acme.example", "base_url": base},
            "credentials": {"api_key": secret}}),
        "twilio" => twilio_json("twilio", secret, Some(base)),
        _ => json!({"kind": "whatsapp_cloud", "name": "wa",
            "settings": {"phone_number_id": PHONE_NUMBER_ID, "base_url": base},
            "credentials": {"access_token": secret}}),
    }
}

async fn test_provider(stack: &TestStack, key: &str, id: &str) -> Value {
    expect(
        stack,
        Method::POST,
        &format!("/api/v1/communication/providers/{id}/test"),
        key,
        None,
        200,
    )
    .await
}

#[tokio::test]
async fn credentials_are_sealed_and_shown_only_as_hints() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let base = "https://api.example.com";
    let mut created = Vec::new();
    for (kind, secret, credential, hint) in [
        ("sendgrid", SENDGRID_KEY, "api_key", "••••mnop"),
        ("brevo", BREVO_KEY, "api_key", "••••7890"),
        ("twilio", TWILIO_TOKEN, "auth_token", "••••1234"),
        ("whatsapp_cloud", WHATSAPP_TOKEN, "access_token", "••••ken"),
    ] {
        let body = provider(&stack, &t.admin, "", http_provider(kind, base, secret)).await;
        assert_eq!(body["credentials"], json!({ credential: hint }), "{kind}");
        assert!(
            !body.to_string().contains(secret),
            "{kind}: the create answer shows the secret"
        );
        created.push((id(&body), secret, credential, hint));
    }
    let uri = |id: &str| format!("/api/v1/communication/providers/{id}");
    // Reads, lists, effective views and the configuration show hints only.
    let mut answers = vec![
        expect(
            &stack,
            Method::GET,
            "/api/v1/communication/providers",
            &t.admin,
            None,
            200,
        )
        .await,
        expect(
            &stack,
            Method::GET,
            &format!("/api/v1/communication/providers/effective?event_id={evt}"),
            &t.admin,
            None,
            200,
        )
        .await,
        expect(
            &stack,
            Method::GET,
            &format!("/api/v1/events/{evt}/configuration"),
            &t.admin,
            None,
            200,
        )
        .await,
    ];
    for (id, _, credential, hint) in &created {
        let got = expect(&stack, Method::GET, &uri(id), &t.admin, None, 200).await;
        assert_eq!(got["credentials"], json!({ *credential: *hint }));
        answers.push(got);
    }
    for answer in &answers {
        let dump = answer.to_string();
        for (_, secret, _, _) in &created {
            assert!(!dump.contains(*secret), "a credential leaked: {dump}");
        }
        assert!(
            !dump.contains("ciphertext"),
            "the ciphertext is shown: {dump}"
        );
    }
    // The table holds ciphertext, never the plaintext.
    for (_, secret, _, _) in &created {
        assert_table_lacks(&stack, secret).await;
    }
    let items = scan(&stack).await;
    let sealed = items
        .iter()
        .filter(|i| item_key(i).0.ends_with("#PROVIDERS"))
        .count();
    assert_eq!(sealed, 4);

    // A PUT without credentials keeps them; one with credentials replaces them, sealed again.
    let (sendgrid, _, _, _) = &created[0];
    let kept = expect(&stack, Method::PUT, &uri(sendgrid), &t.admin, Some(json!({"version": 1, "name": "renamed",
        "priority": 1, "active": true, "settings": {"from_address": "events@acme.example", "base_url": base}})), 200).await;
    assert_eq!(kept["credentials"], json!({"api_key": "••••mnop"}));
    let replaced = expect(&stack, Method::PUT, &uri(sendgrid), &t.admin, Some(json!({"version": 2, "name": "renamed",
        "priority": 1, "active": true, "settings": {"from_address": "events@acme.example", "base_url": base},
        "credentials": {"api_key": "SG.zyxwvutsrqponmlk"}})), 200).await;
    assert_eq!(replaced["credentials"], json!({"api_key": "••••nmlk"}));
    assert_table_lacks(&stack, "SG.zyxwvutsrqponmlk").await;
}

#[tokio::test]
async fn sns_and_ses_connection_tests_ask_the_emulator() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let sns = id(&provider(&stack, &t.admin, "", sns_json("sns")).await);
    let check = test_provider(&stack, &t.admin, &sns).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["checked"], "SNS GetSMSAttributes");

    // Moto's SES identities are shared by every test: use a domain of this test's own.
    let domain = format!("{}.example", t.id.to_lowercase().replace('_', "-"));
    let address = format!("events@{domain}");
    let ses = id(&provider(&stack, &t.admin, "", ses_json("ses", &address)).await);
    let check = test_provider(&stack, &t.admin, &ses).await;
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(check["checked"], "SESv2 GetEmailIdentity");
    assert_eq!(
        check["detail"],
        format!(
            "neither the address nor the domain {domain} is an SES identity; register it first"
        )
    );

    aws_sdk_sesv2::Client::new(&stack.sdk)
        .create_email_identity()
        .email_identity(&address)
        .send()
        .await
        .expect("create the SES identity");
    let check = test_provider(&stack, &t.admin, &ses).await;
    assert_eq!(check["checked"], "SESv2 GetEmailIdentity");
    // The identity exists now and its verification status is SUCCESS.
    assert_eq!(
        check["detail"],
        format!("identity {address} is verified for sending"),
        "{check}"
    );
    assert_eq!(check["ok"], true, "{check}");
}

/// The provider's answer to its connection test: 200 for exactly the good credential in the
/// header its contract names, 401 otherwise.
struct OnlyWith {
    header: &'static str,
    value: String,
}

impl Respond for OnlyWith {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let given = request
            .headers
            .get(self.header)
            .and_then(|v| v.to_str().ok());
        if given == Some(self.value.as_str()) {
            connected()
        } else {
            ResponseTemplate::new(401)
        }
    }
}

#[tokio::test]
async fn http_providers_are_called_with_their_credentials() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let twilio_path = format!("/2010-04-01/Accounts/{TWILIO_SID}.json");
    let whatsapp_path = format!("/v21.0/{PHONE_NUMBER_ID}");
    for (kind, contract, good, wanted_path, header, value, checked) in [
        (
            "sendgrid",
            (Provider::Sendgrid, "scopes-list"),
            SENDGRID_KEY,
            "/v3/scopes",
            "authorization",
            format!("Bearer {SENDGRID_KEY}"),
            "SendGrid GET /v3/scopes",
        ),
        (
            "brevo",
            (Provider::Brevo, "account-get"),
            BREVO_KEY,
            "/v3/account",
            "api-key",
            BREVO_KEY.to_owned(),
            "Brevo GET /v3/account",
        ),
        (
            "twilio",
            (Provider::Twilio, "account-fetch"),
            TWILIO_TOKEN,
            twilio_path.as_str(),
            "authorization",
            TWILIO_BASIC.to_owned(),
            "Twilio GET /2010-04-01/Accounts/{sid}.json",
        ),
        (
            "whatsapp_cloud",
            (Provider::Whatsapp, "phone-number-get"),
            WHATSAPP_TOKEN,
            whatsapp_path.as_str(),
            "authorization",
            format!("Bearer {WHATSAPP_TOKEN}"),
            "WhatsApp GET /{version}/{phone_number_id}",
        ),
    ] {
        // The fake checks each call against the provider's contract, then accepts exactly the
        // good credential and answers 401 otherwise.
        let (provider_name, operation) = contract;
        let fake = ProviderFake::start(provider_name).await;
        fake.answer(
            operation,
            OnlyWith {
                header,
                value: value.clone(),
            },
        )
        .await;
        let base = fake.uri();

        let ok = id(&provider(&stack, &t.admin, "", http_provider(kind, &base, good)).await);
        let check = test_provider(&stack, &t.admin, &ok).await;
        assert_eq!(
            (check["ok"].clone(), check["checked"].clone()),
            (json!(true), json!(checked)),
            "{kind}: {check}"
        );
        assert_eq!(check["detail"], "the provider answered 200");
        let seen = fake
            .server
            .received_requests()
            .await
            .expect("recording is on");
        assert_eq!(seen.len(), 1, "{kind}: one call");
        assert_eq!(seen[0].method.as_str(), "GET");
        assert_eq!(seen[0].url.path(), wanted_path, "{kind}");
        assert_eq!(
            seen[0].headers.get(header).and_then(|v| v.to_str().ok()),
            Some(value.as_str()),
            "{kind}"
        );
        if kind == "whatsapp_cloud" {
            assert_eq!(
                seen[0].url.query(),
                Some("fields=display_phone_number,verified_name")
            );
        }

        // Wrong credentials: the provider's 401 is a failed check, not an error.
        let wrong = id(&provider(
            &stack,
            &t.admin,
            "",
            http_provider(kind, &base, "wrong-credential-0000"),
        )
        .await);
        let check = test_provider(&stack, &t.admin, &wrong).await;
        assert_eq!(check["ok"], false, "{kind}: {check}");
        assert_eq!(
            check["detail"],
            "the provider rejected the credentials (401)"
        );
        // A PUT without credentials keeps the stored ones: the fake sees the same secret.
        let kept = expect(
            &stack,
            Method::GET,
            &format!("/api/v1/communication/providers/{ok}"),
            &t.admin,
            None,
            200,
        )
        .await;
        let put = json!({"version": 1, "name": "renamed", "priority": 50, "active": true, "settings": kept["settings"]});
        expect(
            &stack,
            Method::PUT,
            &format!("/api/v1/communication/providers/{ok}"),
            &t.admin,
            Some(put),
            200,
        )
        .await;
        let check = test_provider(&stack, &t.admin, &ok).await;
        assert_eq!(
            check["ok"], true,
            "{kind} after a PUT without credentials: {check}"
        );
        fake.assert_kept_contract();
    }
}

#[tokio::test]
async fn an_unreachable_provider_is_a_failed_check() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    // Nothing listens on port 9 of loopback.
    let dead = id(&provider(
        &stack,
        &t.admin,
        "",
        http_provider("sendgrid", "http://127.0.0.1:9", SENDGRID_KEY),
    )
    .await);
    let check = test_provider(&stack, &t.admin, &dead).await;
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(check["detail"], "could not connect to the provider");
    // And a fake that errors is reported with its status.
    let brevo = ProviderFake::start(Provider::Brevo).await;
    brevo
        .answer("account-get", ResponseTemplate::new(503))
        .await;
    let flaky = id(&provider(
        &stack,
        &t.admin,
        "",
        http_provider("brevo", &brevo.uri(), BREVO_KEY),
    )
    .await);
    let check = test_provider(&stack, &t.admin, &flaky).await;
    assert_eq!(
        (check["ok"].clone(), check["detail"].clone()),
        (json!(false), json!("the provider answered 503"))
    );
    brevo.assert_kept_contract();
}
