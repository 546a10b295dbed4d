//! Vonage (Nexmo) `POST /sms/json`: always HTTP 200, the status inside says
//! what happened.

use super::{MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW, slow};
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const KEY: &str = "a1b2c3d4";
pub const SECRET: &str = "mock-vonage-secret";
/// A key whose account has no credit left.
pub const BROKE_KEY: &str = "broke000";

#[derive(Clone, Default)]
pub struct Vonage {
    /// (to, text) of every accepted message.
    pub sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl Vonage {
    pub fn router(&self) -> Router {
        Router::new().route("/sms/json", post(sms)).with_state(self.clone())
    }

    pub fn last_to(&self, to_digits: &str) -> Option<String> {
        let sent = self.sent.lock().unwrap();
        sent.iter().rev().find(|(t, _)| t == to_digits).map(|(_, b)| b.clone())
    }
}

fn failed(to: &str, status: &str, text: &str) -> Response {
    Json(json!({"message-count": "1", "messages": [{"to": to, "status": status, "error-text": text}]})).into_response()
}

async fn sms(State(mock): State<Vonage>, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (key, secret, from, to, text) = (get("api_key"), get("api_secret"), get("from"), get("to"), get("text"));
    if key.is_empty() || secret.is_empty() || from.is_empty() || to.is_empty() || text.is_empty() {
        return failed(&to, "2", "Missing params");
    }
    if key == BROKE_KEY && secret == SECRET {
        return failed(&to, "9", "Partner quota exceeded");
    }
    if key != KEY || secret != SECRET {
        return failed(&to, "4", "Bad Credentials");
    }
    if to.starts_with('+') || !(7..=15).contains(&to.len()) || !to.chars().all(|c| c.is_ascii_digit()) {
        return failed(&to, "3", "Invalid to number");
    }
    let plus = format!("+{to}");
    match plus.as_str() {
        "+15005550001" => return failed(&to, "6", "Unroutable message - rejected"),
        RATE_LIMITED => return failed(&to, "1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry"),
        SERVER_ERROR => return failed(&to, "5", "Internal Error"),
        MALFORMED => return (StatusCode::OK, "{\"message-count\":").into_response(),
        SLOW => slow().await,
        _ => {}
    }
    mock.sent.lock().unwrap().push((to.clone(), text));
    Json(json!({
        "message-count": "1",
        "messages": [{
            "to": to, "message-id": uuid::Uuid::new_v4().simple().to_string(), "status": "0",
            "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345",
        }],
    }))
    .into_response()
}
