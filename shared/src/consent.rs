//! Consent: what a contact agreed to receive, the ledger of every change to it, the quiet hours
//! and frequency cap the sender obeys, and the signed preference links in every message.
//!
//! A contact's preferences live on the contact item (the send path reads them with the
//! contact, in the BatchGetItem it already makes). Every change also writes a ledger entry in
//! the same transaction: when, from where (guest link, one-click, API, CRM, bounce, complaint),
//! the wording the guest saw, and the preferences before and after.
//!
//! Preference links carry a token: a compact binary claim (tenant, contact, message, category,
//! channel, language, expiry) and a 128-bit HMAC-SHA256 tag under the tenant's own key, in
//! base64url. No login: whoever holds the link of a message may manage that contact's
//! preferences until the link expires, the way every unsubscribe link works.

use std::collections::BTreeSet;

use aws_lc_rs::hmac;
use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{CapPeriod, Channel, ConsentSource, TemplateCategory, TimeZone};
use crate::guests::Contact;
use crate::ids::{ApiKeyId, ContactId, MessageId, TenantId};
use crate::providers::FieldIssue;

/// How long the preference links in a message work.
pub const LINK_DAYS: i64 = 180;
/// The wording versions of Herald's own consent surfaces, stored with every change they make.
pub const PAGE_WORDING: &str = "preference-page/2026-11";
pub const ONE_CLICK_WORDING: &str = "list-unsubscribe-one-click/2026-11";
/// The most messages a frequency cap may allow per period.
pub const MAX_CAP: u32 = 1000;

/// Opted out of one category on a channel, or (without a category) of the whole channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub channel: Channel,
    /// Absent: every category on this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<TemplateCategory>,
}

impl OptOut {
    /// The form kept on the contact: `{category}#{channel}`, `*#{channel}` for a whole channel.
    pub fn key(&self) -> String {
        match self.category {
            Some(c) => format!("{c}#{}", self.channel),
            None => format!("*#{}", self.channel),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        let (category, channel) = key.split_once('#')?;
        Some(Self {
            channel: channel.parse().ok()?,
            category: match category {
                "*" => None,
                c => Some(c.parse().ok()?),
            },
        })
    }
}

/// No campaign messages between `start` and `end` (local clock times in `time_zone`; an
/// overnight window such as 22:00–08:00 spans midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour clock.
    #[serde(with = "clock")]
    #[schema(value_type = String, example = "22:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: NaiveTime,
    /// `HH:MM`, 24-hour clock; not equal to `start`.
    #[serde(with = "clock")]
    #[schema(value_type = String, example = "08:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: NaiveTime,
    pub time_zone: TimeZone,
}

mod clock {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_clock(&text)
            .ok_or_else(|| serde::de::Error::custom("expected a time of day as HH:MM"))
    }
}

/// `HH:MM` (24-hour clock).
pub fn parse_clock(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    (text.len() == 5)
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
}

impl QuietHours {
    /// When quiet hours that hold at `now` end; `None` outside them.
    pub fn until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.time_zone.tz();
        let local = now.with_timezone(&tz);
        let time = local.time();
        let today = local.date_naive();
        let end_day = if self.start < self.end {
            (self.start <= time && time < self.end).then_some(today)?
        } else if time >= self.start {
            today.succ_opt()?
        } else if time < self.end {
            today
        } else {
            return None;
        };
        // A local end time that does not exist (a DST gap) is taken an hour later.
        let naive = end_day.and_time(self.end);
        let end = tz.from_local_datetime(&naive).earliest().or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })?;
        Some(end.with_timezone(&Utc))
    }
}

/// At most `max` campaign messages per calendar `per` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// 1 to 1,000.
    #[schema(minimum = 1, maximum = 1000)]
    pub max: u32,
    pub per: CapPeriod,
}

impl FrequencyCap {
    /// The period `now` falls in (`D20261122`, `W2026-47`: ISO weeks) and when its count may
    /// be forgotten.
    pub fn period(&self, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        match self.per {
            CapPeriod::Day => (
                format!("D{}", now.format("%Y%m%d")),
                now + Duration::days(2),
            ),
            CapPeriod::Week => {
                let week = now.iso_week();
                (
                    format!("W{}-{:02}", week.year(), week.week()),
                    now + Duration::days(8),
                )
            }
        }
    }
}

/// What a contact agreed to: the guest's preference page, the JSON API behind it and the
/// tenant's contact API all show and take this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Unsubscribed from everything, on every channel.
    #[serde(default)]
    pub unsubscribed: bool,
    /// Categories (or whole channels) opted out of; everything else is opted in. At most 33.
    #[serde(default)]
    #[schema(max_items = 33)]
    pub opt_outs: Vec<OptOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<FrequencyCap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

impl Preferences {
    pub fn of(contact: &Contact) -> Self {
        let mut opt_outs: Vec<OptOut> = contact
            .opt_outs
            .iter()
            .filter_map(|k| OptOut::from_key(k))
            .collect();
        opt_outs.sort();
        Self {
            unsubscribed: contact.unsubscribed,
            opt_outs,
            frequency_cap: contact.frequency_cap,
            quiet_hours: contact.quiet_hours,
        }
    }

    /// The problems with these preferences as input (empty when they are fine).
    pub fn issues(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if let Some(cap) = &self.frequency_cap
            && !(1..=MAX_CAP).contains(&cap.max)
        {
            issues.push(FieldIssue::new(
                "frequency_cap.max",
                format!("1 to {MAX_CAP} messages"),
            ));
        }
        if let Some(q) = &self.quiet_hours
            && q.start == q.end
        {
            issues.push(FieldIssue::new("quiet_hours.end", "must differ from start"));
        }
        if self.opt_outs.len() > TemplateCategory::ALL.len() * Channel::ALL.len() + 3 {
            issues.push(FieldIssue::new("opt_outs", "too many entries"));
        }
        issues
    }

    /// Writes these preferences onto the contact.
    pub fn apply(&self, contact: &mut Contact) {
        contact.unsubscribed = self.unsubscribed;
        contact.opt_outs = self.opt_outs.iter().map(OptOut::key).collect();
        contact.frequency_cap = self.frequency_cap;
        contact.quiet_hours = self.quiet_hours;
    }

    /// Whether `category` on `channel` is allowed.
    pub fn allows(&self, category: TemplateCategory, channel: Channel) -> bool {
        !self.unsubscribed
            && !self
                .opt_outs
                .iter()
                .any(|o| o.channel == channel && o.category.is_none_or(|c| c == category))
    }

    /// Whether every category on `channel` is refused (a STOP, or everything unsubscribed).
    pub fn channel_off(&self, channel: Channel) -> bool {
        self.unsubscribed
            || self.opt_outs.contains(&OptOut {
                channel,
                category: None,
            })
    }

    /// These preferences with the whole `channel` opted out (a STOP keyword).
    pub fn without_channel(&self, channel: Channel) -> Self {
        let mut next = self.clone();
        let entry = OptOut {
            channel,
            category: None,
        };
        if !self.channel_off(channel) {
            next.opt_outs.retain(|o| o.channel != channel);
            next.opt_outs.push(entry);
            next.opt_outs.sort();
        }
        next
    }

    /// These preferences with `channel` opted back in (a START keyword): its opt-outs go; an
    /// unsubscribe from everything stays for the other channels, as whole-channel opt-outs.
    pub fn with_channel(&self, channel: Channel) -> Self {
        let mut next = self.clone();
        if next.unsubscribed {
            next.unsubscribed = false;
            next.opt_outs = Channel::ALL
                .iter()
                .filter(|c| **c != channel)
                .map(|c| OptOut {
                    channel: *c,
                    category: None,
                })
                .collect();
        }
        next.opt_outs.retain(|o| o.channel != channel);
        next.opt_outs.sort();
        next
    }

    /// These preferences with `category` on `channel` opted out (one-click unsubscribe).
    pub fn without(&self, category: TemplateCategory, channel: Channel) -> Self {
        let mut next = self.clone();
        let entry = OptOut {
            channel,
            category: Some(category),
        };
        if self.allows(category, channel) && !next.opt_outs.contains(&entry) {
            next.opt_outs.push(entry);
            next.opt_outs.sort();
        }
        next
    }
}

/// What changed between two sets of preferences, one line per change
/// (`opted_out:reminder#email`, `opted_in:*#sms`, `unsubscribed:true`, `frequency_cap:3/week`,
/// `quiet_hours:22:00-08:00 Europe/Paris`, `quiet_hours:none`).
pub fn changes(before: &Preferences, after: &Preferences) -> Vec<String> {
    let mut out = Vec::new();
    if before.unsubscribed != after.unsubscribed {
        out.push(format!("unsubscribed:{}", after.unsubscribed));
    }
    let b: BTreeSet<String> = before.opt_outs.iter().map(OptOut::key).collect();
    let a: BTreeSet<String> = after.opt_outs.iter().map(OptOut::key).collect();
    out.extend(a.difference(&b).map(|k| format!("opted_out:{k}")));
    out.extend(b.difference(&a).map(|k| format!("opted_in:{k}")));
    if before.frequency_cap != after.frequency_cap {
        out.push(match after.frequency_cap {
            Some(c) => format!("frequency_cap:{}/{}", c.max, c.per),
            None => "frequency_cap:none".to_owned(),
        });
    }
    if before.quiet_hours != after.quiet_hours {
        out.push(match after.quiet_hours {
            Some(q) => format!(
                "quiet_hours:{}-{} {}",
                q.start.format("%H:%M"),
                q.end.format("%H:%M"),
                q.time_zone
            ),
            None => "quiet_hours:none".to_owned(),
        });
    }
    out
}

/// One entry of a contact's consent ledger. Never changed or deleted (except by erasure of the
/// contact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentRecord {
    /// Orders the ledger: the change's time and a ULID.
    pub id: String,
    pub contact_id: ContactId,
    pub at: DateTime<Utc>,
    pub source: ConsentSource,
    /// The version of the wording the guest saw (Herald's pages, or the one the API caller
    /// names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wording_version: Option<String>,
    pub changes: Vec<String>,
    pub before: Preferences,
    pub after: Preferences,
    /// The message whose link (or bounce, or complaint) made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// The API key that made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<ApiKeyId>,
}

impl ConsentRecord {
    pub fn new(
        contact: ContactId,
        source: ConsentSource,
        before: Preferences,
        after: Preferences,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: format!(
                "{:013}#{}",
                at.timestamp_millis().max(0),
                ulid::Ulid::generate()
            ),
            contact_id: contact,
            at,
            source,
            wording_version: None,
            changes: changes(&before, &after),
            before,
            after,
            message_id: None,
            key_id: None,
        }
    }
}

/// The languages the preference page is translated into; others get English.
pub const LANGUAGES: [&str; 4] = ["en", "fr", "de", "es"];

/// What a preference link grants: managing one contact's preferences, from one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub message: Option<MessageId>,
    /// The message's category and channel: what one-click unsubscribe opts out of.
    pub category: Option<TemplateCategory>,
    pub channel: Option<Channel>,
    /// An index into [`LANGUAGES`].
    pub language: u8,
    /// Unix seconds.
    pub expires: u32,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is not a Herald preference link")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

const TOKEN_VERSION: u8 = 1;
const TAG_BYTES: usize = 16;
const NONE: u8 = 0xff;
const BODY_BYTES: usize = 1 + 16 + 16 + 1 + 16 + 1 + 1 + 1 + 4;

impl LinkClaims {
    /// Claims for a message's links, valid [`LINK_DAYS`] from `now`.
    pub fn for_message(
        tenant: TenantId,
        contact: ContactId,
        message: Option<MessageId>,
        category: TemplateCategory,
        channel: Channel,
        locale: Option<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant,
            contact,
            message,
            category: Some(category),
            channel: Some(channel),
            language: language_index(locale),
            expires: expiry(now, LINK_DAYS),
        }
    }

    fn body(&self) -> [u8; BODY_BYTES] {
        let mut out = [0u8; BODY_BYTES];
        out[0] = TOKEN_VERSION;
        out[1..17].copy_from_slice(&self.tenant.to_bytes());
        out[17..33].copy_from_slice(&self.contact.to_bytes());
        out[33] = u8::from(self.message.is_some());
        out[34..50].copy_from_slice(&self.message.map(MessageId::to_bytes).unwrap_or([0; 16]));
        out[50] = self
            .category
            .and_then(|c| TemplateCategory::ALL.iter().position(|x| *x == c))
            .map_or(NONE, |i| i as u8);
        out[51] = self
            .channel
            .and_then(|c| Channel::ALL.iter().position(|x| *x == c))
            .map_or(NONE, |i| i as u8);
        out[52] = self.language;
        out[53..57].copy_from_slice(&self.expires.to_be_bytes());
        out
    }

    /// The token: base64url of the claims and their HMAC tag under the tenant's `key`.
    pub fn sign(&self, key: &[u8]) -> String {
        let body = self.body();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &body);
        let mut bytes = body.to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..TAG_BYTES]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The tenant a token names, unverified: which key to check it with.
    pub fn tenant_of(token: &str) -> Result<TenantId, TokenError> {
        let bytes = decode(token)?;
        let mut tenant = [0u8; 16];
        tenant.copy_from_slice(&bytes[1..17]);
        Ok(TenantId::from_bytes(tenant))
    }

    /// The claims of a token signed with `key` that has not expired at `now`.
    pub fn verify(token: &str, key: &[u8], now: DateTime<Utc>) -> Result<Self, TokenError> {
        let bytes = decode(token)?;
        let (body, tag) = bytes.split_at(BODY_BYTES);
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
        if !constant_time_eq(&expected.as_ref()[..TAG_BYTES], tag) {
            return Err(TokenError::BadSignature);
        }
        let id = |range: std::ops::Range<usize>| {
            let mut b = [0u8; 16];
            b.copy_from_slice(&body[range]);
            b
        };
        let claims = Self {
            tenant: TenantId::from_bytes(id(1..17)),
            contact: ContactId::from_bytes(id(17..33)),
            message: (body[33] == 1).then(|| MessageId::from_bytes(id(34..50))),
            category: TemplateCategory::ALL.get(usize::from(body[50])).copied(),
            channel: Channel::ALL.get(usize::from(body[51])).copied(),
            language: body[52].min(LANGUAGES.len() as u8 - 1),
            expires: u32::from_be_bytes([body[53], body[54], body[55], body[56]]),
        };
        if i64::from(claims.expires) <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    pub fn language(&self) -> &'static str {
        LANGUAGES[usize::from(self.language).min(LANGUAGES.len() - 1)]
    }
}

fn decode(token: &str) -> Result<Vec<u8>, TokenError> {
    if token.len() > 200 {
        return Err(TokenError::Malformed);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| TokenError::Malformed)?;
    if bytes.len() != BODY_BYTES + TAG_BYTES || bytes[0] != TOKEN_VERSION {
        return Err(TokenError::Malformed);
    }
    Ok(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Unix seconds `days` after `now`, as a token stores them.
pub fn expiry(now: DateTime<Utc>, days: i64) -> u32 {
    u32::try_from((now + Duration::days(days)).timestamp()).unwrap_or(u32::MAX)
}

/// The index in [`LANGUAGES`] of a locale's language (English when it has no translation).
pub fn language_index(locale: Option<&str>) -> u8 {
    let language = locale
        .and_then(|l| l.split(['-', '_']).next())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    LANGUAGES.iter().position(|l| *l == language).unwrap_or(0) as u8
}

/// The preference and unsubscribe links of a token, under the API's public URL.
pub fn links(public_url: &str, token: &str) -> (String, String) {
    let base = public_url.trim_end_matches('/');
    (
        format!("{base}/unsubscribe/{token}"),
        format!("{base}/preferences/{token}"),
    )
}

/// Each tenant's preference-link key, read (and on first use created) once per process: a
/// random 256-bit key sealed with KMS under the tenant's encryption context.
#[derive(Clone, Debug)]
pub struct LinkKeys {
    store: crate::store::Store,
    sealer: crate::secrets::Sealer,
    cache: std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<TenantId, LinkKey>>>,
}

/// A tenant's preference-link key.
pub type LinkKey = std::sync::Arc<[u8; 32]>;

const LINK_KEY_OWNER: &str = "preference-links";

impl LinkKeys {
    pub fn new(store: crate::store::Store, sealer: crate::secrets::Sealer) -> Self {
        Self {
            store,
            sealer,
            cache: std::sync::Arc::default(),
        }
    }

    /// The tenant's key when it has one, never creating it (the tracker's reading: a tenant
    /// without a key has sealed nothing). One GetItem and one KMS Decrypt the first time.
    pub async fn existing(&self, tenant: TenantId) -> anyhow::Result<Option<LinkKey>> {
        if let Some(k) = self.cache.lock().await.get(&tenant) {
            return Ok(Some(k.clone()));
        }
        let Some(sealed) = self.store.link_key(tenant).await? else {
            return Ok(None);
        };
        let key = self.open(tenant, &sealed).await?;
        self.cache.lock().await.insert(tenant, key.clone());
        Ok(Some(key))
    }

    async fn open(
        &self,
        tenant: TenantId,
        sealed: &crate::config::SealedCredentials,
    ) -> anyhow::Result<LinkKey> {
        let fields = self.sealer.open(tenant, LINK_KEY_OWNER, sealed).await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(fields.get("key").map(String::as_str).unwrap_or_default())
            .map_err(|_| anyhow::anyhow!("the stored link key is not base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the stored link key is not 256 bits"))?;
        Ok(std::sync::Arc::new(key))
    }

    /// The tenant's key (one GetItem and one KMS Decrypt the first time in a process).
    pub async fn key(&self, tenant: TenantId) -> anyhow::Result<LinkKey> {
        let mut cache = self.cache.lock().await;
        if let Some(k) = cache.get(&tenant) {
            return Ok(k.clone());
        }
        let sealed = match self.store.link_key(tenant).await? {
            Some(sealed) => sealed,
            None => {
                let mut fresh = [0u8; 32];
                aws_lc_rs::rand::fill(&mut fresh)
                    .map_err(|_| anyhow::anyhow!("no randomness for a link key"))?;
                let fields = std::collections::BTreeMap::from([(
                    "key".to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(fresh),
                )]);
                let mut sealed = self.sealer.seal(tenant, LINK_KEY_OWNER, &fields).await?;
                // Not even a masked hint of a key.
                sealed.hints.clear();
                match self.store.put_link_key(tenant, &sealed).await {
                    Ok(()) => sealed,
                    Err(crate::store::StoreError::AlreadyExists) => self
                        .store
                        .link_key(tenant)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("the link key vanished"))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let key = self.open(tenant, &sealed).await?;
        cache.insert(tenant, key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn claims(now: DateTime<Utc>) -> LinkClaims {
        LinkClaims::for_message(
            TenantId::new(),
            ContactId::new(),
            Some(MessageId::new()),
            TemplateCategory::Reminder,
            Channel::Email,
            Some("fr-CA"),
            now,
        )
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering_expiry_and_other_keys() {
        let now = at("2026-11-22T10:00:00Z");
        let c = claims(now);
        let key = [7u8; 32];
        let token = c.sign(&key);
        assert!(token.len() < 100, "{}", token.len());
        assert_eq!(LinkClaims::verify(&token, &key, now), Ok(c));
        assert_eq!(LinkClaims::tenant_of(&token), Ok(c.tenant));
        assert_eq!(c.language(), "fr");
        // Another tenant's key.
        assert_eq!(
            LinkClaims::verify(&token, &[8u8; 32], now),
            Err(TokenError::BadSignature)
        );
        // Every flipped bit of the claims is caught.
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        for i in 1..BODY_BYTES {
            bytes[i] ^= 1;
            let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(
                LinkClaims::verify(&tampered, &key, now),
                Err(TokenError::BadSignature),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        let late = now + Duration::days(LINK_DAYS) + Duration::seconds(1);
        assert_eq!(
            LinkClaims::verify(&token, &key, late),
            Err(TokenError::Expired)
        );
        for bad in [
            "",
            "abc",
            "!!!!",
            &"A".repeat(300),
            &token[..token.len() - 2],
        ] {
            assert_eq!(
                LinkClaims::verify(bad, &key, now),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn quiet_hours_overnight_and_same_day() {
        let paris = TimeZone::parse("Europe/Paris").unwrap();
        let night = QuietHours {
            start: parse_clock("22:00").unwrap(),
            end: parse_clock("08:00").unwrap(),
            time_zone: paris,
        };
        // 23:30 in Paris (UTC+1 in November): until 08:00 the next day.
        assert_eq!(
            night.until(at("2026-11-22T22:30:00Z")),
            Some(at("2026-11-23T07:00:00Z"))
        );
        // 06:00 in Paris: until 08:00 the same day.
        assert_eq!(
            night.until(at("2026-11-22T05:00:00Z")),
            Some(at("2026-11-22T07:00:00Z"))
        );
        assert_eq!(night.until(at("2026-11-22T12:00:00Z")), None);
        let lunch = QuietHours {
            start: parse_clock("12:00").unwrap(),
            end: parse_clock("14:00").unwrap(),
            time_zone: paris,
        };
        assert_eq!(
            lunch.until(at("2026-11-22T11:30:00Z")),
            Some(at("2026-11-22T13:00:00Z"))
        );
        assert_eq!(lunch.until(at("2026-11-22T13:00:00Z")), None);
        assert!(parse_clock("7:00").is_none());
        assert!(parse_clock("24:00").is_none());
    }

    #[test]
    fn preferences_round_trip_through_the_contact_and_diff() {
        let before = Preferences::default();
        let after = before.without(TemplateCategory::Reminder, Channel::Email);
        assert!(!after.allows(TemplateCategory::Reminder, Channel::Email));
        assert!(after.allows(TemplateCategory::Invitation, Channel::Email));
        assert!(after.allows(TemplateCategory::Reminder, Channel::Sms));
        assert_eq!(changes(&before, &after), vec!["opted_out:reminder#email"]);
        let whole = Preferences {
            opt_outs: vec![OptOut {
                channel: Channel::Sms,
                category: None,
            }],
            frequency_cap: Some(FrequencyCap {
                max: 3,
                per: CapPeriod::Week,
            }),
            ..Preferences::default()
        };
        assert!(!whole.allows(TemplateCategory::Survey, Channel::Sms));
        assert_eq!(
            changes(&after, &whole),
            vec![
                "opted_out:*#sms",
                "opted_in:reminder#email",
                "frequency_cap:3/week"
            ]
        );
        let cap = whole.frequency_cap.unwrap();
        assert_eq!(cap.period(at("2026-11-22T10:00:00Z")).0, "W2026-47");
    }
}
