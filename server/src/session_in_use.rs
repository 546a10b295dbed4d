//! When a signed-in browser session is still in use, answered from its row
//! in `user_sessions` (the cookie session itself is in the session store,
//! keyed by a cookie only the browser has). The Sessions page lists the
//! sessions in use; the token endpoint refreshes a family bound to a session
//! only while it is (SECURITY.md 56).

use time::OffsetDateTime;
use uuid::Uuid;

/// What makes a session's row a session still in use: seen within the idle
/// timeout and signed in within the absolute lifetime, as its cookie session
/// is kept (the row's `last_seen` moves when the cookie session's expiry
/// does, and `created_at` is the sign-in its absolute lifetime counts from).
/// The Sessions page and the token endpoint ask the same question here.
pub struct InUse {
    seen_after: OffsetDateTime,
    signed_in_after: OffsetDateTime,
}

/// The condition on a `user_sessions` row, with `$2` and `$3` bound to
/// [`InUse`]'s two instants (`$1` is the query's own).
const CONDITION: &str = "last_seen > $2 AND created_at > $3";

/// A session in use as the Sessions page lists it.
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub ip: String,
    pub user_agent: Option<String>,
}

impl InUse {
    pub fn at(now: OffsetDateTime, config: &crate::config::Config) -> InUse {
        InUse {
            seen_after: now - time::Duration::minutes(config.session_idle_minutes),
            signed_in_after: now - time::Duration::hours(config.session_absolute_hours),
        }
    }

    /// Whether the session `id` is in use.
    pub async fn holds(&self, db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
        sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM user_sessions WHERE id = $1 AND {CONDITION})"
        ))
        .bind(id)
        .bind(self.seen_after)
        .bind(self.signed_in_after)
        .fetch_one(db)
        .await
    }

    /// The account's sessions in use, last seen first (at most 100).
    pub async fn of_user(&self, db: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Listed>> {
        sqlx::query_as(&format!(
            "SELECT id, created_at, last_seen, ip, user_agent FROM user_sessions \
             WHERE user_id = $1 AND {CONDITION} ORDER BY last_seen DESC LIMIT 100"
        ))
        .bind(user_id)
        .bind(self.seen_after)
        .bind(self.signed_in_after)
        .fetch_all(db)
        .await
    }
}
