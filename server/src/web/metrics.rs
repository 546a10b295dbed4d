//! The web side of [`crate::metrics`]: every request timed by route, and
//! `GET /metrics` for the configured addresses or the bearer token.

use crate::client_ip::ClientIp;
use crate::metrics::{HttpMethod, RequestLabels};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use secrecy::ExposeSecret;
use std::time::Instant;
use subtle::ConstantTimeEq;

pub const PATH: &str = "/metrics";

/// Times the request; its route is the pattern it matched.
pub async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = HttpMethod::of(req.method());
    let matched = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    state.metrics.request(
        RequestLabels {
            // The pattern matched (every page and server function has its
            // own route), never a raw path, which anyone could vary.
            route: matched.unwrap_or_else(|| "unmatched".into()),
            method,
            status: status_class(status),
        },
        started.elapsed(),
    );
    res
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Whether this request may read the metrics.
fn allowed(state: &AppState, client: Option<&ClientIp>, headers: &HeaderMap) -> bool {
    let by_address = client.is_some_and(|c| state.config.metrics_from.contains(c.ip));
    let by_token = state.config.metrics_token.as_ref().is_some_and(|want| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|got| bool::from(got.as_bytes().ct_eq(want.expose_secret().as_bytes())))
    });
    by_address || by_token
}

/// `GET /metrics`: 404 for anyone else (it is not there for them).
pub async fn scrape(State(state): State<AppState>, req: Request) -> Response {
    if !allowed(&state, req.extensions().get::<ClientIp>(), req.headers()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let body = state.metrics.render(&state.pool).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(StatusCode::SEE_OTHER), "3xx");
        assert_eq!(status_class(StatusCode::INTERNAL_SERVER_ERROR), "5xx");
    }
}
