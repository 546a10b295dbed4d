//! Getting back in after losing every factor, without a helpdesk: after the
//! password, a person asks to reset two-factor sign-in. The reset waits
//! (the policy's hours) while every channel of the account is told (email,
//! and a text to each enrolled phone) with a link that cancels it; signing
//! in with a factor cancels it too. After the wait, the next sign-in with
//! the password *from the browser that asked* (it keeps a key in a cookie,
//! SECURITY.md 51) removes the lost factors, turns 2FA off and leads
//! straight to enrolling a new one; anywhere else the password leads to
//! the usual second step, where a factor cancels the reset. Audited from
//! start to end; every signed-in page shows a waiting reset with a way to
//! cancel it; an administrator sees it and can cancel it or approve it early.

use crate::audit::{self, Event, Who};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::methods;
use crate::notify::{self, Notice};
use crate::secrets::{self, token_digest};
use crate::store::UserRow;
use tessera::views::ResetView;
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// Resets one account may ask for in a day (each texts every phone).
const MAX_PER_DAY: i64 = 3;

/// A reset's key as its browser keeps it.
pub type ResetKey = crate::secrets::CookieToken;

/// How long the browser keeps the key after the wait is over.
pub const KEY_KEPT_AFTER_WAIT_DAYS: i64 = 7;

/// How a waiting reset ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The cancel link in a notice.
    ByLink,
    /// A sign-in with a factor: the person has one after all.
    BySignIn,
    ByAdministrator,
    /// "This wasn't me".
    NotMe,
    /// The owner, signed in, from the banner every page shows.
    ByOwner,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::ByLink => "link",
            Ended::BySignIn => "signed_in",
            Ended::ByAdministrator => "administrator",
            Ended::NotMe => "not_me",
            Ended::ByOwner => "owner",
        }
    }
}

fn refuse(message: impl Into<String>) -> PortalError {
    PortalError::Validation(vec![FieldError::new("reset", message)])
}

/// The account's waiting reset: when it can finish.
pub async fn waiting(ctx: &RequestContext, user_id: Uuid) -> Result<Option<OffsetDateTime>, PortalError> {
    sqlx::query_scalar("SELECT ready_at FROM two_factor_resets WHERE user_id = $1 AND state = 'waiting'")
        .bind(user_id)
        .fetch_optional(ctx.pool())
        .await
        .map_err(db("reading a reset"))
}

/// What the second step's reset page shows.
pub async fn view(ctx: &RequestContext, user: &UserRow) -> Result<ResetView, PortalError> {
    let policy = ctx.policy().await?;
    Ok(ResetView {
        wait_hours: policy.recovery_wait_hours,
        has_email: user.email.as_deref().is_some_and(|e| !e.trim().is_empty()),
        ready_at: waiting(ctx, user.id).await?.map(human),
    })
}

/// Asks for a reset (the password was just proven): it waits the policy's
/// hours, and every channel of the account is told with a cancel link. The
/// answer is when it can finish and the key that finishes it, for this
/// browser's cookie.
pub async fn start(ctx: &RequestContext, user: &UserRow) -> Result<(OffsetDateTime, ResetKey), PortalError> {
    let policy = ctx.policy().await?;
    if policy.recovery_wait_hours == 0 {
        return Err(refuse(
            "Resetting two-factor sign-in by email is turned off here. Contact your administrator.",
        ));
    }
    if user.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        return Err(refuse(
            "Your account has no email address to confirm a reset with. Contact your administrator.",
        ));
    }
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await.map_err(db("starting a reset"))?;
    // The account row is locked: of two requests at once, one starts it.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *tx)
        .await
        .map_err(db("locking an account"))?;
    let (waiting, today): (Option<OffsetDateTime>, i64) = sqlx::query_as(
        "SELECT (SELECT ready_at FROM two_factor_resets WHERE user_id = $1 AND state = 'waiting'),
                (SELECT count(*) FROM two_factor_resets WHERE user_id = $1 AND started_at > $2)",
    )
    .bind(user.id)
    .bind(now - time::Duration::days(1))
    .fetch_one(&mut *tx)
    .await
    .map_err(db("reading resets"))?;
    if let Some(ready_at) = waiting {
        return Err(refuse(format!(
            "A reset is already waiting: from {} (UTC) your password alone signs in from the browser that asked for it.",
            human(ready_at)
        )));
    }
    if today >= MAX_PER_DAY {
        return Err(refuse(
            "Too many resets were asked for today. Try again tomorrow, or contact your administrator.",
        ));
    }
    let token = secrets::random_token();
    let key = ResetKey::random();
    let ready_at = now + time::Duration::hours(i64::from(policy.recovery_wait_hours));
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO two_factor_resets (id, user_id, cancel_hash, started_at, ready_at, ip, requester_digest) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(user.id)
    .bind(token_digest(&token))
    .bind(now)
    .bind(ready_at)
    .bind(ctx.ip())
    .bind(key.digest())
    .execute(&mut *tx)
    .await
    .map_err(db("starting a reset"))?;
    let event = Event::by_self(audit::RESET_STARTED, who(user))
        .details(serde_json::json!({"reset": id, "ready_at": human(ready_at)}));
    ctx.audit_in(&mut tx, event).await?;
    let link = format!("{}/reset/cancel?token={token}", ctx.state.config.public_origin());
    let when = human(ready_at);
    let notice = ctx
        .notify_in(
            &mut tx,
            user,
            Notice::ResetStarted {
                ready_at: &when,
                cancel_link: &link,
            },
        )
        .await?;
    tx.commit().await.map_err(db("starting a reset"))?;
    notify::deliver(&ctx.state, [notice]);
    let text = format!(
        "Tessera: someone asked to reset two-factor sign-in for your account. If it was not you, cancel it: {link}"
    );
    let texted = methods::sms::tell_phones(ctx, user.id, &text).await;
    tracing::info!(user_id = %user.id, texted, "two-factor reset asked for");
    Ok((ready_at, key))
}

/// Ends the account's waiting reset, if any (inside the caller's
/// transaction when it has one); audited. Whether there was one.
pub async fn cancel(
    ctx: &RequestContext,
    tx: &mut sqlx::PgConnection,
    user: Who<'_>,
    actor: Option<Who<'_>>,
    why: Ended,
) -> Result<bool, PortalError> {
    let ended: Option<Uuid> = sqlx::query_scalar(
        "UPDATE two_factor_resets SET state = 'cancelled', ended_at = $2, ended_by = $3
         WHERE user_id = $1 AND state = 'waiting' RETURNING id",
    )
    .bind(user.id)
    .bind(ctx.now())
    .bind(why.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("cancelling a reset"))?;
    let Some(id) = ended else {
        return Ok(false);
    };
    let mut event = Event::new(audit::RESET_CANCELLED)
        .subject(user)
        .details(serde_json::json!({"reset": id, "by": why.as_str()}));
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    ctx.audit_in(tx, event).await?;
    Ok(true)
}

/// The cancel link of a notice: anyone holding it (the email's reader)
/// cancels the reset it names, once.
pub async fn cancel_by_link(ctx: &RequestContext, token: &str) -> Result<(), PortalError> {
    let gone = || {
        refuse(
            "This link does not cancel anything now: the reset was cancelled or finished already, or the link is not whole.",
        )
    };
    if token.len() != 43 {
        return Err(gone());
    }
    let mut tx = ctx.pool().begin().await.map_err(db("cancelling a reset"))?;
    let owner: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.username FROM two_factor_resets r JOIN users u ON u.id = r.user_id
         WHERE r.cancel_hash = $1 AND r.state = 'waiting' FOR UPDATE OF r",
    )
    .bind(token_digest(token))
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("finding a reset"))?;
    let Some((id, name)) = owner else {
        return Err(gone());
    };
    cancel(ctx, &mut tx, Who { id, name: &name }, None, Ended::ByLink).await?;
    tx.commit().await.map_err(db("cancelling a reset"))
}

/// An administrator moves a waiting reset's time to now: the next sign-in
/// with the password from the browser that asked finishes it.
pub async fn approve(ctx: &RequestContext, admin: Who<'_>, user: &UserRow) -> Result<(), PortalError> {
    let mut tx = ctx.pool().begin().await.map_err(db("approving a reset"))?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE two_factor_resets SET ready_at = LEAST(ready_at, $2) WHERE user_id = $1 AND state = 'waiting' RETURNING id",
    )
    .bind(user.id)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("approving a reset"))?;
    let Some(id) = id else {
        return Err(PortalError::NotFound);
    };
    let event = Event::new(audit::RESET_APPROVED)
        .actor(admin)
        .subject(who(user))
        .details(serde_json::json!({"reset": id}));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await.map_err(db("approving a reset"))
}

/// Finishes the account's reset if its wait is over and this browser is
/// the one that asked for it (`key`, its cookie; the password was just
/// proven): every credential goes (providers told first), 2FA turns off,
/// trusted browsers are forgotten, and the owner is told. Whether it
/// finished.
pub async fn finish_if_ready(
    ctx: &RequestContext,
    user: &UserRow,
    key: Option<&ResetKey>,
) -> Result<bool, PortalError> {
    let Some(key) = key else {
        return Ok(false);
    };
    let ready: Option<OffsetDateTime> = sqlx::query_scalar(
        "SELECT ready_at FROM two_factor_resets WHERE user_id = $1 AND state = 'waiting' AND requester_digest = $2",
    )
    .bind(user.id)
    .bind(key.digest())
    .fetch_optional(ctx.pool())
    .await
    .map_err(db("reading a reset"))?;
    if ready.is_none_or(|ready_at| ready_at > ctx.now()) {
        return Ok(false);
    }
    let credentials = methods::credentials(ctx.pool(), user.id)
        .await
        .map_err(db("listing credentials"))?;
    for c in &credentials {
        if let Some(method) = methods::find(c.method)
            && let Err(e) = method.before_removal(ctx, c).await
        {
            tracing::warn!(credential = %c.id, error = %e, "a provider's clean-up failed during a reset");
        }
    }
    let mut tx = ctx.pool().begin().await.map_err(db("finishing a reset"))?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE two_factor_resets SET state = 'completed', ended_at = $2, ended_by = 'completed'
         WHERE user_id = $1 AND state = 'waiting' AND ready_at <= $2 AND requester_digest = $3 RETURNING id",
    )
    .bind(user.id)
    .bind(ctx.now())
    .bind(key.digest())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("finishing a reset"))?;
    let Some(id) = id else {
        // Cancelled meanwhile.
        return Ok(false);
    };
    for sql in [
        "DELETE FROM credentials WHERE user_id = $1",
        "DELETE FROM otp_challenges WHERE user_id = $1 AND consumed_at IS NULL",
        "DELETE FROM totp_enrollments WHERE user_id = $1",
        "UPDATE users SET two_factor_enabled = FALSE, preferred_credential_id = NULL WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(db("resetting two-factor sign-in"))?;
    }
    super::trusted_browsers::forget_all(ctx, &mut tx, user, super::trusted_browsers::Voided::TwoFactorReset).await?;
    let event = Event::by_self(audit::RESET_COMPLETED, who(user))
        .details(serde_json::json!({"reset": id, "credentials_removed": credentials.len()}));
    ctx.audit_in(&mut tx, event).await?;
    let notice = ctx.notify_in(&mut tx, user, Notice::TwoFactorOff).await?;
    tx.commit().await.map_err(db("finishing a reset"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, "two-factor sign-in reset after the wait");
    Ok(true)
}
