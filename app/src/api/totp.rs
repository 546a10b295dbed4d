//! Adding an authenticator app.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;

/// Starts adding an app: the credentials page then shows its QR code.
#[server(endpoint = "totp/start")]
pub async fn start_app(
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::totp()?.start_app(&nickname).await.map_err(backend::fail)
}

/// The first code from the app; at a mandatory enrollment it finishes the
/// sign-in and lands where the sign-in was going.
#[server(endpoint = "totp/verify")]
pub async fn verify_app(
    #[server(default)] code: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    if let Some(to) = backend::totp()?.verify_app(&code).await.map_err(backend::fail)? {
        leptos_axum::redirect(&to);
    }
    Ok(())
}

#[server(endpoint = "totp/cancel")]
pub async fn cancel_app(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::totp()?.cancel_app().await.map_err(backend::fail)
}
