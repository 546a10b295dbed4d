//! The sign-in pipeline as a service: the password step, the second step
//! with any method, and the finish, each recording what it proved, and
//! what a sign-in owes ([`owed`], the one rule of SECURITY.md 49). It keeps
//! no cookie: it answers with the pipeline's next state ([`AuthState`]),
//! which the web edge keeps in the session (and a token endpoint can drive
//! the same steps). Beside it, what changes the second step: browsers
//! trusted to skip it ([`trusted_browsers`]) and the self-service reset of
//! two-factor sign-in for a person who lost every factor ([`reset`]); the
//! account pages and the console use them too.

pub mod reset;
pub mod trusted_browsers;

use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::{db, internal};
use crate::methods::{self, Answer, Channel, Credential, KeptCeremony, SendKind, Started};
use crate::metrics;
use crate::store::{self, UserRow};
use reset::ResetKey;
use tessera::PortalError;
use tessera::account::{PASSWORD_MAX_CHARS, Username, lookup_key};
use tessera::acr::Acr;
use tessera::error::FieldError;
use tessera::method::{Factor, MethodId, Proof};
use tessera::policy::{MissingMethod, Mode, Policy};
use tessera::signin::{AfterPassword, AuthState, Mandate, NextStep, Owed, ThrottlePolicy};
use uuid::Uuid;

/// Where a correct password leads: the account, the step that follows and
/// the pipeline's state for it.
pub struct Step {
    pub user: UserRow,
    pub next: NextStep,
    pub state: AuthState,
    /// What this sign-in owes ([`owed`]).
    pub owed: Owed,
}

/// Who asks this account for a second factor: the policy, its own switch.
fn mandate(policy: &Policy, user: &UserRow) -> Mandate {
    Mandate {
        policy: policy.mode == Mode::Mandatory,
        users_switch: user.two_factor_enabled,
    }
}

/// Which factors a sign-in of `user` owes when an application asks
/// `application` (already raised to its client's minimum): the policy's
/// mandate, the user's switch and the account's usable credentials now,
/// through the one rule (`tessera::signin::owed`, SECURITY.md 49). The
/// authorization endpoint and the password grant ask this of a sign-in
/// that already happened; the password step decides the same way.
pub async fn owed(ctx: &RequestContext, user: &UserRow, application: Option<Acr>) -> Result<Owed, PortalError> {
    let policy = ctx.policy().await?;
    let usable = methods::usable_credentials(ctx.pool(), user.id)
        .await
        .map_err(db("listing usable credentials"))?;
    let methods: Vec<MethodId> = usable.iter().map(|c| c.method).collect();
    Ok(AfterPassword::new(mandate(&policy, user), application, &methods, false).owed)
}

/// Seconds before another password attempt for this account key or this
/// client is allowed; `None`: allowed now (SECURITY.md 17).
pub async fn throttled(ctx: &RequestContext, account_key: &str) -> Result<Option<u64>, PortalError> {
    let cfg = &ctx.state.config;
    let now = ctx.now();
    let window = cfg.signin_failure_window_minutes * 60;
    let counts = store::failures_since(ctx.pool(), account_key, ctx.ip(), now - time::Duration::seconds(window))
        .await
        .map_err(db("counting failed sign-ins"))?;
    let ms = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let per_account = ThrottlePolicy {
        max_failures: cfg.signin_max_failures_per_account,
        window_secs: window,
    };
    let per_ip = ThrottlePolicy {
        max_failures: cfg.signin_max_failures_per_ip,
        window_secs: window,
    };
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let a = per_account.retry_after(count(counts.account_count), counts.account_oldest.map(ms), ms(now));
    let b = per_ip.retry_after(count(counts.ip_count), counts.ip_oldest.map(ms), ms(now));
    Ok(a.max(b))
}

/// The password step of a sign-in. `application`: the acr an application
/// asks (raised to its client's minimum), if any; `reset`: the key of a
/// reset this browser asked for, if its cookie carries one. Counted for
/// `/metrics` (a form with a field missing is not a step).
pub async fn password(
    ctx: &RequestContext,
    username: &str,
    password: &str,
    application: Option<Acr>,
    reset: Option<&ResetKey>,
) -> Result<Step, PortalError> {
    let result = check_password(ctx, username, password, application, reset).await;
    if !matches!(result, Err(PortalError::Validation(_))) {
        ctx.state
            .metrics
            .sign_in_step(metrics::Step::Password, None, metrics::Outcome::of(&result));
    }
    result
}

async fn check_password(
    ctx: &RequestContext,
    username: &str,
    password: &str,
    application: Option<Acr>,
    reset: Option<&ResetKey>,
) -> Result<Step, PortalError> {
    let mut errors = Vec::new();
    if username.trim().is_empty() {
        errors.push(FieldError::new("username", "Enter your username."));
    } else if let Err(e) = Username::parse(username) {
        // Only the format rules: nothing here says whether the account exists.
        errors.push(e);
    }
    if password.is_empty() {
        errors.push(FieldError::new("password", "Enter your password."));
    } else if password.chars().count() > PASSWORD_MAX_CHARS {
        errors.push(FieldError::new(
            "password",
            format!("A password has at most {PASSWORD_MAX_CHARS} characters."),
        ));
    }
    if !errors.is_empty() {
        return Err(PortalError::Validation(errors));
    }

    let key = lookup_key(username);
    if let Some(retry_after_secs) = throttled(ctx, &key).await? {
        tracing::warn!(ip = %ctx.ip(), "sign-in throttled");
        return Err(PortalError::Throttled { retry_after_secs });
    }

    let pool = ctx.pool();
    let user = store::find_user_by_key(pool, &key)
        .await
        .map_err(db("looking up a user"))?;
    // Unknown users are checked against a dummy hash: same work, same answer.
    let phc = user
        .as_ref()
        .map_or_else(|| ctx.state.dummy_hash.to_string(), |u| u.password_hash.clone());
    let ok = crate::password::verify(password.to_owned(), phc)
        .await
        .map_err(internal("verifying a password"))?;
    let user = match (ok, user) {
        (true, Some(user)) => user,
        (_, user) => {
            store::record_failure(pool, &key, ctx.ip(), ctx.now())
                .await
                .map_err(db("recording a failed sign-in"))?;
            tracing::info!(ip = %ctx.ip(), "sign-in failed");
            let mut event = Event::new(audit::SIGNIN_FAILED)
                .details(serde_json::json!({"username": username.chars().take(64).collect::<String>()}));
            if let Some(u) = &user {
                event = event.subject(who(u));
            }
            ctx.audit(event).await?;
            return Err(PortalError::InvalidCredentials);
        }
    };
    if user.locked_at.is_some() {
        ctx.audit(Event::by_self(audit::SIGNIN_LOCKED, who(&user))).await?;
        return Err(PortalError::AccountLocked);
    }
    store::clear_account_failures(pool, &key)
        .await
        .map_err(db("clearing failed sign-ins"))?;

    let policy = ctx.policy().await?;
    let demand = application.and_then(Acr::method);
    let needs_methods =
        policy.mode == Mode::Mandatory || (demand.is_some() && policy.missing_method == MissingMethod::Enroll);
    let enabled = if needs_methods {
        methods::enabled(pool).await.map_err(db("reading the methods"))?
    } else {
        Vec::new()
    };
    // An account with nothing to prove may enroll now: a kind that counts
    // when the policy makes a factor mandatory, or a method that gives what
    // an application asks when the policy says so.
    let may_enroll = (policy.mode == Mode::Mandatory && enabled.iter().any(|m| m.counts_toward_minimum()))
        || demand.is_some_and(|d| {
            policy.missing_method == MissingMethod::Enroll && enabled.iter().any(|m| Owed::Method(d).paid_with(*m))
        });
    after_password(ctx, user, &policy, application, may_enroll, reset).await
}

/// Signing in again while signed in (step-up, SECURITY.md 24): the
/// password, then what the sign-in owes (the policy's mandate as much as
/// the user's switch, SECURITY.md 49).
pub async fn password_again(
    ctx: &RequestContext,
    user: &UserRow,
    password: &str,
    application: Option<Acr>,
) -> Result<Step, PortalError> {
    if password.is_empty() {
        return Err(PortalError::Validation(vec![FieldError::new(
            "password",
            "Enter your password.",
        )]));
    }
    let key = lookup_key(&user.username);
    if let Some(retry_after_secs) = throttled(ctx, &key).await? {
        return Err(PortalError::Throttled { retry_after_secs });
    }
    let ok = crate::password::verify(password.to_owned(), user.password_hash.clone())
        .await
        .map_err(internal("verifying a password"))?;
    if !ok {
        store::record_failure(ctx.pool(), &key, ctx.ip(), ctx.now())
            .await
            .map_err(db("recording a failed sign-in"))?;
        ctx.audit(Event::by_self(audit::SIGNIN_FAILED, who(user)).details(serde_json::json!({"step_up": true})))
            .await?;
        return Err(PortalError::Validation(vec![FieldError::new(
            "password",
            "That is not your password.",
        )]));
    }
    // Enrolling to finish a sign-in does not apply here: the account is signed in.
    let policy = ctx.policy().await?;
    after_password(ctx, user.clone(), &policy, application, false, None).await
}

/// The step after a correct password, with the password recorded as proven.
/// `may_enroll`: the account may enroll a credential now if it has none;
/// `reset`: the key of a reset this browser asked for.
async fn after_password(
    ctx: &RequestContext,
    user: UserRow,
    policy: &Policy,
    application: Option<Acr>,
    may_enroll: bool,
    reset: Option<&ResetKey>,
) -> Result<Step, PortalError> {
    let usable = methods::usable_credentials(ctx.pool(), user.id)
        .await
        .map_err(db("counting usable credentials"))?;
    let usable: Vec<MethodId> = usable.iter().map(|c| c.method).collect();
    let after = AfterPassword::new(mandate(policy, &user), application, &usable, may_enroll);
    let next = after.next();
    let now = ctx.now().unix_timestamp();
    let proven = vec![Proof {
        factor: Factor::Password,
        at: now,
    }];
    // A reset of two-factor sign-in that this browser asked for, whose
    // wait is over, finishes now: the lost factors go, and the person
    // enrolls a new one at once (SECURITY.md 51).
    let next = if next == NextStep::SecondFactor && reset::finish_if_ready(ctx, &user, reset).await? {
        NextStep::Enroll
    } else {
        next
    };
    let user_id = user.id.to_string();
    let owed = after.owed;
    let state = match next {
        NextStep::SignedIn => finish(ctx, &user, proven, None).await?,
        NextStep::SecondFactor => AuthState::PasswordVerified {
            user_id,
            at: now,
            proven,
            credential: None,
            owed,
        },
        NextStep::Enroll => AuthState::MustEnroll {
            user_id,
            at: now,
            proven,
            owed,
        },
    };
    Ok(Step {
        user,
        next,
        state,
        owed,
    })
}

/// A browser this account trusted skips the second factor of the user's
/// own settings (SECURITY.md 41): never the password, never a method an
/// application asks for (`step.owed`), not once the policy stops offering
/// it, and not while a reset waits, whose second step is where a factor
/// cancels it (51). The signed-in state, when it does.
pub async fn trusted(
    ctx: &RequestContext,
    step: &Step,
    token: &trusted_browsers::TrustToken,
) -> Result<Option<AuthState>, PortalError> {
    if step.owed != Owed::SecondFactor || ctx.policy().await?.trusted_browser_days == 0 {
        return Ok(None);
    }
    if reset::waiting(ctx, step.user.id).await?.is_some() {
        return Ok(None);
    }
    if !trusted_browsers::recognizes(ctx, step.user.id, token).await? {
        return Ok(None);
    }
    let mut proven = step.state.proven().to_vec();
    proven.push(Proof {
        factor: Factor::TrustedBrowser,
        at: ctx.now().unix_timestamp(),
    });
    finish(ctx, &step.user, proven, None).await.map(Some)
}

/// A credential of `method` was enrolled to finish the sign-in of an
/// account that had nothing to prove: the sign-in finishes with it
/// recorded as what it is, an enrollment and not a proof (SECURITY.md 49:
/// never in `acr` or `amr`, never paying a method an application asks).
pub async fn after_enrollment(
    ctx: &RequestContext,
    user: &UserRow,
    mut proven: Vec<Proof>,
    method: MethodId,
) -> Result<AuthState, PortalError> {
    proven.push(Proof {
        factor: Factor::Enrolled(method),
        at: ctx.now().unix_timestamp(),
    });
    finish(ctx, user, proven, None).await
}

/// The account of a half-finished sign-in; a locked one goes no further.
pub async fn account(ctx: &RequestContext, user_id: &str) -> Result<UserRow, PortalError> {
    let id: Uuid = user_id.parse().map_err(|_| PortalError::Unauthorized)?;
    let user = store::find_user(ctx.pool(), id)
        .await
        .map_err(db("loading a user"))?
        .ok_or(PortalError::Unauthorized)?;
    if user.locked_at.is_some() {
        return Err(PortalError::AccountLocked);
    }
    Ok(user)
}

/// The credentials that can serve the second step, the one to start with
/// first: for a method an application asks, one of that very method (the
/// preferred one if it is), else one that pays it (SECURITY.md 49: a
/// stronger preferred credential does not replace the method asked for);
/// otherwise the user's preferred one; without it, the first of the
/// policy's default method; else the first that counts (recovery codes
/// come last).
pub async fn options(ctx: &RequestContext, user: &UserRow, owed: Owed) -> Result<Vec<Credential>, PortalError> {
    let mut usable = methods::usable_credentials(ctx.pool(), user.id)
        .await
        .map_err(db("listing usable credentials"))?;
    let default_method = ctx.policy().await?.default_method;
    let preferred = |c: &Credential| Some(c.id) == user.preferred_credential_id;
    let asked = owed.method();
    let of_method = |c: &Credential| asked.is_some() && Some(c.method) == asked;
    let pays = |c: &Credential| asked.is_some() && owed.paid_with(c.method);
    let first = usable
        .iter()
        .position(|c| of_method(c) && preferred(c))
        .or_else(|| usable.iter().position(of_method))
        .or_else(|| usable.iter().position(|c| pays(c) && preferred(c)))
        .or_else(|| usable.iter().position(pays))
        .or_else(|| usable.iter().position(preferred))
        .or_else(|| usable.iter().position(|c| c.method.as_str() == default_method))
        .or_else(|| usable.iter().position(|c| c.method.counts_toward_minimum()));
    if let Some(at) = first {
        let chosen = usable.remove(at);
        usable.insert(0, chosen);
    }
    Ok(usable)
}

/// The credential the second step proves: the one asked for (it must be one
/// of the options; a forged id is not found), else the preferred one.
pub async fn choose(
    ctx: &RequestContext,
    user: &UserRow,
    asked: Option<&str>,
    owed: Owed,
) -> Result<Credential, PortalError> {
    let options = options(ctx, user, owed).await?;
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => {
            let id: Uuid = a.parse().map_err(|_| PortalError::NotFound)?;
            options.into_iter().find(|c| c.id == id).ok_or(PortalError::NotFound)
        }
        None => match options.into_iter().next() {
            Some(first) => Ok(first),
            // Enrolled, but every method is switched off meanwhile.
            None => Err(PortalError::MethodUnavailable(
                methods::credentials(ctx.pool(), user.id)
                    .await
                    .map_err(db("listing credentials"))?
                    .first()
                    .map_or(tessera::method::MethodId::Sms, |c| c.method),
            )),
        },
    }
}

/// The credential a client without a browser proves (the password grant):
/// the first option proven by typing a code.
pub async fn choose_typed(ctx: &RequestContext, user: &UserRow, owed: Owed) -> Result<Credential, PortalError> {
    options(ctx, user, owed)
        .await?
        .into_iter()
        .find(|c| c.method.typed())
        .ok_or(PortalError::MethodUnavailable(MethodId::Passkey))
}

/// Starts proving `credential` (a code goes out for SMS) where the
/// sign-in happens (`channel`: each keeps its own code).
pub async fn challenge(
    ctx: &RequestContext,
    user: &UserRow,
    credential: &Credential,
    kind: SendKind,
    channel: Channel,
) -> Result<(), PortalError> {
    let method = methods::find(credential.method).ok_or(PortalError::NotFound)?;
    method.challenge(ctx, user, credential, kind, channel).await
}

/// Starts the ceremony a credential proven in the browser needs (a
/// passkey's); none for a typed one.
pub async fn ceremony(
    ctx: &RequestContext,
    user: &UserRow,
    credential: &Credential,
) -> Result<Option<Started>, PortalError> {
    let method = methods::find(credential.method).ok_or(PortalError::NotFound)?;
    method.ceremony(ctx, user, credential).await
}

/// Checks the person's answer for `credential`; the result is the proof,
/// with the transaction that used it up, for [`finish`] to commit.
pub async fn verify(
    ctx: &RequestContext,
    user: &UserRow,
    credential: &Credential,
    answer: Answer<'_>,
) -> Result<(Proof, methods::Verified), PortalError> {
    let result = check_answer(ctx, user, credential, answer).await;
    ctx.state.metrics.sign_in_step(
        metrics::Step::SecondFactor,
        Some(credential.method),
        metrics::Outcome::of(&result),
    );
    result
}

async fn check_answer(
    ctx: &RequestContext,
    user: &UserRow,
    credential: &Credential,
    answer: Answer<'_>,
) -> Result<(Proof, methods::Verified), PortalError> {
    let method = methods::find(credential.method).ok_or(PortalError::NotFound)?;
    let mut verified = method.verify(ctx, user, credential, answer).await?;
    let now = ctx.now();
    methods::mark_used(&mut verified.tx, credential.id, now).await?;
    cancel_waiting_reset(ctx, &mut verified.tx, user).await?;
    let proof = Proof {
        factor: Factor::Method(credential.method),
        at: now.unix_timestamp(),
    };
    Ok((proof, verified))
}

/// Proving a factor cancels a waiting reset (the person has one), in the
/// transaction that records the proof.
async fn cancel_waiting_reset(
    ctx: &RequestContext,
    tx: &mut sqlx::PgConnection,
    user: &UserRow,
) -> Result<(), PortalError> {
    reset::cancel(ctx, tx, who(user), None, reset::Ended::BySignIn).await?;
    Ok(())
}

/// A sign-in with a passkey alone (the browser found it): the account it
/// belongs to, signed in with the passkey proven (it verified the person,
/// SECURITY.md 40).
pub async fn passkey(
    ctx: &RequestContext,
    kept: &KeptCeremony,
    response: &str,
) -> Result<(UserRow, AuthState), PortalError> {
    let proven = methods::passkey::passwordless::finish(ctx, kept, response).await;
    ctx.state.metrics.sign_in_step(
        metrics::Step::Passwordless,
        Some(MethodId::Passkey),
        metrics::Outcome::of(&proven),
    );
    let (user, credential, mut verified) = proven?;
    let now = ctx.now();
    methods::mark_used(&mut verified.tx, credential, now).await?;
    cancel_waiting_reset(ctx, &mut verified.tx, &user).await?;
    let proven = vec![Proof {
        factor: Factor::Method(MethodId::Passkey),
        at: now.unix_timestamp(),
    }];
    let state = finish(ctx, &user, proven, Some(verified)).await?;
    Ok((user, state))
}

/// The pipeline's last step: the account's sign-in is recorded and audited
/// in the transaction that used up the last proof (`last`; a new one when
/// nothing was used up, as after a password alone), which commits all of
/// it at once. The answer is the signed-in state with everything proven.
pub async fn finish(
    ctx: &RequestContext,
    user: &UserRow,
    proven: Vec<Proof>,
    last: Option<methods::Verified>,
) -> Result<AuthState, PortalError> {
    let now = ctx.now();
    let methods::Verified { mut tx, notices } = match last {
        Some(verified) => verified,
        None => methods::Verified {
            tx: ctx.pool().begin().await.map_err(db("starting a sign-in"))?,
            notices: Vec::new(),
        },
    };
    store::record_sign_in(&mut *tx, user.id, now)
        .await
        .map_err(db("recording a sign-in"))?;
    ctx.audit_in(&mut tx, Event::by_self(audit::SIGNIN_OK, who(user)))
        .await?;
    tx.commit().await.map_err(db("committing a sign-in"))?;
    crate::notify::deliver(&ctx.state, notices);
    tracing::info!(user_id = %user.id, ip = %ctx.ip(), "signed in");
    ctx.state.metrics.signed_in();
    Ok(AuthState::SignedIn {
        user_id: user.id.to_string(),
        authenticated_at: now.unix_timestamp(),
        started_at: now.unix_timestamp(),
        proven,
        sign_in: rand::random(),
    })
}
