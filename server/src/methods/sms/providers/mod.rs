//! SMS provider adapters ("plugins") behind one trait, one file each, and the
//! registry that builds the active one from its stored properties.
//!
//! Two styles: "we send the code" (outbox, twilio, vonage, http: Tessera makes
//! and checks the code, the provider only delivers the text) and "the provider
//! owns the code" (twilio-verify, stytch: the provider makes and checks it).

pub mod http;
pub mod outbox;
pub mod stytch;
pub mod twilio;
pub mod twilio_verify;
pub mod vonage;

use serde_json::{Map, Value};
use sqlx::PgPool;
use std::time::Duration;

/// Why a code is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Enroll,
    Login,
    /// A sign-in code the password grant asked for: a challenge of its own,
    /// so it never replaces a browser sign-in's (SECURITY.md 53).
    TokenLogin,
    /// A security notice (no code): only plugins that deliver our text.
    Notice,
}

/// One message to send.
#[derive(Debug)]
pub struct SendRequest<'a> {
    /// The number in E.164 form.
    pub to: &'a str,
    /// The text with our code (plugins that own the code ignore it).
    pub text: &'a str,
    /// Our code alone (for gateways whose template names it).
    pub code: &'a str,
    pub purpose: Purpose,
    /// The provider's user id for this phone, when it has one (Stytch).
    pub provider_user_id: Option<&'a str>,
    pub lifetime_minutes: i64,
}

/// What the provider answered to a send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id for the message or verification.
    pub reference: Option<String>,
    pub provider_user_id: Option<String>,
    pub provider_phone_id: Option<String>,
}

/// A provider's answer to a code check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Wrong,
    /// The code is gone: expired, used, or past the provider's attempt limit.
    Expired,
}

/// Every provider failure, mapped to what the person and the admin see
/// (PROVIDERS.md, "Mapping failures"). The detail is for logs and the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the number cannot receive codes: {0}")]
    InvalidNumber(String),
    #[error("the provider refused our credentials or settings: {0}")]
    Misconfigured(String),
    #[error("the provider's rate limit: {detail}")]
    RateLimited {
        retry_after_secs: Option<u64>,
        detail: String,
    },
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait SmsPlugin: Send + Sync {
    fn id(&self) -> &'static str;
    async fn send(&self, req: &SendRequest<'_>) -> Result<Sent, ProviderError>;
    /// Checks a code the provider made (plugins that own codes only).
    async fn check(&self, to: &str, sent: &Sent, code: &str) -> Result<Verdict, ProviderError> {
        let _ = (to, sent, code);
        Err(ProviderError::Misconfigured(format!(
            "{} does not check codes",
            self.id()
        )))
    }
    /// Clean-up when a phone is removed (Stytch deletes its user).
    async fn forget(&self, provider_user_id: &str) -> Result<(), ProviderError> {
        let _ = provider_user_id;
        Ok(())
    }
}

/// What plugins are built with.
#[derive(Clone)]
pub struct PluginContext {
    pub http: reqwest::Client,
    pub pool: PgPool,
    /// Development mode: the outbox may log the messages it stores.
    pub log_messages: bool,
}

/// One configurable property, described like the property tables in the seeds.
#[derive(Debug)]
pub struct Property {
    pub name: &'static str,
    pub description: &'static str,
    pub example: &'static str,
    pub secret: bool,
    pub required: bool,
}

/// A built plugin, or every problem with its properties.
pub type Built = Result<Box<dyn SmsPlugin>, Vec<String>>;

/// The plugin when its properties had no problems.
pub fn built(plugin: impl SmsPlugin + 'static, problems: Vec<String>) -> Built {
    if problems.is_empty() {
        Ok(Box::new(plugin))
    } else {
        Err(problems)
    }
}

/// An installed plugin: its id, its properties, and how to build it.
pub struct PluginInfo {
    pub id: &'static str,
    pub label: &'static str,
    /// Whether the provider makes and checks the code.
    pub owns_code: bool,
    pub properties: &'static [Property],
    pub build: fn(&Properties, &PluginContext) -> Built,
}

/// The installed SMS plugins. Adding one = one file + one line here.
pub const PLUGINS: &[PluginInfo] = &[
    outbox::INFO,
    twilio::INFO,
    twilio_verify::INFO,
    stytch::INFO,
    vonage::INFO,
    http::INFO,
];

pub fn find(id: &str) -> Option<&'static PluginInfo> {
    PLUGINS.iter().find(|p| p.id == id)
}

/// Whether the plugin with this id makes and checks its own codes.
pub fn owns_code(id: &str) -> bool {
    find(id).is_some_and(|p| p.owns_code)
}

/// A plugin's stored properties (strings, by name).
#[derive(Debug, Default, Clone)]
pub struct Properties(pub Map<String, Value>);

impl Properties {
    pub fn get(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn required(&self, name: &str, errors: &mut Vec<String>) -> String {
        self.get(name).unwrap_or_else(|| {
            errors.push(format!("{name} is required"));
            String::new()
        })
    }

    /// A base URL (http or https), without a trailing slash.
    pub fn url(&self, name: &str, default: &str, errors: &mut Vec<String>) -> String {
        let v = self.get(name).unwrap_or_else(|| default.to_owned());
        match reqwest::Url::parse(&v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => v.trim_end_matches('/').to_owned(),
            _ => {
                errors.push(format!("{name}: `{v}` is not an http(s) URL"));
                String::new()
            }
        }
    }

    /// The request timeout, `timeout_secs` (1-60, default 10).
    pub fn timeout(&self, errors: &mut Vec<String>) -> Duration {
        match self.get("timeout_secs") {
            None => Duration::from_secs(10),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=60).contains(&n) => Duration::from_secs(n),
                _ => {
                    errors.push(format!("timeout_secs: `{v}` must be a whole number from 1 to 60"));
                    Duration::from_secs(10)
                }
            },
        }
    }
}

/// Properties every HTTP plugin has.
pub const TIMEOUT_PROPERTY: Property = Property {
    name: "timeout_secs",
    description: "Seconds to wait for the provider before giving up (1-60).",
    example: "10",
    secret: false,
    required: false,
};

/// Builds a plugin by id from its properties.
pub fn build(id: &str, props: &Properties, ctx: &PluginContext) -> Built {
    match find(id) {
        Some(info) => (info.build)(props, ctx),
        None => Err(vec![format!("no plugin named `{id}` is installed")]),
    }
}

/// The answer to one HTTP call, read whole.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: String,
}

/// Sends a request with a timeout and reads the answer; network failures and
/// timeouts become [`ProviderError::Unavailable`].
pub async fn call(req: reqwest::RequestBuilder, timeout: Duration) -> Result<Reply, ProviderError> {
    let resp = req.timeout(timeout).send().await.map_err(network)?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = resp.text().await.map_err(network)?;
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

fn network(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Unavailable("timed out".into())
    } else if e.is_connect() {
        ProviderError::Unavailable("could not connect".into())
    } else {
        ProviderError::Unavailable(format!("request failed: {}", e.without_url()))
    }
}

impl Reply {
    /// The body as JSON, or `Unavailable` when it is not what was promised.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_str(&self.body)
            .map_err(|_| ProviderError::Unavailable(format!("malformed answer (HTTP {})", self.status)))
    }

    /// Rate limit, 5xx and other generic answers every adapter treats alike:
    /// any other refusal (401 and 403 among them) is ours to fix.
    pub fn generic_failure(&self, detail: String) -> ProviderError {
        match self.status {
            429 => ProviderError::RateLimited {
                retry_after_secs: self.retry_after,
                detail,
            },
            s if s >= 500 => ProviderError::Unavailable(detail),
            _ => ProviderError::Misconfigured(detail),
        }
    }
}
