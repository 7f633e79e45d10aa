//! Property tests: the decoder never panics, and what the builder writes parses back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use turnscope::wire::{
    attr, encode, Attribute, Class, FingerprintVerdict, IntegrityVerdict, Key, Message,
    MessageBuilder, Method, TransactionId,
};

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::Success),
        Just(Class::Error)
    ]
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        turnscope::wire::fuzzing::stun_message(&data);
    }

    #[test]
    fn stun_shaped_bytes_never_panic(
        typ in 0u16..0x3FFF,
        body in proptest::collection::vec(any::<u8>(), 0..200),
        lie in any::<u16>(),
        honest in any::<bool>(),
    ) {
        let mut data = Vec::new();
        data.extend_from_slice(&typ.to_be_bytes());
        let len = if honest { body.len() as u16 } else { lie };
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(&0x2112A442u32.to_be_bytes());
        data.extend_from_slice(&[7u8; 12]);
        data.extend_from_slice(&body);
        turnscope::wire::fuzzing::stun_message(&data);
    }

    #[test]
    fn only_the_signed_prefix_is_protected(
        signed in proptest::collection::vec((0x8030u16..0x8100, proptest::collection::vec(any::<u8>(), 0..24)), 0..4),
        appended in proptest::collection::vec((0x0030u16..0x0100, proptest::collection::vec(any::<u8>(), 0..24)), 0..4),
        sha256 in any::<bool>(),
        fingerprint in any::<bool>(),
    ) {
        let key = Key::long_term("u", "r", "p");
        let mut b = MessageBuilder::new(Method::ALLOCATE, Class::Request, TransactionId::new([3; 12]));
        for (t, v) in &signed {
            b.push(*t, v);
        }
        let b = if sha256 { b.integrity_sha256(&key) } else { b.integrity(&key) };
        let prefix = b.clone().build();
        let mut b = b;
        for (t, v) in &appended {
            b.push(*t, v);
        }
        let bytes = if fingerprint { b.fingerprint() } else { b.build() };
        let m = Message::parse(&bytes).unwrap();
        let p = m.protected();
        // The view is exactly what was signed (header length aside), and still verifies.
        prop_assert_eq!(&p.as_bytes()[4..], &prefix[4..]);
        prop_assert!(matches!(p.verify_integrity(&key), IntegrityVerdict::Verified(_)));
        prop_assert!(matches!(m.verify_integrity(&key), IntegrityVerdict::Verified(_)));
        let protected_types: Vec<u16> = p.attributes().map(|a| a.unwrap().typ).collect();
        for (t, _) in &appended {
            prop_assert!(!protected_types.contains(t));
        }
        let unprotected: Vec<u16> = m.unprotected_attributes().map(|a| a.typ).collect();
        let want: Vec<u16> = appended.iter().map(|(t, _)| *t).collect();
        prop_assert_eq!(unprotected, want);
        prop_assert_eq!(p.protected().as_bytes(), p.as_bytes());
        prop_assert_eq!(p.unprotected_attributes().count(), 0);
    }

    #[test]
    fn method_and_class_round_trip(method in 0u16..0x1000, class in class()) {
        let t = turnscope::wire::message::message_type(Method(method), class);
        prop_assert_eq!(t & 0xC000, 0);
        prop_assert_eq!(turnscope::wire::message::split_type(t), (Method(method), class));
    }

    #[test]
    fn built_messages_parse_back(
        method in 0u16..0x1000,
        class in class(),
        txid in any::<[u8; 12]>(),
        username in "[a-z0-9:]{1,40}",
        realm in "[a-zA-Z0-9.]{1,30}",
        password in "[ -~]{0,20}",
        mapped in socket_addr(),
        peer in socket_addr(),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        lifetime in any::<u32>(),
    ) {
        let key = Key::long_term(&username, &realm, &password);
        let bytes = MessageBuilder::new(Method(method), class, TransactionId::new(txid))
            .username(&username)
            .realm(&realm)
            .xor_address(attr::XOR_MAPPED_ADDRESS, mapped)
            .xor_address(attr::XOR_PEER_ADDRESS, peer)
            .data(&data)
            .lifetime(lifetime)
            .integrity(&key)
            .fingerprint();
        let m = Message::parse(&bytes).expect("builder output parses");
        prop_assert_eq!(m.method(), Method(method));
        prop_assert_eq!(m.class(), class);
        prop_assert_eq!(m.transaction_id(), TransactionId::new(txid));
        prop_assert_eq!(m.username(), Some(username.as_str()));
        prop_assert_eq!(m.realm(), Some(realm.as_str()));
        prop_assert_eq!(m.xor_mapped_address(), Some(mapped));
        prop_assert_eq!(m.xor_peer_addresses().collect::<Vec<_>>(), vec![peer]);
        prop_assert_eq!(m.data(), Some(&data[..]));
        prop_assert_eq!(m.lifetime(), Some(lifetime));
        prop_assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
        prop_assert!(matches!(m.verify_integrity(&key), IntegrityVerdict::Verified(_)));
        let other = Key::long_term(&username, &realm, &format!("{password}x"));
        prop_assert!(matches!(m.verify_integrity(&other), IntegrityVerdict::Failed(_)));
    }

    #[test]
    fn any_flipped_bit_breaks_the_fingerprint(txid in any::<[u8; 12]>(), bit in 0usize..(8 * 28)) {
        let mut bytes = MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new(txid))
            .u32_attr(attr::PRIORITY, 1234)
            .fingerprint();
        // Flip a bit in the cookie, the transaction id or PRIORITY's value (flipping a type or
        // length changes what the message is, not what it says).
        let byte = bit / 8;
        prop_assume!(byte >= 4 && !(20..24).contains(&byte));
        bytes[byte] ^= 1 << (bit % 8);
        if let Ok(m) = Message::parse(&bytes) {
            let invalid = matches!(m.verify_fingerprint(), FingerprintVerdict::Invalid { .. });
            prop_assert!(invalid);
        }
    }

    #[test]
    fn channel_data_round_trip(channel in 0x4000u16..=0x7FFF, data in proptest::collection::vec(any::<u8>(), 0..300), padded in any::<bool>()) {
        let bytes = encode::channel_data(channel, &data, padded);
        let c = turnscope::wire::ChannelData::parse(&bytes, padded).expect("parses");
        prop_assert_eq!(c.channel, channel);
        prop_assert_eq!(c.data, &data[..]);
        prop_assert_eq!(c.wire_len, bytes.len());
    }
}

#[test]
fn error_code_names_include_expressway_431() {
    assert_eq!(attr::error_name(431), Some("Integrity Check Failure"));
    for code in [
        300u16, 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 486, 487, 500, 508,
    ] {
        assert!(attr::error_name(code).is_some(), "{code} has a name");
    }
    let bytes = MessageBuilder::new(Method::ALLOCATE, Class::Error, TransactionId::new([1; 12]))
        .error_code(431, "Integrity Check Failure")
        .build();
    let m = Message::parse(&bytes).expect("parses");
    assert_eq!(m.error_code(), Some((431, "Integrity Check Failure")));
    assert_eq!(
        m.attribute(attr::ERROR_CODE),
        Some(Ok(Attribute::ErrorCode {
            code: 431,
            reason: "Integrity Check Failure"
        }))
    );
}

#[test]
fn unknown_attributes_are_kept() {
    let bytes = MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new([2; 12]))
        .attr(0x7F01, b"abc")
        .attr(attr::CISCO_STUN_FLOWDATA, &[1, 2, 3, 4])
        .fingerprint();
    let m = Message::parse(&bytes).expect("parses");
    let types: Vec<u16> = m.attributes().map(|a| a.expect("ok").typ).collect();
    assert_eq!(
        types,
        vec![0x7F01, attr::CISCO_STUN_FLOWDATA, attr::FINGERPRINT]
    );
    assert_eq!(
        m.attribute(0x7F01),
        Some(Ok(Attribute::Opaque {
            typ: 0x7F01,
            value: b"abc"
        }))
    );
    assert_eq!(
        attr::name(attr::CISCO_STUN_FLOWDATA),
        Some("CISCO-STUN-FLOWDATA")
    );
}

#[test]
fn lying_lengths_are_typed_errors() {
    use turnscope::wire::WireError;
    // zeek-spicy's case: MAPPED-ADDRESS claiming 0xFFFF bytes in a 12-byte body.
    let mut bytes = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    bytes.extend_from_slice(&[0; 12]);
    bytes.extend_from_slice(&[0x00, 0x01, 0xff, 0xff, 0, 1, 0, 80, 1, 2, 3, 4]);
    let err = Message::parse(&bytes).expect_err("overrun");
    assert!(
        matches!(
            err,
            WireError::AttributeOverrun {
                typ: 1,
                offset: 20,
                length: 0xFFFF,
                available: 8
            }
        ),
        "{err:?}"
    );
    // Header length beyond the datagram.
    bytes[3] = 0x40;
    assert!(matches!(
        Message::parse(&bytes),
        Err(WireError::Truncated {
            needed: 84,
            got: 32,
            ..
        })
    ));
    // ERROR-CODE with length 3.
    let bad = MessageBuilder::new(Method::BINDING, Class::Error, TransactionId::new([3; 12]))
        .attr(attr::ERROR_CODE, &[0, 0, 4])
        .build();
    let m = Message::parse(&bad).expect("the walk is fine");
    assert!(matches!(
        m.attribute(attr::ERROR_CODE),
        Some(Err(WireError::BadAttribute { .. }))
    ));
    assert_eq!(m.error_code(), None);
}

#[test]
fn rfc3489_messages_decode_as_legacy() {
    // Binding request with a 128-bit transaction id and no cookie.
    let mut bytes = vec![0x00, 0x01, 0x00, 0x08];
    bytes.extend_from_slice(&[0x5a; 16]);
    bytes.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
    let m = Message::parse(&bytes).expect("legacy parses");
    assert!(m.is_rfc3489());
    assert_eq!(m.transaction_id().as_bytes().len(), 16);
    assert_eq!(
        m.attribute(attr::CHANGE_REQUEST),
        Some(Ok(Attribute::ChangeRequest {
            change_ip: false,
            change_port: false
        }))
    );
    // Random bytes without a cookie are not legacy STUN.
    let junk = [
        0x00u8, 0x01, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x12,
        0x34, 0x00, 0x09, 0, 0, 0, 0,
    ];
    assert!(Message::parse(&junk).is_err());
}
