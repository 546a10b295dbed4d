//! Wrong second-factor codes of every method, counted per account per hour:
//! past the cap no code is checked until the oldest leaves the hour
//! (SECURITY.md 8, 36).

use crate::clock::until_window_frees;
use crate::context::RequestContext;
use crate::errors::db;
use tessera::PortalError;
use time::OffsetDateTime;
use uuid::Uuid;

const HOUR_SECS: i64 = 3600;

/// Refuses (429) when the account is at the cap.
pub async fn check_cap(ctx: &RequestContext, user_id: Uuid) -> Result<(), PortalError> {
    let cap = ctx.policy().await?.code_policy().max_failures_per_hour;
    let now = ctx.now();
    let (failures, oldest): (i64, Option<OffsetDateTime>) =
        sqlx::query_as("SELECT count(*), min(failed_at) FROM otp_failures WHERE user_id = $1 AND failed_at > $2")
            .bind(user_id)
            .bind(now - time::Duration::seconds(HOUR_SECS))
            .fetch_one(ctx.pool())
            .await
            .map_err(db("counting wrong codes"))?;
    if failures >= cap {
        // Rounded up, like the send budgets: a retry on time gets through.
        return Err(PortalError::Throttled {
            retry_after_secs: until_window_frees(oldest, HOUR_SECS, now),
        });
    }
    Ok(())
}

/// Counts one wrong code against the account.
pub async fn record(ctx: &RequestContext, user_id: Uuid) -> Result<(), PortalError> {
    sqlx::query("INSERT INTO otp_failures (user_id, failed_at) VALUES ($1, $2)")
        .bind(user_id)
        .bind(ctx.now())
        .execute(ctx.pool())
        .await
        .map_err(db("recording a wrong code"))?;
    Ok(())
}
