//! The resolver's rules as properties over arbitrary layers, plus a few worked examples.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::subsequence;
use ulid::Ulid;

use super::*;
use crate::config::{
    Brand, BrandFields, ComplianceBlockName, LayerConfig, SealedCredentials, TemplateContent,
};
use crate::domain::ProviderKind;
use crate::ids::{EventId, IdError, TenantId};

pub(crate) fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(0, 0).expect("the epoch is a valid time")
}

/// A deterministic id of any kind, so that failing cases shrink and replay.
fn id<T: std::str::FromStr<Err = IdError>>(prefix: &str, n: u128) -> T {
    let text = format!("{prefix}_{}", Ulid(n));
    text.parse().expect("a well-formed id")
}

/// A layer's template for a slot; its id is derived from (layer, slot), so unique across layers.
fn template(layer: Layer, category: TemplateCategory, channel: Channel, version: u64) -> Template {
    let n = ((layer as u128) << 16) | ((category as u128) << 8) | (channel as u128);
    Template {
        id: id("tpl", n + 1),
        layer,
        tenant_id: (layer != Layer::Platform).then(|| id::<TenantId>("ten", 1)),
        event_id: (layer == Layer::Event).then(|| id::<EventId>("evt", 2)),
        category,
        channel,
        content: TemplateContent {
            subject: None,
            html: None,
            text: Some(format!("{layer} {category} {channel}")),
        },
        version,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

fn provider(layer: Layer, n: u128, channel: Channel, priority: u32, active: bool) -> Provider {
    let kind = match channel {
        Channel::Email => ProviderKind::Ses,
        Channel::Sms => ProviderKind::Twilio,
        Channel::Whatsapp => ProviderKind::WhatsappCloud,
    };
    Provider {
        id: id("prv", n),
        tenant_id: id("ten", 1),
        event_id: (layer == Layer::Event).then(|| id::<EventId>("evt", 2)),
        layer,
        kind,
        channel,
        name: format!("{kind} {n}"),
        priority,
        active,
        send_rate: None,
        settings: serde_json::json!({}),
        credentials: SealedCredentials {
            ciphertext: String::new(),
            hints: BTreeMap::new(),
        },
        version: 1,
        created_at: epoch(),
        updated_at: epoch(),
    }
}

/// A random subset of the 30 slots, in random order, with random versions.
fn templates(layer: Layer) -> impl Strategy<Value = Vec<Template>> {
    let slots = subsequence((0..30).collect::<Vec<usize>>(), 0..=30);
    (slots, prop::collection::vec(1u64..50, 30))
        .prop_map(move |(slots, versions)| {
            let slot = |i: usize| (TemplateCategory::ALL[i / 3], Channel::ALL[i % 3]);
            let each = slots.into_iter().map(slot).zip(versions);
            each.map(|((c, ch), v)| template(layer, c, ch, v))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// Up to six providers on random channels; colliding priorities and random ids exercise the
/// (priority, id) order.
fn providers(layer: Layer) -> impl Strategy<Value = Vec<Provider>> {
    let spec = (0..3usize, 0u32..3, any::<bool>(), any::<u16>());
    prop::collection::vec(spec, 0..7).prop_map(move |specs| {
        let numbered = specs.into_iter().enumerate();
        numbered
            .map(|(i, (ch, priority, active, key))| {
                let n = (u128::from(key) << 16) | ((layer as u128) << 8) | i as u128;
                provider(layer, n, Channel::ALL[ch], priority, active)
            })
            .collect()
    })
}

fn brand() -> impl Strategy<Value = Option<Brand>> {
    let fields = prop::array::uniform5(prop::option::of("[a-c]{1,2}"));
    prop::option::of(
        fields.prop_map(|[logo, primary, secondary, sender, footer]| Brand {
            fields: BrandFields {
                logo_url: logo,
                primary_color: primary,
                secondary_color: secondary,
                sender_name: sender,
                footer,
            },
            version: 1,
            updated_at: epoch(),
        }),
    )
}

/// Any subset of the platform's blocks, in any order.
fn compliance() -> impl Strategy<Value = Vec<ComplianceBlock>> {
    let block = |name: ComplianceBlockName| {
        let text = format!("{} text", name.as_str());
        ComplianceBlock {
            name,
            text,
            html: None,
            version: 1,
            updated_at: epoch(),
        }
    };
    let names = subsequence(ComplianceBlockName::ALL.to_vec(), 0..=3);
    names
        .prop_map(move |names| names.into_iter().map(block).collect::<Vec<_>>())
        .prop_shuffle()
}

fn layer(templates: Vec<Template>, providers: Vec<Provider>, brand: Option<Brand>) -> LayerConfig {
    LayerConfig {
        templates,
        providers,
        brand,
    }
}

/// Arbitrary layers of one event (also used by the wizard's snapshot properties).
pub(crate) fn layers() -> impl Strategy<Value = EventLayers> {
    let tenant = (templates(Layer::Tenant), providers(Layer::Tenant), brand());
    let event = (templates(Layer::Event), providers(Layer::Event), brand());
    (templates(Layer::Platform), compliance(), tenant, event).prop_map(|(p, c, t, e)| EventLayers {
        platform_templates: p,
        compliance: c,
        tenant: layer(t.0, t.1, t.2),
        event: layer(e.0, e.1, e.2),
        ..EventLayers::default()
    })
}

/// What one layer defines: its templates, providers and brand (the platform has only templates).
fn at(layers: &EventLayers, layer: Layer) -> (&[Template], &[Provider], Option<&Brand>) {
    let (t, e) = (&layers.tenant, &layers.event);
    match layer {
        Layer::Platform => (&layers.platform_templates, &[], None),
        Layer::Tenant => (&t.templates, &t.providers, t.brand.as_ref()),
        Layer::Event => (&e.templates, &e.providers, e.brand.as_ref()),
    }
}

fn field<'a>(brand: Option<&'a Brand>, name: &str) -> Option<&'a String> {
    let entries = brand?.fields.entries();
    entries.into_iter().find(|e| e.0 == name)?.1
}

fn in_slot(templates: &[Template], slot: (TemplateCategory, Channel)) -> Option<&Template> {
    templates.iter().find(|t| (t.category, t.channel) == slot)
}

proptest! {
    #[test]
    fn an_event_template_always_wins(layers in layers()) {
        let resolved = resolve_event_config(&layers);
        for t in &layers.event.templates {
            let r = resolved.template(t.category, t.channel).expect("an event slot resolves");
            prop_assert_eq!(r.source, Layer::Event);
            prop_assert_eq!(r.template.id, t.id);
            prop_assert_eq!(&r.template, t);
        }
    }

    #[test]
    fn removing_an_event_override_restores_the_inherited_template(layers in layers()) {
        let before = resolve_event_config(&layers);
        let inherited = resolve_event_config(&EventLayers {
            event: LayerConfig { templates: Vec::new(), ..layers.event.clone() },
            ..layers.clone()
        });
        for t in &layers.event.templates {
            let slot = (t.category, t.channel);
            let mut without = layers.clone();
            without.event.templates.retain(|x| x.id != t.id);
            let after = resolve_event_config(&without);
            let restored = after.template(t.category, t.channel);
            prop_assert_eq!(restored, inherited.template(t.category, t.channel));
            let expected = in_slot(&layers.tenant.templates, slot)
                .map(|t| (Layer::Tenant, t))
                .or_else(|| in_slot(&layers.platform_templates, slot).map(|t| (Layer::Platform, t)));
            prop_assert_eq!(restored.map(|r| (r.source, &r.template)), expected);
            let others = |c: &ResolvedConfig| -> Vec<ResolvedTemplate> {
                c.templates.iter().filter(|r| (r.category, r.channel) != slot).cloned().collect()
            };
            prop_assert_eq!(others(&after), others(&before));
        }
    }

    #[test]
    fn locked_compliance_blocks_always_survive(layers in layers(), other in layers()) {
        let expected: Vec<ComplianceBlock> = ComplianceBlockName::ALL
            .iter()
            .filter_map(|n| layers.compliance.iter().find(|b| b.name == *n).cloned())
            .collect();
        prop_assert_eq!(&resolve_event_config(&layers).compliance, &expected);
        let mixed = EventLayers { compliance: layers.compliance.clone(), ..other };
        prop_assert_eq!(&resolve_event_config(&mixed).compliance, &expected);
    }

    #[test]
    fn provenance_names_a_layer_that_defines_the_item(layers in layers()) {
        let resolved = resolve_event_config(&layers);
        for r in &resolved.templates {
            let slot = (r.category, r.channel);
            prop_assert_eq!(in_slot(at(&layers, r.source).0, slot).map(|t| t.id), Some(r.template.id));
            prop_assert_eq!(r.chain.last().map(|l| l.layer), Some(r.source));
            prop_assert!(r.chain.windows(2).all(|w| w[0].layer < w[1].layer));
            for link in &r.chain {
                let t = in_slot(at(&layers, link.layer).0, slot);
                prop_assert_eq!(t.map(|t| (t.id, t.version)), Some((link.template_id, link.version)));
            }
        }
        for (name, f) in &resolved.brand {
            prop_assert_eq!(field(at(&layers, f.source).2, name), Some(&f.value));
            prop_assert_eq!(f.chain.last().map(|l| l.layer), Some(f.source));
            for link in &f.chain {
                prop_assert_eq!(field(at(&layers, link.layer).2, name), Some(&link.value));
            }
        }
        for r in &resolved.providers {
            prop_assert!(!r.providers.is_empty());
            for p in &r.providers {
                prop_assert!(p.active && p.channel == r.channel);
                prop_assert!(at(&layers, r.source).1.contains(p));
            }
        }
    }

    #[test]
    fn event_providers_are_used_iff_one_is_active(layers in layers()) {
        let resolved = resolve_event_config(&layers);
        for &channel in Channel::ALL {
            let active = |ps: &[Provider]| -> Vec<Provider> {
                ps.iter().filter(|p| p.channel == channel && p.active).cloned().collect()
            };
            let (event, tenant) = (active(&layers.event.providers), active(&layers.tenant.providers));
            let expected = if !event.is_empty() {
                Some((Layer::Event, event))
            } else if !tenant.is_empty() {
                Some((Layer::Tenant, tenant))
            } else {
                None
            };
            let got = resolved.providers_for(channel);
            prop_assert_eq!(got.map(|r| r.source), expected.as_ref().map(|(l, _)| *l));
            if let (Some(got), Some((_, mut want))) = (got, expected) {
                let order = |p: &Provider| (p.priority, p.id);
                prop_assert!(got.providers.windows(2).all(|w| order(&w[0]) < order(&w[1])));
                let mut have = got.providers.clone();
                have.sort_by_key(|p| p.id);
                want.sort_by_key(|p| p.id);
                prop_assert_eq!(have, want);
            }
        }
    }

    #[test]
    fn each_brand_field_is_the_events_else_the_tenants(layers in layers()) {
        let resolved = resolve_event_config(&layers);
        let mut set = 0;
        for (name, _) in BrandFields::default().entries() {
            let expected = field(layers.event.brand.as_ref(), name)
                .map(|v| (v, Layer::Event))
                .or_else(|| field(layers.tenant.brand.as_ref(), name).map(|v| (v, Layer::Tenant)));
            set += usize::from(expected.is_some());
            prop_assert_eq!(resolved.brand.get(name).map(|f| (&f.value, f.source)), expected);
        }
        prop_assert_eq!(resolved.brand.len(), set);
    }
}

#[test]
fn the_chain_runs_platform_then_tenant_then_event() {
    let (c, ch) = (TemplateCategory::Invitation, Channel::Email);
    let p = template(Layer::Platform, c, ch, 3);
    let t = template(Layer::Tenant, c, ch, 2);
    let e = template(Layer::Event, c, ch, 1);
    let layers = EventLayers {
        platform_templates: vec![p.clone()],
        tenant: layer(vec![t.clone()], Vec::new(), None),
        event: layer(vec![e.clone()], Vec::new(), None),
        ..EventLayers::default()
    };
    let resolved = resolve_event_config(&layers);
    let r = resolved.template(c, ch).expect("the slot resolves");
    let chain: Vec<_> = r.chain.iter().map(|l| (l.layer, l.template_id)).collect();
    let expected = [
        (Layer::Platform, p.id),
        (Layer::Tenant, t.id),
        (Layer::Event, e.id),
    ];
    assert_eq!(chain, expected);
    assert_eq!((r.source, r.template.id), (Layer::Event, e.id));
}

#[test]
fn inactive_event_providers_fall_back_to_the_tenants_in_priority_order() {
    let tenant = vec![
        provider(Layer::Tenant, 30, Channel::Email, 1, true),
        provider(Layer::Tenant, 20, Channel::Email, 1, true),
        provider(Layer::Tenant, 10, Channel::Email, 2, true),
        provider(Layer::Tenant, 40, Channel::Sms, 0, false),
    ];
    let event = vec![provider(Layer::Event, 50, Channel::Email, 0, false)];
    let resolved = resolve_event_config(&EventLayers {
        tenant: layer(Vec::new(), tenant, None),
        event: layer(Vec::new(), event, None),
        ..EventLayers::default()
    });
    let email = resolved
        .providers_for(Channel::Email)
        .expect("email has active providers");
    assert_eq!(email.source, Layer::Tenant);
    let ids: Vec<ProviderId> = email.providers.iter().map(|p| p.id).collect();
    assert_eq!(ids, [id("prv", 20), id("prv", 30), id("prv", 10)]);
    assert_eq!(
        resolved.providers_for(Channel::Sms),
        None,
        "no SMS provider is active"
    );
}
