//! The administration console.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use std::collections::BTreeMap;
use tessera::views::{AuditPage, MethodView, OutboxMessage, PolicyView, ProviderView, UserDetail, UserSummary};

// The administration console. Every function asks the request's `Admin`
// port, which refuses anyone but an administrator (403).

#[server(endpoint = "admin/outbox", input = GetUrl)]
pub async fn get_outbox() -> Result<Vec<OutboxMessage>, AppError> {
    backend::admin()?.outbox().await.map_err(backend::fail)
}

#[server(endpoint = "admin/notifications", input = GetUrl)]
pub async fn get_notifications() -> Result<Vec<OutboxMessage>, AppError> {
    backend::admin()?.notifications().await.map_err(backend::fail)
}

#[server(endpoint = "admin/users", input = GetUrl)]
pub async fn list_users(#[server(default)] q: String) -> Result<Vec<UserSummary>, AppError> {
    backend::admin()?.users(&q).await.map_err(backend::fail)
}

#[server(endpoint = "admin/user", input = GetUrl)]
pub async fn get_user(#[server(default)] username: String) -> Result<UserDetail, AppError> {
    backend::admin()?.user(&username).await.map_err(backend::fail)
}

/// `action`: reset_2fa, lock, unlock, make_admin or revoke_admin.
#[server(endpoint = "admin/user_action")]
pub async fn user_action(
    #[server(default)] username: String,
    #[server(default)] action: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let admin = backend::admin()?;
    let Some(action) = tessera::ports::UserAction::parse(&action) else {
        return Err(backend::fail(tessera::PortalError::Validation(vec![
            tessera::FieldError::new("action", "Choose one of the listed actions."),
        ])));
    };
    admin.user_action(&username, action).await.map_err(backend::fail)
}

#[server(endpoint = "admin/methods", input = GetUrl)]
pub async fn get_methods() -> Result<Vec<MethodView>, AppError> {
    backend::admin()?.methods().await.map_err(backend::fail)
}

#[server(endpoint = "admin/method")]
pub async fn save_method(
    #[server(default)] method: String,
    #[server(default)] enabled: String,
    #[server(default)] plugin: String,
    #[server(default)] version: i64,
    #[server(default)] confirm: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?
        .save_method(&method, enabled == "true", &plugin, version, confirm == "true")
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "admin/providers", input = GetUrl)]
pub async fn get_providers() -> Result<Vec<ProviderView>, AppError> {
    backend::admin()?.providers().await.map_err(backend::fail)
}

/// The form names each property `props[NAME]`; a blank secret keeps the stored one.
#[server(endpoint = "admin/provider")]
pub async fn save_provider(
    #[server(default)] plugin: String,
    #[server(default)] props: BTreeMap<String, String>,
    #[server(default)] version: i64,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?
        .save_provider(&plugin, props, version)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "admin/provider_test")]
pub async fn test_provider(
    #[server(default)] plugin: String,
    #[server(default)] to: String,
    #[server(default)] csrf_token: String,
) -> Result<String, AppError> {
    let _ = csrf_token;
    backend::admin()?
        .test_provider(&plugin, &to)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "admin/policy", input = GetUrl)]
pub async fn get_policy() -> Result<PolicyView, AppError> {
    backend::admin()?.policy().await.map_err(backend::fail)
}

/// The form names each field `fields[NAME]`.
#[server(endpoint = "admin/policy_save")]
pub async fn save_policy(
    #[server(default)] fields: BTreeMap<String, String>,
    #[server(default)] version: i64,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?
        .save_policy(fields, version)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "admin/audit", input = GetUrl)]
pub async fn get_audit(
    #[server(default)] event: String,
    #[server(default)] user: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] page: u32,
) -> Result<AuditPage, AppError> {
    backend::admin()?
        .audit(tessera::views::AuditFilter {
            event,
            user,
            from,
            to,
            page,
        })
        .await
        .map_err(backend::fail)
}
