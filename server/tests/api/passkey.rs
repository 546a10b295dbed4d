//! Passkeys over HTTP with PostgreSQL, answered by a software authenticator
//! that signs real WebAuthn answers (P-256 through `ring`, CBOR through
//! `serde_cbor_2`): adding one, proving the second step with it, and every
//! bad answer of SECURITY.md 39-40 refused with nothing written.
//! webauthn-authenticator-rs's SoftPasskey cannot make discoverable keys,
//! go back on its counter or answer for another origin, which these need.

use super::sms::{field_error, signed_in, twice_at_once};
use super::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text).unwrap()
}

/// A software authenticator holding one key pair.
struct SoftKey {
    pair: EcdsaKeyPair,
    id: Vec<u8>,
    counter: u32,
    /// The account handle it was registered for (a discoverable key keeps it).
    user_handle: Option<Vec<u8>>,
    /// The page's origin, as the browser would report it.
    origin: String,
    /// Whether it says it verified the person (PIN, fingerprint).
    verifies_user: bool,
}

impl SoftKey {
    fn new(origin: &str) -> SoftKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        SoftKey {
            pair,
            id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            counter: 0,
            user_handle: None,
            origin: origin.to_owned(),
            verifies_user: true,
        }
    }

    fn rp_id_hash(&self) -> Vec<u8> {
        let host = self.origin.split("://").nth(1).unwrap().split(':').next().unwrap();
        Sha256::digest(host.as_bytes()).to_vec()
    }

    fn flags(&self, attested: bool) -> u8 {
        0x01 | if self.verifies_user { 0x04 } else { 0 } | if attested { 0x40 } else { 0 }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// Answers `navigator.credentials.create` for these options.
    fn register(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        self.user_handle = Some(unb64(pk["user"]["id"].as_str().unwrap()));
        let point = self.pair.public_key().as_ref();
        let cose = Cbor::Map(
            [
                (Cbor::Integer(1), Cbor::Integer(2)),
                (Cbor::Integer(3), Cbor::Integer(-7)),
                (Cbor::Integer(-1), Cbor::Integer(1)),
                (Cbor::Integer(-2), Cbor::Bytes(point[1..33].to_vec())),
                (Cbor::Integer(-3), Cbor::Bytes(point[33..65].to_vec())),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = self.rp_id_hash();
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none given
        auth_data.extend((self.id.len() as u16).to_be_bytes());
        auth_data.extend(&self.id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).unwrap());
        let object = Cbor::Map(
            [
                (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
                (Cbor::Text("attStmt".into()), Cbor::Map(Default::default())),
                (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        let client_data = self.client_data("webauthn.create", pk["challenge"].as_str().unwrap());
        json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&object).unwrap()),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get` for these options (the counter
    /// moves on first, as a hardware key's does).
    fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert_at(options, self.counter)
    }

    fn assert_at(&self, options: &Value, counter: u32) -> Value {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let mut auth_data = self.rp_id_hash();
        auth_data.push(self.flags(false));
        auth_data.extend(counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self.pair.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": self.user_handle.as_deref().map(b64),
            },
            "extensions": {},
        })
    }
}

/// The administrator turns passkeys on in the console.
async fn turn_passkeys_on(app: &TestApp) -> Answer {
    let mut admin = signed_in(app, ADMIN).await;
    let (_, methods) = admin.get_json("admin/methods").await;
    let passkey = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "passkey")
        .unwrap();
    assert_eq!(passkey["enabled"], false, "off until an administrator turns it on");
    let version = passkey["version"].to_string();
    admin
        .post(
            "admin/method",
            &[
                ("method", "passkey"),
                ("enabled", "true"),
                ("plugin", ""),
                ("version", &version),
            ],
        )
        .await
}

/// A server whose public URL names it by `localhost` (a WebAuthn relying
/// party cannot be an IP address), with passkeys turned on.
async fn passkey_app() -> TestApp {
    let app = spawn_app_with(&[("TESSERA_PUBLIC_URL", "http://localhost:{port}")]).await;
    let a = turn_passkeys_on(&app).await;
    assert_eq!(a.status, 200, "{}", a.body);
    app
}

fn origin(app: &TestApp) -> String {
    app.base.replace("127.0.0.1", "localhost")
}

impl Browser {
    /// Starts adding a passkey and returns the options the page hands the browser.
    async fn start_passkey(&mut self, nickname: &str) -> Value {
        let a = self.post("passkey/start", &[("nickname", nickname)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let (_, view) = self.get_json("credentials").await;
        let options = view["passkey_setup"]["options"]
            .as_str()
            .unwrap_or_else(|| panic!("no passkey setup: {view}"));
        serde_json::from_str(options).unwrap()
    }

    /// Adds `key` as a passkey named `nickname`.
    async fn add_passkey(&mut self, key: &mut SoftKey, nickname: &str) {
        let options = self.start_passkey(nickname).await;
        let answer = key.register(&options).to_string();
        let a = self.post("passkey/finish", &[("response", &answer)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    /// The passkey ceremony of the second step, as its page hands it over.
    async fn passkey_challenge(&mut self) -> Value {
        let (status, challenge) = self.get_json("signin/challenge").await;
        assert_eq!(status, 200, "{challenge}");
        let options = challenge["ceremony"]
            .as_str()
            .unwrap_or_else(|| panic!("no ceremony: {challenge}"));
        serde_json::from_str(options).unwrap()
    }
}

/// Alice with one passkey (the key returned) and 2FA on.
async fn alice_with_passkey(app: &TestApp) -> SoftKey {
    let mut b = signed_in(app, ALICE).await;
    let mut key = SoftKey::new(&origin(app));
    b.add_passkey(&mut key, "Laptop").await;
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    key
}

#[tokio::test]
async fn a_passkey_is_added_and_proves_the_second_step() {
    let app = passkey_app().await;
    let mut b = signed_in(&app, ALICE).await;
    let mut key = SoftKey::new(&origin(&app));
    let options = b.start_passkey("Laptop").await;
    // The ceremony: a fresh random challenge, this site, user verification.
    let pk = &options["publicKey"];
    assert!(unb64(pk["challenge"].as_str().unwrap()).len() >= 16);
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "preferred");
    // The page hands it to the browser's script, and says what it needs.
    let page = b.page("/credentials").await.body;
    assert!(page.contains("data-passkey=\"create\"") && page.contains("/passkey.js"));
    assert!(page.contains("Passkeys need JavaScript"), "said for JavaScript off");

    let answer = key.register(&options).to_string();
    let a = b.post("passkey/finish", &[("response", &answer)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, view) = b.get_json("credentials").await;
    assert_eq!(view["passkey_setup"], Value::Null);
    assert_eq!(view["credentials"][0]["method"], "passkey");
    assert_eq!(view["credentials"][0]["nickname"], "Laptop");
    assert_eq!(view["credentials"][0]["preferred"], true);
    // The public key is stored, under the authenticator's id, audited and told.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT webauthn_id FROM passkeys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, key.id);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE event = 'credential.added' AND details->>'method' = 'passkey'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'factor_added' AND body LIKE '%passkey “Laptop”%'")
            .await,
        1
    );
    // The same answer again: the ceremony is used up.
    let a = b.post("passkey/finish", &[("response", &answer)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 1);

    // 2FA on: the second step asks for the passkey and it signs in.
    b.post("credentials/two_factor", &[("enabled", "true")]).await;
    let mut c = app.browser();
    let a = c.sign_in(ALICE.0, ALICE.1).await;
    assert_eq!(a.headers.get("location").unwrap(), "/signin/code");
    let options = c.passkey_challenge().await;
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        b64(&key.id),
        "the passkey being proven"
    );
    let page = c.page("/signin/code").await.body;
    assert!(page.contains("Use your passkey “Laptop”") && page.contains("data-passkey=\"get\""));
    let options = c.passkey_challenge().await; // the page's own, the latest
    let answer = key.assert(&options).to_string();
    let a = c.post("signin/verify_code", &[("code", &answer)]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    assert_eq!(c.get_json("home").await.0, 200);
    let count: i64 = sqlx::query_scalar("SELECT sign_count FROM passkeys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "the counter seen is kept");
    assert_eq!(
        app.count("SELECT count(*) FROM credentials WHERE method = 'passkey' AND last_used_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn sec_39_bad_passkey_answers_are_refused_plainly_and_write_nothing() {
    let app = passkey_app().await;
    let mut key = alice_with_passkey(&app).await;
    let refused = |a: &Answer, words: &str| {
        assert_eq!(a.status, 422, "{}", a.body);
        let said = field_error(a, "code");
        assert!(said.contains(words), "{said}");
    };
    let mut c = app.browser();
    c.sign_in(ALICE.0, ALICE.1).await;

    // A typed code, nothing at all, or something that is not an answer.
    let a = c.post("signin/verify_code", &[("code", "123456")]).await;
    refused(&a, "needs JavaScript");
    c.passkey_challenge().await;
    let a = c.post("signin/verify_code", &[("code", "")]).await;
    refused(&a, "needs JavaScript");
    c.passkey_challenge().await;
    let a = c.post("signin/verify_code", &[("code", "123456")]).await;
    refused(&a, "could not be read");

    // Another origin (a look-alike site relaying the ceremony).
    let options = c.passkey_challenge().await;
    key.origin = "http://localhost.evil.example".into();
    let phished = key.assert(&options).to_string();
    key.origin = origin(&app);
    let a = c.post("signin/verify_code", &[("code", &phished)]).await;
    refused(&a, "not accepted");

    // A key registered to nobody here (another account's, or forged).
    let options = c.passkey_challenge().await;
    let mut stranger = SoftKey::new(&origin(&app));
    let a = c
        .post(
            "signin/verify_code",
            &[("code", &stranger.assert(&options).to_string())],
        )
        .await;
    refused(&a, "not accepted");

    // A stale ceremony: answerable for five minutes to the second (pinned
    // clock), not a second more.
    app.clock.pin();
    let options = c.passkey_challenge().await;
    app.clock.advance(5 * 60 + 1);
    let a = c
        .post("signin/verify_code", &[("code", &key.assert(&options).to_string())])
        .await;
    refused(&a, "expired");
    let mut on_time = app.browser();
    on_time.sign_in(ALICE.0, ALICE.1).await;
    let options = on_time.passkey_challenge().await;
    app.clock.advance(5 * 60);
    let a = on_time
        .post("signin/verify_code", &[("code", &key.assert(&options).to_string())])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "five minutes old: {}", a.body);

    // A counter going backwards (a cloned key): refused and audited.
    let options = c.passkey_challenge().await;
    let good = key.assert(&options);
    let a = c.post("signin/verify_code", &[("code", &good.to_string())]).await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    let mut d = app.browser();
    d.sign_in(ALICE.0, ALICE.1).await;
    let options = d.passkey_challenge().await;
    let cloned = key.assert_at(&options, key.counter);
    let a = d.post("signin/verify_code", &[("code", &cloned.to_string())]).await;
    refused(&a, "counter went backwards");
    // Two ceremonies open at once, both answered with one counter value:
    // the second is a copy, though its ceremony began before the first
    // answer moved the counter.
    let (mut e, mut f, for_e, for_f) = two_open_ceremonies(&app).await;
    let a = e
        .post("signin/verify_code", &[("code", &key.assert(&for_e).to_string())])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    let copy = key.assert_at(&for_f, key.counter).to_string();
    let a = f.post("signin/verify_code", &[("code", &copy)]).await;
    refused(&a, "counter went backwards");
    assert!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'passkey.refused'")
            .await
            >= 4,
        "refusals are audited"
    );
    // A replayed answer (the one that signed in, sent again in its session).
    let a = c.post("signin/verify_code", &[("code", &good.to_string())]).await;
    assert_ne!(a.status, 200, "{}", a.body);
    assert_ne!(a.status, 500, "{}", a.body);

    // Only the three good answers (the one on time included) signed in and
    // moved the counter.
    let count: i64 = sqlx::query_scalar("SELECT sign_count FROM passkeys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, i64::from(key.counter));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'code.verified' AND details->>'method' = 'passkey'")
            .await,
        3
    );
}

#[tokio::test]
async fn sec_39_a_passkey_belongs_to_one_account_and_needs_user_verification() {
    let app = passkey_app().await;
    let mut key = alice_with_passkey(&app).await;
    app.add_account("bob", "bob-password-1", tessera::account::Role::User)
        .await;
    let mut bob = signed_in(&app, ("bob", "bob-password-1")).await;
    // Alice's key registered again, to Bob: refused, nothing stored.
    let options = bob.start_passkey("Borrowed").await;
    let answer = key.register(&options).to_string();
    let a = bob.post("passkey/finish", &[("response", &answer)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("registered already"));
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM credentials WHERE method = 'passkey'")
            .await,
        1
    );

    // A key that does not verify the person is refused at registration.
    let mut lazy = SoftKey::new(&origin(&app));
    lazy.verifies_user = false;
    let options = bob.start_passkey("No PIN").await;
    let a = bob
        .post("passkey/finish", &[("response", &lazy.register(&options).to_string())])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(app.count("SELECT count(*) FROM passkeys").await, 1);
}

#[tokio::test]
async fn a_server_named_by_an_ip_address_has_no_passkeys_and_says_why() {
    let app = spawn_app().await;
    let a = turn_passkeys_on(&app).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "plugin").contains("domain name"), "{}", a.body);
    // Turned on before the address changed: a clear refusal, not a 500.
    sqlx::query("UPDATE method_settings SET enabled = TRUE WHERE method = 'passkey'")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut b = signed_in(&app, ALICE).await;
    let a = b.post("passkey/start", &[("nickname", "Laptop")]).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.body.contains(r#""MethodUnavailable":"passkey""#), "{}", a.body);
}

#[tokio::test]
async fn sec_39_one_answer_sent_twice_at_once_signs_in_once_even_without_a_counter() {
    let app = passkey_app().await;
    // A synced passkey keeps no counter (always 0): only the ceremony's own
    // single use stops the second copy.
    let key = alice_with_passkey(&app).await;
    for round in 0..3 {
        let mut half = app.browser();
        half.sign_in(ALICE.0, ALICE.1).await;
        let options = half.passkey_challenge().await;
        let answer = key.assert_at(&options, 0).to_string();
        let statuses = twice_at_once(&mut half, &app, "signin/verify_code", &[("code", &answer)]).await;
        assert!(
            matches!(statuses, [200, 422] | [200, 403] | [200, 401]),
            "round {round}: {statuses:?}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'code.verified' AND details->>'method' = 'passkey'")
            .await,
        3
    );
}

impl Browser {
    /// The sign-in page's passkey ceremony, if it offers one.
    async fn passwordless_options(&mut self) -> Option<Value> {
        let (status, options) = self.get_json("signin/passkey_options").await;
        assert_eq!(status, 200, "{options}");
        options.as_str().map(|o| serde_json::from_str(o).unwrap())
    }
}

#[tokio::test]
async fn a_passkey_alone_signs_in_with_user_verification_where_the_policy_allows() {
    let app = passkey_app().await;
    let mut key = alice_with_passkey(&app).await;
    let mut c = app.browser();
    // The sign-in page offers it: a button and the username field's autofill.
    let page = c.page("/signin").await.body;
    assert!(
        page.contains("Sign in with a passkey") && page.contains("username webauthn"),
        "the sign-in page"
    );
    let options = c.passwordless_options().await.expect("offered");
    let pk = &options["publicKey"];
    assert_eq!(pk["userVerification"], "required");
    assert!(
        pk["allowCredentials"].as_array().is_none_or(Vec::is_empty),
        "the browser finds the key"
    );
    assert!(unb64(pk["challenge"].as_str().unwrap()).len() >= 16);

    let a = c
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    let (_, home) = c.get_json("home").await;
    assert!(home.to_string().contains("alice"), "{home}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE event = 'code.verified' AND details->>'purpose' = 'passwordless'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'signin.succeeded'")
            .await,
        3
    );

    // Bad answers: refused plainly, nobody signed in.
    let mut d = app.browser();
    let refused = |a: &Answer, words: &str| {
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(field_error(a, "code").contains(words), "{}", a.body);
    };
    // No ceremony yet (the page was not loaded).
    let a = d
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    refused(&a, "expired");
    // A key that is no account's here.
    let options = d.passwordless_options().await.unwrap();
    let mut stranger = SoftKey::new(&origin(&app));
    stranger.user_handle = key.user_handle.clone();
    let a = d
        .post(
            "signin/passkey",
            &[("response", &stranger.assert(&options).to_string())],
        )
        .await;
    refused(&a, "not registered here");
    // Alice's key naming Bob's account.
    app.add_account("bob", "bob-password-1", tessera::account::Role::User)
        .await;
    let bob: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let options = d.passwordless_options().await.unwrap();
    let alices = key.user_handle.replace(bob.as_bytes().to_vec());
    let a = d
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    key.user_handle = alices;
    refused(&a, "not registered here");
    // Without user verification (a key that only saw someone touch it).
    let options = d.passwordless_options().await.unwrap();
    key.verifies_user = false;
    let a = d
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    key.verifies_user = true;
    refused(&a, "did not check that it is you");
    assert_eq!(d.get_json("home").await.0, 401, "nobody signed in");
    assert!(
        app.count("SELECT count(*) FROM audit_events WHERE event = 'passkey.refused'")
            .await
            >= 2
    );

    // A locked account: said only after a valid proof, and not signed in.
    sqlx::query("UPDATE users SET locked_at = now() WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();
    let options = d.passwordless_options().await.unwrap();
    let a = d
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("AccountLocked"), "{}", a.body);
    sqlx::query("UPDATE users SET locked_at = NULL WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .unwrap();

    // Forbidden by the policy: not offered, and an answer to a ceremony
    // started before is refused.
    let options = d.passwordless_options().await.unwrap();
    app.save_policy(&[("passwordless", "forbidden")]).await;
    let a = d
        .post("signin/passkey", &[("response", &key.assert(&options).to_string())])
        .await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(d.passwordless_options().await, None);
    assert!(!d.page("/signin").await.body.contains("Sign in with a passkey"));
    assert_eq!(d.get_json("home").await.0, 401, "nobody signed in");
}

#[tokio::test]
async fn sec_39_a_counter_falling_back_to_zero_is_refused_even_across_ceremonies() {
    let app = passkey_app().await;
    // Registered with a counter of 0; two sign-ins open their ceremonies
    // before either is answered.
    let mut key = alice_with_passkey(&app).await;
    let (mut e, mut f, for_e, for_f) = two_open_ceremonies(&app).await;
    // The key moves to 1 in one of them…
    let a = e
        .post("signin/verify_code", &[("code", &key.assert(&for_e).to_string())])
        .await;
    assert_eq!(a.location.as_deref(), Some("/"), "{}", a.body);
    // …and a copy still at 0 answers the other: webauthn-rs compares with
    // the counter its ceremony began with (0, "no counter"); the counter
    // stored since must refuse it.
    let copy = key.assert_at(&for_f, 0).to_string();
    let a = f.post("signin/verify_code", &[("code", &copy)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(field_error(&a, "code").contains("counter went backwards"), "{}", a.body);
    assert_eq!(f.get_json("home").await.0, 401, "not signed in");
}

/// Two browsers at Alice's second step, each with its passkey ceremony
/// open (neither answered yet).
async fn two_open_ceremonies(app: &TestApp) -> (Browser, Browser, Value, Value) {
    let (mut e, mut f) = (app.browser(), app.browser());
    e.sign_in(ALICE.0, ALICE.1).await;
    f.sign_in(ALICE.0, ALICE.1).await;
    let (for_e, for_f) = (e.passkey_challenge().await, f.passkey_challenge().await);
    (e, f, for_e, for_f)
}
