//! Evidence other than packet captures, read from bytes (no file I/O here): what the
//! Expressway-E's diagnostic bundle says besides its tcpdump ([`expressway`]: the log of the
//! logging period, the configuration and status dumps) and what the CMS logged
//! ([`cmslog`]), and what the guest's browser says about its side of the call
//! ([`webrtc`]: chrome://webrtc-internals dumps). Each is read in one pass from a `Read`, line by line with bounded lines and
//! a bounded number of events kept (the rest counted), into a typed model; nothing here
//! knows about packets. [`crate::diagnose::logs`] links the models to the flows.
//!
//! Cisco does not publish the exact syntax of these files; the parsers are tolerant (key
//! paths and phrases, not columns) and say how many lines they did not understand.

pub mod clock;
pub mod cmslog;
pub mod expressway;
pub mod lines;
pub mod webrtc;
mod xmltree;

pub use clock::LogTime;

/// What kind of document a file is, from its first bytes (and, for the names the
/// Expressway diagnostic bundle documents, its name when the content says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// `loggingsnapshot_<host>_<ts>.txt`: the Expressway log of the logging period.
    ExpresswayLog,
    /// `xconf_dump_<host>_<ts>`: the Expressway configuration when logging started.
    ExpresswayConfig,
    /// `xstat_dump_<host>_<ts>`: the Expressway status (version, option keys, relays).
    ExpresswayStatus,
    /// A CMS event log: the web admin's export (tab or space separated), the "Fault
    /// conditions" table, or syslog lines.
    CmsLog,
    /// A chrome://webrtc-internals dump (either file the page writes, plain or gzip).
    WebrtcDump,
}

impl DocKind {
    /// What kind of document it is, in words (`the Expressway log`).
    pub fn describe(self) -> &'static str {
        match self {
            DocKind::ExpresswayLog => "an Expressway log (loggingsnapshot)",
            DocKind::ExpresswayConfig => "an Expressway configuration dump (xconf)",
            DocKind::ExpresswayStatus => "an Expressway status dump (xstat)",
            DocKind::CmsLog => "a CMS event log",
            DocKind::WebrtcDump => "a chrome://webrtc-internals dump",
        }
    }
}

/// The document kind of a file whose first bytes are `head` (a few KiB) and whose name (or
/// bundle member path) is `name`; `None` when it is none of them.
pub fn sniff(head: &[u8], name: &str) -> Option<DocKind> {
    match webrtc::sniff(head) {
        webrtc::Sniffed::WebrtcInternals | webrtc::Sniffed::RtcStats => {
            return Some(DocKind::WebrtcDump)
        }
        webrtc::Sniffed::Gzip => {
            return matches!(
                webrtc::sniff_gzip(head),
                webrtc::Sniffed::WebrtcInternals | webrtc::Sniffed::RtcStats
            )
            .then_some(DocKind::WebrtcDump)
        }
        webrtc::Sniffed::Other => {}
    }
    if !lines::looks_like_text(head) {
        return None;
    }
    let text = String::from_utf8_lossy(head);
    let by_content = if expressway::is_log(&text) {
        Some(DocKind::ExpresswayLog)
    } else if expressway::is_config(&text) {
        Some(DocKind::ExpresswayConfig)
    } else if expressway::is_status(&text) {
        Some(DocKind::ExpresswayStatus)
    } else if cmslog::is_cms_log(&text) {
        Some(DocKind::CmsLog)
    } else {
        None
    };
    by_content.or_else(|| match expressway::BundleFile::from_name(name) {
        Some(expressway::BundleFile::LoggingSnapshot { .. }) => Some(DocKind::ExpresswayLog),
        Some(expressway::BundleFile::Config { .. }) => Some(DocKind::ExpresswayConfig),
        Some(expressway::BundleFile::Status { .. }) => Some(DocKind::ExpresswayStatus),
        _ => None,
    })
}

/// A place in a document: its label and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LineRef {
    /// The document as given (`bundle!member` inside a bundle).
    pub document: String,
    /// The line, 1-based.
    pub line: u64,
}

/// A document's model, by kind.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Model {
    /// The Expressway log of the logging period, typed.
    ExpresswayLog(expressway::ExpresswayLog),
    /// A configuration or status dump.
    Dump(expressway::Dump),
    /// A CMS event log, typed.
    CmsLog(cmslog::CmsLog),
    /// `None` when the dump could not be read (the reason in [`Document::error`]).
    WebrtcDump(Option<Box<webrtc::WebrtcDump>>),
}

/// A document read: its label, kind and model.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as given (`bundle!member` inside a bundle).
    pub name: String,
    /// What kind of document it is.
    pub kind: DocKind,
    /// What was read from it.
    pub model: Model,
    /// A read error that ended the document early (what came before is kept).
    pub error: Option<String>,
}

/// What a document gave, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Lines read.
    pub lines: u64,
    /// Events or settings kept.
    pub kept: usize,
    /// Lines not understood.
    pub unread: u64,
}

impl Document {
    /// Lines read, events or settings kept and lines not understood.
    pub fn counts(&self) -> Counts {
        match &self.model {
            Model::ExpresswayLog(l) => Counts {
                lines: l.lines,
                kept: l.events.len(),
                unread: l.unread,
            },
            Model::Dump(d) => Counts {
                lines: d.lines,
                kept: d.settings.len(),
                unread: d.unread,
            },
            Model::CmsLog(l) => Counts {
                lines: l.lines,
                kept: l.events.len(),
                unread: l.unread,
            },
            // A dump is JSON, not lines: its peer connections are what it gave.
            Model::WebrtcDump(d) => Counts {
                lines: 0,
                kept: d.as_ref().map_or(0, |d| d.peer_connections.len()),
                unread: d.as_ref().map_or(0, |d| d.dropped.unreadable),
            },
        }
    }

    /// True when anything in it was understood (a time-stamped entry or a setting).
    pub fn understood(&self) -> bool {
        match &self.model {
            Model::ExpresswayLog(l) => l.entries > 0,
            Model::Dump(d) => !d.settings.is_empty(),
            Model::CmsLog(l) => l.entries > 0,
            Model::WebrtcDump(d) => d.as_ref().is_some_and(|d| !d.peer_connections.is_empty()),
        }
    }
}

/// Read a document of a known kind from a stream. A read error ends it where it happened
/// and is kept in [`Document::error`].
pub fn read(name: &str, kind: DocKind, r: impl std::io::Read) -> Document {
    let mut r = ErrorKept {
        inner: r,
        error: None,
    };
    let model = match kind {
        DocKind::ExpresswayLog => {
            Model::ExpresswayLog(expressway::parse_log(&mut r).unwrap_or_default())
        }
        DocKind::ExpresswayConfig | DocKind::ExpresswayStatus => {
            Model::Dump(expressway::parse_dump(&mut r).unwrap_or_default())
        }
        DocKind::CmsLog => Model::CmsLog(cmslog::parse(&mut r).unwrap_or_default()),
        DocKind::WebrtcDump => {
            let dump = read_webrtc(&mut r);
            let dump = match dump {
                Ok(d) => Some(Box::new(d)),
                Err(e) => {
                    r.error.get_or_insert(e);
                    None
                }
            };
            Model::WebrtcDump(dump)
        }
    };
    Document {
        name: name.to_string(),
        kind,
        model,
        error: r.error,
    }
}

/// A webrtc-internals dump is JSON (or gzip of it): read whole, up to
/// [`webrtc::MAX_DUMP_BYTES`], then parsed.
fn read_webrtc(r: &mut impl std::io::Read) -> Result<webrtc::WebrtcDump, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    r.take(webrtc::MAX_DUMP_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > webrtc::MAX_DUMP_BYTES {
        return Err(format!("dump larger than {} bytes", webrtc::MAX_DUMP_BYTES));
    }
    webrtc::parse(&bytes).map_err(|e| e.to_string())
}

/// A reader that ends at its first error and keeps it, so that a parser keeps what it read.
struct ErrorKept<R> {
    inner: R,
    error: Option<String>,
}

impl<R: std::io::Read> std::io::Read for ErrorKept<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => {
                self.error = Some(e.to_string());
                Ok(0)
            }
            other => other,
        }
    }
}
