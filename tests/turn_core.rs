//! The TURN core driven message by message with explicit times.

mod turn_support;

use std::time::Duration;

use turn_support::*;
use turnscope::turn::{
    Config, DropReason, FiveTuple, Handled, PeerPolicy, Profile, Reason, Transport,
};
use turnscope::wire::{attr, ChannelData, Class, Message, MessageBuilder, Method};

#[test]
fn binding_answers_with_the_reflexive_address() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::BINDING);
    let r = c.send(&mut s, t(0), &b.build());
    let m = r.msg();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(m.xor_mapped_address(), Some(addr("192.0.2.1:40000")));
    assert!(!m.has_integrity());
    assert_eq!(r.handled.answer().unwrap().reason, Reason::Binding);
}

#[test]
fn legacy_binding_gets_mapped_address() {
    let mut s = server(config());
    let mut req = vec![0, 1, 0, 0];
    req.extend_from_slice(&[7; 16]);
    let h = s.handle_client(
        t(0),
        Transport::Udp,
        addr("192.0.2.1:1"),
        server_addr(),
        &req,
    );
    assert!(matches!(h, Handled::Answered(_)));
    let o = drain(&mut s, t(0));
    let m = Message::parse(&o.to_client[0].1).unwrap();
    assert!(m.is_rfc3489());
    assert_eq!(m.address(attr::MAPPED_ADDRESS), Some(addr("192.0.2.1:1")));
}

#[test]
fn allocate_challenge_then_success() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let r = c.send(&mut s, t(0), &b.fingerprint());
    assert_eq!(r.code(), Some(401));
    let m = r.msg();
    assert_eq!(m.realm(), Some(REALM));
    assert!(m.nonce().is_some());
    assert!(!m.has_integrity(), "a challenge carries no integrity");
    assert_eq!(r.handled.answer().unwrap().reason, Reason::Challenge);
    assert!(
        r.outs.events.is_empty(),
        "a first challenge is not logged as a refusal"
    );

    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = c.sign(b);
    let h = s.handle_client(t(1), Transport::Udp, c.five.client, c.five.server, &bytes);
    assert_eq!(h, Handled::Pending, "the answer waits for the relay socket");
    let o = drain(&mut s, t(1));
    assert_eq!(o.binds.len(), 1);
    let relay = o.binds[0];
    assert_eq!(relay.ip().to_string(), "198.51.100.10");
    assert!((50000..=50099).contains(&relay.port()));
    let m = Message::parse(&o.to_client[0].1).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(m.xor_relayed_address(), Some(relay));
    assert_eq!(m.xor_mapped_address(), Some(c.five.client));
    assert_eq!(m.lifetime(), Some(600));
    assert!(m.has_integrity());
    assert!(o.events.iter().any(|e| e.starts_with("allocate ")
        && e.contains("relay=198.51.100.10")
        && e.contains("client=udp:192.0.2.1:40000")));

    // A retransmission gets the same bytes; a new Allocate on the 5-tuple gets 437.
    let h = s.handle_client(t(2), Transport::Udp, c.five.client, c.five.server, &bytes);
    assert_eq!(h.answer().unwrap().reason, Reason::Retransmission);
    let o2 = drain(&mut s, t(2));
    assert_eq!(o2.to_client[0].1, o.to_client[0].1);
    let r = c.allocate_with(&mut s, t(3), |b| b.requested_transport(17));
    assert_eq!(r.code(), Some(437));
    assert!(
        r.msg().has_integrity(),
        "errors after authentication are signed"
    );
    assert_eq!(s.allocation_count(), 1);
}

#[test]
fn sha256_integrity_is_answered_in_kind() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.sha256 = true;
    let r = c.allocate(&mut s, t(0));
    assert_eq!(r.code(), None);
    assert!(r.msg().has(attr::MESSAGE_INTEGRITY_SHA256));
}

#[test]
fn wrong_password_is_401_in_rfc_and_431_in_expressway() {
    for (profile, code) in [(Profile::Rfc, 401), (Profile::Expressway, 431)] {
        let mut cfg = config();
        cfg.profile = profile;
        let mut s = server(cfg);
        let mut c = Client::new("192.0.2.1:40000");
        c.pass = "wrong".into();
        let r = c.allocate(&mut s, t(0));
        assert_eq!(r.code(), Some(code), "{profile}");
        assert!(!r.msg().has_integrity());
        assert_eq!(
            r.handled.answer().unwrap().reason,
            Reason::IntegrityFailed { user: USER.into() }
        );
        assert!(r
            .outs
            .events
            .iter()
            .any(|e| e.contains(&format!("code={code}"))));
        assert_eq!(s.allocation_count(), 0);
    }
}

#[test]
fn expressway_profile_defaults() {
    let c = Config::new(Profile::Expressway);
    assert_eq!(c.realm, "TANDBERG");
    assert_eq!(c.relay_ports, 24000..=29999);
    assert_eq!(c.max_allocations, Some(1800));
}

#[test]
fn realm_mismatch_and_unknown_user() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.realm = "other".into();
    let r = c.allocate(&mut s, t(0));
    assert_eq!(r.code(), Some(401));
    assert!(matches!(
        r.handled.answer().unwrap().reason,
        Reason::RealmMismatch { .. }
    ));
    let mut c = Client::new("192.0.2.1:40001");
    c.user = "mallory".into();
    let r = c.allocate(&mut s, t(0));
    assert_eq!(r.code(), Some(401));
    assert_eq!(
        r.handled.answer().unwrap().reason,
        Reason::UnknownUser("mallory".into())
    );
}

#[test]
fn missing_auth_attributes_are_400() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let key = c.key();
    let b = c
        .request(Method::ALLOCATE)
        .requested_transport(17)
        .username(USER)
        .integrity(&key);
    let r = c.send(&mut s, t(0), &b.fingerprint());
    assert_eq!(r.code(), Some(400));
}

#[test]
fn stale_nonce_gets_438_with_a_fresh_nonce() {
    let mut s = server_with_nonce_lifetime(config(), 60);
    let mut c = Client::new("192.0.2.1:40000");
    assert_eq!(c.allocate(&mut s, t(0)).code(), None);
    let old = c.nonce.clone();
    assert_eq!(c.refresh(&mut s, t(59), None).code(), None);
    let r = c.refresh(&mut s, t(60), None);
    assert_eq!(r.code(), Some(438));
    assert_ne!(c.nonce, old);
    assert!(r.msg().realm().is_some());
    assert!(r.outs.events.is_empty(), "nonce rotation is routine");
    // The retry with the new nonce works.
    let r = c.refresh(&mut s, t(61), None);
    assert_eq!(r.code(), None);
    // A nonce the server never issued is no better.
    c.nonce = b"made-up".to_vec();
    assert_eq!(c.refresh(&mut s, t(62), None).code(), Some(438));
}

#[test]
fn requests_on_someone_elses_allocation_get_441() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    assert_eq!(c.allocate(&mut s, t(0)).code(), None);
    c.user = "bob".into();
    c.pass = "hunter2".into();
    let r = c.refresh(&mut s, t(1), None);
    assert_eq!(r.code(), Some(441));
    assert!(r.msg().has_integrity());
    assert_eq!(c.permit(&mut s, t(1), &["203.0.113.5:1"]).code(), Some(441));
}

#[test]
fn no_allocation_is_437() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::REFRESH);
    c.send(&mut s, t(0), &b.fingerprint());
    let r = c.refresh(&mut s, t(0), None);
    assert_eq!(r.code(), Some(437));
    assert_eq!(c.permit(&mut s, t(0), &["203.0.113.5:1"]).code(), Some(437));
    assert_eq!(
        c.bind(&mut s, t(0), 0x4000, "203.0.113.5:1").code(),
        Some(437)
    );
}

#[test]
fn transport_and_family_errors() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE);
    c.send(&mut s, t(0), &b.fingerprint());
    assert_eq!(c.allocate_with(&mut s, t(0), |b| b).code(), Some(400));
    assert_eq!(
        c.allocate_with(&mut s, t(0), |b| b.requested_transport(6))
            .code(),
        Some(442)
    );
    // IPv6 requested, no IPv6 relay address.
    let r = c.allocate_with(&mut s, t(0), |b| {
        b.requested_transport(17)
            .attr(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0])
    });
    assert_eq!(r.code(), Some(440));
    let r = c.allocate_with(&mut s, t(0), |b| {
        b.requested_transport(17)
            .attr(attr::REQUESTED_ADDRESS_FAMILY, &[9, 0, 0, 0])
    });
    assert_eq!(r.code(), Some(440));
    // Dual allocation: the IPv4 relay, and ADDRESS-ERROR-CODE for IPv6.
    let r = c.allocate_with(&mut s, t(0), |b| {
        b.requested_transport(17)
            .attr(attr::ADDITIONAL_ADDRESS_FAMILY, &[2, 0, 0, 0])
    });
    assert_eq!(r.code(), None);
    assert!(r.msg().has(attr::ADDRESS_ERROR_CODE));
    // An IPv6 peer on an IPv4 relay.
    let r = c.permit(&mut s, t(1), &["[2001:db8::1]:5000"]);
    assert_eq!(r.code(), Some(443));
    let r = c.bind(&mut s, t(1), 0x4001, "[2001:db8::1]:5000");
    assert_eq!(r.code(), Some(443));
    let r = c.refresh_family(&mut s);
    assert_eq!(r.code(), Some(443));
}

trait RefreshFamily {
    fn refresh_family(&mut self, s: &mut turnscope::turn::Server) -> Reply;
}

impl RefreshFamily for Client {
    fn refresh_family(&mut self, s: &mut turnscope::turn::Server) -> Reply {
        let b = self
            .request(Method::REFRESH)
            .attr(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0]);
        self.call(s, t(1), b)
    }
}

#[test]
fn ipv6_relay_when_configured() {
    let mut cfg = config();
    cfg.relay_v6 = Some("2001:db8::10".parse().unwrap());
    let mut s = server(cfg);
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE);
    c.send(&mut s, t(0), &b.fingerprint());
    let r = c.allocate_with(&mut s, t(0), |b| {
        b.requested_transport(17)
            .attr(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0])
    });
    assert_eq!(r.code(), None);
    assert!(r.relay().is_ipv6());
    assert_eq!(c.permit(&mut s, t(1), &["203.0.113.5:1"]).code(), Some(443));
    assert_eq!(c.permit(&mut s, t(1), &["[2001:db8::5]:1"]).code(), None);
}

#[test]
fn per_user_quota_is_486() {
    let mut cfg = config();
    cfg.user_quota = Some(2);
    let mut s = server(cfg);
    for (i, want) in [(0, None), (1, None), (2, Some(486))] {
        let mut c = Client::new(&format!("192.0.2.1:{}", 40000 + i));
        let r = c.allocate(&mut s, t(0));
        assert_eq!(r.code(), want);
        if want.is_some() {
            assert!(matches!(
                r.handled.answer().unwrap().reason,
                Reason::UserQuota {
                    held: 2,
                    quota: 2,
                    ..
                }
            ));
        }
    }
    // Another user is not affected; freeing one allocation frees quota.
    let mut b = Client::new("192.0.2.9:1");
    b.user = "bob".into();
    b.pass = "hunter2".into();
    assert_eq!(b.allocate(&mut s, t(0)).code(), None);
    let mut c0 = Client::new("192.0.2.1:40000");
    c0.fetch_nonce(&mut s, t(1));
    let r = c0.refresh(&mut s, t(1), Some(0));
    assert_eq!(r.code(), None);
    assert_eq!(r.msg().lifetime(), Some(0));
    assert_eq!(
        Client::new("192.0.2.1:40005").allocate(&mut s, t(1)).code(),
        None
    );
}

#[test]
fn port_exhaustion_and_licence_cap_are_508() {
    let mut cfg = config();
    cfg.relay_ports = 50000..=50001;
    let mut s = server(cfg);
    for (i, want) in [(0, None), (1, None), (2, Some(508))] {
        let r = Client::new(&format!("192.0.2.1:{}", 40000 + i)).allocate(&mut s, t(0));
        assert_eq!(r.code(), want);
    }
    let mut cfg = Config::new(Profile::Expressway).credential(USER, PASS);
    cfg.realm = REALM.into();
    cfg.max_allocations = Some(2);
    let mut s = server(cfg);
    for (i, want) in [(0, None), (1, None), (2, Some(508))] {
        let r = Client::new(&format!("192.0.2.1:{}", 40000 + i)).allocate(&mut s, t(0));
        assert_eq!(r.code(), want);
        if want.is_some() {
            assert_eq!(
                r.handled.answer().unwrap().reason,
                Reason::Capacity { cap: 2 }
            );
        }
    }
}

#[test]
fn relay_bind_failure_moves_to_another_port_then_gives_up() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    c.send(&mut s, t(0), &b.fingerprint());
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = c.sign(b);
    s.handle_client(t(0), Transport::Udp, c.five.client, c.five.server, &bytes);
    let mut first = true;
    let o = drain_with(&mut s, t(0), |_| !std::mem::replace(&mut first, false));
    assert_eq!(o.binds.len(), 2);
    assert_ne!(o.binds[0], o.binds[1]);
    let m = Message::parse(&o.to_client[0].1).unwrap();
    assert_eq!(m.xor_relayed_address(), Some(o.binds[1]));

    let mut c = Client::new("192.0.2.1:40001");
    c.fetch_nonce(&mut s, t(0));
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = c.sign(b);
    s.handle_client(t(0), Transport::Udp, c.five.client, c.five.server, &bytes);
    let o = drain_with(&mut s, t(0), |_| false);
    assert_eq!(o.binds.len(), 8);
    let m = Message::parse(&o.to_client[0].1).unwrap();
    assert_eq!(m.error_code().map(|e| e.0), Some(508));
    assert_eq!(s.allocation_count(), 1);
    assert!(o.releases.is_empty(), "never-bound relays are not released");
}

#[test]
fn a_bind_that_fails_for_lack_of_descriptors_blocks_no_port() {
    use turnscope::turn::{BindFailure, Output};
    let mut cfg = config();
    cfg.relay_ports = 50000..=50000;
    let mut s = server(cfg);
    // The only port fails for lack of descriptors: 508 at once, no other port tried.
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    c.send(&mut s, t(0), &b.fingerprint());
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = c.sign(b);
    s.handle_client(t(0), Transport::Udp, c.five.client, c.five.server, &bytes);
    let mut binds = Vec::new();
    let mut answer = None;
    while let Some(out) = s.poll_output() {
        match out {
            Output::BindRelay { relay } => {
                binds.push(relay);
                answer = s.relay_bind_failed(t(0), relay, BindFailure::NoDescriptors);
            }
            Output::ToClient { bytes, .. } => {
                let m = Message::parse(&bytes).unwrap();
                assert_eq!(m.error_code().map(|e| e.0), Some(508));
            }
            _ => {}
        }
    }
    assert_eq!(binds.len(), 1);
    let answer = answer.expect("answered");
    assert_eq!(
        (answer.code, answer.reason),
        (Some(508), Reason::NoDescriptors)
    );
    // Descriptors are back: the same port serves the next Allocate (a port in use would be
    // skipped for a minute).
    let r = Client::new("192.0.2.1:40001").allocate(&mut s, t(1));
    assert_eq!(r.code(), None);
    assert_eq!(r.relay().port(), 50000);
    let mut cfg = config();
    cfg.relay_ports = 50000..=50000;
    let mut s = server(cfg);
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    c.send(&mut s, t(0), &b.fingerprint());
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = c.sign(b);
    s.handle_client(t(0), Transport::Udp, c.five.client, c.five.server, &bytes);
    while let Some(out) = s.poll_output() {
        if let Output::BindRelay { relay } = out {
            s.relay_bind_failed(t(0), relay, BindFailure::PortInUse);
        }
    }
    let r = Client::new("192.0.2.1:40001").allocate(&mut s, t(1));
    assert_eq!(r.code(), Some(508), "a port in use is skipped");
}

#[test]
fn peer_policy_denies_loopback_private_multicast_with_403() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.allocate(&mut s, t(0));
    for p in [
        "127.0.0.1:5000",
        "10.1.2.3:5000",
        "224.0.0.5:5000",
        "0.0.0.0:1",
    ] {
        let r = c.permit(&mut s, t(1), &[p]);
        assert_eq!(r.code(), Some(403), "{p}");
        assert_eq!(c.bind(&mut s, t(1), 0x4000, p).code(), Some(403), "{p}");
    }
    // One denied peer fails the whole request: nothing is installed.
    let r = c.permit(&mut s, t(1), &["203.0.113.5:1", "127.0.0.1:1"]);
    assert_eq!(r.code(), Some(403));
    let relay = s.allocations()[0].relay;
    assert!(!s.has_permission(relay, "203.0.113.5".parse().unwrap(), t(1)));

    let mut cfg = config();
    cfg.peer_policy = PeerPolicy {
        allow_loopback: true,
        ..PeerPolicy::default()
    };
    let mut s = server(cfg);
    let mut c = Client::new("192.0.2.1:40000");
    c.allocate(&mut s, t(0));
    assert_eq!(c.permit(&mut s, t(1), &["127.0.0.1:5000"]).code(), None);
    assert_eq!(c.permit(&mut s, t(1), &["10.0.0.1:5000"]).code(), Some(403));
}

#[test]
fn lifetimes_are_clamped() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    c.send(&mut s, t(0), &b.fingerprint());
    let r = c.allocate_with(&mut s, t(0), |b| b.requested_transport(17).lifetime(7200));
    assert_eq!(r.msg().lifetime(), Some(3600));
    assert_eq!(
        c.refresh(&mut s, t(1), Some(60)).msg().lifetime(),
        Some(600)
    );
    assert_eq!(
        c.refresh(&mut s, t(1), Some(1000)).msg().lifetime(),
        Some(1000)
    );
    assert_eq!(c.refresh(&mut s, t(1), None).msg().lifetime(), Some(600));
}

#[test]
fn allocation_expires_by_the_time_passed_in() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    assert_eq!(s.poll_timeout(), Some(t(600)));
    s.handle_timeout(t(599));
    assert_eq!(s.allocation_count(), 1);
    s.handle_timeout(t(600));
    let o = drain(&mut s, t(600));
    assert_eq!(o.releases, vec![relay]);
    assert!(o.events.iter().any(|e| e.contains("reason=expired")));
    assert_eq!(s.allocation_count(), 0);
    assert_eq!(c.refresh(&mut s, t(600), None).code(), Some(437));
}

#[test]
fn an_expired_allocation_relays_nothing_even_before_the_timer() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    c.refresh(&mut s, t(0), None);
    c.permit(&mut s, t(0), &["203.0.113.5:1"]);
    // Refresh at 0 keeps the allocation until 600; the permission ends at 300.
    let h = s.handle_peer(t(299), relay, addr("203.0.113.5:9"), b"x");
    assert_eq!(h, Handled::Relayed);
    drain(&mut s, t(299));
    let h = s.handle_peer(t(300), relay, addr("203.0.113.5:9"), b"x");
    assert_eq!(
        h,
        Handled::Dropped(DropReason::NoPermission("203.0.113.5".parse().unwrap()))
    );
    c.permit(&mut s, t(500), &["203.0.113.5:1"]);
    // The permission lasts to 800 but the allocation ends at 600.
    let h = s.handle_peer(t(600), relay, addr("203.0.113.5:9"), b"x");
    assert_eq!(h, Handled::Dropped(DropReason::NoAllocation));
    assert_eq!(s.allocation_count(), 0);
    let o = drain(&mut s, t(600));
    assert_eq!(o.releases, vec![relay]);
}

#[test]
fn permissions_send_and_data_indications() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    // Without a permission nothing passes, either way.
    let ind = c.send_indication("203.0.113.5:3480", b"hello");
    let (h, o) = c.push(&mut s, t(1), &ind);
    assert_eq!(
        h,
        Handled::Dropped(DropReason::NoPermission("203.0.113.5".parse().unwrap()))
    );
    assert!(o.to_peer.is_empty());
    let h = s.handle_peer(t(1), relay, addr("203.0.113.5:3480"), b"x");
    assert!(matches!(h, Handled::Dropped(DropReason::NoPermission(_))));

    let r = c.permit(&mut s, t(10), &["203.0.113.5:1", "203.0.113.6:1"]);
    assert_eq!(r.code(), None);
    assert_eq!(
        r.outs
            .events
            .iter()
            .filter(|e| e.starts_with("permission "))
            .count(),
        2
    );
    let (h, o) = c.push(&mut s, t(11), &ind);
    assert_eq!(h, Handled::Relayed);
    assert_eq!(
        o.to_peer,
        vec![(relay, addr("203.0.113.5:3480"), b"hello".to_vec())]
    );
    // Any port of a permitted IP comes back as a Data indication.
    s.handle_peer(t(12), relay, addr("203.0.113.5:9999"), b"back");
    let o = drain(&mut s, t(12));
    let m = Message::parse(&o.to_client[0].1).unwrap();
    assert_eq!((m.method(), m.class()), (Method::DATA, Class::Indication));
    assert_eq!(
        m.xor_peer_addresses().next(),
        Some(addr("203.0.113.5:9999"))
    );
    assert_eq!(m.data(), Some(&b"back"[..]));
    // 300 s after the last CreatePermission it is gone.
    assert_eq!(
        s.handle_peer(t(309), relay, addr("203.0.113.5:1"), b"x"),
        Handled::Relayed
    );
    drain(&mut s, t(309));
    assert!(matches!(
        s.handle_peer(t(310), relay, addr("203.0.113.5:1"), b"x"),
        Handled::Dropped(DropReason::NoPermission(_))
    ));
    // Sweeping frees it.
    s.handle_timeout(t(310));
    assert!(s.allocations()[0].permissions.is_empty());
}

#[test]
fn channels_relay_both_ways_and_obey_rebinding_rules() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    let peer = "203.0.113.5:3480";
    let r = c.bind(&mut s, t(1), 0x4000, peer);
    assert_eq!(r.code(), None);
    assert!(r
        .outs
        .events
        .iter()
        .any(|e| e.starts_with("channel ") && e.contains("peer=203.0.113.5:3480")));
    // ChannelData to the peer, and back as ChannelData.
    let (h, o) = c.push(
        &mut s,
        t(2),
        &turnscope::wire::encode::channel_data(0x4000, b"abc", false),
    );
    assert_eq!(h, Handled::Relayed);
    assert_eq!(o.to_peer, vec![(relay, addr(peer), b"abc".to_vec())]);
    s.handle_peer(t(2), relay, addr(peer), b"xyz");
    let o = drain(&mut s, t(2));
    let cd = ChannelData::parse(&o.to_client[0].1, false).unwrap();
    assert_eq!((cd.channel, cd.data), (0x4000, &b"xyz"[..]));
    // Unbound channel: dropped.
    let (h, _) = c.push(
        &mut s,
        t(2),
        &turnscope::wire::encode::channel_data(0x4001, b"abc", false),
    );
    assert_eq!(h, Handled::Dropped(DropReason::NoChannel(0x4001)));

    // Rebinding rules.
    assert_eq!(c.bind(&mut s, t(3), 0x4000, peer).code(), None, "refresh");
    assert_eq!(
        c.bind(&mut s, t(3), 0x4000, "203.0.113.6:1").code(),
        Some(400)
    );
    assert_eq!(c.bind(&mut s, t(3), 0x4001, peer).code(), Some(400));
    assert_eq!(
        c.bind(&mut s, t(3), 0x3FFF, "203.0.113.6:1").code(),
        Some(400)
    );
    assert_eq!(
        c.bind(&mut s, t(3), 0x8000, "203.0.113.6:1").code(),
        Some(400)
    );
    assert_eq!(c.bind(&mut s, t(3), 0x7FFF, "203.0.113.6:1").code(), None);

    // Keep the allocation alive, let the channel expire (600 s after t=3).
    c.refresh(&mut s, t(500), Some(3600));
    c.permit(&mut s, t(500), &[peer]);
    let (h, _) = c.push(
        &mut s,
        t(603),
        &turnscope::wire::encode::channel_data(0x4000, b"a", false),
    );
    assert_eq!(h, Handled::Dropped(DropReason::NoChannel(0x4000)));
    // Data from the peer now arrives as a Data indication (the permission is live).
    s.handle_peer(t(603), relay, addr(peer), b"q");
    let o = drain(&mut s, t(603));
    assert_eq!(
        Message::parse(&o.to_client[0].1).unwrap().method(),
        Method::DATA
    );
    // Quarantine: for 300 s the channel can only be rebound to the same peer.
    assert_eq!(
        c.bind(&mut s, t(700), 0x4000, "203.0.113.6:2").code(),
        Some(400)
    );
    assert_eq!(c.bind(&mut s, t(700), 0x4002, peer).code(), Some(400));
    s.handle_timeout(t(903));
    assert_eq!(c.bind(&mut s, t(903), 0x4000, "203.0.113.6:2").code(), None);
}

#[test]
fn tcp_channel_data_is_padded_and_disconnect_deletes() {
    let mut s = server(config());
    let mut c = Client::on(Transport::Tcp, "192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    c.bind(&mut s, t(1), 0x4000, "203.0.113.5:3480");
    // A padded frame from the client.
    let (h, o) = c.push(
        &mut s,
        t(2),
        &turnscope::wire::encode::channel_data(0x4000, b"abcde", true),
    );
    assert_eq!(h, Handled::Relayed);
    assert_eq!(o.to_peer[0].2, b"abcde");
    s.handle_peer(t(2), relay, addr("203.0.113.5:3480"), b"12345");
    let o = drain(&mut s, t(2));
    assert_eq!(o.to_client[0].1.len(), 12, "4 + 5 + 3 padding");
    s.handle_disconnect(t(3), c.five);
    let o = drain(&mut s, t(3));
    assert_eq!(o.releases, vec![relay]);
    assert!(o.events.iter().any(|e| e.contains("reason=disconnected")));
    // A UDP client on the same address is another 5-tuple.
    let other = FiveTuple {
        transport: Transport::Udp,
        ..c.five
    };
    assert!(s.allocation_by_client(&other).is_none());
}

#[test]
fn malformed_input_is_answered_with_400_or_dropped() {
    let mut s = server(config());
    let client = addr("192.0.2.1:1");
    // A request header whose attribute overruns the body.
    let mut bad = MessageBuilder::new(
        Method::ALLOCATE,
        Class::Request,
        turnscope::wire::TransactionId::new([1; 12]),
    )
    .username("x")
    .build();
    bad[22] = 0; // USERNAME length 0 -> 0x0000 keeps it valid...
    bad[23] = 200; // ...then 200 overruns.
    let h = s.handle_client(t(0), Transport::Udp, client, server_addr(), &bad);
    assert_eq!(h.answer().unwrap().code, Some(400));
    let o = drain(&mut s, t(0));
    assert_eq!(
        Message::parse(&o.to_client[0].1)
            .unwrap()
            .error_code()
            .unwrap()
            .0,
        400
    );
    for junk in [
        &b""[..],
        &[0u8; 3],
        &[0xFF; 40],
        &[0x40, 0, 0, 10, 1],
        &[0, 1, 0, 1],
    ] {
        let h = s.handle_client(t(0), Transport::Udp, client, server_addr(), junk);
        assert!(matches!(h, Handled::Dropped(_)), "{junk:?}: {h:?}");
    }
    assert!(drain(&mut s, t(0)).to_client.is_empty());
    // A response or an unknown indication from a client: ignored.
    let resp = MessageBuilder::new(
        Method::BINDING,
        Class::Success,
        turnscope::wire::TransactionId::new([2; 12]),
    )
    .build();
    assert_eq!(
        s.handle_client(t(0), Transport::Udp, client, server_addr(), &resp),
        Handled::Dropped(DropReason::Ignored)
    );
    // A wrong FINGERPRINT: dropped.
    let mut fp = MessageBuilder::new(
        Method::BINDING,
        Class::Request,
        turnscope::wire::TransactionId::new([3; 12]),
    )
    .fingerprint();
    let n = fp.len();
    fp[n - 1] ^= 1;
    assert_eq!(
        s.handle_client(t(0), Transport::Udp, client, server_addr(), &fp),
        Handled::Dropped(DropReason::BadFingerprint)
    );
    // Unknown method: 400.
    let unk = MessageBuilder::new(
        turnscope::wire::Method(0x0FF),
        Class::Request,
        turnscope::wire::TransactionId::new([4; 12]),
    )
    .build();
    let h = s.handle_client(t(0), Transport::Udp, client, server_addr(), &unk);
    assert_eq!(h.answer().unwrap().code, Some(400));
}

#[test]
fn unknown_comprehension_required_attributes_get_420() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::BINDING).attr(0x7777, &[1, 2, 3, 4]);
    let r = c.send(&mut s, t(0), &b.fingerprint());
    assert_eq!(r.code(), Some(420));
    assert!(r.msg().has(attr::UNKNOWN_ATTRIBUTES));
    // Comprehension-optional ones are fine.
    let b = c.request(Method::BINDING).attr(0xC057, &[1, 2, 3, 4]);
    assert_eq!(c.send(&mut s, t(0), &b.fingerprint()).code(), None);
    // On authenticated methods the 420 comes after authentication and is signed.
    c.allocate(&mut s, t(0));
    let b = c.request(Method::REFRESH).attr(0x7777, &[0; 4]);
    let r = c.call(&mut s, t(1), b);
    assert_eq!(r.code(), Some(420));
    assert!(r.msg().has_integrity());
}

#[test]
fn refresh_zero_deletes_and_releases() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    let r = c.refresh(&mut s, t(5), Some(0));
    assert_eq!(r.code(), None);
    assert_eq!(r.outs.releases, vec![relay]);
    assert!(r.outs.events.iter().any(|e| e.contains("reason=refresh-0")));
    assert_eq!(s.allocation_count(), 0);
    // The port is free again, the 5-tuple can allocate again.
    assert_eq!(
        c.allocate_with(&mut s, t(6), |b| b.requested_transport(17))
            .code(),
        None
    );
}

#[test]
fn timer_queue_tracks_the_earliest_deadline() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.allocate(&mut s, t(0));
    c.permit(&mut s, t(10), &["203.0.113.5:1"]);
    assert_eq!(s.poll_timeout(), Some(t(310)));
    s.handle_timeout(t(310));
    assert_eq!(s.poll_timeout(), Some(t(600)));
    c.refresh(&mut s, t(500), Some(1200));
    s.handle_timeout(t(600));
    assert_eq!(s.allocation_count(), 1);
    assert_eq!(s.poll_timeout(), Some(t(1700)));
    let _ = Duration::ZERO;
}

#[test]
fn even_port_reservations() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    c.send(&mut s, t(0), &b.fingerprint());
    // EVEN-PORT with R: an even relay port, and a token for the next one.
    let r = c.allocate_with(&mut s, t(0), |b| {
        b.requested_transport(17).attr(attr::EVEN_PORT, &[0x80])
    });
    assert_eq!(r.code(), None);
    let relay = r.relay();
    assert_eq!(relay.port() % 2, 0);
    let token = r
        .msg()
        .raw_attribute(attr::RESERVATION_TOKEN)
        .unwrap()
        .value
        .to_vec();
    assert_eq!(token.len(), 8);
    assert_eq!(s.reservation_count(), 1);
    // Another 5-tuple redeems it and gets port + 1.
    let mut c2 = Client::new("192.0.2.1:40001");
    c2.fetch_nonce(&mut s, t(1));
    let r = c2.allocate_with(&mut s, t(1), |b| {
        b.requested_transport(17)
            .attr(attr::RESERVATION_TOKEN, &token)
    });
    assert_eq!(r.code(), None);
    assert_eq!(r.relay().port(), relay.port() + 1);
    assert_eq!(s.reservation_count(), 0);
    // A token redeemed twice, or never issued: 508.
    let mut c3 = Client::new("192.0.2.1:40002");
    c3.fetch_nonce(&mut s, t(1));
    let r = c3.allocate_with(&mut s, t(1), |b| {
        b.requested_transport(17)
            .attr(attr::RESERVATION_TOKEN, &token)
    });
    assert_eq!(r.code(), Some(508));
    // EVEN-PORT without R: even, no token.
    let r = c3.allocate_with(&mut s, t(1), |b| {
        b.requested_transport(17).attr(attr::EVEN_PORT, &[0])
    });
    assert_eq!(r.relay().port() % 2, 0);
    assert!(!r.msg().has(attr::RESERVATION_TOKEN));
    // An unredeemed reservation ends after 30 s and frees its port.
    let mut c4 = Client::new("192.0.2.1:40003");
    c4.fetch_nonce(&mut s, t(2));
    c4.allocate_with(&mut s, t(2), |b| {
        b.requested_transport(17).attr(attr::EVEN_PORT, &[0x80])
    });
    assert_eq!(s.reservation_count(), 1);
    s.handle_timeout(t(31));
    assert_eq!(s.reservation_count(), 1);
    assert_eq!(s.poll_timeout(), Some(t(32)));
    s.handle_timeout(t(32));
    assert_eq!(s.reservation_count(), 0);
    // Both at once is a 400.
    let mut c5 = Client::new("192.0.2.1:40004");
    c5.fetch_nonce(&mut s, t(40));
    let r = c5.allocate_with(&mut s, t(40), |b| {
        b.requested_transport(17)
            .attr(attr::EVEN_PORT, &[0])
            .attr(attr::RESERVATION_TOKEN, &[1; 8])
    });
    assert_eq!(r.code(), Some(400));
}

#[test]
fn only_allocation_events_are_logged() {
    let mut s = server(config());
    let mut bad = MessageBuilder::new(
        Method::ALLOCATE,
        Class::Request,
        turnscope::wire::TransactionId::new([1; 12]),
    )
    .username("x")
    .build();
    bad[23] = 200;
    s.handle_client(
        t(0),
        Transport::Udp,
        addr("192.0.2.1:1"),
        server_addr(),
        &bad,
    );
    let mut c = Client::new("192.0.2.1:2");
    let b = c.request(Method::BINDING).attr(0x7777, &[0; 4]);
    c.send(&mut s, t(0), &b.fingerprint());
    assert!(drain(&mut s, t(0)).events.is_empty());
    c.pass = "nope".into();
    let r = c.allocate(&mut s, t(0));
    assert_eq!(r.outs.events.len(), 1, "{:?}", r.outs.events);
    assert!(r.outs.events[0].starts_with("refuse client=udp:192.0.2.1:2 method=allocate code=401"));
}

#[test]
fn shutdown_ends_every_allocation() {
    let mut s = server(config());
    let r1 = Client::new("192.0.2.1:1").allocate(&mut s, t(0)).relay();
    let r2 = Client::on(Transport::Tcp, "192.0.2.1:2")
        .allocate(&mut s, t(0))
        .relay();
    s.shutdown(t(1));
    let o = drain(&mut s, t(1));
    let mut released = o.releases.clone();
    released.sort();
    let mut want = vec![r1, r2];
    want.sort();
    assert_eq!(released, want);
    assert_eq!(
        o.events
            .iter()
            .filter(|e| e.contains("reason=shutdown"))
            .count(),
        2
    );
    assert_eq!(s.allocation_count(), 0);
}
