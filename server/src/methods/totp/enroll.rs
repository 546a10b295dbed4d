//! Adding an authenticator app: a fresh secret is shown once, as a QR code
//! (an SVG drawn here, so it shows with JavaScript off), the `otpauth://`
//! URI and grouped text; the app becomes a credential only when a code from
//! it comes back (SECURITY.md 34). An unfinished setup lapses after ten
//! minutes.

use super::{rfc6238, seal_context, sealer};
use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::methods::{self, Enrolling, Method, NewCredential, wrong_codes};
use crate::notify;
use crate::store::UserRow;
use data_encoding::{BASE32_NOPAD, BASE64};
use qrcode::QrCode;
use qrcode::render::svg;
use tessera::method::MethodId;
use tessera::totp::{grouped, otpauth_uri};
use tessera::views::TotpSetup;
use tessera::{FieldError, PortalError};
use time::{Duration, OffsetDateTime};

/// How long a started setup waits for its first code.
const SETUP_MINUTES: i64 = 10;
/// Apps one account may have.
pub const MAX_APPS: usize = 10;
/// The name apps show above the code.
const ISSUER: &str = "Tessera";

fn refuse(field: &str, message: &str) -> PortalError {
    PortalError::Validation(vec![FieldError::new(field, message)])
}

/// The key to an unfinished setup, kept by the browser session that
/// started it (SECURITY.md 52): only the digest is stored with the setup,
/// so another session of the same account can neither read its secret nor
/// finish or cancel it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SetupKey(String);

impl SetupKey {
    fn digest(&self) -> Vec<u8> {
        crate::secrets::token_digest(&self.0)
    }
}

/// Starts adding an app: a new secret replaces any unfinished setup (of any
/// session of the account); the answer is the key to it.
pub async fn start(ctx: &RequestContext, user: &UserRow, nickname: &str) -> Result<SetupKey, PortalError> {
    let name = methods::nickname(nickname, false)
        .map_err(|e| PortalError::Validation(vec![e]))?
        .unwrap_or_else(|| "Authenticator app".into());
    let apps = super::Totp
        .credentials(ctx.pool(), user.id)
        .await
        .map_err(db("listing apps"))?;
    if apps.len() >= MAX_APPS {
        return Err(refuse(
            "nickname",
            &format!("You have {MAX_APPS} apps already. Remove one before adding another."),
        ));
    }
    let sealed = sealer(&ctx.state)?.seal(&seal_context(user.id), &rfc6238::new_secret());
    let key = SetupKey(crate::secrets::random_token());
    sqlx::query(
        "INSERT INTO totp_enrollments (user_id, nickname, secret_sealed, created_at, owner_digest)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET nickname = EXCLUDED.nickname, secret_sealed = EXCLUDED.secret_sealed,
             created_at = EXCLUDED.created_at, owner_digest = EXCLUDED.owner_digest",
    )
    .bind(user.id)
    .bind(&name)
    .bind(sealed)
    .bind(ctx.now())
    .bind(key.digest())
    .execute(ctx.pool())
    .await
    .map_err(db("starting an app setup"))?;
    Ok(key)
}

/// An unfinished setup: its name, its sealed box and the secret in it.
struct Setup {
    nickname: String,
    sealed: Vec<u8>,
    secret: Vec<u8>,
}

/// The unfinished setup `key` opens, when there is one still in time.
async fn open_setup(ctx: &RequestContext, user: &UserRow, key: &SetupKey) -> Result<Option<Setup>, PortalError> {
    let row: Option<(String, Vec<u8>, OffsetDateTime)> = sqlx::query_as(
        "SELECT nickname, secret_sealed, created_at FROM totp_enrollments WHERE user_id = $1 AND owner_digest = $2",
    )
    .bind(user.id)
    .bind(key.digest())
    .fetch_optional(ctx.pool())
    .await
    .map_err(db("reading an app setup"))?;
    let Some((nickname, sealed, created_at)) = row else {
        return Ok(None);
    };
    if ctx.now() - created_at >= Duration::minutes(SETUP_MINUTES) {
        cancel(ctx, user, key).await?;
        return Ok(None);
    }
    let secret = sealer(&ctx.state)?
        .open(&seal_context(user.id), &sealed)
        .ok_or(PortalError::MethodUnavailable(MethodId::Totp))?;
    Ok(Some(Setup {
        nickname,
        sealed,
        secret,
    }))
}

/// What the setup page shows: the QR code, the URI and the secret as text.
pub async fn pending(ctx: &RequestContext, user: &UserRow, key: &SetupKey) -> Result<Option<TotpSetup>, PortalError> {
    let Some(setup) = open_setup(ctx, user, key).await? else {
        return Ok(None);
    };
    let secret = BASE32_NOPAD.encode(&setup.secret);
    let uri = otpauth_uri(ISSUER, &user.username, &secret);
    let qr = QrCode::new(uri.as_bytes()).map_err(|e| crate::errors::internal("drawing a QR code")(e.into()))?;
    let svg = qr.render::<svg::Color>().min_dimensions(220, 220).build();
    Ok(Some(TotpSetup {
        nickname: setup.nickname,
        qr_svg_data_uri: format!("data:image/svg+xml;base64,{}", BASE64.encode(svg.as_bytes())),
        uri,
        secret: grouped(&secret),
    }))
}

/// Checks the first code from the app; success stores it as a credential.
pub async fn verify(
    ctx: &RequestContext,
    user: &UserRow,
    key: Option<&SetupKey>,
    typed: &str,
    enrolling: Enrolling,
) -> Result<(), PortalError> {
    let code = tessera::totp::read_code(typed).map_err(|e| PortalError::Validation(vec![e]))?;
    let setup = match key {
        Some(key) => open_setup(ctx, user, key).await?,
        None => None,
    };
    let Some(setup) = setup else {
        return Err(refuse(
            "code",
            "No app is being added (or its setup lapsed). Start again.",
        ));
    };
    let drift = super::drift(ctx).await?;
    // Counted as the check is taken (SECURITY.md 8, 54).
    let attempt = wrong_codes::take(ctx, user.id).await?;
    let Some(step) = rfc6238::matching_step(&setup.secret, &code, ctx.now().unix_timestamp(), None, drift) else {
        attempt.wrong();
        let event = Event::by_self(audit::CODE_FAILED, who(user))
            .details(serde_json::json!({"purpose": "enroll", "method": MethodId::Totp}));
        ctx.audit(event).await?;
        return Err(refuse(
            "code",
            "That code is not right. Check that the app shows this account, and that the phone's clock is right.",
        ));
    };
    let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
    // A right code gives its attempt back (a setup lost to a concurrent
    // confirmation leaves it counted: the safe side).
    attempt.right(&mut tx).await?;
    // The setup is used up here, only if it is still the one checked: of two
    // concurrent confirmations one wins, and a setup started meanwhile stays.
    let taken = sqlx::query("DELETE FROM totp_enrollments WHERE user_id = $1 AND secret_sealed = $2")
        .bind(user.id)
        .bind(&setup.sealed)
        .execute(&mut *tx)
        .await
        .map_err(db("finishing an app setup"))?
        .rows_affected();
    if taken == 0 {
        return Err(refuse(
            "code",
            "This setup was finished or replaced meanwhile. Check your apps.",
        ));
    }
    let new = NewCredential {
        method: MethodId::Totp,
        nickname: &setup.nickname,
        details: serde_json::json!({}),
    };
    let (id, notice) = methods::store_credential(ctx, &mut tx, user, new, enrolling).await?;
    sqlx::query("INSERT INTO totp_apps (credential_id, secret_sealed, last_step) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&setup.sealed)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(db("storing an app"))?;
    tx.commit().await.map_err(db("committing an app"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, credential_id = %id, "authenticator app added");
    Ok(())
}

/// Drops the unfinished setup `key` opens (its secret is gone for good).
pub async fn cancel(ctx: &RequestContext, user: &UserRow, key: &SetupKey) -> Result<(), PortalError> {
    sqlx::query("DELETE FROM totp_enrollments WHERE user_id = $1 AND owner_digest = $2")
        .bind(user.id)
        .bind(key.digest())
        .execute(ctx.pool())
        .await
        .map_err(db("cancelling an app setup"))?;
    Ok(())
}
