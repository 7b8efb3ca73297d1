//! The journey of an event: the tenant's steps with the event's changes, then the event's own.

use std::collections::HashSet;

use super::{EventJourneyChanges, JourneyDef, ResolvedJourney, ResolvedStep, StepChange};
use crate::domain::Layer;
use crate::providers::FieldIssue;

/// The tenant's steps in their order with the event's changes applied, then the steps the event
/// added. Steps turned off are kept (`enabled: false`). Issues: a change to a step the tenant's
/// journey does not have, a step changed twice, an added step whose key is already taken (paths
/// into the event's layer: `changes[1].key`, `added[0].key`).
pub fn resolve_journey(
    tenant: Option<&JourneyDef>,
    event: Option<&EventJourneyChanges>,
) -> Result<ResolvedJourney, Vec<FieldIssue>> {
    let tenant_steps = tenant.map(|t| t.steps.as_slice()).unwrap_or_default();
    let (changes, added) = event
        .map(|e| (e.changes.as_slice(), e.added.as_slice()))
        .unwrap_or_default();
    let mut issues = Vec::new();

    let mut seen = HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        if !tenant_steps.iter().any(|s| s.key == change.key) {
            issues.push(FieldIssue::new(
                format!("changes[{i}].key"),
                format!(
                    "the tenant's journey has no step '{}' to change: add it instead",
                    change.key
                ),
            ));
        } else if !seen.insert(&change.key) {
            issues.push(FieldIssue::new(
                format!("changes[{i}].key"),
                format!("step '{}' is changed twice: merge the changes", change.key),
            ));
        }
    }

    let mut steps: Vec<ResolvedStep> = tenant_steps
        .iter()
        .map(|def| {
            let mut step = ResolvedStep::from_def(def, Layer::Tenant);
            if let Some(change) = changes.iter().find(|c| c.key == def.key) {
                apply(&mut step, change);
            }
            step
        })
        .collect();

    let mut keys: HashSet<_> = tenant_steps.iter().map(|s| &s.key).collect();
    for (i, def) in added.iter().enumerate() {
        if !keys.insert(&def.key) {
            let whose = if tenant_steps.iter().any(|s| s.key == def.key) {
                "the tenant's journey already has"
            } else {
                "another added step is"
            };
            issues.push(FieldIssue::new(
                format!("added[{i}].key"),
                format!("{whose} step '{}': choose another key", def.key),
            ));
        }
        steps.push(ResolvedStep::from_def(def, Layer::Event));
    }

    if issues.is_empty() {
        Ok(ResolvedJourney { steps })
    } else {
        Err(issues)
    }
}

/// The change's fields replace the step's, each named in `customised`.
fn apply(step: &mut ResolvedStep, change: &StepChange) {
    let mut changed = Vec::new();
    macro_rules! replace {
        ($($field:ident),+) => {
            $(if let Some(value) = &change.$field {
                step.$field = value.clone();
                changed.push(stringify!($field));
            })+
        };
    }
    replace!(
        channels,
        audience,
        anchor,
        offset,
        at,
        when_missed,
        late_entry,
        on_cancel,
        enabled
    );
    step.customised = changed.into_iter().map(str::to_owned).collect();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::journeys::{Anchor, LocalClock, Offset, StepAudience};

    fn tenant() -> JourneyDef {
        serde_json::from_value(json!({"steps": [
            {"key": "save-the-date", "category": "save_the_date", "channels": ["email"],
             "offset": "-P60D", "at": "10:00"},
            {"key": "invitation", "category": "invitation", "channels": ["email", "sms"],
             "offset": "-P30D", "at": "10:00"},
            {"key": "reminder", "category": "reminder", "channels": ["sms"], "offset": "-PT2H"},
        ]}))
        .expect("tenant journey")
    }

    fn event(changes: serde_json::Value) -> EventJourneyChanges {
        serde_json::from_value(changes).expect("event changes")
    }

    fn keys(journey: &ResolvedJourney) -> Vec<&str> {
        journey.steps.iter().map(|s| s.key.as_str()).collect()
    }

    #[test]
    fn without_event_changes_the_tenant_journey_applies_as_is() {
        let tenant = tenant();
        let resolved = resolve_journey(Some(&tenant), None).expect("resolves");
        assert_eq!(keys(&resolved), ["save-the-date", "invitation", "reminder"]);
        for (step, def) in resolved.steps.iter().zip(&tenant.steps) {
            assert_eq!(step.layer, Layer::Tenant);
            assert!(step.customised.is_empty());
            assert_eq!(&step.def(), def);
        }
        assert_eq!(resolve_journey(None, None), Ok(ResolvedJourney::default()));
    }

    #[test]
    fn the_event_changes_disables_and_adds_steps() {
        let changes = event(json!({
            "changes": [
                {"key": "invitation", "offset": "-P21D", "at": null, "channels": ["whatsapp"]},
                {"key": "save-the-date", "enabled": false},
            ],
            "added": [{"key": "survey", "category": "survey", "channels": ["email"],
                       "anchor": "event_end", "offset": "P1D", "at": "10:00"}],
        }));
        let resolved = resolve_journey(Some(&tenant()), Some(&changes)).expect("resolves");
        assert_eq!(
            keys(&resolved),
            ["save-the-date", "invitation", "reminder", "survey"]
        );
        let [save, invitation, reminder, survey] = &resolved.steps[..] else {
            panic!("four steps");
        };
        assert!(!save.enabled, "turned off, still shown");
        assert_eq!(save.customised, ["enabled"]);
        assert_eq!(invitation.offset, Offset::parse("-P21D").expect("offset"));
        assert_eq!(invitation.at, None, "the event cleared the clock time");
        assert_eq!(invitation.channels, [crate::domain::Channel::Whatsapp]);
        assert_eq!(invitation.customised, ["channels", "offset", "at"]);
        assert_eq!(invitation.layer, Layer::Tenant);
        assert!(reminder.customised.is_empty());
        assert_eq!(
            (survey.layer, survey.anchor),
            (Layer::Event, Anchor::EventEnd)
        );
        assert_eq!(survey.at, LocalClock::new(10, 0));
    }

    #[test]
    fn a_change_repeating_the_tenant_value_still_counts_as_customised() {
        let changes = event(json!({"changes": [{"key": "reminder", "offset": "-PT2H",
            "audience": {"kind": "follow_up", "step": "invitation", "not_reached": "opened"}}]}));
        let resolved = resolve_journey(Some(&tenant()), Some(&changes)).expect("resolves");
        assert_eq!(resolved.steps[2].customised, ["audience", "offset"]);
        assert!(matches!(
            resolved.steps[2].audience,
            StepAudience::FollowUp { .. }
        ));
    }

    #[test]
    fn an_event_without_a_tenant_journey_has_its_own_steps() {
        let changes = event(json!({"added": [
            {"key": "day-of", "category": "day_of", "channels": ["sms"], "at": "08:00"},
        ]}));
        let resolved = resolve_journey(None, Some(&changes)).expect("resolves");
        assert_eq!(keys(&resolved), ["day-of"]);
        assert_eq!(resolved.steps[0].layer, Layer::Event);
    }

    #[test]
    fn changes_to_missing_steps_and_taken_keys_are_issues() {
        let changes = event(json!({
            "changes": [
                {"key": "thank-you", "enabled": false},
                {"key": "reminder", "offset": "-PT1H"},
                {"key": "reminder", "at": "09:00"},
            ],
            "added": [
                {"key": "invitation", "category": "invitation", "channels": ["email"]},
                {"key": "survey", "category": "survey", "channels": ["email"]},
                {"key": "survey", "category": "survey", "channels": ["sms"]},
            ],
        }));
        let issues = resolve_journey(Some(&tenant()), Some(&changes)).expect_err("issues");
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "changes[0].key",
                "changes[2].key",
                "added[0].key",
                "added[2].key"
            ]
        );
        assert!(
            issues[0].message.contains("no step 'thank-you'"),
            "{issues:?}"
        );
        assert!(issues[1].message.contains("changed twice"), "{issues:?}");
        assert!(
            issues[2].message.contains("already has step 'invitation'"),
            "{issues:?}"
        );
        assert!(
            issues[3].message.contains("another added step"),
            "{issues:?}"
        );
        let only_changes = event(json!({"changes": [{"key": "reminder"}]}));
        let issues = resolve_journey(None, Some(&only_changes)).expect_err("no tenant journey");
        assert_eq!(issues[0].field, "changes[0].key");
    }
}
