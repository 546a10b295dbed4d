//! The error type every server function returns: a [`PortalError`] for the
//! person, or a failure of the call itself.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
pub use tessera::PortalError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Portal(PortalError),
    /// The request did not reach the server or its answer could not be read.
    #[error("The request could not be completed. Check your connection and try again.")]
    Call(String),
    /// The server could not read the request's fields (one sent twice, a
    /// number that is not one): the sender's error, answered 400.
    #[error("This form could not be read. Reload the page and try again.")]
    Unreadable,
}

impl AppError {
    /// The message for one form field, if this error names it.
    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Portal(p) => p.field_message(field).map(str::to_owned),
            AppError::Call(_) | AppError::Unreadable => None,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self, AppError::Portal(PortalError::Unauthorized))
    }
}

/// Sets this response's HTTP status to the one that fits the error, and
/// Retry-After when the person must wait.
#[cfg(feature = "ssr")]
pub fn set_response_status(e: &PortalError) {
    if let (Some(res), Ok(code)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(e.status()),
    ) {
        res.set_status(code);
        if let Some(secs) = e.retry_after() {
            res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
}

impl From<PortalError> for AppError {
    fn from(e: PortalError) -> Self {
        AppError::Portal(e)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) => {
                #[cfg(feature = "ssr")]
                if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                    res.set_status(http::StatusCode::BAD_REQUEST);
                }
                AppError::Unreadable
            }
            other => AppError::Call(other.to_string()),
        }
    }
}
