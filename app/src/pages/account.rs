//! The account's own protection: signing in again for a sensitive change,
//! the list of sessions (each can be ended), the applications signed in
//! through Tessera (each can be revoked), and the password.

use super::PageError;
use crate::api::{
    ChangePassword, EndSession, ForgetTrustedBrowser, Reauthenticate, RevokeApplication, get_applications,
    get_sessions, get_trusted_browsers,
};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON, Saved, use_session};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tessera::views::TrustedBrowserInfo;

/// "Confirm it's you": the password (then the second factor, when it is on),
/// and back to the page that asked.
#[component]
pub fn ReauthPage() -> impl IntoView {
    let action = ServerAction::<Reauthenticate>::new();
    let errors = FormErrors::new(move || action.value().get().and_then(Result::err));
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    // Why the person is here: an application asked (`prompt=login`,
    // `max_age`, a stronger method), or a sensitive change of their own.
    let why = move || {
        if next().starts_with("/oauth2/continue") {
            "The application you are signing in to asks you to sign in again. Enter your password"
        } else {
            "Changing how you sign in needs a sign-in from the last 10 minutes. Enter your password"
        }
    };
    let session = use_session();
    view! {
        <Title text="Confirm it's you" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"Confirm it's you"</h1>
            <p class="mb-4 text-sm text-slate-600">
                {why}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        session.await.ok().and_then(|s| s.viewer).map(|v| format!(" for {}", v.username))
                    })}
                </Transition>
                "; a second factor follows when one is owed."
            </p>
            <ActionForm action attr:class="flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <input type="hidden" name="next" value=next />
                <FormAlert message=errors.alert() />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" error=errors.field("password") />
                <button type="submit" class=BUTTON disabled=move || action.pending().get()>"Continue"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let forget = ServerAction::<ForgetTrustedBrowser>::new();
    // The sessions and the trusted browsers, in one boundary.
    let data = Resource::new(
        move || end.version().get() + forget.version().get(),
        |_| async { Ok::<_, crate::error::AppError>((get_sessions().await?, get_trusted_browsers().await?)) },
    );
    let errors = FormErrors::new(move || end.value().get().and_then(Result::err));
    view! {
        <Title text="Sessions" />
        <h1 class="text-2xl font-semibold">"Sessions"</h1>
        <p class="mt-2 text-sm text-slate-600">
            "Where your account is signed in. End any session you do not recognise, then change your password."
        </p>
        <div class="mt-4"><FormAlert message=errors.alert() /></div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((sessions, browsers)) => view! {
                        <ul class="mt-4 flex flex-col gap-3" data-testid="sessions">
                            {sessions.into_iter().map(|s| {
                                let id = s.id.clone();
                                view! {
                                <li class="flex flex-wrap items-center justify-between gap-3 rounded-lg border border-slate-200 bg-white p-4" data-session=s.id.clone()>
                                    <div>
                                        <p class="font-medium">
                                            {s.device}
                                            {s.current.then(|| view! { <span class="ml-2 rounded bg-emerald-50 px-2 py-0.5 text-xs text-emerald-800">"This session"</span> })}
                                        </p>
                                        <p class="text-sm text-slate-600">
                                            {format!("{} · signed in {} · last seen {}", s.ip, s.signed_in_at, s.last_seen)}
                                        </p>
                                    </div>
                                    <ActionForm action=end>
                                        <CsrfField />
                                        <input type="hidden" name="id" value=id />
                                        <button type="submit" class=QUIET_BUTTON>
                                            {if s.current { "Sign out here" } else { "End session" }}
                                        </button>
                                    </ActionForm>
                                </li>
                            }}).collect_view()}
                        </ul>
                        <TrustedBrowsers browsers forget />
                    }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The browsers that skip the second step (SECURITY.md 41): each can be
/// forgotten, or all at once. Loaded with the sessions, in one boundary.
#[component]
fn TrustedBrowsers(browsers: Vec<TrustedBrowserInfo>, forget: ServerAction<ForgetTrustedBrowser>) -> impl IntoView {
    let errors = FormErrors::new(move || forget.value().get().and_then(Result::err));
    let empty = browsers.is_empty();
    view! {
        <section class="mt-8" aria-labelledby="trusted-heading">
            <h2 id="trusted-heading" class="text-lg font-semibold">"Trusted browsers"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Browsers where you chose “Don't ask again”: they sign in with your password alone until they expire. Forget any you do not use."
            </p>
            <div class="mt-3"><FormAlert message=errors.alert() /></div>
            <p class="mt-3 text-sm" data-testid="no-trusted-browsers" hidden=!empty>"No browser is trusted."</p>
            <ul class="mt-3 flex flex-col gap-3" data-testid="trusted-browsers">
                {browsers.into_iter().map(|b| view! {
                    <li class="flex flex-wrap items-center justify-between gap-3 rounded-lg border border-slate-200 bg-white p-4" data-testid="trusted-browser">
                        <div>
                            <p class="font-medium">{b.device} {if b.current { " (this browser)" } else { "" }}</p>
                            <p class="text-sm text-slate-600">
                                {format!(
                                    "{} · trusted {} · last used {} · until {}",
                                    b.ip, b.trusted_at, b.last_used_at.unwrap_or_else(|| "never".into()), b.expires_at
                                )}
                            </p>
                        </div>
                        <ActionForm action=forget>
                            <CsrfField />
                            <input type="hidden" name="id" value=b.id />
                            <button type="submit" class=QUIET_BUTTON>"Forget"</button>
                        </ActionForm>
                    </li>
                }).collect_view()}
            </ul>
            <ActionForm action=forget attr:class="mt-3" attr:hidden=empty>
                <CsrfField />
                <input type="hidden" name="id" value="all" />
                <button type="submit" class=QUIET_BUTTON>"Forget every trusted browser"</button>
            </ActionForm>
        </section>
    }
}

/// The applications the person signed in to through Tessera (OpenID
/// Connect clients) or allowed: what each may know, when it last signed
/// in, and a way to revoke it.
#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeApplication>::new();
    let data = Resource::new(move || revoke.version().get(), |_| get_applications());
    let errors = FormErrors::new(move || revoke.value().get().and_then(Result::err));
    view! {
        <Title text="Applications" />
        <h1 class="text-2xl font-semibold">"Applications"</h1>
        <p class="mt-2 text-sm text-slate-600">
            "Applications you signed in to with your Tessera account. Revoking one signs it out (its tokens stop working) and it must ask you again next time."
        </p>
        <div class="mt-4"><FormAlert message=errors.alert() /></div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(apps) if apps.is_empty() => view! {
                        <p class="mt-4 rounded-lg border border-slate-200 bg-white p-4" data-testid="no-applications">
                            "You have not signed in to any application with this account."
                        </p>
                    }.into_any(),
                    Ok(apps) => view! {
                        <ul class="mt-4 flex flex-col gap-3" data-testid="applications">
                            {apps.into_iter().map(|a| {
                                let id = a.client_id.clone();
                                view! {
                                <li class="flex flex-wrap items-center justify-between gap-3 rounded-lg border border-slate-200 bg-white p-4" data-client=a.client_id>
                                    <div>
                                        <p class="font-medium">{a.name}</p>
                                        <p class="text-sm text-slate-600">
                                            {match a.last_signed_in {
                                                Some(at) => format!("Last signed in {at}"),
                                                None => "Allowed, not signed in yet".to_owned(),
                                            }}
                                            {if a.has_access { " · signed in now" } else { "" }}
                                        </p>
                                        <ul class="mt-1 list-disc pl-5 text-sm text-slate-600">
                                            {a.may.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
                                        </ul>
                                    </div>
                                    <ActionForm action=revoke>
                                        <CsrfField />
                                        <input type="hidden" name="client_id" value=id />
                                        <button type="submit" class=QUIET_BUTTON>"Revoke access"</button>
                                    </ActionForm>
                                </li>
                            }}).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let errors = FormErrors::new(move || action.value().get().and_then(Result::err));
    let query = use_query_map();
    // The answer survives a plain form post as a query parameter.
    let changed = Signal::derive(move || query.with(|q| q.get("changed").is_some()));
    view! {
        <Title text="Password" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"Change your password"</h1>
            <p class="mb-4 text-sm text-slate-600">
                "At least 8 characters; a long phrase is best. Your other sessions are signed out."
            </p>
            <ActionForm action attr:class="flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Saved show=changed text="Your password was changed and your other sessions were signed out." />
                <Field name="current" label="Current password" kind="password" autocomplete="current-password" error=errors.field("current") />
                <Field name="new" label="New password" kind="password" autocomplete="new-password" error=errors.field("new") />
                <Field name="repeat" label="New password again" kind="password" autocomplete="new-password" error=errors.field("repeat") />
                <button type="submit" class=BUTTON disabled=move || action.pending().get()>"Change password"</button>
            </ActionForm>
        </section>
    }
}
