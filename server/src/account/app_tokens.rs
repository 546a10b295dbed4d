//! The tokens applications hold for an account (OpenID Connect grants),
//! revoked when what they came from ends (SECURITY.md 48): the browser
//! session they were issued from signs out or is ended, the password
//! changes, the account is locked, or the person revokes the application
//! on the Applications page (which lists them).

use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::oidc::consent;
use crate::store::UserRow;
use sqlx::{PgExecutor, PgPool};
use tessera::PortalError;
use tessera::views::ApplicationInfo;
use time::OffsetDateTime;
use uuid::Uuid;

/// Revokes every live token issued from the browser session `session_id`
/// and, in the same statement, owes each client with a back-channel URI
/// that the session signed in to a logout notice for it (SECURITY.md 58).
pub async fn revoke_for_session(db: impl PgExecutor<'_>, session_id: Uuid, now: OffsetDateTime) -> sqlx::Result<u64> {
    let revoked = "UPDATE oidc_tokens SET revoked_at = $2 WHERE grant_id IN \
                   (SELECT grant_id FROM oidc_tokens WHERE session_id = $1) AND revoked_at IS NULL \
                   RETURNING client_id, user_id, $1::UUID AS session_id";
    revoke_and_owe_logouts(db, revoked, session_id, now).await
}

/// Revokes every live token of the account and owes a logout notice for
/// each session (or, for tokens from no session, the account) to each
/// client with a back-channel URI that holds one (SECURITY.md 58).
pub async fn revoke_for_user(db: impl PgExecutor<'_>, user_id: Uuid, now: OffsetDateTime) -> sqlx::Result<u64> {
    let revoked = "UPDATE oidc_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
                   RETURNING client_id, user_id, session_id";
    revoke_and_owe_logouts(db, revoked, user_id, now).await
}

/// Runs `revoked` (an UPDATE of `oidc_tokens` binding `$1` and `$2` = now,
/// returning client, user and session) and queues one notice per client,
/// user and session among what it revoked, for the clients that take them;
/// the queue's worker is woken as the transaction commits. Answers how many
/// tokens were revoked.
async fn revoke_and_owe_logouts(
    db: impl PgExecutor<'_>,
    revoked: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<u64> {
    let (tokens, _notices): (i64, i64) = sqlx::query_as(&format!(
        "WITH revoked AS ({revoked}), \
         owed AS (INSERT INTO oidc_logout_notices (client_id, user_id, session_id, created_at, next_attempt_at) \
                  SELECT DISTINCT r.client_id, r.user_id, r.session_id, $2, $2 FROM revoked r \
                  JOIN oidc_clients c ON c.id = r.client_id WHERE c.backchannel_logout_uri IS NOT NULL \
                  RETURNING id) \
         SELECT (SELECT count(*) FROM revoked), \
                (SELECT count(*) FROM (SELECT pg_notify('{channel}', '') FROM owed) woken)",
        channel = crate::oidc::backchannel::WAKE_CHANNEL,
    ))
    .bind(id)
    .bind(now)
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(tokens).unwrap_or(0))
}

/// The applications the account has signed in to or allowed, the most
/// recently used first, for the Applications page.
pub async fn list(pool: &PgPool, user_id: Uuid, now: OffsetDateTime) -> sqlx::Result<Vec<ApplicationInfo>> {
    type Row = (
        String,
        String,
        Option<Vec<String>>,
        Option<String>,
        Option<OffsetDateTime>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.name, cs.scopes, last.scope, last.created_at, \
                EXISTS (SELECT 1 FROM oidc_tokens t WHERE t.user_id = $1 AND t.client_id = c.id \
                        AND t.revoked_at IS NULL AND t.used_at IS NULL AND t.expires_at > $2) \
         FROM oidc_clients c \
         LEFT JOIN oidc_consents cs ON cs.client_id = c.id AND cs.user_id = $1 \
         LEFT JOIN LATERAL (SELECT t.scope, t.created_at FROM oidc_tokens t \
                            WHERE t.user_id = $1 AND t.client_id = c.id \
                            ORDER BY t.created_at DESC LIMIT 1) last ON TRUE \
         WHERE cs.user_id IS NOT NULL OR last.created_at IS NOT NULL \
         ORDER BY last.created_at DESC NULLS LAST, c.name LIMIT 200",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, consented, last_scope, last_used, has_access)| {
            let scopes = consented.unwrap_or_else(|| {
                last_scope
                    .unwrap_or_default()
                    .split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect()
            });
            ApplicationInfo {
                client_id: id,
                name,
                may: scopes.iter().map(|s| consent::scope_words(s).to_owned()).collect(),
                last_signed_in: last_used.map(human),
                has_access,
            }
        })
        .collect())
}

/// Revokes an application's access to the account: its live tokens, its
/// unused codes and the remembered consent (the next sign-in asks again).
/// An application the account never let in is not found.
pub async fn revoke_for_client(ctx: &RequestContext, user: &UserRow, client_id: &str) -> Result<(), PortalError> {
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await.map_err(db("revoking an application"))?;
    let tokens = sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL \
         AND expires_at > $3",
    )
    .bind(user.id)
    .bind(client_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db("revoking an application's tokens"))?
    .rows_affected();
    sqlx::query(
        "UPDATE oidc_authorization_codes SET used_at = $3 WHERE user_id = $1 AND client_id = $2 AND used_at IS NULL",
    )
    .bind(user.id)
    .bind(client_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db("voiding an application's codes"))?;
    let consent = sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
        .bind(user.id)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(db("forgetting a consent"))?
        .rows_affected();
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM oidc_tokens WHERE user_id = $1 AND client_id = $2)")
            .bind(user.id)
            .bind(client_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("finding an application"))?;
    if !known && consent == 0 {
        return Err(PortalError::NotFound);
    }
    let event = Event::by_self(audit::OIDC_APP_REVOKED, who(user))
        .details(serde_json::json!({"client_id": client_id, "tokens": tokens, "consent": consent > 0}));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await.map_err(db("revoking an application"))?;
    Ok(())
}
