//! The benchmark driver behind `scripts/bench`: seeds users, drives a running
//! server with concurrent HTTP clients, measures the baselines (Argon2id, a
//! bare axum handler, raw PostgreSQL) and prints a table plus a JSON file.
//! It reports; it asserts nothing.

mod soak;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-1";
const CONCURRENCY: [usize; 3] = [1, 16, 64];

#[derive(Parser)]
struct Cli {
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Adds users with 2FA on and one outbox phone each.
    Seed {
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Users like those whose password hash has the cheapest Argon2
        /// cost: the code-step rows prepare thousands of pending sign-ins
        /// with them (the code step never hashes).
        #[arg(long, default_value_t = 0)]
        quick_users: usize,
    },
    /// Measures a running server.
    Run {
        #[arg(long)]
        url: String,
        /// The server's process id, for its memory.
        #[arg(long)]
        pid: u32,
        /// The built site (wasm, JS, CSS).
        #[arg(long)]
        site: String,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        #[arg(long)]
        out: String,
    },
    /// The code step alone at one concurrency, for profiling the server
    /// while it runs.
    CodeStep {
        #[command(flatten)]
        row: OneRow,
        /// Runs this long first, unmeasured (preparing the row's sign-ins
        /// reads its rate).
        #[arg(long, default_value_t = 0)]
        warm_seconds: u64,
        /// Pending sign-ins to prepare (by default, as for `run`).
        #[arg(long)]
        prepare: Option<usize>,
    },
    /// The credentials page alone at one concurrency, for profiling: signs
    /// in as many quick users as there are clients (the last ones, which the
    /// code step reaches last; once per database, as their codes are then
    /// spent) and loads the page with their sessions.
    CredentialsPage {
        #[command(flatten)]
        row: OneRow,
    },
    /// Mixed load on a running server for a set time (scripts/soak).
    Soak {
        #[arg(long)]
        url: String,
        /// The server's process id, for its memory.
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1800)]
        seconds: u64,
        /// Seconds per reported interval.
        #[arg(long, default_value_t = 60)]
        interval: u64,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// How many seeded users the visits go round.
        #[arg(long, default_value_t = 50_000)]
        users: usize,
        #[arg(long)]
        out: String,
    },
}

/// One row against a running server.
#[derive(clap::Args)]
struct OneRow {
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 64)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn username(i: usize) -> String {
    Seeded::Bench.username(i)
}

fn phone(i: usize) -> String {
    Seeded::Bench.phone(i)
}

/// The seeded accounts: `Bench` with the server's Argon2 cost, `Quick` with
/// the cheapest (a password step costs no Argon2 time to speak of).
#[derive(Clone, Copy)]
enum Seeded {
    Bench,
    Quick,
}

impl Seeded {
    fn username(self, i: usize) -> String {
        match self {
            Self::Bench => format!("bench{i:05}"),
            Self::Quick => format!("quick{i:05}"),
        }
    }

    fn phone(self, i: usize) -> String {
        match self {
            Self::Bench => format!("+1201{:07}", 5_000_000 + i),
            Self::Quick => format!("+1202{:07}", 5_000_000 + i),
        }
    }

    async fn password_hash(self) -> anyhow::Result<String> {
        use argon2::password_hash::{PasswordHasher, SaltString};
        match self {
            Self::Bench => tessera_server::password::hash(PASSWORD.to_owned()).await,
            Self::Quick => {
                let cheapest = argon2::Params::new(8, 1, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
                let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, cheapest);
                let salt = SaltString::generate(&mut rand::rngs::OsRng);
                Ok(argon
                    .hash_password(PASSWORD.as_bytes(), &salt)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .to_string())
            }
        }
    }
}

async fn seed(pool: &PgPool, kind: Seeded, users: usize) -> anyhow::Result<()> {
    // One hash for every account: the seed would otherwise take minutes of Argon2.
    let hash = kind.password_hash().await?;
    let mut tx = pool.begin().await?;
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let names: Vec<String> = chunk.iter().map(|i| kind.username(*i)).collect();
        let phones: Vec<String> = chunk.iter().map(|i| kind.phone(*i)).collect();
        sqlx::query(
            "WITH u AS (
               INSERT INTO users (id, username, username_key, display_name, password_hash, two_factor_enabled, created_at, updated_at)
               SELECT gen_random_uuid(), n, n, n, $2, TRUE, now(), now() FROM unnest($1::text[]) AS n
               RETURNING id, username),
             c AS (
               INSERT INTO credentials (id, user_id, method, nickname, created_at)
               SELECT gen_random_uuid(), u.id, 'sms', 'Phone', now() FROM u RETURNING id, user_id)
             INSERT INTO sms_phones (credential_id, phone_e164, plugin)
             SELECT c.id, p.phone, 'outbox' FROM c JOIN u ON u.id = c.user_id
               JOIN unnest($1::text[], $3::text[]) AS p(name, phone) ON p.name = u.username",
        )
        .bind(&names)
        .bind(&hash)
        .bind(&phones)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE users u SET preferred_credential_id = c.id FROM credentials c
         WHERE c.user_id = u.id AND u.preferred_credential_id IS NULL",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE method_settings SET plugin = 'outbox', enabled = TRUE WHERE method = 'sms'")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // Vacuumed and analysed now, so that autovacuum does not do it during
    // the first rows (seen: the first full sign-in row at half its rate).
    sqlx::query("VACUUM (ANALYZE) users, credentials, sms_phones")
        .execute(pool)
        .await?;
    println!(
        "seeded {users} {} users with 2FA on and an outbox phone each",
        kind.username(0).trim_end_matches('0')
    );
    Ok(())
}

/// One client session: a cookie and this session's CSRF token.
struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
    csrf: String,
    /// Sent as `X-Forwarded-For` (the server trusts 127.0.0.1 as its proxy).
    forwarded_for: Option<String>,
    /// The last answer's `Location` (a redirect, or where a server
    /// function's answer leads).
    location: Option<String>,
}

impl Client {
    fn new(http: &reqwest::Client, base: &str) -> Self {
        Self {
            http: http.clone(),
            base: base.to_owned(),
            cookie: None,
            csrf: String::new(),
            forwarded_for: None,
            location: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> anyhow::Result<(u16, String)> {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", format!("tessera_session={c}")),
            None => req,
        };
        let req = match &self.forwarded_for {
            Some(ip) => req.header("x-forwarded-for", ip),
            None => req,
        };
        let res = req.send().await?;
        for sc in res.headers().get_all("set-cookie") {
            if let Some(rest) = sc.to_str()?.strip_prefix("tessera_session=") {
                self.cookie = rest.split(';').next().map(str::to_owned);
            }
        }
        self.location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }

    async fn refresh_csrf(&mut self) -> anyhow::Result<()> {
        let req = self
            .http
            .get(format!("{}/api/session", self.base))
            .header("accept", "application/json");
        let (_, body) = self.send(req).await?;
        let v: Value = serde_json::from_str(&body)?;
        self.csrf = v["csrf_token"].as_str().unwrap_or_default().to_owned();
        Ok(())
    }

    async fn post(&mut self, endpoint: &str, fields: &[(&str, &str)]) -> anyhow::Result<u16> {
        let mut all = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("csrf_token", &csrf));
        let req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .form(&all);
        Ok(self.send(req).await?.0)
    }

    /// The password step; the session then owes a code.
    async fn password_step(&mut self, user: &str) -> anyhow::Result<()> {
        self.refresh_csrf().await?;
        let status = self
            .post("sign_in", &[("username", user), ("password", PASSWORD)])
            .await?;
        anyhow::ensure!(status == 200, "password step answered {status}");
        self.refresh_csrf().await
    }

    async fn code_step(&mut self, code: &str) -> anyhow::Result<()> {
        let status = self.post("signin/verify_code", &[("code", code)]).await?;
        anyhow::ensure!(status == 200, "code step answered {status}");
        Ok(())
    }

    /// The OpenID Connect code flow as a browser and a confidential
    /// application run it: the application's authorization request (PKCE,
    /// not signed in yet: to the sign-in page), both sign-in steps, back to
    /// the application with a code, and the code exchanged for tokens.
    async fn code_flow(&mut self, app: &Application, pool: &PgPool, i: usize) -> anyhow::Result<()> {
        use sha2::Digest;
        let verifier = tessera_server::secrets::random_token();
        let challenge = data_encoding::BASE64URL_NOPAD.encode(&sha2::Sha256::digest(verifier.as_bytes()));
        let state = tessera_server::secrets::random_token();
        let mut authorize = url::Url::parse(&format!("{}/oauth2/authorize", self.base))?;
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.id)
            .append_pair("redirect_uri", BENCH_REDIRECT)
            .append_pair("scope", "openid profile")
            .append_pair("state", &state)
            .append_pair("nonce", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let (status, _) = self
            .send(self.http.get(authorize).header("accept", "text/html"))
            .await?;
        anyhow::ensure!(
            status == 303 && self.location.as_deref() == Some("/signin"),
            "the authorization request answered {status}, to {:?}",
            self.location
        );
        self.password_step(&username(i)).await?;
        self.code_step(&outbox_code(pool, &phone(i)).await?).await?;
        let back = self
            .location
            .take()
            .context("the code step did not lead back to the application")?;
        let (status, page) = self
            .send(
                self.http
                    .get(format!("{}{back}", self.base))
                    .header("accept", "text/html"),
            )
            .await?;
        anyhow::ensure!(status == 200, "{back} answered {status}");
        let to = page
            .split("data-testid=\"continue\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("no link back to the application")?
            .replace("&amp;", "&");
        let answer: std::collections::HashMap<String, String> =
            url::Url::parse(&to)?.query_pairs().into_owned().collect();
        anyhow::ensure!(answer.get("state") == Some(&state), "the state did not come back: {to}");
        let code = answer.get("code").with_context(|| format!("no code: {to}"))?;
        let res = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .basic_auth(&app.id, Some(&app.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", BENCH_REDIRECT),
                ("code_verifier", &verifier),
            ])
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "the token request answered {}", res.status());
        let tokens: Value = res.json().await?;
        anyhow::ensure!(tokens["id_token"].is_string(), "no ID token: {tokens}");
        Ok(())
    }
}

/// Where the benchmark's application receives codes (never fetched).
const BENCH_REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A confidential, first-party application (no consent screen) for the
/// OpenID Connect row.
struct Application {
    id: String,
    secret: String,
}

impl Application {
    async fn register(pool: &PgPool) -> anyhow::Result<Self> {
        use tessera_server::oidc::clients::{self, ClientKind, Grant, NewClient};
        let (client, secret) = clients::register(
            &mut *pool.acquire().await?,
            NewClient {
                id: String::new(),
                name: "Benchmark".into(),
                redirect_uris: vec![BENCH_REDIRECT.into()],
                post_logout_redirect_uris: Vec::new(),
                kind: ClientKind::Confidential,
                grants: vec![Grant::AuthorizationCode],
                first_party: true,
            },
            time::OffsetDateTime::now_utc(),
        )
        .await?;
        Ok(Self {
            id: client.id,
            secret: secret.context("a confidential client has a secret")?,
        })
    }
}

async fn outbox_code(pool: &PgPool, phone: &str) -> anyhow::Result<String> {
    let body: String =
        sqlx::query_scalar("SELECT body FROM outbox_messages WHERE phone_e164 = $1 ORDER BY id DESC LIMIT 1")
            .bind(phone)
            .fetch_one(pool)
            .await?;
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
        .context("no code in the outbox message")
}

/// Latencies of one measurement and how long it ran.
struct Sample {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
    /// The work prepared for it ran out before the window ended.
    ran_dry: bool,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1000.0
    }

    fn json(&self, name: &str, concurrency: usize) -> Value {
        json!({
            "name": name, "concurrency": concurrency, "count": self.latencies.len(), "errors": self.errors,
            "per_second": self.rate(), "p50_ms": self.pct(0.50), "p95_ms": self.pct(0.95), "p99_ms": self.pct(0.99),
            "seconds": self.elapsed.as_secs_f64(), "ran_dry": self.ran_dry,
        })
    }
}

/// Not measured: the first seconds of each row (connections, caches, the
/// server's pools), so that each row is a steady state.
const WARM_UP: Duration = Duration::from_secs(2);

/// Runs `job` from `concurrency` workers for `WARM_UP`, then measures it for
/// `duration`: the rate and latencies count the jobs that started inside the
/// window. A worker whose job answers `None` (nothing left to do) stops; a
/// window that ends early that way is reported (`Sample::ran_dry`).
async fn drive<F, Fut>(concurrency: usize, duration: Duration, job: F) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<anyhow::Result<()>>> + Send,
{
    let job = Arc::new(job);
    let start = Instant::now();
    let window = start + WARM_UP;
    let end = window + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let job = job.clone();
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut dry) = (Vec::new(), 0, false);
            while Instant::now() < end {
                let t = Instant::now();
                let measured = t >= window;
                match job(w).await {
                    None => {
                        dry = true;
                        break;
                    }
                    Some(Ok(())) if measured => lat.push(t.elapsed()),
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        if errors == 0 {
                            eprintln!("  worker {w}: {e:#}");
                        }
                        errors += 1;
                    }
                }
            }
            (lat, errors, dry)
        }));
    }
    let mut sample = Sample {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
        ran_dry: false,
    };
    for w in workers {
        if let Ok((lat, errors, dry)) = w.await {
            sample.latencies.extend(lat);
            sample.errors += errors;
            sample.ran_dry |= dry;
        }
    }
    sample.elapsed = Instant::now()
        .min(end)
        .saturating_duration_since(window)
        .max(Duration::from_millis(1));
    sample
}

/// A field of `/proc/PID/status` given in kB, in MiB.
fn status_mib(pid: u32, name: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory of a process, in MiB: (now, peak since start).
fn memory(pid: u32) -> (f64, f64) {
    (status_mib(pid, "VmRSS:"), status_mib(pid, "VmHWM:"))
}

/// What resident memory is made of, in MiB: (anonymous: heap, stacks;
/// file-backed: the program's own code and data pages, shared and
/// reclaimable).
fn memory_kinds(pid: u32) -> (f64, f64) {
    (status_mib(pid, "RssAnon:"), status_mib(pid, "RssFile:"))
}

/// The SQL behind the "2FA credentials" page, as one set: the session, the
/// user, the credentials, the pending enrollment, the enabled methods.
async fn page_queries(pool: &PgPool, session_id: &str, user_id: uuid::Uuid) -> anyhow::Result<()> {
    let _: Option<Vec<u8>> =
        sqlx::query_scalar(r#"select data from "tower_sessions"."session" where id = $1 and expiry_date > now()"#)
            .bind(session_id)
            .fetch_optional(pool)
            .await?;
    tessera_server::store::find_user(pool, user_id).await?;
    tessera_server::methods::credentials(pool, user_id).await?;
    let enroll = tessera_server::methods::sms::providers::Purpose::Enroll;
    tessera_server::methods::sms::challenge::open_challenge(pool, user_id, enroll).await?;
    tessera_server::methods::enabled(pool).await?;
    Ok(())
}

/// How many quick users were seeded.
async fn quick_user_count(pool: &PgPool) -> sqlx::Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username LIKE 'quick%'")
        .fetch_one(pool)
        .await?;
    Ok(n as usize)
}

/// Signs the seeded users `users` in (both steps); their session cookies.
async fn signed_in(
    http: &reqwest::Client,
    url: &str,
    pool: &PgPool,
    seeded: Seeded,
    users: std::ops::Range<usize>,
) -> anyhow::Result<Vec<String>> {
    let mut cookies = Vec::new();
    for i in users {
        let mut client = Client::new(http, url);
        client.password_step(&seeded.username(i)).await?;
        client.code_step(&outbox_code(pool, &seeded.phone(i)).await?).await?;
        cookies.push(client.cookie.clone().context("no session cookie")?);
    }
    Ok(cookies)
}

/// The signed-in "2FA credentials" page (server-rendered), at `c` clients
/// going round the sessions of `cookies`.
async fn credentials_page(
    http: &reqwest::Client,
    url: &str,
    cookies: &Arc<Vec<String>>,
    c: usize,
    duration: Duration,
) -> Sample {
    let (http, url, cookies) = (http.clone(), url.to_owned(), cookies.clone());
    drive(c, duration, move |w| {
        let req = http
            .get(format!("{url}/credentials"))
            .header("accept", "text/html")
            .header("cookie", format!("tessera_session={}", cookies[w % cookies.len()]));
        async move {
            Some(
                async {
                    let res = req.send().await?;
                    anyhow::ensure!(res.status() == 200, "page answered {}", res.status());
                    res.bytes().await?;
                    Ok(())
                }
                .await,
            )
        }
    })
    .await
}

/// The load driver's HTTP client: a request that stalls counts as an error
/// instead of stopping its client for good. Redirects are the flow's to
/// follow (each with the session cookie), not the library's.
fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(128)
        .timeout(Duration::from_secs(30))
        .build()
}

/// The code step alone, on sessions whose password step ran beforehand
/// (with the quick users: preparing them costs no Argon2 time). Enough are
/// prepared for the whole window at 1.5 times the last row's rate; a row
/// that still runs out says so.
struct CodeSteps {
    preparing: Preparing,
    cores: usize,
    last_rate: f64,
    /// How many pending sign-ins each row prepares, if not the default.
    prepare: Option<usize>,
}

/// A sign-in whose password step is done, and the code it was sent.
type Pending = (Client, String);

/// What preparing pending sign-ins needs; cloned once per preparation.
#[derive(Clone)]
struct Preparing {
    http: reqwest::Client,
    url: String,
    pool: PgPool,
    quick_users: usize,
    next_quick: Arc<AtomicUsize>,
    ready: Arc<tokio::sync::Mutex<Vec<Pending>>>,
    wanted: usize,
}

impl Preparing {
    /// One more pending sign-in, from an address of its own; `None` when
    /// enough are ready or the quick users have run out.
    async fn one(self) -> Option<anyhow::Result<()>> {
        let i = self.next_quick.fetch_add(1, Ordering::Relaxed);
        if i >= self.quick_users || self.ready.lock().await.len() >= self.wanted {
            return None;
        }
        let mut client = Client::new(&self.http, &self.url);
        client.forwarded_for = Some(format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255));
        let r = async {
            client.password_step(&Seeded::Quick.username(i)).await?;
            let code = outbox_code(&self.pool, &Seeded::Quick.phone(i)).await?;
            self.ready.lock().await.push((client, code));
            Ok(())
        }
        .await;
        Some(r)
    }
}

impl CodeSteps {
    async fn new(http: &reqwest::Client, url: &str, pool: &PgPool, cores: usize) -> anyhow::Result<Self> {
        let quick_users = quick_user_count(pool).await?;
        Ok(Self {
            preparing: Preparing {
                http: http.clone(),
                url: url.to_owned(),
                pool: pool.clone(),
                quick_users,
                next_quick: Arc::new(AtomicUsize::new(0)),
                ready: Arc::default(),
                wanted: 0,
            },
            cores,
            last_rate: 200.0,
            prepare: None,
        })
    }

    async fn row(&mut self, c: usize, duration: Duration) -> Sample {
        let window = (WARM_UP + duration).as_secs_f64();
        let left = self
            .preparing
            .quick_users
            .saturating_sub(self.preparing.next_quick.load(Ordering::Relaxed));
        // (At least 500 per client up to 16: the rate rises steeply from one
        // client to 16, which ran out of 250 per client.)
        let wanted = self
            .prepare
            .unwrap_or(((self.last_rate * 1.5 * window) as usize).max(500 * c.min(16)))
            .min(left);
        let preparing = Preparing {
            ready: Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(wanted))),
            wanted,
            ..self.preparing.clone()
        };
        let ready = preparing.ready.clone();
        let prepared = Instant::now();
        drive(self.cores * 4, Duration::from_secs(600), move |_| {
            preparing.clone().one()
        })
        .await;
        eprintln!(
            "  code step at {c}: {} pending sign-ins prepared in {:.0} s",
            ready.lock().await.len(),
            prepared.elapsed().as_secs_f64()
        );
        let s = drive(c, duration, move |_| {
            let ready = ready.clone();
            async move {
                let (mut client, code) = ready.lock().await.pop()?;
                Some(client.code_step(&code).await)
            }
        })
        .await;
        self.last_rate = s.rate();
        s
    }
}

async fn run(pool: PgPool, url: &str, pid: u32, site: &str, seconds: u64, out: &str) -> anyhow::Result<()> {
    let http = http_client()?;
    let duration = Duration::from_secs(seconds);
    let next_user = Arc::new(AtomicUsize::new(0));
    let mut results = Vec::new();
    let mut table = Vec::new();
    // Idle: after the start's one Argon2 run has given its memory back.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let settle = tessera_server::password::IDLE_RELEASE * (cores as u32 + 1);
    tokio::time::sleep(settle).await;
    let (idle_rss, _) = memory(pid);
    let (idle_anon, idle_file) = memory_kinds(pid);

    // Baseline: Argon2id hashes per second on every core.
    let argon = drive(cores, Duration::from_secs(5), |_| async {
        Some(tessera_server::password::hash(PASSWORD.to_owned()).await.map(|_| ()))
    })
    .await;
    table.push(format!(
        "Argon2id hashes/s ({cores} threads)      {:>10.1}",
        argon.rate()
    ));
    results.push(argon.json("argon2id_hash", cores));

    // The server's resident memory, sampled every 50 ms while it is under load.
    let peak_kib = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak_kib = peak_kib.clone();
        tokio::spawn(async move {
            loop {
                peak_kib.fetch_max((memory(pid).0 * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // 1. Full sign-in: password, code from the outbox table, code.
    for c in CONCURRENCY {
        let (http, url, pool, next) = (http.clone(), url.to_owned(), pool.clone(), next_user.clone());
        let s = drive(c, duration, move |_| {
            let (http, url, pool) = (http.clone(), url.clone(), pool.clone());
            let i = next.fetch_add(1, Ordering::Relaxed);
            async move {
                let mut client = Client::new(&http, &url);
                let r = async {
                    client.password_step(&username(i)).await?;
                    let code = outbox_code(&pool, &phone(i)).await?;
                    client.code_step(&code).await
                }
                .await;
                Some(r)
            }
        })
        .await;
        table.push(row("full sign-in", c, &s));
        results.push(s.json("full_sign_in", c));
    }

    // 2. The OpenID Connect code flow: authorization request, sign-in, tokens.
    let application = Application::register(&pool).await?;
    let application = Arc::new(application);
    for c in CONCURRENCY {
        let (http, url, pool, next, app) = (
            http.clone(),
            url.to_owned(),
            pool.clone(),
            next_user.clone(),
            application.clone(),
        );
        let s = drive(c, duration, move |_| {
            let mut client = Client::new(&http, &url);
            let (pool, app) = (pool.clone(), app.clone());
            let i = next.fetch_add(1, Ordering::Relaxed);
            async move { Some(client.code_flow(&app, &pool, i).await) }
        })
        .await;
        table.push(row("OIDC code flow", c, &s));
        results.push(s.json("oidc_code_flow", c));
    }

    // 3. The code step alone, on sessions whose password step ran beforehand.
    let mut code_steps = CodeSteps::new(&http, url, &pool, cores).await?;
    for c in CONCURRENCY {
        let s = code_steps.row(c, duration).await;
        table.push(row("code step", c, &s));
        results.push(s.json("code_step", c));
    }

    // 4. The signed-in "2FA credentials" page, one signed-in session per client.
    let first = next_user.fetch_add(64, Ordering::Relaxed);
    let cookies = Arc::new(signed_in(&http, url, &pool, Seeded::Bench, first..first + 64).await?);
    for c in CONCURRENCY {
        let s = credentials_page(&http, url, &cookies, c, duration).await;
        table.push(row("credentials page", c, &s));
        results.push(s.json("credentials_page", c));
    }
    let (_, hwm) = memory(pid);
    sampler.abort();
    let peak_rss = peak_kib.load(Ordering::Relaxed) as f64 / 1024.0;

    // Baselines for (4): the same SQL behind a bare axum handler, and alone.
    let session_id: String = sqlx::query_scalar(r#"SELECT id FROM "tower_sessions"."session" LIMIT 1"#)
        .fetch_one(&pool)
        .await?;
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username(0))
        .fetch_one(&pool)
        .await?;
    let bare = {
        let pool = pool.clone();
        let sid = session_id.clone();
        axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let (pool, sid) = (pool.clone(), sid.clone());
                async move {
                    match page_queries(&pool, &sid, user_id).await {
                        Ok(()) => (http::StatusCode::OK, "ok"),
                        Err(_) => (http::StatusCode::INTERNAL_SERVER_ERROR, "error"),
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, bare).await });
    let s = {
        let http = http.clone();
        drive(64, duration, move |_| {
            let req = http.get(&bare_url);
            async move {
                Some(
                    async {
                        let res = req.send().await?;
                        anyhow::ensure!(res.status() == 200, "bare handler answered {}", res.status());
                        Ok(())
                    }
                    .await,
                )
            }
        })
        .await
    };
    table.push(row("bare axum, same SQL", 64, &s));
    results.push(s.json("bare_axum_same_sql", 64));
    let s = {
        let pool = pool.clone();
        drive(64, duration, move |_| {
            let (pool, sid) = (pool.clone(), session_id.clone());
            async move { Some(page_queries(&pool, &sid, user_id).await) }
        })
        .await
    };
    table.push(row("PostgreSQL, same SQL", 64, &s));
    results.push(s.json("postgres_same_sql", 64));

    // 7. Sizes and time to first byte.
    let mut sizes = serde_json::Map::new();
    // The shell's files as built, and as sent (`cargo leptos build --precompress`).
    // What a first visit to each page downloads: end2end/script_sizes.mjs.
    for file in ["tessera.wasm", "tessera.js", "tessera.css"] {
        let size = |suffix: &str| std::fs::metadata(format!("{site}/pkg/{file}{suffix}")).map_or(0, |m| m.len());
        let (raw, gz, br) = (size(""), size(".gz"), size(".br"));
        table.push(format!(
            "{file:<24} {:>7.1} KB raw {:>7.1} KB gzip {:>7.1} KB brotli",
            kb(raw),
            kb(gz),
            kb(br)
        ));
        sizes.insert(
            file.into(),
            json!({"raw_bytes": raw, "gzip_bytes": gz, "brotli_bytes": br}),
        );
    }
    let mut ttfb = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let res = http
            .get(format!("{url}/signin"))
            .header("accept", "text/html")
            .send()
            .await?;
        ttfb.push(t.elapsed());
        res.bytes().await?;
    }
    let ttfb = Sample {
        latencies: ttfb,
        errors: 0,
        elapsed: Duration::from_secs(1),
        ran_dry: false,
    };
    table.push(format!(
        "sign-in page time to first byte   p50 {:>6.2} ms",
        ttfb.pct(0.5)
    ));
    // Idle again: the Argon2 threads give their memory back after
    // `password::IDLE_RELEASE` each, in turn.
    eprintln!(
        "  waiting {} s for the server to settle after the load",
        settle.as_secs()
    );
    tokio::time::sleep(settle).await;
    let (after_rss, _) = memory(pid);
    let (after_anon, after_file) = memory_kinds(pid);
    table.push(format!(
        "server memory: idle {idle_rss:.1} MiB, peak under load {peak_rss:.1} MiB (high-water {hwm:.1} MiB), idle after load {after_rss:.1} MiB"
    ));
    table.push(format!(
        "  of which heap and stacks (anonymous): idle {idle_anon:.1} MiB, after load {after_anon:.1} MiB; \
         the program's code pages (file-backed): {idle_file:.1} and {after_file:.1} MiB"
    ));

    // Each target beside its figure (issue 17; runs vary by about 15%).
    let at = |name: &str, c: usize| {
        results
            .iter()
            .find(|r| r["name"] == name && r["concurrency"] == c)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let rate = |name: &str, c: usize| at(name, c)["per_second"].as_f64().unwrap_or(0.0);
    let argon_limit = rate("argon2id_hash", cores);
    let bare = rate("bare_axum_same_sql", 64);
    let targets = [
        (
            "full sign-in at 64, share of the Argon2id limit".to_owned(),
            format!("{:.0}%", 100.0 * rate("full_sign_in", 64) / argon_limit),
            ">= 85%",
            rate("full_sign_in", 64) >= 0.85 * argon_limit,
        ),
        (
            "code step at 64, per second".to_owned(),
            format!("{:.0}", rate("code_step", 64)),
            ">= 2000",
            rate("code_step", 64) >= 2000.0,
        ),
        (
            "credentials page at 64, share of bare axum".to_owned(),
            format!("{:.0}%", 100.0 * rate("credentials_page", 64) / bare),
            ">= 50%",
            rate("credentials_page", 64) >= 0.5 * bare,
        ),
        (
            "credentials page at 64, p99 ms".to_owned(),
            format!(
                "{:.1}",
                at("credentials_page", 64)["p99_ms"].as_f64().unwrap_or(f64::MAX)
            ),
            "< 50",
            at("credentials_page", 64)["p99_ms"].as_f64().unwrap_or(f64::MAX) < 50.0,
        ),
        (
            "peak memory under load, MiB".to_owned(),
            format!("{peak_rss:.1}"),
            "< 150",
            peak_rss < 150.0,
        ),
        (
            "idle memory at start, MiB".to_owned(),
            format!("{idle_rss:.1}"),
            "< 30",
            idle_rss < 30.0,
        ),
        (
            "idle memory after load, MiB".to_owned(),
            format!("{after_rss:.1}"),
            "< 30",
            after_rss < 30.0,
        ),
    ];

    let report = json!({
        "machine": { "cores": cores, "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim() },
        "results": results,
        "sizes": sizes,
        "signin_ttfb_p50_ms": ttfb.pct(0.5),
        "memory_mib": {
            "idle": idle_rss, "peak_sampled": peak_rss, "high_water": hwm, "idle_after_load": after_rss,
            "idle_anonymous": idle_anon, "idle_file_backed": idle_file,
            "idle_after_load_anonymous": after_anon, "idle_after_load_file_backed": after_file,
        },
        "targets": targets.iter().map(|(what, figure, target, met)| json!({
            "what": what, "figure": figure, "target": target, "met": met,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
    println!(
        "{:<24} {:>4} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "measure", "c", "per sec", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    for line in table {
        println!("{line}");
    }
    println!("\n{:<48} {:>8} {:>8}", "target", "measured", "wanted");
    for (what, figure, target, met) in &targets {
        println!(
            "{what:<48} {figure:>8} {target:>8}  {}",
            if *met { "met" } else { "MISSED" }
        );
    }
    println!("\nJSON: {out}");
    Ok(())
}

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn row(name: &str, c: usize, s: &Sample) -> String {
    format!(
        "{name:<24} {c:>4} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>7}{}",
        s.rate(),
        s.pct(0.50),
        s.pct(0.95),
        s.pct(0.99),
        s.errors,
        if s.ran_dry { "  (ran out of prepared work)" } else { "" }
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(32)
        .connect(&cli.database_url)
        .await
        .context("connecting to the benchmark database")?;
    match cli.command {
        Command::Seed { users, quick_users } => {
            seed(&pool, Seeded::Bench, users).await?;
            seed(&pool, Seeded::Quick, quick_users).await
        }
        Command::Run {
            url,
            pid,
            site,
            seconds,
            out,
        } => run(pool, &url, pid, &site, seconds, &out).await,
        Command::CodeStep {
            row: OneRow { url, clients, seconds },
            warm_seconds,
            prepare,
        } => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut code_steps = CodeSteps::new(&http_client()?, &url, &pool, cores).await?;
            code_steps.prepare = prepare;
            if warm_seconds > 0 {
                code_steps.row(clients, Duration::from_secs(warm_seconds)).await;
            }
            let s = code_steps.row(clients, Duration::from_secs(seconds)).await;
            println!("{}", row("code step", clients, &s));
            Ok(())
        }
        Command::CredentialsPage {
            row: OneRow { url, clients, seconds },
        } => {
            let http = http_client()?;
            let quick_users = quick_user_count(&pool).await?;
            let users = quick_users
                .checked_sub(clients)
                .context("fewer quick users than clients")?..quick_users;
            let cookies = Arc::new(signed_in(&http, &url, &pool, Seeded::Quick, users).await?);
            let s = credentials_page(&http, &url, &cookies, clients, Duration::from_secs(seconds)).await;
            println!("{}", row("credentials page", clients, &s));
            Ok(())
        }
        Command::Soak {
            url,
            pid,
            seconds,
            interval,
            clients,
            users,
            out,
        } => {
            let soak = soak::Soak {
                url,
                pid,
                seconds,
                interval_seconds: interval,
                clients,
                users,
                out,
            };
            soak::run(pool, soak).await
        }
    }
}
