//! A user's credentials of every method: the list, renaming, removing (with
//! the minimum-credentials rule over every kind that counts) and the 2FA
//! switch with the preferred credential. Every query names the user, so
//! nobody reaches another account's credentials (SECURITY.md 25).

use crate::audit::{self, Event};
use crate::clock::human;
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::methods::{self, Credential};
use crate::notify::{self, Notice};
use crate::signin::trusted_browsers::{self, Voided};
use crate::store::UserRow;
use tessera::method::{MethodId, counting};
use tessera::policy::Mode;
use tessera::signin::{Mandate, Owed, owed};
use tessera::twofactor::{Removal, can_turn_on, removal};
use tessera::views::{CredentialView, CredentialsView};
use tessera::{FieldError, PortalError};
use uuid::Uuid;

fn parse_id(id: &str) -> Result<Uuid, PortalError> {
    id.trim().parse().map_err(|_| PortalError::NotFound)
}

async fn min_credentials(ctx: &RequestContext) -> Result<u32, PortalError> {
    Ok(ctx.policy().await?.min_credentials)
}

/// How many of these credentials count toward the minimum.
fn counted(credentials: &[Credential]) -> u32 {
    counting(credentials.iter().map(|c| c.method))
}

/// The credentials page: every credential, 2FA's state, the enrollment under way.
pub async fn view(ctx: &RequestContext, user: &UserRow) -> Result<CredentialsView, PortalError> {
    let pool = ctx.pool();
    let all = methods::credentials(pool, user.id)
        .await
        .map_err(db("listing credentials"))?;
    Ok(CredentialsView {
        credentials: all
            .into_iter()
            .map(|c| CredentialView {
                preferred: user.preferred_credential_id == Some(c.id),
                id: c.id.to_string(),
                method: c.method,
                nickname: c.nickname,
                detail: c.detail,
                added_at: human(c.created_at),
                last_used_at: c.last_used_at.map(human),
            })
            .collect(),
        two_factor_enabled: user.two_factor_enabled,
        minimum: min_credentials(ctx).await?,
        pending: methods::sms::enroll::pending(ctx, user).await?,
        // The session keeps the app and the passkey being added (SECURITY.md
        // 52); the web edge fills them in.
        app_setup: None,
        passkey_setup: None,
        enabled_methods: methods::enabled(pool).await.map_err(db("reading the methods"))?,
    })
}

pub async fn rename(ctx: &RequestContext, user: &UserRow, id: &str, nickname: &str) -> Result<(), PortalError> {
    let id = parse_id(id)?;
    let name = methods::nickname(nickname, true)
        .map_err(|e| PortalError::Validation(vec![e]))?
        .unwrap_or_default();
    let before: Option<String> = sqlx::query_scalar(
        "UPDATE credentials c SET nickname = $3 FROM credentials old
         WHERE c.id = $1 AND c.user_id = $2 AND old.id = c.id RETURNING old.nickname",
    )
    .bind(id)
    .bind(user.id)
    .bind(&name)
    .fetch_optional(ctx.pool())
    .await
    .map_err(db("renaming a credential"))?;
    let Some(before) = before else {
        return Err(PortalError::NotFound);
    };
    ctx.audit(
        Event::by_self(audit::CREDENTIAL_RENAMED, who(user)).details(serde_json::json!({
            "credential": id, "before": before, "after": name,
        })),
    )
    .await
}

/// Removes a credential; when that leaves fewer than the minimum with 2FA
/// on, it needs `confirm` and turns 2FA off.
pub async fn remove(ctx: &RequestContext, user: &UserRow, id: &str, confirm: bool) -> Result<(), PortalError> {
    let id = parse_id(id)?;
    let pool = ctx.pool();
    let minimum = min_credentials(ctx).await?;
    let before = methods::credentials(pool, user.id)
        .await
        .map_err(db("listing credentials"))?;
    let target = before.iter().find(|c| c.id == id).ok_or(PortalError::NotFound)?.clone();
    let needs_confirmation = |effect: Removal| {
        (effect == Removal::TurnsTwoFactorOff && !confirm).then(|| {
            PortalError::NeedsConfirmation(format!(
                "Removing “{}” leaves you fewer than {minimum} credential(s), so two-factor authentication will be turned off. Remove it anyway?",
                target.nickname
            ))
        })
    };
    if let Some(e) = needs_confirmation(removal(user.two_factor_enabled, counted(&before), minimum)) {
        return Err(e);
    }
    let method = methods::find(target.method).ok_or(PortalError::NotFound)?;
    // Clean-up outside Tessera first: if it fails nothing is removed and the
    // person can retry. It comes before the transaction, so that a request
    // never holds one connection while it waits for another.
    method.before_removal(ctx, &target).await?;

    let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
    // The user row is locked so that two removals cannot both pass the minimum check.
    let (enabled, preferred): (bool, Option<Uuid>) =
        sqlx::query_as("SELECT two_factor_enabled, preferred_credential_id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("locking a user"))?;
    let kinds: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, method FROM credentials WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("listing credentials"))?;
    if !kinds.iter().any(|(c, _)| *c == id) {
        return Err(PortalError::NotFound);
    }
    let count = counting(kinds.iter().filter_map(|(_, m)| MethodId::parse(m)));
    let effect = removal(enabled, count, minimum);
    if let Some(e) = needs_confirmation(effect) {
        return Err(e);
    }
    sqlx::query("DELETE FROM credentials WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&mut *tx)
        .await
        .map_err(db("removing a credential"))?;
    let event = Event::by_self(audit::CREDENTIAL_REMOVED, who(user)).details(serde_json::json!({
        "credential": id, "method": target.method, "nickname": target.nickname, "masked": target.masked,
    }));
    ctx.audit_in(&mut tx, event).await?;
    if effect == Removal::TurnsTwoFactorOff {
        sqlx::query("UPDATE users SET two_factor_enabled = FALSE WHERE id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(db("turning 2FA off"))?;
        let event = Event::by_self(audit::TWO_FACTOR_OFF, who(user))
            .details(serde_json::json!({"reason": "last credential removed"}));
        ctx.audit_in(&mut tx, event).await?;
    }
    // With no factor left, no browser skips a second step any more (41).
    let left = counting(
        kinds
            .iter()
            .filter(|(c, _)| *c != id)
            .filter_map(|(_, m)| MethodId::parse(m)),
    );
    if left == 0 {
        trusted_browsers::forget_all(ctx, &mut tx, user, Voided::LastCredentialRemoved).await?;
    }
    if preferred == Some(id) || preferred.is_none() {
        let next = kinds.iter().map(|(c, _)| *c).find(|c| *c != id);
        sqlx::query("UPDATE users SET preferred_credential_id = $2 WHERE id = $1")
            .bind(user.id)
            .bind(next)
            .execute(&mut *tx)
            .await
            .map_err(db("choosing a preferred credential"))?;
    }
    let removed = Notice::FactorRemoved {
        method: target.method,
        nickname: &target.nickname,
    };
    let mut notices = vec![ctx.notify_in(&mut tx, user, removed).await?];
    if effect == Removal::TurnsTwoFactorOff {
        notices.push(ctx.notify_in(&mut tx, user, Notice::TwoFactorOff).await?);
    }
    tx.commit().await.map_err(db("committing a removal"))?;
    notify::deliver(&ctx.state, notices);
    tracing::info!(user_id = %user.id, credential_id = %id, two_factor_off = effect == Removal::TurnsTwoFactorOff, "credential removed");
    Ok(())
}

/// Turns 2FA on (with enough credentials; `preferred` one of them) or off.
pub async fn switch_two_factor(
    ctx: &RequestContext,
    user: &UserRow,
    enabled: bool,
    preferred: Option<&str>,
) -> Result<(), PortalError> {
    let pool = ctx.pool();
    let mine = methods::credentials(pool, user.id)
        .await
        .map_err(db("listing credentials"))?;
    let preferred = match preferred.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => match p.parse::<Uuid>().ok().filter(|id| mine.iter().any(|m| m.id == *id)) {
            Some(id) => Some(id),
            None => {
                return Err(PortalError::Validation(vec![FieldError::new(
                    "preferred",
                    "Choose one of your credentials.",
                )]));
            }
        },
        None => user.preferred_credential_id.or_else(|| mine.first().map(|m| m.id)),
    };
    if !enabled {
        // Off only where nothing but the switch owes a factor: the same
        // rule every sign-in follows (SECURITY.md 49).
        let policy = ctx.policy().await?;
        let mandate = Mandate {
            policy: policy.mode == Mode::Mandatory,
            users_switch: false,
        };
        if owed(mandate, true, None) != Owed::Password {
            return Err(PortalError::Validation(vec![FieldError::new(
                "enabled",
                "Two-factor authentication is required for every account here: it cannot be turned off.",
            )]));
        }
    }
    let minimum = min_credentials(ctx).await?;
    if enabled && !can_turn_on(counted(&mine), minimum) {
        return Err(PortalError::Validation(vec![FieldError::new(
            "enabled",
            format!("Add at least {minimum} credential(s) before turning on two-factor authentication."),
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
    if was_on != enabled {
        let kind = if enabled {
            audit::TWO_FACTOR_ON
        } else {
            audit::TWO_FACTOR_OFF
        };
        ctx.audit_in(&mut tx, Event::by_self(kind, who(user))).await?;
    }
    let notice = if was_on && !enabled {
        // Turned back on later, it must not find browsers trusted before.
        trusted_browsers::forget_all(ctx, &mut tx, user, Voided::TwoFactorOff).await?;
        Some(ctx.notify_in(&mut tx, user, Notice::TwoFactorOff).await?)
    } else {
        None
    };
    tx.commit().await.map_err(db("committing the 2FA switch"))?;
    notify::deliver(&ctx.state, notice);
    tracing::info!(user_id = %user.id, enabled, "2FA switched");
    Ok(())
}
