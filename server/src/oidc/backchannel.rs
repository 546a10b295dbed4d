//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0, SECURITY.md
//! 58): a client that registered a back-channel URI is told, server to
//! server, when a session it signed in through ends (a sign-out, the
//! Sessions page, the console, a lock, "this wasn't me", a password change).
//!
//! The notices are owed in the transaction that revokes the tokens
//! (`account::app_tokens`), so none is lost to a crash and none is sent for
//! a change that rolled back. [`run`] delivers them: woken by PostgreSQL as
//! that transaction commits (`LISTEN`), and every few seconds for retries.
//! Each attempt signs a new logout token (no token is stored), claims its
//! notice for a while first (several servers on one database send each
//! notice once), and backs off exponentially; a notice is given up after
//! [`MAX_ATTEMPTS`] (audited), and the queue keeps at most [`MAX_QUEUED`].

use crate::audit::{self, Event, Origin, Who};
use crate::oidc::keys::{self, JwtKind};
use crate::state::AppState;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The PostgreSQL notification channel that wakes [`run`].
pub const WAKE_CHANNEL: &str = "oidc_logout_notices";

/// The event a logout token carries (section 2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Attempts before a notice is given up (about three hours of backing off).
pub const MAX_ATTEMPTS: i32 = 10;

/// Most notices kept; beyond it the oldest are dropped (and audited).
pub const MAX_QUEUED: i64 = 10_000;

/// How long a logout token is good for: long enough for a slow network,
/// short enough that a captured one is soon worthless.
const TOKEN_SECS: i64 = 120;

/// How long a notice being sent is claimed for: longer than an attempt.
const CLAIM_SECS: i64 = 60;

/// How long one attempt may take (a client's answer, or its silence).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the queue is looked at without being woken (retries).
pub const POLL: Duration = Duration::from_secs(2);

/// Notices sent at once.
const BATCH: i64 = 20;

/// The wait after a failed attempt: 15 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> time::Duration {
    let doublings = u32::try_from(attempts.clamp(1, 9) - 1).unwrap_or(0);
    time::Duration::seconds((15_i64 << doublings).min(3600))
}

/// Delivers notices until the server stops.
pub async fn run(state: AppState) {
    let http = match reqwest::Client::builder()
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(ATTEMPT_TIMEOUT)
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout: no HTTP client; notices stay queued");
            return;
        }
    };
    let mut listener = match sqlx::postgres::PgListener::connect_with(&state.pool).await {
        Ok(mut l) => match l.listen(WAKE_CHANNEL).await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "back-channel logout: not woken by commits, polling");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "back-channel logout: not woken by commits, polling");
            None
        }
    };
    loop {
        if let Err(e) = deliver_due(&state, &http).await {
            tracing::warn!(error = %e, "delivering back-channel logout notices");
        }
        let woken = async {
            match listener.as_mut() {
                // On a lost connection the listener reconnects on its next
                // call; until then the poll below stands in.
                Some(l) => {
                    if l.recv().await.is_err() {
                        tokio::time::sleep(POLL).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    client_id: String,
    user_id: Uuid,
    username: Option<String>,
    session_id: Option<Uuid>,
    attempts: i32,
    uri: Option<String>,
}

/// Sends the notices that are due, once each, and records each outcome.
pub async fn deliver_due(state: &AppState, http: &reqwest::Client) -> anyhow::Result<()> {
    let now = state.clock.now();
    drop_over_bound(state, now).await?;
    let claimed: Vec<Claimed> = sqlx::query_as(
        "UPDATE oidc_logout_notices n SET attempts = n.attempts + 1, next_attempt_at = $2 \
         WHERE n.id IN (SELECT id FROM oidc_logout_notices WHERE next_attempt_at <= $1 \
                        ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING n.id, n.client_id, n.user_id, n.session_id, n.attempts, \
                   (SELECT username FROM users u WHERE u.id = n.user_id) AS username, \
                   (SELECT backchannel_logout_uri FROM oidc_clients c WHERE c.id = n.client_id) AS uri",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(CLAIM_SECS))
    .bind(BATCH)
    .fetch_all(&state.pool)
    .await?;
    let outcomes = futures::future::join_all(claimed.iter().map(|n| attempt(state, http, n, now))).await;
    for (notice, outcome) in claimed.iter().zip(outcomes) {
        match outcome {
            Ok(()) => forget(state, notice.id).await?,
            Err(e) if notice.attempts >= MAX_ATTEMPTS => {
                tracing::warn!(client = %notice.client_id, error = %e, "a back-channel logout notice was given up");
                forget(state, notice.id).await?;
                let mut event = Event::new(audit::OIDC_LOGOUT_UNDELIVERED).details(json!({
                    "client_id": notice.client_id,
                    "session": notice.session_id,
                    "attempts": notice.attempts,
                    "error": e.to_string(),
                }));
                if let Some(name) = &notice.username {
                    event = event.subject(Who {
                        id: notice.user_id,
                        name,
                    });
                }
                audit::record(&state.pool, now, &worker_origin(), event).await?;
            }
            Err(e) => {
                tracing::info!(client = %notice.client_id, error = %e, "a back-channel logout notice will be retried");
                sqlx::query("UPDATE oidc_logout_notices SET next_attempt_at = $2, last_error = $3 WHERE id = $1")
                    .bind(notice.id)
                    .bind(now + backoff(notice.attempts))
                    .bind(e.to_string().chars().take(500).collect::<String>())
                    .execute(&state.pool)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Where the worker's audit events come from.
fn worker_origin() -> Origin {
    Origin {
        ip: "back-channel logout".into(),
        user_agent: None,
    }
}

async fn forget(state: &AppState, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM oidc_logout_notices WHERE id = $1")
        .bind(id)
        .execute(&state.pool)
        .await
        .map(drop)
}

/// Keeps the queue to [`MAX_QUEUED`] notices, dropping the oldest.
async fn drop_over_bound(state: &AppState, now: OffsetDateTime) -> anyhow::Result<()> {
    let dropped = sqlx::query(
        "DELETE FROM oidc_logout_notices WHERE id <= \
         (SELECT id FROM oidc_logout_notices ORDER BY id DESC OFFSET $1 LIMIT 1)",
    )
    .bind(MAX_QUEUED)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if dropped > 0 {
        tracing::warn!(dropped, "back-channel logout notices dropped: the queue is full");
        let event = Event::new(audit::OIDC_LOGOUT_UNDELIVERED)
            .details(json!({"dropped": dropped, "reason": "the queue was full"}));
        audit::record(&state.pool, now, &worker_origin(), event).await?;
    }
    Ok(())
}

/// One attempt: a new logout token, posted to the client's URI; any answer
/// but 2xx (section 2.8: 200, though some frameworks say 204) is a failure.
async fn attempt(
    state: &AppState,
    http: &reqwest::Client,
    notice: &Claimed,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let Some(uri) = &notice.uri else {
        // The client no longer takes notices: nothing left to tell it.
        return Ok(());
    };
    let token = logout_token(state, notice, now).await?;
    let answer = http.post(uri).form(&[("logout_token", token)]).send().await?;
    let status = answer.status();
    anyhow::ensure!(status.is_success(), "the client answered {status}");
    Ok(())
}

/// Section 2.4: issuer, audience, subject, the session (`sid`) when there
/// was one, the logout event, a unique `jti`; never a nonce.
async fn logout_token(state: &AppState, notice: &Claimed, now: OffsetDateTime) -> anyhow::Result<String> {
    let sealer = state
        .sealer
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("TESSERA_SECRET_KEY is not set: nothing can be signed"))?;
    let key = keys::active(&state.pool, sealer, now).await?;
    let mut claims = json!({
        "iss": state.config.public_origin(),
        "sub": notice.user_id.to_string(),
        "aud": notice.client_id,
        "iat": now.unix_timestamp(),
        "exp": now.unix_timestamp() + TOKEN_SECS,
        "jti": crate::secrets::random_token(),
        "events": { LOGOUT_EVENT: {} },
    });
    if let Some(sid) = notice.session_id {
        claims["sid"] = json!(sid.to_string());
    }
    key.sign_jwt(JwtKind::LogoutToken, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_fifteen_seconds_to_an_hour() {
        let secs: Vec<i64> = (1..=MAX_ATTEMPTS).map(|a| backoff(a).whole_seconds()).collect();
        assert_eq!(secs, [15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
