//! The counters new events add to, per scope item (tenant, event, campaign, minute).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Timelike as _, Utc};

use super::{Tracked, repeats};
use crate::domain::DeliveryEvent;
use crate::ids::{CampaignId, EventId, TenantId};

/// The counters a set of new events adds to, per scope item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Tenant(TenantId),
    Event(TenantId, EventId),
    Campaign(TenantId, CampaignId),
    /// The tenant's events in one minute (`YYYYMMDDHHMM`, UTC), for the realtime view.
    Minute(TenantId, i64),
}

impl Scope {
    pub fn tenant(&self) -> TenantId {
        match self {
            Self::Tenant(t) | Self::Event(t, _) | Self::Campaign(t, _) | Self::Minute(t, _) => *t,
        }
    }
}

/// Increments and link URLs for one scope item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub add: BTreeMap<String, i64>,
    /// Link digests to their URL (set once).
    pub links: BTreeMap<String, String>,
}

impl Delta {
    fn bump(&mut self, name: String) {
        *self.add.entry(name).or_default() += 1;
    }
}

/// The metric an event counts as (besides the `_unique` ones of repeating kinds).
pub fn metric(kind: DeliveryEvent) -> &'static str {
    kind.as_str()
}

/// The short digest that names a link in counters.
pub fn link_key(url: &str) -> String {
    crate::digest::sha256_hex(url)[..12].to_owned()
}

/// The minute bucket of a time, as `YYYYMMDDHHMM`.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.format("%Y%m%d%H%M")
        .to_string()
        .parse()
        .unwrap_or_default()
}

/// Adds new events to per-scope deltas. `unique` marks the first event of its kind for its
/// message (for repeating kinds). Names: `n#{metric}` in total, `c#{channel}#{metric}` by
/// channel, `p#{provider}#{metric}` by provider, `h#{HH}#{metric}` by the hour (UTC) the
/// message was sent (sent and unique opens), `l#{link}` clicks per link.
pub fn tally<'a>(events: impl IntoIterator<Item = (&'a Tracked, bool)>) -> HashMap<Scope, Delta> {
    let mut out: HashMap<Scope, Delta> = HashMap::new();
    for (e, unique) in events {
        let mut names = vec![metric(e.kind).to_owned()];
        if repeats(e.kind) && unique {
            names.push(format!("{}_unique", metric(e.kind)));
        }
        if e.kind == DeliveryEvent::Bounced && !e.suppress.is_empty() {
            names.push("bounced_permanent".to_owned());
        }
        let mut scopes = vec![Scope::Tenant(e.tenant)];
        if let Some(ev) = e.event {
            scopes.push(Scope::Event(e.tenant, ev));
        }
        if let Some(c) = e.campaign {
            scopes.push(Scope::Campaign(e.tenant, c));
        }
        for scope in scopes {
            let d = out.entry(scope).or_default();
            for name in &names {
                d.bump(format!("n#{name}"));
                d.bump(format!("c#{}#{name}", e.channel));
                if let Some(p) = e.provider {
                    d.bump(format!("p#{p}#{name}"));
                }
            }
            if matches!(scope, Scope::Event(..)) {
                let hour = match e.kind {
                    DeliveryEvent::Sent => Some((e.sent_at.unwrap_or(e.at), "sent")),
                    DeliveryEvent::Opened if unique => e.sent_at.map(|s| (s, "opened_unique")),
                    _ => None,
                };
                if let Some((at, name)) = hour {
                    d.bump(format!("h#{:02}#{name}", at.hour()));
                }
            }
            if let (Some(url), false) = (&e.link, matches!(scope, Scope::Tenant(_))) {
                let key = link_key(url);
                d.bump(format!("l#{key}"));
                d.links.insert(key, url.clone());
            }
        }
        let minute = out
            .entry(Scope::Minute(e.tenant, minute_of(e.at)))
            .or_default();
        for name in &names {
            minute.bump(format!("n#{name}"));
            minute.bump(format!("c#{}#{name}", e.channel));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;
    use crate::tracking::parse_ses;
    use crate::tracking::ses::tests::{ses, tags};

    #[test]
    fn tallies_count_uniques_links_and_hours() {
        let (tenant, message) = (TenantId::new(), MessageId::new());
        let event = EventId::new();
        let mut click = parse_ses(&ses(
            "Click",
            ("click", serde_json::json!({"timestamp": "2026-11-21T11:00:00Z", "link": "https://x.example/a"})),
            tags(tenant, message),
        ))
        .expect("parses");
        click.event = Some(event);
        let d = tally([(&click, true), (&click, false)]);
        let ev = &d[&Scope::Event(tenant, event)];
        assert_eq!(ev.add["n#clicked"], 2);
        assert_eq!(ev.add["n#clicked_unique"], 1);
        assert_eq!(ev.add[&format!("l#{}", link_key("https://x.example/a"))], 2);
        assert!(
            !d[&Scope::Tenant(tenant)]
                .add
                .keys()
                .any(|k| k.starts_with("l#"))
        );
        assert_eq!(d[&Scope::Minute(tenant, 202611211100)].add["n#clicked"], 2);
    }
}
