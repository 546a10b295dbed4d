//! Each provider adapter against its mock server: success and every
//! documented failure mapped to what the person and the admin see.

use super::mocks::{self, MALFORMED, RATE_LIMITED, SERVER_ERROR, SLOW};
use tessera_server::methods::sms::providers::{
    self, PluginContext, Properties, ProviderError, Purpose, SendRequest, Sent, SmsPlugin, Verdict,
};

const GOOD: &str = "+12015550123";

fn ctx() -> PluginContext {
    PluginContext {
        http: reqwest::Client::new(),
        // These plugins never touch the database.
        pool: sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap(),
        log_messages: false,
    }
}

fn plugin(id: &str, pairs: &[(&str, &str)]) -> Box<dyn SmsPlugin> {
    let map = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    providers::build(id, &Properties(map), &ctx()).unwrap_or_else(|e| panic!("{id}: {e:?}"))
}

async fn send(p: &dyn SmsPlugin, to: &str) -> Result<Sent, ProviderError> {
    send_as(p, to, Purpose::Enroll, None).await
}

async fn send_as(p: &dyn SmsPlugin, to: &str, purpose: Purpose, user: Option<&str>) -> Result<Sent, ProviderError> {
    p.send(&SendRequest {
        to,
        text: "Your Tessera code is 123456. It expires in 5 minutes.",
        code: "123456",
        purpose,
        provider_user_id: user,
        lifetime_minutes: 5,
    })
    .await
}

/// Rate limit, 5xx, malformed body, timeout and a closed port, alike for all.
async fn common_failures(p: &dyn SmsPlugin, expect_retry_after: Option<u64>) {
    match send(p, RATE_LIMITED).await {
        Err(ProviderError::RateLimited { retry_after_secs, .. }) => assert_eq!(retry_after_secs, expect_retry_after),
        other => panic!("{}: rate limit gave {other:?}", p.id()),
    }
    assert!(
        matches!(send(p, SERVER_ERROR).await, Err(ProviderError::Unavailable(_))),
        "{}: 5xx",
        p.id()
    );
    assert!(
        matches!(send(p, MALFORMED).await, Err(ProviderError::Unavailable(ref d)) if d.contains("malformed")),
        "{}: malformed",
        p.id()
    );
    assert_eq!(
        send(p, SLOW).await,
        Err(ProviderError::Unavailable("timed out".into())),
        "{}: timeout",
        p.id()
    );
}

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

#[tokio::test]
async fn twilio_messages_map_every_documented_answer() {
    let mock = mocks::twilio::Twilio::default();
    let base = mocks::serve(mock.router()).await;
    let props = |token: &str, base: &str| {
        plugin(
            "twilio",
            &[
                ("twilio_sid", mocks::twilio::SID),
                ("twilio_token", token),
                ("from_number", "+15005550006"),
                ("base_url", base),
                ("timeout_secs", "1"),
            ],
        )
    };
    let p = props(mocks::twilio::TOKEN, &base);
    let sent = send(p.as_ref(), GOOD).await.unwrap();
    assert!(sent.reference.unwrap().starts_with("SM"));
    assert!(mock.last_to(GOOD).unwrap().contains("123456"));

    for magic in ["+15005550001", "+15005550003", "+15005550004", "+15005550009"] {
        assert!(
            matches!(send(p.as_ref(), magic).await, Err(ProviderError::InvalidNumber(_))),
            "{magic}"
        );
    }
    common_failures(p.as_ref(), Some(7)).await;
    let bad = props("wrong-token", &base);
    assert!(matches!(send(bad.as_ref(), GOOD).await, Err(ProviderError::Misconfigured(d)) if d.contains("20003")));
    let down = props(mocks::twilio::TOKEN, &closed_port());
    assert_eq!(
        send(down.as_ref(), GOOD).await,
        Err(ProviderError::Unavailable("could not connect".into()))
    );
    let missing = providers::build("twilio", &Properties::default(), &ctx())
        .err()
        .unwrap();
    assert!(missing.iter().any(|e| e.contains("twilio_token")), "{missing:?}");
}

#[tokio::test]
async fn twilio_verify_owns_the_code_and_maps_its_errors() {
    let mock = mocks::verify::Verify::default();
    let base = mocks::serve(mock.router()).await;
    let props = |token: &str, service: &str| {
        plugin(
            "twilio-verify",
            &[
                ("twilio_sid", mocks::twilio::SID),
                ("twilio_token", token),
                ("service_sid", service),
                ("base_url", &base),
                ("timeout_secs", "1"),
            ],
        )
    };
    let p = props(mocks::twilio::TOKEN, mocks::verify::SERVICE);
    let sent = send(p.as_ref(), GOOD).await.unwrap();
    assert!(sent.reference.as_deref().unwrap().starts_with("VE"));
    let code = mock.code_for(GOOD).unwrap();
    assert_eq!(p.check(GOOD, &sent, "000000").await, Ok(Verdict::Wrong));
    assert_eq!(p.check(GOOD, &sent, &code).await, Ok(Verdict::Approved));
    assert_eq!(
        p.check(GOOD, &sent, &code).await,
        Ok(Verdict::Expired),
        "approved verifications are deleted (20404)"
    );

    // Five wrong checks kill the verification (60202), then it is gone (20404).
    let sent = send(p.as_ref(), GOOD).await.unwrap();
    let code = mock.code_for(GOOD).unwrap();
    for _ in 0..4 {
        assert_eq!(p.check(GOOD, &sent, "999999").await, Ok(Verdict::Wrong));
    }
    assert_eq!(p.check(GOOD, &sent, "999999").await, Ok(Verdict::Expired));
    assert_eq!(p.check(GOOD, &sent, &code).await, Ok(Verdict::Expired));

    // Ten minutes later Twilio has deleted the verification.
    let sent = send(p.as_ref(), GOOD).await.unwrap();
    let code = mock.code_for(GOOD).unwrap();
    mock.expire_all();
    assert_eq!(p.check(GOOD, &sent, &code).await, Ok(Verdict::Expired));

    // Six sends to one number inside the window: the sixth is refused (60203).
    for _ in 0..5 {
        send(p.as_ref(), "+12015550124").await.unwrap();
    }
    assert!(matches!(
        send(p.as_ref(), "+12015550124").await,
        Err(ProviderError::RateLimited { .. })
    ));
    assert!(matches!(
        send(p.as_ref(), "+15005550001").await,
        Err(ProviderError::InvalidNumber(_))
    ));
    common_failures(p.as_ref(), None).await;
    let bad = props("wrong", mocks::verify::SERVICE);
    assert!(matches!(
        send(bad.as_ref(), GOOD).await,
        Err(ProviderError::Misconfigured(_))
    ));
    let unknown_service = props(mocks::twilio::TOKEN, "VAnope");
    assert!(matches!(
        send(unknown_service.as_ref(), GOOD).await,
        Err(ProviderError::Misconfigured(_))
    ));
}

#[tokio::test]
async fn stytch_enrolls_sends_checks_and_deletes_like_the_api() {
    let mock = mocks::stytch::Stytch::default();
    let base = mocks::serve(mock.router()).await;
    let props = |secret: &str| {
        plugin(
            "stytch",
            &[
                ("SMS_ENDPOINT", &format!("{base}/v1/otps/sms/send")),
                ("AUTH_ENDPOINT", &format!("{base}/v1/otps/authenticate")),
                ("ENROLL_ENDPOINT", &format!("{base}/v1/otps/sms/login_or_create")),
                ("DELETE_USER_ENDPOINT", &format!("{base}/v1/users")),
                ("PROJECT_ID", mocks::stytch::PROJECT),
                ("SECRET", secret),
                ("timeout_secs", "1"),
            ],
        )
    };
    let p = props(mocks::stytch::SECRET);
    let enrolled = send(p.as_ref(), GOOD).await.unwrap();
    let user = enrolled.provider_user_id.clone().unwrap();
    assert!(user.starts_with("user-test-"));
    assert!(
        enrolled
            .provider_phone_id
            .as_deref()
            .unwrap()
            .starts_with("phone-number-test-")
    );
    let code = mock.code_for(GOOD).unwrap();
    assert_eq!(p.check(GOOD, &enrolled, "000001").await, Ok(Verdict::Wrong));
    assert_eq!(p.check(GOOD, &enrolled, &code).await, Ok(Verdict::Approved));
    assert_eq!(
        p.check(GOOD, &enrolled, &code).await,
        Ok(Verdict::Expired),
        "single use"
    );

    // Sign-in uses `send` with the Stytch user; a new send kills the last code.
    let first = send_as(p.as_ref(), GOOD, Purpose::Login, Some(&user)).await.unwrap();
    assert_eq!(first.provider_phone_id, enrolled.provider_phone_id);
    let old = mock.code_for(GOOD).unwrap();
    send_as(p.as_ref(), GOOD, Purpose::Login, Some(&user)).await.unwrap();
    let new = mock.code_for(GOOD).unwrap();
    if old != new {
        assert_eq!(p.check(GOOD, &first, &old).await, Ok(Verdict::Expired));
    }
    assert_eq!(p.check(GOOD, &first, &new).await, Ok(Verdict::Approved));
    // Only to the Stytch user enrolled: a sign-in never makes or finds another.
    assert!(matches!(
        send_as(p.as_ref(), GOOD, Purpose::Login, Some("user-test-someone-else")).await,
        Err(ProviderError::Misconfigured(d)) if d.contains("user_not_found")
    ));

    p.forget(&user).await.unwrap();
    assert_eq!(mock.deleted(), vec![user.clone()]);
    p.forget(&user).await.unwrap();

    // The sandbox number and code.
    let sandbox = send(p.as_ref(), mocks::stytch::SANDBOX_PHONE).await.unwrap();
    assert_eq!(
        p.check(mocks::stytch::SANDBOX_PHONE, &sandbox, "000000").await,
        Ok(Verdict::Approved)
    );

    assert!(matches!(
        send(p.as_ref(), "+12").await,
        Err(ProviderError::InvalidNumber(_))
    ));
    common_failures(p.as_ref(), None).await;
    let bad = props("secret-wrong");
    assert!(matches!(
        send(bad.as_ref(), GOOD).await,
        Err(ProviderError::Misconfigured(d)) if d.contains("unauthorized_credentials")
    ));
}

#[tokio::test]
async fn vonage_reads_the_status_inside_a_200() {
    let mock = mocks::vonage::Vonage::default();
    let base = mocks::serve(mock.router()).await;
    let props = |key: &str| {
        plugin(
            "vonage",
            &[
                ("api_key", key),
                ("api_secret", mocks::vonage::SECRET),
                ("from", "NEXMO"),
                ("base_url", &base),
                ("timeout_secs", "1"),
            ],
        )
    };
    let p = props(mocks::vonage::KEY);
    assert!(send(p.as_ref(), GOOD).await.unwrap().reference.is_some());
    assert!(
        mock.last_to("12015550123").unwrap().contains("123456"),
        "Vonage gets the digits without +"
    );
    assert!(matches!(
        send(p.as_ref(), "+15005550001").await,
        Err(ProviderError::InvalidNumber(d)) if d.contains("status 6")
    ));
    common_failures(p.as_ref(), None).await;
    for key in ["wrongkey", mocks::vonage::BROKE_KEY] {
        assert!(matches!(
            send(props(key).as_ref(), GOOD).await,
            Err(ProviderError::Misconfigured(_))
        ));
    }
}

#[tokio::test]
async fn http_gateway_encodes_each_value_for_where_it_lands() {
    let mock = mocks::gateway::Gateway::default();
    let base = mocks::serve(mock.router()).await;

    // WSO2's style: everything in the query string of a POST.
    let p = plugin("http", &[("url", &format!("{base}/ok?to=$ctx.num&text=$ctx.msg"))]);
    send(p.as_ref(), GOOD).await.unwrap();
    let seen = mock.last().unwrap();
    assert_eq!(seen.method, "POST");
    assert!(
        seen.uri
            .starts_with("/ok?to=%2B12015550123&text=Your%20Tessera%20code%20is%20123456."),
        "{}",
        seen.uri
    );

    // A JSON body with headers and Basic auth.
    let p = plugin(
        "http",
        &[
            ("url", &format!("{base}/ok")),
            ("content_type", "application/json"),
            (
                "body_template",
                r#"{"to":"$ctx.num","text":"$ctx.msg","code":"$ctx.otp"}"#,
            ),
            ("headers", "X-Tenant: tessera\nX-Other: 1"),
            ("basic_user", "gw"),
            ("basic_password", "pw"),
        ],
    );
    send(p.as_ref(), GOOD).await.unwrap();
    let seen = mock.last().unwrap();
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["to"], GOOD);
    assert_eq!(body["code"], "123456");
    assert_eq!(seen.headers["x-tenant"], "tessera");
    assert!(seen.headers["authorization"].to_str().unwrap().starts_with("Basic "));

    // A form body: values form-encoded.
    let p = plugin(
        "http",
        &[
            ("url", &format!("{base}/ok")),
            ("body_template", "to=$ctx.num&text=$ctx.msg"),
        ],
    );
    send(p.as_ref(), GOOD).await.unwrap();
    assert!(
        mock.last()
            .unwrap()
            .body
            .starts_with("to=%2B12015550123&text=Your+Tessera+code")
    );

    let with = |path: &str| plugin("http", &[("url", &format!("{base}{path}")), ("timeout_secs", "1")]);
    assert!(matches!(
        send(with("/status/429").as_ref(), GOOD).await,
        Err(ProviderError::RateLimited {
            retry_after_secs: Some(11),
            ..
        })
    ));
    assert!(matches!(
        send(with("/status/503").as_ref(), GOOD).await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        send(with("/status/401").as_ref(), GOOD).await,
        Err(ProviderError::Misconfigured(_))
    ));
    assert!(matches!(
        send(with("/status/400").as_ref(), GOOD).await,
        Err(ProviderError::Misconfigured(_))
    ));
    assert_eq!(
        send(with("/slow").as_ref(), GOOD).await,
        Err(ProviderError::Unavailable("timed out".into()))
    );

    let map = |pairs: &[(&str, &str)]| {
        Properties(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect(),
        )
    };
    let errors = providers::build(
        "http",
        &map(&[
            ("url", "ftp://x/$ctx.num"),
            ("method", "PUT"),
            ("body_template", "$ctx.bogus"),
            ("expected_status", "200,500"),
            ("headers", "no colon here"),
        ]),
        &ctx(),
    )
    .err()
    .unwrap();
    for needle in ["url", "method", "$ctx.bogus", "500", "no colon"] {
        assert!(errors.iter().any(|e| e.contains(needle)), "{needle}: {errors:?}");
    }
}

/// What an administrator enters is checked before a plugin is built: a blank
/// value is a missing one, a base URL must be http(s) with a host, and the
/// timeout is whole seconds from 1 to 60, typed as text or as a JSON number.
#[tokio::test]
async fn plugin_properties_are_checked_before_a_plugin_is_built() {
    let problems = |changes: &[(&str, serde_json::Value)]| {
        build_problems(
            "twilio",
            serde_json::json!({"twilio_sid": "AC1", "twilio_token": "t", "from_number": "+15005550006"}),
            changes,
        )
    };
    assert_eq!(problems(&[]), Vec::<String>::new());
    assert_eq!(
        problems(&[("twilio_token", "   ".into())]),
        ["twilio_token is required"]
    );
    for url in ["https://api.example/", "http://127.0.0.1:3101"] {
        assert_eq!(problems(&[("base_url", url.into())]), Vec::<String>::new(), "{url}");
    }
    for url in ["ftp://api.example", "api.example", "not a url"] {
        let p = problems(&[("base_url", url.into())]);
        assert!(p.len() == 1 && p[0].starts_with("base_url:"), "{url}: {p:?}");
    }
    for good in [serde_json::json!("1"), serde_json::json!(60), serde_json::json!(" 30 ")] {
        assert_eq!(
            problems(&[("timeout_secs", good.clone())]),
            Vec::<String>::new(),
            "{good}"
        );
    }
    for bad in [
        serde_json::json!("0"),
        serde_json::json!(61),
        serde_json::json!("ten"),
        serde_json::json!(2.5),
    ] {
        let p = problems(&[("timeout_secs", bad.clone())]);
        assert!(p.len() == 1 && p[0].starts_with("timeout_secs:"), "{bad}: {p:?}");
    }
}

/// What building plugin `id` from `props` with `changes` applied refuses.
fn build_problems(id: &str, mut props: serde_json::Value, changes: &[(&str, serde_json::Value)]) -> Vec<String> {
    for (name, value) in changes {
        props[name] = value.clone();
    }
    let map = props.as_object().cloned().unwrap();
    providers::build(id, &Properties(map), &ctx()).err().unwrap_or_default()
}

/// The generic gateway's settings are checked before it is built: its URL
/// (placeholders filled in), method, header lines and expected statuses.
#[tokio::test]
async fn http_gateway_settings_are_checked_before_it_is_built() {
    let problems = |changes: &[(&str, serde_json::Value)]| {
        build_problems(
            "http",
            serde_json::json!({"url": "https://sms.example/send?to={number}"}),
            changes,
        )
    };
    assert_eq!(
        problems(&[
            ("method", "get".into()),
            ("headers", "Authorization: Bearer abc\n\nX-Api-Version: 2".into()),
            ("expected_status", "200, 204".into()),
        ]),
        Vec::<String>::new()
    );
    for (name, bad) in [
        ("url", "ftp://sms.example/{number}"),
        ("method", "PUT"),
        ("headers", "Authorization Bearer abc"),
        ("headers", "X Api: 2"),
        ("headers", "X-Api: a\u{7f}b"),
        ("expected_status", "200,404"),
    ] {
        let p = problems(&[(name, bad.into())]);
        assert!(
            p.len() == 1 && p[0].starts_with(&format!("{name}:")),
            "{name} = {bad:?}: {p:?}"
        );
    }
}

/// Each plugin answers to the id it is registered under (challenges and
/// credentials record it; a later check or removal finds the plugin by it),
/// and the examples the console shows for its settings are accepted.
#[tokio::test]
async fn every_plugin_builds_from_its_examples_and_answers_to_its_id() {
    for info in providers::PLUGINS {
        let props = info
            .properties
            .iter()
            .map(|p| (p.name.to_owned(), serde_json::Value::String(p.example.to_owned())))
            .collect();
        let built = providers::build(info.id, &Properties(props), &ctx())
            .unwrap_or_else(|e| panic!("{}: its examples are refused: {e:?}", info.id));
        assert_eq!(built.id(), info.id);
    }
}
