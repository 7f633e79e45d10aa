//! Evidence other than packet captures, read from bytes (no file I/O here): what the
//! Expressway-E's diagnostic bundle says besides its tcpdump ([`expressway`]: the log of the
//! logging period, the configuration and status dumps) and what the CMS logged
//! ([`cmslog`]). Each is read in one pass from a `Read`, line by line with bounded lines and
//! a bounded number of events kept (the rest counted), into a typed model; nothing here
//! knows about packets. [`crate::diagnose::logs`] links the models to the flows.
//!
//! Cisco does not publish the exact syntax of these files; the parsers are tolerant (key
//! paths and phrases, not columns) and say how many lines they did not understand.

pub mod clock;
pub mod cmslog;
pub mod expressway;
pub mod lines;
mod xmltree;

pub use clock::LogTime;

/// What kind of document a file is, from its first bytes (and, for the names the
/// Expressway diagnostic bundle documents, its name when the content says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
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
}

impl DocKind {
    pub fn describe(self) -> &'static str {
        match self {
            DocKind::ExpresswayLog => "an Expressway log (loggingsnapshot)",
            DocKind::ExpresswayConfig => "an Expressway configuration dump (xconf)",
            DocKind::ExpresswayStatus => "an Expressway status dump (xstat)",
            DocKind::CmsLog => "a CMS event log",
        }
    }
}

/// The document kind of a file whose first bytes are `head` (a few KiB) and whose name (or
/// bundle member path) is `name`; `None` when it is none of them.
pub fn sniff(head: &[u8], name: &str) -> Option<DocKind> {
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
    pub document: String,
    pub line: u64,
}
