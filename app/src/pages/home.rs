use super::PageError;
use crate::api::get_home;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::HomeStatus;

#[component]
pub fn HomePage() -> impl IntoView {
    let home = Resource::new(|| (), |_| get_home());
    view! {
        <Title text="Home" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match home.await {
                    Ok(status) => view! { <HomeView status /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn HomeView(status: HomeStatus) -> impl IntoView {
    let credentials = match status.credential_count {
        1 => "1 credential".to_string(),
        n => format!("{n} credentials"),
    };
    view! {
        <h1 class="text-2xl font-semibold">{format!("Welcome, {}", status.display_name)}</h1>
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="security-heading">
            <h2 id="security-heading" class="text-lg font-semibold">"Account security"</h2>
            <dl class="mt-4 grid grid-cols-1 gap-x-6 gap-y-3 sm:grid-cols-2">
                <dt class="text-sm text-slate-500">"Two-factor authentication"</dt>
                <dd data-testid="two-factor-state" class="font-medium">
                    {if status.two_factor_enabled { "On" } else { "Off" }}
                </dd>
                <dt class="text-sm text-slate-500">"Second-factor credentials"</dt>
                <dd data-testid="credential-count" class="font-medium">{credentials}</dd>
                <dt class="text-sm text-slate-500">"Signed in"</dt>
                <dd data-testid="signed-in-at">{status.signed_in_at.clone()}</dd>
                <dt class="text-sm text-slate-500">"Previous sign-in"</dt>
                <dd data-testid="previous-sign-in">
                    {status.previous_sign_in_at.clone().unwrap_or_else(|| "None before this one".to_string())}
                </dd>
                <dt class="text-sm text-slate-500">"Username"</dt>
                <dd>{status.username.clone()}</dd>
                <dt class="text-sm text-slate-500">"Email"</dt>
                <dd>{status.email.clone().unwrap_or_else(|| "Not set".to_string())}</dd>
            </dl>
            {status.needs_enrollment.then(|| view! {
                <p role="alert" class="mt-4 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="enroll-banner">
                    "Your administrator turned off the method your second factor used, so you now sign in with your password only. "
                    <a href="/credentials" class="underline">"Enroll an available method"</a>
                </p>
            })}
            {status.recovery_codes_left.filter(|left| tessera::recovery::running_low(*left)).map(|left| view! {
                <p role="alert" class="mt-4 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="recovery-low">
                    {format!("Only {left} recovery code(s) left. ")}
                    <a href="/credentials/recovery" class="underline">"Make a new set"</a>
                </p>
            })}
            {(!status.two_factor_enabled).then(|| view! {
                <p class="mt-4 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900">
                    "Your account is protected by your password only. "
                    <a href="/credentials" class="underline">"Review your 2FA credentials"</a>
                </p>
            })}
        </section>
        <section class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="activity-heading">
            <h2 id="activity-heading" class="text-lg font-semibold">"Recent activity"</h2>
            {if status.activity.is_empty() {
                view! { <p class="mt-2 text-sm">"Nothing yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-2 flex flex-col gap-1 text-sm" data-testid="activity">
                        {status.activity.into_iter().map(|e| view! {
                            <li data-event=e.event>
                                <span class="text-slate-500">{e.at}</span>" · "{e.label}
                                {e.actor.filter(|a| Some(a) != e.subject.as_ref()).map(|a| format!(" (by {a})"))}
                                {e.ip.map(|ip| format!(" · from {ip}"))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
