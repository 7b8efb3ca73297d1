//! Hold: a report nobody vouches for yet (no seal, no record of its message in the tenant) is
//! either early — its message's record is not written yet — or about a message Herald never
//! sent for that tenant. It is kept in the queue and looked at again: its record is reported
//! as a batch item failure and its visibility set so that SQS delivers it again after 1, then
//! 2, then 7 minutes. A report still unknown 10 minutes after SQS first received it (or at its
//! fourth delivery) is dropped: logged by ids and counted as orphaned (`EventsOrphaned`).
//! Nothing of it is counted, suppressed or recorded before a record vouches for it; once one
//! does, it counts exactly once (its identity makes the later deliveries duplicates).

use std::time::Duration;

use crate::decode::Source;

/// When held reports come back and when they are given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldPolicy {
    /// The visibility a held record gets after its first, second, ... delivery; past the
    /// last, it is orphaned.
    pub delays: Vec<Duration>,
    /// Orphaned this long after SQS first received the record, whatever the delivery count.
    pub limit: Duration,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        Self {
            delays: [60, 120, 420].map(Duration::from_secs).to_vec(),
            limit: Duration::from_secs(600),
        }
    }
}

/// What becomes of a record holding a report nobody vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered again after this long.
    Hold(Duration),
    /// Given up.
    Orphan,
}

impl HoldPolicy {
    pub fn fate(&self, source: &Source, now_ms: i64) -> Fate {
        let age_ms = source.sent_at_ms.map_or(0, |at| now_ms.saturating_sub(at));
        let too_old = u128::try_from(age_ms).unwrap_or(0) >= self.limit.as_millis();
        let index = usize::try_from(source.receives.max(1) - 1).unwrap_or(usize::MAX);
        match self.delays.get(index) {
            Some(delay) if !too_old => Fate::Hold(*delay),
            _ => Fate::Orphan,
        }
    }
}

/// Sets the visibility of held records (ChangeMessageVisibilityBatch, 10 a request; entry ids
/// are positions in the request, so unique by construction). Best effort: a record whose
/// visibility is not changed comes back after the queue's own visibility timeout.
pub async fn delay_records(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    held: &[(String, Duration)],
) -> usize {
    use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry as Entry;
    let mut changed = 0;
    for chunk in held.chunks(10) {
        let entries: Vec<Entry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (receipt, delay))| {
                Entry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(43_200))
                    .build()
                    .ok()
            })
            .collect();
        match sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => changed += out.successful().len(),
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "delaying held events failed; they come back after the queue's visibility timeout");
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(receives: u32, age_s: i64) -> Source {
        Source {
            receives,
            sent_at_ms: Some(1_000_000_000 - age_s * 1000),
            ..Source::default()
        }
    }

    #[test]
    fn held_after_each_delivery_then_orphaned() {
        let policy = HoldPolicy::default();
        let now = 1_000_000_000;
        assert_eq!(
            policy.fate(&source(1, 0), now),
            Fate::Hold(Duration::from_secs(60))
        );
        assert_eq!(
            policy.fate(&source(2, 61), now),
            Fate::Hold(Duration::from_secs(120))
        );
        assert_eq!(
            policy.fate(&source(3, 181), now),
            Fate::Hold(Duration::from_secs(420))
        );
        assert_eq!(policy.fate(&source(4, 601), now), Fate::Orphan);
        // Too old, however few deliveries (the queue's own timeout brought it back late).
        assert_eq!(policy.fate(&source(2, 600), now), Fate::Orphan);
        // No SentTimestamp: by deliveries alone.
        let mut unknown_age = source(1, 0);
        unknown_age.sent_at_ms = None;
        assert_eq!(
            policy.fate(&unknown_age, now),
            Fate::Hold(Duration::from_secs(60))
        );
    }
}
