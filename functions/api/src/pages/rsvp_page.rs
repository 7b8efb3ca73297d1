//! The RSVP page: what the guest typed (kept as typed, so a page with errors shows it again),
//! the answer it gives or every problem with it in the page's language, and what the page
//! shows (`guest/rsvp.html`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use herald::domain::RsvpStatus;
use herald::guests::Guest;
use herald::pages::{Arg, Lang, translate};
use herald::render::dates::format_datetime;
use herald::rsvp::form::MAX_TEXT_ANSWER;
use herald::rsvp::{AnswerValue, Question, QuestionKind, Rsvp, RsvpForm, RsvpIn, check_answer};
use herald::store::{Event, EventStatus};
use serde::Serialize;

/// The answers a guest may give, in the page's order.
const STATUSES: [(&str, RsvpStatus); 3] = [
    ("accepted", RsvpStatus::Accepted),
    ("declined", RsvpStatus::Declined),
    ("maybe", RsvpStatus::Maybe),
];

/// Values a choice question keeps from a posted form (more than any form offers).
const MAX_VALUES: usize = 50;

/// The form's fields as typed (or as saved, for a page that shows the saved answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RsvpTyped {
    pub status: String,
    pub party_size: String,
    /// Question id → the values given (an option id each, or the text).
    pub answers: BTreeMap<String, Vec<String>>,
}

/// A problem with the form: the id of the field the error summary links to, the question
/// (or field) it belongs to, and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageError {
    pub field: String,
    #[serde(skip)]
    pub of: String,
    pub message: String,
}

impl RsvpTyped {
    /// The form showing a saved answer.
    pub fn of(rsvp: Option<&Rsvp>) -> Self {
        let Some(rsvp) = rsvp else {
            return Self::default();
        };
        let answers = rsvp
            .answers
            .iter()
            .map(|(id, value)| {
                let values = match value {
                    AnswerValue::Text(t) => vec![t.clone()],
                    AnswerValue::Choices(c) => c.clone(),
                };
                (id.clone(), values)
            })
            .collect();
        Self {
            status: rsvp.status.to_string(),
            party_size: match rsvp.party_size {
                0 => String::new(),
                n => n.to_string(),
            },
            answers,
        }
    }

    /// The form a browser posted (`application/x-www-form-urlencoded`): `status`,
    /// `party_size` and `answer-{question id}` (repeated for a multiple choice).
    pub fn parse(body: &[u8]) -> Self {
        let mut typed = Self::default();
        for (name, value) in form_urlencoded::parse(body) {
            // One character more than a text answer may have, so a longer one is refused
            // rather than cut.
            let value: String = value.trim().chars().take(MAX_TEXT_ANSWER + 1).collect();
            match name.as_ref() {
                "status" => typed.status = value,
                "party_size" => typed.party_size = value,
                other => {
                    let Some(id) = other.strip_prefix("answer-") else {
                        continue;
                    };
                    let values = typed.answers.entry(id.to_owned()).or_default();
                    if !value.is_empty() && values.len() < MAX_VALUES {
                        values.push(value);
                    }
                }
            }
        }
        typed
    }

    fn given(&self, question: &str) -> bool {
        self.answers.get(question).is_some_and(|v| !v.is_empty())
    }

    /// The answer the form gives, or every problem with it (in the page's order), in `lang`.
    pub fn answer(
        &self,
        form: &RsvpForm,
        lang: Lang,
        fallback: &str,
    ) -> Result<RsvpIn, Vec<PageError>> {
        let Some(status) = STATUSES
            .iter()
            .find(|(name, _)| *name == self.status)
            .map(|(_, s)| *s)
        else {
            return Err(vec![PageError {
                field: "status-accepted".into(),
                of: "status".into(),
                message: translate(lang, "rsvp-error-status", &[]),
            }]);
        };
        let coming = status != RsvpStatus::Declined;
        let party_size = match (coming, self.party_size.as_str()) {
            (false, _) | (true, "") => None,
            // Not a number: 0, which the form's checks refuse with the range.
            (true, typed) => Some(typed.parse::<u32>().unwrap_or(0)),
        };
        let mut answers = BTreeMap::new();
        for question in &form.fields.questions {
            let Some(values) = self.answers.get(&question.id).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = match question.kind {
                QuestionKind::MultipleChoice => AnswerValue::Choices(values.clone()),
                QuestionKind::SingleChoice | QuestionKind::ShortText => {
                    AnswerValue::Text(values[0].clone())
                }
            };
            answers.insert(question.id.clone(), value);
        }
        let answer = RsvpIn {
            status,
            party_size,
            answers,
        };
        check_answer(form, answer.clone())
            .map(|_| answer)
            .map_err(|issues| {
                issues
                    .iter()
                    .map(|issue| self.error(form, &issue.field, lang, fallback))
                    .collect()
            })
    }

    fn error(&self, form: &RsvpForm, field: &str, lang: Lang, fallback: &str) -> PageError {
        let question = field
            .strip_prefix("answers.")
            .and_then(|id| form.question(id));
        match question {
            Some(q) => {
                let id = if self.given(&q.id) {
                    "rsvp-error-answer"
                } else {
                    "rsvp-error-required"
                };
                let label = herald::rsvp::label_for(&q.label, lang.as_str(), fallback);
                PageError {
                    field: first_control(q),
                    of: q.id.clone(),
                    message: translate(lang, id, &[("question", label.into())]),
                }
            }
            None => PageError {
                field: "party_size".into(),
                of: "party_size".into(),
                message: translate(
                    lang,
                    "rsvp-error-party",
                    &[("max", form.max_party().into())],
                ),
            },
        }
    }
}

/// The id of a question's first control (what its error links to).
fn first_control(q: &Question) -> String {
    match q.options.first() {
        Some(option) if q.kind != QuestionKind::ShortText => option_id(q, &option.id),
        _ => format!("answer-{}", q.id),
    }
}

fn option_id(q: &Question, option: &str) -> String {
    format!("answer-{}-{option}", q.id)
}

/// An event date and time as the guest reads it, with the event's zone.
fn when(at: NaiveDateTime, lang: Lang, zone: &str) -> String {
    format!("{} ({zone})", format_datetime(at, "long", lang.as_str()))
}

/// Until when the event takes answers, in words.
pub fn deadline(event: &Event, lang: Lang) -> String {
    let zone = event.fields.time_zone;
    let local = event.rsvp_closes().with_timezone(&zone.tz()).naive_local();
    when(local, lang, zone.as_str())
}

/// Why the page shows no form: the event was cancelled, or its deadline passed.
pub fn closed(event: &Event, now: DateTime<Utc>) -> Option<&'static str> {
    if event.fields.status == EventStatus::Cancelled {
        Some("cancelled")
    } else if now > event.rsvp_closes() {
        Some("deadline")
    } else {
        None
    }
}

#[derive(Debug, Serialize)]
struct Status {
    heading: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct Line {
    question: String,
    answer: String,
}

#[derive(Debug, Serialize)]
struct Answer {
    status: String,
    people: u32,
    lines: Vec<Line>,
}

#[derive(Debug, Serialize)]
struct Choice {
    value: &'static str,
    checked: bool,
}

#[derive(Debug, Serialize)]
struct Party {
    value: String,
    max: u32,
    others: u32,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct OptionView {
    id: String,
    value: String,
    label: String,
    checked: bool,
}

#[derive(Debug, Serialize)]
struct QuestionView {
    id: String,
    kind: QuestionKind,
    label: String,
    required: bool,
    error: Option<String>,
    value: String,
    options: Vec<OptionView>,
}

/// What `guest/rsvp.html` is rendered with.
#[derive(Debug, Serialize)]
pub struct RsvpPage {
    tenant: String,
    event_name: String,
    when: String,
    whose: String,
    deadline: String,
    action: String,
    status: Option<Status>,
    errors: Vec<PageError>,
    cancelled: bool,
    closed: Option<&'static str>,
    answer: Option<Answer>,
    choices: Vec<Choice>,
    status_error: Option<String>,
    party: Option<Party>,
    questions: Vec<QuestionView>,
}

/// What the page is about and for whom.
pub struct Subject<'a> {
    pub event: &'a Event,
    pub guest: &'a Guest,
    pub tenant: &'a str,
    pub whose: String,
    pub action: String,
}

/// The page: the saved answer, or the form as typed with its errors; `saved` says the answer
/// was just saved.
pub fn page(
    subject: Subject<'_>,
    lang: Lang,
    typed: &RsvpTyped,
    errors: Vec<PageError>,
    saved: bool,
    now: DateTime<Utc>,
) -> RsvpPage {
    let Subject {
        event,
        guest,
        tenant,
        whose,
        action,
    } = subject;
    let form = event.rsvp_form();
    let fallback = event.fields.default_locale.as_str();
    let label = |labels: &herald::rsvp::form::Labels| {
        herald::rsvp::label_for(labels, lang.as_str(), fallback).to_owned()
    };
    let deadline = deadline(event, lang);
    let error_of = |of: &str| {
        errors
            .iter()
            .find(|e| e.of == of)
            .map(|e| e.message.clone())
    };
    let answer = guest.rsvp.as_ref().map(|rsvp| Answer {
        status: rsvp.status.to_string(),
        people: rsvp.party_size,
        lines: form
            .fields
            .questions
            .iter()
            .filter_map(|q| {
                let value = rsvp.answers.get(&q.id)?;
                Some(Line {
                    question: label(&q.label),
                    answer: value.labelled(Some(q), lang.as_str(), fallback),
                })
            })
            .collect(),
    });
    let questions = form
        .fields
        .questions
        .iter()
        .map(|q| {
            let given = typed.answers.get(&q.id).cloned().unwrap_or_default();
            QuestionView {
                id: q.id.clone(),
                kind: q.kind,
                label: label(&q.label),
                required: q.required,
                error: error_of(&q.id),
                value: match q.kind {
                    QuestionKind::ShortText => given.first().cloned().unwrap_or_default(),
                    _ => String::new(),
                },
                options: q
                    .options
                    .iter()
                    .map(|o| OptionView {
                        id: option_id(q, &o.id),
                        value: o.id.clone(),
                        label: label(&o.label),
                        checked: given.contains(&o.id),
                    })
                    .collect(),
            }
        })
        .collect();
    let party = (form.fields.max_plus_ones > 0).then(|| Party {
        value: typed.party_size.clone(),
        max: form.max_party(),
        others: form.fields.max_plus_ones,
        error: error_of("party_size"),
    });
    let status = saved.then(|| Status {
        heading: translate(lang, "rsvp-saved", &[]),
        text: translate(
            lang,
            "rsvp-saved-text",
            &[("deadline", Arg::from(deadline.as_str()))],
        ),
    });
    let zone = event.fields.time_zone.as_str();
    RsvpPage {
        tenant: tenant.to_owned(),
        event_name: event.fields.name.clone(),
        when: when(event.fields.starts_at, lang, zone),
        whose,
        deadline,
        action,
        status,
        status_error: error_of("status"),
        cancelled: event.fields.status == EventStatus::Cancelled,
        closed: closed(event, now),
        answer,
        choices: STATUSES
            .iter()
            .map(|(value, _)| Choice {
                value,
                checked: typed.status == *value,
            })
            .collect(),
        party,
        questions,
        errors,
    }
}
