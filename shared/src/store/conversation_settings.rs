//! The conversation settings of both layers (the tenant's and an event's) and the claims of
//! inbound numbers (which tenant's provider receives on a number; see the keys module).

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::batch::ItemKey;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::conversations::rules::ConversationSettings;
use crate::ids::{EventId, ProviderId, TenantId};

/// Which tenant's provider receives on a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundNumber {
    pub number: String,
    pub tenant_id: TenantId,
    pub provider_id: ProviderId,
}

/// A layer's settings as stored: the API's type refuses unknown fields (the item's keys), so
/// it travels in an attribute of its own, the version beside it for the write's condition.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSettings {
    version: u64,
    settings: ConversationSettings,
}

impl StoredSettings {
    fn into_settings(self) -> ConversationSettings {
        ConversationSettings {
            version: self.version,
            ..self.settings
        }
    }
}

fn settings_pk(tenant: TenantId, event: Option<EventId>) -> String {
    match event {
        Some(e) => keys::event_pk(tenant, e),
        None => keys::tenant_pk(tenant),
    }
}

impl Store {
    /// The tenant's conversation settings and, for an event, the event's (one BatchGetItem).
    pub async fn conversation_settings(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
    ) -> StoreResult<(ConversationSettings, Option<ConversationSettings>)> {
        let mut wanted = vec![ItemKey::new(
            keys::tenant_pk(tenant),
            keys::CONVERSATION_SETTINGS,
        )];
        if let Some(e) = event {
            wanted.push(ItemKey::new(
                keys::event_pk(tenant, e),
                keys::CONVERSATION_SETTINGS,
            ));
        }
        let found = self
            .batch_get_all(wanted.iter().map(ItemKey::item).collect())
            .await?;
        let mut tenant_settings = ConversationSettings::default();
        let mut event_settings = None;
        for item in found {
            let tenant_layer = super::string_attr(&item, keys::PK) == keys::tenant_pk(tenant);
            let s = Store::from_item::<StoredSettings>(item)?.into_settings();
            match tenant_layer {
                true => tenant_settings = s,
                false => event_settings = Some(s),
            }
        }
        Ok((tenant_settings, event_settings))
    }

    /// One layer's settings (default when never set).
    pub async fn layer_conversation_settings(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
    ) -> StoreResult<ConversationSettings> {
        Ok(self
            .get::<StoredSettings>(&settings_pk(tenant, event), keys::CONVERSATION_SETTINGS)
            .await?
            .map(StoredSettings::into_settings)
            .unwrap_or_default())
    }

    /// Replaces a layer's settings if its stored version is `expected` (0: none yet).
    pub async fn put_conversation_settings(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
        settings: &ConversationSettings,
        expected: u64,
    ) -> StoreResult<()> {
        let stored = StoredSettings {
            version: settings.version,
            settings: settings.clone(),
        };
        self.put_versioned(
            &Keys::new(settings_pk(tenant, event), keys::CONVERSATION_SETTINGS),
            &stored,
            expected,
        )
        .await
    }

    /// Claims `number` for a tenant's provider: `AlreadyExists` when another tenant holds it.
    pub async fn claim_inbound_number(&self, claim: &InboundNumber) -> StoreResult<()> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &Keys::new(keys::inbound_number_pk(&claim.number), keys::CLAIM),
                claim,
            )?))
            .condition_expression("attribute_not_exists(PK) OR tenant_id = :t")
            .expression_attribute_values(":t", AttributeValue::S(claim.tenant_id.to_string()))
            .send()
            .await;
        super::conditional(result, StoreError::AlreadyExists, || {
            "PutItem inbound number".into()
        })
    }

    pub async fn inbound_number(&self, number: &str) -> StoreResult<Option<InboundNumber>> {
        self.get(&keys::inbound_number_pk(number), keys::CLAIM)
            .await
    }
}
