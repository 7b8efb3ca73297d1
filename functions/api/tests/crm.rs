//! CRM sync against local fakes of HubSpot's and Salesforce's APIs: connecting (secrets never
//! shown), paging, 429s, a run that stops half-way, conflicts, opt-outs, pushing Herald's
//! changes back, and the scheduled sweep.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use herald::ids::{ContactId, TenantId};
use herald_local::fakes::hubspot::FakeHubspot;
use herald_local::fakes::salesforce::FakeSalesforce;
use herald_local::testing::TestStack;
use serde_json::{Value, json};

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

fn crm(tenant: &Tenant, rest: &str) -> String {
    format!("/api/v1/communication/crm{rest}?tenant_id={}", tenant.id)
}

async fn connect_hubspot(stack: &TestStack, t: &Tenant, fake: &FakeHubspot) -> Value {
    expect(
        stack,
        Method::PUT,
        &crm(t, ""),
        &t.admin,
        Some(json!({"kind": "hubspot", "access_token": TOKEN, "base_url": fake.url()})),
        200,
    )
    .await
}

/// Starts a run over the API and waits for its report to finish.
async fn sync(stack: &TestStack, t: &Tenant) -> Value {
    let queued = expect(stack, Method::POST, &crm(t, "/sync"), &t.admin, None, 202).await;
    assert_eq!(queued["status"], "queued");
    wait_run(stack, t, &text(&queued, "id")).await
}

async fn wait_run(stack: &TestStack, t: &Tenant, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let run = expect(
            stack,
            Method::GET,
            &format!("/api/v1/communication/crm/runs/{id}?tenant_id={}", t.id),
            &t.admin,
            None,
            200,
        )
        .await;
        if run["status"] == "completed" || run["status"] == "failed" {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {id} did not finish: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn contact_by_email(stack: &TestStack, tenant: &str, email: &str) -> herald::guests::Contact {
    let tenant: TenantId = tenant.parse().expect("a tenant id");
    let email = herald::domain::EmailAddress::parse(email).expect("an email");
    let id = stack
        .state
        .store
        .find_contact(tenant, Some(&email), None)
        .await
        .expect("find_contact")
        .unwrap_or_else(|| panic!("no contact for {email}"));
    stack
        .state
        .store
        .get_contact(tenant, id)
        .await
        .expect("get_contact")
        .expect("the contact")
}

fn n(run: &Value, field: &str) -> u64 {
    run[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {run}"))
}

#[tokio::test]
async fn hubspot_contacts_are_pulled_page_by_page_and_consent_is_pushed_back() {
    let stack = stack().await;
    let t = tenant(&stack, "CRM HubSpot").await;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    fake.add_contacts(450, |i| {
        vec![
            ("email".into(), format!("guest{i}@crm.example")),
            ("firstname".into(), format!("Guest{i}")),
            ("lastname".into(), "Example".into()),
            ("company".into(), "Acme".into()),
            (
                "hs_email_optout".into(),
                if i == 7 { "true" } else { "false" }.into(),
            ),
        ]
    });
    let connected = connect_hubspot(&stack, &t, &fake).await;
    assert!(
        !connected.to_string().contains(TOKEN),
        "the token is never returned"
    );
    assert_eq!(connected["credential_hints"]["access_token"], "••••5555");
    assert_eq!(connected["settings"]["kind"], "hubspot");
    let check = expect(&stack, Method::POST, &crm(&t, "/test"), &t.admin, None, 200).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["outcome"]["account"], "HubSpot portal 12345678");

    fake.reset_requests();
    let run = sync(&stack, &t).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(n(&run, "pulled"), 450);
    assert_eq!(n(&run, "created"), 450);
    assert_eq!(n(&run, "errors_total"), 0, "{run}");
    // 450 records at 200 a page: 3 searches, the least HubSpot allows.
    assert_eq!(fake.count("POST", "/crm/v3/objects/contacts/search"), 3);
    assert_eq!(n(&run, "crm_requests"), 3);

    let ada = contact_by_email(&stack, &t.id, "guest3@crm.example").await;
    assert_eq!(ada.first_name, "Guest3");
    assert_eq!(ada.company.as_deref(), Some("Acme"));
    let opted = contact_by_email(&stack, &t.id, "guest7@crm.example").await;
    assert!(opted.opt_outs.contains("*#email"));
    let ledger = expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/communication/contacts/{}/consent?tenant_id={}",
            opted.id, t.id
        ),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&ledger)[0]["source"], "crm");

    // Herald-side changes: a guest opts out of SMS; a profile edit.
    let uri = |c: &ContactId, rest: &str| {
        format!(
            "/api/v1/communication/contacts/{c}{rest}?tenant_id={}",
            t.id
        )
    };
    expect(
        &stack,
        Method::PUT,
        &uri(&ada.id, "/preferences"),
        &t.admin,
        Some(json!({"preferences": {"opt_outs": [{"channel": "sms"}]}})),
        200,
    )
    .await;
    let bo = contact_by_email(&stack, &t.id, "guest4@crm.example").await;
    expect(
        &stack,
        Method::PATCH,
        &uri(&bo.id, ""),
        &t.admin,
        Some(json!({"lifecycle_stage": "customer"})),
        200,
    )
    .await;
    fake.reset_requests();
    let run = sync(&stack, &t).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(n(&run, "pushed"), 2, "{run}");
    assert_eq!(
        fake.count("POST", "/crm/v3/objects/contacts/batch/update"),
        1
    );
    let crm_id = |c: &herald::guests::Contact| c.crm.as_ref().unwrap().id.clone();
    assert_eq!(
        fake.contact(&crm_id(&ada)).unwrap()["herald_sms_optout"],
        "true"
    );
    assert_eq!(
        fake.contact(&crm_id(&bo)).unwrap()["lifecyclestage"],
        "customer"
    );
    // The next run reads the pushed records back: both sides now agree (the contacts record
    // that), nothing is pushed again, and the run after changes nothing at all.
    let run = sync(&stack, &t).await;
    assert_eq!(
        n(&run, "created") + n(&run, "pushed") + n(&run, "conflicts_total"),
        0,
        "{run}"
    );
    assert_eq!(n(&run, "updated"), 2, "{run}");
    let run = sync(&stack, &t).await;
    assert_eq!(
        n(&run, "updated") + n(&run, "created") + n(&run, "pushed"),
        0,
        "{run}"
    );
    let runs = expect(&stack, Method::GET, &crm(&t, "/runs"), &t.admin, None, 200).await;
    assert_eq!(items(&runs).len(), 4);
    let first = format!("{}&limit=1", crm(&t, "/runs"));
    let newest = expect(&stack, Method::GET, &first, &t.admin, None, 200).await;
    assert_eq!(items(&newest).len(), 1);
    let rest = format!(
        "{}&limit=10&before={}",
        crm(&t, "/runs"),
        text(&items(&newest)[0], "id")
    );
    let older = expect(&stack, Method::GET, &rest, &t.admin, None, 200).await;
    assert_eq!(items(&older).len(), 3);
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}

#[tokio::test]
async fn a_throttled_crm_is_waited_for_and_a_run_that_stops_half_way_loses_and_repeats_nothing() {
    let stack = stack().await;
    let t = tenant(&stack, "CRM faults").await;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    fake.add_contacts(450, |i| vec![("email".into(), format!("f{i}@crm.example"))]);
    connect_hubspot(&stack, &t, &fake).await;
    // Two searches succeed, then HubSpot is down: the third page fails.
    fake.fail_after(2);
    let run = sync(&stack, &t).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(n(&run, "created"), 400);
    assert!(run["errors"][0].as_str().unwrap().contains("503"), "{run}");
    let cursor = run["cursor_after"].as_str().unwrap().to_owned();
    // Back up, but throttling: two 429s with Retry-After: 1 are waited out.
    fake.recover();
    fake.throttle_next(2, 1);
    let started = std::time::Instant::now();
    let run = sync(&stack, &t).await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(n(&run, "throttled"), 2);
    assert_eq!(run["cursor_before"].as_str().unwrap(), cursor);
    assert_eq!(n(&run, "created"), 50, "only the page that failed: {run}");
    assert_eq!(n(&run, "updated"), 0, "nothing applied twice: {run}");
    // Every CRM record has exactly one contact.
    let tenant_id: TenantId = t.id.parse().unwrap();
    let mut contacts = std::collections::BTreeSet::new();
    for (id, props) in fake.contacts() {
        let c = contact_by_email(&stack, &t.id, &props["email"]).await;
        assert_eq!(c.crm.as_ref().unwrap().id, id);
        contacts.insert(c.id);
    }
    assert_eq!(contacts.len(), 450);
    let links = stack
        .state
        .store
        .crm_links(
            tenant_id,
            herald::domain::CrmKind::Hubspot,
            &fake
                .contacts()
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert_eq!(links.len(), 450);
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}

#[tokio::test]
async fn the_later_edit_of_a_field_wins_and_the_conflict_is_reported() {
    let stack = stack().await;
    let t = tenant(&stack, "CRM conflicts").await;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    let a = fake.add_contact(&[("email", "a@crm.example"), ("company", "Acme")]);
    let b = fake.add_contact(&[("email", "b@crm.example"), ("company", "Acme")]);
    connect_hubspot(&stack, &t, &fake).await;
    sync(&stack, &t).await;
    let ca = contact_by_email(&stack, &t.id, "a@crm.example").await;
    let cb = contact_by_email(&stack, &t.id, "b@crm.example").await;
    let edit = |c: &ContactId| format!("/api/v1/communication/contacts/{c}?tenant_id={}", t.id);
    // A: the CRM edits first, Herald later → Herald's value wins and is pushed.
    fake.edit_contact(&a, "company", "Globex (CRM)");
    tokio::time::sleep(Duration::from_millis(20)).await;
    expect(
        &stack,
        Method::PATCH,
        &edit(&ca.id),
        &t.admin,
        Some(json!({"company": "Herald Ltd"})),
        200,
    )
    .await;
    // B: Herald edits first, the CRM later → the CRM's value wins.
    expect(
        &stack,
        Method::PATCH,
        &edit(&cb.id),
        &t.admin,
        Some(json!({"company": "Initech (Herald)"})),
        200,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    fake.edit_contact(&b, "company", "Umbrella (CRM)");
    let run = sync(&stack, &t).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(n(&run, "conflicts_total"), 2, "{run}");
    let conflicts = run["conflicts"].as_array().unwrap();
    let of = |id: &ContactId| {
        conflicts
            .iter()
            .find(|c| c["contact_id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(of(&ca.id)["winner"], "herald");
    assert_eq!(of(&cb.id)["winner"], "crm");
    assert_eq!(of(&ca.id)["field"], "company");
    assert_eq!(of(&ca.id)["rule"], "later_change");
    assert!(
        !run.to_string().contains("Globex"),
        "reports carry no values"
    );
    assert_eq!(fake.contact(&a).unwrap()["company"], "Herald Ltd");
    assert_eq!(fake.contact(&b).unwrap()["company"], "Umbrella (CRM)");
    let cb = contact_by_email(&stack, &t.id, "b@crm.example").await;
    assert_eq!(cb.company.as_deref(), Some("Umbrella (CRM)"));
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}

#[tokio::test]
async fn salesforce_pages_renews_its_session_and_an_opt_out_beats_an_opt_in() {
    let stack = stack().await;
    let t = tenant(&stack, "CRM Salesforce").await;
    let fake = FakeSalesforce::start("client-id-1", "client-secret-1")
        .await
        .unwrap();
    // A guest Herald knows already, who opted out of email here.
    let event = event(&stack, &t.admin, &format!("?tenant_id={}", t.id), "Gala").await;
    import_guests(
        &stack,
        &t.admin,
        &event,
        vec![json!({"email": "dora@crm.example", "first_name": "Dora"})],
    )
    .await;
    let dora = contact_by_email(&stack, &t.id, "dora@crm.example").await;
    expect(
        &stack,
        Method::PUT,
        &format!(
            "/api/v1/communication/contacts/{}/preferences?tenant_id={}",
            dora.id, t.id
        ),
        &t.admin,
        Some(json!({"preferences": {"opt_outs": [{"channel": "email"}]}})),
        200,
    )
    .await;
    // In Salesforce, opted in (and changed later); plus enough others for two pages.
    let dora_sf = fake.add_contact(&[
        ("Email", json!("dora@crm.example")),
        ("FirstName", json!("Dora")),
        ("HasOptedOutOfEmail", json!(false)),
    ]);
    fake.add_contacts(2_050, |i| {
        vec![
            ("Email".into(), json!(format!("sf{i}@crm.example"))),
            ("LastName".into(), json!(format!("Contact {i}"))),
            ("HasOptedOutOfEmail".into(), json!(i == 5)),
        ]
    });
    let bad = expect(
        &stack,
        Method::PUT,
        &crm(&t, ""),
        &t.admin,
        Some(
            json!({"kind": "salesforce", "my_domain_url": fake.url(), "client_id": "client-id-1"}),
        ),
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "client_secret");
    expect(
        &stack,
        Method::PUT,
        &crm(&t, ""),
        &t.admin,
        Some(json!({"kind": "salesforce", "my_domain_url": fake.url(), "client_id": "client-id-1", "client_secret": "client-secret-1"})),
        200,
    )
    .await;
    let check = expect(&stack, Method::POST, &crm(&t, "/test"), &t.admin, None, 200).await;
    assert_eq!(check["ok"], true, "{check}");
    fake.expire_tokens();
    let run = sync(&stack, &t).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(n(&run, "pulled"), 2_051);
    assert_eq!(n(&run, "created"), 2_050);
    assert_eq!(n(&run, "updated"), 1);
    // Two query pages (2,000 a page), a session renewed once, one push.
    assert_eq!(fake.count("GET", "/services/data/v60.0/query"), 2);
    let conflicts = run["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{run}");
    assert_eq!(conflicts[0]["field"], "email_opt_out");
    assert_eq!(conflicts[0]["winner"], "herald");
    assert_eq!(conflicts[0]["rule"], "opt_out_wins");
    assert_eq!(n(&run, "pushed"), 1);
    assert_eq!(
        fake.contact(&dora_sf).unwrap()["HasOptedOutOfEmail"],
        json!(true)
    );
    let dora = contact_by_email(&stack, &t.id, "dora@crm.example").await;
    assert!(dora.opt_outs.contains("*#email"));
    let five = contact_by_email(&stack, &t.id, "sf5@crm.example").await;
    assert!(five.opt_outs.contains("*#email"));
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "Salesforce's contract"
    );
}

#[tokio::test]
async fn the_schedule_queues_a_run_for_every_connected_tenant() {
    let stack = stack().await;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    fake.add_contact(&[("email", "s@crm.example")]);
    let on = tenant(&stack, "CRM scheduled").await;
    let paused = tenant(&stack, "CRM paused").await;
    connect_hubspot(&stack, &on, &fake).await;
    expect(
        &stack,
        Method::PUT,
        &crm(&paused, ""),
        &paused.admin,
        Some(json!({"kind": "hubspot", "access_token": TOKEN, "base_url": fake.url(), "paused": true})),
        200,
    )
    .await;
    let sync = stack.crm_sync().unwrap();
    let queued = sync.sweep().await.unwrap();
    let on_id: TenantId = on.id.parse().unwrap();
    let mine: Vec<_> = queued.iter().filter(|(t, _)| *t == on_id).collect();
    assert_eq!(mine.len(), 1);
    let paused_id: TenantId = paused.id.parse().unwrap();
    assert!(queued.iter().all(|(t, _)| *t != paused_id));
    let run = wait_run(&stack, &on, &mine[0].1.to_string()).await;
    assert_eq!(run["trigger"], "schedule");
    assert_eq!(run["status"], "completed", "{run}");
    // Secrets never in the table in clear.
    assert_table_lacks(&stack, TOKEN).await;
    // Other tenants see nothing of it.
    let other = tenant(&stack, "CRM other").await;
    let uri = format!(
        "/api/v1/communication/crm/runs/{}?tenant_id={}",
        mine[0].1, other.id
    );
    let answer = stack
        .call(Method::GET, &uri, Some(&other.admin), None)
        .await;
    assert_problem(&answer, 404, "another tenant's run");
    let answer = stack
        .call(Method::GET, &crm(&other, ""), Some(&other.admin), None)
        .await;
    assert_problem(&answer, 404, "no connection");
    let answer = stack
        .call(Method::DELETE, &crm(&on, ""), Some(&other.admin), None)
        .await;
    assert_problem(
        &answer,
        404,
        "tenant_id of another tenant with a tenant key",
    );
    expect(&stack, Method::DELETE, &crm(&on, ""), &on.admin, None, 204).await;
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}

/// `make bench`: a sync of 10,000 HubSpot contacts, then a push of engagement for all of them:
/// the CRM requests made next to the least HubSpot's page (200) and batch (100) limits allow.
/// Prints one `BENCH {json}` line.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it"]
async fn benchmark_a_crm_sync_of_10k_contacts() {
    const N: usize = 10_000;
    let stack = stack().await;
    let t = tenant(&stack, "CRM bench").await;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    fake.add_contacts(N, |i| {
        vec![
            ("email".into(), format!("b{i}@crm.example")),
            ("firstname".into(), format!("B{i}")),
        ]
    });
    connect_hubspot(&stack, &t, &fake).await;
    fake.reset_requests();
    let started = std::time::Instant::now();
    let pull = sync(&stack, &t).await;
    let pull_seconds = started.elapsed().as_secs_f64();
    assert_eq!(pull["status"], "completed", "{pull}");
    assert_eq!(n(&pull, "created"), N as u64);
    let searches = fake.count("POST", "/crm/v3/objects/contacts/search");
    // Engagement for every contact, as the tracker records it.
    let tenant_id: TenantId = t.id.parse().unwrap();
    let ids: Vec<ContactId> = stack
        .state
        .store
        .crm_links(
            tenant_id,
            herald::domain::CrmKind::Hubspot,
            &fake
                .contacts()
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap()
        .into_values()
        .collect();
    let engagement = herald::crm::Engagement {
        last_opened_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    for chunk in ids.chunks(50) {
        let touches = chunk.iter().map(|c| {
            stack
                .state
                .store
                .touch_crm_outbox(tenant_id, *c, &engagement, chrono::Utc::now())
        });
        for r in futures::future::join_all(touches).await {
            r.unwrap();
        }
    }
    fake.reset_requests();
    let started = std::time::Instant::now();
    let push = sync(&stack, &t).await;
    let push_seconds = started.elapsed().as_secs_f64();
    assert_eq!(n(&push, "pushed"), N as u64, "{push}");
    let updates = fake.count("POST", "/crm/v3/objects/contacts/batch/update");
    let push_searches = fake.count("POST", "/crm/v3/objects/contacts/search");
    let report = json!({
        "contacts": N,
        "pull_searches": searches,
        "pull_minimum": N.div_ceil(200),
        "pull_seconds": pull_seconds,
        "push_batch_updates": updates,
        "push_minimum": N.div_ceil(100),
        "push_run_searches": push_searches,
        "push_seconds": push_seconds,
    });
    println!("BENCH {report}");
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}

#[tokio::test]
async fn engagement_reaches_the_crm_with_the_next_run() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let t = &s.t;
    let fake = FakeHubspot::start(TOKEN).await.unwrap();
    let address = unique_email("engaged");
    let hubspot_id = fake.add_contact(&[("email", &address), ("firstname", "Engaged")]);
    connect_hubspot(&stack, t, &fake).await;
    let run = sync(&stack, t).await;
    assert_eq!(n(&run, "created"), 1, "{run}");
    complete_wizard(&stack, &t.admin, &s.event).await;
    // An email to the CRM's contact: the tracker notes when it was sent (SES's Send event),
    // and the next run pushes it.
    expect(
        &stack,
        Method::POST,
        "/api/v1/communication/messages",
        &t.admin,
        Some(
            json!({"event_id": s.event, "category": "invitation", "channels": ["email"],
            "recipient": {"first_name": "Engaged", "email": address}}),
        ),
        202,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let run = sync(&stack, t).await;
        assert_eq!(run["status"], "completed", "{run}");
        let sent = fake
            .contact(&hubspot_id)
            .and_then(|c| c.get("herald_last_message_sent_at").cloned());
        if let Some(sent) = sent {
            let at = chrono::DateTime::parse_from_rfc3339(&sent).expect("a time");
            assert!(
                (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_minutes() < 5,
                "{sent}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the send never reached HubSpot"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        fake.contract_violations(),
        Vec::<String>::new(),
        "HubSpot's contract"
    );
}
