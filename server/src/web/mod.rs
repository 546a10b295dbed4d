//! The web edge: the axum router with request ids and tracing, sessions,
//! the per-request ports (absolute timeout, page guard, CSRF), health checks
//! and the Leptos app. Everything below it is reached through the ports.

pub mod authorize;
pub mod browser_headers;
pub mod cookies;
pub mod csrf;
pub mod logout;
pub mod metrics;
pub mod portal;
pub mod posted_form;
pub mod session;
pub mod session_store;

use crate::account::sessions;
use crate::audit::Origin;
use crate::client_ip::{self, ClientIp};
use crate::context::RequestContext;
use crate::secrets::CookieToken;
use crate::state::AppState;
use crate::store;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use browser_headers::{Caching, CspNonce};
use cookies::OurCookie;
use http::{HeaderMap, Method, StatusCode, header};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use portal::RequestPortal;
use session::TypedSession;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tessera::ports::Ports;
use tessera::signin::AuthState;
use tessera_app::{App, shell};
use tower::Layer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

const REQUEST_ID: &str = "x-request-id";
const SECOND_STEP_PATH: &str = "/signin/code";
const ENROLL_STEP_PATH: &str = "/signin/enroll";
/// "Lost every way to sign in?": part of a half-finished sign-in too.
const RESET_PATH: &str = "/signin/reset";

/// The app's page routes, listed once per process. While Leptos lists routes
/// it pauses resource loads in the whole process (leptos#4773), and a page
/// whose data started loading in that moment, on another thread, never
/// finishes: its request hangs. Listed once, before any server answers (the
/// test suite starts many servers in one process), that moment never meets a
/// page being rendered.
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::LazyLock<Vec<AxumRouteListing>> = std::sync::LazyLock::new(|| {
        generate_route_list(App)
            .into_iter()
            // The app lists the server's own answers so that it hands them to the server.
            .filter(|r| r.path() != authorize::CONTINUE_PATH)
            .collect()
    });
    ROUTES.clone()
}

/// The whole application as an axum router, ready to serve.
pub fn router(state: AppState, sessions: session_store::Sessions) -> Router {
    let routes = page_routes();
    let options = state.leptos_options.clone();
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(OurCookie::Session.name(state.config.https()))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.https())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.config.session_idle_minutes,
        )));

    Router::new()
        .route(crate::oidc::AUTHORIZE_PATH, get(authorize::authorize))
        .route(authorize::CONTINUE_PATH, get(authorize::resume))
        .route(authorize::CONSENT_PATH, axum::routing::post(authorize::consent_answer))
        .route(logout::END_SESSION_PATH, get(logout::ask))
        .route(logout::END_SESSION_CONFIRM_PATH, axum::routing::post(logout::confirm))
        .leptos_routes_with_context(&state, routes, provide_csp_nonce, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback_service(public_file_or_not_found(options))
        .layer(middleware::from_fn_with_state(state.clone(), portal_middleware))
        .layer(session_layer)
        .layer(middleware::from_fn(unsaved_session_is_unavailable))
        // Built assets need no session: served outside the layers above, so a
        // wasm or CSS download costs no database round trip.
        .nest_service(
            "/pkg",
            SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, Caching::Revalidate.header_value())
                .layer(built_files(Path::new(&*state.leptos_options.site_root).join("pkg"))),
        )
        .merge(page_files(Path::new(&*state.leptos_options.site_root)))
        // An application's form posted to the browser endpoints: outside the
        // session (it arrives without the cookie), answered with the link.
        .route(
            crate::oidc::AUTHORIZE_PATH,
            posted_form::as_link(crate::oidc::AUTHORIZE_PATH),
        )
        .route(logout::END_SESSION_PATH, posted_form::as_link(logout::END_SESSION_PATH))
        // OpenID Connect's back channel: clients authenticate themselves;
        // no cookie session, no CSRF token.
        .merge(crate::oidc::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(metrics::PATH, get(metrics::scrape))
        // Every route above is timed (a layer here wraps each route, after
        // routing, so the matched pattern is known).
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics::measure))
        .layer(PropagateRequestIdLayer::new(header::HeaderName::from_static(
            REQUEST_ID,
        )))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-");
            let client = req
                .extensions()
                .get::<ClientIp>()
                .map(|c| c.ip.to_string())
                .unwrap_or_default();
            tracing::info_span!(
                "request",
                request_id = %id,
                client_ip = %client,
                method = %req.method(),
                path = %clip(req.uri().path(), LOGGED_PATH_CHARS),
            )
        }))
        .layer(SetRequestIdLayer::new(
            header::HeaderName::from_static(REQUEST_ID),
            MakeRequestUuid,
        ))
        .layer(middleware::from_fn(retry_when_unavailable))
        .layer(middleware::from_fn_with_state(state.clone(), browser_protection))
        .layer(middleware::from_fn_with_state(state.clone(), client_address))
        .layer(middleware::from_fn(count_for_the_allocator))
        .with_state(state)
}

/// Every request tells the allocator that the server is busy
/// (`allocator::give_back_when_quiet`).
async fn count_for_the_allocator(req: Request, next: Next) -> Response {
    crate::allocator::count_request();
    next.run(req).await
}

/// Paths longer than this are cut in the logs.
const LOGGED_PATH_CHARS: usize = 200;

/// At most `max` characters of `text`, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// Leptos renders with this request's CSP nonce (made by
/// [`browser_protection`]), so the inline scripts it writes match the header.
fn provide_csp_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(parts) = use_context::<http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<CspNonce>()
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.as_str()));
    }
}

/// The public files every page links (its icon, the passkey script), served
/// like `/pkg`: outside the session. The browser fetches them beside the
/// page with the cookie it had; one that crossed a sign-in, which gives the
/// session a new id, would find its old id gone, and the session layer's
/// answer would remove the cookie, signing the new session out (seen as a
/// rare browser-test failure right after a sign-in).
fn page_files<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    ["favicon.svg", "passkey.js"]
        .into_iter()
        .fold(Router::new(), |router, file| {
            router.route_service(
                &format!("/{file}"),
                SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, Caching::Revalidate.header_value()).layer(
                    ServeFile::new(site_root.join(file))
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
            )
        })
}

/// Files of the built site; a browser that takes brotli or gzip gets the
/// `.br` or `.gz` file the release build wrote beside each one
/// (`cargo leptos build --precompress`), when there is one.
fn built_files(dir: std::path::PathBuf) -> ServeDir {
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

/// A file from the public folder (revalidated before reuse), or the app's
/// 404 page, rendered whole (like every page) so that it works without
/// JavaScript. A name too long for the file system is simply not found.
fn public_file_or_not_found(options: leptos::prelude::LeptosOptions) -> axum::routing::MethodRouter {
    let files = built_files(Path::new(&*options.site_root).to_path_buf());
    let render = leptos_axum::render_app_async_with_context(provide_csp_nonce, move || shell(options.clone()));
    get(move |req: Request| {
        let mut files = files.clone();
        let render = render.clone();
        async move {
            let html = wants_html(req.headers());
            let (parts, body) = req.into_parts();
            let page_request = Request::from_parts(parts.clone(), Body::empty());
            match files.try_call(Request::from_parts(parts, body)).await {
                Ok(res) if res.status() == StatusCode::NOT_FOUND => render(page_request).await,
                Ok(mut res) => {
                    res.headers_mut()
                        .insert(header::CACHE_CONTROL, Caching::Revalidate.header_value());
                    res.map(Body::new)
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidFilename => render(page_request).await,
                Err(e) => {
                    tracing::error!(error = %e, "reading a public file");
                    refuse(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        html,
                        "Something went wrong on our side.",
                    )
                }
            }
        }
    })
}

async fn readyz(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Paths anyone may load without signing in: the sign-in page, server
/// functions (which answer 401 themselves, never a redirect) and files.
/// (`/pkg` is served before this layer.)
fn is_public(path: &str) -> bool {
    path == "/signin"
        // A reset's cancel link works for whoever reads the email.
        || path == "/reset/cancel"
        // So does a notice's "this wasn't me" link: its page sends a
        // signed-out holder through the sign-in and back.
        || path == "/not-me"
        || path.starts_with("/api/")
        // The authorization endpoint sends people to sign in itself, keeping
        // the application's request.
        || path.starts_with("/oauth2/")
        || path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Refuses a request with a message for the person (callers log the reason).
fn refuse(status: StatusCode, html: bool, message: &str) -> Response {
    if html {
        error_page(status, "Request refused", message)
    } else {
        (status, message.to_owned()).into_response()
    }
}

/// A page that says what went wrong; `title` and `message` are our own
/// words (never echoed input).
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1 class=\"text-xl font-semibold\">{title}</h1><p class=\"mt-2\" role=\"alert\">{message}</p>\
         <p class=\"mt-4\"><a class=\"text-indigo-700 underline\" href=\"/\">Back to Tessera</a></p>"
    );
    (status, Html(plain_page("", &body))).into_response()
}

/// A page outside the app (no script): the site's style and icon, `head`
/// (already escaped) and `body` in a card.
fn plain_page(head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}<title>Tessera</title>\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/pkg/tessera.css\"></head>\
         <body class=\"bg-slate-50 p-8\"><main class=\"mx-auto max-w-md rounded-lg border border-slate-200 bg-white p-6\">\
         {body}</main></body></html>"
    )
}

/// Text for an HTML attribute or element.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The session store or the database failed mid-request: logged, and a
/// page that asks to try again.
fn sess_unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the session store or the database failed");
    error_page(StatusCode::SERVICE_UNAVAILABLE, "Request refused", UNAVAILABLE_MESSAGE)
}

const UNAVAILABLE_MESSAGE: &str = "Tessera is temporarily unavailable. Please try again in a moment.";
const CSRF_MESSAGE: &str = "This form has expired or did not come from Tessera. Reload the page and try again.";

/// How long a client should wait before retrying while we are unavailable
/// (the database is unreachable, a provider is down).
const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// Every 503 tells the client when to try again: a page, a server function,
/// `/readyz` or a refusal of the middleware, whichever answered it.
async fn retry_when_unavailable(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(UNAVAILABLE_RETRY_SECS));
    }
    res
}

/// The session layer answers a session it could not save (the database went
/// away during the request) with an empty 500; the person gets the 503 of
/// any other database outage instead, with words and a time to retry.
/// Every 500 of ours has a body, so an empty one is the layer's.
async fn unsaved_session_is_unavailable(req: Request, next: Next) -> Response {
    use axum::body::HttpBody as _;
    let html = wants_html(req.headers());
    let res = next.run(req).await;
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR && res.body().size_hint().exact() == Some(0) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, html, UNAVAILABLE_MESSAGE);
    }
    res
}

/// Works out the client's address (SECURITY.md 33) once, for everything
/// after it. A request id sent along is kept only from a trusted proxy and
/// only when short and plain; otherwise the request gets a fresh one.
async fn client_address(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip()) {
        let client = client_ip::resolve(
            peer,
            req.headers(),
            &state.config.trusted_proxies,
            state.config.forwarded_header,
        );
        req.extensions_mut().insert(client);
        let keep_id = client.via_trusted_proxy
            && req
                .headers()
                .get(REQUEST_ID)
                .is_some_and(|id| plain_request_id(id.as_bytes()));
        if !keep_id {
            req.headers_mut().remove(REQUEST_ID);
        }
    } else {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// A request id fit for the logs: 1-64 letters, digits, `-`, `_`, `.`.
fn plain_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

/// Every answer carries the browser protections (SECURITY.md 31-32), with a
/// CSP nonce made for this request and handed to the page renderer.
async fn browser_protection(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let nonce = CspNonce::new();
    req.extensions_mut().insert(nonce.clone());
    let mut res = next.run(req).await;
    browser_headers::protect(res.headers_mut(), &nonce, state.config.https());
    res
}

/// Loads the session's user, enforces the absolute timeout, guards pages,
/// checks CSRF on every state-changing request and attaches the portal.
async fn portal_middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let html = wants_html(req.headers());
    let Some(session) = req.extensions().get::<Session>().cloned().map(TypedSession::new) else {
        tracing::error!("session layer missing");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            html,
            "Something went wrong on our side.",
        );
    };
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.ip.to_string())
        .unwrap_or_else(|| "unknown".into());

    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (auth, user) = match load_user(&state, &session, &ip, user_agent.as_deref()).await {
        Ok(pair) => pair,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "loading the session");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, html, UNAVAILABLE_MESSAGE);
        }
    };
    if auth.is_some()
        && let Err(e) = mark_seen(&state, &session, &ip).await
    {
        tracing::error!(error = %e, "refreshing the session");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, html, UNAVAILABLE_MESSAGE);
    }

    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let req = if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        // The second sign-in step belongs to a half-finished sign-in only.
        if html && (path == SECOND_STEP_PATH || path == RESET_PATH) {
            if user.is_some() {
                return Redirect::to("/").into_response();
            }
            if auth.as_ref().and_then(AuthState::pending_user).is_none() {
                return Redirect::to("/signin").into_response();
            }
        } else if html && path == ENROLL_STEP_PATH {
            if user.is_some() {
                return Redirect::to("/").into_response();
            }
            if auth.as_ref().and_then(AuthState::enrolling_user).is_none() {
                return Redirect::to("/signin").into_response();
            }
        } else if html && !is_public(&path) && user.is_none() {
            return Redirect::to("/signin").into_response();
        }
        if html && path == "/signin" && user.is_some() {
            return Redirect::to("/").into_response();
        }
        // Pages carry the token in their forms: make it before the response
        // starts, so that its cookie goes out with the headers.
        if html && let Err(e) = session.csrf_token().await {
            tracing::error!(error = %e, "storing a CSRF token");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, html, UNAVAILABLE_MESSAGE);
        }
        req
    } else {
        match check_csrf(&state, &session, req).await {
            Ok(req) => req,
            Err(resp) => return resp,
        }
    };

    // Our cookies beside the session's: a trusted browser's token, a reset's key.
    let (trust, reset_key) = (
        cookie_token(req.headers(), OurCookie::TrustedBrowser.name(state.config.https())),
        cookie_token(req.headers(), OurCookie::ResetKey.name(state.config.https())),
    );
    let mut req = req;
    let portal = Arc::new(RequestPortal {
        ctx: RequestContext::new(state, Origin { ip, user_agent }),
        session,
        user,
        auth,
        trust,
        reset_key,
        set_cookies: std::sync::Mutex::new(Vec::new()),
    });
    req.extensions_mut().insert(portal.clone());
    let answered = portal.clone();
    req.extensions_mut().insert(Ports {
        signin: portal.clone(),
        account: portal.clone(),
        credentials: portal.clone(),
        sms: portal.clone(),
        totp: portal.clone(),
        passkey: portal.clone(),
        recovery: portal.clone(),
        admin: portal,
    });
    let mut res = next.run(req).await;
    let cookies = answered
        .set_cookies
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    for value in cookies.iter().filter_map(|c| http::HeaderValue::from_str(c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

/// The idle timeout slides with use: the store only pushes a session's expiry
/// back when the session is saved, and it is saved only when changed, so a
/// session in use is changed at most once a minute to keep it alive. Its row
/// in the user's list of sessions is brought up to date at the same pace.
async fn mark_seen(state: &AppState, session: &TypedSession, ip: &str) -> anyhow::Result<()> {
    let now = state.clock.now();
    let seen = session.seen().await?;
    if seen.is_none_or(|at| now.unix_timestamp() - at >= 60) {
        session.set_seen(now.unix_timestamp()).await?;
        if let Some(row) = session.row().await? {
            sessions::touch(&state.pool, row, now, ip).await?;
        }
    }
    Ok(())
}

/// The session's sign-in state and user, or nothing when the session has
/// outlived its absolute lifetime, its user is gone or locked, or it was
/// ended from another session (then it is ended here too).
async fn load_user(
    state: &AppState,
    session: &TypedSession,
    ip: &str,
    user_agent: Option<&str>,
) -> anyhow::Result<(Option<AuthState>, Option<store::UserRow>)> {
    let Some(auth) = session.auth().await? else {
        return Ok((None, None));
    };
    let now = state.clock.now().unix_timestamp();
    if auth.expired(now, state.config.session_absolute_hours * 3600) {
        session.flush().await?;
        return Ok((None, None));
    }
    let Some(user_id) = auth.signed_in_user() else {
        return Ok((Some(auth), None));
    };
    let row = session.row().await?;
    let found = match user_id.parse() {
        Ok(id) => store::find_session_user(&state.pool, id, row).await?,
        Err(_) => None,
    };
    // A deleted or locked account's sessions end at their next request.
    let Some((user, live)) = found.filter(|(u, _)| u.locked_at.is_none()) else {
        session.flush().await?;
        return Ok((None, None));
    };
    match row {
        Some(_) if !live => {
            tracing::info!(user_id = %user.id, "a session ended elsewhere was used");
            session.flush().await?;
            return Ok((None, None));
        }
        Some(_) => {}
        // Signed in before sessions were listed: listed from now on.
        None => {
            let from = sessions::SignedInFrom {
                now: state.clock.now(),
                ip,
                user_agent,
            };
            let row = sessions::register(&state.pool, user.id, &from).await?;
            session.set_row(row).await?;
        }
    }
    Ok((Some(auth), Some(user)))
}

/// The token in one of our cookies, if the request carries it well formed.
fn cookie_token(headers: &HeaderMap, name: &str) -> Option<CookieToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(tower_sessions::cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| CookieToken::from_cookie(c.value()))
}

/// CSRF (SECURITY.md 23): a cross-site request is refused outright, and the
/// body must carry this session's token (`csrf_token` field or
/// `x-csrf-token` header). The body is read within the size limit and handed on.
async fn check_csrf(state: &AppState, session: &TypedSession, req: Request) -> Result<Request, Response> {
    let html = wants_html(req.headers());
    let headers = req.headers();
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site");
    let foreign_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            origin != state.config.public_origin() && origin_host != host
        });
    if cross_site || foreign_origin {
        tracing::warn!("cross-site request refused");
        return Err(refuse(StatusCode::FORBIDDEN, html, CSRF_MESSAGE));
    }
    let header_token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                html,
                "What you sent is too large. Shorten the fields and try again.",
            ));
        }
    };
    let sent = header_token.or_else(|| {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned())
    });
    // An unreadable session is our failure, not a forged form.
    let expected = match session.stored_csrf_token().await {
        Ok(expected) => expected,
        Err(e) => {
            tracing::error!(error = %e, "reading the CSRF token");
            return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, html, UNAVAILABLE_MESSAGE));
        }
    };
    let valid = match (sent, expected) {
        (Some(sent), Some(expected)) => expected.matches(&sent),
        _ => false,
    };
    if !valid {
        tracing::warn!("missing or wrong CSRF token");
        return Err(refuse(StatusCode::FORBIDDEN, html, CSRF_MESSAGE));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
