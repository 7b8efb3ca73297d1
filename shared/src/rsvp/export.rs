//! The guest list with RSVP answers as CSV, for the organiser's spreadsheet.
//!
//! Columns: `guest_id`, the import's columns (`first_name`, `last_name`, `name`, `email`,
//! `phone`, `locale`, `tags` separated by `;`), `rsvp` (accepted, declined, maybe or
//! no_response), `party_size`, `rsvp_at`, `rsvp_source`, one `answer_{question id}` column per
//! question (options by their label in the event's language, several joined by `; `), then
//! the guests' custom fields by name. A text cell a spreadsheet would read as a formula (it
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`.

use std::collections::BTreeSet;

use super::answer::{AnswerValue, state_of};
use super::form::RsvpForm;
use crate::guests::Guest;

/// Writes guests as CSV, a page at a time.
pub struct Export<'a> {
    form: &'a RsvpForm,
    language: String,
    fields: Vec<String>,
    writer: csv::Writer<Vec<u8>>,
}

/// A text cell, safe to open in a spreadsheet.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

impl<'a> Export<'a> {
    /// An export of guests whose custom fields are among `fields`, with labels in `language`.
    pub fn new(form: &'a RsvpForm, language: &str, fields: BTreeSet<String>) -> Self {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = [
            "guest_id",
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "locale",
            "tags",
            "rsvp",
            "party_size",
            "rsvp_at",
            "rsvp_source",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        header.extend(
            form.fields
                .questions
                .iter()
                .map(|q| format!("answer_{}", q.id)),
        );
        header.extend(fields.iter().cloned());
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&header);
        Self {
            form,
            language: language.to_owned(),
            fields: fields.into_iter().collect(),
            writer,
        }
    }

    fn answer(&self, question: &str, value: &AnswerValue) -> String {
        value.labelled(self.form.question(question), &self.language, &self.language)
    }

    pub fn add(&mut self, guest: &Guest) {
        let rsvp = guest.rsvp.as_ref();
        let mut row: Vec<String> = vec![
            guest.id.to_string(),
            cell(&guest.first_name),
            cell(&guest.last_name),
            cell(&guest.name),
            guest
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            guest
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            guest
                .locale
                .as_ref()
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
            cell(&guest.tags.join(";")),
            state_of(rsvp).to_string(),
            rsvp.map(|r| r.party_size.to_string()).unwrap_or_default(),
            rsvp.map(|r| r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            rsvp.map(|r| r.source.to_string()).unwrap_or_default(),
        ];
        for q in &self.form.fields.questions {
            let value = rsvp
                .and_then(|r| r.answers.get(&q.id))
                .map(|v| self.answer(&q.id, v))
                .unwrap_or_default();
            row.push(cell(&value));
        }
        for name in &self.fields {
            row.push(match guest.fields.get(name) {
                None => String::new(),
                Some(serde_json::Value::String(s)) => cell(s),
                Some(other) => other.to_string(),
            });
        }
        let _ = self.writer.write_record(&row);
    }

    /// The CSV (UTF-8).
    pub fn finish(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;

    use super::*;
    use crate::domain::{EmailAddress, RsvpSource, RsvpStatus};
    use crate::ids::{ContactId, EventId, GuestId, TenantId};
    use crate::rsvp::answer::Rsvp;
    use crate::rsvp::form::{Question, QuestionKind, QuestionOption, RsvpFormIn};

    pub(crate) fn guest(name: &str, rsvp: Option<Rsvp>) -> Guest {
        let now = Utc::now();
        Guest {
            id: GuestId::new(),
            tenant_id: TenantId::new(),
            event_id: EventId::new(),
            contact_id: ContactId::new(),
            first_name: name.into(),
            last_name: String::new(),
            name: name.into(),
            email: EmailAddress::parse("a@example.com").ok(),
            phone: None,
            locale: None,
            time_zone: None,
            tags: vec!["vip".into()],
            fields: BTreeMap::from([("table".into(), serde_json::json!(7))]),
            preferred_channel: None,
            rsvp,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn answers_are_labelled_and_formulas_defused() {
        let label = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let form = RsvpForm {
            fields: RsvpFormIn {
                questions: vec![Question {
                    id: "menu".into(),
                    kind: QuestionKind::MultipleChoice,
                    required: false,
                    label: label(&[("en", "Menu")]),
                    options: vec![
                        QuestionOption {
                            id: "fish".into(),
                            label: label(&[("en", "Fish"), ("fr", "Poisson")]),
                        },
                        QuestionOption {
                            id: "veg".into(),
                            label: label(&[("en", "Vegetarian")]),
                        },
                    ],
                }],
                ..RsvpFormIn::default()
            },
            version: 1,
            updated_at: None,
        };
        let rsvp = Rsvp {
            status: RsvpStatus::Accepted,
            party_size: 2,
            answers: BTreeMap::from([(
                "menu".into(),
                AnswerValue::Choices(vec!["fish".into(), "veg".into()]),
            )]),
            at: Utc::now(),
            source: RsvpSource::Link,
            version: 1,
        };
        let mut export = Export::new(&form, "fr", BTreeSet::from(["table".to_owned()]));
        export.add(&guest("=HYPERLINK(\"x\")", Some(rsvp)));
        export.add(&guest("Bob", None));
        let text = String::from_utf8(export.finish()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("rsvp,party_size,rsvp_at,rsvp_source,answer_menu,table"));
        assert!(
            lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(",accepted,2,"));
        assert!(
            lines[1].ends_with(",link,Poisson; Vegetarian,7"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains(",no_response,,,,,7"), "{}", lines[2]);
    }
}
