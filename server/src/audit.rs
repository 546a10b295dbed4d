//! The audit log: every security event with time, actor, subject, IP and
//! user agent, and what changed. Events that belong to a change are written
//! in the change's transaction, so there is never one without the other.

use serde_json::Value;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

/// Every kind of event: its stored name and its words.
pub const KINDS: &[(&str, &str)] = &[
    (SIGNIN_OK, "Signed in"),
    (SIGNIN_FAILED, "Sign-in failed"),
    (SIGNIN_LOCKED, "Sign-in refused: account locked"),
    (SIGNED_OUT, "Signed out"),
    (CODE_SENT, "Code sent"),
    (CODE_FAILED, "Wrong code"),
    (CODE_VERIFIED, "Code accepted"),
    (CREDENTIAL_ADDED, "Credential added"),
    (CREDENTIAL_RENAMED, "Credential renamed"),
    (CREDENTIAL_REMOVED, "Credential removed"),
    (RECOVERY_CODE_USED, "Recovery code used"),
    (TWO_FACTOR_ON, "Two-factor authentication turned on"),
    (TWO_FACTOR_OFF, "Two-factor authentication turned off"),
    (PASSWORD_CHANGED, "Password changed"),
    (SESSION_ENDED, "Session ended by its user"),
    (PROVIDER_ERROR, "Provider error"),
    (SMS_BLOCKED, "Code refused: send budget spent"),
    (ADMIN_METHOD, "Method settings changed"),
    (ADMIN_PROVIDER, "Provider settings changed"),
    (ADMIN_TEST_MESSAGE, "Test message sent"),
    (ADMIN_POLICY, "2FA policy changed"),
    (ADMIN_USER, "Account changed by an administrator"),
    (OIDC_AUTHORIZED, "Signed in to an application"),
    (OIDC_CODE_REPLAYED, "Authorization code replayed: its tokens revoked"),
    (OIDC_REFRESH_REUSED, "Refresh token reused: its family revoked"),
    (OIDC_CONSENTED, "Allowed an application to sign in"),
    (OIDC_CONSENT_DENIED, "Refused an application"),
    (OIDC_APP_REVOKED, "Revoked an application's access"),
    (ADMIN_CLIENT, "Application settings changed"),
    (PASSKEY_REFUSED, "Passkey answer refused"),
    (BROWSER_TRUSTED, "Browser trusted to skip the second step"),
    (BROWSERS_FORGOTTEN, "Trusted browsers forgotten"),
    (RESET_STARTED, "Reset of two-factor sign-in asked for"),
    (RESET_CANCELLED, "Reset of two-factor sign-in cancelled"),
    (RESET_APPROVED, "Reset of two-factor sign-in approved early"),
    (RESET_COMPLETED, "Two-factor sign-in reset after the wait"),
    (NOT_ME_SECURED, "“This wasn't me”: the owner secured the account"),
    (NOT_ME_REPORTED, "“This wasn't me”: reported without signing in"),
    (FLAG_CLEARED, "An account's flag was cleared"),
    (
        OIDC_LOGOUT_UNDELIVERED,
        "An application was not told of a sign-out (back-channel logout given up)",
    ),
];

pub const SIGNIN_OK: &str = "signin.succeeded";
pub const SIGNIN_FAILED: &str = "signin.failed";
pub const SIGNIN_LOCKED: &str = "signin.locked";
pub const SIGNED_OUT: &str = "signout";
pub const CODE_SENT: &str = "code.sent";
pub const CODE_FAILED: &str = "code.failed";
pub const CODE_VERIFIED: &str = "code.verified";
pub const CREDENTIAL_ADDED: &str = "credential.added";
pub const CREDENTIAL_RENAMED: &str = "credential.renamed";
pub const CREDENTIAL_REMOVED: &str = "credential.removed";
pub const RECOVERY_CODE_USED: &str = "recovery_code.used";
pub const TWO_FACTOR_ON: &str = "2fa.on";
pub const TWO_FACTOR_OFF: &str = "2fa.off";
pub const PASSWORD_CHANGED: &str = "password.changed";
pub const SESSION_ENDED: &str = "session.ended";
pub const PROVIDER_ERROR: &str = "provider.error";
pub const SMS_BLOCKED: &str = "sms.blocked";
pub const ADMIN_METHOD: &str = "admin.method";
pub const ADMIN_PROVIDER: &str = "admin.provider";
pub const ADMIN_TEST_MESSAGE: &str = "admin.test_message";
pub const ADMIN_POLICY: &str = "admin.policy";
pub const ADMIN_USER: &str = "admin.user";
pub const OIDC_AUTHORIZED: &str = "oidc.authorized";
pub const OIDC_CODE_REPLAYED: &str = "oidc.code_replayed";
pub const OIDC_REFRESH_REUSED: &str = "oidc.refresh_reused";
pub const OIDC_CONSENTED: &str = "oidc.consented";
pub const OIDC_CONSENT_DENIED: &str = "oidc.consent_denied";
pub const OIDC_APP_REVOKED: &str = "oidc.app_revoked";
pub const ADMIN_CLIENT: &str = "admin.client";
pub const PASSKEY_REFUSED: &str = "passkey.refused";
pub const BROWSER_TRUSTED: &str = "browser.trusted";
pub const BROWSERS_FORGOTTEN: &str = "browser.forgotten";
pub const RESET_STARTED: &str = "reset.started";
pub const RESET_CANCELLED: &str = "reset.cancelled";
pub const RESET_APPROVED: &str = "reset.approved";
pub const RESET_COMPLETED: &str = "reset.completed";
pub const NOT_ME_SECURED: &str = "not_me.secured";
pub const NOT_ME_REPORTED: &str = "not_me.reported";
pub const FLAG_CLEARED: &str = "admin.flag_cleared";
pub const OIDC_LOGOUT_UNDELIVERED: &str = "oidc.logout_undelivered";

pub fn label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("Event", |(_, l)| l)
}

/// A person in an event: id and username (kept as written then).
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// One event to write.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: &'static str,
    pub actor: Option<Who<'a>>,
    pub subject: Option<Who<'a>>,
    pub details: Value,
}

impl<'a> Event<'a> {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            actor: None,
            subject: None,
            details: Value::Object(Default::default()),
        }
    }

    /// The person acted on their own account.
    pub fn by_self(kind: &'static str, who: Who<'a>) -> Self {
        Self::new(kind).actor(who).subject(who)
    }

    pub fn actor(mut self, who: Who<'a>) -> Self {
        self.actor = Some(who);
        self
    }

    pub fn subject(mut self, who: Who<'a>) -> Self {
        self.subject = Some(who);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Longest user agent kept.
const USER_AGENT_MAX: usize = 300;

pub async fn record(
    db: impl PgExecutor<'_>,
    at: OffsetDateTime,
    origin: &Origin,
    event: Event<'_>,
) -> sqlx::Result<()> {
    let agent = origin
        .user_agent
        .as_deref()
        .map(|a| a.chars().take(USER_AGENT_MAX).collect::<String>());
    sqlx::query(
        "INSERT INTO audit_events (at, event, actor_id, actor, subject_id, subject, ip, user_agent, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(at)
    .bind(event.kind)
    .bind(event.actor.map(|w| w.id))
    .bind(event.actor.map(|w| w.name))
    .bind(event.subject.map(|w| w.id))
    .bind(event.subject.map(|w| w.name))
    .bind(&origin.ip)
    .bind(agent)
    .bind(&event.details)
    .execute(db)
    .await?;
    Ok(())
}
