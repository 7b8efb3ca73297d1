//! A guest's RSVP: the answer as stored on the guest, the answer as given, and its checks
//! against the event's form and deadline.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::form::{MAX_TEXT_ANSWER, Question, QuestionKind, RsvpForm, label_for};
use crate::domain::{RsvpSource, RsvpState, RsvpStatus};
use crate::providers::FieldIssue;

/// An answer to one question: an option's id (single choice), option ids (multiple choice) or
/// a text (short text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AnswerValue {
    Text(String),
    Choices(Vec<String>),
}

impl AnswerValue {
    /// The answer as one line of text (choices joined by `; `).
    pub fn joined(&self) -> String {
        match self {
            AnswerValue::Text(t) => t.clone(),
            AnswerValue::Choices(c) => c.join("; "),
        }
    }

    /// The answer to `question` as a guest reads it: options by their label in `language`
    /// (else `fallback`'s), joined by `; `; a text as given.
    pub fn labelled(&self, question: Option<&Question>, language: &str, fallback: &str) -> String {
        let Some(q) = question.filter(|q| !q.options.is_empty()) else {
            return self.joined();
        };
        let label = |id: &str| {
            q.option(id).map_or(id.to_owned(), |o| {
                label_for(&o.label, language, fallback).to_owned()
            })
        };
        match self {
            AnswerValue::Text(id) => label(id),
            AnswerValue::Choices(ids) => ids
                .iter()
                .map(|id| label(id))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// A guest's RSVP, as stored on the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rsvp {
    pub status: RsvpStatus,
    /// The guest and the others they bring: 1 or more when accepted or maybe, 0 when declined.
    pub party_size: u32,
    /// Question id → answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, AnswerValue>)]
    pub answers: BTreeMap<String, AnswerValue>,
    /// When it was given.
    pub at: DateTime<Utc>,
    pub source: RsvpSource,
    /// How many times it was given with a change (1 for the first answer); the confirmation
    /// of each change is its own message.
    pub version: u32,
}

impl Rsvp {
    /// Whether `answer` says the same as this RSVP (then nothing changes and nothing is sent).
    pub fn same_as(&self, answer: &CheckedAnswer) -> bool {
        self.status == answer.status
            && self.party_size == answer.party_size
            && self.answers == answer.answers
    }

    /// What this RSVP becomes with `answer`.
    pub fn next(
        current: Option<&Rsvp>,
        answer: CheckedAnswer,
        source: RsvpSource,
        at: DateTime<Utc>,
    ) -> Rsvp {
        Rsvp {
            status: answer.status,
            party_size: answer.party_size,
            answers: answer.answers,
            at,
            source,
            version: current.map_or(1, |r| r.version + 1),
        }
    }
}

/// Where a guest stands: their answer, or no response.
pub fn state_of(rsvp: Option<&Rsvp>) -> RsvpState {
    match rsvp.map(|r| r.status) {
        None => RsvpState::NoResponse,
        Some(RsvpStatus::Accepted) => RsvpState::Accepted,
        Some(RsvpStatus::Declined) => RsvpState::Declined,
        Some(RsvpStatus::Maybe) => RsvpState::Maybe,
    }
}

/// Completes the answers a message shows (`guest.rsvp.answers`, question id → the answer as
/// one text, options by id joined by `; `): options by their label in `language` (else
/// `fallback`'s), and every question of the form there, empty when not answered, so that a
/// template may write `{{ guest.rsvp.answers.menu }}` for a guest who skipped it.
pub fn label_answer_vars(
    form: &RsvpForm,
    answers: &mut BTreeMap<String, String>,
    language: &str,
    fallback: &str,
) {
    for question in &form.fields.questions {
        let text = answers.entry(question.id.clone()).or_default();
        if question.options.is_empty() || text.is_empty() {
            continue;
        }
        *text = text
            .split("; ")
            .map(|id| {
                question
                    .option(id)
                    .map_or(id, |o| label_for(&o.label, language, fallback))
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
}

/// An answer as a guest (or the tenant) gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpIn {
    pub status: RsvpStatus,
    /// The guest and the others they bring: 1 to `1 + max_plus_ones` of the form when
    /// accepted or maybe (default 1); absent or 0 when declined.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 21)]
    pub party_size: Option<u32>,
    /// Question id → answer: an option id (single choice), a list of option ids (multiple
    /// choice), a text of at most 500 characters (short text). Required questions must be
    /// answered when accepting or answering maybe.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, AnswerValue>)]
    pub answers: BTreeMap<String, AnswerValue>,
}

/// An answer that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAnswer {
    pub status: RsvpStatus,
    pub party_size: u32,
    pub answers: BTreeMap<String, AnswerValue>,
}

/// Checks an answer against the form: every problem, each naming its field (`party_size`,
/// `answers.menu`).
pub fn check_answer(form: &RsvpForm, answer: RsvpIn) -> Result<CheckedAnswer, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let coming = answer.status != RsvpStatus::Declined;
    let party_size = match (coming, answer.party_size) {
        (false, None | Some(0)) => 0,
        (false, Some(_)) => {
            issues.push(FieldIssue::new(
                "party_size",
                "a guest who declines brings no one: leave it out or give 0",
            ));
            0
        }
        (true, None) => 1,
        (true, Some(n)) => {
            if !(1..=form.max_party()).contains(&n) {
                issues.push(FieldIssue::new(
                    "party_size",
                    match form.fields.max_plus_ones {
                        0 => "1: this event takes no additional guests".to_owned(),
                        m => format!("1 to {}: you and up to {m} others", m + 1),
                    },
                ));
            }
            n
        }
    };
    let mut answers = BTreeMap::new();
    for (id, value) in answer.answers {
        let field = format!("answers.{id}");
        let Some(question) = form.question(&id) else {
            issues.push(FieldIssue::new(field, "the form has no such question"));
            continue;
        };
        let checked = match (question.kind, value) {
            (QuestionKind::ShortText, AnswerValue::Text(text)) => {
                let text = text.trim().to_owned();
                if text.chars().count() > MAX_TEXT_ANSWER
                    || text
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t')
                {
                    issues.push(FieldIssue::new(
                        field,
                        format!("at most {MAX_TEXT_ANSWER} characters, no control characters"),
                    ));
                    continue;
                }
                (!text.is_empty()).then_some(AnswerValue::Text(text))
            }
            (QuestionKind::SingleChoice, AnswerValue::Text(choice)) => {
                if choice.is_empty() {
                    None
                } else if question.option(&choice).is_none() {
                    issues.push(FieldIssue::new(field, offered(question)));
                    continue;
                } else {
                    Some(AnswerValue::Text(choice))
                }
            }
            (QuestionKind::MultipleChoice, AnswerValue::Choices(choices)) => {
                let unique: BTreeSet<&String> = choices.iter().collect();
                if unique.len() != choices.len()
                    || choices.iter().any(|c| question.option(c).is_none())
                {
                    issues.push(FieldIssue::new(
                        field,
                        format!("{} (each once)", offered(question)),
                    ));
                    continue;
                }
                // Kept in the form's order.
                let ordered: Vec<String> = question
                    .options
                    .iter()
                    .filter(|o| unique.contains(&o.id))
                    .map(|o| o.id.clone())
                    .collect();
                (!ordered.is_empty()).then_some(AnswerValue::Choices(ordered))
            }
            (kind, _) => {
                issues.push(FieldIssue::new(
                    field,
                    match kind {
                        QuestionKind::MultipleChoice => "a list of option ids",
                        _ => "a text",
                    },
                ));
                continue;
            }
        };
        if let Some(value) = checked {
            answers.insert(id, value);
        }
    }
    if coming {
        for q in form.fields.questions.iter().filter(|q| q.required) {
            let given = answers.contains_key(&q.id);
            let refused = issues
                .iter()
                .any(|i| i.field == format!("answers.{}", q.id));
            if !given && !refused {
                issues.push(FieldIssue::new(
                    format!("answers.{}", q.id),
                    "required: answer it to accept or say maybe",
                ));
            }
        }
    }
    if issues.is_empty() {
        Ok(CheckedAnswer {
            status: answer.status,
            party_size,
            answers,
        })
    } else {
        Err(issues)
    }
}

fn offered(question: &super::form::Question) -> String {
    let ids: Vec<&str> = question.options.iter().map(|o| o.id.as_str()).collect();
    format!("one of the options offered: {}", ids.join(", "))
}

/// Until when guests may answer: the form's deadline in the event's zone, else the event's
/// start. A local deadline the clocks skip is taken as the first instant after the gap.
pub fn answers_close(
    form: &RsvpForm,
    starts_at: NaiveDateTime,
    zone: chrono_tz::Tz,
) -> DateTime<Utc> {
    let local = form.fields.deadline.unwrap_or(starts_at);
    crate::journeys::to_instant(local, zone).utc
}

#[cfg(test)]
mod tests {
    use super::super::form::{Question, QuestionOption, RsvpFormIn};
    use super::*;

    fn form() -> RsvpForm {
        let label = |t: &str| BTreeMap::from([("en".to_owned(), t.to_owned())]);
        let option = |id: &str| QuestionOption {
            id: id.into(),
            label: label(id),
        };
        RsvpForm {
            fields: RsvpFormIn {
                deadline: None,
                max_plus_ones: 2,
                questions: vec![
                    Question {
                        id: "menu".into(),
                        kind: QuestionKind::SingleChoice,
                        required: true,
                        label: label("Menu"),
                        options: vec![option("meat"), option("fish")],
                    },
                    Question {
                        id: "sessions".into(),
                        kind: QuestionKind::MultipleChoice,
                        required: false,
                        label: label("Sessions"),
                        options: vec![option("am"), option("pm")],
                    },
                    Question {
                        id: "diet".into(),
                        kind: QuestionKind::ShortText,
                        required: false,
                        label: label("Diet"),
                        options: vec![],
                    },
                ],
            },
            version: 1,
            updated_at: None,
        }
    }

    fn answer(status: RsvpStatus, party: Option<u32>, answers: &[(&str, AnswerValue)]) -> RsvpIn {
        RsvpIn {
            status,
            party_size: party,
            answers: answers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    fn text(t: &str) -> AnswerValue {
        AnswerValue::Text(t.into())
    }

    #[test]
    fn an_acceptance_takes_its_party_and_answers() {
        let a = check_answer(
            &form(),
            answer(
                RsvpStatus::Accepted,
                Some(3),
                &[
                    ("menu", text("fish")),
                    (
                        "sessions",
                        AnswerValue::Choices(vec!["pm".into(), "am".into()]),
                    ),
                    ("diet", text("  none ")),
                ],
            ),
        )
        .unwrap();
        assert_eq!(a.party_size, 3);
        assert_eq!(
            a.answers["sessions"],
            AnswerValue::Choices(vec!["am".into(), "pm".into()])
        );
        assert_eq!(a.answers["diet"], text("none"));
    }

    #[test]
    fn a_decline_needs_no_answers_and_brings_no_one() {
        let a = check_answer(&form(), answer(RsvpStatus::Declined, None, &[])).unwrap();
        assert_eq!((a.party_size, a.answers.len()), (0, 0));
        let e = check_answer(&form(), answer(RsvpStatus::Declined, Some(2), &[])).unwrap_err();
        assert_eq!(e[0].field, "party_size");
    }

    #[test]
    fn bad_answers_name_their_fields() {
        let issues = check_answer(
            &form(),
            answer(
                RsvpStatus::Maybe,
                Some(4),
                &[
                    (
                        "sessions",
                        AnswerValue::Choices(vec!["am".into(), "am".into()]),
                    ),
                    ("diet", AnswerValue::Choices(vec![])),
                    ("nope", text("x")),
                ],
            ),
        )
        .unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "party_size",
                "answers.diet",
                "answers.nope",
                "answers.sessions",
                "answers.menu"
            ]
        );
        assert!(issues[0].message.contains("1 to 3"));
        let wrong = check_answer(
            &form(),
            answer(RsvpStatus::Accepted, None, &[("menu", text("veal"))]),
        )
        .unwrap_err();
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].message.contains("meat, fish"));
    }

    #[test]
    fn versions_count_changes() {
        let first = check_answer(
            &form(),
            answer(RsvpStatus::Accepted, None, &[("menu", text("meat"))]),
        )
        .unwrap();
        let r1 = Rsvp::next(None, first.clone(), RsvpSource::Link, Utc::now());
        assert!(r1.same_as(&first));
        let r2 = Rsvp::next(
            Some(&r1),
            check_answer(&form(), answer(RsvpStatus::Declined, None, &[])).unwrap(),
            RsvpSource::Link,
            Utc::now(),
        );
        assert_eq!((r1.version, r2.version), (1, 2));
        assert_eq!(state_of(Some(&r2)), RsvpState::Declined);
        assert_eq!(state_of(None), RsvpState::NoResponse);
    }

    #[test]
    fn message_answers_are_labelled_and_complete() {
        let mut form = form();
        for option in &mut form.fields.questions[1].options {
            option
                .label
                .insert("fr".into(), format!("séance {}", option.id));
        }
        let mut answers = BTreeMap::from([("sessions".to_owned(), "am; pm".to_owned())]);
        label_answer_vars(&form, &mut answers, "fr-CA", "en");
        assert_eq!(answers["sessions"], "séance am; séance pm");
        assert_eq!(
            answers["menu"], "",
            "a question not answered is there, empty"
        );
        assert_eq!(answers["diet"], "");
        // Labelling again changes nothing.
        let once = answers.clone();
        label_answer_vars(&form, &mut answers, "fr-CA", "en");
        assert_eq!(answers, once);
    }
}
