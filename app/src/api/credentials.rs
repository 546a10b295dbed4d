//! Credentials of every method and the 2FA switch.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use tessera::views::CredentialsView;

#[server(endpoint = "credentials", input = GetUrl)]
pub async fn get_credentials() -> Result<CredentialsView, AppError> {
    backend::credentials()?.credentials().await.map_err(backend::fail)
}

#[server(endpoint = "credentials/rename")]
pub async fn rename_credential(
    #[server(default)] id: String,
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::credentials()?
        .rename_credential(&id, &nickname)
        .await
        .map_err(backend::fail)
}

/// Removes a credential; `confirm` is "true" once the person agreed to the
/// consequence the first answer named.
#[server(endpoint = "credentials/remove")]
pub async fn remove_credential(
    #[server(default)] id: String,
    #[server(default)] confirm: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::credentials()?
        .remove_credential(&id, confirm == "true")
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "credentials/two_factor")]
pub async fn set_two_factor(
    #[server(default)] enabled: String,
    #[server(default)] preferred: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let preferred = (!preferred.is_empty()).then_some(preferred.as_str());
    backend::credentials()?
        .set_two_factor(enabled == "true", preferred)
        .await
        .map_err(backend::fail)
}
