//! Getting back in after losing every factor, over HTTP with PostgreSQL and
//! a moved clock: the reset asked for at the second step, the wait, every
//! channel told with a cancel link, and each way it ends (the link, a
//! sign-in with a factor, an administrator, the wait running out).

use super::sms::{PHONE, alice_with_2fa, field_error, signed_in};
use super::*;
use serde_json::Value;

/// Alice with an email address, a phone and 2FA on.
async fn alice_with_email_and_2fa(app: &TestApp) {
    sqlx::query("UPDATE users SET email = 'alice@example.org' WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    alice_with_2fa(app).await;
}

/// A browser at Alice's second step (her password proven).
async fn at_second_step(app: &TestApp) -> Browser {
    let mut b = app.browser();
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    b
}

/// The cancel link's token in the newest text that carries one (the
/// outbox plugin's store is the phone's stand-in; stored notices never
/// hold the link: SECURITY.md 57).
async fn cancel_token(app: &TestApp) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM outbox_messages WHERE body LIKE '%/reset/cancel?token=%' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let at = body.find("/reset/cancel?token=").expect("a cancel link") + "/reset/cancel?token=".len();
    body[at..at + 43].to_owned()
}

async fn waiting(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM two_factor_resets WHERE state = 'waiting'")
        .await
}

#[tokio::test]
async fn a_person_who_lost_every_factor_gets_back_in_after_the_wait_and_not_before() {
    let app = spawn_app().await;
    alice_with_email_and_2fa(&app).await;
    let mut b = at_second_step(&app).await;
    assert!(b.page("/signin/code").await.body.contains("Lost every way to sign in?"));
    let (_, view) = b.get_json("signin/reset").await;
    assert_eq!(view["wait_hours"], 24, "{view}");
    assert_eq!(view["has_email"], true);
    assert_eq!(view["ready_at"], Value::Null);
    assert!(
        b.page("/signin/reset")
            .await
            .body
            .contains("Reset two-factor sign-in by email")
    );

    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("signin/reset").await;
    assert!(view["ready_at"].is_string(), "{view}");
    // Every channel is told: a text with a link that cancels, and a notice
    // (the outbox here: no SMTP) that names the link but never holds it.
    let token = cancel_token(&app).await;
    let notice: String = sqlx::query_scalar("SELECT body FROM notifications WHERE kind = 'reset_started'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !notice.contains(&token) && !notice.contains("token=") && notice.contains("sent by email only"),
        "{notice}"
    );
    assert_eq!(token.len(), 43);
    let texted: String =
        sqlx::query_scalar("SELECT body FROM outbox_messages WHERE phone_e164 = $1 ORDER BY id DESC LIMIT 1")
            .bind(PHONE)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(texted.contains(&format!("/reset/cancel?token={token}")), "{texted}");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT cancel_hash FROM two_factor_resets")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !stored.windows(8).any(|w| token.as_bytes().windows(8).any(|t| t == w)),
        "only a hash"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'reset.started'")
            .await,
        1
    );
    // One at a time.
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "reset").contains("already waiting"));

    // Not before the wait is over: the password still leads to the code.
    app.clock.advance(23 * 3600);
    at_second_step(&app).await;
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);

    // After it, from another browser: the usual second step, and nothing
    // is removed (SECURITY.md 51).
    app.clock.advance(3600 + 60);
    let mut other = app.browser();
    let a = other.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);
    assert_eq!(waiting(&app).await, 1);
    // From the browser that asked: the lost factors go, 2FA is off, and the
    // sign-in leads straight to enrolling a new one.
    let mut c = b;
    let a = c.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/enroll"), "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE username = 'alice' AND two_factor_enabled")
            .await,
        0
    );
    assert_eq!(waiting(&app).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'reset.completed'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'two_factor_off'")
            .await,
        1
    );
    // The enrollment finishes the sign-in with 2FA on again.
    c.enroll_outbox(&app, "+12015550177", "New phone").await;
    assert_eq!(c.get_json("home").await.0, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE username = 'alice' AND two_factor_enabled")
            .await,
        1
    );
    // The old cancel link does nothing now.
    let mut reader = app.browser();
    let a = reader.post("reset/cancel", &[("token", &token)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
}

#[tokio::test]
async fn a_waiting_reset_ends_by_its_link_a_sign_in_with_a_factor_or_an_administrator() {
    let app = spawn_app().await;
    alice_with_email_and_2fa(&app).await;

    // The link in the notice: a page with one button, for anyone holding it.
    let mut b = at_second_step(&app).await;
    b.post("signin/reset/start", &[]).await;
    let token = cancel_token(&app).await;
    let mut reader = app.browser();
    let page = reader.page(&format!("/reset/cancel?token={token}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Cancel the reset"));
    assert_eq!(waiting(&app).await, 1, "opening the link cancels nothing");
    let a = reader.post("reset/cancel", &[("token", &token)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(waiting(&app).await, 0);
    let a = reader.post("reset/cancel", &[("token", &token)]).await;
    assert_eq!(a.status, 422, "twice: {}", a.body);
    let a = reader.post("reset/cancel", &[("token", &"x".repeat(43))]).await;
    assert_eq!(a.status, 422, "a forged link: {}", a.body);
    app.clock.advance(25 * 3600);
    at_second_step(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM credentials").await,
        1,
        "a cancelled reset never finishes"
    );

    // Signing in with a factor cancels it: the person has one after all.
    let mut b = at_second_step(&app).await;
    b.post("signin/reset/start", &[]).await;
    assert_eq!(waiting(&app).await, 1);
    // The newest text is the notice; the code went before it.
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT body FROM outbox_messages WHERE phone_e164 = $1 ORDER BY id DESC")
            .bind(PHONE)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let code = codes
        .iter()
        .find(|m| m.starts_with("Your Tessera code"))
        .map(|m| super::mocks::code_in(m))
        .expect("a code texted");
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    assert_eq!(waiting(&app).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'reset.cancelled' AND details->>'by' = 'signed_in'")
            .await,
        1
    );

    // An administrator sees it, cancels one and approves another early.
    let mut b = at_second_step(&app).await;
    b.post("signin/reset/start", &[]).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert!(detail["reset_ready_at"].is_string(), "{detail}");
    let a = admin
        .post("admin/user_reset", &[("username", "alice"), ("decision", "cancel")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(waiting(&app).await, 0);
    // Three a day at most (each texts every phone): this is the third.
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = admin
        .post("admin/user_reset", &[("username", "alice"), ("decision", "cancel")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "reset").contains("Too many"));
    app.clock.advance(25 * 3600);
    let mut b = at_second_step(&app).await;
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut admin = signed_in(&app, ADMIN).await;
    let a = admin
        .post("admin/user_reset", &[("username", "alice"), ("decision", "approve")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/enroll"), "approved: {}", a.body);
    // A user cannot decide.
    let a = b
        .post("admin/user_reset", &[("username", "alice"), ("decision", "approve")])
        .await;
    assert_ne!(a.status, 200);
}

#[tokio::test]
async fn no_reset_without_an_email_address_or_when_the_policy_turns_it_off() {
    let app = spawn_app().await;
    alice_with_2fa(&app).await;
    let mut b = at_second_step(&app).await;
    let (_, view) = b.get_json("signin/reset").await;
    assert_eq!(view["has_email"], false, "{view}");
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "reset").contains("no email address"));
    sqlx::query("UPDATE users SET email = 'alice@example.org' WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.save_policy(&[("recovery_wait_hours", "0")]).await;
    let a = b.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "reset").contains("turned off"));
    assert_eq!(app.count("SELECT count(*) FROM two_factor_resets").await, 0);
    // Without a half-finished sign-in there is nothing to reset.
    let mut stranger = app.browser();
    let a = stranger.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 401, "{}", a.body);
}

/// SECURITY.md 51 to the second: the asking browser keeps the key in an
/// `HttpOnly` cookie for the wait and a week, and its password finishes
/// the reset from the second the wait ends, not one second before.
#[tokio::test]
async fn sec_51_the_wait_ends_to_the_second_and_the_key_is_kept_for_it_and_a_week() {
    let app = spawn_app().await;
    alice_with_email_and_2fa(&app).await;
    let mut asker = at_second_step(&app).await;
    app.clock.pin();
    let a = asker.post("signin/reset/start", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("tessera_reset="))
        .expect("the key's cookie");
    let cancel = cancel_token(&app).await;
    let wait = 24 * 3600;
    let kept = format!("Max-Age={}", wait + 7 * 24 * 3600);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", kept.as_str()] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} in {cookie}");
    }

    app.clock.advance(wait - 1);
    let a = asker.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);
    app.clock.advance(1);
    let a = asker.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/enroll"), "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    assert_eq!(waiting(&app).await, 0);
    // The cancel link lived as long as the reset waited (it cancels until
    // then: `a_waiting_reset_ends_by_its_link_…`), and not a second longer.
    let a = app.browser().post("reset/cancel", &[("token", &cancel)]).await;
    assert_eq!(a.status, 422, "a finished reset: {}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM two_factor_resets WHERE state = 'completed'")
            .await,
        1
    );
}

#[tokio::test]
async fn sec_51_a_reset_is_finished_only_by_its_browser_never_skipped_and_shown_on_every_page() {
    let app = spawn_app().await;
    alice_with_email_and_2fa(&app).await;
    app.save_policy(&[("max_sends_per_number", "50"), ("max_sends_per_account", "1000")])
        .await;
    // A browser Alice trusts, and one signed in before any reset.
    let mut trusted = app.browser();
    assert_eq!(
        trusted.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let code = super::sms::outbox_code(&app, PHONE).await;
    let a = trusted
        .post("signin/verify_code", &[("code", &code), ("remember", "true")])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    assert!(trusted.trust.is_some());
    app.clock.advance(120);
    let mut home = at_second_step(&app).await;
    home.post(
        "signin/verify_code",
        &[("code", &super::sms::outbox_code(&app, PHONE).await)],
    )
    .await;
    assert_eq!(home.get_json("home").await.0, 200);
    let (_, session) = home.get_json("session").await;
    assert!(session["reset_waiting"].is_null(), "{session}");

    // Someone with the password asks for a reset.
    app.clock.advance(120);
    let mut asker = at_second_step(&app).await;
    assert_eq!(asker.post("signin/reset/start", &[]).await.status, 200);
    assert!(asker.reset_key.is_some(), "the asking browser keeps the key");

    // Every signed-in page shows it, with the date and a way to cancel.
    let (_, session) = home.get_json("session").await;
    assert!(session["reset_waiting"].is_string(), "{session}");
    let page = home.page("/account/sessions").await;
    assert!(page.body.contains("data-testid=\"reset-banner\""), "{}", page.body);

    // The trusted browser does not skip the second step while it waits.
    let token = trusted.csrf().await;
    trusted.call("sign_out", &[("csrf_token", &token)]).await;
    app.clock.advance(120);
    assert_eq!(
        trusted.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );

    // After the wait, another browser's password does not finish it.
    app.clock.advance(25 * 3600);
    let mut other = app.browser();
    assert_eq!(
        other.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);
    assert_eq!(waiting(&app).await, 1);

    // The owner cancels it from the banner (a plain form post).
    let mut home = at_second_step(&app).await;
    home.post(
        "signin/verify_code",
        &[("code", &super::sms::outbox_code(&app, PHONE).await)],
    )
    .await;
    // Proving a factor cancelled it already; a new one from the asker to cancel by the banner.
    assert_eq!(waiting(&app).await, 0);
    let mut asker = at_second_step(&app).await;
    assert_eq!(asker.post("signin/reset/start", &[]).await.status, 200);
    let a = home.post("reset/cancel_mine", &[]).await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    assert_eq!(waiting(&app).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'reset.cancelled' AND details->>'by' = 'owner'")
            .await,
        1
    );
    // Nothing waits now: the banner's button has nothing to cancel.
    assert_eq!(home.post("reset/cancel_mine", &[]).await.status, 404);
}
