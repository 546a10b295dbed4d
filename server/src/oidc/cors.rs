//! Cross-origin reads of the token and revocation endpoints: a browser
//! application (a public client) may read their answers from an origin of
//! one of its redirect URIs, and no other page may. They take no cookie, so
//! a preflight is answered for any origin; the answer itself is what the
//! browser lets a page read.

use super::clients::{Client, ClientKind};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// How long a browser may keep a preflight's answer.
pub const PREFLIGHT_MAX_AGE_SECS: u64 = 600;

/// The answer to a preflight (`OPTIONS`): POST with these headers may be sent.
pub async fn preflight(headers: HeaderMap) -> Response {
    let Some(origin) = headers.get(header::ORIGIN).cloned() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
            (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST")),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            ),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
            ),
            (header::VARY, HeaderValue::from_static("origin")),
        ],
    )
        .into_response()
}

/// The request's `Origin`, if it is the origin of one of this public
/// client's redirect URIs.
pub fn allowed_origin<'h>(headers: &'h HeaderMap, client: &Client) -> Option<&'h HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    let registered = client.kind() == ClientKind::Public
        && client
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .any(|u| u.origin().ascii_serialization() == text);
    registered.then_some(origin)
}

/// `answer`, readable by the page that sent the request if its origin is
/// the client's own.
pub fn for_client(mut answer: Response, headers: &HeaderMap, client: &Client) -> Response {
    answer
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed_origin(headers, client) {
        answer
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    answer
}
