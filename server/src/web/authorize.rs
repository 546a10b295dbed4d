//! The authorization endpoint in the browser (OpenID Connect Core 3.1.2):
//! checks the application's request, and either answers it at once (the
//! session's sign-in satisfies it) or keeps it in the session and sends the
//! person through the portal's own sign-in pages, which come back to
//! `/oauth2/continue` when done.

use super::portal::RequestPortal;
use super::{error_page, escape, plain_page, sess_unavailable};
use crate::context::who;
use crate::oidc::authorize::{self, AuthorizationRequest, Decision, Refusal, SignedIn};
use crate::oidc::clients;
use axum::Extension;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tessera::acr::Acr;
use tessera::signin::AuthState;

pub const CONTINUE_PATH: &str = "/oauth2/continue";

/// How long a kept request waits for the person to sign in.
const REQUEST_WAITS_SECS: i64 = 30 * 60;

const TRY_AGAIN: &str = "Go back to the application and sign in again.";

pub async fn authorize(
    Extension(portal): Extension<Arc<RequestPortal>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match authorize::parse(&portal.ctx, &params).await {
        Ok((client, request)) => proceed(&portal, &client, request, false).await,
        Err(Refusal::Page(message)) => error_page(StatusCode::BAD_REQUEST, "This sign-in link does not work", &message),
        Err(Refusal::Redirect(to)) => Redirect::to(&to).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ContinueQuery {
    #[serde(default)]
    request: String,
}

/// Back from the sign-in pages: the kept request, answered now.
pub async fn resume(Extension(portal): Extension<Arc<RequestPortal>>, Query(q): Query<ContinueQuery>) -> Response {
    let request = match portal.session.take_authorization(&q.request).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in is no longer open",
                &format!("It was finished or replaced in this browser. {TRY_AGAIN}"),
            );
        }
        Err(e) => return sess_unavailable(e),
    };
    if portal.ctx.now().unix_timestamp() - request.received_at > REQUEST_WAITS_SECS {
        return error_page(StatusCode::BAD_REQUEST, "This sign-in took too long", TRY_AGAIN);
    }
    // Checked again: the client may have been removed or changed meanwhile.
    let client = match clients::find(portal.ctx.pool(), &request.client_id).await {
        Ok(Some(c)) if c.has_redirect_uri(&request.redirect_uri) => c,
        Ok(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link does not work",
                "This application is not registered here.",
            );
        }
        Err(e) => return sess_unavailable(e),
    };
    let answer = proceed(&portal, &client, request, true).await;
    leave_by_page(answer, &client.name)
}

/// Back from a sign-in form, the way to the application is a page that
/// moves on by itself, not a redirect: browsers hold a form's redirects to
/// the CSP's `form-action 'self'`, and the application is another site.
pub(super) fn leave_by_page(answer: Response, client_name: &str) -> Response {
    let Some(to) = answer
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|to| !to.starts_with('/'))
        .map(str::to_owned)
    else {
        return answer;
    };
    let to = escape(&to);
    let name = escape(client_name);
    let body = format!(
        "<h1 class=\"text-xl font-semibold\">Back to {name}</h1>\
         <p class=\"mt-2\">Taking you back to {name}…</p>\
         <p class=\"mt-4\"><a class=\"text-indigo-700 underline\" data-testid=\"continue\" href=\"{to}\">Continue to {name}</a></p>"
    );
    let page = plain_page(&format!("<meta http-equiv=\"refresh\" content=\"0;url={to}\">"), &body);
    (StatusCode::OK, axum::response::Html(page)).into_response()
}

async fn proceed(
    portal: &RequestPortal,
    client: &clients::Client,
    request: AuthorizationRequest,
    after_interaction: bool,
) -> Response {
    let ctx = &portal.ctx;
    if !client.first_party {
        // Consent screens are not built yet: only first-party clients sign in.
        return Redirect::to(&authorize::refusal(
            ctx,
            &request,
            "consent_required",
            "This application needs the person's consent, which Tessera cannot ask for yet.",
        ))
        .into_response();
    }
    let signed_in = match (&portal.user, &portal.auth) {
        (
            Some(user),
            Some(AuthState::SignedIn {
                authenticated_at,
                proven,
                ..
            }),
        ) => Some((
            user,
            SignedIn {
                user_id: user.id,
                authenticated_at: *authenticated_at,
                proven,
                second_factor_on: user.two_factor_enabled,
            },
        )),
        _ => None,
    };
    let now = ctx.now().unix_timestamp();
    match authorize::decide(&request, signed_in.as_ref().map(|(_, s)| s), now, after_interaction) {
        Decision::Issue => {
            let (user, s) = signed_in.expect("a code is issued only to a signed-in session");
            let session_id = match portal.session.row().await {
                Ok(row) => row,
                Err(e) => return sess_unavailable(e),
            };
            match authorize::issue_code(ctx, &request, who(user), &s, session_id).await {
                Ok(to) => Redirect::to(&to).into_response(),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "issuing an authorization code");
                    Redirect::to(&authorize::refusal(
                        ctx,
                        &request,
                        "server_error",
                        "Something went wrong on our side; try again.",
                    ))
                    .into_response()
                }
            }
        }
        Decision::Refuse { error, description } => {
            Redirect::to(&authorize::refusal(ctx, &request, error, description)).into_response()
        }
        Decision::SignIn => {
            let id = match portal.session.keep_authorization(&request).await {
                Ok(id) => id,
                Err(e) => return sess_unavailable(e),
            };
            let back = format!("{CONTINUE_PATH}?request={id}");
            // The second step asks for the method the application wants.
            let demand = request.acr.as_deref().and_then(Acr::parse).and_then(Acr::method);
            if let Err(e) = portal.session.set_demanded_method(demand).await {
                return sess_unavailable(e);
            }
            if signed_in.is_some() {
                // Signed in, but not recently or strongly enough: again.
                Redirect::to(&format!("/signin/again?next={}", urlencode(&back))).into_response()
            } else {
                if let Err(e) = portal.session.set_return_to(&back).await {
                    return sess_unavailable(e);
                }
                Redirect::to("/signin").into_response()
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
