//! Authentication that cannot be replayed or extended (issue #8): what an eavesdropper on the
//! path can do with signed requests it captured, tried against the core.
//!
//! - a signed request replayed from another transport address carries a nonce bound to the
//!   original 5-tuple: 438 with a fresh nonce, nothing allocated, permitted or deleted;
//! - attributes appended after MESSAGE-INTEGRITY (RFC 8489 section 14.5) are ignored: they can
//!   neither name a peer, nor change a lifetime, nor supply a missing attribute, nor make an
//!   unknown comprehension-required attribute count.

mod turn_support;

use turn_support::*;
use turnscope::turn::{Handled, NonceCheck, Reason, Server, Time};
use turnscope::wire::{attr, MessageBuilder, Method};

const PEER: &str = "203.0.113.5:3480";
const EVIL_PEER: &str = "203.0.113.66:9";

/// A signed request (USERNAME, REALM, NONCE, MESSAGE-INTEGRITY) with `extra` appended after the
/// integrity and a FINGERPRINT over all of it, as a middlebox or attacker would append it.
fn signed_then_extended(
    c: &Client,
    b: MessageBuilder,
    extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
) -> Vec<u8> {
    let b = b
        .username(&c.user)
        .realm(&c.realm)
        .nonce(&c.nonce)
        .integrity(&c.key());
    extra(b).fingerprint()
}

/// The request `bytes` sent from `from` instead of the client that signed it.
fn replay_from(s: &mut Server, now: Time, from: &Client, bytes: &[u8]) -> Handled {
    let h = s.handle_client(
        now,
        from.five.transport,
        from.five.client,
        from.five.server,
        bytes,
    );
    drain(s, now);
    h
}

fn is_stale_nonce_for_another_client(h: &Handled) -> bool {
    matches!(
        h.answer(),
        Some(a) if a.code == Some(438) && a.reason == Reason::Nonce(NonceCheck::Unknown)
    )
}

#[test]
fn a_signed_allocate_replayed_from_another_address_allocates_nothing() {
    let mut s = server(config());
    let mut victim = Client::new("192.0.2.1:40000");
    let b = victim.request(Method::ALLOCATE).requested_transport(17);
    victim.send(&mut s, t(0), &b.fingerprint());
    let b = victim.request(Method::ALLOCATE).requested_transport(17);
    let captured = victim.sign(b);
    assert_eq!(victim.send(&mut s, t(0), &captured).code(), None);
    assert_eq!(s.allocation_count(), 1);

    let attacker = Client::new("198.18.0.66:5555");
    let h = replay_from(&mut s, t(1), &attacker, &captured);
    assert!(is_stale_nonce_for_another_client(&h), "{h:?}");
    assert_eq!(s.allocation_count(), 1, "the replay allocated a relay");
    assert!(s.allocation_by_client(&attacker.five).is_none());
}

#[test]
fn a_signed_create_permission_replayed_from_another_address_permits_nothing() {
    let mut s = server(config());
    let mut victim = Client::new("192.0.2.1:40000");
    let relay = victim.allocate(&mut s, t(0)).relay();
    let b = victim
        .request(Method::CREATE_PERMISSION)
        .xor_address(attr::XOR_PEER_ADDRESS, addr(EVIL_PEER));
    let captured = victim.sign(b);
    // Not sent by the victim: only the attacker uses it, from its own socket.
    let attacker = Client::new("198.18.0.66:5555");
    let h = replay_from(&mut s, t(1), &attacker, &captured);
    assert!(is_stale_nonce_for_another_client(&h), "{h:?}");
    assert!(!s.has_permission(relay, addr(EVIL_PEER).ip(), t(1)));
}

#[test]
fn a_peer_appended_after_the_integrity_is_not_permitted() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    let relay = c.allocate(&mut s, t(0)).relay();
    let b = c
        .request(Method::CREATE_PERMISSION)
        .xor_address(attr::XOR_PEER_ADDRESS, addr(PEER));
    let bytes = signed_then_extended(&c, b, |b| {
        b.xor_address(attr::XOR_PEER_ADDRESS, addr(EVIL_PEER))
    });
    assert_eq!(c.send(&mut s, t(1), &bytes).code(), None);
    assert!(s.has_permission(relay, addr(PEER).ip(), t(1)));
    assert!(
        !s.has_permission(relay, addr(EVIL_PEER).ip(), t(1)),
        "an unprotected XOR-PEER-ADDRESS was permitted"
    );

    // Alone after the integrity, it is as if the request named no peer at all.
    let b = c.request(Method::CREATE_PERMISSION);
    let bytes = signed_then_extended(&c, b, |b| {
        b.xor_address(attr::XOR_PEER_ADDRESS, addr(EVIL_PEER))
    });
    assert_eq!(c.send(&mut s, t(2), &bytes).code(), Some(400));
    assert!(!s.has_permission(relay, addr(EVIL_PEER).ip(), t(2)));
}

#[test]
fn a_lifetime_appended_after_the_integrity_deletes_nothing() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.allocate(&mut s, t(0));
    for protected_lifetime in [None, Some(900)] {
        let mut b = c.request(Method::REFRESH);
        if let Some(l) = protected_lifetime {
            b = b.lifetime(l);
        }
        let bytes = signed_then_extended(&c, b, |b| b.lifetime(0));
        let r = c.send(&mut s, t(10), &bytes);
        assert_eq!(r.code(), None);
        assert_ne!(
            r.msg().lifetime(),
            Some(0),
            "the appended LIFETIME 0 counted"
        );
        assert_eq!(s.allocation_count(), 1, "the allocation was deleted");
    }
}

#[test]
fn a_missing_attribute_cannot_be_supplied_after_the_integrity() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.fetch_nonce(&mut s, t(0));
    // REQUESTED-TRANSPORT only after the integrity: the Allocate has none.
    let b = c.request(Method::ALLOCATE);
    let bytes = signed_then_extended(&c, b, |b| b.requested_transport(17));
    let r = c.send(&mut s, t(0), &bytes);
    assert_eq!(r.code(), Some(400));
    assert_eq!(
        r.handled.answer().map(|a| a.reason.clone()),
        Some(Reason::MissingAttribute("REQUESTED-TRANSPORT"))
    );
    assert_eq!(s.allocation_count(), 0);

    // CHANNEL-NUMBER only after the integrity: the ChannelBind has none.
    c.allocate(&mut s, t(1));
    let b = c
        .request(Method::CHANNEL_BIND)
        .xor_address(attr::XOR_PEER_ADDRESS, addr(PEER));
    let bytes = signed_then_extended(&c, b, |b| b.channel_number(0x4000));
    let r = c.send(&mut s, t(2), &bytes);
    assert_eq!(r.code(), Some(400));
    assert_eq!(
        r.handled.answer().map(|a| a.reason.clone()),
        Some(Reason::MissingAttribute("CHANNEL-NUMBER"))
    );
}

#[test]
fn an_unknown_attribute_after_the_integrity_is_ignored_not_420() {
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.fetch_nonce(&mut s, t(0));
    let b = c.request(Method::ALLOCATE).requested_transport(17);
    let bytes = signed_then_extended(&c, b, |b| b.attr(0x0031, b"zz"));
    assert_eq!(c.send(&mut s, t(0), &bytes).code(), None);
}

#[test]
fn the_signing_client_itself_keeps_working() {
    // The nonce binding must not get in a legitimate client's way: its own retries verify, and
    // a client that moves (NAT rebinding) gets a fresh nonce and goes on.
    let mut s = server(config());
    let mut c = Client::new("192.0.2.1:40000");
    c.allocate(&mut s, t(0));
    assert_eq!(c.refresh(&mut s, t(5), Some(600)).code(), None);
    let mut moved = Client::new("192.0.2.1:40001");
    moved.nonce = c.nonce.clone();
    let b = moved.request(Method::ALLOCATE).requested_transport(17);
    let r = moved.call(&mut s, t(6), b);
    assert_eq!(r.code(), Some(438));
    let b = moved.request(Method::ALLOCATE).requested_transport(17);
    assert_eq!(moved.call(&mut s, t(6), b).code(), None);
}
