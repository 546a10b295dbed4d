//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json`.

use super::{MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW, basic_auth, slow};
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SID: &str = "ACmocktwilio00000000000000000000";
pub const TOKEN: &str = "mock-auth-token";

#[derive(Clone, Default)]
pub struct Twilio {
    /// (To, Body) of every accepted message.
    pub sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl Twilio {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
            .with_state(self.clone())
    }

    pub fn last_to(&self, to: &str) -> Option<String> {
        let sent = self.sent.lock().unwrap();
        sent.iter().rev().find(|(t, _)| t == to).map(|(_, b)| b.clone())
    }
}

/// `+` and 8 to 15 digits, the first not 0: what Twilio accepts as `To`.
pub fn is_e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

pub fn error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

async fn messages(
    State(mock): State<Twilio>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match basic_auth(&headers) {
        Some((user, token)) if user == SID && token == TOKEN && sid == SID => {}
        _ => return error(401, 20003, "Authenticate"),
    }
    let to = form.get("To").cloned().unwrap_or_default();
    let body = form.get("Body").cloned().unwrap_or_default();
    if to.is_empty() {
        return error(400, 21604, "A 'To' phone number is required.");
    }
    if !form.contains_key("From") && !form.contains_key("MessagingServiceSid") {
        return error(400, 21603, "A 'From' phone number is required.");
    }
    if body.trim().is_empty() {
        return error(400, 21602, "Message body is required.");
    }
    if !is_e164(&to) {
        return error(
            400,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    match to.as_str() {
        "+15005550001" => {
            return error(
                400,
                21211,
                &format!("The 'To' number {to} is not a valid phone number."),
            );
        }
        "+15005550003" => {
            return error(
                400,
                21408,
                &format!(
                    "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
                ),
            );
        }
        "+15005550004" => return error(400, 21610, "Attempt to send to unsubscribed recipient"),
        "+15005550009" => return error(400, 21614, &format!("'To' number {to} is not a valid mobile number")),
        RATE_LIMITED => {
            let mut r = error(429, 20429, "Too Many Requests");
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        SERVER_ERROR => return error(500, 20500, "Internal Server Error"),
        MALFORMED => return (StatusCode::CREATED, "<html>upstream proxy</html>").into_response(),
        SLOW => slow().await,
        _ => {}
    }
    mock.sent.lock().unwrap().push((to.clone(), body.clone()));
    let msid = format!("SM{}", uuid::Uuid::new_v4().simple());
    (
        StatusCode::CREATED,
        Json(json!({
            "sid": msid, "status": "queued", "to": to, "from": form.get("From"), "body": body,
            "error_code": null, "error_message": null, "account_sid": SID, "num_segments": "1",
        })),
    )
        .into_response()
}
