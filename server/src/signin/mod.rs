//! The sign-in pipeline as a service: the password step, the second step
//! with any method, and the finish, each recording what it proved. It keeps
//! no cookie: it answers with the pipeline's next state ([`AuthState`]),
//! which the web edge keeps in the session (and a token endpoint can drive
//! the same steps).

use crate::audit::{self, Event};
use crate::context::{RequestContext, who};
use crate::errors::{db, internal};
use crate::methods::{self, Answer, Credential, KeptCeremony, SendKind, Started};
use crate::metrics;
use crate::store::{self, UserRow};
use tessera::PortalError;
use tessera::account::{PASSWORD_MAX_CHARS, Username, lookup_key};
use tessera::error::FieldError;
use tessera::method::{Factor, MethodId, Proof};
use tessera::policy::{MissingMethod, Mode};
use tessera::signin::{AfterPassword, AuthState, NextStep, Requirement, ThrottlePolicy};
use uuid::Uuid;

/// Where a correct password leads: the account, the step that follows and
/// the pipeline's state for it.
pub struct Step {
    pub user: UserRow,
    pub next: NextStep,
    pub state: AuthState,
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

/// The password step of a sign-in. `demand`: the method an application
/// asked for (its `acr`), if any. Counted for `/metrics` (a form with a
/// field missing is not a step).
pub async fn password(
    ctx: &RequestContext,
    username: &str,
    password: &str,
    demand: Option<MethodId>,
) -> Result<Step, PortalError> {
    let result = check_password(ctx, username, password, demand).await;
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
    demand: Option<MethodId>,
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
    let needs_methods =
        policy.mode == Mode::Mandatory || (demand.is_some() && policy.missing_method == MissingMethod::Enroll);
    let enabled = if needs_methods {
        methods::enabled(pool).await.map_err(db("reading the methods"))?
    } else {
        Vec::new()
    };
    let requirement = match policy.mode {
        Mode::Optional => Requirement::UsersChoice,
        // Only a kind that counts can be enrolled to satisfy the policy.
        Mode::Mandatory => Requirement::Mandatory {
            can_enroll: enabled.iter().any(|m| m.counts_toward_minimum()),
        },
    };
    // A method an application asks for can be enrolled now if the policy
    // says so and a method that gives it is enabled.
    let enrollable_demand =
        demand.filter(|d| policy.missing_method == MissingMethod::Enroll && enabled.iter().any(|m| meets(*m, *d)));
    after_password(ctx, user, requirement, demand, enrollable_demand).await
}

/// Signing in again while signed in (step-up, SECURITY.md 24): the
/// password, then the second factor when it is on.
pub async fn password_again(
    ctx: &RequestContext,
    user: &UserRow,
    password: &str,
    demand: Option<MethodId>,
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
    after_password(ctx, user.clone(), Requirement::UsersChoice, demand, None).await
}

/// Whether a credential of `method` gives what a demand for `demanded`
/// asks: the same assurance or more (SECURITY.md 44).
pub fn meets(method: MethodId, demanded: MethodId) -> bool {
    method.counts_toward_minimum() && method.assurance() >= demanded.assurance()
}

/// The step after a correct password, with the password recorded as proven.
/// `enrollable_demand`: the application's demand, if the user may enroll
/// its method now when they have none.
async fn after_password(
    ctx: &RequestContext,
    user: UserRow,
    requirement: Requirement,
    demand: Option<MethodId>,
    enrollable_demand: Option<MethodId>,
) -> Result<Step, PortalError> {
    let usable = methods::usable_credentials(ctx.pool(), user.id)
        .await
        .map_err(db("counting usable credentials"))?;
    // Recovery codes are another way in beside a usable factor, never the
    // thing that keeps the second step (SECURITY.md 38): with no phone or
    // app usable, the password alone signs in (and the home page asks to
    // enroll one).
    let demanded_by_application = demand.is_some_and(|d| usable.iter().any(|c| meets(c.method, d)));
    let usable = usable.iter().filter(|c| c.method.counts_toward_minimum()).count();
    let next = AfterPassword {
        two_factor_enabled: user.two_factor_enabled,
        usable_credentials: u32::try_from(usable).unwrap_or(u32::MAX),
        requirement,
        demanded_by_application,
        may_enroll_demanded: enrollable_demand.is_some() && !demanded_by_application,
    }
    .next();
    let now = ctx.now().unix_timestamp();
    let proven = vec![Proof {
        factor: Factor::Password,
        at: now,
    }];
    // A reset of two-factor sign-in whose wait is over finishes now: the
    // lost factors go, and the person enrolls a new one at once.
    let next = if next == NextStep::SecondFactor && crate::safety::reset::finish_if_ready(ctx, &user).await? {
        NextStep::Enroll
    } else {
        next
    };
    let user_id = user.id.to_string();
    let state = match next {
        NextStep::SignedIn => finish(ctx, &user, proven, None).await?,
        NextStep::SecondFactor => AuthState::PasswordVerified {
            user_id,
            at: now,
            proven,
            credential: None,
        },
        NextStep::Enroll => AuthState::MustEnroll {
            user_id,
            at: now,
            proven,
        },
    };
    Ok(Step { user, next, state })
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
/// first: one of the method an application demands; else the user's
/// preferred one; without it, the first of the policy's default method;
/// else the first that counts (recovery codes come last).
pub async fn options(
    ctx: &RequestContext,
    user: &UserRow,
    demand: Option<MethodId>,
) -> Result<Vec<Credential>, PortalError> {
    let mut usable = methods::usable_credentials(ctx.pool(), user.id)
        .await
        .map_err(db("listing usable credentials"))?;
    let default_method = ctx.policy().await?.default_method;
    let demanded = |c: &Credential| demand.is_some_and(|d| meets(c.method, d));
    let first = usable
        .iter()
        .position(|c| demanded(c) && (Some(c.id) == user.preferred_credential_id || Some(c.method) == demand))
        .or_else(|| usable.iter().position(demanded))
        .or_else(|| usable.iter().position(|c| Some(c.id) == user.preferred_credential_id))
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
    demand: Option<MethodId>,
) -> Result<Credential, PortalError> {
    let options = options(ctx, user, demand).await?;
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
pub async fn choose_typed(ctx: &RequestContext, user: &UserRow) -> Result<Credential, PortalError> {
    options(ctx, user, None)
        .await?
        .into_iter()
        .find(|c| c.method.typed())
        .ok_or(PortalError::MethodUnavailable(MethodId::Passkey))
}

/// Starts proving `credential` (a code goes out for SMS).
pub async fn challenge(
    ctx: &RequestContext,
    user: &UserRow,
    credential: &Credential,
    kind: SendKind,
) -> Result<(), PortalError> {
    let method = methods::find(credential.method).ok_or(PortalError::NotFound)?;
    method.challenge(ctx, user, credential, kind).await
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
    crate::safety::reset::cancel(ctx, tx, who(user), None, crate::safety::reset::Ended::BySignIn).await?;
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
    })
}
