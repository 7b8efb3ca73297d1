//! SQS batches with partial batch responses: every record is handled concurrently, and the
//! answer lists the records to deliver again (those whose handler said so, or panicked).

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// Runs `handler` on every record at once; a record is done when its handler answers true.
pub async fn each_record<F, Fut>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        pending.push(id.clone());
        let done = handler(message);
        tasks.spawn(async move { (id, done.await) });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((id, true)) => pending.retain(|p| *p != id),
            Ok((_, false)) => {}
            Err(e) => {
                tracing::error!(error = %e, "a record's task panicked; it will be delivered again")
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    for id in pending {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The message attribute that says why a function moved a message to its dead-letter queue.
pub const DEAD_LETTER_REASON: &str = "herald_reason";

/// How many times SQS has delivered this record (1 on the first delivery).
/// Whether a record came from the queue at `queue_url` (its ARN ends with the queue's name).
pub fn from_queue(message: &SqsMessage, queue_url: &str) -> bool {
    let name = queue_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    !name.is_empty()
        && message
            .event_source_arn
            .as_deref()
            .is_some_and(|arn| arn.rsplit(':').next() == Some(name))
}

pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m
    }

    #[tokio::test]
    async fn only_unfinished_records_are_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![record("a"), record("b"), record("c")];
        let response = each_record(event, |m| async move {
            match m.message_id.as_deref() {
                Some("b") => false,
                Some("c") => panic!("boom"),
                _ => true,
            }
        })
        .await;
        let mut ids: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        ids.sort();
        assert_eq!(ids, ["b", "c"]);
    }
}
