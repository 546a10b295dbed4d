//! The cookie session with typed values: every key the server keeps in it
//! is named once, here, behind a method that says what it holds.

use super::csrf::{self, CsrfToken};
use crate::methods::KeptCeremony;
use crate::methods::passkey::register::PasskeySetup;
use crate::methods::totp::enroll::SetupKey;
use crate::oidc::authorize::AuthorizationRequest;
use tessera::acr::Acr;
use tessera::signin::AuthState;
use tower_sessions::Session;
use tower_sessions::session::Error;
use uuid::Uuid;

const AUTH: &str = "auth";
/// The session's row in `user_sessions`.
const ROW: &str = "sid";
/// When the session was last marked as in use (Unix seconds).
const SEEN: &str = "seen";
/// Where to land after signing in again.
const RETURN_TO: &str = "return_to";
/// Why the last sign-in code did not go out, for the second-step page.
const SEND_NOTICE: &str = "second_factor_notice";
/// The answer to an administrator's last test message: (plugin, answer).
const TEST_ANSWER: &str = "provider_test_answer";
/// A new set of recovery codes, sealed, with when it was made (Unix seconds).
const FRESH_RECOVERY_CODES: &str = "fresh_recovery_codes";
/// A client secret the console just made, sealed, until its page shows it.
const FRESH_CLIENT_SECRET: &str = "fresh_client_secret";
/// Applications' authorization requests waiting for the person to sign in,
/// by a random id (one per browser tab), oldest first.
const AUTHORIZATION_REQUESTS: &str = "oidc_authorization_requests";
/// At most this many are kept; the oldest go first.
const MAX_AUTHORIZATION_REQUESTS: usize = 5;
/// The acr the application being signed in to asks (raised to its
/// client's minimum), until the password step folds it into what the
/// sign-in owes (`AuthState`'s `owed`) and the sign-in finishes.
const APPLICATION_ACR: &str = "application_acr";
/// A passkey ceremony of a sign-in (the second step's, or one that starts
/// with the passkey), until the browser answers it.
const CEREMONY: &str = "passkey_ceremony";
/// A passkey being added, until the browser answers.
const PASSKEY_SETUP: &str = "passkey_setup";
/// The key to the authenticator app this session is adding (SECURITY.md 52).
const APP_SETUP: &str = "app_setup";

#[derive(Clone)]
pub struct TypedSession(Session);

impl TypedSession {
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    pub async fn auth(&self) -> Result<Option<AuthState>, Error> {
        self.0.get(AUTH).await
    }

    /// A privilege change: a new session id, the new state and a new CSRF
    /// token; the old id is dead (SECURITY.md 19).
    pub async fn change_privilege(&self, auth: &AuthState) -> Result<(), Error> {
        self.0.cycle_id().await?;
        self.0.insert(AUTH, auth).await?;
        csrf::renew(&self.0).await
    }

    /// The same state with a change that is not a privilege change (the
    /// credential being proven at the second step).
    pub async fn update_auth(&self, auth: &AuthState) -> Result<(), Error> {
        self.0.insert(AUTH, auth).await
    }

    pub async fn row(&self) -> Result<Option<Uuid>, Error> {
        self.0.get(ROW).await
    }

    pub async fn set_row(&self, row: Uuid) -> Result<(), Error> {
        self.0.insert(ROW, row).await
    }

    pub async fn seen(&self) -> Result<Option<i64>, Error> {
        self.0.get(SEEN).await
    }

    pub async fn set_seen(&self, at: i64) -> Result<(), Error> {
        self.0.insert(SEEN, at).await
    }

    pub async fn set_return_to(&self, path: &str) -> Result<(), Error> {
        self.0.insert(RETURN_TO, path).await
    }

    pub async fn take_return_to(&self) -> Result<Option<String>, Error> {
        self.0.remove(RETURN_TO).await
    }

    pub async fn send_notice(&self) -> Result<Option<String>, Error> {
        Ok(self.0.get::<Option<String>>(SEND_NOTICE).await?.flatten())
    }

    pub async fn set_send_notice(&self, notice: Option<String>) -> Result<(), Error> {
        self.0.insert(SEND_NOTICE, notice).await
    }

    pub async fn clear_send_notice(&self) -> Result<(), Error> {
        self.0.remove_value(SEND_NOTICE).await.map(|_| ())
    }

    pub async fn test_answer(&self) -> Result<Option<(String, String)>, Error> {
        self.0.get(TEST_ANSWER).await
    }

    pub async fn set_test_answer(&self, plugin: &str, answer: &str) -> Result<(), Error> {
        self.0.insert(TEST_ANSWER, (plugin, answer)).await
    }

    /// Keeps a new set of recovery codes (sealed) for the page to show.
    pub async fn set_fresh_recovery_codes(&self, made_at: i64, sealed: Vec<u8>) -> Result<(), Error> {
        self.0.insert(FRESH_RECOVERY_CODES, (made_at, sealed)).await
    }

    pub async fn fresh_recovery_codes(&self) -> Result<Option<(i64, Vec<u8>)>, Error> {
        self.0.get(FRESH_RECOVERY_CODES).await
    }

    pub async fn clear_fresh_recovery_codes(&self) -> Result<(), Error> {
        self.0.remove_value(FRESH_RECOVERY_CODES).await.map(|_| ())
    }

    /// Keeps the second step's ceremony (replacing an earlier one).
    pub async fn set_ceremony(&self, kept: &KeptCeremony) -> Result<(), Error> {
        self.0.insert(CEREMONY, kept).await
    }

    /// The ceremony for `credential` (none: a sign-in with a passkey the
    /// browser finds), removed from the session: it is answered once.
    pub async fn take_ceremony(&self, credential: Option<Uuid>) -> Result<Option<KeptCeremony>, Error> {
        let kept: Option<KeptCeremony> = self.0.get(CEREMONY).await?;
        match kept {
            Some(kept) if kept.credential == credential => {
                self.0.remove_value(CEREMONY).await?;
                Ok(Some(kept))
            }
            _ => Ok(None),
        }
    }

    pub async fn set_passkey_setup(&self, setup: &PasskeySetup) -> Result<(), Error> {
        self.0.insert(PASSKEY_SETUP, setup).await
    }

    pub async fn passkey_setup(&self) -> Result<Option<PasskeySetup>, Error> {
        self.0.get(PASSKEY_SETUP).await
    }

    pub async fn clear_passkey_setup(&self) -> Result<(), Error> {
        self.0.remove_value(PASSKEY_SETUP).await.map(|_| ())
    }

    pub async fn set_app_setup(&self, key: &SetupKey) -> Result<(), Error> {
        self.0.insert(APP_SETUP, key).await
    }

    pub async fn app_setup(&self) -> Result<Option<SetupKey>, Error> {
        self.0.get(APP_SETUP).await
    }

    pub async fn clear_app_setup(&self) -> Result<(), Error> {
        self.0.remove_value(APP_SETUP).await.map(|_| ())
    }

    pub async fn set_fresh_client_secret(&self, client_id: &str, made_at: i64, sealed: Vec<u8>) -> Result<(), Error> {
        self.0
            .insert(FRESH_CLIENT_SECRET, (client_id.to_owned(), made_at, sealed))
            .await
    }

    /// The secret kept for this client (when it was made, sealed), removed
    /// from the session: it is shown once.
    pub async fn take_fresh_client_secret(&self, client_id: &str) -> Result<Option<(i64, Vec<u8>)>, Error> {
        let kept: Option<(String, i64, Vec<u8>)> = self.0.get(FRESH_CLIENT_SECRET).await?;
        match kept {
            Some((id, made_at, sealed)) if id == client_id => {
                self.0.remove_value(FRESH_CLIENT_SECRET).await?;
                Ok(Some((made_at, sealed)))
            }
            _ => Ok(None),
        }
    }

    /// Keeps an application's request while the person signs in; the
    /// answer is its id.
    pub async fn keep_authorization(&self, request: &AuthorizationRequest) -> Result<String, Error> {
        let mut kept: Vec<(String, AuthorizationRequest)> =
            self.0.get(AUTHORIZATION_REQUESTS).await?.unwrap_or_default();
        let id = crate::secrets::random_token();
        kept.push((id.clone(), request.clone()));
        let excess = kept.len().saturating_sub(MAX_AUTHORIZATION_REQUESTS);
        kept.drain(..excess);
        self.0.insert(AUTHORIZATION_REQUESTS, kept).await?;
        Ok(id)
    }

    /// The request kept under `id`, removed from the session.
    pub async fn take_authorization(&self, id: &str) -> Result<Option<AuthorizationRequest>, Error> {
        let mut kept: Vec<(String, AuthorizationRequest)> =
            self.0.get(AUTHORIZATION_REQUESTS).await?.unwrap_or_default();
        let Some(at) = kept.iter().position(|(k, _)| k == id) else {
            return Ok(None);
        };
        let (_, request) = kept.remove(at);
        self.0.insert(AUTHORIZATION_REQUESTS, kept).await?;
        Ok(Some(request))
    }

    pub async fn application_acr(&self) -> Result<Option<Acr>, Error> {
        Ok(self.0.get::<Option<Acr>>(APPLICATION_ACR).await?.flatten())
    }

    pub async fn set_application_acr(&self, acr: Option<Acr>) -> Result<(), Error> {
        self.0.insert(APPLICATION_ACR, acr).await
    }

    pub async fn clear_application_acr(&self) -> Result<(), Error> {
        self.0.remove_value(APPLICATION_ACR).await.map(|_| ())
    }

    /// This session's CSRF token, made on first use.
    pub async fn csrf_token(&self) -> Result<CsrfToken, Error> {
        csrf::ensure(&self.0).await
    }

    pub async fn stored_csrf_token(&self) -> Result<Option<CsrfToken>, Error> {
        csrf::stored(&self.0).await
    }

    /// Ends the session: its data and its cookie.
    pub async fn flush(&self) -> Result<(), Error> {
        self.0.flush().await
    }
}
