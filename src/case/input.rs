//! Inputs of every kind -> what each command reads: captures on disk (memory-mapped and
//! walked in parallel), bundles and other streams (diagnostic bundles, gzip, standard input:
//! walked as they stream, see [`crate::capture::bundle`]), and documents (Expressway logs and
//! dumps, CMS event logs, chrome://webrtc-internals dumps, see [`crate::sources`]). Every command resolves its inputs here, so
//! `decode`, `analyze`, `replay` and `batch` read the same things.
//!
//! Files are recognised by their first bytes, not their names (documents also by the names
//! the Expressway bundle documents, when their text says nothing). A document given to a
//! command that reads captures only is said to be one, instead of failing as "not a pcap".

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capture::{self, bundle, CaptureFile};
use crate::flow::Role;
use crate::sources::{self, DocKind};

/// Where an input's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// A capture, a bundle, a document, or a folder of them.
    Path(PathBuf),
    /// Bytes in memory: a capture, bundle or document already read.
    Bytes(Vec<u8>),
    /// Standard input, read as a stream.
    Stdin,
}

/// One input of a case: a capture, a bundle, a document or a folder, with an optional role.
#[derive(Debug, Clone)]
pub struct Input {
    /// Label used in reports (the path as given, or a name for bytes).
    pub name: String,
    /// Where its bytes are.
    pub source: Source,
    /// `--client` / `--server`; `None` to infer.
    pub role: Option<Role>,
}

impl Input {
    /// A file or folder, labelled with its path as given.
    pub fn path(p: impl AsRef<Path>) -> Input {
        let p = p.as_ref();
        Input {
            name: p.display().to_string(),
            source: Source::Path(p.to_path_buf()),
            role: None,
        }
    }

    /// Bytes in memory, labelled `name` in the report.
    pub fn bytes(name: impl Into<String>, bytes: Vec<u8>) -> Input {
        Input {
            name: name.into(),
            source: Source::Bytes(bytes),
            role: None,
        }
    }

    /// Standard input, labelled `-`.
    pub fn stdin() -> Input {
        Input {
            name: "-".into(),
            source: Source::Stdin,
            role: None,
        }
    }

    /// A command-line argument: `-` is standard input, anything else a path.
    pub fn from_arg(arg: &Path) -> Input {
        if arg == Path::new("-") {
            Input::stdin()
        } else {
            Input::path(arg)
        }
    }

    /// The input with its vantage point given, not inferred (`--client` / `--server`).
    pub fn with_role(mut self, role: Role) -> Input {
        self.role = Some(role);
        self
    }
}

/// An input (or a part of one) that could not be used, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputError {
    /// The input, or `bundle!member` for a part of a bundle.
    pub path: String,
    /// Why it could not be used, in words.
    pub reason: String,
}

impl InputError {
    /// An error for `path` with `reason`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> InputError {
        InputError {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A document given to a command that reads captures only (`decode`, `replay`).
    pub fn not_a_capture(d: &DocumentInput) -> InputError {
        let reason = format!(
            "{}, not a capture: nothing to decode here",
            d.kind.describe()
        );
        InputError::new(&d.name, reason)
    }
}

/// Where bytes are: a file, bytes in memory, or standard input (its first bytes, already
/// read to recognise it, then the rest).
#[derive(Debug)]
enum Origin {
    Path(PathBuf),
    Bytes(Vec<u8>),
    Stdin { head: Vec<u8> },
}

impl Origin {
    /// The bytes from the first, as a stream.
    fn reader(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(match self {
            Origin::Path(p) => Box::new(std::fs::File::open(p)?),
            Origin::Bytes(b) => Box::new(&b[..]),
            Origin::Stdin { head } => Box::new((&head[..]).chain(io::stdin().lock())),
        })
    }
}

/// A capture found among the inputs, ready to open.
#[derive(Debug)]
pub struct CaptureInput {
    /// `path`, `bundle!member`, or `folder/file`.
    pub name: String,
    /// Its role when given (`--client` / `--server`); `None` to infer it.
    pub role: Option<Role>,
    /// Position among everything resolved (reports keep the inputs' order).
    pub order: usize,
    origin: Origin,
}

impl CaptureInput {
    /// Open the capture (a file is memory-mapped, bytes are used in place).
    pub fn open(self) -> Result<CaptureFile, InputError> {
        let file = match self.origin {
            Origin::Path(p) => capture::open(&p),
            Origin::Bytes(b) | Origin::Stdin { head: b } => {
                CaptureFile::from_bytes(self.name.clone(), b)
            }
        };
        file.map_err(|e| InputError::new(&self.name, strip_name(&self.name, &e.to_string())))
    }
}

/// A bundle (or a gzip, or standard input) to walk as a stream.
#[derive(Debug)]
pub struct BundleInput {
    /// The bundle as given.
    pub name: String,
    /// The role given to everything in it; `None` to infer each capture's.
    pub role: Option<Role>,
    /// Position among everything resolved (reports keep the inputs' order).
    pub order: usize,
    origin: Origin,
}

impl BundleInput {
    /// Its bytes, from the first, as a stream.
    pub fn reader(&self) -> io::Result<Box<dyn Read + '_>> {
        self.origin.reader()
    }
}

/// What kind of evidence a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// `loggingsnapshot_…`: the Expressway log of the logging period.
    ExpresswayLog,
    /// `xconf_dump_…`: the Expressway configuration.
    ExpresswayConfig,
    /// `xstat_dump_…`: the Expressway status.
    ExpresswayStatus,
    /// A CMS event log.
    CmsLog,
    /// A chrome://webrtc-internals dump (either file it writes, plain or gzip): see
    /// [`crate::sources::webrtc`].
    WebrtcDump,
}

impl DocumentKind {
    /// What the document is, in words (`the Expressway log`).
    pub fn describe(self) -> &'static str {
        self.source().describe()
    }

    /// The parser's kind.
    pub fn source(self) -> DocKind {
        match self {
            DocumentKind::ExpresswayLog => DocKind::ExpresswayLog,
            DocumentKind::ExpresswayConfig => DocKind::ExpresswayConfig,
            DocumentKind::ExpresswayStatus => DocKind::ExpresswayStatus,
            DocumentKind::CmsLog => DocKind::CmsLog,
            DocumentKind::WebrtcDump => DocKind::WebrtcDump,
        }
    }

    fn of(kind: DocKind) -> DocumentKind {
        match kind {
            DocKind::ExpresswayLog => DocumentKind::ExpresswayLog,
            DocKind::ExpresswayConfig => DocumentKind::ExpresswayConfig,
            DocKind::ExpresswayStatus => DocumentKind::ExpresswayStatus,
            DocKind::CmsLog => DocumentKind::CmsLog,
            DocKind::WebrtcDump => DocumentKind::WebrtcDump,
        }
    }
}

/// A document found among the inputs (read as a stream when used).
#[derive(Debug)]
pub struct DocumentInput {
    /// `path`, or `folder/file`.
    pub name: String,
    /// What kind of document it is, from its content (or its documented name).
    pub kind: DocumentKind,
    /// The role given with it; `None` when none was given.
    pub role: Option<Role>,
    /// Position among everything resolved (reports keep the inputs' order).
    pub order: usize,
    origin: Origin,
}

impl DocumentInput {
    /// Its bytes, from the first, as a stream.
    pub fn reader(&self) -> io::Result<Box<dyn Read + '_>> {
        self.origin.reader()
    }
}

/// The captures, bundles and documents of some inputs, and what could not be used.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The captures found, in the inputs' order.
    pub captures: Vec<CaptureInput>,
    /// The bundles found, in the inputs' order.
    pub bundles: Vec<BundleInput>,
    /// The documents found, in the inputs' order.
    pub documents: Vec<DocumentInput>,
    /// Inputs, or parts of them, that could not be used, with why.
    pub errors: Vec<InputError>,
    /// Inputs resolved so far (gives each its `order`).
    next: usize,
}

impl Resolved {
    fn order(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }

    /// For the commands that need every capture at hand (`decode`, `replay`): bundles read
    /// into memory (each member inflated once, up to `limit` bytes in all), documents listed
    /// as no captures. Captures come back in the inputs' order.
    pub fn captures_in_memory(self, limit: u64) -> (Vec<CaptureInput>, Vec<InputError>) {
        let Resolved {
            mut captures,
            bundles,
            documents,
            mut errors,
            ..
        } = self;
        errors.extend(documents.iter().map(InputError::not_a_capture));
        for b in bundles {
            let expanded = b
                .reader()
                .map_err(|e| InputError::new(&b.name, format!("cannot read: {e}")))
                .and_then(|mut r| {
                    bundle::expand_from(&b.name, &mut r, limit)
                        .map_err(|e| InputError::new(&b.name, strip_name(&b.name, &e.to_string())))
                });
            match expanded {
                Ok(e) => {
                    if e.captures.is_empty() {
                        errors.push(no_capture(&b.name, e.skipped.len()));
                    }
                    captures.extend(e.captures.into_iter().map(|m| CaptureInput {
                        name: m.name,
                        role: b.role,
                        order: b.order,
                        origin: Origin::Bytes(m.bytes),
                    }));
                }
                Err(e) => errors.push(e),
            }
        }
        captures.sort_by_key(|c| c.order);
        (captures, errors)
    }
}

/// The error for a bundle without any capture.
pub fn no_capture(name: &str, others: usize) -> InputError {
    InputError::new(
        name,
        format!("bundle holds no pcap or pcapng capture ({others} other members)"),
    )
}

/// How many files a folder input may hold (all levels): beyond it the rest is refused.
pub const MAX_FOLDER_FILES: usize = 100_000;
/// Folders inside folder inputs, at most this deep.
pub const MAX_FOLDER_DEPTH: usize = 8;

/// Find the captures, bundles and documents in `inputs`. `bundle_limit` caps what one
/// bundle (or standard input) may inflate, or hold in memory where a command needs that.
pub fn resolve(inputs: &[Input], bundle_limit: u64) -> Resolved {
    let mut out = Resolved::default();
    for input in inputs {
        match &input.source {
            Source::Path(p) if p.is_dir() => folder(&input.name, p, input.role, &mut out),
            Source::Path(p) => file(&input.name, p, input.role, &mut out),
            Source::Bytes(b) => {
                let kind = Recognised::of(b, &input.name);
                place(
                    &input.name,
                    kind,
                    Origin::Bytes(b.clone()),
                    input.role,
                    &mut out,
                );
            }
            Source::Stdin => stdin(&input.name, input.role, bundle_limit, &mut out),
        }
    }
    out
}

/// What the first bytes say an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recognised {
    Capture,
    Bundle,
    Document(DocumentKind),
    /// Nothing known: tried as a capture, which says why it is none.
    Unknown,
}

impl Recognised {
    fn of(head: &[u8], name: &str) -> Recognised {
        match bundle::sniff(head) {
            bundle::Kind::Pcap | bundle::Kind::PcapNg => Recognised::Capture,
            // A gzip may be a compressed webrtc-internals dump (Chrome's default download).
            bundle::Kind::Gzip if sources::sniff(head, name) == Some(DocKind::WebrtcDump) => {
                Recognised::Document(DocumentKind::WebrtcDump)
            }
            bundle::Kind::Gzip | bundle::Kind::Tar => Recognised::Bundle,
            bundle::Kind::Other => match sources::sniff(head, name) {
                Some(kind) => Recognised::Document(DocumentKind::of(kind)),
                None => Recognised::Unknown,
            },
        }
    }
}

fn place(name: &str, kind: Recognised, origin: Origin, role: Option<Role>, out: &mut Resolved) {
    let order = out.order();
    let name = name.to_string();
    match kind {
        Recognised::Capture | Recognised::Unknown => out.captures.push(CaptureInput {
            name,
            role,
            order,
            origin,
        }),
        Recognised::Bundle => out.bundles.push(BundleInput {
            name,
            role,
            order,
            origin,
        }),
        Recognised::Document(kind) => out.documents.push(DocumentInput {
            name,
            kind,
            role,
            order,
            origin,
        }),
    }
}

/// Every file under a folder, in name order, each resolved like a file given on its own.
fn folder(name: &str, dir: &Path, role: Option<Role>, out: &mut Resolved) {
    let mut files = Vec::new();
    if let Err(reason) = files_under(dir, 0, &mut files) {
        out.errors.push(InputError::new(name, reason));
    }
    if files.is_empty() {
        out.errors
            .push(InputError::new(name, "folder holds no file to read"));
    }
    for f in files {
        let label = f.display().to_string();
        file(&label, &f, role, out);
    }
}

fn files_under(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if depth > MAX_FOLDER_DEPTH {
        return Err(format!(
            "folders nested more than {MAX_FOLDER_DEPTH} deep: the deeper ones are not read"
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        // Hidden files (.DS_Store, editor swap files) are never part of a case.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        if out.len() >= MAX_FOLDER_FILES {
            return Err(format!(
                "more than {MAX_FOLDER_FILES} files: the rest are not read"
            ));
        }
        if p.is_dir() {
            files_under(&p, depth + 1, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// A file: recognised by its first bytes; nothing more is read here.
fn file(name: &str, p: &Path, role: Option<Role>, out: &mut Resolved) {
    match head(p) {
        Ok(h) => {
            let kind = Recognised::of(&h, name);
            place(name, kind, Origin::Path(p.to_path_buf()), role, out);
        }
        Err(e) => out
            .errors
            .push(InputError::new(name, format!("cannot read: {e}"))),
    }
}

/// Standard input: a capture is read whole (up to the limit) for the mapped walks; a bundle
/// or a document is walked as it streams.
fn stdin(name: &str, role: Option<Role>, limit: u64, out: &mut Resolved) {
    let mut head = Vec::with_capacity(bundle::HEAD_BYTES);
    let read = io::stdin()
        .lock()
        .take(bundle::HEAD_BYTES as u64)
        .read_to_end(&mut head);
    if let Err(e) = read {
        let reason = format!("cannot read standard input: {e}");
        return out.errors.push(InputError::new(name, reason));
    }
    if head.is_empty() {
        return out
            .errors
            .push(InputError::new(name, "standard input is empty"));
    }
    let kind = Recognised::of(&head, name);
    if !matches!(kind, Recognised::Capture | Recognised::Unknown) {
        return place(name, kind, Origin::Stdin { head }, role, out);
    }
    match read_rest(head, limit) {
        Ok(b) => place(name, kind, Origin::Bytes(b), role, out),
        Err(reason) => out.errors.push(InputError::new(name, reason)),
    }
}

fn read_rest(mut b: Vec<u8>, limit: u64) -> Result<Vec<u8>, String> {
    io::stdin()
        .lock()
        .take(limit.saturating_add(1).saturating_sub(b.len() as u64))
        .read_to_end(&mut b)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if b.len() as u64 > limit {
        return Err(format!(
            "standard input is larger than the limit of {limit} bytes"
        ));
    }
    Ok(b)
}

/// The first bytes of a file, to tell captures, bundles and documents apart.
fn head(p: &Path) -> io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(bundle::HEAD_BYTES);
    std::fs::File::open(p)?
        .take(bundle::HEAD_BYTES as u64)
        .read_to_end(&mut b)?;
    Ok(b)
}

/// Error texts start with the file name; an [`InputError`] keeps it in `path`.
pub fn strip_name(name: &str, msg: &str) -> String {
    msg.strip_prefix(name)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg)
        .to_string()
}
