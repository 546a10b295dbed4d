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
//! `account::not_me` reads it back. A link that acts on an account is never
//! stored (SECURITY.md 57): the stored body holds a marker in its place, and
//! the link, kept in memory by [`Queued`], is written in as the email goes
//! out. An email retried later (after an SMTP outage or a crash) gets a new
//! "this wasn't me" link, whose digest replaces the old one; a reset's
//! cancel link cannot be made again, so a retried notice says how else to
//! cancel. The outbox (no SMTP) shows the markers: the links go by email
//! only.

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

/// Where the "this wasn't me" link stands in a stored body.
const NOT_ME_MARK: &str = "[the “this wasn't me” link, sent by email only]";
/// Where a reset's cancel link stands in a stored body.
const CANCEL_MARK: &str = "[the link that cancels it, sent by email only]";
/// What a retried reset notice says instead of the cancel link, which only
/// the request that started the reset ever held.
const CANCEL_BY_SIGNING_IN: &str =
    "sign in to Tessera with one of your sign-in methods (that cancels it), or ask your administrator";

/// A link that acts on an account: in memory only, never logged.
pub struct LiveLink(String);

impl std::fmt::Debug for LiveLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveLink(<redacted>)")
    }
}

/// A notification written in its change's transaction, with the links its
/// email carries (held here, never stored): hand it to [`deliver`] after the
/// commit.
#[derive(Debug)]
pub struct Queued {
    id: i64,
    not_me: LiveLink,
    cancel: Option<LiveLink>,
}

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
    /// Someone with the password asked to reset two-factor sign-in;
    /// `cancel_link` goes only into the email, never into the stored body.
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
            Notice::ResetStarted { ready_at, .. } => format!(
                "Someone who knows your password said they lost every sign-in method and asked to reset two-factor sign-in. \
                 Unless it is cancelled, from {ready_at} (UTC) your password alone signs in from the browser that asked for it, and your sign-in methods are removed.\n\n\
                 If this was not you, cancel it now: {CANCEL_MARK}\nThen change your password. Signing in with one of your sign-in methods cancels it too."
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

/// Writes the notification inside the change's transaction (its links as
/// markers, the "this wasn't me" token as a digest); the answer goes to
/// [`deliver`] after the commit.
pub async fn queue(
    tx: &mut PgConnection,
    state: &AppState,
    to: &Recipient<'_>,
    notice: Notice<'_>,
    now: OffsetDateTime,
    origin: &Origin,
) -> sqlx::Result<Queued> {
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
         If it was not you, open this link: {NOT_ME_MARK}\n\
         Once you sign in, it signs out every other session, forgets the browsers that skip the second step, \
         cancels a waiting reset of two-factor sign-in and tells your administrator. \
         Then change your password and check your sign-in methods. \
         If you cannot sign in any more, the link still tells your administrator. It works for {NOT_ME_DAYS} days.\n",
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
    let id = sqlx::query_scalar(
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
    .await?;
    let cancel = match notice {
        Notice::ResetStarted { cancel_link, .. } => Some(LiveLink(cancel_link.to_owned())),
        _ => None,
    };
    Ok(Queued {
        id,
        not_me: not_me_link(state, &not_me),
        cancel,
    })
}

fn not_me_link(state: &AppState, token: &str) -> LiveLink {
    LiveLink(format!("{}/not-me?token={token}", state.config.public_origin()))
}

/// A stored body with its links written in: the live ones a [`Queued`]
/// holds, or, for a retry, a new "this wasn't me" link and the other way to
/// cancel a reset.
fn render(body: &str, not_me: &LiveLink, cancel: Option<&LiveLink>) -> String {
    body.replace(NOT_ME_MARK, &not_me.0)
        .replace(CANCEL_MARK, cancel.map_or(CANCEL_BY_SIGNING_IN, |c| c.0.as_str()))
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    to_address: Option<String>,
    subject: String,
    body: String,
}

/// Mails these queued notifications in the background, after their change
/// committed, with the links they hold; the request that made them does not
/// wait for SMTP. Without SMTP the links are dropped: the outbox shows the
/// markers.
pub fn deliver(state: &AppState, queued: impl IntoIterator<Item = Queued>) {
    if state.mailer.is_none() {
        return;
    }
    let queued: Vec<Queued> = queued.into_iter().collect();
    let state = state.clone();
    tokio::spawn(async move {
        for q in queued {
            if let Err(e) = send(&state, Some(&q)).await {
                tracing::warn!(error = %e, "delivering notifications");
            }
        }
    });
}

/// How long after its change a notice that has not gone out is retried by
/// [`deliver_retries`] (its own delivery, just after the commit, is
/// normally done by then: two would send two links).
const RETRY_AFTER_MINUTES: i64 = 5;

/// Mails the email notifications that did not go out (an SMTP outage, a
/// crash), each with a new "this wasn't me" link, and records each outcome.
pub async fn deliver_retries(state: &AppState) -> anyhow::Result<()> {
    send(state, None).await
}

/// Mails `queued` (with its links), or every email notification left
/// unsent for a while (with new links), and records each outcome.
async fn send(state: &AppState, queued: Option<&Queued>) -> anyhow::Result<()> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let now = state.clock.now();
    let pending: Vec<Pending> = sqlx::query_as(
        "SELECT id, to_address, subject, body FROM notifications
         WHERE channel = 'email' AND sent_at IS NULL AND created_at > $2 - INTERVAL '1 day'
           AND ($1::BIGINT IS NULL AND created_at < $3 OR id = $1) ORDER BY id LIMIT 100",
    )
    .bind(queued.map(|q| q.id))
    .bind(now)
    .bind(now - time::Duration::minutes(RETRY_AFTER_MINUTES))
    .fetch_all(&state.pool)
    .await?;
    let from: Mailbox = state.config.smtp_from.parse()?;
    for n in pending {
        let body = match queued {
            Some(q) => render(&n.body, &q.not_me, q.cancel.as_ref()),
            None => {
                // The first link never reached anyone: a new one replaces it.
                let token = crate::secrets::random_token();
                sqlx::query("UPDATE notifications SET not_me_hash = $2 WHERE id = $1 AND sent_at IS NULL")
                    .bind(n.id)
                    .bind(crate::secrets::token_digest(&token))
                    .execute(&state.pool)
                    .await?;
                render(&n.body, &not_me_link(state, &token), None)
            }
        };
        let outcome = async {
            let to: Mailbox = n.to_address.as_deref().unwrap_or_default().parse()?;
            let message = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(format!("Tessera: {}", n.subject))
                .body(body)?;
            mailer.send(message).await?;
            anyhow::Ok(())
        }
        .await;
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
