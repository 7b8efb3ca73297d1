//! The preference page's form: what the guest typed (kept as typed, so a page with errors
//! shows it again), and the preferences it asks for or every problem with it, field by field.

use std::collections::BTreeSet;

use herald::consent::{FrequencyCap, MAX_CAP, OptOut, Preferences, QuietHours, parse_clock};
use herald::domain::{CapPeriod, Channel, TemplateCategory, TimeZone};

/// The form's fields, as typed (or as saved, for a page that shows the saved preferences).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferenceForm {
    /// The ticked boxes: `{category}#{channel}`.
    pub subscribed: BTreeSet<String>,
    pub unsubscribe_all: bool,
    pub cap_max: String,
    pub cap_per: String,
    pub quiet_start: String,
    pub quiet_end: String,
    pub time_zone: String,
}

/// A field's problem: the field's id (what the error summary links to) and the translation
/// that says what to do, naming the field's visible label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

impl FieldError {
    fn new(field: &'static str, message: &'static str) -> Self {
        Self { field, message }
    }
}

/// A ticked box's value.
pub fn box_value(category: TemplateCategory, channel: Channel) -> String {
    format!("{category}#{channel}")
}

impl PreferenceForm {
    /// The form showing saved preferences.
    pub fn of(prefs: &Preferences) -> Self {
        let mut subscribed = BTreeSet::new();
        for channel in Channel::ALL {
            for category in TemplateCategory::ALL {
                let off = prefs
                    .opt_outs
                    .iter()
                    .any(|o| o.channel == *channel && o.category.is_none_or(|c| c == *category));
                if !off {
                    subscribed.insert(box_value(*category, *channel));
                }
            }
        }
        let (cap_max, cap_per) = match prefs.frequency_cap {
            Some(FrequencyCap { max, per }) => (max.to_string(), per.to_string()),
            None => (String::new(), CapPeriod::Week.to_string()),
        };
        let (quiet_start, quiet_end, time_zone) = match &prefs.quiet_hours {
            Some(q) => (
                q.start.format("%H:%M").to_string(),
                q.end.format("%H:%M").to_string(),
                q.time_zone.as_str().to_owned(),
            ),
            None => Default::default(),
        };
        Self {
            subscribed,
            unsubscribe_all: prefs.unsubscribed,
            cap_max,
            cap_per,
            quiet_start,
            quiet_end,
            time_zone,
        }
    }

    /// The form a browser posted (`application/x-www-form-urlencoded`).
    pub fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (name, value) in form_urlencoded::parse(body) {
            // Nothing a guest types here is longer; a longer value is not kept.
            let value: String = value.trim().chars().take(100).collect();
            match name.as_ref() {
                "subscribe" => {
                    form.subscribed.insert(value);
                }
                "unsubscribe_all" => form.unsubscribe_all = !value.is_empty(),
                "cap_max" => form.cap_max = value,
                "cap_per" => form.cap_per = value,
                "quiet_start" => form.quiet_start = value,
                "quiet_end" => form.quiet_end = value,
                "time_zone" => form.time_zone = value,
                _ => {}
            }
        }
        form
    }

    /// The preferences the form asks for, or every field's problem (in the page's order).
    /// Only `offered` channels are on the page: the others keep `current`'s opt-outs.
    pub fn check(
        &self,
        offered: &[Channel],
        current: &Preferences,
    ) -> Result<Preferences, Vec<FieldError>> {
        let mut errors = Vec::new();
        let frequency_cap = self.cap(&mut errors);
        let quiet_hours = self.quiet_hours(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut opt_outs: Vec<OptOut> = current
            .opt_outs
            .iter()
            .filter(|o| !offered.contains(&o.channel))
            .copied()
            .collect();
        for channel in offered {
            let off: Vec<TemplateCategory> = TemplateCategory::ALL
                .iter()
                .copied()
                .filter(|c| !self.subscribed.contains(&box_value(*c, *channel)))
                .collect();
            if off.len() == TemplateCategory::ALL.len() {
                opt_outs.push(OptOut {
                    channel: *channel,
                    category: None,
                });
            } else {
                opt_outs.extend(off.into_iter().map(|c| OptOut {
                    channel: *channel,
                    category: Some(c),
                }));
            }
        }
        opt_outs.sort();
        Ok(Preferences {
            unsubscribed: self.unsubscribe_all,
            opt_outs,
            frequency_cap,
            quiet_hours,
        })
    }

    fn cap(&self, errors: &mut Vec<FieldError>) -> Option<FrequencyCap> {
        if self.cap_max.is_empty() {
            return None;
        }
        let max = self
            .cap_max
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_CAP).contains(m));
        // The select always posts one; a post without it means a week.
        let per = match self.cap_per.as_str() {
            "" => Some(CapPeriod::Week),
            other => other.parse::<CapPeriod>().ok(),
        };
        if max.is_none() {
            errors.push(FieldError::new("cap_max", "error-cap-max"));
        }
        if per.is_none() {
            errors.push(FieldError::new("cap_per", "error-cap-per"));
        }
        Some(FrequencyCap {
            max: max?,
            per: per?,
        })
    }

    fn quiet_hours(&self, errors: &mut Vec<FieldError>) -> Option<QuietHours> {
        if self.quiet_start.is_empty() && self.quiet_end.is_empty() {
            return None;
        }
        let start = parse_clock(&self.quiet_start);
        let end = parse_clock(&self.quiet_end);
        if start.is_none() {
            errors.push(FieldError::new("quiet_start", "error-quiet-from"));
        }
        match (start, end) {
            (_, None) => errors.push(FieldError::new("quiet_end", "error-quiet-to")),
            (Some(s), Some(e)) if s == e => {
                errors.push(FieldError::new("quiet_end", "error-quiet-same"));
            }
            _ => {}
        }
        let time_zone = if self.time_zone.is_empty() {
            errors.push(FieldError::new("time_zone", "error-time-zone-missing"));
            None
        } else {
            let zone = TimeZone::parse(&self.time_zone).ok();
            if zone.is_none() {
                errors.push(FieldError::new("time_zone", "error-time-zone"));
            }
            zone
        };
        let (start, end, time_zone) = (start?, end?, time_zone?);
        (start != end).then_some(QuietHours {
            start,
            end,
            time_zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs() -> Preferences {
        Preferences {
            unsubscribed: false,
            opt_outs: vec![
                OptOut {
                    channel: Channel::Email,
                    category: Some(TemplateCategory::Reminder),
                },
                OptOut {
                    channel: Channel::Sms,
                    category: None,
                },
            ],
            frequency_cap: Some(FrequencyCap {
                max: 2,
                per: CapPeriod::Day,
            }),
            quiet_hours: None,
        }
    }

    #[test]
    fn the_saved_form_posts_back_the_same_preferences() {
        let saved = prefs();
        let form = PreferenceForm::of(&saved);
        assert!(form.subscribed.contains("invitation#email"));
        assert!(!form.subscribed.contains("reminder#email"));
        let mut body: Vec<(String, String)> = form
            .subscribed
            .iter()
            .map(|v| ("subscribe".to_owned(), v.clone()))
            .collect();
        body.push(("cap_max".into(), "2".into()));
        body.push(("cap_per".into(), "day".into()));
        body.push(("quiet_start".into(), String::new()));
        let posted = serde_urlencoded::to_string(&body).unwrap_or_default();
        let posted = PreferenceForm::parse(posted.as_bytes());
        assert_eq!(posted, form);
        assert_eq!(posted.check(Channel::ALL, &saved), Ok(saved));
    }

    #[test]
    fn channels_not_on_the_page_keep_their_choices() {
        let saved = prefs();
        // A guest with only an email address: nothing ticked for SMS, which is not shown.
        let form = PreferenceForm::parse(b"subscribe=invitation%23email");
        let wanted = form.check(&[Channel::Email], &saved).unwrap_or_default();
        assert!(wanted.opt_outs.contains(&OptOut {
            channel: Channel::Sms,
            category: None
        }));
        assert!(wanted.allows(TemplateCategory::Invitation, Channel::Email));
        assert!(!wanted.allows(TemplateCategory::Reminder, Channel::Email));
        assert!(wanted.allows(TemplateCategory::Reminder, Channel::Whatsapp));
    }

    #[test]
    fn every_problem_is_reported_and_the_input_kept() {
        let form = PreferenceForm::parse(
            b"cap_max=many&cap_per=fortnight&quiet_start=22%3A00&quiet_end=&time_zone=Mars%2FBase",
        );
        assert_eq!(form.cap_max, "many");
        assert_eq!(form.time_zone, "Mars/Base");
        let errors = form.check(Channel::ALL, &prefs()).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["cap_max", "cap_per", "quiet_end", "time_zone"],
            "{errors:?}"
        );
        let same = PreferenceForm::parse(b"quiet_start=22%3A00&quiet_end=22%3A00");
        let errors = same.check(Channel::ALL, &prefs()).err().unwrap_or_default();
        let messages: Vec<&str> = errors.iter().map(|e| e.message).collect();
        assert_eq!(messages, ["error-quiet-same", "error-time-zone-missing"]);
        let fine = PreferenceForm::parse(
            b"quiet_start=22%3A00&quiet_end=07%3A00&time_zone=Europe%2FParis&cap_max=0",
        );
        let errors = fine.check(Channel::ALL, &prefs()).err().unwrap_or_default();
        assert_eq!(errors, [FieldError::new("cap_max", "error-cap-max")]);
    }
}
