//! Tenant isolation: with tenant A's key, every route addressed with tenant B's ids (in the path
//! or as tenant_id/event_id) answers 404, exactly as for ids that exist nowhere, and B's data is
//! unchanged.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// Tenant B's resources.
struct Owned {
    tenant: Tenant,
    event: String,
    provider: String,
    event_provider: String,
    template: String,
    event_template: String,
    key: String,
}

async fn populate(stack: &TestStack, name: &str) -> Owned {
    let tenant = tenant(stack, name).await;
    let key = &tenant.admin;
    let evt = event(stack, key, "", &format!("{name} gala")).await;
    let on_event = format!("?event_id={evt}");
    let prv = id(&provider(stack, key, "", ses_json("ses", "events@b.example")).await);
    let event_prv = id(&provider(stack, key, &on_event, sns_json("sns")).await);
    let tpl = id(&template(stack, key, "", "invitation", "email", name).await);
    let event_tpl = id(&template(stack, key, &on_event, "reminder", "sms", name).await);
    expect(
        stack,
        Method::PUT,
        "/api/v1/communication/brand",
        key,
        Some(json!({"version": 0, "primary_color": "#0000ff", "sender_name": name})),
        200,
    )
    .await;
    expect(
        stack,
        Method::PUT,
        &format!("/api/v1/communication/brand{on_event}"),
        key,
        Some(json!({"version": 0, "footer": format!("{name} footer")})),
        200,
    )
    .await;
    let (key_id, _) = event_manager(stack, key, &tenant.id, &[&evt]).await;
    Owned {
        tenant,
        event: evt,
        provider: prv,
        event_provider: event_prv,
        template: tpl,
        event_template: event_tpl,
        key: key_id,
    }
}

/// Everything B owns, as B's administrator reads it.
async fn snapshot(stack: &TestStack, b: &Owned) -> Vec<Value> {
    let k = &b.tenant.admin;
    let e = &b.event;
    let mut out = Vec::new();
    for uri in [
        format!("/api/v1/tenants/{}", b.tenant.id),
        "/api/v1/events".to_owned(),
        format!("/api/v1/events/{e}/configuration"),
        "/api/v1/communication/providers".to_owned(),
        format!("/api/v1/communication/providers?event_id={e}"),
        "/api/v1/communication/templates".to_owned(),
        format!("/api/v1/communication/templates?event_id={e}"),
        "/api/v1/communication/brand".to_owned(),
        format!("/api/v1/communication/brand?event_id={e}"),
        "/api/v1/api-keys".to_owned(),
    ] {
        out.push(expect(stack, Method::GET, &uri, k, None, 200).await);
    }
    out
}

fn provider_put() -> Value {
    json!({"version": 1, "name": "taken", "priority": 1, "active": false,
           "settings": {"from_address": "evil@a.example"}})
}

fn event_put() -> Value {
    let mut e = event_json("taken");
    e["version"] = json!(1);
    e
}

/// Every route, addressed with B's ids while A's own event `own` is used where a route needs one.
fn requests(b: &Owned, own: &str) -> Vec<(Method, String, Option<Value>)> {
    let (t, e) = (&b.tenant.id, &b.event);
    let (p, pe, tp, tpe, k) = (
        &b.provider,
        &b.event_provider,
        &b.template,
        &b.event_template,
        &b.key,
    );
    let prv = "/api/v1/communication/providers";
    let tpl = "/api/v1/communication/templates";
    let mut out: Vec<(Method, String, Option<Value>)> = Vec::new();
    let mut add = |m: Method, uri: String, body: Option<Value>| out.push((m, uri, body));
    // Providers: B's tenant provider and event provider, by path and by scope.
    for (id, scopes) in [
        (p, vec![String::new(), format!("?tenant_id={t}")]),
        (
            pe,
            vec![
                format!("?event_id={e}"),
                format!("?tenant_id={t}&event_id={e}"),
                format!("?event_id={own}"),
            ],
        ),
    ] {
        for q in scopes {
            add(Method::GET, format!("{prv}/{id}{q}"), None);
            add(Method::PUT, format!("{prv}/{id}{q}"), Some(provider_put()));
            add(Method::DELETE, format!("{prv}/{id}{q}"), None);
            add(Method::POST, format!("{prv}/{id}/test{q}"), None);
        }
    }
    for q in [
        format!("?tenant_id={t}"),
        format!("?event_id={e}"),
        format!("?tenant_id={t}&event_id={own}"),
    ] {
        add(Method::GET, format!("{prv}{q}"), None);
        add(Method::POST, format!("{prv}{q}"), Some(sns_json("planted")));
        add(Method::GET, format!("{tpl}{q}"), None);
        add(
            Method::POST,
            format!("{tpl}{q}"),
            Some(template_json("survey", "sms", "planted")),
        );
        add(Method::GET, format!("/api/v1/communication/brand{q}"), None);
        add(
            Method::PUT,
            format!("/api/v1/communication/brand{q}"),
            Some(json!({"version": 1, "footer": "planted"})),
        );
    }
    // Templates: B's tenant template and event template.
    for (id, scopes) in [
        (tp, vec![String::new(), format!("?tenant_id={t}")]),
        (
            tpe,
            vec![
                format!("?event_id={e}"),
                format!("?tenant_id={t}&event_id={e}"),
                format!("?event_id={own}"),
            ],
        ),
    ] {
        for q in scopes {
            add(Method::GET, format!("{tpl}/{id}{q}"), None);
            add(
                Method::PUT,
                format!("{tpl}/{id}{q}"),
                Some(json!({"version": 1, "text": "planted"})),
            );
            add(Method::DELETE, format!("{tpl}/{id}{q}"), None);
            add(Method::POST, format!("{tpl}/{id}/test{q}"), None);
        }
    }
    // Events, their configuration and the effective views.
    for q in [String::new(), format!("?tenant_id={t}")] {
        add(Method::GET, format!("/api/v1/events/{e}{q}"), None);
        add(
            Method::PUT,
            format!("/api/v1/events/{e}{q}"),
            Some(event_put()),
        );
        add(
            Method::GET,
            format!("/api/v1/events/{e}/configuration{q}"),
            None,
        );
    }
    add(Method::GET, format!("/api/v1/events?tenant_id={t}"), None);
    add(
        Method::POST,
        format!("/api/v1/events?tenant_id={t}"),
        Some(event_json("planted")),
    );
    add(
        Method::GET,
        format!("/api/v1/events/{own}?tenant_id={t}"),
        None,
    );
    for view in ["templates", "providers"] {
        for q in [
            format!("event_id={e}"),
            format!("tenant_id={t}&event_id={e}"),
            format!("tenant_id={t}&event_id={own}"),
        ] {
            add(
                Method::GET,
                format!("/api/v1/communication/{view}/effective?{q}"),
                None,
            );
        }
    }
    // API keys and the tenant itself.
    for q in [String::new(), format!("?tenant_id={t}")] {
        add(Method::GET, format!("/api/v1/api-keys/{k}{q}"), None);
        add(Method::DELETE, format!("/api/v1/api-keys/{k}{q}"), None);
        add(
            Method::GET,
            format!("/api/v1/api-keys/{}{q}", b.tenant.admin_key_id),
            None,
        );
    }
    add(Method::GET, format!("/api/v1/api-keys?tenant_id={t}"), None);
    add(
        Method::POST,
        format!("/api/v1/api-keys?tenant_id={t}"),
        Some(json!({"name": "planted", "role": "tenant_admin"})),
    );
    add(Method::GET, format!("/api/v1/tenants/{t}"), None);
    add(
        Method::PUT,
        format!("/api/v1/tenants/{t}"),
        Some(json!({"version": 1, "name": "taken"})),
    );
    out
}

#[tokio::test]
async fn another_tenants_ids_are_404_on_every_route_and_change_nothing() {
    let stack = stack().await;
    let a = populate(&stack, "Alpha").await;
    let b = populate(&stack, "Bravo").await;
    let before = snapshot(&stack, &b).await;
    let table_before = scan(&stack).await;

    let requests = requests(&b, &a.event);
    assert_eq!(requests.len(), 83, "the whole matrix");
    let mut wrong = Vec::new();
    for (method, uri, body) in &requests {
        let answer = stack
            .call(method.clone(), uri, Some(&a.tenant.admin), body.clone())
            .await;
        let problem = answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            == Some(PROBLEM_JSON)
            && answer.body["status"] == json!(404);
        if answer.status.as_u16() != 404 || !problem {
            wrong.push(format!(
                "{method} {uri} -> {} {}",
                answer.status, answer.body
            ));
        }
    }
    assert!(wrong.is_empty(), "not a 404 problem:\n{}", wrong.join("\n"));

    assert_eq!(
        scan(&stack).await,
        table_before,
        "a request with B's ids wrote something"
    );
    assert_eq!(snapshot(&stack, &b).await, before);
    // A still works, and still sees only its own things.
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/tenants",
        &a.tenant.admin,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&listed), vec![a.tenant.id.clone()]);
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/providers",
        &a.tenant.admin,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&listed), vec![a.provider.clone()]);
}

#[tokio::test]
async fn a_foreign_id_answers_exactly_like_an_id_that_exists_nowhere() {
    let stack = stack().await;
    let a = populate(&stack, "Alpha").await;
    let b = populate(&stack, "Bravo").await;
    let ghost = Owned {
        tenant: Tenant {
            id: "ten_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".into(),
            admin: String::new(),
            admin_key_id: "key_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".into(),
        },
        event: "evt_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".into(),
        provider: "prv_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".into(),
        event_provider: "prv_01JD2Z7Q8V0M3R5T6W9X1Y2Z3B".into(),
        template: "tpl_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".into(),
        event_template: "tpl_01JD2Z7Q8V0M3R5T6W9X1Y2Z3B".into(),
        key: "key_01JD2Z7Q8V0M3R5T6W9X1Y2Z3B".into(),
    };
    let foreign = requests(&b, &a.event);
    let nowhere = requests(&ghost, &a.event);
    assert_eq!(foreign.len(), nowhere.len());
    for ((method, uri, body), (_, ghost_uri, ghost_body)) in foreign.iter().zip(&nowhere) {
        let seen = stack
            .call(method.clone(), uri, Some(&a.tenant.admin), body.clone())
            .await;
        let unseen = stack
            .call(
                method.clone(),
                ghost_uri,
                Some(&a.tenant.admin),
                ghost_body.clone(),
            )
            .await;
        assert_eq!(
            (seen.status, &seen.body),
            (unseen.status, &unseen.body),
            "{method} {uri} vs {ghost_uri}"
        );
    }
    // An event manager key for B's event: refused the same way as for an unknown event.
    let foreign = stack
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&a.tenant.admin),
            Some(json!({"name": "x", "role": "event_manager", "event_ids": [b.event]})),
        )
        .await;
    let unknown = stack
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&a.tenant.admin),
            Some(json!({"name": "x", "role": "event_manager", "event_ids": [ghost.event]})),
        )
        .await;
    assert_problem(&foreign, 422, "event manager key for B's event");
    assert_eq!(foreign.body["errors"][0]["field"], "event_ids[0]");
    assert_eq!(foreign.body, unknown.body);
}

#[tokio::test]
async fn a_platform_key_cannot_pair_one_tenant_with_anothers_event() {
    let stack = stack().await;
    let a = populate(&stack, "Alpha").await;
    let b = populate(&stack, "Bravo").await;
    let admin = stack.admin_key.clone();
    let table_before = scan(&stack).await;
    let (ta, eb) = (&a.tenant.id, &b.event);
    for (method, uri, body) in [
        (
            Method::GET,
            format!("/api/v1/events/{eb}?tenant_id={ta}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/events/{eb}/configuration?tenant_id={ta}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/communication/templates/effective?tenant_id={ta}&event_id={eb}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/communication/providers?tenant_id={ta}&event_id={eb}"),
            None,
        ),
        (
            Method::GET,
            format!(
                "/api/v1/communication/providers/{}?tenant_id={ta}&event_id={eb}",
                b.event_provider
            ),
            None,
        ),
        (
            Method::GET,
            format!(
                "/api/v1/communication/providers/{}?tenant_id={ta}",
                b.provider
            ),
            None,
        ),
        (
            Method::GET,
            format!(
                "/api/v1/communication/templates/{}?tenant_id={ta}",
                b.template
            ),
            None,
        ),
        (
            Method::PUT,
            format!(
                "/api/v1/communication/templates/{}?tenant_id={ta}&event_id={eb}",
                b.event_template
            ),
            Some(json!({"version": 1, "text": "planted"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/api-keys/{}?tenant_id={ta}", b.key),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/communication/brand?tenant_id={ta}&event_id={eb}"),
            Some(json!({"version": 1, "footer": "x"})),
        ),
    ] {
        let answer = stack.call(method.clone(), &uri, Some(&admin), body).await;
        assert_problem(&answer, 404, &format!("{method} {uri}"));
    }
    assert_eq!(scan(&stack).await, table_before);
}

/// The id of B's that a path parameter names (a fresh id of the right kind where B has none:
/// a 404 either way, never another tenant's data).
fn id_for(param: &str, path: &str, b: &Owned, contact: &str, campaign: &str) -> String {
    match param {
        "tenant_id" => b.tenant.id.clone(),
        "event_id" => b.event.clone(),
        "contact_id" => contact.to_owned(),
        "provider_id" => b.provider.clone(),
        "id" if path.contains("/providers/") => b.provider.clone(),
        "id" if path.contains("/templates/") => b.template.clone(),
        "id" if path.contains("/api-keys/") => b.key.clone(),
        "id" if path.contains("/campaigns/") => campaign.to_owned(),
        "id" if path.contains("/tenants/") => b.tenant.id.clone(),
        "id" if path.contains("/contacts/") => contact.to_owned(),
        "id" if path.starts_with("/api/v1/events/{id}") => b.event.clone(),
        "id" if path.contains("/messages/") => herald::ids::MessageId::new().to_string(),
        "id" if path.contains("/suppressions/") => "email.0000".to_owned(),
        "id" | "guest_id" => herald::ids::GuestId::new().to_string(),
        "name" => "gdpr_notice".to_owned(),
        "version" => "1".to_owned(),
        "category" => "invitation".to_owned(),
        "channel" => "email".to_owned(),
        "run_id" => "run".to_owned(),
        other => other.to_owned(),
    }
}

/// Every operation of the OpenAPI document that takes an API key, called with tenant A's key and
/// B's ids (in the path, and as `tenant_id` where the operation takes one): nothing succeeds,
/// reads answer 404 (or 403 where A's role may not), and nothing of B's changes.
#[tokio::test]
async fn every_route_of_the_openapi_document_hides_other_tenants() {
    let stack = stack().await;
    let a = populate(&stack, "Alpha").await;
    let b = populate(&stack, "Bravo").await;
    let email = unique_email("bravo");
    import_guests(
        &stack,
        &b.tenant.admin,
        &b.event,
        vec![json!({"first_name": "B", "email": email})],
    )
    .await;
    let guests = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/guests", b.event),
        &b.tenant.admin,
        None,
        200,
    )
    .await;
    let contact = text(&items(&guests)[0], "contact_id");
    let campaign = id(&expect(
        &stack,
        Method::POST,
        CAMPAIGNS,
        &b.tenant.admin,
        Some(
            json!({"event_id": b.event, "name": "B's", "category": "invitation",
            "channels": ["email"], "audience": {"kind": "all"}}),
        ),
        201,
    )
    .await);
    let before = snapshot(&stack, &b).await;
    let table_before = scan(&stack).await;
    let doc = stack
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    let mut calls = 0;
    let mut wrong = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            // Routes without an API key (provider webhooks, guests' preference links) have
            // their own credentials and their own isolation tests.
            if op.get("security").is_none() {
                continue;
            }
            let mut uri = path.clone();
            let mut takes_tenant = false;
            let mut takes_event = false;
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                match p["in"].as_str() {
                    Some("path") => {
                        uri = uri.replace(
                            &format!("{{{name}}}"),
                            &id_for(name, path, &b, &contact, &campaign),
                        );
                    }
                    Some("query") if name == "tenant_id" => takes_tenant = true,
                    Some("query") if name == "event_id" => takes_event = true,
                    _ => {}
                }
            }
            let mut query = Vec::new();
            if takes_tenant {
                query.push(format!("tenant_id={}", b.tenant.id));
            }
            if takes_event {
                query.push(format!("event_id={}", b.event));
            }
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let method: Method = method.to_uppercase().parse().expect("a method");
            let has_body = op.get("requestBody").is_some();
            let body = has_body.then(|| json!({}));
            let answer = stack
                .call(method.clone(), &uri, Some(&a.tenant.admin), body)
                .await;
            calls += 1;
            let status = answer.status.as_u16();
            let fine = if (method == Method::GET || method == Method::DELETE) && !has_body {
                // A tenant-wide read with only A's own scope may answer A's own data.
                matches!(status, 404 | 403)
                    || (status == 200 && !takes_tenant && !takes_event && !path.contains('{'))
            } else {
                matches!(status, 400 | 403 | 404 | 405 | 415 | 422)
            };
            let leaked = answer.body.to_string().contains(&b.tenant.id)
                || answer.body.to_string().contains(&b.event);
            if !fine || leaked {
                wrong.push(format!("{method} {uri} -> {status} {}", answer.body));
            }
        }
    }
    assert!(calls > 80, "{calls} operations");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(scan(&stack).await, table_before, "B's ids wrote something");
    assert_eq!(snapshot(&stack, &b).await, before);
}
