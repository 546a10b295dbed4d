//! SMS codes from send to check, for enrollment and sign-in: the challenge
//! rows, resend rules, the send budgets and the one-winner check.
//!
//! A challenge row is written before the provider is called and removed (or
//! put back) when the call fails, so a failure leaves nothing half-written and
//! the person can simply try again.

use super::budget;
use super::plugins::{active_plugin, plugin_by_id, provider_failure};
use super::providers::{self, Purpose, SendRequest, Sent, Verdict};
use crate::audit::{self, Event, Who};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::methods::{SendKind, wrong_codes};
use crate::otp;
use crate::store::UserRow;
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use tessera::otp::message_text;
use tessera::{FieldError, PortalError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Enroll => "enroll",
        Purpose::Login => "login",
        Purpose::TokenLogin => "token_login",
        Purpose::Notice => "notice",
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct Challenge {
    pub id: Uuid,
    pub user_id: Uuid,
    pub phone_e164: String,
    pub credential_id: Option<Uuid>,
    pub nickname: Option<String>,
    pub plugin: String,
    pub code_mac: Option<otp::CodeMac>,
    pub provider_ref: Option<String>,
    pub provider_user_id: Option<String>,
    pub provider_phone_id: Option<String>,
    pub attempts: i32,
    pub last_sent_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

const CHALLENGE_COLUMNS: &str = "id, user_id, phone_e164, credential_id, nickname, plugin, code_mac, provider_ref, \
     provider_user_id, provider_phone_id, attempts, last_sent_at, expires_at";

/// The open challenge of a user for a purpose, if any.
pub async fn open_challenge(pool: &PgPool, user_id: Uuid, purpose: Purpose) -> sqlx::Result<Option<Challenge>> {
    sqlx::query_as::<_, Challenge>(&format!(
        "SELECT {CHALLENGE_COLUMNS} FROM otp_challenges WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL"
    ))
    .bind(user_id)
    .bind(purpose_name(purpose))
    .fetch_optional(pool)
    .await
}

/// Drops the open challenge of a user for a purpose.
pub async fn cancel(pool: &PgPool, user_id: Uuid, purpose: Purpose) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM otp_challenges WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL")
        .bind(user_id)
        .bind(purpose_name(purpose))
        .execute(pool)
        .await?;
    Ok(())
}

/// Where a code should go.
pub struct Destination<'a> {
    pub user_id: Uuid,
    pub username: &'a str,
    pub purpose: Purpose,
    pub phone: &'a str,
    pub credential_id: Option<Uuid>,
    pub nickname: Option<&'a str>,
    /// The provider's user for this phone (Stytch, at sign-in).
    pub provider_user_id: Option<&'a str>,
    /// A resend asked for by the person is refused inside the cooldown; a
    /// first send repeated inside it (a double submit) is not sent again
    /// and succeeds quietly.
    pub kind: SendKind,
}

/// Sends a code to `dest`, replacing the code of the open challenge (which
/// then stops working, SECURITY.md 6).
pub async fn send_code(ctx: &RequestContext, dest: Destination<'_>) -> Result<(), PortalError> {
    let (state, origin) = (&ctx.state, &ctx.origin);
    let pool = &state.pool;
    let rules = ctx.policy().await?;
    let policy = &rules.code_policy();
    let now = state.clock.now();
    let field = if dest.purpose == Purpose::Enroll {
        "phone"
    } else {
        "code"
    };
    // Only to the countries the administrator allows (SECURITY.md 12).
    if !rules.allows_region(crate::phone::region_of(dest.phone).as_deref()) {
        return Err(PortalError::Validation(vec![FieldError::new(
            field,
            "Codes cannot be sent to numbers in this country. Use a number from an allowed country.",
        )]));
    }
    let plugin = active_plugin(state).await?;
    let who = Who {
        id: dest.user_id,
        name: dest.username,
    };

    let open = open_challenge(pool, dest.user_id, dest.purpose)
        .await
        .map_err(db("reading a challenge"))?;
    if let Some(open) = &open
        && let Some(wait) = policy.resend_wait(open.last_sent_at.unix_timestamp(), now.unix_timestamp())
    {
        if dest.kind == SendKind::First && open.phone_e164 == dest.phone {
            // The same request again: the code is already on its way.
            return Ok(());
        }
        return Err(PortalError::TooManyMessages { retry_after_secs: wait });
    }

    let lifetime = policy.lifetime();
    let expires = now + Duration::seconds(lifetime);
    let code = (!providers::owns_code(plugin.id())).then(|| otp::new_code(policy.digits));

    // The send budgets, shared by every server on the database (SECURITY.md
    // 6, 13), spent before the challenge changes: a refused send leaves the
    // code already sent working.
    let country = crate::phone::region_of(dest.phone);
    let budget = budget::Send {
        user_id: dest.user_id,
        phone: dest.phone,
        ip: &origin.ip,
        country: country.as_deref(),
    };
    let reservation = match budget::reserve(pool, &rules, now, &budget)
        .await
        .map_err(db("reserving a message"))?
    {
        Ok(id) => id,
        Err(blocked) => {
            tracing::warn!(user_id = %dest.user_id, scope = blocked.scope, "SMS send budget spent");
            ctx.state.metrics.budget_refused(blocked.scope);
            let event = Event::by_self(audit::SMS_BLOCKED, who).details(serde_json::json!({
                "budget": blocked.scope,
                "limit": blocked.limit,
                "retry_after_secs": blocked.retry_after_secs,
                "to": tessera::otp::mask_phone(dest.phone),
                "country": country,
            }));
            audit::record(pool, now, origin, event)
                .await
                .map_err(db("auditing a blocked send"))?;
            return Err(PortalError::TooManyMessages {
                retry_after_secs: blocked.retry_after_secs,
            });
        }
    };

    // Claim the send in one statement: a new challenge, or the open one if
    // nobody changed it since we read it. A concurrent request (a double
    // submit) claims nothing and sends nothing.
    let id = open.as_ref().map_or_else(Uuid::new_v4, |o| o.id);
    let mac = code.as_deref().map(|c| otp::CodeMac::seal(&state.code_key, id, c));
    let claimed: sqlx::Result<Option<Uuid>> = sqlx::query_scalar(
        "INSERT INTO otp_challenges (id, user_id, purpose, phone_e164, credential_id, nickname, plugin,
            code_mac, sends, created_at, last_sent_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, $10)
         ON CONFLICT (user_id, purpose) WHERE consumed_at IS NULL DO UPDATE SET
            phone_e164 = EXCLUDED.phone_e164, credential_id = EXCLUDED.credential_id,
            nickname = EXCLUDED.nickname, plugin = EXCLUDED.plugin, code_mac = EXCLUDED.code_mac,
            provider_ref = NULL, provider_user_id = NULL, provider_phone_id = NULL, attempts = 0,
            sends = otp_challenges.sends + 1, last_sent_at = EXCLUDED.last_sent_at, expires_at = EXCLUDED.expires_at
         WHERE otp_challenges.id = $1 AND otp_challenges.last_sent_at = $11
         RETURNING id",
    )
    .bind(id)
    .bind(dest.user_id)
    .bind(purpose_name(dest.purpose))
    .bind(dest.phone)
    .bind(dest.credential_id)
    .bind(dest.nickname)
    .bind(plugin.id())
    .bind(mac)
    .bind(now)
    .bind(expires)
    .bind(open.as_ref().map(|o| o.last_sent_at))
    .fetch_optional(pool)
    .await;
    let release = || async {
        budget::release(pool, reservation)
            .await
            .map_err(db("releasing a message"))
    };
    match claimed {
        Ok(Some(_)) => {}
        // A concurrent request claimed it, or the open challenge was consumed
        // meanwhile: nothing to send, and nothing spent.
        Ok(None) => return release().await,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("otp_challenges_pkey") => return release().await,
        Err(e) => {
            release().await?;
            return Err(db("claiming a send")(e));
        }
    }

    // Nothing half-written: a first send leaves no challenge; a resend gets
    // its cooldown back so that the person can retry at once.
    let undo_claim = || async {
        let undo = match &open {
            None => sqlx::query("DELETE FROM otp_challenges WHERE id = $1").bind(id),
            Some(open) => sqlx::query(
                "UPDATE otp_challenges SET last_sent_at = $2, sends = sends - 1, expires_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(open.last_sent_at - Duration::seconds(policy.resend_cooldown_secs))
            .bind(now),
        };
        undo.execute(pool).await.map_err(db("undoing a send"))
    };

    let text = code.as_deref().map(|c| message_text(c, lifetime)).unwrap_or_default();
    let request = SendRequest {
        to: dest.phone,
        text: &text,
        code: code.as_deref().unwrap_or(""),
        purpose: dest.purpose,
        provider_user_id: dest.provider_user_id,
        lifetime_minutes: lifetime / 60,
    };
    match plugin.send(&request).await {
        Ok(sent) => {
            sqlx::query(
                "UPDATE otp_challenges SET provider_ref = $2, provider_user_id = $3, provider_phone_id = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(&sent.reference)
            .bind(&sent.provider_user_id)
            .bind(&sent.provider_phone_id)
            .execute(pool)
            .await
            .map_err(db("storing the provider's ids"))?;
            tracing::info!(user_id = %dest.user_id, plugin = plugin.id(), purpose = purpose_name(dest.purpose), "code sent");
            let event = Event::by_self(audit::CODE_SENT, who).details(serde_json::json!({
                "purpose": purpose_name(dest.purpose),
                "plugin": plugin.id(),
                "to": tessera::otp::mask_phone(dest.phone),
            }));
            audit::record(pool, now, origin, event)
                .await
                .map_err(db("auditing a send"))
        }
        Err(e) => {
            undo_claim().await?;
            release().await?;
            let event = Event::by_self(audit::PROVIDER_ERROR, who).details(serde_json::json!({
                "plugin": plugin.id(),
                "purpose": purpose_name(dest.purpose),
                "error": e.to_string(),
            }));
            audit::record(pool, now, origin, event)
                .await
                .map_err(db("auditing a provider error"))?;
            Err(provider_failure(plugin.id(), field, e))
        }
    }
}

/// Checks a typed code against the open challenge. On success the challenge
/// is consumed inside the returned transaction: of two concurrent checks of
/// one good code exactly one gets it (SECURITY.md 9); the caller finishes its
/// work in that transaction and commits. The transaction begins only then,
/// so a request never holds one connection while waiting for another.
pub async fn check_code(
    ctx: &RequestContext,
    user: &UserRow,
    purpose: Purpose,
    credential: Option<Uuid>,
    typed: &str,
) -> Result<(Challenge, Transaction<'static, Postgres>), PortalError> {
    let (state, origin) = (&ctx.state, &ctx.origin);
    let pool = &state.pool;
    let who: Who<'_> = who(user);
    let user_id = user.id;
    let rules = ctx.policy().await?;
    let policy = &rules.code_policy();
    let now = state.clock.now();
    let code_error = |m: &str| PortalError::Validation(vec![FieldError::new("code", m)]);

    // At sign-in the code must be the one sent to the credential being proven.
    let Some(open) = open_challenge(pool, user_id, purpose)
        .await
        .map_err(db("reading a challenge"))?
        .filter(|open| credential.is_none() || open.credential_id == credential)
    else {
        return Err(code_error("No code is waiting. Ask for a new one."));
    };
    let plugin_owns = providers::owns_code(&open.plugin);
    let code = policy
        .read_code(typed, plugin_owns)
        .map_err(|e| PortalError::Validation(vec![e]))?;

    // At most so many wrong codes per account per hour (SECURITY.md 8),
    // counted as the check is taken (54).
    let attempt = wrong_codes::take(ctx, user_id).await?;

    // Take one try, atomically: a dead code (expired, out of tries) takes none.
    let taken: Option<i32> = sqlx::query_scalar(
        "UPDATE otp_challenges SET attempts = attempts + 1
         WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3
         RETURNING attempts",
    )
    .bind(open.id)
    .bind(now)
    .bind(policy.max_attempts)
    .fetch_optional(pool)
    .await
    .map_err(db("taking a try"))?;
    let Some(attempts) = taken else {
        attempt.void(ctx).await?;
        return Err(if open.attempts >= policy.max_attempts {
            code_error("Too many wrong tries for this code. Ask for a new one.")
        } else {
            code_error("This code has expired. Ask for a new one.")
        });
    };

    let verdict = if plugin_owns {
        let plugin = plugin_by_id(state, &open.plugin).await?;
        let sent = Sent {
            reference: open.provider_ref.clone(),
            provider_user_id: open.provider_user_id.clone(),
            provider_phone_id: open.provider_phone_id.clone(),
        };
        match plugin.check(&open.phone_e164, &sent, &code).await {
            Ok(v) => v,
            Err(e) => {
                // The provider could not answer: the try does not count.
                sqlx::query("UPDATE otp_challenges SET attempts = attempts - 1 WHERE id = $1")
                    .bind(open.id)
                    .execute(pool)
                    .await
                    .map_err(db("giving a try back"))?;
                attempt.void(ctx).await?;
                let event = Event::by_self(audit::PROVIDER_ERROR, who).details(serde_json::json!({
                    "plugin": open.plugin,
                    "purpose": purpose_name(purpose),
                    "error": e.to_string(),
                }));
                audit::record(pool, now, origin, event)
                    .await
                    .map_err(db("auditing a provider error"))?;
                return Err(provider_failure(&open.plugin, "code", e));
            }
        }
    } else {
        match &open.code_mac {
            Some(mac) if mac.matches(&state.code_key, open.id, &code) => Verdict::Approved,
            _ => Verdict::Wrong,
        }
    };

    match verdict {
        Verdict::Approved => {
            let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
            let consumed: Option<Uuid> = sqlx::query_scalar(
                "UPDATE otp_challenges SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL RETURNING id",
            )
            .bind(open.id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("consuming a code"))?;
            match consumed {
                Some(_) => {
                    attempt.right(&mut tx).await?;
                    let event = Event::by_self(audit::CODE_VERIFIED, who)
                        .details(serde_json::json!({"purpose": purpose_name(purpose), "plugin": open.plugin}));
                    audit::record(&mut *tx, now, origin, event)
                        .await
                        .map_err(db("auditing a code"))?;
                    Ok((open, tx))
                }
                None => {
                    drop(tx);
                    attempt.void(ctx).await?;
                    Err(code_error("This code has already been used."))
                }
            }
        }
        Verdict::Expired => {
            attempt.void(ctx).await?;
            sqlx::query("UPDATE otp_challenges SET expires_at = $2 WHERE id = $1")
                .bind(open.id)
                .bind(now)
                .execute(pool)
                .await
                .map_err(db("ending a code"))?;
            Err(code_error("This code has expired. Ask for a new one."))
        }
        Verdict::Wrong => {
            attempt.wrong();
            tracing::info!(%user_id, purpose = purpose_name(purpose), "wrong code");
            let event = Event::by_self(audit::CODE_FAILED, who).details(
                serde_json::json!({"purpose": purpose_name(purpose), "tries_left": policy.max_attempts - attempts}),
            );
            audit::record(pool, now, origin, event)
                .await
                .map_err(db("auditing a wrong code"))?;
            let left = policy.max_attempts - attempts;
            Err(code_error(&match left {
                0 => "That code is not right, and that was the last try. Ask for a new code.".to_string(),
                1 => "That code is not right. 1 try left.".to_string(),
                n => format!("That code is not right. {n} tries left."),
            }))
        }
    }
}
