//! Engagement for the CRM: the last message sent, opened and clicked of each contact a batch
//! is about, one outbox update per contact of a tenant with a CRM connection (pushed by the
//! next crm-sync run).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::ids::{ContactId, TenantId};
use herald::store::Store;
use herald::tracking::Tracked;

#[derive(Debug, Clone)]
pub struct Engagement {
    store: Store,
    /// Whether each tenant has a CRM connection, by when it was read.
    tenants: Arc<tokio::sync::Mutex<HashMap<TenantId, (Instant, bool)>>>,
}

impl Engagement {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            tenants: Arc::default(),
        }
    }

    /// Whether the tenant has a CRM connection (read at most once a minute per instance).
    async fn has_crm(&self, tenant: TenantId) -> anyhow::Result<bool> {
        if let Some((at, yes)) = self.tenants.lock().await.get(&tenant)
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(*yes);
        }
        let yes = self.store.get_crm_connection(tenant).await?.is_some();
        let mut cache = self.tenants.lock().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(tenant, (Instant::now(), yes));
        Ok(yes)
    }

    /// The engagement a batch tells the CRM about (last message sent, opened, clicked), one
    /// outbox update per contact of a tenant with a CRM connection; how many contacts.
    pub async fn push(&self, events: &[Tracked]) -> anyhow::Result<usize> {
        use herald::domain::DeliveryEvent;
        let mut latest: HashMap<(TenantId, ContactId), herald::crm::Engagement> = HashMap::new();
        for e in events {
            let Some(contact) = e.contact else { continue };
            type Slot =
                fn(&mut herald::crm::Engagement) -> &mut Option<chrono::DateTime<chrono::Utc>>;
            let slot: Slot = match e.kind {
                DeliveryEvent::Sent => {
                    |g: &mut herald::crm::Engagement| &mut g.last_message_sent_at
                }
                DeliveryEvent::Opened => |g: &mut herald::crm::Engagement| &mut g.last_opened_at,
                DeliveryEvent::Clicked => |g: &mut herald::crm::Engagement| &mut g.last_clicked_at,
                _ => continue,
            };
            let entry = latest.entry((e.tenant, contact)).or_default();
            let field = slot(entry);
            if field.is_none_or(|t| t < e.at) {
                *field = Some(e.at);
            }
        }
        let now = chrono::Utc::now();
        let mut pushed = 0;
        for ((tenant, contact), engagement) in &latest {
            if self.has_crm(*tenant).await? {
                self.store
                    .touch_crm_outbox(*tenant, *contact, engagement, now)
                    .await?;
                pushed += 1;
            }
        }
        Ok(pushed)
    }
}
