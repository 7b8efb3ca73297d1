//! Console sessions: a signed-in browser's server-side state, found by the SHA-256 of the
//! cookie's random token (the token itself is never stored), with the hash of the API key it
//! signed in with, its CSRF token and its expiry (and `ttl`, so DynamoDB removes it after).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api_keys::{ApiKey, ApiKeyRecord};
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::ids::ApiKeyId;

/// A session lasts this long from sign-in, whatever is done in it.
pub const SESSION_HOURS: i64 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The SHA-256 of the API key's secret it signed in with: the key is read again on every
    /// request, so a revoked, rotated-out or expired key ends the session at once.
    pub key_hash: String,
    /// Which key (for the audit and the logs).
    pub key_id: ApiKeyId,
    /// Every form of the session carries it; a POST without it is refused.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Seconds since the epoch: DynamoDB deletes the item some time after.
    pub ttl: i64,
}

impl Session {
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

fn session_keys(token_hash: &str) -> Keys {
    Keys::new(keys::session_pk(token_hash), keys::SESSION_SK)
}

impl Store {
    /// Writes a new session (a conditional PutItem: a token is never reused).
    pub async fn create_session(&self, token_hash: &str, session: &Session) -> StoreResult<()> {
        self.put_new(&session_keys(token_hash), session).await
    }

    /// A session and the API key it signed in with, in one BatchGetItem: the cookie names both
    /// hashes, and the key must be the session's own (else neither is returned).
    pub async fn find_session_with_key(
        &self,
        token_hash: &str,
        key_hash: &str,
    ) -> StoreResult<(Option<Session>, Option<ApiKey>)> {
        let wanted = vec![
            session_keys(token_hash).primary(),
            Keys::new(keys::api_key_pk(key_hash), keys::API_KEY_SK).primary(),
        ];
        let mut session = None;
        let mut key = None;
        for item in self.batch_get_all(wanted).await? {
            if super::string_attr(&item, keys::SK) == keys::SESSION_SK {
                session = Some(Self::from_item::<Session>(item)?);
            } else {
                key = Some(Self::from_item::<ApiKeyRecord>(item)?.key);
            }
        }
        match session {
            Some(s) if s.key_hash == key_hash => Ok((Some(s), key)),
            _ => Ok((None, None)),
        }
    }

    /// Ends a session (signing out); ending one that is gone is not an error.
    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let keys = session_keys(token_hash);
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(
                keys::PK,
                aws_sdk_dynamodb::types::AttributeValue::S(keys.pk),
            )
            .key(
                keys::SK,
                aws_sdk_dynamodb::types::AttributeValue::S(keys.sk),
            )
            .send()
            .await
            .map_err(|e| {
                StoreError::Unexpected(anyhow::Error::new(e).context("DeleteItem session"))
            })?;
        Ok(())
    }
}
