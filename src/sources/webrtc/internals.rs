//! The "Create Dump" JSON of chrome://webrtc-internals:
//!
//! ```text
//! { ["cpuPerformance", "deviceMemory", "hardwareConcurrency", "timestamp": ms,]   newer Chromes
//!   "getUserMedia": [...],
//!   "PeerConnections": { "<pid>-<lid>": {
//!       "pid", "url", "constraints", "rtcConfiguration" (text or JSON in a string; "servers" in
//!       the oldest), "updateLog": [{"time": locale string | "timestamp": ms, "type", "value"}],
//!       "stats": { "<stats id>-<property>": {"startTime", "endTime", "statsType",
//!                                              "values": "[JSON array in a string]"} } } },
//!   "UserAgent": "...", ["UserAgentData": {...}] }
//! ```
//!
//! Read in one pass with serde visitors: log entries are interpreted as they come and only the
//! last value of the ICE stats properties is kept, so memory follows what is kept, not the size
//! of the file (SDP blobs and thousands of stats samples are never held at once).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::builder::{Built, PcBuilder};
use super::stats::is_kept;
use super::time::{EventTime, UtcTime};
use super::{DumpError, MAX_PEER_CONNECTIONS};

/// What the top level of the file gave.
#[derive(Debug, Default)]
pub struct InternalsDump {
    pub peer_connections: Vec<Built>,
    pub peer_connections_dropped: u64,
    pub user_agent: Option<String>,
    /// The top-level `timestamp` of newer dumps: when the dump was made.
    pub dumped_at: Option<UtcTime>,
    /// The object had a `PeerConnections` or `getUserMedia` key (else it is not a dump).
    looks_like_dump: bool,
}

pub fn parse(text: &[u8]) -> Result<InternalsDump, DumpError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let mut dump = InternalsDump::default();
    TopLevel { dump: &mut dump }
        .deserialize(&mut de)
        .map_err(DumpError::from_json)?;
    de.end().map_err(DumpError::from_json)?;
    if !dump.looks_like_dump {
        return Err(DumpError::NotADump {
            reason: "a JSON object without \"PeerConnections\" or \"getUserMedia\"".into(),
        });
    }
    Ok(dump)
}

struct TopLevel<'a> {
    dump: &'a mut InternalsDump,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a webrtc-internals dump object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "PeerConnections" => {
                    self.dump.looks_like_dump = true;
                    map.next_value_seed(PeerConnections { dump: self.dump })?;
                }
                "getUserMedia" => {
                    self.dump.looks_like_dump = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "UserAgent" => {
                    let v: Value = map.next_value()?;
                    self.dump.user_agent = v.as_str().map(str::to_string);
                }
                "timestamp" => {
                    let v: Value = map.next_value()?;
                    self.dump.dumped_at = v.as_f64().and_then(UtcTime::from_millis);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct PeerConnections<'a> {
    dump: &'a mut InternalsDump,
}

impl<'de> DeserializeSeed<'de> for PeerConnections<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PeerConnections<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of peer connections")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<String>()? {
            if self.dump.peer_connections.len() >= MAX_PEER_CONNECTIONS {
                map.next_value::<IgnoredAny>()?;
                self.dump.peer_connections_dropped += 1;
                continue;
            }
            let mut builder = PcBuilder::new(&id);
            map.next_value_seed(OnePeerConnection {
                builder: &mut builder,
            })?;
            self.dump.peer_connections.push(builder.finish());
        }
        Ok(())
    }
}

struct OnePeerConnection<'a> {
    builder: &'a mut PcBuilder,
}

impl<'de> DeserializeSeed<'de> for OnePeerConnection<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnePeerConnection<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a peer connection record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "url" => {
                    let v: Value = map.next_value()?;
                    if let Some(url) = v.as_str() {
                        self.builder.set_url(url);
                    }
                }
                "rtcConfiguration" | "servers" => {
                    let v: Value = map.next_value()?;
                    self.builder.set_initial_config(&v);
                }
                "updateLog" => map.next_value_seed(UpdateLog {
                    builder: self.builder,
                })?,
                "stats" => map.next_value_seed(Stats {
                    builder: self.builder,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct UpdateLog<'a> {
    builder: &'a mut PcBuilder,
}

impl<'de> DeserializeSeed<'de> for UpdateLog<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UpdateLog<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of log entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // One entry at a time: an SDP blob lives only while its entry is read.
        while let Some(entry) = seq.next_element::<Value>()? {
            let kind = entry.get("type").and_then(Value::as_str).unwrap_or("");
            let value = entry.get("value").unwrap_or(&Value::Null);
            let at = event_time(entry.get("timestamp"), entry.get("time"));
            self.builder.log(kind, value, at);
        }
        Ok(())
    }
}

/// `timestamp` (ms since the epoch, newer) or `time` (older: a locale string; some writers put
/// milliseconds or an ISO string there).
fn event_time(timestamp: Option<&Value>, time: Option<&Value>) -> Option<EventTime> {
    let utc = |v: &Value| match v {
        Value::Number(n) => n.as_f64().and_then(UtcTime::from_millis),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(UtcTime::from_millis)
            .or_else(|| UtcTime::parse_iso(s)),
        _ => None,
    };
    if let Some(t) = timestamp.and_then(utc).or_else(|| time.and_then(utc)) {
        return Some(EventTime::Utc(t));
    }
    match time? {
        Value::String(s) if !s.trim().is_empty() => Some(EventTime::LocalText(s.trim().into())),
        _ => None,
    }
}

struct Stats<'a> {
    builder: &'a mut PcBuilder,
}

impl<'de> DeserializeSeed<'de> for Stats<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Stats<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of stats series")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let Some(series) = SeriesKey::split(&key).filter(|k| is_kept(k.property)) else {
                // Skipped unread: certificates, RTP counters, computed rates.
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let v: Value = map.next_value()?;
            if let Some(last) = last_sample(v.get("values")) {
                let stats_type = v.get("statsType").and_then(Value::as_str);
                let at = v.get("endTime").and_then(|t| match t {
                    Value::String(s) => UtcTime::parse_iso(s),
                    Value::Number(n) => n.as_f64().and_then(UtcTime::from_millis),
                    _ => None,
                });
                self.builder
                    .stat(series.id, stats_type, series.property, last, at);
            }
        }
        Ok(())
    }
}

/// A stats series key: `<stats id>-<property>`. Ids contain no `-` of their own in any Chrome
/// (long `RTCIceCandidatePair_a_b`, short `CPa_b`, legacy `Conn-audio-1-0` keeps the rest), so
/// the property is after the last `-`, except computed ones (`-[bytesSent_in_bits/s]`).
struct SeriesKey<'a> {
    id: &'a str,
    property: &'a str,
}

impl<'a> SeriesKey<'a> {
    fn split(key: &'a str) -> Option<SeriesKey<'a>> {
        let (id, property) = match key.find("-[") {
            Some(at) => (&key[..at], &key[at + 1..]),
            None => key.rsplit_once('-')?,
        };
        (!id.is_empty() && !property.is_empty()).then_some(SeriesKey { id, property })
    }
}

/// The last sample of a series: `values` is a JSON array in a string (or, leniently, an array).
fn last_sample(values: Option<&Value>) -> Option<Value> {
    match values? {
        Value::String(s) => match serde_json::from_str::<Value>(s).ok()? {
            Value::Array(mut a) => a.pop(),
            _ => None,
        },
        Value::Array(a) => a.last().cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keys() {
        let k = SeriesKey::split("CPguJOFObs_qa1uF3hm-state").unwrap();
        assert_eq!((k.id, k.property), ("CPguJOFObs_qa1uF3hm", "state"));
        let k = SeriesKey::split("Conn-audio-1-0-googActiveConnection").unwrap();
        assert_eq!(
            (k.id, k.property),
            ("Conn-audio-1-0", "googActiveConnection")
        );
        let k = SeriesKey::split("T01-[bytesSent_in_bits/s]").unwrap();
        assert_eq!((k.id, k.property), ("T01", "[bytesSent_in_bits/s]"));
        assert!(SeriesKey::split("nodash").is_none());
        assert!(SeriesKey::split("-x").is_none());
    }

    #[test]
    fn event_times() {
        let ms = serde_json::json!(1795972057768.44);
        assert!(matches!(
            event_time(Some(&ms), None),
            Some(EventTime::Utc(_))
        ));
        let local = serde_json::json!("1/15/2020, 10:26:42 AM");
        assert_eq!(
            event_time(None, Some(&local)),
            Some(EventTime::LocalText("1/15/2020, 10:26:42 AM".into()))
        );
    }
}
