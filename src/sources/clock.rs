//! Times as logs write them: a date and a wall-clock time, with a zone offset when the log
//! states one (Expressway: `UTCTime="…"`, ISO 8601 with `+01:00`), without one when it does
//! not (the CMS web admin's export is in the CMS's local time), and without a year in
//! classic syslog. Parsed by hand: a few fixed shapes, no allocation.

use serde::Serialize;

const NANOS: i64 = 1_000_000_000;

/// A time read from a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LogTime {
    /// Nanoseconds since the epoch of the wall-clock fields, read as if they were UTC.
    pub wall_ns: i64,
    /// The zone offset the log states (seconds east of UTC), when it states one.
    pub offset_secs: Option<i32>,
    /// False for classic syslog dates, which have no year (1970 stands in).
    pub year_known: bool,
}

impl LogTime {
    /// The time in UTC (nanoseconds since the epoch), when the log says its zone.
    pub fn utc_ns(&self) -> Option<i64> {
        let offset = i64::from(self.offset_secs?);
        Some(self.wall_ns.saturating_sub(offset.saturating_mul(NANOS)))
    }

    /// `2017-05-20 19:43:21.805` (UTC when the zone is known, else the wall clock).
    pub fn display(&self) -> String {
        let ns = self.utc_ns().unwrap_or(self.wall_ns);
        let zone = match self.offset_secs {
            Some(_) => " UTC",
            None => " (local, zone not stated)",
        };
        format!("{}{zone}", format_ns(ns))
    }
}

impl LogTime {
    /// A time without a year (classic syslog) placed in the year, of the one before or
    /// the one after `near_ns`, whichever puts it nearest; other times as they are.
    pub fn placed_near(self, near_ns: i64) -> LogTime {
        if self.year_known {
            return self;
        }
        let day_ns = 86_400 * NANOS;
        let (_, m, d) = civil_from_days(self.wall_ns.div_euclid(day_ns));
        let of_day = self.wall_ns.rem_euclid(day_ns);
        let (year, _, _) = civil_from_days(near_ns.div_euclid(day_ns));
        let best = [year - 1, year, year + 1]
            .into_iter()
            .map(|y| days_from_civil(y, m, d) * day_ns + of_day)
            .min_by_key(|w| w.abs_diff(near_ns))
            .unwrap_or(self.wall_ns);
        LogTime {
            wall_ns: best,
            year_known: true,
            ..self
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` of nanoseconds since the epoch.
pub fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(NANOS);
    let millis = ns.rem_euclid(NANOS) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; the inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// `YYYY-MM-DD` at the start of `s`: days since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let y = digits(s, 4)?;
    let m = digits(s.get(5..)?, 2)?;
    let d = digits(s.get(8..)?, 2)?;
    let seps = (s.as_bytes().get(4), s.as_bytes().get(7));
    if seps != (Some(&b'-'), Some(&b'-')) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

/// `HH:MM:SS` with an optional fraction (`.` or `,`, up to 9 digits) at the start of `s`:
/// nanoseconds into the day, and the bytes used.
pub fn parse_clock(s: &str) -> Option<(i64, usize)> {
    let h = digits(s, 2)?;
    let m = digits(s.get(3..)?, 2)?;
    let sec = digits(s.get(6..)?, 2)?;
    let b = s.as_bytes();
    if (b.get(2), b.get(5)) != (Some(&b':'), Some(&b':')) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut ns = (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec)) * NANOS;
    let mut used = 8;
    if matches!(b.get(8), Some(b'.') | Some(b',')) {
        let frac: Vec<u8> = b
            .iter()
            .skip(9)
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        if frac.is_empty() {
            return Some((ns, used));
        }
        used = 9 + frac.len();
        let mut value: i64 = 0;
        for (i, c) in frac.iter().take(9).enumerate() {
            value += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
        ns += value;
    }
    Some((ns, used))
}

/// A zone designator at the start of `s` (`Z`, `+01:00`, `-0500`): seconds east of UTC and
/// the bytes used.
fn parse_zone(s: &str) -> Option<(i32, usize)> {
    let b = s.as_bytes();
    match b.first()? {
        b'Z' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let h = digits(s.get(1..)?, 2)?;
            let (m, used) = match b.get(3) {
                Some(b':') => (digits(s.get(4..)?, 2)?, 6),
                _ => (digits(s.get(3..)?, 2)?, 5),
            };
            let secs = (h * 3600 + m * 60) as i32;
            Some((if *sign == b'-' { -secs } else { secs }, used))
        }
        _ => None,
    }
}

/// A date and time at the start of `s`: `YYYY-MM-DD` then `T`, a space or tabs, then the
/// clock and an optional zone. Returns the time and the bytes used.
pub fn parse_date_time(s: &str) -> Option<(LogTime, usize)> {
    let days = parse_date(s)?;
    let rest = s.get(10..)?;
    let sep = rest
        .bytes()
        .take_while(|b| matches!(b, b'T' | b' ' | b'\t'))
        .count();
    if sep == 0 || (sep > 1 && rest.starts_with('T')) {
        return None;
    }
    let (of_day, clock_used) = parse_clock(rest.get(sep..)?)?;
    let mut used = 10 + sep + clock_used;
    let offset = match s.get(used..).and_then(parse_zone) {
        Some((secs, n)) => {
            used += n;
            Some(secs)
        }
        None => None,
    };
    let time = LogTime {
        wall_ns: days * 86_400 * NANOS + of_day,
        offset_secs: offset,
        year_known: true,
    };
    Some((time, used))
}

/// A classic syslog time at the start of `s` (`Apr 15 10:34:56`, optional fraction), with
/// no year; returns it and the bytes used.
pub fn parse_syslog_time(s: &str) -> Option<(LogTime, usize)> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| s.starts_with(m))? as u32 + 1;
    let rest = s.get(3..)?;
    let spaces = rest.bytes().take_while(|b| *b == b' ').count();
    let day_part = rest.get(spaces..)?;
    let day_len = day_part.bytes().take_while(|b| b.is_ascii_digit()).count();
    let day: u32 = day_part.get(..day_len)?.parse().ok()?;
    if spaces == 0 || !(1..=31).contains(&day) || day_part.as_bytes().get(day_len) != Some(&b' ') {
        return None;
    }
    let (of_day, clock_used) = parse_clock(day_part.get(day_len + 1..)?)?;
    let used = 3 + spaces + day_len + 1 + clock_used;
    let time = LogTime {
        wall_ns: days_from_civil(1970, month, day) * 86_400 * NANOS + of_day,
        offset_secs: None,
        year_known: false,
    };
    Some((time, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for (y, m, d) in [(1970, 1, 1), (2017, 5, 20), (2000, 2, 29), (2026, 11, 29)] {
            let days = days_from_civil(y, m, d);
            assert_eq!(civil_from_days(days), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            format_ns(1_495_309_401_805_000_000),
            "2017-05-20 19:43:21.805"
        );
    }

    #[test]
    fn shapes_logs_write() {
        let (t, n) = parse_date_time("2017-05-20\t19:43:21.805\tWarning").unwrap();
        assert_eq!(
            (t.wall_ns, t.offset_secs, n),
            (1_495_309_401_805_000_000, None, 23)
        );
        let (t, _) = parse_date_time("2026-11-29T10:00:01.234567+01:00 expe tvcs:").unwrap();
        assert_eq!(t.offset_secs, Some(3600));
        assert_eq!(format_ns(t.utc_ns().unwrap()), "2026-11-29 09:00:01.234");
        let (t, _) = parse_date_time("2017-02-17 19:37:06,384").unwrap();
        assert_eq!(format_ns(t.wall_ns), "2017-02-17 19:37:06.384");
        let (t, _) = parse_syslog_time("Apr 15 10:34:56.536 cms1").unwrap();
        assert!(!t.year_known);
        assert_eq!(format_ns(t.wall_ns), "1970-04-15 10:34:56.536");
        for bad in [
            "2017-13-01 10:00:00",
            "2017-05-20x10:00:00",
            "10:61:00",
            "",
            "Foo 1 1",
        ] {
            assert!(parse_date_time(bad).is_none(), "{bad}");
        }
        assert!(parse_syslog_time("Apr 15 25:00:00").is_none());
        let near = parse_date_time("2027-01-02 00:00:00").unwrap().0.wall_ns;
        let placed = parse_syslog_time("Dec 31 23:00:00")
            .unwrap()
            .0
            .placed_near(near);
        assert_eq!(format_ns(placed.wall_ns), "2026-12-31 23:00:00.000");
    }
}
