//! `turnscope decode FILE... [--format table|jsonl] [--stats]`

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::CliError;
use crate::capture::{self, CaptureFile, Event};
use crate::decode::{self, Body, Record, Stats};
use crate::escape;
use crate::input::{self, Input};
use crate::wire::message::split_type;

/// `turnscope decode`: the captures to decode and how to print them.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Captures (pcap, pcapng, gzip), diagnostic bundles, folders of them; `-` reads standard
    /// input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print counts only.
    #[arg(long)]
    pub stats: bool,
}

/// `--format` of `decode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One aligned line per message
    Table,
    /// One JSON object per message, one per line
    Jsonl,
}

/// Decode the captures and print every message (or the counts); returns the exit status.
pub fn run(args: Args) -> Result<u8, CliError> {
    // Open every capture first: an unusable one is reported and the others still decoded.
    let inputs: Vec<Input> = args.files.iter().map(|p| Input::from_arg(p)).collect();
    let resolved = input::resolve(&inputs, capture::bundle::DEFAULT_LIMIT);
    let (captures, mut errors) = resolved.captures_in_memory(capture::bundle::DEFAULT_LIMIT);
    let mut opened: Vec<(String, CaptureFile)> = Vec::new();
    for c in captures {
        let name = c.name.clone();
        match c.open() {
            Ok(f) => opened.push((name, f)),
            Err(e) => errors.push(e),
        }
    }
    for e in &errors {
        eprintln!(
            "turnscope: {}",
            escape::terminal(&format!("{}: {}", e.path, e.reason))
        );
    }
    let usable = opened.len();
    let files: Vec<(&str, &CaptureFile)> = opened.iter().map(|(n, f)| (n.as_str(), f)).collect();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = if args.stats {
        // One plain thread per file; `decode::stats` also walks each file on all cores.
        let stats: Vec<Stats> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .iter()
                .map(|(_, f)| scope.spawn(|| decode::stats(f)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        files
            .iter()
            .zip(&stats)
            .try_for_each(|((name, _), st)| write_stats(&mut out, name, st, args.format))
    } else {
        files
            .iter()
            .try_for_each(|(name, f)| write_records(&mut out, name, f, args.format))
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => {}
        // A closed pipe (e.g. `| head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(CliError(format!("writing output: {e}"))),
    }
    Ok(if usable == 0 { 1 } else { 0 })
}

fn write_records(
    out: &mut impl Write,
    name: &str,
    file: &CaptureFile,
    format: Format,
) -> io::Result<()> {
    let mut err: Option<io::Error> = None;
    if format == Format::Table {
        writeln!(out, "== {}", escape::terminal(name))?;
        writeln!(
            out,
            "{:>7}  {:<15}  {:<4}  {:<47}  {:<24}  details",
            "frame", "time", "prot", "src -> dst", "txid"
        )?;
    }
    let mut on_record = |r: &Record<'_>| {
        if err.is_some() {
            return;
        }
        let res = match format {
            Format::Jsonl => json_line(&mut *out, &decode::record_json(name, r)),
            Format::Table => write_row(&mut *out, r),
        };
        if let Err(e) = res {
            err = Some(e);
        }
    };
    let mut problems = Vec::new();
    decode::for_each_record(file, &mut on_record, |ev| {
        if let Event::Problem(p) = ev {
            problems.push(p.clone());
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    for p in problems.iter().take(50) {
        let frame = p
            .frame
            .map(|f| format!("frame {f}"))
            .unwrap_or_else(|| "file".into());
        eprintln!(
            "turnscope: {}: {frame}: {}",
            escape::terminal(name),
            escape::terminal(&p.kind.to_string())
        );
    }
    if problems.len() > 50 {
        eprintln!(
            "turnscope: {}: {} more problems",
            escape::terminal(name),
            problems.len() - 50
        );
    }
    Ok(())
}

/// One JSON value and a newline. An I/O error keeps its kind (a closed pipe must stay
/// `BrokenPipe`, which ends the output quietly).
fn json_line(out: &mut impl Write, v: &serde_json::Value) -> io::Result<()> {
    escape::write_json_line(&mut *out, v).map_err(|e| match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}

fn write_row(out: &mut impl Write, r: &Record<'_>) -> io::Result<()> {
    let ts = r.ts.as_secs_f64();
    let dir = format!("{} -> {}", r.src, r.dst);
    let carried = r
        .carried_in
        .map(|c| format!("[in {}] ", c.as_str()))
        .unwrap_or_default();
    let (txid, details) = match &r.body {
        Body::Stun(m) => {
            let mut d = Vec::new();
            if let Some(u) = m.username() {
                d.push(format!("user={u}"));
            }
            if let Some(realm) = m.realm() {
                d.push(format!("realm={realm}"));
            }
            for (label, a) in [
                ("relayed", m.xor_relayed_address()),
                ("mapped", m.xor_mapped_address()),
            ] {
                if let Some(a) = a {
                    d.push(format!("{label}={a}"));
                }
            }
            for p in m.xor_peer_addresses() {
                d.push(format!("peer={p}"));
            }
            if let Some(l) = m.lifetime() {
                d.push(format!("lifetime={l}"));
            }
            if let Some(c) = m.channel_number() {
                d.push(format!("channel=0x{c:04x}"));
            }
            if m.has_integrity() {
                d.push("integrity".into());
            }
            let unprotected = decode::unprotected_attribute_names(m);
            if !unprotected.is_empty() {
                d.push(format!("AFTER-INTEGRITY={}", unprotected.join(",")));
            }
            if let crate::wire::FingerprintVerdict::Invalid { .. } = m.verify_fingerprint() {
                d.push("BAD-FINGERPRINT".into());
            }
            (m.transaction_id().to_hex(), d.join(" "))
        }
        _ => (String::new(), String::new()),
    };
    // User names, realms, reason phrases: whatever the sender wrote.
    let text = format!("{} {details}", decode::describe(&r.body));
    let text = escape::terminal(&text);
    writeln!(
        out,
        "{:>7}  {:<15.6}  {:<4}  {:<47}  {:<24}  {carried}{text}",
        r.frame,
        ts,
        r.transport.as_str(),
        dir,
        txid,
    )
}

fn write_stats(out: &mut impl Write, name: &str, st: &Stats, format: Format) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            let hex_keys = |m: &std::collections::BTreeMap<u16, u64>| -> serde_json::Map<String, serde_json::Value> {
                m.iter().map(|(t, n)| (format!("0x{t:04x}"), serde_json::json!(n))).collect()
            };
            let v = serde_json::json!({
                "capture": name,
                "frames": st.frames,
                "stun_messages": st.stun_messages(),
                "stun_by_type": hex_keys(&st.stun_by_type),
                "carried_by_type": hex_keys(&st.carried_by_type),
                "rfc3489": st.rfc3489(),
                "rfc3489_by_type": hex_keys(&st.rfc3489_by_type),
                "channeldata": st.channeldata,
                "malformed": st.malformed,
                "malformed_by_type": hex_keys(&st.malformed_by_type),
                "other": st.other,
                "unreachable": st.unreachable,
                "problems": st.problems,
            });
            json_line(out, &v)
        }
        Format::Table => {
            writeln!(
                out,
                "{}: {} frames, {} STUN messages ({} carried in TURN, {} RFC 3489), {} ChannelData, {} malformed",
                escape::terminal(name),
                st.frames,
                st.stun_messages(),
                st.carried(),
                st.rfc3489(),
                st.channeldata,
                st.malformed
            )?;
            for (t, n) in &st.stun_by_type {
                let (method, class) = split_type(*t);
                writeln!(
                    out,
                    "  0x{t:04x}  {:<32} {n:>9}",
                    format!("{method} {}", class.as_str())
                )?;
            }
            for (t, n) in &st.carried_by_type {
                let (method, class) = split_type(*t);
                writeln!(
                    out,
                    "  0x{t:04x}  {:<32} {n:>9}",
                    format!("{method} {} (carried)", class.as_str())
                )?;
            }
            for (class, n) in &st.other {
                writeln!(out, "  other   {class:<32} {n:>9}")?;
            }
            if st.unreachable > 0 {
                writeln!(
                    out,
                    "  ICMP unreachable                         {:>9}",
                    st.unreachable
                )?;
            }
            if st.problems > 0 {
                writeln!(
                    out,
                    "  reading problems                         {:>9}",
                    st.problems
                )?;
            }
            Ok(())
        }
    }
}
