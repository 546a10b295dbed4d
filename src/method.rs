//! The second-factor methods as the domain knows them: their ids, what each
//! proves (its `amr` value and assurance), and which kinds count toward the
//! policy's minimum number of credentials.

use serde::{Deserialize, Serialize};

/// A second-factor method. Its string form is the id stored with every
/// credential, in `method_settings` and in the policy's default method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodId {
    /// A code texted to an enrolled phone.
    Sms,
    /// A time-based code from an authenticator app (RFC 6238).
    Totp,
    /// One of a set of single-use recovery codes (look-up secrets).
    RecoveryCode,
    /// A passkey or security key (WebAuthn): a key pair whose private half
    /// never leaves the authenticator.
    Passkey,
}

impl MethodId {
    pub const ALL: &'static [MethodId] = &[MethodId::Sms, MethodId::Totp, MethodId::RecoveryCode, MethodId::Passkey];

    pub fn as_str(self) -> &'static str {
        match self {
            MethodId::Sms => "sms",
            MethodId::Totp => "totp",
            MethodId::RecoveryCode => "recovery_code",
            MethodId::Passkey => "passkey",
        }
    }

    pub fn parse(s: &str) -> Option<MethodId> {
        MethodId::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// The `amr` value an ID token carries for it (RFC 8176).
    pub fn amr(self) -> &'static str {
        match self {
            MethodId::Sms => "sms",
            // A look-up secret is a one-time password too (RFC 8176 has no
            // closer value).
            MethodId::Totp | MethodId::RecoveryCode => "otp",
            // Proof of possession of a hardware-secured key.
            MethodId::Passkey => "hwk",
        }
    }

    /// How much a sign-in with it is worth (NIST SP 800-63B).
    pub fn assurance(self) -> Assurance {
        match self {
            // SMS is a "restricted" authenticator (63B 5.1.3.3): AAL2 while
            // it is allowed, and the first to go when the bar rises.
            MethodId::Sms => Assurance::Restricted,
            MethodId::Totp | MethodId::RecoveryCode => Assurance::Full,
            // Bound to the site's origin: a look-alike page cannot use it.
            MethodId::Passkey => Assurance::PhishingResistant,
        }
    }

    /// Whether one proof of it is a whole sign-in (NIST SP 800-63B's
    /// multi-factor authenticator): a passkey that verified the person
    /// (its PIN, fingerprint or face) is something they have and something
    /// they know or are. Passkeys are always asked to verify (SECURITY.md 40).
    pub fn multi_factor(self) -> bool {
        self == MethodId::Passkey
    }

    /// Whether it is proven by typing a code (a passkey is proven by the
    /// browser, so a client without one cannot use it).
    pub fn typed(self) -> bool {
        self != MethodId::Passkey
    }

    /// Whether its credentials count toward the policy's minimum (recovery
    /// codes do not, SECURITY.md 38).
    pub fn counts_toward_minimum(self) -> bool {
        match self {
            MethodId::Sms | MethodId::Totp | MethodId::Passkey => true,
            MethodId::RecoveryCode => false,
        }
    }
}

/// The assurance a second factor gives, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assurance {
    /// A second factor NIST allows with conditions (SMS, 63B 5.1.3.3).
    Restricted,
    /// A second factor without conditions (an authenticator app).
    Full,
    /// A factor bound to the site's origin (a passkey, 63B 5.2.5).
    PhishingResistant,
}

/// A factor a sign-in can prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Password,
    Method(MethodId),
    /// A browser the person trusted at an earlier second step (SECURITY.md
    /// 41): it stands in for the second factor of the user's own settings,
    /// never for a method an application asks for.
    TrustedBrowser,
    /// A credential enrolled during the sign-in of an account that had
    /// nothing to prove (SECURITY.md 49): enrolling is not proving. It pays
    /// the policy's or the user's own second factor for that sign-in (the
    /// one way an account with no factor meets them), never a method an
    /// application asks for, and never appears in `acr` or `amr`.
    Enrolled(MethodId),
}

impl Factor {
    /// Its `amr` value (RFC 8176: `pwd` for a password); none for a trusted
    /// browser, which RFC 8176 has no value for (a bearer cookie, not a
    /// proof of possession).
    pub fn amr(self) -> Option<&'static str> {
        match self {
            Factor::Password => Some("pwd"),
            Factor::Method(m) => Some(m.amr()),
            Factor::TrustedBrowser | Factor::Enrolled(_) => None,
        }
    }
}

/// One factor proven during a sign-in, and when (Unix seconds): recorded as
/// each step completes, never inferred from what the account has enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub factor: Factor,
    pub at: i64,
}

/// The `amr` claim for a list of proofs: each value once, in the order proven.
pub fn amr(proofs: &[Proof]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in proofs.iter().filter_map(|p| p.factor.amr()) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.len() > 1 {
        out.push("mfa");
    }
    out
}

/// How many of these credentials count toward the minimum.
pub fn counting(kinds: impl IntoIterator<Item = MethodId>) -> u32 {
    let n = kinds.into_iter().filter(|m| m.counts_toward_minimum()).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_ids_read_back_from_their_names() {
        for m in MethodId::ALL {
            assert_eq!(MethodId::parse(m.as_str()), Some(*m));
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{}\"", m.as_str()));
        }
        assert_eq!(MethodId::parse("SMS"), None);
        assert_eq!(MethodId::parse(""), None);
    }

    #[test]
    fn amr_lists_each_factor_once_and_mfa_for_two() {
        let pwd = Proof {
            factor: Factor::Password,
            at: 1,
        };
        let sms = Proof {
            factor: Factor::Method(MethodId::Sms),
            at: 2,
        };
        assert_eq!(amr(&[pwd]), vec!["pwd"]);
        assert_eq!(amr(&[pwd, sms, sms]), vec!["pwd", "sms", "mfa"]);
        assert!(amr(&[]).is_empty());
    }

    #[test]
    fn phones_and_apps_count_toward_the_minimum() {
        assert_eq!(counting([MethodId::Sms, MethodId::Totp]), 2);
        assert_eq!(MethodId::Totp.amr(), "otp");
        assert_eq!(MethodId::Totp.assurance(), Assurance::Full);
    }

    #[test]
    fn sec_38_recovery_codes_never_count_toward_the_minimum() {
        assert_eq!(counting([MethodId::RecoveryCode, MethodId::RecoveryCode]), 0);
        assert_eq!(counting([MethodId::Sms, MethodId::RecoveryCode]), 1);
        assert_eq!(MethodId::Sms.assurance(), Assurance::Restricted);
        assert!(Assurance::Restricted < Assurance::Full);
    }
}
