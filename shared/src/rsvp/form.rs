//! An event's RSVP form: the deadline, how many others a guest may bring, and up to ten
//! questions of the event's own, each labelled in the event's languages.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Locale;
use crate::providers::FieldIssue;

/// The most questions a form may ask.
pub const MAX_QUESTIONS: usize = 10;
/// The most options a choice question may offer.
pub const MAX_OPTIONS: usize = 20;
/// The most others a guest may be allowed to bring.
pub const MAX_PLUS_ONES: u32 = 20;
/// The most languages one label may be given in.
pub const MAX_LANGUAGES: usize = 12;
/// The longest label, in characters.
pub const MAX_LABEL: usize = 300;
/// The longest short-text answer, in characters.
pub const MAX_TEXT_ANSWER: usize = 500;
/// The pattern of question and option ids.
pub const ID_PATTERN: &str = "^[a-z0-9_]{1,32}$";

/// A text in several languages: language tag (`en`, `fr`, `pt-BR`) → text.
pub type Labels = BTreeMap<String, String>;

/// What kind of answer a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One of the options (its id).
    SingleChoice,
    /// Any of the options (their ids).
    MultipleChoice,
    /// Free text, at most 500 characters.
    ShortText,
}

/// One option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionOption {
    /// 1 to 32 of `a-z`, `0-9` and `_`, unique within the question; answers name it.
    #[schema(pattern = "^[a-z0-9_]{1,32}$")]
    pub id: String,
    /// The option's text by language (1 to 12 languages, each at most 300 characters).
    #[schema(value_type = BTreeMap<String, String>)]
    pub label: Labels,
}

/// One question of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// 1 to 32 of `a-z`, `0-9` and `_`, unique within the form; answers are keyed by it.
    #[schema(pattern = "^[a-z0-9_]{1,32}$")]
    pub id: String,
    pub kind: QuestionKind,
    /// Required of guests who accept or may come (a guest who declines answers nothing).
    #[serde(default)]
    pub required: bool,
    /// The question's text by language (1 to 12 languages, each at most 300 characters).
    #[schema(value_type = BTreeMap<String, String>)]
    pub label: Labels,
    /// Choice questions: 2 to 20 options; short text: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 20)]
    pub options: Vec<QuestionOption>,
}

impl Question {
    pub fn option(&self, id: &str) -> Option<&QuestionOption> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// An event's RSVP form as the tenant sets it. (Not a request body of its own: the API's
/// `RsvpFormPut` refuses unknown fields; this one is flattened into [`RsvpForm`], whose
/// schema must allow the form's other fields next to these.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RsvpFormIn {
    /// The last moment to answer, local to the event's time zone (`2027-04-15T23:59:00`).
    /// Absent: guests may answer until the event starts.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2027-04-15T23:59:00")]
    pub deadline: Option<NaiveDateTime>,
    /// How many others a guest who accepts may bring (0 to 20; 0: none). A guest's party
    /// size is then 1 to `1 + max_plus_ones`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 20)]
    pub max_plus_ones: u32,
    /// At most 10.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub questions: Vec<Question>,
}

/// An event's RSVP form as stored (on the event's item) and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RsvpForm {
    #[serde(flatten)]
    pub fields: RsvpFormIn,
    /// 0 until the form is first set; each change adds one.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl RsvpForm {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.fields.questions.iter().find(|q| q.id == id)
    }

    /// The largest party a guest may answer with.
    pub fn max_party(&self) -> u32 {
        1 + self.fields.max_plus_ones
    }
}

fn is_id(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks a label's languages and texts; the label's languages normalised (`EN-gb` → `en-GB`).
fn check_labels(path: &str, labels: &Labels, issues: &mut Vec<FieldIssue>) -> Labels {
    if labels.is_empty() || labels.len() > MAX_LANGUAGES {
        issues.push(FieldIssue::new(
            path,
            format!("give the text in 1 to {MAX_LANGUAGES} languages"),
        ));
    }
    let mut out = Labels::new();
    for (language, text) in labels {
        let Ok(tag) = Locale::parse(language) else {
            issues.push(FieldIssue::new(
                format!("{path}.{language}"),
                "not a language tag such as en, fr or pt-BR",
            ));
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_LABEL || text.chars().any(char::is_control)
        {
            issues.push(FieldIssue::new(
                format!("{path}.{language}"),
                format!("1 to {MAX_LABEL} characters, no control characters"),
            ));
        }
        out.insert(tag.as_str().to_owned(), text.to_owned());
    }
    out
}

/// Checks a form as given; the form normalised (trimmed labels, language tags) or every
/// problem, each naming its field (`questions[2].options[0].id`).
pub fn check_form(form: RsvpFormIn) -> Result<RsvpFormIn, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    if form.max_plus_ones > MAX_PLUS_ONES {
        issues.push(FieldIssue::new(
            "max_plus_ones",
            format!("0 to {MAX_PLUS_ONES}"),
        ));
    }
    if form.questions.len() > MAX_QUESTIONS {
        issues.push(FieldIssue::new(
            "questions",
            format!("at most {MAX_QUESTIONS} questions"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut questions = Vec::with_capacity(form.questions.len());
    for (i, q) in form.questions.into_iter().enumerate() {
        let at = format!("questions[{i}]");
        if !is_id(&q.id) {
            issues.push(FieldIssue::new(
                format!("{at}.id"),
                "1 to 32 of a-z, 0-9 and _",
            ));
        } else if !seen.insert(q.id.clone()) {
            issues.push(FieldIssue::new(
                format!("{at}.id"),
                format!("another question is '{}'", q.id),
            ));
        }
        let label = check_labels(&format!("{at}.label"), &q.label, &mut issues);
        let choice = q.kind != QuestionKind::ShortText;
        if choice && !(2..=MAX_OPTIONS).contains(&q.options.len()) {
            issues.push(FieldIssue::new(
                format!("{at}.options"),
                format!("a choice question offers 2 to {MAX_OPTIONS} options"),
            ));
        }
        if !choice && !q.options.is_empty() {
            issues.push(FieldIssue::new(
                format!("{at}.options"),
                "a short_text question has no options",
            ));
        }
        let mut option_ids = BTreeSet::new();
        let mut options = Vec::with_capacity(q.options.len());
        for (j, o) in q.options.into_iter().enumerate() {
            let path = format!("{at}.options[{j}]");
            if !is_id(&o.id) {
                issues.push(FieldIssue::new(
                    format!("{path}.id"),
                    "1 to 32 of a-z, 0-9 and _",
                ));
            } else if !option_ids.insert(o.id.clone()) {
                issues.push(FieldIssue::new(
                    format!("{path}.id"),
                    format!("another option is '{}'", o.id),
                ));
            }
            let label = check_labels(&format!("{path}.label"), &o.label, &mut issues);
            options.push(QuestionOption { id: o.id, label });
        }
        questions.push(Question {
            label,
            options,
            ..q
        });
    }
    if issues.is_empty() {
        Ok(RsvpFormIn { questions, ..form })
    } else {
        Err(issues)
    }
}

/// The text of `labels` for `language` (`fr-CA`): that tag, else its language (`fr`), else
/// the same language in another region, else `fallback`'s, else the first given.
pub fn label_for<'a>(labels: &'a Labels, language: &str, fallback: &str) -> &'a str {
    let pick = |wanted: &str| {
        let primary = wanted.split('-').next().unwrap_or(wanted);
        labels
            .get(wanted)
            .or_else(|| labels.get(primary))
            .or_else(|| {
                labels
                    .iter()
                    .find(|(k, _)| k.split('-').next() == Some(primary))
                    .map(|(_, v)| v)
            })
    };
    pick(language)
        .or_else(|| pick(fallback))
        .or_else(|| labels.values().next())
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn choice(id: &str, options: &[&str]) -> Question {
        Question {
            id: id.into(),
            kind: QuestionKind::SingleChoice,
            required: true,
            label: labels(&[("en", "Menu"), ("fr", "Menu")]),
            options: options
                .iter()
                .map(|o| QuestionOption {
                    id: (*o).into(),
                    label: labels(&[("en", o)]),
                })
                .collect(),
        }
    }

    #[test]
    fn a_good_form_is_normalised() {
        let form = check_form(RsvpFormIn {
            deadline: None,
            max_plus_ones: 2,
            questions: vec![Question {
                label: labels(&[("EN_gb", "  Menu ")]),
                ..choice("menu", &["meat", "fish"])
            }],
        })
        .unwrap();
        assert_eq!(form.questions[0].label, labels(&[("en-GB", "Menu")]));
    }

    #[test]
    fn every_problem_names_its_field() {
        let issues = check_form(RsvpFormIn {
            deadline: None,
            max_plus_ones: 21,
            questions: vec![
                choice("menu", &["meat"]),
                Question {
                    kind: QuestionKind::ShortText,
                    label: labels(&[("klingon!", "x")]),
                    ..choice("menu", &["a", "a"])
                },
            ],
        })
        .unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "max_plus_ones",
                "questions[0].options",
                "questions[1].id",
                "questions[1].label.klingon!",
                "questions[1].options",
                "questions[1].options[1].id",
            ]
        );
        let many = RsvpFormIn {
            questions: (0..11)
                .map(|i| choice(&format!("q{i}"), &["a", "b"]))
                .collect(),
            ..RsvpFormIn::default()
        };
        assert_eq!(check_form(many).unwrap_err()[0].field, "questions");
    }

    #[test]
    fn labels_fall_back_by_language_then_event_then_first() {
        let l = labels(&[("de", "Menü"), ("en-GB", "Menu"), ("fr", "Le menu")]);
        assert_eq!(label_for(&l, "fr-CA", "en"), "Le menu");
        assert_eq!(label_for(&l, "en-US", "de"), "Menu");
        assert_eq!(label_for(&l, "it", "de"), "Menü");
        assert_eq!(label_for(&l, "it", "ja"), "Menü");
    }
}
