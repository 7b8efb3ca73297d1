//! The operational snapshot: an event's resolved configuration frozen at completion, with the
//! choices of its wizard, hashed and stored compressed.

use std::io::{Read as _, Write as _};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;

use super::{Uses, WizardRecord};
use crate::config::EventLayers;
use crate::domain::{Channel, EmailAddress, Layer};
use crate::ids::ProviderId;
use crate::journeys::{ResolvedJourney, resolve_journey};
use crate::providers::ProviderSettings;
use crate::render::{GuestVars, LinkVars, RenderContext, TenantVars};
use crate::resolve::{ResolvedConfig, resolve_event_config};
use crate::store::{Event, Tenant};

/// A compressed snapshot larger than this is refused (DynamoDB items stop at 400 KB, and the
/// snapshot and the active copy are written in one transaction).
pub const MAX_COMPRESSED_BYTES: usize = 300 * 1024;

/// The From of the event's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedEmailSender {
    pub from_address: EmailAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// `event` for the wizard's override; otherwise the layer of the provider it comes from.
    pub source: Layer,
    /// The email provider the address comes from, when not overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
}

/// Everything the send path needs about an event, as resolved at completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotContent {
    pub event: Event,
    pub tenant_name: String,
    pub uses: Uses,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_sender: Option<ResolvedEmailSender>,
    pub config: ResolvedConfig,
    /// The journey resolved from the tenant's and the event's layers (none when neither
    /// defines one), activated with the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<ResolvedJourney>,
    /// Why the journey's layers do not resolve (a change to a step the tenant's journey does
    /// not have, ...): each a readiness blocker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journey_issues: Vec<crate::providers::FieldIssue>,
}

impl SnapshotContent {
    /// Resolves `layers` with the wizard's choices. Pure: the same inputs give the same content.
    pub fn build(
        tenant: &Tenant,
        event: &Event,
        layers: &EventLayers,
        wizard: Option<&WizardRecord>,
    ) -> Self {
        let config = resolve_event_config(layers);
        let uses = wizard
            .and_then(|w| w.uses.clone())
            .unwrap_or_else(|| Uses::default_for(&config))
            .normalised();
        let email_sender = match wizard.and_then(|w| w.email_sender.as_ref()) {
            Some(o) => Some(ResolvedEmailSender {
                from_address: o.from_address.clone(),
                from_name: o.from_name.clone(),
                source: Layer::Event,
                provider_id: None,
            }),
            None => provider_sender(&config),
        };
        let (journey, journey_issues) = match (&layers.tenant_journey, &layers.event_journey) {
            (None, None) => (None, Vec::new()),
            (t, e) => match resolve_journey(t.as_ref(), e.as_ref()) {
                Ok(j) => (Some(j).filter(|j| !j.steps.is_empty()), Vec::new()),
                Err(issues) => (None, issues),
            },
        };
        Self {
            event: event.clone(),
            tenant_name: tenant.name.clone(),
            uses,
            email_sender,
            config,
            journey,
            journey_issues,
        }
    }

    /// Every (category, channel) the journey's enabled steps send by.
    pub fn journey_slots(&self) -> Vec<(crate::domain::TemplateCategory, crate::domain::Channel)> {
        let mut out: Vec<_> = self
            .journey
            .iter()
            .flat_map(|j| &j.steps)
            .filter(|s| s.enabled)
            .flat_map(|s| s.channels.iter().map(move |ch| (s.category, *ch)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every channel the event sends by: those it uses, and those of its journey's steps.
    pub fn sent_channels(&self) -> Vec<crate::domain::Channel> {
        let mut out = self.uses.channels.clone();
        out.extend(self.journey_slots().into_iter().map(|(_, ch)| ch));
        out.sort();
        out.dedup();
        out
    }

    /// SHA-256 (hex) of the content's JSON. Struct fields serialise in declaration order and
    /// maps are ordered, so equal content always hashes equally.
    pub fn hash(&self) -> anyhow::Result<String> {
        let json = serde_json::to_vec(self).context("serialising a snapshot")?;
        Ok(hex::encode(Sha256::digest(&json)))
    }

    /// Gzip of the JSON.
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        let json = serde_json::to_vec(self).context("serialising a snapshot")?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).context("compressing a snapshot")?;
        gz.finish().context("compressing a snapshot")
    }

    pub fn decode(bytes: &[u8]) -> anyhow::Result<Self> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(64 * 1024 * 1024)
            .read_to_end(&mut json)
            .context("decompressing a snapshot")?;
        serde_json::from_slice(&json).context("reading a snapshot")
    }

    /// What templates see for `guest` (sample data when `None`): the event, the tenant's name,
    /// the resolved brand, and links (sample links until the send path signs real ones).
    pub fn render_context(&self, guest: Option<GuestVars>) -> RenderContext {
        let sample = RenderContext::sample();
        let guest = named(guest.unwrap_or(sample.guest));
        let f = &self.event.fields;
        RenderContext {
            guest,
            event: f.vars(),
            tenant: TenantVars {
                name: self.tenant_name.clone(),
            },
            brand: self
                .config
                .brand
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            links: LinkVars {
                unsubscribe: sample.links.unsubscribe,
                preferences: sample.links.preferences,
                rsvp: sample.links.rsvp,
            },
        }
    }
}

/// A guest as templates see it: `name` from the first and last names when it is empty.
pub fn named(mut guest: GuestVars) -> GuestVars {
    if guest.name.is_empty() {
        guest.name = format!("{} {}", guest.first_name, guest.last_name)
            .trim()
            .to_owned();
    }
    guest
}

/// The From of the first active email provider that has one.
fn provider_sender(config: &ResolvedConfig) -> Option<ResolvedEmailSender> {
    config
        .providers_for(Channel::Email)?
        .providers
        .iter()
        .find_map(|p| {
            let (from_address, from_name) = match ProviderSettings::parse(p.kind, &p.settings) {
                Ok(ProviderSettings::Ses(s)) => (s.from_address, s.from_name),
                Ok(ProviderSettings::Brevo(s) | ProviderSettings::Sendgrid(s)) => {
                    (s.from_address, s.from_name)
                }
                _ => return None,
            };
            Some(ResolvedEmailSender {
                from_address,
                from_name,
                source: p.layer,
                provider_id: Some(p.id),
            })
        })
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    /// The API key that asked for the completion.
    pub created_by: String,
    pub run_id: String,
    pub content: SnapshotContent,
}

/// A snapshot without its content, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotSummary {
    pub version: u64,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub run_id: String,
    /// The compressed size stored.
    pub size_bytes: u64,
    /// Whether this is the active snapshot.
    #[serde(default)]
    pub active: bool,
}
