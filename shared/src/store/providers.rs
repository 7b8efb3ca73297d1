//! Communication providers of a tenant (defaults) and of its events (overrides).

use super::{Keys, Store, StoreResult, keys};
use crate::config::Provider;
use crate::ids::{EventId, ProviderId, TenantId};

fn provider_keys(tenant: TenantId, event: Option<EventId>, id: ProviderId) -> Keys {
    Keys::new(keys::providers_pk(tenant), keys::provider_sk(event, id))
}

impl Store {
    pub async fn create_provider(&self, tenant: TenantId, provider: &Provider) -> StoreResult<()> {
        self.put_new(
            &provider_keys(tenant, provider.event_id, provider.id),
            provider,
        )
        .await
    }

    pub async fn get_provider(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
        id: ProviderId,
    ) -> StoreResult<Option<Provider>> {
        self.get(&keys::providers_pk(tenant), &keys::provider_sk(event, id))
            .await
    }

    /// One layer's providers: the tenant's defaults (`event == None`) or one event's overrides.
    pub async fn list_providers(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
    ) -> StoreResult<Vec<Provider>> {
        self.query_prefix(
            &keys::providers_pk(tenant),
            &keys::provider_scope_prefix(event),
        )
        .await
    }

    pub async fn replace_provider(
        &self,
        tenant: TenantId,
        provider: &Provider,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(
            &provider_keys(tenant, provider.event_id, provider.id),
            provider,
            expected,
        )
        .await
    }

    pub async fn delete_provider(
        &self,
        tenant: TenantId,
        event: Option<EventId>,
        id: ProviderId,
    ) -> StoreResult<()> {
        self.delete_with_id(&provider_keys(tenant, event, id), &id.to_string())
            .await
    }
}
