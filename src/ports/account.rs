//! The signed-in person's account: status, sessions, password.

use crate::error::PortalError;
use crate::views::{ApplicationInfo, HomeStatus, SessionInfo, TrustedBrowserInfo};

#[async_trait::async_trait]
pub trait Account: Send + Sync {
    /// The signed-in user's security status.
    async fn home(&self) -> Result<HomeStatus, PortalError>;
    /// The signed-in user's sessions, newest first.
    async fn sessions(&self) -> Result<Vec<SessionInfo>, PortalError>;
    /// Ends one of the user's sessions (it is signed out at its next request).
    async fn end_session(&self, id: &str) -> Result<(), PortalError>;
    /// The browsers trusted to skip the second step, newest first.
    async fn trusted_browsers(&self) -> Result<Vec<TrustedBrowserInfo>, PortalError>;
    /// Forgets one trusted browser: it asks for the second factor again.
    async fn forget_trusted_browser(&self, id: &str) -> Result<(), PortalError>;
    /// Forgets every trusted browser of the account.
    async fn forget_trusted_browsers(&self) -> Result<(), PortalError>;
    /// The applications the user signed in to or allowed, newest first.
    async fn applications(&self) -> Result<Vec<ApplicationInfo>, PortalError>;
    /// Revokes an application: its tokens stop working and the consent is
    /// forgotten.
    async fn revoke_application(&self, client_id: &str) -> Result<(), PortalError>;
    /// Changes the password (needs a recent sign-in); every other session ends.
    async fn change_password(&self, current: &str, new: &str, repeat: &str) -> Result<(), PortalError>;
}
