//! Passkeys and security keys (WebAuthn, through `webauthn-rs`): the
//! relying party as `TESSERA_PUBLIC_URL` names it, passkeys as credentials
//! (`passkeys`: webauthn-rs's record, the highest counter seen), and the
//! second-step ceremony. Adding one is [`register`]. The browser's part is
//! `public/passkey.js`; the session keeps each ceremony's state
//! ([`KeptCeremony`]) until the browser answers.

pub mod passwordless;
pub mod register;

use super::{Answer, Credential, KeptCeremony, Method, Started, Verified};
use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::db;
use crate::state::AppState;
use crate::store::UserRow;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};
use tessera::method::MethodId;
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey as StoredPasskey, PasskeyAuthentication, PublicKeyCredential, Url, Webauthn,
    WebauthnBuilder, WebauthnError,
};

/// The passkey method in the registry.
pub struct Passkey;

/// How long the browser has to answer a ceremony (SECURITY.md 39: within
/// five minutes).
pub const CEREMONY_SECS: i64 = 5 * 60;

/// The field a page's passkey answer comes in (the second step's `code`).
const FIELD: &str = "code";

/// The relying party: this site, by the host of `TESSERA_PUBLIC_URL`. An
/// IP address cannot be one (browsers refuse it), so a server named by one
/// has no passkeys: the answer says why.
pub fn relying_party(state: &AppState) -> Result<Webauthn, String> {
    let origin = Url::parse(state.config.public_origin()).map_err(|e| format!("TESSERA_PUBLIC_URL: {e}"))?;
    let Some(rp_id) = origin.domain() else {
        return Err(
            "Passkeys need TESSERA_PUBLIC_URL to name this site by a domain name (localhost will do for a trial), not an IP address"
                .to_owned(),
        );
    };
    WebauthnBuilder::new(rp_id, &origin)
        .and_then(|b| b.rp_name("Tessera").build())
        .map_err(|e| format!("the passkey settings derived from TESSERA_PUBLIC_URL are not valid: {e}"))
}

/// The relying party, or `MethodUnavailable` (logged) when there is none.
fn site(state: &AppState) -> Result<Webauthn, PortalError> {
    relying_party(state).map_err(|why| {
        tracing::error!("{why}");
        PortalError::MethodUnavailable(MethodId::Passkey)
    })
}

/// A refusal shown beside the passkey button.
pub(crate) fn refuse(message: &str) -> PortalError {
    PortalError::Validation(vec![FieldError::new(FIELD, message)])
}

/// Said when a passkey step gets no browser answer (a form sent with
/// JavaScript off, or a code typed).
const NEEDS_BROWSER: &str = "Use your passkey: press the button and follow your browser. This needs JavaScript.";

/// The browser's answer, read; what cannot be read is refused plainly.
pub(crate) fn read_response<T: serde::de::DeserializeOwned>(response: &str) -> Result<T, PortalError> {
    if response.trim().is_empty() {
        return Err(refuse(NEEDS_BROWSER));
    }
    serde_json::from_str(response).map_err(|_| refuse("Your browser's passkey answer could not be read. Try again."))
}

/// Whether a kept ceremony is still answerable (five minutes).
pub(crate) fn fresh(ctx: &RequestContext, kept: &KeptCeremony) -> Result<(), PortalError> {
    let age = ctx.now().unix_timestamp() - kept.issued_at;
    if !(0..=CEREMONY_SECS).contains(&age) {
        return Err(refuse(
            "This passkey request has expired. Press the button to try again.",
        ));
    }
    Ok(())
}

/// Records the ceremony as answered, in the transaction that stores what
/// it proved: a second answer to it (a double submit, a replay) is refused.
pub(crate) async fn use_up(
    ctx: &RequestContext,
    tx: &mut sqlx::PgConnection,
    kept: &KeptCeremony,
) -> Result<(), PortalError> {
    let now = ctx.now();
    sqlx::query("DELETE FROM passkey_ceremonies_used WHERE used_at < $1")
        .bind(now - time::Duration::seconds(2 * CEREMONY_SECS))
        .execute(&mut *tx)
        .await
        .map_err(db("clearing answered ceremonies"))?;
    let first = sqlx::query("INSERT INTO passkey_ceremonies_used (id, used_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(kept.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("recording an answered ceremony"))?
        .rows_affected();
    if first == 0 {
        return Err(refuse(
            "This passkey request was answered already. Press the button to try again.",
        ));
    }
    Ok(())
}

/// What the person is told when webauthn-rs refuses an answer; the reason
/// goes to the log and the audit.
fn refusal_words(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::CredentialPossibleCompromise => {
            "This passkey's counter went backwards, which can mean it was copied. It was refused; use another way and tell your administrator."
        }
        WebauthnError::UserNotVerified => {
            "Your passkey did not check that it is you (PIN, fingerprint or face). Try again."
        }
        _ => "That passkey answer was not accepted. Try again, or use another way.",
    }
}

#[derive(FromRow)]
struct PasskeyRow {
    id: Uuid,
    user_id: Uuid,
    nickname: String,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
}

/// A passkey as stored: webauthn-rs's record and the counter seen.
#[derive(FromRow)]
struct StoredRow {
    passkey: Json<StoredPasskey>,
    sign_count: i64,
}

/// Audits a refused answer (SECURITY.md 39: a counter going backwards is
/// audited, and so is any other forged or foreign answer).
async fn audit_refusal(ctx: &RequestContext, user: &UserRow, credential: Option<Uuid>, reason: &str) {
    let event = Event::by_self(audit::PASSKEY_REFUSED, who(user))
        .details(serde_json::json!({"credential": credential, "reason": reason}));
    if let Err(e) = ctx.audit(event).await {
        tracing::error!(error = %e, "auditing a refused passkey");
    }
}

#[async_trait::async_trait]
impl Method for Passkey {
    fn id(&self) -> MethodId {
        MethodId::Passkey
    }

    fn label(&self) -> &'static str {
        "Passkeys and security keys"
    }

    fn description(&self) -> &'static str {
        "A passkey on a phone or computer (fingerprint, face or screen lock) or a security key such as a YubiKey. Needs JavaScript."
    }

    async fn plugin_problems(&self, state: &AppState, _plugin: &str) -> Vec<String> {
        match relying_party(state) {
            Ok(_) => Vec::new(),
            Err(why) => vec![why],
        }
    }

    async fn credentials(&self, pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(
            "SELECT c.id, c.user_id, c.nickname, c.created_at, c.last_used_at
             FROM credentials c JOIN passkeys p ON p.credential_id = c.id
             WHERE c.user_id = $1 ORDER BY c.created_at, c.id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Credential {
                id: r.id,
                user_id: r.user_id,
                method: MethodId::Passkey,
                nickname: r.nickname,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                detail: String::new(),
                masked: String::new(),
                usable: true,
            })
            .collect())
    }

    async fn ceremony(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
    ) -> Result<Option<Started>, PortalError> {
        let site = site(&ctx.state)?;
        let stored: Option<Json<StoredPasskey>> = sqlx::query_scalar(
            "SELECT p.passkey FROM passkeys p JOIN credentials c ON c.id = p.credential_id
             WHERE p.credential_id = $1 AND c.user_id = $2",
        )
        .bind(credential.id)
        .bind(user.id)
        .fetch_optional(ctx.pool())
        .await
        .map_err(db("reading a passkey"))?;
        let Json(passkey) = stored.ok_or(PortalError::NotFound)?;
        let (options, state) = site.start_passkey_authentication(&[passkey]).map_err(|e| {
            tracing::error!(error = %e, "starting a passkey sign-in");
            PortalError::MethodUnavailable(MethodId::Passkey)
        })?;
        Started::new(ctx, Some(credential.id), &options, &state).map(Some)
    }

    async fn verify(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        answer: Answer<'_>,
    ) -> Result<Verified, PortalError> {
        let Answer::Ceremony { kept, response } = answer else {
            return Err(refuse(NEEDS_BROWSER));
        };
        if kept.credential != Some(credential.id) {
            return Err(refuse(
                "This passkey request was for another sign-in. Press the button to try again.",
            ));
        }
        fresh(ctx, kept)?;
        let answer: PublicKeyCredential = read_response(response)?;
        let state: PasskeyAuthentication = kept.state()?;
        let check = |site: &Webauthn, _: &StoredPasskey| site.finish_passkey_authentication(&answer, &state);
        check_answer(ctx, user, credential.id, kept, Purpose::SecondStep, check).await
    }
}

/// What a passkey's answer is for (the audit says).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// The second step after the password.
    SecondStep,
    /// A sign-in with the passkey alone.
    Passwordless,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SecondStep => "login",
            Purpose::Passwordless => "passwordless",
        }
    }
}

/// Checks an answer for the account's passkey `credential` under a row
/// lock (of two answers, the second sees the counter the first stored):
/// `check` is webauthn-rs's verdict; then the counter must be past the
/// highest seen, and the ceremony is recorded as answered. The proof is
/// used up inside the returned transaction, which the caller commits.
pub(crate) async fn check_answer(
    ctx: &RequestContext,
    user: &UserRow,
    credential: Uuid,
    kept: &KeptCeremony,
    purpose: Purpose,
    check: impl FnOnce(&Webauthn, &StoredPasskey) -> Result<AuthenticationResult, WebauthnError>,
) -> Result<Verified, PortalError> {
    let site = site(&ctx.state)?;
    let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
    let row: Option<StoredRow> = sqlx::query_as(
        "SELECT p.passkey, p.sign_count FROM passkeys p JOIN credentials c ON c.id = p.credential_id
         WHERE p.credential_id = $1 AND c.user_id = $2 FOR UPDATE OF p",
    )
    .bind(credential)
    .bind(user.id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("reading a passkey"))?;
    let Some(StoredRow {
        passkey: Json(mut passkey),
        sign_count,
    }) = row
    else {
        return Err(PortalError::NotFound);
    };
    let result = match check(&site, &passkey) {
        Ok(result) => result,
        Err(e) => {
            drop(tx);
            tracing::info!(user_id = %user.id, error = %e, "passkey answer refused");
            audit_refusal(ctx, user, Some(credential), &e.to_string()).await;
            return Err(refuse(refusal_words(&e)));
        }
    };
    if counter_went_back(&result, sign_count) {
        drop(tx);
        tracing::warn!(user_id = %user.id, %credential, "passkey counter went backwards");
        audit_refusal(ctx, user, Some(credential), "counter went backwards").await;
        return Err(refuse(refusal_words(&WebauthnError::CredentialPossibleCompromise)));
    }
    use_up(ctx, &mut tx, kept).await?;
    passkey.update_credential(&result);
    sqlx::query("UPDATE passkeys SET passkey = $2, sign_count = GREATEST(sign_count, $3) WHERE credential_id = $1")
        .bind(credential)
        .bind(Json(&passkey))
        .bind(i64::from(result.counter()))
        .execute(&mut *tx)
        .await
        .map_err(db("storing a passkey's counter"))?;
    let event = Event::by_self(audit::CODE_VERIFIED, who(user)).details(serde_json::json!({
        "purpose": purpose.as_str(), "method": MethodId::Passkey, "credential": credential,
        "user_verified": result.user_verified(),
    }));
    ctx.audit_in(&mut tx, event).await?;
    Ok(Verified {
        tx,
        notices: Vec::new(),
    })
}

/// Whether an answer's signature counter is not past the highest seen
/// (both zero: a synced passkey, which keeps no counter).
fn counter_went_back(result: &AuthenticationResult, highest_seen: i64) -> bool {
    let counter = i64::from(result.counter());
    (counter > 0 || highest_seen > 0) && counter <= highest_seen
}
