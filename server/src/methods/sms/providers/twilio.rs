//! Twilio Programmable Messaging: we make the code, Twilio delivers the text.

use super::{
    PluginContext, PluginInfo, Properties, Property, ProviderError, SendRequest, Sent, SmsPlugin, TIMEOUT_PROPERTY,
    call,
};
use serde::Deserialize;
use std::time::Duration;

pub const INFO: PluginInfo = PluginInfo {
    id: "twilio",
    label: "Twilio Programmable Messaging",
    owns_code: false,
    properties: &[
        SID_PROPERTY,
        TOKEN_PROPERTY,
        Property {
            name: "from_number",
            description: "The Twilio number (E.164) or Messaging Service SID (MG…) messages come from.",
            example: "+15005550006",
            secret: false,
            required: true,
        },
        Property {
            name: "base_url",
            description: "Twilio's API address.",
            example: "https://api.twilio.com",
            secret: false,
            required: false,
        },
        TIMEOUT_PROPERTY,
    ],
    build,
};

/// The account properties Twilio Messaging and Twilio Verify share.
pub const SID_PROPERTY: Property = Property {
    name: "twilio_sid",
    description: "Account SID from the Twilio console.",
    example: "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    secret: false,
    required: true,
};
pub const TOKEN_PROPERTY: Property = Property {
    name: "twilio_token",
    description: "Auth token from the Twilio console.",
    example: "your_auth_token",
    secret: true,
    required: true,
};

fn build(props: &Properties, ctx: &PluginContext) -> super::Built {
    let mut errors = Vec::new();
    let plugin = Twilio {
        http: ctx.http.clone(),
        sid: props.required("twilio_sid", &mut errors),
        token: props.required("twilio_token", &mut errors),
        from: props.required("from_number", &mut errors),
        base: props.url("base_url", "https://api.twilio.com", &mut errors),
        timeout: props.timeout(&mut errors),
    };
    super::built(plugin, errors)
}

pub struct Twilio {
    http: reqwest::Client,
    sid: String,
    token: String,
    from: String,
    base: String,
    timeout: Duration,
}

/// Twilio's error body, shared with Twilio Verify.
#[derive(Deserialize)]
pub struct TwilioError {
    pub code: Option<i64>,
    pub message: Option<String>,
}

impl TwilioError {
    pub fn detail(&self, status: u16) -> String {
        format!(
            "HTTP {status}, Twilio error {}: {}",
            self.code.map_or_else(|| "?".into(), |c| c.to_string()),
            self.message.as_deref().unwrap_or("no message")
        )
    }
}

/// Maps Twilio's documented error codes (shared with Twilio Verify).
pub fn map_error(reply: &super::Reply) -> ProviderError {
    let Ok(err) = reply.json::<TwilioError>() else {
        return reply.generic_failure(format!("HTTP {} with an unreadable body", reply.status));
    };
    let detail = err.detail(reply.status);
    // 20003 (401, bad credentials) and 20429 / 60203 (429, rate limits) come
    // with the statuses the generic mapping reads.
    match err.code {
        // Invalid To, region not enabled, trial account and unverified
        // number, opted out, not SMS-capable, invalid parameter, fraud guard.
        Some(21211 | 21408 | 21608 | 21219 | 21610 | 21614 | 60200 | 60410) => ProviderError::InvalidNumber(detail),
        _ => reply.generic_failure(detail),
    }
}

#[derive(Deserialize)]
struct Message {
    sid: String,
}

#[async_trait::async_trait]
impl SmsPlugin for Twilio {
    fn id(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, self.sid);
        let from_key = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = [("To", req.to), (from_key, self.from.as_str()), ("Body", req.text)];
        let reply = call(
            self.http.post(url).basic_auth(&self.sid, Some(&self.token)).form(&form),
            self.timeout,
        )
        .await?;
        if reply.status == 201 || reply.status == 200 {
            let msg: Message = reply.json()?;
            return Ok(Sent {
                reference: Some(msg.sid),
                ..Sent::default()
            });
        }
        Err(map_error(&reply))
    }
}
