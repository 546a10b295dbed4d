//! Enrolling a phone.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "credentials/start")]
pub async fn start_enrollment(
    #[server(default)] phone: String,
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::sms()?
        .start_enrollment(&phone, &nickname)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "credentials/resend")]
pub async fn resend_enrollment(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::sms()?.resend_enrollment().await.map_err(backend::fail)
}

#[server(endpoint = "credentials/verify")]
pub async fn verify_enrollment(
    #[server(default)] code: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    if let Some(to) = backend::sms()?.verify_enrollment(&code).await.map_err(backend::fail)? {
        leptos_axum::redirect(&to);
    }
    Ok(())
}

#[server(endpoint = "credentials/cancel")]
pub async fn cancel_enrollment(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::sms()?.cancel_enrollment().await.map_err(backend::fail)
}
