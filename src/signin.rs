//! The sign-in pipeline as data: where a session stands, what comes next, and
//! the timing rules (throttling, session lifetimes). The server stores
//! [`AuthState`] in the session; a page or an OpenID Connect endpoint can drive
//! the same steps.

use crate::method::Proof;
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
    },
    /// The password was right, 2FA is mandatory and the account has no
    /// usable credential: it must enroll one (proved with a code) first.
    MustEnroll {
        user_id: String,
        at: i64,
        #[serde(default)]
        proven: Vec<Proof>,
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

/// What follows a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// No second factor is owed: the session is signed in.
    SignedIn,
    /// A second factor is owed before the session is signed in.
    SecondFactor,
    /// 2FA is mandatory and nothing can serve it: enroll first (WSO2's
    /// `CaptureAndUpdateMobileNumber`).
    Enroll,
}

/// Whether the policy requires a second factor of everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Each user turns 2FA on or off (and signing in again while signed in,
    /// where mandatory enrollment does not apply).
    UsersChoice,
    /// 2FA is mandatory; `can_enroll`: some method is enabled to enroll with.
    Mandatory { can_enroll: bool },
}

/// What the step after a correct password depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterPassword {
    pub two_factor_enabled: bool,
    /// Credentials that can serve a sign-in right now (of enabled methods).
    pub usable_credentials: u32,
    pub requirement: Requirement,
    /// An application asked for a second factor (an `acr` naming a
    /// method) that one of the usable credentials can give: it is asked
    /// for even when the user has 2FA off.
    pub demanded_by_application: bool,
    /// An application asked for a method the user has no credential of,
    /// and the policy lets the user enroll it (`MissingMethod::Enroll`)
    /// with one of the methods enabled.
    pub may_enroll_demanded: bool,
}

impl AfterPassword {
    /// The step after the password.
    pub fn next(&self) -> NextStep {
        let mandatory = matches!(self.requirement, Requirement::Mandatory { .. });
        let can_enroll = matches!(self.requirement, Requirement::Mandatory { can_enroll: true });
        let owed = self.two_factor_enabled || mandatory || self.demanded_by_application;
        if self.usable_credentials > 0 && owed {
            NextStep::SecondFactor
        } else if self.usable_credentials == 0 && ((mandatory && can_enroll) || self.may_enroll_demanded) {
            // Nothing to prove first: enrolling is safe only here (an
            // account with a factor would be protected by it).
            NextStep::Enroll
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

    fn after_password(
        two_factor_enabled: bool,
        usable_credentials: u32,
        mandatory: bool,
        can_enroll: bool,
    ) -> NextStep {
        let requirement = if mandatory {
            Requirement::Mandatory { can_enroll }
        } else {
            Requirement::UsersChoice
        };
        AfterPassword {
            two_factor_enabled,
            usable_credentials,
            requirement,
            demanded_by_application: false,
            may_enroll_demanded: false,
        }
        .next()
    }

    #[test]
    fn an_application_asking_for_a_factor_gets_it_even_with_2fa_off() {
        let next = |usable_credentials, demanded_by_application| {
            AfterPassword {
                two_factor_enabled: false,
                usable_credentials,
                requirement: Requirement::UsersChoice,
                demanded_by_application,
                may_enroll_demanded: false,
            }
            .next()
        };
        assert_eq!(next(1, true), NextStep::SecondFactor);
        assert_eq!(next(1, false), NextStep::SignedIn);
        assert_eq!(next(0, true), NextStep::SignedIn);
    }

    #[test]
    fn a_demanded_method_is_enrolled_only_by_an_account_with_no_factor_to_protect_it() {
        let next = |two_factor_enabled, usable_credentials| {
            AfterPassword {
                two_factor_enabled,
                usable_credentials,
                requirement: Requirement::UsersChoice,
                demanded_by_application: false,
                may_enroll_demanded: true,
            }
            .next()
        };
        assert_eq!(next(false, 0), NextStep::Enroll);
        assert_eq!(next(true, 0), NextStep::Enroll);
        // A factor of another method: proven first, never bypassed by enrolling.
        assert_eq!(next(true, 1), NextStep::SecondFactor);
        assert_eq!(next(false, 1), NextStep::SignedIn);
    }

    #[test]
    fn password_alone_signs_in_without_2fa_or_usable_credentials() {
        assert_eq!(after_password(false, 0, false, true), NextStep::SignedIn);
        assert_eq!(after_password(false, 2, false, true), NextStep::SignedIn);
        assert_eq!(after_password(true, 0, false, true), NextStep::SignedIn);
        assert_eq!(after_password(true, 1, false, true), NextStep::SecondFactor);
    }

    #[test]
    fn mandatory_2fa_asks_for_a_code_or_an_enrollment() {
        assert_eq!(after_password(false, 1, true, true), NextStep::SecondFactor);
        assert_eq!(after_password(false, 0, true, true), NextStep::Enroll);
        assert_eq!(after_password(true, 0, true, true), NextStep::Enroll);
        // No method to enroll with: the password alone (and a banner).
        assert_eq!(after_password(false, 0, true, false), NextStep::SignedIn);
    }

    #[test]
    fn only_a_complete_pipeline_has_a_signed_in_user() {
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 0,
            proven: vec![],
            credential: None,
        };
        assert_eq!(half.signed_in_user(), None);
        assert_eq!(half.enrolling_user(), None);
        let enrolling = AuthState::MustEnroll {
            user_id: "u".into(),
            at: 0,
            proven: vec![],
        };
        assert_eq!(enrolling.enrolling_user(), Some("u"));
        assert_eq!((enrolling.signed_in_user(), enrolling.pending_user()), (None, None));
        let full = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 5,
            started_at: 5,
            proven: vec![],
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
        use crate::method::{Factor, MethodId};
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
        };
        assert_eq!(half.proven(), &[pwd]);
        let enrolling = AuthState::MustEnroll {
            user_id: "u".into(),
            at: 1,
            proven: vec![pwd],
        };
        assert_eq!(enrolling.proven(), &[pwd]);
        let full = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 2,
            started_at: 2,
            proven: vec![pwd, app],
        };
        assert_eq!(full.proven(), &[pwd, app]);
    }

    #[test]
    fn absolute_lifetime_counts_from_the_session_start() {
        let s = AuthState::SignedIn {
            user_id: "u".into(),
            authenticated_at: 900,
            started_at: 100,
            proven: vec![],
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
        };
        assert!(s.recently_authenticated(1000 + 10 * 60 - 1));
        assert!(!s.recently_authenticated(1000 + 10 * 60));
        let half = AuthState::PasswordVerified {
            user_id: "u".into(),
            at: 1000,
            proven: vec![],
            credential: None,
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
