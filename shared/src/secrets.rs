//! Secrets (provider credentials) sealed with KMS before they are stored.
//!
//! The credential fields are serialised to JSON and encrypted with the Herald KMS key directly
//! (they are far below KMS's 4 KB limit), with an encryption context that binds the ciphertext
//! to its tenant and owner: a ciphertext copied to another tenant's item does not decrypt.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;

use crate::config::SealedCredentials;
use crate::ids::TenantId;

#[derive(Clone, Debug)]
pub struct Sealer {
    kms: crate::aws::LazyClient<aws_sdk_kms::Client>,
    key_id: String,
}

/// A masked hint of a secret value: its last four characters at most, never more than a quarter.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let shown = (chars.len() / 4).min(4);
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("••••{tail}")
}

impl Sealer {
    /// `kms`: a client, or a [`crate::aws::LazyClient`] built when a secret is first sealed
    /// or opened.
    pub fn new(
        kms: impl Into<crate::aws::LazyClient<aws_sdk_kms::Client>>,
        key_id: impl Into<String>,
    ) -> Self {
        Self {
            kms: kms.into(),
            key_id: key_id.into(),
        }
    }

    /// Encrypts `fields` for `owner` (for example a provider id) of `tenant`.
    pub async fn seal(
        &self,
        tenant: TenantId,
        owner: &str,
        fields: &BTreeMap<String, String>,
    ) -> anyhow::Result<SealedCredentials> {
        let plaintext = serde_json::to_vec(fields).context("serialising credentials")?;
        let out = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context("tenant_id", tenant.to_string())
            .encryption_context("owner", owner)
            .send()
            .await
            .context("KMS Encrypt")?;
        let blob = out
            .ciphertext_blob
            .context("KMS Encrypt returned no ciphertext")?;
        Ok(SealedCredentials {
            ciphertext: base64::engine::general_purpose::STANDARD.encode(blob.as_ref()),
            hints: fields.iter().map(|(k, v)| (k.clone(), mask(v))).collect(),
        })
    }

    /// Decrypts what `seal` produced for the same tenant and owner.
    pub async fn open(
        &self,
        tenant: TenantId,
        owner: &str,
        sealed: &SealedCredentials,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&sealed.ciphertext)
            .context("ciphertext is not base64")?;
        let out = self
            .kms
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context("tenant_id", tenant.to_string())
            .encryption_context("owner", owner)
            .send()
            .await
            .context("KMS Decrypt")?;
        let plaintext = out.plaintext.context("KMS Decrypt returned no plaintext")?;
        serde_json::from_slice(plaintext.as_ref())
            .context("decrypted credentials are not a JSON object")
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_show_little() {
        assert_eq!(mask("abc"), "••••");
        assert_eq!(mask("SG.abcdefghijklmnop"), "••••mnop");
        assert_eq!(mask("12345678"), "••••78");
    }
}
