//! The one-off creation of a platform administrator key, for a new stack.

use chrono::Utc;
use herald::domain::Role;
use herald::ids::ApiKeyId;
use herald::store::{ApiKey, ApiKeyRecord, Store, new_secret};

/// Creates a platform_admin key and returns it with its secret (shown once).
pub async fn create_platform_key(store: &Store, name: &str) -> anyhow::Result<(ApiKey, String)> {
    let (secret, secret_hash) = new_secret();
    let key = ApiKey {
        id: ApiKeyId::new(),
        name: name.to_owned(),
        role: Role::PlatformAdmin,
        tenant_id: None,
        event_ids: Vec::new(),
        secret_hint: secret.chars().take(8).collect(),
        created_at: Utc::now(),
        revoked_at: None,
        expires_at: None,
        replaced_by: None,
    };
    store
        .create_api_key(
            None,
            &ApiKeyRecord {
                key: key.clone(),
                secret_hash,
            },
        )
        .await?;
    Ok((key, secret))
}
