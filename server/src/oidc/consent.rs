//! Consent for applications that are not first-party: what the screen says
//! each scope lets the application know, and what a person allowed,
//! remembered per application until they revoke it.

use crate::audit::{self, Event, Who};
use crate::context::RequestContext;
use sqlx::PgPool;
use uuid::Uuid;

/// What each scope lets an application know, in the consent screen's words.
pub fn scope_words(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know that you are signed in, and your account's identifier",
        "profile" => "See your name and username",
        "email" => "See your email address",
        super::tokens::OFFLINE_ACCESS => "Keep access to your account after your session in this browser times out",
        _ => "Something Tessera does not describe",
    }
}

/// Whether the scopes a person allowed cover every scope of a request.
pub fn covers(allowed: &[String], requested: &str) -> bool {
    requested
        .split_ascii_whitespace()
        .all(|s| allowed.iter().any(|a| a == s))
}

/// The scopes this person allowed this application, if any.
pub async fn allowed(pool: &PgPool, user: Uuid, client_id: &str) -> sqlx::Result<Option<Vec<String>>> {
    sqlx::query_scalar("SELECT scopes FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
        .bind(user)
        .bind(client_id)
        .fetch_optional(pool)
        .await
}

/// Remembers that the person allowed these scopes (added to any allowed
/// before), audited with the change.
pub async fn remember(ctx: &RequestContext, user: Who<'_>, client_id: &str, scope: &str) -> anyhow::Result<()> {
    let scopes: Vec<&str> = scope.split_ascii_whitespace().collect();
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await?;
    sqlx::query(
        "INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET \
         scopes = ARRAY(SELECT DISTINCT s FROM unnest(oidc_consents.scopes || EXCLUDED.scopes) AS s ORDER BY s), \
         granted_at = EXCLUDED.granted_at",
    )
    .bind(user.id)
    .bind(client_id)
    .bind(&scopes)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = Event::by_self(audit::OIDC_CONSENTED, user)
        .details(serde_json::json!({"client_id": client_id, "scopes": scopes}));
    ctx.audit_in(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_covers_a_request_only_when_it_allowed_every_scope() {
        let allowed = vec!["openid".to_owned(), "profile".to_owned()];
        assert!(covers(&allowed, "openid"));
        assert!(covers(&allowed, "openid profile"));
        assert!(!covers(&allowed, "openid profile email"));
        assert!(!covers(&[], "openid"));
    }
}
