//! Faults, with real processes: PostgreSQL stopped and started under load, a
//! provider hanging while other people use the site, a server killed between
//! reserving a send and the provider's answer, and two servers racing for the
//! last unit of a budget. None of them measures time: "still fast" is shown
//! by order (every page answered while the provider still hangs).

use super::hardening::{last_block, race_for_the_last_message, retry_after, set_policy};
use super::mocks::{self, gateway::Gateway};
use super::sms::{alice_with_2fa, signed_in, use_plugin};
use super::*;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const PHONE: &str = "+12015550123";
const UNAVAILABLE: &str = "temporarily unavailable";

/// The generic gateway mock, its `/hang` route chosen, with this timeout.
async fn hanging_gateway(app: &TestApp, timeout_secs: u32) -> Gateway {
    let gateway = Gateway::default();
    let base = mocks::serve(gateway.router()).await;
    use_gateway(app, &format!("{base}/hang"), timeout_secs).await;
    gateway
}

async fn use_gateway(app: &TestApp, url: &str, timeout_secs: u32) {
    use_plugin(
        app,
        "http",
        json!({
            "url": url,
            "content_type": "application/json",
            "body_template": "{\"to\":\"$ctx.num\",\"code\":\"$ctx.otp\"}",
            "timeout_secs": timeout_secs.to_string(),
        }),
    )
    .await;
}

/// Adds a user with this name (password `{name}-password-1`).
async fn add_user(app: &TestApp, name: &str) -> (String, String) {
    let password = format!("{name}-password-1");
    app.add_account(name, &password, Role::User).await;
    (name.to_owned(), password)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_a_provider_hanging_for_its_whole_timeout_holds_up_nobody_else() {
    let app = spawn_app().await; // a pool of 8 connections
    let senders = 10; // more than the pool: a send that held a connection would starve the pages
    let readers = 50;
    let mut browsers = Vec::new();
    for i in 0..senders + readers {
        let (name, password) = add_user(&app, &format!("user{i}")).await;
        browsers.push(signed_in(&app, (&name, &password)).await);
    }
    let readers_browsers = browsers.split_off(senders);
    let gateway = hanging_gateway(&app, 20).await;

    let sending: Vec<_> = browsers
        .into_iter()
        .enumerate()
        .map(|(i, mut b)| {
            tokio::spawn(async move {
                let phone = format!("+1201555{:04}", 300 + i);
                b.post("credentials/start", &[("phone", &phone)]).await
            })
        })
        .collect();
    gateway.wait_for_hanging(senders).await;

    // Every reader loads their pages while all ten sends hang.
    let reading: Vec<_> = readers_browsers
        .into_iter()
        .map(|mut b| {
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for path in ["/", "/credentials", "/account/sessions"] {
                    statuses.push((path, b.page(path).await.status));
                }
                statuses.push(("/api/home", b.get_json("home").await.0));
                statuses
            })
        })
        .collect();
    for reader in futures::future::join_all(reading).await {
        for (path, status) in reader.unwrap() {
            assert_eq!(status, 200, "{path}");
        }
    }
    assert!(
        sending.iter().all(|s| !s.is_finished()),
        "the pages were served while every send still hung"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sms_sends").await,
        senders as i64,
        "each hanging send holds its reservation"
    );

    // The timeout ends each send with the provider's refusal and nothing kept.
    for send in futures::future::join_all(sending).await {
        let a = send.unwrap();
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(a.body.contains("MethodUnavailable"), "{}", a.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM sms_sends").await, 0, "given back");
    assert_eq!(
        app.count("SELECT coalesce(sum(sends), 0) FROM sms_send_minutes").await,
        0,
        "given back to the country's and the ceiling's counts too"
    );
    assert_eq!(app.count("SELECT count(*) FROM otp_challenges").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'provider.error'")
            .await,
        senders as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_a_server_killed_between_reserving_and_sending_locks_nobody_out() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    let token = alice.csrf().await;
    alice.call("sign_out", &[("csrf_token", &token)]).await;
    set_policy(&app, "max_sends_per_number = 2").await;
    let gateway = hanging_gateway(&app, 30).await;

    // The password step on a server of its own sends the code, which hangs;
    // the server is killed while it waits.
    let doomed = ServerProcess::start(&app.db_url).await;
    let mut b = app.browser();
    b.base = doomed.base.clone();
    let token = b.csrf().await;
    let cookie = b.cookie.clone().unwrap();
    let http = b.http.clone();
    let url = format!("{}/api/sign_in", doomed.base);
    let signing_in = tokio::spawn(async move {
        http.post(url)
            .header("accept", "application/json")
            .header("cookie", format!("tessera_session={cookie}"))
            .form(&[("username", ALICE.0), ("password", ALICE.1), ("csrf_token", &token)])
            .send()
            .await
    });
    gateway.wait_for_hanging(1).await;
    doomed.kill().await;
    assert!(
        signing_in.await.unwrap().is_err(),
        "the connection died with the server"
    );
    // What it left: a reservation (the message may have gone out: it counts)
    // and a challenge whose code may or may not have arrived.
    assert_eq!(app.count("SELECT count(*) FROM sms_sends").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM otp_challenges WHERE purpose = 'login' AND consumed_at IS NULL")
            .await,
        1
    );

    // The provider is back. Alice signs in on another server: the code that
    // may be on its way stands until the cooldown is over, then she asks for
    // another; the number's budget (two: enrollment and the lost send) makes
    // her wait out its window, and then her code arrives and works.
    let working = Gateway::default();
    let base = mocks::serve(working.router()).await;
    use_gateway(&app, &format!("{base}/ok"), 5).await;
    let mut alice = app.browser();
    let a = alice.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (200, Some("/signin/code")),
        "{}",
        a.body
    );
    assert!(working.last().is_none(), "the lost code is still in its cooldown");
    app.clock.advance(61);
    let a = alice.post("signin/send_code", &[]).await;
    assert_eq!(a.status, 429, "the lost send counts: {}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("number"));
    let wait = retry_after(&a);
    assert!(wait <= 600, "{wait}");
    app.clock.advance(wait as i64);
    let a = alice.post("signin/send_code", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let sent: Value = serde_json::from_str(&working.last().unwrap().body).unwrap();
    let code = sent["code"].as_str().unwrap().to_owned();
    let a = alice.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!((a.status, a.location.as_deref()), (200, Some("/")), "{}", a.body);
    assert_eq!(alice.get_json("home").await.0, 200);
}

#[tokio::test]
async fn faults_two_server_processes_racing_for_the_last_unit_of_a_budget_have_one_winner() {
    let app = spawn_app().await;
    let (one, two) = tokio::join!(ServerProcess::start(&app.db_url), ServerProcess::start(&app.db_url));
    set_policy(&app, "max_sends_per_ip = 1").await;
    let mut alice = signed_in(&app, ALICE).await;
    let mut admin = signed_in(&app, ADMIN).await;
    alice.base = one.base.clone();
    admin.base = two.base.clone();
    for round in 0..6 {
        // The processes' clocks cannot be moved: clear the budget and the
        // open enrollments (and their cooldowns) instead.
        for table in ["sms_sends", "sms_send_minutes", "otp_challenges"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&app.pool)
                .await
                .unwrap();
        }
        race_for_the_last_message(&app, [&mut alice, &mut admin], round).await;
    }
}

/// A PostgreSQL cluster of this test's own (`pg_up` of scripts/lib.sh, as
/// `scripts/test` starts its own), which the test stops and starts.
struct OwnCluster {
    port: u16,
}

const OWN_CLUSTER: &str = "pg-faults";

impl OwnCluster {
    fn lib_command(command: &str) -> std::process::Command {
        let mut c = std::process::Command::new("bash");
        c.arg("-c")
            .arg(format!("source scripts/lib.sh && {command}"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        c
    }

    async fn lib(command: &str) -> String {
        let out = tokio::process::Command::from(Self::lib_command(command))
            .output()
            .await
            .expect("run bash");
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Starts the cluster on a free port; answers a superuser URL of a new,
    /// empty database on it.
    async fn start() -> (OwnCluster, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::lib(&format!("pg_down {OWN_CLUSTER}")).await; // left by an earlier run
        let admin_url = Self::lib(&format!("pg_up {OWN_CLUSTER} {port}")).await;
        let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
        for sql in ["DROP DATABASE IF EXISTS faults WITH (FORCE)", "CREATE DATABASE faults"] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        (OwnCluster { port }, format!("{base}/faults"))
    }

    async fn stop(&self) {
        Self::lib(&format!("pg_down {OWN_CLUSTER}")).await;
    }

    async fn start_again(&self) {
        Self::lib(&format!("pg_up {OWN_CLUSTER} {}", self.port)).await;
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Self::lib_command(&format!("pg_down {OWN_CLUSTER}")).status();
    }
}

/// What the load saw: answers that were right, the database's absence
/// answered properly, and anything else (a failure of the test).
#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn note(&mut self, what: &str, a: &Answer, expected: &[u16]) {
        if expected.contains(&a.status) {
            self.ok += 1;
        } else if a.status == 503
            && a.headers.get("retry-after").is_some_and(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|s| s > 0)
            })
            && (a.body.contains(UNAVAILABLE) || a.body.contains("Unavailable"))
        {
            self.unavailable += 1;
        } else {
            self.wrong.push(format!(
                "{what}: {} {:?} {}",
                a.status,
                a.headers.get("retry-after"),
                a.body.chars().take(300).collect::<String>()
            ));
        }
    }
}

/// One signed-in person using the site in a loop until `stop`: pages and
/// enrollments of new numbers (the code read from the outbox when the
/// database lets the test read it). The CSRF token is the page's, read once.
async fn use_the_site(mut b: Browser, pool: sqlx::PgPool, n: usize, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    let token = b.csrf().await;
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) {
        let a = b.page("/").await;
        tally.lock().unwrap().note("GET /", &a, &[200]);
        let phone = format!("+1201556{n:02}{:02}", round % 100);
        round += 1;
        let a = b
            .call("credentials/start", &[("phone", &phone), ("csrf_token", &token)])
            .await;
        // 422: the previous round's number is still being enrolled (cooldown).
        tally.lock().unwrap().note("start", &a, &[200, 422, 429]);
        if a.status != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM outbox_messages WHERE phone_e164 = $1 ORDER BY id DESC LIMIT 1")
                .bind(&phone)
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten();
        if let Some(body) = body {
            let code = mocks::code_in(&body);
            let a = b
                .call("credentials/verify", &[("code", &code), ("csrf_token", &token)])
                .await;
            tally.lock().unwrap().note("verify", &a, &[200]);
        }
    }
}

/// The session's CSRF token as the app reads it, when the server can answer.
async fn session_token(b: &mut Browser, tally: &Mutex<Tally>) -> Option<String> {
    let req = b
        .http
        .get(format!("{}/api/session", b.base))
        .header("accept", "application/json");
    let a = b.send(req).await;
    tally.lock().unwrap().note("GET /api/session", &a, &[200]);
    let v: Value = serde_json::from_str(&a.body).ok()?;
    v["csrf_token"].as_str().map(str::to_owned)
}

/// Someone signing in and out in a loop until `stop`.
async fn sign_in_and_out(mut b: Browser, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    while !stop.load(Ordering::SeqCst) {
        let a = b.page("/signin").await;
        // 303 to the home page: still signed in, the outage ate the sign-out.
        tally.lock().unwrap().note("GET /signin", &a, &[200, 303]);
        let Some(token) = session_token(&mut b, &tally).await else {
            continue;
        };
        let fields = [("username", ADMIN.0), ("password", ADMIN.1), ("csrf_token", &token)];
        let a = b.call("sign_in", &fields).await;
        tally.lock().unwrap().note("sign in", &a, &[200]);
        if a.status != 200 {
            continue;
        }
        let Some(token) = session_token(&mut b, &tally).await else {
            b.cookie = None;
            continue;
        };
        let a = b.call("sign_out", &[("csrf_token", &token)]).await;
        tally.lock().unwrap().note("sign out", &a, &[200]);
        if a.status != 200 {
            b.cookie = None; // a new visitor next time, as after a closed browser
        }
    }
}

async fn ready(base: &str) -> u16 {
    reqwest::get(format!("{base}/readyz"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn wait_until_ready_is(base: &str, status: u16) {
    for _ in 0..600 {
        if ready(base).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_the_database_stopped_and_started_under_load() {
    let (cluster, db_url) = OwnCluster::start().await;
    let app = spawn_on(&db_url, &[]).await;
    app.add_admin_and_alice().await;
    set_policy(
        &app,
        "resend_cooldown_secs = 1, max_sends_per_ip = 10000, max_sends_per_account = 1000",
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut load = Vec::new();
    for n in 0..4 {
        let (name, password) = add_user(&app, &format!("load{n}")).await;
        let b = signed_in(&app, (&name, &password)).await;
        load.push(tokio::spawn(use_the_site(
            b,
            app.pool.clone(),
            n,
            stop.clone(),
            tally.clone(),
        )));
    }
    for _ in 0..2 {
        load.push(tokio::spawn(sign_in_and_out(
            app.browser(),
            stop.clone(),
            tally.clone(),
        )));
    }
    let mut watcher = signed_in(&app, ALICE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.stop().await;
    wait_until_ready_is(&app.base, 503).await;
    let a = watcher.page("/credentials").await;
    tally.lock().unwrap().note("watcher during the outage", &a, &[]);
    let during = tally.lock().unwrap().unavailable;
    assert!(during > 0, "the outage was answered with 503s");
    tokio::time::sleep(Duration::from_secs(3)).await;

    cluster.start_again().await;
    wait_until_ready_is(&app.base, 200).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!("load: {} answers as usual, {} 503s", tally.ok, tally.unavailable);
    assert!(tally.wrong.is_empty(), "{:#?}", tally.wrong);
    assert!(tally.ok > 20, "the load ran: {} answers", tally.ok);

    // Recovered without a restart: the session from before the outage is
    // still signed in, and the same server signs in and enrolls again.
    assert_eq!(watcher.page("/credentials").await.status, 200);
    let mut fresh = signed_in(&app, ADMIN).await;
    fresh.enroll_outbox(&app, PHONE, "After").await;

    // Nothing half-written: every phone came with its audit event and its
    // notification and consumed its enrollment challenge; no reservation
    // outlived a failed send unaccounted for.
    let phones = app.count("SELECT count(*) FROM sms_phones").await;
    assert!(phones > 1, "enrollments happened: {phones}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'credential.added'")
            .await,
        phones
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'factor_added'")
            .await,
        phones
    );
    assert_eq!(
        app.count("SELECT count(*) FROM otp_challenges WHERE purpose = 'enroll' AND consumed_at IS NOT NULL")
            .await,
        phones
    );
    drop(app.shutdown().await);
}

#[tokio::test]
async fn faults_a_session_the_database_will_not_save_is_a_503_with_words() {
    let app = spawn_app().await;
    // The session store refuses every write, as a database going away in
    // the middle of a request would.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON tower_sessions.session FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // A first visit makes a session (for its form's CSRF token) that cannot
    // be kept.
    let mut b = app.browser();
    let a = b.page("/signin").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(retry_after(&a), 5);
    assert!(a.body.contains(UNAVAILABLE), "{}", a.body);
    assert!(b.cookie.is_none(), "no cookie for a session that was not saved");
    // Only an outage says when to retry: a page that answers does not.
    let a = b.page("/healthz").await;
    assert_eq!(a.status, 200);
    assert!(a.headers.get("retry-after").is_none(), "{:?}", a.headers);
}
