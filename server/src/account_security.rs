//! What a signed-in person does to protect their account beyond factors:
//! sessions they can list and end, signing in again for sensitive changes
//! (step-up), and changing their password.

use crate::audit::{self, Event, Who};
use crate::clock::human;
use crate::notify::{self, Notice, Recipient};
use crate::portal::{RequestPortal, db, internal, sess};
use crate::store::{self, UserRow};
use sqlx::PgConnection;
use tessera::PortalError;
use tessera::account::{NewPassword, lookup_key};
use tessera::error::FieldError;
use tessera::ports::SignInNext;
use tessera::signin::{NextStep, after_password, return_path};
use tessera::views::{SessionInfo, device_name};
use time::OffsetDateTime;
use uuid::Uuid;

/// The session's key for its row in `user_sessions`.
pub const SID_KEY: &str = "sid";
/// Where to land after signing in again.
pub const RETURN_KEY: &str = "return_to";

/// Records a newly signed-in session: a row the user can see and end.
pub async fn register(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    now: OffsetDateTime,
    ip: &str,
    user_agent: Option<&str>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO user_sessions (id, user_id, created_at, last_seen, ip, user_agent) VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(ip)
    .bind(user_agent.map(|a| a.chars().take(300).collect::<String>()))
    .execute(db)
    .await?;
    Ok(id)
}

/// Marks a session as seen now, from this IP.
pub async fn touch(pool: &sqlx::PgPool, id: Uuid, now: OffsetDateTime, ip: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE user_sessions SET last_seen = $2, ip = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(ip)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets a session's row (sign-out).
pub async fn forget(pool: &sqlx::PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_sessions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

impl RequestPortal {
    /// This session's row id, when it has one.
    pub async fn session_row(&self) -> Result<Option<Uuid>, PortalError> {
        self.session
            .get::<Uuid>(SID_KEY)
            .await
            .map_err(sess("reading the session's id"))
    }

    /// Sensitive changes need a full sign-in within the last ten minutes
    /// (SECURITY.md 24); otherwise the person signs in again first.
    pub fn require_recent_sign_in(&self) -> Result<(), PortalError> {
        let now = self.state.clock.now().unix_timestamp();
        match &self.auth {
            Some(auth) if self.user.is_some() && auth.recently_authenticated(now) => Ok(()),
            _ if self.user.is_none() => Err(PortalError::Unauthorized),
            _ => Err(PortalError::StepUpRequired),
        }
    }

    /// Tells the account's owner about a change, inside the change's transaction.
    pub async fn notify_in(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        notice: Notice<'_>,
    ) -> Result<i64, PortalError> {
        let to = Recipient {
            user_id: user.id,
            display_name: &user.display_name,
            email: user.email.as_deref(),
        };
        notify::queue(tx, &self.state, &to, notice, self.state.clock.now(), &self.origin())
            .await
            .map_err(db("writing a notification"))
    }

    pub async fn reauthenticate_with(&self, password: &str, next: &str) -> Result<SignInNext, PortalError> {
        let user = self.user.as_ref().ok_or(PortalError::Unauthorized)?;
        if password.is_empty() {
            return Err(PortalError::Validation(vec![FieldError::new(
                "password",
                "Enter your password.",
            )]));
        }
        let key = lookup_key(&user.username);
        if let Some(retry_after_secs) = self.throttled(&key).await? {
            return Err(PortalError::Throttled { retry_after_secs });
        }
        let ok = crate::password::verify(password.to_owned(), user.password_hash.clone())
            .await
            .map_err(internal("verifying a password"))?;
        let now = self.state.clock.now();
        let who = Who {
            id: user.id,
            name: &user.username,
        };
        if !ok {
            store::record_failure(&self.state.pool, &key, &self.ip, now)
                .await
                .map_err(db("recording a failed sign-in"))?;
            self.audit(Event::by_self(audit::SIGNIN_FAILED, who).details(serde_json::json!({"step_up": true})))
                .await?;
            return Err(PortalError::Validation(vec![FieldError::new(
                "password",
                "That is not your password.",
            )]));
        }
        self.session
            .insert(RETURN_KEY, return_path(next))
            .await
            .map_err(sess("storing where to return"))?;
        let usable = crate::second_factor::usable_credentials(&self.state.pool, user.id)
            .await
            .map_err(db("counting usable credentials"))?;
        // Signing in again takes what signing in takes: the second factor
        // too when it is on. Mandatory enrollment does not apply here: the
        // account is already signed in.
        match after_password(user.two_factor_enabled, usable, false, false) {
            NextStep::SecondFactor => {
                self.begin_second_step(user).await?;
                Ok(SignInNext::SecondFactor)
            }
            NextStep::SignedIn | NextStep::Enroll => {
                self.finish_sign_in(user, now).await?;
                Ok(SignInNext::SignedIn)
            }
        }
    }

    /// Where a finished sign-in lands: the page that asked for it, or home.
    pub async fn take_return_path(&self) -> Result<String, PortalError> {
        let to = self
            .session
            .remove::<String>(RETURN_KEY)
            .await
            .map_err(sess("reading where to return"))?;
        Ok(to.as_deref().map(return_path).unwrap_or("/").to_owned())
    }

    pub async fn session_list(&self) -> Result<Vec<SessionInfo>, PortalError> {
        let user = self.user.as_ref().ok_or(PortalError::Unauthorized)?;
        let current = self.session_row().await?;
        let idle_since = self.state.clock.now() - time::Duration::minutes(self.state.config.session_idle_minutes);
        let rows: Vec<(Uuid, OffsetDateTime, OffsetDateTime, String, Option<String>)> = sqlx::query_as(
            "SELECT id, created_at, last_seen, ip, user_agent FROM user_sessions
             WHERE user_id = $1 AND last_seen > $2 ORDER BY last_seen DESC LIMIT 100",
        )
        .bind(user.id)
        .bind(idle_since)
        .fetch_all(&self.state.pool)
        .await
        .map_err(db("listing sessions"))?;
        Ok(rows
            .into_iter()
            .map(|(id, created, seen, ip, agent)| SessionInfo {
                id: id.to_string(),
                device: device_name(agent.as_deref()),
                ip,
                signed_in_at: human(created),
                last_seen: human(seen),
                current: Some(id) == current,
            })
            .collect())
    }

    pub async fn end_one_session(&self, id: &str) -> Result<(), PortalError> {
        let user = self.user.as_ref().ok_or(PortalError::Unauthorized)?;
        let id: Uuid = id.trim().parse().map_err(|_| PortalError::NotFound)?;
        let gone = sqlx::query("DELETE FROM user_sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.id)
            .execute(&self.state.pool)
            .await
            .map_err(db("ending a session"))?
            .rows_affected();
        if gone == 0 {
            return Err(PortalError::NotFound);
        }
        let who = Who {
            id: user.id,
            name: &user.username,
        };
        self.audit(Event::by_self(audit::SESSION_ENDED, who).details(serde_json::json!({"session": id})))
            .await?;
        if self.session_row().await? == Some(id) {
            self.session.flush().await.map_err(sess("ending this session"))?;
        }
        Ok(())
    }

    pub async fn change_password_to(&self, current: &str, new: &str, repeat: &str) -> Result<(), PortalError> {
        self.require_recent_sign_in()?;
        let user = self.user.as_ref().ok_or(PortalError::Unauthorized)?;
        let mut errors = Vec::new();
        if current.is_empty() {
            errors.push(FieldError::new("current", "Enter your current password."));
        }
        let parsed = match NewPassword::parse(new) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError::new("new", e.message));
                None
            }
        };
        if new != repeat {
            errors.push(FieldError::new("repeat", "The two new passwords differ."));
        } else if !current.is_empty() && current == new {
            errors.push(FieldError::new(
                "new",
                "Choose a password different from the current one.",
            ));
        }
        let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
            return Err(PortalError::Validation(errors));
        };
        let ok = crate::password::verify(current.to_owned(), user.password_hash.clone())
            .await
            .map_err(internal("verifying a password"))?;
        let now = self.state.clock.now();
        if !ok {
            store::record_failure(&self.state.pool, &lookup_key(&user.username), &self.ip, now)
                .await
                .map_err(db("recording a failed sign-in"))?;
            return Err(PortalError::Validation(vec![FieldError::new(
                "current",
                "That is not your current password.",
            )]));
        }
        let hash = crate::password::hash(parsed.expose().to_owned())
            .await
            .map_err(internal("hashing a password"))?;
        let this = self.session_row().await?;
        let mut tx = self.state.pool.begin().await.map_err(db("starting a transaction"))?;
        // Only if nobody changed it meanwhile (a double submit changes it once).
        let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3")
            .bind(user.id)
            .bind(&hash)
            .bind(&user.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(db("changing a password"))?
            .rows_affected();
        if changed == 0 {
            return Err(PortalError::Conflict);
        }
        // Every other session of the account ends (SECURITY.md 19, 22).
        let ended = sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
            .bind(user.id)
            .bind(this)
            .execute(&mut *tx)
            .await
            .map_err(db("ending other sessions"))?
            .rows_affected();
        let who = Who {
            id: user.id,
            name: &user.username,
        };
        let event = Event::by_self(audit::PASSWORD_CHANGED, who).details(serde_json::json!({"sessions_ended": ended}));
        audit::record(&mut *tx, now, &self.origin(), event)
            .await
            .map_err(db("auditing a password change"))?;
        let notice = self.notify_in(&mut tx, user, Notice::PasswordChanged).await?;
        tx.commit().await.map_err(db("committing a password change"))?;
        notify::deliver(&self.state, [notice]);
        // A privilege change: this session's id rotates too.
        if let Some(auth) = &self.auth {
            self.change_privilege(auth).await?;
        }
        tracing::info!(user_id = %user.id, sessions_ended = ended, "password changed");
        Ok(())
    }
}
