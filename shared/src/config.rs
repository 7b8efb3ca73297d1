//! The layered communication configuration: templates, providers, brand and compliance blocks.
//!
//! These are the values each layer stores; `resolve` combines them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, Layer, ProviderKind, TemplateCategory};
use crate::ids::{EventId, ProviderId, TemplateId, TenantId};

/// Who owns a piece of configuration: the platform, a tenant, or one event of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Platform,
    Tenant(TenantId),
    Event(TenantId, EventId),
}

impl Owner {
    pub fn layer(self) -> Layer {
        match self {
            Owner::Platform => Layer::Platform,
            Owner::Tenant(_) => Layer::Tenant,
            Owner::Event(..) => Layer::Event,
        }
    }

    pub fn tenant(self) -> Option<TenantId> {
        match self {
            Owner::Platform => None,
            Owner::Tenant(t) | Owner::Event(t, _) => Some(t),
        }
    }

    pub fn event(self) -> Option<EventId> {
        match self {
            Owner::Event(_, e) => Some(e),
            _ => None,
        }
    }
}

/// What a template says. Email needs a subject and an HTML or text body; SMS and WhatsApp a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TemplateContent {
    /// Email only: the subject line (a template itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Email only: the HTML body. Variables are HTML-escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The plain-text body: the whole message for SMS and WhatsApp, the text part of an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A template stored at one layer for one (category, channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: TemplateId,
    pub layer: Layer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub category: TemplateCategory,
    pub channel: Channel,
    #[serde(flatten)]
    pub content: TemplateContent,
    /// Bumped by every change; a PUT must name the version it read.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The platform's locked compliance blocks: every rendered message carries all three.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceBlockName {
    OptOutText,
    GdprNotice,
    LegalFooter,
}

impl ComplianceBlockName {
    pub const ALL: [ComplianceBlockName; 3] = [
        ComplianceBlockName::OptOutText,
        ComplianceBlockName::GdprNotice,
        ComplianceBlockName::LegalFooter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceBlockName::OptOutText => "opt_out_text",
            ComplianceBlockName::GdprNotice => "gdpr_notice",
            ComplianceBlockName::LegalFooter => "legal_footer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplianceBlock {
    pub name: ComplianceBlockName,
    /// The plain-text form, appended to SMS, WhatsApp and the text part of emails.
    pub text: String,
    /// The HTML form for emails; the escaped text is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// Brand assets; every field is optional so an event can override just one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BrandFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

impl BrandFields {
    /// The fields as (name, value) pairs, in a fixed order.
    pub fn entries(&self) -> [(&'static str, Option<&String>); 5] {
        [
            ("logo_url", self.logo_url.as_ref()),
            ("primary_color", self.primary_color.as_ref()),
            ("secondary_color", self.secondary_color.as_ref()),
            ("sender_name", self.sender_name.as_ref()),
            ("footer", self.footer.as_ref()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Brand {
    #[serde(flatten)]
    pub fields: BrandFields,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// A provider's credentials after KMS encryption: the ciphertext and a masked hint per field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredentials {
    /// Base64 of the KMS ciphertext of the JSON object of credential fields.
    pub ciphertext: String,
    /// For each field, a hint such as `••••abcd`; never the value.
    pub hints: BTreeMap<String, String>,
}

/// A communication provider configured at the tenant layer (a default) or an event (an override).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub id: ProviderId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub layer: Layer,
    pub kind: ProviderKind,
    pub channel: Channel,
    pub name: String,
    /// Lower goes first; failover walks the channel's providers in this order.
    pub priority: u32,
    pub active: bool,
    /// The most messages per second Herald sends through this provider, across all of its
    /// instances (SES is also held to the account's maximum send rate). None: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_rate: Option<u32>,
    /// Kind-specific settings, validated on write (see `providers::Settings`).
    pub settings: serde_json::Value,
    pub credentials: SealedCredentials,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything one layer defines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerConfig {
    pub templates: Vec<Template>,
    pub providers: Vec<Provider>,
    pub brand: Option<Brand>,
}

/// The three layers of one event, as read from the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventLayers {
    pub platform_templates: Vec<Template>,
    pub compliance: Vec<ComplianceBlock>,
    pub tenant: LayerConfig,
    pub event: LayerConfig,
    /// The tenant's standard journey.
    pub tenant_journey: Option<crate::journeys::JourneyDef>,
    /// The event's changes to it.
    pub event_journey: Option<crate::journeys::EventJourneyChanges>,
}
