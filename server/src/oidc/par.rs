//! Pushed authorization requests (RFC 9126): a client posts its
//! authorization request to the back channel first, authenticated, and
//! sends the browser to the authorization endpoint with only its
//! `client_id` and the `request_uri` it got back. The parameters cannot
//! then be read or changed on the way, and they are checked (by
//! `authorize::check`, the one owner of the request's rules) before the
//! person sees anything. A client may be required to push (the console).
//!
//! A pushed request lives [`PUSHED_REQUEST_SECS`], is bound to its client,
//! and is taken once; only the digest of its `request_uri` is kept.

use super::authorize::{self, Arrival, Refusal};
use super::error::OAuthError;
use super::{clients, cors};
use crate::client_ip::ClientIp;
use crate::secrets::{random_token, token_digest};
use crate::state::AppState;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

/// What every `request_uri` this server hands out begins with (RFC 9126 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request waits for the browser (RFC 9126 2.2 suggests
/// 5 to 600 seconds; a client pushes just before it redirects).
pub const PUSHED_REQUEST_SECS: i64 = 60;

/// The pushed authorization request endpoint: 201 with the `request_uri`,
/// or the error the authorization endpoint would have sent to the client.
pub async fn push(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Form(mut params): Form<HashMap<String, String>>,
) -> Response {
    let ctx = super::context(state, ip, &headers);
    let given = |v: Option<String>| v.filter(|s| !s.is_empty());
    let secret = given(params.remove("client_secret"));
    let id = given(params.get("client_id").cloned());
    let client = match clients::authenticate(ctx.pool(), &headers, id.as_deref(), secret.as_deref()).await {
        Ok(client) => client,
        Err(e) => return e.into_response(),
    };
    // (With HTTP Basic the body may leave it out; `authenticate` refused one
    // that differs from the header's.)
    params.insert("client_id".into(), client.id.clone());
    let answer = async {
        match authorize::check(&ctx, &params, Arrival::Pushed).await {
            Ok(_) => {}
            Err(Refusal::Page(description)) => return Err(OAuthError::InvalidRequest(description)),
            Err(Refusal::Redirect { error, description, .. }) => {
                return Err(OAuthError::AuthorizationRequest { error, description });
            }
        }
        let request_uri = store(ctx.pool(), &client, &params, ctx.now()).await?;
        Ok::<_, OAuthError>(super::no_store(
            (
                StatusCode::CREATED,
                Json(json!({"request_uri": request_uri, "expires_in": PUSHED_REQUEST_SECS})),
            )
                .into_response(),
        ))
    };
    let answer = answer.await.unwrap_or_else(IntoResponse::into_response);
    cors::for_client(answer, &headers, &client)
}

/// Keeps a checked request; answers its `request_uri`. Requests whose time
/// is up are forgotten on the way, so the table holds a minute's pushes.
async fn store(
    pool: &sqlx::PgPool,
    client: &clients::Client,
    params: &HashMap<String, String>,
    now: OffsetDateTime,
) -> sqlx::Result<String> {
    let token = random_token();
    sqlx::query(
        "WITH gone AS (DELETE FROM oidc_pushed_requests WHERE expires_at <= $4) \
         INSERT INTO oidc_pushed_requests (uri_hash, client_id, params, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest(&token))
    .bind(&client.id)
    .bind(sqlx::types::Json(params))
    .bind(now)
    .bind(now + time::Duration::seconds(PUSHED_REQUEST_SECS))
    .execute(pool)
    .await?;
    Ok(format!("{REQUEST_URI_PREFIX}{token}"))
}

/// The parameters pushed as `request_uri` by `client_id`, once, before its
/// time is up; `None` for any other client, a second time, or late.
pub async fn take(
    pool: &sqlx::PgPool,
    client_id: &str,
    request_uri: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<HashMap<String, String>>> {
    let Some(token) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Ok(None);
    };
    let taken: Option<(sqlx::types::Json<HashMap<String, String>>, OffsetDateTime)> = sqlx::query_as(
        "DELETE FROM oidc_pushed_requests WHERE uri_hash = $1 AND client_id = $2 RETURNING params, expires_at",
    )
    .bind(token_digest(token))
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    Ok(taken.filter(|(_, expires_at)| *expires_at > now).map(|(p, _)| p.0))
}
