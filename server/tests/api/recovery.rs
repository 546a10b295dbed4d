//! Recovery codes over HTTP with PostgreSQL: a set shown once and stored
//! hashed, each code once, a new set voiding the old, never counting toward
//! the minimum, the low-codes banner, and an administrator's reset.

use super::sms::{alice_with_2fa, field_error, signed_in, twice_at_once};
use super::*;
use serde_json::Value;

impl Browser {
    /// Makes a set, reads the codes off the page's data, says they are saved.
    pub(super) async fn make_recovery_codes(&mut self) -> Vec<String> {
        let a = self.post("recovery/make", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let (_, view) = self.get_json("recovery").await;
        let codes: Vec<String> = view["fresh"]
            .as_array()
            .unwrap_or_else(|| panic!("no codes: {view}"))
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(self.post("recovery/saved", &[]).await.status, 200);
        codes
    }

    async fn recovery_set_id(&mut self) -> String {
        let (_, view) = self.get_json("credentials").await;
        view["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["method"] == "recovery_code")
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no set in {view}"))
            .to_owned()
    }
}

/// A sign-in up to the second step, switched to the recovery codes.
async fn at_recovery_step(app: &TestApp, set_id: &str) -> Browser {
    let mut b = app.browser();
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/code");
    let a = b.post("signin/send_code", &[("credential", set_id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    b
}

#[tokio::test]
async fn sec_37_a_set_is_shown_once_stored_hashed_and_each_code_works_once() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    let a = alice.post("recovery/make", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = alice.get_json("recovery").await;
    let codes: Vec<String> = serde_json::from_value(view["fresh"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(view["left"], 10);
    let shape = |c: &str| {
        c.len() == 19
            && c.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b)))
    };
    assert!(codes.iter().all(|c| shape(c)), "{codes:?}");
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    // The page shows them with JavaScript off, with a download of them.
    let page = alice.page("/credentials/recovery").await.body;
    assert!(codes.iter().all(|c| page.contains(c.as_str())));
    assert!(page.contains("data:text/plain;charset=utf-8,") && page.contains("tessera-recovery-codes.txt"));
    // Stored only as MACs: no code, with or without dashes, in the table.
    let macs: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_mac FROM recovery_codes")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(macs.len(), 10);
    for c in &codes {
        let bare = c.replace('-', "");
        assert!(!macs.iter().any(|m| m.windows(bare.len()).any(|w| w == bare.as_bytes())));
    }
    // Saved: never shown again, in the data or the page.
    assert_eq!(alice.post("recovery/saved", &[]).await.status, 200);
    let (_, view) = alice.get_json("recovery").await;
    assert_eq!(view["fresh"], Value::Array(vec![]));
    assert!(
        !alice
            .page("/credentials/recovery")
            .await
            .body
            .contains(codes[0].as_str())
    );
    // A set is never the preferred credential.
    let (_, creds) = alice.get_json("credentials").await;
    let set = creds["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "recovery_code")
        .unwrap()
        .clone();
    assert_eq!(set["preferred"], false);
    assert_eq!(set["detail"], "10 of 10 left");

    // At sign-in the set is another way; a code typed in lower case without
    // dashes signs in, is audited and told with the count left.
    let set_id = alice.recovery_set_id().await;
    let mut b = app.browser();
    b.sign_in(ALICE.0, ALICE.1).await;
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert!(
        challenge["others"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == set_id.as_str()),
        "{challenge}"
    );
    assert!(
        b.page("/signin/code")
            .await
            .body
            .contains("Use a recovery code (10 of 10 left)")
    );
    let a = b.post("signin/send_code", &[("credential", &set_id)]).await;
    assert_eq!(a.status, 200);
    let typed = codes[0].replace('-', "").to_lowercase();
    let a = b.post("signin/verify_code", &[("code", &typed)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'recovery_code.used' AND details->>'left' = '9'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications WHERE kind = 'recovery_code_used' AND body LIKE '%9 of them are left%'"
        )
        .await,
        1
    );

    // The same code again: refused by name, counted as a wrong code.
    let mut c = at_recovery_step(&app, &set_id).await;
    let a = c.post("signin/verify_code", &[("code", &codes[0])]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("used already"));
    assert_eq!(app.count("SELECT count(*) FROM otp_failures").await, 1);
    // Another account's code does not work here.
    let mut admin = signed_in(&app, ADMIN).await;
    let theirs = admin.make_recovery_codes().await;
    let a = c.post("signin/verify_code", &[("code", &theirs[0])]).await;
    assert_eq!(a.status, 422);
    assert!(field_error(&a, "code").contains("not one of your recovery codes"));
    // Bad input gets an error beside the field and writes nothing.
    let long = "A".repeat(10_000);
    for bad in ["", "ABCD-EFGH", "ABCD-EFGH-IJKL-MN0P", long.as_str()] {
        let a = c.post("signin/verify_code", &[("code", bad)]).await;
        assert_eq!(a.status, 422, "{bad}");
        field_error(&a, "code");
    }
    assert_eq!(app.count("SELECT count(*) FROM otp_failures").await, 2);

    // A new set voids the old one.
    let fresh = alice.make_recovery_codes().await;
    let a = c.post("signin/verify_code", &[("code", &codes[1])]).await;
    assert_eq!(a.status, 404, "the old set is gone: {}", a.body);
    let new_id = alice.recovery_set_id().await;
    let mut d = at_recovery_step(&app, &new_id).await;
    let a = d.post("signin/verify_code", &[("code", &codes[1])]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = d.post("signin/verify_code", &[("code", &fresh[1])]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
}

#[tokio::test]
async fn sec_38_recovery_codes_never_count_toward_the_minimum() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, ALICE).await;
    b.make_recovery_codes().await;
    // Codes alone cannot turn 2FA on.
    let a = b.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    b.enroll_outbox(&app, "+12015550123", "Mine").await;
    b.two_factor_on().await;
    // Removing the phone leaves only codes: it asks, then turns 2FA off.
    let (_, view) = b.get_json("credentials").await;
    let phone = view["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "sms")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = b.post("credentials/remove", &[("id", &phone)]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = b
        .post("credentials/remove", &[("id", &phone), ("confirm", "true")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["two_factor_enabled"], false);
    // The set stays, and the password alone signs in.
    assert_eq!(view["credentials"].as_array().unwrap().len(), 1);
    let a = app.browser().sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn few_codes_left_raise_a_banner_and_making_codes_needs_a_recent_sign_in() {
    let app = spawn_app().await;
    let mut b = alice_with_2fa(&app).await;
    b.make_recovery_codes().await;
    let (_, home) = b.get_json("home").await;
    assert_eq!(home["recovery_codes_left"], 10);
    assert!(!b.page("/").await.body.contains("data-testid=\"recovery-low\""));
    sqlx::query("UPDATE recovery_codes SET used_at = now() WHERE id IN (SELECT id FROM recovery_codes LIMIT 8)")
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, home) = b.get_json("home").await;
    assert_eq!(home["recovery_codes_left"], 2);
    let page = b.page("/").await.body;
    assert!(page.contains("Only 2 recovery code(s) left"), "the banner");
    // All used: the set is no longer offered at the second step.
    sqlx::query("UPDATE recovery_codes SET used_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["others"], serde_json::json!([]), "{challenge}");
    // Ten minutes after signing in, a new set needs signing in again.
    app.clock.advance(11 * 60);
    let a = b.post("recovery/make", &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("StepUpRequired"));
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        0,
        "the old set stays as it was"
    );
}

#[tokio::test]
async fn two_concurrent_uses_of_one_recovery_code_have_one_winner() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    let codes = alice.make_recovery_codes().await;
    let set_id = alice.recovery_set_id().await;
    for (round, code) in codes.iter().take(3).enumerate() {
        let mut half = at_recovery_step(&app, &set_id).await;
        let statuses = twice_at_once(&mut half, &app, "signin/verify_code", &[("code", code)]).await;
        assert!(
            matches!(statuses, [200, 422] | [200, 403]),
            "round {round}: {statuses:?}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NOT NULL")
            .await,
        3
    );
}

#[tokio::test]
async fn reset_to_password_only_clears_every_kind_of_credential() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    alice.add_app(&app, "Pixel").await;
    alice.make_recovery_codes().await;
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 3);
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    let kinds: Vec<&str> = detail["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sms", "totp", "recovery_code"], "{detail}");
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "reset_2fa")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for table in ["credentials", "sms_phones", "totp_apps", "recovery_codes"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE two_factor_enabled").await,
        0
    );
    let a = app.browser().sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/"), "the password alone signs in");
}

#[tokio::test]
async fn the_policy_sets_the_size_of_a_set_and_the_drift_of_app_codes() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, policy) = admin.get_json("admin/policy").await;
    assert_eq!(policy["fields"]["totp_drift_steps"], "1");
    assert_eq!(policy["fields"]["recovery_code_count"], "10");
    let version = policy["version"].as_i64().unwrap().to_string();
    for (field, bad) in [
        ("totp_drift_steps", "2"),
        ("recovery_code_count", "9"),
        ("recovery_code_count", "21"),
    ] {
        let name = format!("fields[{field}]");
        let a = admin
            .post("admin/policy_save", &[(name.as_str(), bad), ("version", &version)])
            .await;
        assert_eq!(a.status, 422, "{field}={bad}");
        field_error(&a, field);
    }
    let a = admin
        .post(
            "admin/policy_save",
            &[
                ("fields[totp_drift_steps]", "0"),
                ("fields[recovery_code_count]", "12"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(admin.page("/admin/policy").await.body.contains("Authenticator apps"));

    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.make_recovery_codes().await.len(), 12);
    let (_, view) = alice.get_json("recovery").await;
    assert_eq!((view["left"].as_u64(), view["set_size"].as_u64()), (Some(12), Some(12)));
    // No drift: the previous step's code no longer adds an app.
    let a = alice.post("totp/start", &[]).await;
    assert_eq!(a.status, 200);
    let (_, creds) = alice.get_json("credentials").await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(
            creds["app_setup"]["secret"]
                .as_str()
                .unwrap()
                .replace(' ', "")
                .as_bytes(),
        )
        .unwrap();
    // Without drift a code is good for its own step only.
    super::totp::start_of_a_step(&app);
    let step = tessera::totp::step_at(app.clock.now().unix_timestamp());
    let code = |s: i64| tessera_server::methods::totp::rfc6238::code_at_step(&secret, s);
    let a = alice.post("totp/verify", &[("code", &code(step - 1))]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = alice.post("totp/verify", &[("code", &code(step))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn codes_alone_never_keep_the_second_step_when_the_phones_method_is_off() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa(&app).await;
    alice.make_recovery_codes().await;
    let mut admin = signed_in(&app, ADMIN).await;
    // Disabling SMS strands her: the codes do not count.
    let (_, methods) = admin.get_json("admin/methods").await;
    assert_eq!(methods[0]["stranded_if_disabled"], 1, "{methods}");
    let version = methods[0]["version"].as_i64().unwrap().to_string();
    let a = admin
        .post(
            "admin/method",
            &[
                ("method", "sms"),
                ("enabled", "false"),
                ("plugin", "outbox"),
                ("version", &version),
                ("confirm", "true"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The password alone signs her in, and home asks her to enroll.
    let mut b = app.browser();
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    let (_, home) = b.get_json("home").await;
    assert_eq!(home["needs_enrollment"], true);
}

#[tokio::test]
async fn without_a_secret_key_apps_and_recovery_codes_cannot_be_made() {
    // A key that changes with every start would void sealed app secrets and
    // code MACs at the next restart: both methods refuse to start instead.
    let app = spawn_app_with(&[("TESSERA_SECRET_KEY", "")]).await;
    let mut b = signed_in(&app, ALICE).await;
    for endpoint in ["totp/start", "recovery/make"] {
        let a = b.post(endpoint, &[]).await;
        assert_eq!(a.status, 503, "{endpoint}: {}", a.body);
        assert!(a.body.contains("MethodUnavailable"), "{}", a.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM credentials").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM totp_enrollments").await, 0);
    // The console says why, and will not switch either on.
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, methods) = admin.get_json("admin/methods").await;
    for (i, method) in [(1, "totp"), (2, "recovery_code")] {
        assert_eq!(methods[i]["id"], method, "{methods}");
        let a = switch_on_pluginless(&mut admin, &methods[i], method).await;
        assert_eq!(a.status, 422, "{method}: {}", a.body);
        assert!(field_error(&a, "plugin").contains("TESSERA_SECRET_KEY"), "{}", a.body);
    }
}

/// Saves a method that has no plugin as enabled, at the version listed.
async fn switch_on_pluginless(admin: &mut Browser, listed: &Value, method: &str) -> Answer {
    let version = listed["version"].as_i64().unwrap().to_string();
    admin
        .post(
            "admin/method",
            &[
                ("method", method),
                ("enabled", "true"),
                ("plugin", ""),
                ("version", &version),
            ],
        )
        .await
}

#[tokio::test]
async fn the_console_lists_every_method_by_name() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, methods) = admin.get_json("admin/methods").await;
    let listed: Vec<(&str, &str, bool)> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["label"].as_str().unwrap(),
                m["enabled"] == true,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("sms", "SMS one-time codes", true),
            ("totp", "Authenticator apps", true),
            ("recovery_code", "Recovery codes", true),
            ("passkey", "Passkeys and security keys", false)
        ]
    );
    assert!(methods[2]["description"].as_str().unwrap().contains("single-use codes"));
    assert!(
        methods[1]["description"]
            .as_str()
            .unwrap()
            .contains("Google Authenticator")
    );
    assert_eq!(
        methods[1]["plugins"],
        serde_json::json!([]),
        "apps have no plugin to choose"
    );
    // With the secret key set, both save with no plugin.
    for (i, method) in [(1, "totp"), (2, "recovery_code")] {
        let a = switch_on_pluginless(&mut admin, &methods[i], method).await;
        assert_eq!(a.status, 200, "{method}: {}", a.body);
    }
}
