//! SendMessageBatch requests SQS cannot refuse whole: at most 10 entries, each entry's id its
//! position in the request (so ids never repeat), and at most [`MAX_BATCH_BYTES`] of bodies
//! and attributes in one request (a message larger than that goes alone). SQS refuses a
//! request whole for repeated ids (`BatchEntryIdsNotDistinct`), more than 10 entries
//! (`TooManyEntriesInBatchRequest`), none (`EmptyBatchRequest`) or too many bytes in all
//! (`BatchRequestTooLong`).

use std::ops::Range;

use anyhow::Context as _;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

/// Entries per SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Bytes of bodies and attributes per SendMessageBatch: 256 KiB, the limit of queues whose
/// maximum message size was never raised (newer queues take 1 MiB; this holds on both).
pub const MAX_BATCH_BYTES: usize = 262_144;

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub body: String,
    pub delay_seconds: Option<i32>,
    /// String attributes (name, value).
    pub attributes: Vec<(String, String)>,
}

impl Outgoing {
    pub fn new(body: String) -> Self {
        Self {
            body,
            ..Self::default()
        }
    }

    pub fn delayed(mut self, seconds: i32) -> Self {
        self.delay_seconds = Some(seconds);
        self
    }

    /// What SQS counts of it: the body, and each attribute's name, type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(n, v)| n.len() + "String".len() + v.len())
                .sum::<usize>()
    }
}

/// The requests `sizes` go in, as ranges of positions: in order, at most 10 a request and at
/// most [`MAX_BATCH_BYTES`] each (a message of more goes alone).
pub fn requests_of(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, size) in sizes.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || (i > start && bytes + size > MAX_BATCH_BYTES);
        if full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// What SQS took: the positions (in the input) of the messages sent and of those refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub sent: Vec<usize>,
    pub refused: Vec<usize>,
}

/// Sends `messages` to `queue_url` in as few SendMessageBatch requests as the limits allow.
/// `Err` when a request fails whole; entries SQS refuses one by one are in `refused`.
pub async fn send_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[Outgoing],
) -> anyhow::Result<Sent> {
    let sizes: Vec<usize> = messages.iter().map(Outgoing::size).collect();
    let mut outcome = Sent::default();
    for range in requests_of(&sizes) {
        let start = range.start;
        let entries = messages[range]
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&m.body)
                    .set_delay_seconds(m.delay_seconds);
                for (name, value) in &m.attributes {
                    entry = entry.message_attributes(
                        name,
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(value)
                            .build()?,
                    );
                }
                Ok(entry.build()?)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let out = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("SQS SendMessageBatch")?;
        let at = |id: &str| id.parse::<usize>().ok().map(|i| start + i);
        outcome
            .sent
            .extend(out.successful.iter().filter_map(|ok| at(&ok.id)));
        outcome
            .refused
            .extend(out.failed.iter().filter_map(|f| at(&f.id)));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ten_to_a_request_and_no_more_bytes_than_sqs_takes() {
        assert_eq!(requests_of(&[1; 25]), vec![0..10, 10..20, 20..25]);
        assert_eq!(requests_of(&[]), Vec::<Range<usize>>::new());
        let big = MAX_BATCH_BYTES / 2;
        assert_eq!(requests_of(&[big, big, 1]), vec![0..2, 2..3]);
        // A message larger than a request goes alone.
        assert_eq!(
            requests_of(&[1, MAX_BATCH_BYTES + 5, 1]),
            vec![0..1, 1..2, 2..3]
        );
    }

    proptest! {
        #[test]
        fn every_message_once_in_order_within_the_limits(
            sizes in proptest::collection::vec(0usize..200_000, 0..60)
        ) {
            let requests = requests_of(&sizes);
            let mut next = 0;
            for r in &requests {
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() && r.len() <= MAX_BATCH_ENTRIES);
                let bytes: usize = sizes[r.clone()].iter().sum();
                prop_assert!(r.len() == 1 || bytes <= MAX_BATCH_BYTES);
                next = r.end;
            }
            prop_assert_eq!(next, sizes.len());
        }
    }
}
