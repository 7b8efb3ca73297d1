//! Automatic replies and routing, at the tenant's layer and the event's: each rule matches a
//! guest's message (words or phrases, channels, the first message of a conversation, outside
//! the team's hours, guest tags) and answers it, routes it to a queue, raises its priority, or
//! all three. An event's rule replaces the tenant's rule of the same id; the event's rules are
//! tried first. Queues say how long a conversation may stay unanswered before it is escalated.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike as _, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, Priority};
use crate::inbound::search::words;
use crate::providers::FieldIssue;

/// The team's working hours (a rule may answer only outside them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamHours {
    /// An IANA time zone, e.g. `Europe/Paris`.
    #[schema(value_type = crate::domain::TimeZone)]
    pub time_zone: String,
    /// ISO weekdays worked (1 = Monday … 7 = Sunday), at least one.
    #[schema(value_type = Vec<u8>, min_items = 1, max_items = 7)]
    pub days: BTreeSet<u8>,
    /// `HH:MM`, inclusive.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    /// `HH:MM`, exclusive.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

impl TeamHours {
    /// Whether `at` is within the hours (unreadable hours count as always open).
    pub fn open_at(&self, at: DateTime<Utc>) -> bool {
        let (Ok(tz), Some(from), Some(to)) = (
            self.time_zone.parse::<chrono_tz::Tz>(),
            crate::consent::parse_clock(&self.from),
            crate::consent::parse_clock(&self.to),
        ) else {
            return true;
        };
        let local = at.with_timezone(&tz);
        let day = local.weekday().number_from_monday() as u8;
        let time: NaiveTime = local.time();
        self.days.contains(&day) && time >= from && time < to
    }

    fn issues(&self, at: &str) -> Vec<FieldIssue> {
        let mut out = Vec::new();
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            out.push(FieldIssue::new(
                format!("{at}.time_zone"),
                "not an IANA time zone",
            ));
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            out.push(FieldIssue::new(
                format!("{at}.days"),
                "give ISO weekdays, 1 (Monday) to 7",
            ));
        }
        for (name, v) in [("from", &self.from), ("to", &self.to)] {
            if crate::consent::parse_clock(v).is_none() {
                out.push(FieldIssue::new(format!("{at}.{name}"), "a time as HH:MM"));
            }
        }
        out
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `[a-z0-9_-]`, 1 to 40 characters; unique in its layer.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    pub id: String,
    /// Any of these words or phrases, in any language (matched as whole words, without
    /// case or accents), each with a letter or digit. Empty: any message.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub words: Vec<String>,
    /// Only on these channels (empty: any).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Only the first message of a conversation.
    #[serde(default)]
    pub first_message: bool,
    /// Only outside the team's hours (the layer's `team_hours`).
    #[serde(default)]
    pub outside_hours: bool,
    /// Only guests with any of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Answer with this text, rendered like a template (`guest`, `event` variables); at most
    /// once per rule per conversation per day, never to automatic mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1600)]
    pub reply: Option<String>,
    /// Route the conversation to this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    pub queue: Option<String>,
    /// Raise the conversation's priority to this (never lowers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// A queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Escalate a conversation unanswered this long (minutes, 1 to 10080).
    #[schema(minimum = 1, maximum = 10080)]
    pub escalate_after_minutes: u32,
}

/// A layer's conversation settings (`PUT /api/v1/communication/conversation-settings`, and per
/// event): at most 256 KB in all, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettings {
    /// The answer to HELP and INFO on SMS and WhatsApp (tenant layer; "Reply STOP to opt
    /// out." is added). Required before SMS is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 300)]
    pub help_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_hours: Option<TeamHours>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub rules: Vec<Rule>,
    /// Queue name → settings.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSettings>,
    /// Optimistic concurrency: the stored version (0 when none).
    #[serde(default)]
    pub version: u64,
}

/// The most rules a layer holds, and the longest texts.
pub const MAX_RULES: usize = 50;
pub const MAX_REPLY: usize = 1600;
pub const MAX_HELP: usize = 300;

fn slug(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl ConversationSettings {
    /// Every problem with the settings, by field.
    pub fn issues(&self) -> Vec<FieldIssue> {
        let mut out = Vec::new();
        if let Some(h) = &self.help_text
            && (h.trim().is_empty() || h.chars().count() > MAX_HELP)
        {
            out.push(FieldIssue::new(
                "help_text",
                format!("1 to {MAX_HELP} characters"),
            ));
        }
        if let Some(hours) = &self.team_hours {
            out.extend(hours.issues("team_hours"));
        }
        if self.rules.len() > MAX_RULES {
            out.push(FieldIssue::new(
                "rules",
                format!("at most {MAX_RULES} rules"),
            ));
        }
        let mut ids = BTreeSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if !slug(&r.id) {
                out.push(FieldIssue::new(
                    format!("{at}.id"),
                    "1 to 40 of a-z, 0-9, _ and -",
                ));
            } else if !ids.insert(r.id.as_str()) {
                out.push(FieldIssue::new(
                    format!("{at}.id"),
                    "another rule has this id",
                ));
            }
            if r.reply.is_none() && r.queue.is_none() && r.priority.is_none() {
                out.push(FieldIssue::new(at.clone(), "give reply, queue or priority"));
            }
            if r.words.len() > 50 || r.words.iter().any(|w| words(w).is_empty() || w.len() > 100) {
                out.push(FieldIssue::new(format!("{at}.words"), "at most 50 words or phrases of 1 to 100 characters, each with a letter or digit"));
            }
            if let Some(reply) = &r.reply {
                if reply.trim().is_empty() || reply.chars().count() > MAX_REPLY {
                    out.push(FieldIssue::new(
                        format!("{at}.reply"),
                        format!("1 to {MAX_REPLY} characters"),
                    ));
                } else if let Err(issues) = reply_template(reply) {
                    for i in issues {
                        out.push(FieldIssue::new(
                            format!("{at}.reply"),
                            format!("line {}: {}", i.line, i.message),
                        ));
                    }
                }
            }
            if let Some(q) = &r.queue
                && !slug(q)
            {
                out.push(FieldIssue::new(
                    format!("{at}.queue"),
                    "1 to 40 of a-z, 0-9, _ and -",
                ));
            }
            if r.outside_hours && self.team_hours.is_none() {
                out.push(FieldIssue::new(
                    format!("{at}.outside_hours"),
                    "set team_hours first",
                ));
            }
        }
        for (name, q) in &self.queues {
            if !slug(name) {
                out.push(FieldIssue::new(
                    format!("queues.{name}"),
                    "a queue name is 1 to 40 of a-z, 0-9, _ and -",
                ));
            }
            if !(1..=10080).contains(&q.escalate_after_minutes) {
                out.push(FieldIssue::new(
                    format!("queues.{name}.escalate_after_minutes"),
                    "1 to 10080",
                ));
            }
        }
        out
    }
}

/// A reply's text as a template (its syntax checked like a template's text part).
pub fn reply_template(
    text: &str,
) -> Result<crate::config::TemplateContent, Vec<crate::template_syntax::SyntaxIssue>> {
    let content = crate::config::TemplateContent {
        subject: None,
        html: None,
        text: Some(text.to_owned()),
    };
    crate::render::CompiledTemplate::new(Channel::Sms, &content)?;
    Ok(content)
}

/// Renders a reply's text for a guest (no compliance blocks: it answers the guest's message).
pub fn render_reply(text: &str, context: &crate::render::RenderContext) -> Result<String, String> {
    let content = reply_template(text).map_err(|i| i[0].message.clone())?;
    crate::render::render_message(Channel::Sms, &content, context, &[])
        .map(|m| m.text.unwrap_or_default())
        .map_err(|i| i[0].message.clone())
}

/// What a rule is matched against.
pub struct Facts<'a> {
    pub text: &'a str,
    pub channel: Channel,
    pub first_message: bool,
    pub tags: &'a [String],
    pub at: DateTime<Utc>,
}

impl Rule {
    pub fn matches(&self, facts: &Facts<'_>, hours: Option<&TeamHours>) -> bool {
        if !self.channels.is_empty() && !self.channels.contains(&facts.channel) {
            return false;
        }
        if self.first_message && !facts.first_message {
            return false;
        }
        if self.outside_hours && hours.is_none_or(|h| h.open_at(facts.at)) {
            return false;
        }
        if !self.tags.is_empty() && !self.tags.iter().any(|t| facts.tags.contains(t)) {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let said = words(facts.text);
        self.words.iter().any(|phrase| {
            let phrase = words(phrase);
            !phrase.is_empty() && said.windows(phrase.len()).any(|w| w == phrase.as_slice())
        })
    }
}

/// The rules that apply to an event: its own first, then the tenant's it does not replace.
pub fn effective<'a>(
    tenant: &'a ConversationSettings,
    event: Option<&'a ConversationSettings>,
) -> Vec<(&'a Rule, Option<&'a TeamHours>)> {
    let mut out: Vec<(&Rule, Option<&TeamHours>)> = Vec::new();
    let event_hours = event
        .and_then(|e| e.team_hours.as_ref())
        .or(tenant.team_hours.as_ref());
    if let Some(e) = event {
        out.extend(e.rules.iter().map(|r| (r, event_hours)));
    }
    out.extend(
        tenant
            .rules
            .iter()
            .filter(|r| event.is_none_or(|e| e.rules.iter().all(|x| x.id != r.id)))
            .map(|r| (r, tenant.team_hours.as_ref())),
    );
    out
}

/// A queue's escalation limit: the event's setting, the tenant's, or none.
pub fn escalate_after(
    tenant: &ConversationSettings,
    event: Option<&ConversationSettings>,
    queue: &str,
) -> Option<chrono::Duration> {
    event
        .and_then(|e| e.queues.get(queue))
        .or_else(|| tenant.queues.get(queue))
        .map(|q| chrono::Duration::minutes(i64::from(q.escalate_after_minutes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            words: vec![],
            channels: vec![],
            first_message: false,
            outside_hours: false,
            tags: vec![],
            reply: None,
            queue: Some("logistics".into()),
            priority: None,
        }
    }

    fn facts<'a>(text: &'a str, at: DateTime<Utc>) -> Facts<'a> {
        Facts {
            text,
            channel: Channel::Sms,
            first_message: false,
            tags: &[],
            at,
        }
    }

    #[test]
    fn words_match_whole_words_in_any_case_and_accent() {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let r = Rule {
            words: vec!["parking".into(), "plan d'accès".into()],
            ..rule("p")
        };
        assert!(r.matches(&facts("Is there PARKING?", at), None));
        assert!(r.matches(&facts("un plan d'acces svp", at), None));
        assert!(!r.matches(&facts("parkings", at), None));
        let sms_only = Rule {
            channels: vec![Channel::Email],
            ..rule("e")
        };
        assert!(!sms_only.matches(&facts("x", at), None));
    }

    #[test]
    fn outside_hours_uses_the_teams_time_zone() {
        let hours = TeamHours {
            time_zone: "Europe/Paris".into(),
            days: [1, 2, 3, 4, 5].into(),
            from: "09:00".into(),
            to: "18:00".into(),
        };
        let r = Rule {
            outside_hours: true,
            ..rule("night")
        };
        // Monday 7 December 2026, 10:00 UTC = 11:00 in Paris: open.
        assert!(!r.matches(
            &facts("x", Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()),
            Some(&hours)
        ));
        // 17:30 UTC = 18:30 in Paris: closed.
        assert!(r.matches(
            &facts("x", Utc.with_ymd_and_hms(2026, 12, 7, 17, 30, 0).unwrap()),
            Some(&hours)
        ));
        // Sunday.
        assert!(r.matches(
            &facts("x", Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()),
            Some(&hours)
        ));
    }

    #[test]
    fn event_rules_replace_the_tenants_of_the_same_id_and_settings_are_checked() {
        let tenant = ConversationSettings {
            rules: vec![rule("a"), rule("b")],
            ..Default::default()
        };
        let event = ConversationSettings {
            rules: vec![Rule {
                queue: Some("vip".into()),
                ..rule("b")
            }],
            ..Default::default()
        };
        let ids: Vec<_> = effective(&tenant, Some(&event))
            .iter()
            .map(|(r, _)| (r.id.clone(), r.queue.clone()))
            .collect();
        assert_eq!(
            ids,
            [
                ("b".to_owned(), Some("vip".to_owned())),
                ("a".to_owned(), Some("logistics".to_owned()))
            ]
        );
        let bad = ConversationSettings {
            rules: vec![
                Rule {
                    id: "Bad Id".into(),
                    queue: None,
                    ..rule("x")
                },
                Rule {
                    outside_hours: true,
                    ..rule("y")
                },
            ],
            queues: [(
                "vip".to_owned(),
                QueueSettings {
                    escalate_after_minutes: 0,
                },
            )]
            .into(),
            ..Default::default()
        };
        let fields: Vec<_> = bad.issues().into_iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            [
                "rules[0].id",
                "rules[0]",
                "rules[1].outside_hours",
                "queues.vip.escalate_after_minutes"
            ]
        );
    }
}
