//! Diagnostic bundles: .tar, .tar.gz, .tgz (nested too) read in memory. Captures inside are
//! found by their magic number, not their names; entry names are only used as labels, never as
//! paths to write to. Decompression is capped: a gzip bomb is refused with a clear message.

use std::io::Read;

/// Default cap on what one bundle may decompress to, all members together: 4 GiB.
pub const DEFAULT_LIMIT: u64 = 4 << 30;
/// Bundles inside bundles, at most this deep.
pub const MAX_DEPTH: usize = 4;

/// A capture found in a bundle: its label (`bundle!member/path`) and bytes.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("{name}: decompresses to more than {limit} bytes (the limit): refused, possibly a gzip bomb")]
    TooLarge { name: String, limit: u64 },
    #[error("{name}: corrupt {what}: {detail}")]
    Corrupt {
        name: String,
        what: &'static str,
        detail: String,
    },
    #[error("{name}: nested more than {MAX_DEPTH} bundles deep")]
    TooDeep { name: String },
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pcap,
    PcapNg,
    Gzip,
    Tar,
    Other,
}

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

/// True for the formats [`expand`] opens.
pub fn is_bundle(b: &[u8]) -> bool {
    matches!(sniff(b), Kind::Gzip | Kind::Tar)
}

/// Everything found in a bundle: captures, and the members skipped (label, why).
#[derive(Debug, Default)]
pub struct Expanded {
    pub captures: Vec<Member>,
    pub skipped: Vec<(String, String)>,
}

/// Open a bundle held in memory. `name` labels the members (`name!path`).
pub fn expand(name: &str, bytes: &[u8], limit: u64) -> Result<Expanded, BundleError> {
    let mut out = Expanded::default();
    let mut budget = limit;
    walk(name, bytes, limit, &mut budget, 0, &mut out)?;
    Ok(out)
}

fn gunzip(name: &str, bytes: &[u8], limit: u64, budget: &mut u64) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    // MultiGzDecoder: concatenated members are one stream, as gzip(1) reads them.
    let dec = flate2::read::MultiGzDecoder::new(bytes);
    let mut take = dec.take(*budget + 1);
    take.read_to_end(&mut out)
        .map_err(|e| BundleError::Corrupt {
            name: name.to_string(),
            what: "gzip stream",
            detail: e.to_string(),
        })?;
    if out.len() as u64 > *budget {
        return Err(BundleError::TooLarge {
            name: name.to_string(),
            limit,
        });
    }
    *budget -= out.len() as u64;
    Ok(out)
}

fn walk(
    name: &str,
    bytes: &[u8],
    limit: u64,
    budget: &mut u64,
    depth: usize,
    out: &mut Expanded,
) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Err(BundleError::TooDeep {
            name: name.to_string(),
        });
    }
    match sniff(bytes) {
        Kind::Pcap | Kind::PcapNg => {
            out.captures.push(Member {
                name: name.to_string(),
                bytes: bytes.to_vec(),
            });
            Ok(())
        }
        Kind::Gzip => {
            let inner = gunzip(name, bytes, limit, budget)?;
            match sniff(&inner) {
                Kind::Pcap | Kind::PcapNg => {
                    out.captures.push(Member {
                        name: name.to_string(),
                        bytes: inner,
                    });
                    Ok(())
                }
                Kind::Other => {
                    out.skipped.push((
                        name.to_string(),
                        "gzip of neither a capture nor a tar".into(),
                    ));
                    Ok(())
                }
                _ => walk(name, &inner, limit, budget, depth + 1, out),
            }
        }
        Kind::Tar => untar(name, bytes, limit, budget, depth, out),
        Kind::Other => {
            out.skipped
                .push((name.to_string(), "not a capture or bundle".into()));
            Ok(())
        }
    }
}

fn untar(
    name: &str,
    bytes: &[u8],
    limit: u64,
    budget: &mut u64,
    depth: usize,
    out: &mut Expanded,
) -> Result<(), BundleError> {
    let corrupt = |detail: String| BundleError::Corrupt {
        name: name.to_string(),
        what: "tar archive",
        detail,
    };
    let mut ar = tar::Archive::new(bytes);
    let entries = ar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        // The entry name is a label only: nothing is ever written to it.
        let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let label = format!("{name}!{member}");
        let size = entry.header().size().unwrap_or(0);
        if size > *budget {
            return Err(BundleError::TooLarge { name: label, limit });
        }
        // Sniff before reading everything: only captures and bundles are kept.
        let mut head = vec![0u8; 512.min(size as usize)];
        entry
            .read_exact(&mut head)
            .map_err(|e| corrupt(format!("{member}: {e}")))?;
        let kind = sniff(&head);
        if kind == Kind::Other {
            out.skipped.push((label, "not a capture or bundle".into()));
            continue;
        }
        let mut data = head;
        data.reserve((size as usize).saturating_sub(data.len()));
        entry
            .read_to_end(&mut data)
            .map_err(|e| corrupt(format!("{member}: {e}")))?;
        *budget = budget.saturating_sub(data.len() as u64);
        walk(&label, &data, limit, budget, depth + 1, out)?;
    }
    Ok(())
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
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("gzip bomb"));
    }

    #[test]
    fn dotdot_names_are_labels_only() {
        let t = tar_of(&[("evil.pcap", &pcap())]);
        // Rewrite the name to a traversal path after building (the builder refuses "..").
        let mut t = t;
        let evil = b"../../etc/evil.pcap";
        t[..100].fill(0);
        t[..evil.len()].copy_from_slice(evil);
        let mut h = tar::Header::from_byte_slice(&t[..512]).clone();
        h.set_cksum();
        t[..512].copy_from_slice(h.as_bytes());
        let e = expand("b.tar", &t, DEFAULT_LIMIT).unwrap();
        assert_eq!(e.captures[0].name, "b.tar!../../etc/evil.pcap");
    }
}
