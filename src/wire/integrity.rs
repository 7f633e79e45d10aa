//! FINGERPRINT and MESSAGE-INTEGRITY(-SHA256): keys, computation and verification.
//!
//! A failed check is a verdict on a decoded message, never a decode error.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::attr::{self, RawAttribute};
use super::message::{Message, HEADER_LEN};

/// FINGERPRINT is CRC-32 (ISO-HDLC) of the message up to it, XORed with this.
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// A long-term credential, `USER:PASSWORD` on the command line: what `analyze` verifies
/// captured requests with, what `replay` and `serve` hold as the server's users. The password
/// is never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Username, as sent in USERNAME.
    pub user: String,
    /// Password in the clear (hidden by `Debug`).
    pub password: String,
}

impl Credential {
    /// A credential from a user name and password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credential {
        Credential {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The MESSAGE-INTEGRITY key of this credential in `realm`.
    pub fn key(&self, realm: &str) -> Key {
        Key::long_term(&self.user, realm, &self.password)
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({:?}:..)", self.user)
    }
}

impl std::str::FromStr for Credential {
    type Err = String;
    /// `USER:PASSWORD` (the password may contain `:`; the user may not be empty).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credential::new(u, p)),
            _ => Err(format!("expected USER:PASSWORD, got {s:?}")),
        }
    }
}

/// A MESSAGE-INTEGRITY key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// Short-term credentials (ICE): the key is the password itself.
    pub fn short_term(password: &str) -> Key {
        Key(password.as_bytes().to_vec())
    }

    /// Long-term credentials: MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2).
    pub fn long_term(username: &str, realm: &str, password: &str) -> Key {
        Key(credential_digest::<Md5>(username, realm, password))
    }

    /// Long-term credentials with PASSWORD-ALGORITHM SHA-256.
    pub fn long_term_sha256(username: &str, realm: &str, password: &str) -> Key {
        Key(credential_digest::<Sha256>(username, realm, password))
    }

    /// A key given as raw bytes (e.g. computed elsewhere).
    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key(bytes.to_vec())
    }

    /// The key bytes (the HMAC key).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn credential_digest<D: Digest>(username: &str, realm: &str, password: &str) -> Vec<u8> {
    let mut h = D::new();
    for (i, part) in [username, realm, password].into_iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// Which integrity attribute a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityKind {
    /// MESSAGE-INTEGRITY (HMAC-SHA1).
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256).
    Sha256,
}

/// The outcome of checking a message's MESSAGE-INTEGRITY(-SHA256) with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityVerdict {
    /// The message carries no integrity attribute.
    Absent,
    /// The HMAC matches the key.
    Verified(IntegrityKind),
    /// The HMAC does not match the key (wrong password, or the message was altered).
    Failed(IntegrityKind),
    /// RFC 3489 integrity (no length adjustment, 64-byte padding) is not checked.
    NotApplicable,
}

/// The outcome of checking FINGERPRINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintVerdict {
    /// The message carries no FINGERPRINT.
    Absent,
    /// The CRC matches.
    Valid,
    /// The CRC does not match: the message was altered or is not what it seems.
    Invalid {
        /// The value in the attribute.
        carried: u32,
        /// The value computed over the message.
        computed: u32,
    },
    /// FINGERPRINT present but not the last attribute (RFC 8489 section 14.7).
    Misplaced,
}

/// The header with its length field set as if the message ended `end_after_header` bytes after
/// the header (RFC 8489: the length covers the attribute being computed).
fn adjusted_header(msg: &[u8], length: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    if let Some(src) = msg.get(..HEADER_LEN) {
        h.copy_from_slice(src);
    }
    let len = u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes();
    h[2] = len[0];
    h[3] = len[1];
    h
}

/// CRC-32 over `msg[..attr_offset]` with the length field covering the FINGERPRINT attribute.
pub fn compute_fingerprint(msg: &[u8], attr_offset: usize) -> u32 {
    let length = (attr_offset as u32).saturating_sub(HEADER_LEN as u32) + 8;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&adjusted_header(msg, length));
    crc.update(msg.get(HEADER_LEN..attr_offset).unwrap_or(&[]));
    crc.finalize() ^ FINGERPRINT_XOR
}

/// HMAC over `msg[..attr_offset]` with the length field covering the integrity attribute.
pub fn compute_integrity(
    msg: &[u8],
    attr_offset: usize,
    key: &Key,
    kind: IntegrityKind,
) -> Vec<u8> {
    let mac_len: u32 = match kind {
        IntegrityKind::Sha1 => 20,
        IntegrityKind::Sha256 => 32,
    };
    let length = (attr_offset as u32).saturating_sub(HEADER_LEN as u32) + 4 + mac_len;
    let header = adjusted_header(msg, length);
    let body = msg.get(HEADER_LEN..attr_offset).unwrap_or(&[]);
    match kind {
        IntegrityKind::Sha1 => {
            // HMAC accepts keys of any length; the error arm cannot occur.
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
                return Vec::new();
            };
            mac.update(&header);
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        IntegrityKind::Sha256 => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
                return Vec::new();
            };
            mac.update(&header);
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

impl<'a> Message<'a> {
    /// The integrity attribute that counts: the first MESSAGE-INTEGRITY-SHA256 or
    /// MESSAGE-INTEGRITY. Attributes after it are ignored except FINGERPRINT and, after
    /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 (RFC 8489 section 14.5/14.6).
    pub fn integrity_attribute(&self) -> Option<(RawAttribute<'a>, IntegrityKind)> {
        let mut walk = self.attributes().map_while(Result::ok);
        let first = walk.find(|a| {
            matches!(
                a.typ,
                attr::MESSAGE_INTEGRITY | attr::MESSAGE_INTEGRITY_SHA256
            )
        })?;
        if first.typ == attr::MESSAGE_INTEGRITY_SHA256 {
            return Some((first, IntegrityKind::Sha256));
        }
        // Only MESSAGE-INTEGRITY-SHA256 may follow MESSAGE-INTEGRITY and still count; an agent
        // that understands it uses it.
        match walk.next() {
            Some(next) if next.typ == attr::MESSAGE_INTEGRITY_SHA256 => {
                Some((next, IntegrityKind::Sha256))
            }
            _ => Some((first, IntegrityKind::Sha1)),
        }
    }

    /// Where the integrity-protected part ends: just after the integrity attribute that
    /// counts. `None` without integrity, and for RFC 3489 messages (whose integrity is not
    /// checked here).
    fn protected_end(&self) -> Option<usize> {
        if self.is_rfc3489() {
            return None;
        }
        let (a, _) = self.integrity_attribute()?;
        Some(a.offset as usize + 4 + a.value.len().next_multiple_of(4))
    }

    /// The message as its MESSAGE-INTEGRITY(-SHA256) covers it: the header and the attributes
    /// up to and including the integrity attribute that counts (the whole message when it
    /// carries none). RFC 8489 section 14.5: an agent ignores the attributes after
    /// MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, because anyone on
    /// the path can append them to a signed request. A server uses this view of every request
    /// (after checking FINGERPRINT on the whole message); `as_bytes` of the view is the
    /// protected prefix.
    pub fn protected(&self) -> Message<'a> {
        match self.protected_end() {
            Some(end) => self.prefix(end),
            None => *self,
        }
    }

    /// The attributes the integrity does not cover and that are not allowed there: everything
    /// after the integrity attribute that counts except FINGERPRINT. A message with any was
    /// extended after it was signed, by a middlebox or by someone replaying it.
    pub fn unprotected_attributes(&self) -> impl Iterator<Item = RawAttribute<'a>> + 'a {
        let end = self.protected_end();
        self.attributes().map_while(Result::ok).filter(move |a| {
            end.is_some_and(|e| a.offset as usize >= e) && a.typ != attr::FINGERPRINT
        })
    }

    /// True if the message carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    pub fn has_integrity(&self) -> bool {
        self.integrity_attribute().is_some()
    }

    /// Check MESSAGE-INTEGRITY(-SHA256) with `key`, comparing MACs in constant time.
    pub fn verify_integrity(&self, key: &Key) -> IntegrityVerdict {
        let Some((a, kind)) = self.integrity_attribute() else {
            return IntegrityVerdict::Absent;
        };
        if self.is_rfc3489() {
            return IntegrityVerdict::NotApplicable;
        }
        let computed = compute_integrity(self.as_bytes(), a.offset as usize, key, kind);
        // SHA-256 may be truncated to 16..32 bytes: compare the carried prefix.
        let carried = a.value;
        let ok = !carried.is_empty()
            && carried.len() <= computed.len()
            && bool::from(computed.get(..carried.len()).unwrap_or(&[]).ct_eq(carried));
        if ok {
            IntegrityVerdict::Verified(kind)
        } else {
            IntegrityVerdict::Failed(kind)
        }
    }

    /// Check FINGERPRINT.
    pub fn verify_fingerprint(&self) -> FingerprintVerdict {
        let mut found: Option<RawAttribute<'a>> = None;
        let mut after = false;
        for a in self.attributes().map_while(Result::ok) {
            if found.is_some() {
                after = true;
            }
            if a.typ == attr::FINGERPRINT && found.is_none() {
                found = Some(a);
            }
        }
        let Some(a) = found else {
            return FingerprintVerdict::Absent;
        };
        if after {
            return FingerprintVerdict::Misplaced;
        }
        let carried = match a.value {
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => {
                return FingerprintVerdict::Invalid {
                    carried: 0,
                    computed: 0,
                }
            }
        };
        let computed = compute_fingerprint(self.as_bytes(), a.offset as usize);
        if carried == computed {
            FingerprintVerdict::Valid
        } else {
            FingerprintVerdict::Invalid { carried, computed }
        }
    }
}
