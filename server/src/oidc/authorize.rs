//! The authorization endpoint's rules, without the cookie session: reading
//! and checking a request (OpenID Connect Core 3.1.2.1, PKCE), deciding what
//! the browser's sign-in state allows, and issuing the code. The web edge
//! keeps the request in the session while the person signs in.

use super::clients::{self, Client, Grant, Pkce};
use super::tokens::{OFFLINE_ACCESS, token_hash};
use crate::audit::{self, Event, Who};
use crate::context::RequestContext;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tessera::acr::Acr;
use tessera::method::Proof;
use tessera::policy::Policy;
use tessera::signin::Owed;
use time::OffsetDateTime;
use uuid::Uuid;

/// How long an authorization code lives (SECURITY.md 43: at most 60 s).
pub const CODE_SECS: i64 = 60;

/// Longest `state` and `nonce` accepted.
const MAX_PARAM_CHARS: usize = 512;

/// A checked authorization request, kept while the person signs in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The acr this request demands: asked for, never below the client's
    /// minimum (SECURITY.md 49).
    pub acr: Option<Acr>,
    pub max_age: Option<i64>,
    pub prompt: Prompt,
    /// Whether the consent screen shows even when consent is remembered.
    #[serde(default)]
    pub consent: ConsentPrompt,
    pub login_hint: Option<String>,
    /// When the request arrived (Unix seconds).
    pub received_at: i64,
    /// The browser's sign-in when the request arrived, if it asked for a
    /// new one (`prompt=login`, `max_age`): only a different sign-in, made
    /// after the request, is new (the clock's seconds cannot tell).
    #[serde(default)]
    pub sign_in_before: Option<u64>,
}

/// What `prompt` asks of the sign-in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Prompt {
    /// Sign in if needed.
    Default,
    /// Never show a page: answer with an error if the person must act.
    None,
    /// Sign in again even when signed in.
    Login,
}

/// Whether the application asked for the consent screen (`prompt=consent`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum ConsentPrompt {
    /// Only when the person has not allowed the application these scopes.
    #[default]
    IfNotAllowed,
    /// Every time.
    Ask,
}

/// Why a request is refused.
#[derive(Debug)]
pub enum Refusal {
    /// The client or the redirect URI cannot be trusted: an error page for
    /// the person, never a redirect (SECURITY.md 42).
    Page(String),
    /// An error for the client (RFC 6749 4.1.2.1), sent to its (checked)
    /// redirect URI `to`, or, for a pushed request, in the answer.
    Redirect {
        error: &'static str,
        description: &'static str,
        to: String,
    },
}

/// Where a request's parameters came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The authorization endpoint's link (or form), through the browser.
    Direct,
    /// Pushed by the authenticated client beforehand (RFC 9126): now, or
    /// taken back at the authorization endpoint by its `request_uri`.
    Pushed,
}

/// The way back to a client's (checked) redirect URI with `answer` (a code
/// or an error), the request's `state` and the issuer (RFC 9207).
fn back_to_client(redirect_uri: &str, answer: &[(&str, &str)], state: Option<&str>, issuer: &str) -> String {
    let mut url = url::Url::parse(redirect_uri).expect("a registered redirect URI is an absolute URL");
    {
        let mut q = url.query_pairs_mut();
        q.extend_pairs(answer);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    url.into()
}

/// The error redirect for a request whose client and redirect URI check out.
fn error_redirect(redirect_uri: &str, state: Option<&str>, issuer: &str, error: &str, description: &str) -> String {
    back_to_client(
        redirect_uri,
        &[("error", error), ("error_description", description)],
        state,
        issuer,
    )
}

/// Reads and checks the request the authorization endpoint got: its own
/// parameters, or, when it names a `request_uri`, those its client pushed
/// (RFC 9126 4: then the link's other parameters are ignored).
pub async fn parse(
    ctx: &RequestContext,
    params: &HashMap<String, String>,
) -> Result<(Client, AuthorizationRequest), Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(request_uri) = get("request_uri") else {
        return check(ctx, params, Arrival::Direct).await;
    };
    let client_id = get("client_id")
        .ok_or_else(|| Refusal::Page("The application did not say who it is (no client_id).".into()))?;
    let pushed = super::par::take(ctx.pool(), client_id, request_uri, ctx.now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "taking a pushed authorization request");
            Refusal::Page("Something went wrong on our side; try again.".into())
        })?
        .ok_or_else(|| {
            Refusal::Page(
                "This sign-in link has expired or was already used. Go back to the application and sign in again."
                    .into(),
            )
        })?;
    check(ctx, &pushed, Arrival::Pushed).await
}

/// Checks a request's parameters as they arrived.
pub async fn check(
    ctx: &RequestContext,
    params: &HashMap<String, String>,
    arrival: Arrival,
) -> Result<(Client, AuthorizationRequest), Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id")
        .ok_or_else(|| Refusal::Page("The application did not say who it is (no client_id).".into()))?;
    let client = clients::find(ctx.pool(), client_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "finding a client");
            Refusal::Page("Something went wrong on our side; try again.".into())
        })?
        .ok_or_else(|| Refusal::Page("This application is not registered here.".into()))?;
    let redirect_uri = get("redirect_uri")
        .ok_or_else(|| Refusal::Page("The application did not say where to return (no redirect_uri).".into()))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(Refusal::Page(
            "The application asked to return to an address it has not registered.".into(),
        ));
    }
    let state = get("state");
    let issuer = ctx.state.config.public_origin();
    let refuse = |error: &'static str, description: &'static str| Refusal::Redirect {
        error,
        description,
        to: error_redirect(redirect_uri, state, issuer, error, description),
    };
    if state.is_some_and(|s| s.len() > MAX_PARAM_CHARS) {
        return Err(Refusal::Page("The application's request is too long.".into()));
    }
    if get("request").is_some() {
        return Err(refuse("request_not_supported", "Request objects are not supported."));
    }
    if get("request_uri").is_some() {
        // (One at the endpoint was resolved by `parse`: this one was pushed.)
        return Err(refuse("invalid_request", "A pushed request cannot name a request_uri."));
    }
    if arrival == Arrival::Direct && client.requires_par() {
        return Err(refuse(
            "invalid_request",
            "This application must push its authorization requests first (RFC 9126).",
        ));
    }
    if get("response_type") != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        ));
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(refuse("invalid_request", "Only response_mode=query is supported."));
    }
    if !client.allows(Grant::AuthorizationCode) {
        return Err(refuse(
            "unauthorized_client",
            "This application may not use the authorization code flow.",
        ));
    }
    let scope = get("scope").unwrap_or_default();
    if !scope.split_ascii_whitespace().any(|s| s == "openid") {
        return Err(refuse("invalid_scope", "The scope must include openid."));
    }
    let scope = scope
        .split_ascii_whitespace()
        .filter(|s| SCOPES.contains(s))
        // Staying connected means refreshing: only for a client that may.
        .filter(|s| *s != OFFLINE_ACCESS || client.allows(Grant::RefreshToken))
        .collect::<Vec<_>>()
        .join(" ");
    let nonce = get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_PARAM_CHARS) {
        return Err(refuse("invalid_request", "The nonce is too long."));
    }
    let code_challenge = get("code_challenge");
    match (code_challenge, get("code_challenge_method")) {
        (Some(c), Some("S256")) if is_code_challenge(c) => {}
        (Some(_), Some("S256")) => return Err(refuse("invalid_request", "The code_challenge is malformed.")),
        (Some(_), _) => {
            return Err(refuse(
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            ));
        }
        (None, _) => match client.pkce() {
            Pkce::Required => {
                return Err(refuse(
                    "invalid_request",
                    "PKCE is required: send a code_challenge with code_challenge_method=S256.",
                ));
            }
            Pkce::OptionalForThisConfidentialClient => {}
        },
    }
    let prompts: Vec<&str> = get("prompt").map_or_else(Vec::new, |p| p.split_ascii_whitespace().collect());
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        ));
    }
    if !prompts
        .iter()
        .all(|v| ["none", "login", "consent", "select_account"].contains(v))
    {
        return Err(refuse("invalid_request", "Unknown prompt value."));
    }
    let prompt = if prompts.contains(&"none") {
        Prompt::None
    } else if prompts.contains(&"login") {
        Prompt::Login
    } else {
        Prompt::Default
    };
    let consent = if prompts.contains(&"consent") {
        ConsentPrompt::Ask
    } else {
        ConsentPrompt::IfNotAllowed
    };
    let max_age = match get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(refuse("invalid_request", "max_age must be a number of seconds.")),
        },
    };
    let (policy, _) = crate::settings::policy(ctx.pool()).await.map_err(|e| {
        tracing::error!(error = %e, "reading the policy");
        Refusal::Page("Something went wrong on our side; try again.".into())
    })?;
    let acr = demanded(&client, get("acr_values"), &policy);
    let login_hint = get("login_hint").map(|h| h.chars().take(64).collect());
    let request = AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: code_challenge.map(str::to_owned),
        acr,
        max_age,
        prompt,
        consent,
        login_hint,
        received_at: ctx.now().unix_timestamp(),
        sign_in_before: None,
    };
    Ok((client, request))
}

/// The acr `client` demands of a sign-in when a request asks `acr_values`
/// (none for the password grant, which has no such parameter).
pub fn demanded(client: &Client, acr_values: Option<&str>, policy: &Policy) -> Option<Acr> {
    demanded_acr(
        acr_values,
        &client.allowed_acrs,
        client.default_acr.as_deref(),
        &policy.default_acr,
    )
}

/// The acr a request demands: the first of `acr_values` that Tessera knows
/// and the client may have (`allowed`; empty: any), skipping the others
/// (`acr_values` is a voluntary request, Core 3.1.2.1), raised to the
/// client's minimum: its default, else the server's if the client may have
/// it (SECURITY.md 49: what passes through the browser never lowers it).
/// Without a request: that minimum, else the first the client may have.
fn demanded_acr(
    acr_values: Option<&str>,
    allowed: &[String],
    client_default: Option<&str>,
    server_default: &str,
) -> Option<Acr> {
    let may_have = |a: &Acr| allowed.is_empty() || allowed.iter().any(|x| x == a.as_str());
    let floor = client_default
        .and_then(Acr::parse)
        .or_else(|| Acr::parse(server_default).filter(may_have));
    let asked = acr_values
        .into_iter()
        .flat_map(str::split_ascii_whitespace)
        .filter_map(Acr::parse)
        .find(may_have);
    match (asked, floor) {
        (Some(asked), Some(floor)) => Some(asked.at_least(floor)),
        (asked, floor) => asked.or(floor).or_else(|| allowed.iter().find_map(|a| Acr::parse(a))),
    }
}

/// The scopes Tessera answers; others are dropped from the request.
pub const SCOPES: &[&str] = &["openid", "profile", "email", OFFLINE_ACCESS];

/// RFC 7636 4.2: BASE64URL(SHA256(verifier)), 43 characters.
fn is_code_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The browser's sign-in as the authorization endpoint sees it.
pub struct SignedIn<'a> {
    pub user_id: Uuid,
    pub authenticated_at: i64,
    /// Which full sign-in it is (`AuthState::SignedIn`'s `sign_in`).
    pub sign_in: u64,
    pub proven: &'a [Proof],
    /// What a sign-in of this account owes this request (`signin::owed`).
    pub owed: Owed,
}

/// What the endpoint does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The sign-in satisfies the request: issue a code.
    Issue,
    /// The person must sign in (again, if signed in).
    SignIn,
    /// Refused, with this error for the client.
    Refuse {
        error: &'static str,
        description: &'static str,
    },
}

/// What a request needs, given the browser's sign-in. `after_interaction`:
/// the person has just been through the sign-in pages for this request, so a
/// sign-in that still falls short is refused instead of asked again.
///
/// Freshness (OpenID Connect Core 3.1.2.1): `prompt=login` wants a sign-in
/// made after the request; `max_age` one whose age is under it (whole
/// seconds, so `max_age=0` always wants a new one) or made after the
/// request. "After the request" is a sign-in other than the one the
/// browser had when it arrived (`sign_in_before`), made once the person
/// went through the pages: never the same sign-in within the same second.
pub fn decide(
    request: &AuthorizationRequest,
    signed_in: Option<&SignedIn>,
    now: i64,
    after_interaction: bool,
) -> Decision {
    let new_since_request = |s: &SignedIn| {
        after_interaction && s.authenticated_at >= request.received_at && request.sign_in_before != Some(s.sign_in)
    };
    let fresh_enough = |s: &SignedIn| {
        let within_max_age = request
            .max_age
            .is_none_or(|m| now.saturating_sub(s.authenticated_at).max(0) < m || new_since_request(s));
        let prompt_met = request.prompt != Prompt::Login || new_since_request(s);
        within_max_age && prompt_met
    };
    let strong_enough = |s: &SignedIn| s.owed.paid_by(s.proven);
    match signed_in {
        Some(s) if fresh_enough(s) && strong_enough(s) => Decision::Issue,
        Some(s) if fresh_enough(s) && after_interaction => Decision::Refuse {
            error: "unmet_authentication_requirements",
            description: "The sign-in did not prove the method the application asked for.",
        },
        Some(_) if after_interaction => Decision::Refuse {
            error: "login_required",
            description: "The person did not sign in again.",
        },
        _ if request.prompt == Prompt::None => Decision::Refuse {
            error: "login_required",
            description: "The person must sign in.",
        },
        _ => Decision::SignIn,
    }
}

/// A code for this request and sign-in: stored hashed, bound to the client,
/// redirect URI, PKCE challenge and nonce, and carrying what was proven
/// (SECURITY.md 43, 44). The answer is where to send the browser.
pub async fn issue_code(
    ctx: &RequestContext,
    request: &AuthorizationRequest,
    user: Who<'_>,
    signed_in: &SignedIn<'_>,
    session_id: Option<Uuid>,
) -> anyhow::Result<String> {
    let code = crate::secrets::random_token();
    let now = ctx.now();
    let acr = Acr::stated(signed_in.proven).as_str();
    let amr: Vec<&str> = tessera::method::amr(signed_in.proven);
    let mut tx = ctx.pool().begin().await?;
    sqlx::query(
        "INSERT INTO oidc_authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
         code_challenge, acr, amr, auth_time, session_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(token_hash(&code))
    .bind(&request.client_id)
    .bind(user.id)
    .bind(&request.redirect_uri)
    .bind(&request.scope)
    .bind(&request.nonce)
    .bind(&request.code_challenge)
    .bind(acr)
    .bind(&amr)
    .bind(OffsetDateTime::from_unix_timestamp(signed_in.authenticated_at)?)
    .bind(session_id)
    .bind(now)
    .bind(now + time::Duration::seconds(CODE_SECS))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        now,
        &ctx.origin,
        Event::by_self(audit::OIDC_AUTHORIZED, user)
            .details(serde_json::json!({"client_id": request.client_id, "acr": acr, "amr": amr})),
    )
    .await?;
    tx.commit().await?;
    Ok(back_to_client(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        ctx.state.config.public_origin(),
    ))
}

/// The refusal of a checked request, for its redirect URI.
pub fn refusal(ctx: &RequestContext, request: &AuthorizationRequest, error: &str, description: &str) -> String {
    error_redirect(
        &request.redirect_uri,
        request.state.as_deref(),
        ctx.state.config.public_origin(),
        error,
        description,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::method::{Factor, MethodId};

    fn request(acr: Option<&str>, max_age: Option<i64>, prompt: Prompt) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: "openid".into(),
            state: None,
            nonce: None,
            code_challenge: None,
            acr: acr.and_then(Acr::parse),
            max_age,
            prompt,
            consent: ConsentPrompt::IfNotAllowed,
            login_hint: None,
            received_at: 1_000,
            sign_in_before: None,
        }
    }

    const PWD: Proof = Proof {
        factor: Factor::Password,
        at: 900,
    };
    const SMS: Proof = Proof {
        factor: Factor::Method(MethodId::Sms),
        at: 900,
    };

    /// Signed in, owing what `acr` asks of a user with 2FA on and a phone.
    fn signed_in<'a>(proven: &'a [Proof], at: i64, acr: Option<&str>) -> SignedIn<'a> {
        let mandate = tessera::signin::Mandate {
            policy: false,
            users_switch: true,
        };
        SignedIn {
            user_id: Uuid::nil(),
            authenticated_at: at,
            sign_in: at as u64,
            proven,
            owed: tessera::signin::owed(mandate, true, acr.and_then(Acr::parse)),
        }
    }

    #[test]
    fn sec_44_max_age_and_prompt_login_ask_for_a_new_sign_in() {
        let proven = [PWD, SMS];
        let s = signed_in(&proven, 900, None);
        let decide_now = |r: &AuthorizationRequest, s: &SignedIn, after: bool| decide(r, Some(s), 1_000, after);
        assert_eq!(
            decide_now(&request(None, None, Prompt::Default), &s, false),
            Decision::Issue
        );
        assert_eq!(
            decide_now(&request(None, Some(101), Prompt::Default), &s, false),
            Decision::Issue
        );
        // Whole seconds cannot tell 100 from 100.9: asked again.
        assert_eq!(
            decide_now(&request(None, Some(100), Prompt::Default), &s, false),
            Decision::SignIn
        );
        assert_eq!(
            decide_now(&request(None, None, Prompt::Login), &s, false),
            Decision::SignIn
        );
        // A sign-in made after the request, through the pages: a code.
        let again = signed_in(&proven, 1_000, None);
        assert_eq!(
            decide_now(&request(None, None, Prompt::Login), &again, true),
            Decision::Issue
        );
    }

    #[test]
    fn max_age_zero_and_prompt_login_want_another_sign_in_after_the_request_then_answer() {
        let proven = [PWD, SMS];
        // Signed in within the second the request arrived: not new.
        let same_second = signed_in(&proven, 1_000, None);
        for r in [
            request(None, Some(0), Prompt::Default),
            request(None, None, Prompt::Login),
        ] {
            assert_eq!(decide(&r, Some(&same_second), 1_000, false), Decision::SignIn);
            // Kept with the sign-in it had: coming back with that same one
            // is an error, never another sign-in page.
            let kept = AuthorizationRequest {
                sign_in_before: Some(same_second.sign_in),
                ..r.clone()
            };
            assert!(matches!(
                decide(&kept, Some(&same_second), 1_001, true),
                Decision::Refuse {
                    error: "login_required",
                    ..
                }
            ));
            // Another sign-in, a second later: a code, however old by then.
            let new = SignedIn {
                sign_in: 7,
                ..signed_in(&proven, 1_001, None)
            };
            assert_eq!(decide(&kept, Some(&new), 1_005, true), Decision::Issue);
            // Arriving with it: still not made after the request.
            assert_eq!(decide(&kept, Some(&new), 1_005, false), Decision::SignIn);
        }
    }

    #[test]
    fn sec_44_a_weaker_sign_in_is_asked_again_then_refused() {
        let proven = [PWD, SMS];
        let s = signed_in(&proven, 900, Some("otp"));
        let otp = request(Some("otp"), None, Prompt::Default);
        assert_eq!(decide(&otp, Some(&s), 1_000, false), Decision::SignIn);
        assert!(matches!(
            decide(&otp, Some(&s), 1_000, true),
            Decision::Refuse {
                error: "unmet_authentication_requirements",
                ..
            }
        ));
        let pwd_only = [PWD];
        // The user's own settings ask for the second factor it has on, and
        // a request for the password alone does not lower them (SECURITY.md 49).
        for acr in [None, Some("password")] {
            let weak = signed_in(&pwd_only, 900, acr);
            assert_eq!(
                decide(&request(acr, None, Prompt::Default), Some(&weak), 1_000, false),
                Decision::SignIn
            );
        }
    }

    #[test]
    fn prompt_none_never_asks() {
        assert!(matches!(
            decide(&request(None, None, Prompt::None), None, 1_000, false),
            Decision::Refuse {
                error: "login_required",
                ..
            }
        ));
        assert_eq!(
            decide(&request(None, None, Prompt::Default), None, 1_000, false),
            Decision::SignIn
        );
    }

    #[test]
    fn the_demanded_acr_is_the_first_known_and_allowed_else_the_clients_default_else_the_servers() {
        let otp = Some(Acr::Method(MethodId::Totp));
        let sms = Some(Acr::Method(MethodId::Sms));
        assert_eq!(demanded_acr(Some("urn:unknown otp sms"), &[], None, "tessera"), otp);
        assert_eq!(demanded_acr(Some("stytch otp"), &[], None, "tessera"), sms);
        assert_eq!(
            demanded_acr(Some("urn:unknown"), &[], None, "tessera"),
            Some(Acr::UsersSettings)
        );
        // Only what the client may ask for.
        let only_otp = ["otp".to_owned()];
        assert_eq!(demanded_acr(Some("password otp"), &only_otp, None, "tessera"), otp);
        assert_eq!(demanded_acr(Some("password"), &only_otp, Some("otp"), "tessera"), otp);
        assert_eq!(demanded_acr(Some("password"), &only_otp, None, "tessera"), otp);
        assert_eq!(demanded_acr(None, &only_otp, None, "otp"), otp);
        // Defaults: the client's, then the server's.
        assert_eq!(demanded_acr(None, &[], Some("sms"), "otp"), sms);
        assert_eq!(demanded_acr(None, &[], None, "otp"), otp);
        assert_eq!(demanded_acr(Some(""), &[], None, "password"), Some(Acr::Password));
    }

    #[test]
    fn sec_49_a_clients_default_acr_is_a_floor_the_request_never_lowers() {
        let otp = Some(Acr::Method(MethodId::Totp));
        let passkey = Some(Acr::Method(MethodId::Passkey));
        for weaker in ["password", "tessera", "sms", "stytch"] {
            assert_eq!(
                demanded_acr(Some(weaker), &[], Some("otp"), "password"),
                otp,
                "{weaker}"
            );
        }
        // A stronger request stands.
        assert_eq!(demanded_acr(Some("passkey"), &[], Some("otp"), "password"), passkey);
        // The server's default is the floor of a client without one.
        assert_eq!(demanded_acr(Some("password"), &[], None, "otp"), otp);
        assert_eq!(
            demanded_acr(Some("password"), &[], None, "tessera"),
            Some(Acr::UsersSettings)
        );
    }

    #[test]
    fn code_challenges_are_43_base64url_characters() {
        assert!(is_code_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!is_code_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
        assert!(!is_code_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
    }
}
