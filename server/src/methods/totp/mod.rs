//! Authenticator apps (TOTP, RFC 6238): apps as credentials (`totp_apps`,
//! the secret sealed, the last accepted step kept), enrollment with a QR
//! code, and the check of a code at sign-in.

pub mod enroll;
pub mod rfc6238;

use super::{Answer, Credential, Method, Verified, wrong_codes};
use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::secrets::Sealer;
use crate::state::AppState;
use crate::store::UserRow;
use sqlx::{FromRow, PgPool};
use tessera::method::MethodId;
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// The TOTP method in the registry.
pub struct Totp;

/// What keeps apps from being used: their secrets must be sealed, which
/// takes TESSERA_SECRET_KEY (SECURITY.md 34).
const NO_KEY: &str = "TESSERA_SECRET_KEY is not set on this server, so app secrets cannot be stored sealed";

/// The sealer for app secrets, or `MethodUnavailable` without a key.
fn sealer(state: &AppState) -> Result<&Sealer, PortalError> {
    state.sealer.as_deref().ok_or_else(|| {
        tracing::error!("{NO_KEY}");
        PortalError::MethodUnavailable(MethodId::Totp)
    })
}

/// The clock drift the policy accepts, in steps.
async fn drift(ctx: &RequestContext) -> Result<u32, PortalError> {
    Ok(ctx.policy().await?.totp_drift_steps)
}

/// A secret's box is bound to its account: moved to another, it won't open.
fn seal_context(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

#[derive(FromRow)]
struct AppRow {
    id: Uuid,
    user_id: Uuid,
    nickname: String,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
}

fn refuse(message: &str) -> PortalError {
    PortalError::Validation(vec![FieldError::new("code", message)])
}

#[async_trait::async_trait]
impl Method for Totp {
    fn id(&self) -> MethodId {
        MethodId::Totp
    }

    fn label(&self) -> &'static str {
        "Authenticator apps"
    }

    fn description(&self) -> &'static str {
        "Six-digit codes from an app such as Google Authenticator, Aegis, 1Password, Microsoft Authenticator or FreeOTP."
    }

    async fn plugin_problems(&self, state: &AppState, _plugin: &str) -> Vec<String> {
        match state.sealer {
            Some(_) => Vec::new(),
            None => vec![NO_KEY.to_owned()],
        }
    }

    async fn credentials(&self, pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
        let rows: Vec<AppRow> = sqlx::query_as(
            "SELECT c.id, c.user_id, c.nickname, c.created_at, c.last_used_at
             FROM credentials c JOIN totp_apps t ON t.credential_id = c.id
             WHERE c.user_id = $1 ORDER BY c.created_at, c.id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Credential {
                id: r.id,
                user_id: r.user_id,
                method: MethodId::Totp,
                nickname: r.nickname,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                detail: String::new(),
                masked: String::new(),
                usable: true,
            })
            .collect())
    }

    async fn verify(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        answer: Answer<'_>,
    ) -> Result<Verified, PortalError> {
        let typed = answer.typed()?;
        let code = tessera::totp::read_code(typed).map_err(|e| PortalError::Validation(vec![e]))?;
        let sealer = sealer(&ctx.state)?;
        let drift = drift(ctx).await?;
        // Wrong codes share the per-account cap with SMS (SECURITY.md 36),
        // counted as the check is taken (54).
        let attempt = wrong_codes::take(ctx, user.id).await?;
        let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
        // Locked until the sign-in commits: of two checks of one code, the
        // second sees the step the first used (SECURITY.md 35).
        let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT t.secret_sealed, t.last_step FROM totp_apps t JOIN credentials c ON c.id = t.credential_id
             WHERE t.credential_id = $1 AND c.user_id = $2 FOR UPDATE OF t",
        )
        .bind(credential.id)
        .bind(user.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading an app"))?;
        let Some((sealed, last_step)) = row else {
            drop(tx);
            attempt.void(ctx).await?;
            return Err(PortalError::NotFound);
        };
        let Some(secret) = sealer.open(&seal_context(user.id), &sealed) else {
            tracing::error!(credential = %credential.id, "an app's secret does not open with this TESSERA_SECRET_KEY");
            drop(tx);
            attempt.void(ctx).await?;
            return Err(PortalError::MethodUnavailable(MethodId::Totp));
        };
        let now = ctx.now().unix_timestamp();
        match rfc6238::matching_step(&secret, &code, now, Some(last_step), drift) {
            Some(step) => {
                sqlx::query("UPDATE totp_apps SET last_step = $2 WHERE credential_id = $1")
                    .bind(credential.id)
                    .bind(step)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("storing the step used"))?;
                attempt.right(&mut tx).await?;
                let event = Event::by_self(audit::CODE_VERIFIED, who(user)).details(
                    serde_json::json!({"purpose": "login", "method": MethodId::Totp, "credential": credential.id}),
                );
                ctx.audit_in(&mut tx, event).await?;
                Ok(Verified {
                    tx,
                    notices: Vec::new(),
                })
            }
            None => {
                drop(tx);
                // A code already used (a replay) is refused like a wrong one,
                // and counts toward the cap too.
                let replayed = rfc6238::matching_step(&secret, &code, now, None, drift).is_some();
                attempt.wrong();
                tracing::info!(user_id = %user.id, replayed, "wrong app code");
                let event = Event::by_self(audit::CODE_FAILED, who(user)).details(serde_json::json!({
                    "purpose": "login", "method": MethodId::Totp, "credential": credential.id, "replayed": replayed,
                }));
                ctx.audit(event).await?;
                Err(refuse(if replayed {
                    "That code was already used. Wait for the next one in your app."
                } else {
                    "That code is not right. Check the app's clock, and that it is the code for this account."
                }))
            }
        }
    }
}
