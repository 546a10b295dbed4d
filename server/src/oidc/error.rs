//! The OAuth 2.0 error vocabulary (RFC 6749 5.2, RFC 6750 3.1), answered as
//! JSON by the token, userinfo and revocation endpoints. Internal failures
//! are logged with what was being done and answered as `server_error`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

#[derive(Debug)]
pub enum OAuthError {
    InvalidRequest(String),
    /// Unknown client, wrong secret, or none where one is needed.
    /// `by_header`: the client tried HTTP Basic (the answer is then a 401
    /// with `WWW-Authenticate`).
    InvalidClient {
        by_header: bool,
    },
    InvalidGrant(String),
    UnauthorizedClient(String),
    UnsupportedGrantType,
    InvalidScope(String),
    /// A pushed authorization request refused as the authorization
    /// endpoint would have refused it (its error code and description).
    AuthorizationRequest {
        error: &'static str,
        description: &'static str,
    },
    /// A bearer token that is unknown, expired or revoked (RFC 6750).
    InvalidToken,
    /// Too many attempts (the sign-in throttle, send budgets): wait.
    SlowDown {
        retry_after_secs: u64,
    },
    /// A provider or the database cannot serve the request now.
    TemporarilyUnavailable(String),
    /// OpenID Connect needs `TESSERA_SECRET_KEY` (its keys are sealed).
    NotConfigured,
    ServerError,
}

impl OAuthError {
    /// Logs an internal failure; the client sees `server_error` only.
    pub fn server(context: &'static str, e: anyhow::Error) -> OAuthError {
        tracing::error!(error = %format!("{e:#}"), "{context}");
        OAuthError::ServerError
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            OAuthError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d.clone()),
            OAuthError::InvalidClient { by_header } => (
                if *by_header {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                },
                "invalid_client",
                "The client is unknown or its credentials are wrong.".into(),
            ),
            OAuthError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d.clone()),
            OAuthError::UnauthorizedClient(d) => (StatusCode::BAD_REQUEST, "unauthorized_client", d.clone()),
            OAuthError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "This grant type is not supported.".into(),
            ),
            OAuthError::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d.clone()),
            OAuthError::AuthorizationRequest { error, description } => {
                (StatusCode::BAD_REQUEST, error, (*description).to_owned())
            }
            OAuthError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is unknown, expired or revoked.".into(),
            ),
            OAuthError::SlowDown { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                format!("Too many attempts; try again in {retry_after_secs} seconds."),
            ),
            OAuthError::TemporarilyUnavailable(d) => {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", d.clone())
            }
            OAuthError::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "OpenID Connect is not available: the server has no TESSERA_SECRET_KEY to seal its signing keys."
                    .into(),
            ),
            OAuthError::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Something went wrong on our side; try again.".into(),
            ),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, error, description) = self.parts();
        let mut res = (status, Json(json!({"error": error, "error_description": description}))).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            OAuthError::InvalidClient { by_header: true } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="tessera""#),
                );
            }
            OAuthError::SlowDown { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            OAuthError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            _ => {}
        }
        res
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::server("a database request of the OpenID Connect provider", e.into())
    }
}
