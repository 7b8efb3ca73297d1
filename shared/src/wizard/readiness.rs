//! The readiness report: everything that blocks an event from going live, each with a pointer to
//! the wizard item at fault and what to do about it.
//!
//! [`content_blockers`] is pure (templates, providers, compliance, rendering with sample guest
//! data); [`service_blockers`] asks the outside world (provider connection tests, the email
//! sender's SES identity).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SnapshotContent;
use crate::config::ComplianceBlockName;
use crate::domain::{Channel, ProviderKind};
use crate::providers::{ProviderClients, check_connection};
use crate::render::CompiledTemplate;
use crate::secrets::Sealer;
use crate::senders::{domain_of, ses_identity_status};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockerCode {
    /// The event uses no channel or no category.
    NothingToSend,
    /// A (category, channel) the event uses resolves to no template at any layer.
    MissingTemplate,
    /// A template fails to render with sample guest data.
    TemplateRenderFailed,
    /// A channel the event uses has no active provider at the event or tenant layer.
    NoProvider,
    /// A provider's connection test failed.
    ProviderCheckFailed,
    /// Email is used but no From address is configured.
    NoEmailSender,
    /// The From address is not covered by a sender identity the tenant registered.
    SenderNotRegistered,
    /// The sender identity is not verified in SES.
    SenderUnverified,
    /// A platform compliance block is missing.
    MissingCompliance,
    /// The journey's layers do not resolve, or a step is invalid for this event (a follow-up
    /// of a later step, a time before the event was created, ...).
    JourneyInvalid,
    /// SMS is used but the tenant has no help text to answer HELP with (US and Canadian
    /// carriers require an answer).
    NoHelpText,
}

/// One thing that blocks going live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Blocker {
    pub code: BlockerCode,
    /// The wizard item at fault, e.g. `templates/invitation/sms` or `providers/email/prv_…`.
    pub pointer: String,
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Blocker {
    fn new(
        code: BlockerCode,
        pointer: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            code,
            pointer: pointer.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// The report `POST .../wizard/validate` answers and a failed completion keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub blockers: Vec<Blocker>,
    /// What was checked, e.g. `12 templates rendered`, `2 provider connections tested`.
    pub checked: Vec<String>,
}

impl Readiness {
    pub fn from_parts(mut blockers: Vec<Blocker>, checked: Vec<String>) -> Self {
        blockers.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
        Self {
            ready: blockers.is_empty(),
            blockers,
            checked,
        }
    }
}

/// The checks that need nothing but the content. Returns the blockers and what was checked.
pub fn content_blockers(content: &SnapshotContent) -> (Vec<Blocker>, Vec<String>) {
    let mut out = journey_blockers(content);
    let uses = &content.uses;
    let journey_slots = content.journey_slots();
    if (uses.channels.is_empty() || uses.categories.is_empty()) && journey_slots.is_empty() {
        out.push(Blocker::new(
            BlockerCode::NothingToSend,
            "uses",
            "the event uses no channel or no template category",
            "PUT /api/v1/events/{id}/wizard/uses with the channels and categories it sends",
        ));
    }
    let present: Vec<ComplianceBlockName> =
        content.config.compliance.iter().map(|b| b.name).collect();
    for name in ComplianceBlockName::ALL {
        if !present.contains(&name) {
            out.push(Blocker::new(
                BlockerCode::MissingCompliance,
                format!("compliance/{}", name.as_str()),
                format!("the platform has no {} block", name.as_str()),
                format!(
                    "a platform administrator sets it: PUT /api/v1/communication/compliance/{}",
                    name.as_str()
                ),
            ));
        }
    }
    let channels = content.sent_channels();
    for &channel in &channels {
        if content.config.providers_for(channel).is_none() {
            out.push(Blocker::new(
                BlockerCode::NoProvider,
                format!("providers/{channel}"),
                format!("no active {channel} provider at the event or the tenant"),
                format!(
                    "add one for the tenant or the event: POST /api/v1/communication/providers with channel {channel}"
                ),
            ));
        }
    }
    if channels.contains(&Channel::Email)
        && content.config.providers_for(Channel::Email).is_some()
        && content.email_sender.is_none()
    {
        out.push(Blocker::new(
            BlockerCode::NoEmailSender,
            "email_sender",
            "no From address: the email providers have none and the event sets none",
            "PUT /api/v1/events/{id}/wizard/email-sender with a from_address",
        ));
    }
    let context = content.render_context(None);
    let mut rendered = 0;
    let mut slots: Vec<(crate::domain::TemplateCategory, Channel)> = uses.slots().collect();
    slots.extend(journey_slots.iter().copied());
    slots.sort();
    slots.dedup();
    for &(category, channel) in &slots {
        let pointer = format!("templates/{category}/{channel}");
        let Some(resolved) = content.config.template(category, channel) else {
            out.push(Blocker::new(
                BlockerCode::MissingTemplate,
                pointer,
                format!("no {channel} template for {category} at the event, tenant or platform"),
                format!(
                    "create one: POST /api/v1/communication/templates with category {category} and channel {channel}, or stop using it: PUT /api/v1/events/{{id}}/wizard/uses"
                ),
            ));
            continue;
        };
        rendered += 1;
        let result = CompiledTemplate::new(channel, &resolved.template.content)
            .and_then(|t| t.render(&context, &content.config.compliance));
        if let Err(issues) = result {
            let detail: Vec<String> = issues
                .iter()
                .map(|i| format!("{} line {}: {}", i.field, i.line, i.message))
                .collect();
            out.push(Blocker::new(
                BlockerCode::TemplateRenderFailed,
                pointer,
                format!(
                    "the {} template {} does not render with sample guest data: {}",
                    resolved.source,
                    resolved.template.id,
                    detail.join("; ")
                ),
                format!(
                    "fix template {} (POST /api/v1/communication/templates/{}/test shows the error)",
                    resolved.template.id, resolved.template.id
                ),
            ));
        }
    }
    let checked = vec![
        format!(
            "{} of {} template slots rendered with sample guest data",
            rendered,
            slots.len()
        ),
        format!("{} channels have a provider", channels.len()),
        "platform compliance blocks present".to_owned(),
    ];
    (out, checked)
}

/// The journey's own problems: layers that do not resolve, and steps invalid for this event.
fn journey_blockers(content: &SnapshotContent) -> Vec<Blocker> {
    let mut issues = content.journey_issues.clone();
    if let Some(journey) = &content.journey {
        issues.extend(crate::journeys::check_journey(
            journey,
            &content.event.times(),
        ));
    }
    issues
        .into_iter()
        .map(|issue| {
            Blocker::new(
                BlockerCode::JourneyInvalid,
                format!("journey/{}", issue.field),
                issue.message,
                "fix the tenant's journey (PUT /api/v1/communication/journey) or the event's changes (PUT /api/v1/events/{id}/journey/changes)",
            )
        })
        .collect()
}

/// The checks that call providers and AWS: each active provider of a used channel gets its
/// connection test, the email sender its SES identity, and SMS the tenant's help text. An
/// `Err` is a failure to check (KMS or DynamoDB unreachable), not a finding.
pub async fn service_blockers(
    content: &SnapshotContent,
    clients: &ProviderClients,
    sealer: &Sealer,
    store: &Store,
) -> anyhow::Result<(Vec<Blocker>, Vec<String>)> {
    let mut out = Vec::new();
    let mut tested = 0;
    let tenant = content.event.tenant_id;
    for channel in content.sent_channels() {
        let Some(resolved) = content.config.providers_for(channel) else {
            continue;
        };
        for provider in &resolved.providers {
            let credentials = sealer
                .open(tenant, &provider.id.to_string(), &provider.credentials)
                .await?;
            let check =
                check_connection(clients, provider.kind, &provider.settings, &credentials).await;
            tested += 1;
            if !check.ok {
                out.push(Blocker::new(
                    BlockerCode::ProviderCheckFailed,
                    format!("providers/{channel}/{}", provider.id),
                    format!(
                        "{} provider {} ({}) failed its connection test: {}",
                        provider.kind, provider.id, provider.name, check.detail
                    ),
                    format!(
                        "fix its settings or credentials (PUT /api/v1/communication/providers/{}) or deactivate it",
                        provider.id
                    ),
                ));
            }
        }
    }
    let mut checked = vec![format!("{tested} provider connections tested")];
    if content.sent_channels().contains(&Channel::Sms) {
        let (settings, _) = store.conversation_settings(tenant, None).await?;
        match settings.help_text {
            Some(_) => checked.push("the SMS help text is set".to_owned()),
            None => out.push(Blocker::new(
                BlockerCode::NoHelpText,
                "conversation_settings/help_text",
                "SMS is used but the tenant has no help text to answer HELP and INFO with",
                "set help_text: PUT /api/v1/communication/conversation-settings",
            )),
        }
    }
    let uses_ses = content.sent_channels().contains(&Channel::Email)
        && content
            .config
            .providers_for(Channel::Email)
            .is_some_and(|p| p.providers.iter().any(|p| p.kind == ProviderKind::Ses));
    if let (true, Some(sender)) = (uses_ses, &content.email_sender) {
        let address = sender.from_address.as_str().to_lowercase();
        let domain = domain_of(&address).to_owned();
        let registered = match store.get_sender(tenant, &address).await? {
            Some(s) => Some(s),
            None => store.get_sender(tenant, &domain).await?,
        };
        match registered {
            None => out.push(Blocker::new(
                BlockerCode::SenderNotRegistered,
                "email_sender",
                format!("the tenant has registered neither the From address nor its domain {domain}"),
                format!(
                    "register it: POST /api/v1/communication/senders with identity {domain}, then publish the DNS records"
                ),
            )),
            Some(s) => {
                let status = ses_identity_status(&clients.ses, &s.identity).await?;
                checked.push(format!("sender identity {} checked in SES", s.identity));
                let verified =
                    status.verified_for_sending || status.verification_status == "SUCCESS";
                if !verified {
                    out.push(Blocker::new(
                        BlockerCode::SenderUnverified,
                        "email_sender",
                        format!(
                            "sender identity {} is not verified in SES (verification {}, DKIM {})",
                            s.identity, status.verification_status, status.dkim_status
                        ),
                        format!(
                            "publish the DNS records shown by GET /api/v1/communication/senders/{} and wait for SES to verify them",
                            s.identity
                        ),
                    ));
                }
            }
        }
    }
    Ok((out, checked))
}

/// The whole report.
pub async fn check_readiness(
    content: &SnapshotContent,
    clients: &ProviderClients,
    sealer: &Sealer,
    store: &Store,
) -> anyhow::Result<Readiness> {
    let (mut blockers, mut checked) = content_blockers(content);
    let (more, more_checked) = service_blockers(content, clients, sealer, store).await?;
    blockers.extend(more);
    checked.extend(more_checked);
    Ok(Readiness::from_parts(blockers, checked))
}
