//! RP-Initiated Logout 1.0: an application sends the browser here (a link,
//! or a form it posts: `form_post_as_get` turns that into the link) to
//! sign out of Tessera. A signed-in person is asked first (neither a link
//! nor another site's form may sign anyone out); only the answer, our own
//! form at [`END_SESSION_CONFIRM_PATH`] with the session's CSRF token,
//! signs out. Afterwards the browser goes to the client's registered
//! `post_logout_redirect_uri` (exact match, with `state`), or to sign-in.

use super::authorize::leave_by_page;
use super::portal::RequestPortal;
use super::{error_page, escape, plain_page, sess_unavailable};
use crate::oidc::{clients, keys};
use axum::Extension;
use axum::extract::{Form, Query};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use tessera::ports::SignIn;

pub const END_SESSION_PATH: &str = "/oauth2/end_session";
/// Where the confirmation form posts: the only request that signs out.
pub const END_SESSION_CONFIRM_PATH: &str = "/oauth2/end_session/confirm";

#[derive(Deserialize, Default)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// Where to go after signing out, checked; `Err`: the page saying why not.
async fn destination(portal: &RequestPortal, p: &LogoutParams) -> Result<Option<(String, String)>, Response> {
    let bad = |message: &str| error_page(StatusCode::BAD_REQUEST, "This sign-out link does not work", message);
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let hinted = match nonempty(&p.id_token_hint) {
        Some(hint) => {
            let claims = keys::verify_own_jwt(portal.ctx.pool(), keys::JwtKind::IdToken, &hint)
                .await
                .map_err(sess_unavailable)?
                .filter(|c| c["iss"] == portal.ctx.state.config.public_origin())
                .ok_or_else(|| bad("The application sent a sign-in token that Tessera did not issue."))?;
            claims["aud"].as_str().map(str::to_owned)
        }
        None => None,
    };
    let client_id = match (nonempty(&p.client_id), hinted) {
        (Some(a), Some(b)) if a != b => return Err(bad("The application's sign-out request contradicts itself.")),
        (a, b) => a.or(b),
    };
    let Some(uri) = nonempty(&p.post_logout_redirect_uri) else {
        return Ok(None);
    };
    let client = match &client_id {
        Some(id) => clients::find(portal.ctx.pool(), id).await.map_err(sess_unavailable)?,
        None => None,
    };
    let Some(client) = client.filter(|c| c.post_logout_redirect_uris.contains(&uri)) else {
        return Err(bad(
            "The application asked to return to an address it has not registered.",
        ));
    };
    let mut to = url::Url::parse(&uri).map_err(|_| bad("The return address is not valid."))?;
    if let Some(state) = nonempty(&p.state) {
        to.query_pairs_mut().append_pair("state", &state);
    }
    Ok(Some((to.into(), client.name)))
}

/// The request: signed out already, straight on; signed in, asked first.
pub async fn ask(Extension(portal): Extension<Arc<RequestPortal>>, Query(p): Query<LogoutParams>) -> Response {
    let to = match destination(&portal, &p).await {
        Ok(to) => to,
        Err(page) => return page,
    };
    if portal.user.is_none() {
        return match to {
            Some((to, _)) => Redirect::to(&to).into_response(),
            None => Redirect::to("/signin").into_response(),
        };
    }
    let token = match portal.session.csrf_token().await {
        Ok(t) => t.reveal().to_owned(),
        Err(e) => return sess_unavailable(e),
    };
    let hidden = |name: &str, value: &Option<String>| match value {
        Some(v) => format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)),
        None => String::new(),
    };
    let fields = [
        hidden("csrf_token", &Some(token)),
        hidden("id_token_hint", &p.id_token_hint),
        hidden("client_id", &p.client_id),
        hidden("post_logout_redirect_uri", &p.post_logout_redirect_uri),
        hidden("state", &p.state),
    ]
    .concat();
    let who = to
        .as_ref()
        .map_or_else(|| "An application".to_owned(), |(_, name)| escape(name));
    let body = format!(
        "<h1 class=\"text-xl font-semibold\">Sign out of Tessera?</h1>\
         <p class=\"mt-2\">{who} asked to sign you out. This ends your Tessera session in this browser.</p>\
         <form method=\"post\" action=\"{END_SESSION_CONFIRM_PATH}\" class=\"mt-4 flex gap-3\">{fields}\
         <button type=\"submit\" data-testid=\"confirm-sign-out\" class=\"rounded bg-indigo-700 px-4 py-2 text-white\">Sign out</button>\
         <a href=\"/\" class=\"px-4 py-2 text-indigo-700 underline\">Stay signed in</a></form>"
    );
    let page = plain_page("", &body);
    (StatusCode::OK, Html(page)).into_response()
}

/// The confirmation (its CSRF token was checked on the way in).
pub async fn confirm(Extension(portal): Extension<Arc<RequestPortal>>, Form(p): Form<LogoutParams>) -> Response {
    let to = match destination(&portal, &p).await {
        Ok(to) => to,
        Err(page) => return page,
    };
    if let Err(e) = portal.sign_out().await {
        return sess_unavailable(e);
    }
    match to {
        Some((to, name)) => leave_by_page(&to, &name),
        None => Redirect::to("/signin").into_response(),
    }
}
