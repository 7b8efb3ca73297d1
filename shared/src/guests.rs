//! Guests of an event, the tenant-wide contacts they link to, and checking imported rows.
//!
//! A guest belongs to one event; a contact is the person across the tenant's events (matched
//! by email, else by phone) and is where consent lives. A guest's id is derived from its event
//! and contact, so importing the same person again updates the guest instead of adding one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, EmailAddress, Locale, PhoneE164, TimeZone};
use crate::ids::{ContactId, EventId, GuestId, TenantId};

/// The most rows one import may carry.
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// An event's guests are spread over this many partitions, so that an import writes to
/// several (8,000 writes per second between them) while a campaign's expansion stays a few
/// Queries per page (one per shard).
pub const GUEST_SHARDS: u32 = 8;
const MAX_TAGS: usize = 50;
const MAX_FIELDS: usize = 50;
const MAX_TEXT: usize = 200;
const MAX_FIELD_VALUE: usize = 1000;

/// A guest as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Guest {
    pub id: GuestId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub contact_id: ContactId,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneE164>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZone>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_channel: Option<Channel>,
    /// The guest's answer to the event's RSVP; absent: no response yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsvp: Option<crate::rsvp::Rsvp>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Guest {
    /// The partition shard of a guest id.
    pub fn shard_of(id: GuestId) -> u32 {
        let text = id.to_string();
        let last = text
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        last % GUEST_SHARDS
    }

    /// The guest's profile: what an import row gave.
    pub fn profile(&self) -> CheckedGuest {
        CheckedGuest {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone,
            tags: self.tags.clone(),
            fields: self.fields.clone(),
            preferred_channel: self.preferred_channel,
            rsvp: None,
        }
    }

    /// The guest's address on `channel`, if it has one.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_ref().map(EmailAddress::as_str),
            Channel::Sms | Channel::Whatsapp => self.phone.as_ref().map(PhoneE164::as_str),
        }
    }
}

/// A person known to a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneE164>,
    pub first_name: String,
    pub last_name: String,
    /// Unsubscribed from everything.
    #[serde(default)]
    pub unsubscribed: bool,
    /// Opted out of `{category}#{channel}` pairs (`*` for every category of a channel).
    #[serde(default)]
    pub opt_outs: BTreeSet<String>,
    /// At most this many campaign messages per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<crate::consent::FrequencyCap>,
    /// No campaign messages in these hours of the contact's day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<crate::consent::QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<String>,
    /// The CRM record this contact is synced with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<crate::crm::CrmLink>,
    /// When Herald last changed each synced field (conflicts with the CRM go to the later).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub changed: BTreeMap<crate::domain::CrmField, DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// The contact's address on `channel`, if it has one.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_ref().map(EmailAddress::as_str),
            Channel::Sms | Channel::Whatsapp => self.phone.as_ref().map(PhoneE164::as_str),
        }
    }

    /// A new contact with no addresses, names or preferences yet.
    pub fn new(tenant: TenantId, id: ContactId, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant_id: tenant,
            email: None,
            phone: None,
            first_name: String::new(),
            last_name: String::new(),
            unsubscribed: false,
            opt_outs: BTreeSet::new(),
            frequency_cap: None,
            quiet_hours: None,
            company: None,
            lifecycle_stage: None,
            crm: None,
            changed: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// One row of an import, as given (JSON field names, and CSV column names).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestIn {
    /// At most 200 characters, no control characters (surrounding white space is removed).
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub first_name: Option<String>,
    /// At most 200 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub last_name: Option<String>,
    /// The full name (at most 200 characters, no control characters); first and last names
    /// default from it, and without it it is `first_name last_name`, which must then be at
    /// most 200 characters too.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: Option<String>,
    /// A guest needs an email address or a phone number (or both).
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::EmailAddress>)]
    pub email: Option<String>,
    /// E.164, e.g. `+447700900123`.
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::PhoneE164>)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::Locale>)]
    pub locale: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::TimeZone>)]
    pub time_zone: Option<String>,
    /// At most 50 distinct tags (surrounding white space removed, empty ones dropped), each at
    /// most 64 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields (at most 50): names of 1 to 64 of `a-z`, `0-9` and `_`; values strings of
    /// at most 1,000 characters, numbers or booleans.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// `email` (the guest then needs an email address), `sms` or `whatsapp` (a phone number).
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::Channel>)]
    pub preferred_channel: Option<String>,
    /// Import only: the guest's RSVP as the organiser recorded it: `accepted`, `declined`,
    /// `maybe`, or `no_response` (clears an answer). Absent or empty: the guest's answer is
    /// kept. Recorded with source `import`; no confirmation is sent.
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::RsvpState>)]
    pub rsvp: Option<String>,
    /// Import only, with `rsvp` accepted or maybe: the guest and the others they bring
    /// (1 to 1 + the form's `max_plus_ones`; default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 21)]
    pub party_size: Option<serde_json::Value>,
}

/// A row that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedGuest {
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneE164>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZone>,
    pub tags: Vec<String>,
    pub fields: BTreeMap<String, serde_json::Value>,
    pub preferred_channel: Option<Channel>,
    /// What the row says of the guest's RSVP (`None`: nothing; keep it).
    pub rsvp: Option<ImportedRsvp>,
}

/// An import row's RSVP column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportedRsvp {
    Answer {
        status: crate::domain::RsvpStatus,
        party_size: Option<u32>,
    },
    /// `no_response`: the guest's answer is removed.
    Clear,
}

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowIssue {
    /// 1-based position among the data rows.
    pub row: usize,
    /// CSV only: the line of the file (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub field: String,
    pub message: String,
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Checks one row; every problem of the row is reported, each naming its field.
pub fn check_row(row: GuestIn) -> Result<CheckedGuest, Vec<(String, String)>> {
    let mut issues: Vec<(String, String)> = Vec::new();
    let mut bad = |field: &str, message: &str| issues.push((field.to_owned(), message.to_owned()));
    let gave_address = [&row.email, &row.phone]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()));
    let email = match text(row.email) {
        None => None,
        Some(e) => match EmailAddress::parse(&e) {
            Ok(a) => Some(EmailAddress::parse(&a.as_str().to_lowercase()).unwrap_or(a)),
            Err(_) => {
                bad("email", "not an email address");
                None
            }
        },
    };
    let phone = match text(row.phone) {
        None => None,
        Some(p) => match PhoneE164::parse(&p) {
            Ok(p) => Some(p),
            Err(_) => {
                bad(
                    "phone",
                    "not a phone number in E.164 form, e.g. +447700900123",
                );
                None
            }
        },
    };
    let locale = match text(row.locale) {
        None => None,
        Some(l) => Locale::parse(&l)
            .map_err(|_| bad("locale", "not a locale such as en-GB"))
            .ok(),
    };
    let time_zone = match text(row.time_zone) {
        None => None,
        Some(t) => TimeZone::parse(&t)
            .map_err(|_| bad("time_zone", "not an IANA time zone such as Europe/Paris"))
            .ok(),
    };
    let preferred_channel = match text(row.preferred_channel) {
        None => None,
        Some(c) => c
            .parse::<Channel>()
            .map_err(|_| bad("preferred_channel", "one of email, sms, whatsapp"))
            .ok(),
    };
    let name = text(row.name);
    let mut first_name = text(row.first_name);
    let mut last_name = text(row.last_name);
    if let (None, None, Some(full)) = (&first_name, &last_name, &name) {
        let mut parts = full.splitn(2, ' ');
        first_name = parts.next().map(str::to_owned);
        last_name = parts.next().map(|s| s.trim().to_owned());
    }
    let first_name = first_name.unwrap_or_default();
    let last_name = last_name.unwrap_or_default();
    let name = name.unwrap_or_else(|| format!("{first_name} {last_name}").trim().to_owned());
    for (field, value) in [
        ("first_name", &first_name),
        ("last_name", &last_name),
        ("name", &name),
    ] {
        if value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
            bad(field, "at most 200 characters, no control characters");
        }
    }
    let tags: Vec<String> = row
        .tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if tags.len() > MAX_TAGS || tags.iter().any(|t| t.chars().count() > 64) {
        bad("tags", "at most 50 tags of at most 64 characters");
    }
    if row.fields.len() > MAX_FIELDS {
        bad("fields", "at most 50 custom fields");
    }
    for (key, value) in &row.fields {
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            bad(
                &format!("fields.{key}"),
                "names are 1 to 64 of a-z, 0-9 and _",
            );
        }
        let value_ok = match value {
            serde_json::Value::String(s) => s.chars().count() <= MAX_FIELD_VALUE,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => true,
            _ => false,
        };
        if !value_ok {
            bad(
                &format!("fields.{key}"),
                "a string of at most 1000 characters, a number or a boolean",
            );
        }
    }
    let rsvp = check_rsvp(text(row.rsvp), row.party_size, &mut bad);
    if !gave_address {
        bad("email", "a guest needs an email address or a phone number");
    }
    match preferred_channel {
        Some(Channel::Email) if email.is_none() => {
            bad(
                "preferred_channel",
                "email is preferred but there is no email",
            );
        }
        Some(Channel::Sms | Channel::Whatsapp) if phone.is_none() => {
            bad(
                "preferred_channel",
                "a phone channel is preferred but there is no phone",
            );
        }
        _ => {}
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(CheckedGuest {
        first_name,
        last_name,
        name,
        email,
        phone,
        locale,
        time_zone,
        tags,
        fields: row.fields,
        preferred_channel,
        rsvp,
    })
}

/// A row's `rsvp` and `party_size` columns (the party's upper bound is the event form's, checked
/// by the import).
fn check_rsvp(
    rsvp: Option<String>,
    party_size: Option<serde_json::Value>,
    bad: &mut impl FnMut(&str, &str),
) -> Option<ImportedRsvp> {
    use crate::domain::{RsvpState, RsvpStatus};
    let party = match party_size {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(value) => {
            let n = match &value {
                serde_json::Value::Number(n) => n.as_u64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                }),
                serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            match n.and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    bad("party_size", "a whole number of people, 1 or more");
                    return None;
                }
            }
        }
    };
    let state = match rsvp {
        None => {
            if party.is_some() {
                bad("party_size", "give it with an rsvp of accepted or maybe");
            }
            return None;
        }
        Some(text) => match text.to_ascii_lowercase().parse::<RsvpState>() {
            Ok(state) => state,
            Err(_) => {
                bad("rsvp", "one of accepted, declined, maybe, no_response");
                return None;
            }
        },
    };
    let status = match state {
        RsvpState::NoResponse | RsvpState::Declined if party.is_some_and(|p| p > 0) => {
            bad("party_size", "only with an rsvp of accepted or maybe");
            return None;
        }
        RsvpState::NoResponse => return Some(ImportedRsvp::Clear),
        RsvpState::Declined => RsvpStatus::Declined,
        RsvpState::Accepted => RsvpStatus::Accepted,
        RsvpState::Maybe => RsvpStatus::Maybe,
    };
    if status != RsvpStatus::Declined && party == Some(0) {
        bad(
            "party_size",
            "1 or more: the guest and the others they bring",
        );
        return None;
    }
    Some(ImportedRsvp::Answer {
        status,
        party_size: party.filter(|_| status != RsvpStatus::Declined),
    })
}

/// Parses CSV with a header row into rows, each with its line number. Known columns are the
/// fields of [`GuestIn`] (with `rsvp` and `party_size`); tags are separated by `;`; the guest
/// export's own columns (`guest_id`, `rsvp_at`, `rsvp_source`, `answer_*`) are left out, so an
/// export imports again; every other column is a custom field named by its lower-cased header.
/// A malformed file is one error.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<(u64, GuestIn)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header row cannot be read: {e}"))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if headers.iter().all(|h| h != "email" && h != "phone") {
        return Err("the header row needs an email or a phone column".to_owned());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("the CSV is malformed: {e}"))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let mut row = GuestIn::default();
        for (header, value) in headers.iter().zip(record.iter()) {
            let value = value.to_owned();
            let some = || Some(value.clone()).filter(|v| !v.is_empty());
            match header.as_str() {
                "first_name" => row.first_name = some(),
                "last_name" => row.last_name = some(),
                "name" => row.name = some(),
                "email" => row.email = some(),
                "phone" => row.phone = some(),
                "locale" => row.locale = some(),
                "time_zone" => row.time_zone = some(),
                "preferred_channel" => row.preferred_channel = some(),
                "rsvp" => row.rsvp = some(),
                "party_size" => row.party_size = some().map(serde_json::Value::String),
                // The guest export's own columns: what Herald keeps, not the organiser's.
                "guest_id" | "rsvp_at" | "rsvp_source" => {}
                answer if answer.starts_with("answer_") => {}
                "tags" => {
                    row.tags = value
                        .split(';')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                other if !value.is_empty() => {
                    row.fields
                        .insert(other.to_owned(), serde_json::Value::String(value));
                }
                _ => {}
            }
        }
        rows.push((line, row));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str) -> GuestIn {
        GuestIn {
            email: Some(email.into()),
            ..GuestIn::default()
        }
    }

    #[test]
    fn a_full_name_gives_first_and_last() {
        let g = check_row(GuestIn {
            name: Some("Ada King Lovelace".into()),
            ..row("ADA@Example.com")
        })
        .unwrap();
        assert_eq!(
            (g.first_name.as_str(), g.last_name.as_str()),
            ("Ada", "King Lovelace")
        );
        assert_eq!(g.email.unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn every_problem_of_a_row_is_named() {
        let issues = check_row(GuestIn {
            email: Some("nope".into()),
            phone: Some("0770".into()),
            time_zone: Some("Mars/Olympus".into()),
            preferred_channel: Some("fax".into()),
            fields: BTreeMap::from([("Bad Key".into(), serde_json::json!([1]))]),
            ..GuestIn::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "email",
                "phone",
                "time_zone",
                "preferred_channel",
                "fields.Bad Key",
                "fields.Bad Key"
            ]
        );
        let none = check_row(GuestIn::default()).unwrap_err();
        assert_eq!(none[0].0, "email");
    }

    #[test]
    fn csv_rows_carry_their_lines_and_custom_fields() {
        let csv = b"email,first_name,tags,Table\nada@example.com,Ada,vip; speaker ,7\n\"bob@example.com\",Bob,,\n";
        let rows = parse_csv(csv).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1.tags, ["vip", "speaker"]);
        assert_eq!(rows[0].1.fields["table"], serde_json::json!("7"));
        assert_eq!(rows[1].0, 3);
        assert!(parse_csv(b"name\nAda\n").is_err());
    }

    #[test]
    fn shards_spread_guests() {
        let mut seen = BTreeSet::new();
        for _ in 0..400 {
            seen.insert(Guest::shard_of(GuestId::new()));
        }
        assert_eq!(seen.len(), GUEST_SHARDS as usize);
    }
}
