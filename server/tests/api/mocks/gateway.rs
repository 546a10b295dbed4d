//! A generic SMS gateway: records every request and answers `/ok` with 202,
//! `/status/{code}` with that status, `/slow` after 3 seconds; `/hang`
//! counts the request and never answers (a provider that hangs).

use super::slow;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Clone, Default)]
pub struct Gateway {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests to `/hang` that arrived (and were never answered).
    pub hanging: Arc<AtomicUsize>,
}

impl Gateway {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/ok", any(ok))
            .route("/status/{code}", any(status))
            .route("/slow", any(slow_answer))
            .route("/hang", any(hang))
            .with_state(self.clone())
    }

    pub fn last(&self) -> Option<Seen> {
        self.seen.lock().unwrap().last().cloned()
    }

    /// Waits (at most a minute) until `n` requests hang here.
    pub async fn wait_for_hanging(&self, n: usize) {
        for _ in 0..600 {
            if self.hanging.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} requests never reached the hanging gateway");
    }
}

fn record(mock: &Gateway, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) {
    mock.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
}

async fn ok(State(mock): State<Gateway>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&mock, method, uri, headers, body);
    (StatusCode::ACCEPTED, "queued").into_response()
}

async fn status(
    State(mock): State<Gateway>,
    Path(code): Path<u16>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&mock, method, uri, headers, body);
    let mut r = (StatusCode::from_u16(code).unwrap(), "gateway says no").into_response();
    if code == 429 {
        r.headers_mut().insert("retry-after", "11".parse().unwrap());
    }
    r
}

async fn slow_answer() -> Response {
    slow().await;
    (StatusCode::ACCEPTED, "late").into_response()
}

async fn hang(State(mock): State<Gateway>) -> Response {
    mock.hanging.fetch_add(1, Ordering::SeqCst);
    std::future::pending().await
}
