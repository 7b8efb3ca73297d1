//! RSVP: an event's form (deadline, others a guest may bring, its own questions), the guests'
//! answers (on the guest item, with where they came from), the signed link in every message,
//! and the figures and export an organiser reads.
//!
//! A guest answers through their link (the page, or the JSON API behind it), the tenant over
//! the API or a guest import's `rsvp` column. Each stored change of an answer counts one
//! `version`; an answer given through the link sends the `rsvp_confirmation` once per
//! version (the message id follows from the guest and the version), at once, as a
//! transactional message.

pub mod answer;
pub mod export;
pub mod figures;
pub mod form;
pub mod record;
pub mod token;

pub use answer::{
    AnswerValue, CheckedAnswer, Rsvp, RsvpIn, answers_close, check_answer, label_answer_vars,
    state_of,
};
pub use figures::{RsvpFigures, Tally};
pub use form::{
    Question, QuestionKind, QuestionOption, RsvpForm, RsvpFormIn, check_form, label_for,
};
pub use token::RsvpClaims;

use crate::ids::{GuestId, MessageId};

/// The id of the confirmation of a guest's RSVP change: the same for every attempt to send it.
pub fn confirmation_id(guest: GuestId, version: u32) -> MessageId {
    MessageId::derived(&[
        "rsvp_confirmation",
        &guest.to_string(),
        &version.to_string(),
    ])
}
