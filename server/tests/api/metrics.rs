//! `/metrics` scraped over HTTP like Prometheus would: not there unless
//! configured, a bearer token or an allowed address, and the figures of
//! real requests (sign-in steps, codes sent, route latency).

use super::sms::{PHONE, alice_with_2fa, outbox_code};
use super::*;

const TOKEN: &str = "scrape-token-0123456789";

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, res.text().await.unwrap())
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

#[tokio::test]
async fn metrics_are_not_there_unless_configured() {
    let app = spawn_app().await;
    assert_eq!(scrape(&app, None).await.0, 404);
    assert_eq!(scrape(&app, Some(TOKEN)).await.0, 404);
}

#[tokio::test]
async fn a_scrape_with_the_token_shows_sign_ins_codes_and_routes() {
    let app = spawn_app_with(&[("TESSERA_METRICS_TOKEN", TOKEN)]).await;
    assert_eq!(scrape(&app, None).await.0, 404, "no token");
    assert_eq!(
        scrape(&app, Some("scrape-token-wrong-456789")).await.0,
        404,
        "a wrong token"
    );

    // A wrong password, then the password and the texted code.
    alice_with_2fa(&app).await;
    let mut b = app.browser();
    assert_eq!(b.sign_in(ALICE.0, "not-her-password").await.status, 401);
    app.clock.advance(120);
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    assert_eq!(b.post("signin/verify_code", &[("code", "000000")]).await.status, 422);
    let code = outbox_code(&app, PHONE).await;
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);

    let (status, kind, text) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    let step = |step: &str, method: &str, outcome: &str| {
        sample(
            &text,
            &format!("tessera_sign_in_steps_total{{step=\"{step}\",method=\"{method}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(step("password", "password", "refused"), 1.0);
    // Alice's first sign-in (to enroll), the one that enrolled 2FA on, and this one.
    assert!(step("password", "password", "accepted") >= 2.0);
    assert_eq!(step("second_factor", "sms", "refused"), 1.0);
    assert_eq!(step("second_factor", "sms", "accepted"), 1.0);
    assert!(sample(&text, "tessera_sign_ins_total") >= 2.0);
    // Codes: the enrollment's and the sign-in's, through the outbox, to a US number.
    assert!(
        sample(
            &text,
            "tessera_codes_sent_total{plugin=\"outbox\",outcome=\"ok\",country=\"US\"}"
        ) >= 2.0
    );
    assert!(
        sample(
            &text,
            "tessera_provider_call_duration_seconds_count{plugin=\"outbox\",call=\"send\",outcome=\"ok\"}"
        ) >= 2.0
    );
    // Routes by pattern, never a raw path.
    assert!(
        sample(
            &text,
            "tessera_http_request_duration_seconds_count{route=\"/api/sign_in\",method=\"post\",status=\"4xx\"}"
        ) >= 1.0
    );
    assert!(!text.contains("route=\"/admin/users/alice\""));
    assert!(sample(&text, "tessera_sessions") >= 1.0);
    assert!(text.contains("tessera_db_pool_connections{state=\"idle\"}"), "{text}");
    assert!(text.contains("tessera_build_info{version=\""), "{text}");
    // Held by the hashing threads a moment ago, or given back since: either way a number.
    assert!(sample(&text, "tessera_argon2_memory_bytes") >= 0.0);
}

#[tokio::test]
async fn a_scrape_from_an_allowed_address_needs_no_token_and_budget_refusals_are_counted() {
    let app = spawn_app_with(&[("TESSERA_METRICS_FROM", "127.0.0.1")]).await;
    app.save_policy(&[("max_sends_per_number", "1")]).await;
    let mut alice = app.browser();
    alice.sign_in(ALICE.0, ALICE.1).await;
    let a = alice
        .post("credentials/start", &[("phone", PHONE), ("nickname", "Mine")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    app.clock.advance(120);
    let a = alice.post("credentials/resend", &[]).await;
    assert_eq!(a.status, 429, "the number's budget is spent: {}", a.body);
    let (status, _, text) = scrape(&app, None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(&text, "tessera_sms_budget_refusals_total{budget=\"number\"}"),
        1.0
    );
    dashboard_queries_only(&text);
}

/// The Grafana dashboard in the repository queries only series that a
/// scrape (`text`) shows.
fn dashboard_queries_only(text: &str) {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ops/grafana/tessera.json")).unwrap(),
    )
    .unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.len() >= 10);
    for expr in exprs {
        let names: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("tessera_"))
            .collect();
        assert!(!names.is_empty(), "{expr}");
        for name in names {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "the dashboard's {name} is not in a scrape"
            );
        }
    }
}
