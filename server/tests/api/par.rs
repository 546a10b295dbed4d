//! Pushed authorization requests (RFC 9126) over HTTP with PostgreSQL: the
//! client pushes its request, authenticated, and the browser carries only
//! the `request_uri`; what it is bound to (the client), how long it lives,
//! that it is taken once, that the link's own parameters are ignored, and a
//! client the console requires to push.

use super::oidc::{Pending, RelyingParty, callback, code_from, register, save_client};
use super::*;
use serde_json::Value;
use tessera_server::oidc::clients::{self, ClientKind};
use tessera_server::oidc::par::{PUSHED_REQUEST_SECS, REQUEST_URI_PREFIX};

/// Pushes these pairs as the client `id` (HTTP Basic with `secret`).
async fn push(app: &TestApp, id: &str, secret: &str, pairs: &[(String, String)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/par", app.base))
        .basic_auth(id, Some(secret))
        .form(pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The relying party's request, pushed: the browser's link then carries the
/// client and the `request_uri`, and (ignored) a forged redirect and state.
async fn pushed(app: &TestApp, rp: &RelyingParty, id: &str, secret: &str) -> Pending {
    let pending = rp.authorize(None, &[]);
    let pairs = query_pairs(&pending.url);
    let (status, body) = push(app, id, secret, &pairs).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], PUSHED_REQUEST_SECS);
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(REQUEST_URI_PREFIX), "{request_uri}");
    let mut link = url::Url::parse(&format!("{}/oauth2/authorize", app.base)).unwrap();
    link.query_pairs_mut()
        .append_pair("client_id", id)
        .append_pair("request_uri", request_uri)
        .append_pair("redirect_uri", "http://127.0.0.1:9/elsewhere")
        .append_pair("state", "forged");
    Pending {
        url: link.into(),
        ..pending
    }
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// What the browser gets for a link: the error page (400, no redirect).
async fn refused_with_a_page(app: &TestApp, b: &mut Browser, link: &str) -> String {
    let a = b.page(&link.replacen(&app.base, "", 1)).await;
    assert_eq!((a.status, a.location.as_deref()), (400, None), "{}", a.body);
    a.body
}

#[tokio::test]
async fn sec_55_a_pushed_request_is_its_clients_taken_once_within_sixty_seconds() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let secret = secret.unwrap();
    let (other, other_secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, Some(&secret)).await;
    let (_, discovery) = app.browser().get_json_at("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        format!("{}/oauth2/par", app.base)
    );
    let mut b = super::sms::signed_in(&app, ALICE).await;

    // Pushed, then followed: the code goes to the pushed redirect URI with
    // the pushed state, and the ID token has the pushed nonce.
    let pending = pushed(&app, &rp, &id, &secret).await;
    let link = pending.url.clone();
    let code = code_from(&app, &mut b, &pending).await;
    let (_, claims) = rp.exchange(&code, pending).await;
    assert_eq!(claims.subject().as_str().len(), 36);
    // Once.
    assert!(
        refused_with_a_page(&app, &mut b, &link)
            .await
            .contains("expired or was already used")
    );

    // Only its own client takes it (and the other's try leaves it whole).
    let pending = pushed(&app, &rp, &id, &secret).await;
    let theirs = pending
        .url
        .replacen(&format!("client_id={id}"), &format!("client_id={other}"), 1);
    refused_with_a_page(&app, &mut b, &theirs).await;
    code_from(&app, &mut b, &pending).await;

    // Good 59 seconds after it was pushed, not 60.
    app.clock.pin();
    let pending = pushed(&app, &rp, &id, &secret).await;
    app.clock.advance(PUSHED_REQUEST_SECS - 1);
    code_from(&app, &mut b, &pending).await;
    let pending = pushed(&app, &rp, &id, &secret).await;
    app.clock.advance(PUSHED_REQUEST_SECS);
    refused_with_a_page(&app, &mut b, &pending.url).await;

    // A forged or foreign request_uri is the same page.
    let forged = format!(
        "/oauth2/authorize?client_id={id}&request_uri={REQUEST_URI_PREFIX}{}",
        "A".repeat(43)
    );
    refused_with_a_page(&app, &mut b, &forged).await;

    // The push is checked as the authorization endpoint checks: the wrong
    // secret, another client's id, an unregistered redirect, no PKCE, a
    // request_uri inside: refused, nothing kept.
    let good = query_pairs(&rp.authorize(None, &[]).url);
    let with = |k: &str, v: Option<&str>| {
        let mut pairs: Vec<(String, String)> = good.iter().filter(|(n, _)| n != k).cloned().collect();
        pairs.extend(v.map(|v| (k.to_owned(), v.to_owned())));
        pairs
    };
    let kept = "SELECT count(*) FROM oidc_pushed_requests";
    let before = app.count(kept).await;
    let (status, body) = push(&app, &id, "wrong", &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = push(&app, &other, other_secret.as_deref().unwrap(), &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    for (pairs, error) in [
        (with("redirect_uri", Some("https://evil.example/cb")), "invalid_request"),
        (with("code_challenge", None), "invalid_request"),
        (with("request_uri", Some("urn:x")), "invalid_request"),
        (with("response_type", Some("token")), "unsupported_response_type"),
        (with("scope", Some("profile")), "invalid_scope"),
    ] {
        let (status, body) = push(&app, &id, &secret, &pairs).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{pairs:?}: {body}"
        );
        assert!(body["error_description"].is_string(), "{body}");
    }
    assert_eq!(app.count(kept).await, before);
}

#[tokio::test]
async fn a_client_the_console_requires_to_push_is_refused_a_direct_request() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let secret = secret.unwrap();
    let rp = RelyingParty::discover(&app, &id, Some(&secret)).await;
    let mut admin = super::sms::signed_in(&app, ADMIN).await;
    let require = async |admin: &mut Browser, on: bool| {
        let extra: &[(&str, &str)] = if on { &[("fields[require_par]", "true")] } else { &[] };
        assert_eq!(save_client(admin, &id, extra).await.status, 200);
        let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
        detail["require_par"].as_bool().unwrap()
    };
    let mut b = super::sms::signed_in(&app, ALICE).await;
    assert!(require(&mut admin, true).await);
    assert!(clients::find(&app.pool, &id).await.unwrap().unwrap().requires_par());

    let direct = rp.authorize(None, &[]);
    let a = b.page(&direct.url.replacen(&app.base, "", 1)).await;
    let q = callback(a.location.as_deref().expect("an error for the client"));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{q:?}");
    assert!(q["error_description"].contains("push"), "{q:?}");
    assert!(!q.contains_key("code"));
    let pending = pushed(&app, &rp, &id, &secret).await;
    code_from(&app, &mut b, &pending).await;

    assert!(!require(&mut admin, false).await);
    let direct = rp.authorize(None, &[]);
    code_from(&app, &mut b, &direct).await;
}
