//! SMS codes over HTTP with PostgreSQL and the mock providers: enrollment,
//! the 2FA switch, the second sign-in step, removal, and the code rules.

use super::mocks::{self, code_in};
use super::*;
use serde_json::{Value, json};

pub(super) const PHONE: &str = "+12015550123";

/// Makes `plugin` handle SMS, with these properties.
pub(super) async fn use_plugin(app: &TestApp, plugin: &str, props: Value) {
    let props = props.as_object().cloned().unwrap();
    tessera_server::methods::sms::plugins::choose_plugin(
        &app.pool,
        app.clock.now(),
        Some(&app.sealer()),
        plugin,
        props,
    )
    .await
    .unwrap();
}

/// The code in the newest outbox message to `phone`.
pub(super) async fn outbox_code(app: &TestApp, phone: &str) -> String {
    let body: String =
        sqlx::query_scalar("SELECT body FROM outbox_messages WHERE phone_e164 = $1 ORDER BY id DESC LIMIT 1")
            .bind(phone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    code_in(&body)
}

impl Browser {
    pub(super) async fn get_json(&mut self, endpoint: &str) -> (u16, Value) {
        let a = self
            .send(
                self.http
                    .get(format!("{}/api/{endpoint}", self.base))
                    .header("accept", "application/json"),
            )
            .await;
        (a.status, serde_json::from_str(&a.body).unwrap_or(Value::Null))
    }

    /// A POST server function with this session's CSRF token added.
    pub(super) async fn post(&mut self, endpoint: &str, fields: &[(&str, &str)]) -> Answer {
        let (_, session) = self.get_json("session").await;
        let token = session["csrf_token"].as_str().unwrap_or_default().to_owned();
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.call(endpoint, &all).await
    }

    /// Turns 2FA on (the preferred phone stays) and checks that it took.
    pub(super) async fn two_factor_on(&mut self) {
        let a = self.post("credentials/two_factor", &[("enabled", "true")]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    /// Removes the first phone listed, confirming what that turns off.
    pub(super) async fn remove_first_phone(&mut self) {
        let (_, creds) = self.get_json("credentials").await;
        let id = creds["credentials"][0]["id"].as_str().unwrap().to_owned();
        let a = self
            .post("credentials/remove", &[("id", &id), ("confirm", "true")])
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    pub(super) async fn enroll_outbox(&mut self, app: &TestApp, phone: &str, nickname: &str) {
        let a = self
            .post("credentials/start", &[("phone", phone), ("nickname", nickname)])
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let code = outbox_code(app, phone).await;
        let a = self.post("credentials/verify", &[("code", &code)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

pub(super) async fn signed_in(app: &TestApp, who: (&str, &str)) -> Browser {
    let mut b = app.browser();
    let a = b.sign_in(who.0, who.1).await;
    assert_eq!(a.status, 200, "{}", a.body);
    b
}

/// Alice signed in, with PHONE enrolled through the outbox and 2FA on.
pub(super) async fn alice_with_2fa(app: &TestApp) -> Browser {
    let mut alice = signed_in(app, ALICE).await;
    alice.enroll_outbox(app, PHONE, "Mine").await;
    alice.two_factor_on().await;
    alice
}

pub(super) fn field_error(a: &Answer, field: &str) -> String {
    let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    v["Portal"]["Validation"]
        .as_array()
        .and_then(|errs| errs.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no {field} error in {} {}", a.status, a.body))
        .to_owned()
}

#[tokio::test]
async fn sec_19_outbox_enrollment_2fa_and_the_second_sign_in_step_rotate_the_session() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;

    let a = b
        .post(
            "credentials/start",
            &[("phone", "(201) 555-0123"), ("nickname", "Work")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(code.len(), 6);
    // Only a keyed hash of the code is stored (SECURITY.md 2).
    let mac: Vec<u8> = sqlx::query_scalar("SELECT code_mac FROM otp_challenges")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mac.len(), 32);
    assert!(!mac.windows(6).any(|w| w == code.as_bytes()));

    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["pending"]["number"], PHONE, "the owner sees the full number");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let a = b.post("credentials/verify", &[("code", wrong)]).await;
    assert_eq!(a.status, 422);
    assert!(field_error(&a, "code").contains("4 tries left"));
    let a = b
        .post(
            "credentials/verify",
            &[("code", &format!(" {} {}", &code[..3], &code[3..]))],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["credentials"][0]["detail"], PHONE);
    assert_eq!(view["credentials"][0]["nickname"], "Work");
    assert_eq!(view["credentials"][0]["preferred"], true);
    assert_eq!(view["pending"], Value::Null);
    assert_eq!(app.count("SELECT count(*) FROM sms_phones").await, 1);

    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
        200
    );
    assert_eq!(b.post("sign_out", &[]).await.status, 200);

    // Password first: not signed in yet, a code on its way to the preferred phone.
    let mut b = app.browser();
    let before = b.csrf().await;
    let cookie_before = b.cookie.clone();
    let a = b
        .call(
            "sign_in",
            &[("username", "alice"), ("password", ALICE.1), ("csrf_token", &before)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers.get("location").unwrap(), "/signin/code");
    assert_ne!(b.cookie, cookie_before, "the session id rotates after the password");
    assert_eq!(b.get_json("home").await.0, 401, "no signed-in function answers yet");
    assert_eq!(b.get_json("credentials").await.0, 401);
    assert_eq!(b.page("/").await.location.as_deref(), Some("/signin"));
    let page = b.page("/signin/code").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("•••••••••23"), "the number is masked");
    assert!(!page.body.contains("5550123"), "the full number never shows");

    let code = outbox_code(&app, PHONE).await;
    let cookie_step2 = b.cookie.clone();
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(b.cookie, cookie_step2, "the session id rotates after the second factor");
    let (status, home) = b.get_json("home").await;
    assert_eq!(status, 200);
    assert_eq!(home["two_factor_enabled"], true);
    assert_eq!(b.page("/signin/code").await.location.as_deref(), Some("/"));

    // The code was single-use: a second session cannot reuse it.
    let mut c = app.browser();
    assert_eq!(c.sign_in("alice", ALICE.1).await.status, 200);
    let a = c.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
}

#[tokio::test]
async fn sec_11_bad_numbers_are_refused_before_any_message() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    for (input, words) in [
        ("", "Enter a mobile number"),
        ("12", "not a valid mobile number"),
        ("+1 000 000 0000", "not a valid"),
    ] {
        let a = alice.post("credentials/start", &[("phone", input)]).await;
        assert_eq!(a.status, 422, "{input}: {}", a.body);
        assert!(field_error(&a, "phone").contains(words), "{input}");
    }
    let long = "x".repeat(41);
    let a = alice
        .post("credentials/start", &[("phone", PHONE), ("nickname", &long)])
        .await;
    assert!(field_error(&a, "nickname").contains("at most 40"));
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, 0);
}

#[tokio::test]
async fn sec_14_a_number_enrolled_by_another_account_is_refused() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    let mut alice = signed_in(&app, ALICE).await;
    admin.enroll_outbox(&app, PHONE, "Admin phone").await;
    let a = alice.post("credentials/start", &[("phone", "201-555-0123")]).await;
    assert_eq!(a.status, 422);
    assert!(field_error(&a, "phone").contains("another account"));
    let a = admin.post("credentials/start", &[("phone", PHONE)]).await;
    assert!(field_error(&a, "phone").contains("already one of your phones"));
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, 1);
}

#[tokio::test]
async fn sec_06_resends_wait_out_the_cooldown_and_replace_the_code_and_codes_expire() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let first = outbox_code(&app, PHONE).await;

    let a = b.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 429, "a resend waits for the cooldown: {}", a.body);
    assert!(a.body.contains("TooManyMessages"));
    app.clock.pin();
    app.clock.advance(31);
    assert_eq!(b.post("credentials/resend", &[]).await.status, 200);
    let second = outbox_code(&app, PHONE).await;
    if first != second {
        let a = b.post("credentials/verify", &[("code", &first)]).await;
        assert!(
            field_error(&a, "code").contains("not right"),
            "the resend killed the first code"
        );
    }

    // Expiry: five minutes from the resend, by the server's clock, to the
    // second: a second before, the code is still checked (a wrong one is
    // "not right"); at five minutes, even the right one has expired.
    app.clock.advance(299);
    let wrong = if second == "123456" { "654321" } else { "123456" };
    let a = b.post("credentials/verify", &[("code", wrong)]).await;
    assert!(field_error(&a, "code").contains("not right"), "{}", a.body);
    app.clock.advance(1);
    let a = b.post("credentials/verify", &[("code", &second)]).await;
    assert!(field_error(&a, "code").contains("expired"), "{}", a.body);
}

#[tokio::test]
async fn sec_07_five_wrong_tries_kill_a_code() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let a = b.post("credentials/verify", &[("code", wrong)]).await;
        let msg = field_error(&a, "code");
        if left == 0 {
            assert!(msg.contains("last try"), "{msg}");
        } else {
            assert!(msg.contains(&left.to_string()), "{msg}");
        }
    }
    let a = b.post("credentials/verify", &[("code", &code)]).await;
    assert!(field_error(&a, "code").contains("Too many wrong tries"));
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
}

/// Sends the same POST twice at once from one session; the two statuses, sorted.
pub(super) async fn twice_at_once(b: &mut Browser, app: &TestApp, endpoint: &str, fields: &[(&str, &str)]) -> [u16; 2] {
    let (_, session) = b.get_json("session").await;
    let token = session["csrf_token"].as_str().unwrap().to_owned();
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    let (mut b1, mut b2) = (app.browser(), app.browser());
    b1.cookie = b.cookie.clone();
    b2.cookie = b.cookie.clone();
    let (r1, r2) = futures::join!(b1.call(endpoint, &all), b2.call(endpoint, &all));
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    statuses
}

#[tokio::test]
async fn sec_09_two_concurrent_checks_of_one_code_have_exactly_one_winner() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(
        twice_at_once(&mut b, &app, "credentials/verify", &[("code", &code)]).await,
        [200, 422]
    );
    assert_eq!(app.count("SELECT count(*) FROM sms_phones").await, 1);
    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
        200
    );

    // At sign-in nothing else (no unique number) would stop a second winner.
    for round in 0..3 {
        let mut half = app.browser();
        assert_eq!(half.sign_in("alice", ALICE.1).await.status, 200);
        let code = outbox_code(&app, PHONE).await;
        let statuses = twice_at_once(&mut half, &app, "signin/verify_code", &[("code", &code)]).await;
        // The loser is refused for the used code (422) or, when the winner's
        // new session id was saved first, for its dead session (403).
        assert!(
            matches!(statuses, [200, 422] | [200, 403]),
            "round {round}: {statuses:?}"
        );
        app.clock.advance(31); // past the resend cooldown, for the next round's code
    }
}

#[tokio::test]
async fn a_double_submit_sends_one_message_and_makes_one_challenge() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let statuses = twice_at_once(&mut b, &app, "credentials/start", &[("phone", PHONE)]).await;
    assert_eq!(statuses, [200, 200]);
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM otp_challenges").await, 1);
}

#[tokio::test]
async fn provider_failures_leave_nothing_half_written() {
    let app = spawn_app().await;
    let twilio = mocks::twilio::Twilio::default();
    let base = mocks::serve(twilio.router()).await;
    let props = |token: &str, base: &str| json!({"twilio_sid": mocks::twilio::SID, "twilio_token": token, "from_number": "+15005550006", "base_url": base, "timeout_secs": "1"});
    use_plugin(&app, "twilio", props("wrong-token", &base)).await;
    let mut b = signed_in(&app, ALICE).await;
    let a = b.post("credentials/start", &[("phone", PHONE)]).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.body.contains("MethodUnavailable"));
    assert_eq!(app.count("SELECT count(*) FROM otp_challenges").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM sms_sends").await, 0);
    assert_eq!(
        app.count("SELECT coalesce(sum(sends), 0) FROM sms_send_minutes").await,
        0,
        "the send is given back to the per-minute counts too"
    );

    // Fixed: the retry goes through at once, with no cooldown in the way.
    use_plugin(&app, "twilio", props(mocks::twilio::TOKEN, &base)).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = code_in(&twilio.last_to(PHONE).unwrap());
    assert_eq!(b.post("credentials/verify", &[("code", &code)]).await.status, 200);
    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
        200
    );

    // Down at sign-in: the person stays at step 2, neither in nor locked out.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    use_plugin(&app, "twilio", props(mocks::twilio::TOKEN, &closed)).await;
    let mut b = app.browser();
    assert_eq!(b.sign_in("alice", ALICE.1).await.status, 200);
    let (status, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(status, 200);
    assert_eq!(challenge["sent_to"], Value::Null);
    assert!(
        challenge["notice"]
            .as_str()
            .unwrap()
            .contains("temporarily unavailable")
    );
    assert_eq!(b.get_json("home").await.0, 401);

    use_plugin(&app, "twilio", props(mocks::twilio::TOKEN, &base)).await;
    assert_eq!(b.post("signin/send_code", &[]).await.status, 200);
    let code = code_in(&twilio.last_to(PHONE).unwrap());
    assert_eq!(b.post("signin/verify_code", &[("code", &code)]).await.status, 200);
    assert_eq!(b.get_json("home").await.0, 200);
}

/// Where each plugin's mock keeps the code a phone received.
enum Inbox {
    Twilio(mocks::twilio::Twilio),
    Verify(mocks::verify::Verify),
    Stytch(mocks::stytch::Stytch),
    Vonage(mocks::vonage::Vonage),
    Gateway(mocks::gateway::Gateway),
}

impl Inbox {
    fn code(&self, phone: &str) -> String {
        match self {
            Inbox::Twilio(m) => code_in(&m.last_to(phone).unwrap()),
            Inbox::Verify(m) => m.code_for(phone).unwrap(),
            Inbox::Stytch(m) => m.code_for(phone).unwrap(),
            Inbox::Vonage(m) => code_in(&m.last_to(phone.trim_start_matches('+')).unwrap()),
            Inbox::Gateway(m) => {
                let body: Value = serde_json::from_str(&m.last().unwrap().body).unwrap();
                body["code"].as_str().unwrap().to_owned()
            }
        }
    }
}

async fn mock_plugin(id: &str) -> (Value, Inbox) {
    match id {
        "twilio" => {
            let m = mocks::twilio::Twilio::default();
            let base = mocks::serve(m.router()).await;
            (
                json!({"twilio_sid": mocks::twilio::SID, "twilio_token": mocks::twilio::TOKEN, "from_number": "+15005550006", "base_url": base}),
                Inbox::Twilio(m),
            )
        }
        "twilio-verify" => {
            let m = mocks::verify::Verify::default();
            let base = mocks::serve(m.router()).await;
            (
                json!({"twilio_sid": mocks::twilio::SID, "twilio_token": mocks::twilio::TOKEN, "service_sid": mocks::verify::SERVICE, "base_url": base}),
                Inbox::Verify(m),
            )
        }
        "stytch" => {
            let m = mocks::stytch::Stytch::default();
            let base = mocks::serve(m.router()).await;
            (
                json!({
                    "SMS_ENDPOINT": format!("{base}/v1/otps/sms/send"),
                    "AUTH_ENDPOINT": format!("{base}/v1/otps/authenticate"),
                    "ENROLL_ENDPOINT": format!("{base}/v1/otps/sms/login_or_create"),
                    "DELETE_USER_ENDPOINT": format!("{base}/v1/users"),
                    "PROJECT_ID": mocks::stytch::PROJECT, "SECRET": mocks::stytch::SECRET,
                }),
                Inbox::Stytch(m),
            )
        }
        "vonage" => {
            let m = mocks::vonage::Vonage::default();
            let base = mocks::serve(m.router()).await;
            (
                json!({"api_key": mocks::vonage::KEY, "api_secret": mocks::vonage::SECRET, "from": "NEXMO", "base_url": base}),
                Inbox::Vonage(m),
            )
        }
        "http" => {
            let m = mocks::gateway::Gateway::default();
            let base = mocks::serve(m.router()).await;
            (
                json!({"url": format!("{base}/ok"), "content_type": "application/json", "body_template": "{\"to\":\"$ctx.num\",\"code\":\"$ctx.otp\"}"}),
                Inbox::Gateway(m),
            )
        }
        other => panic!("no mock for {other}"),
    }
}

#[tokio::test]
async fn every_plugin_enrolls_and_signs_in_through_its_mock() {
    let app = spawn_app().await;
    for (i, id) in ["twilio", "twilio-verify", "stytch", "vonage", "http"]
        .iter()
        .enumerate()
    {
        let (props, inbox) = mock_plugin(id).await;
        use_plugin(&app, id, props).await;
        let username = format!("user{i}");
        let password = format!("password-of-user{i}");
        app.add_account(&username, &password, Role::User).await;
        let phone = format!("+1201555013{i}");
        let mut b = signed_in(&app, (&username, &password)).await;
        assert_eq!(
            b.post("credentials/start", &[("phone", &phone)]).await.status,
            200,
            "{id}"
        );
        let a = b.post("credentials/verify", &[("code", &inbox.code(&phone))]).await;
        assert_eq!(a.status, 200, "{id}: {}", a.body);
        assert_eq!(
            b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
            200
        );
        assert_eq!(b.post("sign_out", &[]).await.status, 200);

        let mut b = signed_in(&app, (&username, &password)).await;
        assert_eq!(b.get_json("home").await.0, 401, "{id}: step 2 first");
        let a = b.post("signin/verify_code", &[("code", &inbox.code(&phone))]).await;
        assert_eq!(a.status, 200, "{id}: {}", a.body);
        assert_eq!(b.get_json("home").await.0, 200, "{id}");
        let stored: String = sqlx::query_scalar("SELECT plugin FROM sms_phones WHERE phone_e164 = $1")
            .bind(&phone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(&stored, id);
    }
}

#[tokio::test]
async fn removal_below_the_minimum_warns_then_turns_2fa_off_and_cleans_up_at_stytch() {
    let app = spawn_app().await;
    let (props, inbox) = mock_plugin("stytch").await;
    use_plugin(&app, "stytch", props).await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    assert_eq!(
        b.post("credentials/verify", &[("code", &inbox.code(PHONE))])
            .await
            .status,
        200
    );
    let stytch_user: String = sqlx::query_scalar("SELECT provider_user_id FROM sms_phones")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stytch_user.starts_with("user-test-"));
    let Inbox::Stytch(stytch) = &inbox else { unreachable!() };
    assert_eq!(
        stytch.expiration_for(PHONE),
        Some(5),
        "the policy's code lifetime, in minutes"
    );
    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
        200
    );

    let (_, view) = b.get_json("credentials").await;
    let id = view["credentials"][0]["id"].as_str().unwrap().to_owned();
    let a = b.post("credentials/remove", &[("id", &id)]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("turned off"));
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);

    let a = b.post("credentials/remove", &[("id", &id), ("confirm", "true")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    let (_, home) = b.get_json("home").await;
    assert_eq!(home["two_factor_enabled"], false);
    let Inbox::Stytch(m) = inbox else { unreachable!() };
    assert_eq!(m.deleted(), vec![stytch_user]);

    // With 2FA off, the next sign-in needs the password only.
    let mut c = app.browser();
    let a = c.sign_in("alice", ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/");
}

#[tokio::test]
async fn turning_2fa_on_needs_a_phone_and_renames_are_checked() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let a = b.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(a.status, 422);
    assert!(field_error(&a, "enabled").contains("at least 1"));
    b.enroll_outbox(&app, PHONE, "").await;
    let (_, home) = b.get_json("home").await;
    assert_eq!(home["two_factor_enabled"], false, "enrolling does not turn 2FA on");
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["credentials"][0]["nickname"], "Phone ending 23");
    let id = view["credentials"][0]["id"].as_str().unwrap().to_owned();
    let a = b.post("credentials/rename", &[("id", &id), ("nickname", "  ")]).await;
    assert!(field_error(&a, "nickname").contains("Enter a name"));
    // Forty characters is the limit, counted in characters, not bytes.
    let forty = "é".repeat(40);
    let a = b.post("credentials/rename", &[("id", &id), ("nickname", &forty)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = b
        .post("credentials/rename", &[("id", &id), ("nickname", &format!("{forty}x"))])
        .await;
    assert_eq!(field_error(&a, "nickname"), "A name has at most 40 characters.");
    assert_eq!(
        b.post("credentials/rename", &[("id", &id), ("nickname", "Home")])
            .await
            .status,
        200
    );
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["credentials"][0]["nickname"], "Home");
    let a = b
        .post(
            "credentials/two_factor",
            &[("enabled", "true"), ("preferred", "not-mine")],
        )
        .await;
    assert!(field_error(&a, "preferred").contains("Choose one of your credentials"));
}

#[tokio::test]
async fn sec_25_nobody_reaches_another_accounts_phones_or_the_outbox() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    admin.enroll_outbox(&app, PHONE, "Admin phone").await;
    let (_, view) = admin.get_json("credentials").await;
    let id = view["credentials"][0]["id"].as_str().unwrap().to_owned();
    let (status, outbox) = admin.get_json("admin/outbox").await;
    assert_eq!(status, 200);
    assert_eq!(outbox[0]["to"], "•••••••••23", "the outbox masks numbers");

    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(
        alice
            .post("credentials/rename", &[("id", &id), ("nickname", "Mine")])
            .await
            .status,
        404
    );
    assert_eq!(
        alice
            .post("credentials/remove", &[("id", &id), ("confirm", "true")])
            .await
            .status,
        404
    );
    let a = alice
        .post("credentials/two_factor", &[("enabled", "false"), ("preferred", &id)])
        .await;
    assert_eq!(a.status, 422);
    let (_, view) = alice.get_json("credentials").await;
    assert_eq!(view["credentials"], json!([]));
    assert_eq!(alice.get_json("admin/outbox").await.0, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM credentials WHERE nickname = 'Admin phone'")
            .await,
        1
    );
}

#[tokio::test]
async fn sec_08_wrong_codes_are_capped_per_account_per_hour() {
    let app = spawn_app().await;
    // Ten tries per code and quick resends, so that a hundred wrong codes
    // can be typed through the real path within the hour.
    sqlx::query(
        "UPDATE policy SET max_attempts = 10, resend_cooldown_secs = 1, max_sends_per_number = 50, \
         max_sends_per_account = 100",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let mut wrong_typed = 0;
    for round in 0..10 {
        if round > 0 {
            app.clock.advance(2);
            let a = b.post("credentials/resend", &[]).await;
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let code = outbox_code(&app, PHONE).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..10 {
            let a = b.post("credentials/verify", &[("code", wrong)]).await;
            assert_eq!(a.status, 422, "wrong code {}: {}", wrong_typed + 1, a.body);
            wrong_typed += 1;
        }
    }
    assert_eq!(wrong_typed, 100);
    // The hundredth wrong code was the last: even the right one now waits.
    app.clock.advance(2);
    assert_eq!(b.post("credentials/resend", &[]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    let a = b.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body.contains("Throttled"), "{}", a.body);
    let wait: i64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&wait), "{wait}");
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    // The cap is per account: another account's codes still work.
    let mut admin = signed_in(&app, ADMIN).await;
    admin.enroll_outbox(&app, "+12015550188", "Admin's").await;
    // And it is per hour: once the oldest wrong code is an hour old, codes
    // work again.
    app.clock.advance(wait);
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(b.post("credentials/verify", &[("code", &code)]).await.status, 200);
}

#[tokio::test]
async fn sec_26_the_second_step_cannot_be_skipped_or_reached_without_a_password() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    b.enroll_outbox(&app, PHONE, "Work").await;
    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "true")]).await.status,
        200
    );

    let mut anon = app.browser();
    assert_eq!(anon.page("/signin/code").await.location.as_deref(), Some("/signin"));
    assert_eq!(anon.get_json("signin/challenge").await.0, 401);

    let mut half = app.browser();
    assert_eq!(half.sign_in("alice", ALICE.1).await.status, 200);
    for endpoint in [
        "credentials/start",
        "credentials/verify",
        "credentials/two_factor",
        "credentials/remove",
    ] {
        let a = half
            .post(
                endpoint,
                &[("phone", "+12015550199"), ("code", "123456"), ("enabled", "false")],
            )
            .await;
        assert_eq!(a.status, 401, "{endpoint}: {}", a.body);
    }
    assert_eq!(half.get_json("admin/users").await.0, 401);
    // The half-finished sign-in runs out after 15 minutes.
    app.clock.advance(16 * 60);
    assert_eq!(half.page("/signin/code").await.location.as_deref(), Some("/signin"));
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(half.post("signin/verify_code", &[("code", &code)]).await.status, 401);
}

#[tokio::test]
async fn incomplete_plugin_settings_are_refused_and_the_old_plugin_stays() {
    let app = spawn_app().await;
    let problems = tessera_server::methods::sms::plugins::choose_plugin(
        &app.pool,
        app.clock.now(),
        Some(&app.sealer()),
        "twilio",
        json!({"twilio_sid": "AC1", "base_url": "not a url", "colour": "blue"})
            .as_object()
            .cloned()
            .unwrap(),
    )
    .await
    .unwrap_err();
    for needle in [
        "twilio_token is required",
        "from_number is required",
        "base_url",
        "`colour`",
    ] {
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle}: {problems:?}");
    }
    let plugin: String = sqlx::query_scalar("SELECT plugin FROM method_settings WHERE method = 'sms'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(plugin, "outbox");
    assert_eq!(app.count("SELECT count(*) FROM plugin_settings").await, 0);
    assert!(
        tessera_server::methods::sms::plugins::choose_plugin(
            &app.pool,
            app.clock.now(),
            None,
            "carrier-pigeon",
            Default::default()
        )
        .await
        .is_err()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events").await,
        0,
        "a refusal is not a change"
    );
    // A change from the command line is audited, without the secret.
    use_plugin(
        &app,
        "twilio",
        json!({"twilio_sid": mocks::twilio::SID, "twilio_token": mocks::twilio::TOKEN, "from_number": "+15005550006"}),
    )
    .await;
    let details: String = sqlx::query_scalar("SELECT details::text FROM audit_events WHERE event = 'admin.method'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(details.contains(r#""via": "command line""#), "{details}");
    assert!(
        details.contains(r#""after": {"plugin": "twilio", "enabled": true}"#),
        "{details}"
    );
    assert!(!details.contains(mocks::twilio::TOKEN), "{details}");
}

#[tokio::test]
async fn concurrent_code_checks_never_starve_a_small_pool() {
    // Two connections and eight sign-ins checking codes at once: a request
    // that held a transaction while waiting for a second connection would
    // deadlock the pool here and answer 503 after the acquire timeout.
    let app = spawn_app_with(&[("TESSERA_DB_MAX_CONNECTIONS", "2")]).await;
    let mut setup = signed_in(&app, ALICE).await;
    setup.enroll_outbox(&app, PHONE, "Work").await;
    assert_eq!(
        setup
            .post("credentials/two_factor", &[("enabled", "true")])
            .await
            .status,
        200
    );
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let mut half = app.browser();
        assert_eq!(half.sign_in("alice", ALICE.1).await.status, 200);
        let (_, session) = half.get_json("session").await;
        sessions.push((half, session["csrf_token"].as_str().unwrap().to_owned()));
    }
    // All eight share the one open sign-in code (one account, one purpose).
    let code = outbox_code(&app, PHONE).await;
    let checks = sessions.iter_mut().map(|(b, token)| {
        let fields = [("code", code.clone()), ("csrf_token", token.clone())];
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.call("signin/verify_code", &f).await.status
        }
    });
    let mut statuses = futures::future::join_all(checks).await;
    statuses.sort();
    assert_eq!(statuses, [200, 422, 422, 422, 422, 422, 422, 422], "one winner, no 503");
}

/// A challenge records the provider's reference for what it sent (the
/// outbox's message id here), so that a code can be traced to its message.
#[tokio::test]
async fn a_code_is_traceable_to_the_message_that_carried_it() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let (reference, message): (Option<String>, i64) = sqlx::query_as(
        "SELECT (SELECT provider_ref FROM otp_challenges), (SELECT id FROM outbox_messages WHERE phone_e164 = $1)",
    )
    .bind(PHONE)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reference, Some(format!("outbox-{message}")));
}

#[tokio::test]
async fn a_cancelled_enrollment_takes_its_code_with_it() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["pending"]["number"], PHONE);
    let a = b.post("credentials/cancel", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["pending"], Value::Null, "{view}");
    let a = b.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(field_error(&a, "code"), "No code is waiting. Ask for a new one.");
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM otp_challenges").await, 0);
}

#[tokio::test]
async fn a_resend_the_provider_refused_can_be_retried_at_once() {
    let app = spawn_app().await;
    sqlx::query("UPDATE policy SET resend_cooldown_secs = 30")
        .execute(&app.pool)
        .await
        .unwrap();
    let twilio = mocks::twilio::Twilio::default();
    let base = mocks::serve(twilio.router()).await;
    let props = |token: &str| json!({"twilio_sid": mocks::twilio::SID, "twilio_token": token, "from_number": "+15005550006", "base_url": base, "timeout_secs": "1"});
    use_plugin(&app, "twilio", props(mocks::twilio::TOKEN)).await;
    let mut b = signed_in(&app, ALICE).await;
    assert_eq!(b.post("credentials/start", &[("phone", PHONE)]).await.status, 200);

    // After the cooldown the resend fails at the provider...
    app.clock.advance(31);
    use_plugin(&app, "twilio", props("wrong-token")).await;
    let a = b.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 503, "{}", a.body);
    // ...and, fixed, it can be asked for again at once: the failed one did
    // not start a new cooldown.
    app.clock.advance(1);
    use_plugin(&app, "twilio", props(mocks::twilio::TOKEN)).await;
    let a = b.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = code_in(&twilio.last_to(PHONE).unwrap());
    assert_eq!(b.post("credentials/verify", &[("code", &code)]).await.status, 200);
}

#[tokio::test]
async fn the_policys_minimum_of_credentials_governs_the_switch_and_removal() {
    let app = spawn_app().await;
    sqlx::query("UPDATE policy SET min_credentials = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut b = signed_in(&app, ALICE).await;
    b.enroll_outbox(&app, PHONE, "One").await;
    let a = b.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(
        field_error(&a, "enabled"),
        "Add at least 2 credential(s) before turning on two-factor authentication."
    );
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["minimum"], 2);
    b.enroll_outbox(&app, "+12015550124", "Two").await;
    b.two_factor_on().await;
    // Removing either now leaves one, below the minimum: 2FA would go off.
    let (_, view) = b.get_json("credentials").await;
    let id = view["credentials"][0]["id"].as_str().unwrap().to_owned();
    let a = b.post("credentials/remove", &[("id", &id)]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("fewer than 2 credential(s)"), "{}", a.body);
}

#[tokio::test]
async fn a_number_two_accounts_enroll_at_once_goes_to_the_first_code_typed() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let alices_code = outbox_code(&app, PHONE).await;
    assert_eq!(admin.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let admins_code = outbox_code(&app, PHONE).await;
    assert_eq!(
        alice.post("credentials/verify", &[("code", &alices_code)]).await.status,
        200
    );
    let a = admin.post("credentials/verify", &[("code", &admins_code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        field_error(&a, "code"),
        "This number was enrolled by another account meanwhile. Use a different number."
    );
    assert_eq!(app.count("SELECT count(*) FROM sms_phones").await, 1);
}

#[tokio::test]
async fn a_phone_the_database_refuses_to_store_is_an_outage_not_a_taken_number() {
    let app = spawn_app().await;
    // The database refuses the phone's row (as a full disk or a lost
    // connection would): the person is told to retry later, nothing is kept.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON sms_phones FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    let a = alice.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.body.contains("Unavailable"), "{}", a.body);
    assert!(!a.body.contains("disk full"), "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM otp_challenges WHERE consumed_at IS NOT NULL")
            .await,
        0,
        "the code was not spent"
    );
}

#[tokio::test]
async fn removing_a_phone_keeps_the_preferred_one_or_passes_the_choice_on() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    for (phone, name) in [(PHONE, "A"), ("+12015550124", "B"), ("+12015550125", "C")] {
        b.enroll_outbox(&app, phone, name).await;
    }
    let ids = |view: &Value| -> BTreeMap<String, (String, bool)> {
        view["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let id = p["id"].as_str().unwrap().to_owned();
                (p["nickname"].as_str().unwrap().to_owned(), (id, p["preferred"] == true))
            })
            .collect()
    };
    let preferred =
        |view: &Value| -> Vec<String> { ids(view).into_iter().filter(|(_, (_, p))| *p).map(|(n, _)| n).collect() };
    let (_, view) = b.get_json("credentials").await;
    let phones = ids(&view);
    // Only one of her own phones can be the preferred one.
    let stranger = uuid::Uuid::new_v4().to_string();
    let a = b
        .post(
            "credentials/two_factor",
            &[("enabled", "true"), ("preferred", &stranger)],
        )
        .await;
    assert_eq!(field_error(&a, "preferred"), "Choose one of your credentials.");
    let a = b
        .post(
            "credentials/two_factor",
            &[("enabled", "true"), ("preferred", &phones["B"].0)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Another phone goes: the choice stays.
    let a = b.post("credentials/remove", &[("id", &phones["C"].0)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(preferred(&view), ["B"]);
    // The preferred one goes: the next one left takes its place.
    let a = b.post("credentials/remove", &[("id", &phones["B"].0)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(preferred(&view), ["A"]);
}

#[tokio::test]
async fn sign_in_codes_go_to_the_preferred_phone_or_the_one_chosen() {
    let app = spawn_app().await;
    const OTHER: &str = "+12015550124";
    let mut alice = signed_in(&app, ALICE).await;
    alice.enroll_outbox(&app, PHONE, "First").await;
    alice.enroll_outbox(&app, OTHER, "Second").await;
    let (_, view) = alice.get_json("credentials").await;
    let id_of = |name: &str| {
        view["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["nickname"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (id_of("First"), id_of("Second"));
    let a = alice
        .post("credentials/two_factor", &[("enabled", "true"), ("preferred", &second)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let last_to = || async {
        sqlx::query_scalar::<_, String>("SELECT phone_e164 FROM outbox_messages ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };

    // The password step sends to the preferred phone, and the page says so.
    let mut b = app.browser();
    assert_eq!(b.sign_in(ALICE.0, ALICE.1).await.status, 200);
    assert_eq!(last_to().await, OTHER);
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(challenge["sent_to"]["nickname"], "Second", "{challenge}");
    assert_eq!(challenge["sent_to"]["id"], second.as_str());

    // Another phone chosen on the page gets the next code, which works.
    app.clock.advance(61);
    let a = b.post("signin/send_code", &[("credential", &first)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(last_to().await, PHONE);
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(challenge["sent_to"]["nickname"], "First", "{challenge}");
    let code = outbox_code(&app, PHONE).await;
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!((a.status, a.location.as_deref()), (200, Some("/")), "{}", a.body);
}
