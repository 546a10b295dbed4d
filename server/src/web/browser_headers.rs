//! What every answer tells the browser (SECURITY.md 31-32): never frame this
//! site, run only its own scripts, keep paths off other sites, and keep no
//! copy of a page or an `/api` answer. Built assets may be cached but are
//! checked again before each use (their names do not change with their
//! content, so long-lived caching would serve a stale bundle after an upgrade).

use http::{HeaderMap, HeaderValue, header};

/// This request's CSP nonce: 128 bits from the OS CSPRNG, hex. The inline
/// hydration script and the data scripts of the page carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(pub String);

impl CspNonce {
    pub fn new() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }
}

impl Default for CspNonce {
    fn default() -> Self {
        Self::new()
    }
}

/// How long an answer may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Pages, sign-in steps, `/api` answers, errors: never stored.
    NoStore,
    /// Built assets and public files: stored, revalidated before each use.
    Revalidate,
}

impl Caching {
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::NoStore => "no-store",
            Self::Revalidate => "no-cache",
        })
    }
}

/// The Content-Security-Policy for a page rendered with `nonce`. Scripts:
/// this site's files and the inline scripts carrying the nonce; the wasm
/// bundle needs `'wasm-unsafe-eval'` to compile. No `'unsafe-inline'`.
pub fn content_security_policy(nonce: &CspNonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        nonce.0
    )
}

/// Features a sign-in portal never uses (WebAuthn's are left to the default:
/// this site only).
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

/// HSTS for an https public URL: a year, this host only (subdomains may be
/// other services).
const HSTS: &str = "max-age=31536000";

/// Adds the protections to an answer's headers. An answer that did not
/// choose its own `Cache-Control` (only the static files do) is not stored.
pub fn protect(headers: &mut HeaderMap, nonce: &CspNonce, https: bool) {
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: a form post must keep its `Origin` (the CSRF check
    // reads it) and its same-site `Referer` (the no-JavaScript forms go back
    // to the page they came from); other sites get neither path nor query.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        http::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    headers.insert(
        http::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, Caching::NoStore.header_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_31_the_policy_forbids_framing_and_foreign_or_inline_scripts() {
        let nonce = CspNonce::new();
        let csp = content_security_policy(&nonce);
        assert!(csp.contains("frame-ancestors 'none'"));
        let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
        assert!(
            !script_src.contains("unsafe-inline") && !script_src.contains('*'),
            "{script_src}"
        );
        assert!(script_src.contains(&format!("'nonce-{}'", nonce.0)));
        assert_eq!(nonce.0.len(), 32, "128 bits, hex");
        assert_ne!(nonce, CspNonce::new(), "a fresh nonce per answer");
    }

    #[test]
    fn sec_31_hsts_only_over_https_and_an_answer_keeps_its_own_caching() {
        let nonce = CspNonce::new();
        let mut h = HeaderMap::new();
        protect(&mut h, &nonce, false);
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, Caching::Revalidate.header_value());
        protect(&mut h, &nonce, true);
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    }
}
