//! Signing in and out: the password step, the second step, signing in again.

#[cfg(feature = "ssr")]
use super::backend;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use tessera::views::{ChallengeView, NotMeView, ResetView, SessionView};

#[server(endpoint = "session", input = GetUrl)]
pub async fn get_session() -> Result<SessionView, AppError> {
    backend::signin()?.session().await.map_err(backend::fail)
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
    let next = backend::signin()?
        .sign_in(&username, &password)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(match &next {
        tessera::ports::SignInNext::SignedIn { to } => to,
        tessera::ports::SignInNext::SecondFactor => "/signin/code",
        tessera::ports::SignInNext::Enroll => "/signin/enroll",
    });
    Ok(())
}

/// The options of a sign-in with a passkey alone, when allowed (the sign-in
/// page's button and autofill).
#[server(endpoint = "signin/passkey_options", input = GetUrl)]
pub async fn get_passkey_sign_in() -> Result<Option<String>, AppError> {
    backend::signin()?.passkey_sign_in().await.map_err(backend::fail)
}

/// The browser's answer (`public/passkey.js` fills in `response`).
#[server(endpoint = "signin/passkey")]
pub async fn sign_in_with_passkey(
    #[server(default)] response: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let to = backend::signin()?
        .sign_in_with_passkey(&response)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(&to);
    Ok(())
}

/// "Lost every way to sign in?" during the second step.
#[server(endpoint = "signin/reset", input = GetUrl)]
pub async fn get_reset() -> Result<ResetView, AppError> {
    backend::signin()?.reset().await.map_err(backend::fail)
}

/// Asks for a reset of two-factor sign-in by email (it waits).
#[server(endpoint = "signin/reset/start")]
pub async fn start_reset(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.start_reset().await.map_err(backend::fail)
}

/// A reset's cancel link, confirmed with a button (a link alone changes
/// nothing: mail scanners follow links).
#[server(endpoint = "reset/cancel")]
pub async fn cancel_reset(
    #[server(default)] token: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.cancel_reset(&token).await.map_err(backend::fail)
}

/// The signed-in owner cancels a waiting reset from the banner (a plain
/// form, with JavaScript or without: the page loads anew without it).
#[server(endpoint = "reset/cancel_mine")]
pub async fn cancel_own_reset(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.cancel_own_reset().await.map_err(backend::fail)?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The page of a notice's "this wasn't me" link (opening it changes nothing).
#[server(endpoint = "not_me", input = GetUrl)]
pub async fn get_not_me(#[server(default)] token: String) -> Result<NotMeView, AppError> {
    backend::signin()?.not_me(&token).await.map_err(backend::fail)
}

/// The link's signed-in owner secures the account.
#[server(endpoint = "not_me/secure")]
pub async fn secure_account(
    #[server(default)] token: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.secure_account(&token).await.map_err(backend::fail)
}

/// A holder of the link who cannot sign in tells the administrators.
#[server(endpoint = "not_me/report")]
pub async fn report_not_me(
    #[server(default)] token: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.report_not_me(&token).await.map_err(backend::fail)
}

#[server(endpoint = "signin/challenge", input = GetUrl)]
pub async fn get_challenge() -> Result<ChallengeView, AppError> {
    backend::signin()?.challenge().await.map_err(backend::fail)
}

/// Proves another credential at the second step ("Try another way"), or
/// sends a new code for the one being proven (`credential` empty).
#[server(endpoint = "signin/send_code")]
pub async fn send_sign_in_code(
    #[server(default)] credential: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let credential = (!credential.is_empty()).then_some(credential.as_str());
    backend::signin()?
        .send_sign_in_code(credential)
        .await
        .map_err(backend::fail)
}

#[server(endpoint = "signin/verify_code")]
pub async fn verify_sign_in_code(
    #[server(default)] code: String,
    #[server(default)] remember: String,
    #[server(default)] csrf_token: String,
) -> Result<(), AppError> {
    let _ = csrf_token;
    let remember = if remember == "true" {
        tessera::ports::RememberBrowser::Yes
    } else {
        tessera::ports::RememberBrowser::No
    };
    let to = backend::signin()?
        .verify_sign_in_code(&code, remember)
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
    let step = backend::signin()?
        .reauthenticate(&password, &next)
        .await
        .map_err(backend::fail)?;
    leptos_axum::redirect(match &step {
        tessera::ports::SignInNext::SecondFactor => "/signin/code",
        tessera::ports::SignInNext::SignedIn { to } => to,
        tessera::ports::SignInNext::Enroll => tessera::signin::return_path(&next),
    });
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out(#[server(default)] csrf_token: String) -> Result<(), AppError> {
    let _ = csrf_token;
    backend::signin()?.sign_out().await.map_err(backend::fail)?;
    leptos_axum::redirect("/signin");
    Ok(())
}
