//! Issuing what the token endpoint answers with: an opaque access token and
//! refresh token (stored only as hashes) and a signed ID token stating what
//! the sign-in proved (SECURITY.md 44); and finding the grant behind an
//! access token. Every token of one grant shares a `grant_id`: the code's
//! exchange and each refresh after it (a refresh-token family, 48).

use super::clients::{Client, Grant};
use super::error::OAuthError;
use super::keys;
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// How codes and tokens are stored: SHA-256 (they are 256 random bits).
pub use crate::secrets::token_digest as token_hash;

/// The scope by which a relying party asks to refresh after the browser
/// session is over (OpenID Connect Core 11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// What a grant carries from the sign-in to every token issued for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantInfo {
    pub user_id: Uuid,
    pub scope: String,
    pub acr: String,
    pub amr: Vec<String>,
    pub auth_time: OffsetDateTime,
    pub session_id: Option<Uuid>,
}

impl GrantInfo {
    /// The browser session its refresh tokens live no longer than: the one
    /// it was signed into, unless `offline_access` was granted (a grant of
    /// the password grant has none). Ending it still revokes them (50).
    pub fn bound_to_session(&self) -> Option<Uuid> {
        let offline = self.scope.split_ascii_whitespace().any(|s| s == OFFLINE_ACCESS);
        self.session_id.filter(|_| !offline)
    }
}

/// The token endpoint's answer.
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub id_token: String,
    pub scope: String,
}

impl Issued {
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "id_token": self.id_token,
            "scope": self.scope,
        });
        if let Some(r) = &self.refresh_token {
            body["refresh_token"] = json!(r);
        }
        body
    }
}

/// Where a set of tokens comes from.
pub struct Origin<'a> {
    /// The grant (family) they belong to.
    pub grant_id: Uuid,
    /// The code they were exchanged for (a replay of it revokes them).
    pub code_hash: Option<&'a [u8]>,
    /// The authorization request's nonce, for the ID token.
    pub nonce: Option<&'a str>,
}

#[derive(Clone, Copy)]
enum Kind {
    Access,
    Refresh,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Refresh => "refresh",
        }
    }
}

async fn store(
    tx: &mut PgConnection,
    kind: Kind,
    client: &Client,
    grant: &GrantInfo,
    origin: &Origin<'_>,
    now: OffsetDateTime,
    lifetime: i64,
) -> sqlx::Result<String> {
    let token = crate::secrets::random_token();
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, kind, grant_id, client_id, user_id, scope, acr, amr, auth_time, \
         session_id, code_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(token_hash(&token))
    .bind(kind.as_str())
    .bind(origin.grant_id)
    .bind(&client.id)
    .bind(grant.user_id)
    .bind(&grant.scope)
    .bind(&grant.acr)
    .bind(&grant.amr)
    .bind(grant.auth_time)
    .bind(grant.session_id)
    .bind(origin.code_hash)
    .bind(now)
    .bind(now + time::Duration::seconds(lifetime))
    .execute(&mut *tx)
    .await?;
    Ok(token)
}

/// Issues an access token, a refresh token (when the client may refresh)
/// and an ID token for `grant` inside `tx`.
pub async fn issue(
    tx: &mut PgConnection,
    state: &AppState,
    client: &Client,
    grant: &GrantInfo,
    origin: Origin<'_>,
) -> Result<Issued, OAuthError> {
    let sealer = state.sealer.as_deref().ok_or(OAuthError::NotConfigured)?;
    let now = state.clock.now();
    let lifetime = i64::from(client.access_token_secs);
    let access_token = store(tx, Kind::Access, client, grant, &origin, now, lifetime).await?;
    // A family lives the client's refresh lifetime from the sign-in, never
    // longer however often it rotates (SECURITY.md 56); none once that is over.
    let family_ends = grant.auth_time + time::Duration::seconds(i64::from(client.refresh_token_secs));
    let refresh_token = if client.allows(Grant::RefreshToken) && family_ends > now {
        let lifetime = (family_ends - now).whole_seconds();
        Some(store(tx, Kind::Refresh, client, grant, &origin, now, lifetime).await?)
    } else {
        None
    };

    let key = keys::active(&state.pool, sealer, now)
        .await
        .map_err(|e| OAuthError::server("loading the signing key", e))?;
    let mut claims = json!({
        "iss": state.config.public_origin(),
        "sub": grant.user_id.to_string(),
        "aud": client.id,
        "iat": now.unix_timestamp(),
        "exp": now.unix_timestamp() + lifetime,
        "auth_time": grant.auth_time.unix_timestamp(),
        "acr": grant.acr,
        "amr": grant.amr,
        "at_hash": at_hash(&access_token),
    });
    if let Some(n) = origin.nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(sid) = grant.session_id {
        claims["sid"] = json!(sid.to_string());
    }
    let id_token = key
        .sign_jwt(keys::JwtKind::IdToken, &claims)
        .map_err(|e| OAuthError::server("signing an ID token", e))?;
    Ok(Issued {
        access_token,
        expires_in: lifetime,
        refresh_token,
        id_token,
        scope: grant.scope.clone(),
    })
}

/// OpenID Connect Core 3.1.3.6: the left half of the access token's SHA-256.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    B64.encode(&digest[..16])
}

/// The grant behind a live access token (not expired, not revoked).
pub async fn access_grant(pool: &sqlx::PgPool, token: &str, now: OffsetDateTime) -> sqlx::Result<Option<GrantInfo>> {
    sqlx::query_as(
        "SELECT user_id, scope, acr, amr, auth_time, session_id FROM oidc_tokens \
         WHERE token_hash = $1 AND kind = 'access' AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Whether the account may still get tokens: it exists and is not locked.
pub async fn account_active(tx: &mut PgConnection, user_id: Uuid) -> sqlx::Result<bool> {
    let locked: Option<Option<OffsetDateTime>> = sqlx::query_scalar("SELECT locked_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(matches!(locked, Some(None)))
}

/// A grant whose tokens must all go: a replayed code's, or a reused
/// refresh token's family.
pub enum Leaked<'a> {
    Code(&'a [u8]),
    Grant(Uuid),
}

/// Revokes every live token of the leaked grant and audits it as `kind`
/// with `details` (an object, to which the count is added), in `tx`.
pub async fn revoke_leaked(
    tx: &mut PgConnection,
    ctx: &crate::context::RequestContext,
    leaked: Leaked<'_>,
    kind: &'static str,
    mut details: Value,
) -> Result<(), OAuthError> {
    let revoked = match leaked {
        Leaked::Code(hash) => sqlx::query(
            "UPDATE oidc_tokens SET revoked_at = $2 WHERE grant_id IN \
             (SELECT grant_id FROM oidc_tokens WHERE code_hash = $1) AND revoked_at IS NULL",
        )
        .bind(hash),
        Leaked::Grant(id) => {
            sqlx::query("UPDATE oidc_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL").bind(id)
        }
    }
    .bind(ctx.now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    details["tokens_revoked"] = json!(revoked);
    tracing::warn!(%details, "{kind}: a leaked grant was revoked");
    ctx.audit_in(tx, crate::audit::Event::new(kind).details(details))
        .await
        .map_err(|_| OAuthError::ServerError)?;
    Ok(())
}

/// RFC 7009: revokes a token the client holds; a refresh token takes its
/// whole grant with it. A token that is unknown, already dead or another
/// client's is left alone, and the answer is the same.
pub async fn revoke(pool: &sqlx::PgPool, client: &Client, token: &str, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query(
        "WITH t AS (SELECT kind, grant_id, token_hash FROM oidc_tokens WHERE token_hash = $1 AND client_id = $2) \
         UPDATE oidc_tokens o SET revoked_at = $3 FROM t \
         WHERE o.revoked_at IS NULL AND (o.token_hash = t.token_hash OR (t.kind = 'refresh' AND o.grant_id = t.grant_id))",
    )
    .bind(token_hash(token))
    .bind(&client.id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
