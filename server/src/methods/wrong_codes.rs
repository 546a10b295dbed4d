//! Wrong second-factor codes of every method, counted per account per hour:
//! past the cap no code is checked until the oldest leaves the hour
//! (SECURITY.md 8, 36). The cap is checked and counted in one atomic step
//! (SECURITY.md 54): each check takes an attempt first, counted as a wrong
//! code until the check proves otherwise, so parallel guesses can never
//! overshoot the cap.

use crate::clock::until_window_frees;
use crate::context::RequestContext;
use crate::errors::db;
use tessera::PortalError;
use time::OffsetDateTime;
use uuid::Uuid;

const HOUR_SECS: i64 = 3600;

/// One check of a code, counted against the account's cap from the moment
/// it is taken. A wrong code leaves it counted ([`Attempt::wrong`]); a
/// right one, or an outcome that compared no code (none waiting, a
/// provider that could not answer), gives it back.
#[must_use = "an attempt is counted as a wrong code until it is given back"]
pub struct Attempt {
    id: i64,
}

/// Takes one attempt for the account, or refuses (429) when it is at the
/// cap: counted and checked under one lock per account, so that of many
/// parallel checks no more than the cap get through.
pub async fn take(ctx: &RequestContext, user_id: Uuid) -> Result<Attempt, PortalError> {
    let cap = ctx.policy().await?.code_policy().max_failures_per_hour;
    let now = ctx.now();
    let failed = db("counting wrong codes");
    let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
    // One account's checks queue here; other accounts' do not.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tessera-wrong-codes:' || $1::text, 0))")
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(db("locking the wrong-code count"))?;
    let (failures, oldest): (i64, Option<OffsetDateTime>) =
        sqlx::query_as("SELECT count(*), min(failed_at) FROM otp_failures WHERE user_id = $1 AND failed_at > $2")
            .bind(user_id)
            .bind(now - time::Duration::seconds(HOUR_SECS))
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
    if failures >= cap {
        // Rounded up, like the send budgets: a retry on time gets through.
        return Err(PortalError::Throttled {
            retry_after_secs: until_window_frees(oldest, HOUR_SECS, now),
        });
    }
    let id: i64 = sqlx::query_scalar("INSERT INTO otp_failures (user_id, failed_at) VALUES ($1, $2) RETURNING id")
        .bind(user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("counting an attempt"))?;
    tx.commit().await.map_err(db("counting an attempt"))?;
    Ok(Attempt { id })
}

impl Attempt {
    /// The code was wrong: the attempt stays counted.
    pub fn wrong(self) {}

    /// The code was right: the attempt is given back in the transaction
    /// that uses the code up.
    pub async fn right(self, tx: &mut sqlx::PgConnection) -> Result<(), PortalError> {
        self.give_back(tx).await
    }

    /// No code was compared (none waiting, a provider that could not
    /// answer): the attempt is given back.
    pub async fn void(self, ctx: &RequestContext) -> Result<(), PortalError> {
        let mut conn = ctx.pool().acquire().await.map_err(db("giving an attempt back"))?;
        self.give_back(&mut conn).await
    }

    async fn give_back(self, db_conn: &mut sqlx::PgConnection) -> Result<(), PortalError> {
        sqlx::query("DELETE FROM otp_failures WHERE id = $1")
            .bind(self.id)
            .execute(db_conn)
            .await
            .map_err(db("giving an attempt back"))?;
        Ok(())
    }
}
