//! Events run by a tenant.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Keys, Store, StoreResult, keys};
use crate::domain::{Locale, TimeZone};
use crate::ids::{EventId, TenantId};

/// What a client sets on an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventFields {
    pub name: String,
    /// Local date and time in `time_zone`, e.g. `2027-05-01T18:00:00`.
    #[schema(value_type = String, example = "2027-05-01T18:00:00")]
    pub starts_at: NaiveDateTime,
    #[schema(value_type = String, example = "2027-05-01T23:30:00")]
    pub ends_at: NaiveDateTime,
    pub time_zone: TimeZone,
    pub default_locale: Locale,
    /// `active`, or `cancelled` (for good: its pending journey steps are cancelled and its
    /// cancellation steps sent).
    #[serde(default)]
    pub status: EventStatus,
}

impl EventFields {
    /// What templates see as `event`.
    pub fn vars(&self) -> crate::render::EventVars {
        crate::render::EventVars {
            name: self.name.clone(),
            starts_at: self.starts_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ends_at: self.ends_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            time_zone: self.time_zone.as_str().to_owned(),
            locale: self.default_locale.as_str().to_owned(),
            venue: None,
            schedule: Vec::new(),
        }
    }
}

/// Whether an event still takes place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    #[default]
    Active,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    #[serde(flatten)]
    pub fields: EventFields,
    /// The event's RSVP form (set with `PUT /api/v1/events/{id}/rsvp/form`); absent: guests
    /// answer yes, no or maybe, alone, until the event starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsvp: Option<crate::rsvp::RsvpForm>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Event {
    /// What its journey's step times are computed from.
    pub fn times(&self) -> crate::journeys::EventTimes {
        crate::journeys::EventTimes {
            starts_at: self.fields.starts_at,
            ends_at: self.fields.ends_at,
            zone: self.fields.time_zone.tz(),
            created_at: self.created_at,
            rsvp_deadline: self.rsvp.as_ref().and_then(|f| f.fields.deadline),
        }
    }

    /// The event's RSVP form (the default one when it has none).
    pub fn rsvp_form(&self) -> crate::rsvp::RsvpForm {
        self.rsvp.clone().unwrap_or_default()
    }

    /// Until when guests may answer its RSVP.
    pub fn rsvp_closes(&self) -> DateTime<Utc> {
        crate::rsvp::answers_close(
            &self.rsvp_form(),
            self.fields.starts_at,
            self.fields.time_zone.tz(),
        )
    }

    /// The event as the journey plan sees it.
    pub fn live(&self) -> crate::journeys::LiveEvent {
        crate::journeys::LiveEvent {
            id: self.id,
            version: self.version,
            times: self.times(),
            cancelled: self.fields.status == EventStatus::Cancelled,
        }
    }
}

fn event_keys(tenant: TenantId, event: EventId) -> Keys {
    Keys::new(keys::tenant_pk(tenant), keys::event_sk(event))
}

impl Store {
    pub async fn create_event(&self, tenant: TenantId, event: &Event) -> StoreResult<()> {
        self.put_new(&event_keys(tenant, event.id), event).await
    }

    pub async fn get_event(&self, tenant: TenantId, event: EventId) -> StoreResult<Option<Event>> {
        self.get(&keys::tenant_pk(tenant), &keys::event_sk(event))
            .await
    }

    pub async fn replace_event(
        &self,
        tenant: TenantId,
        event: &Event,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(&event_keys(tenant, event.id), event, expected)
            .await
    }

    /// A tenant's events, oldest first.
    pub async fn list_events(&self, tenant: TenantId) -> StoreResult<Vec<Event>> {
        self.query_prefix(&keys::tenant_pk(tenant), keys::EVENT_PREFIX)
            .await
    }
}
