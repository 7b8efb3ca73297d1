//! Analytics over the delivery counters: dashboards (counts and rates by channel and provider),
//! the realtime view, and insights — findings computed from the counts by fixed rules and
//! standard statistics (Wilson intervals, two-proportion z-tests), each with its evidence.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Channel;
use crate::store::Counters;

/// The metrics every figure set shows.
pub const METRICS: &[&str] = &[
    "sent",
    "delivered",
    "delayed",
    "bounced",
    "bounced_permanent",
    "complained",
    "rejected",
    "rendering_failed",
    "failed",
    "opened",
    "opened_unique",
    "clicked",
    "clicked_unique",
    "unsubscribed",
];

/// SES's review thresholds: an account whose bounce rate passes 5%, or complaint rate 0.1%, is
/// put under review.
pub const BOUNCE_THRESHOLD: f64 = 0.05;
pub const COMPLAINT_THRESHOLD: f64 = 0.001;
/// The fewest messages a rate needs before an insight is drawn from it.
pub const MIN_SAMPLE: i64 = 100;
/// The fewest messages an hour or a channel needs to be compared.
pub const MIN_GROUP: i64 = 30;

/// Counts and rates of one slice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// `sent`, `delivered`, `bounced`, `bounced_permanent`, `complained`, `opened` (total),
    /// `opened_unique`, `clicked` (total), `clicked_unique`, `unsubscribed`, …
    pub counts: BTreeMap<String, i64>,
    pub rates: Rates,
}

/// Rates as fractions (0.05 is 5%); absent when the denominator is zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Rates {
    /// delivered / sent
    pub delivery_rate: Option<f64>,
    /// bounced / sent
    pub bounce_rate: Option<f64>,
    /// complained / sent
    pub complaint_rate: Option<f64>,
    /// unique opens / delivered
    pub open_rate: Option<f64>,
    /// unique clicks / delivered
    pub click_rate: Option<f64>,
    /// unique clicks / unique opens
    pub click_to_open_rate: Option<f64>,
    /// unsubscribed / delivered
    pub unsubscribe_rate: Option<f64>,
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Figures {
    /// The figures of counters whose names start with `prefix` (`n#`, `c#email#`, …).
    pub fn of(counters: &Counters, prefix: &str) -> Self {
        let counts: BTreeMap<String, i64> = METRICS
            .iter()
            .map(|m| ((*m).to_owned(), counters.get(&format!("{prefix}{m}"))))
            .collect();
        let c = |m: &str| counts.get(m).copied().unwrap_or(0);
        let rates = Rates {
            delivery_rate: ratio(c("delivered"), c("sent")),
            bounce_rate: ratio(c("bounced"), c("sent")),
            complaint_rate: ratio(c("complained"), c("sent")),
            open_rate: ratio(c("opened_unique"), c("delivered")),
            click_rate: ratio(c("clicked_unique"), c("delivered")),
            click_to_open_rate: ratio(c("clicked_unique"), c("opened_unique")),
            unsubscribe_rate: ratio(c("unsubscribed"), c("delivered")),
        };
        Self { counts, rates }
    }

    pub fn count(&self, metric: &str) -> i64 {
        self.counts.get(metric).copied().unwrap_or(0)
    }
}

/// Clicks on one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinkClicks {
    pub url: String,
    pub clicks: i64,
}

/// A dashboard's figures: in total, by channel, by provider, and clicks per link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Breakdown {
    pub totals: Figures,
    pub by_channel: BTreeMap<String, Figures>,
    /// By provider id.
    pub by_provider: BTreeMap<String, Figures>,
    /// Most clicked first (events and campaigns only).
    pub links: Vec<LinkClicks>,
}

impl Breakdown {
    pub fn of(counters: &Counters) -> Self {
        let mut by_channel = BTreeMap::new();
        for channel in Channel::ALL {
            let prefix = format!("c#{channel}#");
            if counters.counts.keys().any(|k| k.starts_with(&prefix)) {
                by_channel.insert(channel.to_string(), Figures::of(counters, &prefix));
            }
        }
        let mut providers: Vec<&str> = counters
            .counts
            .keys()
            .filter_map(|k| k.strip_prefix("p#"))
            .filter_map(|rest| rest.split('#').next())
            .collect();
        providers.dedup();
        let by_provider = providers
            .into_iter()
            .map(|p| (p.to_owned(), Figures::of(counters, &format!("p#{p}#"))))
            .collect();
        let mut links: Vec<LinkClicks> = counters
            .links
            .iter()
            .map(|(key, url)| LinkClicks {
                url: url.clone(),
                clicks: counters.get(&format!("l#{key}")),
            })
            .collect();
        links.sort_by(|a, b| b.clicks.cmp(&a.clicks).then(a.url.cmp(&b.url)));
        Self {
            totals: Figures::of(counters, "n#"),
            by_channel,
            by_provider,
            links,
        }
    }
}

/// The Wilson score interval (95%) of `k` successes in `n` trials.
pub fn wilson(k: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let z = 1.959_963_985_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The two-proportion z statistic of k1/n1 against k2/n2, and its two-sided p-value.
pub fn two_proportion(k1: i64, n1: i64, k2: i64, n2: i64) -> Option<(f64, f64)> {
    if n1 <= 0 || n2 <= 0 {
        return None;
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (p1 - p2) / se;
    Some((z, 2.0 * (1.0 - normal_cdf(z.abs()))))
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// One finding, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Insight {
    /// `provider_bounce_rate`, `provider_complaint_rate`, `best_open_hour` or
    /// `best_channel_for_segment`.
    pub kind: String,
    /// `warning` (act on it) or `info`.
    pub severity: String,
    /// One sentence, built from the evidence.
    pub summary: String,
    /// The counts and statistics the finding rests on.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Providers whose bounce rate is over 5% or complaint rate over 0.1% (SES's review
/// thresholds), among those with at least [`MIN_SAMPLE`] messages sent. `names`: provider id →
/// a display name.
pub fn provider_insights(tenant: &Counters, names: &BTreeMap<String, String>) -> Vec<Insight> {
    let mut out = Vec::new();
    for (provider, figures) in Breakdown::of(tenant).by_provider {
        let sent = figures.count("sent");
        if sent < MIN_SAMPLE {
            continue;
        }
        let name = names
            .get(&provider)
            .cloned()
            .unwrap_or_else(|| provider.clone());
        for (kind, metric, threshold) in [
            ("provider_bounce_rate", "bounced", BOUNCE_THRESHOLD),
            ("provider_complaint_rate", "complained", COMPLAINT_THRESHOLD),
        ] {
            let k = figures.count(metric);
            let rate = k as f64 / sent as f64;
            if rate <= threshold {
                continue;
            }
            let (low, high) = wilson(k, sent).unwrap_or((rate, rate));
            out.push(Insight {
                kind: kind.to_owned(),
                severity: "warning".to_owned(),
                summary: format!(
                    "{name}: {} of {sent} messages {metric} ({}), over the {} threshold{}",
                    k,
                    percent(rate),
                    percent(threshold),
                    if low > threshold {
                        " even at the low end of its 95% interval"
                    } else {
                        " (the 95% interval still reaches below it)"
                    }
                ),
                evidence: serde_json::json!({
                    "provider_id": provider,
                    "sent": sent,
                    metric: k,
                    "rate": rate,
                    "threshold": threshold,
                    "rate_95_interval": [low, high],
                }),
            });
        }
    }
    out
}

/// The hour of day (UTC, by when messages were sent) with the best unique open rate for an
/// event, among hours with at least [`MIN_GROUP`] messages sent, compared with all other hours.
pub fn best_open_hour(event: &Counters) -> Option<Insight> {
    let hours: Vec<(u32, i64, i64)> = (0..24)
        .map(|h| {
            (
                h,
                event.get(&format!("h#{h:02}#sent")),
                event.get(&format!("h#{h:02}#opened_unique")),
            )
        })
        .filter(|(_, sent, _)| *sent >= MIN_GROUP)
        .collect();
    if hours.len() < 2 {
        return None;
    }
    let (hour, sent, opened) = hours.iter().copied().max_by(|a, b| {
        (a.2 as f64 / a.1 as f64)
            .total_cmp(&(b.2 as f64 / b.1 as f64))
            .then(b.0.cmp(&a.0))
    })?;
    let rest_sent: i64 = hours.iter().filter(|h| h.0 != hour).map(|h| h.1).sum();
    let rest_opened: i64 = hours.iter().filter(|h| h.0 != hour).map(|h| h.2).sum();
    let rate = opened as f64 / sent as f64;
    let rest = rest_opened as f64 / rest_sent as f64;
    let (z, p) = two_proportion(opened, sent, rest_opened, rest_sent).unwrap_or((0.0, 1.0));
    Some(Insight {
        kind: "best_open_hour".to_owned(),
        severity: "info".to_owned(),
        summary: format!(
            "messages sent at {hour:02}:00 UTC were opened most: {} against {} for the other hours{}",
            percent(rate),
            percent(rest),
            if p < 0.05 {
                " (significant at 5%)"
            } else {
                " (not yet significant at 5%)"
            }
        ),
        evidence: serde_json::json!({
            "hour_utc": hour,
            "sent": sent,
            "opened_unique": opened,
            "open_rate": rate,
            "other_hours_sent": rest_sent,
            "other_hours_opened_unique": rest_opened,
            "other_hours_open_rate": rest,
            "z": z,
            "p_value": p,
            "hours_compared": hours.len(),
        }),
    })
}

/// The channel that reaches a segment best: the highest delivery rate among the segment's
/// channels with at least [`MIN_GROUP`] messages sent and delivery reports (a channel whose
/// provider reports no deliveries, such as SNS SMS, cannot be compared), against the next.
pub fn best_channel(segment: &str, counters: &Counters) -> Option<Insight> {
    let b = Breakdown::of(counters);
    let mut channels: Vec<(String, i64, i64)> = b
        .by_channel
        .iter()
        .map(|(c, f)| (c.clone(), f.count("sent"), f.count("delivered")))
        .filter(|(_, sent, delivered)| *sent >= MIN_GROUP && *delivered > 0)
        .collect();
    if channels.len() < 2 {
        return None;
    }
    channels.sort_by(|a, b| (b.2 as f64 / b.1 as f64).total_cmp(&(a.2 as f64 / a.1 as f64)));
    let (best, runner) = (&channels[0], &channels[1]);
    let (z, p) = two_proportion(best.2, best.1, runner.2, runner.1).unwrap_or((0.0, 1.0));
    Some(Insight {
        kind: "best_channel_for_segment".to_owned(),
        severity: "info".to_owned(),
        summary: format!(
            "{segment}: {} reaches {} of its recipients, {} reaches {}{}",
            best.0,
            percent(best.2 as f64 / best.1 as f64),
            runner.0,
            percent(runner.2 as f64 / runner.1 as f64),
            if p < 0.05 {
                " (significant at 5%)"
            } else {
                " (not yet significant at 5%)"
            }
        ),
        evidence: serde_json::json!({
            "segment": segment,
            "channels": channels.iter().map(|(c, sent, delivered)| serde_json::json!({
                "channel": c, "sent": sent, "delivered": delivered,
                "delivery_rate": *delivered as f64 / *sent as f64,
            })).collect::<Vec<_>>(),
            "z": z,
            "p_value": p,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(pairs: &[(&str, i64)]) -> Counters {
        Counters {
            counts: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            links: BTreeMap::new(),
        }
    }

    #[test]
    fn rates_follow_their_definitions() {
        let c = counters(&[
            ("n#sent", 200),
            ("n#delivered", 190),
            ("n#bounced", 10),
            ("n#opened_unique", 95),
            ("n#clicked_unique", 19),
            ("c#email#sent", 200),
            ("p#prv_1#sent", 200),
        ]);
        let b = Breakdown::of(&c);
        assert_eq!(b.totals.rates.delivery_rate, Some(0.95));
        assert_eq!(b.totals.rates.bounce_rate, Some(0.05));
        assert_eq!(b.totals.rates.open_rate, Some(0.5));
        assert_eq!(b.totals.rates.click_to_open_rate, Some(0.2));
        assert_eq!(b.totals.rates.complaint_rate, Some(0.0));
        assert!(b.by_channel.contains_key("email"));
        assert_eq!(b.by_provider["prv_1"].count("sent"), 200);
        assert_eq!(
            Figures::of(&Counters::default(), "n#").rates.delivery_rate,
            None
        );
    }

    #[test]
    fn statistics_match_known_values() {
        let (low, high) = wilson(10, 100).expect("interval");
        assert!(
            (low - 0.0552).abs() < 1e-3 && (high - 0.1744).abs() < 1e-3,
            "{low} {high}"
        );
        let (z, p) = two_proportion(60, 100, 40, 100).expect("z");
        assert!(
            (z - 2.828).abs() < 1e-2 && (p - 0.00468).abs() < 1e-3,
            "{z} {p}"
        );
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn a_provider_over_a_threshold_is_flagged_with_its_evidence() {
        let c = counters(&[
            ("p#prv_a#sent", 1000),
            ("p#prv_a#bounced", 80),
            ("p#prv_a#complained", 1),
            ("p#prv_b#sent", 1000),
            ("p#prv_b#bounced", 10),
            ("p#prv_c#sent", 20),
            ("p#prv_c#bounced", 20),
        ]);
        let found = provider_insights(&c, &BTreeMap::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, "provider_bounce_rate");
        assert_eq!(found[0].evidence["provider_id"], "prv_a");
        assert_eq!(found[0].evidence["bounced"], 80);
    }

    #[test]
    fn the_best_hour_and_channel_come_with_a_test() {
        let c = counters(&[
            ("h#09#sent", 100),
            ("h#09#opened_unique", 60),
            ("h#15#sent", 100),
            ("h#15#opened_unique", 40),
            ("h#20#sent", 10),
            ("h#20#opened_unique", 10),
        ]);
        let hour = best_open_hour(&c).expect("insight");
        assert_eq!(hour.evidence["hour_utc"], 9);
        assert!(hour.evidence["p_value"].as_f64().expect("p") < 0.05);
        let c = counters(&[
            ("c#email#sent", 100),
            ("c#email#delivered", 90),
            ("c#whatsapp#sent", 50),
            ("c#whatsapp#delivered", 49),
            ("c#sms#sent", 100),
        ]);
        let channel = best_channel("campaign x", &c).expect("insight");
        assert_eq!(channel.evidence["channels"][0]["channel"], "whatsapp");
        assert_eq!(
            channel.evidence["channels"].as_array().map(Vec::len),
            Some(2)
        );
    }
}
