//! The OpenID Connect provider's back channel: discovery, the JWKS, the
//! token endpoint and userinfo. Its own router and error type (RFC 6749
//! JSON), outside the cookie session and its CSRF check: clients call these
//! with their own credentials. The browser steps (authorize) are in
//! `web::authorize`, which keeps the request in the session while the
//! person signs in with the portal's own pages.

pub mod authorize;
pub mod backchannel;
pub mod clients;
mod code_grant;
pub mod consent;
mod cors;
pub mod error;
pub mod keys;
pub mod par;
mod password_grant;
mod refresh_grant;
pub mod tokens;

use crate::audit::Origin;
use crate::client_ip::ClientIp;
use crate::context::RequestContext;
use crate::methods;
use crate::state::AppState;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use error::OAuthError;
use serde::Deserialize;
use serde_json::json;
use tessera::acr::Acr;

pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
const TOKEN_PATH: &str = "/oauth2/token";
const USERINFO_PATH: &str = "/oauth2/userinfo";
const JWKS_PATH: &str = "/oauth2/jwks";
const REVOCATION_PATH: &str = "/oauth2/revoke";
const PAR_PATH: &str = "/oauth2/par";

/// The back-channel endpoints. Discovery, the JWKS and userinfo may be read
/// from any web page (they need no cookie: userinfo takes a bearer token);
/// the token and revocation endpoints answer a page only of an origin that
/// a public client registered (`cors::allowed_origin`).
pub fn router() -> Router<AppState> {
    let readable_anywhere = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([http::Method::GET, http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(cors::PREFLIGHT_MAX_AGE_SECS));
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(USERINFO_PATH, get(userinfo).post(userinfo))
        .layer(readable_anywhere)
        .route(TOKEN_PATH, post(token).options(cors::preflight))
        .route(REVOCATION_PATH, post(revocation).options(cors::preflight))
        .route(PAR_PATH, post(par::push).options(cors::preflight))
}

fn context(state: AppState, ip: Option<Extension<ClientIp>>, headers: &HeaderMap) -> RequestContext {
    RequestContext::new(
        state,
        Origin {
            ip: ip.map_or_else(|| "unknown".into(), |Extension(c)| c.ip.to_string()),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
    )
}

/// OpenID Connect Discovery 1.0: what this provider really supports.
async fn discovery(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let issuer = state.config.public_origin();
    let enabled = methods::enabled(&state.pool).await?;
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
        "end_session_endpoint": format!("{issuer}/oauth2/end_session"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": authorize::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password", password_grant::MFA_OTP_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": Acr::supported(&enabled),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                             "at_hash", "preferred_username", "name", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "pushed_authorization_request_endpoint": format!("{issuer}{PAR_PATH}"),
        "require_pushed_authorization_requests": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    Ok(cacheable(Json(doc).into_response()))
}

/// Discovery and the JWKS may be cached for [`keys::JWKS_CACHE_SECS`].
fn cacheable(mut res: Response) -> Response {
    let value = format!("public, max-age={}", keys::JWKS_CACHE_SECS);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_str(&value).expect("ASCII"));
    res
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The public keys that verify ID tokens; the signing key is made here if
/// there is none yet, so a client never finds the set empty.
async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let sealer = state.sealer.as_deref().ok_or(OAuthError::NotConfigured)?;
    let now = state.clock.now();
    keys::active(&state.pool, sealer, now)
        .await
        .map_err(|e| OAuthError::server("making the signing key", e))?;
    Ok(cacheable(Json(keys::jwks(&state.pool, now).await?).into_response()))
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    mfa_token: Option<String>,
    otp: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let ctx = context(state, ip, &headers);
    let client = match client_of(ctx.pool(), &headers, &form.client_id, &form.client_secret).await {
        Ok(client) => client,
        Err(e) => return e.into_response(),
    };
    let answer = grant(&ctx, &client, form)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    cors::for_client(answer, &headers, &client)
}

/// The token endpoint's answer for an authenticated client.
async fn grant(ctx: &RequestContext, client: &clients::Client, form: TokenForm) -> Result<Response, OAuthError> {
    let issued = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            allowed(client, clients::Grant::AuthorizationCode)?;
            code_grant::exchange(
                ctx,
                client,
                form.code.as_deref(),
                form.redirect_uri.as_deref(),
                form.code_verifier.as_deref(),
            )
            .await?
        }
        Some("refresh_token") => {
            allowed(client, clients::Grant::RefreshToken)?;
            refresh_grant::exchange(ctx, client, form.refresh_token.as_deref(), form.scope.as_deref()).await?
        }
        Some("password") => {
            allowed(client, clients::Grant::Password)?;
            let started = password_grant::start(
                ctx,
                client,
                form.username.as_deref(),
                form.password.as_deref(),
                form.scope.as_deref(),
            )
            .await?;
            match started {
                Ok(issued) => issued,
                Err(mfa) => {
                    return Ok(no_store(
                        (http::StatusCode::FORBIDDEN, Json(mfa.to_json())).into_response(),
                    ));
                }
            }
        }
        Some(password_grant::MFA_OTP_GRANT) => {
            allowed(client, clients::Grant::Password)?;
            password_grant::finish(
                ctx,
                client,
                form.mfa_token.as_deref(),
                form.otp.as_deref(),
                form.password.as_deref(),
            )
            .await?
        }
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
        None => return Err(OAuthError::InvalidRequest("grant_type is missing.".into())),
    };
    Ok(no_store(Json(issued.to_json()).into_response()))
}

#[derive(Deserialize)]
struct RevocationForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Token revocation (RFC 7009): 200 whether or not the token was live.
async fn revocation(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<RevocationForm>) -> Response {
    let client = match client_of(&state.pool, &headers, &form.client_id, &form.client_secret).await {
        Ok(client) => client,
        Err(e) => return e.into_response(),
    };
    let revoked = async {
        let token = form
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("The token is missing.".into()))?;
        tokens::revoke(&state.pool, &client, &token, state.clock.now()).await?;
        Ok::<_, OAuthError>(no_store(().into_response()))
    };
    let answer = revoked.await.unwrap_or_else(IntoResponse::into_response);
    cors::for_client(answer, &headers, &client)
}

/// The client of a token or revocation request, authenticated by the
/// credentials in its `Authorization` header or its body (empty fields are
/// absent ones).
async fn client_of(
    pool: &sqlx::PgPool,
    headers: &HeaderMap,
    id: &Option<String>,
    secret: &Option<String>,
) -> Result<clients::Client, OAuthError> {
    let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    clients::authenticate(pool, headers, given(id).as_deref(), given(secret).as_deref()).await
}

/// The client may use `grant`, or hears that it may not.
fn allowed(client: &clients::Client, grant: clients::Grant) -> Result<(), OAuthError> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(format!(
            "This client may not use the {} grant.",
            grant.as_str()
        )))
    }
}

/// Userinfo (Core 5.3): the claims the access token's scopes allow.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, OAuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(OAuthError::InvalidToken)?;
    let grant = tokens::access_grant(&state.pool, token, state.clock.now())
        .await?
        .ok_or(OAuthError::InvalidToken)?;
    let user = crate::store::find_user(&state.pool, grant.user_id)
        .await?
        .filter(|u| u.locked_at.is_none())
        .ok_or(OAuthError::InvalidToken)?;
    let scopes: Vec<&str> = grant.scope.split_ascii_whitespace().collect();
    let mut claims = json!({ "sub": user.id.to_string() });
    if scopes.contains(&"profile") {
        claims["preferred_username"] = json!(user.username);
        if !user.display_name.is_empty() {
            claims["name"] = json!(user.display_name);
        }
    }
    if scopes.contains(&"email")
        && let Some(email) = user.email.as_deref().filter(|e| !e.is_empty())
    {
        claims["email"] = json!(email);
        // An administrator typed it; nobody proved the person reads it, and
        // a relying party that links accounts by email must know that.
        claims["email_verified"] = json!(false);
    }
    Ok(no_store(Json(claims).into_response()))
}
