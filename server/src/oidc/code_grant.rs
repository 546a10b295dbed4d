//! The `authorization_code` grant (RFC 6749 4.1.3, RFC 7636 4.6): a code
//! is exchanged once, by its client, for the redirect URI it was issued to,
//! with the PKCE verifier of its challenge (SECURITY.md 43). A replayed code
//! revokes every token it issued.

use super::clients::Client;
use super::error::OAuthError;
use super::tokens::{self, GrantInfo, Issued, Leaked, token_hash};
use crate::audit;
use crate::context::RequestContext;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    #[sqlx(flatten)]
    grant: GrantInfo,
}

/// One answer for every way a code can be wrong: which way is for the log.
fn bad_code() -> OAuthError {
    OAuthError::InvalidGrant("The authorization code is invalid, expired or used.".into())
}

pub async fn exchange(
    ctx: &RequestContext,
    client: &Client,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<Issued, OAuthError> {
    let code = code.ok_or_else(|| OAuthError::InvalidRequest("The code is missing.".into()))?;
    let hash = token_hash(code);
    let now = ctx.now();
    let mut tx = ctx.pool().begin().await?;
    let row: Option<CodeRow> = sqlx::query_as(
        "SELECT client_id, redirect_uri, nonce, code_challenge, expires_at, used_at, user_id, scope, acr, amr, \
         auth_time, session_id FROM oidc_authorization_codes WHERE code_hash = $1 FOR UPDATE",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(bad_code());
    };
    if row.used_at.is_some() {
        // A replay: whoever has the code may have its tokens too (43).
        let details = serde_json::json!({"client_id": row.client_id});
        tokens::revoke_leaked(&mut tx, ctx, Leaked::Code(&hash), audit::OIDC_CODE_REPLAYED, details).await?;
        tx.commit().await?;
        return Err(bad_code());
    }
    if row.expires_at <= now || row.client_id != client.id {
        return Err(bad_code());
    }
    if redirect_uri != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri differs from the authorization request's.".into(),
        ));
    }
    match (&row.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
        (Some(_), _) => {
            return Err(OAuthError::InvalidGrant(
                "The PKCE code_verifier does not match.".into(),
            ));
        }
        // A verifier for a code issued without a challenge is an injected code.
        (None, Some(_)) => {
            return Err(OAuthError::InvalidGrant("This code was issued without PKCE.".into()));
        }
        (None, None) => {}
    }
    if !tokens::account_active(&mut tx, row.grant.user_id).await? {
        return Err(bad_code());
    }
    // Issued through a browser session that has signed out or been ended
    // since: refused (SECURITY.md 50).
    if let Some(session) = row.grant.session_id
        && !crate::store::session_alive(&mut *tx, session).await?
    {
        return Err(bad_code());
    }
    sqlx::query("UPDATE oidc_authorization_codes SET used_at = $2 WHERE code_hash = $1")
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let origin = tokens::Origin {
        grant_id: uuid::Uuid::new_v4(),
        code_hash: Some(&hash),
        nonce: row.nonce.as_deref(),
    };
    let issued = tokens::issue(&mut tx, &ctx.state, client, &row.grant, origin).await?;
    tx.commit().await?;
    Ok(issued)
}

/// RFC 7636 4.6: BASE64URL(SHA256(verifier)) equals the challenge; a
/// verifier is 43 to 128 unreserved characters.
fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
    shaped && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_43_pkce_matches_the_rfc_7636_example_only() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!pkce_matches(&B64.encode(Sha256::digest(b"short")), "short"));
    }
}
