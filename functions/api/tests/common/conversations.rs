//! Conversation helpers: polling (bounded) the tenant's conversations and a thread until the
//! inbound function has recorded what a test delivered, and the inbound bucket's objects.

use std::time::Duration;

use axum::http::Method;
use serde_json::Value;

use super::*;

pub const CONVERSATIONS: &str = "/api/v1/communication/conversations";

/// Polls (bounded) until the tenant's conversations matching `query` number `n`.
pub async fn conversations(stack: &TestStack, key: &str, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..120 {
        let page = expect(
            stack,
            Method::GET,
            &format!("{CONVERSATIONS}{query}"),
            key,
            None,
            200,
        )
        .await;
        let found = items(&page);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("fewer than {n} conversations for {query} after 30 s");
}

/// Polls (bounded) a conversation until its thread holds `n` messages; the thread, newest first.
pub async fn thread(stack: &TestStack, key: &str, id: &str, n: usize) -> Vec<Value> {
    for _ in 0..120 {
        let view = expect(
            stack,
            Method::GET,
            &format!("{CONVERSATIONS}/{id}"),
            key,
            None,
            200,
        )
        .await;
        let messages = view["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() >= n && messages.iter().all(|m| m["delivery"] != "queued") {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("conversation {id} did not reach {n} settled messages in 30 s");
}

/// The keys of every object in the stack's inbound bucket.
pub async fn bucket_keys(stack: &TestStack) -> Vec<String> {
    let bucket = stack
        .state
        .queues
        .inbound_bucket
        .clone()
        .expect("the inbound bucket");
    herald::aws::s3_client(&stack.sdk)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("ListObjectsV2")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}
