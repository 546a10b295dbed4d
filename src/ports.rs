//! The ports: what the UI's server functions ask of the back end. The server
//! implements them for each request (bound to that request's session, IP and
//! user agent) and hands them over in the request's extensions.

use crate::error::PortalError;
use crate::views::{HomeStatus, SessionView, UserSummary};
use std::sync::Arc;

/// The account portal, as seen from one request.
#[async_trait::async_trait]
pub trait Portal: Send + Sync {
    /// Who is signed in, and this session's CSRF token (made on first use).
    async fn session(&self) -> Result<SessionView, PortalError>;
    /// The password step. On success the session id rotates.
    async fn sign_in(&self, username: &str, password: &str) -> Result<(), PortalError>;
    /// Ends the session server-side.
    async fn sign_out(&self) -> Result<(), PortalError>;
    /// The signed-in user's security status.
    async fn home(&self) -> Result<HomeStatus, PortalError>;
    /// All accounts, for administrators only.
    async fn list_users(&self) -> Result<Vec<UserSummary>, PortalError>;
}

/// The handle the server puts into each request's extensions.
#[derive(Clone)]
pub struct PortalHandle(pub Arc<dyn Portal>);
