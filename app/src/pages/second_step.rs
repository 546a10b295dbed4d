//! The second sign-in step: the code sent to a (masked) phone, a resend, a
//! choice of another phone, and a way out.

use super::PageError;
use crate::api::{SendSignInCode, SignOut, VerifySignInCode, get_challenge};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::ChallengeView;

#[component]
pub fn SecondStepPage() -> impl IntoView {
    let verify = ServerAction::<VerifySignInCode>::new();
    let send = ServerAction::<SendSignInCode>::new();
    let cancel = ServerAction::<SignOut>::new();
    let data = Resource::new(
        move || verify.version().get() + send.version().get(),
        |_| get_challenge(),
    );
    view! {
        <Title text="Enter your code" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"Enter your code"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(challenge) => view! { <Challenge challenge verify send cancel /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Challenge(
    challenge: ChallengeView,
    verify: ServerAction<VerifySignInCode>,
    send: ServerAction<SendSignInCode>,
    cancel: ServerAction<SignOut>,
) -> impl IntoView {
    let errors = FormErrors::new(move || verify.value().get().and_then(Result::err));
    let send_errors = FormErrors::new(move || send.value().get().and_then(Result::err));
    let ChallengeView {
        phones,
        sent_to,
        resend_in_secs,
        notice,
    } = challenge;
    let target = sent_to.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    let others: Vec<_> = phones.into_iter().filter(|p| p.id != target).collect();
    view! {
        {match &sent_to {
            Some(p) => view! {
                <p class="text-sm" data-testid="code-sent-to">
                    {format!("We sent a code to your phone “{}” ({}).", p.nickname, p.masked)}
                </p>
            }
            .into_any(),
            None => view! {
                <p role="alert" class="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="code-not-sent">
                    {format!(
                        "No code is on its way. {}",
                        notice.clone().unwrap_or_else(|| "Send one below.".into())
                    )}
                </p>
            }
            .into_any(),
        }}
        <ActionForm action=verify attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
            <CsrfField />
            <FormAlert message=errors.alert() />
            <Field name="code" label="Code" autocomplete="one-time-code" inputmode="numeric" error=errors.field("code") />
            <button type="submit" class=BUTTON disabled=move || verify.pending().get()>"Verify"</button>
        </ActionForm>
        <div class="mt-6 flex flex-col gap-3 border-t border-slate-200 pt-4">
            <FormAlert message=send_errors.alert() />
            <FormAlert message=send_errors.field("code") />
            <ActionForm action=send>
                <CsrfField />
                <input type="hidden" name="phone_id" value=target />
                <button type="submit" class=QUIET_BUTTON>
                    {if sent_to.is_some() { "Send a new code" } else { "Send a code" }}
                </button>
                {(resend_in_secs > 0).then(|| view! {
                    <span class="ml-2 text-sm text-slate-500">{format!("available in {resend_in_secs} seconds")}</span>
                })}
            </ActionForm>
            {(!others.is_empty()).then(|| view! {
                <ActionForm action=send attr:class="flex flex-wrap items-end gap-2">
                    <CsrfField />
                    <label for="other-phone" class="text-sm">"Use another phone"</label>
                    <select id="other-phone" name="phone_id" class="rounded border border-slate-300 px-2 py-1.5 text-sm">
                        {others.into_iter().map(|p| view! {
                            <option value=p.id>{format!("{} ({})", p.nickname, p.masked)}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class=QUIET_BUTTON>"Send"</button>
                </ActionForm>
            })}
            <ActionForm action=cancel>
                <CsrfField />
                <button type="submit" class="text-sm text-indigo-700 underline">"Cancel and sign in again"</button>
            </ActionForm>
        </div>
    }
}
