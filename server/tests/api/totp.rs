//! Authenticator apps over HTTP with PostgreSQL: adding one with a code
//! computed from the secret the page shows, signing in with it, replays,
//! the wrong-code cap, bad input, and "try another way" beside a phone.

use super::sms::{alice_with_2fa, field_error, signed_in, twice_at_once};
use super::*;
use serde_json::Value;
use tessera::totp::step_at;
use tessera_server::methods::totp::rfc6238::code_at_step;

/// The secret of the setup the credentials page shows, as bytes.
pub(super) async fn setup_secret(b: &mut Browser) -> Vec<u8> {
    let (status, view) = b.get_json("credentials").await;
    assert_eq!(status, 200, "{view}");
    let grouped = view["app_setup"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no setup: {view}"));
    data_encoding::BASE32_NOPAD
        .decode(grouped.replace(' ', "").as_bytes())
        .unwrap()
}

/// Moves the clock to one second into the next 30-second step, so that the
/// requests that follow (which take real time) stay within one step.
pub(super) fn start_of_a_step(app: &TestApp) {
    let now = app.clock.now().unix_timestamp();
    app.clock.advance(30 - now.rem_euclid(30) + 1);
}

/// The app's code now (or `steps` steps away), as a person types it.
pub(super) fn code_now(app: &TestApp, secret: &[u8], steps: i64) -> String {
    let code = code_at_step(secret, step_at(app.clock.now().unix_timestamp()) + steps);
    format!("{} {}", &code[..3], &code[3..])
}

impl Browser {
    /// Adds an app through the setup, returns its secret, and moves the clock
    /// to the next step (the setup's code is used up).
    pub(super) async fn add_app(&mut self, app: &TestApp, nickname: &str) -> Vec<u8> {
        let a = self.post("totp/start", &[("nickname", nickname)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let secret = setup_secret(self).await;
        let a = self.post("totp/verify", &[("code", &code_now(app, &secret, 0))]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        app.clock.advance(30);
        secret
    }

    async fn credential_id(&mut self, nickname: &str) -> String {
        let (_, view) = self.get_json("credentials").await;
        view["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["nickname"] == nickname)
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no {nickname} in {view}"))
            .to_owned()
    }
}

#[tokio::test]
async fn sec_34_an_app_is_added_with_a_code_from_the_secret_shown_once_and_signs_in() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let a = b.post("totp/start", &[("nickname", "Pixel")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    let setup = &view["app_setup"];
    assert_eq!(setup["nickname"], "Pixel");
    let grouped = setup["secret"].as_str().unwrap();
    assert!(grouped.split(' ').all(|g| g.len() <= 4), "{grouped}");
    let secret = setup_secret(&mut b).await;
    assert_eq!(secret.len(), 20, "160 bits");
    let base32 = grouped.replace(' ', "");
    assert_eq!(
        setup["uri"],
        format!("otpauth://totp/Tessera:alice?secret={base32}&issuer=Tessera&algorithm=SHA1&digits=6&period=30")
    );
    let qr = setup["qr_svg_data_uri"].as_str().unwrap();
    let svg = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        qr.strip_prefix("data:image/svg+xml;base64,").unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    // The page shows it with JavaScript off too: the image and the key.
    let page = b.page("/credentials").await.body;
    assert!(page.contains(qr) && page.contains(grouped), "the setup page");

    // A wrong code stores nothing; the right one (typed with a space) does.
    let a = b.post("totp/verify", &[("code", &code_now(&app, &secret, 3))]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("not right"));
    assert_eq!(app.count("SELECT count(*) FROM totp_apps").await, 0);
    let enrolled_with = code_now(&app, &secret, 0);
    let a = b.post("totp/verify", &[("code", &enrolled_with)]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Never shown again, stored sealed, audited and told.
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["app_setup"], Value::Null);
    assert!(!view.to_string().contains(&base32));
    assert!(!b.page("/credentials").await.body.contains(&base32));
    assert_eq!(view["credentials"][0]["method"], "totp");
    assert_eq!(
        view["credentials"][0]["preferred"], true,
        "the first credential is preferred"
    );
    let (sealed, step): (Vec<u8>, i64) = sqlx::query_as("SELECT secret_sealed, last_step FROM totp_apps")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    assert!(
        (step_at(app.clock.now().unix_timestamp()) - step).abs() <= 1,
        "the step used"
    );
    assert_eq!(app.count("SELECT count(*) FROM totp_enrollments").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'credential.added' AND details->>'method' = 'totp'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications WHERE kind = 'factor_added' AND body LIKE '%authenticator app “Pixel”%'"
        )
        .await,
        1
    );

    // 2FA on; signing in asks for the app's code. The code used to add it
    // is refused (SECURITY.md 35); the next step's code signs in.
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    let mut c = app.browser();
    let a = c.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/code");
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["method"], "totp", "{challenge}");
    assert_eq!(challenge["proving"]["nickname"], "Pixel");
    assert!(
        c.page("/signin/code")
            .await
            .body
            .contains("code from your authenticator app “Pixel”")
    );
    let a = c.post("signin/verify_code", &[("code", &enrolled_with)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("already used"));
    app.clock.advance(30);
    let code = code_now(&app, &secret, 0);
    let a = c.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    assert_eq!(c.get_json("home").await.0, 200);

    // What the sign-in proved is recorded in its session: the password, then the app.
    let sessions: Vec<Vec<u8>> = sqlx::query_scalar(r#"SELECT data FROM "tower_sessions"."session""#)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let has = |s: &[u8], w: &[u8]| s.windows(w.len()).any(|x| x == w);
    assert!(
        sessions
            .iter()
            .any(|s| has(s, b"password") && has(s, b"totp") && has(s, b"proven")),
        "a session records the password and the app as proven"
    );

    // The same code again, at another sign-in: refused, and counted.
    let before = app.count("SELECT count(*) FROM otp_failures").await;
    let mut d = app.browser();
    d.sign_in(ALICE.0, ALICE.1).await;
    let a = d.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM otp_failures").await, before + 1);
}

#[tokio::test]
async fn sec_34_an_app_code_is_good_to_the_last_second_of_its_drift_and_refused_one_second_later() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("totp/start", &[("nickname", "Phone")]).await.status, 200);
    let secret = setup_secret(&mut b).await;
    // The last second of a step (pinned): the policy's drift is one step.
    let now = app.clock.pin().unix_timestamp();
    app.clock.advance(29 - now.rem_euclid(30));
    let one_step_old = code_now(&app, &secret, -1);
    let two_steps_old = code_now(&app, &secret, -2);
    let a = b.post("totp/verify", &[("code", &two_steps_old)]).await;
    assert_eq!(a.status, 422, "two steps old: {}", a.body);
    // A second later the step before has become two steps old.
    app.clock.advance(1);
    let a = b.post("totp/verify", &[("code", &one_step_old)]).await;
    assert_eq!(a.status, 422, "a second past its drift: {}", a.body);
    // And a second before, it is good.
    app.clock.advance(-1);
    let a = b.post("totp/verify", &[("code", &one_step_old)]).await;
    assert_eq!(a.status, 200, "the drift's last second: {}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM totp_apps").await, 1);
}

#[tokio::test]
async fn bad_app_codes_get_an_error_beside_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let a = b.post("totp/verify", &[("code", "123456")]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("Start again"), "no setup under way");
    b.post("totp/start", &[("nickname", "")]).await;
    let secret = setup_secret(&mut b).await;
    let long = "1".repeat(10_000);
    for bad in ["abcdef", "12345", "123456789", "12-34-56", long.as_str(), ""] {
        let a = b.post("totp/verify", &[("code", bad)]).await;
        assert_eq!(a.status, 422, "{bad}: {}", a.body);
        field_error(&a, "code");
    }
    // A code for a step two away (a minute off) is not accepted.
    start_of_a_step(&app);
    for far in [-2, 2] {
        let a = b.post("totp/verify", &[("code", &code_now(&app, &secret, far))]).await;
        assert_eq!(a.status, 422, "{far}: {}", a.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM totp_apps").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM otp_failures").await,
        2,
        "only real codes count"
    );
    let long_name = "x".repeat(41);
    let a = b.post("totp/start", &[("nickname", &long_name)]).await;
    assert_eq!(a.status, 422);
    field_error(&a, "nickname");
    // One step of drift either way is fine; the blank name gets a default.
    let a = b.post("totp/verify", &[("code", &code_now(&app, &secret, -1))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["credentials"][0]["nickname"], "Authenticator app");

    // A forged credential id at the second step is not found; nothing changes.
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    for forged in ["not-an-id", "00000000-0000-0000-0000-000000000000"] {
        let a = c.post("signin/send_code", &[("credential", forged)]).await;
        assert_eq!(a.status, 404, "{forged}: {}", a.body);
    }
}

#[tokio::test]
async fn sec_36_wrong_app_codes_share_the_per_account_cap() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let secret = b.add_app(&app, "Pixel").await;
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    // 99 wrong codes in the hour (of any method), then one more reaches the cap.
    sqlx::query(
        "INSERT INTO otp_failures (user_id, failed_at)
         SELECT u.id, $1 FROM users u CROSS JOIN generate_series(1, 99) WHERE u.username = 'alice'",
    )
    .bind(app.clock.now())
    .execute(&app.pool)
    .await
    .unwrap();
    let a = c
        .post("signin/verify_code", &[("code", &code_now(&app, &secret, 5))])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    // Now even the right code is not checked.
    let a = c
        .post("signin/verify_code", &[("code", &code_now(&app, &secret, 0))])
        .await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.headers.get("retry-after").is_some());
    // An hour later (and a new sign-in: the half-finished one lapsed) it works.
    app.clock.advance(3601);
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    let a = c
        .post("signin/verify_code", &[("code", &code_now(&app, &secret, 0))])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
}

#[tokio::test]
async fn sec_35_two_concurrent_checks_of_one_app_code_have_exactly_one_winner() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let secret = b.add_app(&app, "Pixel").await;
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    for round in 0..3 {
        let mut half = app.browser();
        half.sign_in(ALICE.0, ALICE.1).await;
        let code = code_now(&app, &secret, 0);
        let statuses = twice_at_once(&mut half, &app, "signin/verify_code", &[("code", &code)]).await;
        assert!(
            matches!(statuses, [200, 422] | [200, 403]),
            "round {round}: {statuses:?}"
        );
        app.clock.advance(30);
    }
}

#[tokio::test]
async fn try_another_way_moves_between_a_phone_and_an_app() {
    let app = spawn_app().await;
    let mut b = alice_with_2fa(&app).await;
    let secret = b.add_app(&app, "Pixel").await;
    let app_id = b.credential_id("Pixel").await;
    let phone_id = b.credential_id("Mine").await;

    // The preferred phone first, a code on its way; the app is another way.
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["id"], phone_id.as_str(), "{challenge}");
    assert_eq!(challenge["sent_to"]["id"], phone_id.as_str());
    assert_eq!(challenge["others"][0]["id"], app_id.as_str());
    let page = c.page("/signin/code").await.body;
    assert!(page.contains("Try another way") && page.contains("Use the authenticator app “Pixel”"));

    // Switch to the app: nothing is sent, and its code signs in.
    let sent = app.count("SELECT count(*) FROM outbox_messages").await;
    let a = c.post("signin/send_code", &[("credential", &app_id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, sent);
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["id"], app_id.as_str(), "{challenge}");
    assert_eq!(challenge["others"][0]["id"], phone_id.as_str());
    // The phone's code does not prove the app.
    let sms = super::sms::outbox_code(&app, "+12015550123").await;
    let a = c.post("signin/verify_code", &[("code", &sms)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = c
        .post("signin/verify_code", &[("code", &code_now(&app, &secret, 0))])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);

    // And back: at the next sign-in the phone is chosen again from the list.
    app.clock.advance(31);
    let mut d = app.browser();
    d.sign_in(ALICE.0, ALICE.1).await;
    let a = d.post("signin/send_code", &[("credential", &app_id)]).await;
    assert_eq!(a.status, 200);
    app.clock.advance(31);
    let a = d.post("signin/send_code", &[("credential", &phone_id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = super::sms::outbox_code(&app, "+12015550123").await;
    let a = d.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
}

#[tokio::test]
async fn removing_the_phone_leaves_2fa_on_when_an_app_remains() {
    let app = spawn_app().await;
    let mut b = alice_with_2fa(&app).await;
    b.add_app(&app, "Pixel").await;
    let phone_id = b.credential_id("Mine").await;
    // No confirmation asked: the app keeps the minimum of one.
    let a = b.post("credentials/remove", &[("id", &phone_id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["two_factor_enabled"], true, "{view}");
    assert_eq!(view["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(view["credentials"][0]["preferred"], true, "the app became preferred");
    // Removing the app now would leave nothing: it asks first.
    let app_id = b.credential_id("Pixel").await;
    let a = b.post("credentials/remove", &[("id", &app_id)]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    // With a minimum of two, a phone and an app together make it.
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, policy) = admin.get_json("admin/policy").await;
    let version = policy["version"].as_i64().unwrap().to_string();
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[min_credentials]", "2"), ("version", &version)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    admin.enroll_outbox(&app, "+12015550199", "Phone").await;
    let a = admin.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(a.status, 422, "one phone is not enough");
    admin.add_app(&app, "App").await;
    let a = admin.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn without_a_preferred_credential_the_policys_default_method_goes_first() {
    let app = spawn_app().await;
    let mut b = alice_with_2fa(&app).await;
    b.add_app(&app, "Pixel").await;
    let app_id = b.credential_id("Pixel").await;
    sqlx::query("UPDATE users SET preferred_credential_id = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, policy) = admin.get_json("admin/policy").await;
    let choices: Vec<&str> = policy["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["sms", "totp", "passkey"], "recovery codes are no default");
    let version = policy["version"].as_i64().unwrap().to_string();
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[default_method]", "recovery_code"), ("version", &version)],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[default_method]", "totp"), ("version", &version)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["id"], app_id.as_str(), "{challenge}");
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_messages").await,
        1,
        "no code texted"
    );
}

#[tokio::test]
async fn an_apps_sealed_secret_moved_to_another_account_does_not_open() {
    let app = spawn_app().await;
    start_of_a_step(&app);
    let mut alice = signed_in(&app, ALICE).await;
    let alice_secret = alice.add_app(&app, "Pixel").await;
    let mut admin = signed_in(&app, ADMIN).await;
    admin.add_app(&app, "Work phone").await;
    admin.two_factor_on().await;
    // Someone with write access to the table copies Alice's box onto the
    // administrator's app: it is bound to Alice's account, so it won't open.
    sqlx::query(
        "UPDATE totp_apps SET secret_sealed = (SELECT t.secret_sealed FROM totp_apps t JOIN credentials c ON \
         c.id = t.credential_id JOIN users u ON u.id = c.user_id WHERE u.username = 'alice') \
         WHERE credential_id = (SELECT c.id FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = 'admin')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut b = app.browser();
    assert_eq!(
        b.sign_in(ADMIN.0, ADMIN.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let a = b
        .post("signin/verify_code", &[("code", &code_now(&app, &alice_secret, 0))])
        .await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(b.get_json("home").await.0, 401, "not signed in");
}

#[tokio::test]
async fn a_cancelled_app_setup_takes_its_secret_with_it() {
    let app = spawn_app().await;
    start_of_a_step(&app);
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("totp/start", &[("nickname", "Pixel")]).await.status, 200);
    let secret = setup_secret(&mut b).await;
    assert_eq!(b.post("totp/cancel", &[]).await.status, 200);
    assert_eq!(app.count("SELECT count(*) FROM totp_enrollments").await, 0);
    let (_, view) = b.get_json("credentials").await;
    assert!(view["app_setup"].is_null(), "{view}");
    let a = b.post("totp/verify", &[("code", &code_now(&app, &secret, 0))]).await;
    assert_ne!(a.status, 200, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM totp_apps").await, 0);
}
