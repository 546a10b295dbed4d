//! Recovery codes (NIST look-up secrets, WSO2's BackupCode): a set of ten
//! is one credential; each code is 80 random bits, stored only as a keyed
//! MAC bound to its set, and works once (SECURITY.md 37). A new set voids
//! the old one. Sets never count toward the minimum (38).

use super::{Answer, Credential, Enrolling, Method, NewCredential, Verified, wrong_codes};
use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::notify::{self, Notice};
use crate::otp::CodeMac;
use crate::store::UserRow;
use rand::Rng;
use sqlx::{FromRow, PgPool};
use tessera::method::MethodId;
use tessera::recovery::{ALPHABET, CODE_CHARS, SET_SIZE};
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// The recovery-code method in the registry.
pub struct RecoveryCodes;

const SET_NAME: &str = "Recovery codes";

/// Codes are kept as MACs under the code key: a key that changes with each
/// start (no TESSERA_SECRET_KEY) would void every set at a restart.
const NO_KEY: &str =
    "TESSERA_SECRET_KEY is not set on this server, so recovery codes would stop working at its next restart";

#[derive(FromRow)]
struct SetRow {
    id: Uuid,
    user_id: Uuid,
    nickname: String,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
    left: i64,
    total: i64,
}

/// A fresh code: 16 characters, each uniform over the 32-letter alphabet.
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_CHARS)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn refuse(message: &str) -> PortalError {
    PortalError::Validation(vec![FieldError::new("code", message)])
}

/// How many unused codes a user's set has, of how many; `None` without a set.
pub async fn left(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Option<(u32, u32)>> {
    let rows: Vec<SetRow> = sets(pool, user_id).await?;
    let n = |v: i64| u32::try_from(v).unwrap_or(0);
    Ok(rows.first().map(|s| (n(s.left), n(s.total))))
}

async fn sets(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<SetRow>> {
    sqlx::query_as(
        "SELECT c.id, c.user_id, c.nickname, c.created_at, c.last_used_at,
                (SELECT count(*) FROM recovery_codes r WHERE r.credential_id = c.id AND r.used_at IS NULL) AS left,
                (SELECT count(*) FROM recovery_codes r WHERE r.credential_id = c.id) AS total
         FROM credentials c WHERE c.user_id = $1 AND c.method = $2 ORDER BY c.created_at, c.id",
    )
    .bind(user_id)
    .bind(MethodId::RecoveryCode.as_str())
    .fetch_all(pool)
    .await
}

/// Makes a new set for `user`, voiding any earlier one, and answers with
/// the codes: the only time they exist outside a MAC.
pub async fn make_set(ctx: &RequestContext, user: &UserRow) -> Result<Vec<String>, PortalError> {
    if ctx.state.sealer.is_none() {
        tracing::error!("{NO_KEY}");
        return Err(PortalError::MethodUnavailable(MethodId::RecoveryCode));
    }
    let count = ctx.policy().await?.recovery_code_count;
    // Never fewer than ten, whatever is stored (SECURITY.md 37).
    let count = usize::try_from(count).unwrap_or(SET_SIZE).max(SET_SIZE);
    let codes: Vec<String> = (0..count).map(|_| new_code()).collect();
    let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
    // One set at a time: the user row is locked while the old set goes.
    sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *tx)
        .await
        .map_err(db("locking a user"))?;
    let voided = sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND method = $2")
        .bind(user.id)
        .bind(MethodId::RecoveryCode.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db("voiding the old recovery codes"))?
        .rows_affected();
    let new = NewCredential {
        method: MethodId::RecoveryCode,
        nickname: SET_NAME,
        details: serde_json::json!({"codes": count, "voided_old_set": voided > 0}),
    };
    let (id, notice) = super::store_credential(ctx, &mut tx, user, new, Enrolling::SignedIn).await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (credential_id, code_mac) VALUES ($1, $2)")
            .bind(id)
            .bind(CodeMac::seal(&ctx.state.code_key, id, code))
            .execute(&mut *tx)
            .await
            .map_err(db("storing a recovery code"))?;
    }
    tx.commit().await.map_err(db("committing recovery codes"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, voided_old_set = voided > 0, "recovery codes made");
    Ok(codes)
}

#[async_trait::async_trait]
impl Method for RecoveryCodes {
    fn id(&self) -> MethodId {
        MethodId::RecoveryCode
    }

    fn label(&self) -> &'static str {
        "Recovery codes"
    }

    fn description(&self) -> &'static str {
        "A set of ten single-use codes, printed or saved, for when the phone or the app is not at hand."
    }

    async fn plugin_problems(&self, state: &crate::state::AppState, _plugin: &str) -> Vec<String> {
        match state.sealer {
            Some(_) => Vec::new(),
            None => vec![NO_KEY.to_owned()],
        }
    }

    /// The set (one credential), with how many codes are left as its detail.
    async fn credentials(&self, pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
        Ok(sets(pool, user_id)
            .await?
            .into_iter()
            .map(|r| Credential {
                id: r.id,
                user_id: r.user_id,
                method: MethodId::RecoveryCode,
                nickname: r.nickname,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                detail: format!("{} of {} left", r.left, r.total),
                masked: format!("{} of {} left", r.left, r.total),
                usable: r.left > 0,
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
        let code = tessera::recovery::read(typed).map_err(|e| PortalError::Validation(vec![e]))?;
        // Counted as the check is taken (SECURITY.md 54).
        let attempt = wrong_codes::take(ctx, user.id).await?;
        let mac = CodeMac::seal(&ctx.state.code_key, credential.id, &code);
        let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
        // Used up in one statement: of two concurrent uses one wins.
        let used: Option<i64> = sqlx::query_scalar(
            "UPDATE recovery_codes r SET used_at = $3 FROM credentials c
             WHERE r.credential_id = $1 AND r.code_mac = $2 AND r.used_at IS NULL
               AND c.id = r.credential_id AND c.user_id = $4
             RETURNING r.id",
        )
        .bind(credential.id)
        .bind(&mac)
        .bind(ctx.now())
        .bind(user.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("using a recovery code"))?;
        if used.is_none() {
            drop(tx);
            let spent: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM recovery_codes WHERE credential_id = $1 AND code_mac = $2 AND used_at IS NOT NULL",
            )
            .bind(credential.id)
            .bind(&mac)
            .fetch_one(ctx.pool())
            .await
            .map_err(db("checking a recovery code"))?;
            attempt.wrong();
            let event = Event::by_self(audit::CODE_FAILED, who(user)).details(
                serde_json::json!({"purpose": "login", "method": MethodId::RecoveryCode, "used_before": spent > 0}),
            );
            ctx.audit(event).await?;
            return Err(refuse(if spent > 0 {
                "That recovery code was used already. Each one works once: use another."
            } else {
                "That is not one of your recovery codes."
            }));
        }
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE credential_id = $1 AND used_at IS NULL")
                .bind(credential.id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("counting recovery codes"))?;
        let left = u32::try_from(left).unwrap_or(0);
        attempt.right(&mut tx).await?;
        let event = Event::by_self(audit::RECOVERY_CODE_USED, who(user))
            .details(serde_json::json!({"credential": credential.id, "left": left}));
        ctx.audit_in(&mut tx, event).await?;
        let notice = ctx.notify_in(&mut tx, user, Notice::RecoveryCodeUsed { left }).await?;
        tracing::info!(user_id = %user.id, left, "recovery code used");
        Ok(Verified {
            tx,
            notices: vec![notice],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_37_codes_are_sixteen_letters_spread_over_the_alphabet() {
        let mut seen = [false; 32];
        for _ in 0..200 {
            let code = new_code();
            assert_eq!(code.len(), CODE_CHARS);
            assert_eq!(tessera::recovery::read(&code).unwrap(), code);
            for b in code.bytes() {
                seen[ALPHABET.iter().position(|a| *a == b).unwrap()] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "every letter of the alphabet appears");
        assert_ne!(new_code(), new_code());
    }
}
