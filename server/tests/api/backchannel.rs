//! Back-channel logout over HTTP with PostgreSQL (SECURITY.md 58): a
//! relying party's back-channel endpoint (a real HTTP server here) is told
//! of every way a session ends, with a logout token it checks the way a
//! relying party does (`jsonwebtoken` against the JWKS); an endpoint that
//! is down is retried with backing off, across a restart, and given up.

use super::oidc::{RelyingParty, code_from, register};
use super::*;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use tessera_server::oidc::backchannel::{LOGOUT_EVENT, MAX_ATTEMPTS, MAX_QUEUED};
use tessera_server::oidc::clients::{self, ClientKind};

/// A relying party's back-channel logout endpoint: keeps every
/// `logout_token` posted to it and answers with the status it is told to,
/// after the delay it is told to.
pub(super) struct LogoutEndpoint {
    pub(super) uri: String,
    received: Arc<Mutex<Vec<String>>>,
    answer: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Endpoint {
    received: Arc<Mutex<Vec<String>>>,
    answer: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

async fn receive(State(e): State<Endpoint>, Form(form): Form<HashMap<String, String>>) -> StatusCode {
    e.received
        .lock()
        .unwrap()
        .push(form.get("logout_token").cloned().unwrap_or_default());
    tokio::time::sleep(Duration::from_millis(e.delay_ms.load(Ordering::SeqCst))).await;
    StatusCode::from_u16(e.answer.load(Ordering::SeqCst)).unwrap()
}

impl LogoutEndpoint {
    pub(super) async fn start() -> LogoutEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/backchannel-logout", listener.local_addr().unwrap());
        let endpoint = Endpoint {
            received: Arc::default(),
            answer: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/backchannel-logout", axum::routing::post(receive))
            .with_state(endpoint.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        LogoutEndpoint {
            uri,
            received: endpoint.received,
            answer: endpoint.answer,
            delay_ms: endpoint.delay_ms,
            server,
        }
    }

    /// From now on every notice is answered only after `delay`.
    pub(super) fn answer_after(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// From now on every notice is answered with `status`.
    pub(super) fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    pub(super) fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The `n`th token posted (from 1), once it has come (or a failure after
    /// fifteen seconds).
    pub(super) async fn nth(&self, n: usize) -> String {
        for _ in 0..150 {
            if let Some(t) = self.received.lock().unwrap().get(n - 1) {
                return t.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("logout token {n} never came ({} did)", self.count());
    }
}

impl Drop for LogoutEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Checks a logout token as a relying party does (Back-Channel Logout 1.0
/// section 2.6): its type, its signature against the provider's JWKS, the
/// issuer, the audience, its expiry, the event, a `jti`, no nonce; answers
/// its claims.
pub(super) async fn checked_logout_token(app: &TestApp, token: &str, client_id: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"), "explicitly typed");
    let jwks: JwkSet = reqwest::get(format!("{}/oauth2/jwks", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().expect("a kid"))
        .expect("signed with a published key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[&app.base]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("a valid logout token")
        .claims;
    assert_eq!(claims["events"], serde_json::json!({ LOGOUT_EVENT: {} }), "{claims}");
    assert_eq!(claims["jti"].as_str().map(str::len), Some(43), "{claims}");
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    claims
}

/// A confidential client told of sign-outs at `uri`: its id and secret.
async fn client_told_at(app: &TestApp, uri: &str) -> (String, Option<String>) {
    let (id, secret) = register(app, ClientKind::Confidential).await;
    let client = clients::find(&app.pool, &id).await.unwrap().unwrap();
    let settings = clients::ClientSettings {
        backchannel_logout_uri: Some(uri.to_owned()),
        ..client.settings()
    };
    assert!(clients::update(&app.pool, &id, &settings).await.unwrap());
    (id, secret)
}

/// Signs in to `rp` from `b`: the ID token's `sub` and `sid`.
async fn signs_in_to(app: &TestApp, rp: &RelyingParty, b: &mut Browser) -> (String, String) {
    let pending = rp.authorize(None, &[]);
    let code = code_from(app, b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    let claims = super::oidc::payload(&token);
    (
        claims["sub"].as_str().unwrap().to_owned(),
        claims["sid"].as_str().expect("a sid").to_owned(),
    )
}

async fn notices(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM oidc_logout_notices").await
}

#[tokio::test]
async fn sec_58_signing_out_and_ending_a_session_tell_the_applications_it_signed_in_to() {
    let app = spawn_app().await;
    let endpoint = LogoutEndpoint::start().await;
    let (told, secret) = client_told_at(&app, &endpoint.uri).await;
    let rp = RelyingParty::discover(&app, &told, secret.as_deref()).await;
    // An application that registered no back-channel URI is never told.
    let (untold, secret) = register(&app, ClientKind::Confidential).await;
    let untold = RelyingParty::discover(&app, &untold, secret.as_deref()).await;
    let (_, discovery) = app.browser().get_json_at("/.well-known/openid-configuration").await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let mut laptop = super::sms::signed_in(&app, ALICE).await;
    let mut phone = super::sms::signed_in(&app, ALICE).await;
    let (sub, laptop_sid) = signs_in_to(&app, &rp, &mut laptop).await;
    let (_, phone_sid) = signs_in_to(&app, &rp, &mut phone).await;
    assert_ne!(laptop_sid, phone_sid);
    signs_in_to(&app, &untold, &mut laptop).await;
    assert_eq!(endpoint.count(), 0);

    // The laptop signs out: one token, for its session only.
    assert_eq!(laptop.post("sign_out", &[]).await.status, 200);
    let logout_token = endpoint.nth(1).await;
    let claims = checked_logout_token(&app, &logout_token, &told).await;
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["sid"], laptop_sid.as_str());
    assert_eq!(notices(&app).await, 0, "accepted, so forgotten");
    // Signed by the same key, it is still no ID token: not a logout hint.
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &logout_token)
        .append_pair("post_logout_redirect_uri", super::oidc::LOGGED_OUT)
        .finish();
    let a = phone.page(&format!("/oauth2/end_session?{q}")).await;
    assert_eq!((a.status, a.location.as_deref()), (400, None), "{}", a.body);

    // Ending the phone's session from the Sessions page tells it too.
    let mut desk = super::sms::signed_in(&app, ALICE).await;
    assert_eq!(desk.post("sessions/end", &[("id", &phone_sid)]).await.status, 200);
    let claims = checked_logout_token(&app, &endpoint.nth(2).await, &told).await;
    assert_eq!(claims["sid"], phone_sid.as_str());
    assert_eq!(claims["sub"], sub.as_str());

    // A session that signed in to no application tells nobody, and a
    // session already ended tells nobody twice.
    assert_eq!(desk.post("sign_out", &[]).await.status, 200);
    assert_eq!(notices(&app).await, 0);
    assert_eq!(laptop.post("sign_out", &[]).await.status, 200);
    assert_eq!(notices(&app).await, 0);
    tokio::time::sleep(tessera_server::oidc::backchannel::POLL * 2).await;
    assert_eq!(endpoint.count(), 2);
    // Nothing was given up or dropped, and the audit log says nothing of it.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'oidc.logout_undelivered'")
            .await,
        0
    );
}

#[tokio::test]
async fn sec_58_a_password_change_and_a_lock_tell_the_applications_of_every_session() {
    let app = spawn_app().await;
    let endpoint = LogoutEndpoint::start().await;
    let (told, secret) = client_told_at(&app, &endpoint.uri).await;
    let rp = RelyingParty::discover(&app, &told, secret.as_deref()).await;
    let mut laptop = super::sms::signed_in(&app, ALICE).await;
    let mut phone = super::sms::signed_in(&app, ALICE).await;
    let (sub, laptop_sid) = signs_in_to(&app, &rp, &mut laptop).await;
    let (_, phone_sid) = signs_in_to(&app, &rp, &mut phone).await;

    let a = super::hardening::change_password(&mut laptop, ALICE.1, "a-new-password-2").await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    let mut sids = Vec::new();
    for n in 1..=2 {
        let claims = checked_logout_token(&app, &endpoint.nth(n).await, &told).await;
        assert_eq!(claims["sub"], sub.as_str());
        sids.push(claims["sid"].as_str().unwrap().to_owned());
    }
    sids.sort();
    let mut expected = vec![laptop_sid, phone_sid];
    expected.sort();
    assert_eq!(sids, expected, "one token per session, each with its sid");

    // An administrator locks the account: the session signed in since goes.
    let mut tablet = super::sms::signed_in(&app, (ALICE.0, "a-new-password-2")).await;
    let (_, tablet_sid) = signs_in_to(&app, &rp, &mut tablet).await;
    let mut admin = super::sms::signed_in(&app, ADMIN).await;
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "lock")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let claims = checked_logout_token(&app, &endpoint.nth(3).await, &told).await;
    assert_eq!(claims["sid"], tablet_sid.as_str());
}

#[tokio::test]
async fn sec_58_an_application_that_is_down_is_retried_backing_off_across_a_restart_then_given_up() {
    let app = spawn_app().await;
    let endpoint = LogoutEndpoint::start().await;
    let (told, secret) = client_told_at(&app, &endpoint.uri).await;
    let rp = RelyingParty::discover(&app, &told, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let (_, sid) = signs_in_to(&app, &rp, &mut b).await;
    app.clock.pin();

    // Down: the first attempt fails and the next waits 15 seconds.
    endpoint.answer_with(503);
    assert_eq!(b.post("sign_out", &[]).await.status, 200);
    endpoint.nth(1).await;
    let attempts = "SELECT attempts::BIGINT FROM oidc_logout_notices";
    assert_eq!(app.count_reaching(attempts, 1).await, 1);
    app.clock.advance(14);
    tokio::time::sleep(tessera_server::oidc::backchannel::POLL * 2).await;
    assert_eq!(endpoint.count(), 1, "not before its time");
    // A redirect is not followed, and fails like any other answer.
    endpoint.answer_with(307);
    app.clock.advance(1);
    endpoint.nth(2).await;
    assert_eq!(app.count_reaching(attempts, 2).await, 2);
    let failed = "SELECT count(*) FROM oidc_logout_notices WHERE last_error LIKE '%307%'";
    assert_eq!(app.count_reaching(failed, 1).await, 1);
    let (_, detail) = super::sms::signed_in(&app, ADMIN)
        .await
        .get_json(&format!("admin/client?id={told}"))
        .await;
    assert_eq!(detail["logout_notices_waiting"], 1);
    assert!(
        detail["logout_last_error"].as_str().unwrap().contains("307"),
        "{detail}"
    );

    // The notice outlives the server; the next one sends it when it is due.
    let db = app.shutdown().await;
    let app = spawn_on(&db, &[]).await;
    let rp = RelyingParty::discover(&app, &told, secret.as_deref()).await;
    endpoint.answer_with(200);
    let due: time::OffsetDateTime = sqlx::query_scalar("SELECT next_attempt_at FROM oidc_logout_notices")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let now = app.clock.pin();
    assert!(due > now, "the second attempt was at most seconds ago");
    app.clock.advance((due - now).whole_seconds() - 1);
    tokio::time::sleep(tessera_server::oidc::backchannel::POLL * 2).await;
    assert_eq!(endpoint.count(), 2, "not a second before its time");
    app.clock.advance(1);
    let claims = checked_logout_token(&app, &endpoint.nth(3).await, &told).await;
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(
        app.count_reaching("SELECT count(*) FROM oidc_logout_notices", 0).await,
        0
    );

    // A notice on its last attempt that fails is given up, and audited.
    endpoint.answer_with(500);
    let mut b = super::sms::signed_in(&app, ALICE).await;
    signs_in_to(&app, &rp, &mut b).await;
    sqlx::query("UPDATE oidc_clients SET backchannel_logout_uri = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(b.post("sign_out", &[]).await.status, 200);
    assert_eq!(notices(&app).await, 0, "a client that takes none is owed none");
    sqlx::query("UPDATE oidc_clients SET backchannel_logout_uri = $1")
        .bind(&endpoint.uri)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut b = super::sms::signed_in(&app, ALICE).await;
    signs_in_to(&app, &rp, &mut b).await;
    let sent = endpoint.count();
    app.clock.advance(3600);
    assert_eq!(b.post("sign_out", &[]).await.status, 200);
    endpoint.nth(sent + 1).await;
    let failed = "SELECT count(*) FROM oidc_logout_notices WHERE last_error LIKE '%500%'";
    assert_eq!(app.count_reaching(failed, 1).await, 1);
    sqlx::query("UPDATE oidc_logout_notices SET attempts = $1 - 1, next_attempt_at = $2")
        .bind(MAX_ATTEMPTS)
        .bind(app.clock.now())
        .execute(&app.pool)
        .await
        .unwrap();
    endpoint.nth(sent + 2).await;
    assert_eq!(
        app.count_reaching("SELECT count(*) FROM oidc_logout_notices", 0).await,
        0
    );
    assert_eq!(
        app.count_reaching(
            "SELECT count(*) FROM audit_events WHERE event = 'oidc.logout_undelivered' \
             AND subject = 'alice' AND ip = 'back-channel logout' AND details->>'error' LIKE '%500%'",
            1
        )
        .await,
        1
    );
}

#[tokio::test]
async fn sec_58_two_servers_on_one_database_send_each_notice_once() {
    let app = spawn_app().await;
    let second = spawn_on(&app.db_url, &[]).await;
    let endpoint = LogoutEndpoint::start().await;
    let (told, secret) = client_told_at(&app, &endpoint.uri).await;
    let rp = RelyingParty::discover(&app, &told, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    signs_in_to(&app, &rp, &mut b).await;
    // A slow relying party: both servers are woken, and poll, while the
    // first one's attempt is under way; its claim keeps the other off.
    let slow = Duration::from_secs(3);
    endpoint.answer_after(slow);
    assert_eq!(b.post("sign_out", &[]).await.status, 200);
    endpoint.nth(1).await;
    tokio::time::sleep(slow + tessera_server::oidc::backchannel::POLL * 2).await;
    assert_eq!(endpoint.count(), 1, "sent once");
    assert_eq!(notices(&app).await, 0);
    second.shutdown().await;
}

#[tokio::test]
async fn sec_58_the_queue_keeps_at_most_its_bound_dropping_the_oldest() {
    let app = spawn_app().await;
    let endpoint = LogoutEndpoint::start().await;
    let (told, _) = client_told_at(&app, &endpoint.uri).await;
    // Notices not yet due (so none is sent): one more than the bound.
    sqlx::query(
        "INSERT INTO oidc_logout_notices (client_id, user_id, created_at, next_attempt_at) \
         SELECT $1, gen_random_uuid(), now(), now() + INTERVAL '1 hour' FROM generate_series(1, $2)",
    )
    .bind(&told)
    .bind(MAX_QUEUED + 1)
    .execute(&app.pool)
    .await
    .unwrap();
    let oldest: i64 = sqlx::query_scalar("SELECT min(id) FROM oidc_logout_notices")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.count_reaching("SELECT count(*) FROM oidc_logout_notices", MAX_QUEUED)
            .await,
        MAX_QUEUED
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM oidc_logout_notices WHERE id = {oldest}"))
            .await,
        0,
        "the oldest went"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE event = 'oidc.logout_undelivered' AND details->>'dropped' = '1'"
        )
        .await,
        1
    );
    assert_eq!(endpoint.count(), 0);
}

#[tokio::test]
async fn the_console_takes_a_back_channel_uri_only_where_a_notice_may_go() {
    let app = spawn_app().await;
    let (id, _) = register(&app, ClientKind::Confidential).await;
    let mut admin = super::sms::signed_in(&app, ADMIN).await;
    let save = async |admin: &mut Browser, uri: &str| {
        super::oidc::save_client(admin, &id, &[("fields[backchannel_logout_uri]", uri)]).await
    };
    for (bad, says) in [
        ("http://rp.example/logout", "must use https"),
        ("https://rp.example/logout#x", "fragment"),
        ("/logout", "not an absolute URL"),
    ] {
        let a = save(&mut admin, bad).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            super::sms::field_error(&a, "backchannel_logout_uri").contains(says),
            "{bad}: {}",
            a.body
        );
    }
    let a = save(&mut admin, " https://rp.example/logout?from=tessera ").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
    assert_eq!(
        detail["backchannel_logout_uri"],
        "https://rp.example/logout?from=tessera"
    );
    assert_eq!(detail["logout_notices_waiting"], 0);
    // Emptied: none.
    assert_eq!(save(&mut admin, "").await.status, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM oidc_clients WHERE backchannel_logout_uri IS NULL")
            .await,
        1
    );
}
