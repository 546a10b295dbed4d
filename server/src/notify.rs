//! Security notifications (SECURITY.md 27): when a factor is added or
//! removed, 2FA is turned off or the password changes, the account's owner
//! is told through a channel independent of the change: email over SMTP when
//! it is configured and the account has an address, otherwise the outbox
//! (`notifications` rows an administrator reads).
//!
//! The notification is written in the change's transaction, so a change is
//! never without its notice; the email goes out after the commit, and one
//! that could not be delivered keeps its error and is tried again later.
//!
//! Every notice carries a "this wasn't me" link (`/not-me?token=`, a
//! 256-bit token of which only the digest is kept) for [`NOT_ME_DAYS`]:
//! `account::not_me` reads it back.

use crate::audit::Origin;
use crate::clock::human;
use crate::state::AppState;
use lettre::message::Mailbox;
use lettre::{AsyncTransport, Message};
use sqlx::PgConnection;
use tessera::method::MethodId;
use time::OffsetDateTime;
use uuid::Uuid;

/// How long a notice's "this wasn't me" link works.
pub const NOT_ME_DAYS: i64 = 30;

/// What happened to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    FactorAdded {
        method: MethodId,
        nickname: &'a str,
    },
    FactorRemoved {
        method: MethodId,
        nickname: &'a str,
    },
    TwoFactorOff,
    PasswordChanged,
    /// A recovery code signed in; `left` are still unused.
    RecoveryCodeUsed {
        left: u32,
    },
    /// A browser was trusted to skip the second step for `days`.
    BrowserTrusted {
        device: &'a str,
        days: u32,
    },
    /// Someone with the password asked to reset two-factor sign-in.
    ResetStarted {
        ready_at: &'a str,
        cancel_link: &'a str,
    },
}

impl Notice<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::FactorAdded { .. } => "factor_added",
            Notice::FactorRemoved { .. } => "factor_removed",
            Notice::TwoFactorOff => "two_factor_off",
            Notice::PasswordChanged => "password_changed",
            Notice::RecoveryCodeUsed { .. } => "recovery_code_used",
            Notice::BrowserTrusted { .. } => "browser_trusted",
            Notice::ResetStarted { .. } => "reset_started",
        }
    }

    fn subject(&self) -> &'static str {
        match self {
            Notice::FactorAdded { .. } => "A sign-in method was added to your account",
            Notice::FactorRemoved { .. } => "A sign-in method was removed from your account",
            Notice::TwoFactorOff => "Two-factor authentication was turned off",
            Notice::PasswordChanged => "Your password was changed",
            Notice::RecoveryCodeUsed { .. } => "A recovery code was used to sign in",
            Notice::BrowserTrusted { .. } => "A browser no longer asks for your second factor",
            Notice::ResetStarted { .. } => "Someone asked to reset your two-factor sign-in",
        }
    }

    fn what(&self) -> String {
        match self {
            Notice::FactorAdded { method, nickname } => {
                format!("The {} “{nickname}” was added as a sign-in method.", noun(*method))
            }
            Notice::FactorRemoved { method, nickname } => {
                format!(
                    "The {} “{nickname}” was removed from your sign-in methods.",
                    noun(*method)
                )
            }
            Notice::TwoFactorOff => {
                "Two-factor authentication was turned off: a password alone now signs in to your account.".into()
            }
            Notice::PasswordChanged => {
                "Your password was changed, and every other session of your account was signed out.".into()
            }
            Notice::RecoveryCodeUsed { left } => format!(
                "One of your recovery codes was used to sign in; it will not work again. {left} of them are left.{}",
                if tessera::recovery::running_low(*left) {
                    " Make a new set on the 2FA credentials page."
                } else {
                    ""
                }
            ),
            Notice::ResetStarted { ready_at, cancel_link } => format!(
                "Someone who knows your password said they lost every sign-in method and asked to reset two-factor sign-in. \
                 Unless it is cancelled, from {ready_at} (UTC) your password alone signs in from the browser that asked for it, and your sign-in methods are removed.\n\n\
                 If this was not you, cancel it now: {cancel_link}\nThen change your password. Signing in with one of your sign-in methods cancels it too."
            ),
            Notice::BrowserTrusted { device, days } => format!(
                "{device} was trusted at sign-in: for {days} days it signs in to your account with the password alone. You can forget it on your Sessions page."
            ),
        }
    }
}

/// What a credential of a method is called in a sentence.
fn noun(method: MethodId) -> &'static str {
    match method {
        MethodId::Sms => "phone",
        MethodId::Totp => "authenticator app",
        MethodId::RecoveryCode => "set of recovery codes",
        MethodId::Passkey => "passkey",
    }
}

/// The account being told.
pub struct Recipient<'a> {
    pub user_id: Uuid,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
}

/// Writes the notification inside the change's transaction; returns its id
/// for [`deliver`] after the commit.
pub async fn queue(
    tx: &mut PgConnection,
    state: &AppState,
    to: &Recipient<'_>,
    notice: Notice<'_>,
    now: OffsetDateTime,
    origin: &Origin,
) -> sqlx::Result<i64> {
    let address = to.email.filter(|e| !e.trim().is_empty());
    let channel = if state.mailer.is_some() && address.is_some() {
        "email"
    } else {
        "outbox"
    };
    let not_me = crate::secrets::random_token();
    let body = format!(
        "Hello {name},\n\n{what}\n\nWhen: {when} (UTC)\nFrom: {ip}{agent}\n\n\
         If this was you, there is nothing to do.\n\n\
         If it was not you, open this link: {origin}/not-me?token={not_me}\n\
         Once you sign in, it signs out every other session, forgets the browsers that skip the second step, \
         cancels a waiting reset of two-factor sign-in and tells your administrator. \
         Then change your password and check your sign-in methods. \
         If you cannot sign in any more, the link still tells your administrator. It works for {NOT_ME_DAYS} days.\n",
        origin = state.config.public_origin(),
        name = to.display_name,
        what = notice.what(),
        when = human(now),
        ip = origin.ip,
        agent = origin
            .user_agent
            .as_deref()
            .map(|a| format!(", {}", a.chars().take(120).collect::<String>()))
            .unwrap_or_default(),
    );
    sqlx::query_scalar(
        "INSERT INTO notifications (user_id, kind, to_address, subject, body, channel, created_at, not_me_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(to.user_id)
    .bind(notice.kind())
    .bind(address)
    .bind(notice.subject())
    .bind(body)
    .bind(channel)
    .bind(now)
    .bind(crate::secrets::token_digest(&not_me))
    .fetch_one(tx)
    .await
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    to_address: Option<String>,
    subject: String,
    body: String,
}

/// Mails these queued notifications in the background, after their change
/// committed; the request that made them does not wait for SMTP.
pub fn deliver(state: &AppState, ids: impl IntoIterator<Item = i64>) {
    if state.mailer.is_none() {
        return;
    }
    let ids: Vec<i64> = ids.into_iter().collect();
    let state = state.clone();
    tokio::spawn(async move {
        for id in ids {
            if let Err(e) = deliver_now(&state, Some(id)).await {
                tracing::warn!(error = %e, "delivering notifications");
            }
        }
    });
}

/// Mails pending email notifications and records each outcome.
pub async fn deliver_now(state: &AppState, id: Option<i64>) -> anyhow::Result<()> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let pending: Vec<Pending> = sqlx::query_as(
        "SELECT id, to_address, subject, body FROM notifications
         WHERE channel = 'email' AND sent_at IS NULL AND ($1::BIGINT IS NULL OR id = $1)
           AND created_at > now() - INTERVAL '1 day' ORDER BY id LIMIT 100",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    let from: Mailbox = state.config.smtp_from.parse()?;
    for n in pending {
        let outcome = async {
            let to: Mailbox = n.to_address.as_deref().unwrap_or_default().parse()?;
            let message = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(format!("Tessera: {}", n.subject))
                .body(n.body.clone())?;
            mailer.send(message).await?;
            anyhow::Ok(())
        }
        .await;
        let now = state.clock.now();
        let (sent_at, error) = match outcome {
            Ok(()) => (Some(now), None),
            Err(e) => {
                tracing::warn!(notification = n.id, error = %e, "a notification email was not delivered");
                (None, Some(e.to_string()))
            }
        };
        sqlx::query("UPDATE notifications SET sent_at = $2, error = $3 WHERE id = $1")
            .bind(n.id)
            .bind(sent_at)
            .bind(error)
            .execute(&state.pool)
            .await?;
    }
    Ok(())
}
