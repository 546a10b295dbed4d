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

    /// Whether a sign-in that proved `proven` satisfies this acr.
    /// `second_factor_owed`: whether the user's own settings demand a second
    /// factor (for [`Acr::UsersSettings`]).
    pub fn satisfied_by(self, proven: &[Proof], second_factor_owed: bool) -> bool {
        // The password, or a method that is a whole sign-in by itself (a
        // passkey that verified the person).
        let first = proven.iter().any(|p| match p.factor {
            Factor::Password => true,
            Factor::Method(m) => m.multi_factor(),
            Factor::TrustedBrowser => false,
        });
        let strongest = strongest_method(proven).map(MethodId::assurance);
        // A trusted browser stands in for the user's own second factor only.
        let trusted = proven.iter().any(|p| p.factor == Factor::TrustedBrowser);
        match self {
            Acr::Password => first,
            Acr::UsersSettings => first && (!second_factor_owed || strongest.is_some() || trusted),
            Acr::Method(asked) => first && strongest.is_some_and(|got| got >= asked.assurance()),
        }
    }

    /// What an ID token states for a sign-in that proved `proven`: the
    /// strongest method proven, else the password.
    pub fn stated(proven: &[Proof]) -> Acr {
        strongest_method(proven).map_or(Acr::Password, Acr::Method)
    }
}

/// The method of highest assurance among the proofs (the first proven of
/// equals).
fn strongest_method(proven: &[Proof]) -> Option<MethodId> {
    let methods = proven.iter().filter_map(|p| match p.factor {
        Factor::Method(m) => Some(m),
        Factor::Password | Factor::TrustedBrowser => None,
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
    fn sec_44_a_weaker_method_never_satisfies_a_stronger_request() {
        let pwd = proof(Factor::Password);
        let sms = proof(Factor::Method(MethodId::Sms));
        let app = proof(Factor::Method(MethodId::Totp));
        let otp = Acr::Method(MethodId::Totp);
        assert!(!otp.satisfied_by(&[pwd, sms], false));
        assert!(otp.satisfied_by(&[pwd, app], false));
        assert!(Acr::Method(MethodId::Sms).satisfied_by(&[pwd, app], false));
        assert!(Acr::Method(MethodId::Sms).satisfied_by(&[pwd, sms], false));
        assert!(!Acr::Method(MethodId::Sms).satisfied_by(&[pwd], false));
        // A factor without the password is not a sign-in.
        assert!(!Acr::Method(MethodId::Sms).satisfied_by(&[sms], false));
        assert!(!Acr::Password.satisfied_by(&[], false));
        assert!(Acr::Password.satisfied_by(&[pwd], true));
    }

    #[test]
    fn a_passkey_alone_is_a_whole_sign_in_and_no_other_method_is() {
        let passkey = proof(Factor::Method(MethodId::Passkey));
        let app = proof(Factor::Method(MethodId::Totp));
        for acr in [
            Acr::Password,
            Acr::UsersSettings,
            Acr::Method(MethodId::Sms),
            Acr::Method(MethodId::Totp),
            Acr::Method(MethodId::Passkey),
        ] {
            assert!(acr.satisfied_by(&[passkey], true), "{acr:?}");
            assert!(!acr.satisfied_by(&[app], true), "{acr:?}");
        }
        assert_eq!(Acr::stated(&[passkey]), Acr::Method(MethodId::Passkey));
    }

    #[test]
    fn a_trusted_browser_stands_in_for_the_users_own_second_factor_only() {
        let pwd = proof(Factor::Password);
        let trusted = proof(Factor::TrustedBrowser);
        assert!(Acr::UsersSettings.satisfied_by(&[pwd, trusted], true));
        assert!(!Acr::UsersSettings.satisfied_by(&[trusted], true), "never the password");
        assert!(!Acr::Method(MethodId::Sms).satisfied_by(&[pwd, trusted], false));
        assert_eq!(Acr::stated(&[pwd, trusted]), Acr::Password);
        assert_eq!(crate::method::amr(&[pwd, trusted]), ["pwd"]);
    }

    #[test]
    fn the_users_own_settings_ask_for_a_second_factor_only_when_it_is_on() {
        let pwd = proof(Factor::Password);
        let sms = proof(Factor::Method(MethodId::Sms));
        assert!(Acr::UsersSettings.satisfied_by(&[pwd], false));
        assert!(!Acr::UsersSettings.satisfied_by(&[pwd], true));
        assert!(Acr::UsersSettings.satisfied_by(&[pwd, sms], true));
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
