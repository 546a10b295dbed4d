//! The administration console behind the [`Admin`] port: methods and their
//! plugins, provider settings (secrets sealed, shown masked), the 2FA policy,
//! accounts and the audit log. Every call checks the role first (SECURITY.md
//! 25) and every change is audited with what it was before and after, in the
//! transaction that makes it.

mod clients;

use crate::account::not_me;
use crate::audit::{self, Event, Who};
use crate::clock::human;
use crate::context::RequestContext;
use crate::errors::db;
use crate::methods::sms::plugin_settings::{self, Saved};
use crate::methods::sms::plugins;
use crate::methods::sms::providers::{self, Purpose, SendRequest};
use crate::methods::{self, Method};
use crate::settings;
use crate::signin::reset;
use crate::signin::trusted_browsers::{self, Voided};
use crate::store::{self, UserRow};
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgPool};
use std::collections::BTreeMap;
use tessera::account::lookup_key;
use tessera::otp::mask_phone;
use tessera::ports::{ResetDecision, UserAction};
use tessera::views::{
    AuditEntry, AuditFilter, AuditPage, MaskedCredential, MethodView, OutboxMessage, PluginChoice, PolicyView,
    PropertyView, ProviderView, UserDetail, UserSummary,
};
use tessera::{FieldError, PortalError};
use time::OffsetDateTime;
use uuid::Uuid;

/// The acrs a default may be, as (name, "words (name)") for a select.
pub(crate) fn acr_choices(enabled: &[tessera::method::MethodId]) -> Vec<(String, String)> {
    tessera::acr::Acr::choices(enabled)
        .into_iter()
        .map(|a| (a.as_str().to_owned(), format!("{} ({})", a.words(), a.as_str())))
        .collect()
}

/// Longest value a settings field may hold.
const FIELD_MAX: usize = 2000;
const AUDIT_PAGE: i64 = 50;

#[derive(FromRow)]
struct AuditRow {
    at: OffsetDateTime,
    event: String,
    actor: Option<String>,
    subject: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: Value,
}

/// A security notification as the console lists it.
#[derive(FromRow)]
struct NotificationRow {
    username: Option<String>,
    to_address: Option<String>,
    channel: String,
    subject: String,
    body: String,
    created_at: OffsetDateTime,
}

const AUDIT_COLUMNS: &str = "at, event, actor, subject, ip, user_agent, details";

fn entry(r: AuditRow) -> AuditEntry {
    AuditEntry {
        at: human(r.at),
        label: audit::label(&r.event).to_owned(),
        event: r.event,
        actor: r.actor,
        subject: r.subject,
        ip: r.ip,
        user_agent: r.user_agent,
        details: match &r.details {
            Value::Object(m) if m.is_empty() => String::new(),
            d => d.to_string(),
        },
    }
}

/// A user's own recent events (done by them or to them), newest first.
pub async fn activity(pool: &PgPool, user_id: Uuid, limit: i64) -> Result<Vec<AuditEntry>, PortalError> {
    let rows: Vec<AuditRow> = sqlx::query_as(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE subject_id = $1 OR actor_id = $1
         ORDER BY at DESC, id DESC LIMIT $2"
    ))
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db("reading activity"))?;
    Ok(rows.into_iter().map(entry).collect())
}

fn summary(u: UserRow, flagged: bool) -> UserSummary {
    UserSummary {
        flagged,
        is_admin: u.is_admin(),
        locked: u.locked_at.is_some(),
        username: u.username,
        display_name: u.display_name,
        email: u.email,
        two_factor_enabled: u.two_factor_enabled,
        created_at: human(u.created_at),
        last_sign_in_at: u.last_sign_in_at.map(human),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> PortalError {
    PortalError::Validation(vec![FieldError::new(field, message)])
}

/// `%` and `_` match themselves in a LIKE pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Users with 2FA on who would have no usable credential without `method`
/// (recovery codes do not keep anyone's second step, SECURITY.md 38).
async fn stranded_without(pool: &PgPool, method: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM users u
         WHERE u.two_factor_enabled
           AND EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.method = $1)
           AND NOT EXISTS (SELECT 1 FROM credentials c JOIN method_settings m ON m.method = c.method
                           WHERE c.user_id = u.id AND m.enabled AND c.method <> $1
                             AND c.method <> 'recovery_code')",
    )
    .bind(method)
    .fetch_one(pool)
    .await
}

/// The console for one request: every call checks that its user is an
/// administrator first.
pub struct Console<'a> {
    pub ctx: &'a RequestContext,
    pub user: Option<&'a UserRow>,
}

impl Console<'_> {
    /// The signed-in administrator, or 401/403.
    fn admin(&self) -> Result<Who<'_>, PortalError> {
        let user = self.user.ok_or(PortalError::Unauthorized)?;
        if !user.is_admin() {
            tracing::warn!(user_id = %user.id, "admin function refused");
            return Err(PortalError::Forbidden);
        }
        Ok(Who {
            id: user.id,
            name: &user.username,
        })
    }

    async fn method_view(
        &self,
        info: &dyn Method,
        row: Option<&settings::MethodRow>,
    ) -> Result<MethodView, PortalError> {
        let mut plugins = Vec::new();
        for (id, label) in info.plugins() {
            plugins.push(PluginChoice {
                id: id.into(),
                label: label.into(),
                ready: info.plugin_problems(&self.ctx.state, id).await.is_empty(),
            });
        }
        let stranded = stranded_without(&self.ctx.state.pool, info.id().as_str())
            .await
            .map_err(db("counting dependent users"))?;
        Ok(MethodView {
            id: info.id().as_str().into(),
            label: info.label().into(),
            description: info.description().into(),
            enabled: row.is_some_and(|r| r.enabled),
            plugin: row.map_or_else(
                || info.plugins().first().map_or("", |p| p.0).to_owned(),
                |r| r.plugin.clone(),
            ),
            plugins,
            stranded_if_disabled: u32::try_from(stranded).unwrap_or(u32::MAX),
            version: row.map_or(0, |r| r.version),
        })
    }

    async fn find_account(&self, username: &str) -> Result<UserRow, PortalError> {
        store::find_user_by_key(&self.ctx.state.pool, &lookup_key(username))
            .await
            .map_err(db("finding a user"))?
            .ok_or(PortalError::NotFound)
    }
}

impl Console<'_> {
    pub async fn methods(&self) -> Result<Vec<MethodView>, PortalError> {
        self.admin()?;
        let rows = settings::methods(&self.ctx.state.pool)
            .await
            .map_err(db("reading methods"))?;
        let mut out = Vec::new();
        for info in methods::REGISTRY {
            let row = rows.iter().find(|r| r.method == info.id().as_str());
            out.push(self.method_view(*info, row).await?);
        }
        Ok(out)
    }

    pub async fn save_method(
        &self,
        method: &str,
        enabled: bool,
        plugin: &str,
        version: i64,
        confirm: bool,
    ) -> Result<(), PortalError> {
        let who = self.admin()?;
        let info = methods::by_name(method).ok_or(PortalError::NotFound)?;
        let plugins = info.plugins();
        let known = if plugins.is_empty() {
            plugin.is_empty()
        } else {
            plugins.iter().any(|p| p.0 == plugin)
        };
        if !known {
            return Err(invalid("plugin", "Choose one of the installed plugins."));
        }
        let pool = &self.ctx.state.pool;
        let current = settings::methods(pool)
            .await
            .map_err(db("reading methods"))?
            .into_iter()
            .find(|r| r.method == method);
        if current.as_ref().map_or(0, |r| r.version) != version {
            return Err(PortalError::Conflict);
        }
        let was_enabled = current.as_ref().is_some_and(|r| r.enabled);
        let plugin_changed = current.as_ref().is_none_or(|r| r.plugin != plugin);
        let problems = if enabled || plugin_changed {
            info.plugin_problems(&self.ctx.state, plugin).await
        } else {
            Vec::new()
        };
        if !problems.is_empty() {
            let problems = problems.join("; ");
            return Err(invalid(
                "plugin",
                if plugin.is_empty() {
                    format!("{} cannot be enabled: {problems}.", info.label())
                } else {
                    format!(
                        "{plugin} cannot be chosen until its settings are complete ({problems}). Fill them in under Providers."
                    )
                },
            ));
        }
        let stranded = if was_enabled && !enabled {
            stranded_without(pool, method)
                .await
                .map_err(db("counting dependent users"))?
        } else {
            0
        };
        if stranded > 0 && !confirm {
            return Err(PortalError::NeedsConfirmation(format!(
                "{stranded} user(s) with two-factor authentication on have no other usable credential. \
                 After this they sign in with their password only and are asked to enroll another method. Disable {} anyway?",
                info.label()
            )));
        }
        let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
        let saved = sqlx::query(
            "INSERT INTO method_settings (method, enabled, plugin, version) VALUES ($1, $2, $3, 1)
             ON CONFLICT (method) DO UPDATE SET enabled = EXCLUDED.enabled, plugin = EXCLUDED.plugin,
                 version = method_settings.version + 1
             WHERE method_settings.version = $4",
        )
        .bind(method)
        .bind(enabled)
        .bind(plugin)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(db("saving a method"))?;
        if saved.rows_affected() != 1 {
            return Err(PortalError::Conflict);
        }
        let event = Event::new(audit::ADMIN_METHOD).actor(who).details(json!({
            "method": method,
            "before": current.as_ref().map(|r| json!({"enabled": r.enabled, "plugin": r.plugin})),
            "after": {"enabled": enabled, "plugin": plugin},
            "users_left_without_2fa": stranded,
        }));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("committing a method change"))?;
        tracing::info!(method, enabled, plugin, "method settings changed");
        Ok(())
    }

    /// The plugins' settings forms; `last_test` is this administrator's
    /// last test message and its answer.
    pub async fn providers(&self, last_test: Option<(String, String)>) -> Result<Vec<ProviderView>, PortalError> {
        self.admin()?;
        let pool = &self.ctx.state.pool;
        let in_use: Vec<String> = settings::methods(pool)
            .await
            .map_err(db("reading methods"))?
            .into_iter()
            .filter(|r| r.enabled)
            .map(|r| r.plugin)
            .collect();
        let mut out = Vec::new();
        for info in providers::PLUGINS {
            let (record, mut problems) =
                match plugin_settings::plugin(pool, self.ctx.state.sealer.as_deref(), info.id).await {
                    Ok(r) => {
                        let problems = plugins::check_properties(pool, info.id, &r.properties);
                        (r, problems)
                    }
                    Err(plugin_settings::SettingsError::Db(e)) => return Err(db("reading plugin settings")(e)),
                    Err(e) => (plugin_settings::PluginRecord::default(), vec![e.to_string()]),
                };
            problems.dedup();
            out.push(ProviderView {
                id: info.id.into(),
                label: info.label.into(),
                owns_code: info.owns_code,
                properties: info
                    .properties
                    .iter()
                    .map(|p| {
                        let stored = record.properties.get(p.name);
                        PropertyView {
                            name: p.name.into(),
                            description: p.description.into(),
                            example: p.example.into(),
                            secret: p.secret,
                            required: p.required,
                            is_set: stored.is_some(),
                            value: match (&stored, p.secret) {
                                (Some(v), true) => crate::secrets::mask(v),
                                (Some(v), false) => v.clone(),
                                (None, _) => String::new(),
                            },
                        }
                    })
                    .collect(),
                problems,
                in_use: in_use.iter().any(|p| p == info.id),
                last_test: last_test
                    .as_ref()
                    .filter(|(plugin, _)| plugin == info.id)
                    .map(|(_, answer)| answer.clone()),
                version: record.version,
            });
        }
        Ok(out)
    }

    pub async fn save_provider(
        &self,
        plugin: &str,
        values: BTreeMap<String, String>,
        version: i64,
    ) -> Result<(), PortalError> {
        let who = self.admin()?;
        let info = providers::find(plugin).ok_or(PortalError::NotFound)?;
        let pool = &self.ctx.state.pool;
        let mut errors = Vec::new();
        for name in values.keys() {
            if !info.properties.iter().any(|p| p.name == name) {
                errors.push(FieldError::new(
                    name,
                    format!("{} has no setting named {name}.", info.label),
                ));
            }
        }
        for (name, v) in &values {
            if v.chars().count() > FIELD_MAX {
                errors.push(FieldError::new(name, format!("At most {FIELD_MAX} characters.")));
            }
        }
        if !errors.is_empty() {
            return Err(PortalError::Validation(errors));
        }
        let stored = plugin_settings::plugin(pool, self.ctx.state.sealer.as_deref(), plugin)
            .await
            .unwrap_or_default();
        if stored.version != version {
            return Err(PortalError::Conflict);
        }
        // Blank secrets keep the stored value: the form never holds them.
        let mut next = Map::new();
        let mut changes = Map::new();
        for p in info.properties {
            let typed = values.get(p.name).map(|v| v.trim()).unwrap_or("");
            let before = stored.properties.get(p.name);
            let after = match (typed.is_empty(), p.secret) {
                (true, true) => before.clone(),
                (true, false) => None,
                (false, _) => Some(typed.to_owned()),
            };
            if let Some(v) = &after {
                next.insert(p.name.into(), Value::String(v.clone()));
            }
            if before != after {
                changes.insert(
                    p.name.into(),
                    if p.secret {
                        json!("changed")
                    } else {
                        json!({"before": before, "after": after})
                    },
                );
            }
        }
        let problems = plugins::check_properties(pool, plugin, &providers::Properties(next.clone()));
        if !problems.is_empty() {
            // Each problem names its property first; it goes beside that field.
            let errors = problems
                .into_iter()
                .map(|m| {
                    let field = info
                        .properties
                        .iter()
                        .find(|p| m.starts_with(p.name))
                        .map_or("plugin", |p| p.name);
                    FieldError::new(field, m)
                })
                .collect();
            return Err(PortalError::Validation(errors));
        }
        let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
        match plugin_settings::store_plugin(&mut *tx, self.ctx.state.sealer.as_deref(), plugin, &next, version).await {
            Ok(Saved::Done) => {}
            Ok(Saved::Stale) => return Err(PortalError::Conflict),
            Err(message) => return Err(invalid("plugin", message)),
        }
        let event = Event::new(audit::ADMIN_PROVIDER)
            .actor(who)
            .details(json!({"plugin": plugin, "changes": changes}));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("committing provider settings"))?;
        tracing::info!(plugin, "provider settings changed");
        Ok(())
    }

    pub async fn test_provider(&self, plugin: &str, to: &str) -> Result<String, PortalError> {
        let who = self.admin()?;
        let info = providers::find(plugin).ok_or(PortalError::NotFound)?;
        let number = crate::phone::parse(to, &self.ctx.state.config.default_phone_region)
            .map_err(|e| invalid("to", e.message))?;
        let built = plugins::build_stored(&self.ctx.state, plugin)
            .await
            .map_err(|problems| invalid("to", format!("Complete the settings first: {}.", problems.join("; "))))?;
        let code = crate::otp::new_code(6);
        let text = format!(
            "Tessera test message: {} can reach this phone. Test code {code}.",
            info.label
        );
        let request = SendRequest {
            to: &number,
            text: &text,
            code: &code,
            purpose: Purpose::Enroll,
            provider_user_id: None,
            lifetime_minutes: 5,
        };
        let answer = match built.send(&request).await {
            Ok(sent) => format!(
                "Accepted by {}{}.",
                info.label,
                sent.reference.map(|r| format!(", reference {r}")).unwrap_or_default()
            ),
            Err(e) => format!("Refused: {e}."),
        };
        self.ctx
            .audit(Event::new(audit::ADMIN_TEST_MESSAGE).actor(who).details(json!({
                "plugin": plugin, "to": mask_phone(&number), "answer": answer,
            })))
            .await?;
        Ok(answer)
    }

    pub async fn policy(&self) -> Result<PolicyView, PortalError> {
        self.admin()?;
        let (policy, version) = settings::policy(&self.ctx.state.pool)
            .await
            .map_err(db("reading the policy"))?;
        let enabled = methods::enabled(&self.ctx.state.pool)
            .await
            .map_err(db("reading enabled methods"))?;
        Ok(PolicyView {
            acrs: acr_choices(&enabled),
            fields: policy.to_form(),
            methods: methods::REGISTRY
                .iter()
                .filter(|m| m.id().counts_toward_minimum())
                .map(|m| (m.id().as_str().to_owned(), m.label().to_owned()))
                .collect(),
            version,
        })
    }

    pub async fn save_policy(&self, fields: BTreeMap<String, String>, version: i64) -> Result<(), PortalError> {
        let who = self.admin()?;
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.chars().count() > FIELD_MAX) {
            return Err(invalid(name, format!("At most {FIELD_MAX} characters.")));
        }
        let now = self.ctx.state.clock.now();
        match settings::change_policy(
            &self.ctx.state.pool,
            now,
            &self.ctx.origin,
            Some(who),
            &fields,
            Some(version),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(settings::PolicyChangeError::Invalid(errors)) => Err(PortalError::Validation(errors)),
            Err(settings::PolicyChangeError::Stale) => Err(PortalError::Conflict),
            Err(settings::PolicyChangeError::Db(e)) => Err(db("saving the policy")(e)),
        }
    }

    pub async fn users(&self, query: &str) -> Result<Vec<UserSummary>, PortalError> {
        self.admin()?;
        let q = query.trim();
        if q.chars().count() > 100 {
            return Err(invalid("q", "Search for at most 100 characters."));
        }
        let text = format!("%{}%", like_escape(&q.to_lowercase()));
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        let phone = (digits.len() >= 3).then(|| format!("%{digits}%"));
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {} FROM users u
             WHERE $1 = '%%' OR u.username_key LIKE $1 OR lower(coalesce(u.email, '')) LIKE $1
                OR lower(u.display_name) LIKE $1
                OR ($2::text IS NOT NULL AND EXISTS (
                    SELECT 1 FROM credentials c JOIN sms_phones s ON s.credential_id = c.id
                    WHERE c.user_id = u.id AND s.phone_e164 LIKE $2))
             ORDER BY EXISTS (SELECT 1 FROM account_flags f WHERE f.user_id = u.id) DESC, u.username_key
             LIMIT 200",
            store::USER_COLUMNS
        ))
        .bind(&text)
        .bind(phone)
        .fetch_all(&self.ctx.state.pool)
        .await
        .map_err(db("searching users"))?;
        let ids: Vec<Uuid> = rows.iter().map(|u| u.id).collect();
        let flagged = not_me::flagged(&self.ctx.state.pool, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|u| {
                let is_flagged = flagged.contains(&u.id);
                summary(u, is_flagged)
            })
            .collect())
    }

    pub async fn user(&self, username: &str) -> Result<UserDetail, PortalError> {
        self.admin()?;
        let user = self.find_account(username).await?;
        let pool = &self.ctx.state.pool;
        let credentials = methods::credentials(pool, user.id)
            .await
            .map_err(db("listing credentials"))?;
        let activity = activity(pool, user.id, 20).await?;
        let trusted_browsers = trusted_browsers::list(self.ctx, user.id, None).await?;
        let reset_ready_at = reset::waiting(self.ctx, user.id).await?.map(human);
        let flag = not_me::flag(pool, user.id).await?;
        let flag_open = flag.is_some();
        Ok(UserDetail {
            trusted_browsers,
            reset_ready_at,
            flag,
            locked: user.locked_at.is_some(),
            credentials: credentials
                .into_iter()
                .map(|c| MaskedCredential {
                    method: c.method.as_str().into(),
                    nickname: c.nickname,
                    masked: c.masked,
                    added_at: human(c.created_at),
                    last_used_at: c.last_used_at.map(human),
                })
                .collect(),
            activity,
            summary: summary(user, flag_open),
        })
    }

    pub async fn decide_reset(&self, username: &str, decision: ResetDecision) -> Result<(), PortalError> {
        let who = self.admin()?;
        let target = self.find_account(username).await?;
        match decision {
            ResetDecision::Approve => reset::approve(self.ctx, who, &target).await,
            ResetDecision::Cancel => {
                let mut tx = self.ctx.pool().begin().await.map_err(db("cancelling a reset"))?;
                let subject = Who {
                    id: target.id,
                    name: &target.username,
                };
                if !reset::cancel(self.ctx, &mut tx, subject, Some(who), reset::Ended::ByAdministrator).await? {
                    return Err(PortalError::NotFound);
                }
                tx.commit().await.map_err(db("cancelling a reset"))
            }
        }
    }

    pub async fn forget_user_browsers(&self, username: &str) -> Result<(), PortalError> {
        let who = self.admin()?;
        let target = self.find_account(username).await?;
        let mut tx = self
            .ctx
            .pool()
            .begin()
            .await
            .map_err(db("forgetting trusted browsers"))?;
        let gone = trusted_browsers::forget_all(self.ctx, &mut tx, &target, Voided::ByAdministrator).await?;
        let event = Event::new(audit::ADMIN_USER)
            .actor(who)
            .subject(Who {
                id: target.id,
                name: &target.username,
            })
            .details(json!({"action": "forget_browsers", "browsers_forgotten": gone}));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("forgetting trusted browsers"))
    }

    pub async fn user_action(&self, username: &str, action: UserAction) -> Result<(), PortalError> {
        let who = self.admin()?;
        let target = self.find_account(username).await?;
        if action == UserAction::ClearFlag {
            return not_me::clear_flag(self.ctx, who, &target).await;
        }
        let pool = &self.ctx.state.pool;
        let now = self.ctx.state.clock.now();
        // Back to password only clears every credential. Providers are told
        // first (Stytch keeps a user per phone); one that cannot be reached
        // does not stop the reset, and is logged.
        let credentials = if action == UserAction::ResetTwoFactor {
            methods::credentials(pool, target.id)
                .await
                .map_err(db("listing credentials"))?
        } else {
            Vec::new()
        };
        for c in &credentials {
            if let Some(method) = methods::find(c.method)
                && let Err(e) = method.before_removal(self.ctx, c).await
            {
                tracing::warn!(credential = %c.id, error = %e, "a provider's clean-up failed during a reset");
            }
        }
        let mut tx = pool.begin().await.map_err(db("starting a transaction"))?;
        // Administrators' rows are locked in one order, so two admins demoting
        // each other cannot both pass the "never the last one" check.
        let admins: Vec<(Uuid, Option<OffsetDateTime>)> =
            sqlx::query_as("SELECT id, locked_at FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE")
                .fetch_all(&mut *tx)
                .await
                .map_err(db("locking administrators"))?;
        let (enabled, role, locked): (bool, String, Option<OffsetDateTime>) =
            sqlx::query_as("SELECT two_factor_enabled, role, locked_at FROM users WHERE id = $1 FOR UPDATE")
                .bind(target.id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("locking a user"))?;
        let other_active_admins = admins
            .iter()
            .filter(|(id, locked)| *id != target.id && locked.is_none())
            .count();
        let is_active_admin = role == "admin" && locked.is_none();
        let last_admin = || {
            invalid(
                "action",
                format!(
                    "{} is the last active administrator. Make someone else an administrator first.",
                    target.username
                ),
            )
        };
        let (sql, before, after, name) = match action {
            UserAction::ResetTwoFactor => (
                "UPDATE users SET two_factor_enabled = FALSE, updated_at = $2 WHERE id = $1",
                json!({"two_factor_enabled": enabled, "credentials": credentials.len()}),
                json!({"two_factor_enabled": false, "credentials": 0}),
                "reset_2fa",
            ),
            UserAction::Lock => {
                if target.id == who.id {
                    return Err(invalid("action", "You cannot lock your own account."));
                }
                if is_active_admin && other_active_admins == 0 {
                    return Err(last_admin());
                }
                (
                    "UPDATE users SET locked_at = $2, updated_at = $2 WHERE id = $1",
                    json!({"locked": locked.is_some()}),
                    json!({"locked": true}),
                    "lock",
                )
            }
            UserAction::Unlock => (
                "UPDATE users SET locked_at = NULL, updated_at = $2 WHERE id = $1",
                json!({"locked": locked.is_some()}),
                json!({"locked": false}),
                "unlock",
            ),
            UserAction::MakeAdmin => (
                "UPDATE users SET role = 'admin', updated_at = $2 WHERE id = $1",
                json!({"role": role}),
                json!({"role": "admin"}),
                "make_admin",
            ),
            UserAction::RevokeAdmin => {
                if is_active_admin && other_active_admins == 0 {
                    return Err(last_admin());
                }
                (
                    "UPDATE users SET role = 'user', updated_at = $2 WHERE id = $1",
                    json!({"role": role}),
                    json!({"role": "user"}),
                    "revoke_admin",
                )
            }
            // Answered above, before any row is locked.
            UserAction::ClearFlag => return Err(invalid("action", "Choose one of the listed actions.")),
        };
        sqlx::query(sql)
            .bind(target.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("changing an account"))?;
        let event = Event::new(audit::ADMIN_USER)
            .actor(who)
            .subject(Who {
                id: target.id,
                name: &target.username,
            })
            .details(json!({"action": name, "before": before, "after": after}));
        self.ctx.audit_in(&mut tx, event).await?;
        if action == UserAction::ResetTwoFactor {
            for sql in [
                "DELETE FROM credentials WHERE user_id = $1",
                "DELETE FROM otp_challenges WHERE user_id = $1 AND consumed_at IS NULL",
                "DELETE FROM totp_enrollments WHERE user_id = $1",
            ] {
                sqlx::query(sql)
                    .bind(target.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("clearing credentials"))?;
            }
            trusted_browsers::forget_all(self.ctx, &mut tx, &target, Voided::TwoFactorReset).await?;
        }
        if action == UserAction::Lock {
            // Its sessions end now, on every server.
            crate::account::sessions::end_all_but(&mut *tx, target.id, None)
                .await
                .map_err(db("ending a locked account's sessions"))?;
            crate::account::app_tokens::revoke_for_user(&mut *tx, target.id, now)
                .await
                .map_err(db("revoking a locked account's application tokens"))?;
        }
        // The owner hears of 2FA turned off, whoever turned it off (SECURITY.md 27).
        let notice = if action == UserAction::ResetTwoFactor && (enabled || !credentials.is_empty()) {
            Some(
                self.ctx
                    .notify_in(&mut tx, &target, crate::notify::Notice::TwoFactorOff)
                    .await?,
            )
        } else {
            None
        };
        tx.commit().await.map_err(db("committing an account change"))?;
        crate::notify::deliver(&self.ctx.state, notice);
        tracing::info!(target = %target.id, action = name, "account changed by an administrator");
        Ok(())
    }

    pub async fn audit(&self, filter: AuditFilter) -> Result<AuditPage, PortalError> {
        self.admin()?;
        let date = |field: &str, v: &str| -> Result<Option<time::Date>, PortalError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
                .map(Some)
                .map_err(|_| invalid(field, "Use a date like 2026-11-23."))
        };
        let from = date("from", &filter.from)?.map(|d| d.midnight().assume_utc());
        let to = date("to", &filter.to)?.map(|d| d.midnight().assume_utc() + time::Duration::days(1));
        let event = filter.event.trim();
        if !event.is_empty() && !audit::KINDS.iter().any(|(k, _)| *k == event) {
            return Err(invalid("event", "Choose an event from the list."));
        }
        let user = filter.user.trim();
        if user.chars().count() > 64 {
            return Err(invalid("user", "A username has at most 64 characters."));
        }
        let page = filter.page.min(10_000);
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events
             WHERE ($1 = '' OR event = $1)
               AND ($2 = '' OR lower(actor) = $2 OR lower(subject) = $2)
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
             ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(event)
        .bind(lookup_key(user))
        .bind(from)
        .bind(to)
        .bind(AUDIT_PAGE + 1)
        .bind(i64::from(page) * AUDIT_PAGE)
        .fetch_all(&self.ctx.state.pool)
        .await
        .map_err(db("reading the audit log"))?;
        let has_next = rows.len() as i64 > AUDIT_PAGE;
        Ok(AuditPage {
            entries: rows.into_iter().take(AUDIT_PAGE as usize).map(entry).collect(),
            page,
            has_next,
            kinds: audit::KINDS
                .iter()
                .map(|(k, l)| ((*k).to_owned(), (*l).to_owned()))
                .collect(),
        })
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortalError> {
        self.admin()?;
        let rows: Vec<(String, String, OffsetDateTime)> =
            sqlx::query_as("SELECT phone_e164, body, created_at FROM outbox_messages ORDER BY id DESC LIMIT 200")
                .fetch_all(&self.ctx.state.pool)
                .await
                .map_err(db("reading the outbox"))?;
        Ok(rows
            .into_iter()
            .map(|(to, body, at)| OutboxMessage {
                to: mask_phone(&to),
                body,
                at: human(at),
            })
            .collect())
    }

    pub async fn notifications(&self) -> Result<Vec<OutboxMessage>, PortalError> {
        self.admin()?;
        let rows: Vec<NotificationRow> = sqlx::query_as(
            "SELECT u.username, n.to_address, n.channel, n.subject, n.body, n.created_at
             FROM notifications n LEFT JOIN users u ON u.id = n.user_id ORDER BY n.id DESC LIMIT 200",
        )
        .fetch_all(&self.ctx.state.pool)
        .await
        .map_err(db("reading the notifications"))?;
        Ok(rows
            .into_iter()
            .map(|n| OutboxMessage {
                to: match (n.username, n.channel.as_str()) {
                    (Some(u), "email") => format!("{u} (emailed to {})", n.to_address.unwrap_or_default()),
                    (Some(u), _) => u,
                    (None, _) => "a deleted account".into(),
                },
                body: format!("{}. {}", n.subject, n.body),
                at: human(n.created_at),
            })
            .collect())
    }
}
