//! Email sender identities: a domain or an address registered with SES for a tenant, and the
//! DNS records its owner must publish.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::EmailAddress;
use crate::ids::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Domain,
    EmailAddress,
}

/// A sender identity as a tenant registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sender {
    /// The domain (`acme.example`) or address (`events@acme.example`), lower-cased.
    pub identity: String,
    pub kind: SenderKind,
    pub tenant_id: TenantId,
    pub created_at: DateTime<Utc>,
}

/// Why a string is not a sender identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("give a domain such as 'acme.example' or an address such as 'events@acme.example'")]
pub struct SenderError;

/// Parses a domain or an email address into its normalised identity and kind.
pub fn parse_identity(raw: &str) -> Result<(String, SenderKind), SenderError> {
    let raw = raw.trim();
    if raw.contains('@') {
        let address = EmailAddress::parse(raw).map_err(|_| SenderError)?;
        return Ok((address.as_str().to_lowercase(), SenderKind::EmailAddress));
    }
    // A domain is the part after '@' of a valid address.
    EmailAddress::parse(&format!("x@{raw}")).map_err(|_| SenderError)?;
    Ok((raw.to_lowercase(), SenderKind::Domain))
}

/// The domain part of an identity.
pub fn domain_of(identity: &str) -> &str {
    identity
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(identity)
}

/// A DNS record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DnsRecord {
    #[serde(rename = "type")]
    pub record_type: String,
    pub name: String,
    pub value: String,
    /// `dkim`, `spf` or `dmarc`.
    pub purpose: String,
    /// Whether SES needs it to verify the identity (DKIM) or it is a recommendation.
    pub required: bool,
}

/// The records for `domain`: one DKIM CNAME per token SES issued (Easy DKIM), an SPF record
/// that lets SES send for the domain, and a DMARC policy to start monitoring with.
pub fn dns_records(domain: &str, dkim_tokens: &[String]) -> Vec<DnsRecord> {
    let mut records: Vec<DnsRecord> = dkim_tokens
        .iter()
        .map(|token| DnsRecord {
            record_type: "CNAME".into(),
            name: format!("{token}._domainkey.{domain}"),
            value: format!("{token}.dkim.amazonses.com"),
            purpose: "dkim".into(),
            required: true,
        })
        .collect();
    records.push(DnsRecord {
        record_type: "TXT".into(),
        name: domain.to_owned(),
        value: "v=spf1 include:amazonses.com ~all".into(),
        purpose: "spf".into(),
        required: false,
    });
    records.push(DnsRecord {
        record_type: "TXT".into(),
        name: format!("_dmarc.{domain}"),
        value: format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"),
        purpose: "dmarc".into(),
        required: false,
    });
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(
            parse_identity(" Acme.Example ").unwrap(),
            ("acme.example".into(), SenderKind::Domain)
        );
        assert_eq!(
            parse_identity("Events@Acme.example").unwrap(),
            ("events@acme.example".into(), SenderKind::EmailAddress)
        );
        for bad in [
            "",
            "acme",
            "-acme.example",
            "a b.example",
            "@acme.example",
            "x@",
        ] {
            assert!(parse_identity(bad).is_err(), "{bad}");
        }
        assert_eq!(domain_of("events@acme.example"), "acme.example");
    }

    #[test]
    fn records_for_easy_dkim() {
        let records = dns_records("acme.example", &["t1".into(), "t2".into(), "t3".into()]);
        assert_eq!(records.len(), 5);
        assert_eq!(records[0].name, "t1._domainkey.acme.example");
        assert_eq!(records[0].value, "t1.dkim.amazonses.com");
        assert_eq!(records[3].value, "v=spf1 include:amazonses.com ~all");
        assert_eq!(records[4].name, "_dmarc.acme.example");
        assert!(
            records
                .iter()
                .filter(|r| r.required)
                .all(|r| r.purpose == "dkim")
        );
    }
}

/// What SES says of an identity now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SenderStatus {
    /// SES's verification status (`PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE`,
    /// `NOT_STARTED`), or `NOT_FOUND` when the identity is no longer in SES.
    pub verification_status: String,
    pub verified_for_sending: bool,
    /// The DKIM status, `NOT_STARTED` until SES sees the CNAMEs.
    pub dkim_status: String,
    pub records: Vec<DnsRecord>,
}

fn status_from(
    domain: &str,
    verification: Option<&aws_sdk_sesv2::types::VerificationStatus>,
    verified: bool,
    dkim: Option<&aws_sdk_sesv2::types::DkimAttributes>,
) -> SenderStatus {
    let tokens = dkim.map(|d| d.tokens().to_vec()).unwrap_or_default();
    SenderStatus {
        verification_status: verification
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|| "PENDING".to_owned()),
        verified_for_sending: verified,
        dkim_status: dkim
            .and_then(|d| d.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "NOT_STARTED".to_owned()),
        records: dns_records(domain, &tokens),
    }
}

/// SESv2 CreateEmailIdentity; an identity SES already has is read instead.
pub async fn create_ses_identity(
    ses: &aws_sdk_sesv2::Client,
    identity: &str,
) -> anyhow::Result<SenderStatus> {
    match ses
        .create_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(out) => Ok(status_from(
            domain_of(identity),
            None,
            out.verified_for_sending_status,
            out.dkim_attributes.as_ref(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            ses_identity_status(ses, identity).await
        }
        Err(e) => Err(anyhow::Error::new(e).context("SESv2 CreateEmailIdentity")),
    }
}

/// SESv2 GetEmailIdentity.
pub async fn ses_identity_status(
    ses: &aws_sdk_sesv2::Client,
    identity: &str,
) -> anyhow::Result<SenderStatus> {
    match ses
        .get_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(out) => Ok(status_from(
            domain_of(identity),
            out.verification_status.as_ref(),
            out.verified_for_sending_status,
            out.dkim_attributes.as_ref(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(SenderStatus {
                verification_status: "NOT_FOUND".to_owned(),
                verified_for_sending: false,
                dkim_status: "NOT_STARTED".to_owned(),
                records: dns_records(domain_of(identity), &[]),
            })
        }
        Err(e) => Err(anyhow::Error::new(e).context("SESv2 GetEmailIdentity")),
    }
}

/// SESv2 DeleteEmailIdentity; an identity SES no longer has is fine.
pub async fn delete_ses_identity(
    ses: &aws_sdk_sesv2::Client,
    identity: &str,
) -> anyhow::Result<()> {
    match ses
        .delete_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("SESv2 DeleteEmailIdentity")),
    }
}
