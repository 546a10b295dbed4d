//! The password grant with a second factor, for clients that cannot show a
//! browser (source document 003; SECURITY.md 46, 47). Protocol: an
//! `mfa_required` answer and an OTP grant, after Auth0's MFA API.
//!
//! 1. `grant_type=password` with `username` and, optionally, `password`.
//!    When the password is right and no second factor is owed: tokens.
//!    Otherwise the answer is HTTP 403 `{"error": "mfa_required",
//!    "mfa_token": …}` and a code goes out (SMS) to the preferred credential.
//!    Sent without the password (username first, as Janssen's script does;
//!    confidential clients only, SECURITY.md 53), the answer is the same,
//!    in the same time, for every username, known or not, and the attempt
//!    counts toward the sign-in throttle until the password proves it.
//!    The grant's codes are a challenge of their own: they never replace
//!    the code of a browser sign-in.
//! 2. `grant_type=urn:tessera:params:oauth:grant-type:mfa-otp` with the
//!    `mfa_token`, the `otp`, and the `password` if it was not sent before.
//!    Tokens come only when both are proved; the `mfa_token` is single use,
//!    bound to the client and the account, and expires with the code.
//!
//! The pages' throttles and budgets apply: failed passwords per account and
//! IP, wrong codes per code and per account, SMS send budgets.

use super::clients::{Client, ClientKind};
use super::error::OAuthError;
use super::tokens::{self, GrantInfo, Issued, token_hash};
use crate::context::RequestContext;
use crate::methods::{Answer, Channel, SendKind};
use crate::signin;
use crate::store::{self, UserRow};
use serde_json::json;
use tessera::PortalError;
use tessera::account::lookup_key;
use tessera::acr::Acr;
use tessera::method::{Factor, Proof};
use tessera::signin::{NextStep, Owed};
use time::OffsetDateTime;
use uuid::Uuid;

/// The grant type of the second request.
pub const MFA_OTP_GRANT: &str = "urn:tessera:params:oauth:grant-type:mfa-otp";

/// The sign-in errors, in the token endpoint's words. Nothing here says
/// whether a username exists (SECURITY.md 46).
fn oauth(e: PortalError) -> OAuthError {
    match e {
        PortalError::Validation(errors) => OAuthError::InvalidRequest(words(&errors)),
        PortalError::Throttled { retry_after_secs } | PortalError::TooManyMessages { retry_after_secs } => {
            OAuthError::SlowDown { retry_after_secs }
        }
        PortalError::MethodUnavailable(_) | PortalError::Unavailable => {
            OAuthError::TemporarilyUnavailable(e.to_string())
        }
        other => OAuthError::InvalidGrant(other.to_string()),
    }
}

fn words(errors: &[tessera::FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A code refused is the grant refused (RFC 6749 5.2), with why.
fn code_refused(e: PortalError) -> OAuthError {
    match e {
        PortalError::Validation(errors) => OAuthError::InvalidGrant(words(&errors)),
        other => oauth(other),
    }
}

/// What this client's sign-ins owe beside the account's own settings: its
/// minimum acr (the password grant has no `acr_values` to ask more).
async fn application(ctx: &RequestContext, client: &Client) -> Result<Option<Acr>, OAuthError> {
    let policy = ctx.policy().await.map_err(oauth)?;
    Ok(super::authorize::demanded(client, None, &policy))
}

/// Refuses a sign-in that proved less than it owes (SECURITY.md 49): the
/// client's minimum holds here as in the code flow.
fn paid(owed: Owed, proven: &[Proof]) -> Result<(), OAuthError> {
    if owed.paid_by(proven) {
        Ok(())
    } else {
        Err(unpaid(owed))
    }
}

/// The refusal of a sign-in that cannot pay what it owes.
fn unpaid(owed: Owed) -> OAuthError {
    let what = match owed {
        Owed::Method(m) => format!("a sign-in with {}", Acr::Method(m).words().to_lowercase()),
        Owed::SecondFactor | Owed::Password => "a second factor".to_owned(),
    };
    OAuthError::InvalidGrant(format!(
        "This application requires {what}, which this account cannot give here."
    ))
}

/// Tokens for a finished sign-in: no browser session, so no `sid`.
async fn tokens_for(
    ctx: &RequestContext,
    client: &Client,
    user: &UserRow,
    proven: &[Proof],
    scope: &str,
) -> Result<Issued, OAuthError> {
    let now = ctx.now();
    let grant = GrantInfo {
        user_id: user.id,
        scope: scope.to_owned(),
        acr: Acr::stated(proven).as_str().to_owned(),
        amr: tessera::method::amr(proven).into_iter().map(str::to_owned).collect(),
        auth_time: now,
        session_id: None,
    };
    let mut tx = ctx.pool().begin().await?;
    let origin = tokens::Origin {
        grant_id: Uuid::new_v4(),
        code_hash: None,
        nonce: None,
    };
    let issued = tokens::issue(&mut tx, &ctx.state, client, &grant, origin).await?;
    tx.commit().await?;
    Ok(issued)
}

/// The scopes asked for, among those Tessera answers; `openid` always.
fn scope_of(asked: Option<&str>) -> String {
    let mut scopes = vec!["openid"];
    for s in asked.unwrap_or_default().split_ascii_whitespace() {
        if super::authorize::SCOPES.contains(&s) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    scopes.join(" ")
}

/// What the client hears when a second factor is owed.
pub struct MfaRequired {
    pub mfa_token: String,
    pub expires_in: i64,
}

/// The first request.
pub async fn start(
    ctx: &RequestContext,
    client: &Client,
    username: Option<&str>,
    password: Option<&str>,
    scope: Option<&str>,
) -> Result<Result<Issued, MfaRequired>, OAuthError> {
    let username = username
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("The username is missing.".into()))?;
    let scope = scope_of(scope);
    let application = application(ctx, client).await?;
    match password.filter(|p| !p.is_empty()) {
        Some(password) => {
            let step = signin::password(ctx, username, password, application, None)
                .await
                .map_err(oauth)?;
            match step.next {
                NextStep::SignedIn => {
                    paid(step.owed, step.state.proven())?;
                    Ok(Ok(
                        tokens_for(ctx, client, &step.user, step.state.proven(), &scope).await?
                    ))
                }
                NextStep::SecondFactor => {
                    let at = ctx.now();
                    challenge_preferred(ctx, &step.user, step.owed).await?;
                    Ok(Err(
                        keep(ctx, client, username, Some(&step.user), Some(at), &scope).await?
                    ))
                }
                NextStep::Enroll => Err(OAuthError::InvalidGrant(
                    "Two-factor authentication is required: enroll a second factor in the portal first.".into(),
                )),
            }
        }
        None if client.kind() == ClientKind::Public => Err(OAuthError::InvalidRequest(
            "Send the password with the username: the username alone is for confidential clients.".into(),
        )),
        None => {
            // Username first (SECURITY.md 53): only for a confidential client,
            // whose secret proves the application before any code goes out;
            // the same answer in the same time for every username. A code
            // goes out only to an account with a credential that counts.
            let key = lookup_key(username);
            if let Some(retry_after_secs) = signin::throttled(ctx, &key).await.map_err(oauth)? {
                return Err(OAuthError::SlowDown { retry_after_secs });
            }
            // Counted by the sign-in throttle like a wrong password until
            // the password comes and proves it (which clears it).
            store::record_failure(ctx.pool(), &key, ctx.ip(), ctx.now()).await?;
            let user = store::find_user_by_key(ctx.pool(), &key)
                .await?
                .filter(|u| u.locked_at.is_none());
            if let Some(u) = user.clone() {
                // Sent after the answer: its time says nothing of the account.
                // A client's minimum the account cannot meet comes out at the
                // second request, as after a wrong password.
                let background = RequestContext::new(ctx.state.clone(), ctx.origin.clone());
                tokio::spawn(async move {
                    let sent = async {
                        let owed = signin::owed(&background, &u, application).await.map_err(oauth)?;
                        challenge_preferred(&background, &u, owed).await
                    };
                    if let Err(e) = sent.await {
                        tracing::info!(user_id = %u.id, error = ?e, "password grant: no code sent");
                    }
                });
            }
            Ok(Err(keep(ctx, client, username, user.as_ref(), None, &scope).await?))
        }
    }
}

/// Sends the first code to the account's first option, if it needs one; a
/// failed send is logged, and the client may still finish with an app code.
/// Refused when no credential typed in a code pays what is owed (the
/// client's minimum): nothing is sent for a sign-in that cannot finish.
async fn challenge_preferred(ctx: &RequestContext, user: &UserRow, owed: Owed) -> Result<(), OAuthError> {
    let credential = match signin::choose_typed(ctx, user, owed).await {
        Ok(c) if owed.method().is_none_or(|_| owed.paid_with(c.method)) => c,
        Ok(_) => return Err(unpaid(owed)),
        Err(e) => {
            tracing::info!(user_id = %user.id, error = %e, "password grant: no credential to send a code to");
            return Ok(());
        }
    };
    if let Err(e) = signin::challenge(ctx, user, &credential, SendKind::First, Channel::TokenEndpoint).await {
        tracing::info!(user_id = %user.id, error = %e, "password grant: first code not sent");
    }
    Ok(())
}

/// Stores a new `mfa_token`, living as long as a code.
async fn keep(
    ctx: &RequestContext,
    client: &Client,
    username: &str,
    user: Option<&UserRow>,
    password_verified_at: Option<OffsetDateTime>,
    scope: &str,
) -> Result<MfaRequired, OAuthError> {
    let lifetime = i64::from(crate::settings::policy(ctx.pool()).await?.0.code_lifetime_secs);
    let token = crate::secrets::random_token();
    let now = ctx.now();
    sqlx::query(
        "INSERT INTO oidc_mfa_tokens (token_hash, client_id, user_id, username, password_verified_at, scope, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token_hash(&token))
    .bind(&client.id)
    .bind(user.map(|u| u.id))
    .bind(username.chars().take(64).collect::<String>())
    .bind(password_verified_at)
    .bind(scope)
    .bind(now)
    .bind(now + time::Duration::seconds(lifetime))
    .execute(ctx.pool())
    .await?;
    Ok(MfaRequired {
        mfa_token: token,
        expires_in: lifetime,
    })
}

impl MfaRequired {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "error": "mfa_required",
            "error_description": "A second factor is required: send the code with the mfa_token.",
            "mfa_token": self.mfa_token,
            "expires_in": self.expires_in,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MfaRow {
    client_id: String,
    user_id: Option<Uuid>,
    username: String,
    password_verified_at: Option<OffsetDateTime>,
    scope: String,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
}

fn bad_token() -> OAuthError {
    OAuthError::InvalidGrant("The mfa_token is invalid, expired or used.".into())
}

/// The second request: the code (and the password if not sent before).
pub async fn finish(
    ctx: &RequestContext,
    client: &Client,
    mfa_token: Option<&str>,
    otp: Option<&str>,
    password: Option<&str>,
) -> Result<Issued, OAuthError> {
    let mfa_token = mfa_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("The mfa_token is missing.".into()))?;
    let hash = token_hash(mfa_token);
    let row: Option<MfaRow> = sqlx::query_as(
        "SELECT client_id, user_id, username, password_verified_at, scope, expires_at, used_at \
         FROM oidc_mfa_tokens WHERE token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(ctx.pool())
    .await?;
    let Some(row) = row.filter(|r| r.client_id == client.id && r.used_at.is_none() && r.expires_at > ctx.now()) else {
        return Err(bad_token());
    };
    // The password, now if it was not sent before: the same check, throttle
    // and answer as the first request's.
    let application = application(ctx, client).await?;
    let user = match (row.password_verified_at, password.filter(|p| !p.is_empty())) {
        (Some(_), _) => row.user_id,
        (None, Some(password)) => {
            let step = signin::password(ctx, &row.username, password, application, None)
                .await
                .map_err(oauth)?;
            if Some(step.user.id) != row.user_id {
                return Err(OAuthError::InvalidGrant(PortalError::InvalidCredentials.to_string()));
            }
            if step.next == NextStep::SignedIn {
                // No second factor owed after all: the password is the sign-in.
                paid(step.owed, step.state.proven())?;
                consume(ctx.pool(), ctx, &hash).await?;
                return tokens_for(ctx, client, &step.user, step.state.proven(), &row.scope).await;
            }
            Some(step.user.id)
        }
        (None, None) => {
            return Err(OAuthError::InvalidRequest(
                "The password is missing: it was not sent with the username.".into(),
            ));
        }
    };
    let user_id = user.ok_or_else(bad_token)?;
    let user = signin::account(ctx, &user_id.to_string()).await.map_err(oauth)?;
    let otp = otp
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("The otp is missing.".into()))?;
    let owed = signin::owed(ctx, &user, application).await.map_err(oauth)?;
    let credential = signin::choose_typed(ctx, &user, owed).await.map_err(oauth)?;
    if owed.method().is_some() && !owed.paid_with(credential.method) {
        return Err(unpaid(owed));
    }
    let answer = Answer::Typed {
        code: otp,
        channel: Channel::TokenEndpoint,
    };
    let (proof, mut verified) = signin::verify(ctx, &user, &credential, answer)
        .await
        .map_err(code_refused)?;
    consume(&mut *verified.tx, ctx, &hash).await?;
    let proven = vec![
        Proof {
            factor: Factor::Password,
            at: row.password_verified_at.unwrap_or(ctx.now()).unix_timestamp(),
        },
        proof,
    ];
    // Before anything commits: a code of a weaker method is not the sign-in.
    paid(owed, &proven)?;
    signin::finish(ctx, &user, proven.clone(), Some(verified))
        .await
        .map_err(oauth)?;
    tokens_for(ctx, client, &user, &proven, &row.scope).await
}

/// Spends the token; a second use (a double submit) finds it spent.
async fn consume(db: impl sqlx::PgExecutor<'_>, ctx: &RequestContext, hash: &[u8]) -> Result<(), OAuthError> {
    let spent = sqlx::query("UPDATE oidc_mfa_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(hash)
        .bind(ctx.now())
        .execute(db)
        .await?
        .rows_affected();
    if spent == 1 { Ok(()) } else { Err(bad_token()) }
}
