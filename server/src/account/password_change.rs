//! Changing one's password: the current one, a new one that meets the
//! rules, every other session ended, the owner told.

use crate::audit::{self, Event, Who};
use crate::context::RequestContext;
use crate::errors::{db, internal};
use crate::notify::{self, Notice};
use crate::signin::trusted_browsers::Voided;
use crate::store::{self, UserRow};
use tessera::PortalError;
use tessera::account::{NewPassword, lookup_key};
use tessera::error::FieldError;
use uuid::Uuid;

/// Changes the password of `user` (whose session has signed in recently:
/// the caller checks). Every session but `this_session` ends (SECURITY.md
/// 19, 22); the owner is told.
pub async fn change(
    ctx: &RequestContext,
    user: &UserRow,
    this_session: Option<Uuid>,
    current: &str,
    new: &str,
    repeat: &str,
) -> Result<(), PortalError> {
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
    let now = ctx.now();
    if !ok {
        store::record_failure(ctx.pool(), &lookup_key(&user.username), ctx.ip(), now)
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
    let this = this_session;
    let mut tx = ctx.state.pool.begin().await.map_err(db("starting a transaction"))?;
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
    let ended = super::sessions::end_all_but(&mut *tx, user.id, this)
        .await
        .map_err(db("ending other sessions"))?;
    // And every token an application holds for the account (48).
    super::app_tokens::revoke_for_user(&mut *tx, user.id, now)
        .await
        .map_err(db("revoking application tokens"))?;
    // And every trusted browser (41).
    crate::signin::trusted_browsers::forget_all(ctx, &mut tx, user, Voided::PasswordChanged).await?;
    let who = Who {
        id: user.id,
        name: &user.username,
    };
    let event = Event::by_self(audit::PASSWORD_CHANGED, who).details(serde_json::json!({"sessions_ended": ended}));
    ctx.audit_in(&mut tx, event).await?;
    let notice = ctx.notify_in(&mut tx, user, Notice::PasswordChanged).await?;
    tx.commit().await.map_err(db("committing a password change"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, sessions_ended = ended, "password changed");
    Ok(())
}
