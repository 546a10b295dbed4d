//! Applications registered to sign users in (OAuth clients): their settings,
//! registration with a secret shown once and stored hashed (SECURITY.md 45),
//! and client authentication at the token endpoint (RFC 6749 2.3.1).

use super::error::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
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
}

impl Client {
    pub fn kind(&self) -> ClientKind {
        match self.secret_hash {
            Some(_) => ClientKind::Confidential,
            None => ClientKind::Public,
        }
    }

    pub fn allows(&self, grant: Grant) -> bool {
        self.grants.iter().any(|g| g == grant.as_str())
    }

    /// Exact comparison with a registered URI, nothing looser (SECURITY.md 42).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    fn secret_matches(&self, secret: &str) -> bool {
        self.secret_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.ct_eq(hash_secret(secret).as_slice())))
    }
}

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grants, allowed_acrs, \
                       default_acr, first_party, access_token_secs, refresh_token_secs";

pub async fn find(pool: &PgPool, id: &str) -> sqlx::Result<Option<Client>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// 256 random bits, base64url: a client secret or a token.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
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

/// Why a new client's settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error("a client with id {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A redirect URI is absolute, has no fragment, and is `https` (or `http`
/// to this machine's loopback, for development and native apps, RFC 8252 7.3).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("{uri} is not an absolute URL ({e})."))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri} has a fragment (#…), which a redirect URI cannot have."));
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
/// (none for a public client).
pub async fn register(
    pool: &PgPool,
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
            "A client id has 1 to 64 letters, digits, '.', '_' or '-'.".into(),
        ));
    }
    if new.name.trim().is_empty() {
        return Err(ClientError::Invalid("Give the application a name.".into()));
    }
    if new.redirect_uris.is_empty() {
        return Err(ClientError::Invalid("Give at least one redirect URI.".into()));
    }
    for uri in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
        check_redirect_uri(uri).map_err(ClientError::Invalid)?;
    }
    let secret = match new.kind {
        ClientKind::Confidential => Some(random_secret()),
        ClientKind::Public => None,
    };
    let grants: Vec<&str> = new.grants.iter().map(|g| g.as_str()).collect();
    let inserted = sqlx::query(
        "INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grants, \
         first_party, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id)
    .bind(new.name.trim())
    .bind(secret.as_deref().map(|s| hash_secret(s).to_vec()))
    .bind(&new.redirect_uris)
    .bind(&new.post_logout_redirect_uris)
    .bind(&grants)
    .bind(new.first_party)
    .bind(now)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ClientError::Exists(id));
    }
    let client = find(pool, &id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((client, secret))
}

/// A new secret for a confidential client; the old one stops working now.
pub async fn rotate_secret(pool: &PgPool, id: &str, now: OffsetDateTime) -> Result<String, ClientError> {
    let secret = random_secret();
    let changed = sqlx::query(
        "UPDATE oidc_clients SET secret_hash = $2, secret_rotated_at = $3 WHERE id = $1 AND secret_hash IS NOT NULL",
    )
    .bind(id)
    .bind(hash_secret(&secret).to_vec())
    .bind(now)
    .execute(pool)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(ClientError::Invalid(format!("No confidential client has the id {id}.")));
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
