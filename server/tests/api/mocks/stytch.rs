//! Stytch OTP: `login_or_create`, `send`, `authenticate`, `DELETE /v1/users/{id}`.
//! Sandbox: `+10000000000` sends nothing and `000000` authenticates.

use super::{MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW, basic_auth, code, slow};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const PROJECT: &str = "project-test-mock";
pub const SECRET: &str = "secret-test-mock";
pub const SANDBOX_PHONE: &str = "+10000000000";

#[derive(Default)]
pub struct State_ {
    /// phone number -> (user_id, phone_id)
    pub users: HashMap<String, (String, String)>,
    /// phone_id -> the active code
    pub codes: HashMap<String, String>,
    /// phone_id -> codes used or replaced (they answer "unable to auth")
    pub dead: HashMap<String, Vec<String>>,
    pub deleted: Vec<String>,
    /// phone number -> the `expiration_minutes` of its latest code
    pub expirations: HashMap<String, i64>,
}

#[derive(Clone, Default)]
pub struct Stytch {
    pub state: Arc<Mutex<State_>>,
}

impl Stytch {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/otps/sms/login_or_create", post(login_or_create))
            .route("/v1/otps/sms/send", post(send))
            .route("/v1/otps/authenticate", post(authenticate))
            .route("/v1/users/{id}", delete(delete_user))
            .with_state(self.clone())
    }

    pub fn code_for(&self, phone: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        let (_, phone_id) = s.users.get(phone)?;
        s.codes.get(phone_id).cloned()
    }

    pub fn deleted(&self) -> Vec<String> {
        self.state.lock().unwrap().deleted.clone()
    }

    /// The lifetime in minutes the latest code to `phone` was sent with.
    pub fn expiration_for(&self, phone: &str) -> Option<i64> {
        self.state.lock().unwrap().expirations.get(phone).copied()
    }
}

pub fn error(status: u16, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({
            "status_code": status,
            "request_id": format!("request-id-test-{}", uuid::Uuid::new_v4()),
            "error_type": kind,
            "error_message": message,
            "error_url": format!("https://stytch.com/docs/api/errors/{status}#{kind}"),
        })),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> Result<(), Response> {
    match basic_auth(headers) {
        Some((p, s)) if p == PROJECT && s == SECRET => Ok(()),
        _ => Err(error(401, "unauthorized_credentials", "Unauthorized credentials.")),
    }
}

/// `expiration_minutes`: optional, 1-10 (the API's default is 2).
fn expiration_of(body: &Value) -> Result<i64, Response> {
    match &body["expiration_minutes"] {
        Value::Null => Ok(2),
        v => match v.as_i64() {
            Some(m) if (1..=10).contains(&m) => Ok(m),
            _ => Err(error(
                400,
                "invalid_expiration_minutes",
                "expiration_minutes must be a whole number from 1 to 10.",
            )),
        },
    }
}

/// Checks the phone field; the extra magic numbers give their failures.
async fn phone_of(body: &Value) -> Result<String, Response> {
    let phone = body["phone_number"].as_str().unwrap_or_default().to_owned();
    let digits = phone.trim_start_matches('+');
    if !phone.starts_with('+') || digits.len() < 8 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(error(400, "invalid_phone_number", "Phone number format is invalid."));
    }
    match phone.as_str() {
        RATE_LIMITED => Err(error(429, "too_many_requests", "Too many requests have been made.")),
        SERVER_ERROR => Err(error(
            500,
            "internal_server_error",
            "Oops, something seems to have gone wrong.",
        )),
        MALFORMED => Err((StatusCode::OK, "not json").into_response()),
        SLOW => {
            slow().await;
            Ok(phone)
        }
        _ => Ok(phone),
    }
}

fn issue_code(s: &mut State_, phone: &str, phone_id: &str) {
    let new = if phone == SANDBOX_PHONE {
        "000000".to_string()
    } else {
        code()
    };
    if let Some(old) = s.codes.insert(phone_id.to_owned(), new) {
        s.dead.entry(phone_id.to_owned()).or_default().push(old);
    }
}

async fn login_or_create(State(mock): State<Stytch>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let phone = match phone_of(&body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let expiration = match expiration_of(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut s = mock.state.lock().unwrap();
    let created = !s.users.contains_key(&phone);
    let (user_id, phone_id) = s
        .users
        .entry(phone.clone())
        .or_insert_with(|| {
            (
                format!("user-test-{}", uuid::Uuid::new_v4()),
                format!("phone-number-test-{}", uuid::Uuid::new_v4()),
            )
        })
        .clone();
    issue_code(&mut s, &phone, &phone_id);
    s.expirations.insert(phone.clone(), expiration);
    Json(json!({
        "status_code": 200, "request_id": format!("request-id-test-{}", uuid::Uuid::new_v4()),
        "user_id": user_id, "phone_id": phone_id, "user_created": created,
    }))
    .into_response()
}

async fn send(State(mock): State<Stytch>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let phone = match phone_of(&body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let expiration = match expiration_of(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut s = mock.state.lock().unwrap();
    let Some((user_id, phone_id)) = s.users.get(&phone).cloned() else {
        return error(404, "phone_number_not_found", "Phone number could not be found.");
    };
    if let Some(asked) = body["user_id"].as_str()
        && asked != user_id
    {
        return error(404, "user_not_found", "User could not be found.");
    }
    issue_code(&mut s, &phone, &phone_id);
    s.expirations.insert(phone.clone(), expiration);
    Json(json!({
        "status_code": 200, "request_id": format!("request-id-test-{}", uuid::Uuid::new_v4()),
        "user_id": user_id, "phone_id": phone_id,
    }))
    .into_response()
}

async fn authenticate(State(mock): State<Stytch>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let method_id = body["method_id"].as_str().unwrap_or_default().to_owned();
    let typed = body["code"].as_str().unwrap_or_default().to_owned();
    let mut s = mock.state.lock().unwrap();
    if s.codes.get(&method_id) == Some(&typed) {
        s.codes.remove(&method_id);
        s.dead.entry(method_id.clone()).or_default().push(typed);
        let user_id = s.users.values().find(|(_, p)| *p == method_id).map(|(u, _)| u.clone());
        return Json(json!({
            "status_code": 200, "request_id": format!("request-id-test-{}", uuid::Uuid::new_v4()),
            "user_id": user_id, "method_id": method_id, "user": {}, "session_token": "", "session_jwt": "", "session": null,
        }))
        .into_response();
    }
    if s.dead.get(&method_id).is_some_and(|d| d.contains(&typed)) {
        return error(
            401,
            "unable_to_auth_otp_code",
            "Unable to authenticate OTP code; it may be expired or already used.",
        );
    }
    error(404, "otp_code_not_found", "The OTP code could not be found.")
}

async fn delete_user(State(mock): State<Stytch>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let mut s = mock.state.lock().unwrap();
    let Some(phone) = s.users.iter().find(|(_, (u, _))| *u == id).map(|(p, _)| p.clone()) else {
        return error(404, "user_not_found", "User could not be found.");
    };
    s.users.remove(&phone);
    s.deleted.push(id.clone());
    Json(json!({"request_id": format!("request-id-test-{}", uuid::Uuid::new_v4()), "user_id": id, "status_code": 200}))
        .into_response()
}
