//! What a job's provider calls came to: counts for the metrics, the sent notice, when closed
//! providers reopen.

use super::*;

/// What a job's provider calls came to.
#[derive(Debug, Default)]
pub(crate) struct SendReport {
    /// Messages by (channel, provider kind, sent or failed).
    pub(crate) counts: BTreeMap<(Channel, &'static str, bool), u64>,
    pub(crate) notice: Vec<SentEntry>,
    /// The earliest a provider this job found closed (circuit open, or held for a 429's
    /// `Retry-After`) takes messages again: the job comes back no earlier.
    pub(crate) reopens: Option<chrono::DateTime<Utc>>,
    /// AWS failed the gate or a provider's credentials: nothing more is sent in this job (what
    /// was sent is recorded), the rest waits for its retry.
    pub(crate) aws_failed: bool,
}

impl SendReport {
    pub(crate) fn hold(&mut self, until: chrono::DateTime<Utc>) {
        self.reopens = Some(self.reopens.map_or(until, |r| r.min(until)));
    }

    pub(crate) fn add(&mut self, job: &Job<'_>, snapshot: &Snapshot, records: &[Message]) {
        for r in records {
            let (Some(channel), Some(pid)) = (r.channel, r.provider_id) else {
                continue;
            };
            let kind = snapshot
                .content
                .config
                .providers_for(channel)
                .and_then(|p| p.providers.iter().find(|p| p.id == pid))
                .map(|p| p.kind);
            let sent = r.status == MessageStatus::Sent;
            if matches!(r.status, MessageStatus::Sent | MessageStatus::Failed) {
                let name = kind.map(ProviderKind::as_str).unwrap_or("unknown");
                *self.counts.entry((channel, name, sent)).or_default() += 1;
            }
            // SES publishes its own Send events; every other provider is noted here.
            if sent
                && kind.is_some_and(|k| k != ProviderKind::Ses)
                && let Some(id) = &r.provider_message_id
            {
                self.notice.push(SentEntry {
                    tenant: job.tenant,
                    message: r.id,
                    event: Some(job.event),
                    campaign: job.campaign,
                    provider: pid,
                    channel,
                    provider_message_id: id.clone(),
                    at: r.sent_at.unwrap_or_else(Utc::now),
                    expires: r.ttl,
                });
            }
        }
    }

    /// CloudWatch metrics (EMF): messages sent and failed by channel and provider kind, and the
    /// job's duration.
    pub(crate) fn emit(&self, took: Duration) {
        for ((channel, provider, sent), n) in &self.counts {
            let name = if *sent {
                "MessagesSent"
            } else {
                "MessagesFailed"
            };
            herald::telemetry::emit(
                &[
                    ("Function", "sender"),
                    ("Channel", channel.as_str()),
                    ("Provider", provider),
                ],
                &[(name, *n as f64, "Count")],
            );
        }
        if !self.counts.is_empty() {
            herald::telemetry::emit(
                &[("Function", "sender")],
                &[(
                    "DeliveryJobDuration",
                    took.as_secs_f64() * 1000.0,
                    "Milliseconds",
                )],
            );
        }
    }
}
