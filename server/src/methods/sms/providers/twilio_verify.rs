//! Twilio Verify v2: Twilio makes, sends and checks the code.

use super::twilio::{SID_PROPERTY, TOKEN_PROPERTY, map_error};
use super::{
    PluginContext, PluginInfo, Properties, Property, ProviderError, SendRequest, Sent, SmsPlugin, TIMEOUT_PROPERTY,
    Verdict, call,
};
use serde::Deserialize;
use std::time::Duration;

pub const INFO: PluginInfo = PluginInfo {
    id: "twilio-verify",
    label: "Twilio Verify",
    owns_code: true,
    properties: &[
        SID_PROPERTY,
        TOKEN_PROPERTY,
        Property {
            name: "service_sid",
            description: "The Verify service SID.",
            example: "VAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            secret: false,
            required: true,
        },
        Property {
            name: "base_url",
            description: "Twilio Verify's API address.",
            example: "https://verify.twilio.com",
            secret: false,
            required: false,
        },
        TIMEOUT_PROPERTY,
    ],
    build,
};

fn build(props: &Properties, ctx: &PluginContext) -> super::Built {
    let mut errors = Vec::new();
    let plugin = TwilioVerify {
        http: ctx.http.clone(),
        sid: props.required("twilio_sid", &mut errors),
        token: props.required("twilio_token", &mut errors),
        service: props.required("service_sid", &mut errors),
        base: props.url("base_url", "https://verify.twilio.com", &mut errors),
        timeout: props.timeout(&mut errors),
    };
    super::built(plugin, errors)
}

pub struct TwilioVerify {
    http: reqwest::Client,
    sid: String,
    token: String,
    service: String,
    base: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Verification {
    sid: Option<String>,
    status: String,
}

impl TwilioVerify {
    fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let url = format!("{}/v2/Services/{}/{path}", self.base, self.service);
        self.http.post(url).basic_auth(&self.sid, Some(&self.token)).form(form)
    }
}

#[async_trait::async_trait]
impl SmsPlugin for TwilioVerify {
    fn id(&self) -> &'static str {
        "twilio-verify"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let reply = call(
            self.post("Verifications", &[("To", req.to), ("Channel", "sms")]),
            self.timeout,
        )
        .await?;
        if reply.status == 201 || reply.status == 200 {
            let v: Verification = reply.json()?;
            return Ok(Sent {
                reference: v.sid,
                ..Sent::default()
            });
        }
        Err(map_error(&reply))
    }

    async fn check(&self, to: &str, _sent: &Sent, code: &str) -> Result<Verdict, ProviderError> {
        let reply = call(
            self.post("VerificationCheck", &[("To", to), ("Code", code)]),
            self.timeout,
        )
        .await?;
        if reply.status == 200 {
            let v: Verification = reply.json()?;
            return Ok(if v.status == "approved" {
                Verdict::Approved
            } else {
                Verdict::Wrong
            });
        }
        // The verification is gone (approved, expired or out of attempts).
        if let Ok(err) = reply.json::<super::twilio::TwilioError>()
            && matches!(err.code, Some(20404 | 60202))
        {
            return Ok(Verdict::Expired);
        }
        Err(map_error(&reply))
    }
}
