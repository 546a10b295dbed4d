//! The ports: what the UI's server functions ask of the back end. The server
//! implements them for each request (bound to that request's session, IP and
//! user agent) and hands them over in the request's extensions.

use crate::error::PortalError;
use crate::views::{
    AuditFilter, AuditPage, ChallengeView, CredentialsView, HomeStatus, MethodView, OutboxMessage, PolicyView,
    ProviderView, SessionInfo, SessionView, UserDetail, UserSummary,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The account portal, as seen from one request.
#[async_trait::async_trait]
pub trait Portal: Send + Sync {
    /// Who is signed in, and this session's CSRF token (made on first use).
    async fn session(&self) -> Result<SessionView, PortalError>;
    /// The password step. On success the session id rotates; the answer says
    /// whether a second factor is still owed (a code is then on its way).
    async fn sign_in(&self, username: &str, password: &str) -> Result<SignInNext, PortalError>;
    /// The second step as it stands: the masked phones and the code sent.
    async fn challenge(&self) -> Result<ChallengeView, PortalError>;
    /// Sends (or sends again) a sign-in code, to `phone_id` or the preferred phone.
    async fn send_sign_in_code(&self, phone_id: Option<&str>) -> Result<(), PortalError>;
    /// Checks the sign-in code; success rotates the session id and signs in.
    /// The answer is where to land (home, or the page that asked for a
    /// fresh sign-in).
    async fn verify_sign_in_code(&self, code: &str) -> Result<String, PortalError>;
    /// Signing in again while signed in (step-up, SECURITY.md 24): the
    /// password, then the second factor when it is on. `next` is the page to
    /// land on afterwards.
    async fn reauthenticate(&self, password: &str, next: &str) -> Result<SignInNext, PortalError>;
    /// The signed-in user's sessions, newest first.
    async fn sessions(&self) -> Result<Vec<SessionInfo>, PortalError>;
    /// Ends one of the user's sessions (it is signed out at its next request).
    async fn end_session(&self, id: &str) -> Result<(), PortalError>;
    /// Changes the password (needs a recent sign-in); every other session ends.
    async fn change_password(&self, current: &str, new: &str, repeat: &str) -> Result<(), PortalError>;
    /// Ends the session server-side.
    async fn sign_out(&self) -> Result<(), PortalError>;
    /// The signed-in user's security status.
    async fn home(&self) -> Result<HomeStatus, PortalError>;
    /// The signed-in user's credentials, 2FA state and pending enrollment.
    async fn credentials(&self) -> Result<CredentialsView, PortalError>;
    /// Starts enrolling a phone: checks the number and sends a code to it.
    async fn start_enrollment(&self, phone: &str, nickname: &str) -> Result<(), PortalError>;
    /// Sends the pending enrollment's code again (after the cooldown).
    async fn resend_enrollment(&self) -> Result<(), PortalError>;
    /// Checks the enrollment code; success stores the phone as a credential.
    /// During a mandatory enrollment at sign-in it also turns 2FA on and
    /// finishes the sign-in: the answer is then `true`.
    async fn verify_enrollment(&self, code: &str) -> Result<bool, PortalError>;
    async fn cancel_enrollment(&self) -> Result<(), PortalError>;
    async fn rename_credential(&self, id: &str, nickname: &str) -> Result<(), PortalError>;
    /// Removes a credential; when that would turn 2FA off it needs `confirm`.
    async fn remove_credential(&self, id: &str, confirm: bool) -> Result<(), PortalError>;
    /// Turns 2FA on (with a preferred phone) or off.
    async fn set_two_factor(&self, enabled: bool, preferred: Option<&str>) -> Result<(), PortalError>;
}

/// Where a correct password leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNext {
    SignedIn,
    SecondFactor,
    /// 2FA is mandatory: enroll a phone to finish signing in.
    Enroll,
}

/// What an administrator does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    /// Back to password only: 2FA off (Casa's "reset user preference").
    ResetTwoFactor,
    Lock,
    Unlock,
    MakeAdmin,
    RevokeAdmin,
}

impl UserAction {
    pub fn parse(s: &str) -> Option<UserAction> {
        Some(match s {
            "reset_2fa" => UserAction::ResetTwoFactor,
            "lock" => UserAction::Lock,
            "unlock" => UserAction::Unlock,
            "make_admin" => UserAction::MakeAdmin,
            "revoke_admin" => UserAction::RevokeAdmin,
            _ => return None,
        })
    }
}

/// The administration console, as seen from one request. Every method
/// answers `Forbidden` unless the request's user is an administrator.
#[async_trait::async_trait]
pub trait Admin: Send + Sync {
    async fn methods(&self) -> Result<Vec<MethodView>, PortalError>;
    /// Enables or disables a method and picks its plugin. Disabling a method
    /// that users depend on needs `confirm`. `version` is what the admin saw.
    async fn save_method(
        &self,
        method: &str,
        enabled: bool,
        plugin: &str,
        version: i64,
        confirm: bool,
    ) -> Result<(), PortalError>;
    async fn providers(&self) -> Result<Vec<ProviderView>, PortalError>;
    /// Saves a plugin's properties; a blank secret keeps the stored one.
    async fn save_provider(
        &self,
        plugin: &str,
        values: BTreeMap<String, String>,
        version: i64,
    ) -> Result<(), PortalError>;
    /// Sends a test message with a plugin's stored settings; the answer is
    /// the provider's, word for word.
    async fn test_provider(&self, plugin: &str, to: &str) -> Result<String, PortalError>;
    async fn policy(&self) -> Result<PolicyView, PortalError>;
    async fn save_policy(&self, fields: BTreeMap<String, String>, version: i64) -> Result<(), PortalError>;
    /// Accounts whose username, email or phone number contains `query`.
    async fn users(&self, query: &str) -> Result<Vec<UserSummary>, PortalError>;
    async fn user(&self, username: &str) -> Result<UserDetail, PortalError>;
    async fn user_action(&self, username: &str, action: UserAction) -> Result<(), PortalError>;
    async fn audit(&self, filter: AuditFilter) -> Result<AuditPage, PortalError>;
    /// The outbox plugin's messages, newest first (numbers masked).
    async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortalError>;
    /// Security notifications, newest first: those kept in the outbox (no
    /// SMTP, or no address) and those mailed.
    async fn notifications(&self) -> Result<Vec<OutboxMessage>, PortalError>;
}

/// The handle the server puts into each request's extensions.
#[derive(Clone)]
pub struct PortalHandle(pub Arc<dyn Portal>);

/// The console's handle, beside [`PortalHandle`] in each request.
#[derive(Clone)]
pub struct AdminHandle(pub Arc<dyn Admin>);
