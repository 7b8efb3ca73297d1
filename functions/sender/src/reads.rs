//! The reads a job starts from, each cached per instance: the tenant's retention, a campaign's
//! status, a provider's credentials, a snapshot version.

use super::*;

impl Sender {
    /// The tenant's message retention in days (read at most once a minute per instance).
    pub(crate) async fn retention(&self, tenant: TenantId) -> anyhow::Result<Option<u32>> {
        let mut cache = self.retentions.lock().await;
        if let Some((at, days)) = cache.get(&tenant)
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(*days);
        }
        let days = self
            .store
            .get_tenant(tenant)
            .await?
            .and_then(|t| t.retention_days);
        cache.insert(tenant, (Instant::now(), days));
        Ok(days)
    }

    /// A campaign's status as read at most [`STATUS_MAX_AGE`] ago: the delivery jobs of one
    /// invocation share one read, and a cancel stops new batches within that time.
    pub(crate) async fn campaign_status(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> anyhow::Result<Option<CampaignStatus>> {
        let mut statuses = self.statuses.lock().await;
        if let Some((at, status)) = statuses.get(&(tenant, id))
            && at.elapsed() < STATUS_MAX_AGE
        {
            return Ok(*status);
        }
        let status = self
            .store
            .campaign_item(tenant, id)
            .await?
            .map(|c| c.status);
        statuses.retain(|_, (at, _)| at.elapsed() < STATUS_MAX_AGE);
        statuses.insert((tenant, id), (Instant::now(), status));
        Ok(status)
    }

    /// A provider's credentials, opened once per instance (sealed credentials are immutable
    /// for a provider version).
    pub(crate) async fn credentials(
        &self,
        tenant: TenantId,
        provider: &Provider,
    ) -> anyhow::Result<Arc<BTreeMap<String, String>>> {
        let mut opened = self.credentials.lock().await;
        let key = (tenant, provider.id, provider.version);
        if let Some(c) = opened.get(&key) {
            return Ok(c.clone());
        }
        let c = Arc::new(
            self.sealer
                .open(tenant, &provider.id.to_string(), &provider.credentials)
                .await?,
        );
        opened.insert(key, c.clone());
        Ok(c)
    }

    /// A snapshot version (kept for the instance's life; concurrent jobs share one read) or,
    /// without one, the active snapshot.
    pub(crate) async fn snapshot(
        &self,
        tenant: TenantId,
        event: EventId,
        version: Option<u64>,
    ) -> anyhow::Result<Option<Arc<Snapshot>>> {
        let Some(version) = version else {
            return Ok(self
                .store
                .get_snapshot(tenant, event, None)
                .await?
                .map(Arc::new));
        };
        let mut cache = self.snapshots.lock().await;
        if let Some(s) = cache.get(&(tenant, event, version)) {
            return Ok(Some(s.clone()));
        }
        let found = self
            .store
            .get_snapshot(tenant, event, Some(version))
            .await?
            .map(Arc::new);
        if let Some(s) = &found {
            cache.insert((tenant, event, version), s.clone());
        }
        Ok(found)
    }
}
