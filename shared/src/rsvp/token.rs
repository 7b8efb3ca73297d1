//! RSVP links: every message to a guest carries one (`links.rsvp`), like the preference
//! links. The token is a compact binary claim (tenant, event, guest, the guest's locale,
//! expiry) and a 128-bit HMAC-SHA256 tag in base64url. The key is derived from the tenant's
//! preference-link key for this use alone, so an RSVP token never passes for a preference
//! token, a tracking seal, or the reverse.

use aws_lc_rs::hmac;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::consent::TokenError;
use crate::ids::{EventId, GuestId, TenantId};

/// How long after the event ends an RSVP link still opens (to show the answer).
pub const AFTER_EVENT_DAYS: i64 = 30;
/// The shortest life of a new link, whatever the event's dates.
pub const MIN_DAYS: i64 = 30;

const VERSION: u8 = 2;
const TAG_BYTES: usize = 16;
const FIXED: usize = 1 + 16 + 16 + 16 + 4 + 1;
const MAX_LOCALE: usize = 16;
const DOMAIN: &[u8] = b"herald rsvp link v1";

/// What an RSVP link grants: answering one event's RSVP as one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsvpClaims {
    pub tenant: TenantId,
    pub event: EventId,
    pub guest: GuestId,
    /// The guest's locale when the link was made (`de-DE`), if it had one.
    pub locale: Option<String>,
    /// Unix seconds.
    pub expires: u32,
}

fn key(link_key: &[u8]) -> hmac::Key {
    let outer = hmac::Key::new(hmac::HMAC_SHA256, link_key);
    hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&outer, DOMAIN).as_ref())
}

/// The RSVP key of a tenant's link key, derived once for many tokens (a sender job signs one
/// per message).
pub struct RsvpKey(hmac::Key);

impl RsvpKey {
    pub fn derive(link_key: &[u8]) -> Self {
        Self(key(link_key))
    }
}

impl RsvpClaims {
    /// Claims for a message's link: valid until [`AFTER_EVENT_DAYS`] after the event ends,
    /// and at least [`MIN_DAYS`] from `now`.
    pub fn for_guest(
        tenant: TenantId,
        event: EventId,
        guest: GuestId,
        locale: Option<&str>,
        event_ends: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let until =
            (event_ends + Duration::days(AFTER_EVENT_DAYS)).max(now + Duration::days(MIN_DAYS));
        Self {
            tenant,
            event,
            guest,
            // A tag too long for the token keeps its language.
            locale: locale.map(|l| match l.len() <= MAX_LOCALE {
                true => l.to_owned(),
                false => l.split('-').next().unwrap_or_default().to_owned(),
            }),
            expires: u32::try_from(until.timestamp()).unwrap_or(u32::MAX),
        }
    }

    fn body(&self) -> Vec<u8> {
        let locale = self.locale.as_deref().unwrap_or_default().as_bytes();
        let locale = &locale[..locale.len().min(MAX_LOCALE)];
        let mut out = Vec::with_capacity(FIXED + locale.len());
        out.push(VERSION);
        out.extend_from_slice(&self.tenant.to_bytes());
        out.extend_from_slice(&self.event.to_bytes());
        out.extend_from_slice(&self.guest.to_bytes());
        out.extend_from_slice(&self.expires.to_be_bytes());
        out.push(locale.len() as u8);
        out.extend_from_slice(locale);
        out
    }

    /// The token under the tenant's link key.
    pub fn sign(&self, link_key: &[u8]) -> String {
        self.sign_with(&RsvpKey::derive(link_key))
    }

    /// The token under a derived RSVP key.
    pub fn sign_with(&self, key: &RsvpKey) -> String {
        let mut bytes = self.body();
        let tag = hmac::sign(&key.0, &bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TAG_BYTES]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The tenant a token names, unverified: which key to check it with.
    pub fn tenant_of(token: &str) -> Result<TenantId, TokenError> {
        let bytes = decode(token)?;
        Ok(TenantId::from_bytes(id(&bytes, 1)))
    }

    /// The claims of a token signed under `link_key` that has not expired at `now`.
    pub fn verify(token: &str, link_key: &[u8], now: DateTime<Utc>) -> Result<Self, TokenError> {
        let bytes = decode(token)?;
        let (body, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let expected = hmac::sign(&key(link_key), body);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..TAG_BYTES], tag)
            .is_err()
        {
            return Err(TokenError::BadSignature);
        }
        let mut expires = [0u8; 4];
        expires.copy_from_slice(&body[49..53]);
        let locale = std::str::from_utf8(&body[FIXED..])
            .map_err(|_| TokenError::Malformed)?
            .to_owned();
        let claims = Self {
            tenant: TenantId::from_bytes(id(body, 1)),
            event: EventId::from_bytes(id(body, 17)),
            guest: GuestId::from_bytes(id(body, 33)),
            locale: (!locale.is_empty()).then_some(locale),
            expires: u32::from_be_bytes(expires),
        };
        if i64::from(claims.expires) < now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn id(bytes: &[u8], at: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[at..at + 16]);
    out
}

fn decode(token: &str) -> Result<Vec<u8>, TokenError> {
    if token.len() > 200 {
        return Err(TokenError::Malformed);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| TokenError::Malformed)?;
    if bytes.len() < FIXED + TAG_BYTES || bytes[0] != VERSION {
        return Err(TokenError::Malformed);
    }
    if bytes.len() != FIXED + usize::from(bytes[FIXED - 1]) + TAG_BYTES {
        return Err(TokenError::Malformed);
    }
    Ok(bytes)
}

/// The RSVP page of a token, under Herald's public URL.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/rsvp/{token}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn claims(locale: Option<&str>) -> RsvpClaims {
        let now = Utc::now();
        RsvpClaims::for_guest(
            TenantId::new(),
            EventId::new(),
            GuestId::new(),
            locale,
            now + Duration::days(90),
            now,
        )
    }

    #[test]
    fn a_token_round_trips_with_its_locale() {
        for locale in [Some("de-DE"), None, Some("zh-Hant-TW")] {
            let c = claims(locale);
            let token = c.sign(&KEY);
            assert!(token.len() < 120, "{}", token.len());
            assert_eq!(RsvpClaims::tenant_of(&token), Ok(c.tenant));
            assert_eq!(RsvpClaims::verify(&token, &KEY, Utc::now()), Ok(c));
        }
    }

    #[test]
    fn it_lives_past_the_event_and_at_least_a_month() {
        let now = Utc::now();
        let c = claims(None);
        assert_eq!(
            i64::from(c.expires),
            (now + Duration::days(120)).timestamp()
        );
        let past = RsvpClaims::for_guest(
            TenantId::new(),
            EventId::new(),
            GuestId::new(),
            None,
            now - Duration::days(365),
            now,
        );
        assert_eq!(
            i64::from(past.expires),
            (now + Duration::days(MIN_DAYS)).timestamp()
        );
    }

    #[test]
    fn tampered_foreign_and_expired_tokens_are_refused() {
        let c = claims(Some("fr"));
        let token = c.sign(&KEY);
        assert_eq!(
            RsvpClaims::verify(&token, &[8; 32], Utc::now()),
            Err(TokenError::BadSignature)
        );
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        bytes[40] ^= 1;
        let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(
            RsvpClaims::verify(&tampered, &KEY, Utc::now()),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            RsvpClaims::verify(&token, &KEY, Utc::now() + Duration::days(400)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            RsvpClaims::verify("not-a-token", &KEY, Utc::now()),
            Err(TokenError::Malformed)
        );
        // A preference token does not pass for an RSVP one.
        let preference = crate::consent::LinkClaims::for_message(
            c.tenant,
            crate::ids::ContactId::new(),
            None,
            crate::domain::TemplateCategory::Invitation,
            crate::domain::Channel::Email,
            None,
            Utc::now(),
        )
        .sign(&KEY);
        assert_eq!(
            RsvpClaims::verify(&preference, &KEY, Utc::now()),
            Err(TokenError::Malformed)
        );
    }
}
