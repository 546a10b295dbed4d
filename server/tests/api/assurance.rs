//! One owner of assurance (SECURITY.md 49): what a sign-in owes is decided
//! once, from the policy's mandate, the user's switch, the client's minimum
//! and the application's request, for the pages, signing in again, the
//! authorization endpoint and the password grant alike; and enrolling a
//! factor on the way is not proving it.

use super::oidc::{
    MFA_OTP, Pending, RelyingParty, callback, code_from, continue_target, id_claims, register,
    register_password_client, token_request, userinfo_status,
};
use super::sms::{PHONE, outbox_code, signed_in};
use super::totp::{code_now, start_of_a_step};
use super::*;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::CoreIdTokenClaims;
use tessera_server::oidc::clients::ClientKind;

/// The client's default acr, as the console saves it.
async fn set_default_acr(app: &TestApp, client_id: &str, acr: &str) {
    sqlx::query("UPDATE oidc_clients SET default_acr = $2 WHERE id = $1")
        .bind(client_id)
        .bind(acr)
        .execute(&app.pool)
        .await
        .unwrap();
}

fn path(app: &TestApp, p: &Pending) -> String {
    p.url.replacen(&app.base, "", 1)
}

/// From the page a sign-in form lands on to the client's callback.
async fn back_to_client(b: &mut Browser, back: Option<String>) -> BTreeMap<String, String> {
    let back = back.expect("a way back to the application");
    callback(&continue_target(&b.page(&back).await))
}

fn acr(claims: &CoreIdTokenClaims) -> Option<&str> {
    claims.auth_context_ref().map(|a| a.as_str())
}

fn amr(claims: &CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .map(|v| v.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default()
}

/// A code exchanged at the token endpoint as the relying party would
/// (secret, redirect URI, PKCE verifier), without the library: the status
/// and the JSON answer.
async fn exchange_by_hand(
    app: &TestApp,
    (id, secret): (&str, Option<&str>),
    code: &str,
    pending: &Pending,
) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(id, secret)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", super::oidc::REDIRECT),
            ("code_verifier", pending.verifier.secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn password_grant<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("username", ALICE.0),
        ("password", ALICE.1),
        ("scope", "openid"),
    ]
}

#[tokio::test]
async fn sec_49_a_clients_default_acr_is_a_floor_that_acr_values_cannot_lower() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    set_default_acr(&app, &id, "otp").await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    start_of_a_step(&app);
    // Alice has an app and 2FA off: the password alone is enough for her.
    let mut alice = signed_in(&app, ALICE).await;
    let app_secret = alice.add_app(&app, "Pixel").await;

    // Her browser, signed in with the password alone, is asked again.
    let pending = rp.authorize(Some("password"), &[]);
    let a = alice.page(&path(&app, &pending)).await;
    assert!(
        a.location.as_deref().is_some_and(|l| l.starts_with("/signin/again")),
        "a request for less than the client's minimum is raised to it: {:?}",
        a.location
    );

    // A new browser: the second step asks for the app, and the ID token says so.
    let pending = rp.authorize(Some("password"), &[]);
    let mut b = app.browser();
    b.page(&path(&app, &pending)).await;
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["method"], "totp", "{challenge}");
    let a = b
        .post("signin/verify_code", &[("code", &code_now(&app, &app_secret, 0))])
        .await;
    let q = back_to_client(&mut b, a.location).await;
    let (_, claims) = rp.exchange(&q["code"], pending).await;
    assert_eq!(acr(&claims), Some("otp"));
}

#[tokio::test]
async fn sec_49_the_password_grant_holds_the_clients_minimum() {
    let app = spawn_app().await;
    let client = register_password_client(&app).await;
    // No minimum: Alice's password alone gets tokens.
    let (status, body, _) = token_request(&app, &client, &password_grant()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(id_claims(&body)["acr"], "password");

    set_default_acr(&app, &client.0, "otp").await;
    let (status, body, _) = token_request(&app, &client, &password_grant()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body.get("access_token").is_none() && body.get("mfa_token").is_none());

    // A phone does not give an app's assurance: refused, and nothing is texted.
    let mut alice = super::sms::alice_with_2fa(&app).await;
    let texts = app.count("SELECT count(*) FROM outbox_messages").await;
    let (status, body, _) = token_request(&app, &client, &password_grant()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, texts);

    // With an app: the second request with its code, tokens stating the app.
    start_of_a_step(&app);
    let secret = alice.add_app(&app, "Pixel").await;
    let (status, body, _) = token_request(&app, &client, &password_grant()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("mfa_required")), "{body}");
    let mfa = body["mfa_token"].as_str().unwrap().to_owned();
    let code = code_now(&app, &secret, 0);
    let (status, body, _) = token_request(
        &app,
        &client,
        &[("grant_type", MFA_OTP), ("mfa_token", &mfa), ("otp", &code)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(id_claims(&body)["acr"], "otp");
}

#[tokio::test]
async fn sec_49_enrolling_a_factor_during_a_sign_in_is_not_proving_it() {
    let app = spawn_app().await;
    app.save_policy(&[("mode", "mandatory")]).await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;

    // Alice has no factor: the mandatory policy has her enroll an app on the way.
    let pending = rp.authorize(None, &[]);
    let mut b = app.browser();
    b.page(&path(&app, &pending)).await;
    assert_eq!(
        b.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/enroll")
    );
    start_of_a_step(&app);
    assert_eq!(b.post("totp/start", &[("nickname", "Pixel")]).await.status, 200);
    let app_secret = super::totp::setup_secret(&mut b).await;
    let a = b
        .post("totp/verify", &[("code", &code_now(&app, &app_secret, 0))])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The application learns what was proven: the password, nothing more.
    let q = back_to_client(&mut b, a.location).await;
    let (_, claims) = rp.exchange(&q["code"], pending).await;
    assert_eq!(acr(&claims), Some("password"));
    assert_eq!(amr(&claims), ["pwd"]);

    // An application that asks for the app is not paid by the enrollment.
    let pending = rp.authorize(Some("otp"), &[]);
    let a = b.page(&path(&app, &pending)).await;
    assert!(
        a.location.as_deref().is_some_and(|l| l.starts_with("/signin/again")),
        "{:?}",
        a.location
    );
}

#[tokio::test]
async fn sec_49_a_mandatory_policy_owes_the_factor_at_a_step_up_and_keeps_the_switch_on() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    alice.enroll_outbox(&app, PHONE, "Mine").await;
    app.save_policy(&[("mode", "mandatory")]).await;
    // Her own switch is off; the policy owes the factor all the same.
    let mut b = app.browser();
    assert_eq!(
        b.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let code = outbox_code(&app, PHONE).await;
    assert!(b.post("signin/verify_code", &[("code", &code)]).await.status < 400);

    // Signing in again (a step-up) asks for the phone too.
    let a = b
        .post("signin/again", &[("password", ALICE.1), ("next", "/account/password")])
        .await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{} {}", a.status, a.body);
    let code = outbox_code(&app, PHONE).await;
    assert!(b.post("signin/verify_code", &[("code", &code)]).await.status < 400);

    // The switch cannot be turned off while the policy makes it mandatory.
    let a = b.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = b.post("credentials/two_factor", &[("enabled", "false")]).await;
    assert!(
        super::sms::field_error(&a, "enabled").contains("required"),
        "{} {}",
        a.status,
        a.body
    );
    let on: bool = sqlx::query_scalar("SELECT two_factor_enabled FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(on);
}

#[tokio::test]
async fn sec_49_acr_values_sms_texts_the_phone_when_an_app_is_preferred() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    start_of_a_step(&app);
    let mut alice = super::sms::alice_with_2fa(&app).await;
    alice.add_app(&app, "Pixel").await;
    let (_, view) = alice.get_json("credentials").await;
    let app_id = view["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "totp")
        .and_then(|c| c["id"].as_str())
        .unwrap()
        .to_owned();
    let a = alice
        .post("credentials/two_factor", &[("enabled", "true"), ("preferred", &app_id)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let texts = app.count("SELECT count(*) FROM outbox_messages").await;
    let pending = rp.authorize(Some("sms"), &[]);
    let mut b = app.browser();
    b.page(&path(&app, &pending)).await;
    assert_eq!(
        b.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["method"], "sms", "{challenge}");
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, texts + 1);
    // The app stays under "try another way".
    assert!(
        challenge["others"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["method"] == "totp"),
        "{challenge}"
    );
    let code = outbox_code(&app, PHONE).await;
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    let q = back_to_client(&mut b, a.location).await;
    let (_, claims) = rp.exchange(&q["code"], pending).await;
    assert_eq!(acr(&claims), Some("sms"));
}

#[tokio::test]
async fn sec_54_parallel_wrong_codes_never_overshoot_the_cap() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, ALICE).await;
    assert_eq!(alice.post("totp/start", &[("nickname", "Pixel")]).await.status, 200);
    let secret = super::totp::setup_secret(&mut alice).await;
    let right = code_now(&app, &secret, 0).replace(' ', "");
    let wrong = if right == "000000" { "111111" } else { "000000" };
    // Eighty wrong codes this hour already; the cap is a hundred.
    let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO otp_failures (user_id, failed_at) SELECT $1, $2 FROM generate_series(1, 80)")
        .bind(user)
        .bind(app.clock.now())
        .execute(&app.pool)
        .await
        .unwrap();
    // Forty wrong codes at once: twenty are checked (and counted), the rest
    // are refused before any check.
    let (_, session) = alice.get_json("session").await;
    let token = session["csrf_token"].as_str().unwrap().to_owned();
    let guesses = (0..40).map(|_| {
        let mut b = app.browser();
        b.cookie = alice.cookie.clone();
        let token = token.clone();
        async move {
            b.call("totp/verify", &[("code", wrong), ("csrf_token", &token)])
                .await
                .status
        }
    });
    let mut statuses = futures::future::join_all(guesses).await;
    statuses.sort();
    let checked = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (20, 20), "{statuses:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM otp_failures").await,
        100,
        "every check counted, none past the cap"
    );
}

#[tokio::test]
async fn sec_52_an_app_setup_belongs_to_the_session_that_started_it() {
    let app = spawn_app().await;
    start_of_a_step(&app);
    // Pinned, to check the recent sign-in's edge to the second below.
    let first_signed_in = app.clock.pin();
    let mut first = signed_in(&app, ALICE).await;
    let mut second = signed_in(&app, ALICE).await;
    app.clock.advance(5 * 60);
    start_of_a_step(&app);
    // The other session started one too; the first's replaces it (one
    // setup per account), and the other's key opens nothing now.
    assert_eq!(second.post("totp/start", &[("nickname", "Old")]).await.status, 200);
    assert_eq!(first.post("totp/start", &[("nickname", "Pixel")]).await.status, 200);
    let secret = super::totp::setup_secret(&mut first).await;

    // Another session of the same account neither sees the secret nor
    // finishes or cancels the setup.
    let (_, view) = second.get_json("credentials").await;
    assert!(view["app_setup"].is_null(), "{view}");
    let a = second
        .post("totp/verify", &[("code", &code_now(&app, &secret, 0))])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM totp_apps").await, 0);
    assert_eq!(second.post("totp/cancel", &[]).await.status, 200);
    assert_eq!(app.count("SELECT count(*) FROM totp_enrollments").await, 1);

    // Its own session sees it while its sign-in is under ten minutes old,
    // and from the second it is ten minutes old no longer (the setup
    // itself has minutes left).
    let until_ten_minutes = (first_signed_in + time::Duration::minutes(10) - app.clock.now()).whole_seconds();
    app.clock.advance(until_ten_minutes - 1);
    let (_, view) = first.get_json("credentials").await;
    assert!(view["app_setup"].is_object(), "{view}");
    app.clock.advance(1);
    let (_, view) = first.get_json("credentials").await;
    assert!(view["app_setup"].is_null(), "{view}");
    assert_eq!(app.count("SELECT count(*) FROM totp_enrollments").await, 1);
}

#[tokio::test]
async fn sec_50_signing_out_ends_what_the_session_issued_before_a_step_up_too() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (before, _) = rp.exchange(&code, pending).await;
    let refresh = before.refresh_token().expect("a refresh token").clone();

    // A full sign-in again in the same browser (a step-up): still one
    // session, the same one the application's tokens name, and they work.
    let row = || async {
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM user_sessions")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let before_step_up = row().await;
    let a = b.post("signin/again", &[("password", ALICE.1), ("next", "/")]).await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    assert_eq!(app.count("SELECT count(*) FROM user_sessions").await, 1);
    assert_eq!(row().await, before_step_up, "the session keeps its row (and sid)");
    assert_eq!(userinfo_status(&app, before.access_token().secret()).await, 200);
    // A code issued after the step-up, not exchanged yet.
    let pending = rp.authorize(None, &[]);
    let unused = code_from(&app, &mut b, &pending).await;

    assert!(b.post("sign_out", &[]).await.status < 400);
    assert!(!rp.refreshes(&refresh).await, "refreshed after sign-out");
    assert_eq!(userinfo_status(&app, before.access_token().secret()).await, 401);
    // The code issued through the ended session is refused too.
    let (status, body) = exchange_by_hand(&app, (&id, secret.as_deref()), &unused, &pending).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn sec_50_ending_a_session_from_another_refuses_its_codes() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = signed_in(&app, ALICE).await;
    let mut other = signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (_, sessions) = other.get_json("sessions").await;
    let theirs = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned();
    assert!(other.post("sessions/end", &[("id", &theirs)]).await.status < 400);
    let (status, body) = exchange_by_hand(&app, (&id, secret.as_deref()), &code, &pending).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn sec_53_username_first_is_for_confidential_clients_counts_and_never_replaces_a_browsers_code() {
    let app = spawn_app().await;
    super::sms::alice_with_2fa(&app).await;
    let client = register_password_client(&app).await;
    let username_first = [("grant_type", "password"), ("username", ALICE.0)];

    // A public client proves nothing: no code for the username alone.
    let (public, _) = tessera_server::oidc::clients::register(
        &mut app.pool.acquire().await.unwrap(),
        tessera_server::oidc::clients::NewClient {
            id: String::new(),
            name: "Phone app".into(),
            redirect_uris: vec![super::oidc::REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            kind: ClientKind::Public,
            grants: vec![tessera_server::oidc::clients::Grant::Password],
            first_party: true,
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    let texts = app.count("SELECT count(*) FROM outbox_messages").await;
    let mut form = username_first.to_vec();
    form.push(("client_id", public.id.as_str()));
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");

    // Alice is at her browser's second step, a code on its way.
    let mut b = app.browser();
    assert_eq!(
        b.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, texts + 1);
    let browsers_code = outbox_code(&app, PHONE).await;

    // The confidential client asks with her username alone: a code of its own.
    app.clock.advance(60);
    let (status, body, _) = token_request(&app, &client, &username_first).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("mfa_required")), "{body}");
    assert_eq!(
        app.count_reaching("SELECT count(*) FROM outbox_messages", texts + 2)
            .await,
        texts + 2
    );
    let grants_code = outbox_code(&app, PHONE).await;
    let mfa = body["mfa_token"].as_str().unwrap().to_owned();

    // Her browser's code still works, and costs no try.
    let a = b.post("signin/verify_code", &[("code", &browsers_code)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{} {}", a.status, a.body);
    // The grant's code works at the token endpoint, with the password.
    let (status, body, _) = token_request(
        &app,
        &client,
        &[
            ("grant_type", MFA_OTP),
            ("mfa_token", &mfa),
            ("otp", &grants_code),
            ("password", ALICE.1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Every username-first attempt counts toward the sign-in throttle
    // (five per account), until a password proves one.
    for _ in 0..5 {
        let (status, body, _) = token_request(&app, &client, &username_first).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body, _) = token_request(&app, &client, &username_first).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
}

#[tokio::test]
async fn max_age_zero_and_prompt_login_are_answered_after_exactly_one_new_sign_in() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    for extra in [("max_age", "0"), ("prompt", "login")] {
        // Signed in "this very second" (the clock set back a second, so by
        // the seconds the sign-in is newer than the request): still not a
        // sign-in made for the request.
        let mut b = signed_in(&app, ALICE).await;
        app.clock.advance(-1);
        let pending = rp.authorize(None, &[extra]);
        let a = b.page(&path(&app, &pending)).await;
        let again = a.location.unwrap_or_default();
        assert!(again.starts_with("/signin/again?"), "{extra:?}: {again}");
        let page = b.page(&again).await;
        assert!(
            page.body
                .contains("The application you are signing in to asks you to sign in again"),
            "the page says why"
        );
        let next = next_of(&again);
        let a = b.post("signin/again", &[("password", ALICE.1), ("next", &next)]).await;
        // Seconds later (whole seconds cannot tell), the answer is a code,
        // never another sign-in page.
        app.clock.advance(2);
        let q = back_to_client(&mut b, a.location).await;
        assert!(q.contains_key("code"), "{extra:?}: {q:?}");
        let (_, claims) = rp.exchange(&q["code"], pending).await;
        assert_eq!(acr(&claims), Some("password"));

        // Back without signing in again: an error for the application,
        // never another sign-in page.
        let mut c = signed_in(&app, ALICE).await;
        app.clock.advance(-1);
        let pending = rp.authorize(None, &[extra]);
        let again = c.page(&path(&app, &pending)).await.location.unwrap_or_default();
        app.clock.advance(2);
        let q = back_to_client(&mut c, Some(next_of(&again))).await;
        assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "{q:?}");
    }
}

/// The `next` of a "sign in again" address.
fn next_of(again: &str) -> String {
    let query = again.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no next in {again}"))
}
