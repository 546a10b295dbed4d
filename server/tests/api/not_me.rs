//! "This wasn't me" over HTTP with PostgreSQL: the link every security
//! notice carries, the sign-in that comes back to it, what securing the
//! account ends (other sessions, application tokens, trusted browsers, a
//! waiting reset), the flag on the console, and every link refused.

use super::sms::{PHONE, alice_with_2fa, field_error, outbox_code, signed_in};
use super::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const LINK: &str = "/not-me?token=";

const FACTOR_ADDED: &str = "A sign-in method was added";
const RESET_STARTED: &str = "Someone asked to reset";

/// The server mailing through a real SMTP server; Alice has an address.
pub(super) async fn app_with_mail(smtp_port: u16) -> TestApp {
    let app = spawn_app_with(&[
        ("TESSERA_SMTP_URL", &format!("smtp://127.0.0.1:{smtp_port}")),
        ("TESSERA_SMTP_FROM", "Tessera <security@tessera.test>"),
    ])
    .await;
    sqlx::query("UPDATE users SET email = 'alice@example.org' WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    app
}

/// The token of the "this wasn't me" link in the newest email whose
/// subject says `subject` (links are only ever in the email: SECURITY.md 57).
async fn not_me_token(smtp: &Smtp, subject: &str) -> String {
    let body = smtp.newest(subject).await;
    let at = body.find(LINK).expect("a this-wasn't-me link") + LINK.len();
    body[at..at + 43].to_owned()
}

/// Alice's password and texted code in `b`; where the sign-in lands.
async fn sign_in_with_code(app: &TestApp, b: &mut Browser) -> Option<String> {
    // Past the resend cooldown of the sign-in before, so a code goes out.
    app.clock.advance(120);
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    let code = outbox_code(app, PHONE).await;
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert!(a.location.is_some(), "{} {}", a.status, a.body);
    a.location
}

async fn alice_id(app: &TestApp) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// An application holding a live token for Alice from no session (written
/// directly: the OpenID Connect tests cover how tokens are issued), told
/// of sign-outs at `backchannel`.
async fn alice_has_an_application_token(app: &TestApp, backchannel: &str) {
    sqlx::query(
        "INSERT INTO oidc_clients (id, name, redirect_uris, backchannel_logout_uri) \
         VALUES ('notes', 'Notes', '{https://notes.example/cb}', $1)",
    )
    .bind(backchannel)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, kind, grant_id, client_id, user_id, scope, acr, amr, auth_time, created_at, expires_at)
         VALUES ('\\x01', 'refresh', gen_random_uuid(), 'notes', $1, 'openid', 'tessera', '{pwd}', now(), now(), now() + interval '30 days')",
    )
    .bind(alice_id(app).await)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn step(b: &mut Browser, token: &str) -> Value {
    let (status, view) = b.get_json(&format!("not_me?token={token}")).await;
    assert_eq!(status, 200, "{view}");
    view["step"].clone()
}

#[tokio::test]
async fn a_notice_link_secures_the_account_after_sign_in_and_flags_it_for_the_administrators() {
    let smtp = Smtp::start().await;
    let app = app_with_mail(smtp.port).await;
    app.save_policy(&[("max_sends_per_number", "50"), ("max_sends_per_account", "1000")])
        .await;
    let mut other_session = alice_with_2fa(&app).await;

    // Every notice carries its own link; only the token's digest is kept.
    let token = not_me_token(&smtp, FACTOR_ADDED).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT not_me_hash FROM notifications WHERE kind = 'factor_added'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());

    // What securing must end: another session, a trusted browser, an
    // application's token and a waiting reset.
    let mut trusted = app.browser();
    app.clock.advance(120);
    trusted.sign_in(ALICE.0, ALICE.1).await;
    let code = outbox_code(&app, PHONE).await;
    let a = trusted
        .post("signin/verify_code", &[("code", &code), ("remember", "true")])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    let logout_endpoint = super::backchannel::LogoutEndpoint::start().await;
    alice_has_an_application_token(&app, &logout_endpoint.uri).await;
    let live = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let sessions = "SELECT count(*) FROM user_sessions";
    let sessions_before = live(sessions).await;
    assert!(sessions_before >= 2, "{sessions_before}");

    // Opening the link changes nothing (mail scanners follow links).
    let mut reader = app.browser();
    let page = reader.page(&format!("{LINK}{token}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("This wasn't me"), "{}", page.body);
    assert!(page.body.contains("A sign-in method was added to your account"));
    assert_eq!(
        step(&mut reader, &token).await,
        serde_json::json!({"SignInFirst": {"reported_at": null}})
    );
    assert_eq!(live(sessions).await, sessions_before);
    assert_eq!(app.count("SELECT count(*) FROM account_flags").await, 0);

    // Someone else signed in sees it is not theirs, and cannot use it.
    app.add_account("bob", "bob-password-1", tessera::account::Role::User)
        .await;
    let mut bob = signed_in(&app, ("bob", "bob-password-1")).await;
    assert_eq!(step(&mut bob, &token).await, serde_json::json!("OtherAccount"));
    let a = bob.post("not_me/secure", &[("token", &token)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "not_me").contains("another account"));
    assert_eq!(live(sessions).await, sessions_before + 1, "Bob's own session only");
    // Nobody signed in cannot secure.
    let a = app.browser().post("not_me/secure", &[("token", &token)]).await;
    assert_eq!(a.status, 401, "{}", a.body);

    // The sign-in comes back to the link; one button secures the account.
    assert_eq!(
        sign_in_with_code(&app, &mut reader).await,
        Some(format!("{LINK}{token}"))
    );
    assert_eq!(step(&mut reader, &token).await, serde_json::json!("Ready"));
    // A reset asked for meanwhile (a sign-in with a factor cancels one, so
    // it starts after hers). The clock is pinned from here, so that the
    // reset's notice is sent on a whole second (its link's edge below).
    app.clock.pin();
    let mut asker = app.browser();
    asker.sign_in(ALICE.0, ALICE.1).await;
    let a = asker.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The reset's own notice carries a link too.
    assert_ne!(not_me_token(&smtp, RESET_STARTED).await, token);
    let a = reader.post("not_me/secure", &[("token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(matches!(&step(&mut reader, &token).await, Value::Object(m) if m.contains_key("Done")));

    // Every other session of hers ended; this one and Bob's live on.
    assert_eq!(other_session.get_json("home").await.0, 401);
    assert_eq!(trusted.get_json("home").await.0, 401);
    assert_eq!(reader.get_json("home").await.0, 200);
    assert_eq!(bob.get_json("home").await.0, 200);
    let alice = alice_id(&app).await;
    let hers: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE user_id = $1")
        .bind(alice)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hers, 1);
    assert_eq!(
        live("SELECT count(*) FROM oidc_tokens WHERE revoked_at IS NULL").await,
        0,
        "application tokens revoked"
    );
    // And the application is told (SECURITY.md 58): the token came from no
    // session, so every session of hers there ends.
    let logout = logout_endpoint.nth(1).await;
    let claims = super::backchannel::checked_logout_token(&app, &logout, "notes").await;
    assert_eq!(claims["sub"], alice.to_string());
    assert!(claims.get("sid").is_none(), "{claims}");
    // The trusted browser asks for the code again.
    let mut again = app.browser();
    again.trust = trusted.trust.clone();
    assert!(again.trust.is_some());
    let a = again.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    assert_eq!(
        live("SELECT count(*) FROM two_factor_resets WHERE state = 'waiting'").await,
        0
    );
    assert_eq!(
        live("SELECT count(*) FROM two_factor_resets WHERE ended_by = 'not_me'").await,
        1
    );
    assert_eq!(
        live(
            "SELECT count(*) FROM audit_events WHERE event = 'not_me.secured' AND details->>'reset_cancelled' = 'true'"
        )
        .await,
        1
    );

    // Once: a second press says when it was done, and changes nothing.
    let a = reader.post("not_me/secure", &[("token", &token)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "not_me").contains("was used on"));
    assert_eq!(
        live("SELECT count(*) FROM audit_events WHERE event = 'not_me.secured'").await,
        1
    );

    // Forged, cut or too old: refused in words, never a 500.
    for bad in [
        "A".repeat(43),
        token[..42].to_owned(),
        format!("{token}x"),
        String::new(),
    ] {
        let a = reader.post("not_me/secure", &[("token", &bad)]).await;
        assert_eq!(a.status, 422, "{bad}: {}", a.body);
        assert!(field_error(&a, "not_me").contains("does not work"), "{bad}");
    }
    let page = reader.page(&format!("{LINK}{}", "A".repeat(43))).await;
    assert!(page.body.contains("does not work"), "{}", page.body);
    // A link lives 30 days to the second (pinned clock).
    let older = not_me_token(&smtp, RESET_STARTED).await;
    let sent: time::OffsetDateTime = sqlx::query_scalar("SELECT created_at FROM notifications WHERE not_me_hash = $1")
        .bind(Sha256::digest(older.as_bytes()).to_vec())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let now = app.clock.now();
    let edge = (sent + time::Duration::days(30) - now).whole_seconds();
    app.clock.advance(edge - 1);
    let (status, view) = reader.get_json(&format!("not_me?token={older}")).await;
    assert_eq!(status, 200, "a second before 30 days: {view}");
    app.clock.advance(1);
    let (status, view) = reader.get_json(&format!("not_me?token={older}")).await;
    assert_eq!(status, 422, "at 30 days: {view}");
    let mut fresh = app.browser();
    sign_in_with_code(&app, &mut fresh).await;
    let a = fresh.post("not_me/secure", &[("token", &older)]).await;
    assert_eq!(a.status, 422, "after 30 days: {}", a.body);

    // The console shows the account flagged, first in the list, until an
    // administrator clears it.
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, users) = admin.get_json("admin/users?q=").await;
    assert_eq!(users[0]["username"], "alice", "{users}");
    assert_eq!(users[0]["flagged"], true);
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert_eq!(detail["flag"]["how"], "Secured", "{detail}");
    assert_eq!(detail["flag"]["about"], "A sign-in method was added to your account");
    assert!(admin.page("/admin/users/alice").await.body.contains("this wasn't me"));
    let a = bob
        .post("admin/user_action", &[("username", "alice"), ("action", "clear_flag")])
        .await;
    assert_ne!(a.status, 200, "a user cannot clear it");
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "clear_flag")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert_eq!(detail["flag"], Value::Null);
    assert_eq!(
        live("SELECT count(*) FROM audit_events WHERE event = 'admin.flag_cleared'").await,
        1
    );
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "clear_flag")])
        .await;
    assert_eq!(a.status, 404, "nothing to clear: {}", a.body);
}

#[tokio::test]
async fn a_holder_who_cannot_sign_in_reports_the_account_and_nothing_else_changes() {
    let smtp = Smtp::start().await;
    let app = app_with_mail(smtp.port).await;
    let mut alice = alice_with_2fa(&app).await;
    let token = not_me_token(&smtp, FACTOR_ADDED).await;
    let sessions = app.count("SELECT count(*) FROM user_sessions").await;

    let mut holder = app.browser();
    let a = holder.post("not_me/report", &[("token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM account_flags WHERE how = 'reported'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM user_sessions").await, sessions);
    assert_eq!(alice.get_json("home").await.0, 200, "her session lives on");
    let reported = step(&mut holder, &token).await;
    assert!(reported["SignInFirst"]["reported_at"].is_string(), "{reported}");
    // Saying it again about the same notice adds nothing.
    let a = holder.post("not_me/report", &[("token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'not_me.reported'")
            .await,
        1
    );
    let a = holder.post("not_me/report", &[("token", &"B".repeat(43))]).await;
    assert_eq!(a.status, 422, "a forged link: {}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM account_flags").await, 1);

    // The console shows it reported; securing later makes it secured.
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert_eq!(detail["flag"]["how"], "Reported", "{detail}");
    let mut owner = app.browser();
    app.save_policy(&[("max_sends_per_number", "50")]).await;
    sign_in_with_code(&app, &mut owner).await;
    let a = owner.post("not_me/secure", &[("token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(alice.get_json("home").await.0, 401);
    assert_eq!(
        app.count("SELECT count(*) FROM account_flags WHERE how = 'secured'")
            .await,
        1
    );
}

/// SECURITY.md 57: a stored notice never holds a link that acts on the
/// account; the email gets it as it is sent, and an email retried after an
/// SMTP outage gets a new "this wasn't me" link (whose digest replaces the
/// first) but not the reset's cancel link, which no one kept.
#[tokio::test]
async fn sec_57_stored_notices_hold_no_live_link_and_a_retried_email_gets_a_new_one() {
    let port = free_port();
    let app = app_with_mail(port).await;
    app.save_policy(&[("max_sends_per_number", "50"), ("max_sends_per_account", "1000")])
        .await;
    app.clock.pin();
    // SMTP is down: a factor added and a reset asked for are not mailed.
    alice_with_2fa(&app).await;
    let mut asker = app.browser();
    asker.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(asker.post("signin/reset/start", &[]).await.status, 200);
    let unsent = "SELECT count(*) FROM notifications WHERE error IS NOT NULL AND sent_at IS NULL";
    for _ in 0..100 {
        if app.count(unsent).await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count(unsent).await, 2);
    let stored = async || -> Vec<(i64, String, Vec<u8>)> {
        sqlx::query_as("SELECT id, body, not_me_hash FROM notifications ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap()
    };
    let before = stored().await;
    for (_, body, _) in &before {
        assert!(!body.contains("token="), "{body}");
        assert!(
            body.contains("[the “this wasn't me” link, sent by email only]"),
            "{body}"
        );
    }

    // Retried only once its own delivery has had five minutes.
    let smtp = Smtp::start_on(port).await;
    app.clock.advance(300);
    tessera_server::notify::deliver_retries(&app.state).await.unwrap();
    assert_eq!(smtp.messages().len(), 0, "not before five minutes");
    app.clock.advance(1);
    tessera_server::notify::deliver_retries(&app.state).await.unwrap();
    assert_eq!(smtp.messages().len(), 2);
    let token = not_me_token(&smtp, FACTOR_ADDED).await;
    let after = stored().await;
    let (_, body, hash) = &after[0];
    assert_eq!(body, &before[0].1, "the stored body is unchanged");
    assert_eq!(
        hash,
        &Sha256::digest(token.as_bytes()).to_vec(),
        "the new link's digest"
    );
    assert_ne!(hash, &before[0].2, "replaced the first");
    assert_eq!(app.count(unsent).await, 0);
    let mut reader = app.browser();
    assert!(matches!(step(&mut reader, &token).await, Value::Object(_)));
    // The reset's email says how else to cancel; its text had the link.
    let reset = smtp.newest(RESET_STARTED).await;
    assert!(!reset.contains("/reset/cancel"), "{reset}");
    assert!(
        reset.contains("sign in to Tessera with one of your sign-in methods"),
        "{reset}"
    );
}
