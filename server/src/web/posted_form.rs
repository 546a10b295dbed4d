//! An application may post its request to the browser endpoints instead of
//! linking to them (OpenID Connect Core 3.1.2.1 for authorization,
//! RP-Initiated Logout 1.0 for sign-out: both MUST be supported). Such a
//! form comes from the application's site, so the browser sends it without
//! our `SameSite=Lax` session cookie: answered in place it would meet a
//! signed-out browser, and any session it started would replace the
//! person's own. It is answered instead with a redirect to the same
//! endpoint's link, which the browser follows as a top-level GET, cookie
//! and all; the request then goes the one way every link goes.
//!
//! Served outside the session layer: the post itself reads and writes no
//! session and needs no CSRF token (it changes nothing; the link it becomes
//! is what a link from the application could do anyway).

use super::error_page;
use axum::body::Bytes;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, post};
use http::{HeaderMap, StatusCode, header};

/// The most a posted request may hold: what a link can carry.
const MAX_POSTED_BYTES: usize = 8 * 1024;

/// A `POST` route for `path` that answers a posted form with `path`'s link.
pub fn as_link<S: Clone + Send + Sync + 'static>(path: &'static str) -> MethodRouter<S> {
    post(move |headers: HeaderMap, body: Bytes| async move { link(path, &headers, &body) })
}

fn link(path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This request does not work",
            "The application sent its request in a form Tessera does not read. \
             Go back to the application and try again.",
        );
    }
    if body.len() > MAX_POSTED_BYTES {
        return error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "This request does not work",
            "The application's request is too long.",
        );
    }
    // Written out again by the encoder: the link holds exactly the pairs
    // that were posted, never raw bytes from the body.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(body))
        .finish();
    let to = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    Redirect::to(&to).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8".parse().unwrap(),
        );
        h
    }

    fn location(res: &Response) -> Option<&str> {
        res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn a_posted_form_becomes_the_same_link_and_nothing_else() {
        let res = link("/oauth2/authorize", &form(), b"client_id=a%20b&state=x%26y&empty=");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&res),
            Some("/oauth2/authorize?client_id=a+b&state=x%26y&empty=")
        );
        let res = link("/oauth2/end_session", &form(), b"");
        assert_eq!(location(&res), Some("/oauth2/end_session"));
        // Bytes that are not a form's are encoded, never passed through.
        let res = link("/oauth2/authorize", &form(), b"a=\r\nLocation: x&b=<");
        assert_eq!(location(&res), Some("/oauth2/authorize?a=%0D%0ALocation%3A+x&b=%3C"));
    }

    #[test]
    fn anything_but_a_short_form_is_refused() {
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(link("/p", &json, b"a=b").status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            link("/p", &HeaderMap::new(), b"a=b").status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let long = vec![b'a'; MAX_POSTED_BYTES + 1];
        assert_eq!(link("/p", &form(), &long).status(), StatusCode::PAYLOAD_TOO_LARGE);
        let just = vec![b'a'; MAX_POSTED_BYTES];
        assert_eq!(link("/p", &form(), &just).status(), StatusCode::SEE_OTHER);
    }
}
