//! The inheritance resolver: a pure function from an event's three layers to its effective
//! configuration, recording for every item which layer supplied it and the chain behind it.
//!
//! Rules:
//! - templates, per (category, channel): event, else tenant, else platform;
//! - providers, per channel: the event's providers when it has at least one *active* provider
//!   for that channel, else the tenant's; within a channel, ordered by priority then id;
//! - brand, per field: event, else tenant;
//! - compliance blocks: the platform's, always, whatever the other layers say.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{ComplianceBlock, EventLayers, Provider, Template};
use crate::domain::{Channel, Layer, TemplateCategory};
use crate::ids::{ProviderId, TemplateId};

/// One layer's contribution to a template slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TemplateLink {
    pub layer: Layer,
    pub template_id: TemplateId,
    pub version: u64,
}

/// The effective template for one (category, channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedTemplate {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// The layer whose template is in effect.
    pub source: Layer,
    pub template: Template,
    /// Every layer that defines this slot, from the most general (platform) to the event.
    pub chain: Vec<TemplateLink>,
}

/// One layer's providers for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderLink {
    pub layer: Layer,
    pub provider_ids: Vec<ProviderId>,
    pub active_count: usize,
}

/// The effective providers for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedProviders {
    pub channel: Channel,
    pub source: Layer,
    /// Active providers in failover order (priority, then id).
    pub providers: Vec<Provider>,
    pub chain: Vec<ProviderLink>,
}

/// One layer's value of a brand field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BrandLink {
    pub layer: Layer,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedBrandField {
    pub value: String,
    pub source: Layer,
    pub chain: Vec<BrandLink>,
}

/// An event's effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedConfig {
    /// Slots that some layer defines, in category then channel order.
    pub templates: Vec<ResolvedTemplate>,
    /// Channels with at least one active provider at some layer.
    pub providers: Vec<ResolvedProviders>,
    pub brand: BTreeMap<String, ResolvedBrandField>,
    /// The platform's locked blocks, in name order.
    pub compliance: Vec<ComplianceBlock>,
}

impl ResolvedConfig {
    pub fn template(
        &self,
        category: TemplateCategory,
        channel: Channel,
    ) -> Option<&ResolvedTemplate> {
        self.templates
            .iter()
            .find(|t| t.category == category && t.channel == channel)
    }

    pub fn providers_for(&self, channel: Channel) -> Option<&ResolvedProviders> {
        self.providers.iter().find(|p| p.channel == channel)
    }
}

/// Resolves an event's configuration from its layers. Pure: no I/O, no clock.
pub fn resolve_event_config(layers: &EventLayers) -> ResolvedConfig {
    ResolvedConfig {
        templates: resolve_templates(layers),
        providers: resolve_providers(layers),
        brand: resolve_brand(layers),
        compliance: {
            let mut blocks = layers.compliance.clone();
            blocks.sort_by_key(|b| b.name);
            blocks
        },
    }
}

fn resolve_templates(layers: &EventLayers) -> Vec<ResolvedTemplate> {
    let by_layer: [(Layer, &[Template]); 3] = [
        (Layer::Platform, &layers.platform_templates),
        (Layer::Tenant, &layers.tenant.templates),
        (Layer::Event, &layers.event.templates),
    ];
    let mut slots: BTreeMap<(TemplateCategory, Channel), Vec<(Layer, &Template)>> = BTreeMap::new();
    for (layer, templates) in by_layer {
        for t in templates {
            slots
                .entry((t.category, t.channel))
                .or_default()
                .push((layer, t));
        }
    }
    slots
        .into_iter()
        .filter_map(|((category, channel), chain)| {
            let (source, winner) = *chain.last()?;
            Some(ResolvedTemplate {
                category,
                channel,
                source,
                template: winner.clone(),
                chain: chain
                    .iter()
                    .map(|(layer, t)| TemplateLink {
                        layer: *layer,
                        template_id: t.id,
                        version: t.version,
                    })
                    .collect(),
            })
        })
        .collect()
}

fn resolve_providers(layers: &EventLayers) -> Vec<ResolvedProviders> {
    Channel::ALL
        .iter()
        .filter_map(|&channel| {
            let of = |layer: Layer, providers: &[Provider]| -> Option<(Layer, Vec<Provider>)> {
                let mut mine: Vec<Provider> = providers
                    .iter()
                    .filter(|p| p.channel == channel)
                    .cloned()
                    .collect();
                if mine.is_empty() {
                    return None;
                }
                mine.sort_by_key(|p| (p.priority, p.id));
                Some((layer, mine))
            };
            let chain: Vec<(Layer, Vec<Provider>)> = [
                of(Layer::Tenant, &layers.tenant.providers),
                of(Layer::Event, &layers.event.providers),
            ]
            .into_iter()
            .flatten()
            .collect();
            let (source, winners) = chain
                .iter()
                .rev()
                .find(|(_, ps)| ps.iter().any(|p| p.active))?;
            Some(ResolvedProviders {
                channel,
                source: *source,
                providers: winners.iter().filter(|p| p.active).cloned().collect(),
                chain: chain
                    .iter()
                    .map(|(layer, ps)| ProviderLink {
                        layer: *layer,
                        provider_ids: ps.iter().map(|p| p.id).collect(),
                        active_count: ps.iter().filter(|p| p.active).count(),
                    })
                    .collect(),
            })
        })
        .collect()
}

fn resolve_brand(layers: &EventLayers) -> BTreeMap<String, ResolvedBrandField> {
    let mut out = BTreeMap::new();
    let tenant = layers.tenant.brand.as_ref().map(|b| b.fields.entries());
    let event = layers.event.brand.as_ref().map(|b| b.fields.entries());
    for i in 0..5 {
        let mut chain = Vec::new();
        let mut name = "";
        for (layer, entries) in [(Layer::Tenant, &tenant), (Layer::Event, &event)] {
            if let Some(entries) = entries {
                name = entries[i].0;
                if let Some(value) = entries[i].1 {
                    chain.push(BrandLink {
                        layer,
                        value: value.clone(),
                    });
                }
            }
        }
        if let Some(last) = chain.last() {
            out.insert(
                name.to_owned(),
                ResolvedBrandField {
                    value: last.value.clone(),
                    source: last.layer,
                    chain: chain.clone(),
                },
            );
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
