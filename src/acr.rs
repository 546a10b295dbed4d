//! Authentication context classes (`acr`) as applications ask for them in
//! OpenID Connect: what each value demands of a sign-in, whether what a
//! sign-in proved satisfies it, and the value an ID token states
//! (SECURITY.md 44: a weaker method never satisfies a stronger request).

use crate::method::{Factor, MethodId, Proof};

/// An `acr` value Tessera understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acr {
    /// The password alone (one factor).
    Password,
    /// Whatever this user's own two-factor settings demand (Gluu Casa's
    /// own acr): the password, then the second factor if the user has it on.
    UsersSettings,
    /// The password and this method (or one at least as strong).
    Method(MethodId),
}

/// Kept (in a session, a kept request) by its name, as in `acr_values`.
impl serde::Serialize for Acr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Acr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Acr, D::Error> {
        let name = String::deserialize(d)?;
        Acr::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown acr {name:?}")))
    }
}

/// The name of [`Acr::UsersSettings`].
pub const USERS_SETTINGS: &str = "tessera";

/// Other names the source documents use for a method's acr (Gluu's
/// `stytch`, `twilio_sms`): each means that method, whatever plugin sends.
const ALIASES: &[(&str, MethodId)] = &[("stytch", MethodId::Sms), ("twilio_sms", MethodId::Sms)];

impl Acr {
    /// Its name in `acr_values`, discovery and the ID token.
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Password => "password",
            Acr::UsersSettings => USERS_SETTINGS,
            Acr::Method(MethodId::Sms) => "sms",
            Acr::Method(MethodId::Totp) => "otp",
            Acr::Method(MethodId::RecoveryCode) => "recovery_code",
            Acr::Method(MethodId::Passkey) => "passkey",
        }
    }

    /// The acr named `s` (an alias reads as its method); `None`: unknown.
    pub fn parse(s: &str) -> Option<Acr> {
        let named = [Acr::Password, Acr::UsersSettings]
            .into_iter()
            .chain(MethodId::ALL.iter().map(|m| Acr::Method(*m)))
            .find(|a| a.as_str() == s);
        named.or_else(|| {
            ALIASES
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, m)| Acr::Method(*m))
        })
    }

    /// The names an application may ask for when `methods` are enabled:
    /// one per method that can sign in (recovery codes are a way back in,
    /// never asked for), the aliases of those methods, `password` and
    /// [`USERS_SETTINGS`].
    pub fn supported(methods: &[MethodId]) -> Vec<&'static str> {
        let mut out = Vec::new();
        for acr in Acr::choices(methods) {
            out.push(acr.as_str());
            if let Some(m) = acr.method() {
                out.extend(ALIASES.iter().filter(|(_, a)| *a == m).map(|(name, _)| *name));
            }
        }
        out
    }

    /// The acrs an administrator can make a default when `methods` are
    /// enabled: [`USERS_SETTINGS`], `password` and one per method that
    /// can sign in.
    pub fn choices(methods: &[MethodId]) -> Vec<Acr> {
        let mut out = vec![Acr::UsersSettings, Acr::Password];
        out.extend(
            methods
                .iter()
                .filter(|m| m.counts_toward_minimum())
                .map(|m| Acr::Method(*m)),
        );
        out
    }

    /// What it asks of a sign-in, in words for the console.
    pub fn words(self) -> &'static str {
        match self {
            Acr::UsersSettings => "Each user's own two-factor settings",
            Acr::Password => "The password alone",
            Acr::Method(MethodId::Sms) => "The password and a text message code",
            Acr::Method(MethodId::Totp) => "The password and an authenticator app",
            Acr::Method(MethodId::RecoveryCode) => "The password and a recovery code",
            Acr::Method(MethodId::Passkey) => "The password and a passkey or security key",
        }
    }

    /// The method the second step must ask for to satisfy this acr, if it
    /// names one.
    pub fn method(self) -> Option<MethodId> {
        match self {
            Acr::Method(m) => Some(m),
            Acr::Password | Acr::UsersSettings => None,
        }
    }

    /// How much it asks, for choosing the stricter of two: the password,
    /// then the user's own settings (which always apply, SECURITY.md 49),
    /// then a method by its assurance.
    fn strictness(self) -> (u8, Option<crate::method::Assurance>) {
        match self {
            Acr::Password => (0, None),
            Acr::UsersSettings => (1, None),
            Acr::Method(m) => (2, Some(m.assurance())),
        }
    }

    /// The stricter of two (the first of equals): what an application asks
    /// when its client's minimum is `floor` (SECURITY.md 49: a front-channel
    /// `acr_values` never lowers it).
    pub fn at_least(self, floor: Acr) -> Acr {
        if floor.strictness() > self.strictness() {
            floor
        } else {
            self
        }
    }

    /// What an ID token states for a sign-in that proved `proven`: the
    /// strongest method proven, else the password.
    pub fn stated(proven: &[Proof]) -> Acr {
        strongest_method(proven).map_or(Acr::Password, Acr::Method)
    }
}

/// The method of highest assurance among the proofs (the first proven of
/// equals); an enrollment is not a proof of its method.
pub(crate) fn strongest_method(proven: &[Proof]) -> Option<MethodId> {
    let methods = proven.iter().filter_map(|p| match p.factor {
        Factor::Method(m) => Some(m),
        Factor::Password | Factor::TrustedBrowser | Factor::Enrolled(_) => None,
    });
    methods.fold(None, |best: Option<MethodId>, m| match best {
        Some(b) if b.assurance() >= m.assurance() => Some(b),
        _ => Some(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(factor: Factor) -> Proof {
        Proof { factor, at: 1 }
    }

    #[test]
    fn names_read_back_and_aliases_mean_their_method() {
        for a in [
            Acr::Password,
            Acr::UsersSettings,
            Acr::Method(MethodId::Sms),
            Acr::Method(MethodId::Totp),
        ] {
            assert_eq!(Acr::parse(a.as_str()), Some(a));
        }
        assert_eq!(Acr::parse("stytch"), Some(Acr::Method(MethodId::Sms)));
        assert_eq!(Acr::parse("twilio_sms"), Some(Acr::Method(MethodId::Sms)));
        assert_eq!(Acr::parse("OTP"), None);
    }

    #[test]
    fn sec_49_the_stricter_of_a_request_and_a_floor_counts() {
        let sms = Acr::Method(MethodId::Sms);
        let otp = Acr::Method(MethodId::Totp);
        let passkey = Acr::Method(MethodId::Passkey);
        assert_eq!(Acr::Password.at_least(otp), otp);
        assert_eq!(Acr::UsersSettings.at_least(sms), sms);
        assert_eq!(sms.at_least(otp), otp);
        assert_eq!(passkey.at_least(otp), passkey);
        assert_eq!(otp.at_least(Acr::Password), otp);
        assert_eq!(Acr::Password.at_least(Acr::UsersSettings), Acr::UsersSettings);
        // Equal assurance: the request stands (it names the method asked first).
        let recovery = Acr::Method(MethodId::RecoveryCode);
        assert_eq!(recovery.at_least(otp), recovery);
    }

    #[test]
    fn an_enrollment_and_a_trusted_browser_are_never_stated() {
        let pwd = proof(Factor::Password);
        let enrolled = proof(Factor::Enrolled(MethodId::Totp));
        let trusted = proof(Factor::TrustedBrowser);
        assert_eq!(Acr::stated(&[pwd, enrolled]), Acr::Password);
        assert_eq!(crate::method::amr(&[pwd, enrolled]), ["pwd"]);
        assert_eq!(Acr::stated(&[pwd, trusted]), Acr::Password);
        assert_eq!(crate::method::amr(&[pwd, trusted]), ["pwd"]);
    }

    #[test]
    fn acrs_are_kept_by_their_names() {
        let otp = Acr::Method(MethodId::Totp);
        assert_eq!(serde_json::to_string(&otp).unwrap(), "\"otp\"");
        assert_eq!(
            serde_json::from_str::<Acr>("\"stytch\"").unwrap(),
            Acr::Method(MethodId::Sms)
        );
        assert!(serde_json::from_str::<Acr>("\"urn:unknown\"").is_err());
    }

    #[test]
    fn the_stated_acr_is_the_strongest_proven() {
        let pwd = proof(Factor::Password);
        let sms = proof(Factor::Method(MethodId::Sms));
        let app = proof(Factor::Method(MethodId::Totp));
        assert_eq!(Acr::stated(&[pwd]), Acr::Password);
        assert_eq!(Acr::stated(&[pwd, sms]), Acr::Method(MethodId::Sms));
        assert_eq!(Acr::stated(&[pwd, sms, app]), Acr::Method(MethodId::Totp));
        assert_eq!(Acr::stated(&[pwd, app, sms]), Acr::Method(MethodId::Totp));
    }

    #[test]
    fn only_methods_that_sign_in_are_offered() {
        let s = Acr::supported(&[MethodId::Sms, MethodId::RecoveryCode]);
        assert_eq!(s, vec!["tessera", "password", "sms", "stytch", "twilio_sms"]);
        assert!(!Acr::supported(&[MethodId::Totp]).contains(&"sms"));
    }
}
