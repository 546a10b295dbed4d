//! The outbox: "sends" by storing the message in PostgreSQL, where
//! administrators read it on the Outbox page. Needs no account.

use super::{PluginContext, PluginInfo, Properties, ProviderError, SendRequest, Sent, SmsPlugin};
use sqlx::PgPool;

pub const INFO: PluginInfo = PluginInfo {
    id: "outbox",
    label: "Outbox (no provider: messages are stored for administrators to read)",
    owns_code: false,
    properties: &[],
    build,
};

fn build(_props: &Properties, ctx: &PluginContext) -> super::Built {
    Ok(Box::new(Outbox {
        pool: ctx.pool.clone(),
        log_messages: ctx.log_messages,
    }))
}

pub struct Outbox {
    pool: PgPool,
    log_messages: bool,
}

#[async_trait::async_trait]
impl SmsPlugin for Outbox {
    fn id(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox_messages (phone_e164, body, created_at) VALUES ($1, $2, now()) RETURNING id",
        )
        .bind(req.to)
        .bind(req.text)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| ProviderError::Unavailable(format!("storing the message: {e}")))?;
        if self.log_messages {
            // Development mode only: a newcomer can read codes in the log.
            tracing::info!(to = %req.to, body = %req.text, "outbox message (development mode)");
        }
        Ok(Sent {
            reference: Some(format!("outbox-{id}")),
            ..Sent::default()
        })
    }
}
