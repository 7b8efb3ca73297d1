//! An event's RSVP figures, counted over its guests: how many answered what, who is expected,
//! the answers to each question, answers day by day, and the same by guest tag.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::answer::{AnswerValue, state_of};
use super::form::{QuestionKind, RsvpForm, label_for};
use crate::domain::{RsvpState, RsvpStatus};
use crate::guests::Guest;

/// Guests by where they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateCounts {
    pub accepted: u64,
    pub declined: u64,
    pub maybe: u64,
    pub no_response: u64,
}

impl StateCounts {
    fn add(&mut self, state: RsvpState) {
        *match state {
            RsvpState::Accepted => &mut self.accepted,
            RsvpState::Declined => &mut self.declined,
            RsvpState::Maybe => &mut self.maybe,
            RsvpState::NoResponse => &mut self.no_response,
        } += 1;
    }
}

/// One option of a choice question and how many chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptionCount {
    pub id: String,
    /// In the event's default language.
    pub label: String,
    pub count: u64,
}

/// The answers to one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct QuestionFigures {
    pub id: String,
    pub kind: QuestionKind,
    /// In the event's default language.
    pub label: String,
    /// Guests who answered it.
    pub answered: u64,
    /// Choice questions: every option, in the form's order (short-text answers are in the
    /// guest export).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionCount>,
}

/// The answers given on one day (in the event's time zone), by the answer they stand at now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayFigures {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub accepted: u64,
    pub declined: u64,
    pub maybe: u64,
}

/// The figures of the guests with one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TagFigures {
    pub tag: String,
    pub guests: u64,
    pub counts: StateCounts,
    pub expected_attendance: u64,
}

/// An event's RSVP figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RsvpFigures {
    pub guests: u64,
    pub counts: StateCounts,
    /// The people expected: the party sizes of the guests who accepted, added up.
    pub expected_attendance: u64,
    /// The party sizes of the guests who answered maybe, added up.
    pub maybe_attendance: u64,
    pub questions: Vec<QuestionFigures>,
    /// Days with answers, oldest first; each guest counts once, on the day of their latest
    /// answer.
    pub over_time: Vec<DayFigures>,
    /// Every tag of the event's guests, by name.
    pub by_tag: Vec<TagFigures>,
}

/// Adds guests up a page at a time.
pub struct Tally<'a> {
    form: &'a RsvpForm,
    zone: chrono_tz::Tz,
    figures: RsvpFigures,
    options: BTreeMap<(String, String), u64>,
    answered: BTreeMap<String, u64>,
    days: BTreeMap<NaiveDate, [u64; 3]>,
    tags: BTreeMap<String, TagFigures>,
}

impl<'a> Tally<'a> {
    pub fn new(form: &'a RsvpForm, zone: chrono_tz::Tz) -> Self {
        Self {
            form,
            zone,
            figures: RsvpFigures::default(),
            options: BTreeMap::new(),
            answered: BTreeMap::new(),
            days: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, guest: &Guest) {
        let state = state_of(guest.rsvp.as_ref());
        let attending = match &guest.rsvp {
            Some(r) if r.status == RsvpStatus::Accepted => u64::from(r.party_size),
            _ => 0,
        };
        self.figures.guests += 1;
        self.figures.counts.add(state);
        self.figures.expected_attendance += attending;
        for tag in &guest.tags {
            let t = self.tags.entry(tag.clone()).or_insert_with(|| TagFigures {
                tag: tag.clone(),
                guests: 0,
                counts: StateCounts::default(),
                expected_attendance: 0,
            });
            t.guests += 1;
            t.counts.add(state);
            t.expected_attendance += attending;
        }
        let Some(rsvp) = &guest.rsvp else {
            return;
        };
        if rsvp.status == RsvpStatus::Maybe {
            self.figures.maybe_attendance += u64::from(rsvp.party_size);
        }
        let day = rsvp.at.with_timezone(&self.zone).date_naive();
        let slot = match rsvp.status {
            RsvpStatus::Accepted => 0,
            RsvpStatus::Declined => 1,
            RsvpStatus::Maybe => 2,
        };
        self.days.entry(day).or_default()[slot] += 1;
        for (question, value) in &rsvp.answers {
            *self.answered.entry(question.clone()).or_default() += 1;
            let chosen: &[String] = match value {
                AnswerValue::Choices(c) => c,
                AnswerValue::Text(t) => std::slice::from_ref(t),
            };
            for option in chosen {
                *self
                    .options
                    .entry((question.clone(), option.clone()))
                    .or_default() += 1;
            }
        }
    }

    /// The figures, with labels in `language`.
    pub fn finish(mut self, language: &str) -> RsvpFigures {
        self.figures.questions = self
            .form
            .fields
            .questions
            .iter()
            .map(|q| QuestionFigures {
                id: q.id.clone(),
                kind: q.kind,
                label: label_for(&q.label, language, language).to_owned(),
                answered: self.answered.get(&q.id).copied().unwrap_or(0),
                options: q
                    .options
                    .iter()
                    .map(|o| OptionCount {
                        id: o.id.clone(),
                        label: label_for(&o.label, language, language).to_owned(),
                        count: self
                            .options
                            .get(&(q.id.clone(), o.id.clone()))
                            .copied()
                            .unwrap_or(0),
                    })
                    .collect(),
            })
            .collect();
        self.figures.over_time = self
            .days
            .into_iter()
            .map(|(date, [accepted, declined, maybe])| DayFigures {
                date,
                accepted,
                declined,
                maybe,
            })
            .collect();
        self.figures.by_tag = self.tags.into_values().collect();
        self.figures
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone as _, Utc};

    use super::*;
    use crate::domain::RsvpSource;
    use crate::rsvp::answer::Rsvp;
    use crate::rsvp::export::tests::guest;
    use crate::rsvp::form::{Question, QuestionOption, RsvpFormIn};

    #[test]
    fn counts_attendance_answers_days_and_tags() {
        let label = |t: &str| BTreeMap::from([("en".to_owned(), t.to_owned())]);
        let form = RsvpForm {
            fields: RsvpFormIn {
                questions: vec![Question {
                    id: "menu".into(),
                    kind: QuestionKind::SingleChoice,
                    required: false,
                    label: label("Menu"),
                    options: vec![
                        QuestionOption {
                            id: "meat".into(),
                            label: label("Meat"),
                        },
                        QuestionOption {
                            id: "fish".into(),
                            label: label("Fish"),
                        },
                    ],
                }],
                ..RsvpFormIn::default()
            },
            version: 1,
            updated_at: None,
        };
        // 23:30 UTC on 1 March is already 2 March in Paris.
        let late = Utc.with_ymd_and_hms(2027, 3, 1, 23, 30, 0).unwrap();
        let rsvp = |status, party, menu: Option<&str>| {
            Some(Rsvp {
                status,
                party_size: party,
                answers: menu
                    .map(|m| BTreeMap::from([("menu".to_owned(), AnswerValue::Text(m.into()))]))
                    .unwrap_or_default(),
                at: late,
                source: RsvpSource::Link,
                version: 1,
            })
        };
        let mut tally = Tally::new(&form, chrono_tz::Europe::Paris);
        for g in [
            guest("a", rsvp(RsvpStatus::Accepted, 3, Some("fish"))),
            guest("b", rsvp(RsvpStatus::Accepted, 1, Some("fish"))),
            guest("c", rsvp(RsvpStatus::Maybe, 2, Some("meat"))),
            guest("d", rsvp(RsvpStatus::Declined, 0, None)),
            guest("e", None),
        ] {
            tally.add(&g);
        }
        let f = tally.finish("en");
        assert_eq!(
            f.counts,
            StateCounts {
                accepted: 2,
                declined: 1,
                maybe: 1,
                no_response: 1
            }
        );
        assert_eq!((f.expected_attendance, f.maybe_attendance), (4, 2));
        assert_eq!(f.questions[0].answered, 3);
        let counts: Vec<(&str, u64)> = f.questions[0]
            .options
            .iter()
            .map(|o| (o.label.as_str(), o.count))
            .collect();
        assert_eq!(counts, [("Meat", 1), ("Fish", 2)]);
        assert_eq!(f.over_time.len(), 1);
        assert_eq!(f.over_time[0].date.to_string(), "2027-03-02");
        assert_eq!(
            (
                f.over_time[0].accepted,
                f.over_time[0].declined,
                f.over_time[0].maybe
            ),
            (2, 1, 1)
        );
        assert_eq!(f.by_tag.len(), 1);
        assert_eq!(
            (f.by_tag[0].guests, f.by_tag[0].expected_attendance),
            (5, 4)
        );
    }
}
