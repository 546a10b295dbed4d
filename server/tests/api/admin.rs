//! The administration console over HTTP: the role check on every console
//! call, live plugin switches, sealed secrets, version checks, the policy,
//! accounts and the audit log.

use super::mocks::{self, code_in};
use super::sms::{alice_with_2fa, field_error, outbox_code, signed_in};
use super::*;
use serde_json::Value;
use std::sync::{Mutex, OnceLock};

const PHONE: &str = "+12015550123";

/// Every console read, as the hydrated app asks for it.
const ADMIN_GETS: &[&str] = &[
    "admin/outbox",
    "admin/notifications",
    "admin/users",
    "admin/user?username=admin",
    "admin/methods",
    "admin/providers",
    "admin/policy",
    "admin/audit",
    "admin/clients",
];

/// Every console change, with fields that an administrator could send.
const ADMIN_POSTS: &[(&str, &[(&str, &str)])] = &[
    ("admin/user_action", &[("username", "alice"), ("action", "make_admin")]),
    (
        "admin/method",
        &[
            ("method", "sms"),
            ("enabled", "false"),
            ("plugin", "outbox"),
            ("version", "1"),
        ],
    ),
    (
        "admin/provider",
        &[("plugin", "vonage"), ("props[api_key]", "k"), ("version", "0")],
    ),
    ("admin/provider_test", &[("plugin", "outbox"), ("to", PHONE)]),
    (
        "admin/policy_save",
        &[("fields[min_credentials]", "3"), ("version", "1")],
    ),
    (
        "admin/client_add",
        &[
            ("name", "Wiki"),
            ("redirect_uris", "https://wiki.example/cb"),
            ("kind", "confidential"),
        ],
    ),
    ("admin/client_save", &[("id", "x"), ("fields[name]", "Wiki")]),
    ("admin/client_secret", &[("id", "x")]),
    ("admin/client_delete", &[("id", "x"), ("confirm", "true")]),
];

async fn version_of(b: &mut Browser, endpoint: &str, pick: impl Fn(&Value) -> &Value) -> String {
    let (status, v) = b.get_json(endpoint).await;
    assert_eq!(status, 200, "{v}");
    pick(&v)["version"].as_i64().unwrap().to_string()
}

async fn sms_version(b: &mut Browser) -> String {
    version_of(b, "admin/methods", |v| &v[0]).await
}

async fn provider_version(b: &mut Browser, plugin: &str) -> String {
    let (_, v) = b.get_json("admin/providers").await;
    let p = v.as_array().unwrap().iter().find(|p| p["id"] == plugin).unwrap();
    p["version"].as_i64().unwrap().to_string()
}

/// Saves a plugin's properties through the console's form.
async fn save_provider(b: &mut Browser, plugin: &str, props: &[(&str, &str)]) -> Answer {
    let version = provider_version(b, plugin).await;
    let names: Vec<(String, &str)> = props.iter().map(|(k, v)| (format!("props[{k}]"), *v)).collect();
    let mut fields: Vec<(&str, &str)> = names.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    fields.push(("plugin", plugin));
    fields.push(("version", &version));
    b.post("admin/provider", &fields).await
}

/// Saves the SMS method as the console's form does.
async fn post_sms_method(b: &mut Browser, enabled: bool, plugin: &str, version: &str, confirm: bool) -> Answer {
    let mut fields = vec![
        ("method", "sms"),
        ("enabled", if enabled { "true" } else { "false" }),
        ("plugin", plugin),
        ("version", version),
    ];
    if confirm {
        fields.push(("confirm", "true"));
    }
    b.post("admin/method", &fields).await
}

async fn choose_sms_plugin(b: &mut Browser, plugin: &str) -> Answer {
    let version = sms_version(b).await;
    post_sms_method(b, true, plugin, &version, false).await
}

/// Saves Vonage's settings as read at `version`.
async fn post_vonage(b: &mut Browser, key: &str, version: &str) -> Answer {
    let fields = [
        ("plugin", "vonage"),
        ("props[api_key]", key),
        ("props[api_secret]", "secret"),
        ("props[from]", "Tessera"),
        ("version", version),
    ];
    b.post("admin/provider", &fields).await
}

fn twilio_props(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("twilio_sid", mocks::twilio::SID.into()),
        ("twilio_token", mocks::twilio::TOKEN.into()),
        ("from_number", "+15005550006".into()),
        ("base_url", base.into()),
    ]
}

fn borrowed<'a>(props: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    props.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// An administrator, and Alice with one outbox phone and 2FA on.
async fn admin_and_alice_with_2fa(app: &TestApp) -> (Browser, Browser) {
    let admin = signed_in(app, ADMIN).await;
    (admin, alice_with_2fa(app).await)
}

#[tokio::test]
async fn sec_25_every_admin_endpoint_refuses_anyone_but_an_administrator() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    for endpoint in ADMIN_GETS {
        let (status, body) = alice.get_json(endpoint).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }
    assert_eq!(alice.get_json("admin/client?id=x").await.0, 403);
    for (endpoint, fields) in ADMIN_POSTS {
        let a = alice.post(endpoint, fields).await;
        assert_eq!(a.status, 403, "{endpoint}: {}", a.body);
    }
    for path in [
        "/admin",
        "/admin/methods",
        "/admin/providers",
        "/admin/policy",
        "/admin/audit",
        "/admin/outbox",
        "/admin/users/admin",
        "/admin/clients",
        "/admin/client?id=x",
    ] {
        assert_eq!(alice.page(path).await.status, 403, "{path}");
    }
    // Nothing changed.
    assert_eq!(app.count("SELECT count(*) FROM users WHERE role = 'admin'").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM oidc_clients").await, 0);
    assert_eq!(app.count("SELECT version FROM policy").await, 1);
    assert_eq!(app.count("SELECT version FROM method_settings").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM plugin_settings").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event LIKE 'admin.%'")
            .await,
        0
    );
    // Nobody signed in: 401. An administrator: every read answers.
    let (status, _) = app.browser().get_json("admin/methods").await;
    assert_eq!(status, 401);
    let mut admin = signed_in(&app, ADMIN).await;
    for endpoint in ADMIN_GETS {
        let (status, body) = admin.get_json(endpoint).await;
        assert_eq!(status, 200, "{endpoint}: {body}");
    }
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[min_credentials]", "3"), ("version", "1")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn switching_the_sms_plugin_applies_to_the_next_request() {
    let app = spawn_app().await;
    let twilio = mocks::twilio::Twilio::default();
    let twilio_base = mocks::serve(twilio.router()).await;
    let vonage = mocks::vonage::Vonage::default();
    let vonage_base = mocks::serve(vonage.router()).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let mut alice = signed_in(&app, ALICE).await;

    // A plugin with incomplete settings cannot be chosen.
    let a = choose_sms_plugin(&mut admin, "twilio").await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "plugin").contains("twilio_sid is required"));

    let props = twilio_props(&twilio_base);
    let a = save_provider(&mut admin, "twilio", &borrowed(&props)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = choose_sms_plugin(&mut admin, "twilio").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = alice.post("credentials/start", &[("phone", PHONE)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(twilio.last_to(PHONE).is_some(), "the next request went through Twilio");
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, 0);

    // To Vonage: the next code goes there, and enrolls.
    let a = save_provider(
        &mut admin,
        "vonage",
        &[
            ("api_key", mocks::vonage::KEY),
            ("api_secret", mocks::vonage::SECRET),
            ("from", "Tessera"),
            ("base_url", &vonage_base),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = choose_sms_plugin(&mut admin, "vonage").await;
    assert_eq!(a.status, 200, "{}", a.body);
    app.clock.advance(31);
    let a = alice.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let text = vonage.last_to(&PHONE[1..]).expect("the resend went through Vonage");
    let a = alice.post("credentials/verify", &[("code", &code_in(&text))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let plugin: String = sqlx::query_scalar("SELECT plugin FROM sms_phones")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(plugin, "vonage");

    // Both switches are audited with before and after.
    let (_, log) = admin.get_json("admin/audit?event=admin.method").await;
    let details: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"].as_str().unwrap())
        .collect();
    assert_eq!(details.len(), 2, "{log}");
    assert!(
        details[0].contains(r#""after":{"enabled":true,"plugin":"vonage"}"#),
        "{}",
        details[0]
    );
    assert!(
        details[1].contains(r#""before":{"enabled":true,"plugin":"outbox"}"#),
        "{}",
        details[1]
    );
}

/// Every log line the test binary writes, from the first call on.
pub(super) fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct Sink(&'static Mutex<Vec<u8>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || Sink(buffer))
            .try_init()
            .expect("no other test installs a log subscriber");
        buffer
    })
}

#[tokio::test]
async fn sec_28_provider_secrets_are_sealed_at_rest_and_never_shown_or_logged() {
    let logs = captured_logs();
    let app = spawn_app().await;
    let twilio = mocks::twilio::Twilio::default();
    let base = mocks::serve(twilio.router()).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let props = twilio_props(&base);
    let a = save_provider(&mut admin, "twilio", &borrowed(&props)).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // At rest: not in the clear, sealed for this plugin.
    let (plain, sealed): (Value, Vec<u8>) =
        sqlx::query_as("SELECT properties, sealed FROM plugin_settings WHERE plugin = 'twilio'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!plain.to_string().contains(mocks::twilio::TOKEN), "{plain}");
    assert_eq!(plain["twilio_sid"], mocks::twilio::SID, "non-secrets stay readable");
    assert!(
        !sealed
            .windows(mocks::twilio::TOKEN.len())
            .any(|w| w == mocks::twilio::TOKEN.as_bytes())
    );
    let opened = app
        .sealer()
        .open("twilio", &sealed)
        .expect("sealed with the configured key");
    assert!(String::from_utf8(opened).unwrap().contains(mocks::twilio::TOKEN));
    assert_eq!(app.sealer().open("twilio-verify", &sealed), None, "bound to its plugin");

    // In responses: masked only.
    let (_, providers) = admin.get_json("admin/providers").await;
    let body = providers.to_string();
    assert!(!body.contains(mocks::twilio::TOKEN), "{body}");
    let token = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "twilio")
        .unwrap()["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "twilio_token")
        .unwrap()
        .clone();
    // "mock-auth-token": long enough that its last four may show.
    assert_eq!(
        (token["is_set"].as_bool(), token["value"].as_str()),
        (Some(true), Some("••••oken"))
    );
    assert!(!admin.page("/admin/providers").await.body.contains(mocks::twilio::TOKEN));

    // Saved again with the secret left blank: it is kept, and it works.
    let mut blank = props.clone();
    blank[1].1 = String::new();
    let a = save_provider(&mut admin, "twilio", &borrowed(&blank)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = admin
        .post("admin/provider_test", &[("plugin", "twilio"), ("to", PHONE)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Accepted by Twilio"), "{}", a.body);
    assert!(twilio.last_to(PHONE).unwrap().contains("Tessera test message"));
    // The provider's own answer comes back for a refused number.
    let a = admin
        .post("admin/provider_test", &[("plugin", "twilio"), ("to", "+15005550001")])
        .await;
    assert!(a.body.contains("21211"), "{}", a.body);
    // The answer also waits on the Providers page (for forms posted without JavaScript).
    let (_, providers) = admin.get_json("admin/providers").await;
    let twilio_view = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "twilio")
        .unwrap();
    assert!(
        twilio_view["last_test"].as_str().unwrap().contains("21211"),
        "{twilio_view}"
    );

    // The audit log says a secret changed, never what it is.
    let (_, log) = admin.get_json("admin/audit?event=admin.provider").await;
    assert!(log.to_string().contains(r#"\"twilio_token\":\"changed\""#), "{log}");
    assert!(!log.to_string().contains(mocks::twilio::TOKEN));
    let in_audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE strpos(details::text, $1) > 0")
        .bind(mocks::twilio::TOKEN)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(in_audit, 0);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("provider settings changed"), "the capture works");
    let leaks: Vec<&str> = logged.lines().filter(|l| l.contains(mocks::twilio::TOKEN)).collect();
    assert!(leaks.is_empty(), "log lines hold the token: {leaks:#?}");
}

#[tokio::test]
async fn two_admins_editing_the_same_settings_cannot_overwrite_each_other() {
    let app = spawn_app().await;
    let mut first = signed_in(&app, ADMIN).await;
    let mut second = signed_in(&app, ADMIN).await;

    // The policy: both opened version 1.
    let a = first
        .post(
            "admin/policy_save",
            &[("fields[min_credentials]", "2"), ("version", "1")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = second
        .post("admin/policy_save", &[("fields[code_digits]", "8"), ("version", "1")])
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("Conflict"), "{}", a.body);
    let (_, policy) = second.get_json("admin/policy").await;
    assert_eq!(policy["fields"]["min_credentials"], "2");
    assert_eq!(policy["fields"]["code_digits"], "6", "the second save wrote nothing");
    assert_eq!(policy["version"], 2);

    // A provider: both opened it before anything was stored.
    let ok = post_vonage(&mut first, "one", "0").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = post_vonage(&mut second, "two", "0").await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let key: String = sqlx::query_scalar("SELECT properties->>'api_key' FROM plugin_settings WHERE plugin = 'vonage'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(key, "one");

    // A method.
    let a = post_sms_method(&mut first, true, "vonage", "1", false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = post_sms_method(&mut second, false, "outbox", "1", false).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM method_settings WHERE enabled AND plugin = 'vonage'")
            .await,
        1
    );
}

#[tokio::test]
async fn bad_policy_input_is_named_beside_each_field_and_the_old_policy_stays() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    let long = "x".repeat(3000);
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[allowed_countries]", &long), ("version", "1")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "allowed_countries").contains("At most 2000 characters"));
    let a = admin
        .post(
            "admin/policy_save",
            &[
                ("fields[code_digits]", "11"),
                ("fields[code_lifetime_minutes]", "0"),
                ("fields[allowed_countries]", "US, ZZ"),
                ("fields[mode]", "sometimes"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code_digits").contains("from 6 to 10"));
    assert!(field_error(&a, "code_lifetime_minutes").contains("from 1 to 10"));
    assert!(field_error(&a, "allowed_countries").contains("ZZ"));
    assert!(field_error(&a, "mode").contains("Choose"));
    assert_eq!(app.count("SELECT version FROM policy").await, 1);

    // Good values apply to the next code: 8 digits, Great Britain only.
    let a = admin
        .post(
            "admin/policy_save",
            &[
                ("fields[code_digits]", "8"),
                ("fields[allowed_countries]", "gb"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut alice = signed_in(&app, ALICE).await;
    let a = alice.post("credentials/start", &[("phone", PHONE)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "phone").contains("Codes cannot be sent to numbers in this country"));
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, 0);
    let gb = "+447400123456";
    let a = alice.post("credentials/start", &[("phone", gb)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = outbox_code(&app, gb).await;
    assert_eq!(code.len(), 8);
    let a = alice.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn accounts_are_found_locked_reset_and_never_left_without_an_administrator() {
    let app = spawn_app().await;
    let (mut admin, mut alice) = admin_and_alice_with_2fa(&app).await;

    // Search by username, by phone digits; nothing for a stranger.
    for (q, expected) in [
        ("ALI", vec!["alice"]),
        ("5550123", vec!["alice"]),
        ("", vec!["admin", "alice"]),
        ("zz%", vec![]),
    ] {
        let (status, found) = admin
            .get_json(&format!("admin/users?q={}", q.replace('%', "%25")))
            .await;
        assert_eq!(status, 200);
        let names: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{q}");
    }
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert_eq!(detail["credentials"][0]["masked"], "•••••••••23");
    assert!(!detail.to_string().contains(PHONE), "the admin sees masked numbers");

    // Reset to password only.
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "reset_2fa")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE two_factor_enabled").await,
        0
    );

    // Locked: the open session ends and the password no longer signs in.
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "lock")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (status, _) = alice.get_json("home").await;
    assert_eq!(status, 401);
    let a = app.browser().sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("AccountLocked"), "{}", a.body);
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "unlock")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut alice = signed_in(&app, ALICE).await;
    let (_, home) = alice.get_json("home").await;
    let events: Vec<&str> = home["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        &events[..4],
        ["signin.succeeded", "admin.user", "signin.locked", "admin.user"],
        "{events:?}"
    );

    // Never the last administrator.
    let a = admin
        .post(
            "admin/user_action",
            &[("username", "admin"), ("action", "revoke_admin")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "action").contains("last active administrator"));
    let a = admin
        .post("admin/user_action", &[("username", "admin"), ("action", "lock")])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "make_admin")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = alice
        .post(
            "admin/user_action",
            &[("username", "admin"), ("action", "revoke_admin")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = alice
        .post(
            "admin/user_action",
            &[("username", "alice"), ("action", "revoke_admin")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE role = 'admin'").await, 1);
    let a = alice
        .post("admin/user_action", &[("username", "nobody"), ("action", "lock")])
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
}

#[tokio::test]
async fn disabling_a_method_warns_then_its_users_sign_in_with_a_password_and_see_a_banner() {
    let app = spawn_app().await;
    let (mut admin, _alice) = admin_and_alice_with_2fa(&app).await;

    let (_, methods) = admin.get_json("admin/methods").await;
    assert_eq!(methods[0]["stranded_if_disabled"], 1);
    let a = post_sms_method(&mut admin, false, "outbox", "1", false).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body.contains("1 user(s) with two-factor authentication on"),
        "{}",
        a.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM method_settings WHERE enabled AND method = 'sms'")
            .await,
        1
    );
    let a = post_sms_method(&mut admin, false, "outbox", "1", true).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Password only now, with a banner asking to enroll.
    let mut b = app.browser();
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (status, home) = b.get_json("home").await;
    assert_eq!(status, 200, "signed in without a code: {home}");
    assert_eq!(home["needs_enrollment"], true);
    assert!(b.page("/").await.body.contains("Enroll an available method"));

    // Audited with the count; the log filters and pages.
    let (_, log) = admin.get_json("admin/audit?event=admin.method").await;
    assert!(
        log["entries"][0]["details"]
            .as_str()
            .unwrap()
            .contains(r#""users_left_without_2fa":1"#),
        "{log}"
    );
    sqlx::query(
        "INSERT INTO audit_events (at, event, actor, ip, details)
         SELECT now() - make_interval(secs => n), 'signin.failed', NULL, '192.0.2.1', '{}'::jsonb
         FROM generate_series(1, 60) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (_, page0) = admin.get_json("admin/audit?event=signin.failed").await;
    let (_, page1) = admin.get_json("admin/audit?event=signin.failed&page=1").await;
    assert_eq!(
        (page0["entries"].as_array().unwrap().len(), page0["has_next"].as_bool()),
        (50, Some(true))
    );
    assert_eq!(
        (page1["entries"].as_array().unwrap().len(), page1["has_next"].as_bool()),
        (10, Some(false))
    );
    let (_, mine) = admin.get_json("admin/audit?user=ALICE").await;
    assert!(
        mine["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "alice" || e["subject"] == "alice")
    );
    let (status, bad) = admin.get_json("admin/audit?from=yesterday").await;
    assert_eq!(status, 422, "{bad}");
}

#[tokio::test]
async fn mandatory_2fa_captures_a_phone_at_the_first_sign_in_before_signing_in() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, ADMIN).await;
    let a = admin
        .post("admin/policy_save", &[("fields[mode]", "mandatory"), ("version", "1")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // The password leads to the enrollment step, and nothing signed-in answers.
    let mut b = app.browser();
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/enroll");
    let (status, _) = b.get_json("home").await;
    assert_eq!(status, 401);
    assert_eq!(b.page("/").await.location.as_deref(), Some("/signin"));
    assert_eq!(b.page("/signin/code").await.location.as_deref(), Some("/signin"));
    assert_eq!(
        b.post("credentials/two_factor", &[("enabled", "false")]).await.status,
        401
    );
    let page = b.page("/signin/enroll").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Add a second factor to finish signing in"));
    assert!(page.body.contains("Add a phone") && page.body.contains("Add an authenticator app"));

    // A wrong code does not sign in; the right one does, with 2FA on.
    let a = b.post("credentials/start", &[("phone", PHONE)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = outbox_code(&app, PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let a = b.post("credentials/verify", &[("code", wrong)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(b.get_json("home").await.0, 401);
    let a = b.post("credentials/verify", &[("code", &code)]).await;
    assert_eq!(a.headers.get("location").unwrap(), "/", "{}", a.body);
    let (status, home) = b.get_json("home").await;
    assert_eq!(status, 200, "{home}");
    assert_eq!(home["two_factor_enabled"], true);
    let events: Vec<&str> = home["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"2fa.on") && events.contains(&"credential.added"),
        "{events:?}"
    );

    // From now on a code is owed at sign-in.
    let a = app.browser().sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/code");
    // With apps disabled the enrollment step offers a phone only; with SMS
    // disabled too nothing can be enrolled: the password alone signs in.
    let version = version_of(&mut admin, "admin/methods", |v| &v[1]).await;
    let a = admin
        .post(
            "admin/method",
            &[
                ("method", "totp"),
                ("enabled", "false"),
                ("plugin", ""),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut c = app.browser();
    let a = c.sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/enroll");
    let page = c.page("/signin/enroll").await;
    assert!(page.body.contains("Add a phone") && !page.body.contains("Add an authenticator app"));
    let version = sms_version(&mut admin).await;
    let a = post_sms_method(&mut admin, false, "outbox", &version, true).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = app.browser().sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/");
}
