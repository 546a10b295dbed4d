//! Enrolling a phone: the number is checked, a code goes to it, and the
//! phone becomes a credential only when that code comes back. Every query
//! names the enrolling account, so nobody reaches another's phones
//! (SECURITY.md 25).

use super::challenge::{self, Destination};
use super::providers::Purpose;
use crate::context::RequestContext;
use crate::errors::db;
use crate::methods::{self, Enrolling, NewCredential, SendKind};
use crate::notify;
use crate::store::UserRow;
use tessera::method::MethodId;
use tessera::otp::mask_phone;
use tessera::views::PendingEnrollment;
use tessera::{FieldError, PortalError};
use uuid::Uuid;

fn refuse(field: &str, message: &str) -> PortalError {
    PortalError::Validation(vec![FieldError::new(field, message)])
}

/// Checks the number and the name, then sends an enrollment code.
pub async fn start(ctx: &RequestContext, user: &UserRow, phone: &str, nickname: &str) -> Result<(), PortalError> {
    let mut errors = Vec::new();
    let number = crate::phone::parse(phone, &ctx.state.config.default_phone_region)
        .map_err(|e| errors.push(e))
        .ok();
    let name = methods::nickname(nickname, false)
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
    .fetch_optional(ctx.pool())
    .await
    .map_err(db("checking a number"))?;
    match owner {
        Some(id) if id == user.id => return Err(refuse("phone", "This number is already one of your phones.")),
        Some(_) => {
            return Err(refuse(
                "phone",
                "This number is enrolled by another account. Use a different number.",
            ));
        }
        None => {}
    }
    let name = name.unwrap_or_else(|| format!("Phone ending {}", &number[number.len().saturating_sub(2)..]));
    send(ctx, user, &number, Some(&name), SendKind::First).await
}

/// Sends an enrollment code to a number not yet enrolled.
async fn send(
    ctx: &RequestContext,
    user: &UserRow,
    phone: &str,
    nickname: Option<&str>,
    kind: SendKind,
) -> Result<(), PortalError> {
    let dest = Destination {
        user_id: user.id,
        username: &user.username,
        purpose: Purpose::Enroll,
        phone,
        credential_id: None,
        nickname,
        provider_user_id: None,
        kind,
    };
    challenge::send_code(ctx, dest).await
}

/// Sends the pending enrollment's code again (after the cooldown).
pub async fn resend(ctx: &RequestContext, user: &UserRow) -> Result<(), PortalError> {
    let Some(open) = challenge::open_challenge(ctx.pool(), user.id, Purpose::Enroll)
        .await
        .map_err(db("reading an enrollment"))?
    else {
        return Err(PortalError::NotFound);
    };
    send(ctx, user, &open.phone_e164, open.nickname.as_deref(), SendKind::Again).await
}

/// Checks the enrollment code; success stores the phone as a credential.
pub async fn verify(ctx: &RequestContext, user: &UserRow, code: &str, enrolling: Enrolling) -> Result<(), PortalError> {
    let (challenge, mut tx) = challenge::check_code(ctx, user, Purpose::Enroll, None, code).await?;
    let name = challenge.nickname.clone().unwrap_or_else(|| "Phone".into());
    let new = NewCredential {
        method: MethodId::Sms,
        nickname: &name,
        details: serde_json::json!({"plugin": challenge.plugin, "phone": mask_phone(&challenge.phone_e164)}),
    };
    let (id, notice) = methods::store_credential(ctx, &mut tx, user, new, enrolling).await?;
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
            return Err(refuse(
                "code",
                "This number was enrolled by another account meanwhile. Use a different number.",
            ));
        }
        Err(e) => return Err(db("storing a phone")(e)),
    }
    tx.commit().await.map_err(db("committing an enrollment"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, credential_id = %id, "phone enrolled");
    Ok(())
}

pub async fn cancel(ctx: &RequestContext, user: &UserRow) -> Result<(), PortalError> {
    challenge::cancel(ctx.pool(), user.id, Purpose::Enroll)
        .await
        .map_err(db("cancelling an enrollment"))
}

/// The phone being enrolled, if a code went to one and waits.
pub async fn pending(ctx: &RequestContext, user: &UserRow) -> Result<Option<PendingEnrollment>, PortalError> {
    let rules = ctx.policy().await?.code_policy();
    let now = ctx.now().unix_timestamp();
    Ok(challenge::open_challenge(ctx.pool(), user.id, Purpose::Enroll)
        .await
        .map_err(db("reading an enrollment"))?
        .map(|c| PendingEnrollment {
            resend_in_secs: rules.resend_wait(c.last_sent_at.unix_timestamp(), now).unwrap_or(0),
            number: c.phone_e164,
            nickname: c.nickname.unwrap_or_default(),
        }))
}
