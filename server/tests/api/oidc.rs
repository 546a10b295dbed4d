//! The OpenID Connect provider driven by a real relying-party library (the
//! `openidconnect` crate): discovery, the code flow with PKCE and nonce,
//! ID tokens checked against the JWKS, what they say was proven, max_age
//! and prompt, refusals that must never redirect, single-use codes, key
//! rotation and client authentication.

use super::sms::alice_with_2fa;
use super::*;
use openidconnect::core::{CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationContextClass, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use tessera_server::oidc::clients::{self, ClientKind, Grant, NewClient};

pub(super) const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(super) const LOGGED_OUT: &str = "http://127.0.0.1:9/signed-out";

type Rp = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A relying party: the library's client set up by discovery alone, with
/// the id and secret the command line printed.
pub(super) struct RelyingParty {
    client: Rp,
    http: openidconnect::reqwest::Client,
}

/// One authorization request as the relying party made it.
pub(super) struct Pending {
    pub(super) url: String,
    pub(super) state: CsrfToken,
    pub(super) nonce: Nonce,
    pub(super) verifier: PkceCodeVerifier,
}

pub(super) async fn register(app: &TestApp, kind: ClientKind) -> (String, Option<String>) {
    register_with(app, kind, true).await
}

/// `first_party: false`: the consent screen is shown before a code.
async fn register_with(app: &TestApp, kind: ClientKind, first_party: bool) -> (String, Option<String>) {
    let (client, secret) = clients::register(
        &mut app.pool.acquire().await.unwrap(),
        NewClient {
            id: String::new(),
            name: "Payroll".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            kind,
            grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
            first_party,
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    (client.id, secret)
}

impl RelyingParty {
    pub(super) async fn discover(app: &TestApp, id: &str, secret: Option<&str>) -> RelyingParty {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        RelyingParty { client, http }
    }

    /// An authorization URL with PKCE (S256), a nonce, the profile scope
    /// and whatever `extra` adds (acr_values, max_age, prompt).
    pub(super) fn authorize(&self, acr: Option<&str>, extra: &[(&str, &str)]) -> Pending {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(a) = acr {
            req = req.add_auth_context_value(AuthenticationContextClass::new(a.into()));
        }
        for (k, v) in extra {
            req = req.add_extra_param(*k, *v);
        }
        let (url, state, nonce) = req.url();
        Pending {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    /// Whether a refresh token still gets new tokens.
    pub(super) async fn refreshes(&self, token: &openidconnect::RefreshToken) -> bool {
        self.client
            .exchange_refresh_token(token)
            .unwrap()
            .request_async(&self.http)
            .await
            .is_ok()
    }

    /// Exchanges a code and checks the ID token (signature against the
    /// JWKS, issuer, audience, expiry, nonce) as the library does.
    pub(super) async fn exchange(
        &self,
        code: &str,
        pending: Pending,
    ) -> (openidconnect::core::CoreTokenResponse, CoreIdTokenClaims) {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .expect("token response");
        let claims = token
            .id_token()
            .expect("an ID token")
            .claims(&self.client.id_token_verifier(), &pending.nonce)
            .expect("a valid ID token")
            .clone();
        (token, claims)
    }
}

impl Browser {
    /// A JSON document at `path` (discovery, the JWKS).
    pub(super) async fn get_json_at(&mut self, path: &str) -> (u16, Value) {
        let a = self
            .send(
                self.http
                    .get(format!("{}{path}", self.base))
                    .header("accept", "application/json"),
            )
            .await;
        (a.status, serde_json::from_str(&a.body).unwrap_or(Value::Null))
    }
}

/// The administrator saves the console's application form for `id` with
/// the settings `register` gave it, and `extra` fields (ticked boxes, a
/// back-channel URI).
pub(super) async fn save_client(admin: &mut Browser, id: &str, extra: &[(&str, &str)]) -> Answer {
    let mut fields = vec![
        ("id", id),
        ("fields[name]", "Payroll"),
        ("fields[redirect_uris]", REDIRECT),
        ("grants[authorization_code]", "on"),
        ("fields[first_party]", "true"),
        ("fields[access_token_minutes]", "10"),
        ("fields[refresh_token_hours]", "720"),
    ];
    fields.extend_from_slice(extra);
    admin.post("admin/client_save", &fields).await
}

/// The fields of the sign-out confirmation (RP-initiated logout) page `a`.
pub(super) fn sign_out_form(a: &Answer) -> Vec<(&'static str, String)> {
    let field = |name: &str| {
        let at = a.body.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        a.body[at..].split('"').next().unwrap().replace("&amp;", "&")
    };
    ["csrf_token", "id_token_hint", "post_logout_redirect_uri", "state"]
        .into_iter()
        .map(|n| (n, field(n)))
        .collect()
}

/// The query of a redirect to the relying party, as pairs.
pub(super) fn callback(location: &str) -> BTreeMap<String, String> {
    assert!(location.starts_with(REDIRECT), "not sent to the client: {location}");
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Where the page that leads back to the application after a sign-in
/// form sends the browser (its refresh and its link agree).
pub(super) fn continue_target(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    let link = a
        .body
        .split("data-testid=\"continue\" href=\"")
        .nth(1)
        .expect("a continue link");
    let href = link.split('"').next().unwrap().replace("&amp;", "&");
    assert!(
        a.body
            .contains(&format!("content=\"0;url={}\"", href.replace('&', "&amp;"))),
        "{}",
        a.body
    );
    href
}

/// Follows the authorization URL in the browser to the client's callback:
/// the code (and checks the state and issuer came back).
pub(super) async fn code_from(app: &TestApp, b: &mut Browser, pending: &Pending) -> String {
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let location = a
        .location
        .unwrap_or_else(|| panic!("no redirect: {} {}", a.status, a.body));
    let q = callback(&location);
    assert_eq!(
        q.get("state").map(String::as_str),
        Some(pending.state.secret().as_str())
    );
    assert_eq!(q.get("iss").map(String::as_str), Some(app.base.as_str()));
    q.get("code").unwrap_or_else(|| panic!("no code: {location}")).clone()
}

/// How userinfo answers this access token (200: it is live).
pub(super) async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The ID token's payload as JSON (for claims the library does not name).
pub(super) fn payload(token: &openidconnect::core::CoreTokenResponse) -> Value {
    use base64::Engine;
    let jwt = token.id_token().unwrap().to_string();
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn a_relying_party_signs_alice_in_by_the_code_flow_and_validates_the_id_token() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let pending = rp.authorize(None, &[]);

    // Not signed in: the request waits while Alice signs in, then comes back.
    let mut b = app.browser();
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert_eq!(a.location.as_deref(), Some("/signin"), "{} {}", a.status, a.body);
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    let back = a.location.clone().unwrap_or_else(|| panic!("{} {}", a.status, a.body));
    assert!(back.starts_with("/oauth2/continue?request="), "{back}");
    let a = b.page(&back).await;
    let q = callback(&continue_target(&a));
    assert_eq!(q["state"], *pending.state.secret());
    let code = q["code"].clone();

    let (token, claims) = rp.exchange(&code, pending).await;
    let alice_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims.subject().as_str(), alice_id.to_string());
    // Alice has no second factor: the password is what was proven.
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("password"));
    let amr: Vec<&str> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str()).collect();
    assert_eq!(amr, ["pwd"]);
    let auth_time = claims.auth_time().expect("auth_time").timestamp();
    assert!((app.clock.now().unix_timestamp() - auth_time).abs() <= 5);
    let sid = payload(&token)["sid"].as_str().expect("sid").to_owned();
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE id::text = $1")
        .bind(&sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(listed, 1, "sid names the browser's session");

    let info: CoreUserInfoClaims = rp
        .client
        .user_info(token.access_token().clone(), None)
        .unwrap()
        .request_async(&rp.http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'oidc.authorized'")
            .await,
        1
    );

    // Signed in already: a second application request is answered at once
    // (single sign-on), and what discovery offers is what is enabled.
    let again = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &again).await;
    rp.exchange(&code, again).await;
    let (_, discovery) = b.get_json_at("/.well-known/openid-configuration").await;
    let acrs: Vec<&str> = discovery["acr_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        acrs.contains(&"sms") && acrs.contains(&"password") && acrs.contains(&"tessera"),
        "{acrs:?}"
    );
    assert!(!acrs.contains(&"recovery_code"));
}

#[tokio::test]
async fn sec_44_the_id_token_states_the_second_factor_and_max_age_and_acr_are_honoured() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    alice_with_2fa(&app).await;
    // Signed in with the phone, so that the session proved it.
    let mut b = app.browser();
    b.sign_in(ALICE.0, ALICE.1).await;
    let code = super::sms::outbox_code(&app, super::sms::PHONE).await;
    assert_eq!(b.post("signin/verify_code", &[("code", &code)]).await.status, 200);

    let pending = rp.authorize(Some("sms"), &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (_, claims) = rp.exchange(&code, pending).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("sms"));
    let amr: Vec<&str> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str()).collect();
    assert_eq!(amr, ["pwd", "sms", "mfa"]);

    // max_age: a sign-in older than asked for is done again first.
    app.clock.advance(120);
    let pending = rp.authorize(None, &[("max_age", "60")]);
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let to = a.location.unwrap();
    assert!(to.starts_with("/signin/again?next=%2Foauth2%2Fcontinue"), "{to}");
    // prompt=none never shows a page: the client hears login_required.
    let silent = rp.authorize(None, &[("max_age", "60"), ("prompt", "none")]);
    let a = b.page(&silent.url.replacen(&app.base, "", 1)).await;
    let q = callback(a.location.as_deref().unwrap());
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], *silent.state.secret());

    // An app code was asked for; an SMS sign-in does not satisfy it: after
    // signing in again (with the phone) the client hears why.
    let pending = rp.authorize(Some("otp"), &[]);
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let to = a.location.unwrap();
    assert!(to.starts_with("/signin/again?next="), "{to}");
    let next = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let a = b.post("signin/again", &[("password", ALICE.1), ("next", &next)]).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    let code = super::sms::outbox_code(&app, super::sms::PHONE).await;
    let a = b.post("signin/verify_code", &[("code", &code)]).await;
    assert_eq!(a.location.as_deref(), Some(next.as_str()), "{}", a.body);
    let a = b.page(&next).await;
    let q = callback(&continue_target(&a));
    assert_eq!(q["error"], "unmet_authentication_requirements");
}

#[tokio::test]
async fn sec_42_an_unknown_client_or_redirect_uri_gets_an_error_page_never_a_redirect() {
    let app = spawn_app().await;
    let (id, _) = register(&app, ClientKind::Confidential).await;
    let mut b = app.browser();
    let evil = "https://evil.example/cb";
    let cases = [
        format!("/oauth2/authorize?client_id=nobody&redirect_uri={REDIRECT}&response_type=code&scope=openid"),
        format!("/oauth2/authorize?client_id={id}&redirect_uri={evil}&response_type=code&scope=openid"),
        // Not even a prefix or another path on the registered host.
        format!("/oauth2/authorize?client_id={id}&redirect_uri={REDIRECT}/more&response_type=code&scope=openid"),
        format!("/oauth2/authorize?client_id={id}&response_type=code&scope=openid"),
    ];
    for path in cases {
        let a = b.page(&path).await;
        assert_eq!(a.status, 400, "{path}: {}", a.body);
        assert_eq!(a.location, None, "{path}");
        assert!(a.body.contains("This sign-in link does not work"), "{}", a.body);
    }
    // The client and redirect check out: other mistakes go back to the client.
    let a = b
        .page(&format!(
            "/oauth2/authorize?client_id={id}&redirect_uri={REDIRECT}&response_type=token&scope=openid&state=s1"
        ))
        .await;
    let q = callback(a.location.as_deref().unwrap());
    assert_eq!(q["error"], "unsupported_response_type");
    assert_eq!(q["state"], "s1");
    let a = b
        .page(&format!(
            "/oauth2/authorize?client_id={id}&redirect_uri={REDIRECT}&response_type=code&scope=profile"
        ))
        .await;
    assert_eq!(callback(a.location.as_deref().unwrap())["error"], "invalid_scope");
}

#[tokio::test]
async fn sec_43_codes_are_single_use_short_lived_and_bound_to_client_and_verifier() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let (other_id, other_secret) = register(&app, ClientKind::Confidential).await;
    let other = RelyingParty::discover(&app, &other_id, other_secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let token_at = format!("{}/oauth2/token", app.base);
    let post = |form: Vec<(&'static str, String)>, auth: (&str, &str)| {
        let http = reqwest::Client::new();
        let req = http.post(&token_at).basic_auth(auth.0, Some(auth.1)).form(&form);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };

    // Replay: the second exchange fails and the first one's tokens die.
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let verifier = pending.verifier.secret().clone();
    let (token, _) = rp.exchange(&code, pending).await;
    let access = token.access_token().secret().clone();
    assert_eq!(userinfo_status(&app, &access).await, 200);
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_verifier", verifier),
    ];
    let (status, body) = post(form, (&id, secret.as_deref().unwrap())).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(
        userinfo_status(&app, &access).await,
        401,
        "a replay revokes what the code issued"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'oidc.code_replayed'")
            .await,
        1
    );

    // Another client, a wrong verifier, a wrong redirect URI, a late code:
    // each refused, and none of them uses the code up.
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let good = pending.verifier.secret().clone();
    let form = |verifier: &str, redirect: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let (status, body) = post(form(&good, REDIRECT), (&other_id, other_secret.as_deref().unwrap())).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let wrong = "x".repeat(43);
    let (_, body) = post(form(&wrong, REDIRECT), (&id, secret.as_deref().unwrap())).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let (_, body) = post(
        form(&good, "http://127.0.0.1:9/other"),
        (&id, secret.as_deref().unwrap()),
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let (status, body) = post(form(&good, REDIRECT), (&id, "not-the-secret")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    app.clock.advance(61);
    let (_, body) = post(form(&good, REDIRECT), (&id, secret.as_deref().unwrap())).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let _ = other;

    // In time and right, the same kind of code works: to the second, 59 s
    // after it was issued, and not at 60 s.
    app.clock.pin();
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    app.clock.advance(59);
    rp.exchange(&code, pending).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    app.clock.advance(60);
    let refused = rp
        .client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(pending.verifier)
        .request_async(&rp.http)
        .await;
    assert!(refused.is_err(), "a code is dead at 60 s");
}

/// Userinfo releases the email only for the `email` scope, and says it was
/// not verified (an administrator typed it; nobody proved it is read).
#[tokio::test]
async fn the_email_is_released_for_its_scope_only_and_never_as_verified() {
    let app = spawn_app().await;
    sqlx::query("UPDATE users SET email = 'alice@example.org' WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let userinfo = async |b: &mut Browser, email_scope: bool| {
        let mut pending = rp.authorize(None, &[]);
        if email_scope {
            pending.url = pending
                .url
                .replacen("scope=openid+profile", "scope=openid+profile+email", 1);
            assert!(pending.url.contains("+email"), "{}", pending.url);
        }
        let code = code_from(&app, b, &pending).await;
        let (token, _) = rp.exchange(&code, pending).await;
        reqwest::Client::new()
            .get(format!("{}/oauth2/userinfo", app.base))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let info = userinfo(&mut b, true).await;
    assert_eq!(info["email"], "alice@example.org", "{info}");
    assert_eq!(info["email_verified"], false, "{info}");
    let info = userinfo(&mut b, false).await;
    assert_eq!(
        (&info["email"], &info["email_verified"]),
        (&Value::Null, &Value::Null),
        "{info}"
    );
    assert_eq!(info["preferred_username"], "alice");
}

/// RFC 7636 Appendix B's verifier and its S256 challenge.
pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(super) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// RFC 9700 2.1.1: every client uses PKCE unless the console lets an old
/// confidential client off; a public client never is, whatever is saved.
#[tokio::test]
async fn sec_55_pkce_is_required_of_every_client_unless_the_console_lets_a_confidential_one_off() {
    let app = spawn_app().await;
    let mut admin = super::sms::signed_in(&app, ADMIN).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let without_pkce = |id: &str| {
        format!("/oauth2/authorize?client_id={id}&redirect_uri={REDIRECT}&response_type=code&scope=openid&state=s")
    };
    let let_off = async |admin: &mut Browser, id: &str, off: bool| {
        let extra: &[(&str, &str)] = if off { &[("fields[pkce_optional]", "true")] } else { &[] };
        let a = save_client(admin, id, extra).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
        detail["pkce_optional"].as_bool().unwrap()
    };
    let token = async |id: &str, secret: Option<&str>, code: &str, verifier: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", id),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        form.extend(verifier.map(|v| ("code_verifier", v)));
        let res = reqwest::Client::new()
            .post(format!("{}/oauth2/token", app.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };

    for kind in [ClientKind::Confidential, ClientKind::Public] {
        let (id, secret) = register(&app, kind).await;
        assert_eq!(secret.is_none(), kind == ClientKind::Public);
        // By default, a request without a challenge goes back refused.
        let a = b.page(&without_pkce(&id)).await;
        let q = callback(a.location.as_deref().unwrap());
        assert_eq!(q["error"], "invalid_request", "{kind:?}");
        assert!(q["error_description"].contains("PKCE is required"), "{q:?}");
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM oidc_authorization_codes WHERE client_id = '{id}'"
            ))
            .await,
            0,
            "{kind:?}"
        );

        // Let off: only a confidential client is.
        let off = let_off(&mut admin, &id, true).await;
        assert_eq!(off, kind == ClientKind::Confidential, "{kind:?}");
        let a = b.page(&without_pkce(&id)).await;
        let q = callback(a.location.as_deref().unwrap());
        match kind {
            ClientKind::Public => assert_eq!(q["error"], "invalid_request"),
            ClientKind::Confidential => {
                let (status, body) = token(&id, secret.as_deref(), &q["code"], None).await;
                assert_eq!(status, 200, "{body}");
                // One that sends a challenge anyway is held to it.
                let with = format!(
                    "{}&code_challenge={CHALLENGE}&code_challenge_method=S256",
                    without_pkce(&id)
                );
                let q = callback(b.page(&with).await.location.as_deref().unwrap());
                let (status, body) = token(&id, secret.as_deref(), &q["code"], None).await;
                assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
                // Held again: refused again.
                assert!(!let_off(&mut admin, &id, false).await);
                let q = callback(b.page(&without_pkce(&id)).await.location.as_deref().unwrap());
                assert_eq!(q["error"], "invalid_request");
            }
        }
        // With PKCE, either kind gets its code and tokens.
        let with = format!(
            "{}&code_challenge={CHALLENGE}&code_challenge_method=S256",
            without_pkce(&id)
        );
        let q = callback(b.page(&with).await.location.as_deref().unwrap());
        let (status, body) = token(&id, secret.as_deref(), &q["code"], Some(VERIFIER)).await;
        assert_eq!(status, 200, "{kind:?} {body}");
    }
}

#[tokio::test]
async fn sec_45_signing_keys_rotate_with_the_old_key_published_until_its_tokens_expire() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT secret_hash FROM oidc_clients WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let stored = stored.unwrap();
    assert!(
        !stored
            .windows(8)
            .any(|w| secret.as_deref().unwrap().as_bytes().windows(8).any(|s| s == w))
    );

    let mut b = super::sms::signed_in(&app, ALICE).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let (_, jwks) = b.get_json_at("/oauth2/jwks").await;
    let first_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let private: Vec<u8> = sqlx::query_scalar("SELECT sealed_private FROM oidc_signing_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        app.sealer()
            .open(&format!("oidc-signing-key:{first_kid}"), &private)
            .is_some()
    );
    assert!(
        app.sealer().open("oidc-signing-key:other", &private).is_none(),
        "sealed to its kid"
    );

    // A token signed before the rotation...
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let nonce = pending.nonce.clone();
    let (before, _) = rp.exchange(&code, pending).await;

    let rotated_at = app.clock.pin();
    let new_kid = tessera_server::oidc::keys::rotate(&app.pool, &app.sealer(), rotated_at)
        .await
        .unwrap()
        .kid;
    let published = async |b: &mut Browser| {
        let (_, jwks) = b.get_json_at("/oauth2/jwks").await;
        let kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids
    };
    let signed_by = |token: &openidconnect::core::CoreTokenResponse| {
        use base64::Engine;
        let jwt = token.id_token().unwrap().to_string();
        let part = jwt.split('.').next().unwrap().to_owned();
        let header: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        header["kid"].as_str().unwrap().to_owned()
    };
    // The new key is published at once...
    assert_eq!(published(&mut b).await, [new_kid.clone(), first_kid.clone()]);
    let (_, cache) = {
        let a = b.send(b.http.get(format!("{}/oauth2/jwks", app.base))).await;
        (a.status, a.headers["cache-control"].to_str().unwrap().to_owned())
    };
    assert_eq!(cache, "public, max-age=300");
    // ...and signs only once a set cached before it has been fetched again:
    // until then the old key signs, and a relying party holding the set it
    // fetched before the rotation validates what it gets.
    app.clock.advance(299);
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    assert_eq!(signed_by(&token), first_kid, "the old key, a second before");
    app.clock.advance(1);
    let fresh = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    before
        .id_token()
        .unwrap()
        .claims(&fresh.client.id_token_verifier(), &nonce)
        .expect("a token of the retired key still validates");
    let pending = fresh.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = fresh.exchange(&code, pending).await;
    assert_eq!(signed_by(&token), new_kid, "the new key, at the second");

    // Two days after it stopped signing, every token the old key signed
    // has expired: it is gone.
    app.clock.advance(2 * 86_400 - 1);
    assert_eq!(published(&mut b).await, [new_kid.clone(), first_kid.clone()]);
    app.clock.advance(1);
    assert_eq!(published(&mut b).await, [new_kid]);
}

/// The test server's session timeouts (the defaults).
const IDLE_SECS: i64 = 30 * 60;
const ABSOLUTE_SECS: i64 = 12 * 3600;
const REFRESH_SECS: i64 = 30 * 24 * 3600;

/// SECURITY.md 56: a refresh family lives the client's lifetime from the
/// sign-in however often it rotates, no longer than its browser session
/// unless `offline_access` was granted, and never widens its scope.
#[tokio::test]
async fn sec_56_a_refresh_family_ends_with_its_session_or_offline_at_its_age_from_the_sign_in() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let refresh = async |token: &openidconnect::RefreshToken, scope: Option<&str>| {
        let mut req = rp.client.exchange_refresh_token(token).unwrap();
        if let Some(s) = scope {
            req = req.add_scope(Scope::new(s.into()));
        }
        req.request_async(&rp.http).await
    };
    let tokens = async |b: &mut Browser, offline: bool| {
        let mut pending = rp.authorize(None, &[]);
        if offline {
            pending.url = pending
                .url
                .replacen("scope=openid+profile", "scope=openid+profile+offline_access", 1);
        }
        let code = code_from(&app, b, &pending).await;
        rp.exchange(&code, pending).await.0
    };

    // Bound to its session: good while the browser's session is in use,
    // refused the second its idle timeout ends it.
    app.clock.pin();
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let first = tokens(&mut b, false).await;
    assert!(!first.scopes().unwrap().iter().any(|s| s.as_str() == "offline_access"));
    app.clock.advance(IDLE_SECS - 1);
    let second = refresh(first.refresh_token().unwrap(), None).await.expect("in use");
    app.clock.advance(1);
    let refused = refresh(second.refresh_token().unwrap(), None).await;
    assert!(refused.is_err(), "the session idled out");

    // Its absolute lifetime too, however busy the browser is.
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let mut token = tokens(&mut b, false).await.refresh_token().unwrap().clone();
    for _ in 0..(ABSOLUTE_SECS / (IDLE_SECS - 60)) {
        app.clock.advance(IDLE_SECS - 60);
        assert_eq!(b.get_json("home").await.0, 200);
        token = refresh(&token, None)
            .await
            .expect("in use")
            .refresh_token()
            .unwrap()
            .clone();
    }
    app.clock.advance(ABSOLUTE_SECS % (IDLE_SECS - 60));
    assert!(
        refresh(&token, None).await.is_err(),
        "the session reached its absolute limit"
    );

    // offline_access: past the session, until its age from the sign-in,
    // to the second, however often it rotated.
    let start = app.clock.now();
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let offline = tokens(&mut b, true).await;
    assert!(offline.scopes().unwrap().iter().any(|s| s.as_str() == "offline_access"));
    let mut token = offline.refresh_token().unwrap().clone();
    let wider = refresh(&token, Some("email")).await;
    assert!(wider.is_err(), "a refresh never widens the scope");
    for day in 1..30 {
        app.clock.advance(24 * 3600);
        let answer = refresh(&token, None)
            .await
            .unwrap_or_else(|e| panic!("day {day}: {e:?}"));
        token = answer.refresh_token().unwrap().clone();
    }
    let elapsed = (app.clock.now() - start).whole_seconds();
    app.clock.advance(REFRESH_SECS - elapsed - 1);
    let last = refresh(&token, None).await.expect("one second before its age");
    app.clock.advance(1);
    assert!(
        refresh(last.refresh_token().unwrap(), None).await.is_err(),
        "at its age"
    );
}

#[tokio::test]
async fn sec_48_refresh_tokens_rotate_reuse_revokes_the_family_and_sign_out_and_password_changes_revoke() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let userinfo = |access: &openidconnect::AccessToken| {
        let req = rp.client.user_info(access.clone(), None).unwrap();
        let http = rp.http.clone();
        async move {
            req.request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
                .await
                .is_ok()
        }
    };
    let refresh = |token: &openidconnect::RefreshToken| {
        let token = token.clone();
        let client = &rp.client;
        let http = rp.http.clone();
        async move {
            client
                .exchange_refresh_token(&token)
                .unwrap()
                .request_async(&http)
                .await
        }
    };

    // Each refresh gives a new pair; the old refresh token is spent.
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (first, _) = rp.exchange(&code, pending).await;
    let r1 = first.refresh_token().expect("a refresh token").clone();
    let second = refresh(&r1).await.expect("a refresh");
    let r2 = second.refresh_token().expect("a new refresh token").clone();
    assert_ne!(r1.secret(), r2.secret());
    assert!(userinfo(second.access_token()).await);
    let claims = second
        .id_token()
        .expect("an ID token on refresh")
        .claims(&rp.client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("password"),
        "what was proven, still"
    );

    // The spent one again: it leaked, so the whole family goes.
    assert!(refresh(&r1).await.is_err());
    assert!(!userinfo(second.access_token()).await);
    assert!(!userinfo(first.access_token()).await);
    assert!(refresh(&r2).await.is_err());
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'oidc.refresh_reused'")
            .await,
        1
    );

    // Signing out of Tessera ends what the session gave applications.
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    assert!(userinfo(token.access_token()).await);
    assert_eq!(b.post("sign_out", &[]).await.status, 200);
    assert!(!userinfo(token.access_token()).await);
    assert!(refresh(token.refresh_token().unwrap()).await.is_err());

    // So does a password change, for every session's applications.
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let mut other = super::sms::signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut other, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    let a = b
        .post(
            "password",
            &[
                ("current", ALICE.1),
                ("new", "a-new-password-2"),
                ("repeat", "a-new-password-2"),
            ],
        )
        .await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    assert!(!userinfo(token.access_token()).await);
    assert!(refresh(token.refresh_token().unwrap()).await.is_err());
}

#[tokio::test]
async fn acr_values_pick_the_method_the_second_step_asks_for_even_with_2fa_off() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    super::totp::start_of_a_step(&app);
    let mut alice = super::sms::signed_in(&app, ALICE).await;
    alice.enroll_outbox(&app, super::sms::PHONE, "Mine").await;
    let app_secret = alice.add_app(&app, "Pixel").await;

    // otp: the second step starts with the app, though the phone is
    // preferred and 2FA is off.
    let pending = rp.authorize(Some("otp"), &[]);
    let mut b = app.browser();
    assert_eq!(
        b.page(&pending.url.replacen(&app.base, "", 1))
            .await
            .location
            .as_deref(),
        Some("/signin")
    );
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    let (_, challenge) = b.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["method"], "totp", "{challenge}");
    let a = b
        .post(
            "signin/verify_code",
            &[("code", &super::totp::code_now(&app, &app_secret, 0))],
        )
        .await;
    let back = a.location.unwrap_or_else(|| panic!("{} {}", a.status, a.body));
    let q = callback(&continue_target(&b.page(&back).await));
    let (_, claims) = rp.exchange(&q["code"], pending).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("otp"));
    let amr: Vec<&str> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str()).collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);

    // sms (by its Gluu alias): the phone, with a code sent at once.
    let pending = rp.authorize(Some("stytch"), &[]);
    let mut c = app.browser();
    c.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert_eq!(
        c.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code")
    );
    let (_, challenge) = c.get_json("signin/challenge").await;
    assert_eq!(challenge["proving"]["method"], "sms", "{challenge}");
    let code = super::sms::outbox_code(&app, super::sms::PHONE).await;
    let back = c.post("signin/verify_code", &[("code", &code)]).await.location.unwrap();
    let q = callback(&continue_target(&c.page(&back).await));
    let (_, claims) = rp.exchange(&q["code"], pending).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("sms"));

    // Without a request naming a method, Alice (2FA off) signs in with the
    // password alone, and the portal is as it was.
    let mut d = app.browser();
    assert_eq!(d.sign_in(ALICE.0, ALICE.1).await.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn rp_initiated_logout_asks_first_then_signs_out_and_returns_only_to_a_registered_address() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    let hint = token.id_token().unwrap().to_string();
    let logout = |hint: &str, to: &str| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", to)
            .append_pair("state", "st-1")
            .finish();
        format!("/oauth2/end_session?{q}")
    };

    // Only a registered address, and only a hint Tessera signed.
    for path in [
        logout(&hint, "https://evil.example/bye"),
        logout(&hint, REDIRECT),
        logout(&format!("{}x", &hint[..hint.len() - 1]), LOGGED_OUT),
    ] {
        let a = b.page(&path).await;
        assert_eq!((a.status, a.location.as_deref()), (400, None), "{path}: {}", a.body);
        assert!(a.body.contains("This sign-out link does not work"));
    }

    // A link alone does not sign anyone out: it asks.
    let a = b.page(&logout(&hint, LOGGED_OUT)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Sign out of Tessera?") && a.body.contains("Payroll asked to sign you out"));
    assert_eq!(b.get_json("home").await.0, 200, "still signed in");
    let form = sign_out_form(&a);
    assert!(a.body.contains("action=\"/oauth2/end_session/confirm\""), "{}", a.body);
    // A cross-site form cannot confirm it.
    let forged = b
        .send(
            b.http
                .post(format!("{}/oauth2/end_session/confirm", app.base))
                .header("origin", "https://evil.example")
                .form(&form),
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(b.get_json("home").await.0, 200);
    // Nor does the same form posted to the endpoint itself (how an
    // application may send the request): it asks again.
    let posted = b
        .send(
            b.http
                .post(format!("{}/oauth2/end_session", app.base))
                .header("origin", app.base.clone())
                .form(&form),
        )
        .await;
    assert_eq!(posted.status, 303);
    let asked = b.page(posted.location.as_deref().unwrap()).await;
    assert!(asked.body.contains("Sign out of Tessera?"), "{}", asked.body);
    assert_eq!(b.get_json("home").await.0, 200, "still signed in");
    let a = b
        .send(
            b.http
                .post(format!("{}/oauth2/end_session/confirm", app.base))
                .header("origin", app.base.clone())
                .form(&form),
        )
        .await;
    assert_eq!(continue_target(&a), format!("{LOGGED_OUT}?state=st-1"));
    assert_eq!(b.get_json("home").await.0, 401, "signed out");
    let status = userinfo_status(&app, token.access_token().secret()).await;
    assert_eq!(status, 401, "the session's application tokens end with it");

    // Signed out already: straight back to the application.
    let a = b.page(&logout(&hint, LOGGED_OUT)).await;
    assert_eq!(a.location.as_deref(), Some(format!("{LOGGED_OUT}?state=st-1").as_str()));
}

/// A form the application's page posts, as the browser sends it from
/// another site: without our `SameSite=Lax` session cookie.
async fn posted_from_the_application(app: &TestApp, path: &str, pairs: &[(String, String)]) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", app.base))
        .header("origin", "https://payroll.example")
        .header("sec-fetch-site", "cross-site")
        .header("accept", "text/html")
        .form(pairs)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_authorization_and_sign_out_endpoints_take_a_posted_form_as_their_link() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;

    // The request a link would carry, posted: the browser is sent to that
    // link, and no session is started or touched on the way.
    let pending = rp.authorize(None, &[]);
    let pairs: Vec<(String, String)> = url::Url::parse(&pending.url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let res = posted_from_the_application(&app, "/oauth2/authorize", &pairs).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers().get("set-cookie").is_none(), "{:?}", res.headers());
    let link = res.headers()["location"].to_str().unwrap().to_owned();
    let linked: Vec<(String, String)> = url::Url::parse(&format!("{}{link}", app.base))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        (link.split('?').next().unwrap(), &linked),
        ("/oauth2/authorize", &pairs)
    );
    // Followed with the cookie, as a browser follows it: the signed-in
    // person's code, good at the token endpoint.
    let a = b.page(&link).await;
    let q = callback(a.location.as_deref().unwrap());
    assert_eq!(q["state"], *pending.state.secret());
    let (token, _) = rp.exchange(&q["code"], pending).await;
    assert_eq!(userinfo_status(&app, token.access_token().secret()).await, 200);

    // Sign-out posted the same way: the link, which asks first.
    let pairs = vec![
        ("client_id".to_owned(), id.clone()),
        ("post_logout_redirect_uri".to_owned(), LOGGED_OUT.to_owned()),
        ("state".to_owned(), "st-2".to_owned()),
    ];
    let res = posted_from_the_application(&app, "/oauth2/end_session", &pairs).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers().get("set-cookie").is_none());
    let link = res.headers()["location"].to_str().unwrap().to_owned();
    let a = b.page(&link).await;
    assert!(a.body.contains("Payroll asked to sign you out"), "{}", a.body);
    assert_eq!(b.get_json("home").await.0, 200, "still signed in");

    // What is not a form is refused with words, not passed on.
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/authorize", app.base))
        .header("content-type", "application/json")
        .body(r#"{"client_id":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert!(res.text().await.unwrap().contains("does not read"));
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_grant_and_nobody_elses() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let (other_id, other_secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let revoke = |token: String, who: (String, String)| {
        let url = format!("{}/oauth2/revoke", app.base);
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .basic_auth(who.0, Some(who.1))
                .form(&[("token", token), ("token_type_hint", "refresh_token".to_owned())])
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    let refresh = token.refresh_token().unwrap().secret().clone();
    let access = token.access_token().secret().clone();
    let mine = (id.clone(), secret.clone().unwrap());
    let theirs = (other_id, other_secret.unwrap());

    // Another client cannot revoke it (and is told nothing), nor can a
    // wrong secret; an unknown token is answered the same.
    assert_eq!(revoke(refresh.clone(), theirs).await, 200);
    assert_eq!(userinfo_status(&app, &access).await, 200);
    assert_eq!(revoke(refresh.clone(), (id.clone(), "wrong".into())).await, 401);
    assert_eq!(revoke("no-such-token".into(), mine.clone()).await, 200);
    assert_eq!(userinfo_status(&app, &access).await, 200);

    // The client's credentials in the body (client_secret_post) do as well.
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", app.base))
        .form(&[
            ("token", refresh.as_str()),
            ("client_id", &mine.0),
            ("client_secret", &mine.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        userinfo_status(&app, &access).await,
        401,
        "the grant's access token goes too"
    );
    let again = rp
        .client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(again.is_err());
}

/// A client of the password grant (and nothing else), and its credentials.
pub(super) async fn register_password_client(app: &TestApp) -> (String, String) {
    register_confidential_with_grants(app, "Terminal", vec![Grant::Password]).await
}

/// A first-party confidential client of these grants only, and its credentials.
async fn register_confidential_with_grants(app: &TestApp, name: &str, grants: Vec<Grant>) -> (String, String) {
    let (client, secret) = clients::register(
        &mut app.pool.acquire().await.unwrap(),
        NewClient {
            id: String::new(),
            name: name.into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            kind: ClientKind::Confidential,
            grants,
            first_party: true,
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    (client.id, secret.unwrap())
}

/// A token request with HTTP Basic client credentials: status, body, and
/// the `Retry-After` header if any.
pub(super) async fn token_request(
    app: &TestApp,
    client: &(String, String),
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(&client.0, Some(&client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap(), retry)
}

pub(super) const MFA_OTP: &str = "urn:tessera:params:oauth:grant-type:mfa-otp";

/// The claims of an ID token in a token response (signature checked by the
/// relying-party tests; here what it says).
pub(super) fn id_claims(body: &Value) -> Value {
    use base64::Engine;
    let part = body["id_token"]
        .as_str()
        .expect("an ID token")
        .split('.')
        .nth(1)
        .unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn sec_55_an_access_token_is_good_a_second_before_its_lifetime_and_refused_at_it() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    app.clock.pin();
    let (token, _) = rp.exchange(&code, pending).await;
    let lifetime = i64::from(clients::DEFAULT_ACCESS_TOKEN_SECS);
    assert_eq!(token.expires_in().map(|d| d.as_secs()), Some(lifetime as u64));
    let access = token.access_token().secret();
    app.clock.advance(lifetime - 1);
    assert_eq!(userinfo_status(&app, access).await, 200, "a second before");
    app.clock.advance(1);
    assert_eq!(userinfo_status(&app, access).await, 401, "at its end");
}

#[tokio::test]
async fn sec_47_an_mfa_token_lives_as_long_as_a_code_to_the_second() {
    let app = spawn_app().await;
    let client = register_password_client(&app).await;
    // An app's code is always fresh, so only the mfa_token's own life counts.
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let secret = b.add_app(&app, "Phone").await;
    let a = b.post("credentials/two_factor", &[("enabled", "true")]).await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    let lifetime = i64::from(tessera::policy::Policy::default().code_lifetime_secs);
    let mfa_token = async || {
        let (status, body, _) = token_request(
            &app,
            &client,
            &[("grant_type", "password"), ("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["expires_in"], lifetime, "{body}");
        body["mfa_token"].as_str().unwrap().to_owned()
    };
    let finish = async |mfa: &str| {
        let code = super::totp::code_now(&app, &secret, 0).replace(' ', "");
        token_request(
            &app,
            &client,
            &[("grant_type", MFA_OTP), ("mfa_token", mfa), ("otp", &code)],
        )
        .await
    };
    app.clock.pin();
    let mfa = mfa_token().await;
    app.clock.advance(lifetime - 1);
    let (status, body, _) = finish(&mfa).await;
    assert_eq!(status, 200, "a second before: {body}");
    let mfa = mfa_token().await;
    app.clock.advance(lifetime);
    let (status, body, _) = finish(&mfa).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "at its end: {body}"
    );
}

#[tokio::test]
async fn sec_47_the_password_grant_issues_tokens_only_once_the_password_and_the_code_are_proved() {
    let app = spawn_app().await;
    let client = register_password_client(&app).await;
    let (other_id, other_secret) = register(&app, ClientKind::Confidential).await;
    let other = (other_id, other_secret.unwrap());
    alice_with_2fa(&app).await;
    let phone = super::sms::PHONE;

    // Password first: no tokens yet, an mfa_token, a code on its way.
    let (status, body, _) = token_request(
        &app,
        &client,
        &[
            ("grant_type", "password"),
            ("username", ALICE.0),
            ("password", ALICE.1),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("mfa_required")), "{body}");
    assert!(body.get("access_token").is_none());
    let mfa = body["mfa_token"].as_str().unwrap().to_owned();
    let code = super::sms::outbox_code(&app, phone).await;
    // Not another client's, not a wrong code, not without a code.
    let finish = |mfa: &str, otp: &str| {
        vec![
            ("grant_type", MFA_OTP.to_owned()),
            ("mfa_token", mfa.to_owned()),
            ("otp", otp.to_owned()),
        ]
    };
    let as_pairs = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let (status, body, _) = token_request_owned(&app, &other, &as_pairs(&finish(&mfa, &code))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (_, body, _) = token_request_owned(&app, &client, &as_pairs(&finish(&mfa, wrong))).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let (_, body, _) = token_request(&app, &client, &[("grant_type", MFA_OTP), ("mfa_token", &mfa)]).await;
    assert_eq!(body["error"], "invalid_request", "{body}");
    // The code: tokens, stating both factors.
    let (status, body, _) = token_request_owned(&app, &client, &as_pairs(&finish(&mfa, &code))).await;
    assert_eq!(status, 200, "{body}");
    let claims = id_claims(&body);
    assert_eq!(claims["acr"], "sms");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));
    assert_eq!(userinfo_status(&app, body["access_token"].as_str().unwrap()).await, 200);
    // The mfa_token is spent.
    let (_, body, _) = token_request_owned(&app, &client, &as_pairs(&finish(&mfa, &code))).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // Username first (Janssen's order): the code, then the password with it.
    // The code goes out after the answer (its time says nothing).
    let texts = app.count("SELECT count(*) FROM outbox_messages").await;
    let (status, body, _) = token_request(&app, &client, &[("grant_type", "password"), ("username", ALICE.0)]).await;
    assert_eq!(status, 403, "{body}");
    let mfa = body["mfa_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count_reaching("SELECT count(*) FROM outbox_messages", texts + 1)
            .await,
        texts + 1
    );
    let code = super::sms::outbox_code(&app, phone).await;
    let (_, body, _) = token_request_owned(&app, &client, &as_pairs(&finish(&mfa, &code))).await;
    assert_eq!(body["error"], "invalid_request", "the password is still owed: {body}");
    let mut with_password = finish(&mfa, &code);
    with_password.push(("password", "not-the-password".into()));
    let (_, body, _) = token_request_owned(&app, &client, &as_pairs(&with_password)).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let wrong_password_words = body["error_description"].clone();
    with_password.pop();
    with_password.push(("password", ALICE.1.into()));
    let (status, body, _) = token_request_owned(&app, &client, &as_pairs(&with_password)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(id_claims(&body)["amr"], serde_json::json!(["pwd", "sms", "mfa"]));

    // An unknown username gets the same first answer, and the same refusal.
    let (status, body, _) = token_request(&app, &client, &[("grant_type", "password"), ("username", "nobody")]).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("mfa_required")), "{body}");
    let mut f = finish(body["mfa_token"].as_str().unwrap(), "123456");
    f.push(("password", "whatever-it-is".into()));
    let (_, body, _) = token_request_owned(&app, &client, &as_pairs(&f)).await;
    assert_eq!(
        (body["error"].clone(), body["error_description"].clone()),
        ("invalid_grant".into(), wrong_password_words)
    );

    // Without a second factor the password alone gets tokens (the client's
    // credentials in the body this time); a client not allowed this grant
    // gets none.
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(id_claims(&body)["acr"], "password");
    let (_, body, _) = token_request(
        &app,
        &other,
        &[("grant_type", "password"), ("username", ADMIN.0), ("password", ADMIN.1)],
    )
    .await;
    assert_eq!(body["error"], "unauthorized_client", "{body}");
}

async fn token_request_owned(
    app: &TestApp,
    client: &(String, String),
    form: &[(&str, String)],
) -> (u16, Value, Option<String>) {
    let borrowed: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token_request(app, client, &borrowed).await
}

#[tokio::test]
async fn sec_46_the_password_grant_keeps_the_sign_in_throttle_and_never_says_who_exists() {
    let app = spawn_app().await;
    let client = register_password_client(&app).await;
    let attempt = |user: &'static str| {
        let form = [
            ("grant_type", "password"),
            ("username", user),
            ("password", "wrong-password-1"),
        ];
        let (app, client) = (&app, &client);
        async move { token_request(app, client, &form).await }
    };
    let (_, unknown, _) = attempt("nobody").await;
    let (_, wrong, _) = attempt(ALICE.0).await;
    assert_eq!(
        unknown, wrong,
        "the same answer for an unknown user and a wrong password"
    );
    assert_eq!(wrong["error"], "invalid_grant");
    // The pages' per-account throttle (5 by default) holds here too.
    let mut last = (0, Value::Null, None);
    for _ in 0..5 {
        last = attempt(ALICE.0).await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!(
        (last.0, last.1["error"].as_str()),
        (429, Some("slow_down")),
        "{}",
        last.1
    );
    assert!(last.2.is_some_and(|s| s.parse::<u64>().unwrap() > 0), "Retry-After");
    // Even the right password waits now, through the grant or the page.
    let (status, _, _) = token_request(
        &app,
        &client,
        &[("grant_type", "password"), ("username", ALICE.0), ("password", ALICE.1)],
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(app.browser().sign_in(ALICE.0, ALICE.1).await.status, 429);
}

/// Answers a consent screen (`allow` or `deny`) as its form does.
async fn answer_consent(app: &TestApp, b: &mut Browser, screen: &Answer, answer: &str) -> Answer {
    assert_eq!(screen.status, 200, "{}", screen.body);
    assert!(
        screen.body.contains("data-testid=\"consent-allow\""),
        "not the consent screen: {}",
        screen.body
    );
    let field = |name: &str| {
        let at = screen.body.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        screen.body[at..].split('"').next().unwrap().replace("&amp;", "&")
    };
    let form = [
        ("csrf_token", field("csrf_token")),
        ("request", field("request")),
        ("answer", answer.to_owned()),
    ];
    b.send(
        b.http
            .post(format!("{}/oauth2/consent", app.base))
            .header("origin", app.base.clone())
            .form(&form),
    )
    .await
}

#[tokio::test]
async fn an_application_that_is_not_first_party_asks_consent_once_and_a_refusal_tells_it_access_denied() {
    let app = spawn_app().await;
    let (id, secret) = register_with(&app, ClientKind::Confidential, false).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;

    // prompt=none cannot show the screen: consent_required.
    let pending = rp.authorize(None, &[("prompt", "none")]);
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let q = callback(a.location.as_deref().unwrap_or_else(|| panic!("{}", a.body)));
    assert_eq!(q["error"], "consent_required");

    // The screen says who asks and what it will learn; Cancel tells the
    // application access_denied and remembers nothing.
    let pending = rp.authorize(None, &[]);
    let screen = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert!(screen.body.contains("Allow Payroll to sign you in?"), "{}", screen.body);
    assert!(screen.body.contains("See your name and username"));
    assert!(!screen.body.contains("See your email address"));
    let q = callback(&continue_target(&answer_consent(&app, &mut b, &screen, "deny").await));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], *pending.state.secret());
    assert_eq!(app.count("SELECT count(*) FROM oidc_authorization_codes").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM oidc_consents").await, 0);

    // The same screen cannot be answered twice.
    let again = answer_consent(&app, &mut b, &screen, "allow").await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(app.count("SELECT count(*) FROM oidc_consents").await, 0);

    // Allow: a code, and the answer is remembered for these scopes.
    let pending = rp.authorize(None, &[]);
    let screen = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let q = callback(&continue_target(&answer_consent(&app, &mut b, &screen, "allow").await));
    assert_eq!(q["state"], *pending.state.secret());
    let (token, _) = rp.exchange(&q["code"], pending).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    rp.exchange(&code, pending).await;

    // Asked again for a scope not allowed yet, and when the application
    // asks for the screen (prompt=consent).
    let with_email = rp.authorize(None, &[]).url.replacen(&app.base, "", 1);
    let with_email = with_email
        .replacen("scope=openid+profile", "scope=openid+profile+email", 1)
        .replacen("scope=openid%20profile", "scope=openid%20profile%20email", 1);
    assert!(with_email.contains("email"), "{with_email}");
    let prompt_consent = rp
        .authorize(None, &[("prompt", "consent")])
        .url
        .replacen(&app.base, "", 1);
    for path in [with_email, prompt_consent] {
        let screen = b.page(&path).await;
        assert!(
            screen.body.contains("Allow Payroll"),
            "{path}: {} {:?}",
            screen.status,
            screen.location
        );
        assert_eq!(
            screen.body.contains("See your email address"),
            path.contains("email"),
            "{path}"
        );
    }

    // The Applications page lists it; revoking ends its tokens and the
    // consent, so the next sign-in asks again.
    let (status, apps) = b.get_json("applications").await;
    assert_eq!(status, 200);
    assert_eq!(apps[0]["client_id"], id.as_str(), "{apps}");
    assert_eq!(apps[0]["has_access"], true);
    assert!(
        apps[0]["may"].to_string().contains("See your name and username"),
        "{apps}"
    );
    assert_eq!(userinfo_status(&app, token.access_token().secret()).await, 200);
    let a = b.post("applications/revoke", &[("client_id", &id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(userinfo_status(&app, token.access_token().secret()).await, 401);
    let refreshed = rp
        .client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(refreshed.is_err(), "the refresh token was revoked");
    let (_, apps) = b.get_json("applications").await;
    assert_eq!(apps[0]["has_access"], false, "{apps}");
    let pending = rp.authorize(None, &[]);
    let screen = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert!(screen.body.contains("Allow Payroll"), "asked again after revoking");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event IN ('oidc.consented', 'oidc.consent_denied', 'oidc.app_revoked')")
            .await,
        3
    );

    // Nobody revokes an application for someone else, or one never used.
    let mut bob = app.browser();
    app.add_account("bob", "bob-password-1", Role::User).await;
    bob.sign_in("bob", "bob-password-1").await;
    assert_eq!(bob.post("applications/revoke", &[("client_id", &id)]).await.status, 404);
    let (_, apps) = bob.get_json("applications").await;
    assert_eq!(apps, serde_json::json!([]));

    // A remembered consent is its person's: Alice allows it again, Bob is
    // still asked.
    let q = callback(&continue_target(&answer_consent(&app, &mut b, &screen, "allow").await));
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(app.count("SELECT count(*) FROM oidc_consents").await, 1);
    let pending = rp.authorize(None, &[]);
    let theirs = bob.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert!(theirs.body.contains("Allow Payroll"), "{}", theirs.body);
}

/// The second step's first method after signing in for `pending`
/// ("none": no second step).
async fn method_asked_first(app: &TestApp, pending: &Pending) -> String {
    let mut b = app.browser();
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    assert_eq!(a.location.as_deref(), Some("/signin"), "{} {}", a.status, a.body);
    let a = b.sign_in(ALICE.0, ALICE.1).await;
    if a.location.as_deref().is_some_and(|l| l.starts_with("/oauth2/continue")) {
        return "none".into();
    }
    assert_eq!(a.location.as_deref(), Some("/signin/code"), "{}", a.body);
    let (_, challenge) = b.get_json("signin/challenge").await;
    challenge["proving"]["method"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_console_registers_an_application_shows_its_secret_once_and_its_acr_defaults_apply() {
    let app = spawn_app().await;
    let mut admin = super::sms::signed_in(&app, ADMIN).await;

    // Bad input names its field; nothing is written.
    let a = admin
        .post(
            "admin/client_add",
            &[("name", " "), ("redirect_uris", REDIRECT), ("kind", "confidential")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(super::sms::field_error(&a, "name"), "Give the application a name.");
    let a = admin
        .post(
            "admin/client_add",
            &[
                ("name", "Wiki"),
                ("redirect_uris", "http://wiki.example/cb"),
                ("kind", "confidential"),
            ],
        )
        .await;
    assert!(
        super::sms::field_error(&a, "redirect_uris").contains("must use https"),
        "{}",
        a.body
    );
    assert_eq!(app.count("SELECT count(*) FROM oidc_clients").await, 0);

    let a = admin
        .post(
            "admin/client_add",
            &[
                ("name", "Wiki"),
                ("redirect_uris", REDIRECT),
                ("kind", "confidential"),
                ("first_party", "true"),
            ],
        )
        .await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    let (_, list) = admin.get_json("admin/clients").await;
    assert_eq!(list[0]["name"], "Wiki", "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // The secret is shown once, and works.
    let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
    let secret = detail["new_secret"].as_str().expect("the new secret").to_owned();
    let (_, again) = admin.get_json(&format!("admin/client?id={id}")).await;
    assert_eq!(again["new_secret"], Value::Null, "shown once");
    assert_eq!(again["access_token_minutes"], 10);

    // Defaults: the server's acr (2FA policy), else the client's; a client
    // limited to some acrs gets only those.
    super::totp::start_of_a_step(&app);
    let mut alice = super::sms::signed_in(&app, ALICE).await;
    alice.enroll_outbox(&app, super::sms::PHONE, "Mine").await;
    alice.add_app(&app, "Pixel").await;
    let rp = RelyingParty::discover(&app, &id, Some(&secret)).await;
    assert_eq!(
        method_asked_first(&app, &rp.authorize(None, &[])).await,
        "none",
        "2FA is off"
    );
    let (_, policy) = admin.get_json("admin/policy").await;
    let version = policy["version"].to_string();
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[default_acr]", "otp"), ("version", &version)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        method_asked_first(&app, &rp.authorize(None, &[])).await,
        "totp",
        "the server's default"
    );
    let save = |default_acr: &'static str, allowed: &'static [&'static str]| {
        let mut fields: Vec<(String, String)> = vec![
            ("id".into(), id.clone()),
            ("fields[name]".into(), "Wiki".into()),
            ("fields[redirect_uris]".into(), REDIRECT.into()),
            ("grants[authorization_code]".into(), "on".into()),
            ("fields[default_acr]".into(), default_acr.into()),
            ("fields[first_party]".into(), "true".into()),
            ("fields[access_token_minutes]".into(), "5".into()),
            ("fields[refresh_token_hours]".into(), "24".into()),
        ];
        fields.extend(allowed.iter().map(|a| (format!("acrs[{a}]"), "on".to_owned())));
        fields
    };
    for (default_acr, allowed, asked, expected) in
        [("sms", &[][..], None, "sms"), ("", &["sms"][..], Some("otp"), "sms")]
    {
        let fields = save(default_acr, allowed);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let a = admin.post("admin/client_save", &pairs).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let pending = rp.authorize(asked, &[]);
        assert_eq!(
            method_asked_first(&app, &pending).await,
            expected,
            "{default_acr} {allowed:?} {asked:?}"
        );
    }
    let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
    assert_eq!(detail["access_token_minutes"], 5);
    assert_eq!(detail["refresh_token_hours"], 24);
    assert_eq!(
        app.count(&format!(
            "SELECT refresh_token_secs::bigint FROM oidc_clients WHERE id = '{id}'"
        ))
        .await,
        86_400
    );
    assert_eq!(detail["grants"], serde_json::json!(["authorization_code"]));
    // A default outside the allowed acrs, a lifetime out of range: named.
    let mut fields = save("otp", &["sms"]);
    fields.retain(|(k, _)| k != "fields[access_token_minutes]");
    fields.push(("fields[access_token_minutes]".into(), "0".into()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = admin.post("admin/client_save", &pairs).await;
    assert_eq!(a.status, 422, "{}", a.body);
    super::sms::field_error(&a, "access_token_minutes");
    super::sms::field_error(&a, "default_acr");
    let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
    assert_eq!(detail["access_token_minutes"], 5, "nothing half-saved");

    // A new secret replaces the old at once.
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", "nothing")];
    assert_eq!(
        token_request(&app, &(id.clone(), secret.clone()), &refresh).await.0,
        400
    );
    assert_eq!(admin.post("admin/client_secret", &[("id", &id)]).await.status, 200);
    let (_, detail) = admin.get_json(&format!("admin/client?id={id}")).await;
    let new_secret = detail["new_secret"].as_str().expect("the new secret").to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(token_request(&app, &(id.clone(), secret), &refresh).await.0, 401);
    assert_eq!(token_request(&app, &(id.clone(), new_secret), &refresh).await.0, 400);

    // Removal asks first, then takes the client and what it holds.
    assert_eq!(admin.post("admin/client_delete", &[("id", &id)]).await.status, 409);
    let a = admin
        .post("admin/client_delete", &[("id", &id), ("confirm", "true")])
        .await;
    assert!(a.status < 400, "{} {}", a.status, a.body);
    assert_eq!(app.count("SELECT count(*) FROM oidc_clients").await, 0);
    assert_eq!(admin.get_json(&format!("admin/client?id={id}")).await.0, 404);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'admin.client'")
            .await,
        5,
        "added, two changes, a new secret, removed (not the refused change)"
    );
}

#[tokio::test]
async fn a_browser_application_reads_token_answers_from_its_own_origin_only() {
    let app = spawn_app().await;
    let (public, _) = register(&app, ClientKind::Public).await;
    let (confidential, secret) = register(&app, ClientKind::Confidential).await;
    let own = "http://127.0.0.1:9";
    let http = reqwest::Client::new();
    let allow_origin = |res: &reqwest::Response| {
        res.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let token_from = |origin: &'static str, id: &str, secret: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", "not-a-code".to_owned()),
            ("client_id", id.to_owned()),
        ];
        if let Some(s) = secret {
            form.push(("client_secret", s.to_owned()));
        }
        http.post(format!("{}/oauth2/token", app.base))
            .header("origin", origin)
            .form(&form)
            .send()
    };

    // The public client's page may read even an error; another page may not.
    let res = token_from(own, &public, None).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(allow_origin(&res).as_deref(), Some(own));
    let res = token_from("https://evil.example", &public, None).await.unwrap();
    assert_eq!((res.status().as_u16(), allow_origin(&res)), (400, None));
    // A confidential client is not a browser application.
    let res = token_from(own, &confidential, secret.as_deref()).await.unwrap();
    assert_eq!((res.status().as_u16(), allow_origin(&res)), (400, None));
    // Revocation likewise.
    let res = http
        .post(format!("{}/oauth2/revoke", app.base))
        .header("origin", own)
        .form(&[("token", "x"), ("client_id", public.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), allow_origin(&res).as_deref()), (200, Some(own)));

    // A preflight may send; discovery, the JWKS and userinfo are readable anywhere.
    let res = http
        .request(http::Method::OPTIONS, format!("{}/oauth2/token", app.base))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(allow_origin(&res).as_deref(), Some("https://spa.example"));
    for path in ["/.well-known/openid-configuration", "/oauth2/jwks"] {
        let res = http
            .get(format!("{}{path}", app.base))
            .header("origin", "https://spa.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(allow_origin(&res).as_deref(), Some("*"), "{path}");
    }
    let res = http
        .request(http::Method::OPTIONS, format!("{}/oauth2/userinfo", app.base))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(allow_origin(&res).as_deref(), Some("*"));
    let allowed_headers = res
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase());
    assert!(allowed_headers.is_some_and(|h| h.contains("authorization")));
}

#[tokio::test]
async fn a_method_the_user_lacks_is_refused_or_enrolled_during_the_sign_in_as_the_policy_says() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let path = |p: &Pending| p.url.replacen(&app.base, "", 1);

    // Refuse (the default): the password alone, then the application hears
    // that its requirement was not met.
    let pending = rp.authorize(Some("otp"), &[]);
    let mut b = app.browser();
    b.page(&path(&pending)).await;
    let back = b.sign_in(ALICE.0, ALICE.1).await.location.unwrap();
    assert!(back.starts_with("/oauth2/continue"), "{back}");
    let q = callback(&continue_target(&b.page(&back).await));
    assert_eq!(q["error"], "unmet_authentication_requirements");

    // Enroll: the sign-in stops at enrolling, offering only the method asked for.
    let mut admin = super::sms::signed_in(&app, ADMIN).await;
    let (_, policy) = admin.get_json("admin/policy").await;
    let version = policy["version"].to_string();
    let a = admin
        .post(
            "admin/policy_save",
            &[("fields[missing_method]", "enroll"), ("version", &version)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let pending = rp.authorize(Some("otp"), &[]);
    let mut c = app.browser();
    c.page(&path(&pending)).await;
    assert_eq!(
        c.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/enroll")
    );
    let (_, view) = c.get_json("credentials").await;
    assert_eq!(view["enabled_methods"], serde_json::json!(["totp"]), "{view}");
    let page = c.page("/signin/enroll").await;
    assert!(page.body.contains("Add an authenticator app") && !page.body.contains("Add a phone"));
    super::totp::start_of_a_step(&app);
    assert_eq!(c.post("totp/start", &[("nickname", "Pixel")]).await.status, 200);
    let app_secret = super::totp::setup_secret(&mut c).await;
    let a = c
        .post("totp/verify", &[("code", &super::totp::code_now(&app, &app_secret, 0))])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Enrolling is not proving (SECURITY.md 49): the app is Alice's now,
    // but this sign-in proved the password alone.
    let back = a.location.expect("back to the application's request");
    let q = callback(&continue_target(&c.page(&back).await));
    assert_eq!(q["error"], "unmet_authentication_requirements");

    // An account with a factor (now the app) proves it first: nothing is
    // enrolled in its stead.
    let pending = rp.authorize(Some("sms"), &[]);
    let mut d = app.browser();
    d.page(&path(&pending)).await;
    assert_eq!(
        d.sign_in(ALICE.0, ALICE.1).await.location.as_deref(),
        Some("/signin/code"),
        "an account with a factor proves it first"
    );
}

#[tokio::test]
async fn the_applications_login_hint_fills_in_the_username() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let pending = rp.authorize(None, &[("login_hint", "alice\"><b>")]);
    let mut b = app.browser();
    let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let to = a.location.unwrap_or_else(|| panic!("{}", a.body));
    assert_eq!(to, "/signin?login_hint=alice%22%3E%3Cb%3E");
    let page = b.page(&to).await;
    assert!(page.body.contains("value=\"alice&quot;"), "{}", page.body);
    assert!(!page.body.contains("alice\"><b>"), "escaped");
}

#[tokio::test]
async fn a_first_party_application_is_revoked_on_the_applications_page_too() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    let (_, apps) = b.get_json("applications").await;
    assert_eq!(apps[0]["client_id"], id.as_str(), "{apps}");
    // No consent to forget (first-party): its tokens still go.
    let a = b.post("applications/revoke", &[("client_id", &id)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(userinfo_status(&app, token.access_token().secret()).await, 401);
}

#[tokio::test]
async fn a_kept_request_waits_thirty_minutes_and_only_for_its_client_as_registered() {
    let app = spawn_app_with(&[("TESSERA_SESSION_IDLE_MINUTES", "120")]).await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    // Thirty minutes on to the second (a pinned clock), the sign-in still
    // answers the application; one second more, it does not.
    app.clock.pin();
    for (wait, answered) in [(30 * 60, true), (30 * 60 + 1, false)] {
        let pending = rp.authorize(None, &[]);
        let mut b = app.browser();
        let a = b.page(&pending.url.replacen(&app.base, "", 1)).await;
        assert_eq!(a.location.as_deref(), Some("/signin"));
        app.clock.advance(wait);
        let back = b.sign_in(ALICE.0, ALICE.1).await.location.unwrap();
        let a = b.page(&back).await;
        if answered {
            assert!(callback(&continue_target(&a)).contains_key("code"), "{wait}");
        } else {
            assert_eq!(a.status, 400, "{wait}");
            assert!(a.body.contains("This sign-in took too long"), "{}", a.body);
        }
    }
    // The client's redirect URI removed meanwhile: an error page, no redirect.
    let pending = rp.authorize(None, &[]);
    let mut b = app.browser();
    b.page(&pending.url.replacen(&app.base, "", 1)).await;
    let mut settings = clients::find(&app.pool, &id).await.unwrap().unwrap().settings();
    settings.redirect_uris = vec!["https://elsewhere.example/cb".into()];
    assert!(clients::update(&app.pool, &id, &settings).await.unwrap());
    let back = b.sign_in(ALICE.0, ALICE.1).await.location.unwrap();
    let a = b.page(&back).await;
    assert_eq!((a.status, a.location.as_deref()), (400, None));
    assert!(
        a.body.contains("This application is not registered here."),
        "{}",
        a.body
    );
}

/// RFC 8252 7.3: a loopback IP redirect URI is taken with any port (a
/// native app listens where the system lets it), nothing else about it may
/// differ, and its code is exchanged only with the URI it was sent to.
#[tokio::test]
async fn a_loopback_redirect_uri_takes_any_port_and_its_code_only_that_uri() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let secret = secret.unwrap();
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let ported = "http://127.0.0.1:53124/callback";
    let authorize = |redirect: &str| {
        format!(
            "/oauth2/authorize?client_id={id}&redirect_uri={redirect}&response_type=code&scope=openid&state=s1\
             &code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    };
    for wrong in [
        "http://127.0.0.1:53124/callback/more",
        "http://127.0.0.1:53124/x/../callback",
        "https://127.0.0.1:53124/callback",
        "http://localhost:53124/callback",
    ] {
        let a = b.page(&authorize(wrong)).await;
        assert_eq!(a.status, 400, "{wrong}: {}", a.body);
        assert_eq!(a.location, None, "{wrong}");
    }
    let mut code = async || {
        let a = b.page(&authorize(ported)).await;
        let location = a.location.unwrap_or_else(|| panic!("{} {}", a.status, a.body));
        assert!(location.starts_with(&format!("{ported}?")), "{location}");
        let url = url::Url::parse(&location).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned());
        code.expect("a code")
    };
    let exchange = async |code: &str, redirect: &str| {
        let res = reqwest::Client::new()
            .post(format!("{}/oauth2/token", app.base))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    let first = code().await;
    let (status, body) = exchange(&first, REDIRECT).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let second = code().await;
    let (status, body) = exchange(&second, ported).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string(), "{body}");
}

#[tokio::test]
async fn offline_access_is_granted_only_to_a_client_that_may_refresh() {
    let app = spawn_app().await;
    let client = register_confidential_with_grants(&app, "Reports", vec![Grant::AuthorizationCode]).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;
    let a = b
        .page(&format!(
            "/oauth2/authorize?client_id={}&redirect_uri={REDIRECT}&response_type=code\
             &scope=openid%20profile%20offline_access&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.0
        ))
        .await;
    let q = callback(
        a.location
            .as_deref()
            .unwrap_or_else(|| panic!("{} {}", a.status, a.body)),
    );
    let (status, body, _) = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"], "openid profile",
        "the rest is granted, offline_access is not"
    );
    assert!(body.get("refresh_token").is_none(), "{body}");
}

#[tokio::test]
async fn sec_56_a_code_exchanged_when_the_family_would_end_gets_no_refresh_token() {
    let app = spawn_app().await;
    let (id, secret) = register(&app, ClientKind::Confidential).await;
    let client = clients::find(&app.pool, &id).await.unwrap().unwrap();
    let shortest = *clients::REFRESH_TOKEN_SECS.start();
    let settings = clients::ClientSettings {
        refresh_token_secs: shortest,
        ..client.settings()
    };
    assert!(clients::update(&app.pool, &id, &settings).await.unwrap());
    let rp = RelyingParty::discover(&app, &id, secret.as_deref()).await;
    app.clock.pin();
    let mut b = super::sms::signed_in(&app, ALICE).await;
    // A second before the family's end (counted from the sign-in): one.
    app.clock.advance(i64::from(shortest) - 1);
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    assert!(token.refresh_token().is_some());
    // At its end: tokens, but no refresh token, not even a dead one.
    app.clock.advance(1);
    let pending = rp.authorize(None, &[]);
    let code = code_from(&app, &mut b, &pending).await;
    let (token, _) = rp.exchange(&code, pending).await;
    assert!(token.refresh_token().is_none());
}
