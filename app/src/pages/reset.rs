//! Getting back in after losing every factor: asking for a reset of
//! two-factor sign-in during the second step (it waits, and every channel
//! of the account is told), and the cancel link's page.

use super::PageError;
use crate::api::{CancelReset, SignOut, StartReset, get_reset};
use crate::components::{BUTTON, CsrfField, FormAlert, FormErrors, QUIET_BUTTON, Saved};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tessera::views::ResetView;

#[component]
pub fn ResetPage() -> impl IntoView {
    let start = ServerAction::<StartReset>::new();
    let cancel = ServerAction::<SignOut>::new();
    let data = Resource::new(move || start.version().get(), |_| get_reset());
    view! {
        <Title text="Lost every way to sign in" />
        <section class="mx-auto max-w-lg rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"Lost every way to sign in?"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => view! { <Reset view start /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Transition>
            <div class="mt-6 flex flex-col gap-2 border-t border-slate-200 pt-4 text-sm">
                <a href="/signin/code" class="text-indigo-700 underline">"Back to the second step"</a>
                <ActionForm action=cancel>
                    <CsrfField />
                    <button type="submit" class="text-indigo-700 underline">"Cancel and sign in again"</button>
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
fn Reset(view: ResetView, start: ServerAction<StartReset>) -> impl IntoView {
    let errors = FormErrors::new(move || start.value().get().and_then(Result::err));
    let ResetView {
        wait_hours,
        has_email,
        ready_at,
    } = view;
    if let Some(at) = ready_at {
        return view! {
            <p class="text-sm" data-testid="reset-waiting">
                {format!("A reset is waiting. From {at} (UTC), sign in with your password alone: your old sign-in methods are removed and you add a new one straight away. Until then, anyone with one of your methods can cancel it.")}
            </p>
        }
        .into_any();
    }
    if wait_hours == 0 || !has_email {
        let why = if wait_hours == 0 {
            "Resetting two-factor sign-in yourself is turned off here."
        } else {
            "Your account has no email address to confirm a reset with."
        };
        return view! {
            <p class="text-sm" data-testid="reset-unavailable">
                {format!("{why} Use a recovery code if you have one, or contact your administrator.")}
            </p>
        }
        .into_any();
    }
    view! {
        <p class="text-sm">
            "If your phone, app, passkey and recovery codes are all gone, you can reset two-factor sign-in yourself. For your safety it waits "
            <strong>{format!("{wait_hours} hours")}</strong>
            ": we tell you by email, and by text on your phones, with a link that cancels it. After the wait, your password alone signs in from this browser (keep its cookies) and you add a new sign-in method at once."
        </p>
        <p class="mt-2 text-sm">"Signing in with one of your methods meanwhile cancels it."</p>
        <ActionForm action=start attr:class="mt-4 flex flex-col gap-3">
            <CsrfField />
            <FormAlert message=errors.alert() />
            <FormAlert message=errors.field("reset") />
            <div><button type="submit" class=BUTTON>"Reset two-factor sign-in by email"</button></div>
        </ActionForm>
    }
    .into_any()
}

/// A reset's cancel link: one button, so that a mail scanner following the
/// link cancels nothing.
#[component]
pub fn CancelResetPage() -> impl IntoView {
    let cancel = ServerAction::<CancelReset>::new();
    let errors = FormErrors::new(move || cancel.value().get().and_then(Result::err));
    let done = Signal::derive(move || matches!(cancel.value().get(), Some(Ok(()))));
    let token = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    view! {
        <Title text="Cancel the reset" />
        <section class="mx-auto max-w-lg rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"Cancel the reset of two-factor sign-in"</h1>
            <p class="text-sm">
                "Someone who knows your password asked to reset two-factor sign-in for your account. If it was not you, cancel it, then change your password."
            </p>
            <ActionForm action=cancel attr:class="mt-4 flex flex-col gap-3">
                <CsrfField />
                <input type="hidden" name="token" value=token />
                <FormAlert message=errors.alert() />
                <FormAlert message=errors.field("reset") />
                <Saved show=done text="Cancelled. Your sign-in methods stay as they were." />
                <div><button type="submit" class=BUTTON>"Cancel the reset"</button></div>
            </ActionForm>
            <a href="/signin" class=format!("mt-4 inline-block {QUIET_BUTTON}")>"Sign in"</a>
        </section>
    }
}
