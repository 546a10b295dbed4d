//! The administration console.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use std::collections::BTreeMap;
use tessera::views::{
    AuditPage, ClientDetail, ClientSummary, MethodView, OutboxMessage, PolicyView, ProviderView, UserDetail,
    UserSummary,
};

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

/// `decision`: cancel or approve the account's waiting reset.
#[server(endpoint = "admin/user_reset")]
pub async fn decide_reset(
    #[server(default)] username: String,
    #[server(default)] decision: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let decision = match decision.as_str() {
        "cancel" => tessera::ports::ResetDecision::Cancel,
        "approve" => tessera::ports::ResetDecision::Approve,
        _ => {
            return Err(backend::fail(tessera::PortalError::Validation(vec![
                tessera::FieldError::new("decision", "Choose to cancel or to approve the reset."),
            ])));
        }
    };
    backend::admin()?
        .decide_reset(&username, decision)
        .await
        .map_err(backend::fail)
}

/// Forgets every browser the account trusted.
#[server(endpoint = "admin/user_forget_browsers")]
pub async fn forget_user_browsers(
    #[server(default)] username: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?
        .forget_user_browsers(&username)
        .await
        .map_err(backend::fail)
}

/// `action`: reset_2fa, lock, unlock, make_admin, revoke_admin or clear_flag.
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

#[server(endpoint = "admin/clients", input = GetUrl)]
pub async fn get_clients() -> Result<Vec<ClientSummary>, AppError> {
    backend::admin()?.clients().await.map_err(backend::fail)
}

#[server(endpoint = "admin/client", input = GetUrl)]
pub async fn get_client(#[server(default)] id: String) -> Result<ClientDetail, AppError> {
    backend::admin()?.client(&id).await.map_err(backend::fail)
}

/// `kind`: confidential or public. On to the new application's page, which
/// shows its secret once.
#[server(endpoint = "admin/client_add")]
pub async fn add_client(
    #[server(default)] name: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] kind: String,
    #[server(default)] first_party: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let form = tessera::views::NewClientForm {
        name,
        redirect_uris,
        kind,
        first_party: first_party == "true",
    };
    let id = backend::admin()?.add_client(form).await.map_err(backend::fail)?;
    leptos_axum::redirect(&client_path(&id));
    Ok(())
}

/// Where an application's page is.
pub fn client_path(id: &str) -> String {
    format!("/admin/client?id={id}")
}

/// The form names each setting `fields[NAME]` and each ticked checkbox
/// `grants[NAME]` or `acrs[NAME]`.
#[server(endpoint = "admin/client_save")]
pub async fn save_client(
    #[server(default)] id: String,
    #[server(default)] fields: BTreeMap<String, String>,
    #[server(default)] grants: BTreeMap<String, String>,
    #[server(default)] acrs: BTreeMap<String, String>,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let form = tessera::views::ClientForm {
        id,
        name: field("name"),
        redirect_uris: field("redirect_uris"),
        post_logout_redirect_uris: field("post_logout_redirect_uris"),
        grants: grants.into_keys().collect(),
        allowed_acrs: acrs.into_keys().collect(),
        default_acr: field("default_acr"),
        first_party: field("first_party") == "true",
        pkce_optional: field("pkce_optional") == "true",
        backchannel_logout_uri: field("backchannel_logout_uri"),
        require_par: field("require_par") == "true",
        access_token_minutes: field("access_token_minutes"),
        refresh_token_hours: field("refresh_token_hours"),
    };
    backend::admin()?.save_client(form).await.map_err(backend::fail)
}

#[server(endpoint = "admin/client_secret")]
pub async fn rotate_client_secret(
    #[server(default)] id: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?.rotate_client_secret(&id).await.map_err(backend::fail)
}

#[server(endpoint = "admin/client_delete")]
pub async fn delete_client(
    #[server(default)] id: String,
    #[server(default)] confirm: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::admin()?
        .delete_client(&id, confirm == "true")
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect("/admin/clients");
    Ok(())
}
