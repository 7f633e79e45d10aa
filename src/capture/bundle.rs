//! Diagnostic bundles: .tar, .tar.gz, .tgz, gzip, nested, walked as one stream. Nothing is
//! extracted or written anywhere: each member is inflated once, as the walk reaches it, and
//! handed to a [`Visitor`] as a `Read`, so a bundle of any size takes the memory of a few
//! buffers. Members are recognised by their first bytes, never by their names; names are
//! labels only (control characters escaped), never paths to write to.
//!
//! A member that is neither a capture, nor an archive, nor something the visitor wants is
//! skipped after its first bytes: inside a gzip of its own, it is not inflated further; in a
//! plain tar, its bytes are passed over; in a compressed tar they must still be inflated to
//! reach the next member, but are not kept or parsed.
//!
//! Limits, each with its own error: bytes inflated by all gzip layers together (a gzip bomb
//! stops there; a member that declares more than what is left of the limit is refused before
//! it is inflated), tar entries, and containers nested in containers.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};

/// Default cap on the bytes one bundle may inflate, all gzip layers together: 4 GiB.
pub const DEFAULT_LIMIT: u64 = 4 << 30;
/// Default cap on containers (gzip or tar layers) nested in one another: a `.tar.gz` inside
/// a `.tar.gz` inside a `.tar.gz` inside a `.tar.gz`.
pub const MAX_DEPTH: usize = 8;
/// Default cap on the entries of all tar archives of a bundle.
pub const MAX_ENTRIES: u64 = 10_000;
/// How many first bytes of a member are sniffed (and shown to the visitor) before it is
/// read or skipped.
pub const HEAD_BYTES: usize = 4096;
/// Member names longer than this are cut in labels.
const MAX_NAME_CHARS: usize = 512;

/// The limits of one walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes all gzip layers together may inflate.
    pub inflated: u64,
    /// Entries all tar archives together may hold.
    pub entries: u64,
    /// Containers nested in one another.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            inflated: DEFAULT_LIMIT,
            entries: MAX_ENTRIES,
            depth: MAX_DEPTH,
        }
    }
}

impl Limits {
    /// The default limits with `inflated` bytes of inflation.
    pub fn inflating(inflated: u64) -> Limits {
        Limits {
            inflated,
            ..Limits::default()
        }
    }
}

/// Why a walk stopped. Each ends the walk; the members shown before it stay shown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// The gzip layers inflated past [`Limits::inflated`] while reading `name`.
    #[error(
        "{name}: inflates to more than {limit} bytes (the limit): refused, possibly a gzip bomb"
    )]
    TooLarge {
        /// Label of the member being read.
        name: String,
        /// The inflation limit, in bytes.
        limit: u64,
    },
    /// A member of a compressed tar declares more bytes than are left of the inflation
    /// limit; refused before any of it is inflated.
    #[error("{name}: declares {size} bytes, more than the {left} bytes left of the {limit}-byte inflation limit: refused before inflating it, possibly a gzip bomb")]
    MemberTooLarge {
        /// Label of the member.
        name: String,
        /// The size its tar header declares, in bytes.
        size: u64,
        /// Bytes left of the limit when it was met.
        left: u64,
        /// The inflation limit, in bytes.
        limit: u64,
    },
    /// A gzip stream or tar archive could not be read, or the visitor's
    /// [`read`](Visitor::read) failed.
    #[error("{name}: corrupt {what}: {detail}")]
    Corrupt {
        /// Label of the member or container.
        name: String,
        /// What was being read: "gzip stream", "tar archive" or "stream".
        what: &'static str,
        /// The reader's error.
        detail: String,
    },
    /// A gzip or tar found at [`Limits::depth`] containers deep.
    #[error("{name}: containers (gzip or tar) nested more than {limit} deep")]
    TooDeep {
        /// Label of the container that was not opened.
        name: String,
        /// The depth limit.
        limit: usize,
    },
    /// The tar archives held more than [`Limits::entries`] entries, directories included.
    #[error("{name}: more than {limit} archive entries (the limit): the rest is not read")]
    TooManyEntries {
        /// Label of the archive where the limit was passed.
        name: String,
        /// The entry limit.
        limit: u64,
    },
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A classic pcap, any byte order, microsecond, nanosecond or Kuznetzov's modified format.
    Pcap,
    /// A pcapng (section header block first).
    PcapNg,
    /// A gzip stream (a .gz or the outside of a .tar.gz).
    Gzip,
    /// A POSIX (ustar) or GNU tar archive.
    Tar,
    /// Anything else (a log, a configuration, an old-style tar without the ustar magic).
    Other,
}

/// What a file is, from its first bytes (the first 262 are enough; fewer are read as far as
/// they go).
pub fn sniff(b: &[u8]) -> Kind {
    match b.get(..4) {
        Some([0xa1, 0xb2, 0xc3, 0xd4])
        | Some([0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d])
        | Some([0x4d, 0x3c, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0xcd, 0x34])
        | Some([0x34, 0xcd, 0xb2, 0xa1]) => Kind::Pcap,
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => Kind::PcapNg,
        Some([0x1f, 0x8b, _, _]) => Kind::Gzip,
        _ if b.get(257..262) == Some(b"ustar") => Kind::Tar,
        _ => Kind::Other,
    }
}

/// True for the formats [`walk`] opens.
pub fn is_bundle(b: &[u8]) -> bool {
    matches!(sniff(b), Kind::Gzip | Kind::Tar)
}

/// A file found by the walk: a bundle member, or the input itself when it is no archive.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Label: `bundle!dir/file`, nested `bundle!inner.tgz!file` (a gzip layer adds nothing).
    pub name: &'a str,
    /// The path inside the innermost archive (`dir/file`); the input's name for the input.
    pub path: &'a str,
    /// [`Kind::Pcap`], [`Kind::PcapNg`] or [`Kind::Other`]: archives are opened, not shown.
    pub kind: Kind,
    /// The first bytes (up to [`HEAD_BYTES`]), already inflated.
    pub head: &'a [u8],
}

/// What to do with a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Read it: [`Visitor::read`] is called with its bytes.
    Read,
    /// Skip it, for this reason (listed in [`Walked::skipped`]).
    Skip(String),
}

/// Decides what to read and reads it.
pub trait Visitor {
    /// Whether to read `m` (a capture, or [`Kind::Other`]), from its name and first bytes.
    fn member(&mut self, m: &Member<'_>) -> Take;
    /// Read the member, from its first byte; `data` ends where the member ends. An error
    /// from `data` is the bundle's (corrupt, or over the limit) and ends the walk.
    fn read(&mut self, m: &Member<'_>, data: &mut dyn Read) -> io::Result<()>;
}

/// A member not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The member's label (as [`Member::name`]).
    pub name: String,
    /// Why: the visitor's [`Take::Skip`] reason, or "not a regular file (links are not
    /// followed)".
    pub reason: String,
}

/// What a walk went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walked {
    /// Bytes inflated, all gzip layers together.
    pub inflated: u64,
    /// Tar entries met.
    pub entries: u64,
    /// Members not read, in walk order.
    pub skipped: Vec<Skipped>,
}

/// What the walk counts against its limits (shared by the nested readers, hence cells).
struct Budget {
    limits: Limits,
    inflated: Cell<u64>,
    over: Cell<bool>,
    entries: Cell<u64>,
    skipped: RefCell<Vec<Skipped>>,
}

impl Budget {
    fn left(&self) -> u64 {
        self.limits.inflated.saturating_sub(self.inflated.get())
    }

    fn skip(&self, name: &str, reason: impl Into<String>) {
        self.skipped.borrow_mut().push(Skipped {
            name: name.to_string(),
            reason: reason.into(),
        });
    }
}

/// Counts what a gzip layer inflates; fails once the limit is passed.
struct Counted<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.budget.inflated.get().saturating_add(n as u64);
        self.budget.inflated.set(total);
        if total > self.budget.limits.inflated {
            self.budget.over.set(true);
            return Err(io::Error::other("inflation limit passed"));
        }
        Ok(n)
    }
}

/// Walk the bundle (or lone file) read from `input`, labelled `name`, showing every member
/// to `visitor`. On an error the members before it have been shown.
pub fn walk(
    name: &str,
    input: &mut dyn Read,
    limits: Limits,
    visitor: &mut dyn Visitor,
) -> Result<Walked, BundleError> {
    let budget = Budget {
        limits,
        inflated: Cell::new(0),
        over: Cell::new(false),
        entries: Cell::new(0),
        skipped: RefCell::new(Vec::new()),
    };
    let name = clean_label(name.as_bytes());
    let at = Place {
        name: &name,
        path: &name,
        depth: 0,
        inflating: false,
    };
    stream(at, input, &budget, visitor)?;
    Ok(Walked {
        inflated: budget.inflated.get(),
        entries: budget.entries.get(),
        skipped: budget.skipped.into_inner(),
    })
}

/// Where a stream sits in the bundle.
#[derive(Clone, Copy)]
struct Place<'a> {
    name: &'a str,
    path: &'a str,
    /// Containers around it.
    depth: usize,
    /// A gzip layer is around it: passing over bytes costs inflation.
    inflating: bool,
}

impl Place<'_> {
    /// The error for a failed read: over the limit, or corrupt.
    fn failed(&self, what: &'static str, e: &io::Error, budget: &Budget) -> BundleError {
        if budget.over.get() {
            return BundleError::TooLarge {
                name: self.name.to_string(),
                limit: budget.limits.inflated,
            };
        }
        BundleError::Corrupt {
            name: self.name.to_string(),
            what,
            detail: e.to_string(),
        }
    }
}

/// Read up to [`HEAD_BYTES`] (fewer only at the end of the stream).
fn read_head(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    r.take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// One stream: sniffed, then opened (gzip, tar) or shown to the visitor.
fn stream(
    at: Place<'_>,
    input: &mut dyn Read,
    budget: &Budget,
    visitor: &mut dyn Visitor,
) -> Result<(), BundleError> {
    let what = if at.inflating {
        "gzip stream"
    } else {
        "stream"
    };
    let head = read_head(input).map_err(|e| at.failed(what, &e, budget))?;
    let kind = sniff(&head);
    if matches!(kind, Kind::Gzip | Kind::Tar) && at.depth >= budget.limits.depth {
        return Err(BundleError::TooDeep {
            name: at.name.to_string(),
            limit: budget.limits.depth,
        });
    }
    let mut whole = io::Cursor::new(head.as_slice()).chain(input);
    match kind {
        Kind::Gzip => {
            let inner = Place {
                depth: at.depth + 1,
                inflating: true,
                ..at
            };
            // MultiGzDecoder: concatenated members are one stream, as gzip(1) reads them.
            let mut counted = Counted {
                inner: flate2::read::MultiGzDecoder::new(&mut whole),
                budget,
            };
            stream(inner, &mut counted, budget, visitor)
        }
        Kind::Tar => untar(at, &mut whole, budget, visitor),
        Kind::Pcap | Kind::PcapNg | Kind::Other => {
            let member = Member {
                name: at.name,
                path: at.path,
                kind,
                head: &head,
            };
            match visitor.member(&member) {
                Take::Read => visitor
                    .read(&member, &mut whole)
                    .map_err(|e| at.failed(what, &e, budget)),
                Take::Skip(reason) => {
                    budget.skip(at.name, reason);
                    Ok(())
                }
            }
        }
    }
}

/// A tar archive: every regular file in it is a stream of its own.
fn untar(
    at: Place<'_>,
    input: &mut dyn Read,
    budget: &Budget,
    visitor: &mut dyn Visitor,
) -> Result<(), BundleError> {
    let corrupt = |e: &io::Error| at.failed("tar archive", e, budget);
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| corrupt(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(&e))?;
        let n = budget.entries.get() + 1;
        budget.entries.set(n);
        if n > budget.limits.entries {
            return Err(BundleError::TooManyEntries {
                name: at.name.to_string(),
                limit: budget.limits.entries,
            });
        }
        let path = clean_label(&entry.path_bytes());
        let name = format!("{}!{path}", at.name);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            budget.skip(&name, "not a regular file (links are not followed)");
            continue;
        }
        // Passing over a member of a compressed tar inflates it: one that declares more
        // than what is left of the limit is refused before.
        let size = entry.header().size().unwrap_or(0);
        if at.inflating && size > budget.left() {
            return Err(BundleError::MemberTooLarge {
                name,
                size,
                left: budget.left(),
                limit: budget.limits.inflated,
            });
        }
        let inner = Place {
            name: &name,
            path: &path,
            depth: at.depth + 1,
            inflating: at.inflating,
        };
        stream(inner, &mut entry, budget, visitor)?;
    }
    Ok(())
}

/// A member name as a label: invalid UTF-8 replaced, control characters (terminal escapes,
/// newlines) written as escapes, cut at 512 characters (an ellipsis marks the cut).
pub fn clean_label(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len().min(MAX_NAME_CHARS));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A capture read into memory by [`expand`].
#[derive(Debug, Clone)]
pub struct Collected {
    /// Its label in the bundle (`bundle!dir/file.pcap`).
    pub name: String,
    /// The whole capture, inflated.
    pub bytes: Vec<u8>,
}

/// Everything [`expand`] found: captures in memory, and the members skipped.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The pcap and pcapng members, in bundle order.
    pub captures: Vec<Collected>,
    /// Members that are not captures, and why they were not read.
    pub skipped: Vec<Skipped>,
    /// Bytes inflated, all gzip layers together.
    pub inflated: u64,
}

/// Read every capture of a bundle held in memory into memory (for the commands that need
/// the whole file at hand: `decode`, `replay`). `analyze` streams instead.
pub fn expand(name: &str, bytes: &[u8], limit: u64) -> Result<Expanded, BundleError> {
    expand_from(name, &mut &bytes[..], limit)
}

/// [`expand`] from a stream: each member inflated once; `limit` caps the inflated bytes.
pub fn expand_from(name: &str, input: &mut dyn Read, limit: u64) -> Result<Expanded, BundleError> {
    struct Collect(Vec<Collected>);
    impl Visitor for Collect {
        fn member(&mut self, m: &Member<'_>) -> Take {
            match m.kind {
                Kind::Pcap | Kind::PcapNg => Take::Read,
                _ => Take::Skip("not a capture or bundle".into()),
            }
        }
        fn read(&mut self, m: &Member<'_>, data: &mut dyn Read) -> io::Result<()> {
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)?;
            self.0.push(Collected {
                name: m.name.to_string(),
                bytes,
            });
            Ok(())
        }
    }
    let mut collect = Collect(Vec::new());
    let walked = walk(name, input, Limits::inflating(limit), &mut collect)?;
    Ok(Expanded {
        captures: collect.0,
        skipped: walked.skipped,
        inflated: walked.inflated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pcap() -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (n, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, n, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(d: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn finds_captures_by_content_in_nested_bundles() {
        let inner = gz(&tar_of(&[("tcpdump/eth0.dat", &pcap())]));
        let outer = tar_of(&[
            ("readme.txt", b"hello"),
            ("logs/inner.tgz", &inner),
            ("x.cap", &pcap()),
        ]);
        let e = expand("case.tgz", &gz(&outer), DEFAULT_LIMIT).unwrap();
        let names: Vec<_> = e.captures.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["case.tgz!logs/inner.tgz!tcpdump/eth0.dat", "case.tgz!x.cap"]
        );
        assert_eq!(e.skipped.len(), 1);
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let zeros = vec![0u8; 8 << 20];
        let bomb = gz(&tar_of(&[("big.pcap", &zeros)]));
        assert!(bomb.len() < 100_000);
        let err = expand("bomb.tgz", &bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, BundleError::MemberTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("refused before inflating"));
        // A capture that inflates past the limit without declaring it: the limit stops it.
        let mut big = pcap();
        big.resize(8 << 20, 0);
        let err = expand("big.pcap.gz", &gz(&big), 1 << 20).unwrap_err();
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("gzip bomb"));
    }

    #[test]
    fn dotdot_names_are_labels_only() {
        let t = tar_of(&[("evil.pcap", &pcap())]);
        // Rewrite the name to a traversal path after building (the builder refuses "..").
        let mut t = t;
        let evil = b"../../etc/evil\x1b[31m.pcap";
        t[..100].fill(0);
        t[..evil.len()].copy_from_slice(evil);
        let mut h = tar::Header::from_byte_slice(&t[..512]).clone();
        h.set_cksum();
        t[..512].copy_from_slice(h.as_bytes());
        let e = expand("b.tar", &t, DEFAULT_LIMIT).unwrap();
        assert_eq!(e.captures[0].name, "b.tar!../../etc/evil\\u{1b}[31m.pcap");
    }

    /// Counts what it is shown; reads captures to the end.
    #[derive(Default)]
    struct Seen {
        names: Vec<String>,
        bytes: u64,
    }

    impl Visitor for Seen {
        fn member(&mut self, m: &Member<'_>) -> Take {
            match m.kind {
                Kind::Pcap | Kind::PcapNg => Take::Read,
                _ => Take::Skip("not a capture".into()),
            }
        }
        fn read(&mut self, m: &Member<'_>, data: &mut dyn Read) -> io::Result<()> {
            self.names.push(m.name.to_string());
            self.bytes += io::copy(data, &mut io::sink())?;
            Ok(())
        }
    }

    /// A gzip that inflates to `gib` GiB of zeros, built from one compressed MiB repeated
    /// (gzip members may follow one another).
    fn zeros_gz(gib: usize) -> Vec<u8> {
        let member = gz(&vec![0u8; 1 << 20]);
        member.repeat(gib << 10)
    }

    #[test]
    fn a_zero_filled_member_is_skipped_without_inflating_it() {
        let zeros = zeros_gz(4);
        let bundle = tar_of(&[
            ("eth0_diagnostic_logging_tcpdump00_h_t.pcap.gz", &zeros),
            ("eth0_diagnostic_logging_tcpdump01_h_t.pcap", &pcap()),
        ]);
        let mut seen = Seen::default();
        let w = walk("b.tar", &mut &bundle[..], Limits::default(), &mut seen).unwrap();
        // Its first bytes (a HEAD_BYTES read) are inflated, not 4 GiB.
        assert!(w.inflated <= 64 << 10, "inflated {}", w.inflated);
        assert_eq!(
            seen.names,
            ["b.tar!eth0_diagnostic_logging_tcpdump01_h_t.pcap"]
        );
        assert_eq!(w.skipped.len(), 1);
        // Inside a compressed bundle, passing over it inflates its compressed bytes only.
        let mut seen = Seen::default();
        let w = walk("b.tgz", &mut &gz(&bundle)[..], Limits::default(), &mut seen).unwrap();
        assert!(
            w.inflated < bundle.len() as u64 + (64 << 10),
            "inflated {}",
            w.inflated
        );
        assert_eq!(seen.names.len(), 1);
    }

    #[test]
    fn a_member_declaring_more_than_the_limit_is_refused_before_inflating() {
        // A tar header declaring 8 GiB, and only a few bytes after it.
        let mut t = tar_of(&[("zeros.bin", b"")]);
        let mut h = tar::Header::from_byte_slice(&t[..512]).clone();
        h.set_size(8 << 30);
        h.set_cksum();
        t[..512].copy_from_slice(h.as_bytes());
        let err = walk(
            "b.tgz",
            &mut &gz(&t)[..],
            Limits::default(),
            &mut Seen::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, BundleError::MemberTooLarge { size, .. } if size == 8 << 30),
            "{err}"
        );
        assert!(err.to_string().contains("b.tgz!zeros.bin"), "{err}");
    }

    #[test]
    fn entries_and_depth_are_limited() {
        let files: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("f{i}"), pcap())).collect();
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let many = tar_of(&refs);
        let limits = Limits {
            entries: 10,
            ..Limits::default()
        };
        let mut seen = Seen::default();
        let err = walk("many.tar", &mut &many[..], limits, &mut seen).unwrap_err();
        assert_eq!(
            err,
            BundleError::TooManyEntries {
                name: "many.tar".into(),
                limit: 10
            }
        );
        assert_eq!(
            seen.names.len(),
            10,
            "the entries before the limit were read"
        );
        let mut nested = pcap();
        for level in 0..3 {
            nested = gz(&tar_of(&[(&format!("level{level}.tgz"), &nested)]));
        }
        // Three .tgz: six containers.
        let mut seen = Seen::default();
        assert!(walk("n", &mut &nested[..], Limits::default(), &mut seen).is_ok());
        assert_eq!(seen.names, ["n!level2.tgz!level1.tgz!level0.tgz"]);
        let limits = Limits {
            depth: 5,
            ..Limits::default()
        };
        let err = walk("n", &mut &nested[..], limits, &mut Seen::default()).unwrap_err();
        assert!(
            matches!(err, BundleError::TooDeep { limit: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn hostile_names_are_labels_only() {
        let long = "d/".repeat(400) + "x.pcap";
        let t = tar_of(&[(long.as_str(), &pcap())]);
        let mut seen = Seen::default();
        walk("b.tar", &mut &t[..], Limits::default(), &mut seen).unwrap();
        assert_eq!(
            seen.names[0].chars().count(),
            "b.tar!".len() + MAX_NAME_CHARS + 1
        );
        assert!(seen.names[0].ends_with('…'));
        assert_eq!(clean_label(b"a\nb\x1b[2J\xffc"), "a\\nb\\u{1b}[2J\u{fffd}c");
        // The input's own name is cleaned too.
        let mut seen = Seen::default();
        walk(
            "evil\n.pcap",
            &mut &pcap()[..],
            Limits::default(),
            &mut seen,
        )
        .unwrap();
        assert_eq!(seen.names, ["evil\\n.pcap"]);
    }

    #[test]
    fn a_corrupt_tail_keeps_what_came_before() {
        // Incompressible bytes after the capture, so that the damage stays in them.
        let mut x = 1u32;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let t = tar_of(&[("a.pcap", &pcap()), ("b.bin", &noise)]);
        let mut z = gz(&t);
        let cut = z.len() - 200;
        z[cut..].fill(0x55);
        let mut seen = Seen::default();
        let err = walk("c.tgz", &mut &z[..], Limits::default(), &mut seen).unwrap_err();
        assert!(matches!(err, BundleError::Corrupt { .. }), "{err}");
        assert_eq!(seen.names, ["c.tgz!a.pcap"]);
    }

    #[test]
    fn links_are_not_followed() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "eth0.pcap", "/etc/shadow").unwrap();
        let t = b.into_inner().unwrap();
        let w = walk(
            "l.tar",
            &mut &t[..],
            Limits::default(),
            &mut Seen::default(),
        )
        .unwrap();
        assert_eq!(w.skipped[0].name, "l.tar!eth0.pcap");
        assert!(w.skipped[0].reason.contains("links are not followed"));
    }
}
