//! Offline integrity checks of signed requests and indications against the credentials given
//! (`--credential`), shared by the ordered walk and the walking threads of a scan.
//!
//! A message is tried with its own REALM, then with the realms given (`--realm`) and
//! Expressway's default: none of that depends on what came before it, so the walking threads
//! do it. What remains, the REALMs of the server's challenges seen before the message, is
//! known only in frame order: a message that verified with none of the others is tried with
//! them there ([`CredentialCheck::check_challenged`]). Two different keys cannot both verify
//! one message, so the order of the tries does not change a verdict.

use crate::wire::{IntegrityVerdict, Key, Message};

use super::msg::{CredCheck, Msg};
use super::{FlowOptions, HashMap};

/// Expressway-E's realm when none is configured: tried on every signed message.
const EXPRESSWAY_REALM: &str = "TANDBERG";

/// The credentials given, with the long-term keys derived so far.
pub(super) struct CredentialCheck<'o> {
    opts: &'o FlowOptions,
    /// By credential index and realm: MD5 over user, realm and password, derived once.
    keys: HashMap<(usize, String), Key>,
}

/// What is left to try on a message after [`CredentialCheck::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Left {
    /// Its verdict is final.
    Nothing,
    /// It verified with none of the realms tried: the server's challenge realms remain.
    ChallengeRealms,
}

impl<'o> CredentialCheck<'o> {
    pub fn new(opts: &'o FlowOptions) -> Self {
        CredentialCheck {
            opts,
            keys: HashMap::default(),
        }
    }

    fn key(&mut self, cred: usize, realm: &str) -> Option<&Key> {
        let c = self.opts.credentials.get(cred)?;
        Some(
            self.keys
                .entry((cred, realm.to_string()))
                .or_insert_with(|| Key::long_term(&c.user, realm, &c.password)),
        )
    }

    fn verifies(&mut self, m: &Message<'_>, cred: usize, realm: &str) -> bool {
        self.key(cred, realm)
            .is_some_and(|k| matches!(m.verify_integrity(k), IntegrityVerdict::Verified(_)))
    }

    /// The credentials whose user is the message's USERNAME, in the order given.
    fn matching(&self, s: &Msg) -> Vec<usize> {
        let user = s.username.as_deref().unwrap_or("");
        (0..self.opts.credentials.len())
            .filter(|&i| self.opts.credentials.get(i).is_some_and(|c| c.user == user))
            .collect()
    }

    /// The realms tried besides the message's own: `--realm`, then Expressway's default.
    fn given_realms(&self, own: &str) -> Vec<String> {
        let mut realms: Vec<String> = self.opts.realm.iter().cloned().collect();
        realms.push(EXPRESSWAY_REALM.to_string());
        realms.retain(|r| r != own);
        realms.dedup();
        realms
    }

    /// Set `s.cred` from the message's own realm and the given realms. Says whether the
    /// server's challenge realms remain to be tried.
    pub fn check(&mut self, m: &Message<'_>, s: &mut Msg) -> Left {
        if self.opts.credentials.is_empty() || !s.is_authenticated() {
            return Left::Nothing;
        }
        if s.class != crate::wire::Class::Request && s.class != crate::wire::Class::Indication {
            return Left::Nothing;
        }
        if s.rfc3489 {
            s.cred = CredCheck::Unsupported;
            return Left::Nothing;
        }
        let matching = self.matching(s);
        let Some(&first) = matching.first() else {
            s.cred = CredCheck::UnknownUser;
            return Left::Nothing;
        };
        let own = s.realm.as_deref().unwrap_or("").to_string();
        if let Some(&cred) = matching.iter().find(|&&i| self.verifies(m, i, &own)) {
            s.cred = CredCheck::Verified { cred };
            return Left::Nothing;
        }
        for realm in self.given_realms(&own) {
            if let Some(&cred) = matching.iter().find(|&&i| self.verifies(m, i, &realm)) {
                s.cred = CredCheck::VerifiedOtherRealm { cred, realm };
                return Left::Nothing;
            }
        }
        let own_verdict = self.key(first, &own).map(|k| m.verify_integrity(k));
        s.cred = match own_verdict {
            Some(IntegrityVerdict::Failed(_)) => CredCheck::Failed { cred: first },
            _ => CredCheck::Unsupported,
        };
        Left::ChallengeRealms
    }

    /// Try a message [`CredentialCheck::check`] left unverified with the REALMs of the
    /// server's challenges seen before it (in frame order).
    pub fn check_challenged(&mut self, m: &Message<'_>, s: &mut Msg, challenge_realms: &[String]) {
        let own = s.realm.as_deref().unwrap_or("").to_string();
        let given = self.given_realms(&own);
        let matching = self.matching(s);
        for &cred in &matching {
            for realm in challenge_realms {
                if *realm == own || given.contains(realm) {
                    continue;
                }
                if self.verifies(m, cred, realm) {
                    s.cred = CredCheck::VerifiedOtherRealm {
                        cred,
                        realm: realm.clone(),
                    };
                    return;
                }
            }
        }
    }
}
