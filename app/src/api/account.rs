//! The signed-in person's account: home, sessions, applications, password.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use tessera::views::{ApplicationInfo, HomeStatus, SessionInfo, TrustedBrowserInfo};

#[server(endpoint = "sessions", input = GetUrl)]
pub async fn get_sessions() -> Result<Vec<SessionInfo>, AppError> {
    backend::account()?.sessions().await.map_err(backend::fail)
}

#[server(endpoint = "sessions/end")]
pub async fn end_session(#[server(default)] id: String, #[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::account()?.end_session(&id).await.map_err(backend::fail)
}

#[server(endpoint = "trusted_browsers", input = GetUrl)]
pub async fn get_trusted_browsers() -> Result<Vec<TrustedBrowserInfo>, AppError> {
    backend::account()?.trusted_browsers().await.map_err(backend::fail)
}

/// Forgets the trusted browser `id`, or every one when `id` is `all`.
#[server(endpoint = "trusted_browsers/forget")]
pub async fn forget_trusted_browser(
    #[server(default)] id: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let account = backend::account()?;
    if id == "all" {
        account.forget_trusted_browsers().await
    } else {
        account.forget_trusted_browser(&id).await
    }
    .map_err(backend::fail)
}

#[server(endpoint = "applications", input = GetUrl)]
pub async fn get_applications() -> Result<Vec<ApplicationInfo>, AppError> {
    backend::account()?.applications().await.map_err(backend::fail)
}

#[server(endpoint = "applications/revoke")]
pub async fn revoke_application(
    #[server(default)] client_id: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::account()?
        .revoke_application(&client_id)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "password")]
pub async fn change_password(
    #[server(default)] current: String,
    #[server(default)] new: String,
    #[server(default)] repeat: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::account()?
        .change_password(&current, &new, &repeat)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect("/account/password?changed=1");
    Ok(())
}

#[server(endpoint = "home", input = GetUrl)]
pub async fn get_home() -> Result<HomeStatus, AppError> {
    backend::account()?.home().await.map_err(backend::fail)
}
