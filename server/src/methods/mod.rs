//! The second-factor methods: the [`Method`] trait each implements, the
//! registry of them, and what every method shares (the `credentials` table,
//! each method's switch, nicknames, storing a new credential).
//!
//! Adding a method = a folder here with its `Method` implementation + one
//! line in [`REGISTRY`] (and its id in `tessera::method::MethodId`) + a
//! migration for its table. Nothing here knows one method from another.

pub mod passkey;
pub mod recovery;
pub mod sms;
pub mod totp;
pub mod wrong_codes;

use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::notify::Notice;
use crate::state::AppState;
use crate::store::UserRow;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tessera::method::MethodId;
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// One enrolled credential of any method.
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: Uuid,
    pub user_id: Uuid,
    pub method: MethodId,
    pub nickname: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    /// What identifies it to its owner (a phone's number); may be empty.
    pub detail: String,
    /// The same, masked, for the second step and administrators.
    pub masked: String,
    /// It can prove a sign-in (a set of recovery codes with none left cannot).
    pub usable: bool,
}

/// A proof checked and used up: the transaction the caller finishes its
/// work in and commits, then the notices to deliver.
pub struct Verified {
    pub tx: Transaction<'static, Postgres>,
    pub notices: Vec<crate::notify::Queued>,
}

/// Why a challenge is being started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    /// The first of a sign-in (a repeat inside the cooldown, a double
    /// submit, is quietly not sent again).
    First,
    /// Asked for by the person: refused inside the cooldown.
    Again,
}

/// A sign-in code sent to a credential and waiting to be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSent {
    pub credential: Uuid,
    /// Seconds before another may be sent; 0: now.
    pub resend_in_secs: u64,
}

/// A browser ceremony a method started (a passkey's), kept server-side in
/// the person's session until the browser answers: single use (the web
/// edge takes it out of the session to answer it), bound to the session
/// that keeps it and to the credential it proves.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeptCeremony {
    /// Its own id: an answered one is recorded, and never answered again.
    pub id: Uuid,
    /// The credential it proves; none when the browser chooses (adding a
    /// passkey, or a sign-in that starts with the passkey).
    pub credential: Option<Uuid>,
    /// When it started (Unix seconds).
    pub issued_at: i64,
    /// The method's own state of it (webauthn-rs's), never sent to the browser.
    state: serde_json::Value,
}

impl KeptCeremony {
    /// The method's state, as the method wrote it.
    pub(crate) fn state<T: serde::de::DeserializeOwned>(&self) -> Result<T, PortalError> {
        serde_json::from_value(self.state.clone()).map_err(|e| {
            tracing::error!(error = %e, "a kept ceremony's state cannot be read");
            PortalError::Unavailable
        })
    }
}

/// A ceremony started: what the page hands to the browser (JSON), and what
/// the session keeps until the answer.
#[derive(Debug, Clone)]
pub struct Started {
    pub options: String,
    pub kept: KeptCeremony,
}

impl Started {
    pub(crate) fn new(
        ctx: &RequestContext,
        credential: Option<Uuid>,
        options: &impl serde::Serialize,
        state: &impl serde::Serialize,
    ) -> Result<Started, PortalError> {
        let fail = |e: serde_json::Error| {
            tracing::error!(error = %e, "writing a ceremony");
            PortalError::Unavailable
        };
        Ok(Started {
            options: serde_json::to_string(options).map_err(fail)?,
            kept: KeptCeremony {
                id: Uuid::new_v4(),
                credential,
                issued_at: ctx.now().unix_timestamp(),
                state: serde_json::to_value(state).map_err(fail)?,
            },
        })
    }
}

/// What the person answered at the second step.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// A code typed (or pasted) into the form, or sent by a client without
    /// a browser (`channel`).
    Typed { code: &'a str, channel: Channel },
    /// The browser's answer to a ceremony, with the ceremony it answers.
    Ceremony { kept: &'a KeptCeremony, response: &'a str },
}

impl<'a> Answer<'a> {
    /// The code typed; a method proven by typing refuses anything else.
    pub fn typed(self) -> Result<&'a str, PortalError> {
        match self {
            Answer::Typed { code, .. } => Ok(code),
            Answer::Ceremony { .. } => Err(PortalError::Validation(vec![FieldError::new(
                "code",
                "Enter the code: this method is not a passkey.",
            )])),
        }
    }
}

/// Where a sign-in's second step happens. Each has its own codes: a code
/// the token endpoint asked for never replaces the one a person is typing
/// in a browser (SECURITY.md 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The sign-in pages.
    Browser,
    /// The password grant, for a client without a browser.
    TokenEndpoint,
}

/// A second-factor method. The sign-in service, the credential pages and the
/// console reach a method only through this trait.
#[async_trait::async_trait]
pub trait Method: Send + Sync {
    fn id(&self) -> MethodId;
    fn label(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The plugins that can handle it, `(id, label)`, the default first;
    /// none (the default) when it has no plugin to choose.
    fn plugins(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
    /// What keeps a plugin (or the method itself, when it has no plugins)
    /// from serving; empty: ready.
    async fn plugin_problems(&self, state: &AppState, plugin: &str) -> Vec<String>;
    /// A user's credentials of this method, oldest first.
    async fn credentials(&self, pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>>;
    /// Starts proving `credential` at sign-in (SMS: a code goes out; by
    /// default nothing: the person already holds what proves it).
    async fn challenge(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        kind: SendKind,
        channel: Channel,
    ) -> Result<(), PortalError> {
        let _ = (ctx, user, credential, kind, channel);
        Ok(())
    }
    /// Starts a ceremony the browser answers for `credential` (a passkey's);
    /// none (the default): the method is proven by typing.
    async fn ceremony(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
    ) -> Result<Option<Started>, PortalError> {
        let _ = (ctx, user, credential);
        Ok(None)
    }
    /// The sign-in code on its way to one of the user's credentials, if any.
    async fn code_on_its_way(&self, ctx: &RequestContext, user: &UserRow) -> Result<Option<CodeSent>, PortalError> {
        let _ = (ctx, user);
        Ok(None)
    }
    /// Checks the person's answer for `credential`. On success the proof
    /// is used up inside the returned transaction (of two concurrent checks
    /// one wins); the caller finishes its work in it and commits.
    async fn verify(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        answer: Answer<'_>,
    ) -> Result<Verified, PortalError>;
    /// Clean-up outside Tessera before `credential` is deleted; when it
    /// fails nothing is deleted and the person can retry. By default there
    /// is nothing outside Tessera.
    async fn before_removal(&self, ctx: &RequestContext, credential: &Credential) -> Result<(), PortalError> {
        let _ = (ctx, credential);
        Ok(())
    }
}

/// Every method Tessera has, in the order pages list them.
pub const REGISTRY: &[&dyn Method] = &[&sms::Sms, &totp::Totp, &recovery::RecoveryCodes, &passkey::Passkey];

/// A method by id.
pub fn find(id: MethodId) -> Option<&'static dyn Method> {
    REGISTRY.iter().copied().find(|m| m.id() == id)
}

/// A method by its stored name.
pub fn by_name(name: &str) -> Option<&'static dyn Method> {
    MethodId::parse(name).and_then(find)
}

/// Every credential of a user, of every method, oldest first.
pub async fn credentials(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
    let mut all = Vec::new();
    for method in REGISTRY {
        all.extend(method.credentials(pool, user_id).await?);
    }
    all.sort_by_key(|c| (c.created_at, c.id));
    Ok(all)
}

/// The methods switched on by the administrator.
pub async fn enabled(pool: &PgPool) -> sqlx::Result<Vec<MethodId>> {
    let names: Vec<String> = sqlx::query_scalar("SELECT method FROM method_settings WHERE enabled ORDER BY method")
        .fetch_all(pool)
        .await?;
    Ok(names.iter().filter_map(|n| MethodId::parse(n)).collect())
}

/// A user's credentials that can serve a sign-in now: those of enabled methods.
pub async fn usable_credentials(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
    let on = enabled(pool).await?;
    Ok(credentials(pool, user_id)
        .await?
        .into_iter()
        .filter(|c| c.usable && on.contains(&c.method))
        .collect())
}

const NICKNAME_MAX: usize = 40;

/// A credential's name as typed: trimmed, at most 40 characters, no control
/// characters; blank is `None` unless `required`.
pub fn nickname(input: &str, required: bool) -> Result<Option<String>, FieldError> {
    let name = input.trim();
    if name.is_empty() {
        return if required {
            Err(FieldError::new("nickname", "Enter a name."))
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

/// Who is enrolling a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolling {
    /// A signed-in user, from the credentials page.
    SignedIn,
    /// An account that must enroll to finish signing in (mandatory 2FA):
    /// 2FA turns on with this credential.
    ToFinishSignIn,
}

/// A credential being stored: the generic row and what the audit log says
/// of it (the method's own row goes in the same transaction).
pub struct NewCredential<'a> {
    pub method: MethodId,
    pub nickname: &'a str,
    /// Method-specific audit details (the masked number, the plugin).
    pub details: serde_json::Value,
}

/// Stores a new credential's generic row, makes it the preferred one when
/// the account has none, audits it, turns 2FA on when the enrollment
/// finishes a mandatory sign-in, and queues the owner's notice. A kind that
/// does not count toward the minimum (recovery codes) is never preferred
/// and never turns 2FA on (SECURITY.md 38). Returns the credential's id and
/// the notice to deliver after the commit.
pub async fn store_credential(
    ctx: &RequestContext,
    tx: &mut PgConnection,
    user: &UserRow,
    new: NewCredential<'_>,
    enrolling: Enrolling,
) -> Result<(Uuid, crate::notify::Queued), PortalError> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO credentials (id, user_id, method, nickname, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(user.id)
        .bind(new.method.as_str())
        .bind(new.nickname)
        .bind(ctx.now())
        .execute(&mut *tx)
        .await
        .map_err(db("storing a credential"))?;
    let counts = new.method.counts_toward_minimum();
    if counts {
        sqlx::query("UPDATE users SET preferred_credential_id = $2 WHERE id = $1 AND preferred_credential_id IS NULL")
            .bind(user.id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db("choosing a preferred credential"))?;
    }
    let mut details = serde_json::json!({"credential": id, "method": new.method, "nickname": new.nickname});
    if let (Some(all), serde_json::Value::Object(extra)) = (details.as_object_mut(), new.details) {
        all.extend(extra);
    }
    ctx.audit_in(tx, Event::by_self(audit::CREDENTIAL_ADDED, who(user)).details(details))
        .await?;
    if counts && enrolling == Enrolling::ToFinishSignIn && !user.two_factor_enabled {
        sqlx::query("UPDATE users SET two_factor_enabled = TRUE WHERE id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(db("turning 2FA on"))?;
        let event = Event::by_self(audit::TWO_FACTOR_ON, who(user)).details(serde_json::json!({"reason": "mandatory"}));
        ctx.audit_in(tx, event).await?;
    }
    let notice = ctx
        .notify_in(
            tx,
            user,
            Notice::FactorAdded {
                method: new.method,
                nickname: new.nickname,
            },
        )
        .await?;
    Ok((id, notice))
}

/// Marks a credential as used for a sign-in, inside the sign-in's transaction.
pub async fn mark_used(tx: &mut PgConnection, id: Uuid, now: OffsetDateTime) -> Result<(), PortalError> {
    sqlx::query("UPDATE credentials SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(tx)
        .await
        .map_err(db("marking a credential used"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_id_has_one_registered_method() {
        for id in MethodId::ALL {
            assert_eq!(REGISTRY.iter().filter(|m| m.id() == *id).count(), 1, "{id:?}");
        }
        assert_eq!(REGISTRY.len(), MethodId::ALL.len());
    }

    #[test]
    fn nicknames_are_trimmed_and_bounded() {
        assert_eq!(nickname("  Work  ", true).unwrap().as_deref(), Some("Work"));
        assert_eq!(nickname(" ", false).unwrap(), None);
        assert!(nickname(" ", true).is_err());
        assert!(nickname(&"x".repeat(40), true).is_ok());
        assert!(nickname(&"x".repeat(41), true).is_err());
        assert!(nickname("a\u{7}b", true).is_err());
    }
}
