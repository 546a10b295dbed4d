//! One account as the administrator manages it: its credentials (masked),
//! its 2FA state, recent activity, and the actions on it.

use super::AdminNav;
use super::audit::AuditTable;
use crate::api::{DecideReset, ForgetUserBrowsers, UserAction, get_user};
use crate::components::{CsrfField, FormAlert, FormErrors, QUIET_BUTTON, Saved};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tessera::views::{FlagRaised, UserDetail};

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let action = ServerAction::<UserAction>::new();
    let forget = ServerAction::<ForgetUserBrowsers>::new();
    let decide = ServerAction::<DecideReset>::new();
    let username = move || params.read().get("username").unwrap_or_default();
    let data = Resource::new(
        move || {
            (
                username(),
                action.version().get() + forget.version().get() + decide.version().get(),
            )
        },
        |(u, _)| get_user(u),
    );
    view! {
        <Title text="Account" />
        <AdminNav />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(detail) => view! { <Detail detail action forget decide /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    detail: UserDetail,
    action: ServerAction<UserAction>,
    forget: ServerAction<ForgetUserBrowsers>,
    decide: ServerAction<DecideReset>,
) -> impl IntoView {
    let UserDetail {
        summary,
        locked,
        credentials,
        trusted_browsers,
        reset_ready_at,
        flag,
        activity,
    } = detail;
    let decide_errors = FormErrors::new(move || decide.value().get().and_then(Result::err));
    let decided = Signal::derive(move || matches!(decide.value().get(), Some(Ok(()))));
    let reset_for = summary.username.clone();
    let decision = move |value: &'static str, label: &'static str| {
        let username = reset_for.clone();
        view! {
            <ActionForm action=decide>
                <CsrfField />
                <input type="hidden" name="username" value=username />
                <input type="hidden" name="decision" value=value />
                <button type="submit" class=QUIET_BUTTON>{label}</button>
            </ActionForm>
        }
    };
    let has_credentials = !credentials.is_empty();
    let errors = FormErrors::new(move || action.value().get().and_then(Result::err));
    let done = Signal::derive(move || matches!(action.value().get(), Some(Ok(()))));
    let username = summary.username.clone();
    let button = move |value: &'static str, label: &'static str| {
        let username = username.clone();
        view! {
            <ActionForm action=action>
                <CsrfField />
                <input type="hidden" name="username" value=username />
                <input type="hidden" name="action" value=value />
                <button type="submit" class=QUIET_BUTTON>{label}</button>
            </ActionForm>
        }
    };
    let forget_errors = FormErrors::new(move || forget.value().get().and_then(Result::err));
    let forgotten = Signal::derive(move || matches!(forget.value().get(), Some(Ok(()))));
    let forget_for = summary.username.clone();
    view! {
        <h1 class="text-2xl font-semibold" data-testid="account-username">{summary.username.clone()}</h1>
        <p class="mt-1 text-sm text-slate-600">
            {format!("{} · {}", summary.display_name, summary.email.clone().unwrap_or_else(|| "no email".into()))}
        </p>
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
            <dl class="grid grid-cols-1 gap-x-6 gap-y-2 sm:grid-cols-2">
                <dt class="text-sm text-slate-500">"Role"</dt>
                <dd data-testid="account-role">{if summary.is_admin { "Administrator" } else { "User" }}</dd>
                <dt class="text-sm text-slate-500">"Two-factor authentication"</dt>
                <dd data-testid="account-2fa">{if summary.two_factor_enabled { "On" } else { "Off" }}</dd>
                <dt class="text-sm text-slate-500">"Status"</dt>
                <dd data-testid="account-status">{if locked { "Locked" } else { "Active" }}</dd>
                <dt class="text-sm text-slate-500">"Last sign-in"</dt>
                <dd>{summary.last_sign_in_at.clone().unwrap_or_else(|| "Never".into())}</dd>
            </dl>
            <div class="mt-4 flex flex-wrap gap-2">
                {(summary.two_factor_enabled || has_credentials).then(|| button("reset_2fa", "Reset to password only"))}
                {if locked { button("unlock", "Unlock") } else { button("lock", "Lock") }}
                {if summary.is_admin {
                    button("revoke_admin", "Remove administrator role")
                } else {
                    button("make_admin", "Make administrator")
                }}
            </div>
            <div class="mt-3">
                <FormAlert message=errors.alert() />
                <FormAlert message=errors.field("action") />
                <Saved show=done text="Done." />
            </div>
        </section>
        {flag.map(|f| {
            let how = match f.how {
                FlagRaised::Secured => "signed in and secured the account (other sessions ended, trusted browsers forgotten, a waiting reset cancelled)",
                FlagRaised::Reported => "could not sign in, and asked for help",
            };
            let about = f.about.map(|a| format!(" about the notice “{a}”")).unwrap_or_default();
            view! {
                <section class="mt-6 rounded-lg border border-red-300 bg-red-50 p-6" data-testid="account-flag">
                    <h2 class="text-lg font-semibold">"The owner said “this wasn't me”"</h2>
                    <p class="mt-1 text-sm">
                        {format!("On {} (UTC), from {}, the owner{about} {how}. Look at the recent activity, help them back in if needed, then clear the flag.", f.raised_at, f.ip)}
                    </p>
                    <div class="mt-3">{button("clear_flag", "Clear the flag")}</div>
                </section>
            }
        })}
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Credentials"</h2>
            {if credentials.is_empty() {
                view! { <p class="mt-2 text-sm">"No second-factor credentials."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-2 flex flex-col gap-2 text-sm" data-testid="account-credentials">
                        {credentials.into_iter().map(|c| view! {
                            <li>
                                <strong>{c.nickname}</strong>
                                {format!(" · {} {} · added {} · last used {}", c.method.to_uppercase(), c.masked, c.added_at,
                                    c.last_used_at.unwrap_or_else(|| "never".into()))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        {reset_ready_at.map(|at| view! {
            <section class="mt-6 rounded-lg border border-amber-300 bg-amber-50 p-6" data-testid="account-reset">
                <h2 class="text-lg font-semibold">"Reset of two-factor sign-in waiting"</h2>
                <p class="mt-1 text-sm">
                    {format!("The person said they lost every sign-in method. Unless cancelled, from {at} (UTC) the password alone signs in from the browser that asked, and their methods are removed.")}
                </p>
                <FormAlert message=decide_errors.alert() />
                <Saved show=decided text="Saved. An approved reset finishes at the next sign-in with the password from the browser that asked for it." />
                <div class="mt-3 flex flex-wrap gap-2">
                    {decision("cancel", "Cancel the reset")}
                    {decision("approve", "Approve it now")}
                </div>
            </section>
        })}
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Trusted browsers"</h2>
            <FormAlert message=forget_errors.alert() />
            <Saved show=forgotten text="Forgotten: each asks for the second factor again." />
            {if trusted_browsers.is_empty() {
                view! { <p class="mt-2 text-sm">"No browser skips the second step."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-2 flex flex-col gap-2 text-sm" data-testid="account-trusted-browsers">
                        {trusted_browsers.into_iter().map(|b| view! {
                            <li>
                                <strong>{b.device}</strong>
                                {format!(" · {} · trusted {} · until {}", b.ip, b.trusted_at, b.expires_at)}
                            </li>
                        }).collect_view()}
                    </ul>
                    <ActionForm action=forget attr:class="mt-3">
                        <CsrfField />
                        <input type="hidden" name="username" value=forget_for />
                        <button type="submit" class=QUIET_BUTTON>"Forget trusted browsers"</button>
                    </ActionForm>
                }.into_any()
            }}
        </section>
        <section class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Recent activity"</h2>
            <AuditTable entries=activity />
        </section>
    }
}
