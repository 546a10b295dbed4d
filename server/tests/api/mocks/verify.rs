//! Twilio Verify v2: `POST /v2/Services/{sid}/Verifications` and
//! `/VerificationCheck`. One pending verification per number: a resend inside
//! it re-sends the same code; approval, expiry or 5 wrong checks delete it.

use super::twilio::{SID, TOKEN, error, is_e164};
use super::{MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW, basic_auth, code, slow};
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SERVICE: &str = "VAmockverify0000000000000000000";

#[derive(Default)]
pub struct Pending {
    pub sid: String,
    pub code: String,
    pub checks: u32,
    pub sends: u32,
}

#[derive(Clone, Default)]
pub struct Verify {
    pub pending: Arc<Mutex<HashMap<String, Pending>>>,
}

impl Verify {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v2/Services/{service}/Verifications", post(start))
            .route("/v2/Services/{service}/VerificationCheck", post(check))
            .with_state(self.clone())
    }

    /// The code of the pending verification for a number (what the phone got).
    pub fn code_for(&self, to: &str) -> Option<String> {
        self.pending.lock().unwrap().get(to).map(|p| p.code.clone())
    }

    /// Lets every pending verification run out (Twilio deletes them after 10 minutes).
    pub fn expire_all(&self) {
        self.pending.lock().unwrap().clear();
    }
}

fn authorized(headers: &HeaderMap, service: &str) -> Result<(), Response> {
    match basic_auth(headers) {
        Some((user, token)) if user == SID && token == TOKEN => {}
        _ => return Err(error(401, 20003, "Authenticate")),
    }
    if service != SERVICE {
        return Err(error(404, 20404, "The requested resource was not found"));
    }
    Ok(())
}

async fn start(
    State(mock): State<Verify>,
    Path(service): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&headers, &service) {
        return r;
    }
    let to = form.get("To").cloned().unwrap_or_default();
    if !is_e164(&to) || to == "+15005550001" {
        return error(400, 60200, "Invalid parameter `To`");
    }
    if form.get("Channel").map(String::as_str) != Some("sms") {
        // The API takes sms, call, email, whatsapp…; Tessera asks for sms only.
        return error(400, 60200, "Invalid parameter: Channel");
    }
    match to.as_str() {
        RATE_LIMITED => return error(429, 60203, "Max send attempts reached"),
        SERVER_ERROR => return error(500, 20500, "Internal Server Error"),
        MALFORMED => return (StatusCode::CREATED, "{\"sid\":").into_response(),
        SLOW => slow().await,
        _ => {}
    }
    let mut pending = mock.pending.lock().unwrap();
    let entry = pending.entry(to.clone()).or_insert_with(|| Pending {
        sid: format!("VE{}", uuid::Uuid::new_v4().simple()),
        code: code(),
        checks: 0,
        sends: 0,
    });
    if entry.sends >= 5 {
        return error(429, 60203, "Max send attempts reached");
    }
    entry.sends += 1;
    (
        StatusCode::CREATED,
        Json(json!({
            "sid": entry.sid, "service_sid": SERVICE, "account_sid": SID, "to": to,
            "channel": "sms", "status": "pending", "valid": false,
        })),
    )
        .into_response()
}

async fn check(
    State(mock): State<Verify>,
    Path(service): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&headers, &service) {
        return r;
    }
    let to = form.get("To").cloned().unwrap_or_default();
    let typed = form.get("Code").cloned().unwrap_or_default();
    if to.is_empty() && !form.contains_key("VerificationSid") {
        return error(400, 60200, "Invalid parameter: To or VerificationSid is required");
    }
    if typed.is_empty() {
        return error(400, 60200, "Invalid parameter: Code");
    }
    let mut pending = mock.pending.lock().unwrap();
    let Some(entry) = pending.get_mut(&to) else {
        return error(404, 20404, "The requested resource was not found");
    };
    let sid = entry.sid.clone();
    if entry.code == typed {
        pending.remove(&to);
        return Json(json!({"sid": sid, "to": to, "status": "approved", "valid": true})).into_response();
    }
    entry.checks += 1;
    if entry.checks >= 5 {
        pending.remove(&to);
        return error(429, 60202, "Max check attempts reached");
    }
    Json(json!({"sid": sid, "to": to, "status": "pending", "valid": false})).into_response()
}
