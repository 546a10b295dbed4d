//! Applications registered to sign users in (OAuth clients): their settings,
//! registration with a secret shown once and stored hashed (SECURITY.md 45),
//! and client authentication at the token endpoint (RFC 6749 2.3.1).

use super::error::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool};
use subtle::ConstantTimeEq;
use tessera::acr::Acr;
use time::OffsetDateTime;

/// A grant type a client may be allowed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    /// The password grant with a second factor (and its OTP grant).
    Password,
}

impl Grant {
    pub const ALL: &'static [Grant] = &[Grant::AuthorizationCode, Grant::RefreshToken, Grant::Password];

    pub fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::Password => "password",
        }
    }

    pub fn parse(s: &str) -> Option<Grant> {
        Grant::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

/// Whether a client can keep a secret (a server-side application) or not
/// (a browser or mobile app, which must use PKCE instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Confidential,
    Public,
}

/// Whether the authorization code flow must use PKCE (RFC 7636).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pkce {
    /// Every request carries an S256 challenge (the default, and always so
    /// for a public client).
    #[default]
    Required,
    /// A confidential client too old to send one may leave it out (its
    /// secret still binds the code to it); one that sends it is held to it.
    OptionalForThisConfidentialClient,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Client {
    pub id: String,
    pub name: String,
    secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    grants: Vec<String>,
    pub allowed_acrs: Vec<String>,
    pub default_acr: Option<String>,
    /// Trusted by the operator: no consent screen.
    pub first_party: bool,
    pub access_token_secs: i32,
    pub refresh_token_secs: i32,
    pkce_optional: bool,
    /// Where it is told of a sign-out (back-channel logout); none: never.
    pub backchannel_logout_uri: Option<String>,
    require_par: bool,
}

impl Client {
    /// What this client's authorization requests must carry: PKCE, unless
    /// an administrator let a confidential client off.
    pub fn pkce(&self) -> Pkce {
        match (self.kind(), self.pkce_optional) {
            (ClientKind::Confidential, true) => Pkce::OptionalForThisConfidentialClient,
            _ => Pkce::Required,
        }
    }

    /// Whether its authorization requests must be pushed first (RFC 9126).
    pub fn requires_par(&self) -> bool {
        self.require_par
    }

    pub fn kind(&self) -> ClientKind {
        match self.secret_hash {
            Some(_) => ClientKind::Confidential,
            None => ClientKind::Public,
        }
    }

    pub fn allows(&self, grant: Grant) -> bool {
        self.grants.iter().any(|g| g == grant.as_str())
    }

    /// Exact comparison with a registered URI, nothing looser (SECURITY.md
    /// 42), but for the port of a loopback IP address (RFC 8252 7.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|r| r == uri || loopback_but_for_the_port(r, uri))
    }

    fn secret_matches(&self, secret: &str) -> bool {
        self.secret_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.ct_eq(hash_secret(secret).as_slice())))
    }
}

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grants, allowed_acrs, \
                       default_acr, first_party, access_token_secs, refresh_token_secs, pkce_optional, \
                       backchannel_logout_uri, require_par";

pub async fn find(pool: &PgPool, id: &str) -> sqlx::Result<Option<Client>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// What an administrator fills in for a new client.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The client id; empty: one is made.
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: Vec<String>,
    pub kind: ClientKind,
    pub grants: Vec<Grant>,
    pub first_party: bool,
}

/// What an administrator can change after registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<Grant>,
    /// The acrs it may ask for; empty: any.
    pub allowed_acrs: Vec<Acr>,
    /// What it gets when it asks for none; `None`: the server's default.
    pub default_acr: Option<Acr>,
    pub first_party: bool,
    pub access_token_secs: i32,
    pub refresh_token_secs: i32,
    /// A public client's is always `Required`, whatever is saved.
    pub pkce: Pkce,
    pub backchannel_logout_uri: Option<String>,
    /// Its authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
}

/// Token lifetimes a client may have (the table's checks say the same).
pub const ACCESS_TOKEN_SECS: std::ops::RangeInclusive<i32> = 60..=86_400;
pub const REFRESH_TOKEN_SECS: std::ops::RangeInclusive<i32> = 300..=31_536_000;

impl ClientSettings {
    /// Every rule a client's settings must keep, with the field it breaks.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push(("name", "Give the application a name.".to_owned()));
        } else if self.name.chars().count() > 100 {
            out.push(("name", "At most 100 characters.".to_owned()));
        }
        if self.redirect_uris.is_empty() {
            out.push(("redirect_uris", "Give at least one redirect URI.".to_owned()));
        }
        for (field, uris) in [
            ("redirect_uris", &self.redirect_uris),
            ("post_logout_redirect_uris", &self.post_logout_redirect_uris),
        ] {
            if uris.len() > 20 {
                out.push((field, "At most 20 addresses.".to_owned()));
            }
            if let Some(problem) = uris.iter().find_map(|u| check_redirect_uri(u).err()) {
                out.push((field, problem));
            }
        }
        if let Some(problem) = self
            .backchannel_logout_uri
            .as_deref()
            .and_then(|u| check_redirect_uri(u).err())
        {
            out.push(("backchannel_logout_uri", problem));
        }
        if self.grants.is_empty() {
            out.push(("grants", "Allow at least one grant.".to_owned()));
        }
        if let Some(d) = self.default_acr
            && !self.allowed_acrs.is_empty()
            && !self.allowed_acrs.contains(&d)
        {
            out.push(("default_acr", "The default must be one of the allowed acrs.".to_owned()));
        }
        if !ACCESS_TOKEN_SECS.contains(&self.access_token_secs) {
            out.push((
                "access_token_minutes",
                "From 1 minute to 1 day (1440 minutes).".to_owned(),
            ));
        }
        if !REFRESH_TOKEN_SECS.contains(&self.refresh_token_secs) {
            out.push((
                "refresh_token_hours",
                "From 5 minutes to 365 days (8760 hours).".to_owned(),
            ));
        }
        out
    }
}

impl Client {
    pub fn settings(&self) -> ClientSettings {
        ClientSettings {
            name: self.name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grants: self.grants.iter().filter_map(|g| Grant::parse(g)).collect(),
            allowed_acrs: self.allowed_acrs.iter().filter_map(|a| Acr::parse(a)).collect(),
            default_acr: self.default_acr.as_deref().and_then(Acr::parse),
            first_party: self.first_party,
            access_token_secs: self.access_token_secs,
            refresh_token_secs: self.refresh_token_secs,
            pkce: self.pkce(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            require_par: self.require_par,
        }
    }
}

/// Every client, by name.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Client>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients ORDER BY lower(name), id"))
        .fetch_all(pool)
        .await
}

/// Saves a client's settings; false: no such client.
pub async fn update(db: impl PgExecutor<'_>, id: &str, settings: &ClientSettings) -> Result<bool, ClientError> {
    if let Some((field, problem)) = settings.problems().into_iter().next() {
        return Err(ClientError::Invalid(field, problem));
    }
    let grants: Vec<&str> = settings.grants.iter().map(|g| g.as_str()).collect();
    let acrs: Vec<&str> = settings.allowed_acrs.iter().map(|a| a.as_str()).collect();
    let changed = sqlx::query(
        "UPDATE oidc_clients SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, grants = $5, \
         allowed_acrs = $6, default_acr = $7, first_party = $8, access_token_secs = $9, refresh_token_secs = $10, \
         pkce_optional = $11, backchannel_logout_uri = $12, require_par = $13 WHERE id = $1",
    )
    .bind(id)
    .bind(settings.name.trim())
    .bind(&settings.redirect_uris)
    .bind(&settings.post_logout_redirect_uris)
    .bind(&grants)
    .bind(&acrs)
    .bind(settings.default_acr.map(Acr::as_str))
    .bind(settings.first_party)
    .bind(settings.access_token_secs)
    .bind(settings.refresh_token_secs)
    .bind(settings.pkce == Pkce::OptionalForThisConfidentialClient)
    .bind(&settings.backchannel_logout_uri)
    .bind(settings.require_par)
    .execute(db)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Removes a client with its codes, tokens and consents; false: no such client.
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(gone.rows_affected() == 1)
}

impl NewClient {
    /// Its settings, with the default acrs and token lifetimes.
    fn settings(&self) -> ClientSettings {
        ClientSettings {
            name: self.name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grants: self.grants.clone(),
            allowed_acrs: Vec::new(),
            default_acr: None,
            first_party: self.first_party,
            access_token_secs: DEFAULT_ACCESS_TOKEN_SECS,
            refresh_token_secs: DEFAULT_REFRESH_TOKEN_SECS,
            pkce: Pkce::Required,
            backchannel_logout_uri: None,
            require_par: false,
        }
    }
}

/// A new client's token lifetimes: 10 minutes, 30 days.
pub const DEFAULT_ACCESS_TOKEN_SECS: i32 = 600;
pub const DEFAULT_REFRESH_TOKEN_SECS: i32 = 30 * 24 * 3600;

/// Why a new client's settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting breaks a rule: the field and why.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("a client with id {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `presented` is `registered` with another port, and `registered` is
/// `http` to a loopback IP address: a native app listens on whatever port
/// the system gave it, and the authorization server must take any (RFC 8252
/// 7.3). Not for the name `localhost` (RFC 8252 8.3: a name is resolved,
/// an address is not), and only for a URI written as the parser writes it
/// (no `..`, case or escapes that reading would change).
fn loopback_but_for_the_port(registered: &str, presented: &str) -> bool {
    let (Ok(mut registered), Ok(mut presented_url)) = (url::Url::parse(registered), url::Url::parse(presented)) else {
        return false;
    };
    let loopback_ip = match registered.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(_)) | None => false,
    };
    registered.scheme() == "http"
        && loopback_ip
        && presented_url.as_str() == presented
        && registered.set_port(None).is_ok()
        && presented_url.set_port(None).is_ok()
        && registered == presented_url
}

/// A URI Tessera sends a browser or a notice to (a redirect URI, a
/// back-channel logout URI) is absolute, has no fragment, and is `https`
/// (or `http` to this machine's loopback, for development and native apps,
/// RFC 8252 7.3).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("{uri} is not an absolute URL ({e})."))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri} has a fragment (#…), which this address cannot have."));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("{uri} must use https (http only to localhost).")),
    }
}

/// Registers a client; the answer carries the secret, shown this once
/// (none for a public client). Within `db`'s transaction, if it has one.
pub async fn register(
    db: &mut sqlx::PgConnection,
    new: NewClient,
    now: OffsetDateTime,
) -> Result<(Client, Option<String>), ClientError> {
    let id = if new.id.is_empty() {
        let mut bytes = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase()
    } else {
        new.id.clone()
    };
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(ClientError::Invalid(
            "id",
            "A client id has 1 to 64 letters, digits, '.', '_' or '-'.".into(),
        ));
    }
    let settings = new.settings();
    if let Some((field, problem)) = settings.problems().into_iter().next() {
        return Err(ClientError::Invalid(field, problem));
    }
    let secret = match new.kind {
        ClientKind::Confidential => Some(crate::secrets::random_token()),
        ClientKind::Public => None,
    };
    let mut tx = sqlx::Connection::begin(db).await?;
    let inserted = sqlx::query(
        "INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id)
    .bind(settings.name.trim())
    .bind(secret.as_deref().map(|s| hash_secret(s).to_vec()))
    .bind(&settings.redirect_uris)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ClientError::Exists(id));
    }
    update(&mut *tx, &id, &settings).await?;
    let client: Client = sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((client, secret))
}

/// A new secret for a confidential client; the old one stops working now.
pub async fn rotate_secret(db: impl PgExecutor<'_>, id: &str, now: OffsetDateTime) -> Result<String, ClientError> {
    let secret = crate::secrets::random_token();
    let changed = sqlx::query(
        "UPDATE oidc_clients SET secret_hash = $2, secret_rotated_at = $3 WHERE id = $1 AND secret_hash IS NOT NULL",
    )
    .bind(id)
    .bind(hash_secret(&secret).to_vec())
    .bind(now)
    .execute(db)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(ClientError::Invalid(
            "id",
            format!("No confidential client has the id {id}."),
        ));
    }
    Ok(secret)
}

/// The client of a token request, authenticated: by HTTP Basic
/// (`client_secret_basic`), by `client_id` and `client_secret` in the body
/// (`client_secret_post`), or by `client_id` alone for a public client.
pub async fn authenticate(
    pool: &PgPool,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let (id, secret, by_header) = match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "Send the client's credentials one way only.".into(),
            ));
        }
        (Some((id, secret)), form, None) => {
            if form.is_some_and(|f| f != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id differs from the Authorization header.".into(),
                ));
            }
            (id, Some(secret), true)
        }
        (None, Some(id), secret) => (id.to_owned(), secret.map(str::to_owned), false),
        (None, None, _) => return Err(OAuthError::InvalidClient { by_header: false }),
    };
    let client = find(pool, &id)
        .await
        .map_err(|e| OAuthError::server("finding a client", e.into()))?
        .ok_or(OAuthError::InvalidClient { by_header })?;
    let ok = match (client.kind(), secret) {
        (ClientKind::Confidential, Some(s)) => client.secret_matches(&s),
        (ClientKind::Public, None) => true,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(OAuthError::InvalidClient { by_header })
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::InvalidClient { by_header: true };
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err(bad());
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_address_takes_any_port_and_nothing_else_changes() {
        let same = |registered: &str, presented: &str| loopback_but_for_the_port(registered, presented);
        assert!(same("http://127.0.0.1:9/cb", "http://127.0.0.1:53124/cb"));
        assert!(same("http://127.0.0.1/cb", "http://127.0.0.1:53124/cb"));
        assert!(same("http://[::1]:9/cb?app=1", "http://[::1]:8080/cb?app=1"));
        for other in [
            "http://127.0.0.1:53124/cb/more",
            "http://127.0.0.1:53124/x/../cb",
            "http://127.0.0.1:53124/CB",
            "http://127.0.0.1:53124/cb?more=1",
            "http://user@127.0.0.1:53124/cb",
            "https://127.0.0.1:53124/cb",
            "http://127.0.0.2:53124/cb",
            "http://localhost:53124/cb",
            "http://127.0.0.1:53124/cb#f",
        ] {
            assert!(!same("http://127.0.0.1:9/cb", other), "{other}");
        }
        assert!(
            !same("http://localhost:9/cb", "http://localhost:8080/cb"),
            "a name is not an address"
        );
        assert!(
            !same("https://127.0.0.1:9/cb", "https://127.0.0.1:8080/cb"),
            "http only"
        );
        assert!(!same("https://app.example:9/cb", "https://app.example:8080/cb"));
    }

    #[test]
    fn sec_42_redirect_uris_are_absolute_https_or_loopback() {
        assert!(check_redirect_uri("https://app.example.org/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]/cb").is_ok());
        assert!(check_redirect_uri("http://app.example.org/cb").is_err());
        assert!(check_redirect_uri("http://10.0.0.1/cb").is_err());
        assert!(check_redirect_uri("https://app.example.org/cb#x").is_err());
        assert!(check_redirect_uri("/cb").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
    }

    fn settings() -> ClientSettings {
        NewClient {
            id: String::new(),
            name: "Wiki".into(),
            redirect_uris: vec!["https://wiki.example/cb".into()],
            post_logout_redirect_uris: Vec::new(),
            kind: ClientKind::Confidential,
            grants: vec![Grant::AuthorizationCode],
            first_party: true,
        }
        .settings()
    }

    fn fields(s: &ClientSettings) -> Vec<&'static str> {
        s.problems().into_iter().map(|(field, _)| field).collect()
    }

    #[test]
    fn client_settings_keep_their_limits_and_name_the_field() {
        assert_eq!(fields(&settings()), Vec::<&str>::new());
        let mut s = settings();
        s.name = "n".repeat(100);
        assert!(fields(&s).is_empty());
        s.name.push('n');
        assert_eq!(fields(&s), ["name"]);
        let mut s = settings();
        s.redirect_uris = (0..20).map(|i| format!("https://wiki.example/cb{i}")).collect();
        s.post_logout_redirect_uris = s.redirect_uris.clone();
        assert!(fields(&s).is_empty());
        s.redirect_uris.push("https://wiki.example/cb20".into());
        s.post_logout_redirect_uris.push("https://wiki.example/cb20".into());
        assert_eq!(fields(&s), ["redirect_uris", "post_logout_redirect_uris"]);
        let mut s = settings();
        s.redirect_uris.clear();
        s.grants.clear();
        assert_eq!(fields(&s), ["redirect_uris", "grants"]);
        // A default acr must be one the client may have.
        let mut s = settings();
        s.default_acr = Acr::parse("sms");
        assert!(fields(&s).is_empty(), "any acr when none is listed");
        s.allowed_acrs = vec![Acr::Password, Acr::parse("sms").unwrap()];
        assert!(fields(&s).is_empty());
        s.allowed_acrs = vec![Acr::Password];
        assert_eq!(fields(&s), ["default_acr"]);
        // Lifetimes, to the second.
        let mut s = settings();
        (s.access_token_secs, s.refresh_token_secs) = (60, 300);
        assert!(fields(&s).is_empty());
        (s.access_token_secs, s.refresh_token_secs) = (86_400, 31_536_000);
        assert!(fields(&s).is_empty());
        (s.access_token_secs, s.refresh_token_secs) = (59, 299);
        assert_eq!(fields(&s), ["access_token_minutes", "refresh_token_hours"]);
        (s.access_token_secs, s.refresh_token_secs) = (86_401, 31_536_001);
        assert_eq!(fields(&s), ["access_token_minutes", "refresh_token_hours"]);
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let mut h = HeaderMap::new();
        let raw = STANDARD.encode("my%20app:s%3Acret");
        h.insert(http::header::AUTHORIZATION, format!("Basic {raw}").parse().unwrap());
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my app".to_owned(), "s:cret".to_owned()))
        );
        h.insert(http::header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(basic_credentials(&h).is_err());
    }
}
