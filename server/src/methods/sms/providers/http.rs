//! A generic HTTP gateway (WSO2's "SMS URL", the Kratos courier): a URL, a
//! method, headers and a body template; we make the code.

use super::{
    PluginContext, PluginInfo, Properties, Property, ProviderError, SendRequest, Sent, SmsPlugin, TIMEOUT_PROPERTY,
    call,
};
use std::time::Duration;
use tessera::template::{self, Encoding, Values};

pub const INFO: PluginInfo = PluginInfo {
    id: "http",
    label: "Generic HTTP gateway",
    owns_code: false,
    properties: &[
        Property {
            name: "url",
            description: "Where to send; may hold $ctx.num, $ctx.msg and $ctx.otp (URL-encoded).",
            example: "https://rest.nexmo.com/sms/json?api_key=KEY&api_secret=SECRET&from=NEXMO&to=$ctx.num&text=$ctx.msg",
            secret: true,
            required: true,
        },
        Property {
            name: "method",
            description: "GET or POST.",
            example: "POST",
            secret: false,
            required: false,
        },
        Property {
            name: "content_type",
            description: "The body's type; values in the body are encoded to fit it.",
            example: "application/json",
            secret: false,
            required: false,
        },
        Property {
            name: "body_template",
            description: "The body, with $ctx.num, $ctx.msg and $ctx.otp.",
            example: "{\"to\":\"$ctx.num\",\"text\":\"$ctx.msg\"}",
            secret: false,
            required: false,
        },
        Property {
            name: "headers",
            description: "Extra headers, one `Name: value` per line.",
            example: "X-Tenant: tessera",
            secret: true,
            required: false,
        },
        Property {
            name: "expected_status",
            description: "HTTP statuses that mean the message was accepted, comma separated.",
            example: "200,201,202",
            secret: false,
            required: false,
        },
        Property {
            name: "basic_user",
            description: "User for HTTP Basic authentication, if the gateway uses it.",
            example: "tessera",
            secret: false,
            required: false,
        },
        Property {
            name: "basic_password",
            description: "Password for HTTP Basic authentication.",
            example: "gateway-password",
            secret: true,
            required: false,
        },
        TIMEOUT_PROPERTY,
    ],
    build,
};

fn build(props: &Properties, ctx: &PluginContext) -> super::Built {
    let mut errors = Vec::new();
    let url = props.required("url", &mut errors);
    if !url.is_empty() {
        // Placeholders are checked as the values they stand for would be.
        let sample = template::render(
            &url,
            Values {
                number: "+10000000000",
                message: "m",
                code: "0",
            },
            Encoding::Url,
        );
        match reqwest::Url::parse(&sample) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push(format!("url: `{url}` is not an http(s) URL")),
        }
    }
    let method = match props
        .get("method")
        .unwrap_or_else(|| "POST".into())
        .to_ascii_uppercase()
        .as_str()
    {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        other => {
            errors.push(format!("method: `{other}` must be GET or POST"));
            reqwest::Method::POST
        }
    };
    let content_type = props
        .get("content_type")
        .unwrap_or_else(|| "application/x-www-form-urlencoded".into());
    let body = props.get("body_template");
    for (name, text) in [("url", Some(&url)), ("body_template", body.as_ref())] {
        if let Some(text) = text
            && let Err(e) = template::validate(text)
        {
            errors.push(format!("{name}: {e}"));
        }
    }
    let mut headers = Vec::new();
    for line in props
        .get("headers")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        match line.split_once(':') {
            Some((name, value))
                if reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).is_ok()
                    && reqwest::header::HeaderValue::from_str(value.trim()).is_ok() =>
            {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            _ => errors.push(format!("headers: `{line}` is not a `Name: value` line")),
        }
    }
    let mut expected = Vec::new();
    for part in props
        .get("expected_status")
        .unwrap_or_else(|| "200,201,202".into())
        .split(',')
    {
        match part.trim().parse::<u16>() {
            Ok(s) if (200..300).contains(&s) => expected.push(s),
            _ => errors.push(format!("expected_status: `{}` is not a 2xx status", part.trim())),
        }
    }
    let basic = props
        .get("basic_user")
        .map(|user| (user, props.get("basic_password").unwrap_or_default()));
    let timeout = props.timeout(&mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Box::new(HttpGateway {
        http: ctx.http.clone(),
        url,
        method,
        content_type,
        body,
        headers,
        expected,
        basic,
        timeout,
    }))
}

pub struct HttpGateway {
    http: reqwest::Client,
    url: String,
    method: reqwest::Method,
    content_type: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
    expected: Vec<u16>,
    basic: Option<(String, String)>,
    timeout: Duration,
}

#[async_trait::async_trait]
impl SmsPlugin for HttpGateway {
    fn id(&self) -> &'static str {
        "http"
    }

    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError> {
        let values = Values {
            number: req.to,
            message: req.text,
            code: req.code,
        };
        let url = template::render(&self.url, values, Encoding::Url);
        let mut request = self.http.request(self.method.clone(), url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = &self.body {
            let encoding = Encoding::for_content_type(&self.content_type);
            request = request
                .header(reqwest::header::CONTENT_TYPE, &self.content_type)
                .body(template::render(body, values, encoding));
        }
        let reply = call(request, self.timeout).await?;
        if self.expected.contains(&reply.status) {
            return Ok(Sent::default());
        }
        let snippet: String = reply.body.chars().take(200).collect();
        Err(reply.generic_failure(format!("HTTP {}: {snippet}", reply.status)))
    }
}
