//! What a guest's short reply means: opt-out, opt-in and help keywords (obeyed before anything
//! else, on SMS and WhatsApp), yes and no to an invitation, and opt-outs in other words (never
//! obeyed blindly, never ignored: flagged for a person).
//!
//! A keyword is the whole message, whatever its case, accents, spacing or punctuation around it
//! (`stop.`, `Stop!`, ` STOP `); `STOP sending` is not the keyword but reads as an opt-out.
//! The families follow the CTIA's Messaging Principles and the carriers' handling of short and
//! long codes (with `ARRET` for French Canada); yes/no words cover the languages Herald's pages
//! speak.

use super::search::words;

/// A keyword family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Opt out of the channel.
    Stop,
    /// Opt back in to the channel.
    Start,
    /// Ask for help: answered with the tenant's help text.
    Help,
}

/// An answer to a question that invited one (an invitation's RSVP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
}

const STOP: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "optout",
    "revoke",
    "arret",
];
const START: &[&str] = &["start", "unstop", "subscribe"];
const HELP: &[&str] = &["help", "info", "aide"];

/// Words (folded: lower case, no accents) that answer yes or no, in English, French, German,
/// Spanish, Italian, Portuguese and Dutch.
const YES: &[&str] = &[
    "yes", "y", "yeah", "yep", "sure", "ok", "okay", "oui", "ouais", "ja", "si", "sim", "jawohl",
    "claro", "certo",
];
const NO: &[&str] = &["no", "n", "nope", "non", "nein", "nao", "nee", "niet"];

/// Phrases that read as a wish to stop hearing from the sender (folded words, in order).
const OPT_OUT_PHRASES: &[&[&str]] = &[
    &["stop"],
    &["unsubscribe"],
    &["opt", "out"],
    &["optout"],
    &["remove", "me"],
    &["take", "me", "off"],
    &["don", "t", "text"],
    &["dont", "text"],
    &["do", "not", "text"],
    &["do", "not", "contact"],
    &["don", "t", "contact"],
    &["do", "not", "message"],
    &["no", "more", "messages"],
    &["no", "more", "texts"],
    &["leave", "me", "alone"],
    &["arrete"],
    &["arretez"],
    &["desabonner"],
    &["desinscrire"],
    &["abmelden"],
    &["abbestellen"],
    &["baja"],
];

/// The single word of `text`, folded, when the text is one word (punctuation and spacing
/// around it do not count).
fn single_word(text: &str) -> Option<String> {
    let mut w = words(text);
    (w.len() == 1).then(|| w.remove(0))
}

/// The keyword `text` is, if it is one. `YES` is a keyword only right after an opt-out by
/// keyword on the channel (`after_stop`): then it opts back in, as carriers treat it.
pub fn keyword(text: &str, after_stop: bool) -> Option<Keyword> {
    let word = single_word(text)?;
    let word = word.as_str();
    if STOP.contains(&word) {
        Some(Keyword::Stop)
    } else if START.contains(&word) || (after_stop && word == "yes") {
        Some(Keyword::Start)
    } else if HELP.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Yes or no, when `text` is one of those words (`Yes!`, `oui`, `Sí`, `nein.`).
pub fn answer(text: &str) -> Option<Answer> {
    let word = single_word(text)?;
    if YES.contains(&word.as_str()) {
        Some(Answer::Yes)
    } else if NO.contains(&word.as_str()) {
        Some(Answer::No)
    } else {
        None
    }
}

/// True when `text` reads as an opt-out in other words than a keyword ("please stop texting
/// me"): a person should look at it.
pub fn reads_as_opt_out(text: &str) -> bool {
    let w = words(text);
    OPT_OUT_PHRASES.iter().any(|phrase| {
        w.windows(phrase.len())
            .any(|window| window.iter().zip(phrase.iter()).all(|(a, b)| a == b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_family_with_any_case_and_punctuation() {
        for text in [
            "STOP",
            "stop",
            "Stop",
            "stop.",
            " STOP! ",
            "StopAll",
            "UNSUBSCRIBE",
            "cancel",
            "End",
            "QUIT",
            "OPTOUT",
            "Revoke",
            "ARRET",
            "Arrêt",
            "arrêt !",
        ] {
            assert_eq!(keyword(text, false), Some(Keyword::Stop), "{text}");
        }
        assert_eq!(keyword("stop sending", false), None);
        assert_eq!(keyword("stopping", false), None);
    }

    #[test]
    fn start_help_and_yes_after_stop() {
        assert_eq!(keyword("Start", false), Some(Keyword::Start));
        assert_eq!(keyword("UNSTOP", false), Some(Keyword::Start));
        assert_eq!(keyword("yes", false), None);
        assert_eq!(keyword("YES", true), Some(Keyword::Start));
        assert_eq!(keyword("help?", false), Some(Keyword::Help));
        assert_eq!(keyword("INFO", false), Some(Keyword::Help));
    }

    #[test]
    fn yes_and_no_in_the_guests_languages() {
        for text in ["yes", "Yes!", "oui", "Sí", "si", "ja", "sim"] {
            assert_eq!(answer(text), Some(Answer::Yes), "{text}");
        }
        for text in ["no", "No.", "non", "nein", "não", "nee"] {
            assert_eq!(answer(text), Some(Answer::No), "{text}");
        }
        assert_eq!(answer("yes but late"), None);
        assert_eq!(answer("maybe"), None);
    }

    #[test]
    fn opt_outs_in_other_words_are_recognised() {
        for text in [
            "please stop texting me",
            "Don't text me again",
            "remove me from this list",
            "Arrêtez de m'écrire",
            "I want to opt out",
        ] {
            assert!(reads_as_opt_out(text), "{text}");
        }
        for text in [
            "See you there!",
            "What time does it start?",
            "Is parking included?",
        ] {
            assert!(!reads_as_opt_out(text), "{text}");
        }
    }
}
