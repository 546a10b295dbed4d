//! Trusted browsers (Casa's "remember this browser", SECURITY.md 41): a
//! random 256-bit token in an `HttpOnly` cookie, kept server-side only as
//! its SHA-256, bound to one account and expiring after the policy's days.
//! It skips the second factor, never the password; its owner lists and
//! forgets them, an administrator clears them, and a password change, a
//! 2FA reset or removing the last credential voids them all.

use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::store::UserRow;
use sqlx::PgConnection;
use tessera::PortalError;
use tessera::views::{TrustedBrowserInfo, device_name};
use time::OffsetDateTime;
use uuid::Uuid;

/// A trusted browser's token as the cookie carries it (base64url, 43
/// characters); never stored, never logged.
pub type TrustToken = crate::secrets::CookieToken;

/// Why every trusted browser of an account is forgotten (the audit says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voided {
    /// By their owner, from the security page.
    ByOwner,
    /// By an administrator, from the console.
    ByAdministrator,
    PasswordChanged,
    TwoFactorReset,
    TwoFactorOff,
    LastCredentialRemoved,
    /// "This wasn't me".
    NotMe,
}

impl Voided {
    fn as_str(self) -> &'static str {
        match self {
            Voided::ByOwner => "by_owner",
            Voided::ByAdministrator => "by_administrator",
            Voided::PasswordChanged => "password_changed",
            Voided::TwoFactorReset => "two_factor_reset",
            Voided::TwoFactorOff => "two_factor_off",
            Voided::LastCredentialRemoved => "last_credential_removed",
            Voided::NotMe => "not_me",
        }
    }
}

/// Trusts this browser for `days`: the token for its cookie. Audited, and
/// its owner is told (a browser they did not trust is a warning sign).
pub async fn trust(
    ctx: &RequestContext,
    user: &UserRow,
    days: u32,
) -> Result<(TrustToken, crate::notify::Queued), PortalError> {
    let token = TrustToken::random();
    let now = ctx.now();
    let id = Uuid::new_v4();
    let mut tx = ctx.pool().begin().await.map_err(db("trusting a browser"))?;
    sqlx::query(
        "INSERT INTO trusted_browsers (id, user_id, token_hash, created_at, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(user.id)
    .bind(token.digest())
    .bind(now)
    .bind(now + time::Duration::days(i64::from(days)))
    .bind(ctx.ip())
    .bind(
        ctx.origin
            .user_agent
            .as_deref()
            .map(|a| a.chars().take(300).collect::<String>()),
    )
    .execute(&mut *tx)
    .await
    .map_err(db("trusting a browser"))?;
    let event =
        Event::by_self(audit::BROWSER_TRUSTED, who(user)).details(serde_json::json!({"browser": id, "days": days}));
    ctx.audit_in(&mut tx, event).await?;
    let device = device_name(ctx.origin.user_agent.as_deref());
    let notice = ctx
        .notify_in(
            &mut tx,
            user,
            crate::notify::Notice::BrowserTrusted { device: &device, days },
        )
        .await?;
    tx.commit().await.map_err(db("trusting a browser"))?;
    Ok((token, notice))
}

/// Whether `token` is a live trusted browser of this account (its use is
/// recorded).
pub async fn recognizes(ctx: &RequestContext, user_id: Uuid, token: &TrustToken) -> Result<bool, PortalError> {
    let used = sqlx::query(
        "UPDATE trusted_browsers SET last_used_at = $3, ip = $4
         WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(token.digest())
    .bind(user_id)
    .bind(ctx.now())
    .bind(ctx.ip())
    .execute(ctx.pool())
    .await
    .map_err(db("checking a trusted browser"))?
    .rows_affected();
    Ok(used == 1)
}

/// The account's live trusted browsers, newest first; `this` marks the one
/// asking, when it is one of them.
pub async fn list(
    ctx: &RequestContext,
    user_id: Uuid,
    this: Option<&TrustToken>,
) -> Result<Vec<TrustedBrowserInfo>, PortalError> {
    type Row = (
        Uuid,
        Vec<u8>,
        OffsetDateTime,
        OffsetDateTime,
        Option<OffsetDateTime>,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, token_hash, created_at, expires_at, last_used_at, ip, user_agent FROM trusted_browsers
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user_id)
    .bind(ctx.now())
    .fetch_all(ctx.pool())
    .await
    .map_err(db("listing trusted browsers"))?;
    let this = this.map(TrustToken::digest);
    Ok(rows
        .into_iter()
        .map(|(id, hash, created, expires, used, ip, agent)| TrustedBrowserInfo {
            id: id.to_string(),
            device: device_name(agent.as_deref()),
            ip,
            trusted_at: human(created),
            expires_at: human(expires),
            last_used_at: used.map(human),
            current: this.as_deref() == Some(hash.as_slice()),
        })
        .collect())
}

/// Forgets one of the account's trusted browsers (a forged or foreign id
/// is not found).
pub async fn forget(ctx: &RequestContext, user: &UserRow, id: &str) -> Result<(), PortalError> {
    let id: Uuid = id.trim().parse().map_err(|_| PortalError::NotFound)?;
    let gone = sqlx::query("DELETE FROM trusted_browsers WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(ctx.pool())
        .await
        .map_err(db("forgetting a trusted browser"))?
        .rows_affected();
    if gone == 0 {
        return Err(PortalError::NotFound);
    }
    let event = Event::by_self(audit::BROWSERS_FORGOTTEN, who(user)).details(serde_json::json!({"browser": id}));
    ctx.audit(event).await
}

/// Forgets every trusted browser of the account, inside the transaction of
/// the change that voids them; audited when there were any.
pub async fn forget_all(
    ctx: &RequestContext,
    tx: &mut PgConnection,
    user: &UserRow,
    why: Voided,
) -> Result<u64, PortalError> {
    let gone = sqlx::query("DELETE FROM trusted_browsers WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await
        .map_err(db("forgetting trusted browsers"))?
        .rows_affected();
    if gone > 0 {
        let event = Event::new(audit::BROWSERS_FORGOTTEN)
            .subject(who(user))
            .details(serde_json::json!({"count": gone, "reason": why.as_str()}));
        ctx.audit_in(tx, event).await?;
    }
    Ok(gone)
}
