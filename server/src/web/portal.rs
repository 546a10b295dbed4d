//! The ports for one request: a thin adapter from the UI's calls to the
//! services (`signin`, `account`, `methods`, `admin`). What belongs to the
//! cookie session stays here: the sign-in state's place in it, rotating its
//! id, its row in the user's list of sessions, the step-up check.

use super::cookies::OurCookie;
use super::session::TypedSession;
use crate::account::{app_tokens, credentials, not_me, password_change, sessions};
use crate::admin::{self, Console};
use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::{db, internal};
use crate::methods::passkey::register::PasskeySetup;
use crate::methods::{self, Answer, Channel, Enrolling, SendKind};
use crate::secrets::Sealer;
use crate::signin::reset::{self, ResetKey};
use crate::signin::trusted_browsers::{self, TrustToken};
use crate::signin::{self, Step};
use crate::store::{self, UserRow};
use std::collections::BTreeMap;
use tessera::PortalError;
use tessera::acr::Acr;
use tessera::method::MethodId;
use tessera::ports::{
    Account, Admin, Credentials, PasskeyEnrollment, RecoveryCodes, RememberBrowser, ResetDecision, SignIn, SignInNext,
    SmsEnrollment, TotpEnrollment, UserAction,
};
use tessera::signin::{AuthState, NextStep, Owed, return_path};
use tessera::views::{
    ApplicationInfo, AuditFilter, AuditPage, ChallengeView, ClientDetail, ClientForm, ClientSummary, CredentialsView,
    HomeStatus, MethodView, NewClientForm, NotMeStep, NotMeView, OutboxMessage, PolicyView, ProviderView, RecoveryView,
    ResetView, SessionInfo, SessionView, SignInOption, TrustedBrowserInfo, UserDetail, UserSummary, Viewer,
};

pub struct RequestPortal {
    pub ctx: RequestContext,
    pub session: TypedSession,
    /// The signed-in user (already loaded and checked by the middleware).
    pub user: Option<UserRow>,
    pub auth: Option<AuthState>,
    /// This browser's trust token, if its cookie carries one.
    pub trust: Option<TrustToken>,
    /// The key of a 2FA reset this browser asked for, if its cookie carries one.
    pub reset_key: Option<ResetKey>,
    /// `Set-Cookie` values for the answer (a browser just trusted, a reset
    /// asked for); the middleware adds them.
    pub set_cookies: std::sync::Mutex<Vec<String>>,
}

/// A session store failure, logged; the person sees `Unavailable`.
fn sess(context: &'static str) -> impl FnOnce(tower_sessions::session::Error) -> PortalError {
    move |e| internal(context)(e.into())
}

/// What a half-finished sign-in owes (decided at its password step).
fn owed_by(auth: &AuthState) -> Owed {
    auth.owed().unwrap_or_default()
}

/// The credential a half-finished sign-in is proving, if one was chosen.
fn proving_id(auth: &AuthState) -> Option<String> {
    match auth {
        AuthState::PasswordVerified { credential, .. } => credential.clone(),
        _ => None,
    }
}

impl RequestPortal {
    fn me(&self) -> Result<&UserRow, PortalError> {
        self.user.as_ref().ok_or(PortalError::Unauthorized)
    }

    fn console(&self) -> Console<'_> {
        Console {
            ctx: &self.ctx,
            user: self.user.as_ref(),
        }
    }

    /// Sensitive changes need a full sign-in within the last ten minutes
    /// (SECURITY.md 24); otherwise the person signs in again first.
    fn require_recent_sign_in(&self) -> Result<(), PortalError> {
        let now = self.ctx.now().unix_timestamp();
        match &self.auth {
            Some(auth) if self.user.is_some() && auth.recently_authenticated(now) => Ok(()),
            _ if self.user.is_none() => Err(PortalError::Unauthorized),
            _ => Err(PortalError::StepUpRequired),
        }
    }

    /// Who enrolls: the signed-in user (after a recent sign-in), or the
    /// account that must enroll to finish signing in (mandatory 2FA).
    async fn enroller(&self) -> Result<(UserRow, Enrolling), PortalError> {
        if let Some(user) = &self.user {
            return Ok((user.clone(), Enrolling::SignedIn));
        }
        let id = self
            .auth
            .as_ref()
            .and_then(AuthState::enrolling_user)
            .ok_or(PortalError::Unauthorized)?;
        Ok((signin::account(&self.ctx, id).await?, Enrolling::ToFinishSignIn))
    }

    /// Adding a factor while signed in needs a recent sign-in; during a
    /// mandatory enrollment the sign-in itself is under way.
    async fn enroller_after_step_up(&self) -> Result<(UserRow, Enrolling), PortalError> {
        if self.user.is_some() {
            self.require_recent_sign_in()?;
        }
        self.enroller().await
    }

    /// The half-finished sign-in owing a second factor: its account and state.
    async fn pending(&self) -> Result<(UserRow, &AuthState), PortalError> {
        let auth = self.auth.as_ref().ok_or(PortalError::Unauthorized)?;
        let id = auth.pending_user().ok_or(PortalError::Unauthorized)?;
        Ok((signin::account(&self.ctx, id).await?, auth))
    }

    /// Takes the pipeline to the step a correct password led to.
    async fn enter(&self, step: Step) -> Result<SignInNext, PortalError> {
        match step.next {
            NextStep::SignedIn => {
                self.signed_in_as(&step.user, &step.state).await?;
                return Ok(SignInNext::SignedIn {
                    to: self.take_return_path().await?,
                });
            }
            NextStep::SecondFactor => {
                self.session
                    .change_privilege(&step.state)
                    .await
                    .map_err(sess("storing the sign-in state"))?;
                // An open code from an earlier attempt is replaced by this send, or,
                // inside the cooldown (a double submit), kept without a second message.
                if let Err(e) = self.prove_next(&step.user, &step.state, None, SendKind::First).await {
                    // The notice tells the person; they stay at step 2 and can retry.
                    tracing::info!(user_id = %step.user.id, error = %e, "first sign-in code not sent");
                }
                tracing::info!(user_id = %step.user.id, ip = %self.ctx.ip(), "password accepted; second factor owed");
                Ok(SignInNext::SecondFactor)
            }
            NextStep::Enroll => {
                self.session
                    .change_privilege(&step.state)
                    .await
                    .map_err(sess("storing the sign-in state"))?;
                tracing::info!(user_id = %step.user.id, "password accepted; 2FA is mandatory and a credential must be enrolled");
                Ok(SignInNext::Enroll)
            }
        }
    }

    /// Starts proving a credential at the second step (the one asked for, or
    /// the preferred one): it becomes the one the state is proving, and a
    /// failed send is kept as a notice for the second-step page.
    async fn prove_next(
        &self,
        user: &UserRow,
        auth: &AuthState,
        asked: Option<&str>,
        kind: SendKind,
    ) -> Result<(), PortalError> {
        let asked = asked.filter(|a| !a.trim().is_empty());
        let current = proving_id(auth);
        let credential = signin::choose(&self.ctx, user, asked.or(current.as_deref()), owed_by(auth)).await?;
        if let AuthState::PasswordVerified {
            user_id,
            at,
            proven,
            credential: chosen,
            owed,
        } = auth
            && chosen.as_deref() != Some(credential.id.to_string().as_str())
        {
            let next = AuthState::PasswordVerified {
                user_id: user_id.clone(),
                at: *at,
                proven: proven.clone(),
                credential: Some(credential.id.to_string()),
                owed: *owed,
            };
            self.session
                .update_auth(&next)
                .await
                .map_err(sess("storing the sign-in state"))?;
        }
        let result = signin::challenge(&self.ctx, user, &credential, kind, Channel::Browser).await;
        let notice = result.as_ref().err().map(ToString::to_string);
        self.session
            .set_send_notice(notice)
            .await
            .map_err(sess("storing the send notice"))?;
        result
    }

    /// Signed in: the new state under a new session id, and the session's
    /// row in the user's list of sessions (a new one when signing in again).
    async fn signed_in_as(&self, user: &UserRow, state: &AuthState) -> Result<(), PortalError> {
        self.session
            .clear_send_notice()
            .await
            .map_err(sess("clearing the notice"))?;
        self.session
            .clear_application_acr()
            .await
            .map_err(sess("clearing the application's acr"))?;
        self.session
            .change_privilege(state)
            .await
            .map_err(sess("storing the sign-in state"))?;
        let pool = self.ctx.pool();
        let from = sessions::SignedInFrom {
            now: self.ctx.now(),
            ip: self.ctx.ip(),
            user_agent: self.ctx.origin.user_agent.as_deref(),
        };
        let old = self.session.row().await.map_err(sess("reading the session's id"))?;
        // Signing in again keeps the session's row, and with it what the
        // session issued (SECURITY.md 50); a row that is gone or another
        // account's ends with everything it issued.
        if let Some(old) = old
            && sessions::restamp(pool, old, user.id, &from)
                .await
                .map_err(db("re-stamping a session"))?
        {
            return Ok(());
        }
        if let Some(old) = old {
            self.end_row(old).await?;
        }
        let row = sessions::register(pool, user.id, &from)
            .await
            .map_err(db("recording a session"))?;
        self.session
            .set_row(row)
            .await
            .map_err(sess("storing the session's id"))
    }

    /// Ends a session's row and what applications got through it
    /// (SECURITY.md 48, 50): its tokens now, its unused codes at the token
    /// endpoint (a code whose session is gone is refused).
    async fn end_row(&self, row: uuid::Uuid) -> Result<(), PortalError> {
        let pool = self.ctx.pool();
        app_tokens::revoke_for_session(pool, row, self.ctx.now())
            .await
            .map_err(db("revoking the session's application tokens"))?;
        sessions::forget(pool, row).await.map_err(db("forgetting a session"))
    }

    /// After a credential was enrolled: when that finished a sign-in of an
    /// account that had nothing to prove, the session is signed in (the
    /// answer is then where to land), with the enrollment recorded as what
    /// it is: not a proof (SECURITY.md 49), so never in `acr` or `amr`.
    async fn after_enrollment(
        &self,
        user: &UserRow,
        enrolling: Enrolling,
        method: MethodId,
    ) -> Result<Option<String>, PortalError> {
        if enrolling != Enrolling::ToFinishSignIn {
            return Ok(None);
        }
        let proven = self.auth.as_ref().map(|a| a.proven().to_vec()).unwrap_or_default();
        let state = signin::after_enrollment(&self.ctx, user, proven, method).await?;
        self.signed_in_as(user, &state).await?;
        self.take_return_path().await.map(Some)
    }

    /// The acr an application being signed in to asks, until the password
    /// step folds it into what the sign-in owes.
    async fn application(&self) -> Result<Option<Acr>, PortalError> {
        self.session
            .application_acr()
            .await
            .map_err(sess("reading the application's acr"))
    }

    /// Where a finished sign-in lands: the page that asked for it, or home.
    async fn take_return_path(&self) -> Result<String, PortalError> {
        let to = self
            .session
            .take_return_to()
            .await
            .map_err(sess("reading where to return"))?;
        Ok(to.as_deref().map(return_path).unwrap_or("/").to_owned())
    }
}

#[async_trait::async_trait]
impl SignIn for RequestPortal {
    async fn session(&self) -> Result<SessionView, PortalError> {
        let csrf_token = self
            .session
            .csrf_token()
            .await
            .map_err(sess("reading the CSRF token"))?
            .reveal()
            .to_owned();
        let viewer = self.user.as_ref().map(|u| Viewer {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            is_admin: u.is_admin(),
        });
        // Every signed-in page shows a waiting reset (SECURITY.md 51).
        let reset_waiting = match &self.user {
            Some(u) => reset::waiting(&self.ctx, u.id).await?.map(human),
            None => None,
        };
        Ok(SessionView {
            viewer,
            csrf_token,
            reset_waiting,
        })
    }

    async fn sign_in(&self, username: &str, password: &str) -> Result<SignInNext, PortalError> {
        let step = signin::password(
            &self.ctx,
            username,
            password,
            self.application().await?,
            self.reset_key.as_ref(),
        )
        .await?;
        if step.next == NextStep::SecondFactor
            && let Some(token) = &self.trust
            && let Some(state) = signin::trusted(&self.ctx, &step, token).await?
        {
            self.signed_in_as(&step.user, &state).await?;
            tracing::info!(user_id = %step.user.id, "password accepted; a trusted browser skips the second factor");
            return Ok(SignInNext::SignedIn {
                to: self.take_return_path().await?,
            });
        }
        self.enter(step).await
    }

    async fn challenge(&self) -> Result<ChallengeView, PortalError> {
        let (user, auth) = self.pending().await?;
        let mut options = signin::options(&self.ctx, &user, owed_by(auth)).await?;
        // The credential being proven first, then the others.
        if let Some(at) = options.iter().position(|c| Some(c.id.to_string()) == proving_id(auth)) {
            let proving = options.remove(at);
            options.insert(0, proving);
        }
        let mut sent = None;
        for method in methods::REGISTRY {
            if let Some(s) = method.code_on_its_way(&self.ctx, &user).await? {
                sent = Some(s);
            }
        }
        let option = |c: &methods::Credential| SignInOption {
            id: c.id.to_string(),
            method: c.method,
            nickname: c.nickname.clone(),
            masked: c.masked.clone(),
        };
        // A passkey being proven: a fresh ceremony for the page's button.
        let ceremony = match options.first() {
            Some(first) => match signin::ceremony(&self.ctx, &user, first).await? {
                Some(started) => {
                    self.session
                        .set_ceremony(&started.kept)
                        .await
                        .map_err(sess("keeping the passkey ceremony"))?;
                    Some(started.options)
                }
                None => None,
            },
            None => None,
        };
        Ok(ChallengeView {
            ceremony,
            proving: options.first().map(option),
            others: options.iter().skip(1).map(option).collect(),
            sent_to: sent
                .and_then(|s| options.iter().find(|c| c.id == s.credential))
                .map(option),
            resend_in_secs: sent.map_or(0, |s| s.resend_in_secs),
            notice: self
                .session
                .send_notice()
                .await
                .map_err(sess("reading the send notice"))?,
            trust_days: self.policy().await?.trusted_browser_days,
        })
    }

    async fn send_sign_in_code(&self, credential: Option<&str>) -> Result<(), PortalError> {
        let (user, auth) = self.pending().await?;
        self.prove_next(&user, auth, credential, SendKind::Again).await
    }

    async fn verify_sign_in_code(&self, code: &str, remember: RememberBrowser) -> Result<String, PortalError> {
        let (user, auth) = self.pending().await?;
        let credential = signin::choose(&self.ctx, &user, proving_id(auth).as_deref(), owed_by(auth)).await?;
        let kept = self
            .session
            .take_ceremony(Some(credential.id))
            .await
            .map_err(sess("reading the passkey ceremony"))?;
        let answer = match &kept {
            Some(kept) => Answer::Ceremony { kept, response: code },
            None => Answer::Typed {
                code,
                channel: Channel::Browser,
            },
        };
        let (proof, verified) = signin::verify(&self.ctx, &user, &credential, answer).await?;
        let mut proven = auth.proven().to_vec();
        proven.push(proof);
        let state = signin::finish(&self.ctx, &user, proven, Some(verified)).await?;
        self.signed_in_as(&user, &state).await?;
        if remember == RememberBrowser::Yes {
            self.trust_this_browser(&user).await?;
        }
        self.take_return_path().await
    }

    async fn passkey_sign_in(&self) -> Result<Option<String>, PortalError> {
        let Some(started) = methods::passkey::passwordless::start(&self.ctx).await? else {
            return Ok(None);
        };
        self.session
            .set_ceremony(&started.kept)
            .await
            .map_err(sess("keeping the passkey ceremony"))?;
        Ok(Some(started.options))
    }

    async fn sign_in_with_passkey(&self, response: &str) -> Result<String, PortalError> {
        let Some(kept) = self
            .session
            .take_ceremony(None)
            .await
            .map_err(sess("reading the passkey ceremony"))?
        else {
            return Err(methods::passkey::refuse(
                "This passkey request has expired. Press the button to try again.",
            ));
        };
        let (user, state) = signin::passkey(&self.ctx, &kept, response).await?;
        self.signed_in_as(&user, &state).await?;
        self.take_return_path().await
    }

    async fn reset(&self) -> Result<ResetView, PortalError> {
        let (user, _) = self.pending().await?;
        reset::view(&self.ctx, &user).await
    }

    async fn start_reset(&self) -> Result<(), PortalError> {
        let (user, _) = self.pending().await?;
        let (ready_at, key) = reset::start(&self.ctx, &user).await?;
        // Only this browser finishes it (SECURITY.md 51): the key lives as
        // long as the wait and a week after.
        let keep = ready_at - self.ctx.now() + time::Duration::days(reset::KEY_KEPT_AFTER_WAIT_DAYS);
        self.set_cookie(OurCookie::ResetKey, key.reveal(), keep);
        Ok(())
    }

    async fn cancel_own_reset(&self) -> Result<(), PortalError> {
        let user = self.me()?;
        let mut tx = self.ctx.pool().begin().await.map_err(db("cancelling a reset"))?;
        let cancelled = reset::cancel(&self.ctx, &mut tx, who(user), Some(who(user)), reset::Ended::ByOwner).await?;
        tx.commit().await.map_err(db("cancelling a reset"))?;
        if !cancelled {
            return Err(PortalError::NotFound);
        }
        Ok(())
    }

    async fn cancel_reset(&self, token: &str) -> Result<(), PortalError> {
        reset::cancel_by_link(&self.ctx, token.trim()).await
    }

    async fn not_me(&self, token: &str) -> Result<NotMeView, PortalError> {
        let view = not_me::view(&self.ctx, token, self.user.as_ref()).await?;
        if matches!(view.step, NotMeStep::SignInFirst { .. }) {
            // The sign-in lands back here (the token is base64url, which
            // `return_path` keeps).
            self.session
                .set_return_to(return_path(&format!("/not-me?token={}", token.trim())))
                .await
                .map_err(sess("storing where to return"))?;
        }
        Ok(view)
    }

    async fn secure_account(&self, token: &str) -> Result<(), PortalError> {
        let user = self.me()?;
        let this = self.session.row().await.map_err(sess("reading the session's id"))?;
        not_me::secure(&self.ctx, token, user, this).await
    }

    async fn report_not_me(&self, token: &str) -> Result<(), PortalError> {
        not_me::report(&self.ctx, token).await
    }

    async fn reauthenticate(&self, password: &str, next: &str) -> Result<SignInNext, PortalError> {
        let user = self.me()?;
        let step = signin::password_again(&self.ctx, user, password, self.application().await?).await?;
        self.session
            .set_return_to(return_path(next))
            .await
            .map_err(sess("storing where to return"))?;
        self.enter(step).await
    }

    async fn sign_out(&self) -> Result<(), PortalError> {
        if let Some(row) = self.session.row().await.map_err(sess("reading the session's id"))? {
            self.end_row(row).await?;
        }
        self.session.flush().await.map_err(sess("ending a session"))?;
        if let Some(u) = &self.user {
            tracing::info!(user_id = %u.id, "signed out");
            self.ctx.audit(Event::by_self(audit::SIGNED_OUT, who(u))).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Account for RequestPortal {
    async fn home(&self) -> Result<HomeStatus, PortalError> {
        let user = self.me()?;
        let pool = self.ctx.pool();
        let credentials = store::credential_count(pool, user.id)
            .await
            .map_err(db("counting credentials"))?;
        let signed_in_at = match &self.auth {
            Some(AuthState::SignedIn { authenticated_at, .. }) => {
                time::OffsetDateTime::from_unix_timestamp(*authenticated_at).ok()
            }
            _ => None,
        };
        let usable = methods::usable_credentials(pool, user.id)
            .await
            .map_err(db("counting usable credentials"))?;
        let activity = admin::activity(pool, user.id, 10).await?;
        Ok(HomeStatus {
            needs_enrollment: user.two_factor_enabled && !usable.iter().any(|c| c.method.counts_toward_minimum()),
            activity,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            two_factor_enabled: user.two_factor_enabled,
            credential_count: u32::try_from(credentials).unwrap_or(u32::MAX),
            signed_in_at: signed_in_at.map(human).unwrap_or_default(),
            previous_sign_in_at: user.previous_sign_in_at.map(human),
            recovery_codes_left: methods::recovery::left(pool, user.id)
                .await
                .map_err(db("counting recovery codes"))?
                .map(|(left, _)| left),
        })
    }

    async fn sessions(&self) -> Result<Vec<SessionInfo>, PortalError> {
        let user = self.me()?;
        let current = self.session.row().await.map_err(sess("reading the session's id"))?;
        sessions::list(&self.ctx, user, current).await
    }

    async fn end_session(&self, id: &str) -> Result<(), PortalError> {
        let user = self.me()?;
        let ended = sessions::end(&self.ctx, user, id).await?;
        if self.session.row().await.map_err(sess("reading the session's id"))? == Some(ended) {
            self.session.flush().await.map_err(sess("ending this session"))?;
        }
        Ok(())
    }

    async fn trusted_browsers(&self) -> Result<Vec<TrustedBrowserInfo>, PortalError> {
        trusted_browsers::list(&self.ctx, self.me()?.id, self.trust.as_ref()).await
    }

    async fn forget_trusted_browser(&self, id: &str) -> Result<(), PortalError> {
        trusted_browsers::forget(&self.ctx, self.me()?, id).await
    }

    async fn forget_trusted_browsers(&self) -> Result<(), PortalError> {
        let user = self.me()?;
        let mut tx = self
            .ctx
            .pool()
            .begin()
            .await
            .map_err(db("forgetting trusted browsers"))?;
        trusted_browsers::forget_all(&self.ctx, &mut tx, user, trusted_browsers::Voided::ByOwner).await?;
        tx.commit().await.map_err(db("forgetting trusted browsers"))
    }

    async fn applications(&self) -> Result<Vec<ApplicationInfo>, PortalError> {
        let user = self.me()?;
        app_tokens::list(self.ctx.pool(), user.id, self.ctx.now())
            .await
            .map_err(db("listing applications"))
    }

    async fn revoke_application(&self, client_id: &str) -> Result<(), PortalError> {
        let user = self.me()?;
        app_tokens::revoke_for_client(&self.ctx, user, client_id).await
    }

    async fn change_password(&self, current: &str, new: &str, repeat: &str) -> Result<(), PortalError> {
        self.require_recent_sign_in()?;
        let user = self.me()?;
        let this = self.session.row().await.map_err(sess("reading the session's id"))?;
        password_change::change(&self.ctx, user, this, current, new, repeat).await?;
        // A privilege change: this session's id rotates too.
        if let Some(auth) = &self.auth {
            self.session
                .change_privilege(auth)
                .await
                .map_err(sess("rotating the session id"))?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Credentials for RequestPortal {
    async fn credentials(&self) -> Result<CredentialsView, PortalError> {
        let (user, enrolling) = self.enroller().await?;
        let mut view = credentials::view(&self.ctx, &user).await?;
        view.passkey_setup = self.passkey_setup().await?.map(|setup| tessera::views::PasskeySetup {
            nickname: setup.nickname,
            options: setup.options,
        });
        // An app's secret shows only to the session adding it, and only
        // while its sign-in is recent (SECURITY.md 52).
        let recent = self.user.is_none() || self.require_recent_sign_in().is_ok();
        if recent
            && let Some(key) = self
                .session
                .app_setup()
                .await
                .map_err(sess("reading the app being added"))?
        {
            view.app_setup = methods::totp::enroll::pending(&self.ctx, &user, &key).await?;
        }
        // Enrolling to finish a sign-in an application asked a method of:
        // only the methods that give it are offered (when one is enabled).
        if enrolling == Enrolling::ToFinishSignIn
            && let Some(owed @ Owed::Method(_)) = self.auth.as_ref().and_then(AuthState::owed)
            && view.enabled_methods.iter().any(|m| owed.paid_with(*m))
        {
            view.enabled_methods.retain(|m| owed.paid_with(*m));
        }
        Ok(view)
    }

    async fn rename_credential(&self, id: &str, nickname: &str) -> Result<(), PortalError> {
        credentials::rename(&self.ctx, self.me()?, id, nickname).await
    }

    async fn remove_credential(&self, id: &str, confirm: bool) -> Result<(), PortalError> {
        self.require_recent_sign_in()?;
        credentials::remove(&self.ctx, self.me()?, id, confirm).await
    }

    async fn set_two_factor(&self, enabled: bool, preferred: Option<&str>) -> Result<(), PortalError> {
        if !enabled {
            self.require_recent_sign_in()?;
        }
        credentials::switch_two_factor(&self.ctx, self.me()?, enabled, preferred).await
    }
}

#[async_trait::async_trait]
impl SmsEnrollment for RequestPortal {
    async fn start_enrollment(&self, phone: &str, nickname: &str) -> Result<(), PortalError> {
        let (user, _) = self.enroller_after_step_up().await?;
        methods::sms::enroll::start(&self.ctx, &user, phone, nickname).await
    }

    async fn resend_enrollment(&self) -> Result<(), PortalError> {
        let (user, _) = self.enroller().await?;
        methods::sms::enroll::resend(&self.ctx, &user).await
    }

    async fn verify_enrollment(&self, code: &str) -> Result<Option<String>, PortalError> {
        let (user, enrolling) = self.enroller_after_step_up().await?;
        methods::sms::enroll::verify(&self.ctx, &user, code, enrolling).await?;
        self.after_enrollment(&user, enrolling, MethodId::Sms).await
    }

    async fn cancel_enrollment(&self) -> Result<(), PortalError> {
        let (user, _) = self.enroller().await?;
        methods::sms::enroll::cancel(&self.ctx, &user).await
    }
}

#[async_trait::async_trait]
impl TotpEnrollment for RequestPortal {
    async fn start_app(&self, nickname: &str) -> Result<(), PortalError> {
        let (user, _) = self.enroller_after_step_up().await?;
        let key = methods::totp::enroll::start(&self.ctx, &user, nickname).await?;
        self.session
            .set_app_setup(&key)
            .await
            .map_err(sess("keeping the app being added"))
    }

    async fn verify_app(&self, code: &str) -> Result<Option<String>, PortalError> {
        let (user, enrolling) = self.enroller_after_step_up().await?;
        let key = self
            .session
            .app_setup()
            .await
            .map_err(sess("reading the app being added"))?;
        methods::totp::enroll::verify(&self.ctx, &user, key.as_ref(), code, enrolling).await?;
        self.session
            .clear_app_setup()
            .await
            .map_err(sess("clearing the app being added"))?;
        self.after_enrollment(&user, enrolling, MethodId::Totp).await
    }

    async fn cancel_app(&self) -> Result<(), PortalError> {
        let (user, _) = self.enroller().await?;
        if let Some(key) = self
            .session
            .app_setup()
            .await
            .map_err(sess("reading the app being added"))?
        {
            methods::totp::enroll::cancel(&self.ctx, &user, &key).await?;
        }
        self.session
            .clear_app_setup()
            .await
            .map_err(sess("clearing the app being added"))
    }
}

impl RequestPortal {
    /// The policy in force.
    async fn policy(&self) -> Result<tessera::policy::Policy, PortalError> {
        self.ctx.policy().await
    }

    /// Trusts this browser for the policy's days (when it offers it): the
    /// cookie goes out with the answer.
    async fn trust_this_browser(&self, user: &UserRow) -> Result<(), PortalError> {
        let days = self.policy().await?.trusted_browser_days;
        if days == 0 {
            return Ok(());
        }
        let (token, notice) = trusted_browsers::trust(&self.ctx, user, days).await?;
        crate::notify::deliver(&self.ctx.state, [notice]);
        self.set_cookie(
            OurCookie::TrustedBrowser,
            token.reveal(),
            time::Duration::days(i64::from(days)),
        );
        Ok(())
    }

    /// A cookie of ours for the answer: only for this site's pages, never
    /// read by scripts, `Secure` over https.
    fn set_cookie(&self, which: OurCookie, value: &str, max_age: time::Duration) {
        let https = self.ctx.state.config.https();
        let cookie = tower_sessions::cookie::Cookie::build((which.name(https), value.to_owned()))
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(tower_sessions::cookie::SameSite::Lax)
            .max_age(max_age)
            .build();
        if let Ok(mut slot) = self.set_cookies.lock() {
            slot.push(cookie.to_string());
        }
    }

    /// The passkey being added, while its ceremony can still be answered.
    async fn passkey_setup(&self) -> Result<Option<PasskeySetup>, PortalError> {
        let setup = self
            .session
            .passkey_setup()
            .await
            .map_err(sess("reading the passkey being added"))?;
        let now = self.ctx.now().unix_timestamp();
        Ok(setup.filter(|s| now - s.kept.issued_at <= methods::passkey::CEREMONY_SECS))
    }
}

#[async_trait::async_trait]
impl PasskeyEnrollment for RequestPortal {
    async fn start_passkey(&self, nickname: &str) -> Result<(), PortalError> {
        let (user, _) = self.enroller_after_step_up().await?;
        let setup = methods::passkey::register::start(&self.ctx, &user, nickname).await?;
        self.session
            .set_passkey_setup(&setup)
            .await
            .map_err(sess("keeping the passkey being added"))
    }

    async fn finish_passkey(&self, response: &str) -> Result<Option<String>, PortalError> {
        let (user, enrolling) = self.enroller_after_step_up().await?;
        let Some(setup) = self
            .session
            .passkey_setup()
            .await
            .map_err(sess("reading the passkey being added"))?
        else {
            return Err(methods::passkey::refuse(
                "No passkey is being added (or it lapsed). Start again.",
            ));
        };
        methods::passkey::register::finish(&self.ctx, &user, &setup, response, enrolling).await?;
        self.session
            .clear_passkey_setup()
            .await
            .map_err(sess("clearing the passkey being added"))?;
        self.after_enrollment(&user, enrolling, MethodId::Passkey).await
    }

    async fn cancel_passkey(&self) -> Result<(), PortalError> {
        self.enroller().await?;
        self.session
            .clear_passkey_setup()
            .await
            .map_err(sess("clearing the passkey being added"))
    }
}

/// How long a new set of recovery codes stays on its page.
const FRESH_CODES_SECS: i64 = 10 * 60;
/// What the codes kept for display are sealed to.
const FRESH_CODES_CONTEXT: &str = "recovery-codes-display";

impl RequestPortal {
    /// Seals what the session keeps between making codes and showing them.
    fn display_sealer(&self) -> Sealer {
        Sealer::from_secret(&self.ctx.state.code_key)
    }
}

#[async_trait::async_trait]
impl RecoveryCodes for RequestPortal {
    async fn recovery_codes(&self) -> Result<RecoveryView, PortalError> {
        let user = self.me()?;
        let fresh = match self
            .session
            .fresh_recovery_codes()
            .await
            .map_err(sess("reading new recovery codes"))?
        {
            Some((made_at, sealed)) if self.ctx.now().unix_timestamp() - made_at < FRESH_CODES_SECS => self
                .display_sealer()
                .open(FRESH_CODES_CONTEXT, &sealed)
                .and_then(|plain| serde_json::from_slice::<Vec<String>>(&plain).ok())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let set = methods::recovery::left(self.ctx.pool(), user.id)
            .await
            .map_err(db("counting recovery codes"))?;
        Ok(RecoveryView {
            left: set.map(|(left, _)| left),
            set_size: set.map_or(tessera::recovery::SET_SIZE as u32, |(_, total)| total),
            fresh: fresh.iter().map(|c| tessera::recovery::display(c)).collect(),
        })
    }

    async fn make_recovery_codes(&self) -> Result<(), PortalError> {
        self.require_recent_sign_in()?;
        let user = self.me()?;
        let codes = methods::recovery::make_set(&self.ctx, user).await?;
        let plain = serde_json::to_vec(&codes).map_err(|e| internal("keeping new recovery codes")(e.into()))?;
        let sealed = self.display_sealer().seal(FRESH_CODES_CONTEXT, &plain);
        self.session
            .set_fresh_recovery_codes(self.ctx.now().unix_timestamp(), sealed)
            .await
            .map_err(sess("keeping new recovery codes"))
    }

    async fn saved_recovery_codes(&self) -> Result<(), PortalError> {
        self.me()?;
        self.session
            .clear_fresh_recovery_codes()
            .await
            .map_err(sess("forgetting new recovery codes"))
    }
}

/// What a client secret kept for display is sealed to.
const FRESH_SECRET_CONTEXT: &str = "client-secret-display";

impl RequestPortal {
    /// Keeps a new client secret (sealed) for the client's page to show once.
    async fn keep_client_secret(&self, client_id: &str, secret: &str) -> Result<(), PortalError> {
        let sealed = self
            .display_sealer()
            .seal(&format!("{FRESH_SECRET_CONTEXT}:{client_id}"), secret.as_bytes());
        self.session
            .set_fresh_client_secret(client_id, self.ctx.now().unix_timestamp(), sealed)
            .await
            .map_err(sess("keeping a new client secret"))
    }
}

#[async_trait::async_trait]
impl Admin for RequestPortal {
    async fn methods(&self) -> Result<Vec<MethodView>, PortalError> {
        self.console().methods().await
    }

    async fn clients(&self) -> Result<Vec<ClientSummary>, PortalError> {
        self.console().clients().await
    }

    async fn client(&self, id: &str) -> Result<ClientDetail, PortalError> {
        let mut detail = self.console().client(id).await?;
        let kept = self
            .session
            .take_fresh_client_secret(id)
            .await
            .map_err(sess("reading a new client secret"))?;
        detail.new_secret = match kept {
            Some((made_at, sealed)) if self.ctx.now().unix_timestamp() - made_at < FRESH_CODES_SECS => self
                .display_sealer()
                .open(&format!("{FRESH_SECRET_CONTEXT}:{id}"), &sealed)
                .and_then(|plain| String::from_utf8(plain).ok()),
            _ => None,
        };
        Ok(detail)
    }

    async fn add_client(&self, form: NewClientForm) -> Result<String, PortalError> {
        let (id, secret) = self.console().add_client(&form).await?;
        if let Some(secret) = secret {
            self.keep_client_secret(&id, &secret).await?;
        }
        Ok(id)
    }

    async fn save_client(&self, form: ClientForm) -> Result<(), PortalError> {
        self.console().save_client(&form).await
    }

    async fn rotate_client_secret(&self, id: &str) -> Result<(), PortalError> {
        let secret = self.console().rotate_client_secret(id).await?;
        self.keep_client_secret(id, &secret).await
    }

    async fn delete_client(&self, id: &str, confirm: bool) -> Result<(), PortalError> {
        self.console().delete_client(id, confirm).await
    }

    async fn save_method(
        &self,
        method: &str,
        enabled: bool,
        plugin: &str,
        version: i64,
        confirm: bool,
    ) -> Result<(), PortalError> {
        self.console()
            .save_method(method, enabled, plugin, version, confirm)
            .await
    }

    async fn providers(&self) -> Result<Vec<ProviderView>, PortalError> {
        let last_test = self
            .session
            .test_answer()
            .await
            .map_err(sess("reading the test answer"))?;
        self.console().providers(last_test).await
    }

    async fn save_provider(
        &self,
        plugin: &str,
        values: BTreeMap<String, String>,
        version: i64,
    ) -> Result<(), PortalError> {
        self.console().save_provider(plugin, values, version).await
    }

    async fn test_provider(&self, plugin: &str, to: &str) -> Result<String, PortalError> {
        let answer = self.console().test_provider(plugin, to).await?;
        self.session
            .set_test_answer(plugin, &answer)
            .await
            .map_err(sess("keeping the test answer"))?;
        Ok(answer)
    }

    async fn policy(&self) -> Result<PolicyView, PortalError> {
        self.console().policy().await
    }

    async fn save_policy(&self, fields: BTreeMap<String, String>, version: i64) -> Result<(), PortalError> {
        self.console().save_policy(fields, version).await
    }

    async fn users(&self, query: &str) -> Result<Vec<UserSummary>, PortalError> {
        self.console().users(query).await
    }

    async fn user(&self, username: &str) -> Result<UserDetail, PortalError> {
        self.console().user(username).await
    }

    async fn user_action(&self, username: &str, action: UserAction) -> Result<(), PortalError> {
        self.console().user_action(username, action).await
    }

    async fn forget_user_browsers(&self, username: &str) -> Result<(), PortalError> {
        self.console().forget_user_browsers(username).await
    }

    async fn decide_reset(&self, username: &str, decision: ResetDecision) -> Result<(), PortalError> {
        self.console().decide_reset(username, decision).await
    }

    async fn audit(&self, filter: AuditFilter) -> Result<AuditPage, PortalError> {
        self.console().audit(filter).await
    }

    async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortalError> {
        self.console().outbox().await
    }

    async fn notifications(&self) -> Result<Vec<OutboxMessage>, PortalError> {
        self.console().notifications().await
    }
}
