//! What an operator scrapes at `GET /metrics` (the OpenMetrics text format,
//! which Prometheus reads): request latency per route, sign-in steps by
//! outcome and method, codes sent by plugin, outcome and country, budget
//! refusals, provider latency and errors, the database pool, live sessions
//! and the build. One registry per server (no global recorder), so every
//! server in a process — the test suite starts many — counts its own.
//!
//! Only configured addresses (`TESSERA_METRICS_FROM`) or a bearer token
//! (`TESSERA_METRICS_TOKEN`) may read it; with neither, it is not there.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::fmt::Write;
use std::time::Duration;
use tessera::PortalError;
use tessera::method::MethodId;

/// Label values in snake case, as Prometheus names go.
macro_rules! label_values {
    ($t:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl EncodeLabelValue for $t {
            fn encode(&self, w: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                w.write_str(match self {
                    $(<$t>::$variant => $name,)+
                })
            }
        }
    };
}

label_values!(HttpMethod { Get => "get", Post => "post", Other => "other" });
label_values!(Step { Password => "password", SecondFactor => "second_factor", Passwordless => "passwordless" });
label_values!(Outcome {
    Accepted => "accepted",
    Refused => "refused",
    Throttled => "throttled",
    Locked => "locked",
    Failed => "failed",
});
label_values!(ProviderOutcome {
    Ok => "ok",
    InvalidNumber => "invalid_number",
    Misconfigured => "misconfigured",
    RateLimited => "rate_limited",
    Unavailable => "unavailable",
});
label_values!(ProviderCall { Send => "send", Check => "check" });

/// The request's HTTP method, as few values as a label needs.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Other,
}

impl HttpMethod {
    pub fn of(m: &http::Method) -> HttpMethod {
        match *m {
            http::Method::GET | http::Method::HEAD => HttpMethod::Get,
            http::Method::POST => HttpMethod::Post,
            _ => HttpMethod::Other,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern (`/admin/users/{username}`, `/api/sign_in`), or
    /// `unmatched`: never a raw path, which anyone could vary.
    pub route: String,
    pub method: HttpMethod,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: &'static str,
}

/// Which step of a sign-in.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Step {
    Password,
    SecondFactor,
    /// A passkey alone.
    Passwordless,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// A wrong password or code, an unknown account, a bad passkey answer.
    Refused,
    Throttled,
    Locked,
    /// Our side or a provider failed.
    Failed,
}

impl Outcome {
    /// How a step that answered this way ended.
    pub fn of<T>(result: &Result<T, PortalError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Accepted,
            Err(PortalError::Throttled { .. } | PortalError::TooManyMessages { .. }) => Outcome::Throttled,
            Err(PortalError::AccountLocked) => Outcome::Locked,
            Err(PortalError::Unavailable | PortalError::MethodUnavailable(_) | PortalError::Conflict) => {
                Outcome::Failed
            }
            Err(_) => Outcome::Refused,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    pub step: Step,
    /// `password`, or the method's id (`sms`, `totp`, `recovery_code`, `passkey`).
    pub method: &'static str,
    pub outcome: Outcome,
}

/// What a provider answered.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum ProviderOutcome {
    Ok,
    InvalidNumber,
    Misconfigured,
    RateLimited,
    Unavailable,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub plugin: &'static str,
    pub outcome: ProviderOutcome,
    /// ISO 3166 region of the number, or `unknown`.
    pub country: String,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum ProviderCall {
    Send,
    Check,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub plugin: &'static str,
    pub call: ProviderCall,
    pub outcome: ProviderOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    /// `number`, `ip`, `account`, `country` or `total`.
    pub budget: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    sign_in_steps: Family<SignInLabels, Counter>,
    sign_ins: Counter,
    codes_sent: Family<SendLabels, Counter>,
    budget_refusals: Family<BudgetLabels, Counter>,
    provider_calls: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    pool_connections: Family<PoolLabels, Gauge>,
    sessions: Gauge,
    argon2_memory: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tessera");
        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route, method and status class",
            requests.clone(),
        );
        let sign_in_steps = Family::<SignInLabels, Counter>::default();
        registry.register(
            "sign_in_steps",
            "Sign-in steps by step, method and outcome",
            sign_in_steps.clone(),
        );
        let sign_ins = Counter::default();
        registry.register("sign_ins", "Sign-ins completed", sign_ins.clone());
        let codes_sent = Family::<SendLabels, Counter>::default();
        registry.register(
            "codes_sent",
            "Text messages handed to an SMS plugin, by plugin, outcome and country",
            codes_sent.clone(),
        );
        let budget_refusals = Family::<BudgetLabels, Counter>::default();
        registry.register(
            "sms_budget_refusals",
            "Sends refused because a budget was spent, by budget",
            budget_refusals.clone(),
        );
        let provider_calls = Family::<ProviderLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "provider_call_duration_seconds",
            "Time an SMS provider took to answer, by plugin, call and outcome",
            provider_calls.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of this server, by state (idle, busy), when scraped",
            pool_connections.clone(),
        );
        let sessions = Gauge::default();
        registry.register(
            "sessions",
            "Signed-in sessions on the database, when scraped",
            sessions.clone(),
        );
        let argon2_memory = Gauge::default();
        registry.register(
            "argon2_memory_bytes",
            "Working memory the password-hashing threads hold (given back when idle), when scraped",
            argon2_memory.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            requests,
            sign_in_steps,
            sign_ins,
            codes_sent,
            budget_refusals,
            provider_calls,
            pool_connections,
            sessions,
            argon2_memory,
        }
    }

    pub fn request(&self, labels: RequestLabels, took: Duration) {
        self.requests.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn sign_in_step(&self, step: Step, method: Option<MethodId>, outcome: Outcome) {
        let method = method.map_or("password", MethodId::as_str);
        self.sign_in_steps
            .get_or_create(&SignInLabels { step, method, outcome })
            .inc();
    }

    pub fn signed_in(&self) {
        self.sign_ins.inc();
    }

    pub fn code_sent(&self, plugin: &'static str, outcome: ProviderOutcome, country: Option<String>) {
        let country = country.unwrap_or_else(|| "unknown".into());
        self.codes_sent
            .get_or_create(&SendLabels {
                plugin,
                outcome,
                country,
            })
            .inc();
    }

    pub fn budget_refused(&self, budget: &'static str) {
        self.budget_refusals.get_or_create(&BudgetLabels { budget }).inc();
    }

    pub fn provider_call(&self, plugin: &'static str, call: ProviderCall, outcome: ProviderOutcome, took: Duration) {
        self.provider_calls
            .get_or_create(&ProviderLabels { plugin, call, outcome })
            .observe(took.as_secs_f64());
    }

    /// The text a scrape gets, with the gauges read now.
    pub async fn render(&self, pool: &sqlx::PgPool) -> String {
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        self.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool_connections
            .get_or_create(&PoolLabels { state: "busy" })
            .set(size - idle);
        self.argon2_memory
            .set(i64::try_from(crate::password::held_bytes()).unwrap_or(i64::MAX));
        match sqlx::query_scalar::<_, i64>("SELECT count(*) FROM user_sessions")
            .fetch_one(pool)
            .await
        {
            Ok(n) => {
                self.sessions.set(n);
            }
            Err(e) => tracing::warn!(error = %e, "counting sessions for /metrics"),
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "encoding /metrics");
        }
        text
    }
}
