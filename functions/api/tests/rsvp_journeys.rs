//! Journeys by RSVP on the local stack: a step to those who have not answered and a step to
//! those coming, fired by the local stack's schedules, each reaching only its audience as it
//! stands when the step sends.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// Journey steps by RSVP: "remind those who have not answered" and "logistics only to those
/// coming", on an event an hour away whose steps are due 20 and 40 seconds from now; a guest
/// who declines between the two leaves the attendees' step.
#[tokio::test]
async fn journey_steps_follow_the_answers() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    template(&stack, key, "", "reminder", "email", "remind").await;
    template(&stack, key, "", "logistics", "email", "logistics").await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(1))
        .with_timezone(&chrono_tz::Europe::Paris)
        .naive_local();
    let local = |at: chrono::NaiveDateTime| at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let event = id(&expect(
        &stack,
        Method::POST,
        "/api/v1/events",
        key,
        Some(json!({"name": "Soon", "starts_at": local(start),
            "ends_at": local(start + chrono::Duration::hours(4)),
            "time_zone": "Europe/Paris", "default_locale": "en-GB"})),
        201,
    )
    .await);
    let step = |key: &str, category: &str, offset: &str, statuses: Value| {
        json!({"key": key, "category": category, "channels": ["email"], "offset": offset,
            "audience": {"kind": "rsvp", "statuses": statuses}})
    };
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/journey",
        key,
        Some(json!({"version": 0, "steps": [
            step("remind", "reminder", "-PT59M40S", json!(["no_response"])),
            step("logistics", "logistics", "-PT59M20S", json!(["accepted"])),
        ]})),
        200,
    )
    .await;
    let emails: Vec<String> = ["coming", "declined", "silent", "changes"]
        .iter()
        .map(|n| unique_email(n))
        .collect();
    import_guests(
        &stack,
        key,
        &event,
        emails
            .iter()
            .map(|e| json!({"first_name": "G", "email": e}))
            .collect(),
    )
    .await;
    let answer = |email: &str, status: &str| {
        let (stack, event, email, status) =
            (&stack, event.clone(), email.to_owned(), status.to_owned());
        async move {
            let guest = text(&guest_of(stack, key, &event, &email).await, "id");
            let body = match status.as_str() {
                "declined" => json!({"status": "declined"}),
                _ => json!({"status": status, "party_size": 1}),
            };
            expect(
                stack,
                Method::PUT,
                &format!("/api/v1/events/{event}/guests/{guest}/rsvp"),
                key,
                Some(body),
                200,
            )
            .await;
        }
    };
    answer(&emails[0], "accepted").await;
    answer(&emails[1], "declined").await;
    answer(&emails[3], "accepted").await;
    let run = complete_wizard(&stack, key, &event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // The reminder: only the guest who has not answered.
    let got = |address: String, marker: &'static str| async move {
        sent_mail(&address)
            .await
            .iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.starts_with(marker)))
            .count()
    };
    for _ in 0..120 {
        if got(emails[2].clone(), "remind").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(got(emails[2].clone(), "remind").await, 1);
    for e in [&emails[0], &emails[1], &emails[3]] {
        assert_eq!(got(e.clone(), "remind").await, 0, "{e}");
    }
    // One of those coming declines before the logistics step: it leaves them out.
    answer(&emails[3], "declined").await;
    for _ in 0..120 {
        if got(emails[0].clone(), "logistics").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(got(emails[0].clone(), "logistics").await, 1);
    for e in [&emails[1], &emails[2], &emails[3]] {
        assert_eq!(got(e.clone(), "logistics").await, 0, "{e}");
    }
}
