//! The mock providers as a process of their own, for the browser tests:
//! Twilio's Messages API (the same mock the integration tests use) on the
//! address given as the first argument (default 127.0.0.1:3101), plus
//! `GET /_mock/messages`: what it accepted, oldest first, as JSON.

#[allow(dead_code)] // the integration tests use more of the mocks than this
#[path = "../tests/api/mocks/mod.rs"]
mod mocks;

use axum::Json;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3101".into());
    let twilio = mocks::twilio::Twilio::default();
    let sent = twilio.sent.clone();
    let app = twilio.router().route(
        "/_mock/messages",
        get(move || {
            let sent = sent.lock().unwrap().clone();
            async move {
                Json(
                    sent.into_iter()
                        .map(|(to, body)| serde_json::json!({"to": to, "body": body}))
                        .collect::<Vec<_>>(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("mock providers on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
