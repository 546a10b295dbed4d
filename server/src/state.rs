//! What every request shares: configuration, the database pool, the clock.

use crate::clock::Clock;
use crate::config::Config;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
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
    pub mailer: Option<crate::notify::Mailer>,
    /// Shared by the provider plugins (connection reuse).
    pub http: reqwest::Client,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
