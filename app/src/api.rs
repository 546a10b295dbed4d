//! Server functions. Each one asks the request's [`Portal`] and maps its answer.
//! Reads are GET (no side effects); every POST carries the CSRF token, which
//! the server checks before any of these run.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use std::collections::BTreeMap;
use tessera::views::{
    AuditPage, ChallengeView, CredentialsView, HomeStatus, MethodView, OutboxMessage, PolicyView, ProviderView,
    SessionInfo, SessionView, UserDetail, UserSummary,
};

#[cfg(feature = "ssr")]
mod backend {
    use crate::error::AppError;
    use leptos::prelude::*;
    use std::sync::Arc;
    use tessera::PortalError;
    use tessera::ports::{Admin, AdminHandle, Portal, PortalHandle};

    /// The portal the server attached to this request.
    pub fn portal() -> Result<Arc<dyn Portal>, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<PortalHandle>().map(|h| h.0.clone()))
            .ok_or(AppError::Portal(PortalError::Unavailable))
    }

    /// The console port the server attached to this request.
    pub fn admin() -> Result<Arc<dyn Admin>, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<AdminHandle>().map(|h| h.0.clone()))
            .ok_or(AppError::Portal(PortalError::Unavailable))
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

#[server(endpoint = "session", input = GetUrl)]
pub async fn get_session() -> Result<SessionView, AppError> {
    backend::portal()?.session().await.map_err(backend::fail)
}

// Every POST names `csrf_token` so that a hydrated form sends it too (an
// `ActionForm` sends only the arguments); the server's CSRF layer has checked
// it before the function runs.

#[server(endpoint = "sign_in")]
pub async fn sign_in(
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let next = backend::portal()?
        .sign_in(&username, &password)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(match next {
        tessera::ports::SignInNext::SignedIn => "/",
        tessera::ports::SignInNext::SecondFactor => "/signin/code",
        tessera::ports::SignInNext::Enroll => "/signin/enroll",
    });
    Ok(())
}

#[server(endpoint = "signin/challenge", input = GetUrl)]
pub async fn get_challenge() -> Result<ChallengeView, AppError> {
    backend::portal()?.challenge().await.map_err(backend::fail)
}

/// Sends a sign-in code again, to the chosen phone (or the preferred one).
#[server(endpoint = "signin/send_code")]
pub async fn send_sign_in_code(
    #[server(default)] phone_id: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let phone = (!phone_id.is_empty()).then_some(phone_id.as_str());
    backend::portal()?.send_sign_in_code(phone).await.map_err(backend::fail)
}

#[server(endpoint = "signin/verify_code")]
pub async fn verify_sign_in_code(
    #[server(default)] code: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let to = backend::portal()?
        .verify_sign_in_code(&code)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(&to);
    Ok(())
}

/// Signing in again for a sensitive change; lands on `next` afterwards.
#[server(endpoint = "signin/again")]
pub async fn reauthenticate(
    #[server(default)] password: String,
    #[server(default)] next: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let step = backend::portal()?
        .reauthenticate(&password, &next)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(match step {
        tessera::ports::SignInNext::SecondFactor => "/signin/code",
        _ => tessera::signin::return_path(&next),
    });
    Ok(())
}

#[server(endpoint = "sessions", input = GetUrl)]
pub async fn get_sessions() -> Result<Vec<SessionInfo>, AppError> {
    backend::portal()?.sessions().await.map_err(backend::fail)
}

#[server(endpoint = "sessions/end")]
pub async fn end_session(#[server(default)] id: String, #[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?.end_session(&id).await.map_err(backend::fail)
}

#[server(endpoint = "password")]
pub async fn change_password(
    #[server(default)] current: String,
    #[server(default)] new: String,
    #[server(default)] repeat: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?
        .change_password(&current, &new, &repeat)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect("/account/password?changed=1");
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?.sign_out().await.map_err(backend::fail)?;
    leptos_axum::redirect("/signin");
    Ok(())
}

#[server(endpoint = "home", input = GetUrl)]
pub async fn get_home() -> Result<HomeStatus, AppError> {
    backend::portal()?.home().await.map_err(backend::fail)
}

#[server(endpoint = "credentials", input = GetUrl)]
pub async fn get_credentials() -> Result<CredentialsView, AppError> {
    backend::portal()?.credentials().await.map_err(backend::fail)
}

#[server(endpoint = "credentials/start")]
pub async fn start_enrollment(
    #[server(default)] phone: String,
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?
        .start_enrollment(&phone, &nickname)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "credentials/resend")]
pub async fn resend_enrollment(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?.resend_enrollment().await.map_err(backend::fail)
}

#[server(endpoint = "credentials/verify")]
pub async fn verify_enrollment(
    #[server(default)] code: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    if backend::portal()?
        .verify_enrollment(&code)
        .await
        .map_err(backend::fail)?
    {
        leptos_axum::redirect("/");
    }
    Ok(())
}

#[server(endpoint = "credentials/cancel")]
pub async fn cancel_enrollment(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?.cancel_enrollment().await.map_err(backend::fail)
}

#[server(endpoint = "credentials/rename")]
pub async fn rename_credential(
    #[server(default)] id: String,
    #[server(default)] nickname: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::portal()?
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
    backend::portal()?
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
    backend::portal()?
        .set_two_factor(enabled == "true", preferred)
        .await
        .map_err(backend::fail)
}

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
