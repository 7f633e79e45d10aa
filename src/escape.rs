//! Text from the captures (usernames, realms, SOFTWARE, reason phrases, SNI, bundle member and
//! file names) reaches terminals, Markdown case notes, HTML pages and JSON. It is whatever the
//! sender put in the packet, so every renderer passes it through the one function of its
//! format here, and nothing else touches it:
//!
//! - [`terminal`]: control characters (C0, DEL, C1: ESC sequences, carriage returns, newlines
//!   that would break a table) and bidirectional formatting characters (that reorder what is
//!   shown) become visible escapes: `\x1b`, `\u{202e}`.
//! - [`markdown`]: the same, then a backslash before every character with a meaning in
//!   Markdown or in a table (`\ ` * _ [ ] < > | ~ &`), so the text renders as itself.
//! - [`html`]: the same as the terminal, then `& < > " '` as entities, safe in text, attribute
//!   values and SVG text alike.
//! - JSON ([`JsonPretty`], [`JsonCompact`]): serde_json escapes quotes, backslashes and C0; DEL,
//!   C1, bidirectional formatting characters and line/paragraph separators are written as
//!   `\uXXXX` as well, so a report shown raw cannot steer a terminal. The data is unchanged: a
//!   JSON reader gets the original text back.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// Characters shown as escapes in every text format: controls (general category Cc: C0, DEL,
/// C1), bidirectional formatting characters (the Bidi_Control property), and line and
/// paragraph separators.
fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// A cheap test on the UTF-8 bytes: false means no character of `s` is hostile (every hostile
/// character starts with one of these bytes).
fn may_be_hostile(s: &str) -> bool {
    s.bytes()
        .any(|b| b < 0x20 || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
}

fn push_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    let _ = if n < 0x80 {
        write!(out, "\\x{n:02x}")
    } else {
        write!(out, "\\u{{{n:x}}}")
    };
}

/// Text for a terminal: hostile characters as `\x1b` / `\u{202e}`, the rest as is.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !may_be_hostile(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hostile(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters escaped with a backslash in Markdown: inline markup (emphasis, code, links,
/// autolinks and raw HTML, strikethrough, entities) and table cell separators.
fn is_markdown_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&'
    )
}

/// Text for Markdown (running text and table cells): rendered, it shows as itself.
pub fn markdown(s: &str) -> Cow<'_, str> {
    let shown = terminal(s);
    if !shown.contains(is_markdown_special) {
        return shown;
    }
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        if is_markdown_special(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Text for HTML (element content, attribute values, SVG text).
pub fn html(s: &str) -> Cow<'_, str> {
    let shown = terminal(s);
    if !shown.contains(['&', '<', '>', '"', '\'']) {
        return shown;
    }
    let mut out = String::with_capacity(shown.len() + 16);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Write a run of string contents serde_json did not escape, with the hostile characters it
/// leaves (DEL, C1, bidirectional controls, separators) as `\uXXXX`.
fn json_fragment<W: ?Sized + io::Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    if !may_be_hostile(fragment) {
        return w.write_all(fragment.as_bytes());
    }
    let mut start = 0;
    for (at, c) in fragment.char_indices() {
        if is_hostile(c) {
            w.write_all(fragment.as_bytes().get(start..at).unwrap_or_default())?;
            // Every hostile character is in the Basic Multilingual Plane: one \u escape.
            write!(w, "\\u{:04x}", u32::from(c))?;
            start = at + c.len_utf8();
        }
    }
    w.write_all(fragment.as_bytes().get(start..).unwrap_or_default())
}

/// serde_json's compact layout (one JSON line), strings with DEL, C1, bidirectional controls
/// and separators written as `\uXXXX`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonCompact;

impl serde_json::ser::Formatter for JsonCompact {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        json_fragment(w, fragment)
    }
}

/// serde_json's pretty layout (two spaces a level), strings escaped as in [`JsonCompact`], for a value
/// that sits `depth` levels deep in a larger document (0 for a whole document).
#[derive(Debug, Clone, Copy)]
pub struct JsonPretty {
    depth: usize,
    has_value: bool,
}

impl JsonPretty {
    /// A printer for a value written `depth` levels deep into a pretty-printed document, indented as `serde_json`'s pretty printer would there.
    pub fn at(depth: usize) -> JsonPretty {
        JsonPretty {
            depth,
            has_value: false,
        }
    }

    /// A newline and the indentation of the current depth, in one write.
    fn newline<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        const NEWLINE_AND_SPACES: &[u8; 65] =
            b"\n                                                                ";
        match NEWLINE_AND_SPACES.get(..1 + 2 * self.depth) {
            Some(text) => w.write_all(text),
            None => {
                w.write_all(b"\n")?;
                (0..self.depth).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }

    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }

    fn item<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for JsonPretty {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        json_fragment(w, fragment)
    }
}

/// `value` as a pretty JSON document (serde_json's layout, [`JsonPretty`] strings).
pub fn to_json_pretty<T: ?Sized + serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        JsonPretty::at(0),
    ))?;
    // Both serde_json and the fragments write UTF-8 only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Write `value` as one compact JSON line (without the newline).
pub fn write_json_line<W: io::Write, T: ?Sized + serde::Serialize>(
    w: &mut W,
    value: &T,
) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(w, JsonCompact))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{1b}[2Jb\r\nc\u{7f}d\u{9b}31me\u{202e}f\u{2066}g\u{2028}h\0i\tj";

    #[test]
    fn terminal_shows_controls_and_bidi_as_escapes() {
        assert_eq!(
            terminal(HOSTILE),
            "a\\x1b[2Jb\\x0d\\x0ac\\x7fd\\u{9b}31me\\u{202e}f\\u{2066}g\\u{2028}h\\x00i\\x09j"
        );
        assert!(matches!(terminal("plain café ü"), Cow::Borrowed(_)));
        assert_eq!(terminal("plain ✓"), "plain ✓");
        // Other non-ASCII text whose UTF-8 starts like a hostile character stays.
        assert_eq!(
            terminal("\u{2013} \u{20ac} \u{00e9} \u{0627}"),
            "\u{2013} \u{20ac} \u{00e9} \u{0627}"
        );
    }

    #[test]
    fn markdown_escapes_markup_after_controls() {
        assert_eq!(
            markdown("<b>*x*</b> | _y_ [l](u) `c` ~s~ &amp; \\ \u{1b}"),
            "\\<b\\>\\*x\\*\\</b\\> \\| \\_y\\_ \\[l\\](u) \\`c\\` \\~s\\~ \\&amp; \\\\ \\\\x1b"
        );
        assert!(matches!(markdown("plain text."), Cow::Borrowed(_)));
    }

    #[test]
    fn html_escapes_every_markup_character() {
        assert_eq!(
            html("<script>'\"&\u{202e}"),
            "&lt;script&gt;&#39;&quot;&amp;\\u{202e}"
        );
    }

    #[test]
    fn json_keeps_the_data_and_writes_no_raw_hostile_character() {
        let plain = serde_json::json!({ "a": [1, { "b": "c" }], "d": [], "e": {} });
        assert_eq!(
            to_json_pretty(&plain).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
        let value = serde_json::json!({ "user": HOSTILE, "plain": "x" });
        let pretty = to_json_pretty(&value).unwrap();
        assert!(pretty.contains("d\\u009b31me\\u202ef"), "{pretty}");
        let mut line = Vec::new();
        write_json_line(&mut line, &value).unwrap();
        for text in [pretty.as_str(), std::str::from_utf8(&line).unwrap()] {
            assert!(
                !text.chars().any(|c| is_hostile(c) && c != '\n'),
                "{text:?}"
            );
            let back: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(back, value);
        }
    }
}
