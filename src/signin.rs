//! The sign-in pipeline as data: where a session stands, what comes next, and
//! the timing rules (throttling, session lifetimes). The server stores
//! [`AuthState`] in the session; a page or an OpenID Connect endpoint can drive
//! the same steps.

use crate::acr::{Acr, strongest_method};
use crate::method::{Factor, MethodId, Proof};
use serde::{Deserialize, Serialize};

/// Where a session stands in the sign-in pipeline. The proofs are recorded
/// as each step completes (the future ID token's `amr` and `auth_time`);
/// states stored before they were recorded read back with none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthState {
    /// The password was right; a second factor is still owed. Nothing that
    /// needs a signed-in user answers in this state.
    PasswordVerified {
        user_id: String,
        at: i64,
        #[serde(default)]
        proven: Vec<Proof>,
        /// The credential the second step is proving (the one a code went
        /// to); none: the preferred one.
        #[serde(default)]
        credential: Option<String>,
        /// What this sign-in owes, decided at the password step.
        #[serde(default)]
        owed: Owed,
    },
    /// The password was right, 2FA is mandatory and the account has no
    /// usable credential: it must enroll one (proved with a code) first.
    MustEnroll {
        user_id: String,
        at: i64,
        #[serde(default)]
        proven: Vec<Proof>,
        /// What this sign-in owes (an application's method narrows what
        /// may be enrolled).
        #[serde(default)]
        owed: Owed,
    },
    /// Fully signed in.
    SignedIn {
        user_id: String,
        /// When the last full sign-in finished (for step-up checks).
        authenticated_at: i64,
        /// When this signed-in session began (for the absolute timeout).
        started_at: i64,
        /// What the last full sign-in proved.
        #[serde(default)]
        proven: Vec<Proof>,
        /// Which full sign-in this is (random, new at each): what an
        /// application's `prompt=login` or `max_age` waits to see change.
        #[serde(default)]
        sign_in: u64,
    },
}

impl AuthState {
    /// The signed-in user, if the pipeline is complete.
    pub fn signed_in_user(&self) -> Option<&str> {
        match self {
            AuthState::SignedIn { user_id, .. } => Some(user_id),
            AuthState::PasswordVerified { .. } | AuthState::MustEnroll { .. } => None,
        }
    }

    /// Has this state outlived its lifetime? A signed-in session lives
    /// `absolute_secs`; a half-finished sign-in only [`SECOND_STEP_SECS`].
    pub fn expired(&self, now: i64, absolute_secs: i64) -> bool {
        let (since, limit) = match self {
            AuthState::SignedIn { started_at, .. } => (*started_at, absolute_secs),
            AuthState::PasswordVerified { at, .. } | AuthState::MustEnroll { at, .. } => {
                (*at, SECOND_STEP_SECS.min(absolute_secs))
            }
        };
        now.saturating_sub(since) >= limit
    }

    /// Whether the last full sign-in (password and, if on, the second
    /// factor) was within [`STEP_UP_SECS`]: sensitive changes need it.
    pub fn recently_authenticated(&self, now: i64) -> bool {
        match self {
            AuthState::SignedIn { authenticated_at, .. } => now.saturating_sub(*authenticated_at) < STEP_UP_SECS,
            _ => false,
        }
    }

    /// The user owing a second factor, in the half-finished state only.
    pub fn pending_user(&self) -> Option<&str> {
        match self {
            AuthState::PasswordVerified { user_id, .. } => Some(user_id),
            AuthState::SignedIn { .. } | AuthState::MustEnroll { .. } => None,
        }
    }

    /// The user who must enroll a credential before being signed in.
    pub fn enrolling_user(&self) -> Option<&str> {
        match self {
            AuthState::MustEnroll { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    /// What a half-finished sign-in owes; nothing once signed in.
    pub fn owed(&self) -> Option<Owed> {
        match self {
            AuthState::PasswordVerified { owed, .. } | AuthState::MustEnroll { owed, .. } => Some(*owed),
            AuthState::SignedIn { .. } => None,
        }
    }

    /// What this sign-in has proven so far.
    pub fn proven(&self) -> &[Proof] {
        match self {
            AuthState::PasswordVerified { proven, .. }
            | AuthState::MustEnroll { proven, .. }
            | AuthState::SignedIn { proven, .. } => proven,
        }
    }
}

/// How long the second step may take after the password before the person
/// has to start again.
pub const SECOND_STEP_SECS: i64 = 15 * 60;

/// How recent a full sign-in must be for a sensitive change (SECURITY.md 24).
pub const STEP_UP_SECS: i64 = 10 * 60;

/// Where to land after signing in again: a path of this site, or home.
/// Anything that could lead elsewhere (`//host`, `https://…`, `/\host`) is
/// refused, so the parameter cannot be used to send people off-site.
pub fn return_path(asked: &str) -> &str {
    let ok = asked.starts_with('/')
        && !asked.starts_with("//")
        && asked.len() <= 200
        && asked
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_?=&.%".contains(c))
        && !asked.starts_with("/api/")
        && !asked.starts_with("/signin");
    if ok { asked } else { "/" }
}

/// What a sign-in owes beyond its first factor (SECURITY.md 49), weakest
/// first. Decided by [`owed`] alone; whether a sign-in has paid it, by
/// [`Owed::paid_by`] alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owed {
    /// The password alone (or a passkey, which is a whole sign-in).
    Password,
    /// A second factor of any method: the policy's mandate or the user's own
    /// switch. A trusted browser stands in for it, and so does a credential
    /// enrolled during the sign-in of an account that had none.
    SecondFactor,
    /// This method or one at least as strong (an application's acr): only a
    /// method proven pays it.
    Method(MethodId),
}

/// A half-finished sign-in stored before what it owes was recorded owes a
/// second factor: the stricter reading.
impl Default for Owed {
    fn default() -> Owed {
        Owed::SecondFactor
    }
}

impl Owed {
    /// The method the second step asks first, if one is owed.
    pub fn method(self) -> Option<MethodId> {
        match self {
            Owed::Method(m) => Some(m),
            Owed::Password | Owed::SecondFactor => None,
        }
    }

    /// Whether a credential of `method` pays it: the same assurance or more
    /// (SECURITY.md 44) of a kind that counts; any counting kind for a
    /// second factor; none is needed for the password alone.
    pub fn paid_with(self, method: MethodId) -> bool {
        match self {
            Owed::Password => false,
            Owed::SecondFactor => method.counts_toward_minimum(),
            Owed::Method(asked) => method.counts_toward_minimum() && method.assurance() >= asked.assurance(),
        }
    }

    /// Whether a sign-in that proved `proven` has paid it. The first factor
    /// is always owed: the password, or a method that is a whole sign-in by
    /// itself (a passkey that verified the person).
    pub fn paid_by(self, proven: &[Proof]) -> bool {
        let first = proven.iter().any(|p| match p.factor {
            Factor::Password => true,
            Factor::Method(m) => m.multi_factor(),
            Factor::TrustedBrowser | Factor::Enrolled(_) => false,
        });
        let strongest = strongest_method(proven);
        // Stand-ins for the account's own second factor only.
        let stands_in = proven
            .iter()
            .any(|p| matches!(p.factor, Factor::TrustedBrowser | Factor::Enrolled(_)));
        first
            && match self {
                Owed::Password => true,
                Owed::SecondFactor => strongest.is_some() || stands_in,
                Owed::Method(asked) => strongest.is_some_and(|got| got.assurance() >= asked.assurance()),
            }
    }
}

/// Who asks every sign-in of an account for a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mandate {
    /// The policy makes two-factor sign-in mandatory.
    pub policy: bool,
    /// The user turned it on.
    pub users_switch: bool,
}

/// Which factors a sign-in owes (SECURITY.md 49): the one function the
/// pages, signing in again, the authorization endpoint and the password
/// grant all ask. The policy's mandate and the user's own switch owe a
/// second factor when the account has a usable one to pay with (otherwise
/// it enrolls or signs in with the password, see [`AfterPassword`]); an
/// application's acr (its request, already raised to its client's minimum
/// by [`Acr::at_least`]) that names a method owes that method.
pub fn owed(mandate: Mandate, has_usable_factor: bool, application: Option<Acr>) -> Owed {
    match application.and_then(Acr::method) {
        Some(m) => Owed::Method(m),
        None if (mandate.policy || mandate.users_switch) && has_usable_factor => Owed::SecondFactor,
        None => Owed::Password,
    }
}

/// What follows a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// No second factor is owed: the session is signed in.
    SignedIn,
    /// A second factor is owed before the session is signed in.
    SecondFactor,
    /// The account has nothing to prove and must (or may, for an
    /// application's method) enroll first (WSO2's
    /// `CaptureAndUpdateMobileNumber`).
    Enroll,
}

/// What the step after a correct password depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterPassword {
    /// What the sign-in owes ([`owed`]).
    pub owed: Owed,
    /// What the account's own settings owe ([`owed`] without the application).
    pub own: Owed,
    /// Some usable credential pays `owed`.
    pub payable: bool,
    /// Credentials that count and can serve a sign-in right now (of enabled
    /// methods).
    pub usable_credentials: u32,
    /// The account may enroll now: the policy's mandate with a method to
    /// enroll, or an application's method the policy lets be enrolled
    /// (`MissingMethod::Enroll`). Only an account with nothing to prove
    /// enrolls (one with a factor is protected by it).
    pub may_enroll: bool,
}

impl AfterPassword {
    /// For an account whose usable credentials are of `usable` (recovery
    /// codes among them, which never keep the second step by themselves,
    /// SECURITY.md 38).
    pub fn new(mandate: Mandate, application: Option<Acr>, usable: &[MethodId], may_enroll: bool) -> AfterPassword {
        let counting = crate::method::counting(usable.iter().copied());
        let owed = owed(mandate, counting > 0, application);
        AfterPassword {
            owed,
            own: self::owed(mandate, counting > 0, None),
            payable: usable.iter().any(|m| owed.paid_with(*m)),
            usable_credentials: counting,
            may_enroll,
        }
    }

    /// The step after the password.
    pub fn next(&self) -> NextStep {
        if self.usable_credentials == 0 && self.may_enroll {
            NextStep::Enroll
        } else if self.owed == Owed::Password {
            NextStep::SignedIn
        } else if self.payable || self.own == Owed::SecondFactor {
            // An application's method the account lacks: its own second
            // factor still (the application is refused after).
            NextStep::SecondFactor
        } else {
            NextStep::SignedIn
        }
    }
}

/// At most `max_failures` failed attempts within `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window_secs: i64,
}

impl ThrottlePolicy {
    /// Given the failures in the current window (their count and the oldest
    /// one's time, in milliseconds), how many whole seconds until another
    /// attempt is allowed, rounded up so that a retry on time is let in;
    /// `None` when an attempt is allowed now.
    pub fn retry_after(&self, failures_in_window: u32, oldest_failure_at_ms: Option<i64>, now_ms: i64) -> Option<u64> {
        if failures_in_window < self.max_failures {
            return None;
        }
        let oldest = oldest_failure_at_ms.unwrap_or(now_ms);
        let wait_ms = oldest
            .saturating_add(self.window_secs.saturating_mul(1000))
            .saturating_sub(now_ms);
        Some((wait_ms.max(1) as u64).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::method::MethodId::{Passkey, RecoveryCode, Sms, Totp};

    const OFF: Mandate = Mandate {
        policy: false,
        users_switch: false,
    };
    const SWITCH: Mandate = Mandate {
        policy: false,
        users_switch: true,
    };
    const POLICY: Mandate = Mandate {
        policy: true,
        users_switch: false,
    };

    fn after_password(mandate: Mandate, usable: &[MethodId], may_enroll: bool) -> NextStep {
        AfterPassword::new(mandate, None, usable, may_enroll).next()
    }

    fn asked(mandate: Mandate, acr: Acr, usable: &[MethodId], may_enroll: bool) -> NextStep {
        AfterPassword::new(mandate, Some(acr), usable, may_enroll).next()
    }

    fn proof(factor: Factor) -> Proof {
        Proof { factor, at: 1 }
    }

    #[test]
    fn an_application_asking_for_a_factor_gets_it_even_with_2fa_off() {
        let sms = Acr::Method(Sms);
        assert_eq!(asked(OFF, sms, &[Sms], false), NextStep::SecondFactor);
        assert_eq!(asked(OFF, Acr::UsersSettings, &[Sms], false), NextStep::SignedIn);
        assert_eq!(asked(OFF, sms, &[], false), NextStep::SignedIn);
        // An app pays a request for a text (it is stronger).
        assert_eq!(asked(OFF, sms, &[Totp], false), NextStep::SecondFactor);
        // A method the account lacks: its own settings decide the step.
        let otp = Acr::Method(Totp);
        assert_eq!(asked(OFF, otp, &[Sms], false), NextStep::SignedIn);
        assert_eq!(asked(SWITCH, otp, &[Sms], false), NextStep::SecondFactor);
    }

    #[test]
    fn a_demanded_method_is_enrolled_only_by_an_account_with_no_factor_to_protect_it() {
        let otp = Acr::Method(Totp);
        assert_eq!(asked(OFF, otp, &[], true), NextStep::Enroll);
        assert_eq!(asked(SWITCH, otp, &[], true), NextStep::Enroll);
        assert_eq!(asked(SWITCH, otp, &[RecoveryCode], true), NextStep::Enroll);
        // A factor of another method: proven first, never bypassed by enrolling.
        assert_eq!(asked(SWITCH, otp, &[Sms], true), NextStep::SecondFactor);
        assert_eq!(asked(OFF, otp, &[Sms], true), NextStep::SignedIn);
    }

    #[test]
    fn password_alone_signs_in_without_2fa_or_usable_credentials() {
        assert_eq!(after_password(OFF, &[], false), NextStep::SignedIn);
        assert_eq!(after_password(OFF, &[Sms, Totp], false), NextStep::SignedIn);
        assert_eq!(after_password(SWITCH, &[], false), NextStep::SignedIn);
        assert_eq!(after_password(SWITCH, &[RecoveryCode], false), NextStep::SignedIn);
        assert_eq!(after_password(SWITCH, &[Sms], false), NextStep::SecondFactor);
    }

    #[test]
    fn mandatory_2fa_asks_for_a_code_or_an_enrollment() {
        assert_eq!(after_password(POLICY, &[Sms], true), NextStep::SecondFactor);
        assert_eq!(after_password(POLICY, &[], true), NextStep::Enroll);
        // No method to enroll with: the password alone (and a banner).
        assert_eq!(after_password(POLICY, &[], false), NextStep::SignedIn);
    }

    #[test]
    fn sec_49_one_function_owes_the_strictest_of_policy_user_and_application() {
        // The policy's mandate owes a factor whatever the user's switch says.
        assert_eq!(owed(POLICY, true, None), Owed::SecondFactor);
        assert_eq!(owed(POLICY, true, Some(Acr::UsersSettings)), Owed::SecondFactor);
        // A request for the password alone lowers neither.
        assert_eq!(owed(POLICY, true, Some(Acr::Password)), Owed::SecondFactor);
        assert_eq!(owed(SWITCH, true, Some(Acr::Password)), Owed::SecondFactor);
        assert_eq!(owed(OFF, true, Some(Acr::Password)), Owed::Password);
        // Nothing to pay with: nothing of the account's own is owed.
        assert_eq!(owed(POLICY, false, None), Owed::Password);
        // An application's method is owed whatever the account has.
        assert_eq!(owed(OFF, false, Some(Acr::Method(Totp))), Owed::Method(Totp));
        assert_eq!(owed(POLICY, true, Some(Acr::Method(Sms))), Owed::Method(Sms));
    }

    #[test]
    fn sec_44_a_weaker_method_never_pays_a_stronger_request() {
        let pwd = proof(Factor::Password);
        let sms = proof(Factor::Method(Sms));
        let app = proof(Factor::Method(Totp));
        assert!(!Owed::Method(Totp).paid_by(&[pwd, sms]));
        assert!(Owed::Method(Totp).paid_by(&[pwd, app]));
        assert!(Owed::Method(Sms).paid_by(&[pwd, app]));
        assert!(Owed::Method(Sms).paid_by(&[pwd, sms]));
        assert!(!Owed::Method(Sms).paid_by(&[pwd]));
        // A factor without the password is not a sign-in.
        assert!(!Owed::Method(Sms).paid_by(&[sms]));
        assert!(!Owed::Password.paid_by(&[]));
        assert!(Owed::Password.paid_by(&[pwd]));
        assert!(!Owed::SecondFactor.paid_by(&[pwd]));
        assert!(Owed::SecondFactor.paid_by(&[pwd, sms]));
    }

    #[test]
    fn a_passkey_alone_is_a_whole_sign_in_and_no_other_method_is() {
        let passkey = proof(Factor::Method(Passkey));
        let app = proof(Factor::Method(Totp));
        for owed in [
            Owed::Password,
            Owed::SecondFactor,
            Owed::Method(Sms),
            Owed::Method(Totp),
            Owed::Method(Passkey),
        ] {
            assert!(owed.paid_by(&[passkey]), "{owed:?}");
            assert!(!owed.paid_by(&[app]), "{owed:?}");
        }
    }

    #[test]
    fn sec_49_enrolling_and_a_trusted_browser_stand_in_only_for_the_accounts_own_factor() {
        let pwd = proof(Factor::Password);
        for stand_in in [proof(Factor::TrustedBrowser), proof(Factor::Enrolled(Totp))] {
            assert!(Owed::SecondFactor.paid_by(&[pwd, stand_in]));
            assert!(!Owed::SecondFactor.paid_by(&[stand_in]), "never the password");
            assert!(!Owed::Method(Sms).paid_by(&[pwd, stand_in]));
            assert!(!Owed::Method(Totp).paid_by(&[pwd, stand_in]));
        }
    }

    #[test]
    fn sec_49_the_method_asked_for_is_paid_only_by_a_method_as_strong() {
        assert!(Owed::Method(Sms).paid_with(Totp));
        assert!(!Owed::Method(Totp).paid_with(Sms));
        assert!(
            !Owed::Method(Totp).paid_with(RecoveryCode),
            "recovery codes never count"
        );
        assert!(Owed::SecondFactor.paid_with(Sms));
        assert!(!Owed::SecondFactor.paid_with(RecoveryCode));
        assert!(!Owed::Password.paid_with(Passkey));
    }

    /// Every way a sign-in can end (the step after the password, then what
    /// each step records) and every input: no path reaches "signed in"
    /// with less than the account's own settings owe, and what the
    /// application asked is paid only by a proof as strong.
    mod state_machine {
        use super::*;
        use proptest::prelude::*;

        fn method() -> impl Strategy<Value = MethodId> {
            prop::sample::select(MethodId::ALL.to_vec())
        }

        fn acr() -> impl Strategy<Value = Option<Acr>> {
            prop::option::of(prop_oneof![
                Just(Acr::Password),
                Just(Acr::UsersSettings),
                method().prop_map(Acr::Method),
            ])
        }

        proptest! {
            #[test]
            fn sec_49_no_sequence_of_steps_signs_in_with_less_than_it_owes(
                policy in any::<bool>(),
                users_switch in any::<bool>(),
                application in acr(),
                usable in prop::collection::vec(method(), 0..4),
                may_enroll in any::<bool>(),
                proved in prop::option::of(method()),
                trusted in any::<bool>(),
            ) {
                let mandate = Mandate { policy, users_switch };
                let step = AfterPassword::new(mandate, application, &usable, may_enroll);
                let pwd = proof(Factor::Password);
                // What the session holds once the sign-in finishes, by the step taken.
                let proven: Vec<Proof> = match step.next() {
                    NextStep::SignedIn => vec![pwd],
                    NextStep::Enroll => {
                        prop_assert_eq!(step.usable_credentials, 0, "only an account with nothing to prove enrolls");
                        vec![pwd, proof(Factor::Enrolled(proved.unwrap_or(Sms)))]
                    }
                    NextStep::SecondFactor => {
                        // The second step proves one of the account's own
                        // credentials, or a trusted browser stands in (only
                        // when no method is asked, as the server does).
                        let factor = if trusted && step.owed.method().is_none() {
                            Factor::TrustedBrowser
                        } else {
                            match proved.filter(|m| usable.contains(m)).or(usable.first().copied()) {
                                Some(m) => Factor::Method(m),
                                None => return Ok(()),
                            }
                        };
                        vec![pwd, proof(factor)]
                    }
                };
                // The account's own settings are always paid...
                prop_assert!(step.own.paid_by(&proven) || step.own == Owed::Password, "{step:?} {proven:?}");
                // ...and what was asked is paid only by a method proven as strong.
                if let Owed::Method(asked) = step.owed
                    && step.owed.paid_by(&proven)
                {
                    let strongest = crate::acr::Acr::stated(&proven).method();
                    prop_assert!(strongest.is_some_and(|m| m.assurance() >= asked.assurance()));
                }
            }
        }
    }

    #[test]
    fn only_a_complete_pipeline_has_a_signed_in_user() {
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 0,
            proven: vec![],
            credential: None,
            owed: Owed::SecondFactor,
        };
        assert_eq!(half.signed_in_user(), None);
        assert_eq!(half.enrolling_user(), None);
        let enrolling = AuthState::MustEnroll {
            user_id: "u".into(),
            at: 0,
            proven: vec![],
            owed: Owed::SecondFactor,
        };
        assert_eq!(enrolling.enrolling_user(), Some("u"));
        assert_eq!((enrolling.signed_in_user(), enrolling.pending_user()), (None, None));
        let full = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 5,
            started_at: 5,
            proven: vec![],
            sign_in: 1,
        };
        assert_eq!(full.signed_in_user(), Some("u"));
        assert_eq!(full.enrolling_user(), None);
    }

    #[test]
    fn states_stored_before_proofs_were_recorded_read_back() {
        let old = r#"{"SignedIn":{"user_id":"u","authenticated_at":5,"started_at":4}}"#;
        let state: AuthState = serde_json::from_str(old).unwrap();
        assert_eq!(state.signed_in_user(), Some("u"));
        assert!(state.proven().is_empty());
        let old = r#"{"PasswordVerified":{"user_id":"u","at":5}}"#;
        let state: AuthState = serde_json::from_str(old).unwrap();
        assert_eq!(state.pending_user(), Some("u"));
    }

    #[test]
    fn each_state_answers_with_what_it_has_proven() {
        let pwd = Proof {
            factor: Factor::Password,
            at: 1,
        };
        let app = Proof {
            factor: Factor::Method(MethodId::Totp),
            at: 2,
        };
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 1,
            proven: vec![pwd],
            credential: None,
            owed: Owed::SecondFactor,
        };
        assert_eq!(half.proven(), &[pwd]);
        let enrolling = AuthState::MustEnroll {
            user_id: "u".into(),
            at: 1,
            proven: vec![pwd],
            owed: Owed::SecondFactor,
        };
        assert_eq!(enrolling.proven(), &[pwd]);
        let full = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 2,
            started_at: 2,
            proven: vec![pwd, app],
            sign_in: 1,
        };
        assert_eq!(full.proven(), &[pwd, app]);
    }

    #[test]
    fn a_half_finished_sign_in_carries_what_it_owes_and_a_finished_one_nothing() {
        let owed = Owed::Method(MethodId::Totp);
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 1,
            proven: vec![],
            credential: None,
            owed,
        };
        assert_eq!(half.owed(), Some(owed));
        let enrolling = AuthState::MustEnroll {
            user_id: "u".into(),
            at: 1,
            proven: vec![],
            owed: Owed::Password,
        };
        assert_eq!(enrolling.owed(), Some(Owed::Password));
        let full = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 2,
            started_at: 2,
            proven: vec![],
            sign_in: 1,
        };
        assert_eq!(full.owed(), None);
        assert_eq!(owed.method(), Some(MethodId::Totp));
        assert_eq!(Owed::SecondFactor.method(), None);
        assert_eq!(Owed::Password.method(), None);
    }

    #[test]
    fn absolute_lifetime_counts_from_the_session_start() {
        let s = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 900,
            started_at: 100,
            proven: vec![],
            sign_in: 1,
        };
        assert!(!s.expired(100 + 3599, 3600));
        assert!(s.expired(100 + 3600, 3600));
    }

    #[test]
    fn a_half_finished_sign_in_expires_after_the_second_step_window() {
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 100,
            proven: vec![],
            credential: None,
            owed: Owed::SecondFactor,
        };
        // Fifteen minutes.
        assert!(!half.expired(100 + 15 * 60 - 1, 12 * 3600));
        assert!(half.expired(100 + 15 * 60, 12 * 3600));
        assert_eq!(half.pending_user(), Some("u"));
    }

    #[test]
    fn sensitive_changes_need_a_sign_in_within_ten_minutes() {
        let s = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 1000,
            started_at: 100,
            proven: vec![],
            sign_in: 1,
        };
        assert!(s.recently_authenticated(1000 + 10 * 60 - 1));
        assert!(!s.recently_authenticated(1000 + 10 * 60));
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 1000,
            proven: vec![],
            credential: None,
            owed: Owed::SecondFactor,
        };
        assert!(!half.recently_authenticated(1001));
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(return_path("/credentials"), "/credentials");
        assert_eq!(return_path("/account/password"), "/account/password");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "",
            "credentials",
            "/signin/code",
            "/api/sign_out",
            "/a b",
        ] {
            assert_eq!(return_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn throttle_waits_until_the_oldest_failure_leaves_the_window() {
        let p = ThrottlePolicy {
            max_failures: 5,
            window_secs: 900,
        };
        assert_eq!(p.retry_after(4, Some(1_000_000), 1_100_000), None);
        assert_eq!(p.retry_after(5, Some(1_000_000), 1_100_000), Some(800));
        assert_eq!(p.retry_after(9, Some(1_000_000), 1_900_000), Some(1));
        // A part of a second left is a whole second to wait.
        assert_eq!(p.retry_after(5, Some(1_000_700), 1_100_300), Some(801));
    }
}
