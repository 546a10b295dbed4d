//! What every request shares: configuration, the database pool, the clock.

use crate::clock::Clock;
use crate::config::Config;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// A hash that no password matches, verified for unknown usernames so that
    /// they take as long as wrong passwords (SECURITY.md 18).
    pub dummy_hash: Arc<str>,
    /// Keys the HMAC of every one-time code we generate (SECURITY.md 2).
    pub code_key: Arc<[u8; 32]>,
    /// Seals provider secrets; none when TESSERA_SECRET_KEY is not set.
    pub sealer: Option<Arc<crate::secrets::Sealer>>,
    /// Mails security notifications; none: they go to the outbox.
    pub mailer: Option<Mailer>,
    /// Shared by the provider plugins (connection reuse).
    pub http: reqwest::Client,
    /// What `/metrics` shows (this server's own registry).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The mail transport, when SMTP is configured.
pub type Mailer = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the mailer from `TESSERA_SMTP_URL`.
pub fn mailer(config: &Config) -> anyhow::Result<Option<Mailer>> {
    let Some(url) = &config.smtp_url else {
        return Ok(None);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
        .map_err(|e| anyhow::anyhow!("TESSERA_SMTP_URL: {e}"))?
        .timeout(Some(std::time::Duration::from_secs(10)))
        .build();
    Ok(Some(transport))
}
