//! The rule every text field shares: no control characters. C0 controls and DEL (NUL among
//! them) break the legacy columns, logs and CSV files; the bidirectional controls U+202A–U+202E
//! and U+2066–U+2069 reorder what a reader sees (a query that displays as one word and is
//! another), in the dashboard, the console and a spreadsheet alike.

use super::error::Errors;

pub const CONTROL_MESSAGE: &str = "should not contain control characters";

/// Whether `c` is refused in a text field: C0 (U+0000–U+001F), DEL (U+007F), and the bidi
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Refuses any control character in a one-line field.
pub fn check_line(errors: &mut Errors, field: &str, value: &str) {
    if value.chars().any(is_control) {
        errors.add(field, CONTROL_MESSAGE);
    }
}

/// Refuses control characters in free text, except the tab and the line breaks (`\t`, `\n`,
/// `\r`) that a paragraph of notes legitimately holds.
pub fn check_paragraphs(errors: &mut Errors, field: &str, value: &str) {
    if value
        .chars()
        .any(|c| is_control(c) && !matches!(c, '\t' | '\n' | '\r'))
    {
        errors.add(field, CONTROL_MESSAGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::Invalid;

    fn messages(check: fn(&mut Errors, &str, &str), value: &str) -> Vec<String> {
        let mut errors = Errors::default();
        check(&mut errors, "f", value);
        match errors.into_result() {
            Ok(()) => vec![],
            Err(Invalid(e)) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn controls_are_c0_del_and_the_bidi_controls() {
        for c in ['\0', '\t', '\n', '\u{1b}', '\u{1f}', '\u{7f}'] {
            assert!(is_control(c), "{c:?}");
        }
        for c in 0x202a..=0x202e_u32 {
            assert!(is_control(char::from_u32(c).unwrap()), "{c:x}");
        }
        for c in 0x2066..=0x2069_u32 {
            assert!(is_control(char::from_u32(c).unwrap()), "{c:x}");
        }
        // Neighbours and ordinary text pass, including marks that only hint direction.
        for c in [
            ' ', '~', '\u{80}', 'é', '\u{200e}', '\u{2029}', '\u{202f}', '\u{2065}',
        ] {
            assert!(!is_control(c), "{c:?}");
        }
        assert!(!is_control('\u{206a}'));
    }

    #[test]
    fn a_line_refuses_every_control_and_paragraphs_keep_tabs_and_line_breaks() {
        let refused = vec!["f: should not contain control characters"];
        assert_eq!(messages(check_line, "flu\u{0}"), refused);
        assert_eq!(messages(check_line, "a\tb"), refused);
        assert_eq!(messages(check_line, "\u{202e}ulf"), refused);
        assert_eq!(messages(check_line, "grippe à Paris"), Vec::<String>::new());
        assert_eq!(
            messages(check_paragraphs, "line one\r\n\tline two\n"),
            Vec::<String>::new()
        );
        assert_eq!(messages(check_paragraphs, "bell\u{7}"), refused);
        assert_eq!(messages(check_paragraphs, "\u{2066}isolate"), refused);
    }
}
