//! The console's port.

use crate::error::PortalError;
use crate::views::{
    AuditFilter, AuditPage, ClientDetail, ClientForm, ClientSummary, MethodView, NewClientForm, OutboxMessage,
    PolicyView, ProviderView, UserDetail, UserSummary,
};
use std::collections::BTreeMap;

/// An administrator's word on a waiting reset of two-factor sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetDecision {
    Cancel,
    /// Its wait ends now.
    Approve,
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
    /// Clears the flag an owner's "this wasn't me" raised, once looked into.
    ClearFlag,
}

impl UserAction {
    pub fn parse(s: &str) -> Option<UserAction> {
        Some(match s {
            "reset_2fa" => UserAction::ResetTwoFactor,
            "lock" => UserAction::Lock,
            "unlock" => UserAction::Unlock,
            "make_admin" => UserAction::MakeAdmin,
            "revoke_admin" => UserAction::RevokeAdmin,
            "clear_flag" => UserAction::ClearFlag,
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
    /// Cancels the account's waiting reset of two-factor sign-in, or lets it
    /// finish at the next sign-in.
    async fn decide_reset(&self, username: &str, decision: ResetDecision) -> Result<(), PortalError>;
    /// Forgets every browser the account trusted: each asks for the second
    /// factor again.
    async fn forget_user_browsers(&self, username: &str) -> Result<(), PortalError>;
    async fn audit(&self, filter: AuditFilter) -> Result<AuditPage, PortalError>;
    /// The outbox plugin's messages, newest first (numbers masked).
    async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortalError>;
    /// Security notifications, newest first: those kept in the outbox (no
    /// SMTP, or no address) and those mailed.
    async fn notifications(&self) -> Result<Vec<OutboxMessage>, PortalError>;
    /// Applications registered to sign users in (OpenID Connect clients).
    async fn clients(&self) -> Result<Vec<ClientSummary>, PortalError>;
    /// One application's settings, with its secret if one was just made.
    async fn client(&self, id: &str) -> Result<ClientDetail, PortalError>;
    /// Registers an application; the answer is its id. Its secret is shown
    /// once, on its page.
    async fn add_client(&self, form: NewClientForm) -> Result<String, PortalError>;
    async fn save_client(&self, form: ClientForm) -> Result<(), PortalError>;
    /// A new secret (shown once on the application's page); the old one
    /// stops working.
    async fn rotate_client_secret(&self, id: &str) -> Result<(), PortalError>;
    /// Removes an application with every token it holds (`confirm` must be set).
    async fn delete_client(&self, id: &str, confirm: bool) -> Result<(), PortalError>;
}
