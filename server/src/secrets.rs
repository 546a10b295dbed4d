//! Provider secrets at rest (SECURITY.md 28): sealed with XChaCha20-Poly1305
//! under a key derived from `TESSERA_SECRET_KEY`, bound to the plugin id.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 24;

/// Seals and opens stored secrets.
#[derive(Clone)]
pub struct Sealer(XChaCha20Poly1305);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// The sealing key is its own: an HMAC of a fixed label under the
    /// configured secret, so it never equals the key of code hashes.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"tessera/plugin-secrets/v1");
        let key = mac.finalize().into_bytes();
        Self(XChaCha20Poly1305::new(&key))
    }

    /// A random nonce, then the ciphertext; `context` (the plugin id) must
    /// match when opening, so a box cannot be moved to another plugin.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// The plain text, or `None` when the box was not sealed by this key for
    /// this context (or was altered).
    pub fn open(&self, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }
}

/// A bearer token for a link, a cookie or an application: 256 random bits,
/// base64url (43 characters). Only its [`token_digest`] is ever stored.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// Whether `s` could be a [`random_token`] (43 base64url characters):
/// anything else is refused before a lookup.
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How a [`random_token`] is stored and looked up: its SHA-256 (a 256-bit
/// random value needs no slow hash).
pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A [`random_token`] that a browser keeps in a cookie of ours (a trusted
/// browser's, the key of a reset it asked for): never stored (only its
/// [`token_digest`]), never logged.
pub struct CookieToken(String);

impl CookieToken {
    /// A new random one.
    pub fn random() -> CookieToken {
        CookieToken(random_token())
    }

    /// One read from a request's cookie (anything of the wrong shape is none).
    pub fn from_cookie(value: &str) -> Option<CookieToken> {
        is_token_shaped(value).then(|| CookieToken(value.to_owned()))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn digest(&self) -> Vec<u8> {
        token_digest(&self.0)
    }
}

impl std::fmt::Debug for CookieToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieToken(<redacted>)")
    }
}

/// How a stored secret is shown: its last four characters at most, and only
/// when it is long enough that they give little away.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n >= 12 {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("••••{tail}")
    } else {
        "••••".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_opens_only_with_its_key_and_context() {
        let a = Sealer::from_secret(&[1; 32]);
        let b = Sealer::from_secret(&[2; 32]);
        let boxed = a.seal("twilio", b"token-123");
        assert!(!boxed.windows(9).any(|w| w == b"token-123"));
        assert_eq!(a.open("twilio", &boxed).as_deref(), Some(&b"token-123"[..]));
        assert_eq!(a.open("vonage", &boxed), None);
        assert_eq!(b.open("twilio", &boxed), None);
        let mut tampered = boxed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(a.open("twilio", &tampered), None);
        assert_ne!(a.seal("twilio", b"x"), a.seal("twilio", b"x"), "nonces differ");
    }

    #[test]
    fn masks_show_at_most_the_last_four() {
        assert_eq!(mask("short"), "••••");
        assert_eq!(mask("abcdefghijkl1234"), "••••1234");
    }
}
