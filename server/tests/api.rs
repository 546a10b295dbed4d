//! Integration tests: the real server on 127.0.0.1:0 against a real
//! PostgreSQL (TESSERA_TEST_DATABASE_URL, started by scripts/test), with a
//! fresh database per test, driven over HTTP like a browser would.

#[path = "api/admin.rs"]
mod admin;
#[path = "api/assurance.rs"]
mod assurance;
#[path = "api/authlib.rs"]
mod authlib;
#[path = "api/backchannel.rs"]
mod backchannel;
#[path = "api/browser.rs"]
mod browser;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/hardening.rs"]
mod hardening;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/mocks/mod.rs"]
mod mocks;
#[path = "api/not_me.rs"]
mod not_me;
#[path = "api/oidc.rs"]
mod oidc;
#[path = "api/par.rs"]
mod par;
#[path = "api/passkey.rs"]
mod passkey;
#[path = "api/providers.rs"]
mod providers;
#[path = "api/recovery.rs"]
mod recovery;
#[path = "api/reset.rs"]
mod reset;
#[path = "api/sms.rs"]
mod sms;
#[path = "api/totp.rs"]
mod totp;
#[path = "api/trusted.rs"]
mod trusted;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera::account::Role;
use tessera_server::clock::{Clock, ShiftedClock};
use tessera_server::users::{self, AddUser};
use tokio::sync::oneshot;

const ADMIN: (&str, &str) = ("admin", "admin-password-1");
/// The servers' TESSERA_SECRET_KEY (codes' HMAC, sealed provider secrets).
const SECRET_KEY: [u8; 32] = [7; 32];
const ALICE: (&str, &str) = ("alice", "alice-password-1");

struct TestApp {
    base: String,
    pool: sqlx::PgPool,
    db_url: String,
    clock: ShiftedClock,
    /// The running server's state, for what runs beside requests (the
    /// hourly housekeeping).
    state: tessera_server::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn superuser_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL")
        .expect("TESSERA_TEST_DATABASE_URL must name a PostgreSQL server; run scripts/test, which starts one")
}

/// A fresh database with an administrator and a user.
async fn fresh_database() -> String {
    let admin_url = superuser_url();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn spawn_on(db_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("TESSERA_DATABASE_URL".into(), db_url.into());
    env.insert("TESSERA_LISTEN".into(), addr.to_string());
    env.insert("TESSERA_PUBLIC_URL".into(), format!("http://{addr}"));
    env.insert("TESSERA_DB_MAX_CONNECTIONS".into(), "8".into());
    env.insert("TESSERA_SECRET_KEY".into(), hex::encode(SECRET_KEY));
    // `{port}` in a value: the port the server listens on.
    for (k, v) in extra {
        env.insert(k.to_string(), v.replace("{port}", &addr.port().to_string()));
    }
    let config = tessera_server::config::from_sources(&env, None).expect("test configuration");
    let pool = tessera_server::connect(&config).await.expect("connect and migrate");
    let clock = ShiftedClock::default();
    let state = tessera_server::state(config, pool.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let (tx, rx) = oneshot::channel();
    let done = tokio::spawn(tessera_server::serve(state.clone(), listener, async {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        pool,
        db_url: db_url.into(),
        clock,
        state,
        stop: Some(tx),
        done: Some(done),
    }
}

async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let db = fresh_database().await;
    let app = spawn_on(&db, extra).await;
    app.add_admin_and_alice().await;
    app
}

impl TestApp {
    /// The administrator saves these policy fields (`name`, value), the
    /// rest as they are, at the version the console shows.
    async fn save_policy(&self, fields: &[(&str, &str)]) {
        let mut admin = self.browser();
        let a = admin.sign_in(ADMIN.0, ADMIN.1).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let (_, policy) = admin.get_json("admin/policy").await;
        let version = policy["version"].to_string();
        let named: Vec<(String, &str)> = fields.iter().map(|(k, v)| (format!("fields[{k}]"), *v)).collect();
        let mut form: Vec<(&str, &str)> = named.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        form.push(("version", &version));
        let a = admin.post("admin/policy_save", &form).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    async fn add_account(&self, username: &str, password: &str, role: Role) {
        let account = AddUser {
            username,
            password,
            email: "",
            display_name: "",
            role,
        };
        users::add_user(&self.pool, &self.clock, account).await.unwrap();
    }

    /// The administrator (ADMIN) and the user (ALICE) every test starts with.
    async fn add_admin_and_alice(&self) {
        self.add_account(ADMIN.0, ADMIN.1, Role::Admin).await;
        self.add_account(ALICE.0, ALICE.1, Role::User).await;
    }

    fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A request that hangs fails its test instead of the whole run.
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            base: self.base.clone(),
            cookie: None,
            last_set_cookie: None,
            trust: None,
            last_trust_cookie: None,
            reset_key: None,
            forwarded_for: None,
            cookie_prefix: "",
            planted: None,
        }
    }

    /// A browser whose requests arrive through a proxy that sends this
    /// `X-Forwarded-For` (the TCP peer is still 127.0.0.1).
    fn browser_forwarded_for(&self, chain: &str) -> Browser {
        Browser {
            forwarded_for: Some(chain.to_owned()),
            ..self.browser()
        }
    }

    /// Stops the server the way Ctrl-C does and waits for it.
    async fn shutdown(mut self) -> String {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
        self.pool.close().await;
        self.db_url.clone()
    }

    /// What the server seals provider secrets with.
    fn sealer(&self) -> tessera_server::secrets::Sealer {
        tessera_server::secrets::Sealer::from_secret(&SECRET_KEY)
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// The count once it reaches `expected` (work the server finishes in
    /// the background), or what it still is after ten seconds.
    async fn count_reaching(&self, sql: &str, expected: i64) -> i64 {
        let mut n = self.count(sql).await;
        for _ in 0..100 {
            if n == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            n = self.count(sql).await;
        }
        n
    }
}

/// Longer than any answer should take, even the provider timeouts the tests set.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A real SMTP server (Python's aiosmtpd) writing what it receives to a maildir.
struct Smtp {
    port: u16,
    dir: std::path::PathBuf,
    child: tokio::process::Child,
}

impl Smtp {
    async fn start() -> Smtp {
        Smtp::start_on(free_port()).await
    }

    /// On `port` (one a server was told of while nothing listened there).
    async fn start_on(port: u16) -> Smtp {
        let dir = std::env::temp_dir().join(format!("tessera-mail-{}", uuid::Uuid::new_v4().simple()));
        let child = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c"])
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(&dir)
            .kill_on_drop(true)
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/bootstrap installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Smtp { port, dir, child }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as raw text, oldest first.
    fn messages(&self) -> Vec<String> {
        let mut all = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) {
                for e in entries.flatten() {
                    let at = e.metadata().and_then(|m| m.modified()).ok();
                    all.push((at, std::fs::read_to_string(e.path()).unwrap_or_default()));
                }
            }
        }
        all.sort();
        all.into_iter().map(|(_, m)| m).collect()
    }

    /// The decoded text of the newest message whose subject contains
    /// `subject`, waiting for it a while.
    async fn newest(&self, subject: &str) -> String {
        use mailparse::MailHeaderMap;
        for _ in 0..100 {
            let found = self.messages().into_iter().rev().find_map(|raw| {
                let mail = mailparse::parse_mail(raw.as_bytes()).ok()?;
                let s = mail.headers.get_first_value("Subject")?;
                s.contains(subject).then(|| mail.get_body().ok()).flatten()
            });
            if let Some(body) = found {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no email about {subject:?} among {:?}", self.messages());
    }

    /// Waits until `n` messages have arrived.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} emails, got {:?}", self.messages());
    }
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A browser: keeps the session cookie, follows no redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
    last_set_cookie: Option<String>,
    /// Sent as `X-Forwarded-For` on every request.
    forwarded_for: Option<String>,
    /// The trusted-browser cookie's value, kept like a browser keeps it.
    trust: Option<String>,
    /// The last `Set-Cookie` of the trusted-browser cookie, whole.
    last_trust_cookie: Option<String>,
    /// The key of a 2FA reset this browser asked for, kept like a browser.
    reset_key: Option<String>,
    /// What the names of the cookies it sends begin with, as the server
    /// named them: `__Host-` over https (learnt from `Set-Cookie`).
    cookie_prefix: &'static str,
    /// A cookie sent besides, as written (`name=value`): one planted by
    /// another site.
    planted: Option<String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Browser {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let p = self.cookie_prefix;
        let cookies: Vec<String> = [
            self.cookie.as_ref().map(|c| format!("{p}tessera_session={c}")),
            self.trust.as_ref().map(|t| format!("{p}tessera_trust={t}")),
            self.reset_key.as_ref().map(|k| format!("{p}tessera_reset={k}")),
            self.planted.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies.join("; "))
        };
        let req = match &self.forwarded_for {
            Some(chain) => req.header("x-forwarded-for", chain),
            None => req,
        };
        let res = req.send().await.expect("request");
        for sc in res.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap().to_owned();
            let named = match sc.strip_prefix("__Host-") {
                Some(named) => {
                    self.cookie_prefix = "__Host-";
                    named
                }
                None => sc.as_str(),
            };
            if let Some(rest) = named.strip_prefix("tessera_session=") {
                let value = rest.split(';').next().unwrap().to_owned();
                let removed = sc.contains("Max-Age=0") || value.is_empty();
                self.cookie = if removed { None } else { Some(value) };
                self.last_set_cookie = Some(sc);
            } else if let Some(rest) = named.strip_prefix("tessera_trust=") {
                self.trust = Some(rest.split(';').next().unwrap().to_owned());
                self.last_trust_cookie = Some(sc);
            } else if let Some(rest) = named.strip_prefix("tessera_reset=") {
                self.reset_key = Some(rest.split(';').next().unwrap().to_owned());
            }
        }
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let headers = res.headers().clone();
        let body = res.text().await.unwrap_or_default();
        Answer {
            status,
            location,
            headers,
            body,
        }
    }

    /// A page load, as a browser sends it.
    async fn page(&mut self, path: &str) -> Answer {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html,application/xhtml+xml");
        self.send(req).await
    }

    async fn csrf(&mut self) -> String {
        self.page("/signin").await;
        let a = self
            .send(
                self.http
                    .get(format!("{}/api/session", self.base))
                    .header("accept", "application/json"),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        v["csrf_token"].as_str().unwrap().to_owned()
    }

    /// A server-function call as the hydrated app makes it.
    async fn call(&mut self, endpoint: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .header("origin", self.base.clone())
            .form(fields);
        self.send(req).await
    }

    /// The same call as a plain HTML form post (JavaScript off).
    async fn form_post(&mut self, endpoint: &str, fields: &[(&str, &str)], referer: &str) -> Answer {
        let req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "text/html")
            .header("referer", format!("{}{referer}", self.base))
            .form(fields);
        self.send(req).await
    }

    async fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let token = self.csrf().await;
        self.call(
            "sign_in",
            &[("username", user), ("password", password), ("csrf_token", &token)],
        )
        .await
    }
}

/// A `tessera-server serve` process of its own on a free port.
struct ServerProcess {
    base: String,
    child: tokio::process::Child,
}

impl ServerProcess {
    async fn start(db_url: &str) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .arg("serve")
            .env("TESSERA_DATABASE_URL", db_url)
            .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
            .env("TESSERA_PUBLIC_URL", &base)
            .env("TESSERA_DB_MAX_CONNECTIONS", "4")
            .env("TESSERA_SECRET_KEY", hex::encode(SECRET_KEY))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start tessera-server");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return ServerProcess { base, child };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("tessera-server did not start on {base}");
    }

    /// Kills the process with SIGKILL (no shutdown, no cleanup) and waits for it.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill tessera-server");
    }
}

/// Starting a server lists the app's routes, and while Leptos lists routes it
/// pauses resource loads in the whole process (leptos#4773): a page whose data
/// began loading then hung for good. This suite starts many servers in one
/// process, so pages render while others start; each must still finish.
#[tokio::test]
async fn pages_finish_while_other_servers_start_in_the_process() {
    let app = spawn_app().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let starting = std::thread::spawn({
        let stop = stop.clone();
        move || {
            // Inside a runtime, as a server starts (listing spawns tasks).
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let _inside = runtime.enter();
            let mut listed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tessera_server::web::page_routes();
                listed += 1;
            }
            listed
        }
    });
    let mut b = app.browser();
    for i in 0..200 {
        let page = tokio::time::timeout(Duration::from_secs(10), b.page("/signin")).await;
        let page = page.unwrap_or_else(|_| panic!("sign-in page {i} never finished"));
        assert_eq!(page.status, 200);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(starting.join().unwrap() > 0, "routes were listed meanwhile");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let a = b.send(b.http.get(format!("{}/healthz", app.base))).await;
    assert_eq!((a.status, a.body.as_str()), (200, "ok"));
    let a = b.send(b.http.get(format!("{}/readyz", app.base))).await;
    assert_eq!((a.status, a.body.as_str()), (200, "ready"));
    assert!(
        a.headers.get("x-request-id").is_some(),
        "every response carries a request id"
    );
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let mut b = app.browser();
    for path in ["/", "/credentials", "/admin", "/no-such-page"] {
        let a = b.page(path).await;
        assert_eq!((a.status, a.location.as_deref()), (303, Some("/signin")), "{path}");
    }
    let a = b.page("/signin").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("Sign in to Tessera"));
    assert!(a.body.contains("name=\"csrf_token\""), "the form carries a CSRF token");
    let a = b.send(b.http.get(format!("{}/api/home", app.base))).await;
    assert_eq!(
        a.status, 401,
        "server functions refuse an anonymous session: {}",
        a.body
    );
    // Even when a browser asks for a page: a server function answers for
    // itself (as to a plain form: back where it came from, with the error),
    // it is not a page the guard sends to the sign-in form.
    let a = b.page("/api/home").await;
    assert_ne!(a.location.as_deref(), Some("/signin"), "{}", a.body);
    assert!(a.body.contains("Unauthorized"), "{} {}", a.status, a.body);
}

#[tokio::test]
async fn sign_in_shows_the_real_security_status() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let before = b.csrf().await;
    let cookie_before = b.cookie.clone().unwrap();
    let a = b
        .call(
            "sign_in",
            &[("username", "ALICE"), ("password", ALICE.1), ("csrf_token", &before)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(
        b.cookie.as_deref(),
        Some(cookie_before.as_str()),
        "the session id rotates at sign-in"
    );
    assert_ne!(b.csrf().await, before, "the CSRF token rotates at sign-in");

    let home = b.page("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Welcome, alice"), "{}", home.body);
    let status = b.send(b.http.get(format!("{}/api/home", app.base))).await;
    let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(v["two_factor_enabled"], false);
    assert_eq!(v["needs_enrollment"], false, "2FA off: nothing to enroll");
    assert_eq!(v["credential_count"], 0);
    assert_eq!(v["previous_sign_in_at"], serde_json::Value::Null);
    assert!(v["signed_in_at"].as_str().unwrap().ends_with("UTC"));

    // A credential added in the database shows on the next load.
    sqlx::query("INSERT INTO credentials (id, user_id, method, nickname, created_at) SELECT gen_random_uuid(), id, 'sms', 'Work', now() FROM users WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    let status = b.send(b.http.get(format!("{}/api/home", app.base))).await;
    assert!(status.body.contains("\"credential_count\":1"), "{}", status.body);

    // The second sign-in reports the first as the previous one.
    let mut b2 = app.browser();
    assert_eq!(b2.sign_in("alice", ALICE.1).await.status, 200);
    let status = b2.send(b2.http.get(format!("{}/api/home", app.base))).await;
    let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert!(v["previous_sign_in_at"].as_str().is_some(), "{}", status.body);
}

#[tokio::test]
async fn sec_18_unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let wrong = b.sign_in("alice", "not-her-password").await;
    let unknown = b.sign_in("nobody", "not-her-password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert!(wrong.body.contains("InvalidCredentials"), "{}", wrong.body);
    assert_eq!(app.count("SELECT count(*) FROM sign_in_failures").await, 2);
}

#[tokio::test]
async fn a_plain_form_post_redirects_back_with_the_error_or_home() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let token = b.csrf().await;
    let a = b
        .form_post(
            "sign_in",
            &[
                ("username", "alice"),
                ("password", "wrong-password"),
                ("csrf_token", &token),
            ],
            "/signin",
        )
        .await;
    assert_eq!(a.status, 302);
    let loc = a.location.unwrap();
    assert!(loc.contains("/signin?") && loc.contains("__err="), "{loc}");
    let a = b
        .form_post(
            "sign_in",
            &[("username", "alice"), ("password", ALICE.1), ("csrf_token", &token)],
            "/signin",
        )
        .await;
    assert_eq!((a.status, a.location.as_deref()), (302, Some("/")));
    assert_eq!(b.page("/").await.status, 200);
}

#[tokio::test]
async fn sec_23_csrf_missing_forged_or_cross_site_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let token = b.csrf().await;
    let forged = [("username", "alice"), ("password", ALICE.1), ("csrf_token", "0000")];
    let good = [
        ("username", "alice"),
        ("password", ALICE.1),
        ("csrf_token", token.as_str()),
    ];
    let cases = [
        ("missing", &good[..2], None),
        ("forged", &forged[..], None),
        ("cross-site", &good[..], Some(("sec-fetch-site", "cross-site"))),
        ("foreign origin", &good[..], Some(("origin", "https://evil.example"))),
    ];
    for (name, fields, header) in cases {
        let mut req = b
            .http
            .post(format!("{}/api/sign_in", app.base))
            .header("accept", "text/html")
            .form(&fields);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        let a = b.send(req).await;
        assert_eq!(a.status, 403, "{name}");
        assert!(
            a.body.contains("This form has expired or did not come from Tessera"),
            "{name}: {}",
            a.body
        );
    }
    assert_eq!(b.page("/").await.status, 303, "still signed out");
    assert_eq!(app.count("SELECT count(*) FROM sign_in_failures").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE last_sign_in_at IS NOT NULL")
            .await,
        0
    );
    // A request with no session at all is refused too.
    let mut stranger = app.browser();
    let a = stranger.call("sign_out", &[("csrf_token", &token)]).await;
    assert_eq!(a.status, 403);

    // A same-origin form goes through (as browsers send it, with
    // Sec-Fetch-Site): its Origin is the public URL (a proxy may send another
    // Host), or it names the Host it was sent to.
    let proxied_host = "tessera.internal:8080";
    for (name, origin) in [
        ("the public URL", app.base.clone()),
        ("the Host", format!("http://{proxied_host}")),
    ] {
        let mut b = app.browser();
        let token = b.csrf().await;
        let req = b
            .http
            .post(format!("{}/api/sign_in", app.base))
            .header("accept", "text/html")
            .header("host", proxied_host)
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .form(&[("username", "alice"), ("password", ALICE.1), ("csrf_token", &token)]);
        let a = b.send(req).await;
        assert_eq!(
            (a.status, a.location.as_deref()),
            (302, Some("/")),
            "{name}: {}",
            a.body
        );
    }
}

/// Every server function that changes state, from the app's own registry
/// (a new endpoint is covered without being listed here).
fn state_changing_endpoints() -> Vec<&'static str> {
    let mut all: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(_, method)| method == http::Method::POST)
        .map(|(path, _)| path)
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn sec_23_every_state_changing_endpoint_refuses_a_missing_token_and_a_cross_site_post() {
    let app = spawn_app().await;
    let endpoints = state_changing_endpoints();
    for known in [
        "/api/credentials/remove",
        "/api/credentials/two_factor",
        "/api/admin/policy_save",
        "/api/sign_out",
    ] {
        assert!(endpoints.contains(&known), "{known} missing from {endpoints:?}");
    }
    // An administrator (who may call every one of them), signed in.
    let mut admin = app.browser();
    assert_eq!(admin.sign_in(ADMIN.0, ADMIN.1).await.status, 200);
    let token = admin.csrf().await;
    let audited = app.count("SELECT count(*) FROM audit_events").await;
    let wrong = "0".repeat(64);
    for endpoint in &endpoints {
        let with_token = [("csrf_token", token.as_str())];
        let with_wrong = [("csrf_token", wrong.as_str())];
        let cases = [
            ("no token", &[][..], None),
            ("a wrong token", &with_wrong[..], None),
            ("cross-site", &with_token[..], Some(("sec-fetch-site", "cross-site"))),
            (
                "a foreign origin",
                &with_token[..],
                Some(("origin", "https://evil.example")),
            ),
        ];
        for (case, fields, header) in cases {
            let mut req = admin
                .http
                .post(format!("{}{endpoint}", app.base))
                .header("accept", "application/json")
                .form(fields);
            if let Some((k, v)) = header {
                req = req.header(k, v);
            }
            let a = admin.send(req).await;
            assert_eq!(a.status, 403, "{endpoint} with {case}: {}", a.body);
            assert!(
                a.body.contains("did not come from Tessera"),
                "{endpoint} with {case} refused for another reason: {}",
                a.body
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events").await,
        audited,
        "nothing was done"
    );
    assert_eq!(admin.get_json("home").await.0, 200, "still signed in");
}

#[tokio::test]
async fn sec_22_sign_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let mut b = app.browser();
    assert_eq!(b.sign_in("alice", ALICE.1).await.status, 200);
    let signed_in_cookie = b.cookie.clone().unwrap();
    let token = b.csrf().await;
    let a = b.call("sign_out", &[("csrf_token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(b.cookie.is_none(), "the cookie is removed");
    assert_eq!(
        app.count("SELECT count(*) FROM tower_sessions.session").await,
        0,
        "no session is left"
    );
    // Replaying the old cookie finds no session.
    b.cookie = Some(signed_in_cookie);
    assert_eq!(b.page("/").await.location.as_deref(), Some("/signin"));
}

/// A foreign key without an index makes every delete of the row it points
/// to read the whole referencing table (the soak found two: removing a
/// phone read every user and every challenge). Every key of the schema the
/// migrations build has an index that starts with its column.
#[tokio::test]
async fn every_foreign_key_is_indexed() {
    let app = spawn_app().await;
    let unindexed: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s.%s -> %s', c.conrelid::regclass, a.attname, c.confrelid::regclass)
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND NOT EXISTS (
             SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");
}

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let app = spawn_app().await;
    let mut b = app.browser();
    assert_eq!(b.sign_in("alice", ALICE.1).await.status, 200);
    let cookie = b.cookie.clone();
    let db = app.shutdown().await;

    let app = spawn_on(&db, &[]).await;
    let mut b = app.browser();
    b.cookie = cookie;
    let home = b.page("/").await;
    assert_eq!(home.status, 200, "still signed in after the restart");
    assert!(home.body.contains("Welcome, alice"));
    let mut other = app.browser();
    assert_eq!(other.sign_in("admin", ADMIN.1).await.status, 200, "accounts are kept");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_then_released() {
    let app = spawn_app_with(&[("TESSERA_SIGNIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await;
    let mut b = app.browser();
    for _ in 0..3 {
        assert_eq!(b.sign_in("Alice", "wrong-password").await.status, 401);
    }
    let a = b.sign_in("alice", ALICE.1).await;
    assert_eq!(a.status, 429, "even the right password waits: {}", a.body);
    assert!(a.body.contains("Throttled"), "{}", a.body);
    assert_eq!(
        b.sign_in("admin", ADMIN.1).await.status,
        200,
        "other accounts are not affected"
    );

    // Both sides of the 15-minute window: still throttled a little before
    // its end (retry when told), free after it.
    app.clock.advance(14 * 60);
    let a = b.sign_in("alice", ALICE.1).await;
    assert_eq!(a.status, 429, "inside the window: {}", a.body);
    let wait: i64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    app.clock.advance(wait);
    let mut b = app.browser();
    assert_eq!(b.sign_in("alice", ALICE.1).await.status, 200, "the window has passed");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_ip_across_accounts() {
    let app = spawn_app_with(&[("TESSERA_SIGNIN_MAX_FAILURES_PER_IP", "4")]).await;
    let mut b = app.browser();
    for name in ["a1", "a2", "a3", "a4"] {
        assert_eq!(b.sign_in(name, "wrong-password").await.status, 401);
    }
    assert_eq!(b.sign_in("alice", ALICE.1).await.status, 429);
}

#[tokio::test]
async fn sec_30_bad_and_oversized_input_gets_clear_errors_or_413_never_a_500() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let token = b.csrf().await;

    let a = b
        .call("sign_in", &[("username", ""), ("password", ""), ("csrf_token", &token)])
        .await;
    assert_eq!(a.status, 422);
    assert!(
        a.body.contains("Enter your username.") && a.body.contains("Enter your password."),
        "{}",
        a.body
    );

    let long = "u".repeat(10 * 1024);
    let a = b
        .call(
            "sign_in",
            &[("username", &long), ("password", "whatever1"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("at most 64 characters"), "{}", a.body);

    // Unicode letters are fine in a username; no such account, so the usual answer.
    let a = b
        .call(
            "sign_in",
            &[
                ("username", "ÅngströmЖ漢字"),
                ("password", "whatever1"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(a.status, 401, "{}", a.body);
    // Anything else is a format error beside the field, before the database is asked.
    for odd in ["' OR 1=1; --", "🙂", "a\u{0}b", "%00", "<script>alert(1)</script>"] {
        let a = b
            .call(
                "sign_in",
                &[("username", odd), ("password", "whatever1"), ("csrf_token", &token)],
            )
            .await;
        assert_eq!(a.status, 422, "{odd:?}: {}", a.body);
        assert!(a.body.contains("letters, digits"), "{odd:?}: {}", a.body);
    }

    let huge = "x".repeat(200 * 1024);
    let a = b
        .call(
            "sign_in",
            &[("username", "alice"), ("password", &huge), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(a.status, 413);

    let a = b
        .call("sign_in", &[("username", "alice"), ("csrf_token", &token)])
        .await;
    assert_eq!(a.status, 422, "a missing field is the sender's error: {}", a.body);
    assert!(a.body.contains("Enter your password."), "{}", a.body);

    // A field sent twice cannot be read: the sender's error too.
    let a = b
        .call(
            "sign_in",
            &[
                ("username", "alice"),
                ("username", "bob"),
                ("password", "x"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("Unreadable"), "{}", a.body);

    // A tampered cookie is simply no session.
    b.cookie = Some("AAAAAAAAAAAAAAAAAAAAAA-tampered".into());
    let a = b.page("/").await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/signin")));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE last_sign_in_at IS NOT NULL")
            .await,
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn administrators_only_reach_the_admin_console() {
    let app = spawn_app().await;
    let mut alice = app.browser();
    alice.sign_in("alice", ALICE.1).await;
    let a = alice
        .send(alice.http.get(format!("{}/api/admin/users", app.base)))
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let page = alice.page("/admin").await;
    assert_eq!(page.status, 403);
    assert!(!page.body.contains("user-table"));
    assert!(
        !alice.page("/").await.body.contains("href=\"/admin\""),
        "no Admin link for users"
    );

    let mut admin = app.browser();
    admin.sign_in("admin", ADMIN.1).await;
    let page = admin.page("/admin").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("user-table") && page.body.contains("alice"),
        "{}",
        page.body
    );
    assert!(admin.page("/").await.body.contains("href=\"/admin\""));
}

#[tokio::test]
async fn sec_21_sessions_time_out_when_idle_and_after_the_absolute_limit() {
    let app = spawn_app().await;
    let mut b = app.browser();
    b.sign_in("alice", ALICE.1).await;
    assert_eq!(b.page("/").await.status, 200);
    // Used all along, the session lives to its absolute limit and not past it.
    app.clock.advance(12 * 3600 - 2);
    assert_eq!(b.page("/").await.status, 200, "a second before the absolute limit");
    app.clock.advance(2);
    assert_eq!(
        b.page("/").await.location.as_deref(),
        Some("/signin"),
        "absolute timeout"
    );

    let mut b = app.browser();
    b.sign_in("alice", ALICE.1).await;
    assert_eq!(b.page("/").await.status, 200);
    // Use keeps a session alive: a request a minute or more after the last
    // one pushes the expiry a whole idle period ahead again.
    sqlx::query("UPDATE tower_sessions.session SET expiry_date = now() + interval '20 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.clock.advance(61);
    assert_eq!(b.page("/").await.status, 200);
    let left: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM max(expiry_date) - now())::float8 FROM tower_sessions.session")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(left > 29.0 * 60.0, "the idle timeout slides with use: {left} s left");
    // Within the minute a request does not write the session again (one
    // write a minute per session in use, not one per request).
    let expiry = "SELECT max(expiry_date)::text FROM tower_sessions.session";
    let before: String = sqlx::query_scalar(expiry).fetch_one(&app.pool).await.unwrap();
    // 50 s, not 59: the test clock runs on in real time, and a loaded machine
    // can take seconds between two requests.
    app.clock.advance(50);
    assert_eq!(b.page("/").await.status, 200);
    let after: String = sqlx::query_scalar(expiry).fetch_one(&app.pool).await.unwrap();
    assert_eq!(before, after, "saved again within the minute");

    sqlx::query("UPDATE tower_sessions.session SET expiry_date = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(b.page("/").await.location.as_deref(), Some("/signin"), "idle timeout");
}

/// A new session is written in one statement (no transaction asking
/// first whether its id is taken): a taken id draws another, and the stored
/// session keeps its own data.
#[tokio::test]
async fn a_new_session_never_takes_over_a_stored_ones_id() {
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    let app = spawn_app().await;
    let store = tessera_server::web::session_store::Sessions::new(app.pool.clone());
    let record = |owner: &str| Record {
        id: Id(42),
        data: [("owner".to_owned(), serde_json::json!(owner))].into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    let mut first = record("first");
    store.create(&mut first).await.unwrap();
    assert_eq!(first.id, Id(42), "a free id is kept");
    let mut second = record("second");
    store.create(&mut second).await.unwrap();
    assert_ne!(second.id, Id(42), "a taken id draws another");
    let owner = |r: Option<Record>| r.expect("stored").data["owner"].clone();
    assert_eq!(owner(store.load(&Id(42)).await.unwrap()), "first");
    assert_eq!(owner(store.load(&second.id).await.unwrap()), "second");
}

#[tokio::test]
async fn sec_20_the_session_cookie_is_locked_down() {
    let app = spawn_app().await;
    let mut b = app.browser();
    b.sign_in("alice", ALICE.1).await;
    let sc = b.last_set_cookie.clone().unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(sc.contains(part), "{sc}");
    }
    assert!(!sc.contains("Secure") && !sc.contains("Domain"), "{sc}");
    let id = b.cookie.clone().unwrap();
    assert!(id.len() >= 22, "at least 128 bits: {id}");

    let secure = spawn_app_with(&[("TESSERA_PUBLIC_URL", "https://tessera.example.org")]).await;
    let mut b = secure.browser();
    b.page("/signin").await;
    assert!(b.last_set_cookie.unwrap().contains("Secure"));
}

#[tokio::test]
async fn signed_in_users_get_a_404_page_for_unknown_paths() {
    let app = spawn_app().await;
    let mut b = app.browser();
    b.sign_in("alice", ALICE.1).await;
    let a = b.page("/no-such-page").await;
    assert_eq!(a.status, 404);
    assert!(a.body.contains("Page not found"));
}

#[tokio::test]
async fn the_command_line_refuses_duplicate_and_weak_accounts() {
    let app = spawn_app().await;
    let err = users::add_user(
        &app.pool,
        &app.clock,
        AddUser {
            username: "ALICE",
            password: "long-enough-1",
            email: "",
            display_name: "",
            role: Role::User,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "that username is taken");
    let err = users::add_user(
        &app.pool,
        &app.clock,
        AddUser {
            username: "carol",
            password: "short",
            email: "",
            display_name: "",
            role: Role::User,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("at least 8"), "{err}");
    // An operator's reset ends the account's sessions, like a change.
    let mut before = app.browser();
    assert_eq!(before.sign_in("alice", "alice-password-1").await.status, 200);
    assert_eq!(before.get_json("home").await.0, 200);
    users::set_password(&app.pool, &app.clock, "Alice", "a-brand-new-password")
        .await
        .unwrap();
    assert_eq!(before.get_json("home").await.0, 401, "signed out by the reset");
    let mut b = app.browser();
    assert_eq!(b.sign_in("alice", "a-brand-new-password").await.status, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'password.changed'")
            .await,
        1
    );
    assert!(
        users::set_password(&app.pool, &app.clock, "nobody", "a-brand-new-password")
            .await
            .is_err()
    );
    // The first administrator exists already, so nothing is created.
    assert!(matches!(
        users::ensure_admin(&app.pool, &app.clock, "root", None).await.unwrap(),
        users::AdminBootstrap::Present
    ));
}
