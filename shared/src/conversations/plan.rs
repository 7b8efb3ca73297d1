//! What Herald does with one inbound message, in order: keywords (STOP/START/HELP on SMS and
//! WhatsApp: consent first, always, and nothing else follows), RSVP replies ("yes"/"no" to an
//! event that takes answers), automatic replies (never to automatic mail or spam, never to a
//! guest opted out of the channel, once per rule per conversation per day), routing (the first
//! matching rule's queue, the highest priority), and flags for a person (opt-outs in other
//! words). Pure: the inbound function reads the facts, applies the plan and records it.

use chrono::{DateTime, Utc};

use super::Conversation;
use super::rules::{Facts, Rule, TeamHours};
use crate::domain::{Channel, Priority, RsvpStatus};
use crate::inbound::Inbound;
use crate::inbound::keywords::{self, Answer, Keyword};

/// What is known when a message arrives.
pub struct Situation<'a> {
    pub inbound: &'a Inbound,
    /// The conversation before this message.
    pub conversation: &'a Conversation,
    /// The contact is opted out of the message's channel (or of everything).
    pub opted_out: bool,
    /// The contact's last consent change on this channel was a STOP keyword (then `YES` opts
    /// back in).
    pub stopped_by_keyword: bool,
    /// The event takes an answer by reply from this guest now.
    pub rsvp_open: bool,
    pub tags: &'a [String],
    pub rules: Vec<(&'a Rule, Option<&'a TeamHours>)>,
    pub help_text: Option<&'a str>,
    pub sender_name: &'a str,
}

/// A consent change a keyword makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMove {
    OptOut(Channel),
    OptIn(Channel),
}

/// The decisions for one inbound message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub keyword: Option<Keyword>,
    pub consent: Option<ConsentMove>,
    /// The keyword's answer (exactly one per keyword message).
    pub confirmation: Option<String>,
    pub rsvp: Option<RsvpStatus>,
    /// Automatic replies to send: (rule id, the reply's template text).
    pub replies: Vec<(String, String)>,
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    pub flags: Vec<&'static str>,
    /// What the thread records the message did.
    pub actions: Vec<String>,
}

/// The answers to keywords.
pub fn stop_text(sender: &str) -> String {
    format!(
        "{sender}: you are unsubscribed and will receive no more messages on this number. Reply START to subscribe again."
    )
}
pub fn start_text(sender: &str) -> String {
    format!("{sender}: you are subscribed again. Reply HELP for help, STOP to opt out.")
}
pub fn help_text(sender: &str, help: Option<&str>) -> String {
    match help {
        Some(h) => format!("{sender}: {} Reply STOP to opt out.", h.trim()),
        None => format!("{sender}: reply STOP to opt out."),
    }
}

/// The UTC day a rule's once-a-day limit counts in.
pub fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

pub fn plan(s: &Situation<'_>) -> Plan {
    let m = s.inbound;
    let mut p = Plan::default();
    let phone = matches!(m.channel, Channel::Sms | Channel::Whatsapp);
    if phone && let Some(k) = keywords::keyword(&m.text, s.stopped_by_keyword) {
        p.keyword = Some(k);
        p.actions.push(format!(
            "keyword:{}",
            match k {
                Keyword::Stop => "stop",
                Keyword::Start => "start",
                Keyword::Help => "help",
            }
        ));
        match k {
            Keyword::Stop => {
                p.consent = Some(ConsentMove::OptOut(m.channel));
                p.confirmation = Some(stop_text(s.sender_name));
                p.actions.push(format!("opted_out:{}", m.channel));
            }
            Keyword::Start => {
                p.consent = Some(ConsentMove::OptIn(m.channel));
                p.confirmation = Some(start_text(s.sender_name));
                p.actions.push(format!("opted_in:{}", m.channel));
            }
            Keyword::Help => p.confirmation = Some(help_text(s.sender_name, s.help_text)),
        }
        return p;
    }
    if m.spam {
        p.flags.push("spam");
    }
    if keywords::reads_as_opt_out(&m.written) {
        p.flags.push("opt_out_words");
        p.actions.push("flagged:opt_out_words".into());
    }
    let automatic = m.automatic.is_some() || m.spam;
    if !automatic && s.rsvp_open && p.flags.is_empty() {
        p.rsvp = keywords::answer(&m.written).map(|a| match a {
            Answer::Yes => RsvpStatus::Accepted,
            Answer::No => RsvpStatus::Declined,
        });
        if let Some(status) = p.rsvp {
            p.actions.push(format!("rsvp:{status}"));
        }
    }
    let facts = Facts {
        text: &m.written,
        channel: m.channel,
        first_message: s.conversation.message_count == 0,
        tags: s.tags,
        at: m.at,
    };
    let today = day(m.at);
    for (rule, hours) in &s.rules {
        if !rule.matches(&facts, *hours) {
            continue;
        }
        if let Some(q) = &rule.queue
            && p.queue.is_none()
            && *q != s.conversation.queue
        {
            p.queue = Some(q.clone());
            p.actions.push(format!("routed:{q}"));
        }
        if let Some(pr) = rule.priority
            && pr > s.conversation.priority
            && p.priority.is_none_or(|x| pr > x)
        {
            p.priority = Some(pr);
        }
        let may_answer = !automatic
            && !s.opted_out
            && p.rsvp.is_none()
            && p.replies.is_empty()
            && s.conversation.auto_replied.get(&rule.id) != Some(&today);
        if let Some(reply) = &rule.reply
            && may_answer
        {
            p.replies.push((rule.id.clone(), reply.clone()));
            p.actions.push(format!("auto_reply:{}", rule.id));
        }
    }
    if let Some(pr) = p.priority {
        p.actions.push(format!("priority:{pr}"));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::Party;
    use crate::ids::{ContactId, TenantId};
    use chrono::TimeZone as _;

    fn inbound(channel: Channel, text: &str) -> Inbound {
        Inbound {
            channel,
            provider_id: "p1".into(),
            from: "+15550001111".into(),
            to: "+15550002222".into(),
            at: Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
            subject: None,
            text: text.into(),
            written: text.into(),
            attachments: vec![],
            replied_to: None,
            automatic: None,
            spam: false,
            raw_object: None,
        }
    }

    fn rule(
        id: &str,
        words: &[&str],
        reply: Option<&str>,
        queue: Option<&str>,
        priority: Option<Priority>,
    ) -> Rule {
        Rule {
            id: id.into(),
            words: words.iter().map(|w| w.to_string()).collect(),
            channels: vec![],
            first_message: false,
            outside_hours: false,
            tags: vec![],
            reply: reply.map(str::to_owned),
            queue: queue.map(str::to_owned),
            priority,
        }
    }

    fn run(
        m: &Inbound,
        conversation: &Conversation,
        rules: &[Rule],
        rsvp_open: bool,
        opted_out: bool,
    ) -> Plan {
        plan(&Situation {
            inbound: m,
            conversation,
            opted_out,
            stopped_by_keyword: false,
            rsvp_open,
            tags: &[],
            rules: rules.iter().map(|r| (r, None)).collect(),
            help_text: Some("Questions? events@example.org"),
            sender_name: "Gala",
        })
    }

    fn conversation() -> Conversation {
        Conversation::new(
            TenantId::new(),
            &Party::Contact(ContactId::new()),
            None,
            Utc::now(),
        )
    }

    #[test]
    fn keywords_come_first_and_nothing_follows() {
        let rules = [rule("any", &[], Some("Thanks!"), Some("logistics"), None)];
        let p = run(
            &inbound(Channel::Sms, "Stop."),
            &conversation(),
            &rules,
            true,
            false,
        );
        assert_eq!(p.consent, Some(ConsentMove::OptOut(Channel::Sms)));
        assert!(p.confirmation.unwrap().contains("START"));
        assert!(p.replies.is_empty() && p.queue.is_none());
        let help = run(
            &inbound(Channel::Whatsapp, "help"),
            &conversation(),
            &rules,
            true,
            false,
        );
        assert_eq!(
            help.confirmation.as_deref(),
            Some("Gala: Questions? events@example.org Reply STOP to opt out.")
        );
        // Email does not obey keywords: "STOP" by mail is for a person.
        let mail = run(
            &inbound(Channel::Email, "STOP"),
            &conversation(),
            &[],
            false,
            false,
        );
        assert_eq!((mail.consent, mail.flags), (None, vec!["opt_out_words"]));
    }

    #[test]
    fn rsvp_replies_automatic_replies_and_routing() {
        let rules = [
            rule(
                "parking",
                &["parking"],
                Some("Parking is at gate B."),
                Some("logistics"),
                None,
            ),
            rule("refund", &["refund"], None, None, Some(Priority::High)),
        ];
        let yes = run(
            &inbound(Channel::Sms, "Yes!"),
            &conversation(),
            &rules,
            true,
            false,
        );
        assert_eq!(yes.rsvp, Some(RsvpStatus::Accepted));
        assert_eq!(
            run(
                &inbound(Channel::Sms, "Yes!"),
                &conversation(),
                &rules,
                false,
                false
            )
            .rsvp,
            None
        );
        let p = run(
            &inbound(Channel::Sms, "Is there parking? I need a refund"),
            &conversation(),
            &rules,
            true,
            false,
        );
        assert_eq!(
            p.replies,
            [("parking".to_owned(), "Parking is at gate B.".to_owned())]
        );
        assert_eq!(
            (p.queue.as_deref(), p.priority),
            (Some("logistics"), Some(Priority::High))
        );
        // Once a day per conversation; never to automatic mail; never to an opted-out guest.
        let mut c = conversation();
        c.auto_replied.insert("parking".into(), "2026-12-07".into());
        assert!(
            run(&inbound(Channel::Sms, "parking?"), &c, &rules, false, false)
                .replies
                .is_empty()
        );
        let mut auto = inbound(Channel::Email, "parking?");
        auto.automatic = Some("auto-submitted");
        let p = run(&auto, &conversation(), &rules, false, false);
        assert!(p.replies.is_empty());
        assert_eq!(p.queue.as_deref(), Some("logistics"));
        assert!(
            run(
                &inbound(Channel::Sms, "parking?"),
                &conversation(),
                &rules,
                false,
                true
            )
            .replies
            .is_empty()
        );
    }
}
