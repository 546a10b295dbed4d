//! The [`Portal`] port for one request: its session, its IP and the user the
//! session belongs to (already loaded and checked by the middleware).

use crate::audit::{self, Event, Origin, Who};
use crate::clock::human;
use crate::csrf;
use crate::state::AppState;
use crate::store::{self, UserRow};
use tessera::PortalError;
use tessera::account::{PASSWORD_MAX_CHARS, Username, lookup_key};
use tessera::error::FieldError;
use tessera::ports::{Portal, SignInNext};
use tessera::signin::{AuthState, NextStep, ThrottlePolicy, after_password};
use tessera::views::{ChallengeView, CredentialsView, HomeStatus, SessionInfo, SessionView, Viewer};
use tower_sessions::Session;

pub const AUTH_KEY: &str = "auth";

pub struct RequestPortal {
    pub state: AppState,
    pub session: Session,
    pub ip: String,
    pub user_agent: Option<String>,
    pub user: Option<UserRow>,
    pub auth: Option<AuthState>,
}

/// Logs an internal failure and answers with words fit for the user.
pub fn internal(context: &'static str) -> impl FnOnce(anyhow::Error) -> PortalError {
    move |e| {
        tracing::error!(error = %format!("{e:#}"), "{context}");
        PortalError::Unavailable
    }
}

pub fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> PortalError {
    move |e| internal(context)(e.into())
}

pub fn sess(context: &'static str) -> impl FnOnce(tower_sessions::session::Error) -> PortalError {
    move |e| internal(context)(e.into())
}

impl RequestPortal {
    fn signed_in(&self) -> Result<&UserRow, PortalError> {
        self.user.as_ref().ok_or(PortalError::Unauthorized)
    }

    /// Where this request came from, for the audit log.
    pub fn origin(&self) -> Origin {
        Origin {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    /// Writes an audit event now (outside any transaction).
    pub async fn audit(&self, event: Event<'_>) -> Result<(), PortalError> {
        audit::record(&self.state.pool, self.state.clock.now(), &self.origin(), event)
            .await
            .map_err(db("writing an audit event"))
    }

    pub(crate) async fn throttled(&self, account_key: &str) -> Result<Option<u64>, PortalError> {
        let cfg = &self.state.config;
        let now = self.state.clock.now();
        let window = cfg.signin_failure_window_minutes * 60;
        let counts = store::failures_since(
            &self.state.pool,
            account_key,
            &self.ip,
            now - time::Duration::seconds(window),
        )
        .await
        .map_err(db("counting failed sign-ins"))?;
        let ms = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let per_account = ThrottlePolicy {
            max_failures: cfg.signin_max_failures_per_account,
            window_secs: window,
        };
        let per_ip = ThrottlePolicy {
            max_failures: cfg.signin_max_failures_per_ip,
            window_secs: window,
        };
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let a = per_account.retry_after(count(counts.account_count), counts.account_oldest.map(ms), ms(now));
        let b = per_ip.retry_after(count(counts.ip_count), counts.ip_oldest.map(ms), ms(now));
        Ok(a.max(b))
    }
}

#[async_trait::async_trait]
impl Portal for RequestPortal {
    async fn session(&self) -> Result<SessionView, PortalError> {
        let csrf_token = csrf::ensure(&self.session)
            .await
            .map_err(sess("reading the CSRF token"))?
            .reveal()
            .to_owned();
        let viewer = self.user.as_ref().map(|u| Viewer {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            is_admin: u.is_admin(),
        });
        Ok(SessionView { viewer, csrf_token })
    }

    async fn sign_in(&self, username: &str, password: &str) -> Result<SignInNext, PortalError> {
        let mut errors = Vec::new();
        if username.trim().is_empty() {
            errors.push(FieldError::new("username", "Enter your username."));
        } else if let Err(e) = Username::parse(username) {
            // Only the format rules: nothing here says whether the account exists.
            errors.push(e);
        }
        if password.is_empty() {
            errors.push(FieldError::new("password", "Enter your password."));
        } else if password.chars().count() > PASSWORD_MAX_CHARS {
            errors.push(FieldError::new(
                "password",
                format!("A password has at most {PASSWORD_MAX_CHARS} characters."),
            ));
        }
        if !errors.is_empty() {
            return Err(PortalError::Validation(errors));
        }

        let key = lookup_key(username);
        if let Some(retry_after_secs) = self.throttled(&key).await? {
            tracing::warn!(ip = %self.ip, "sign-in throttled");
            return Err(PortalError::Throttled { retry_after_secs });
        }

        let pool = &self.state.pool;
        let user = store::find_user_by_key(pool, &key)
            .await
            .map_err(db("looking up a user"))?;
        // Unknown users are checked against a dummy hash: same work, same answer.
        let phc = user
            .as_ref()
            .map_or_else(|| self.state.dummy_hash.to_string(), |u| u.password_hash.clone());
        let ok = crate::password::verify(password.to_owned(), phc)
            .await
            .map_err(internal("verifying a password"))?;
        let now = self.state.clock.now();
        let user = match (ok, user) {
            (true, Some(user)) => user,
            (_, user) => {
                store::record_failure(pool, &key, &self.ip, now)
                    .await
                    .map_err(db("recording a failed sign-in"))?;
                tracing::info!(ip = %self.ip, "sign-in failed");
                let mut event = Event::new(audit::SIGNIN_FAILED)
                    .details(serde_json::json!({"username": username.chars().take(64).collect::<String>()}));
                if let Some(u) = &user {
                    event = event.subject(Who {
                        id: u.id,
                        name: &u.username,
                    });
                }
                self.audit(event).await?;
                return Err(PortalError::InvalidCredentials);
            }
        };
        if user.locked_at.is_some() {
            self.audit(Event::by_self(
                audit::SIGNIN_LOCKED,
                Who {
                    id: user.id,
                    name: &user.username,
                },
            ))
            .await?;
            return Err(PortalError::AccountLocked);
        }
        store::clear_account_failures(pool, &key)
            .await
            .map_err(db("clearing failed sign-ins"))?;

        let usable = crate::second_factor::usable_credentials(pool, user.id)
            .await
            .map_err(db("counting usable credentials"))?;
        let mandatory = crate::settings::policy(pool)
            .await
            .map_err(db("reading the policy"))?
            .0
            .mode
            == tessera::policy::Mode::Mandatory;
        let can_enroll = crate::sms::enabled(pool).await.map_err(db("reading the SMS method"))?;
        match after_password(user.two_factor_enabled, usable, mandatory, can_enroll) {
            NextStep::SignedIn => {
                self.finish_sign_in(&user, now).await?;
                Ok(SignInNext::SignedIn)
            }
            NextStep::SecondFactor => {
                self.begin_second_step(&user).await?;
                tracing::info!(user_id = %user.id, ip = %self.ip, "password accepted; second factor owed");
                Ok(SignInNext::SecondFactor)
            }
            NextStep::Enroll => {
                self.begin_enrollment_step(&user).await?;
                tracing::info!(user_id = %user.id, "password accepted; 2FA is mandatory and a phone must be enrolled");
                Ok(SignInNext::Enroll)
            }
        }
    }

    async fn challenge(&self) -> Result<ChallengeView, PortalError> {
        self.challenge_view().await
    }

    async fn send_sign_in_code(&self, phone_id: Option<&str>) -> Result<(), PortalError> {
        self.login_send(phone_id).await
    }

    async fn verify_sign_in_code(&self, code: &str) -> Result<String, PortalError> {
        self.login_verify(code).await?;
        self.take_return_path().await
    }

    async fn reauthenticate(&self, password: &str, next: &str) -> Result<SignInNext, PortalError> {
        self.reauthenticate_with(password, next).await
    }

    async fn sessions(&self) -> Result<Vec<SessionInfo>, PortalError> {
        self.session_list().await
    }

    async fn end_session(&self, id: &str) -> Result<(), PortalError> {
        self.end_one_session(id).await
    }

    async fn change_password(&self, current: &str, new: &str, repeat: &str) -> Result<(), PortalError> {
        self.change_password_to(current, new, repeat).await
    }

    async fn credentials(&self) -> Result<CredentialsView, PortalError> {
        self.credentials_view().await
    }

    async fn start_enrollment(&self, phone: &str, nickname: &str) -> Result<(), PortalError> {
        self.enroll_start(phone, nickname).await
    }

    async fn resend_enrollment(&self) -> Result<(), PortalError> {
        self.enroll_resend().await
    }

    async fn verify_enrollment(&self, code: &str) -> Result<bool, PortalError> {
        self.enroll_verify(code).await
    }

    async fn cancel_enrollment(&self) -> Result<(), PortalError> {
        self.enroll_cancel().await
    }

    async fn rename_credential(&self, id: &str, nickname: &str) -> Result<(), PortalError> {
        self.rename(id, nickname).await
    }

    async fn remove_credential(&self, id: &str, confirm: bool) -> Result<(), PortalError> {
        self.remove(id, confirm).await
    }

    async fn set_two_factor(&self, enabled: bool, preferred: Option<&str>) -> Result<(), PortalError> {
        self.switch_two_factor(enabled, preferred).await
    }

    async fn sign_out(&self) -> Result<(), PortalError> {
        if let Some(row) = self.session_row().await? {
            crate::account_security::forget(&self.state.pool, row)
                .await
                .map_err(db("forgetting a session"))?;
        }
        self.session.flush().await.map_err(sess("ending a session"))?;
        if let Some(u) = &self.user {
            tracing::info!(user_id = %u.id, "signed out");
            self.audit(Event::by_self(
                audit::SIGNED_OUT,
                Who {
                    id: u.id,
                    name: &u.username,
                },
            ))
            .await?;
        }
        Ok(())
    }

    async fn home(&self) -> Result<HomeStatus, PortalError> {
        let user = self.signed_in()?;
        let credentials = store::credential_count(&self.state.pool, user.id)
            .await
            .map_err(db("counting credentials"))?;
        let signed_in_at = match &self.auth {
            Some(AuthState::SignedIn { authenticated_at, .. }) => {
                time::OffsetDateTime::from_unix_timestamp(*authenticated_at).ok()
            }
            _ => None,
        };
        let usable = crate::second_factor::usable_credentials(&self.state.pool, user.id)
            .await
            .map_err(db("counting usable credentials"))?;
        let activity = crate::admin::activity(&self.state.pool, user.id, 10).await?;
        Ok(HomeStatus {
            needs_enrollment: user.two_factor_enabled && usable == 0,
            activity,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            two_factor_enabled: user.two_factor_enabled,
            credential_count: u32::try_from(credentials).unwrap_or(u32::MAX),
            signed_in_at: signed_in_at.map(human).unwrap_or_default(),
            previous_sign_in_at: user.previous_sign_in_at.map(human),
        })
    }
}
