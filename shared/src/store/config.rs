//! Brand assets, and reading an event's three configuration layers in two requests.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Item, Keys, Store, StoreResult, Tenant, events::Event, keys, string_attr};
use crate::config::{Brand, ComplianceBlockName, EventLayers, Owner, Provider};
use crate::domain::{Channel, TemplateCategory};
use crate::ids::{EventId, TenantId};

/// An event with its tenant and all three layers of its configuration.
#[derive(Debug, Clone)]
pub struct LoadedEvent {
    pub tenant: Tenant,
    pub event: Event,
    pub layers: EventLayers,
}

impl Store {
    pub async fn get_brand(&self, owner: Owner) -> StoreResult<Option<Brand>> {
        self.get(&keys::owner_pk(owner), keys::BRAND).await
    }

    /// Writes the owner's brand if its stored version is `expected` (0: none stored yet).
    pub async fn put_brand(&self, owner: Owner, brand: &Brand, expected: u64) -> StoreResult<()> {
        self.put_versioned(
            &Keys::new(keys::owner_pk(owner), keys::BRAND),
            brand,
            expected,
        )
        .await
    }

    /// Reads everything the resolver needs for one event: one BatchGetItem of the 99 keys known
    /// in advance and one Query of the tenant's providers, sent concurrently. `None` when the
    /// tenant or the event does not exist.
    pub async fn load_event_layers(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> StoreResult<Option<LoadedEvent>> {
        let providers_pk = keys::providers_pk(tenant);
        let (items, providers) = tokio::try_join!(
            self.batch_get_all(config_keys(tenant, event)),
            self.query_prefix::<Provider>(&providers_pk, "")
        )?;
        let tenant_pk = keys::tenant_pk(tenant);
        let event_pk = keys::event_pk(tenant, event);
        let event_sk = keys::event_sk(event);
        let mut loaded_tenant = None;
        let mut loaded_event = None;
        let mut layers = EventLayers::default();
        for item in items {
            let (pk, sk) = (string_attr(&item, keys::PK), string_attr(&item, keys::SK));
            let is_template = sk.starts_with(keys::TEMPLATE_PREFIX);
            match (pk.as_str(), sk.as_str()) {
                (keys::PLATFORM, _) if is_template => {
                    layers.platform_templates.push(Store::from_item(item)?)
                }
                (keys::PLATFORM, _) => layers.compliance.push(Store::from_item(item)?),
                (p, keys::META) if p == tenant_pk => loaded_tenant = Some(Store::from_item(item)?),
                (p, keys::JOURNEY) if p == tenant_pk => {
                    let stored: super::TenantJourney = Store::from_item(item)?;
                    layers.tenant_journey = Some(stored.journey);
                }
                (p, keys::JOURNEY) if p == event_pk => {
                    let stored: super::EventJourney = Store::from_item(item)?;
                    layers.event_journey = Some(stored.changes);
                }
                (p, s) if p == tenant_pk && s == event_sk => {
                    loaded_event = Some(Store::from_item(item)?)
                }
                (p, keys::BRAND) if p == tenant_pk => {
                    layers.tenant.brand = Some(Store::from_item(item)?)
                }
                (p, _) if p == tenant_pk => layers.tenant.templates.push(Store::from_item(item)?),
                (p, keys::BRAND) if p == event_pk => {
                    layers.event.brand = Some(Store::from_item(item)?)
                }
                (p, _) if p == event_pk => layers.event.templates.push(Store::from_item(item)?),
                _ => {}
            }
        }
        let (Some(tenant_record), Some(event_record)) = (loaded_tenant, loaded_event) else {
            return Ok(None);
        };
        for provider in providers {
            match provider.event_id {
                None => layers.tenant.providers.push(provider),
                Some(e) if e == event => layers.event.providers.push(provider),
                Some(_) => {}
            }
        }
        Ok(Some(LoadedEvent {
            tenant: tenant_record,
            event: event_record,
            layers,
        }))
    }
}

/// The 99 keys of an event's configuration that are known without reading anything (the
/// journey layers among them).
fn config_keys(tenant: TenantId, event: EventId) -> Vec<Item> {
    let key = |pk: &str, sk: &str| -> Item {
        HashMap::from([
            (keys::PK.to_owned(), AttributeValue::S(pk.to_owned())),
            (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    };
    let tenant_pk = keys::tenant_pk(tenant);
    let event_pk = keys::event_pk(tenant, event);
    let mut out = vec![
        key(&tenant_pk, keys::META),
        key(&tenant_pk, &keys::event_sk(event)),
        key(&tenant_pk, keys::BRAND),
        key(&event_pk, keys::BRAND),
        key(&tenant_pk, keys::JOURNEY),
        key(&event_pk, keys::JOURNEY),
    ];
    for name in ComplianceBlockName::ALL {
        out.push(key(keys::PLATFORM, &keys::compliance_sk(name)));
    }
    for pk in [keys::PLATFORM, tenant_pk.as_str(), event_pk.as_str()] {
        for category in TemplateCategory::ALL {
            for channel in Channel::ALL {
                out.push(key(pk, &keys::template_sk(*category, *channel)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_keys_fit_one_batch_get() {
        let keys = config_keys(TenantId::new(), EventId::new());
        assert_eq!(keys.len(), 99);
        assert!(keys.len() <= 100);
    }
}
