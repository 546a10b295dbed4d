//! Tessera's server: configuration, PostgreSQL store, sessions, the HTTP
//! stack and the administrator's command line.

pub mod account;
pub mod admin;
pub mod allocator;
pub mod audit;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod context;
pub mod errors;
pub mod methods;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod otp;
pub mod password;
pub mod phone;
pub mod secrets;
pub mod session_in_use;
pub mod settings;
pub mod signin;
pub mod state;
pub mod store;
pub mod users;
pub mod web;

use anyhow::Context;
use clock::Clock;
use config::{Config, Environment};
use leptos::prelude::LeptosOptions;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_sessions_sqlx_store::PostgresStore;

/// The migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects and brings the schema up to date (ours and the session store's).
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(config.database_url.expose_secret())
        .await
        .context("connecting to PostgreSQL (check TESSERA_DATABASE_URL)")?;
    MIGRATOR.run(&pool).await.context("applying migrations")?;
    PostgresStore::new(pool.clone())
        .migrate()
        .await
        .context("creating the session table")?;
    Ok(pool)
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("tessera")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(match config.environment {
            Environment::Development => leptos::config::Env::DEV,
            Environment::Production => leptos::config::Env::PROD,
        })
        .build()
}

/// Builds the shared state; the dummy hash costs one Argon2 run at start.
pub async fn state(config: Config, pool: PgPool, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let dummy_hash = password::hash(web::csrf::CsrfToken::new().reveal().to_owned()).await?;
    let code_key = match &config.secret_key {
        Some(key) => key.0,
        None => {
            tracing::warn!(
                "TESSERA_SECRET_KEY is not set: a random key keys code hashes, so codes sent before a restart \
                 stop working and several servers on one database cannot check each other's codes"
            );
            otp::random_key()
        }
    };
    let http = reqwest::Client::builder()
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    let sealer = config
        .secret_key
        .as_ref()
        .map(|key| Arc::new(secrets::Sealer::from_secret(&key.0)));
    methods::sms::plugin_settings::seal_plain_secrets(&pool, sealer.as_deref()).await?;
    let mailer = state::mailer(&config)?;
    Ok(AppState {
        mailer,
        leptos_options: leptos_options(&config),
        pool,
        config: Arc::new(config),
        clock,
        dummy_hash: dummy_hash.into(),
        code_key: Arc::new(code_key),
        sealer,
        http,
        metrics: Arc::new(metrics::Metrics::new()),
    })
}

/// Serves until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = web::session_store::Sessions::new(state.pool.clone());
    let cleanup = tokio::spawn(housekeeping(state.clone(), store.clone()));
    let trim = tokio::spawn(allocator::give_back_when_quiet(password::IDLE_RELEASE));
    let logouts = tokio::spawn(oidc::backchannel::run(state.clone()));
    let app = web::router(state, store);
    let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    cleanup.abort();
    trim.abort();
    logouts.abort();
    result.context("serving HTTP")
}

/// Deletes expired sessions, stale sign-in failures and the SMS sends no
/// budget counts any more, and retries undelivered email, once an hour.
async fn housekeeping(state: AppState, store: web::session_store::Sessions) {
    use tower_sessions::ExpiredDeletion;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions");
        }
        let before = state.clock.now() - time::Duration::days(1);
        if let Err(e) = store::prune_failures(&state.pool, before).await {
            tracing::warn!(error = %e, "pruning sign-in failures");
        }
        if let Err(e) = methods::sms::budget::prune(&state.pool, state.clock.now()).await {
            tracing::warn!(error = %e, "pruning counted SMS sends");
        }
        // Emails a crash or an SMTP outage kept from going out.
        if let Err(e) = notify::deliver_retries(&state).await {
            tracing::warn!(error = %e, "delivering notifications");
        }
    }
}
