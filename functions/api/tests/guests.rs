//! Guests: JSON and CSV imports with row-level errors, contacts shared across events, updates
//! instead of duplicates, paging across shards, and tenant isolation.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use serde_json::{Value, json};

async fn import_csv(stack: &TestStack, key: &str, event: &str, csv: String) -> Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/events/{event}/guests"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/csv; charset=utf-8")
        .body(Body::from(csv))
        .expect("request");
    stack.send(request).await
}

#[tokio::test]
async fn a_json_import_keeps_good_rows_and_reports_bad_ones_by_row() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let e = event(&stack, &t.admin, "", "Gala").await;
    let uri = format!("/api/v1/events/{e}/guests");
    let body = json!({"guests": [
        {"name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+447700900001", "tags": ["vip"],
         "fields": {"table": 7}, "locale": "en-GB", "time_zone": "Europe/London", "preferred_channel": "sms"},
        {"first_name": "Bob", "email": "not-an-address"},
        {"first_name": "Cy", "phone": "+447700900003", "preferred_channel": "email"},
        {"first_name": "Di", "email": "ada@example.com"},
        {"first_name": 5, "email": "e@example.com"},
        {"first_name": "Flo", "phone": "+447700900006"},
    ]});
    let result = expect(&stack, Method::POST, &uri, &t.admin, Some(body), 200).await;
    assert_eq!(
        (result["imported"].as_u64(), result["created"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(result["rejected"], 4);
    let errors: Vec<(u64, String)> = result["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap_or(0), text(e, "field")))
        .collect();
    assert_eq!(
        errors,
        [
            (2, "email".to_owned()),
            (3, "preferred_channel".to_owned()),
            (4, "email".to_owned()),
            (5, "first_name".to_owned()),
        ]
    );
    assert!(text(&result["errors"][2], "message").contains("row 1"));

    let page = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
    let guests = items(&page);
    assert_eq!(guests.len(), 2);
    let ada = guests
        .iter()
        .find(|g| g["first_name"] == "Ada")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["last_name"], "Lovelace");
    assert_eq!(ada["fields"]["table"], 7);
    assert_eq!(ada["preferred_channel"], "sms");
    let one = expect(
        &stack,
        Method::GET,
        &format!("{uri}/{}", text(&ada, "id")),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(one, ada);

    // Importing the same person again updates the guest; the contact is shared by another event.
    let again = expect(
        &stack,
        Method::POST,
        &uri,
        &t.admin,
        Some(json!({"guests": [{"first_name": "Augusta", "email": "ada@example.com"}]})),
        200,
    )
    .await;
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(1))
    );
    let other = event(&stack, &t.admin, "", "Dinner").await;
    let there = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{other}/guests"),
        &t.admin,
        Some(json!({"guests": [{"first_name": "A", "phone": "+447700900001"}]})),
        200,
    )
    .await;
    assert_eq!(there["contacts_created"], 0, "matched by phone: {there}");
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{other}/guests"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["contact_id"], ada["contact_id"]);
    let contact = expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/communication/contacts/{}",
            text(&ada, "contact_id")
        ),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(contact["contact"]["email"], "ada@example.com");

    // Nothing good at all: a 422 naming rows.
    let bad = stack
        .call(
            Method::POST,
            &uri,
            Some(&t.admin),
            Some(json!({"guests": [{"first_name": "X"}, {"email": "nope"}]})),
        )
        .await;
    assert_problem(&bad, 422, "no good row");
    assert_eq!(first_field(&bad), "rows[1].email");
    let empty = stack
        .call(
            Method::POST,
            &uri,
            Some(&t.admin),
            Some(json!({"guests": []})),
        )
        .await;
    assert_problem(&empty, 422, "no rows");
}

#[tokio::test]
async fn a_csv_import_reports_lines_and_pages_come_back_whole() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let e = event(&stack, &t.admin, "", "Gala").await;
    let mut csv = String::from("first_name,last_name,email,phone,tags,Dietary\n");
    for i in 0..250 {
        csv.push_str(&format!(
            "Guest,{i},guest{i}@example.com,,vip;table-{},vegan\n",
            i % 10
        ));
    }
    csv.push_str("Broken,Row,broken,,,\n");
    let answer = import_csv(&stack, &t.admin, &e, csv).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.body);
    assert_eq!(answer.body["imported"], 250);
    assert_eq!(answer.body["errors"][0]["row"], 251);
    assert_eq!(answer.body["errors"][0]["line"], 252);

    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/events/{e}/guests?limit=100&cursor={c}"),
            None => format!("/api/v1/events/{e}/guests?limit=100"),
        };
        let page = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
        for g in items(&page) {
            assert_eq!(g["fields"]["dietary"], "vegan");
            seen.insert(text(&g, "email"));
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 250, "every guest once across the pages");

    let malformed = import_csv(&stack, &t.admin, &e, "name\nAda\n".into()).await;
    assert_problem(&malformed, 422, "a CSV with no address column");
    let mut big = String::from("email\n");
    for i in 0..10_001 {
        big.push_str(&format!("g{i}@example.com\n"));
    }
    let too_many = import_csv(&stack, &t.admin, &e, big).await;
    assert_problem(&too_many, 422, "over 10,000 rows");
    assert!(text(&too_many.body, "detail").contains("10000"));
    let bad_cursor = stack
        .call(
            Method::GET,
            &format!("/api/v1/events/{e}/guests?cursor=99"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_problem(&bad_cursor, 400, "a made-up cursor");
}

#[tokio::test]
async fn guests_are_invisible_to_other_tenants() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let other = tenant(&stack, "Other").await;
    let e = event(&stack, &t.admin, "", "Gala").await;
    let result = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{e}/guests"),
        &t.admin,
        Some(json!({"guests": [{"first_name": "Ada", "email": "ada@example.com"}]})),
        200,
    )
    .await;
    assert_eq!(result["imported"], 1);
    let page = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{e}/guests"),
        &t.admin,
        None,
        200,
    )
    .await;
    let guest: Value = items(&page)[0].clone();
    let gid = text(&guest, "id");
    let cid = text(&guest, "contact_id");
    let requests = vec![
        (
            Method::POST,
            format!("/api/v1/events/{e}/guests"),
            Some(json!({"guests": [{"email": "x@example.com"}]})),
        ),
        (Method::GET, format!("/api/v1/events/{e}/guests"), None),
        (
            Method::GET,
            format!("/api/v1/events/{e}/guests/{gid}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/events/{e}/guests/{gid}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/communication/contacts/{cid}"),
            None,
        ),
    ];
    assert_refused(&stack, &other.admin, 404, &requests).await;
    let (_, manager) = event_manager(
        &stack,
        &t.admin,
        &t.id,
        &[&event(&stack, &t.admin, "", "Else").await],
    )
    .await;
    assert_refused(&stack, &manager, 404, &requests[..4]).await;
    assert_refused(&stack, &manager, 403, &requests[4..]).await;
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/events/{e}/guests/{gid}"),
        &t.admin,
        None,
        204,
    )
    .await;
    let gone = stack
        .call(
            Method::GET,
            &format!("/api/v1/events/{e}/guests/{gid}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_problem(&gone, 404, "a deleted guest");
}

/// Two rows whose addresses belong to one existing contact (the email of one, the phone of
/// the other) would be one guest written twice in one batch (which DynamoDB refuses whole):
/// the later row is reported, the earlier kept.
#[tokio::test]
async fn rows_of_one_contact_by_different_addresses_are_one_guest() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let e = event(&stack, &t.admin, "", "Gala").await;
    let uri = format!("/api/v1/events/{e}/guests");
    let (email, phone) = (unique_email("both"), "+447700900777");
    let first = json!({"guests": [{"first_name": "Ada", "email": email, "phone": phone}]});
    expect(&stack, Method::POST, &uri, &t.admin, Some(first), 200).await;
    let again = json!({"guests": [
        {"first_name": "Ada by email", "email": email},
        {"first_name": "Ada by phone", "phone": phone},
    ]});
    let result = expect(&stack, Method::POST, &uri, &t.admin, Some(again), 200).await;
    assert_eq!(result["imported"], 1, "{result}");
    assert_eq!(result["updated"], 1, "{result}");
    assert_eq!(result["rejected"], 1, "{result}");
    assert_eq!(result["errors"][0]["row"], 2, "{result}");
    assert!(
        text(&result["errors"][0], "message").contains("row 1"),
        "{result}"
    );
    let listed = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
    let guests = items(&listed);
    assert_eq!(guests.len(), 1, "{listed}");
    assert_eq!(guests[0]["first_name"], "Ada by email");
}
