//! Entry points shared by the cargo-fuzz targets and the corpus-replay tests.

use super::integrity::Key;
use super::{attr, decode_payload, Decoded, Message};

/// Parse arbitrary bytes as a STUN payload (datagram and stream framing) and exercise every
/// accessor, typed attribute decode and integrity check on what parses.
pub fn stun_message(data: &[u8]) {
    for stream in [false, true] {
        match decode_payload(data, stream) {
            Decoded::Stun(m) => exercise(&m),
            Decoded::ChannelData(c) => {
                if let Some(inner) = super::decode_carried(c.data) {
                    exercise(&inner);
                }
            }
            Decoded::Malformed(e) => {
                let _ = e.to_string();
            }
            Decoded::Other(_) => {}
        }
    }
}

fn exercise(m: &Message<'_>) {
    let txid = m.transaction_id();
    let _ = txid.to_hex();
    assert!(m.len() >= super::HEADER_LEN && m.len().is_multiple_of(4));
    for a in m.attributes() {
        let Ok(a) = a else { break };
        assert!(a.offset as usize + 4 + a.value.len() <= m.len());
        if let Ok(typed) = a.decode(&txid) {
            let _ = typed.to_string();
        }
        let _ = attr::name(a.typ);
    }
    let _ = (
        m.username(),
        m.realm(),
        m.nonce(),
        m.error_code(),
        m.lifetime(),
        m.xor_mapped_address(),
    );
    let _ = m.xor_peer_addresses().count();
    let _ = m.verify_fingerprint();
    let key = Key::long_term("user", "realm", "pass");
    let verdict = m.verify_integrity(&key);
    // The protected view is a prefix ending on an attribute boundary, judged the same, and
    // nothing it holds is called unprotected.
    let p = m.protected();
    assert!(m.as_bytes().starts_with(p.as_bytes()));
    assert_eq!(p.verify_integrity(&key), verdict);
    let end = p.len();
    assert!(m.unprotected_attributes().all(|a| a.offset as usize >= end));
    assert_eq!(p.unprotected_attributes().count(), 0);
    if let Some(inner) = m.data().and_then(super::decode_carried) {
        let _ = inner.verify_fingerprint();
    }
}
