//! Stytch SMS one-time passcodes: Stytch makes, sends and checks the code.
//! Enrollment uses `login_or_create` (which makes a Stytch user for the
//! phone), sign-in uses `send`, removal deletes the Stytch user. Property
//! names follow the Gluu and Casa scripts.

use super::{
    PluginContext, PluginInfo, Properties, Property, ProviderError, Purpose, SendRequest, Sent, SmsPlugin,
    TIMEOUT_PROPERTY, Verdict, call,
};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

pub const INFO: PluginInfo = PluginInfo {
    id: "stytch",
    label: "Stytch SMS passcodes",
    owns_code: true,
    properties: &[
        Property {
            name: "SMS_ENDPOINT",
            description: "Send a passcode by SMS (https://stytch.com/docs/api/send-otp-by-sms).",
            example: "https://test.stytch.com/v1/otps/sms/send",
            secret: false,
            required: false,
        },
        Property {
            name: "AUTH_ENDPOINT",
            description: "Check a passcode (https://stytch.com/docs/api/authenticate-otp).",
            example: "https://test.stytch.com/v1/otps/authenticate",
            secret: false,
            required: false,
        },
        Property {
            name: "ENROLL_ENDPOINT",
            description: "Log in or create a user by SMS (https://stytch.com/docs/api/log-in-or-create-user-by-sms).",
            example: "https://test.stytch.com/v1/otps/sms/login_or_create",
            secret: false,
            required: false,
        },
        Property {
            name: "DELETE_USER_ENDPOINT",
            description: "Delete a user; the user id is appended (https://stytch.com/docs/api/delete-user).",
            example: "https://test.stytch.com/v1/users",
            secret: false,
            required: false,
        },
        Property {
            name: "PROJECT_ID",
            description: "Project id provided by Stytch.",
            example: "project-test-dd1403b3-dd92-33c6-91dd-ddcde970a61e",
            secret: false,
            required: true,
        },
        Property {
            name: "SECRET",
            description: "Secret provided by Stytch.",
            example: "secret-test-dd1403b3-dd92-33c6-91dd-ddcde970a61e",
            secret: true,
            required: true,
        },
        TIMEOUT_PROPERTY,
    ],
    build,
};

const LIVE: &str = "https://api.stytch.com";

fn build(props: &Properties, ctx: &PluginContext) -> super::Built {
    let mut errors = Vec::new();
    let plugin = Stytch {
        http: ctx.http.clone(),
        sms: props.url("SMS_ENDPOINT", &format!("{LIVE}/v1/otps/sms/send"), &mut errors),
        auth: props.url("AUTH_ENDPOINT", &format!("{LIVE}/v1/otps/authenticate"), &mut errors),
        enroll: props.url(
            "ENROLL_ENDPOINT",
            &format!("{LIVE}/v1/otps/sms/login_or_create"),
            &mut errors,
        ),
        delete_user: props.url("DELETE_USER_ENDPOINT", &format!("{LIVE}/v1/users"), &mut errors),
        project: props.required("PROJECT_ID", &mut errors),
        secret: props.required("SECRET", &mut errors),
        timeout: props.timeout(&mut errors),
    };
    super::built(plugin, errors)
}

pub struct Stytch {
    http: reqwest::Client,
    sms: String,
    auth: String,
    enroll: String,
    delete_user: String,
    project: String,
    secret: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct SendAnswer {
    user_id: Option<String>,
    phone_id: Option<String>,
}

#[derive(Deserialize)]
struct StytchError {
    error_type: Option<String>,
    error_message: Option<String>,
}

fn map_error(reply: &super::Reply) -> ProviderError {
    let Ok(err) = reply.json::<StytchError>() else {
        return reply.generic_failure(format!("HTTP {} with an unreadable body", reply.status));
    };
    let kind = err.error_type.unwrap_or_default();
    let detail = format!(
        "HTTP {}, Stytch {kind}: {}",
        reply.status,
        err.error_message.as_deref().unwrap_or("no message")
    );
    // `unauthorized_credentials` (401) and `too_many_requests` (429) come
    // with the statuses the generic mapping reads.
    match kind.as_str() {
        "invalid_phone_number" | "unsupported_phone_number" => ProviderError::InvalidNumber(detail),
        _ => reply.generic_failure(detail),
    }
}

impl Stytch {
    fn post(&self, url: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .basic_auth(&self.project, Some(&self.secret))
            .json(&body)
    }
}

#[async_trait::async_trait]
impl SmsPlugin for Stytch {
    fn id(&self) -> &'static str {
        "stytch"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let minutes = req.lifetime_minutes.clamp(1, 10);
        let request = match (req.purpose, req.provider_user_id) {
            (Purpose::Login | Purpose::TokenLogin, Some(user_id)) => self.post(
                &self.sms,
                json!({"phone_number": req.to, "expiration_minutes": minutes, "user_id": user_id}),
            ),
            _ => self.post(
                &self.enroll,
                json!({"phone_number": req.to, "expiration_minutes": minutes}),
            ),
        };
        let reply = call(request, self.timeout).await?;
        if reply.status != 200 {
            return Err(map_error(&reply));
        }
        let answer: SendAnswer = reply.json()?;
        let Some(phone_id) = answer.phone_id else {
            return Err(ProviderError::Unavailable("answer without phone_id".into()));
        };
        Ok(Sent {
            reference: Some(phone_id.clone()),
            provider_user_id: answer.user_id.or_else(|| req.provider_user_id.map(str::to_owned)),
            provider_phone_id: Some(phone_id),
        })
    }

    async fn check(&self, _to: &str, sent: &Sent, code: &str) -> Result<Verdict, ProviderError> {
        let Some(method_id) = sent.provider_phone_id.as_deref().or(sent.reference.as_deref()) else {
            return Err(ProviderError::Unavailable("no Stytch phone_id for this code".into()));
        };
        let reply = call(
            self.post(&self.auth, json!({"method_id": method_id, "code": code})),
            self.timeout,
        )
        .await?;
        if reply.status == 200 {
            return Ok(Verdict::Approved);
        }
        if let Ok(err) = reply.json::<StytchError>() {
            match err.error_type.as_deref() {
                Some("otp_code_not_found") => return Ok(Verdict::Wrong),
                Some("unable_to_auth_otp_code") => return Ok(Verdict::Expired),
                _ => {}
            }
        }
        Err(map_error(&reply))
    }

    async fn forget(&self, provider_user_id: &str) -> Result<(), ProviderError> {
        let url = format!("{}/{}", self.delete_user, provider_user_id);
        let reply = call(
            self.http.delete(url).basic_auth(&self.project, Some(&self.secret)),
            self.timeout,
        )
        .await?;
        match reply.status {
            200 => Ok(()),
            // Already gone: nothing left to clean up.
            404 => Ok(()),
            _ => Err(map_error(&reply)),
        }
    }
}
