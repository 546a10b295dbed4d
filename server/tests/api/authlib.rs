//! A second, independent relying party: `tests/rp/authlib_rp.py`, on
//! Python's Authlib, started here. It runs the code flow (plain and
//! pushed), checks the ID token by Authlib's rules, refreshes, signs out
//! through RP-initiated logout and takes the back-channel logout token,
//! which it checks as Back-Channel Logout 1.0 section 2.6 says.

use super::oidc::{continue_target, sign_out_form};
use super::*;
use serde_json::Value;
use tessera_server::oidc::clients::{self, ClientKind, Grant, NewClient};

/// The Authlib relying party, on its own port, for one client.
struct AuthlibRp {
    base: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

impl AuthlibRp {
    /// Registers its client (code flow, refresh, back-channel logout) and
    /// starts it.
    async fn start(app: &TestApp) -> AuthlibRp {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let (client, secret) = clients::register(
            &mut app.pool.acquire().await.unwrap(),
            NewClient {
                id: String::new(),
                name: "Wiki".into(),
                redirect_uris: vec![format!("{base}/callback")],
                post_logout_redirect_uris: vec![format!("{base}/logged-out")],
                kind: ClientKind::Confidential,
                grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
                first_party: true,
            },
            app.clock.now(),
        )
        .await
        .unwrap();
        let settings = clients::ClientSettings {
            backchannel_logout_uri: Some(format!("{base}/backchannel-logout")),
            ..client.settings()
        };
        assert!(clients::update(&app.pool, &client.id, &settings).await.unwrap());
        let child = tokio::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rp/authlib_rp.py"))
            .args([&app.base, &client.id, &secret.unwrap(), &port.to_string()])
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with authlib (scripts/bootstrap installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        AuthlibRp {
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            _child: child,
        }
    }

    /// A page of the relying party: its status, its JSON, where it redirects.
    async fn get(&self, path: &str) -> (u16, Value, Option<String>) {
        let res = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null), location)
    }

    /// Signs the browser in to the relying party (`login` is its start
    /// page): the ID token's claims as the relying party saw them.
    async fn sign_in(&self, app: &TestApp, b: &mut Browser, login: &str) -> Value {
        let (status, body, to_provider) = self.get(login).await;
        assert_eq!(status, 302, "{body}");
        let to_provider = to_provider.unwrap();
        assert!(to_provider.starts_with(&app.base), "{to_provider}");
        let a = b.page(&to_provider.replacen(&app.base, "", 1)).await;
        let back = a
            .location
            .unwrap_or_else(|| panic!("no redirect: {} {}", a.status, a.body));
        let (status, claims, _) = self
            .get(back.strip_prefix(&self.base).expect("to the relying party"))
            .await;
        assert_eq!(status, 200, "{claims}");
        claims
    }

    /// The relying party's view: its sessions, the ones logged out, what it refused.
    async fn state(&self) -> Value {
        self.get("/state").await.1
    }
}

#[tokio::test]
async fn an_authlib_relying_party_signs_in_plain_and_pushed_refreshes_and_is_told_of_the_sign_out() {
    let app = spawn_app().await;
    let rp = AuthlibRp::start(&app).await;
    let mut b = super::sms::signed_in(&app, ALICE).await;

    let plain = rp.sign_in(&app, &mut b, "/login").await;
    assert_eq!(plain["acr"], "password");
    let pushed = rp.sign_in(&app, &mut b, "/login?par=1").await;
    assert_eq!(pushed["sub"], plain["sub"]);
    assert_eq!(pushed["sid"], plain["sid"], "one browser session");
    let sid = plain["sid"].as_str().unwrap().to_owned();
    let (status, body, _) = rp.get(&format!("/refresh?sid={sid}")).await;
    assert_eq!((status, &body["refreshed"]), (200, &Value::Bool(true)), "{body}");

    // RP-initiated logout, confirmed in the browser; the back channel
    // tells the relying party, whose check of the token passes.
    let (status, _, to_provider) = rp.get(&format!("/logout?sid={sid}")).await;
    assert_eq!(status, 302);
    let a = b.page(&to_provider.unwrap().replacen(&app.base, "", 1)).await;
    assert!(a.body.contains("Sign out of Tessera?"), "{}", a.body);
    let form = sign_out_form(&a);
    let confirmed = b
        .send(
            b.http
                .post(format!("{}/oauth2/end_session/confirm", app.base))
                .header("origin", app.base.clone())
                .form(&form),
        )
        .await;
    assert!(continue_target(&confirmed).starts_with(&format!("{}/logged-out?state=", rp.base)));
    let mut state = rp.state().await;
    for _ in 0..100 {
        if state["logged_out"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = rp.state().await;
    }
    assert_eq!(state["logged_out"], serde_json::json!([sid]), "{state}");
    assert_eq!(state["refused"], serde_json::json!([]), "{state}");
    assert_eq!(state["signed_in"], serde_json::json!([]), "{state}");
    assert_eq!(app.count("SELECT count(*) FROM oidc_logout_notices").await, 0);
}
