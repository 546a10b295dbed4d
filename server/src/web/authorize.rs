//! The authorization endpoint in the browser (OpenID Connect Core 3.1.2):
//! checks the application's request, and either answers it at once (the
//! session's sign-in satisfies it) or keeps it in the session and sends the
//! person through the portal's own sign-in pages, which come back to
//! `/oauth2/continue` when done. An application that is not first-party is
//! shown the consent screen first (unless the person allowed it before).

use super::portal::RequestPortal;
use super::{error_page, escape, plain_page, sess_unavailable};
use crate::audit::{self, Event};
use crate::context::who;
use crate::oidc::authorize::{self, AuthorizationRequest, ConsentPrompt, Decision, Prompt, Refusal, SignedIn};
use crate::oidc::{clients, consent};
use crate::signin;
use axum::Extension;
use axum::extract::{Form, Query};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tessera::signin::AuthState;

pub const CONTINUE_PATH: &str = "/oauth2/continue";
pub const CONSENT_PATH: &str = "/oauth2/consent";

/// How long a kept request waits for the person to sign in.
const REQUEST_WAITS_SECS: i64 = 30 * 60;

const TRY_AGAIN: &str = "Go back to the application and sign in again.";

/// Where the browser goes with a request, once decided.
enum Outcome {
    /// To the application's redirect URI, with a code or an error.
    ToClient(String),
    /// To one of the portal's own pages (to sign in).
    ToPortal(String),
    /// A page for the person: the consent screen, or why it stopped.
    Page(Response),
}

impl Outcome {
    /// The answer to a link from the application: redirects.
    fn by_redirect(self) -> Response {
        match self {
            Outcome::ToClient(to) | Outcome::ToPortal(to) => Redirect::to(&to).into_response(),
            Outcome::Page(page) => page,
        }
    }

    /// The answer after one of our forms: to the application by a page
    /// that moves on by itself (`leave_by_page`).
    fn after_form(self, client_name: &str) -> Response {
        match self {
            Outcome::ToClient(to) => leave_by_page(&to, client_name),
            other => other.by_redirect(),
        }
    }
}

/// How far the person has come with this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The application's link, just followed.
    Arrived,
    /// Back from the portal's sign-in pages.
    SignedIn,
    /// Back from the consent screen, having allowed the application.
    Consented,
}

pub async fn authorize(
    Extension(portal): Extension<Arc<RequestPortal>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match authorize::parse(&portal.ctx, &params).await {
        Ok((client, request)) => proceed(&portal, &client, request, Step::Arrived).await.by_redirect(),
        Err(Refusal::Page(message)) => error_page(StatusCode::BAD_REQUEST, "This sign-in link does not work", &message),
        Err(Refusal::Redirect { to, .. }) => Redirect::to(&to).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ContinueQuery {
    #[serde(default)]
    request: String,
}

/// Back from the sign-in pages: the kept request, answered now.
pub async fn resume(Extension(portal): Extension<Arc<RequestPortal>>, Query(q): Query<ContinueQuery>) -> Response {
    let (client, request) = match kept(&portal, &q.request).await {
        Ok(kept) => kept,
        Err(page) => return page,
    };
    proceed(&portal, &client, request, Step::SignedIn)
        .await
        .after_form(&client.name)
}

#[derive(Deserialize)]
pub struct ConsentAnswer {
    #[serde(default)]
    request: String,
    #[serde(default)]
    answer: String,
}

/// The consent screen's answer (its CSRF token was checked on the way in).
pub async fn consent_answer(
    Extension(portal): Extension<Arc<RequestPortal>>,
    Form(form): Form<ConsentAnswer>,
) -> Response {
    let (client, request) = match kept(&portal, &form.request).await {
        Ok(kept) => kept,
        Err(page) => return page,
    };
    let Some(user) = &portal.user else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "You are signed out",
            &format!("This browser signed out meanwhile. {TRY_AGAIN}"),
        );
    };
    let ctx = &portal.ctx;
    match form.answer.as_str() {
        "allow" => {
            if let Err(e) = consent::remember(ctx, who(user), &client.id, &request.scope).await {
                return sess_unavailable(format!("{e:#}"));
            }
            proceed(&portal, &client, request, Step::Consented)
                .await
                .after_form(&client.name)
        }
        "deny" => {
            let event = Event::by_self(audit::OIDC_CONSENT_DENIED, who(user))
                .details(serde_json::json!({"client_id": client.id}));
            if let Err(e) = audit::record(ctx.pool(), ctx.now(), &ctx.origin, event).await {
                return sess_unavailable(e);
            }
            let to = authorize::refusal(
                ctx,
                &request,
                "access_denied",
                "The person did not allow the application.",
            );
            leave_by_page(&to, &client.name)
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Choose Allow or Cancel",
            "The answer was neither. Go back and choose one.",
        ),
    }
}

/// The request kept under `id` (taken from the session), if still open
/// and its client still registered with its redirect URI.
async fn kept(portal: &RequestPortal, id: &str) -> Result<(clients::Client, AuthorizationRequest), Response> {
    let request = match portal.session.take_authorization(id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in is no longer open",
                &format!("It was finished or replaced in this browser. {TRY_AGAIN}"),
            ));
        }
        Err(e) => return Err(sess_unavailable(e)),
    };
    if portal.ctx.now().unix_timestamp() - request.received_at > REQUEST_WAITS_SECS {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in took too long",
            TRY_AGAIN,
        ));
    }
    // Checked again: the client may have been removed or changed meanwhile.
    match clients::find(portal.ctx.pool(), &request.client_id).await {
        Ok(Some(c)) if c.has_redirect_uri(&request.redirect_uri) => Ok((c, request)),
        Ok(_) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link does not work",
            "This application is not registered here.",
        )),
        Err(e) => Err(sess_unavailable(e)),
    }
}

/// Back from a sign-in form, the way to the application is a page that
/// moves on by itself, not a redirect: browsers hold a form's redirects to
/// the CSP's `form-action 'self'`, and the application is another site.
pub(super) fn leave_by_page(to: &str, client_name: &str) -> Response {
    let to = escape(to);
    let name = escape(client_name);
    let body = format!(
        "<h1 class=\"text-xl font-semibold\">Back to {name}</h1>\
         <p class=\"mt-2\">Taking you back to {name}…</p>\
         <p class=\"mt-4\"><a class=\"text-indigo-700 underline\" data-testid=\"continue\" href=\"{to}\">Continue to {name}</a></p>"
    );
    let page = plain_page(&format!("<meta http-equiv=\"refresh\" content=\"0;url={to}\">"), &body);
    (StatusCode::OK, Html(page)).into_response()
}

async fn proceed(
    portal: &RequestPortal,
    client: &clients::Client,
    request: AuthorizationRequest,
    step: Step,
) -> Outcome {
    let ctx = &portal.ctx;
    let signed_in = match (&portal.user, &portal.auth) {
        (
            Some(user),
            Some(AuthState::SignedIn {
                authenticated_at,
                proven,
                sign_in,
                ..
            }),
        ) => {
            // What a sign-in of this account owes this request, by the one
            // rule the sign-in pages follow (SECURITY.md 49).
            let owed = match signin::owed(ctx, user, request.acr).await {
                Ok(owed) => owed,
                Err(e) => return Outcome::Page(sess_unavailable(e)),
            };
            Some((
                user,
                SignedIn {
                    user_id: user.id,
                    authenticated_at: *authenticated_at,
                    sign_in: *sign_in,
                    proven,
                    owed,
                },
            ))
        }
        _ => None,
    };
    let now = ctx.now().unix_timestamp();
    match authorize::decide(&request, signed_in.as_ref().map(|(_, s)| s), now, step != Step::Arrived) {
        Decision::Issue => {
            let (user, s) = signed_in.expect("a code is issued only to a signed-in session");
            if step != Step::Consented {
                let asks = match consent_needed(portal, client, &request).await {
                    Ok(asks) => asks,
                    Err(e) => return Outcome::Page(sess_unavailable(e)),
                };
                if asks && request.prompt == Prompt::None {
                    return Outcome::ToClient(authorize::refusal(
                        ctx,
                        &request,
                        "consent_required",
                        "The person has not allowed this application yet.",
                    ));
                }
                if asks {
                    return Outcome::Page(consent_screen(portal, client, &request, &user.username).await);
                }
            }
            let session_id = match portal.session.row().await {
                Ok(row) => row,
                Err(e) => return Outcome::Page(sess_unavailable(e)),
            };
            match authorize::issue_code(ctx, &request, who(user), &s, session_id).await {
                Ok(to) => Outcome::ToClient(to),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "issuing an authorization code");
                    Outcome::ToClient(authorize::refusal(
                        ctx,
                        &request,
                        "server_error",
                        "Something went wrong on our side; try again.",
                    ))
                }
            }
        }
        Decision::Refuse { error, description } => {
            Outcome::ToClient(authorize::refusal(ctx, &request, error, description))
        }
        Decision::SignIn => {
            // The sign-in to come must be another than the one this browser has.
            let request = AuthorizationRequest {
                sign_in_before: signed_in.as_ref().map(|(_, s)| s.sign_in),
                ..request
            };
            let id = match portal.session.keep_authorization(&request).await {
                Ok(id) => id,
                Err(e) => return Outcome::Page(sess_unavailable(e)),
            };
            let back = format!("{CONTINUE_PATH}?request={id}");
            // The password step folds what the application asks into what
            // the sign-in owes.
            if let Err(e) = portal.session.set_application_acr(request.acr).await {
                return Outcome::Page(sess_unavailable(e));
            }
            if signed_in.is_some() {
                // Signed in, but not recently or strongly enough: again.
                Outcome::ToPortal(format!("/signin/again?next={}", urlencode(&back)))
            } else {
                if let Err(e) = portal.session.set_return_to(&back).await {
                    return Outcome::Page(sess_unavailable(e));
                }
                // The application's hint fills in the username.
                match &request.login_hint {
                    Some(hint) => Outcome::ToPortal(format!("/signin?login_hint={}", urlencode(hint))),
                    None => Outcome::ToPortal("/signin".into()),
                }
            }
        }
    }
}

/// Whether the person must be asked before the application learns who
/// they are: always when it asked (`prompt=consent`), otherwise only for an
/// application that is not first-party and not allowed these scopes before.
async fn consent_needed(
    portal: &RequestPortal,
    client: &clients::Client,
    request: &AuthorizationRequest,
) -> sqlx::Result<bool> {
    if request.consent == ConsentPrompt::Ask {
        return Ok(true);
    }
    if client.first_party {
        return Ok(false);
    }
    let Some(user) = &portal.user else { return Ok(true) };
    let allowed = consent::allowed(portal.ctx.pool(), user.id, &client.id).await?;
    Ok(!allowed.is_some_and(|a| consent::covers(&a, &request.scope)))
}

/// The consent screen: what the application will learn, Allow or Cancel.
async fn consent_screen(
    portal: &RequestPortal,
    client: &clients::Client,
    request: &AuthorizationRequest,
    username: &str,
) -> Response {
    let (id, token) = match (
        portal.session.keep_authorization(request).await,
        portal.session.csrf_token().await,
    ) {
        (Ok(id), Ok(token)) => (id, token),
        (Err(e), _) | (_, Err(e)) => return sess_unavailable(e),
    };
    let name = escape(&client.name);
    let items: String = request
        .scope
        .split_ascii_whitespace()
        .map(|s| format!("<li>{}</li>", consent::scope_words(s)))
        .collect();
    let body = format!(
        "<h1 class=\"text-xl font-semibold\">Allow {name} to sign you in?</h1>\
         <p class=\"mt-2\">You are signed in to Tessera as <strong>{user}</strong>. {name} will be able to:</p>\
         <ul class=\"mt-2 list-disc pl-6\" data-testid=\"consent-scopes\">{items}</ul>\
         <p class=\"mt-2 text-sm text-slate-600\">Tessera remembers your answer. You can revoke it any time on the Applications page of your account.</p>\
         <form method=\"post\" action=\"{CONSENT_PATH}\" class=\"mt-4 flex gap-3\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <button type=\"submit\" name=\"answer\" value=\"allow\" data-testid=\"consent-allow\" class=\"rounded bg-indigo-700 px-4 py-2 text-white\">Allow</button>\
         <button type=\"submit\" name=\"answer\" value=\"deny\" data-testid=\"consent-deny\" class=\"rounded border border-slate-300 px-4 py-2\">Cancel</button>\
         </form>",
        user = escape(username),
        token = escape(token.reveal()),
        id = escape(&id),
    );
    (StatusCode::OK, Html(plain_page("", &body))).into_response()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
