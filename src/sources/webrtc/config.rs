//! The ICE configuration of a peer connection: its STUN/TURN servers and transport policy.
//!
//! Chrome wrote it in three ways: text (`{ iceServers: [turn:..., stun:...],
//! iceTransportPolicy: relay, ... }`, Chrome 5x to 11x), JSON in a string
//! (`{"iceServers":[{"urls":["turn:..."]}],"iceTransportPolicy":"relay"}`, newer), and that same
//! JSON as an object (the RTCStats dump's `create` event). Credentials are never read: Chrome does
//! not write them, and where another writer does (`credential`, or a password in a URL's user
//! part) turnscope leaves them out of the model.

use serde::Serialize;
use serde_json::Value;

use super::model::{IceConfig, IceServer, IceServerScheme, IceTransportPolicy, TransportProtocol};

/// How many ICE server URLs one configuration keeps.
pub const MAX_ICE_SERVERS: usize = 64;

/// Which of Chrome's forms the configuration was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSyntax {
    /// Chrome's text form: `{ iceServers: [...], iceTransportPolicy: relay, ... }`.
    Text,
    /// A JSON object.
    Json,
}

/// Parse an `rtcConfiguration` (or the older `servers`) value of a dump.
pub fn parse_config(value: &Value) -> IceConfig {
    match value {
        Value::String(s) => parse_config_str(s),
        Value::Object(_) => from_json(value),
        // Older records kept the configuration as an array of servers.
        Value::Array(_) => from_json(&serde_json::json!({ "iceServers": value })),
        _ => IceConfig::default(),
    }
}

fn parse_config_str(s: &str) -> IceConfig {
    let t = s.trim();
    if t.starts_with("{\"") || t == "{}" {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return from_json(&v);
        }
    }
    from_text(t)
}

/// `{ iceServers: [a, b], iceTransportPolicy: relay, ... }` or a bare `[a, b]` list.
fn from_text(t: &str) -> IceConfig {
    let mut config = IceConfig {
        syntax: Some(ConfigSyntax::Text),
        ..IceConfig::default()
    };
    let list = match t.find("iceServers:") {
        Some(at) => &t[at..],
        None => t,
    };
    if let (Some(open), Some(close)) = (list.find('['), list.find(']')) {
        if open < close {
            for url in list[open + 1..close].split(',') {
                push_server(&mut config, url.trim(), None);
            }
        }
    }
    if let Some(policy) = text_field(t, "iceTransportPolicy") {
        config.transport_policy = Some(IceTransportPolicy::parse(policy));
    }
    config
}

/// The value after `name: ` up to the next comma or closing brace.
fn text_field<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}:");
    let at = t.find(&key)? + key.len();
    let rest = &t[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

fn from_json(v: &Value) -> IceConfig {
    let mut config = IceConfig {
        syntax: Some(ConfigSyntax::Json),
        ..IceConfig::default()
    };
    let servers = v.get("iceServers").and_then(Value::as_array);
    for server in servers.into_iter().flatten() {
        // RTCIceServer: `urls` (string or array), or the legacy `url`; `username` may be shown.
        // `credential` is deliberately never looked at.
        let username = server.get("username").and_then(Value::as_str);
        let urls = server.get("urls").or_else(|| server.get("url"));
        match urls {
            Some(Value::String(u)) => push_server(&mut config, u, username),
            Some(Value::Array(list)) => {
                for u in list.iter().filter_map(Value::as_str) {
                    push_server(&mut config, u, username);
                }
            }
            _ => {}
        }
    }
    if let Some(policy) = v.get("iceTransportPolicy").and_then(Value::as_str) {
        config.transport_policy = Some(IceTransportPolicy::parse(policy));
    }
    config
}

fn push_server(config: &mut IceConfig, url: &str, username: Option<&str>) {
    if url.is_empty() {
        return;
    }
    if config.servers.len() >= MAX_ICE_SERVERS {
        config.servers_dropped += 1;
        return;
    }
    let mut server = parse_ice_url(url);
    if server.username.is_none() {
        server.username = username.map(str::to_string);
    }
    config.servers.push(server);
}

/// `scheme:[user@]host[:port][?transport=udp|tcp]` (RFC 7064, RFC 7065). What does not parse is
/// kept with scheme `Unknown` and the text as host.
pub fn parse_ice_url(url: &str) -> IceServer {
    let url = url.trim();
    let (scheme_text, rest) = url.split_once(':').unwrap_or(("", url));
    let scheme = IceServerScheme::parse(scheme_text);
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    // A user part (old Chrome accepted `turn:user@host`): the name may be shown, a password
    // after `user:` never is, not even in the URL kept.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let username = userinfo.map(|u| u.split(':').next().unwrap_or("").to_string());
    let (host, port) = split_host_port(hostport.trim_start_matches("//"));
    let transport = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("transport="))
        .map(TransportProtocol::parse);
    let shown = match userinfo {
        Some(_) => {
            let user = username.as_deref().unwrap_or("");
            let q = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            format!("{scheme_text}:{user}@{hostport}{q}")
        }
        None => url.to_string(),
    };
    IceServer {
        url: shown,
        scheme,
        host: host.to_string(),
        port,
        transport,
        username: username.filter(|u| !u.is_empty()),
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some(inner) = s.strip_prefix('[') {
        return match inner.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address, no port.
        Some((h, _)) if h.contains(':') => (s, None),
        Some((h, p)) => (h, p.parse().ok()),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_configuration_of_older_chromes() {
        let c = parse_config(&Value::String(
            "{ iceServers: [turn:198.51.100.10:3478?transport=udp, stun:stun.example.org], \
             iceTransportPolicy: relay, bundlePolicy: balanced, rtcpMuxPolicy: require, \
             iceCandidatePoolSize: 0, sdpSemantics: \"unified-plan\" }"
                .into(),
        ));
        assert_eq!(c.syntax, Some(ConfigSyntax::Text));
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.servers[0].scheme, IceServerScheme::Turn);
        assert_eq!(c.servers[0].host, "198.51.100.10");
        assert_eq!(c.servers[0].port, Some(3478));
        assert_eq!(c.servers[0].transport, Some(TransportProtocol::Udp));
        assert_eq!(c.servers[1].scheme, IceServerScheme::Stun);
        assert_eq!(c.servers[1].port, None);
        assert_eq!(c.transport_policy, Some(IceTransportPolicy::Relay));
    }

    #[test]
    fn json_configuration_never_keeps_the_credential() {
        let v: Value = serde_json::from_str(
            r#"{"iceServers":[{"urls":["turns:vcse.example.com:443?transport=tcp"],
                "username":"turnuser","credential":"cisco"},{"url":"turn:alice:s3cret@[2001:db8::1]:3479"}]}"#,
        )
        .unwrap();
        let c = parse_config(&v);
        let text = format!("{c:?}");
        assert!(
            !text.contains("cisco") && !text.contains("s3cret"),
            "{text}"
        );
        assert_eq!(c.servers[0].username.as_deref(), Some("turnuser"));
        assert_eq!(
            c.servers[0].relay_protocol(),
            Some(super::super::model::RelayProtocol::Tls)
        );
        assert_eq!(c.servers[0].port_or_default(), 443);
        assert_eq!(c.servers[1].host, "2001:db8::1");
        assert_eq!(c.servers[1].port, Some(3479));
        assert_eq!(c.servers[1].username.as_deref(), Some("alice"));
        assert_eq!(c.servers[1].url, "turn:alice@[2001:db8::1]:3479");
        assert_eq!(c.transport_policy, None);
    }
}
