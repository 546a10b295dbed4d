//! Adding a passkey: the server starts the ceremony, the browser answers it
//! (`public/passkey.js` fills in `response`).

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;

/// Starts adding a passkey: the credentials page then shows its button.
#[server(endpoint = "passkey/start")]
pub async fn start_passkey(
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::passkey()?
        .start_passkey(&nickname)
        .await
        .map_err(backend::fail)
}

/// The browser's answer; at a mandatory enrollment it finishes the sign-in
/// and lands where the sign-in was going.
#[server(endpoint = "passkey/finish")]
pub async fn finish_passkey(
    #[server(default)] response: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    if let Some(to) = backend::passkey()?
        .finish_passkey(&response)
        .await
        .map_err(backend::fail)?
    {
        leptos_axum::redirect(&to);
    }
    Ok(())
}

#[server(endpoint = "passkey/cancel")]
pub async fn cancel_passkey(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::passkey()?.cancel_passkey().await.map_err(backend::fail)
}
