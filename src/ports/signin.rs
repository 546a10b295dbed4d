//! Signing in and out.

use crate::error::PortalError;
use crate::views::{ChallengeView, NotMeView, ResetView, SessionView};

/// The sign-in pipeline, as seen from one request.
#[async_trait::async_trait]
pub trait SignIn: Send + Sync {
    /// Who is signed in, and this session's CSRF token (made on first use).
    async fn session(&self) -> Result<SessionView, PortalError>;
    /// The password step. On success the session id rotates; the answer says
    /// whether a second factor is still owed (a code is then on its way when
    /// the preferred credential needs one).
    async fn sign_in(&self, username: &str, password: &str) -> Result<SignInNext, PortalError>;
    /// The second step as it stands: the credentials to choose from and the
    /// one being proven.
    async fn challenge(&self) -> Result<ChallengeView, PortalError>;
    /// Proves `credential` (or the one being proven) next: a code goes out
    /// when it needs one (a resend, for the same credential).
    async fn send_sign_in_code(&self, credential: Option<&str>) -> Result<(), PortalError>;
    /// Checks the code for the credential being proven; success rotates the
    /// session id and signs in. The answer is where to land (home, or the
    /// page that asked for a fresh sign-in).
    /// `remember`: whether this browser is to skip the second step from now
    /// on (when the policy offers it).
    async fn verify_sign_in_code(&self, code: &str, remember: RememberBrowser) -> Result<String, PortalError>;
    /// Starts a sign-in with a passkey the browser finds (the sign-in
    /// page's button and autofill): the WebAuthn options (JSON), or none
    /// when passkeys alone may not sign in.
    async fn passkey_sign_in(&self) -> Result<Option<String>, PortalError>;
    /// The browser's answer to it; success signs in (the session id
    /// rotates). The answer is where to land.
    async fn sign_in_with_passkey(&self, response: &str) -> Result<String, PortalError>;
    /// "Lost every way to sign in?" during the second step: whether a
    /// reset by email is possible, and one already waiting.
    async fn reset(&self) -> Result<ResetView, PortalError>;
    /// Asks for a reset of two-factor sign-in (it waits, and every channel
    /// of the account is told).
    async fn start_reset(&self) -> Result<(), PortalError>;
    /// The cancel link of a reset's notice (no sign-in needed).
    async fn cancel_reset(&self, token: &str) -> Result<(), PortalError>;
    /// The signed-in owner cancels the reset waiting on their account (the
    /// banner every page shows).
    async fn cancel_own_reset(&self) -> Result<(), PortalError>;
    /// The page of a notice's "this wasn't me" link (opening it changes
    /// nothing). A signed-out holder's next sign-in lands back on it.
    async fn not_me(&self, token: &str) -> Result<NotMeView, PortalError>;
    /// The link's signed-in owner secures the account: every other session
    /// ends, trusted browsers are forgotten, a waiting reset is cancelled,
    /// the account is flagged for the administrators.
    async fn secure_account(&self, token: &str) -> Result<(), PortalError>;
    /// A holder of the link who cannot sign in tells the administrators.
    async fn report_not_me(&self, token: &str) -> Result<(), PortalError>;
    /// Signing in again while signed in (step-up, SECURITY.md 24): the
    /// password, then the second factor when it is on. `next` is the page to
    /// land on afterwards.
    async fn reauthenticate(&self, password: &str, next: &str) -> Result<SignInNext, PortalError>;
    /// Ends the session server-side.
    async fn sign_out(&self) -> Result<(), PortalError>;
}

/// The second step's "Don't ask again on this browser" box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RememberBrowser {
    Yes,
    No,
}

/// Where a correct password leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInNext {
    /// Signed in: land on `to` (home, the page that asked for a fresh
    /// sign-in, or an application's authorization request).
    SignedIn {
        to: String,
    },
    SecondFactor,
    /// 2FA is mandatory: enroll a credential to finish signing in.
    Enroll,
}
