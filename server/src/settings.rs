//! Settings that live in PostgreSQL and apply on the next request: the 2FA
//! policy and each method's switch and plugin (the SMS plugins' properties
//! are `methods::sms::plugin_settings`). Every row has a version; a save names the version it started
//! from and fails when another admin saved in between.

use sqlx::{FromRow, PgExecutor, PgPool};
use tessera::policy::{MissingMethod, Mode, Passwordless, Policy};

#[derive(FromRow)]
struct PolicyRow {
    min_credentials: i32,
    code_digits: i32,
    code_lifetime_secs: i32,
    max_attempts: i32,
    resend_cooldown_secs: i32,
    max_sends_per_number: i32,
    max_sends_per_ip: i32,
    max_sends_per_account: i32,
    max_sends_per_country: i32,
    max_sends_per_hour: i32,
    allowed_countries: Vec<String>,
    mode: String,
    default_method: String,
    default_acr: String,
    missing_method: String,
    totp_drift_steps: i32,
    recovery_code_count: i32,
    passwordless: String,
    trusted_browser_days: i32,
    recovery_wait_hours: i32,
    version: i64,
}

/// The policy in force and its version.
pub async fn policy(db: impl PgExecutor<'_>) -> sqlx::Result<(Policy, i64)> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT min_credentials, code_digits, code_lifetime_secs, max_attempts, resend_cooldown_secs,
                max_sends_per_number, max_sends_per_ip, max_sends_per_account, max_sends_per_country,
                max_sends_per_hour, allowed_countries, mode, default_method, default_acr, missing_method, totp_drift_steps,
                recovery_code_count, passwordless, trusted_browser_days, recovery_wait_hours, version FROM policy",
    )
    .fetch_optional(db)
    .await?;
    let Some(r) = row else {
        return Ok((Policy::default(), 0));
    };
    let n = |v: i32| u32::try_from(v).unwrap_or(0);
    Ok((
        Policy {
            min_credentials: n(r.min_credentials),
            code_digits: n(r.code_digits),
            code_lifetime_secs: n(r.code_lifetime_secs),
            max_attempts: n(r.max_attempts),
            resend_cooldown_secs: n(r.resend_cooldown_secs),
            max_sends_per_number: n(r.max_sends_per_number),
            max_sends_per_ip: n(r.max_sends_per_ip),
            max_sends_per_account: n(r.max_sends_per_account),
            max_sends_per_country: n(r.max_sends_per_country),
            max_sends_per_hour: n(r.max_sends_per_hour),
            allowed_countries: r.allowed_countries,
            mode: Mode::parse(&r.mode).unwrap_or(Mode::Optional),
            default_method: r.default_method,
            default_acr: r.default_acr,
            missing_method: MissingMethod::parse(&r.missing_method).unwrap_or(MissingMethod::Refuse),
            totp_drift_steps: n(r.totp_drift_steps),
            recovery_code_count: n(r.recovery_code_count),
            passwordless: Passwordless::parse(&r.passwordless).unwrap_or(Passwordless::Forbidden),
            trusted_browser_days: n(r.trusted_browser_days),
            recovery_wait_hours: n(r.recovery_wait_hours),
        },
        r.version,
    ))
}

/// Saves the policy if it is still at `version`; false when it was not.
pub async fn save_policy(db: impl PgExecutor<'_>, p: &Policy, version: i64) -> sqlx::Result<bool> {
    let i = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let done = sqlx::query(
        "UPDATE policy SET min_credentials = $1, code_digits = $2, code_lifetime_secs = $3, max_attempts = $4,
                resend_cooldown_secs = $5, max_sends_per_number = $6, allowed_countries = $7, mode = $8,
                default_method = $9, max_sends_per_ip = $11, max_sends_per_account = $12,
                max_sends_per_country = $13, max_sends_per_hour = $14, totp_drift_steps = $15,
                recovery_code_count = $16, default_acr = $17, missing_method = $18,
                passwordless = $19, trusted_browser_days = $20, recovery_wait_hours = $21, version = version + 1
         WHERE version = $10",
    )
    .bind(i(p.min_credentials))
    .bind(i(p.code_digits))
    .bind(i(p.code_lifetime_secs))
    .bind(i(p.max_attempts))
    .bind(i(p.resend_cooldown_secs))
    .bind(i(p.max_sends_per_number))
    .bind(&p.allowed_countries)
    .bind(p.mode.as_str())
    .bind(&p.default_method)
    .bind(version)
    .bind(i(p.max_sends_per_ip))
    .bind(i(p.max_sends_per_account))
    .bind(i(p.max_sends_per_country))
    .bind(i(p.max_sends_per_hour))
    .bind(i(p.totp_drift_steps))
    .bind(i(p.recovery_code_count))
    .bind(&p.default_acr)
    .bind(p.missing_method.as_str())
    .bind(p.passwordless.as_str())
    .bind(i(p.trusted_browser_days))
    .bind(i(p.recovery_wait_hours))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A method's switch and plugin.
#[derive(Debug, Clone, FromRow)]
pub struct MethodRow {
    pub method: String,
    pub enabled: bool,
    pub plugin: String,
    pub version: i64,
}

pub async fn methods(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MethodRow>> {
    sqlx::query_as("SELECT method, enabled, plugin, version FROM method_settings ORDER BY method")
        .fetch_all(db)
        .await
}

/// Why a policy change was not saved.
#[derive(Debug)]
pub enum PolicyChangeError {
    /// Every bad field, each with its message.
    Invalid(Vec<tessera::FieldError>),
    /// Someone saved the policy after `version` was read.
    Stale,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for PolicyChangeError {
    fn from(e: sqlx::Error) -> Self {
        PolicyChangeError::Db(e)
    }
}

/// Changes policy fields (the console's form, or the command line's
/// NAME=VALUE pairs): checked, saved if the policy is still at `version`
/// (`None`: whatever it is now), and audited with before and after in the
/// same transaction. Missing fields keep their value.
pub async fn change_policy(
    pool: &PgPool,
    now: time::OffsetDateTime,
    origin: &crate::audit::Origin,
    actor: Option<crate::audit::Who<'_>>,
    form: &std::collections::BTreeMap<String, String>,
    version: Option<i64>,
) -> Result<Policy, PolicyChangeError> {
    use crate::audit;
    let (current, stored_version) = policy(pool).await?;
    if version.is_some_and(|v| v != stored_version) {
        return Err(PolicyChangeError::Stale);
    }
    // The default method is one a user can rely on alone: not recovery codes.
    let enabled: Vec<String> = methods(pool)
        .await?
        .into_iter()
        .filter(|m| {
            m.enabled
                && tessera::method::MethodId::parse(&m.method)
                    .is_some_and(tessera::method::MethodId::counts_toward_minimum)
        })
        .map(|m| m.method)
        .collect();
    let enabled: Vec<&str> = enabled.iter().map(String::as_str).collect();
    let next =
        Policy::from_form(&current, form, crate::phone::known_region, &enabled).map_err(PolicyChangeError::Invalid)?;
    let mut tx = pool.begin().await?;
    if !save_policy(&mut *tx, &next, stored_version).await? {
        return Err(PolicyChangeError::Stale);
    }
    let mut event =
        audit::Event::new(audit::ADMIN_POLICY).details(serde_json::json!({"before": current, "after": next}));
    if let Some(who) = actor {
        event = event.actor(who);
    }
    audit::record(&mut *tx, now, origin, event).await?;
    tx.commit().await?;
    tracing::info!("2FA policy changed");
    Ok(next)
}
