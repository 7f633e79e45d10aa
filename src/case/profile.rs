//! The TURN server's profile for one case: what the command line says, else what the
//! Expressway's configuration and status dumps say, each item with where it came from. The
//! TURN port and the relay port range configure the case ([`Profile::hints`]); the LAN
//! addresses and static NAT name the Expressway's interfaces in the captures' labels.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::flow::case::ServerHints;
use crate::sources::expressway::{Found, ServerConfig};
use crate::sources::{DocKind, Document, Model};

use super::AnalyzeOptions;

/// One item of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileItem {
    /// `turn_port`, `realm`, `relay_ports`, `protocol_mode`, `turn_mode`, `lan_address`,
    /// `static_nat`, `static_nat_mode`, `dual_nic`, `version`, `option_key`, `relay_usage`.
    pub item: Cow<'static, str>,
    /// The value as the flag or the dump gives it (`3478`, `24000-29999`, `On`).
    pub value: String,
    /// `--turn-port` (a flag), or `DOCUMENT line N (KEY PATH)`.
    pub source: String,
    /// False when a flag or an earlier document gave this item already.
    pub used: bool,
}

/// The profile, and the values that configure the case.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Every value found, in the order read, with where it came from (`server_profile[]`).
    pub items: Vec<ProfileItem>,
    /// The TURN port the case is read with (a flag first, else the configuration).
    pub turn_port: Option<u16>,
    /// The relay port range, inclusive (`--relay-ports`, else the media port range).
    pub relay_ports: Option<(u16, u16)>,
    /// The TURN realm (`--realm`, else the configuration's).
    pub realm: Option<String>,
    /// LAN number -> its address, static NAT address, whether static NAT is on.
    lans: Vec<Lan>,
    /// Whether the Expressway uses two NICs (LAN1 and LAN2); `None` when no dump says.
    pub dual_nic: Option<bool>,
}

#[derive(Debug, Clone, Default)]
struct Lan {
    number: u32,
    address: Option<String>,
    static_nat: Option<String>,
}

fn where_found<T>(doc: &str, f: &Found<T>) -> String {
    format!("{doc} line {} ({})", f.line, f.key)
}

impl Profile {
    /// Flags first, then the dumps among `documents` in order.
    pub fn build(opts: &AnalyzeOptions, documents: &[Document]) -> Profile {
        let mut p = Profile::default();
        if let Some(port) = opts.turn_port {
            p.turn_port = Some(port);
            p.push("turn_port", port.to_string(), "--turn-port".into(), true);
        }
        if let Some((lo, hi)) = opts.relay_ports {
            p.relay_ports = Some((lo, hi));
            p.push(
                "relay_ports",
                format!("{lo}-{hi}"),
                "--relay-ports".into(),
                true,
            );
        }
        if let Some(r) = &opts.realm {
            p.realm = Some(r.clone());
            p.push("realm", r.clone(), "--realm".into(), true);
        }
        for doc in documents {
            let (Model::Dump(dump), DocKind::ExpresswayConfig | DocKind::ExpresswayStatus) =
                (&doc.model, doc.kind)
            else {
                continue;
            };
            p.add(&doc.name, &ServerConfig::from_dumps([dump]));
        }
        p
    }

    fn push(&mut self, item: &'static str, value: String, source: String, used: bool) {
        self.items.push(ProfileItem {
            item: item.into(),
            value,
            source,
            used,
        });
    }

    fn add(&mut self, doc: &str, c: &ServerConfig) {
        for f in &c.turn_ports {
            let plain = f.value.transport.is_none_or(|t| t == "udp");
            let used = plain && self.turn_port.is_none();
            if used {
                self.turn_port = Some(f.value.port);
            }
            let value = match f.value.transport {
                Some(t) => format!("{} ({t})", f.value.port),
                None => f.value.port.to_string(),
            };
            self.push("turn_port", value, where_found(doc, f), used);
        }
        if let (Some(lo), Some(hi)) = (&c.relay_start, &c.relay_end) {
            let used = self.relay_ports.is_none() && lo.value <= hi.value;
            if used {
                self.relay_ports = Some((lo.value, hi.value));
            }
            let source = format!("{}, {}", where_found(doc, lo), where_found(doc, hi));
            self.push(
                "relay_ports",
                format!("{}-{}", lo.value, hi.value),
                source,
                used,
            );
        }
        if let Some(f) = &c.realm {
            let used = self.realm.is_none();
            if used {
                self.realm = Some(f.value.clone());
            }
            self.push("realm", f.value.clone(), where_found(doc, f), used);
        }
        self.add_text(doc, c);
        self.add_lans(doc, c);
    }

    /// Items that configure nothing but the reader's understanding.
    fn add_text(&mut self, doc: &str, c: &ServerConfig) {
        let first = |items: &[ProfileItem], item: &str| !items.iter().any(|i| i.item == item);
        for (item, f) in [
            ("turn_mode", &c.turn_mode),
            ("protocol_mode", &c.protocol_mode),
            ("version", &c.version),
        ] {
            if let Some(f) = f {
                let used = first(&self.items, item);
                self.push(item, f.value.clone(), where_found(doc, f), used);
            }
        }
        if let Some(f) = &c.dual_nic {
            let used = self.dual_nic.is_none();
            if used {
                self.dual_nic = Some(f.value);
            }
            let value = if f.value { "on" } else { "off" };
            self.push("dual_nic", value.into(), where_found(doc, f), used);
        }
        for f in &c.option_keys {
            self.push("option_key", f.value.clone(), where_found(doc, f), true);
        }
        for f in &c.relay_usage {
            self.push("relay_usage", f.value.clone(), where_found(doc, f), true);
        }
    }

    fn add_lans(&mut self, doc: &str, c: &ServerConfig) {
        for (item, list) in [
            ("lan_address", &c.lan_addresses),
            ("static_nat", &c.static_nat),
            ("static_nat_mode", &c.static_nat_mode),
        ] {
            for f in list {
                let number = f.value.lan;
                let lan = match self.lans.iter_mut().position(|l| l.number == number) {
                    Some(i) => &mut self.lans[i],
                    None => {
                        self.lans.push(Lan {
                            number,
                            ..Lan::default()
                        });
                        let last = self.lans.len() - 1;
                        &mut self.lans[last]
                    }
                };
                let slot = match item {
                    "lan_address" => Some(&mut lan.address),
                    "static_nat" => Some(&mut lan.static_nat),
                    _ => None,
                };
                let used = slot.as_ref().is_none_or(|s| s.is_none());
                if let (Some(slot), true) = (slot, used) {
                    *slot = Some(f.value.value.clone());
                }
                let value = format!("LAN{number} {}", f.value.value);
                self.push(item, value, where_found(doc, f), used);
            }
        }
    }

    /// The server description the case is built with: the port and range from a flag or
    /// the configuration count as given.
    pub fn hints(&self) -> ServerHints {
        ServerHints::given(self.turn_port, self.relay_ports)
    }

    /// What a capture taken on the Expressway's `eth<n>` is: `eth1 = LAN2 (external: static
    /// NAT 198.51.100.10, address 172.16.245.61)`.
    pub fn interface_label(&self, interface: u32) -> String {
        let number = interface.saturating_add(1);
        let head = format!("Expressway eth{interface} = LAN{number}");
        let lan = self.lans.iter().find(|l| l.number == number);
        let nat_elsewhere = self
            .lans
            .iter()
            .any(|l| l.number != number && l.static_nat.is_some());
        let mut parts = Vec::new();
        match (lan.and_then(|l| l.static_nat.as_deref()), nat_elsewhere) {
            (Some(nat), _) => parts.push(format!("external: static NAT {nat}")),
            (None, true) => parts.push("internal".to_string()),
            (None, false) if self.dual_nic == Some(true) || self.lans.is_empty() => {
                parts.push(if number == 1 {
                    "on a dual-NIC Expressway-E usually the internal interface".to_string()
                } else {
                    "on a dual-NIC Expressway-E usually the external interface".to_string()
                })
            }
            (None, false) => {}
        }
        if let Some(address) = lan.and_then(|l| l.address.as_deref()) {
            parts.push(format!("address {address}"));
        }
        if parts.is_empty() {
            head
        } else {
            format!("{head} ({})", parts.join(", "))
        }
    }
}
