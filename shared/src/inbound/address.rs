//! Per-message reply addresses: every email Herald sends carries `Reply-To:
//! {token}@{inbound domain}`, whose local part names the tenant and the message and is signed
//! with a key derived from the tenant's link key, so a reply threads to its message even when
//! the mail client drops `In-Reply-To`, and a forged or altered address is refused before any
//! tenant's data is read by it.
//!
//! The token is 40 bytes (tenant id 16, message id 16, an HMAC-SHA256 tag cut to 8) in
//! lower-case base 32 (RFC 4648 alphabet, no padding): 64 characters, the most RFC 5321
//! allows in a local part, and safe when a mail system changes the local part's case.

use aws_lc_rs::hmac;

use crate::ids::{MessageId, TenantId};

const DOMAIN: &[u8] = b"herald reply-to v1";
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const TAG: usize = 8;
/// The token's length in characters.
pub const TOKEN_LEN: usize = 64;

/// The reply key of a tenant's link key.
pub struct ReplyKey(hmac::Key);

impl ReplyKey {
    pub fn derive(link_key: &[u8]) -> Self {
        let outer = hmac::Key::new(hmac::HMAC_SHA256, link_key);
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&outer, DOMAIN).as_ref(),
        ))
    }
}

/// What a reply address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    pub tenant: TenantId,
    pub message: MessageId,
}

/// Why a reply address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a reply token")]
    Malformed,
    #[error("the reply token's signature does not match")]
    Forged,
}

impl ReplyTo {
    fn body(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&self.tenant.to_bytes());
        b[16..].copy_from_slice(&self.message.to_bytes());
        b
    }

    /// The address's local part.
    pub fn token(&self, key: &ReplyKey) -> String {
        let body = self.body();
        let tag = hmac::sign(&key.0, &body);
        let mut bytes = body.to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..TAG]);
        encode(&bytes)
    }

    /// The whole address on `domain`.
    pub fn address(&self, key: &ReplyKey, domain: &str) -> String {
        format!("{}@{domain}", self.token(key))
    }

    /// The claims of a token, unverified: which tenant's key verifies it.
    pub fn unverified(token: &str) -> Result<Self, Refused> {
        let bytes = decode(token).ok_or(Refused::Malformed)?;
        let tenant: [u8; 16] = bytes[..16].try_into().map_err(|_| Refused::Malformed)?;
        let message: [u8; 16] = bytes[16..32].try_into().map_err(|_| Refused::Malformed)?;
        Ok(Self {
            tenant: TenantId::from_bytes(tenant),
            message: MessageId::from_bytes(message),
        })
    }

    /// Verifies a token with the tenant's key (constant time).
    pub fn verify(token: &str, key: &ReplyKey) -> Result<Self, Refused> {
        let claims = Self::unverified(token)?;
        let bytes = decode(token).ok_or(Refused::Malformed)?;
        let tag = hmac::sign(&key.0, &claims.body());
        match aws_lc_rs::constant_time::verify_slices_are_equal(&tag.as_ref()[..TAG], &bytes[32..])
        {
            Ok(()) => Ok(claims),
            Err(_) => Err(Refused::Forged),
        }
    }
}

/// The token of an address on `domain`: its local part, lower case, without a `+detail`
/// (some clients and lists add one). None when the address is on another domain.
pub fn token_of(address: &str, domain: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, host) = address.rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let local = local.split('+').next().unwrap_or(local);
    Some(local.to_ascii_lowercase())
}

fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Exactly 40 bytes from exactly 64 characters of the alphabet (either case), or nothing.
fn decode(text: &str) -> Option<[u8; 40]> {
    if text.len() != TOKEN_LEN {
        return None;
    }
    let mut out = [0u8; 40];
    let (mut buffer, mut bits, mut n) = (0u32, 0u32, 0usize);
    for c in text.bytes() {
        let c = c.to_ascii_lowercase();
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (buffer >> bits) as u8;
            n += 1;
        }
    }
    (n == 40).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ReplyTo {
        ReplyTo {
            tenant: TenantId::new(),
            message: MessageId::new(),
        }
    }

    #[test]
    fn a_token_round_trips_in_any_case_and_fits_a_local_part() {
        let key = ReplyKey::derive(&[7u8; 32]);
        let c = claims();
        let token = c.token(&key);
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(ReplyTo::verify(&token, &key), Ok(c));
        assert_eq!(ReplyTo::verify(&token.to_ascii_uppercase(), &key), Ok(c));
        let address = c.address(&key, "reply.example.org");
        assert_eq!(
            token_of(
                &format!(
                    "<{}>",
                    address
                        .to_uppercase()
                        .replace("REPLY.EXAMPLE.ORG", "Reply.Example.org")
                ),
                "reply.example.org"
            )
            .as_deref(),
            Some(token.as_str())
        );
        assert_eq!(token_of(&address, "other.example.org"), None);
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let key = ReplyKey::derive(&[7u8; 32]);
        let other = ReplyKey::derive(&[8u8; 32]);
        let c = claims();
        let token = c.token(&key);
        assert_eq!(ReplyTo::verify(&token, &other), Err(Refused::Forged));
        // Another message id under the same tag.
        let mut forged = ReplyTo {
            message: MessageId::new(),
            ..c
        }
        .token(&other);
        forged.replace_range(52.., &token[52..]);
        assert_eq!(ReplyTo::verify(&forged, &key), Err(Refused::Forged));
        for bad in ["", "short", &token[..63], &format!("{}1", &token[..63])] {
            assert_eq!(ReplyTo::verify(bad, &key), Err(Refused::Malformed), "{bad}");
        }
    }
}
