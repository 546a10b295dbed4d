//! "This wasn't me": the link in every security notice. Opening it changes
//! nothing (mail scanners follow links). Its owner, once signed in, secures
//! the account with one button: every other session ends, every
//! application's tokens are revoked, every trusted browser is forgotten, a
//! waiting reset of two-factor sign-in is cancelled and the account is
//! flagged on the console. Someone who can no longer sign in (the password
//! was changed) can still flag the account for the administrators.
//!
//! The link's token is made by [`crate::notify`] with the notice; only its
//! digest is kept, on the notice's row. It secures once and works for
//! [`NOT_ME_DAYS`] days.

use crate::audit::{self, Event, Who};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::notify::NOT_ME_DAYS;
use crate::secrets::{is_token_shaped, token_digest};
use crate::signin::reset::{self, Ended};
use crate::signin::trusted_browsers::{self, Voided};
use crate::store::UserRow;
use sqlx::{PgConnection, PgPool};
use tessera::views::{AccountFlag, FlagRaised, NotMeStep, NotMeView};
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// A notice's link, as its row says.
#[derive(sqlx::FromRow)]
struct Link {
    id: i64,
    user_id: Uuid,
    subject: String,
    created_at: OffsetDateTime,
    not_me_used_at: Option<OffsetDateTime>,
}

fn refuse(message: impl Into<String>) -> PortalError {
    PortalError::Validation(vec![FieldError::new("not_me", message)])
}

fn unknown() -> PortalError {
    refuse(format!(
        "This link does not work: it is not whole, or it is more than {NOT_ME_DAYS} days old. \
         If something happened to your account, sign in and check it, or contact your administrator."
    ))
}

/// The live link `token` names (its row locked when `lock`).
async fn find(ctx: &RequestContext, conn: &mut PgConnection, token: &str, lock: bool) -> Result<Link, PortalError> {
    let token = token.trim();
    if !is_token_shaped(token) {
        return Err(unknown());
    }
    let sql = format!(
        "SELECT id, user_id, subject, created_at, not_me_used_at FROM notifications
         WHERE not_me_hash = $1 AND user_id IS NOT NULL AND created_at > $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(&sql)
        .bind(token_digest(token))
        .bind(ctx.now() - time::Duration::days(NOT_ME_DAYS))
        .fetch_optional(conn)
        .await
        .map_err(db("reading a notice's link"))?
        .ok_or_else(unknown)
}

/// What the link's page shows to `viewer` (the signed-in account, if any).
pub async fn view(ctx: &RequestContext, token: &str, viewer: Option<&UserRow>) -> Result<NotMeView, PortalError> {
    let mut conn = ctx.pool().acquire().await.map_err(db("reading a notice's link"))?;
    let link = find(ctx, &mut conn, token, false).await?;
    let step = match (link.not_me_used_at, viewer) {
        (Some(at), _) => NotMeStep::Done { at: human(at) },
        (None, None) => {
            let reported: Option<OffsetDateTime> =
                sqlx::query_scalar("SELECT raised_at FROM account_flags WHERE notification_id = $1")
                    .bind(link.id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db("reading an account's flag"))?;
            NotMeStep::SignInFirst {
                reported_at: reported.map(human),
            }
        }
        (None, Some(u)) if u.id == link.user_id => NotMeStep::Ready,
        (None, Some(_)) => NotMeStep::OtherAccount,
    };
    Ok(NotMeView {
        about: link.subject,
        sent_at: human(link.created_at),
        step,
    })
}

/// Secures `user`'s account from the link (once): every session but
/// `this_session` ends, application tokens are revoked, trusted browsers
/// forgotten, a waiting reset cancelled, the account flagged. One
/// transaction; audited.
pub async fn secure(
    ctx: &RequestContext,
    token: &str,
    user: &UserRow,
    this_session: Option<Uuid>,
) -> Result<(), PortalError> {
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await.map_err(db("securing an account"))?;
    let link = find(ctx, &mut tx, token, true).await?;
    if link.user_id != user.id {
        return Err(refuse(
            "This link belongs to another account. Sign out, then sign in as the account the notice was sent to.",
        ));
    }
    if let Some(at) = link.not_me_used_at {
        return Err(refuse(format!(
            "This link was used on {} (UTC): the account was secured then. If something happened since, use the link in the newer notice.",
            human(at)
        )));
    }
    let sessions_ended = super::sessions::end_all_but(&mut *tx, user.id, this_session)
        .await
        .map_err(db("ending other sessions"))?;
    let tokens_revoked = super::app_tokens::revoke_for_user(&mut *tx, user.id, now)
        .await
        .map_err(db("revoking application tokens"))?;
    let browsers_forgotten = trusted_browsers::forget_all(ctx, &mut tx, user, Voided::NotMe).await?;
    let reset_cancelled = reset::cancel(ctx, &mut tx, who(user), None, Ended::NotMe).await?;
    sqlx::query("UPDATE notifications SET not_me_used_at = $2 WHERE id = $1")
        .bind(link.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("using a notice's link"))?;
    raise_flag(&mut tx, user.id, FlagRaised::Secured, link.id, ctx.ip(), now).await?;
    let event = Event::by_self(audit::NOT_ME_SECURED, who(user)).details(serde_json::json!({
        "notification": link.id,
        "about": link.subject,
        "sessions_ended": sessions_ended,
        "application_tokens_revoked": tokens_revoked,
        "browsers_forgotten": browsers_forgotten,
        "reset_cancelled": reset_cancelled,
    }));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await.map_err(db("securing an account"))?;
    tracing::warn!(user_id = %user.id, sessions_ended, "an owner did not recognise a change and secured the account");
    Ok(())
}

/// For a holder of the link who cannot sign in any more: flags the account
/// for the administrators, and changes nothing else. Saying it again about
/// the same notice adds nothing.
pub async fn report(ctx: &RequestContext, token: &str) -> Result<(), PortalError> {
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await.map_err(db("reporting an account"))?;
    let link = find(ctx, &mut tx, token, true).await?;
    let already: Option<i64> = sqlx::query_scalar("SELECT notification_id FROM account_flags WHERE user_id = $1")
        .bind(link.user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading an account's flag"))?
        .flatten();
    if link.not_me_used_at.is_some() || already == Some(link.id) {
        return Ok(());
    }
    let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(link.user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("reading an account"))?;
    raise_flag(&mut tx, link.user_id, FlagRaised::Reported, link.id, ctx.ip(), now).await?;
    let subject = Who {
        id: link.user_id,
        name: &username,
    };
    let event = Event::new(audit::NOT_ME_REPORTED)
        .subject(subject)
        .details(serde_json::json!({"notification": link.id, "about": link.subject}));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await.map_err(db("reporting an account"))?;
    tracing::warn!(user_id = %link.user_id, "a change was reported as not the owner's, without a sign-in");
    Ok(())
}

async fn raise_flag(
    tx: &mut PgConnection,
    user_id: Uuid,
    how: FlagRaised,
    notification: i64,
    ip: &str,
    now: OffsetDateTime,
) -> Result<(), PortalError> {
    sqlx::query(
        "INSERT INTO account_flags (user_id, raised_at, how, notification_id, ip) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
         SET raised_at = EXCLUDED.raised_at, how = EXCLUDED.how, notification_id = EXCLUDED.notification_id, ip = EXCLUDED.ip",
    )
    .bind(user_id)
    .bind(now)
    .bind(how.as_str())
    .bind(notification)
    .bind(ip)
    .execute(&mut *tx)
    .await
    .map_err(db("flagging an account"))?;
    Ok(())
}

/// The account's open flag, for the console.
pub async fn flag(pool: &PgPool, user_id: Uuid) -> Result<Option<AccountFlag>, PortalError> {
    let row: Option<(OffsetDateTime, String, Option<String>, String)> = sqlx::query_as(
        "SELECT f.raised_at, f.how, n.subject, f.ip FROM account_flags f
         LEFT JOIN notifications n ON n.id = f.notification_id WHERE f.user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
    .map_err(db("reading an account's flag"))?;
    Ok(row.map(|(at, how, about, ip)| AccountFlag {
        raised_at: human(at),
        how: FlagRaised::parse(&how).unwrap_or(FlagRaised::Reported),
        about,
        ip,
    }))
}

/// Which of these accounts are flagged.
pub async fn flagged(pool: &PgPool, users: &[Uuid]) -> Result<Vec<Uuid>, PortalError> {
    sqlx::query_scalar("SELECT user_id FROM account_flags WHERE user_id = ANY($1)")
        .bind(users)
        .fetch_all(pool)
        .await
        .map_err(db("reading flags"))
}

/// An administrator looked into the account and clears its flag; audited.
pub async fn clear_flag(ctx: &RequestContext, admin: Who<'_>, target: &UserRow) -> Result<(), PortalError> {
    let mut tx = ctx.pool().begin().await.map_err(db("clearing a flag"))?;
    let cleared = sqlx::query("DELETE FROM account_flags WHERE user_id = $1")
        .bind(target.id)
        .execute(&mut *tx)
        .await
        .map_err(db("clearing a flag"))?
        .rows_affected();
    if cleared == 0 {
        return Err(PortalError::NotFound);
    }
    let event = Event::new(audit::FLAG_CLEARED).actor(admin).subject(who(target));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await.map_err(db("clearing a flag"))
}
