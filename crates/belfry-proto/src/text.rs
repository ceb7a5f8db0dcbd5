//! Text from an instance as a person sees it: without the characters that
//! draw nothing but change what text seems to say or stop it being found.
//! One definition for every place that shows or matches notification text:
//! the window's rows (`ui/src/dom.ts` reads [`HIDDEN`] through a generated
//! binding), the toasts and the tray menu (`belfry_os::toast::sanitize`) and
//! the local store's search (`belfry_core::store`).

/// The hidden characters, as inclusive ranges: control characters but the
/// line break (`\u{1B}[31m` would colour a terminal, a tab is no glyph),
/// the soft hyphen, the bidi marks, embeddings, overrides and isolates
/// (`invoice\u{202E}fdp.exe` shows as "invoiceexe.pdf"), and the zero-width
/// spaces, joiners and invisible operators (`pay\u{200B}ment` shows as
/// "payment").
pub const HIDDEN: &[(char, char)] = &[
    ('\u{0}', '\u{9}'),
    ('\u{B}', '\u{1F}'),
    ('\u{7F}', '\u{9F}'),
    // Soft hyphen.
    ('\u{AD}', '\u{AD}'),
    // Arabic letter mark (a bidi mark like U+200E/U+200F).
    ('\u{61C}', '\u{61C}'),
    // Zero-width space, non-joiner and joiner; left-to-right and
    // right-to-left marks.
    ('\u{200B}', '\u{200F}'),
    // Bidi embeddings and overrides.
    ('\u{202A}', '\u{202E}'),
    // Word joiner and the invisible operators.
    ('\u{2060}', '\u{2064}'),
    // Bidi isolates.
    ('\u{2066}', '\u{2069}'),
    // Zero-width no-break space (a byte order mark inside text).
    ('\u{FEFF}', '\u{FEFF}'),
];

/// Whether `c` is one of the [`HIDDEN`] characters.
pub fn is_hidden(c: char) -> bool {
    HIDDEN.iter().any(|&(from, to)| (from..=to).contains(&c))
}

/// `s` as it is shown: without its [`HIDDEN`] characters.
pub fn plain(s: &str) -> String {
    s.chars().filter(|&c| !is_hidden(c)).collect()
}

/// [`HIDDEN`] as the character class of a JavaScript regular expression
/// (`[\u0000-\u0009…]`), for the window's binding.
pub fn js_class() -> String {
    let mut out = String::from("[");
    for &(from, to) in HIDDEN {
        // Every range is in the Basic Multilingual Plane: `\uXXXX` is enough.
        out.push_str(&format!("\\u{:04X}", u32::from(from)));
        if to != from {
            out.push_str(&format!("-\\u{:04X}", u32::from(to)));
        }
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_go_and_text_stays() {
        assert_eq!(plain("pay\u{200B}ment"), "payment");
        assert_eq!(plain("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(
            plain("a\u{AD}b\u{2060}c\u{FEFF}d\u{2066}e\u{2069}f\u{200D}g"),
            "abcdefg"
        );
        assert_eq!(
            plain("one\u{0}two\u{1B}[31m\nthree\t!"),
            "onetwo[31m\nthree!"
        );
        assert_eq!(plain("Заявка №17 — 🔔 ok"), "Заявка №17 — 🔔 ok");
    }

    #[test]
    fn the_ranges_are_ordered_apart_and_in_the_first_plane() {
        for w in HIDDEN.windows(2) {
            assert!(w[0].1 < w[1].0, "{w:?}");
        }
        assert!(
            HIDDEN
                .iter()
                .all(|&(a, b)| a <= b && u32::from(b) <= 0xFFFF)
        );
        assert!(js_class().starts_with("[\\u0000-\\u0009\\u000B-\\u001F"));
        assert!(js_class().contains("\\u00AD\\u061C\\u200B-\\u200F"));
    }
}
