//! The ports: what the UI's server functions ask of the back end, one small
//! trait per area. The server implements them for each request (bound to
//! that request's session, IP and user agent) and hands them over in the
//! request's extensions as [`Ports`].

mod account;
mod admin;
mod credentials;
mod signin;

pub use account::Account;
pub use admin::{Admin, ResetDecision, UserAction};
pub use credentials::{Credentials, PasskeyEnrollment, RecoveryCodes, SmsEnrollment, TotpEnrollment};
pub use signin::{RememberBrowser, SignIn, SignInNext};

use std::sync::Arc;

/// Every port of one request, as the server puts them into its extensions.
#[derive(Clone)]
pub struct Ports {
    pub signin: Arc<dyn SignIn>,
    pub account: Arc<dyn Account>,
    pub credentials: Arc<dyn Credentials>,
    pub sms: Arc<dyn SmsEnrollment>,
    pub totp: Arc<dyn TotpEnrollment>,
    pub passkey: Arc<dyn PasskeyEnrollment>,
    pub recovery: Arc<dyn RecoveryCodes>,
    pub admin: Arc<dyn Admin>,
}
