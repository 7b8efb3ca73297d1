//! Queue work: the dead-letter queue, a job's retry delay, continuing a job in a fresh copy,
//! and queuing jobs (SendMessageBatch within SQS's limits). A job taken from the transactional
//! queue stays there: its retries, continuations and poison copies go to that queue and its
//! dead-letter queue, never behind the campaigns on the sender queue.

use super::*;

impl Sender {
    /// The queue a message came from (the transactional queue, or the sender's own) and its
    /// dead-letter queue.
    fn source_of(&self, message: &SqsMessage) -> (&str, Option<&str>) {
        match &self.transactional {
            Some(t) if herald::batch::from_queue(message, &t.url) => {
                (&t.url, t.dead_letter_url.as_deref())
            }
            _ => (&self.queue.url, self.queue.dead_letter_url.as_deref()),
        }
    }

    /// Moves a message to the dead-letter queue with the reason; true when it is there (so it
    /// can be deleted here). Without a dead-letter queue it fails, and SQS's redrive policy
    /// moves it after its last delivery.
    pub(crate) async fn dead_letter(&self, message: &SqsMessage, reason: &str) -> bool {
        let Some(dlq) = self.source_of(message).1 else {
            return false;
        };
        let moved = async {
            let reason = aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(match reason.trim() {
                    // SQS refuses an empty attribute value.
                    "" => "no reason given".to_owned(),
                    r => r.chars().take(1000).collect::<String>(),
                })
                .build()?;
            self.queue
                .sqs
                .send_message()
                .queue_url(dlq)
                .message_body(message.body.clone().unwrap_or_default())
                .message_attributes(herald::batch::DEAD_LETTER_REASON, reason)
                .send()
                .await?;
            anyhow::Ok(())
        };
        match moved.await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = ?e, "moving a message to the dead-letter queue failed; it will be delivered again");
                false
            }
        }
    }

    /// Seconds until a held claim would be stale, and a little more.
    pub(crate) fn held_delay(&self) -> i32 {
        i32::try_from(self.settle_seconds + 5)
            .unwrap_or(i32::MAX)
            .min(12 * 3600)
    }

    /// The job comes back after `seconds` (not after the queue's whole visibility timeout).
    pub(crate) async fn retry_after(&self, message: &SqsMessage, seconds: i32) {
        let Some(handle) = message.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self
            .queue
            .sqs
            .change_message_visibility()
            .queue_url(self.source_of(message).0)
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "setting the retry delay failed; the job comes back after the visibility timeout");
        }
    }

    /// Queues a fresh copy of the job, delayed, and reports this one done (true); false when
    /// the copy could not be queued (then this one comes back instead).
    pub(crate) async fn continue_later(&self, message: &SqsMessage) -> bool {
        let sent = self
            .queue
            .sqs
            .send_message()
            .queue_url(self.source_of(message).0)
            .message_body(message.body.clone().unwrap_or_default())
            .delay_seconds(CONTINUE_DELAY_SECONDS)
            .send()
            .await;
        match sent {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "queuing the rest of a job failed; it comes back instead");
                self.retry_after(message, CONTINUE_DELAY_SECONDS).await;
                false
            }
        }
    }

    /// Queues one job to come back after `seconds`.
    pub(crate) async fn enqueue_delayed(
        &self,
        job: &SenderJob,
        seconds: i32,
    ) -> anyhow::Result<()> {
        self.queue
            .sqs
            .send_message()
            .queue_url(&self.queue.url)
            .message_body(serde_json::to_string(job)?)
            .delay_seconds(seconds)
            .send()
            .await?;
        Ok(())
    }

    pub(crate) async fn enqueue(&self, jobs: &[SenderJob]) -> anyhow::Result<()> {
        let messages = jobs
            .iter()
            .map(|job| Ok(Outgoing::new(serde_json::to_string(job)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sent =
            herald::aws::sqs_batch::send_all(&self.queue.sqs, &self.queue.url, &messages).await?;
        if !sent.refused.is_empty() {
            anyhow::bail!("SQS refused {} of {} jobs", sent.refused.len(), jobs.len());
        }
        Ok(())
    }
}
