//! The session's CSRF token (SECURITY.md 23): 256 bits from the OS CSPRNG,
//! made on first use and replaced at every privilege change.
//!
//! [`CsrfToken`] has no `==`: the only way to compare it with what a request
//! sent is [`CsrfToken::matches`], in constant time (SECURITY.md 10). So a
//! comparison that leaks timing does not compile:
//!
//! ```
//! let token = tessera_server::web::csrf::CsrfToken::new();
//! assert!(token.matches(token.reveal()));
//! ```
//! ```compile_fail
//! let token = tessera_server::web::csrf::CsrfToken::new();
//! let sent = tessera_server::web::csrf::CsrfToken::new();
//! let _ = token == sent;
//! ```
//! ```compile_fail
//! let token = tessera_server::web::csrf::CsrfToken::new();
//! let _ = token == "sent by the browser";
//! ```

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

/// Where the token lives in the session.
const CSRF_KEY: &str = "csrf";

/// A CSRF token. It has no `PartialEq`: see the module's note.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// A fresh token: 256 bits from the OS CSPRNG, hex.
    pub fn new() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Whether a request sent this token, in constant time.
    pub fn matches(&self, sent: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(sent.as_bytes()))
    }

    /// The token, to put in a page's forms.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl Default for CsrfToken {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(<redacted>)")
    }
}

/// This session's token, made and stored on first use.
pub async fn ensure(session: &Session) -> Result<CsrfToken, tower_sessions::session::Error> {
    if let Some(token) = stored(session).await? {
        return Ok(token);
    }
    let token = CsrfToken::new();
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// This session's token, if it has one.
pub async fn stored(session: &Session) -> Result<Option<CsrfToken>, tower_sessions::session::Error> {
    session.get::<CsrfToken>(CSRF_KEY).await
}

/// Replaces the session's token (at a privilege change).
pub async fn renew(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.insert(CSRF_KEY, CsrfToken::new()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_10_a_token_matches_only_itself_exactly() {
        let token = CsrfToken::new();
        assert_eq!(token.reveal().len(), 64, "256 bits, hex");
        assert!(token.matches(token.reveal()));
        let mut flipped = token.reveal().to_owned().into_bytes();
        flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
        assert!(!token.matches(std::str::from_utf8(&flipped).unwrap()));
        assert!(!token.matches(&token.reveal()[..63]));
        assert!(!token.matches(&format!("{}0", token.reveal())));
        assert!(!token.matches(""));
        assert!(!CsrfToken::new().matches(token.reveal()));
        assert_eq!(format!("{token:?}"), "CsrfToken(<redacted>)");
    }
}
