//! The tokens applications hold for an account (OpenID Connect grants),
//! revoked when what they came from ends (SECURITY.md 48): the browser
//! session they were issued from signs out or is ended, the password
//! changes, the account is locked.

use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

/// Revokes every live token issued from the browser session `session_id`.
pub async fn revoke_for_session(db: impl PgExecutor<'_>, session_id: Uuid, now: OffsetDateTime) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $2 WHERE grant_id IN \
         (SELECT grant_id FROM oidc_tokens WHERE session_id = $1) AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(now)
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// Revokes every live token of the account.
pub async fn revoke_for_user(db: impl PgExecutor<'_>, user_id: Uuid, now: OffsetDateTime) -> sqlx::Result<u64> {
    sqlx::query("UPDATE oidc_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(db)
        .await
        .map(|r| r.rows_affected())
}
