//! `turnscope serve --listen ADDR:PORT --credential USER:PASSWORD [--realm R]
//! [--relay-ports A-B] [--relay-address IP] [--profile expressway|rfc]`

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::CliError;
use crate::serve::{self, Serve, ServeOptions};
use crate::turn::{Cidr, Config, Profile};
use crate::wire::Credential;

/// `turnscope serve`: where to listen, the users, and the server's limits.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on, UDP and TCP (repeatable).
    #[arg(long, required = true, value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
    /// Long-term credential (repeatable).
    #[arg(long, required = true, value_name = "USER:PASSWORD", value_parser = parse_credential)]
    pub credential: Vec<Credential>,
    /// Realm (default: the profile's, "turnscope" or "TANDBERG").
    #[arg(long)]
    pub realm: Option<String>,
    /// Relay port range (default: 49152-65535, expressway 24000-29999).
    #[arg(long, value_name = "A-B", value_parser = parse_port_range)]
    pub relay_ports: Option<RangeInclusive<u16>>,
    /// Address to bind relays on: one IPv4 and/or one IPv6 (default: the listen address).
    #[arg(long, value_name = "IP")]
    pub relay_address: Vec<IpAddr>,
    /// Which server to behave like: rfc (401 on integrity failure) or expressway (431).
    #[arg(long, default_value = "rfc", value_parser = parse_profile)]
    pub profile: Profile,
    /// Concurrent allocations per username, 486 beyond it (default: half the relay capacity,
    /// the ports of --relay-ports or --max-allocations if lower; 0: no limit).
    #[arg(long, value_name = "N")]
    pub user_quota: Option<u32>,
    /// Concurrent allocations in total (508 beyond it; expressway default 1800).
    #[arg(long, value_name = "N")]
    pub max_allocations: Option<u32>,
    /// Allow peers on loopback addresses (denied by default).
    #[arg(long)]
    pub allow_loopback_peers: bool,
    /// Allow peers on private networks: RFC 1918, CGNAT, link-local, benchmarking
    /// 198.18.0.0/15, ULA, site-local, local-use NAT64 (denied by default).
    #[arg(long)]
    pub allow_private_peers: bool,
    /// Allow peers in this prefix whatever the other rules say (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub allow_peer: Vec<Cidr>,
    /// Deny peers in this prefix (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub deny_peer: Vec<Cidr>,
    /// Seconds a NONCE stays valid (438 after).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub nonce_lifetime: u64,
    /// Longest allocation lifetime granted, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub max_lifetime: u64,
    /// SOFTWARE attribute on responses.
    #[arg(long)]
    pub software: Option<String>,
    /// Concurrent TCP client connections (also at most half the file descriptors, so that
    /// relays always have some).
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_MAX_TCP_CONNECTIONS)]
    pub max_tcp_connections: usize,
    /// Seconds a TCP connection may stay open without an allocation (after it opened or its
    /// allocation ended) before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = serve::DEFAULT_TCP_ALLOCATE_TIMEOUT.as_secs())]
    pub tcp_allocate_timeout: u64,
    /// TCP connections without an allocation one source (IPv4 address or IPv6 /64) may hold;
    /// more are refused (0: no limit).
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_TCP_BARE_PER_SOURCE)]
    pub tcp_bare_per_source: u32,
    /// Answers to unauthenticated UDP requests (challenges, Binding, errors before
    /// authentication) per second per source IPv4 address or IPv6 /64; 0: no limit.
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_UNAUTH_RATE)]
    pub unauth_rate: u32,
    /// Unauthenticated answers a source may get at once before --unauth-rate applies.
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_UNAUTH_BURST)]
    pub unauth_burst: u32,
}

/// Parse `USER:PASSWORD` (the password may contain `:`).
pub fn parse_credential(s: &str) -> Result<Credential, String> {
    s.parse()
}

/// Parse a profile name: `rfc` or `expressway`.
pub fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

/// Parse a port range `A-B` (A at most B).
pub fn parse_port_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || format!("{s:?} is not a port range A-B");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(format!("{s:?}: need 1 <= A <= B"));
    }
    Ok(a..=b)
}

/// The core configuration the arguments describe.
pub fn config(args: &Args) -> Result<Config, CliError> {
    let mut c = Config::new(args.profile);
    if let Some(r) = &args.realm {
        c.realm = r.clone();
    }
    c.credentials = args.credential.clone();
    if let Some(p) = &args.relay_ports {
        c.relay_ports = p.clone();
    }
    let mut v4 = args.relay_address.iter().find(|ip| ip.is_ipv4()).copied();
    let mut v6 = args.relay_address.iter().find(|ip| ip.is_ipv6()).copied();
    if args.relay_address.is_empty() {
        for l in &args.listen {
            if l.ip().is_unspecified() {
                continue;
            }
            if l.is_ipv4() && v4.is_none() {
                v4 = Some(l.ip());
            }
            if l.is_ipv6() && v6.is_none() {
                v6 = Some(l.ip());
            }
        }
        if v4.is_none() && v6.is_none() {
            return Err(CliError(
                "--relay-address is needed when listening on the unspecified address".into(),
            ));
        }
    }
    if let Some(ip) = v4
        .filter(|ip| ip.is_unspecified())
        .or(v6.filter(|ip| ip.is_unspecified()))
    {
        return Err(CliError(format!(
            "--relay-address {ip}: relays need an address clients can be told"
        )));
    }
    c.relay_v4 = v4;
    c.relay_v6 = v6;
    if args.max_allocations.is_some() {
        c.max_allocations = args.max_allocations;
    }
    c.user_quota = match args.user_quota {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(c.default_user_quota()),
    };
    c.peer_policy.allow_loopback = args.allow_loopback_peers;
    c.peer_policy.allow_private = args.allow_private_peers;
    c.peer_policy.allow = args.allow_peer.clone();
    c.peer_policy.deny = args.deny_peer.clone();
    c.nonce_lifetime = Duration::from_secs(args.nonce_lifetime.max(1));
    c.max_lifetime = Duration::from_secs(args.max_lifetime.max(600));
    if let Some(s) = &args.software {
        c.software = Some(s.clone());
    }
    Ok(c)
}

/// Run the server until interrupted; returns the exit status.
pub fn run(args: Args) -> Result<u8, CliError> {
    let config = config(&args)?;
    let summary = format!(
        "profile={} realm={} relay={} ports={}-{} users={} user-quota={}",
        config.profile,
        config.realm,
        [config.relay_v4, config.relay_v6]
            .iter()
            .flatten()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(","),
        config.relay_ports.start(),
        config.relay_ports.end(),
        config.credentials.len(),
        config
            .user_quota
            .map_or_else(|| "none".to_string(), |q| q.to_string())
    );
    let options = ServeOptions {
        max_tcp_connections: args.max_tcp_connections,
        tcp_allocate_timeout: Duration::from_secs(args.tcp_allocate_timeout.max(1)),
        tcp_bare_per_source: args.tcp_bare_per_source,
        unauth_rate: args.unauth_rate,
        unauth_burst: args.unauth_burst,
        ..ServeOptions::new(args.listen.clone(), config)
    };
    let serve = Serve::bind(options, Box::new(std::io::stdout()))
        .map_err(|e| CliError(format!("cannot listen: {e}")))?;
    let stopper = serve.stopper();
    ctrlc::set_handler(move || stopper.stop())
        .map_err(|e| CliError(format!("cannot install the signal handler: {e}")))?;
    let addrs: Vec<String> = serve.local_addrs().iter().map(|a| a.to_string()).collect();
    // Through the log's writer thread, like every other line.
    serve.log_line(&format!("listen udp+tcp {} {summary}", addrs.join(",")));
    serve.log_line(&serve.limits_line());
    serve
        .run()
        .map_err(|e| CliError(format!("serve stopped: {e}")))?;
    Ok(0)
}
