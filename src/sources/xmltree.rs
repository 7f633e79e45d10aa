//! The XML form of the Expressway dumps (`<Configuration><Traversal><Server><TURN><Port>3478
//! </Port>…`) -> settings by key path (`Traversal Server TURN Port`), the same paths the text
//! form has. A tolerant tokenizer, not an XML parser: every element whose content is text
//! becomes a setting; `item="N"` attributes join the path (`Ethernet 2`); comments, CDATA,
//! declarations handled; entities `&amp; &lt; &gt; &quot; &apos; &#N;` decoded. Tags, texts
//! and depth are bounded, so any input takes bounded memory, and malformed XML gives what it
//! can.

use std::io::{self, BufRead};

use super::expressway::{Dump, Setting, MAX_SETTINGS};

/// Longest tag and text kept, in bytes; deepest element path.
const MAX_TAG: usize = 4096;
const MAX_TEXT: usize = 4096;
const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    Tag,
    /// Inside `<!-- -->`: how many `-` in a row were just seen.
    Comment(u8),
    /// Inside `<![CDATA[ ]]>`: how many `]` in a row were just seen.
    CData(u8),
}

struct Element {
    name: String,
    has_child: bool,
    line: u64,
}

struct Tree {
    state: State,
    stack: Vec<Element>,
    /// Elements open below [`MAX_DEPTH`], not kept.
    deep: usize,
    text: Vec<u8>,
    tag: Vec<u8>,
    line: u64,
    dump: Dump,
}

/// Read an XML dump.
pub(super) fn parse(mut r: impl BufRead) -> io::Result<Dump> {
    let mut tree = Tree {
        state: State::Text,
        stack: Vec::new(),
        deep: 0,
        text: Vec::new(),
        tag: Vec::new(),
        line: 1,
        dump: Dump {
            xml: true,
            ..Dump::default()
        },
    };
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        for &b in buf {
            tree.byte(b);
        }
        let n = buf.len();
        r.consume(n);
    }
    tree.dump.lines = tree.line;
    Ok(tree.dump)
}

impl Tree {
    fn byte(&mut self, b: u8) {
        if b == b'\n' {
            self.line += 1;
        }
        match self.state {
            State::Text if b == b'<' => {
                self.state = State::Tag;
                self.tag.clear();
            }
            State::Text => push_bounded(&mut self.text, b, MAX_TEXT),
            State::Tag if b == b'>' => {
                self.state = State::Text;
                let tag = std::mem::take(&mut self.tag);
                self.tag_done(&tag);
            }
            State::Tag => {
                push_bounded(&mut self.tag, b, MAX_TAG);
                if self.tag == b"!--" {
                    self.state = State::Comment(0);
                } else if self.tag == b"![CDATA[" {
                    self.state = State::CData(0);
                }
            }
            State::Comment(dashes) => {
                self.state = match (b, dashes) {
                    (b'>', d) if d >= 2 => State::Text,
                    (b'-', d) => State::Comment(d.saturating_add(1)),
                    _ => State::Comment(0),
                };
            }
            State::CData(brackets) => match (b, brackets) {
                (b'>', n) if n >= 2 => {
                    self.text.truncate(self.text.len().saturating_sub(2));
                    self.state = State::Text;
                }
                (b']', n) => {
                    push_bounded(&mut self.text, b, MAX_TEXT);
                    self.state = State::CData(n.saturating_add(1));
                }
                _ => {
                    push_bounded(&mut self.text, b, MAX_TEXT);
                    self.state = State::CData(0);
                }
            },
        }
    }

    fn tag_done(&mut self, tag: &[u8]) {
        let tag = String::from_utf8_lossy(tag);
        let tag = tag.trim();
        if tag.starts_with('?') || tag.starts_with('!') {
            return;
        }
        if tag.starts_with('/') {
            self.close();
            return;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = element_name(tag);
        if self.stack.len() >= MAX_DEPTH || self.deep > 0 {
            // Too deep to keep: the element it sits in is no leaf either.
            if let Some(parent) = self.stack.last_mut() {
                parent.has_child = true;
            }
            self.text.clear();
            if !self_closing {
                self.deep += 1;
            }
            return;
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.has_child = true;
        }
        self.text.clear();
        self.stack.push(Element {
            name,
            has_child: false,
            line: self.line,
        });
        if self_closing {
            if let Some(value) = attribute(tag, "value") {
                self.text = value.into_bytes();
            }
            self.close();
        }
    }

    /// An element ends: with text and no child element, it is a setting.
    fn close(&mut self) {
        if self.deep > 0 {
            self.deep -= 1;
            self.text.clear();
            return;
        }
        let text = decode_entities(&String::from_utf8_lossy(&self.text));
        self.text.clear();
        let path = self.path();
        let Some(element) = self.stack.pop() else {
            return;
        };
        let value = text.trim();
        if element.has_child || value.is_empty() || path.is_empty() {
            return;
        }
        if self.dump.settings.len() >= MAX_SETTINGS {
            self.dump.dropped += 1;
            return;
        }
        self.dump.settings.push(Setting {
            path,
            value: value.chars().take(400).collect(),
            line: element.line,
        });
    }

    /// The key path of the open elements (the `Configuration` / `Status` root left out).
    fn path(&self) -> String {
        let mut names: Vec<&str> = self.stack.iter().map(|e| e.name.as_str()).collect();
        if names.first().is_some_and(|root| {
            matches!(
                root.to_ascii_lowercase().as_str(),
                "configuration" | "status" | "xconfiguration" | "xstatus"
            )
        }) {
            names.remove(0);
        }
        names.join(" ")
    }
}

fn push_bounded(v: &mut Vec<u8>, b: u8, max: usize) {
    if v.len() < max {
        v.push(b);
    }
}

/// The element name (namespace prefix dropped), with its `item`/`index` attribute when it
/// has one (`Ethernet 2`).
fn element_name(tag: &str) -> String {
    let raw = tag.split_whitespace().next().unwrap_or_default();
    let name = raw.rsplit(':').next().unwrap_or(raw);
    let name: String = name.chars().take(100).collect();
    match attribute(tag, "item").or_else(|| attribute(tag, "index")) {
        Some(item) if item.len() <= 8 => format!("{name} {item}"),
        _ => name,
    }
}

/// The value of `key="…"` (or `key='…'`) in a tag.
fn attribute(tag: &str, key: &str) -> Option<String> {
    let mut rest = tag.split_once(char::is_whitespace)?.1;
    loop {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = after.get(1..)?;
        let (value, next) = inner.split_once(quote).unwrap_or((inner, ""));
        if k.trim() == key {
            return Some(decode_entities(value));
        }
        rest = next;
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at..).unwrap_or_default();
        let Some(end) = after.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = after.get(1..).unwrap_or_default();
            continue;
        };
        let entity = after.get(1..end).unwrap_or_default();
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(xml: &str) -> Vec<(String, String)> {
        parse(xml.as_bytes())
            .unwrap()
            .settings
            .into_iter()
            .map(|s| (s.path, s.value))
            .collect()
    }

    #[test]
    fn leaves_become_settings() {
        let xml = "<?xml version=\"1.0\"?>\n<!-- a comment with <tags> -->\n<Configuration>\n\
            <Traversal><Server><TURN><Realm>A &amp; B</Realm>\
            <Note><![CDATA[x<y]]></Note><Port value=\"3478\"/></TURN></Server></Traversal>\n\
            <Ethernet item=\"2\"><IP><V4><Address>10.0.0.1</Address></V4></IP></Ethernet>\n\
            </Configuration>";
        assert_eq!(
            settings(xml),
            vec![
                ("Traversal Server TURN Realm".into(), "A & B".into()),
                ("Traversal Server TURN Note".into(), "x<y".into()),
                ("Traversal Server TURN Port".into(), "3478".into()),
                ("Ethernet 2 IP V4 Address".into(), "10.0.0.1".into()),
            ]
        );
        let d = parse(xml.as_bytes()).unwrap();
        assert_eq!(d.settings[3].line, 5);
    }

    #[test]
    fn malformed_and_deep_input_is_bounded() {
        let deep = "<a>".repeat(10_000) + "x" + &"</a>".repeat(10_000);
        assert!(settings(&deep).is_empty());
        assert!(settings("<a><b>1</b><c>2").len() == 1);
        assert!(settings("</x></y><<<>>>&&&;").is_empty());
        let long = format!("<a>{}</a>", "v".repeat(100_000));
        assert_eq!(settings(&long)[0].1.len(), 400);
    }
}
