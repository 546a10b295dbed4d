//! SMS one-time codes: phones as credentials (`sms_phones`), codes from send
//! to check (`challenge`), enrollment, send budgets, and the provider
//! plugins that carry the messages (`providers`, one file each).

pub mod budget;
pub mod challenge;
pub mod enroll;
pub mod plugin_settings;
pub mod plugins;
pub mod providers;

use super::{Answer, Channel, CodeSent, Credential, Method, SendKind, Verified};
use crate::context::RequestContext;
use crate::errors::db;
use crate::state::AppState;
use crate::store::UserRow;
use challenge::Destination;
use providers::Purpose;
use sqlx::{FromRow, PgPool};
use tessera::PortalError;
use tessera::method::MethodId;
use tessera::otp::mask_phone;
use time::OffsetDateTime;
use uuid::Uuid;

/// The SMS method in the registry.
pub struct Sms;

#[derive(Debug, Clone, FromRow)]
pub struct PhoneRow {
    pub id: Uuid,
    pub user_id: Uuid,
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
        "SELECT c.id, c.user_id, c.nickname, c.created_at, c.last_used_at, s.phone_e164, s.plugin, s.provider_user_id
         FROM credentials c JOIN sms_phones s ON s.credential_id = c.id
         WHERE c.user_id = $1 ORDER BY c.created_at, c.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Texts a security notice to every phone of the account, through the
/// active plugin when it delivers our own text (a plugin that makes its own
/// codes cannot carry a notice). Best effort: failures are logged, and the
/// number of messages sent is the answer.
pub async fn tell_phones(ctx: &RequestContext, user_id: Uuid, text: &str) -> usize {
    let plugin = match plugins::active_plugin(&ctx.state).await {
        Ok(p) if !providers::owns_code(p.id()) => p,
        _ => return 0,
    };
    let Ok(phones) = phones(ctx.pool(), user_id).await else {
        return 0;
    };
    let mut sent = 0;
    for phone in phones {
        let req = providers::SendRequest {
            to: &phone.phone_e164,
            text,
            code: "",
            purpose: providers::Purpose::Notice,
            provider_user_id: None,
            lifetime_minutes: 0,
        };
        match plugin.send(&req).await {
            Ok(_) => sent += 1,
            Err(e) => tracing::warn!(error = %e, credential = %phone.id, "a security notice was not texted"),
        }
    }
    sent
}

/// One phone of a user, by its credential id.
async fn phone(pool: &PgPool, credential: &Credential) -> Result<PhoneRow, PortalError> {
    phones(pool, credential.user_id)
        .await
        .map_err(db("listing phones"))?
        .into_iter()
        .find(|p| p.id == credential.id)
        .ok_or(PortalError::NotFound)
}

impl From<PhoneRow> for Credential {
    fn from(p: PhoneRow) -> Self {
        Credential {
            id: p.id,
            user_id: p.user_id,
            method: MethodId::Sms,
            nickname: p.nickname,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            masked: mask_phone(&p.phone_e164),
            detail: p.phone_e164,
            usable: true,
        }
    }
}

/// Each place a sign-in happens keeps its own code (SECURITY.md 53).
fn sign_in_purpose(channel: Channel) -> Purpose {
    match channel {
        Channel::Browser => Purpose::Login,
        Channel::TokenEndpoint => Purpose::TokenLogin,
    }
}

#[async_trait::async_trait]
impl Method for Sms {
    fn id(&self) -> MethodId {
        MethodId::Sms
    }

    fn label(&self) -> &'static str {
        "SMS one-time codes"
    }

    fn description(&self) -> &'static str {
        "A code texted to an enrolled mobile phone."
    }

    fn plugins(&self) -> Vec<(&'static str, &'static str)> {
        providers::PLUGINS.iter().map(|p| (p.id, p.label)).collect()
    }

    async fn plugin_problems(&self, state: &AppState, plugin: &str) -> Vec<String> {
        plugins::build_stored(state, plugin).await.err().unwrap_or_default()
    }

    async fn credentials(&self, pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Credential>> {
        Ok(phones(pool, user_id).await?.into_iter().map(Credential::from).collect())
    }

    async fn challenge(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        kind: SendKind,
        channel: Channel,
    ) -> Result<(), PortalError> {
        let phone = phone(ctx.pool(), credential).await?;
        let dest = Destination {
            user_id: user.id,
            username: &user.username,
            purpose: sign_in_purpose(channel),
            phone: &phone.phone_e164,
            credential_id: Some(phone.id),
            nickname: None,
            provider_user_id: phone.provider_user_id.as_deref(),
            kind,
        };
        challenge::send_code(ctx, dest).await
    }

    async fn code_on_its_way(&self, ctx: &RequestContext, user: &UserRow) -> Result<Option<CodeSent>, PortalError> {
        let rules = ctx.policy().await?.code_policy();
        let now = ctx.now().unix_timestamp();
        Ok(challenge::open_challenge(ctx.pool(), user.id, Purpose::Login)
            .await
            .map_err(db("reading a challenge"))?
            .and_then(|c| {
                Some(CodeSent {
                    credential: c.credential_id?,
                    resend_in_secs: rules.resend_wait(c.last_sent_at.unix_timestamp(), now).unwrap_or(0),
                })
            }))
    }

    async fn verify(
        &self,
        ctx: &RequestContext,
        user: &UserRow,
        credential: &Credential,
        answer: Answer<'_>,
    ) -> Result<Verified, PortalError> {
        let purpose = match answer {
            Answer::Typed { channel, .. } => sign_in_purpose(channel),
            Answer::Ceremony { .. } => Purpose::Login,
        };
        let typed = answer.typed()?;
        let (_, tx) = challenge::check_code(ctx, user, purpose, Some(credential.id), typed).await?;
        Ok(Verified {
            tx,
            notices: Vec::new(),
        })
    }

    async fn before_removal(&self, ctx: &RequestContext, credential: &Credential) -> Result<(), PortalError> {
        let phone = phone(ctx.pool(), credential).await?;
        let Some(provider_user) = &phone.provider_user_id else {
            return Ok(());
        };
        let plugin = plugins::plugin_by_id(&ctx.state, &phone.plugin).await?;
        plugin
            .forget(provider_user)
            .await
            .map_err(|e| plugins::provider_failure(&phone.plugin, "phone", e))
    }
}
