//! Decode: every SQS record of a batch read into reports ([`Tracked`]), with what the later
//! stages need of the record itself; what cannot be used is logged by SQS message id and
//! counted by kind.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use herald::tracking::{Tracked, Unusable, parse_record};

/// The SQS record a report came in.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// SQS's message id (what a partial batch response names).
    pub id: String,
    /// For changing the record's visibility while a report is held.
    pub receipt_handle: Option<String>,
    /// When SQS received the record (ms since the epoch), from `SentTimestamp`.
    pub sent_at_ms: Option<i64>,
    /// How many times SQS has delivered it (1 the first time).
    pub receives: u32,
}

impl Source {
    fn of(record: &SqsMessage) -> Self {
        Self {
            id: record.message_id.clone().unwrap_or_default(),
            receipt_handle: record.receipt_handle.clone(),
            sent_at_ms: record
                .attributes
                .get("SentTimestamp")
                .and_then(|v| v.parse().ok()),
            receives: herald::batch::receive_count(record),
        }
    }
}

/// A batch read: the usable reports with the index of their record in `sources`, and the
/// count of each kind of unusable record (already logged).
#[derive(Debug, Default)]
pub struct Parsed {
    pub sources: Vec<Source>,
    pub reports: Vec<(usize, Tracked)>,
    pub unusable: BTreeMap<&'static str, u64>,
}

/// The metric of an unusable kind.
pub fn unusable_metric(kind: &str) -> &'static str {
    match kind {
        "malformed" => "EventsMalformed",
        "untagged" => "EventsUntagged",
        _ => "EventsUnknown",
    }
}

/// Reads every record of a batch; logs (by SQS message id) what cannot be used.
pub fn parse_batch(event: &SqsEvent) -> Parsed {
    let mut out = Parsed::default();
    for record in &event.records {
        let source = Source::of(record);
        match parse_record(record.body.as_deref().unwrap_or_default()) {
            Ok(reports) => {
                let at = out.sources.len();
                out.reports.extend(reports.into_iter().map(|r| (at, r)));
            }
            Err(why) => {
                let kind = match &why {
                    Unusable::Malformed(_) => "malformed",
                    Unusable::Untagged => "untagged",
                    Unusable::Unknown(_) | Unusable::Ignored(_) => "unknown",
                };
                *out.unusable.entry(kind).or_default() += 1;
                if kind == "malformed" {
                    tracing::warn!(message_id = %source.id, reason = %why, "skipping a provider event that does not parse");
                } else {
                    tracing::info!(message_id = %source.id, reason = %why, "skipping a provider event");
                }
            }
        }
        out.sources.push(source);
    }
    out
}
