//! The `refresh_token` grant (RFC 6749 6) with rotation (SECURITY.md 48):
//! each refresh token works once and is replaced; presenting one that was
//! already replaced means it leaked, and revokes its whole family.

use super::clients::Client;
use super::error::OAuthError;
use super::tokens::{self, GrantInfo, Issued, Leaked, token_hash};
use crate::audit;
use crate::context::RequestContext;
use crate::session_in_use::InUse;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct RefreshRow {
    grant_id: Uuid,
    client_id: String,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    #[sqlx(flatten)]
    grant: GrantInfo,
}

fn bad_token() -> OAuthError {
    OAuthError::InvalidGrant("The refresh token is invalid, expired or revoked.".into())
}

pub async fn exchange(
    ctx: &RequestContext,
    client: &Client,
    refresh_token: Option<&str>,
    scope: Option<&str>,
) -> Result<Issued, OAuthError> {
    let token = refresh_token.ok_or_else(|| OAuthError::InvalidRequest("The refresh_token is missing.".into()))?;
    let now = ctx.now();
    let hash = token_hash(token);
    let mut tx = ctx.pool().begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT grant_id, client_id, expires_at, used_at, revoked_at, user_id, scope, acr, amr, auth_time, session_id \
         FROM oidc_tokens WHERE token_hash = $1 AND kind = 'refresh' FOR UPDATE",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut row) = row else {
        return Err(bad_token());
    };
    if row.client_id != client.id {
        return Err(bad_token());
    }
    if row.used_at.is_some() && row.revoked_at.is_none() {
        // Reuse of a rotated token: whoever else holds the family loses it.
        let details = serde_json::json!({"client_id": client.id, "user_id": row.grant.user_id});
        let leaked = Leaked::Grant(row.grant_id);
        tokens::revoke_leaked(&mut tx, ctx, leaked, audit::OIDC_REFRESH_REUSED, details).await?;
        tx.commit().await?;
        return Err(bad_token());
    }
    if row.used_at.is_some() || row.revoked_at.is_some() || row.expires_at <= now {
        return Err(bad_token());
    }
    if !tokens::account_active(&mut tx, row.grant.user_id).await? {
        return Err(bad_token());
    }
    // Not past the browser session it belongs to (SECURITY.md 56).
    if let Some(session) = row.grant.bound_to_session()
        && !InUse::at(now, &ctx.state.config).holds(&mut *tx, session).await?
    {
        return Err(bad_token());
    }
    // A refresh may narrow the scope, never widen it (RFC 6749 6).
    if let Some(asked) = scope.map(str::trim).filter(|s| !s.is_empty()) {
        let granted: Vec<&str> = row.grant.scope.split_ascii_whitespace().collect();
        if !asked.split_ascii_whitespace().all(|s| granted.contains(&s)) {
            return Err(OAuthError::InvalidScope(
                "A refresh cannot ask for more than was granted.".into(),
            ));
        }
        row.grant.scope = asked.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    }
    sqlx::query("UPDATE oidc_tokens SET used_at = $2 WHERE token_hash = $1")
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let origin = tokens::Origin {
        grant_id: row.grant_id,
        code_hash: None,
        nonce: None,
    };
    let issued = tokens::issue(&mut tx, &ctx.state, client, &row.grant, origin).await?;
    tx.commit().await?;
    Ok(issued)
}
