//! CRM sync: a tenant's contacts kept in step with its HubSpot or Salesforce.
//!
//! A connection maps contact fields to CRM properties, each one way or both. A run pulls the
//! CRM records changed since the stored cursor, merges each into its Herald contact, then pushes
//! what Herald changed (consent, profile edits, engagement) back in the CRM's batch sizes.
//!
//! Merging is three-way and per field: the contact keeps the values both sides last agreed on
//! (`CrmLink::synced`), so a field "changed" on a side when it differs from that base. A change
//! on one side only is taken; a change on both sides to different values is a conflict that
//! the later change wins (the CRM record's modification time against the time Herald changed
//! the field), except that an opt-out on either side always wins over an opt-in. A field
//! Herald wins keeps its old base until the push has reached the CRM and the next pull reads
//! the pushed value back, so a failed push is simply tried again.

pub mod client;
pub mod hubspot;
mod run;
pub mod salesforce;

pub use run::{CREDENTIALS_OWNER, Connection, ConnectionSettings, CrmJob, SyncRun, SyncTrigger};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::consent::{OptOut, Preferences};
use crate::domain::{Channel, CrmField, CrmKind, EmailAddress, PhoneE164, SyncDirection};
use crate::guests::Contact;
use crate::ids::ContactId;
use crate::providers::FieldIssue;

/// At most this many conflicts and errors are listed in a report (all are counted).
pub const MAX_LISTED: usize = 200;
const MAX_PROPERTY: usize = 100;

/// One contact field and the CRM property it is synced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    pub field: CrmField,
    /// The CRM's property (HubSpot) or field (Salesforce) name.
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_]{0,99}$")]
    pub property: String,
    /// `push` only for the engagement fields (`last_message_sent_at`, `last_opened_at`,
    /// `last_clicked_at`, `last_event`, `last_event_rsvp`); `pull` only for `email` and `phone`.
    pub direction: SyncDirection,
}

impl FieldMapping {
    fn new(field: CrmField, property: &str, direction: SyncDirection) -> Self {
        Self {
            field,
            property: property.to_owned(),
            direction,
        }
    }

    pub fn pulls(&self) -> bool {
        self.direction != SyncDirection::Push && !field_is_push_only(self.field)
    }

    pub fn pushes(&self) -> bool {
        self.direction != SyncDirection::Pull && !field_is_pull_only(self.field)
    }
}

/// Engagement is Herald's to tell; the CRM cannot change it.
pub fn field_is_push_only(field: CrmField) -> bool {
    matches!(
        field,
        CrmField::LastMessageSentAt
            | CrmField::LastOpenedAt
            | CrmField::LastClickedAt
            | CrmField::LastEvent
            | CrmField::LastEventRsvp
    )
}

/// A contact's addresses are its identity in Herald (they key its consent and suppression):
/// Herald takes them from the CRM and never writes them back.
pub fn field_is_pull_only(field: CrmField) -> bool {
    matches!(field, CrmField::Email | CrmField::Phone)
}

pub fn field_is_opt_out(field: CrmField) -> bool {
    opt_out_channel(field).is_some()
}

fn opt_out_channel(field: CrmField) -> Option<Channel> {
    match field {
        CrmField::EmailOptOut => Some(Channel::Email),
        CrmField::SmsOptOut => Some(Channel::Sms),
        CrmField::WhatsappOptOut => Some(Channel::Whatsapp),
        _ => None,
    }
}

/// The mappings a new connection starts with: the CRM's standard fields, plus custom ones for
/// what only Herald knows (create them in the CRM, or remove the mappings).
pub fn default_mappings(kind: CrmKind) -> Vec<FieldMapping> {
    use CrmField as F;
    use SyncDirection as D;
    match kind {
        CrmKind::Hubspot => vec![
            FieldMapping::new(F::Email, "email", D::Pull),
            FieldMapping::new(F::Phone, "phone", D::Pull),
            FieldMapping::new(F::FirstName, "firstname", D::Both),
            FieldMapping::new(F::LastName, "lastname", D::Both),
            FieldMapping::new(F::Company, "company", D::Both),
            FieldMapping::new(F::LifecycleStage, "lifecyclestage", D::Both),
            FieldMapping::new(F::EmailOptOut, "hs_email_optout", D::Both),
            FieldMapping::new(F::SmsOptOut, "herald_sms_optout", D::Both),
            FieldMapping::new(F::LastMessageSentAt, "herald_last_message_sent_at", D::Push),
            FieldMapping::new(F::LastOpenedAt, "herald_last_opened_at", D::Push),
            FieldMapping::new(F::LastClickedAt, "herald_last_clicked_at", D::Push),
            FieldMapping::new(F::LastEvent, "herald_last_event", D::Push),
        ],
        CrmKind::Salesforce => vec![
            FieldMapping::new(F::Email, "Email", D::Pull),
            FieldMapping::new(F::Phone, "Phone", D::Pull),
            FieldMapping::new(F::FirstName, "FirstName", D::Both),
            FieldMapping::new(F::LastName, "LastName", D::Both),
            FieldMapping::new(F::Company, "Company__c", D::Both),
            FieldMapping::new(F::LifecycleStage, "Lifecycle_Stage__c", D::Both),
            FieldMapping::new(F::EmailOptOut, "HasOptedOutOfEmail", D::Both),
            FieldMapping::new(F::SmsOptOut, "Herald_SMS_Opt_Out__c", D::Both),
            FieldMapping::new(
                F::LastMessageSentAt,
                "Herald_Last_Message_Sent_At__c",
                D::Push,
            ),
            FieldMapping::new(F::LastOpenedAt, "Herald_Last_Opened_At__c", D::Push),
            FieldMapping::new(F::LastClickedAt, "Herald_Last_Clicked_At__c", D::Push),
            FieldMapping::new(F::LastEvent, "Herald_Last_Event__c", D::Push),
        ],
    }
}

/// The problems with a set of mappings as input.
pub fn mapping_issues(mappings: &[FieldMapping]) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    let mut fields = std::collections::BTreeSet::new();
    let mut properties = std::collections::BTreeSet::new();
    for (i, m) in mappings.iter().enumerate() {
        let ok = !m.property.is_empty()
            && m.property.len() <= MAX_PROPERTY
            && m.property
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && m.property
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if !ok {
            issues.push(FieldIssue::new(
                format!("mappings[{i}].property"),
                "a CRM property name: a letter, then letters, digits and underscores (at most 100)",
            ));
        }
        if !fields.insert(m.field) {
            issues.push(FieldIssue::new(
                format!("mappings[{i}].field"),
                "each contact field may be mapped once",
            ));
        }
        if !properties.insert(m.property.to_ascii_lowercase()) {
            issues.push(FieldIssue::new(
                format!("mappings[{i}].property"),
                "each CRM property may be mapped once",
            ));
        }
        if field_is_push_only(m.field) && m.direction != SyncDirection::Push {
            issues.push(FieldIssue::new(
                format!("mappings[{i}].direction"),
                "engagement fields are Herald's: only `push`",
            ));
        }
        if field_is_pull_only(m.field) && m.direction != SyncDirection::Pull {
            issues.push(FieldIssue::new(
                format!("mappings[{i}].direction"),
                "addresses come from the CRM: only `pull`",
            ));
        }
    }
    if !mappings
        .iter()
        .any(|m| m.pulls() && matches!(m.field, CrmField::Email | CrmField::Phone))
    {
        issues.push(FieldIssue::new(
            "mappings",
            "map `email` or `phone` (pull): contacts are matched by their addresses",
        ));
    }
    issues
}

/// How a contact is linked to its CRM record, and the values both sides last agreed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CrmLink {
    pub kind: CrmKind,
    /// The CRM record's id.
    pub id: String,
    /// The value of each synced field as both sides last agreed (absent: empty).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub synced: BTreeMap<CrmField, String>,
}

/// One CRM record as pulled: its id, when it last changed, and its pulled fields' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmRecord {
    pub id: String,
    pub modified_at: DateTime<Utc>,
    pub values: BTreeMap<CrmField, Option<String>>,
}

/// A CRM property's value as Herald keeps it: trimmed, empty as absent, opt-out flags as
/// `true` or `false` (absent is `false`).
pub fn normalise(field: CrmField, raw: Option<&serde_json::Value>) -> Option<String> {
    let text = match raw {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.trim().to_owned()),
        Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
        Some(other) => Some(other.to_string()),
    }
    .filter(|s| !s.is_empty());
    if field_is_opt_out(field) {
        let on = text
            .as_deref()
            .is_some_and(|t| matches!(t.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        return Some(on.to_string());
    }
    match field {
        CrmField::Email => text.map(|t| t.to_ascii_lowercase()),
        _ => text,
    }
}

/// A contact's value of a field (pulled or pushed both ways; engagement is not on the contact).
pub fn contact_value(contact: &Contact, field: CrmField) -> Option<String> {
    if let Some(channel) = opt_out_channel(field) {
        let whole = OptOut {
            channel,
            category: None,
        }
        .key();
        return Some((contact.unsubscribed || contact.opt_outs.contains(&whole)).to_string());
    }
    match field {
        CrmField::Email => contact.email.as_ref().map(|e| e.as_str().to_owned()),
        CrmField::Phone => contact.phone.as_ref().map(|p| p.as_str().to_owned()),
        CrmField::FirstName => Some(contact.first_name.clone()).filter(|s| !s.is_empty()),
        CrmField::LastName => Some(contact.last_name.clone()).filter(|s| !s.is_empty()),
        CrmField::Company => contact.company.clone(),
        CrmField::LifecycleStage => contact.lifecycle_stage.clone(),
        _ => None,
    }
}

/// Sets a contact's field; an address the CRM holds that Herald cannot use is an error.
pub fn set_contact_value(
    contact: &mut Contact,
    field: CrmField,
    value: Option<&str>,
) -> Result<(), String> {
    if let Some(channel) = opt_out_channel(field) {
        let whole = OptOut {
            channel,
            category: None,
        }
        .key();
        if value == Some("true") {
            contact.opt_outs.insert(whole);
        } else {
            contact.opt_outs.remove(&whole);
            // Opting in to one channel of someone unsubscribed from everything leaves them
            // opted out of the others.
            if contact.unsubscribed {
                contact.unsubscribed = false;
                for other in Channel::ALL.iter().filter(|c| **c != channel) {
                    contact.opt_outs.insert(
                        OptOut {
                            channel: *other,
                            category: None,
                        }
                        .key(),
                    );
                }
            }
        }
        return Ok(());
    }
    let text = value.map(str::to_owned);
    match field {
        CrmField::Email => {
            contact.email = value
                .map(EmailAddress::parse)
                .transpose()
                .map_err(|e| format!("email: {e}"))?;
        }
        CrmField::Phone => {
            contact.phone = value
                .map(PhoneE164::parse)
                .transpose()
                .map_err(|e| format!("phone: {e}"))?;
        }
        CrmField::FirstName => contact.first_name = text.unwrap_or_default(),
        CrmField::LastName => contact.last_name = text.unwrap_or_default(),
        CrmField::Company => contact.company = text,
        CrmField::LifecycleStage => contact.lifecycle_stage = text,
        _ => return Err(format!("{field} is not pulled")),
    }
    Ok(())
}

/// Which side a conflict's winner was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Herald,
    Crm,
}

/// A field changed on both sides since they last agreed. Reports name the field, not its
/// values: they are kept for months, and a person's data lives on the contact only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conflict {
    pub contact_id: ContactId,
    pub crm_id: String,
    pub field: CrmField,
    pub herald_changed_at: DateTime<Utc>,
    pub crm_changed_at: DateTime<Utc>,
    pub winner: Side,
    /// `later_change` or `opt_out_wins`.
    pub rule: String,
}

/// What merging one CRM record into its contact decided.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The contact after the merge (new when none existed).
    pub contact: Contact,
    /// Fields the CRM's values were taken for.
    pub taken: Vec<CrmField>,
    /// Fields Herald holds a value for that the CRM should get.
    pub to_push: Vec<CrmField>,
    pub conflicts: Vec<Conflict>,
    /// Values the CRM holds that Herald cannot use (the field is left as it was).
    pub errors: Vec<String>,
}

impl Merged {
    /// Whether the contact must be written.
    pub fn changed(&self, before: Option<&Contact>) -> bool {
        before != Some(&self.contact)
    }
}

/// The time Herald last changed `field` of `contact`.
pub fn herald_changed_at(contact: &Contact, field: CrmField) -> DateTime<Utc> {
    contact
        .changed
        .get(&field)
        .copied()
        .unwrap_or(contact.created_at)
}

/// Merges a pulled record into its contact (`existing`), or makes a new contact of it
/// (`fresh`, with its id, tenant and time, when there is none).
pub fn merge(
    kind: CrmKind,
    existing: Option<&Contact>,
    fresh: Contact,
    record: &CrmRecord,
    mappings: &[FieldMapping],
) -> Merged {
    let contact = existing.cloned().unwrap_or(fresh);
    let is_new = existing.is_none();
    let mut link = contact.crm.clone().unwrap_or(CrmLink {
        kind,
        id: record.id.clone(),
        synced: BTreeMap::new(),
    });
    if link.kind != kind || link.id != record.id {
        // Relinked (a new connection, or a merged record): nothing agreed yet.
        link = CrmLink {
            kind,
            id: record.id.clone(),
            synced: BTreeMap::new(),
        };
    }
    let mut out = Merged {
        contact: contact.clone(),
        taken: Vec::new(),
        to_push: Vec::new(),
        conflicts: Vec::new(),
        errors: Vec::new(),
    };
    for mapping in mappings.iter().filter(|m| m.pulls()) {
        let field = mapping.field;
        let Some(crm) = record.values.get(&field).cloned() else {
            continue;
        };
        let herald = contact_value(&contact, field);
        let base = link.synced.get(&field).cloned();
        // Whether the two sides have agreed before (a first link has no base to judge by).
        let known_base = !link.synced.is_empty();
        let crm_changed = crm != base;
        let herald_changed = herald != base;
        let take_crm = if crm == herald {
            false
        } else if is_new || (herald.is_none() && !known_base) || (known_base && !herald_changed) {
            // Only the CRM changed it (or Herald has nothing): take it.
            true
        } else if known_base && !crm_changed {
            // Only Herald changed it.
            false
        } else {
            // Changed on both sides (or never agreed): a conflict.
            let herald_at = herald_changed_at(&contact, field);
            let (winner, rule) = if field_is_opt_out(field) {
                let crm_out = crm.as_deref() == Some("true");
                (
                    if crm_out { Side::Crm } else { Side::Herald },
                    "opt_out_wins",
                )
            } else if herald_at > record.modified_at {
                (Side::Herald, "later_change")
            } else {
                (Side::Crm, "later_change")
            };
            out.conflicts.push(Conflict {
                contact_id: contact.id,
                crm_id: record.id.clone(),
                field,
                herald_changed_at: herald_at,
                crm_changed_at: record.modified_at,
                winner,
                rule: rule.to_owned(),
            });
            winner == Side::Crm
        };
        if take_crm {
            match set_contact_value(&mut out.contact, field, crm.as_deref()) {
                Ok(()) => {
                    out.taken.push(field);
                    out.contact.changed.insert(field, record.modified_at);
                    set_base(&mut link, field, crm);
                }
                Err(e) => out.errors.push(format!("record {}: {e}", record.id)),
            }
        } else if crm == herald {
            set_base(&mut link, field, crm);
        } else if mapping.pushes() {
            out.to_push.push(field);
        }
    }
    out.contact.crm = Some(link);
    out
}

fn set_base(link: &mut CrmLink, field: CrmField, value: Option<String>) {
    match value {
        Some(v) => link.synced.insert(field, v),
        None => link.synced.remove(&field),
    };
}

/// Whether a merge changed the contact's consent (it then needs a ledger entry).
pub fn consent_changed(before: &Contact, after: &Contact) -> bool {
    Preferences::of(before) != Preferences::of(after)
}

/// The fields of a contact Herald changed since they were last agreed with the CRM, that the
/// mappings push.
pub fn pending_push(contact: &Contact, mappings: &[FieldMapping]) -> Vec<CrmField> {
    let Some(link) = &contact.crm else {
        return Vec::new();
    };
    mappings
        .iter()
        .filter(|m| m.pushes() && !field_is_push_only(m.field))
        .filter(|m| contact_value(contact, m.field) != link.synced.get(&m.field).cloned())
        .map(|m| m.field)
        .collect()
}

/// Herald-side engagement waiting to be pushed for a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_opened_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_clicked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
    /// The RSVP status of the event the contact answered last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_rsvp: Option<String>,
}

impl Engagement {
    pub fn value(&self, field: CrmField) -> Option<String> {
        let time = |t: &Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        match field {
            CrmField::LastMessageSentAt => time(&self.last_message_sent_at),
            CrmField::LastOpenedAt => time(&self.last_opened_at),
            CrmField::LastClickedAt => time(&self.last_clicked_at),
            CrmField::LastEvent => self.last_event.clone(),
            CrmField::LastEventRsvp => self.last_event_rsvp.clone(),
            _ => None,
        }
    }
}

/// One record's update for the CRM: property → value (a string, a boolean for opt-out
/// flags, or null to clear it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmUpdate {
    pub crm_id: String,
    pub contact_id: ContactId,
    pub properties: BTreeMap<String, serde_json::Value>,
}

fn wire_value(field: CrmField, value: Option<String>) -> serde_json::Value {
    match value {
        Some(v) if field_is_opt_out(field) => serde_json::Value::Bool(v == "true"),
        Some(v) => serde_json::Value::String(v),
        None => serde_json::Value::Null,
    }
}

/// The update a contact's pending fields and engagement make (None when there is nothing).
pub fn update_for(
    contact: &Contact,
    engagement: &Engagement,
    mappings: &[FieldMapping],
) -> Option<CrmUpdate> {
    let link = contact.crm.as_ref()?;
    let mut properties = BTreeMap::new();
    for field in pending_push(contact, mappings) {
        if let Some(m) = mappings.iter().find(|m| m.field == field) {
            properties.insert(
                m.property.clone(),
                wire_value(field, contact_value(contact, field)),
            );
        }
    }
    for m in mappings
        .iter()
        .filter(|m| m.pushes() && field_is_push_only(m.field))
    {
        if let Some(v) = engagement.value(m.field) {
            properties.insert(m.property.clone(), serde_json::Value::String(v));
        }
    }
    (!properties.is_empty()).then(|| CrmUpdate {
        crm_id: link.id.clone(),
        contact_id: contact.id,
        properties,
    })
}

#[cfg(test)]
mod tests;
