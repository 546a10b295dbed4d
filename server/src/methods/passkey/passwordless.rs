//! Signing in with a passkey alone: the browser finds a discoverable
//! passkey of this site (a button, or the username field's autofill), the
//! answer names the account, and the passkey proves it with user
//! verification (SECURITY.md 40). Only when passkeys are on and the policy
//! allows it.

use super::{Purpose, check_answer, fresh, read_response, refuse, relying_party};
use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::methods::{self, KeptCeremony, Started, Verified};
use crate::store::{self, UserRow};
use tessera::PortalError;
use tessera::method::MethodId;
use tessera::policy::Passwordless;
use uuid::Uuid;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

/// Said for an answer that names no account here: the same words whatever
/// the reason, so that they tell nothing of who exists.
const UNKNOWN: &str = "That passkey is not registered here. Sign in with your password, then add it.";

/// Whether a passkey alone may sign in now: passkeys on, the policy
/// allowing it, and a relying party.
pub async fn allowed(ctx: &RequestContext) -> Result<bool, PortalError> {
    let on = methods::enabled(ctx.pool())
        .await
        .map_err(db("reading the methods"))?
        .contains(&MethodId::Passkey);
    if !on || relying_party(&ctx.state).is_err() {
        return Ok(false);
    }
    let policy = ctx.policy().await?;
    Ok(policy.passwordless == Passwordless::Allowed)
}

/// Starts a sign-in with a passkey the browser finds itself; none when
/// that is not allowed.
pub async fn start(ctx: &RequestContext) -> Result<Option<Started>, PortalError> {
    if !allowed(ctx).await? {
        return Ok(None);
    }
    let site = relying_party(&ctx.state).map_err(|_| PortalError::MethodUnavailable(MethodId::Passkey))?;
    let (options, state) = site.start_discoverable_authentication().map_err(|e| {
        tracing::error!(error = %e, "starting a passkey sign-in");
        PortalError::MethodUnavailable(MethodId::Passkey)
    })?;
    Started::new(ctx, None, &options, &state).map(Some)
}

/// Checks the browser's answer: the account it names and the credential
/// proven, with the proof used up inside the transaction (the caller
/// finishes the sign-in and commits).
pub async fn finish(
    ctx: &RequestContext,
    kept: &KeptCeremony,
    response: &str,
) -> Result<(UserRow, Uuid, Verified), PortalError> {
    if kept.credential.is_some() {
        return Err(refuse(
            "This passkey request was for another sign-in. Press the button to try again.",
        ));
    }
    fresh(ctx, kept)?;
    if !allowed(ctx).await? {
        return Err(PortalError::MethodUnavailable(MethodId::Passkey));
    }
    let answer: PublicKeyCredential = read_response(response)?;
    let site = relying_party(&ctx.state).map_err(|_| PortalError::MethodUnavailable(MethodId::Passkey))?;
    let Ok((user_id, webauthn_id)) = site.identify_discoverable_authentication(&answer) else {
        tracing::info!("a passkey answer without an account handle");
        return Err(refuse(UNKNOWN));
    };
    let user = store::find_user(ctx.pool(), user_id)
        .await
        .map_err(db("loading a user"))?
        .ok_or_else(|| refuse(UNKNOWN))?;
    // The credential must be this account's: one registered to another
    // account (or to none) does not sign anyone in (SECURITY.md 39).
    let credential: Option<Uuid> = sqlx::query_scalar(
        "SELECT p.credential_id FROM passkeys p JOIN credentials c ON c.id = p.credential_id
         WHERE p.webauthn_id = $1 AND c.user_id = $2",
    )
    .bind(webauthn_id)
    .bind(user.id)
    .fetch_optional(ctx.pool())
    .await
    .map_err(db("finding a passkey"))?;
    let Some(credential) = credential else {
        super::audit_refusal(ctx, &user, None, "a passkey not registered to the account it names").await;
        return Err(refuse(UNKNOWN));
    };
    let state: DiscoverableAuthentication = kept.state()?;
    let check = |site: &webauthn_rs::Webauthn, passkey: &webauthn_rs::prelude::Passkey| {
        site.finish_discoverable_authentication_v2(&answer, state, passkey)
    };
    let verified = check_answer(ctx, &user, credential, kept, Purpose::Passwordless, check).await?;
    // Said only after a valid proof, so it tells nothing to a forger; the
    // proof's transaction is rolled back.
    if user.locked_at.is_some() {
        drop(verified);
        ctx.audit(Event::by_self(audit::SIGNIN_LOCKED, who(&user))).await?;
        return Err(PortalError::AccountLocked);
    }
    Ok((user, credential, verified))
}
