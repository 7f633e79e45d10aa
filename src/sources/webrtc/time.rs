//! When something happened, as a dump says it. Newer Chromes write milliseconds since the Unix
//! epoch (UTC) or ISO 8601 UTC strings; older ones wrote `Date.toLocaleString()`: the browser's
//! local time in the browser's language, with no zone, which cannot be made absolute and is kept
//! as written. Its wall-clock reading ([`EventTime::wall_clock`]: ISO 8601 without zone, US
//! English locale) is placed on a capture's clock only by an offset estimated from events
//! joined with the capture (`diagnose::browser::join`), which then holds the zone.

use std::fmt;

use serde::Serialize;

use crate::sources::clock::civil_from_days;

/// An absolute instant: microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct UtcTime {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub micros: i64,
}

/// Earliest and latest plausible dump times (1990 and 2200): numbers outside are not times.
const MIN_MILLIS: f64 = 631_152_000_000.0;
const MAX_MILLIS: f64 = 7_258_118_400_000.0;

impl UtcTime {
    /// From milliseconds since the epoch (what `Date.now()` and the dumps' numbers are).
    pub fn from_millis(ms: f64) -> Option<UtcTime> {
        if !(MIN_MILLIS..=MAX_MILLIS).contains(&ms) {
            return None;
        }
        Some(UtcTime {
            micros: (ms * 1000.0).round() as i64,
        })
    }

    /// Milliseconds since the epoch (what `Date.now()` gives).
    pub fn millis(self) -> f64 {
        self.micros as f64 / 1000.0
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (JSON's `Date.toJSON()` form), as the stats series write it.
    pub fn parse_iso(s: &str) -> Option<UtcTime> {
        let b = s.trim().as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let digits = b.get(from..from + len)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        };
        let sep_ok = b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && matches!(b.get(10), Some(b'T') | Some(b' '))
            && b.get(13) == Some(&b':')
            && b.get(16) == Some(&b':');
        if !sep_ok || b.last() != Some(&b'Z') {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        // Optional fraction: ".mmm" (any number of digits) before the Z.
        let mut micros = 0i64;
        if b.get(19) == Some(&b'.') {
            let frac = b.get(20..b.len() - 1)?;
            if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for (i, d) in frac.iter().take(6).enumerate() {
                micros += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
            }
        } else if b.len() != 20 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(60);
        let micros = secs * 1_000_000 + micros;
        // The same plausibility range as numeric times.
        UtcTime::from_millis(micros as f64 / 1000.0)?;
        Some(UtcTime { micros })
    }
}

impl fmt::Display for UtcTime {
    /// ISO 8601 in UTC with milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.micros.div_euclid(1_000_000);
        let millis = self.micros.rem_euclid(1_000_000) / 1000;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// When an event happened: absolute where the dump says so, else the text it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum EventTime {
    /// An absolute time the dump gave in milliseconds or ISO form.
    Utc(UtcTime),
    /// `Date.toLocaleString()` of an older Chrome: local time, zone and format unknown.
    LocalText(String),
}

impl EventTime {
    /// The absolute time, None for local-time text.
    pub fn utc(&self) -> Option<UtcTime> {
        match self {
            EventTime::Utc(t) => Some(*t),
            EventTime::LocalText(_) => None,
        }
    }

    /// A local time without zone read as a wall-clock reading: the instant it would be if the
    /// browser's clock were on UTC. Only its difference to another clock means anything (the
    /// zone offset plus the clocks' drift), which is how a join with a capture places it; never
    /// a time on its own. `None` for a UTC time or a text in no known shape.
    pub fn wall_clock(&self) -> Option<UtcTime> {
        match self {
            EventTime::Utc(_) => None,
            EventTime::LocalText(text) => parse_wall_clock(text),
        }
    }
}

/// `2026-11-29T18:13:41.258` or `2026-11-29 18:13:41` (ISO 8601 without a zone), or
/// `11/29/2026, 6:13:41 PM` (`toLocaleString()` in US English), as a wall-clock reading.
fn parse_wall_clock(text: &str) -> Option<UtcTime> {
    let text = text.trim();
    let zoned = text.ends_with('Z') || text.get(19..).is_some_and(|t| t.contains(['+', '-']));
    if zoned {
        return None;
    }
    UtcTime::parse_iso(&format!("{text}Z")).or_else(|| parse_us_locale(text))
}

/// `M/D/YYYY, h:mm:ss AM|PM` (Chrome's `toLocaleString()` in US English).
fn parse_us_locale(text: &str) -> Option<UtcTime> {
    let (date, rest) = text.split_once(", ")?;
    let (clock, half) = rest.trim().split_once(' ')?;
    let mut d = date.split('/').map(|p| p.parse::<i64>().ok());
    let (month, day, year) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hour12, minute, second) = (c.next()??, c.next()??, c.next()??);
    if d.next().is_some() || c.next().is_some() || !(1..=12).contains(&hour12) {
        return None;
    }
    let hour = match half {
        "AM" => hour12 % 12,
        "PM" => hour12 % 12 + 12,
        _ => return None,
    };
    let iso = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
    UtcTime::parse_iso(&iso)
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventTime::Utc(t) => t.fmt(f),
            EventTime::LocalText(s) => write!(f, "{s} (browser local time)"),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_millis_agree() {
        let iso = UtcTime::parse_iso("2026-11-29T17:12:25.341Z").unwrap();
        let ms = UtcTime::from_millis(1_795_972_345_341.0).unwrap();
        assert_eq!(iso, ms);
        assert_eq!(iso.to_string(), "2026-11-29T17:12:25.341Z");
    }

    #[test]
    fn local_times_without_zone_are_wall_clock_readings_only() {
        let reading = UtcTime::parse_iso("2026-11-29T18:13:41.258Z");
        for text in ["2026-11-29T18:13:41.258", "2026-11-29 18:13:41.258"] {
            let t = EventTime::LocalText(text.into());
            assert_eq!(t.utc(), None, "{text}: not pretended UTC");
            assert_eq!(t.wall_clock(), reading, "{text}");
        }
        let us = EventTime::LocalText("11/29/2026, 6:13:41 PM".into());
        assert_eq!(us.wall_clock(), UtcTime::parse_iso("2026-11-29T18:13:41Z"));
        let midnight = EventTime::LocalText("1/15/2020, 12:26:42 AM".into());
        assert_eq!(
            midnight.wall_clock(),
            UtcTime::parse_iso("2020-01-15T00:26:42Z")
        );
        for zoned in [
            "2026-11-29T18:13:41+01:00",
            "2026-11-29T18:13:41Z",
            "15.1.2020, 10:26:42",
        ] {
            assert_eq!(
                EventTime::LocalText(zoned.into()).wall_clock(),
                None,
                "{zoned}"
            );
        }
    }

    #[test]
    fn not_times() {
        for s in [
            "",
            "2026-11-29",
            "2026-13-01T00:00:00Z",
            "x026-11-29T17:12:25.341Z",
        ] {
            assert_eq!(UtcTime::parse_iso(s), None, "{s}");
        }
        assert_eq!(UtcTime::from_millis(f64::NAN), None);
        assert_eq!(UtcTime::from_millis(12.0), None);
    }

    #[test]
    fn leap_day_round_trip() {
        let t = UtcTime::parse_iso("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T23:59:59.000Z");
    }
}
