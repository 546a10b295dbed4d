//! The SMS second factor as the person uses it: enrolling, naming and
//! removing phones, the 2FA switch, and the second sign-in step. Every query
//! names the session's own user, so nobody reaches another account's phones
//! (SECURITY.md 25).

use crate::account_security;
use crate::audit::{self, Event, Who};
use crate::clock::human;
use crate::csrf;
use crate::notify::{self, Notice};
use crate::portal::{AUTH_KEY, RequestPortal, db, sess};
use crate::providers::Purpose;
use crate::sms::{self, Destination};
use crate::store;
use sqlx::{FromRow, PgPool};
use tessera::otp::mask_phone;
use tessera::signin::AuthState;
use tessera::twofactor::{Removal, can_turn_on, removal};
use tessera::views::{ChallengeView, CredentialsView, MaskedPhone, PendingEnrollment, PhoneView};
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// Why the last sign-in code did not go out, kept for the second-step page.
const NOTICE_KEY: &str = "second_factor_notice";
const NICKNAME_MAX: usize = 40;

#[derive(Debug, Clone, FromRow)]
pub struct PhoneRow {
    pub id: Uuid,
    pub nickname: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub phone_e164: String,
    pub plugin: String,
    pub provider_user_id: Option<String>,
}

/// A user's enrolled phones, oldest first.
pub async fn phones(db: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<PhoneRow>> {
    sqlx::query_as::<_, PhoneRow>(
        "SELECT c.id, c.nickname, c.created_at, c.last_used_at, s.phone_e164, s.plugin, s.provider_user_id
         FROM credentials c JOIN sms_phones s ON s.credential_id = c.id
         WHERE c.user_id = $1 ORDER BY c.created_at, c.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Credentials that can serve a sign-in now: those of enabled methods.
pub async fn usable_credentials(pool: &PgPool, user_id: Uuid) -> sqlx::Result<u32> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM credentials c JOIN method_settings m ON m.method = c.method
         WHERE c.user_id = $1 AND m.enabled",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The policy in force.
async fn policy(pool: &PgPool) -> Result<tessera::policy::Policy, PortalError> {
    Ok(crate::settings::policy(pool).await.map_err(db("reading the policy"))?.0)
}

fn nickname(input: &str, required: bool) -> Result<Option<String>, FieldError> {
    let name = input.trim();
    if name.is_empty() {
        return if required {
            Err(FieldError::new("nickname", "Enter a name for this phone."))
        } else {
            Ok(None)
        };
    }
    if name.chars().count() > NICKNAME_MAX {
        return Err(FieldError::new(
            "nickname",
            format!("A name has at most {NICKNAME_MAX} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new("nickname", "A name cannot hold control characters."));
    }
    Ok(Some(name.to_owned()))
}

fn parse_id(id: &str) -> Result<Uuid, PortalError> {
    id.trim().parse().map_err(|_| PortalError::NotFound)
}

impl RequestPortal {
    fn me(&self) -> Result<&store::UserRow, PortalError> {
        self.user.as_ref().ok_or(PortalError::Unauthorized)
    }

    fn who(&self) -> Result<Who<'_>, PortalError> {
        self.me().map(|u| Who {
            id: u.id,
            name: &u.username,
        })
    }

    /// Who enrolls: the signed-in user, or the account that must enroll a
    /// phone to finish signing in (mandatory 2FA).
    async fn enroller(&self) -> Result<store::UserRow, PortalError> {
        if let Some(user) = &self.user {
            return Ok(user.clone());
        }
        let id = self
            .auth
            .as_ref()
            .and_then(AuthState::enrolling_user)
            .and_then(|id| id.parse().ok())
            .ok_or(PortalError::Unauthorized)?;
        self.account(id).await
    }

    /// An account by id for a half-finished sign-in; a locked one goes no further.
    async fn account(&self, id: Uuid) -> Result<store::UserRow, PortalError> {
        let user = store::find_user(&self.state.pool, id)
            .await
            .map_err(db("loading a user"))?
            .ok_or(PortalError::Unauthorized)?;
        if user.locked_at.is_some() {
            return Err(PortalError::AccountLocked);
        }
        Ok(user)
    }

    /// The user owing a second factor (the half-finished sign-in only).
    fn pending_user(&self) -> Result<Uuid, PortalError> {
        self.auth
            .as_ref()
            .and_then(AuthState::pending_user)
            .and_then(|id| id.parse().ok())
            .ok_or(PortalError::Unauthorized)
    }

    pub async fn credentials_view(&self) -> Result<CredentialsView, PortalError> {
        let user = &self.enroller().await?;
        let pool = &self.state.pool;
        let rows = phones(pool, user.id).await.map_err(db("listing phones"))?;
        let rules = policy(pool).await?;
        let pending = sms::open_challenge(pool, user.id, Purpose::Enroll)
            .await
            .map_err(db("reading an enrollment"))?
            .map(|c| PendingEnrollment {
                number: c.phone_e164.clone(),
                nickname: c.nickname.clone().unwrap_or_default(),
                resend_in_secs: rules
                    .code_policy()
                    .resend_wait(c.last_sent_at.unix_timestamp(), self.state.clock.now().unix_timestamp())
                    .unwrap_or(0),
            });
        Ok(CredentialsView {
            phones: rows
                .into_iter()
                .map(|r| PhoneView {
                    preferred: user.preferred_credential_id == Some(r.id),
                    id: r.id.to_string(),
                    nickname: r.nickname,
                    number: r.phone_e164,
                    added_at: human(r.created_at),
                    last_used_at: r.last_used_at.map(human),
                })
                .collect(),
            two_factor_enabled: user.two_factor_enabled,
            minimum: rules.min_credentials,
            pending,
            sms_enabled: sms::enabled(pool).await.map_err(db("reading the SMS method"))?,
        })
    }

    /// Adding a factor while signed in needs a recent sign-in; during a
    /// mandatory enrollment the sign-in itself is under way.
    fn step_up_to_enroll(&self) -> Result<(), PortalError> {
        if self.user.is_some() {
            self.require_recent_sign_in()?;
        }
        Ok(())
    }

    pub async fn enroll_start(&self, phone: &str, nickname_input: &str) -> Result<(), PortalError> {
        self.step_up_to_enroll()?;
        let user = &self.enroller().await?;
        let mut errors = Vec::new();
        let number = crate::phone::parse(phone, &self.state.config.default_phone_region)
            .map_err(|e| errors.push(e))
            .ok();
        let name = nickname(nickname_input, false)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let Some(number) = number.filter(|_| errors.is_empty()) else {
            return Err(PortalError::Validation(errors));
        };
        // One account per number (SECURITY.md 14), checked before any message goes out.
        let owner: Option<Uuid> = sqlx::query_scalar(
            "SELECT c.user_id FROM sms_phones s JOIN credentials c ON c.id = s.credential_id WHERE s.phone_e164 = $1",
        )
        .bind(&number)
        .fetch_optional(&self.state.pool)
        .await
        .map_err(db("checking a number"))?;
        match owner {
            Some(id) if id == user.id => {
                return Err(PortalError::Validation(vec![FieldError::new(
                    "phone",
                    "This number is already one of your phones.",
                )]));
            }
            Some(_) => {
                return Err(PortalError::Validation(vec![FieldError::new(
                    "phone",
                    "This number is enrolled by another account. Use a different number.",
                )]));
            }
            None => {}
        }
        let name = name.unwrap_or_else(|| format!("Phone ending {}", &number[number.len().saturating_sub(2)..]));
        self.send_enrollment_code(user, &number, Some(&name), false).await
    }

    /// Sends an enrollment code to a number not yet enrolled.
    async fn send_enrollment_code(
        &self,
        user: &store::UserRow,
        phone: &str,
        nickname: Option<&str>,
        resend: bool,
    ) -> Result<(), PortalError> {
        let dest = Destination {
            user_id: user.id,
            username: &user.username,
            purpose: Purpose::Enroll,
            phone,
            credential_id: None,
            nickname,
            provider_user_id: None,
            resend,
        };
        sms::send_code(&self.state, &self.origin(), dest).await
    }

    pub async fn enroll_resend(&self) -> Result<(), PortalError> {
        let user = &self.enroller().await?;
        let Some(open) = sms::open_challenge(&self.state.pool, user.id, Purpose::Enroll)
            .await
            .map_err(db("reading an enrollment"))?
        else {
            return Err(PortalError::NotFound);
        };
        self.send_enrollment_code(user, &open.phone_e164, open.nickname.as_deref(), true)
            .await
    }

    pub async fn enroll_verify(&self, code: &str) -> Result<bool, PortalError> {
        self.step_up_to_enroll()?;
        let user = &self.enroller().await?;
        let who = Who {
            id: user.id,
            name: &user.username,
        };
        let (challenge, mut tx) = sms::check_code(&self.state, &self.origin(), who, Purpose::Enroll, code).await?;
        let id = Uuid::new_v4();
        let now = self.state.clock.now();
        let name = challenge.nickname.clone().unwrap_or_else(|| "Phone".into());
        sqlx::query(
            "INSERT INTO credentials (id, user_id, method, nickname, created_at) VALUES ($1, $2, 'sms', $3, $4)",
        )
        .bind(id)
        .bind(user.id)
        .bind(&name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("storing a credential"))?;
        let stored = sqlx::query(
            "INSERT INTO sms_phones (credential_id, phone_e164, plugin, provider_user_id, provider_phone_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&challenge.phone_e164)
        .bind(&challenge.plugin)
        .bind(&challenge.provider_user_id)
        .bind(&challenge.provider_phone_id)
        .execute(&mut *tx)
        .await;
        match stored {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("sms_phones_phone_unique") => {
                return Err(PortalError::Validation(vec![FieldError::new(
                    "code",
                    "This number was enrolled by another account meanwhile. Use a different number.",
                )]));
            }
            Err(e) => return Err(db("storing a phone")(e)),
        }
        // The first phone becomes the preferred one.
        sqlx::query("UPDATE users SET preferred_credential_id = $2 WHERE id = $1 AND preferred_credential_id IS NULL")
            .bind(user.id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db("choosing a preferred phone"))?;
        let event = Event::by_self(audit::CREDENTIAL_ADDED, who).details(serde_json::json!({
            "credential": id, "method": "sms", "plugin": challenge.plugin, "nickname": name,
            "phone": mask_phone(&challenge.phone_e164),
        }));
        audit::record(&mut *tx, now, &self.origin(), event)
            .await
            .map_err(db("auditing an enrollment"))?;
        // Enrolled at sign-in because 2FA is mandatory: 2FA is on from now,
        // and the code just typed was the second factor of this sign-in.
        let finishes_sign_in = self.user.is_none();
        if finishes_sign_in && !user.two_factor_enabled {
            sqlx::query("UPDATE users SET two_factor_enabled = TRUE WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await
                .map_err(db("turning 2FA on"))?;
            let event = Event::by_self(audit::TWO_FACTOR_ON, who).details(serde_json::json!({"reason": "mandatory"}));
            audit::record(&mut *tx, now, &self.origin(), event)
                .await
                .map_err(db("auditing 2FA on"))?;
        }
        let notice = self
            .notify_in(&mut tx, user, Notice::FactorAdded { nickname: &name })
            .await?;
        tx.commit().await.map_err(db("committing an enrollment"))?;
        notify::deliver(&self.state, [notice]);
        tracing::info!(user_id = %user.id, credential_id = %id, "phone enrolled");
        if finishes_sign_in {
            self.finish_sign_in(user, now).await?;
        }
        Ok(finishes_sign_in)
    }

    pub async fn enroll_cancel(&self) -> Result<(), PortalError> {
        let user = &self.enroller().await?;
        sms::cancel(&self.state.pool, user.id, Purpose::Enroll)
            .await
            .map_err(db("cancelling an enrollment"))
    }

    pub async fn rename(&self, id: &str, nickname_input: &str) -> Result<(), PortalError> {
        let user = self.me()?;
        let id = parse_id(id)?;
        let name = nickname(nickname_input, true)
            .map_err(|e| PortalError::Validation(vec![e]))?
            .unwrap_or_default();
        let before: Option<String> = sqlx::query_scalar(
            "UPDATE credentials c SET nickname = $3 FROM credentials old
             WHERE c.id = $1 AND c.user_id = $2 AND old.id = c.id RETURNING old.nickname",
        )
        .bind(id)
        .bind(user.id)
        .bind(&name)
        .fetch_optional(&self.state.pool)
        .await
        .map_err(db("renaming a credential"))?;
        let Some(before) = before else {
            return Err(PortalError::NotFound);
        };
        self.audit(
            Event::by_self(audit::CREDENTIAL_RENAMED, self.who()?).details(serde_json::json!({
                "credential": id, "before": before, "after": name,
            })),
        )
        .await
    }

    pub async fn remove(&self, id: &str, confirm: bool) -> Result<(), PortalError> {
        self.require_recent_sign_in()?;
        let user = self.me()?;
        let id = parse_id(id)?;
        let pool = &self.state.pool;
        // Everything that needs the pool comes before the transaction, so that a
        // request never holds one connection while it waits for another.
        let before = phones(pool, user.id).await.map_err(db("listing phones"))?;
        let target = before.into_iter().find(|p| p.id == id).ok_or(PortalError::NotFound)?;
        let plugin = match &target.provider_user_id {
            Some(_) => Some(sms::plugin_by_id(&self.state, &target.plugin).await?),
            None => None,
        };
        let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
        // The user row is locked so that two removals cannot both pass the minimum check.
        let (enabled, preferred): (bool, Option<Uuid>) =
            sqlx::query_as("SELECT two_factor_enabled, preferred_credential_id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user.id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("locking a user"))?;
        let mine = phones(&mut *tx, user.id).await.map_err(db("listing phones"))?;
        if !mine.iter().any(|p| p.id == id) {
            return Err(PortalError::NotFound);
        }
        let count = u32::try_from(mine.len()).unwrap_or(u32::MAX);
        let minimum = policy(pool).await?.min_credentials;
        let effect = removal(enabled, count, minimum);
        if effect == Removal::TurnsTwoFactorOff && !confirm {
            return Err(PortalError::NeedsConfirmation(format!(
                "Removing “{}” leaves you fewer than {minimum} credential(s), so two-factor authentication will be turned off. Remove it anyway?",
                target.nickname
            )));
        }
        // The provider's clean-up first: if it fails nothing is removed and the person can retry.
        if let (Some(provider_user), Some(plugin)) = (&target.provider_user_id, &plugin) {
            plugin
                .forget(provider_user)
                .await
                .map_err(|e| sms::provider_failure(&target.plugin, "phone", e))?;
        }
        sqlx::query("DELETE FROM credentials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(db("removing a credential"))?;
        let (now, origin, who) = (self.state.clock.now(), self.origin(), self.who()?);
        let event = Event::by_self(audit::CREDENTIAL_REMOVED, who).details(serde_json::json!({
            "credential": id, "method": "sms", "nickname": target.nickname, "phone": mask_phone(&target.phone_e164),
        }));
        audit::record(&mut *tx, now, &origin, event)
            .await
            .map_err(db("auditing a removal"))?;
        if effect == Removal::TurnsTwoFactorOff {
            sqlx::query("UPDATE users SET two_factor_enabled = FALSE WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await
                .map_err(db("turning 2FA off"))?;
            let event = Event::by_self(audit::TWO_FACTOR_OFF, who)
                .details(serde_json::json!({"reason": "last credential removed"}));
            audit::record(&mut *tx, now, &origin, event)
                .await
                .map_err(db("auditing 2FA off"))?;
        }
        if preferred == Some(id) || preferred.is_none() {
            let next = mine.iter().find(|p| p.id != id).map(|p| p.id);
            sqlx::query("UPDATE users SET preferred_credential_id = $2 WHERE id = $1")
                .bind(user.id)
                .bind(next)
                .execute(&mut *tx)
                .await
                .map_err(db("choosing a preferred phone"))?;
        }
        let mut notices = vec![
            self.notify_in(
                &mut tx,
                user,
                Notice::FactorRemoved {
                    nickname: &target.nickname,
                },
            )
            .await?,
        ];
        if effect == Removal::TurnsTwoFactorOff {
            notices.push(self.notify_in(&mut tx, user, Notice::TwoFactorOff).await?);
        }
        tx.commit().await.map_err(db("committing a removal"))?;
        notify::deliver(&self.state, notices);
        tracing::info!(user_id = %user.id, credential_id = %id, two_factor_off = effect == Removal::TurnsTwoFactorOff, "phone removed");
        Ok(())
    }

    pub async fn switch_two_factor(&self, enabled: bool, preferred: Option<&str>) -> Result<(), PortalError> {
        if !enabled {
            self.require_recent_sign_in()?;
        }
        let user = self.me()?;
        let pool = &self.state.pool;
        let mine = phones(pool, user.id).await.map_err(db("listing phones"))?;
        let preferred = match preferred.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => {
                let id = p.parse::<Uuid>().ok().filter(|id| mine.iter().any(|m| m.id == *id));
                match id {
                    Some(id) => Some(id),
                    None => {
                        return Err(PortalError::Validation(vec![FieldError::new(
                            "preferred",
                            "Choose one of your phones.",
                        )]));
                    }
                }
            }
            None => user.preferred_credential_id.or_else(|| mine.first().map(|m| m.id)),
        };
        let minimum = policy(pool).await?.min_credentials;
        if enabled && !can_turn_on(u32::try_from(mine.len()).unwrap_or(u32::MAX), minimum) {
            return Err(PortalError::Validation(vec![FieldError::new(
                "enabled",
                format!("Add at least {minimum} phone(s) before turning on two-factor authentication."),
            )]));
        }
        let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
        let was_on: bool = sqlx::query_scalar(
            "UPDATE users u SET two_factor_enabled = $2, preferred_credential_id = $3 FROM users old
             WHERE u.id = $1 AND old.id = u.id RETURNING old.two_factor_enabled",
        )
        .bind(user.id)
        .bind(enabled)
        .bind(preferred)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("switching 2FA"))?;
        let (now, origin, who) = (self.state.clock.now(), self.origin(), self.who()?);
        if was_on != enabled {
            let kind = if enabled {
                audit::TWO_FACTOR_ON
            } else {
                audit::TWO_FACTOR_OFF
            };
            audit::record(&mut *tx, now, &origin, Event::by_self(kind, who))
                .await
                .map_err(db("auditing the 2FA switch"))?;
        }
        let notice = if was_on && !enabled {
            Some(self.notify_in(&mut tx, user, Notice::TwoFactorOff).await?)
        } else {
            None
        };
        tx.commit().await.map_err(db("committing the 2FA switch"))?;
        notify::deliver(&self.state, notice);
        tracing::info!(user_id = %user.id, enabled, "2FA switched");
        Ok(())
    }

    /// After a correct password: the half-finished state, a new session id,
    /// and a code on its way to the preferred phone. A failed send is kept as
    /// a notice for the second-step page; the person stays at step 2.
    pub async fn begin_second_step(&self, user: &store::UserRow) -> Result<(), PortalError> {
        let auth = AuthState::PasswordVerified {
            user_id: user.id.to_string(),
            at: self.state.clock.now().unix_timestamp(),
        };
        self.change_privilege(&auth).await?;
        // An open code from an earlier attempt is replaced by this send, or,
        // inside the cooldown (a double submit), kept without a second message.
        if let Err(e) = self.send_login_code(user, None, false).await {
            // The notice tells the person; they stay at step 2 and can retry.
            tracing::info!(user_id = %user.id, error = %e, "first sign-in code not sent");
        }
        Ok(())
    }

    async fn send_login_code(
        &self,
        user: &store::UserRow,
        phone_id: Option<&str>,
        resend: bool,
    ) -> Result<(), PortalError> {
        let pool = &self.state.pool;
        let mine = phones(pool, user.id).await.map_err(db("listing phones"))?;
        let preferred = user.preferred_credential_id;
        let chosen = match phone_id.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => {
                let id = parse_id(p)?;
                mine.iter().find(|m| m.id == id).ok_or(PortalError::NotFound)?
            }
            None => {
                let Some(first) = mine.first() else {
                    return Err(PortalError::SmsUnavailable);
                };
                preferred.and_then(|p| mine.iter().find(|m| m.id == p)).unwrap_or(first)
            }
        };
        let result = sms::send_code(
            &self.state,
            &self.origin(),
            Destination {
                user_id: user.id,
                username: &user.username,
                purpose: Purpose::Login,
                phone: &chosen.phone_e164,
                credential_id: Some(chosen.id),
                nickname: None,
                provider_user_id: chosen.provider_user_id.as_deref(),
                resend,
            },
        )
        .await;
        let notice = result.as_ref().err().map(ToString::to_string);
        self.session
            .insert(NOTICE_KEY, notice)
            .await
            .map_err(sess("storing the send notice"))?;
        result
    }

    pub async fn challenge_view(&self) -> Result<ChallengeView, PortalError> {
        let user_id = self.pending_user()?;
        let pool = &self.state.pool;
        let rules = policy(pool).await?.code_policy();
        let mine = phones(pool, user_id).await.map_err(db("listing phones"))?;
        let masked = |p: &PhoneRow| MaskedPhone {
            id: p.id.to_string(),
            nickname: p.nickname.clone(),
            masked: mask_phone(&p.phone_e164),
        };
        let open = sms::open_challenge(pool, user_id, Purpose::Login)
            .await
            .map_err(db("reading a challenge"))?;
        let now = self.state.clock.now().unix_timestamp();
        let notice: Option<String> = self
            .session
            .get::<Option<String>>(NOTICE_KEY)
            .await
            .map_err(sess("reading the send notice"))?
            .flatten();
        Ok(ChallengeView {
            phones: mine.iter().map(masked).collect(),
            sent_to: open
                .as_ref()
                .and_then(|c| mine.iter().find(|m| Some(m.id) == c.credential_id))
                .map(masked),
            resend_in_secs: open
                .as_ref()
                .and_then(|c| rules.resend_wait(c.last_sent_at.unix_timestamp(), now))
                .unwrap_or(0),
            notice,
        })
    }

    /// The account of the half-finished sign-in.
    async fn pending_account(&self) -> Result<store::UserRow, PortalError> {
        self.account(self.pending_user()?).await
    }

    /// After a correct password, with 2FA mandatory and nothing to serve it:
    /// the half-finished state that only enrolling a phone can complete.
    pub async fn begin_enrollment_step(&self, user: &store::UserRow) -> Result<(), PortalError> {
        let auth = AuthState::MustEnroll {
            user_id: user.id.to_string(),
            at: self.state.clock.now().unix_timestamp(),
        };
        self.change_privilege(&auth).await
    }

    pub async fn login_send(&self, phone_id: Option<&str>) -> Result<(), PortalError> {
        let user = self.pending_account().await?;
        self.send_login_code(&user, phone_id, true).await
    }

    pub async fn login_verify(&self, code: &str) -> Result<(), PortalError> {
        let user = self.pending_account().await?;
        let who = Who {
            id: user.id,
            name: &user.username,
        };
        let (challenge, mut tx) = sms::check_code(&self.state, &self.origin(), who, Purpose::Login, code).await?;
        let now = self.state.clock.now();
        if let Some(credential) = challenge.credential_id {
            sqlx::query("UPDATE credentials SET last_used_at = $2 WHERE id = $1")
                .bind(credential)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("marking a credential used"))?;
        }
        tx.commit().await.map_err(db("committing a sign-in"))?;
        self.finish_sign_in(&user, now).await
    }

    /// The pipeline's last step: new session id, signed in, recorded.
    pub async fn finish_sign_in(&self, user: &store::UserRow, now: OffsetDateTime) -> Result<(), PortalError> {
        let user_id = user.id;
        let now_s = now.unix_timestamp();
        let auth = AuthState::SignedIn {
            user_id: user_id.to_string(),
            authenticated_at: now_s,
            started_at: now_s,
        };
        self.session
            .remove_value(NOTICE_KEY)
            .await
            .map_err(sess("clearing the notice"))?;
        self.change_privilege(&auth).await?;
        // The session's row in the user's list of sessions (a new one when
        // signing in again).
        let pool = &self.state.pool;
        if let Some(old) = self.session_row().await? {
            account_security::forget(pool, old)
                .await
                .map_err(db("forgetting a session"))?;
        }
        let row = account_security::register(pool, user_id, now, &self.ip, self.user_agent.as_deref())
            .await
            .map_err(db("recording a session"))?;
        self.session
            .insert(account_security::SID_KEY, row)
            .await
            .map_err(sess("storing the session's id"))?;
        store::record_sign_in(pool, user_id, now)
            .await
            .map_err(db("recording a sign-in"))?;
        tracing::info!(%user_id, ip = %self.ip, "signed in");
        self.audit(Event::by_self(
            audit::SIGNIN_OK,
            Who {
                id: user.id,
                name: &user.username,
            },
        ))
        .await
    }

    /// A privilege change: a new session id, the new state and a new CSRF
    /// token; the old id is dead (SECURITY.md 19).
    pub(crate) async fn change_privilege(&self, auth: &AuthState) -> Result<(), PortalError> {
        self.session.cycle_id().await.map_err(sess("rotating the session id"))?;
        self.session
            .insert(AUTH_KEY, auth)
            .await
            .map_err(sess("storing the sign-in state"))?;
        csrf::renew(&self.session).await.map_err(sess("storing the CSRF token"))
    }
}
