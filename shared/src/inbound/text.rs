//! What a person wrote in an email reply, for display: the text above the quoted history
//! and the signature. The whole text is kept beside it; this only decides what a thread shows
//! first.
//!
//! Cut at the first of: a line quoting the previous message (`>`), an attribution line ("On
//! … wrote:" and its French, German, Spanish, Italian, Portuguese and Dutch forms), the
//! separators Outlook and others put above a forwarded or quoted message, a signature
//! separator (`-- `, RFC 3676) and a mobile client's "Sent from my …".

/// The part of `text` a person wrote (trimmed); the whole text, trimmed, when cutting would
/// leave nothing.
pub fn written_part(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if starts_history(line, lines.get(i + 1).copied()) {
            end = i;
            break;
        }
    }
    let kept = lines[..end].join("\n");
    let kept = kept.trim();
    if kept.is_empty() {
        text.trim().to_owned()
    } else {
        kept.to_owned()
    }
}

fn starts_history(line: &str, next: Option<&str>) -> bool {
    let trimmed = line.trim();
    if line.starts_with('>') || line == "-- " || trimmed == "--" {
        return true;
    }
    let lower = trimmed.to_lowercase();
    if lower.starts_with("-----original message-----")
        || lower.starts_with("-------- original message")
        || lower.starts_with("---------- forwarded message")
        || lower.starts_with("________________________________")
        || lower.starts_with("sent from my ")
        || lower.starts_with("envoyé de mon ")
        || lower.starts_with("von meinem ")
    {
        return true;
    }
    // "From: …" starting a quoted header block (Outlook), when a "Sent:"/"Date:" line follows.
    if (lower.starts_with("from:") || lower.starts_with("de :") || lower.starts_with("von:"))
        && next.is_some_and(|n| {
            let n = n.trim().to_lowercase();
            n.starts_with("sent:")
                || n.starts_with("date:")
                || n.starts_with("envoyé :")
                || n.starts_with("gesendet:")
        })
    {
        return true;
    }
    attribution(&lower)
}

/// "On Tue, 3 Dec 2026 at 10:00, Herald <…> wrote:" and its translations (possibly wrapped:
/// only the line that ends the attribution needs to match).
fn attribution(lower: &str) -> bool {
    const OPENERS: &[(&str, &str)] = &[
        ("on ", "wrote:"),
        ("le ", "a écrit :"),
        ("le ", "a écrit:"),
        ("am ", "schrieb "),
        ("am ", "schrieb:"),
        ("el ", "escribió:"),
        ("il ", "ha scritto:"),
        ("em ", "escreveu:"),
        ("op ", "schreef "),
        ("op ", "het volgende geschreven:"),
    ];
    OPENERS.iter().any(|(open, close)| {
        lower.starts_with(open) && (lower.ends_with(close) || lower.contains(close))
    }) || lower.ends_with("wrote:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_and_signatures_are_cut() {
        let reply = "Yes, we will both be there!\n\nOn Tue, 3 Dec 2026 at 10:00, Herald <invite@example.org> wrote:\n> You are invited\n> to the gala";
        assert_eq!(written_part(reply), "Yes, we will both be there!");
        let french =
            "Avec plaisir.\r\n\r\nLe mar. 3 déc. 2026 à 10:00, Herald a écrit :\r\n> Invitation";
        assert_eq!(written_part(french), "Avec plaisir.");
        let signed = "Can I bring my daughter?\n\n-- \nAnna Example\nCTO, Example Ltd";
        assert_eq!(written_part(signed), "Can I bring my daughter?");
        let outlook = "Thanks\n\nFrom: Herald <a@example.org>\nSent: Tuesday\nSubject: Invitation";
        assert_eq!(written_part(outlook), "Thanks");
        let mobile = "On my way\n\nSent from my iPhone";
        assert_eq!(written_part(mobile), "On my way");
    }

    #[test]
    fn a_reply_that_is_only_quotes_keeps_its_text() {
        assert_eq!(written_part("> only a quote\n"), "> only a quote");
        assert_eq!(
            written_part("plain text with no history"),
            "plain text with no history"
        );
    }
}
