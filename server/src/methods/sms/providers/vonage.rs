//! Vonage (Nexmo) SMS: we make the code, Vonage delivers the text. Vonage
//! answers HTTP 200 even to failures; the status inside says what happened.

use super::{
    PluginContext, PluginInfo, Properties, Property, ProviderError, SendRequest, Sent, SmsPlugin, TIMEOUT_PROPERTY,
    call,
};
use serde::Deserialize;
use std::time::Duration;

pub const INFO: PluginInfo = PluginInfo {
    id: "vonage",
    label: "Vonage (Nexmo) SMS",
    owns_code: false,
    properties: &[
        Property {
            name: "api_key",
            description: "API key from the Vonage dashboard.",
            example: "a1b2c3d4",
            secret: false,
            required: true,
        },
        Property {
            name: "api_secret",
            description: "API secret from the Vonage dashboard.",
            example: "your_api_secret",
            secret: true,
            required: true,
        },
        Property {
            name: "from",
            description: "Sender name or number shown to the recipient.",
            example: "NEXMO",
            secret: false,
            required: true,
        },
        Property {
            name: "base_url",
            description: "Vonage's SMS API address.",
            example: "https://rest.nexmo.com",
            secret: false,
            required: false,
        },
        TIMEOUT_PROPERTY,
    ],
    build,
};

fn build(props: &Properties, ctx: &PluginContext) -> super::Built {
    let mut errors = Vec::new();
    let plugin = Vonage {
        http: ctx.http.clone(),
        key: props.required("api_key", &mut errors),
        secret: props.required("api_secret", &mut errors),
        from: props.required("from", &mut errors),
        base: props.url("base_url", "https://rest.nexmo.com", &mut errors),
        timeout: props.timeout(&mut errors),
    };
    super::built(plugin, errors)
}

pub struct Vonage {
    http: reqwest::Client,
    key: String,
    secret: String,
    from: String,
    base: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Envelope {
    messages: Vec<MessageStatus>,
}

#[derive(Deserialize)]
struct MessageStatus {
    status: String,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
    #[serde(rename = "error-text")]
    error_text: Option<String>,
}

#[async_trait::async_trait]
impl SmsPlugin for Vonage {
    fn id(&self) -> &'static str {
        "vonage"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        // Vonage wants the digits only, no leading +.
        let to = req.to.trim_start_matches('+');
        let form = [
            ("api_key", self.key.as_str()),
            ("api_secret", self.secret.as_str()),
            ("from", self.from.as_str()),
            ("to", to),
            ("text", req.text),
        ];
        let reply = call(
            self.http.post(format!("{}/sms/json", self.base)).form(&form),
            self.timeout,
        )
        .await?;
        if reply.status != 200 {
            return Err(reply.generic_failure(format!("HTTP {}", reply.status)));
        }
        let envelope: Envelope = reply.json()?;
        let Some(msg) = envelope.messages.into_iter().next() else {
            return Err(ProviderError::Unavailable("answer without messages".into()));
        };
        let detail = format!(
            "Vonage status {}: {}",
            msg.status,
            msg.error_text.as_deref().unwrap_or("no error text")
        );
        match msg.status.as_str() {
            "0" => Ok(Sent {
                reference: msg.message_id,
                ..Sent::default()
            }),
            "1" => Err(ProviderError::RateLimited {
                retry_after_secs: None,
                detail,
            }),
            "3" | "6" | "7" => Err(ProviderError::InvalidNumber(detail)),
            "5" => Err(ProviderError::Unavailable(detail)),
            // 2 missing params, 4 credentials, 8 account barred, 9 credit,
            // 15 sender, and anything undocumented.
            _ => Err(ProviderError::Misconfigured(detail)),
        }
    }
}
