//! Lines from a `Read`, bounded: a line longer than [`MAX_LINE`] bytes is cut (the rest of
//! it passed over, never held), invalid UTF-8 replaced. Memory is one buffer and one line.

use std::io::{self, BufRead, BufReader, Read};

/// Longest line kept, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Reads lines one at a time.
pub struct Lines<R: Read> {
    reader: BufReader<R>,
    raw: Vec<u8>,
    /// 1-based number of the last line read.
    pub number: u64,
    /// Lines cut at [`MAX_LINE`].
    pub cut: u64,
}

impl<R: Read> Lines<R> {
    /// Lines of `r`, none cut yet.
    pub fn new(r: R) -> Lines<R> {
        Lines {
            reader: BufReader::with_capacity(64 * 1024, r),
            raw: Vec::new(),
            number: 0,
            cut: 0,
        }
    }

    /// The next line without its end (`\n` or `\r\n`), or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<String>> {
        self.raw.clear();
        let mut any = false;
        let mut was_cut = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.raw.len());
            let kept = take.min(room);
            self.raw
                .extend_from_slice(buf.get(..kept).unwrap_or_default());
            was_cut |= kept < take;
            self.reader.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if was_cut {
            self.cut += 1;
        }
        if self.raw.last() == Some(&b'\r') {
            self.raw.pop();
        }
        Ok(Some(String::from_utf8_lossy(&self.raw).into_owned()))
    }
}

/// True when `head` looks like text: no NUL byte, and mostly printable.
pub fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let odd = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    odd * 20 < head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_numbered() {
        let mut text = b"one\r\ntwo\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE * 3));
        text.extend_from_slice(b"\nlast");
        let mut l = Lines::new(&text[..]);
        assert_eq!(l.next_line().unwrap().as_deref(), Some("one"));
        assert_eq!(l.next_line().unwrap().as_deref(), Some("two"));
        assert_eq!(l.next_line().unwrap().map(|s| s.len()), Some(MAX_LINE));
        assert_eq!(l.next_line().unwrap().as_deref(), Some("last"));
        assert_eq!(l.next_line().unwrap(), None);
        assert_eq!((l.number, l.cut), (4, 1));
    }

    #[test]
    fn text_or_not() {
        assert!(looks_like_text(
            b"2017-05-20\t19:43:21.805\tWarning\tcall 6"
        ));
        assert!(!looks_like_text(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]));
        assert!(!looks_like_text(b""));
    }
}
