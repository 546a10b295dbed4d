//! The SMS plugins as configured: which one handles SMS now, building one
//! from its stored properties, choosing one from the command line, and what
//! a provider's failure means to the person.

use super::plugin_settings::{self, Saved};
use super::providers::{self, PluginContext, Properties, ProviderError, SendRequest, Sent, SmsPlugin, Verdict};
use crate::audit::{self, Event, Origin};
use crate::errors::db;
use crate::metrics::{Metrics, ProviderCall, ProviderOutcome};
use crate::secrets::Sealer;
use crate::state::AppState;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Instant;
use tessera::method::MethodId;
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;

/// The plugin that handles SMS now, built from its stored properties. Read on
/// each use, so a change applies to the next request.
pub async fn active_plugin(state: &AppState) -> Result<Box<dyn SmsPlugin>, PortalError> {
    let row: Option<(bool, String)> =
        sqlx::query_as("SELECT enabled, plugin FROM method_settings WHERE method = 'sms'")
            .fetch_optional(&state.pool)
            .await
            .map_err(db("reading the SMS method"))?;
    match row {
        Some((true, plugin)) => plugin_by_id(state, &plugin).await,
        _ => Err(PortalError::MethodUnavailable(MethodId::Sms)),
    }
}

fn context(state: Option<&AppState>, pool: &PgPool) -> PluginContext {
    PluginContext {
        http: state.map_or_else(reqwest::Client::new, |s| s.http.clone()),
        pool: pool.clone(),
        log_messages: state.is_some_and(|s| s.config.environment == crate::config::Environment::Development),
    }
}

/// Every problem with a plugin's properties: unknown names and whatever
/// keeps it from being built (missing, malformed, out of range).
pub fn check_properties(pool: &PgPool, id: &str, props: &Properties) -> Vec<String> {
    let known: Vec<&str> = providers::find(id)
        .map(|p| p.properties.iter().map(|prop| prop.name).collect())
        .unwrap_or_default();
    let mut problems = providers::build(id, props, &context(None, pool))
        .err()
        .unwrap_or_default();
    problems.extend(
        props
            .0
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("{id} has no property `{k}`")),
    );
    problems
}

/// Makes `id` the SMS plugin with these properties (the command line's
/// `sms use`), after checking that it builds from them; every problem is
/// listed and nothing is saved then. Audited, without the values.
pub async fn choose_plugin(
    pool: &PgPool,
    now: OffsetDateTime,
    sealer: Option<&Sealer>,
    id: &str,
    props: serde_json::Map<String, serde_json::Value>,
) -> Result<(), Vec<String>> {
    let props = Properties(props);
    let problems = check_properties(pool, id, &props);
    if !problems.is_empty() {
        return Err(problems);
    }
    let fail = |e: sqlx::Error| vec![format!("saving: {e}")];
    let mut tx = pool.begin().await.map_err(fail)?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM plugin_settings WHERE plugin = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?
        .unwrap_or(0);
    if plugin_settings::store_plugin(&mut *tx, sealer, id, &props.0, version)
        .await
        .map_err(|e| vec![e])?
        != Saved::Done
    {
        return Err(vec!["the settings changed while saving; try again".into()]);
    }
    let before: Option<(bool, String)> = sqlx::query_as(
        "UPDATE method_settings m SET plugin = $1, enabled = TRUE, version = m.version + 1 FROM method_settings old
         WHERE m.method = 'sms' AND old.method = m.method RETURNING old.enabled, old.plugin",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(fail)?;
    let event = Event::new(audit::ADMIN_METHOD).details(serde_json::json!({
        "method": "sms",
        "before": before.map(|(enabled, plugin)| serde_json::json!({"enabled": enabled, "plugin": plugin})),
        "after": {"enabled": true, "plugin": id},
        "properties_set": props.0.keys().collect::<Vec<_>>(),
        "via": "command line",
    }));
    let origin = Origin {
        ip: "command line".into(),
        user_agent: None,
    };
    audit::record(&mut *tx, now, &origin, event).await.map_err(fail)?;
    tx.commit().await.map_err(fail)
}

/// A plugin built from its stored settings, or what keeps it from being built.
pub async fn build_stored(state: &AppState, id: &str) -> Result<Box<dyn SmsPlugin>, Vec<String>> {
    let record = plugin_settings::plugin(&state.pool, state.sealer.as_deref(), id)
        .await
        .map_err(|e| vec![e.to_string()])?;
    let plugin = providers::build(id, &record.properties, &context(Some(state), &state.pool))?;
    Ok(Box::new(Measured {
        plugin,
        metrics: state.metrics.clone(),
    }))
}

/// A plugin whose every call is timed and counted for `/metrics`.
struct Measured {
    plugin: Box<dyn SmsPlugin>,
    metrics: Arc<Metrics>,
}

fn outcome<T>(result: &Result<T, ProviderError>) -> ProviderOutcome {
    match result {
        Ok(_) => ProviderOutcome::Ok,
        Err(ProviderError::InvalidNumber(_)) => ProviderOutcome::InvalidNumber,
        Err(ProviderError::Misconfigured(_)) => ProviderOutcome::Misconfigured,
        Err(ProviderError::RateLimited { .. }) => ProviderOutcome::RateLimited,
        Err(ProviderError::Unavailable(_)) => ProviderOutcome::Unavailable,
    }
}

#[async_trait::async_trait]
impl SmsPlugin for Measured {
    fn id(&self) -> &'static str {
        self.plugin.id()
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let started = Instant::now();
        let result = self.plugin.send(req).await;
        let outcome = outcome(&result);
        self.metrics
            .provider_call(self.id(), ProviderCall::Send, outcome, started.elapsed());
        self.metrics
            .code_sent(self.id(), outcome, crate::phone::region_of(req.to));
        result
    }

    async fn check(&self, to: &str, sent: &Sent, code: &str) -> Result<Verdict, ProviderError> {
        let started = Instant::now();
        let result = self.plugin.check(to, sent, code).await;
        self.metrics
            .provider_call(self.id(), ProviderCall::Check, outcome(&result), started.elapsed());
        result
    }

    async fn forget(&self, provider_user_id: &str) -> Result<(), ProviderError> {
        self.plugin.forget(provider_user_id).await
    }
}

/// A plugin by id, with its stored properties.
pub async fn plugin_by_id(state: &AppState, id: &str) -> Result<Box<dyn SmsPlugin>, PortalError> {
    build_stored(state, id).await.map_err(|errors| {
        tracing::error!(plugin = id, problems = %errors.join("; "), "the SMS plugin's settings are incomplete");
        PortalError::MethodUnavailable(MethodId::Sms)
    })
}

/// What the person sees for a provider failure (PROVIDERS.md, "Mapping
/// failures"); the detail goes to the log for the administrator.
pub fn provider_failure(plugin: &str, field: &str, e: ProviderError) -> PortalError {
    match e {
        ProviderError::InvalidNumber(detail) => {
            tracing::info!(plugin, %detail, "provider refused the number");
            PortalError::Validation(vec![FieldError::new(
                field,
                "This number can't receive codes. Check it, or use another number.",
            )])
        }
        ProviderError::RateLimited {
            retry_after_secs,
            detail,
        } => {
            tracing::warn!(plugin, %detail, "provider rate limit");
            PortalError::TooManyMessages {
                retry_after_secs: retry_after_secs.unwrap_or(60).max(1),
            }
        }
        ProviderError::Misconfigured(detail) => {
            tracing::error!(plugin, %detail, "provider refused our settings");
            PortalError::MethodUnavailable(MethodId::Sms)
        }
        ProviderError::Unavailable(detail) => {
            tracing::warn!(plugin, %detail, "provider unavailable");
            PortalError::MethodUnavailable(MethodId::Sms)
        }
    }
}
