//! SMS send budgets (SECURITY.md 6 and 13): per number, per IP address, per
//! account, per destination country, and an hourly ceiling for everything
//! (a cost guard against SMS pumping). Kept in PostgreSQL: a send is
//! reserved under one transaction-scoped advisory lock, so every server on
//! the database spends the same budget and two servers cannot both take the
//! last message.

use sqlx::PgPool;
use tessera::policy::Policy;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The advisory lock key that serialises reservations ("tessera-sms").
const LOCK_KEY: i64 = 0x0074_6573_7365_7261;

/// The per-number window; every other budget is per hour.
pub const NUMBER_WINDOW_SECS: i64 = 600;
pub const HOUR_SECS: i64 = 3600;

/// Who is sending what to where.
pub struct Send<'a> {
    pub user_id: Uuid,
    pub phone: &'a str,
    pub ip: &'a str,
    pub country: Option<&'a str>,
}

/// A budget that is spent: which one, and when the next message may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub scope: &'static str,
    pub limit: u32,
    pub retry_after_secs: u64,
}

#[derive(sqlx::FromRow)]
struct Spent {
    number: i64,
    number_oldest: Option<OffsetDateTime>,
    ip: i64,
    ip_oldest: Option<OffsetDateTime>,
    account: i64,
    account_oldest: Option<OffsetDateTime>,
    country: i64,
    country_oldest: Option<OffsetDateTime>,
    total: i64,
    total_oldest: Option<OffsetDateTime>,
}

/// Reserves one message in every budget, or says which budget is spent. The
/// reservation is a row of `sms_sends`; [`release`] gives it back when the
/// provider did not send.
pub async fn reserve(
    pool: &PgPool,
    policy: &Policy,
    now: OffsetDateTime,
    send: &Send<'_>,
) -> sqlx::Result<Result<i64, Blocked>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let hour_ago = now - Duration::seconds(HOUR_SECS);
    let number_since = now - Duration::seconds(NUMBER_WINDOW_SECS);
    // A minute whose start is a minute before the window still has sends in it.
    let minutes_since = hour_ago - Duration::minutes(1);
    let spent: Spent = sqlx::query_as(
        "SELECT n.sends AS number, n.oldest AS number_oldest, i.sends AS ip, i.oldest AS ip_oldest,
                a.sends AS account, a.oldest AS account_oldest, t.country, t.country_oldest,
                t.total, t.total_oldest
         FROM (SELECT count(*) AS sends, min(sent_at) AS oldest FROM sms_sends
                WHERE phone_e164 = $1 AND sent_at > $6) n,
              (SELECT count(*) AS sends, min(sent_at) AS oldest FROM sms_sends WHERE ip = $2 AND sent_at > $5) i,
              (SELECT count(*) AS sends, min(sent_at) AS oldest FROM sms_sends WHERE user_id = $3 AND sent_at > $5) a,
              (SELECT coalesce(sum(sends) FILTER (WHERE country = $4), 0) AS country,
                      min(minute) FILTER (WHERE country = $4 AND sends > 0) + INTERVAL '1 minute' AS country_oldest,
                      coalesce(sum(sends), 0) AS total,
                      min(minute) FILTER (WHERE sends > 0) + INTERVAL '1 minute' AS total_oldest
                 FROM sms_send_minutes WHERE minute > $7) t",
    )
    .bind(send.phone)
    .bind(send.ip)
    .bind(send.user_id)
    .bind(send.country)
    .bind(hour_ago)
    .bind(number_since)
    .bind(minutes_since)
    .fetch_one(&mut *tx)
    .await?;
    let budgets = [
        (
            "number",
            policy.max_sends_per_number,
            spent.number,
            spent.number_oldest,
            NUMBER_WINDOW_SECS,
        ),
        ("ip", policy.max_sends_per_ip, spent.ip, spent.ip_oldest, HOUR_SECS),
        (
            "account",
            policy.max_sends_per_account,
            spent.account,
            spent.account_oldest,
            HOUR_SECS,
        ),
        (
            "country",
            policy.max_sends_per_country,
            spent.country,
            spent.country_oldest,
            HOUR_SECS,
        ),
        (
            "global",
            policy.max_sends_per_hour,
            spent.total,
            spent.total_oldest,
            HOUR_SECS,
        ),
    ];
    let blocked = budgets
        .iter()
        .filter(|(_, limit, count, _, _)| *count >= i64::from(*limit))
        .map(|(scope, limit, _, oldest, window)| Blocked {
            scope,
            limit: *limit,
            retry_after_secs: crate::clock::until_window_frees(*oldest, *window, now),
        })
        .max_by_key(|b| b.retry_after_secs);
    if let Some(blocked) = blocked {
        return Ok(Err(blocked));
    }
    let id: i64 = sqlx::query_scalar(
        "WITH sent AS (INSERT INTO sms_sends (user_id, phone_e164, ip, country, sent_at) \
                       VALUES ($1, $2, $3, $4, $5) RETURNING id), \
              counted AS (INSERT INTO sms_send_minutes (minute, country, sends) \
                          VALUES (sms_minute($5), coalesce($4, ''), 1) \
                          ON CONFLICT (minute, country) DO UPDATE SET sends = sms_send_minutes.sends + 1) \
         SELECT id FROM sent",
    )
    .bind(send.user_id)
    .bind(send.phone)
    .bind(send.ip)
    .bind(send.country)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Gives a reservation back: the provider did not send the message.
pub async fn release(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "WITH given_back AS (DELETE FROM sms_sends WHERE id = $1 RETURNING country, sent_at) \
         UPDATE sms_send_minutes m SET sends = m.sends - 1 FROM given_back g \
         WHERE m.minute = sms_minute(g.sent_at) AND m.country = coalesce(g.country, '')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets sends that no budget counts any more (the longest window is an
/// hour; a minute's count lasts a minute longer).
pub async fn prune(pool: &PgPool, now: OffsetDateTime) -> sqlx::Result<()> {
    let before = now - Duration::seconds(HOUR_SECS) - Duration::minutes(1);
    sqlx::query("DELETE FROM sms_sends WHERE sent_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM sms_send_minutes WHERE minute < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(())
}
