//! RFC 5769 and RFC 8489 Appendix B.1 test vectors, decoded and re-encoded.

use std::net::SocketAddr;

use turnscope::wire::attr;
use turnscope::wire::{
    Attribute, Class, FingerprintVerdict, IntegrityKind, IntegrityVerdict, Key, Message,
    MessageBuilder, Method, TransactionId,
};

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("hex"), 16).expect("hex"))
        .collect()
}

const RFC5769_TXID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

fn sample_request() -> Vec<u8> {
    unhex(
        "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
         00 24 00 04 6e 00 01 ff
         80 29 00 08 93 2f f9 b1 51 26 3b 36
         00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
         00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
         80 28 00 04 e5 7a 3b cf",
    )
}

fn ipv4_response() -> Vec<u8> {
    unhex(
        "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
         80 28 00 04 c0 7d 4c 96",
    )
}

fn ipv6_response() -> Vec<u8> {
    unhex(
        "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
         00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
         80 28 00 04 c8 fb 0b 4c",
    )
}

const LT_TXID: [u8; 12] = [
    0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
];
const LT_USER: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
/// "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep / OpaqueString.
const LT_PASS: &str = "TheMatrIX";

fn long_term_request() -> Vec<u8> {
    unhex(
        "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
         00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
         00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
         00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
         00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66",
    )
}

#[test]
fn rfc5769_sample_request_decodes_and_verifies() {
    let bytes = sample_request();
    let m = Message::parse(&bytes).expect("parses");
    assert_eq!(m.method(), Method::BINDING);
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.transaction_id(), TransactionId::new(RFC5769_TXID));
    assert_eq!(m.software(), Some("STUN test client"));
    assert_eq!(m.username(), Some("evtj:h6vY"));
    assert_eq!(
        m.attribute(attr::PRIORITY),
        Some(Ok(Attribute::Priority(0x6e0001ff)))
    );
    assert_eq!(
        m.attribute(attr::ICE_CONTROLLED),
        Some(Ok(Attribute::IceControlled(0x932ff9b151263b36)))
    );
    assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    assert_eq!(
        m.verify_integrity(&key),
        IntegrityVerdict::Verified(IntegrityKind::Sha1)
    );
    assert_eq!(
        m.verify_integrity(&Key::short_term("wrong")),
        IntegrityVerdict::Failed(IntegrityKind::Sha1)
    );
}

#[test]
fn rfc5769_sample_request_encodes_byte_for_byte() {
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    let built = MessageBuilder::new(
        Method::BINDING,
        Class::Request,
        TransactionId::new(RFC5769_TXID),
    )
    .pad_with(0x20)
    .software("STUN test client")
    .u32_attr(attr::PRIORITY, 0x6e0001ff)
    .attr(attr::ICE_CONTROLLED, &0x932ff9b151263b36u64.to_be_bytes())
    .username("evtj:h6vY")
    .integrity(&key)
    .fingerprint();
    assert_eq!(built, sample_request());
}

#[test]
fn rfc5769_ipv4_response_both_ways() {
    let bytes = ipv4_response();
    let m = Message::parse(&bytes).expect("parses");
    assert_eq!(m.class(), Class::Success);
    let expected: SocketAddr = "192.0.2.1:32853".parse().expect("addr");
    assert_eq!(m.xor_mapped_address(), Some(expected));
    assert_eq!(m.software(), Some("test vector"));
    assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    assert_eq!(
        m.verify_integrity(&key),
        IntegrityVerdict::Verified(IntegrityKind::Sha1)
    );
    let built = MessageBuilder::new(
        Method::BINDING,
        Class::Success,
        TransactionId::new(RFC5769_TXID),
    )
    .pad_with(0x20)
    .software("test vector")
    .xor_address(attr::XOR_MAPPED_ADDRESS, expected)
    .integrity(&key)
    .fingerprint();
    assert_eq!(built, bytes);
}

#[test]
fn rfc5769_ipv6_response_both_ways() {
    let bytes = ipv6_response();
    let m = Message::parse(&bytes).expect("parses");
    let expected: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .expect("addr");
    assert_eq!(m.xor_mapped_address(), Some(expected));
    assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    assert_eq!(
        m.verify_integrity(&key),
        IntegrityVerdict::Verified(IntegrityKind::Sha1)
    );
    let built = MessageBuilder::new(
        Method::BINDING,
        Class::Success,
        TransactionId::new(RFC5769_TXID),
    )
    .pad_with(0x20)
    .software("test vector")
    .xor_address(attr::XOR_MAPPED_ADDRESS, expected)
    .integrity(&key)
    .fingerprint();
    assert_eq!(built, bytes);
}

#[test]
fn rfc5769_long_term_request_both_ways() {
    let bytes = long_term_request();
    let m = Message::parse(&bytes).expect("parses");
    assert_eq!(m.username(), Some(LT_USER));
    assert_eq!(m.realm(), Some("example.org"));
    assert_eq!(m.nonce(), Some(&b"f//499k954d6OL34oL9FSTvy64sA"[..]));
    assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Absent);
    let key = Key::long_term(LT_USER, "example.org", LT_PASS);
    assert_eq!(
        m.verify_integrity(&key),
        IntegrityVerdict::Verified(IntegrityKind::Sha1)
    );
    let wrong = Key::long_term(LT_USER, "example.org", "TheMatrix");
    assert_eq!(
        m.verify_integrity(&wrong),
        IntegrityVerdict::Failed(IntegrityKind::Sha1)
    );
    let built = MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new(LT_TXID))
        .username(LT_USER)
        .nonce(b"f//499k954d6OL34oL9FSTvy64sA")
        .realm("example.org")
        .integrity(&key)
        .build();
    assert_eq!(built, bytes);
}

/// RFC 8489 B.1 with Errata 6268 applied (the published length 0x9c does not match the
/// attributes; 0x90 does).
fn rfc8489_b1_request() -> Vec<u8> {
    unhex(
        "00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
         00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f 24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04
         00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41 00 00 00
         00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
         00 1d 00 04 00 02 00 00
         00 1c 00 20 b5 c7 bf 00 5b 6c 52 a2 1c 51 c5 e8 92 f8 19 24 13 62 96 cb 92 7c 43 14 93 09 27 8c c6 51 8e 65",
    )
}

#[test]
fn rfc8489_b1_request_decodes() {
    let bytes = rfc8489_b1_request();
    let m = Message::parse(&bytes).expect("parses");
    assert_eq!(m.realm(), Some("example.org"));
    assert!(
        matches!(m.attribute(attr::USERHASH), Some(Ok(Attribute::UserHash(h))) if h.len() == 32)
    );
    assert_eq!(
        m.attribute(attr::PASSWORD_ALGORITHM),
        Some(Ok(Attribute::PasswordAlgorithm {
            algorithm: attr::PASSWORD_ALGORITHM_SHA256,
            params: &[]
        }))
    );
    assert_eq!(
        m.integrity_attribute().map(|(_, k)| k),
        Some(IntegrityKind::Sha256)
    );
    // USERHASH = SHA-256(username ":" realm)
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{LT_USER}:example.org").as_bytes());
    let userhash = h.finalize();
    assert_eq!(
        m.raw_attribute(attr::USERHASH).map(|a| a.value),
        Some(&userhash[..])
    );
    let key = Key::long_term_sha256(LT_USER, "example.org", LT_PASS);
    assert_eq!(
        m.verify_integrity(&key),
        IntegrityVerdict::Verified(IntegrityKind::Sha256)
    );
    let wrong = Key::long_term_sha256(LT_USER, "example.org", "TheMatrix");
    assert_eq!(
        m.verify_integrity(&wrong),
        IntegrityVerdict::Failed(IntegrityKind::Sha256)
    );

    let built = MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new(LT_TXID))
        .attr(attr::USERHASH, &userhash)
        .nonce(b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
        .realm("example.org")
        .attr(attr::PASSWORD_ALGORITHM, &[0x00, 0x02, 0x00, 0x00])
        .integrity_sha256(&key)
        .build();
    assert_eq!(built, bytes);
}
