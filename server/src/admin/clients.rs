//! The console's Applications pages: OpenID Connect clients registered,
//! changed, given a new secret and removed. Every change is audited in its
//! transaction; a secret is returned once, for the page to show.

use super::{Console, acr_choices, invalid};
use crate::audit::{self, Event};
use crate::clock::human;
use crate::errors::db;
use crate::methods;
use crate::oidc::clients::{self, Client, ClientError, ClientKind, ClientSettings, Grant, NewClient, Pkce};
use serde_json::json;
use tessera::acr::Acr;
use tessera::views::{ClientDetail, ClientForm, ClientSummary, NewClientForm};
use tessera::{FieldError, PortalError};

/// The console's words for each grant.
fn grant_words(g: Grant) -> &'static str {
    match g {
        Grant::AuthorizationCode => "Authorization code (sign-in in the browser)",
        Grant::RefreshToken => "Refresh tokens (stay signed in)",
        Grant::Password => "Password grant with a second factor (no browser)",
    }
}

/// Addresses typed one per line (blank lines skipped).
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn summary(c: &Client) -> ClientSummary {
    let s = c.settings();
    ClientSummary {
        id: c.id.clone(),
        name: c.name.clone(),
        public: c.kind() == ClientKind::Public,
        first_party: c.first_party,
        grants: s.grants.iter().map(|g| g.as_str().to_owned()).collect(),
        default_acr: s.default_acr.map_or_else(String::new, |a| a.as_str().to_owned()),
    }
}

/// The settings a form asks for, or every field it got wrong.
fn read_form(form: &ClientForm) -> Result<ClientSettings, PortalError> {
    let mut errors = Vec::new();
    let grants: Vec<Grant> = form.grants.iter().filter_map(|g| Grant::parse(g)).collect();
    if grants.len() != form.grants.len() {
        errors.push(FieldError::new("grants", "Choose among the listed grants."));
    }
    let allowed_acrs: Vec<Acr> = form.allowed_acrs.iter().filter_map(|a| Acr::parse(a)).collect();
    if allowed_acrs.len() != form.allowed_acrs.len() {
        errors.push(FieldError::new("allowed_acrs", "Choose among the listed acrs."));
    }
    let default_acr = match form.default_acr.trim() {
        "" => None,
        name => {
            let acr = Acr::parse(name);
            if acr.is_none() {
                errors.push(FieldError::new("default_acr", "Choose one of the listed acrs."));
            }
            acr
        }
    };
    // Whole numbers in the form's unit; their range is `problems`' to judge.
    let mut seconds = |field: &'static str, text: &str, unit_secs: u64, unit: &str| match text.trim().parse::<u32>() {
        Ok(n) => i32::try_from(u64::from(n) * unit_secs).unwrap_or(i32::MAX),
        Err(_) => {
            errors.push(FieldError::new(field, format!("A whole number of {unit}.")));
            0
        }
    };
    let access_token_secs = seconds("access_token_minutes", &form.access_token_minutes, 60, "minutes");
    let refresh_token_secs = seconds("refresh_token_hours", &form.refresh_token_hours, 3600, "hours");
    let settings = ClientSettings {
        name: form.name.trim().to_owned(),
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        grants,
        allowed_acrs,
        default_acr,
        first_party: form.first_party,
        access_token_secs,
        refresh_token_secs,
        pkce: if form.pkce_optional {
            Pkce::OptionalForThisConfidentialClient
        } else {
            Pkce::Required
        },
        backchannel_logout_uri: Some(form.backchannel_logout_uri.trim())
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        require_par: form.require_par,
    };
    if errors.is_empty() {
        errors.extend(settings.problems().into_iter().map(|(f, m)| FieldError::new(f, m)));
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(PortalError::Validation(errors))
    }
}

fn settings_json(s: &ClientSettings) -> serde_json::Value {
    json!({
        "name": s.name,
        "redirect_uris": s.redirect_uris,
        "post_logout_redirect_uris": s.post_logout_redirect_uris,
        "grants": s.grants.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "allowed_acrs": s.allowed_acrs.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "default_acr": s.default_acr.map(Acr::as_str),
        "first_party": s.first_party,
        "access_token_secs": s.access_token_secs,
        "refresh_token_secs": s.refresh_token_secs,
        "pkce_required": s.pkce == Pkce::Required,
        "backchannel_logout_uri": s.backchannel_logout_uri,
        "require_par": s.require_par,
    })
}

fn client_error(e: ClientError) -> PortalError {
    match e {
        ClientError::Invalid(field, message) => invalid(field, message),
        ClientError::Exists(_) => PortalError::Conflict,
        ClientError::Db(e) => db("saving an application")(e),
    }
}

impl Console<'_> {
    async fn find_client(&self, id: &str) -> Result<Client, PortalError> {
        clients::find(self.ctx.pool(), id)
            .await
            .map_err(db("finding an application"))?
            .ok_or(PortalError::NotFound)
    }

    pub async fn clients(&self) -> Result<Vec<ClientSummary>, PortalError> {
        self.admin()?;
        let all = clients::list(self.ctx.pool())
            .await
            .map_err(db("listing applications"))?;
        Ok(all.iter().map(summary).collect())
    }

    pub async fn client(&self, id: &str) -> Result<ClientDetail, PortalError> {
        self.admin()?;
        let c = self.find_client(id).await?;
        let (created_at, rotated_at, waiting, last_error): (
            time::OffsetDateTime,
            Option<time::OffsetDateTime>,
            i64,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT created_at, secret_rotated_at, \
                    (SELECT count(*) FROM oidc_logout_notices n WHERE n.client_id = c.id), \
                    (SELECT last_error FROM oidc_logout_notices n WHERE n.client_id = c.id \
                     AND last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1) \
             FROM oidc_clients c WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.ctx.pool())
        .await
        .map_err(db("reading an application"))?;
        let enabled = methods::enabled(self.ctx.pool())
            .await
            .map_err(db("reading enabled methods"))?;
        let s = c.settings();
        Ok(ClientDetail {
            id: c.id.clone(),
            name: c.name.clone(),
            public: c.kind() == ClientKind::Public,
            redirect_uris: s.redirect_uris.join("\n"),
            post_logout_redirect_uris: s.post_logout_redirect_uris.join("\n"),
            grants: s.grants.iter().map(|g| g.as_str().to_owned()).collect(),
            allowed_acrs: s.allowed_acrs.iter().map(|a| a.as_str().to_owned()).collect(),
            default_acr: s.default_acr.map_or_else(String::new, |a| a.as_str().to_owned()),
            first_party: s.first_party,
            pkce_optional: s.pkce == Pkce::OptionalForThisConfidentialClient,
            backchannel_logout_uri: s.backchannel_logout_uri.unwrap_or_default(),
            logout_notices_waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
            logout_last_error: last_error,
            require_par: s.require_par,
            access_token_minutes: u32::try_from(s.access_token_secs / 60).unwrap_or(0),
            refresh_token_hours: u32::try_from(s.refresh_token_secs / 3600).unwrap_or(0),
            grant_choices: Grant::ALL
                .iter()
                .map(|g| (g.as_str().to_owned(), grant_words(*g).to_owned()))
                .collect(),
            acr_choices: acr_choices(&enabled),
            new_secret: None,
            created_at: human(created_at),
            secret_rotated_at: rotated_at.map(human),
        })
    }

    /// Registers an application: its id and its secret (none if public).
    pub async fn add_client(&self, form: &NewClientForm) -> Result<(String, Option<String>), PortalError> {
        let who = self.admin()?;
        let kind = match form.kind.as_str() {
            "confidential" => ClientKind::Confidential,
            "public" => ClientKind::Public,
            _ => {
                return Err(invalid(
                    "kind",
                    "Choose a server-side application or a browser or mobile app.",
                ));
            }
        };
        let new = NewClient {
            id: String::new(),
            name: form.name.clone(),
            redirect_uris: lines(&form.redirect_uris),
            post_logout_redirect_uris: Vec::new(),
            kind,
            grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
            first_party: form.first_party,
        };
        let now = self.ctx.now();
        let mut tx = self.ctx.pool().begin().await.map_err(db("adding an application"))?;
        let (client, secret) = clients::register(&mut tx, new, now).await.map_err(client_error)?;
        let event = Event::new(audit::ADMIN_CLIENT).actor(who).details(json!({
            "client_id": client.id, "action": "added", "after": settings_json(&client.settings()),
        }));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("adding an application"))?;
        Ok((client.id, secret))
    }

    pub async fn save_client(&self, form: &ClientForm) -> Result<(), PortalError> {
        let who = self.admin()?;
        let before = self.find_client(&form.id).await?.settings();
        let after = read_form(form)?;
        let mut tx = self.ctx.pool().begin().await.map_err(db("saving an application"))?;
        if !clients::update(&mut *tx, &form.id, &after)
            .await
            .map_err(client_error)?
        {
            return Err(PortalError::NotFound);
        }
        let event = Event::new(audit::ADMIN_CLIENT).actor(who).details(json!({
            "client_id": form.id, "action": "changed", "before": settings_json(&before), "after": settings_json(&after),
        }));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("saving an application"))
    }

    pub async fn rotate_client_secret(&self, id: &str) -> Result<String, PortalError> {
        let who = self.admin()?;
        let client = self.find_client(id).await?;
        if client.kind() == ClientKind::Public {
            return Err(invalid("id", "A browser or mobile app has no secret."));
        }
        let now = self.ctx.now();
        let mut tx = self.ctx.pool().begin().await.map_err(db("rotating a secret"))?;
        let secret = clients::rotate_secret(&mut *tx, id, now).await.map_err(client_error)?;
        let event = Event::new(audit::ADMIN_CLIENT)
            .actor(who)
            .details(json!({"client_id": id, "action": "secret_rotated"}));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("rotating a secret"))?;
        Ok(secret)
    }

    pub async fn delete_client(&self, id: &str, confirm: bool) -> Result<(), PortalError> {
        let who = self.admin()?;
        let client = self.find_client(id).await?;
        if !confirm {
            return Err(PortalError::NeedsConfirmation(format!(
                "Removing {} signs every user out of it and its sign-in links stop working. Tick the box to confirm.",
                client.name
            )));
        }
        let mut tx = self.ctx.pool().begin().await.map_err(db("removing an application"))?;
        if !clients::delete(&mut *tx, id)
            .await
            .map_err(db("removing an application"))?
        {
            return Err(PortalError::NotFound);
        }
        let event = Event::new(audit::ADMIN_CLIENT).actor(who).details(json!({
            "client_id": id, "action": "removed", "before": settings_json(&client.settings()),
        }));
        self.ctx.audit_in(&mut tx, event).await?;
        tx.commit().await.map_err(db("removing an application"))
    }
}
