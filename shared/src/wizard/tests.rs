use std::collections::BTreeMap;

use proptest::prelude::*;

use super::diff::{ChangeKind, diff};
use super::readiness::content_blockers;
use super::*;
use crate::config::{
    ComplianceBlock, ComplianceBlockName, EventLayers, Provider, SealedCredentials, Template,
    TemplateContent,
};
use crate::domain::{Layer, Locale, ProviderKind, TimeZone};
use crate::resolve::resolve_event_config;
use crate::resolve::tests::{epoch, layers};
use crate::store::{Event, EventFields, Tenant};

fn tenant() -> Tenant {
    Tenant {
        id: "ten_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".parse().expect("id"),
        name: "Acme".into(),
        retention_days: None,
        version: 1,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

fn event() -> Event {
    Event {
        id: "evt_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A".parse().expect("id"),
        tenant_id: tenant().id,
        fields: EventFields {
            name: "Gala".into(),
            starts_at: "2027-05-01T18:00:00".parse().expect("date"),
            ends_at: "2027-05-01T23:00:00".parse().expect("date"),
            time_zone: TimeZone::parse("Europe/Paris").expect("tz"),
            default_locale: Locale::parse("fr-FR").expect("locale"),
            status: Default::default(),
        },
        rsvp: None,
        version: 1,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

fn compliance() -> Vec<ComplianceBlock> {
    ComplianceBlockName::ALL
        .iter()
        .map(|&name| ComplianceBlock {
            name,
            text: format!("{} text", name.as_str()),
            html: None,
            version: 1,
            updated_at: epoch(),
        })
        .collect()
}

fn template(category: TemplateCategory, channel: Channel, text: &str) -> Template {
    Template {
        id: crate::ids::TemplateId::new(),
        layer: Layer::Tenant,
        tenant_id: Some(tenant().id),
        event_id: None,
        category,
        channel,
        content: TemplateContent {
            subject: (channel == Channel::Email).then(|| "Hello {{ guest.first_name }}".into()),
            html: None,
            text: Some(text.into()),
        },
        version: 1,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

fn ses(from: &str) -> Provider {
    Provider {
        id: crate::ids::ProviderId::new(),
        tenant_id: tenant().id,
        event_id: None,
        layer: Layer::Tenant,
        kind: ProviderKind::Ses,
        channel: Channel::Email,
        name: "SES".into(),
        priority: 0,
        active: true,
        send_rate: None,
        settings: serde_json::json!({"from_address": from}),
        credentials: SealedCredentials {
            ciphertext: String::new(),
            hints: BTreeMap::new(),
        },
        version: 1,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

fn ready_layers() -> EventLayers {
    let mut layers = EventLayers {
        compliance: compliance(),
        ..EventLayers::default()
    };
    layers.tenant.templates.push(template(
        TemplateCategory::Invitation,
        Channel::Email,
        "Dear {{ guest.first_name }}, {{ event.name }} on {{ event.starts_at | date }}",
    ));
    layers.tenant.providers.push(ses("events@acme.example"));
    layers
}

fn codes(blockers: &[Blocker]) -> Vec<(BlockerCode, String)> {
    blockers
        .iter()
        .map(|b| (b.code, b.pointer.clone()))
        .collect()
}

#[test]
fn a_complete_configuration_has_no_content_blockers() {
    let content = SnapshotContent::build(&tenant(), &event(), &ready_layers(), None);
    assert_eq!(
        content.uses,
        Uses {
            channels: vec![Channel::Email],
            categories: vec![TemplateCategory::Invitation]
        }
    );
    let sender = content.email_sender.as_ref().expect("a sender");
    assert_eq!(sender.from_address.as_str(), "events@acme.example");
    assert_eq!(sender.source, Layer::Tenant);
    let (blockers, checked) = content_blockers(&content);
    assert_eq!(blockers, Vec::new());
    assert!(checked[0].starts_with("1 of 1 template slots"));
}

#[test]
fn each_gap_is_a_blocker_with_a_pointer() {
    let mut layers = ready_layers();
    layers
        .compliance
        .retain(|b| b.name != ComplianceBlockName::GdprNotice);
    layers.tenant.templates.push(template(
        TemplateCategory::Reminder,
        Channel::Email,
        "{{ guest.nickname }}",
    ));
    let wizard = WizardRecord {
        uses: Some(Uses {
            channels: vec![Channel::Sms, Channel::Email],
            categories: vec![TemplateCategory::Reminder, TemplateCategory::Invitation],
        }),
        ..WizardRecord::empty(tenant().id, event().id)
    };
    let content = SnapshotContent::build(&tenant(), &event(), &layers, Some(&wizard));
    let (blockers, _) = content_blockers(&content);
    assert_eq!(
        codes(&blockers),
        vec![
            (
                BlockerCode::MissingCompliance,
                "compliance/gdpr_notice".into()
            ),
            (BlockerCode::NoProvider, "providers/sms".into()),
            (
                BlockerCode::MissingTemplate,
                "templates/invitation/sms".into()
            ),
            (
                BlockerCode::TemplateRenderFailed,
                "templates/reminder/email".into()
            ),
            (
                BlockerCode::MissingTemplate,
                "templates/reminder/sms".into()
            ),
        ]
    );
    assert!(
        blockers[3].message.contains("nickname"),
        "{:?}",
        blockers[3]
    );
}

#[test]
fn an_event_sender_overrides_the_providers() {
    let wizard = WizardRecord {
        email_sender: Some(EmailSenderOverride {
            from_address: crate::domain::EmailAddress::parse("gala@events.acme.example")
                .expect("address"),
            from_name: Some("The Gala".into()),
        }),
        ..WizardRecord::empty(tenant().id, event().id)
    };
    let content = SnapshotContent::build(&tenant(), &event(), &ready_layers(), Some(&wizard));
    let sender = content.email_sender.expect("a sender");
    assert_eq!(sender.source, Layer::Event);
    assert_eq!(sender.from_address.as_str(), "gala@events.acme.example");
    assert_eq!(sender.provider_id, None);
}

#[test]
fn the_diff_names_what_changed() {
    let original = ready_layers();
    let before = SnapshotContent::build(&tenant(), &event(), &original, None);
    let mut layers = original.clone();
    layers.tenant.templates[0].version = 2;
    layers.compliance[0].version = 2;
    let after = SnapshotContent::build(&tenant(), &event(), &layers, None);
    let changes = diff(&before, &after);
    let paths: Vec<(&str, ChangeKind)> =
        changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(
        paths,
        vec![
            ("compliance/opt_out_text", ChangeKind::Changed),
            ("templates/invitation/email", ChangeKind::Changed)
        ]
    );
    assert_ne!(before.hash().expect("hash"), after.hash().expect("hash"));
    assert!(diff(&before, &before).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// What completion stores, read back, is exactly what resolving the layers gave at that
    /// moment, and resolving the same layers again hashes the same (so no new version).
    #[test]
    fn the_stored_snapshot_is_the_resolution_of_the_layers(layers in layers()) {
        let content = SnapshotContent::build(&tenant(), &event(), &layers, None);
        let stored = SnapshotContent::decode(&content.encode().expect("encode")).expect("decode");
        prop_assert_eq!(&stored.config, &resolve_event_config(&layers));
        prop_assert_eq!(&stored, &content);
        let again = SnapshotContent::build(&tenant(), &event(), &layers, None);
        prop_assert_eq!(stored.hash().expect("hash"), again.hash().expect("hash"));
        prop_assert!(diff(&stored, &again).is_empty());
    }

    /// Two different resolutions never share a hash, and the diff sees every difference the
    /// summaries cover.
    #[test]
    fn different_layers_hash_differently(a in layers(), b in layers()) {
        let (ca, cb) = (
            SnapshotContent::build(&tenant(), &event(), &a, None),
            SnapshotContent::build(&tenant(), &event(), &b, None),
        );
        prop_assert_eq!(ca == cb, ca.hash().expect("hash") == cb.hash().expect("hash"));
        if !diff(&ca, &cb).is_empty() {
            prop_assert_ne!(ca.hash().expect("hash"), cb.hash().expect("hash"));
        }
    }
}

#[test]
fn a_journey_s_steps_need_their_templates_and_providers_and_must_hold_together() {
    use crate::journeys::{EventJourneyChanges, JourneyDef, StepAudience, StepDef, StepKey};
    let step = |key: &str, category, channels: Vec<Channel>, offset: &str| StepDef {
        key: StepKey::parse(key).expect("key"),
        category,
        channels,
        audience: StepAudience::All,
        anchor: Default::default(),
        offset: crate::journeys::Offset::parse(offset).expect("offset"),
        at: None,
        when_missed: Default::default(),
        late_entry: Default::default(),
        on_cancel: false,
        enabled: true,
    };
    let mut layers = ready_layers();
    let mut follow_up = step(
        "nudge",
        TemplateCategory::Invitation,
        vec![Channel::Email],
        "-P40D",
    );
    follow_up.audience = StepAudience::FollowUp {
        step: StepKey::parse("invite").expect("key"),
        not_reached: crate::journeys::NotReached::Opened,
    };
    layers.tenant_journey = Some(JourneyDef {
        steps: vec![
            step(
                "invite",
                TemplateCategory::Invitation,
                vec![Channel::Email],
                "-P30D",
            ),
            step(
                "remind",
                TemplateCategory::Reminder,
                vec![Channel::Sms],
                "-P1D",
            ),
            follow_up,
        ],
    });
    let content = SnapshotContent::build(&tenant(), &event(), &layers, None);
    let journey = content.journey.as_ref().expect("a journey");
    assert_eq!(journey.steps.len(), 3);
    let (blockers, _) = content_blockers(&content);
    let found = codes(&blockers);
    // The follow-up comes before the step it follows up.
    assert!(
        found
            .iter()
            .any(|(c, p)| *c == BlockerCode::JourneyInvalid && p.starts_with("journey/steps")),
        "{found:?}"
    );
    assert!(
        found.contains(&(BlockerCode::NoProvider, "providers/sms".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            BlockerCode::MissingTemplate,
            "templates/reminder/sms".into()
        )),
        "{found:?}"
    );
    // An event's change to a step the tenant has not got does not resolve.
    layers.event_journey = Some(EventJourneyChanges {
        changes: vec![crate::journeys::StepChange::of(
            StepKey::parse("missing").expect("key"),
        )],
        added: Vec::new(),
    });
    let content = SnapshotContent::build(&tenant(), &event(), &layers, None);
    assert!(content.journey.is_none());
    let (blockers, _) = content_blockers(&content);
    assert!(
        blockers
            .iter()
            .any(|b| b.code == BlockerCode::JourneyInvalid),
        "{blockers:?}"
    );
}
