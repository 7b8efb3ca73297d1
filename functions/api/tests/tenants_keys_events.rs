//! Tenants, API keys and events: create, list, read, update; secrets shown once, stored as hashes,
//! and revocation that takes effect at once.

mod common;

use axum::http::Method;
use common::*;
use herald::store::hash_secret;
use serde_json::json;

#[tokio::test]
async fn tenants_are_created_listed_read_and_renamed() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let a = expect(
        &stack,
        Method::POST,
        "/api/v1/tenants",
        &admin,
        Some(json!({"name": "  Acme Events "})),
        201,
    )
    .await;
    let a_id = id(&a);
    assert!(a_id.starts_with("ten_"), "{a_id}");
    assert_eq!(a["name"], "Acme Events", "names are trimmed");
    assert_eq!(a["version"], 1);
    let b_id = id(&expect(
        &stack,
        Method::POST,
        "/api/v1/tenants",
        &admin,
        Some(json!({"name": "Bravo"})),
        201,
    )
    .await);

    let list = expect(&stack, Method::GET, "/api/v1/tenants", &admin, None, 200).await;
    let mut listed = ids(&list);
    listed.sort();
    let mut wanted = vec![a_id.clone(), b_id.clone()];
    wanted.sort();
    assert_eq!(listed, wanted);

    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/tenants/{a_id}"),
        &admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, a);

    let renamed = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/tenants/{a_id}"),
        &admin,
        Some(json!({"version": 1, "name": "Acme Live"})),
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Acme Live");
    assert_eq!(renamed["version"], 2);
    assert_eq!(renamed["created_at"], a["created_at"]);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/tenants/{a_id}"),
        &admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, renamed);

    // A tenant administrator sees and renames only its own tenant.
    let (_, ta) = api_key(
        &stack,
        &admin,
        &a_id,
        json!({"name": "a admin", "role": "tenant_admin"}),
    )
    .await;
    let own = expect(&stack, Method::GET, "/api/v1/tenants", &ta, None, 200).await;
    assert_eq!(ids(&own), vec![a_id.clone()]);
    let renamed = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/tenants/{a_id}"),
        &ta,
        Some(json!({"version": 2, "name": "Acme by itself"})),
        200,
    )
    .await;
    assert_eq!(renamed["version"], 3);
    // ...and may not create tenants.
    let answer = stack
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(&ta),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_problem(&answer, 403, "tenant admin creating a tenant");
    let list = expect(&stack, Method::GET, "/api/v1/tenants", &admin, None, 200).await;
    assert_eq!(items(&list).len(), 2);
}

#[tokio::test]
async fn keys_work_at_once_and_stop_at_once_when_revoked() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;

    // A tenant admin creates an event manager key; the secret is shown once and works.
    let created = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/api-keys?tenant_id={}", t.id),
        &t.admin,
        Some(json!({"name": "door staff", "role": "event_manager", "event_ids": [evt]})),
        201,
    )
    .await;
    let em_id = id(&created);
    let em_secret = text(&created, "secret");
    assert!(em_id.starts_with("key_"), "{em_id}");
    assert!(em_secret.starts_with("hrk_"), "{em_secret}");
    assert_eq!(created["role"], "event_manager");
    assert_eq!(created["tenant_id"], t.id.as_str());
    assert_eq!(created["event_ids"], json!([evt]));
    assert_eq!(
        created["secret_hint"],
        em_secret.chars().take(8).collect::<String>()
    );
    assert!(created.get("revoked_at").is_none());
    let events = expect(&stack, Method::GET, "/api/v1/events", &em_secret, None, 200).await;
    assert_eq!(ids(&events), vec![evt.clone()]);

    // Neither the list nor a read shows any secret.
    let list = expect(&stack, Method::GET, "/api/v1/api-keys", &t.admin, None, 200).await;
    let mut listed = ids(&list);
    listed.sort();
    let mut wanted = vec![t.admin_key_id.clone(), em_id.clone()];
    wanted.sort();
    assert_eq!(listed, wanted);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/api-keys/{em_id}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(got["name"], "door staff");
    assert!(got.get("secret").is_none());
    let by_admin = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/api-keys?tenant_id={}", t.id),
        &stack.admin_key,
        None,
        200,
    )
    .await;
    for body in [&list, &got, &by_admin] {
        let dump = body.to_string();
        for secret in [&em_secret, &t.admin, &stack.admin_key] {
            assert!(!dump.contains(secret.as_str()), "a secret leaked: {dump}");
        }
        assert!(!dump.contains("secret_hash"), "{dump}");
    }

    // Revocation: 200 with revoked_at, then 401 for the very next request.
    let revoked = expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/api-keys/{em_id}"),
        &t.admin,
        None,
        200,
    )
    .await;
    let at = text(&revoked, "revoked_at");
    let answer = stack
        .call(Method::GET, "/api/v1/events", Some(&em_secret), None)
        .await;
    assert_problem(&answer, 401, "revoked key");
    assert_eq!(
        answer.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let list = expect(&stack, Method::GET, "/api/v1/api-keys", &t.admin, None, 200).await;
    for key in items(&list) {
        if id(&key) == em_id {
            assert_eq!(key["revoked_at"], at.as_str());
        } else {
            assert!(key.get("revoked_at").is_none(), "{key}");
        }
    }
    // Revoking twice keeps the first time; other keys keep working.
    let again = expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/api-keys/{em_id}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(again["revoked_at"], at.as_str());
    expect(&stack, Method::GET, "/api/v1/events", &t.admin, None, 200).await;

    // A tenant admin may revoke its own key: it stops working too.
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/api-keys/{}", t.admin_key_id),
        &t.admin,
        None,
        200,
    )
    .await;
    let answer = stack
        .call(Method::GET, "/api/v1/tenants", Some(&t.admin), None)
        .await;
    assert_problem(&answer, 401, "self-revoked key");
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let (_, em) = event_manager(&stack, &t.admin, &t.id, &[&evt]).await;
    let (_, platform) = {
        let created = expect(
            &stack,
            Method::POST,
            "/api/v1/api-keys",
            &stack.admin_key,
            Some(json!({"name": "second admin", "role": "platform_admin"})),
            201,
        )
        .await;
        assert!(created.get("tenant_id").is_none(), "{created}");
        (id(&created), text(&created, "secret"))
    };
    expect(&stack, Method::GET, "/api/v1/tenants", &platform, None, 200).await;

    let items = scan(&stack).await;
    for secret in [&stack.admin_key, &t.admin, &em, &platform] {
        // The random part alone must not be stored either.
        let random = secret.trim_start_matches("hrk_");
        for item in &items {
            let dump = format!("{item:?}");
            assert!(
                !dump.contains(random),
                "item {:?} holds a secret",
                item_key(item)
            );
        }
        let pk = format!("APIKEY#{}", hash_secret(secret));
        let stored: Vec<_> = items.iter().filter(|i| item_key(i).0 == pk).collect();
        assert_eq!(stored.len(), 1, "one item keyed by the hash of each secret");
        assert_eq!(
            stored[0]
                .get("secret_hash")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some(hash_secret(secret).as_str())
        );
    }
}

#[tokio::test]
async fn events_are_created_listed_read_and_updated() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let created = expect(
        &stack,
        Method::POST,
        "/api/v1/events",
        &t.admin,
        Some(event_json("Gala")),
        201,
    )
    .await;
    let evt = id(&created);
    assert!(evt.starts_with("evt_"));
    assert_eq!(created["tenant_id"], t.id.as_str());
    assert_eq!(created["version"], 1);
    assert_eq!(created["time_zone"], "Europe/Paris");
    assert_eq!(created["default_locale"], "fr-FR");
    assert_eq!(created["starts_at"], "2027-05-01T18:00:00");
    // A platform admin creates events for a tenant with ?tenant_id=.
    let second = event(
        &stack,
        &stack.admin_key,
        &format!("?tenant_id={}", t.id),
        "Dinner",
    )
    .await;

    let list = expect(&stack, Method::GET, "/api/v1/events", &t.admin, None, 200).await;
    let mut listed = ids(&list);
    listed.sort();
    let mut wanted = vec![evt.clone(), second.clone()];
    wanted.sort();
    assert_eq!(listed, wanted);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, created);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt}?tenant_id={}", t.id),
        &stack.admin_key,
        None,
        200,
    )
    .await;
    assert_eq!(got, created);

    let mut put = event_json("Gala 2027");
    put["version"] = json!(1);
    put["time_zone"] = json!("America/New_York");
    put["default_locale"] = json!("en_us");
    let updated = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/events/{evt}"),
        &t.admin,
        Some(put),
        200,
    )
    .await;
    assert_eq!(updated["name"], "Gala 2027");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["time_zone"], "America/New_York");
    assert_eq!(updated["default_locale"], "en-US", "locales are normalised");
    assert_eq!(updated["created_at"], created["created_at"]);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, updated);

    // ends_at must follow starts_at; nothing is written.
    let mut bad = event_json("Backwards");
    bad["ends_at"] = json!("2027-05-01T17:00:00");
    let answer = stack
        .call(Method::POST, "/api/v1/events", Some(&t.admin), Some(bad))
        .await;
    assert_problem(&answer, 422, "ends before it starts");
    assert_eq!(answer.body["errors"][0]["field"], "ends_at");
    let list = expect(&stack, Method::GET, "/api/v1/events", &t.admin, None, 200).await;
    assert_eq!(items(&list).len(), 2);
}
