//! Hardening over HTTP: SMS send budgets, step-up for sensitive changes,
//! notifications (through a real SMTP server), and the sessions a user sees
//! and ends.

use super::sms::{alice_with_2fa, field_error, outbox_code, signed_in};
use super::*;
use serde_json::Value;
use tessera_server::methods::sms::budget;

const PHONE: &str = "+12015550123";
const OTHER_US: &str = "+12015550188";
const THIRD_US: &str = "+12015550177";
const GB: &str = "+447400123456";

pub(super) async fn set_policy(app: &TestApp, assignments: &str) {
    sqlx::query(&format!("UPDATE policy SET {assignments}"))
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The budget named by the newest `sms.blocked` audit event.
pub(super) async fn last_block(app: &TestApp) -> Option<String> {
    sqlx::query_scalar(
        "SELECT details->>'budget' FROM audit_events WHERE event = 'sms.blocked' ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&app.pool)
    .await
    .unwrap()
    .flatten()
}

/// Forgets every send the budgets count (the test clock cannot go back).
pub(super) async fn forget_sends(app: &TestApp) {
    for table in ["sms_sends", "sms_send_minutes"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&app.pool)
            .await
            .unwrap();
    }
}

/// Changes the password (current, then the new one twice).
pub(super) async fn change_password(b: &mut Browser, current: &str, new: &str) -> Answer {
    b.post("password", &[("current", current), ("new", new), ("repeat", new)])
        .await
}

pub(super) fn retry_after(a: &Answer) -> u64 {
    a.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {} {}", a.status, a.body))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn sec_13_send_budgets_per_account_ip_country_and_hour_answer_429_with_retry_after() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;

    // Per account: two messages an hour.
    set_policy(&app, "max_sends_per_account = 2, resend_cooldown_secs = 1").await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    app.clock.advance(2);
    assert_eq!(alice.post("credentials/resend", &[]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    app.clock.advance(2);
    let a = alice.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    // (The test's clock also runs in real time: a busy machine takes seconds.)
    let wait = retry_after(&a);
    assert!((3570..=3600).contains(&wait), "{wait}");
    assert!(a.body.contains("TooManyMessages"), "{}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("account"));
    // The refused resend left the code already sent working.
    assert_eq!(alice.post("credentials/verify", &[("code", &code)]).await.status, 200);
    // An hour later the budget is back (signed in afresh: adding a phone
    // needs a recent sign-in).
    app.clock.advance(wait as i64);
    let mut alice = signed_in(&app, ALICE).await;
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(
        alice.post("credentials/start", &[("phone", OTHER_US)]).await.status,
        200
    );

    // Per IP: every account behind one address shares it.
    forget_sends(&app).await;
    set_policy(&app, "max_sends_per_account = 10, max_sends_per_ip = 1").await;
    app.clock.advance(5);
    let a = alice.post("credentials/start", &[("phone", GB)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = admin.post("credentials/start", &[("phone", THIRD_US)]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("ip"));
    assert_eq!(
        app.count("SELECT count(*) FROM otp_challenges WHERE purpose = 'enroll' AND phone_e164 = '+12015550177'")
            .await,
        0
    );

    // Per destination country.
    forget_sends(&app).await;
    set_policy(&app, "max_sends_per_ip = 100, max_sends_per_country = 1").await;
    app.clock.advance(5);
    assert_eq!(
        alice.post("credentials/start", &[("phone", OTHER_US)]).await.status,
        200
    );
    let a = admin.post("credentials/start", &[("phone", THIRD_US)]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("country"));
    assert_eq!(
        admin.post("credentials/start", &[("phone", GB)]).await.status,
        200,
        "another country's budget is its own"
    );

    // The hourly ceiling for everything.
    set_policy(&app, "max_sends_per_country = 500, max_sends_per_hour = 2").await;
    app.clock.advance(5);
    let a = admin.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("global"));
    assert!(retry_after(&a) > 3500);
    // Blocks show in the audit log, with who, what and from where.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'sms.blocked' AND ip = '127.0.0.1'")
            .await,
        4
    );
}

#[tokio::test]
async fn sec_13_the_hourly_ceiling_counts_a_send_for_a_whole_hour_and_its_retry_after_is_enough() {
    let app = spawn_app().await;
    set_policy(&app, "max_sends_per_hour = 1").await;
    let mut alice = signed_in(&app, ALICE).await;
    // The send goes half a minute into a minute (the test's clock also runs
    // in real time; a busy machine adds seconds, not half a minute).
    app.clock
        .advance((30 - app.clock.now().unix_timestamp()).rem_euclid(60));
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let refused = |a: &Answer| {
        assert_eq!(a.status, 429, "{}", a.body);
        retry_after(a)
    };
    // Ten seconds before its hour is up, the send counts.
    app.clock.advance(3590);
    let mut admin = signed_in(&app, ADMIN).await;
    refused(&admin.post("credentials/start", &[("phone", GB)]).await);
    assert_eq!(last_block(&app).await.as_deref(), Some("global"));
    // Counted per minute, it counts until its whole minute has left the
    // hour: 15 s after its own hour, 15 s before its minute's.
    app.clock.advance(25);
    let wait = refused(&admin.post("credentials/start", &[("phone", GB)]).await);
    assert!((1..=15).contains(&wait), "{wait}");
    // And the wait Retry-After names is enough.
    app.clock.advance(wait as i64);
    assert_eq!(admin.post("credentials/start", &[("phone", GB)]).await.status, 200);

    // Housekeeping forgets the sends no budget counts any more, and no others.
    let now = app.clock.now();
    let sent = "SELECT count(*) FROM sms_sends";
    let counted = "SELECT coalesce(sum(sends), 0) FROM sms_send_minutes";
    budget::prune(&app.pool, now + time::Duration::seconds(3599))
        .await
        .unwrap();
    assert_eq!((app.count(sent).await, app.count(counted).await), (1, 1));
    budget::prune(&app.pool, now + time::Duration::seconds(3661))
        .await
        .unwrap();
    assert_eq!((app.count(sent).await, app.count(counted).await), (0, 0));
}

#[tokio::test]
async fn sec_06_13_five_codes_per_number_in_ten_minutes_then_429() {
    let app = spawn_app().await;
    set_policy(&app, "resend_cooldown_secs = 1").await;
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    for _ in 0..4 {
        app.clock.advance(2);
        let a = alice.post("credentials/resend", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let fifth = outbox_code(&app, PHONE).await;
    app.clock.advance(2);
    let a = alice.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 429, "the sixth code in ten minutes: {}", a.body);
    assert_eq!(last_block(&app).await.as_deref(), Some("number"));
    // (The test's clock also runs in real time: a busy machine takes seconds.)
    let wait = retry_after(&a);
    assert!((570..=600).contains(&wait), "{wait}");
    // Another account cannot send to that number either (the cap guards the
    // number's owner), but may send elsewhere.
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(admin.post("credentials/start", &[("phone", PHONE)]).await.status, 429);
    assert_eq!(
        admin.post("credentials/start", &[("phone", OTHER_US)]).await.status,
        200
    );
    // The refusal left the fifth code working; ten minutes on, codes go again.
    assert_eq!(alice.post("credentials/verify", &[("code", &fifth)]).await.status, 200);
    app.clock.advance(wait as i64);
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(
        alice.post("credentials/start", &[("phone", THIRD_US)]).await.status,
        200
    );
}

#[tokio::test]
async fn sec_13_two_sends_racing_for_the_last_unit_of_a_budget_have_one_winner() {
    let app = spawn_app().await;
    set_policy(&app, "resend_cooldown_secs = 1, max_sends_per_ip = 1").await;
    let mut alice = signed_in(&app, ALICE).await;
    let mut admin = signed_in(&app, ADMIN).await;
    for round in 0..8 {
        forget_sends(&app).await;
        app.clock.advance(2);
        race_for_the_last_message(&app, [&mut alice, &mut admin], round).await;
    }
}

/// Two people (on one server or two) ask for a code at once with one
/// message left in the IP budget: exactly one gets it, the other a 429.
pub(super) async fn race_for_the_last_message(app: &TestApp, [first, second]: [&mut Browser; 2], round: usize) {
    let (a, b) = (
        format!("+1201555{:04}", 100 + round),
        format!("+1201555{:04}", 200 + round),
    );
    let (to_a, to_b) = ([("phone", a.as_str())], [("phone", b.as_str())]);
    let (x, y) = tokio::join!(
        first.post("credentials/start", &to_a),
        second.post("credentials/start", &to_b),
    );
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, [200, 429], "round {round}: {} / {}", x.body, y.body);
    assert_eq!(last_block(app).await.as_deref(), Some("ip"), "round {round}");
    assert_eq!(app.count("SELECT count(*) FROM sms_sends").await, 1, "round {round}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox_messages WHERE phone_e164 IN ('{a}', '{b}')"
        ))
        .await,
        1,
        "round {round}: one message went out"
    );
}

/// Signs in again (password, then the code when 2FA is on) on a session
/// that is already signed in; answers the final call.
async fn step_up(app: &TestApp, b: &mut Browser, password: &str, next: &str) -> Answer {
    let a = b.post("signin/again", &[("password", password), ("next", next)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    if a.location.as_deref() != Some("/signin/code") {
        return a;
    }
    let code = outbox_code(app, PHONE).await;
    b.post("signin/verify_code", &[("code", &code)]).await
}

#[tokio::test]
async fn sec_24_sensitive_changes_need_a_sign_in_within_ten_minutes_then_land_back() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    let (_, creds) = alice.get_json("credentials").await;
    let phone_id = creds["credentials"][0]["id"].as_str().unwrap().to_owned();

    // Half signed in (the password, not yet the code), she is told to sign
    // in, not to sign in again.
    let mut half = app.browser();
    assert_eq!(
        half.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let a = change_password(&mut half, ALICE.1, "a-new-password-1").await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("Unauthorized"), "{}", a.body);

    // Eleven minutes later (the session is still alive: idle 30 min)...
    app.clock.advance(11 * 60);
    for (endpoint, fields) in [
        (
            "credentials/remove",
            vec![("id", phone_id.as_str()), ("confirm", "true")],
        ),
        ("credentials/start", vec![("phone", OTHER_US)]),
        ("credentials/two_factor", vec![("enabled", "false")]),
        (
            "password",
            vec![
                ("current", ALICE.1),
                ("new", "a-new-password-1"),
                ("repeat", "a-new-password-1"),
            ],
        ),
    ] {
        let a = alice.post(endpoint, &fields).await;
        assert_eq!(a.status, 403, "{endpoint}: {}", a.body);
        assert!(a.body.contains("StepUpRequired"), "{endpoint}: {}", a.body);
    }
    // ...nothing changed, and what is not sensitive still works.
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM otp_challenges WHERE purpose = 'enroll' AND consumed_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        alice
            .post("credentials/rename", &[("id", &phone_id), ("nickname", "Work")])
            .await
            .status,
        200
    );
    // The page says why and links to signing in again, with JavaScript off too.
    let token = alice.csrf().await;
    let a = alice
        .form_post(
            "credentials/two_factor",
            &[("enabled", "false"), ("csrf_token", &token)],
            "/credentials",
        )
        .await;
    let back = a.location.unwrap();
    let back = back.strip_prefix(&app.base).unwrap_or(&back);
    let page = alice.page(back).await;
    assert!(page.body.contains("/signin/again?next=/credentials"), "{}", page.body);

    // A wrong password does not step up (and counts as a failure).
    let a = alice
        .post("signin/again", &[("password", "wrong-one"), ("next", "/credentials")])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    // The password, then the code (2FA is on), then back to the page.
    let a = step_up(&app, &mut alice, ALICE.1, "/credentials").await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (200, Some("/credentials")),
        "{}",
        a.body
    );
    let a = alice
        .post("credentials/remove", &[("id", &phone_id), ("confirm", "true")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Off-site return paths land home instead (2FA is off now: password only).
    app.clock.advance(11 * 60);
    let a = step_up(&app, &mut alice, ALICE.1, "//evil.example/x").await;
    assert_eq!(a.location.as_deref(), Some("/"));
    assert_eq!(
        alice.post("credentials/start", &[("phone", OTHER_US)]).await.status,
        200,
        "fresh again"
    );
}

async fn give_alice_an_address(app: &TestApp) {
    sqlx::query("UPDATE users SET email = 'alice@example.test' WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn sec_27_factor_and_password_changes_are_audited_and_mailed_independently() {
    let mut smtp = Smtp::start().await;
    let app = spawn_app_with(&[
        ("TESSERA_SMTP_URL", &smtp.url()),
        ("TESSERA_SMTP_FROM", "Tessera <security@tessera.test>"),
    ])
    .await;
    give_alice_an_address(&app).await;
    let mut alice = signed_in(&app, ALICE).await;

    alice.enroll_outbox(&app, PHONE, "Pocket").await;
    let mail = smtp.wait_for(1).await;
    assert!(mail[0].contains("To: alice@example.test"), "{}", mail[0]);
    assert!(
        mail[0].contains("Subject: Tessera: A sign-in method was added"),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("Pocket") && mail[0].contains("127.0.0.1"),
        "{}",
        mail[0]
    );

    alice.two_factor_on().await;
    alice.remove_first_phone().await;
    let mail = smtp.wait_for(3).await.join("\n");
    assert!(mail.contains("A sign-in method was removed"), "{mail}");
    assert!(mail.contains("Two-factor authentication was turned off"), "{mail}");
    // Each change has its audit event beside its notification.
    for event in ["credential.added", "credential.removed", "2fa.off"] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM audit_events WHERE event = '{event}'"))
                .await,
            1,
            "{event}"
        );
    }
    // Each is marked sent once the mail server took it (just after it arrived there).
    let sent = "SELECT count(*) FROM notifications WHERE channel = 'email' AND sent_at IS NOT NULL";
    assert_eq!(
        app.count_reaching(sent, 3).await,
        3,
        "every delivered notice is marked sent"
    );

    // The password, with SMTP down: the change stands, its notice waits with the error.
    smtp.child.kill().await.unwrap();
    let a = change_password(&mut alice, ALICE.1, "another-password-9").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let failed = "SELECT count(*) FROM notifications \
                  WHERE kind = 'password_changed' AND channel = 'email' AND error IS NOT NULL";
    assert_eq!(
        app.count_reaching(failed, 1).await,
        1,
        "the failed delivery is recorded"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'password.changed'")
            .await,
        1
    );
    assert_eq!(alice.sign_in(ALICE.0, "another-password-9").await.status, 200);

    // An account without an address is told through the outbox.
    let mut admin = signed_in(&app, ADMIN).await;
    admin.enroll_outbox(&app, OTHER_US, "Desk").await;
    let (to, channel, body): (Option<String>, String, String) = sqlx::query_as(
        "SELECT to_address, channel, body FROM notifications WHERE kind = 'factor_added' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((to, channel.as_str()), (None, "outbox"));
    assert!(body.contains("Desk"), "{body}");
    // The console's outbox shows it to administrators.
    let (status, outbox) = admin.get_json("admin/notifications").await;
    assert_eq!(status, 200);
    assert!(outbox.to_string().contains("Desk"), "{outbox}");
    let _ = std::fs::remove_dir_all(&smtp.dir);
}

#[tokio::test]
async fn sec_17_long_passwords_are_hashed_whole_and_every_character_counts() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    // 256 characters, many of them several bytes long (about 700 bytes):
    // far past bcrypt's 72-byte cut-off.
    let long: String = "pässwörd-✓-🔑-".chars().cycle().take(256).collect();
    assert_eq!(long.chars().count(), 256);
    let a = change_password(&mut alice, ALICE.1, &long).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

    let mut b = app.browser();
    assert_eq!(
        b.sign_in("alice", &long).await.status,
        200,
        "the whole password signs in"
    );
    let mut last_changed: Vec<char> = long.chars().collect();
    *last_changed.last_mut().unwrap() = 'X';
    let last_changed: String = last_changed.into_iter().collect();
    let one_short: String = long.chars().take(255).collect();
    for (what, wrong) in [
        ("the last character changed", &last_changed),
        ("one character short", &one_short),
    ] {
        let a = app.browser().sign_in("alice", wrong).await;
        assert_eq!(a.status, 401, "{what}: {}", a.body);
    }
    // One over the limit is refused with words, not cut to fit.
    let too_long = format!("{long}x");
    let a = change_password(&mut b, &long, &too_long).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("256"), "{}", a.body);
    assert_eq!(app.browser().sign_in("alice", &long).await.status, 200, "unchanged");
}

/// The notices of this kind written for alice, and the audit events of this name.
async fn told_and_audited(app: &TestApp, kind: &str, event: &str) -> (i64, i64) {
    let told = app
        .count(&format!(
            "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE u.username = 'alice' AND n.kind = '{kind}'"
        ))
        .await;
    let audited = app
        .count(&format!(
            "SELECT count(*) FROM audit_events WHERE event = '{event}' AND subject = 'alice'"
        ))
        .await;
    (told, audited)
}

#[tokio::test]
async fn sec_27_every_way_of_turning_2fa_off_is_audited_and_notified() {
    let app = spawn_app().await;
    // She has an address, but no mail server is configured: the outbox tells her.
    give_alice_an_address(&app).await;
    let mut alice = alice_with_2fa(&app).await;
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(told_and_audited(&app, "two_factor_off", "2fa.off").await, (0, 0));

    // 1. Alice turns it off herself.
    let a = alice.post("credentials/two_factor", &[("enabled", "false")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(told_and_audited(&app, "two_factor_off", "2fa.off").await, (1, 1));

    // 2. An administrator resets her to password only.
    alice.two_factor_on().await;
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "reset_2fa")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(told_and_audited(&app, "two_factor_off", "2fa.off").await, (2, 1));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE event = 'admin.user' AND subject = 'alice' \
             AND details->>'action' = 'reset_2fa'"
        )
        .await,
        1
    );

    // 3. Removing her last phone takes 2FA with it (the reset took her
    // phone: she enrolls it again first).
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sms_phones").await,
        0,
        "the reset cleared her phone"
    );
    alice.enroll_outbox(&app, "+12015550123", "Mine").await;
    alice.two_factor_on().await;
    alice.remove_first_phone().await;
    assert_eq!(told_and_audited(&app, "two_factor_off", "2fa.off").await, (3, 2));
    assert_eq!(
        told_and_audited(&app, "factor_removed", "credential.removed").await,
        (1, 1)
    );
    let channels: Vec<String> = sqlx::query_scalar("SELECT DISTINCT channel FROM notifications")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(channels, ["outbox"]);
}

fn session_ids(list: &Value) -> Vec<(String, bool)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["current"].as_bool().unwrap()))
        .collect()
}

#[tokio::test]
async fn users_list_and_end_their_sessions_and_a_password_change_ends_the_others() {
    let app = spawn_app().await;
    let mut laptop = signed_in(&app, ALICE).await;
    let mut phone = signed_in(&app, ALICE).await;
    let mut admin = signed_in(&app, ADMIN).await;

    let (status, list) = laptop.get_json("sessions").await;
    assert_eq!(status, 200);
    let ids = session_ids(&list);
    assert_eq!(ids.len(), 2, "{list}");
    assert_eq!(ids.iter().filter(|(_, current)| *current).count(), 1);
    assert_eq!(list[0]["ip"], "127.0.0.1");
    let (_, phone_list) = phone.get_json("sessions").await;
    let phone_id = session_ids(&phone_list).into_iter().find(|(_, c)| *c).unwrap().0;

    // Nobody ends another account's session.
    let (_, admin_list) = admin.get_json("sessions").await;
    let admin_id = session_ids(&admin_list)[0].0.clone();
    assert_eq!(laptop.post("sessions/end", &[("id", &admin_id)]).await.status, 404);
    assert_eq!(admin.get_json("home").await.0, 200);

    // The laptop ends the phone's session: its next request is signed out.
    assert_eq!(laptop.post("sessions/end", &[("id", &phone_id)]).await.status, 200);
    assert_eq!(phone.get_json("home").await.0, 401);
    assert_eq!(phone.page("/").await.location.as_deref(), Some("/signin"));
    assert_eq!(session_ids(&laptop.get_json("sessions").await.1).len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'session.ended'")
            .await,
        1
    );

    // A password change ends every other session; this one stays, with a new id.
    let mut tablet = signed_in(&app, ALICE).await;
    let before = laptop.cookie.clone();
    let a = change_password(&mut laptop, ALICE.1, "a-new-password-1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(laptop.cookie, before, "the session id rotates");
    assert_eq!(tablet.get_json("home").await.0, 401);
    assert_eq!(laptop.get_json("home").await.0, 200);
    assert_eq!(session_ids(&laptop.get_json("sessions").await.1).len(), 1);
    assert_eq!(app.browser().sign_in(ALICE.0, ALICE.1).await.status, 401);

    // Bad input is named beside its field.
    let a = laptop
        .post(
            "password",
            &[("current", "a-new-password-1"), ("new", "short"), ("repeat", "other")],
        )
        .await;
    assert_eq!(a.status, 422);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    let fields: Vec<&str> = v["Portal"]["Validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["new", "repeat"]);
    let a = laptop
        .post(
            "password",
            &[
                ("current", "a-new-password-1"),
                ("new", "a-new-password-1"),
                ("repeat", "a-new-password-1"),
            ],
        )
        .await;
    assert_eq!(
        field_error(&a, "new"),
        "Choose a password different from the current one."
    );

    // Signing out forgets the session's row.
    let token = laptop.csrf().await;
    laptop.call("sign_out", &[("csrf_token", &token)]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM user_sessions WHERE user_id = (SELECT id FROM users WHERE username = 'alice')")
            .await,
        0
    );
}

#[tokio::test]
async fn the_session_list_keeps_sessions_in_use_and_drops_idle_ones() {
    let app = spawn_app().await;
    let mut laptop = signed_in(&app, ALICE).await;
    let mut phone = signed_in(&app, ALICE).await;
    let (_, list) = phone.get_json("sessions").await;
    let phone_id = session_ids(&list).into_iter().find(|(_, c)| *c).unwrap().0;

    // The laptop is used every twenty minutes, the phone never again: past
    // the 30-minute idle timeout only the laptop is listed.
    for _ in 0..2 {
        app.clock.advance(20 * 60);
        assert_eq!(laptop.get_json("home").await.0, 200);
    }
    let (_, list) = laptop.get_json("sessions").await;
    let ids = session_ids(&list);
    assert_eq!(ids.len(), 1, "{list}");
    assert!(ids[0].1 && ids[0].0 != phone_id, "{list}");
    assert_eq!(
        list[0]["last_seen"],
        tessera_server::clock::human(app.clock.now()),
        "{list}"
    );
}

#[tokio::test]
async fn two_server_processes_on_one_database_share_sessions_codes_and_budgets() {
    // The in-process app sets up the database (accounts) and reads it; the
    // two processes serve every request below.
    let app = spawn_app().await;
    let (one, two) = tokio::join!(ServerProcess::start(&app.db_url), ServerProcess::start(&app.db_url));
    let mut alice = app.browser();
    let at = |b: &mut Browser, server: &ServerProcess| b.base = server.base.clone();

    // A session made on one server is signed in on the other.
    at(&mut alice, &one);
    assert_eq!(alice.sign_in(ALICE.0, ALICE.1).await.status, 200);
    at(&mut alice, &two);
    assert_eq!(alice.get_json("home").await.0, 200);

    // A code sent through one is checked on the other (enrollment, then sign-in).
    at(&mut alice, &one);
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    at(&mut alice, &two);
    assert_eq!(alice.post("credentials/verify", &[("code", &code)]).await.status, 200);
    alice.two_factor_on().await;
    let token = alice.csrf().await;
    alice.call("sign_out", &[("csrf_token", &token)]).await;
    at(&mut alice, &one);
    let a = alice.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"));
    let code = outbox_code(&app, PHONE).await;
    at(&mut alice, &two);
    let a = alice.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!((a.status, a.location.as_deref()), (200, Some("/")), "{}", a.body);
    at(&mut alice, &one);
    assert_eq!(alice.get_json("home").await.0, 200);

    // A budget spent on one blocks the other: one message left for this IP,
    // sent through `two`; `one` refuses the next with 429.
    let sent = app.count("SELECT count(*) FROM sms_sends").await;
    set_policy(&app, &format!("max_sends_per_ip = {}", sent + 1)).await;
    let mut admin = app.browser();
    at(&mut admin, &two);
    assert_eq!(admin.sign_in(ADMIN.0, ADMIN.1).await.status, 200);
    assert_eq!(
        admin.post("credentials/start", &[("phone", THIRD_US)]).await.status,
        200
    );
    at(&mut alice, &one);
    let a = alice.post("credentials/start", &[("phone", OTHER_US)]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(retry_after(&a) > 0);
    assert_eq!(last_block(&app).await.as_deref(), Some("ip"));

    // Ending a session on one ends it on the other.
    let (_, list) = alice.get_json("sessions").await;
    let mine = session_ids(&list).into_iter().find(|(_, c)| *c).unwrap().0;
    at(&mut alice, &two);
    assert_eq!(alice.post("sessions/end", &[("id", &mine)]).await.status, 200);
    at(&mut alice, &one);
    assert_eq!(alice.get_json("home").await.0, 401);
}

#[tokio::test]
async fn sec_02_codes_are_kept_only_as_a_keyed_mac_and_never_logged() {
    let logs = super::admin::captured_logs();
    let app = spawn_app().await;
    // Ten digits: a random match with other tests' log lines is then out of reach.
    set_policy(&app, "code_digits = 10").await;
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(code.len(), 10);
    let (id, mac): (uuid::Uuid, Vec<u8>) =
        sqlx::query_as("SELECT id, code_mac FROM otp_challenges WHERE purpose = 'enroll'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mac.len(), 32, "an HMAC-SHA256, not the code");
    assert!(!mac.windows(code.len()).any(|w| w == code.as_bytes()));
    assert_eq!(
        mac.as_slice(),
        tessera_server::otp::CodeMac::seal(&SECRET_KEY, id, &code).as_bytes(),
        "keyed by TESSERA_SECRET_KEY and bound to its challenge"
    );
    assert_eq!(alice.post("credentials/verify", &[("code", &code)]).await.status, 200);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("phone enrolled"), "the flow was logged");
    assert!(!text.contains(&code), "the code is in a log line");
}

#[tokio::test]
async fn sec_04_a_code_works_once() {
    let app = spawn_app().await;
    let used_up = "No code is waiting. Ask for a new one.";
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.post("credentials/start", &[("phone", PHONE)]).await.status, 200);
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(alice.post("credentials/verify", &[("code", &code)]).await.status, 200);
    // Refused because the code is spent, not for anything the second use
    // would run into later (the number being enrolled already).
    let a = alice.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(field_error(&a, "code"), used_up);

    // Sign-in: two sessions past the password within the resend cooldown
    // share one code; the first to use it spends it for both.
    alice.two_factor_on().await;
    let mut first = app.browser();
    assert_eq!(first.sign_in(ALICE.0, ALICE.1).await.status, 200);
    let mut second = app.browser();
    assert_eq!(second.sign_in(ALICE.0, ALICE.1).await.status, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_messages").await,
        2,
        "one enrollment code and one sign-in code"
    );
    let code = outbox_code(&app, PHONE).await;
    assert_eq!(first.post("signin/verify_code", &[("code", &code)]).await.status, 200);
    let a = second.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(field_error(&a, "code"), used_up);
    assert_eq!(second.get_json("home").await.0, 401, "still not signed in");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'code.verified'")
            .await,
        2
    );
}

#[tokio::test]
async fn sec_05_a_code_works_only_for_its_user_and_purpose() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;

    // An enrollment code (to another number) and a sign-in code, both open.
    assert_eq!(
        alice.post("credentials/start", &[("phone", OTHER_US)]).await.status,
        200
    );
    let enroll = outbox_code(&app, OTHER_US).await;
    let mut signing_in = app.browser();
    signing_in.sign_in(ALICE.0, ALICE.1).await;
    let login = outbox_code(&app, PHONE).await;
    if enroll == login {
        return; // one chance in a million: nothing to tell apart
    }
    // Each fails where it does not belong...
    assert_eq!(alice.post("credentials/verify", &[("code", &login)]).await.status, 422);
    assert_eq!(
        signing_in.post("signin/verify_code", &[("code", &enroll)]).await.status,
        422
    );
    let mut admin = signed_in(&app, ADMIN).await;
    assert_eq!(admin.post("credentials/verify", &[("code", &enroll)]).await.status, 422);
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 1);
    // ...and works where it does.
    assert_eq!(alice.post("credentials/verify", &[("code", &enroll)]).await.status, 200);
    assert_eq!(
        signing_in.post("signin/verify_code", &[("code", &login)]).await.status,
        200
    );
}

#[tokio::test]
async fn sec_29_error_responses_carry_no_stack_trace_sql_or_secret() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    // Break the database under the server: every write of an audit event fails.
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut stranger = app.browser();
    let a = stranger.sign_in(ALICE.0, "a wrong password").await;
    let b = alice.post("credentials/start", &[("phone", PHONE)]).await;
    for a in &[&a, &b] {
        assert_eq!((a.status, a.body.as_str()), (503, r#"{"Portal":"Unavailable"}"#));
    }
    // The home page reads the audit log: it says so in words.
    let page = alice.page("/").await;
    assert!(page.body.contains("Something went wrong on our side"), "{}", page.body);
    for a in [a, b, page] {
        for leak in [
            "audit_events",
            "relation",
            "SELECT",
            "INSERT",
            "sqlx",
            "panicked",
            ".rs:",
            "postgres://",
        ] {
            assert!(!a.body.contains(leak), "{leak} in {}", a.body);
        }
        let secret = hex::encode(SECRET_KEY);
        assert!(!a.body.contains(&secret));
    }
}
