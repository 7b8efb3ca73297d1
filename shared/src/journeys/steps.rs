//! Steps as each layer defines them, and as they resolve.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{Anchor, LateEntry, LocalClock, NotReached, Offset, StepKey, WhenMissed};
use crate::campaigns::{Audience, FieldOp, TagMatch};
use crate::domain::{Channel, Layer, TemplateCategory};
use crate::ids::GuestId;

/// Who a step is for: a campaign audience, or a follow-up to an earlier step's recipients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepAudience {
    /// Every guest of the event.
    #[default]
    All,
    /// Guests with any (or all) of these tags.
    Tags {
        /// At least one.
        #[schema(min_items = 1)]
        tags: Vec<String>,
        #[serde(default = "any")]
        r#match: TagMatch,
    },
    /// Guests whose custom field (or `locale`, `time_zone`, `preferred_channel`) compares so.
    Filter {
        field: String,
        op: FieldOp,
        /// What `eq` and `ne` compare with (required for them, not null); `exists` takes none.
        #[serde(default)]
        #[schema(value_type = Option<serde_json::Value>)]
        value: Option<serde_json::Value>,
    },
    /// These guests.
    Guests {
        /// 1 to 10,000 guest ids.
        #[schema(min_items = 1, max_items = 10000)]
        ids: Vec<GuestId>,
    },
    /// Guests by their RSVP when the step sends: `["no_response"]` for a reminder to those
    /// who have not answered, `["accepted"]` for logistics to those coming (a guest who
    /// declines leaves it).
    Rsvp {
        /// 1 to 4 of `accepted`, `declined`, `maybe`, `no_response`.
        #[schema(min_items = 1, max_items = 4)]
        statuses: Vec<crate::domain::RsvpState>,
    },
    /// The guests an earlier step was sent to whose message had not reached `not_reached` by
    /// this step's time.
    FollowUp {
        step: StepKey,
        not_reached: NotReached,
    },
}

fn any() -> TagMatch {
    TagMatch::Any
}

impl StepAudience {
    /// The audience of the campaign the step sends as, for `event`: a follow-up names the
    /// campaign of the step it follows up.
    pub fn campaign_audience(&self, event: crate::ids::EventId) -> Audience {
        match self {
            StepAudience::All => Audience::All,
            StepAudience::Tags { tags, r#match } => Audience::Tags {
                tags: tags.clone(),
                r#match: *r#match,
            },
            StepAudience::Filter { field, op, value } => Audience::Filter {
                field: field.clone(),
                op: *op,
                value: value.clone(),
            },
            StepAudience::Guests { ids } => Audience::Guests { ids: ids.clone() },
            StepAudience::Rsvp { statuses } => Audience::Rsvp {
                statuses: statuses.clone(),
            },
            StepAudience::FollowUp { step, not_reached } => Audience::FollowUp {
                campaign: super::step_campaign(event, step),
                not_reached: *not_reached,
            },
        }
    }

    /// The earlier step a follow-up targets.
    pub fn follows(&self) -> Option<(&StepKey, NotReached)> {
        match self {
            StepAudience::FollowUp { step, not_reached } => Some((step, *not_reached)),
            _ => None,
        }
    }
}

fn yes() -> bool {
    true
}

/// One step as a layer defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub key: StepKey,
    pub category: TemplateCategory,
    /// 1 to 3, in order of preference.
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub audience: StepAudience,
    #[serde(default)]
    pub anchor: Anchor,
    /// From the anchor (default `PT0S`: the anchor itself).
    #[serde(default)]
    pub offset: Offset,
    /// The local clock time of the day the offset lands on, replacing its wall-clock time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<LocalClock>,
    #[serde(default)]
    pub when_missed: WhenMissed,
    #[serde(default)]
    pub late_entry: LateEntry,
    /// Sent when the event is cancelled, instead of at its time.
    #[serde(default)]
    pub on_cancel: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A layer's journey: its steps in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JourneyDef {
    pub steps: Vec<StepDef>,
}

/// `Some(value)` for a field present in the input, even as `null`: with `default`, tells a
/// missing field (no change) from a null one (cleared).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An event's change to one of the tenant's steps: the fields it names replace the tenant's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepChange {
    /// The tenant step changed.
    pub key: StepKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Anchor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    /// Missing: the tenant's clock time; `null`: none (the offset's own time of day).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<LocalClock>)]
    pub at: Option<Option<LocalClock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<StepAudience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_missed: Option<WhenMissed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_entry: Option<LateEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_cancel: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl StepChange {
    /// A change of nothing yet.
    pub fn of(key: StepKey) -> Self {
        Self {
            key,
            anchor: None,
            offset: None,
            at: None,
            channels: None,
            audience: None,
            when_missed: None,
            late_entry: None,
            on_cancel: None,
            enabled: None,
        }
    }
}

/// The event's layer of its journey: changes to the tenant's steps, and steps of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventJourneyChanges {
    #[serde(default)]
    pub changes: Vec<StepChange>,
    /// Sent after the tenant's steps in the journey's order (their times decide when).
    #[serde(default)]
    pub added: Vec<StepDef>,
}

/// A step as it applies to the event, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedStep {
    pub key: StepKey,
    pub category: TemplateCategory,
    pub channels: Vec<Channel>,
    pub audience: StepAudience,
    pub anchor: Anchor,
    pub offset: Offset,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<LocalClock>,
    pub when_missed: WhenMissed,
    pub late_entry: LateEntry,
    pub on_cancel: bool,
    pub enabled: bool,
    /// `tenant`: from the tenant's journey (perhaps changed by the event); `event`: added by it.
    pub layer: Layer,
    /// The fields the event changed, in the order of the step's fields.
    #[serde(default)]
    pub customised: Vec<String>,
}

impl ResolvedStep {
    /// The step as defined by `layer`, unchanged.
    pub fn from_def(def: &StepDef, layer: Layer) -> Self {
        Self {
            key: def.key.clone(),
            category: def.category,
            channels: def.channels.clone(),
            audience: def.audience.clone(),
            anchor: def.anchor,
            offset: def.offset,
            at: def.at,
            when_missed: def.when_missed,
            late_entry: def.late_entry,
            on_cancel: def.on_cancel,
            enabled: def.enabled,
            layer,
            customised: Vec::new(),
        }
    }

    /// The step's definition, without provenance.
    pub fn def(&self) -> StepDef {
        StepDef {
            key: self.key.clone(),
            category: self.category,
            channels: self.channels.clone(),
            audience: self.audience.clone(),
            anchor: self.anchor,
            offset: self.offset,
            at: self.at,
            when_missed: self.when_missed,
            late_entry: self.late_entry,
            on_cancel: self.on_cancel,
            enabled: self.enabled,
        }
    }
}

/// The journey that applies to an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedJourney {
    pub steps: Vec<ResolvedStep>,
}

impl ResolvedJourney {
    pub fn step(&self, key: &StepKey) -> Option<&ResolvedStep> {
        self.steps.iter().find(|s| &s.key == key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        value: serde_json::Value,
    ) -> T {
        let parsed: T = serde_json::from_value(value.clone()).expect("parses");
        let out = serde_json::to_value(&parsed).expect("serialises");
        assert_eq!(out, value, "written back as read");
        assert_eq!(serde_json::from_value::<T>(out).expect("again"), parsed);
        parsed
    }

    #[test]
    fn audiences_are_one_kind_tagged_enum() {
        let follow: StepAudience =
            round_trip(json!({"kind": "follow_up", "step": "invitation", "not_reached": "opened"}));
        let event = crate::ids::EventId::new();
        assert!(matches!(
            follow.campaign_audience(event),
            Audience::FollowUp {
                not_reached: NotReached::Opened,
                ..
            }
        ));
        let (step, state) = follow.follows().expect("follow-up");
        assert_eq!((step.as_str(), state), ("invitation", NotReached::Opened));
        for campaign in [
            json!({"kind": "all"}),
            json!({"kind": "tags", "tags": ["vip"], "match": "all"}),
            json!({"kind": "filter", "field": "table", "op": "eq", "value": 7}),
            json!({"kind": "guests", "ids": [GuestId::new()]}),
        ] {
            let step: StepAudience = round_trip(campaign.clone());
            let audience = step.campaign_audience(event);
            assert_eq!(serde_json::to_value(&audience).expect("json"), campaign);
        }
        for bad in [
            json!({"kind": "follow_up", "step": "Invitation", "not_reached": "opened"}),
            json!({"kind": "follow_up", "step": "invitation", "not_reached": "read"}),
            json!({"kind": "follow_up", "step": "invitation"}),
            json!({"kind": "everyone"}),
        ] {
            assert!(
                serde_json::from_value::<StepAudience>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn step_defaults_are_filled_in_and_written_out() {
        let step: StepDef = serde_json::from_value(json!({
            "key": "invitation", "category": "invitation", "channels": ["email"],
        }))
        .expect("step");
        assert_eq!(step.audience, StepAudience::All);
        assert_eq!(step.anchor, Anchor::EventStart);
        assert_eq!(step.offset, Offset::ZERO);
        assert_eq!(step.at, None);
        assert_eq!(
            (
                step.when_missed,
                step.late_entry,
                step.on_cancel,
                step.enabled
            ),
            (WhenMissed::Skip, LateEntry::Skip, false, true)
        );
        assert_eq!(
            serde_json::to_value(&step).expect("json"),
            json!({
                "key": "invitation", "category": "invitation", "channels": ["email"],
                "audience": {"kind": "all"}, "anchor": "event_start", "offset": "PT0S",
                "when_missed": "skip", "late_entry": "skip", "on_cancel": false, "enabled": true,
            })
        );
        let unknown = json!({"key": "a", "category": "invitation", "channels": [], "colour": 1});
        assert!(serde_json::from_value::<StepDef>(unknown).is_err());
    }

    #[test]
    fn journeys_and_changes_round_trip() {
        let journey: JourneyDef = round_trip(json!({"steps": [{
            "key": "reminder", "category": "reminder", "channels": ["sms", "email"],
            "audience": {"kind": "tags", "tags": ["vip"], "match": "any"},
            "anchor": "event_end", "offset": "-P1DT2H", "at": "10:00",
            "when_missed": "send_now", "late_entry": "catch_up", "on_cancel": false,
            "enabled": false,
        }]}));
        assert_eq!(journey.steps[0].at, LocalClock::new(10, 0));
        let changes: EventJourneyChanges = round_trip(json!({
            "changes": [
                {"key": "reminder", "offset": "-P2D", "at": null, "enabled": true},
                {"key": "invitation", "at": "09:30", "channels": ["whatsapp"],
                 "audience": {"kind": "follow_up", "step": "save", "not_reached": "clicked"},
                 "anchor": "event_start", "when_missed": "skip", "late_entry": "skip",
                 "on_cancel": true},
            ],
            "added": [{
                "key": "survey", "category": "survey", "channels": ["email"],
                "audience": {"kind": "all"}, "anchor": "event_end", "offset": "P1D",
                "when_missed": "skip", "late_entry": "skip", "on_cancel": false, "enabled": true,
            }],
        }));
        assert_eq!(
            changes.changes[0].at,
            Some(None),
            "null clears the clock time"
        );
        assert_eq!(changes.changes[1].at, Some(LocalClock::new(9, 30)));
        let missing: StepChange = serde_json::from_value(json!({"key": "x"})).expect("change");
        assert_eq!(missing, StepChange::of(StepKey::parse("x").expect("key")));
        assert_eq!(
            serde_json::to_value(&missing).expect("json"),
            json!({"key": "x"})
        );
        let empty: EventJourneyChanges = serde_json::from_value(json!({})).expect("empty");
        assert_eq!(empty, EventJourneyChanges::default());
        assert!(
            serde_json::from_value::<StepChange>(json!({"key": "x", "category": "survey"}))
                .is_err()
        );
        assert!(serde_json::from_value::<JourneyDef>(json!({"steps": [], "name": "x"})).is_err());
    }

    #[test]
    fn resolved_steps_round_trip_with_provenance() {
        let step: ResolvedJourney = round_trip(json!({"steps": [{
            "key": "reminder", "category": "reminder", "channels": ["email"],
            "audience": {"kind": "all"}, "anchor": "event_start", "offset": "-P1D",
            "at": "18:00", "when_missed": "skip", "late_entry": "skip", "on_cancel": false,
            "enabled": true, "layer": "tenant", "customised": ["offset", "at"],
        }]}));
        let first = &step.steps[0];
        assert_eq!(first.layer, Layer::Tenant);
        assert_eq!(
            ResolvedStep::from_def(&first.def(), Layer::Tenant).def(),
            first.def()
        );
        assert!(
            step.step(&StepKey::parse("reminder").expect("key"))
                .is_some()
        );
    }
}
