#![allow(clippy::result_large_err)] // mock handlers answer errors as whole responses
//! Mock provider servers on 127.0.0.1 that answer like the real APIs
//! (PROVIDERS.md): same paths, auth, bodies, status codes and documented
//! magic test numbers. Extra magic numbers stand for what real sandboxes
//! cannot be asked for on demand:
//! - `+15005550429`: the provider's rate limit
//! - `+15005550500`: an internal server error
//! - `+15005550997`: a 2xx answer with a malformed body
//! - `+15005550998`: an answer slower than any test timeout (3 s)

pub mod gateway;
pub mod stytch;
pub mod twilio;
pub mod verify;
pub mod vonage;

use axum::Router;
use std::time::Duration;

pub const RATE_LIMITED: &str = "+15005550429";
pub const SERVER_ERROR: &str = "+15005550500";
pub const MALFORMED: &str = "+15005550997";
pub const SLOW: &str = "+15005550998";

/// Serves a mock on a free port; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

pub async fn slow() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

/// The Basic credentials of a request, if any.
pub fn basic_auth(headers: &http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// A random code of six digits, as providers make them.
pub fn code() -> String {
    format!("{:06}", rand::random::<u32>() % 1_000_000)
}

/// The code in a message text ("Your Tessera code is 123456. …").
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() >= 6)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}
