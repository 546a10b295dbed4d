//! Server functions, one file per area. Each one asks the request's port
//! (`tessera::ports`) and maps its answer.
//! Reads are GET (no side effects); every POST carries the CSRF token, which
//! the server checks before any of these run.

mod account;
mod admin;
mod credentials;
mod passkey;
mod recovery;
mod signin;
mod sms;
mod totp;

pub use account::*;
pub use admin::*;
pub use credentials::*;
pub use passkey::*;
pub use recovery::*;
pub use signin::*;
pub use sms::*;
pub use totp::*;

#[cfg(feature = "ssr")]
pub(crate) mod backend {
    use crate::error::AppError;
    use leptos::prelude::*;
    use std::sync::Arc;
    use tessera::PortalError;
    use tessera::ports::{
        Account, Admin, Credentials, PasskeyEnrollment, Ports, RecoveryCodes, SignIn, SmsEnrollment, TotpEnrollment,
    };

    /// The ports the server attached to this request.
    fn ports() -> Result<Ports, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Ports>().cloned())
            .ok_or(AppError::Portal(PortalError::Unavailable))
    }

    pub fn signin() -> Result<Arc<dyn SignIn>, AppError> {
        ports().map(|p| p.signin)
    }

    pub fn account() -> Result<Arc<dyn Account>, AppError> {
        ports().map(|p| p.account)
    }

    pub fn credentials() -> Result<Arc<dyn Credentials>, AppError> {
        ports().map(|p| p.credentials)
    }

    pub fn sms() -> Result<Arc<dyn SmsEnrollment>, AppError> {
        ports().map(|p| p.sms)
    }

    pub fn totp() -> Result<Arc<dyn TotpEnrollment>, AppError> {
        ports().map(|p| p.totp)
    }

    pub fn passkey() -> Result<Arc<dyn PasskeyEnrollment>, AppError> {
        ports().map(|p| p.passkey)
    }

    pub fn recovery() -> Result<Arc<dyn RecoveryCodes>, AppError> {
        ports().map(|p| p.recovery)
    }

    pub fn admin() -> Result<Arc<dyn Admin>, AppError> {
        ports().map(|p| p.admin)
    }

    /// Maps a portal error, setting the HTTP status for script callers. A plain
    /// form post is redirected back to its page by leptos, so its status is
    /// left alone.
    pub fn fail(e: PortalError) -> AppError {
        let plain_form = use_context::<http::request::Parts>()
            .and_then(|p| p.headers.get(http::header::ACCEPT).cloned())
            .and_then(|v| v.to_str().ok().map(|s| s.contains("text/html")))
            .unwrap_or(false);
        if !plain_form {
            crate::error::set_response_status(&e);
        }
        AppError::Portal(e)
    }
}
