//! A signed-in user's sessions as rows in `user_sessions`: recorded at
//! sign-in, touched while in use, listed and ended by their owner. The
//! cookie session points at its row; ending the row ends the session on
//! every server at its next request.

use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::store::UserRow;
use tessera::PortalError;
use tessera::views::{SessionInfo, device_name};
use time::OffsetDateTime;
use uuid::Uuid;

/// Records a newly signed-in session: a row the user can see and end.
pub async fn register(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    now: OffsetDateTime,
    ip: &str,
    user_agent: Option<&str>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO user_sessions (id, user_id, created_at, last_seen, ip, user_agent) VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(ip)
    .bind(user_agent.map(|a| a.chars().take(300).collect::<String>()))
    .execute(db)
    .await?;
    Ok(id)
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

/// A user's sessions in use (not idle past the idle timeout), newest first;
/// `current` is marked.
pub async fn list(
    ctx: &RequestContext,
    user: &UserRow,
    current: Option<Uuid>,
) -> Result<Vec<SessionInfo>, PortalError> {
    let idle_since = ctx.now() - time::Duration::minutes(ctx.state.config.session_idle_minutes);
    let rows: Vec<(Uuid, OffsetDateTime, OffsetDateTime, String, Option<String>)> = sqlx::query_as(
        "SELECT id, created_at, last_seen, ip, user_agent FROM user_sessions
         WHERE user_id = $1 AND last_seen > $2 ORDER BY last_seen DESC LIMIT 100",
    )
    .bind(user.id)
    .bind(idle_since)
    .fetch_all(ctx.pool())
    .await
    .map_err(db("listing sessions"))?;
    Ok(rows
        .into_iter()
        .map(|(id, created, seen, ip, agent)| SessionInfo {
            id: id.to_string(),
            device: device_name(agent.as_deref()),
            ip,
            signed_in_at: human(created),
            last_seen: human(seen),
            current: Some(id) == current,
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
