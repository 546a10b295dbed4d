//! A person's credentials: those of every method, and enrolling each kind.

use crate::error::PortalError;
use crate::views::{CredentialsView, RecoveryView};

/// Credentials of every method and the 2FA switch.
#[async_trait::async_trait]
pub trait Credentials: Send + Sync {
    /// The signed-in user's credentials, 2FA state and pending enrollment.
    async fn credentials(&self) -> Result<CredentialsView, PortalError>;
    async fn rename_credential(&self, id: &str, nickname: &str) -> Result<(), PortalError>;
    /// Removes a credential; when that would turn 2FA off it needs `confirm`.
    async fn remove_credential(&self, id: &str, confirm: bool) -> Result<(), PortalError>;
    /// Turns 2FA on (with a preferred credential) or off.
    async fn set_two_factor(&self, enabled: bool, preferred: Option<&str>) -> Result<(), PortalError>;
}

/// Enrolling a phone. During a mandatory enrollment at sign-in (no one is
/// signed in yet) it serves the account that must enroll.
#[async_trait::async_trait]
pub trait SmsEnrollment: Send + Sync {
    /// Checks the number and sends a code to it.
    async fn start_enrollment(&self, phone: &str, nickname: &str) -> Result<(), PortalError>;
    /// Sends the pending enrollment's code again (after the cooldown).
    async fn resend_enrollment(&self) -> Result<(), PortalError>;
    /// Checks the enrollment code; success stores the phone as a credential.
    /// During a mandatory enrollment at sign-in it also turns 2FA on and
    /// finishes the sign-in: the answer is then `true`.
    async fn verify_enrollment(&self, code: &str) -> Result<Option<String>, PortalError>;
    async fn cancel_enrollment(&self) -> Result<(), PortalError>;
}

/// Adding an authenticator app; like [`SmsEnrollment`], it also serves a
/// mandatory enrollment at sign-in.
#[async_trait::async_trait]
pub trait TotpEnrollment: Send + Sync {
    /// Makes a new secret to show (replacing an unfinished setup).
    async fn start_app(&self, nickname: &str) -> Result<(), PortalError>;
    /// Checks the first code from the app; success stores it. The answer is
    /// `true` when this finished a mandatory sign-in.
    async fn verify_app(&self, code: &str) -> Result<Option<String>, PortalError>;
    async fn cancel_app(&self) -> Result<(), PortalError>;
}

/// Adding a passkey (a ceremony the browser answers); like
/// [`SmsEnrollment`], it also serves a mandatory enrollment at sign-in.
#[async_trait::async_trait]
pub trait PasskeyEnrollment: Send + Sync {
    /// Starts a registration ceremony (replacing an unfinished one).
    async fn start_passkey(&self, nickname: &str) -> Result<(), PortalError>;
    /// The browser's answer (JSON); success stores the passkey. The answer
    /// is where to land when this finished a mandatory sign-in.
    async fn finish_passkey(&self, response: &str) -> Result<Option<String>, PortalError>;
    async fn cancel_passkey(&self) -> Result<(), PortalError>;
}

/// Recovery codes: a set of ten, shown once, a new set voiding the old.
#[async_trait::async_trait]
pub trait RecoveryCodes: Send + Sync {
    /// How many are left, and the codes of a set just made (until saved).
    async fn recovery_codes(&self) -> Result<RecoveryView, PortalError>;
    /// Makes a new set (needs a recent sign-in); the old one stops working.
    async fn make_recovery_codes(&self) -> Result<(), PortalError>;
    /// The person has saved the new codes: they are not shown again.
    async fn saved_recovery_codes(&self) -> Result<(), PortalError>;
}
