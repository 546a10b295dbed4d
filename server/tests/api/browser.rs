//! Browser-side protections over HTTP (SECURITY.md 31-33): the headers on
//! every kind of answer, static-file caching, long and odd paths, request
//! ids, and the client's address behind trusted proxies.

use super::sms::signed_in;
use super::*;

const PHONE: &str = "+12015550123";

fn header(a: &Answer, what: &str, name: &str) -> String {
    a.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{what}: no {name} on a {} answer", a.status))
}

/// Checks the protections every answer carries (rule 31) and answers the
/// CSP nonce. On an HTML page, every script tag must carry that nonce.
fn assert_protected(what: &str, a: &Answer) -> String {
    let csp = header(a, what, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {directive} missing from {csp}");
    }
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
    assert!(
        !script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'") && !script_src.contains('*'),
        "{what}: {script_src}"
    );
    let nonce = script_src
        .split_whitespace()
        .find_map(|t| t.strip_prefix("'nonce-"))
        .map(|n| n.trim_end_matches('\'').to_owned())
        .unwrap_or_else(|| panic!("{what}: no nonce in {script_src}"));
    assert_eq!(header(a, what, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(a, what, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(a, what, "referrer-policy"), "same-origin", "{what}");
    assert!(header(a, what, "permissions-policy").contains("camera=()"), "{what}");
    assert!(
        a.headers.get("strict-transport-security").is_none(),
        "{what}: HSTS over plain http"
    );
    let html = a
        .headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
    if html {
        for tag in a.body.split("<script").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{what}: a script without this answer's nonce: <script{tag}>"
            );
        }
    }
    nonce
}

/// Rule 32: nothing signed in, no sign-in step and no `/api` answer is stored.
fn assert_not_stored(what: &str, a: &Answer) {
    assert_eq!(header(a, what, "cache-control"), "no-store", "{what}");
}

fn assert_protected_and_not_stored(what: &str, a: &Answer) {
    assert_protected(what, a);
    assert_not_stored(what, a);
}

/// Every page route of the app, with an account name for the one parameter.
fn page_routes() -> Vec<String> {
    let routes: Vec<String> = leptos_axum::generate_route_list(tessera_app::App)
        .iter()
        .map(|r| r.path().replace("{username}", "alice").replace(":username", "alice"))
        .collect();
    assert!(routes.len() >= 15, "{routes:?}");
    routes
}

/// What a page answers when loaded without anything particular: itself or
/// a redirect; the return to an application, with no request to return to,
/// a page that says so.
fn statuses_of(path: &str) -> &'static [u16] {
    if path == "/oauth2/continue" {
        &[400]
    } else if path == "/admin/client" {
        // Signed out: to sign in; signed in: which application? None named.
        &[303, 404]
    } else {
        &[200, 303]
    }
}

#[tokio::test]
async fn sec_31_32_every_answer_forbids_framing_and_is_never_stored() {
    let app = spawn_app_with(&[("TESSERA_BODY_LIMIT_BYTES", "2048")]).await;

    // Signed out: pages, redirects, the 404 path, `/api` answers, refusals.
    let mut b = app.browser();
    let signin = b.page("/signin").await;
    assert_eq!(signin.status, 200);
    let first = assert_protected("/signin", &signin);
    assert_not_stored("/signin", &signin);
    assert!(signin.body.contains("<script"), "the page hydrates: it has scripts");
    let again = assert_protected("/signin again", &b.page("/signin").await);
    assert_ne!(first, again, "a fresh nonce for every answer");
    for path in page_routes().iter().map(String::as_str).chain(["/no-such-page"]) {
        let a = b.page(path).await;
        assert!(statuses_of(path).contains(&a.status), "{path}: {}", a.status);
        assert_protected_and_not_stored(&format!("signed out {path}"), &a);
    }
    let a = b.send(b.http.get(format!("{}/api/session", app.base))).await;
    assert_eq!(a.status, 200);
    assert_protected_and_not_stored("GET /api/session", &a);
    let a = b.send(b.http.get(format!("{}/api/home", app.base))).await;
    assert_eq!(a.status, 401);
    assert_protected_and_not_stored("/api/home signed out", &a);
    let a = b.sign_in("alice", "wrong-password").await;
    assert_eq!(a.status, 401);
    assert_protected_and_not_stored("a refused sign-in", &a);
    let a = b.call("sign_in", &[("username", "alice"), ("password", "x")]).await;
    assert_eq!(a.status, 403, "no CSRF token");
    assert_protected_and_not_stored("a CSRF refusal", &a);
    let big = "x".repeat(4096);
    let token = b.csrf().await;
    let a = b
        .call(
            "sign_in",
            &[("username", &big), ("password", "x"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(a.status, 413);
    assert_protected_and_not_stored("an oversized body", &a);
    for path in ["/healthz", "/readyz"] {
        let a = b.send(b.http.get(format!("{}{path}", app.base))).await;
        assert_eq!(a.status, 200);
        assert_protected_and_not_stored(path, &a);
    }

    // The second sign-in step.
    let mut alice = signed_in(&app, ALICE).await;
    alice.enroll_outbox(&app, PHONE, "Mine").await;
    alice.two_factor_on().await;
    let mut half = app.browser();
    assert_eq!(half.sign_in("alice", ALICE.1).await.status, 200);
    let a = half.page("/signin/code").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_protected_and_not_stored("/signin/code", &a);

    // Signed in as an administrator: every page of the app, and a 404.
    let mut admin = signed_in(&app, ADMIN).await;
    for path in page_routes() {
        let a = admin.page(&path).await;
        assert!(statuses_of(&path).contains(&a.status), "{path}: {}", a.status);
        if a.status == 200 {
            assert!(a.body.contains("<script"), "{path} hydrates");
        }
        assert_protected_and_not_stored(&format!("signed in {path}"), &a);
    }
    let a = admin.page("/no-such-page").await;
    assert_eq!(a.status, 404);
    assert_protected_and_not_stored("a 404 page", &a);
    let a = admin
        .send(admin.http.get(format!("{}/api/credentials", app.base)))
        .await;
    assert_eq!(a.status, 200);
    assert_protected_and_not_stored("GET /api/credentials", &a);
}

#[tokio::test]
async fn sec_31_hsts_only_when_the_public_url_is_https() {
    let app = spawn_app_with(&[("TESSERA_PUBLIC_URL", "https://tessera.example.org")]).await;
    let mut b = app.browser();
    for path in ["/signin", "/healthz"] {
        let a = if path == "/signin" {
            b.page(path).await
        } else {
            b.send(b.http.get(format!("{}{path}", app.base))).await
        };
        let hsts = header(&a, path, "strict-transport-security");
        let max_age: u64 = hsts
            .strip_prefix("max-age=")
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(max_age >= 31_536_000, "{path}: {hsts}");
    }
}

/// A site folder like the one cargo-leptos builds, with a bundle and a public file.
fn site_root() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("tessera-site-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(root.join("pkg/tessera.css"), "body{margin:0}").unwrap();
    std::fs::write(root.join("pkg/tessera.js"), "export default function(){}").unwrap();
    std::fs::write(root.join("favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    root
}

#[tokio::test]
async fn static_files_are_revalidated_and_long_or_odd_paths_get_the_404_page() {
    let root = site_root();
    let app = spawn_app_with(&[("TESSERA_SITE_ROOT", root.to_str().unwrap())]).await;
    let mut b = app.browser();

    // Built assets and public files: kept, but checked again before each use
    // (their names do not change with their content).
    for (path, kind) in [
        ("/pkg/tessera.css", "text/css"),
        ("/pkg/tessera.js", "text/javascript"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let a = b.send(b.http.get(format!("{}{path}", app.base))).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(header(&a, path, "content-type").starts_with(kind), "{path}");
        assert_eq!(header(&a, path, "cache-control"), "no-cache", "{path}");
        assert_protected(path, &a);
        let modified = header(&a, path, "last-modified");
        let a = b
            .send(
                b.http
                    .get(format!("{}{path}", app.base))
                    .header("if-modified-since", modified),
            )
            .await;
        assert_eq!(a.status, 304, "{path}: revalidation is cheap");
    }
    let a = b.send(b.http.get(format!("{}/pkg/missing.wasm", app.base))).await;
    assert_eq!(a.status, 404);

    // Long and odd paths: the 404 page or the sign-in redirect, never a 500.
    let long = "a".repeat(300);
    let longer = "b".repeat(5000);
    let a = b.page(&format!("/{long}")).await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/signin")));
    let mut alice = signed_in(&app, ALICE).await;
    for path in [
        format!("/{long}"),
        format!("/{long}.js"),
        format!("/x/{long}/y"),
        format!("/{longer}.css"),
        "/%00.js".into(),
        "/%ff%fe.svg".into(),
        "/..%2f..%2f..%2fetc%2fpasswd".into(),
        "/pkg/%2e%2e/%2e%2e/Cargo.toml".into(),
    ] {
        for who in [&mut b, &mut alice] {
            let a = who.page(&path).await;
            assert!(
                a.status == 404 || (a.status == 303 && a.location.as_deref() == Some("/signin")),
                "{}: {} {}",
                &path[..path.len().min(60)],
                a.status,
                &a.body[..a.body.len().min(200)]
            );
            if a.status == 404 {
                assert!(a.body.contains("Page not found"), "{}", &path[..path.len().min(60)]);
                assert_protected_and_not_stored("a long path", &a);
            }
        }
    }
    // A long return path or query is answered, not failed.
    let a = alice.page(&format!("/signin/again?next=/{}", "c".repeat(3000))).await;
    assert_eq!(a.status, 200, "{}", &a.body[..a.body.len().min(200)]);
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn the_sign_in_page_is_sent_without_the_wasm_bundle_and_other_pages_with_it() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let a = b.page("/signin").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("data-static=\"true\""), "{}", a.body);
    assert!(
        !a.body.contains("/pkg/tessera.js") && !a.body.contains(".wasm"),
        "no wasm, no hydration script: {}",
        a.body
    );
    assert!(
        a.body.contains("/passkey.js"),
        "the passkey ceremony still works: {}",
        a.body
    );
    for path in ["/", "/credentials"] {
        let a = signed_in(&app, ALICE).await.page(path).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(a.body.contains("/pkg/tessera.js"), "{path} hydrates");
        assert!(!a.body.contains("data-static"), "{path}");
    }
}

#[tokio::test]
async fn built_files_go_out_compressed_to_browsers_that_take_it() {
    let root = site_root();
    // As `cargo leptos build --precompress` leaves them: a .br and a .gz beside
    // each file (contents told apart here by their text).
    for (file, dir) in [("tessera.wasm", "pkg/"), ("passkey.js", "")] {
        std::fs::write(root.join(format!("{dir}{file}")), "raw").unwrap();
        std::fs::write(root.join(format!("{dir}{file}.br")), "brotli").unwrap();
        std::fs::write(root.join(format!("{dir}{file}.gz")), "gzip").unwrap();
    }
    let app = spawn_app_with(&[("TESSERA_SITE_ROOT", root.to_str().unwrap())]).await;
    let mut b = app.browser();
    for path in ["/pkg/tessera.wasm", "/passkey.js"] {
        for (accepts, encoding, body) in [
            ("gzip, deflate, br, zstd", Some("br"), "brotli"),
            ("gzip", Some("gzip"), "gzip"),
            ("identity", None, "raw"),
        ] {
            let a = b
                .send(
                    b.http
                        .get(format!("{}{path}", app.base))
                        .header("accept-encoding", accepts),
                )
                .await;
            assert_eq!(a.status, 200, "{path} {accepts}");
            assert_eq!(
                a.headers.get("content-encoding").map(|v| v.to_str().unwrap()),
                encoding,
                "{path} {accepts}"
            );
            assert_eq!(a.body, body, "{path} {accepts}");
            assert_eq!(header(&a, path, "cache-control"), "no-cache", "{path}");
        }
    }
    // A file built without its compressed forms goes out as it is.
    let a = b
        .send(
            b.http
                .get(format!("{}/pkg/tessera.css", app.base))
                .header("accept-encoding", "br"),
        )
        .await;
    assert_eq!((a.status, a.headers.get("content-encoding")), (200, None));
    assert_eq!(a.body, "body{margin:0}");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn refusals_answer_a_page_to_browsers_and_plain_words_to_scripts() {
    let root = site_root();
    // A public file the server cannot read (a link to itself): a 500 with
    // words, not the 404 page and not an empty body.
    std::os::unix::fs::symlink("loop.svg", root.join("loop.svg")).unwrap();
    let app = spawn_app_with(&[("TESSERA_SITE_ROOT", root.to_str().unwrap())]).await;
    let mut b = app.browser();
    let a = b.page("/loop.svg").await;
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(a.body.contains("Something went wrong on our side."), "{}", a.body);

    // A refused form post: an HTML page for a browser, plain words for a script.
    let http = b.http.clone();
    let refused = |accept: &'static str| {
        http.post(format!("{}/api/sign_out", app.base))
            .header("accept", accept)
            .form(&[("csrf_token", "0")])
    };
    let a = b.send(refused("text/html,application/xhtml+xml")).await;
    assert_eq!(a.status, 403);
    assert!(
        a.body.starts_with("<!DOCTYPE html>") && a.body.contains("did not come from Tessera"),
        "{}",
        a.body
    );
    let a = b.send(refused("application/json")).await;
    assert_eq!(a.status, 403);
    assert!(
        !a.body.contains('<') && a.body.contains("did not come from Tessera"),
        "{}",
        a.body
    );

    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn request_ids_are_ours_unless_a_trusted_proxy_sends_a_plain_one() {
    let direct = spawn_app().await;
    let proxied = spawn_app_with(&[("TESSERA_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let id_for = |app: &TestApp, sent: &str| {
        let http = reqwest::Client::new();
        let url = format!("{}/healthz", app.base);
        let sent = sent.to_owned();
        async move {
            let res = http.get(url).header("x-request-id", sent).send().await.unwrap();
            res.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    let is_uuid = |id: &str| uuid::Uuid::parse_str(id).is_ok();
    // From a client: never its own id (it could forge log lines' ids).
    assert!(is_uuid(&id_for(&direct, "abc-123").await));
    // From a trusted proxy: a plain id is kept, so its logs and ours line up.
    assert_eq!(id_for(&proxied, "abc-123").await, "abc-123");
    for odd in ["x".repeat(65), "a b".into(), "a\"b".into(), "{}".into()] {
        assert!(is_uuid(&id_for(&proxied, &odd).await), "{odd}");
    }
}

/// The address recorded for the newest sign-in failure.
async fn last_failure_ip(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT ip FROM sign_in_failures ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn sec_33_a_spoofed_forwarding_header_from_an_untrusted_peer_changes_nothing() {
    // Proxies are configured, but the test client (127.0.0.1) is not one.
    let app = spawn_app_with(&[
        ("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8"),
        ("TESSERA_SIGNIN_MAX_FAILURES_PER_IP", "2"),
    ])
    .await;
    for (i, forged) in ["198.51.100.7", "198.51.100.8"].into_iter().enumerate() {
        let mut b = app.browser_forwarded_for(forged);
        assert_eq!(b.sign_in(&format!("nobody{i}"), "wrong-password").await.status, 401);
        assert_eq!(last_failure_ip(&app).await, "127.0.0.1");
    }
    // A third forged address does not escape the per-IP throttle.
    let mut b = app.browser_forwarded_for("203.0.113.99");
    let a = b.sign_in("alice", ALICE.1).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body.contains("Throttled"), "{}", a.body);
}

#[tokio::test]
async fn sec_33_behind_trusted_proxies_every_record_uses_the_real_client() {
    let app = spawn_app_with(&[
        ("TESSERA_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ("TESSERA_SIGNIN_MAX_FAILURES_PER_IP", "2"),
    ])
    .await;
    // A chain: the client forged the first entry; a second trusted proxy
    // (10.0.0.5) sits between the first and us.
    let chain = |client: &str| format!("6.6.6.6, {client}, 10.0.0.5");
    let mut mallory = app.browser_forwarded_for(&chain("198.51.100.7"));
    for name in ["nobody1", "nobody2"] {
        assert_eq!(mallory.sign_in(name, "wrong-password").await.status, 401);
        assert_eq!(last_failure_ip(&app).await, "198.51.100.7");
    }
    assert_eq!(mallory.sign_in("alice", ALICE.1).await.status, 429);
    // Rewriting the part of the header the client controls changes nothing.
    let mut again = app.browser_forwarded_for("1.2.3.4, 198.51.100.7");
    assert_eq!(again.sign_in("alice", ALICE.1).await.status, 429);

    // Another client behind the same proxies has its own throttle, and its
    // address is the one in the audit log, its session, the SMS budget and
    // the notification.
    let mut alice = app.browser_forwarded_for(&chain("198.51.100.8"));
    let a = alice.sign_in("alice", ALICE.1).await;
    assert_eq!(a.status, 200, "{}", a.body);
    alice.enroll_outbox(&app, PHONE, "Mine").await;
    let ip_of = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, String>(sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(
        ip_of("SELECT ip FROM audit_events WHERE event = 'signin.succeeded'").await,
        "198.51.100.8"
    );
    assert_eq!(ip_of("SELECT ip FROM user_sessions").await, "198.51.100.8");
    assert_eq!(ip_of("SELECT ip FROM sms_sends").await, "198.51.100.8");
    let notice = ip_of("SELECT body FROM notifications WHERE kind = 'factor_added'").await;
    assert!(notice.contains("From: 198.51.100.8"), "{notice}");
    let (_, sessions) = alice.get_json("sessions").await;
    assert!(sessions.to_string().contains("198.51.100.8"), "{sessions}");
}

#[tokio::test]
async fn the_pages_icon_and_script_never_touch_the_session_cookie() {
    // A browser fetches them beside a page with the cookie it had; one that
    // crossed a sign-in carries an id the sign-in replaced. Answered inside
    // the session layer, that request removed the cookie and so signed the
    // new session out.
    let root = site_root();
    std::fs::write(root.join("passkey.js"), "// passkeys").unwrap();
    let app = spawn_app_with(&[("TESSERA_SITE_ROOT", root.to_str().unwrap())]).await;
    let b = app.browser();
    for path in ["/favicon.svg", "/passkey.js"] {
        let res = b
            .http
            .get(format!("{}{path}", app.base))
            .header("cookie", "tessera_session=AAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().get("set-cookie").is_none(), "{path}: {:?}", res.headers());
    }
}
