//! Adding a passkey: the server starts a registration ceremony (kept in the
//! session with the name chosen, for five minutes), the browser creates the
//! key pair, and its answer is checked by webauthn-rs before the public key
//! is stored. A credential id belongs to one account (SECURITY.md 39).

use super::{fresh, read_response, refuse, site, use_up};
use crate::context::RequestContext;
use crate::errors::db;
use crate::methods::{self, Enrolling, KeptCeremony, NewCredential, Started};
use crate::notify;
use crate::store::UserRow;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use tessera::PortalError;
use tessera::method::MethodId;
use uuid::Uuid;
use webauthn_rs::prelude::{CredentialID, PasskeyRegistration, RegisterPublicKeyCredential};
use webauthn_rs_proto::ResidentKeyRequirement;

/// Passkeys one account may have.
pub const MAX_PASSKEYS: usize = 10;

/// A passkey being added, kept in the session until the browser answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeySetup {
    /// The name typed; blank: named after the authenticator when known.
    pub nickname: Option<String>,
    /// What the page hands to the browser.
    pub options: String,
    pub kept: KeptCeremony,
}

/// Starts adding a passkey.
pub async fn start(ctx: &RequestContext, user: &UserRow, nickname: &str) -> Result<PasskeySetup, PortalError> {
    let nickname = methods::nickname(nickname, false).map_err(|e| PortalError::Validation(vec![e]))?;
    let site = site(&ctx.state)?;
    let existing = stored_ids(ctx, user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(PortalError::Validation(vec![tessera::FieldError::new(
            "nickname",
            format!("You have {MAX_PASSKEYS} passkeys already. Remove one before adding another."),
        )]));
    }
    let name = if user.display_name.is_empty() {
        &user.username
    } else {
        &user.display_name
    };
    let (mut options, state) = site
        .start_passkey_registration(user.id, &user.username, name, Some(existing))
        .map_err(|e| {
            tracing::error!(error = %e, "starting a passkey registration");
            PortalError::MethodUnavailable(MethodId::Passkey)
        })?;
    // A key the authenticator can find by itself (a discoverable one) is
    // what lets it sign in without a username; ask for one where it can.
    // The answer is checked the same either way.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    let Started { options, kept } = Started::new(ctx, None, &options, &state)?;
    Ok(PasskeySetup {
        nickname,
        options,
        kept,
    })
}

/// The authenticator's answer: the passkey is checked and stored.
pub async fn finish(
    ctx: &RequestContext,
    user: &UserRow,
    setup: &PasskeySetup,
    response: &str,
    enrolling: Enrolling,
) -> Result<Uuid, PortalError> {
    fresh(ctx, &setup.kept)?;
    let answer: RegisterPublicKeyCredential = read_response(response)?;
    let state: PasskeyRegistration = setup.kept.state()?;
    let passkey = site(&ctx.state)?
        .finish_passkey_registration(&answer, &state)
        .map_err(|e| {
            tracing::info!(user_id = %user.id, error = %e, "passkey registration refused");
            refuse("Your browser's passkey answer was not accepted. Try again.")
        })?;
    let aaguid = aaguid(&answer);
    let nickname = setup
        .nickname
        .clone()
        .unwrap_or_else(|| model_name(aaguid).unwrap_or("Passkey").to_owned());
    let mut tx = ctx.pool().begin().await.map_err(db("starting a transaction"))?;
    use_up(ctx, &mut tx, &setup.kept).await?;
    let new = NewCredential {
        method: MethodId::Passkey,
        nickname: &nickname,
        details: serde_json::json!({"aaguid": aaguid}),
    };
    let (id, notice) = methods::store_credential(ctx, &mut tx, user, new, enrolling).await?;
    let stored = sqlx::query(
        "INSERT INTO passkeys (credential_id, webauthn_id, passkey, aaguid) VALUES ($1, $2, $3, $4)
         ON CONFLICT (webauthn_id) DO NOTHING",
    )
    .bind(id)
    .bind(passkey.cred_id().as_slice())
    .bind(Json(&passkey))
    .bind(aaguid)
    .execute(&mut *tx)
    .await
    .map_err(db("storing a passkey"))?
    .rows_affected();
    if stored == 0 {
        // Nothing is written: the credential row goes with the transaction.
        return Err(refuse(
            "This passkey is registered already. Use another, or remove it first.",
        ));
    }
    tx.commit().await.map_err(db("committing a passkey"))?;
    notify::deliver(&ctx.state, [notice]);
    tracing::info!(user_id = %user.id, credential_id = %id, "passkey added");
    Ok(id)
}

/// The credential ids of the account's passkeys (the browser is asked not
/// to register one of them again).
async fn stored_ids(ctx: &RequestContext, user_id: Uuid) -> Result<Vec<CredentialID>, PortalError> {
    sqlx::query_scalar(
        "SELECT p.webauthn_id FROM passkeys p JOIN credentials c ON c.id = p.credential_id WHERE c.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(ctx.pool())
    .await
    .map_err(db("listing passkeys"))
}

/// The authenticator model's id (AAGUID) in the answer's authenticator
/// data, when it gives one (all zeros: it keeps it to itself).
fn aaguid(answer: &RegisterPublicKeyCredential) -> Option<Uuid> {
    let object: serde_cbor_2::Value = serde_cbor_2::from_slice(answer.response.attestation_object.as_ref()).ok()?;
    let serde_cbor_2::Value::Map(map) = object else {
        return None;
    };
    let auth_data = match map.get(&serde_cbor_2::Value::Text("authData".into()))? {
        serde_cbor_2::Value::Bytes(bytes) => bytes,
        _ => return None,
    };
    // rpIdHash (32) | flags (1) | signCount (4) | AAGUID (16) | …
    let id = Uuid::from_slice(auth_data.get(37..53)?).ok()?;
    (!id.is_nil()).then_some(id)
}

/// Known authenticator models, by AAGUID (the community list
/// passkey-authenticator-aaguids): a new passkey is named after its model
/// when the person gave no name.
const MODELS: &[(&str, &str)] = &[
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
];

fn model_name(aaguid: Option<Uuid>) -> Option<&'static str> {
    let id = aaguid?.to_string();
    MODELS.iter().find(|(known, _)| *known == id).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_model_names_the_passkey_and_an_unknown_or_hidden_one_does_not() {
        let gpm: Uuid = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4".parse().unwrap();
        assert_eq!(model_name(Some(gpm)), Some("Google Password Manager"));
        assert_eq!(model_name(Some(Uuid::from_u128(7))), None);
        assert_eq!(model_name(None), None);
    }
}
