//! The keys that sign ID tokens (SECURITY.md 45): RSA 2048 for RS256, made
//! the first time one is needed (and by `serve` at start), sealed at rest
//! under `TESSERA_SECRET_KEY`, named by their RFC 7638 thumbprint (`kid`).
//! Rotation publishes a new key at once and has it sign one JWKS cache
//! period later ([`JWKS_CACHE_SECS`]), so that a relying party that cached
//! the set knows the key before it meets a token it signed; the old key
//! signs until then (its `retired_at`) and stays published until its tokens
//! have expired.
//!
//! Keys are made with the `rsa` crate and used through `ring`, whose RSA
//! signing runs in constant time.

use crate::secrets::Sealer;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use time::OffsetDateTime;

const RSA_BITS: usize = 2048;
const ALG: &str = "RS256";

/// How long a retired key stays in the JWKS: longer than any ID token or
/// access token lives (a day at most).
pub const RETIRED_KEY_KEPT: time::Duration = time::Duration::days(2);

/// How long discovery and the JWKS may be cached (their `Cache-Control`),
/// and so how long before it signs a new key is published.
pub const JWKS_CACHE_SECS: i64 = 300;

/// A signing key ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pair: Arc<RsaKeyPair>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

/// What a signed JWT is, named in its header's `typ` so that one kind can
/// never be taken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtKind {
    IdToken,
    /// Back-Channel Logout 1.0 section 2.4: `logout+jwt`.
    LogoutToken,
}

impl JwtKind {
    fn typ(self) -> &'static str {
        match self {
            JwtKind::IdToken => "JWT",
            JwtKind::LogoutToken => "logout+jwt",
        }
    }
}

impl SigningKey {
    /// A compact JWS (RFC 7515) of these claims: header, payload and
    /// signature, base64url without padding.
    pub fn sign_jwt(&self, kind: JwtKind, claims: &Value) -> anyhow::Result<String> {
        let header = json!({"alg": ALG, "typ": kind.typ(), "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header)?),
            B64.encode(serde_json::to_vec(claims)?)
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing a JWT"))?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }
}

/// Keys already unsealed and parsed, by kid (a kid is the hash of its
/// public key, so one kid is one key whichever database it came from).
static UNSEALED: LazyLock<Mutex<HashMap<String, SigningKey>>> = LazyLock::new(Default::default);

/// The key that signs now: the newest that has begun to sign (while a
/// rotation's new key waits, the one before it: a key is retired exactly
/// when the next one begins); made if there is none yet.
pub async fn active(pool: &PgPool, sealer: &Sealer, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    for _ in 0..2 {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, sealed_private FROM oidc_signing_keys ORDER BY signs_from <= $1 DESC, signs_from DESC LIMIT 1",
        )
        .bind(now)
        .fetch_optional(pool)
        .await?;
        match row {
            Some((kid, sealed)) => return unseal(sealer, &kid, &sealed),
            // Two servers may both get here: one insert wins, both then read it.
            None => insert_new(pool, sealer, now).await?,
        }
    }
    anyhow::bail!("no signing key after making one")
}

fn unseal(sealer: &Sealer, kid: &str, sealed: &[u8]) -> anyhow::Result<SigningKey> {
    if let Some(key) = UNSEALED.lock().unwrap_or_else(|e| e.into_inner()).get(kid) {
        return Ok(key.clone());
    }
    let der = sealer
        .open(&context(kid), sealed)
        .ok_or_else(|| anyhow::anyhow!("signing key {kid} does not open with TESSERA_SECRET_KEY"))?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("signing key {kid}: {e}"))?;
    let key = SigningKey {
        kid: kid.to_owned(),
        pair: Arc::new(pair),
    };
    UNSEALED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(kid.to_owned(), key.clone());
    Ok(key)
}

/// What a sealed key is bound to: its own kid.
fn context(kid: &str) -> String {
    format!("oidc-signing-key:{kid}")
}

/// A new key pair: the private key as PKCS#8 DER, the public key as a JWK
/// and its thumbprint.
fn generate() -> anyhow::Result<(Vec<u8>, Value, String)> {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)?;
    let der = private.to_pkcs8_der()?.as_bytes().to_vec();
    let n = B64.encode(private.n().to_bytes_be());
    let e = B64.encode(private.e().to_bytes_be());
    // RFC 7638: the required members in lexicographic order, no spaces.
    let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = B64.encode(Sha256::digest(thumbprint.as_bytes()));
    let jwk = json!({"kty": "RSA", "use": "sig", "alg": ALG, "kid": kid, "n": n, "e": e});
    Ok((der, jwk, kid))
}

/// Makes the first key, which signs at once (no relying party can have
/// cached a set without it), unless another is there already (a second
/// server got there first).
async fn insert_new(pool: &PgPool, sealer: &Sealer, now: OffsetDateTime) -> anyhow::Result<()> {
    let (der, jwk, kid) = tokio::task::spawn_blocking(generate).await??;
    sqlx::query(
        "INSERT INTO oidc_signing_keys (kid, alg, sealed_private, public_jwk, created_at, signs_from) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&kid)
    .bind(ALG)
    .bind(sealer.seal(&context(&kid), &der))
    .bind(&jwk)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// A rotation's new key: its kid, and when it begins to sign.
pub struct Rotated {
    pub kid: String,
    pub signs_from: OffsetDateTime,
}

/// Rotation: a new key, published now, signs from one JWKS cache period on;
/// the one before signs until then, is retired then and stays published for
/// [`RETIRED_KEY_KEPT`] after.
pub async fn rotate(pool: &PgPool, sealer: &Sealer, now: OffsetDateTime) -> anyhow::Result<Rotated> {
    let (der, jwk, kid) = tokio::task::spawn_blocking(generate).await??;
    let signs_from = now + time::Duration::seconds(JWKS_CACHE_SECS);
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE oidc_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(signs_from)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO oidc_signing_keys (kid, alg, sealed_private, public_jwk, created_at, signs_from) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&kid)
    .bind(ALG)
    .bind(sealer.seal(&context(&kid), &der))
    .bind(&jwk)
    .bind(now)
    .bind(signs_from)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotated { kid, signs_from })
}

/// The JWKS document: the key that signs, one waiting to sign, and every
/// retired key still within [`RETIRED_KEY_KEPT`] (SECURITY.md 45).
pub async fn jwks(pool: &PgPool, now: OffsetDateTime) -> sqlx::Result<Value> {
    let keys: Vec<Value> = sqlx::query_scalar(
        "SELECT public_jwk FROM oidc_signing_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY signs_from DESC",
    )
    .bind(now - RETIRED_KEY_KEPT)
    .fetch_all(pool)
    .await?;
    Ok(json!({ "keys": keys }))
}

/// The claims of a JWT of this kind this server signed with one of its
/// keys (active or retired), whatever its expiry (an `id_token_hint`);
/// `None`: malformed, of another kind, or not signed by us.
pub async fn verify_own_jwt(pool: &PgPool, kind: JwtKind, jwt: &str) -> sqlx::Result<Option<Value>> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let decode = |p: &str| B64.decode(p).ok();
    let Some(header) = decode(header).and_then(|h| serde_json::from_slice::<Value>(&h).ok()) else {
        return Ok(None);
    };
    if header["alg"] != ALG || header["typ"] != kind.typ() {
        return Ok(None);
    }
    let Some(kid) = header["kid"].as_str() else {
        return Ok(None);
    };
    let jwk: Option<Value> = sqlx::query_scalar("SELECT public_jwk FROM oidc_signing_keys WHERE kid = $1")
        .bind(kid)
        .fetch_optional(pool)
        .await?;
    let Some(jwk) = jwk else {
        return Ok(None);
    };
    let (Some(n), Some(e), Some(signature)) = (
        jwk["n"].as_str().and_then(decode),
        jwk["e"].as_str().and_then(decode),
        decode(signature),
    ) else {
        return Ok(None);
    };
    let key = ring::signature::RsaPublicKeyComponents { n, e };
    let signed = &jwt[..header_and_payload_len(jwt)];
    if key
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .is_err()
    {
        return Ok(None);
    }
    Ok(decode(payload).and_then(|p| serde_json::from_slice(&p).ok()))
}

/// The length of `header.payload`, the part a JWS signs.
fn header_and_payload_len(jwt: &str) -> usize {
    jwt.rfind('.').unwrap_or(0)
}
