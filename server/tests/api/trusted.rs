//! Trusted browsers over HTTP with PostgreSQL (SECURITY.md 41): "Don't ask
//! again on this browser" at the second step, the cookie it sets, the
//! second step it skips (never the password), and everything that forgets
//! it: its owner, expiry, a password change, the policy, removing the last
//! credential, an administrator's reset.

use super::sms::{PHONE, alice_with_2fa, outbox_code, signed_in};
use super::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

impl Browser {
    /// The password, then the code texted to PHONE, trusting this browser
    /// when `remember`; where it lands.
    async fn sign_in_with_code(&mut self, app: &TestApp, remember: bool) -> Option<String> {
        // Past the resend cooldown of the sign-in before, so a code goes out.
        app.clock.advance(120);
        let a = self.sign_in(ALICE.0, ALICE.1).await;
        assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
        let code = outbox_code(app, PHONE).await;
        let mut fields = vec![("code", code.as_str())];
        if remember {
            fields.push(("remember", "true"));
        }
        let a = self.post("signin/verify_code", &fields).await;
        assert_eq!(a.location.as_deref(), Some("/"), "{} {}", a.status, a.body);
        a.location
    }

    /// Where the password alone leads now.
    async fn password_leads_to(&mut self) -> String {
        let a = self.sign_in(ALICE.0, ALICE.1).await;
        a.location
            .unwrap_or_else(|| panic!("no redirect: {} {}", a.status, a.body))
    }
}

/// These tests sign in with a code many times: budgets that fit them.
async fn alice_with_2fa_and_room_for_codes(app: &TestApp) -> Browser {
    app.save_policy(&[("max_sends_per_number", "50"), ("max_sends_per_account", "1000")])
        .await;
    alice_with_2fa(app).await
}

async fn trusted_count(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM trusted_browsers").await
}

#[tokio::test]
async fn sec_41_a_trusted_browser_skips_the_second_step_never_the_password() {
    let app = spawn_app().await;
    app.clock.pin();
    alice_with_2fa_and_room_for_codes(&app).await;
    let mut c = app.browser();
    // The second step offers it, for the policy's 30 days.
    c.sign_in(ALICE.0, ALICE.1).await;
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["trust_days"], 30, "{challenge}");
    assert!(
        c.page("/signin/code")
            .await
            .body
            .contains("Don't ask again on this browser for 30 days")
    );
    let mut c = app.browser();
    assert_eq!(c.sign_in_with_code(&app, true).await.as_deref(), Some("/"));

    // The cookie: 256 random bits, HttpOnly, for 30 days; only its hash is kept.
    let set = c.last_trust_cookie.clone().expect("a trust cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let token = c.trust.clone().unwrap();
    assert_eq!(token.len(), 43, "32 bytes, base64url");
    let (hash, user): (Vec<u8>, uuid::Uuid) = sqlx::query_as("SELECT token_hash, user_id FROM trusted_browsers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hash, Sha256::digest(token.as_bytes()).to_vec());
    let alice: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(user, alice);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'browser.trusted'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'browser_trusted'")
            .await,
        1
    );

    // Signed out and back: the password alone signs in; no code is sent.
    let sent = app.count("SELECT count(*) FROM outbox_messages").await;
    let token_csrf = c.csrf().await;
    c.call("sign_out", &[("csrf_token", &token_csrf)]).await;
    assert_eq!(c.password_leads_to().await, "/");
    assert_eq!(app.count("SELECT count(*) FROM outbox_messages").await, sent);
    assert_eq!(c.get_json("home").await.0, 200);
    // Never the password: a wrong one is still refused.
    let mut e = app.browser();
    e.trust = Some(token.clone());
    let a = e.sign_in(ALICE.0, "not-her-password").await;
    assert_eq!(a.status, 401, "{}", a.body);

    // A forged or malformed cookie is no trust.
    for forged in ["A".repeat(43), "short".into(), format!("{token}x")] {
        let mut d = app.browser();
        d.trust = Some(forged.clone());
        assert_eq!(d.password_leads_to().await, "/signin/code", "{forged}");
    }
    // Bound to its account: Bob's sign-in in that browser asks for his code.
    app.add_account("bob", "bob-password-1", tessera::account::Role::User)
        .await;
    let mut bob = signed_in(&app, ("bob", "bob-password-1")).await;
    bob.enroll_outbox(&app, "+12015550199", "Bob's").await;
    bob.two_factor_on().await;
    let mut b2 = app.browser();
    b2.trust = Some(token.clone());
    let a = b2.sign_in("bob", "bob-password-1").await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"));

    // Listed on its owner's Sessions page, this browser marked.
    let (_, list) = c.get_json("trusted_browsers").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["current"], true);
    assert!(c.page("/account/sessions").await.body.contains("Trusted browsers"));

    // It expires after the policy's days, to the second.
    let expires_at: time::OffsetDateTime = sqlx::query_scalar("SELECT expires_at FROM trusted_browsers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let left = (expires_at - app.clock.now()).whole_seconds();
    assert!(left > 29 * 24 * 3600, "{left}");
    app.clock.advance(left - 1);
    let mut c1 = app.browser();
    c1.trust = Some(token.clone());
    assert_eq!(c1.password_leads_to().await, "/", "a second before it expires");
    app.clock.advance(1);
    let mut c2 = app.browser();
    c2.trust = Some(token);
    assert_eq!(c2.password_leads_to().await, "/signin/code");
    let mut f = app.browser();
    f.sign_in_with_code(&app, false).await;
    let (_, list) = f.get_json("trusted_browsers").await;
    assert_eq!(list, Value::Array(vec![]), "an expired one is not listed");
}

#[tokio::test]
async fn sec_41_forgetting_a_password_change_the_policy_and_the_last_credential_void_trust() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa_and_room_for_codes(&app).await;
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    // Forgotten by its owner: the next sign-in asks for the code.
    let (_, list) = alice.get_json("trusted_browsers").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let a = alice.post("trusted_browsers/forget", &[("id", &id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = alice.post("trusted_browsers/forget", &[("id", &id)]).await;
    assert_eq!(a.status, 404, "twice: {}", a.body);
    assert_eq!(c.password_leads_to().await, "/signin/code");

    // All at once.
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    let mut d = app.browser();
    d.sign_in_with_code(&app, true).await;
    assert_eq!(trusted_count(&app).await, 2);
    let a = alice.post("trusted_browsers/forget", &[("id", "all")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(trusted_count(&app).await, 0);

    // The policy stops offering it: no box, "remember" ignored, and what
    // was trusted before is not honoured.
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    app.save_policy(&[("trusted_browser_days", "0")]).await;
    assert_eq!(c.password_leads_to().await, "/signin/code");
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["trust_days"], 0);
    let mut e = app.browser();
    e.sign_in_with_code(&app, true).await;
    assert_eq!(e.trust, None, "no cookie");
    app.save_policy(&[("trusted_browser_days", "7")]).await;

    // A password change voids every trusted browser.
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    assert!(
        c.last_trust_cookie.as_deref().unwrap().contains("Max-Age=604800"),
        "7 days"
    );
    assert_eq!(c.password_leads_to().await, "/");
    let a = c
        .post(
            "password",
            &[
                ("current", ALICE.1),
                ("new", "alice-password-2"),
                ("repeat", "alice-password-2"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(trusted_count(&app).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'browser.forgotten' AND details->>'reason' = 'password_changed'")
            .await,
        1
    );
}

#[tokio::test]
async fn sec_41_removing_the_last_credential_and_an_administrators_reset_void_trust() {
    let app = spawn_app().await;
    let mut alice = alice_with_2fa_and_room_for_codes(&app).await;
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    assert_eq!(trusted_count(&app).await, 1);
    alice.remove_first_phone().await;
    assert_eq!(trusted_count(&app).await, 0, "no factor left, no trust");

    // An administrator's reset of two-factor sign-in.
    alice.enroll_outbox(&app, PHONE, "Mine").await;
    alice.two_factor_on().await;
    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    assert_eq!(trusted_count(&app).await, 1);
    // The console lists it and forgets it.
    let mut admin = signed_in(&app, ADMIN).await;
    let (_, detail) = admin.get_json("admin/user?username=alice").await;
    assert_eq!(detail["trusted_browsers"].as_array().map(Vec::len), Some(1), "{detail}");
    let a = admin.post("admin/user_forget_browsers", &[("username", "alice")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(trusted_count(&app).await, 0);
    assert_eq!(c.password_leads_to().await, "/signin/code");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE event = 'admin.user' AND details->>'action' = 'forget_browsers'"
        )
        .await,
        1
    );
    // A user cannot.
    let a = alice.post("admin/user_forget_browsers", &[("username", "alice")]).await;
    assert_eq!(a.status, 403, "{}", a.body);

    let mut c = app.browser();
    c.sign_in_with_code(&app, true).await;
    assert_eq!(trusted_count(&app).await, 1);
    let a = admin
        .post("admin/user_action", &[("username", "alice"), ("action", "reset_2fa")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(trusted_count(&app).await, 0);
}

/// Over https every cookie of ours is `__Host-` prefixed (Secure, `Path=/`,
/// no `Domain`), and the same cookie without the prefix, as a sibling
/// subdomain or a plain-http page could plant it, counts for nothing.
#[tokio::test]
async fn sec_55_over_https_the_cookies_are_host_prefixed_and_unprefixed_ones_are_ignored() {
    let app = spawn_app_with(&[("TESSERA_PUBLIC_URL", "https://tessera.example.org")]).await;
    alice_with_2fa_and_room_for_codes(&app).await;
    let mut c = app.browser();
    assert_eq!(c.sign_in_with_code(&app, true).await.as_deref(), Some("/"));
    for set in [c.last_set_cookie.clone(), c.last_trust_cookie.clone()] {
        let set = set.expect("set");
        assert!(set.starts_with("__Host-tessera_"), "{set}");
        for part in ["Secure", "HttpOnly", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Domain"), "{set}");
    }
    assert_eq!(c.get_json("home").await.0, 200);

    // The session's id under the plain name: not signed in.
    let mut planted = app.browser();
    planted.planted = Some(format!("tessera_session={}", c.cookie.clone().unwrap()));
    assert_eq!(planted.get_json("home").await.0, 401);
    // The trusted browser's token under the plain name: the second step.
    let mut planted = app.browser();
    planted.planted = Some(format!("tessera_trust={}", c.trust.clone().unwrap()));
    assert_eq!(planted.password_leads_to().await, "/signin/code");
    let mut kept = app.browser();
    kept.trust = c.trust.clone();
    assert_eq!(kept.password_leads_to().await, "/", "under its own name it works");
}
