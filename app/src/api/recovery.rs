//! Recovery codes.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use tessera::views::RecoveryView;

#[server(endpoint = "recovery", input = GetUrl)]
pub async fn get_recovery_codes() -> Result<RecoveryView, AppError> {
    backend::recovery()?.recovery_codes().await.map_err(backend::fail)
}

/// A new set (the old one stops working); the page then shows it.
#[server(endpoint = "recovery/make")]
pub async fn make_recovery_codes(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::recovery()?.make_recovery_codes().await.map_err(backend::fail)
}

/// The person saved the new set: it is not shown again.
#[server(endpoint = "recovery/saved")]
pub async fn saved_recovery_codes(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::recovery()?.saved_recovery_codes().await.map_err(backend::fail)
}
