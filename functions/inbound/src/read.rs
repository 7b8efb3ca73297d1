//! Read: a notice into messages, each with the tenant it belongs to.
//!
//! - Email: the reply address (an envelope recipient SES matched, else a `To`) names tenant
//!   and message; its signature is verified with the tenant's key before anything of the
//!   tenant is read by it. A mail with a virus is recorded as dropped and never fetched; any
//!   other is fetched from S3 (at most [`MAX_MAIL_BYTES`]) and parsed, and its attachments
//!   stored one object each beside it (`attachments/{tenant}/{message}/{index}`).
//! - SMS through End User Messaging: the number it was sent to must be claimed by a tenant's
//!   SMS provider (its origination number).
//! - Twilio and WhatsApp: the API verified the webhook's signature for the tenant's provider.

use aws_sdk_s3::primitives::ByteStream;
use herald::domain::Channel;
use herald::ids::{ProviderId, TenantId, ThreadMessageId};
use herald::inbound::address::{ReplyKey, ReplyTo, token_of};
use herald::inbound::email::{Receipt, parse_mail};
use herald::inbound::text::written_part;
use herald::inbound::{Attachment, Inbound, Notice, RepliedTo, Unusable, attachment_key};
use herald::messages::Message;

/// SES receives mail of up to 40 MB; a little over it for the S3 object's own framing.
pub const MAX_MAIL_BYTES: i64 = 41 * 1024 * 1024;

/// A message and where it belongs.
#[derive(Debug, Clone)]
pub struct Located {
    pub tenant: TenantId,
    /// The provider that received it (SMS and WhatsApp).
    pub provider: Option<ProviderId>,
    /// The Herald message it answers, when its reply address named one that still exists.
    pub replied: Option<Message>,
    pub message: Inbound,
    /// SES found a virus: recorded as dropped, without its text.
    pub virus: bool,
}

/// Why a record is not turned into messages.
#[derive(Debug, thiserror::Error)]
pub enum Skip {
    #[error(transparent)]
    Unusable(#[from] Unusable),
    #[error("no tenant receives it: {0}")]
    Unclaimed(&'static str),
    #[error("the reply address's signature does not verify")]
    Forged,
    /// AWS failed: deliver the record again.
    #[error("{0}")]
    Retry(anyhow::Error),
}

fn retry(e: impl Into<anyhow::Error>) -> Skip {
    Skip::Retry(e.into())
}

impl super::Inbound {
    pub(crate) async fn locate(&self, notice: Notice) -> Result<Vec<Located>, Skip> {
        match notice {
            Notice::Email(receipt) => self.locate_mail(receipt).await.map(|l| vec![l]),
            Notice::Sms(message) => {
                let claim = self
                    .store
                    .inbound_number(&message.to)
                    .await
                    .map_err(retry)?
                    .ok_or(Skip::Unclaimed(
                        "no SMS provider has this origination number",
                    ))?;
                Ok(vec![Located {
                    tenant: claim.tenant_id,
                    provider: Some(claim.provider_id),
                    replied: None,
                    message,
                    virus: false,
                }])
            }
            Notice::Provider {
                tenant,
                provider,
                messages,
            } => Ok(messages
                .into_iter()
                .map(|message| Located {
                    tenant,
                    provider: Some(provider),
                    replied: None,
                    message,
                    virus: false,
                })
                .collect()),
            Notice::EraseMail(_) | Notice::Escalate(_) | Notice::Reclock(_) => Ok(Vec::new()),
        }
    }

    /// The tenant and message a reply address names, verified.
    async fn verify_token(&self, token: &str) -> Result<ReplyTo, Skip> {
        let claims = ReplyTo::unverified(token).map_err(|_| Skip::Forged)?;
        let key = self
            .links
            .existing(claims.tenant)
            .await
            .map_err(Skip::Retry)?
            .ok_or(Skip::Forged)?;
        ReplyTo::verify(token, &ReplyKey::derive(key.as_ref())).map_err(|_| Skip::Forged)
    }

    async fn locate_mail(&self, receipt: Receipt) -> Result<Located, Skip> {
        let Some(domain) = &self.inbound_domain else {
            return Err(Skip::Unclaimed(
                "inbound email is off (no HERALD_INBOUND_DOMAIN)",
            ));
        };
        // The envelope recipients SES matched are the addresses the mail was delivered to.
        let token = receipt
            .recipients
            .iter()
            .find_map(|r| token_of(r, domain))
            .ok_or(Skip::Unclaimed("no recipient is a reply address"))?;
        let reply = self.verify_token(&token).await?;
        let replied = self
            .store
            .get_message(reply.tenant, reply.message)
            .await
            .map_err(retry)?;
        let to = format!("{token}@{domain}");
        let mut message = Inbound {
            channel: Channel::Email,
            provider_id: receipt.ses_id.clone(),
            from: String::new(),
            to,
            at: receipt.at,
            subject: None,
            text: String::new(),
            written: String::new(),
            attachments: Vec::new(),
            replied_to: Some(RepliedTo::ReplyToken(token)),
            automatic: None,
            spam: receipt.spam,
            raw_object: Some(receipt.key.clone()),
        };
        if receipt.virus {
            // Never fetched nor parsed; the sender is unknown, so it is filed by the message.
            self.delete_object(&receipt).await;
            message.raw_object = None;
            message.automatic = Some("virus");
            return Ok(Located {
                tenant: reply.tenant,
                provider: None,
                replied,
                message,
                virus: true,
            });
        }
        let raw = self.fetch(&receipt).await?;
        let mail = parse_mail(&raw)?;
        // The attachments are copied out: the mail itself (up to 40 MB) is not needed for them.
        drop(raw);
        message.from = mail.from;
        message.subject = mail.subject;
        message.written = written_part(&mail.text);
        message.text = mail.text;
        message.attachments = mail.attachments;
        message.automatic = mail.automatic;
        let id = crate::apply::inbound_id(reply.tenant, Channel::Email, &receipt.ses_id);
        self.store_attachments(
            &receipt.bucket,
            reply.tenant,
            id,
            &mut message.attachments,
            mail.contents,
        )
        .await?;
        Ok(Located {
            tenant: reply.tenant,
            provider: None,
            replied,
            message,
            virus: false,
        })
    }

    /// The raw mail, refusing one over [`MAX_MAIL_BYTES`].
    async fn fetch(&self, receipt: &Receipt) -> Result<Vec<u8>, Skip> {
        let out = self
            .s3
            .get_object()
            .bucket(&receipt.bucket)
            .key(&receipt.key)
            .send()
            .await
            .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                match missing {
                    // Gone (the bucket's lifecycle, or an erasure): nothing to read, ever.
                    true => Skip::Unusable(Unusable::Ignored("the mail is no longer in S3".into())),
                    false => retry(anyhow::Error::new(e).context("S3 GetObject")),
                }
            })?;
        if out.content_length().unwrap_or(0) > MAX_MAIL_BYTES {
            return Err(Skip::Unusable(Unusable::Malformed(format!(
                "a mail of {} bytes, over SES's 40 MB",
                out.content_length().unwrap_or(0)
            ))));
        }
        collect(out.body).await
    }

    /// Stores each attachment as its own object, so it can be downloaded (a second delivery
    /// writes the same objects again).
    async fn store_attachments(
        &self,
        bucket: &str,
        tenant: TenantId,
        message: ThreadMessageId,
        attachments: &mut [Attachment],
        contents: Vec<Vec<u8>>,
    ) -> Result<(), Skip> {
        for (attachment, bytes) in attachments.iter_mut().zip(contents) {
            self.s3
                .put_object()
                .bucket(bucket)
                .key(attachment_key(tenant, message, attachment.index))
                .content_type(&attachment.content_type)
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map_err(|e| retry(anyhow::Error::new(e).context("S3 PutObject attachment")))?;
            attachment.downloadable = true;
        }
        Ok(())
    }

    async fn delete_object(&self, receipt: &Receipt) {
        if let Err(e) = self
            .s3
            .delete_object()
            .bucket(&receipt.bucket)
            .key(&receipt.key)
            .send()
            .await
        {
            tracing::warn!(ses_id = %receipt.ses_id, error = %e, "deleting an infected mail failed (the bucket's lifecycle removes it)");
        }
    }
}

async fn collect(body: ByteStream) -> Result<Vec<u8>, Skip> {
    let bytes = body
        .collect()
        .await
        .map_err(|e| retry(anyhow::Error::new(e).context("reading the mail from S3")))?;
    Ok(bytes.into_bytes().to_vec())
}
