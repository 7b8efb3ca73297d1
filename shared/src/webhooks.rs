//! Outgoing webhooks: signing by the Standard Webhooks spec, the retry schedule, and the
//! policy that keeps a tenant's endpoint from reaching Herald's own network (SSRF).
//!
//! Signing (<https://www.standardwebhooks.com>): a secret is `whsec_` followed by the base64 of
//! its bytes; the signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the
//! `webhook-signature` header holds space-separated `v1,{base64 HMAC-SHA256}` entries, one per
//! secret in force, so that a receiver rotating its secret accepts either while both sign.
//!
//! SSRF: an endpoint URL is checked when it is registered ([`check_endpoint_url`], then
//! [`check_endpoint_host`]), and every delivery goes through [`webhook_http_client`], whose
//! [`GuardedResolver`] drops forbidden addresses at connect time, so a name that resolved to a
//! public address at registration and to a private one later (DNS rebinding) is still refused.
//! A URL whose host is an IP literal never reaches a resolver: it is only safe because
//! [`check_endpoint_url`] refused it at registration (run it again before each delivery if the
//! stored URL could have bypassed registration).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use chrono::{DateTime, Utc};
use rand::RngCore as _;

pub use crate::domain::WebhookEventType;

pub mod emit;
pub mod model;
pub use emit::Emitter;
pub use model::*;

/// The header carrying the message id (the same on every retry of one message).
pub const HEADER_ID: &str = "webhook-id";
/// The header carrying the signing time, in unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying the space-separated `v1,{signature}` entries.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a timestamp may be from the receiver's clock, by the spec's recommendation.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 5 * 60;

// ---------------------------------------------------------------------------------------------
// Secrets and signatures
// ---------------------------------------------------------------------------------------------

/// A webhook signing secret: 24 to 64 bytes, written `whsec_{base64}`.
///
/// Its `Debug` shows no part of the key; `Display` (and `to_string`) gives the `whsec_` form,
/// to be shown to the tenant once and sealed at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// Why a text is not a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with '{}'", WebhookSecret::PREFIX)]
    MissingPrefix,
    #[error("a webhook secret is '{}' followed by base64", WebhookSecret::PREFIX)]
    NotBase64,
    #[error(
        "a webhook secret holds {min} to {max} bytes, not {0}",
        min = WebhookSecret::MIN_BYTES,
        max = WebhookSecret::MAX_BYTES
    )]
    Length(usize),
}

/// Standard base64, with or without the trailing `=`.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl WebhookSecret {
    pub const PREFIX: &'static str = "whsec_";
    pub const MIN_BYTES: usize = 24;
    pub const MAX_BYTES: usize = 64;
    /// The size of a generated secret.
    pub const GENERATED_BYTES: usize = 32;

    /// A fresh secret of 32 random bytes from the operating system's CSPRNG (via `rand`'s
    /// thread-local generator).
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; Self::GENERATED_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// `whsec_` followed by the standard base64 (padding optional) of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(Self::PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let bytes = LENIENT_BASE64
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }

    /// The raw HMAC-SHA256 tag of `{id}.{timestamp}.{body}`.
    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key());
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        context.sign()
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// One signature entry, `v1,{base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"}`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(secret.tag(id, timestamp, body).as_ref())
    )
}

/// The `webhook-signature` header: one entry per secret, space-separated (during a rotation the
/// old and the new secret both sign).
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "the webhook timestamp is {skew_seconds} seconds from now, beyond the tolerance of {tolerance_seconds}"
    )]
    Timestamp {
        /// `now - timestamp`: positive when the message is old, negative when from the future.
        skew_seconds: i64,
        tolerance_seconds: i64,
    },
    #[error("the webhook-signature header holds no v1 signature")]
    NoSignature,
    #[error("no webhook signature matches")]
    Mismatch,
}

/// Checks a `webhook-signature` header against every secret in force: passes when the
/// timestamp is within `tolerance_seconds` of `now` (either way) and any `v1` entry matches any
/// secret. Entries of other versions are ignored; tags are compared in constant time.
pub fn verify(
    header: &str,
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let skew_seconds = now.saturating_sub(timestamp);
    if skew_seconds.saturating_abs() > tolerance_seconds {
        return Err(VerifyError::Timestamp {
            skew_seconds,
            tolerance_seconds,
        });
    }
    let given: Vec<Vec<u8>> = header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        // A malformed entry matches nothing; it does not hide the others.
        .map(|encoded| STANDARD.decode(encoded).unwrap_or_default())
        .collect();
    if given.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    for secret in secrets {
        let expected = secret.tag(id, timestamp, body);
        if given
            .iter()
            .any(|tag| constant_time::verify_slices_are_equal(expected.as_ref(), tag).is_ok())
        {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

/// The wait after each failed attempt: after the 1st 5 s, ..., after the 6th 10 h; the 7th
/// attempt is the last.
pub const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
];

/// An endpoint that has failed every delivery for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// The most an SQS message may be delayed (`DelaySeconds`).
pub const SQS_MAX_DELAY_SECONDS: i32 = 900;

/// How long to wait after attempt number `attempt` (1-based) failed; `None` when it was the
/// last (the 7th), or for attempt 0, which is not an attempt.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    RETRY_DELAYS.get(index).copied()
}

/// The `DelaySeconds` for a message that should be handled at `until`: the seconds remaining,
/// rounded up, at most 900 (a longer wait is re-queued, delay after delay), never negative.
pub fn sqs_delay(until: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let remaining = until.signed_duration_since(now);
    if remaining <= chrono::TimeDelta::zero() {
        return 0;
    }
    let whole = remaining.num_seconds();
    let seconds = if remaining.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    i32::try_from(seconds.min(i64::from(SQS_MAX_DELAY_SECONDS))).unwrap_or(SQS_MAX_DELAY_SECONDS)
}

// ---------------------------------------------------------------------------------------------
// SSRF policy
// ---------------------------------------------------------------------------------------------

/// Whether endpoints on this machine are allowed: only the local stack allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoopbackPolicy {
    /// Deployed: https only, and only public addresses.
    #[default]
    Refuse,
    /// The local stack: also `127.0.0.0/8`, `::1`, `localhost` and `*.localhost`, over http or
    /// https. Every other private address is still refused.
    AllowLoopback,
}

impl LoopbackPolicy {
    /// From `HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS`: `1` or `true` allows loopback.
    pub fn from_setting(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("1" | "true") => Self::AllowLoopback,
            _ => Self::Refuse,
        }
    }
}

/// The longest endpoint URL accepted.
pub const MAX_URL_LENGTH: usize = 2048;

/// Whether `ip` is `addr` within a `/len` network.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask
        == u128::from(Ipv6Addr::new(
            net[0], net[1], net[2], net[3], net[4], net[5], net[6], net[7],
        )) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    const NETS: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", incl. the unspecified address
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, incl. the cloud metadata 169.254.169.254
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, incl. broadcast 255.255.255.255
    ];
    NETS.iter().any(|&(net, len)| in_v4(ip, net, len))
}

/// The IPv4 address in the low 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4); // ::ffff:a.b.c.d
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return forbidden_v4(low_v4(ip)); // NAT64, well-known prefix
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        // 6to4: the IPv4 address is in bits 16..48.
        let embedded = ((u128::from(ip) >> 80) & 0xffff_ffff) as u32;
        return forbidden_v4(Ipv4Addr::from(embedded));
    }
    const NETS: &[([u16; 8], u32)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 96), // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // NAT64 for local use
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), // Teredo (embeds a v4 address, obfuscated)
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), // benchmarking
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique local, incl. AWS metadata fd00:ec2::254
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
    ];
    NETS.iter().any(|&(net, len)| in_v6(ip, net, len))
}

/// Whether a webhook may never be delivered to `ip`: loopback, unspecified, private,
/// link-local (and so the cloud metadata address), carrier-grade NAT, multicast, broadcast,
/// documentation, benchmarking and reserved ranges, IPv6 unique-local and site-local, and any
/// IPv6 address that embeds a forbidden IPv4 one (mapped, NAT64, 6to4; all IPv4-compatible and
/// Teredo addresses).
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// Whether `ip` is refused under `policy`: forbidden, unless a loopback address the local
/// stack allows.
fn refused_ip(ip: IpAddr, policy: LoopbackPolicy) -> bool {
    let allowed_loopback =
        policy == LoopbackPolicy::AllowLoopback && ip.to_canonical().is_loopback();
    forbidden_ip(ip) && !allowed_loopback
}

fn is_localhost_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// Checks an endpoint URL as a tenant registers it; the message is a sentence for the API's
/// problem details. See [`check_endpoint_host`] for the DNS side.
pub fn check_endpoint_url(url: &str, policy: LoopbackPolicy) -> Result<reqwest::Url, String> {
    if url.len() > MAX_URL_LENGTH {
        return Err(format!(
            "The URL is longer than {MAX_URL_LENGTH} characters."
        ));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| format!("The URL is not a valid absolute URL ({e})."))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("The URL must not contain a user name or password.".to_owned());
    }
    if parsed.fragment().is_some() {
        return Err("The URL must not contain a fragment (#...).".to_owned());
    }
    let allow_loopback = policy == LoopbackPolicy::AllowLoopback;
    let loopback = match host_of(&parsed) {
        None => return Err("The URL must name a host.".to_owned()),
        Some(Host::Ip(ip)) => check_ip_literal(ip, policy)?,
        Some(Host::Name(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if is_localhost_name(&name) {
                if !allow_loopback {
                    return Err("The URL must not point to localhost.".to_owned());
                }
                true
            } else if name.ends_with(".internal") || name.ends_with(".local") {
                return Err("The URL must not point to an internal host name.".to_owned());
            } else if !name.contains('.') {
                return Err("The URL's host must be a fully qualified domain name.".to_owned());
            } else {
                false
            }
        }
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback && allow_loopback => Ok(parsed),
        _ => Err("The URL must use https.".to_owned()),
    }
}

/// A URL's host: an IP literal (the URL parser has already normalised forms such as
/// `0x7f.1`) or a name.
enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn host_of(url: &reqwest::Url) -> Option<Host<'_>> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host),
    })
}

/// Whether an IP-literal host is allowed; `Ok(true)` for an allowed loopback address.
fn check_ip_literal(ip: IpAddr, policy: LoopbackPolicy) -> Result<bool, String> {
    if refused_ip(ip, policy) {
        return Err(format!(
            "The URL must not point to a private, loopback or reserved address ({ip})."
        ));
    }
    Ok(ip.to_canonical().is_loopback())
}

/// Resolves the URL's host once, as a tenant registers it, and refuses it when it resolves only
/// to refused addresses. (Deliveries are guarded again at connect time by [`GuardedResolver`].)
pub async fn check_endpoint_host(url: &reqwest::Url, policy: LoopbackPolicy) -> Result<(), String> {
    let name = match host_of(url) {
        None => return Err("The URL must name a host.".to_owned()),
        Some(Host::Ip(ip)) => return check_ip_literal(ip, policy).map(|_| ()),
        Some(Host::Name(name)) => name,
    };
    match resolve_allowed(name, policy).await {
        Ok(_) => Ok(()),
        Err(ResolveError::Lookup { .. } | ResolveError::NoAddress { .. }) => {
            Err(format!("The host {name} could not be resolved."))
        }
        Err(ResolveError::Refused(_)) => Err(format!(
            "The host {name} resolves only to private or loopback addresses."
        )),
    }
}

/// A host whose every address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves only to private/loopback addresses")]
pub struct RefusedAddress {
    pub host: String,
}

#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("resolving {host}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} has no address")]
    NoAddress { host: String },
    #[error(transparent)]
    Refused(RefusedAddress),
}

async fn resolve_allowed(
    host: &str,
    policy: LoopbackPolicy,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if all.is_empty() {
        return Err(ResolveError::NoAddress {
            host: host.to_owned(),
        });
    }
    let allowed: Vec<SocketAddr> = all
        .into_iter()
        .filter(|addr| !refused_ip(addr.ip(), policy))
        .collect();
    if allowed.is_empty() {
        return Err(ResolveError::Refused(RefusedAddress {
            host: host.to_owned(),
        }));
    }
    Ok(allowed)
}

/// A DNS resolver for reqwest that drops refused addresses at connect time, so a host that
/// resolves to a private address when a delivery is made is never reached (DNS rebinding),
/// whatever it resolved to when it was registered. The error when nothing is left is a
/// [`RefusedAddress`] in the reqwest error's source chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver {
    pub policy: LoopbackPolicy,
}

impl GuardedResolver {
    pub fn new(policy: LoopbackPolicy) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            match resolve_allowed(name.as_str(), policy).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(ResolveError::Refused(refused)) => Err(refused.into()),
                Err(other) => Err(other.into()),
            }
        })
    }
}

/// The client every webhook delivery goes through: the guarded resolver, no redirects (a
/// redirect could lead anywhere), no proxy from the environment (the resolver would then guard
/// the proxy, not the endpoint), https only unless the local stack allows loopback, 10 s in all
/// and 5 s to connect.
pub fn webhook_http_client(policy: LoopbackPolicy) -> anyhow::Result<reqwest::Client> {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("herald-webhooks/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .https_only(policy == LoopbackPolicy::Refuse)
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .build()
        .context("building the webhook HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    // The example of the Standard Webhooks spec, recomputed independently with
    // `printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
    //  openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the base64-decoded key> -binary | base64`.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_spec_example() {
        let key = secret(SPEC_SECRET);
        assert_eq!(
            sign(&key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
        assert_eq!(
            verify(
                SPEC_SIGNATURE,
                &[&key],
                SPEC_ID,
                SPEC_TIMESTAMP,
                SPEC_BODY,
                SPEC_TIMESTAMP + 10,
                DEFAULT_TOLERANCE_SECONDS
            ),
            Ok(())
        );
    }

    #[test]
    fn generated_secrets_are_random_and_round_trip() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        let text = a.to_string();
        assert!(text.starts_with("whsec_"));
        let parsed = WebhookSecret::parse(&text).unwrap();
        assert_eq!(parsed, a);
        assert_eq!(parsed.0.len(), 32);
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = secret(SPEC_SECRET);
        let shown = format!("{key:?}");
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert_eq!(shown, "WebhookSecret(<redacted>)");
    }

    #[test]
    fn parse_refuses_what_is_not_a_secret() {
        use base64::engine::general_purpose::STANDARD_NO_PAD;
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        let short = format!("whsec_{}", STANDARD.encode([7u8; 16]));
        assert_eq!(WebhookSecret::parse(&short), Err(SecretError::Length(16)));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(WebhookSecret::parse(&long), Err(SecretError::Length(65)));
        // 32 bytes encode with one '='; the unpadded form is accepted too.
        let unpadded = format!("whsec_{}", STANDARD_NO_PAD.encode([7u8; 32]));
        assert_eq!(WebhookSecret::parse(&unpadded).unwrap().0, vec![7u8; 32]);
        assert!(WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());
    }

    const NOW: i64 = 1_800_000_000;

    fn check(
        header: &str,
        secrets: &[&WebhookSecret],
        body: &[u8],
        timestamp: i64,
    ) -> Result<(), VerifyError> {
        verify(
            header,
            secrets,
            "msg_1",
            timestamp,
            body,
            NOW,
            DEFAULT_TOLERANCE_SECONDS,
        )
    }

    #[test]
    fn verify_refuses_a_wrong_secret_a_tampered_message_or_a_stale_timestamp() {
        let key = WebhookSecret::generate();
        let other = WebhookSecret::generate();
        let header = sign(&key, "msg_1", NOW, b"{}");
        assert_eq!(check(&header, &[&key], b"{}", NOW), Ok(()));
        assert_eq!(
            check(&header, &[&other], b"{}", NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&header, &[&key], b"{ }", NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&header, &[&key], "msg_2", NOW, b"{}", NOW, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(check(&header, &[], b"{}", NOW), Err(VerifyError::Mismatch));

        // Old or from the future, beyond five minutes, even when correctly signed.
        let old = NOW - 301;
        assert_eq!(
            check(&sign(&key, "msg_1", old, b"{}"), &[&key], b"{}", old),
            Err(VerifyError::Timestamp {
                skew_seconds: 301,
                tolerance_seconds: 300
            })
        );
        let ahead = NOW + 301;
        assert!(matches!(
            check(&sign(&key, "msg_1", ahead, b"{}"), &[&key], b"{}", ahead),
            Err(VerifyError::Timestamp {
                skew_seconds: -301,
                ..
            })
        ));
        let edge = NOW - 300;
        assert_eq!(
            check(&sign(&key, "msg_1", edge, b"{}"), &[&key], b"{}", edge),
            Ok(())
        );
        // A signature for one timestamp does not pass with another.
        assert_eq!(
            check(&header, &[&key], b"{}", NOW - 1),
            Err(VerifyError::Mismatch)
        );
        // Extreme timestamps do not overflow.
        assert!(matches!(
            verify(&header, &[&key], "msg_1", i64::MIN, b"{}", i64::MAX, 300),
            Err(VerifyError::Timestamp { .. })
        ));
    }

    #[test]
    fn verify_passes_when_any_signature_matches_any_secret() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let unrelated = WebhookSecret::generate();
        // During a rotation both sign; a receiver knowing either accepts.
        let header = signature_header(&[&old, &new], "msg_1", NOW, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(check(&header, &[&new], b"{}", NOW), Ok(()));
        assert_eq!(check(&header, &[&old], b"{}", NOW), Ok(()));
        assert_eq!(check(&header, &[&unrelated, &old], b"{}", NOW), Ok(()));
        assert_eq!(
            check(&header, &[&unrelated], b"{}", NOW),
            Err(VerifyError::Mismatch)
        );

        // Other versions and malformed entries are skipped, not fatal.
        let good = sign(&new, "msg_1", NOW, b"{}");
        let mixed = format!("v1a,abcd v1,!!notbase64!! v1,AAAA {good}");
        assert_eq!(check(&mixed, &[&new], b"{}", NOW), Ok(()));
        assert_eq!(
            check("v1a,abcd v2,xyz", &[&new], b"{}", NOW),
            Err(VerifyError::NoSignature)
        );
        assert_eq!(
            check("", &[&new], b"{}", NOW),
            Err(VerifyError::NoSignature)
        );
        // A truncated signature does not pass.
        let truncated = &good[..good.len() - 4];
        assert_eq!(
            check(truncated, &[&new], b"{}", NOW),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        assert_eq!(retry_delay(0), None);
        assert_eq!(retry_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(3), Some(Duration::from_secs(1800)));
        assert_eq!(retry_delay(4), Some(Duration::from_secs(7200)));
        assert_eq!(retry_delay(5), Some(Duration::from_secs(18_000)));
        assert_eq!(retry_delay(6), Some(Duration::from_secs(36_000)));
        assert_eq!(retry_delay(7), None);
        assert_eq!(retry_delay(u32::MAX), None);
        let whole_schedule: Duration = RETRY_DELAYS.iter().sum();
        assert!(whole_schedule < DISABLE_AFTER);
        assert_eq!(DISABLE_AFTER, Duration::from_secs(432_000));
    }

    #[test]
    fn sqs_delays_round_up_and_stay_within_fifteen_minutes() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let later = |ms: i64| now + chrono::TimeDelta::milliseconds(ms);
        assert_eq!(sqs_delay(later(-5_000), now), 0);
        assert_eq!(sqs_delay(now, now), 0);
        assert_eq!(sqs_delay(later(1), now), 1);
        assert_eq!(sqs_delay(later(10_000), now), 10);
        assert_eq!(sqs_delay(later(10_001), now), 11);
        assert_eq!(sqs_delay(later(899_999), now), 900);
        assert_eq!(sqs_delay(later(2 * 3_600_000), now), 900);
        assert_eq!(
            sqs_delay(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC),
            900
        );
        assert_eq!(
            sqs_delay(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
            0
        );
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forbidden_addresses() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "192.0.0.1",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "::8.8.8.8",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "2001:2::1",
            "3fff::1",
            "100::1",
            "fc00::1",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(forbidden_ip(ip(text)), "{text} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4007:80f::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(!forbidden_ip(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn endpoint_urls_are_https_to_public_hosts() {
        use LoopbackPolicy::{AllowLoopback, Refuse};
        let ok = |url: &str, policy| {
            check_endpoint_url(url, policy).unwrap_or_else(|e| panic!("{url}: {e}"))
        };
        let refused = |url: &str, policy| {
            check_endpoint_url(url, policy).expect_err(&format!("{url} should be refused"))
        };

        assert_eq!(
            ok("https://hooks.example.com/herald?x=1", Refuse).as_str(),
            "https://hooks.example.com/herald?x=1"
        );
        ok("https://hooks.example.com:8443/", Refuse);
        ok("https://93.184.215.14/hook", Refuse);
        ok("https://[2606:4700:4700::1111]/hook", Refuse);
        ok("https://example.com./hook", Refuse);

        assert_eq!(
            refused("http://hooks.example.com/", Refuse),
            "The URL must use https."
        );
        assert_eq!(
            refused("ftp://hooks.example.com/", Refuse),
            "The URL must use https."
        );
        assert_eq!(
            refused("http://hooks.example.com/", AllowLoopback),
            "The URL must use https."
        );
        assert!(refused("https://user:pw@hooks.example.com/", Refuse).contains("user name"));
        assert!(refused("https://user@hooks.example.com/", Refuse).contains("user name"));
        assert!(refused("https://hooks.example.com/#frag", Refuse).contains("fragment"));
        assert!(refused("https://hooks.example.com/#", Refuse).contains("fragment"));
        assert!(refused("/relative/path", Refuse).contains("not a valid absolute URL"));
        assert!(refused("not a url", Refuse).contains("not a valid absolute URL"));
        assert!(refused("mailto:someone@example.com", Refuse).contains("host"));
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(refused(&long, Refuse).contains("2048"));

        for url in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[fd00::1]/",
            "https://100.64.0.1/",
            "https://0x7f.1/",
            "https://2130706433/",
            "https://0/",
        ] {
            assert!(
                refused(url, Refuse).contains("private, loopback or reserved"),
                "{url}"
            );
        }
        for url in [
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
        ] {
            assert!(refused(url, Refuse).contains("localhost"), "{url}");
        }
        for url in [
            "https://metadata.google.internal/",
            "https://printer.local/",
        ] {
            assert!(refused(url, Refuse).contains("internal host name"), "{url}");
            assert!(
                refused(url, AllowLoopback).contains("internal host name"),
                "{url}"
            );
        }
        assert!(refused("https://intranet/", Refuse).contains("fully qualified"));

        // The local stack: loopback over http or https, nothing else private.
        ok("http://127.0.0.1:8080/hook", AllowLoopback);
        ok("https://127.0.0.1:8080/hook", AllowLoopback);
        ok("http://[::1]:8080/hook", AllowLoopback);
        ok("http://localhost:3000/", AllowLoopback);
        ok("http://hooks.localhost:3000/", AllowLoopback);
        assert!(refused("http://10.0.0.1/", AllowLoopback).contains("private"));
        assert!(refused("http://169.254.169.254/", AllowLoopback).contains("private"));
    }

    #[tokio::test]
    async fn the_resolver_refuses_localhost_unless_the_local_stack_allows_it() {
        use reqwest::dns::Resolve as _;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();

        let refused = GuardedResolver::new(LoopbackPolicy::Refuse)
            .resolve(name("localhost"))
            .await
            .err()
            .unwrap();
        assert_eq!(
            refused.to_string(),
            "localhost resolves only to private/loopback addresses"
        );
        assert!(refused.downcast_ref::<RefusedAddress>().is_some());

        let allowed: Vec<SocketAddr> = GuardedResolver::new(LoopbackPolicy::AllowLoopback)
            .resolve(name("localhost"))
            .await
            .unwrap()
            .collect();
        assert!(!allowed.is_empty());
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));

        // A private address stays refused even for the local stack.
        let private = GuardedResolver::new(LoopbackPolicy::AllowLoopback)
            .resolve(name("10.0.0.1"))
            .await;
        assert!(private.is_err());
    }

    #[tokio::test]
    async fn endpoint_hosts_are_resolved_at_registration() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert_eq!(
            check_endpoint_host(&url("https://localhost/"), LoopbackPolicy::Refuse).await,
            Err("The host localhost resolves only to private or loopback addresses.".to_owned())
        );
        assert_eq!(
            check_endpoint_host(&url("http://localhost:9/"), LoopbackPolicy::AllowLoopback).await,
            Ok(())
        );
        assert!(
            check_endpoint_host(&url("https://10.0.0.1/"), LoopbackPolicy::AllowLoopback)
                .await
                .is_err()
        );
        assert_eq!(
            check_endpoint_host(&url("https://[::1]/"), LoopbackPolicy::AllowLoopback).await,
            Ok(())
        );
        assert!(
            check_endpoint_host(
                &url("https://no-such-host.invalid/"),
                LoopbackPolicy::Refuse
            )
            .await
            .unwrap_err()
            .contains("could not be resolved")
        );
    }

    #[tokio::test]
    async fn the_client_connects_through_the_guarded_resolver_without_following_redirects() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(302).insert_header("location", "http://169.254.169.254/"),
            )
            .mount(&server)
            .await;
        let port = server.address().port();

        let local = webhook_http_client(LoopbackPolicy::AllowLoopback).unwrap();
        let answer = local
            .post(format!("http://localhost:{port}/hook"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            302,
            "the redirect is returned, not followed"
        );

        let deployed = webhook_http_client(LoopbackPolicy::Refuse).unwrap();
        let error = deployed
            .post(format!("https://localhost:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut refused = false;
        while let Some(e) = cause {
            refused |= e.downcast_ref::<RefusedAddress>().is_some();
            cause = e.source();
        }
        assert!(refused, "{error:?}");
        // Plain http is refused by the deployed client whatever the host.
        assert!(
            deployed
                .post("http://hooks.example.com/")
                .send()
                .await
                .is_err()
        );
    }

    #[test]
    fn event_types_have_dotted_wire_names() {
        assert_eq!(WebhookEventType::ALL.len(), 12);
        assert_eq!(
            "crm.sync_completed".parse::<WebhookEventType>(),
            Ok(WebhookEventType::CrmSyncCompleted)
        );
        assert_eq!(
            serde_json::to_value(WebhookEventType::MessageBounced).unwrap(),
            serde_json::json!("message.bounced")
        );
    }
}
