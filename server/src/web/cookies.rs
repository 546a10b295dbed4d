//! Tessera's cookies, each named here once. Over https each name carries the
//! `__Host-` prefix (RFC 6265bis 4.1.3.2): the browser then accepts the
//! cookie only with `Secure`, `Path=/` and no `Domain`, so neither a sibling
//! subdomain nor a plain-http page of the same host can plant or overwrite
//! it (session fixation through a cookie set for `.example.org`). Over
//! plain http (development on localhost) the prefix would make browsers
//! drop the cookie, so the names go without it.

/// One of the cookies Tessera sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OurCookie {
    /// The session's id (tower-sessions).
    Session,
    /// A trusted browser's token (skips the second step).
    TrustedBrowser,
    /// The key of a 2FA reset this browser asked for.
    ResetKey,
}

impl OurCookie {
    /// Its name on a site served over https (`https`) or plain http.
    pub fn name(self, https: bool) -> &'static str {
        match (self, https) {
            (OurCookie::Session, true) => "__Host-tessera_session",
            (OurCookie::Session, false) => "tessera_session",
            (OurCookie::TrustedBrowser, true) => "__Host-tessera_trust",
            (OurCookie::TrustedBrowser, false) => "tessera_trust",
            (OurCookie::ResetKey, true) => "__Host-tessera_reset",
            (OurCookie::ResetKey, false) => "tessera_reset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_every_name_has_the_host_prefix_and_over_http_none_does() {
        for c in [OurCookie::Session, OurCookie::TrustedBrowser, OurCookie::ResetKey] {
            let secure = c.name(true);
            assert_eq!(secure.strip_prefix("__Host-"), Some(c.name(false)), "{c:?}");
            assert!(!c.name(false).starts_with("__"), "{c:?}");
        }
    }
}
