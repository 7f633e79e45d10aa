//! Inputs of every kind -> captures ready to open: files, folders, standard input (`-`) and
//! bytes; diagnostic bundles (tar, gzip, nested) opened in memory. Every command resolves its
//! inputs here, so `decode`, `analyze`, `replay` and `batch` read the same things.
//!
//! Inputs that are not captures but evidence of another kind are recognised by content, not by
//! name, and given back as [`Resolved::documents`] (today: chrome://webrtc-internals dumps, plain
//! or gzip, see [`crate::sources::webrtc`]); a command that does not use them says so instead of
//! failing on them as "not a pcap".

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::capture::{self, bundle, CaptureFile};
use crate::flow::Role;
use crate::sources::webrtc;

/// Where an input's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// A capture, a bundle, or a folder of them.
    Path(PathBuf),
    Bytes(Vec<u8>),
    /// Standard input, read whole (up to the bundle limit).
    Stdin,
}

/// One input of a case: a capture, a bundle or a folder, with an optional role.
#[derive(Debug, Clone)]
pub struct Input {
    /// Label used in reports (the path as given, or a name for bytes).
    pub name: String,
    pub source: Source,
    /// `--client` / `--server`; `None` to infer.
    pub role: Option<Role>,
}

impl Input {
    pub fn path(p: impl AsRef<Path>) -> Input {
        let p = p.as_ref();
        Input {
            name: p.display().to_string(),
            source: Source::Path(p.to_path_buf()),
            role: None,
        }
    }

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

    pub fn with_role(mut self, role: Role) -> Input {
        self.role = Some(role);
        self
    }
}

/// An input (or a part of one) that could not be used, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    pub reason: String,
}

impl InputError {
    /// A document given to a command that reads captures only (`decode`, `replay`).
    pub fn not_a_capture(d: &DocumentInput) -> InputError {
        let reason = format!(
            "{}, not a capture: nothing to decode here",
            d.kind.describe()
        );
        InputError::new(&d.name, reason)
    }

    fn new(path: impl Into<String>, reason: impl Into<String>) -> InputError {
        InputError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Where a capture's bytes are: a file to map, or bytes in memory (from a bundle or stdin).
#[derive(Debug)]
enum Origin {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// A capture found among the inputs, ready to open.
#[derive(Debug)]
pub struct CaptureInput {
    /// `path`, `bundle!member`, or `folder/file`.
    pub name: String,
    pub role: Option<Role>,
    origin: Origin,
}

impl CaptureInput {
    /// Open the capture (a file is memory-mapped, bytes are used in place).
    pub fn open(self) -> Result<CaptureFile, InputError> {
        let file = match self.origin {
            Origin::Path(p) => capture::open(&p),
            Origin::Bytes(b) => CaptureFile::from_bytes(self.name.clone(), b),
        };
        file.map_err(|e| InputError::new(&self.name, strip_name(&self.name, &e.to_string())))
    }
}

/// What kind of evidence a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A chrome://webrtc-internals dump (either file it writes, plain or gzip): read it with
    /// [`webrtc::parse`].
    WebrtcDump,
}

impl DocumentKind {
    pub fn describe(self) -> &'static str {
        match self {
            DocumentKind::WebrtcDump => "a chrome://webrtc-internals dump",
        }
    }
}

/// A document found among the inputs, held in memory (dumps are small).
#[derive(Debug)]
pub struct DocumentInput {
    /// `path`, or `folder/file`.
    pub name: String,
    pub kind: DocumentKind,
    pub role: Option<Role>,
    pub bytes: Vec<u8>,
}

/// The captures and documents of some inputs, and what could not be used.
#[derive(Debug, Default)]
pub struct Resolved {
    pub captures: Vec<CaptureInput>,
    pub documents: Vec<DocumentInput>,
    pub errors: Vec<InputError>,
}

/// A document's kind, from the first bytes of a file (at least [`webrtc::SNIFF_BYTES`] where
/// the file has them).
fn document_kind(head: &[u8]) -> Option<DocumentKind> {
    let sniffed = match webrtc::sniff(head) {
        webrtc::Sniffed::Gzip => webrtc::sniff_gzip(head),
        other => other,
    };
    match sniffed {
        webrtc::Sniffed::WebrtcInternals | webrtc::Sniffed::RtcStats => {
            Some(DocumentKind::WebrtcDump)
        }
        webrtc::Sniffed::Gzip | webrtc::Sniffed::Other => None,
    }
}

/// How many files a folder input may hold (all levels): beyond it the rest is refused.
pub const MAX_FOLDER_FILES: usize = 100_000;
/// Folders inside folder inputs, at most this deep.
pub const MAX_FOLDER_DEPTH: usize = 8;

/// Find the captures in `inputs`. `bundle_limit` caps what one bundle (or standard input) may
/// decompress to.
pub fn resolve(inputs: &[Input], bundle_limit: u64) -> Resolved {
    let mut out = Resolved::default();
    for input in inputs {
        match &input.source {
            Source::Path(p) if p.is_dir() => {
                folder(&input.name, p, input.role, bundle_limit, &mut out)
            }
            Source::Path(p) => file(&input.name, p, input.role, bundle_limit, &mut out),
            Source::Bytes(b) => bytes(&input.name, b.clone(), input.role, bundle_limit, &mut out),
            Source::Stdin => match read_stdin(bundle_limit) {
                Ok(b) => bytes(&input.name, b, input.role, bundle_limit, &mut out),
                Err(reason) => out.errors.push(InputError::new(&input.name, reason)),
            },
        }
    }
    out
}

/// Every file under a folder, in name order, each resolved like a file given on its own.
fn folder(name: &str, dir: &Path, role: Option<Role>, limit: u64, out: &mut Resolved) {
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
        file(&label, &f, role, limit, out);
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

/// A file: a capture is mapped where it lies; a bundle is read and opened in memory.
fn file(name: &str, p: &Path, role: Option<Role>, limit: u64, out: &mut Resolved) {
    let head = match head(p) {
        Ok(h) => h,
        Err(e) => {
            return out
                .errors
                .push(InputError::new(name, format!("cannot read: {e}")))
        }
    };
    if let Some(kind) = document_kind(&head) {
        return document_file(name, p, kind, role, limit, out);
    }
    if !bundle::is_bundle(&head) {
        out.captures.push(CaptureInput {
            name: name.to_string(),
            role,
            origin: Origin::Path(p.to_path_buf()),
        });
        return;
    }
    match read_limited(name, p, "bundle", limit) {
        Ok(b) => bytes(name, b, role, limit, out),
        Err(e) => out.errors.push(e),
    }
}

/// A whole file read into memory, refused when larger than `limit` (`what` names it then).
fn read_limited(name: &str, p: &Path, what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    if len > limit {
        let reason = format!("{what} of {len} bytes is larger than the limit of {limit} bytes");
        return Err(InputError::new(name, reason));
    }
    std::fs::read(p).map_err(|e| InputError::new(name, format!("cannot read: {e}")))
}

/// A document file, read whole (up to the bundle limit).
fn document_file(
    name: &str,
    p: &Path,
    kind: DocumentKind,
    role: Option<Role>,
    limit: u64,
    out: &mut Resolved,
) {
    match read_limited(name, p, kind.describe(), limit) {
        Ok(bytes) => out.documents.push(DocumentInput {
            name: name.to_string(),
            kind,
            role,
            bytes,
        }),
        Err(e) => out.errors.push(e),
    }
}

/// Bytes in memory: a document or a capture as it is, a bundle expanded.
fn bytes(name: &str, b: Vec<u8>, role: Option<Role>, limit: u64, out: &mut Resolved) {
    if let Some(kind) = document_kind(&b) {
        return out.documents.push(DocumentInput {
            name: name.to_string(),
            kind,
            role,
            bytes: b,
        });
    }
    if !bundle::is_bundle(&b) {
        out.captures.push(CaptureInput {
            name: name.to_string(),
            role,
            origin: Origin::Bytes(b),
        });
        return;
    }
    match bundle::expand(name, &b, limit) {
        Ok(e) => {
            if e.captures.is_empty() {
                let reason = format!(
                    "bundle holds no pcap or pcapng capture ({} other members)",
                    e.skipped.len()
                );
                out.errors.push(InputError::new(name, reason));
            }
            out.captures
                .extend(e.captures.into_iter().map(|m| CaptureInput {
                    name: m.name,
                    role,
                    origin: Origin::Bytes(m.bytes),
                }));
        }
        Err(e) => out
            .errors
            .push(InputError::new(name, strip_name(name, &e.to_string()))),
    }
}

/// The first bytes of a file, to tell captures, bundles and documents apart.
fn head(p: &Path) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(webrtc::SNIFF_BYTES);
    std::fs::File::open(p)?
        .take(webrtc::SNIFF_BYTES as u64)
        .read_to_end(&mut b)?;
    Ok(b)
}

fn read_stdin(limit: u64) -> Result<Vec<u8>, String> {
    let mut b = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit.saturating_add(1))
        .read_to_end(&mut b)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if b.len() as u64 > limit {
        return Err(format!(
            "standard input is larger than the limit of {limit} bytes"
        ));
    }
    if b.is_empty() {
        return Err("standard input is empty".into());
    }
    Ok(b)
}

/// Error texts start with the file name; an [`InputError`] keeps it in `path`.
fn strip_name(name: &str, msg: &str) -> String {
    msg.strip_prefix(name)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg)
        .to_string()
}
