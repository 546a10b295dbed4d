//! A signed-in user's sessions as rows in `user_sessions`: recorded at
//! sign-in, touched while in use, listed and ended by their owner. The
//! cookie session points at its row; ending the row ends the session on
//! every server at its next request.

use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::session_in_use::InUse;
use crate::store::UserRow;
use tessera::PortalError;
use tessera::views::{SessionInfo, device_name};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where and when a session signed in, as its row keeps it.
pub struct SignedInFrom<'a> {
    pub now: OffsetDateTime,
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Writes a session row's sign-in (`sql` binds the row, the account, the
/// time, the IP and the device, in that order); how many rows it wrote.
async fn write_sign_in(
    db: impl sqlx::PgExecutor<'_>,
    sql: &'static str,
    id: Uuid,
    user_id: Uuid,
    from: &SignedInFrom<'_>,
) -> sqlx::Result<u64> {
    let agent = from.user_agent.map(|a| a.chars().take(300).collect::<String>());
    let done = sqlx::query(sql)
        .bind(id)
        .bind(user_id)
        .bind(from.now)
        .bind(from.ip)
        .bind(agent)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Records a newly signed-in session: a row the user can see and end.
pub async fn register(db: impl sqlx::PgExecutor<'_>, user_id: Uuid, from: &SignedInFrom<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    write_sign_in(
        db,
        "INSERT INTO user_sessions (id, user_id, created_at, last_seen, ip, user_agent) VALUES ($1, $2, $3, $3, $4, $5)",
        id,
        user_id,
        from,
    )
    .await?;
    Ok(id)
}

/// A full sign-in again in a browser session that already has its row (a
/// step-up, an application's `prompt=login`): the same row, re-stamped, so
/// that what the session issued before stays bound to it and ends with it
/// (SECURITY.md 50). False when the row is gone or another account's.
pub async fn restamp(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    from: &SignedInFrom<'_>,
) -> sqlx::Result<bool> {
    let sql = "UPDATE user_sessions SET created_at = $3, last_seen = $3, ip = $4, user_agent = $5 \
               WHERE id = $1 AND user_id = $2";
    Ok(write_sign_in(db, sql, id, user_id, from).await? == 1)
}

/// Marks a session as seen now, from this IP.
pub async fn touch(pool: &sqlx::PgPool, id: Uuid, now: OffsetDateTime, ip: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE user_sessions SET last_seen = $2, ip = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(ip)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends every session of the account but `keep` (none: every one), on
/// every server at its next request; how many ended.
pub async fn end_all_but(db: impl sqlx::PgExecutor<'_>, user_id: Uuid, keep: Option<Uuid>) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep)
        .execute(db)
        .await
        .map(|r| r.rows_affected())
}

/// Forgets a session's row (sign-out).
pub async fn forget(pool: &sqlx::PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_sessions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A user's sessions in use ([`InUse`]), newest first; `current` is marked.
pub async fn list(
    ctx: &RequestContext,
    user: &UserRow,
    current: Option<Uuid>,
) -> Result<Vec<SessionInfo>, PortalError> {
    let rows = InUse::at(ctx.now(), &ctx.state.config)
        .of_user(ctx.pool(), user.id)
        .await
        .map_err(db("listing sessions"))?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            id: row.id.to_string(),
            device: device_name(row.user_agent.as_deref()),
            ip: row.ip,
            signed_in_at: human(row.created_at),
            last_seen: human(row.last_seen),
            current: Some(row.id) == current,
        })
        .collect())
}

/// Ends one of the user's sessions (a forged or foreign id is not found).
pub async fn end(ctx: &RequestContext, user: &UserRow, id: &str) -> Result<Uuid, PortalError> {
    let id: Uuid = id.trim().parse().map_err(|_| PortalError::NotFound)?;
    let gone = sqlx::query("DELETE FROM user_sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(ctx.pool())
        .await
        .map_err(db("ending a session"))?
        .rows_affected();
    if gone == 0 {
        return Err(PortalError::NotFound);
    }
    super::app_tokens::revoke_for_session(ctx.pool(), id, ctx.now())
        .await
        .map_err(db("revoking the session's application tokens"))?;
    ctx.audit(Event::by_self(audit::SESSION_ENDED, who(user)).details(serde_json::json!({"session": id})))
        .await?;
    Ok(id)
}
