//! SMS segment counting: GSM 03.38 (7-bit) when every character fits, else UCS-2.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// How a text travels as SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct SmsSegments {
    pub encoding: SmsEncoding,
    /// Septets for GSM-7 (extension characters count twice), UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Counts the segments `text` needs: 160 GSM-7 septets in one segment, 153 per part of a
/// concatenated message; 70 UCS-2 units in one, 67 per part.
pub fn count_segments(text: &str) -> SmsSegments {
    let mut septets = 0;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, multi) = if gsm {
        (SmsEncoding::Gsm7, septets, 160, 153)
    } else {
        (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let segments = match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    SmsSegments {
        encoding,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        assert_eq!(count_segments(&"a".repeat(160)).segments, 1);
        assert_eq!(count_segments(&"a".repeat(161)).segments, 2);
        assert_eq!(count_segments(&"a".repeat(306)).segments, 2);
        assert_eq!(count_segments(&"a".repeat(307)).segments, 3);
        assert_eq!(count_segments("").segments, 0);
    }

    #[test]
    fn extension_characters_count_twice() {
        let s = count_segments(&"€".repeat(80));
        assert_eq!(
            (s.encoding, s.units, s.segments),
            (SmsEncoding::Gsm7, 160, 1)
        );
        assert_eq!(count_segments(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn anything_else_is_ucs2() {
        let s = count_segments("Ça va? 👋");
        assert_eq!(s.encoding, SmsEncoding::Ucs2);
        assert_eq!(s.units, 9);
        assert_eq!(count_segments(&"ж".repeat(70)).segments, 1);
        assert_eq!(count_segments(&"ж".repeat(71)).segments, 2);
        assert_eq!(count_segments(&"ж".repeat(134)).segments, 2);
        assert_eq!(count_segments(&"ж".repeat(135)).segments, 3);
    }
}
