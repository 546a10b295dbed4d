//! The second sign-in step: the code for the credential being proven (one
//! texted to a masked phone, or one from an app), a resend for a phone,
//! "Try another way" with every other usable credential, and a way out.

use super::PageError;
use super::methods::passkey::{Ceremony, CeremonyButton, NeedsJavaScript};
use crate::api::{SendSignInCode, SignOut, VerifySignInCode, get_challenge};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::method::MethodId;
use tessera::views::{ChallengeView, SignInOption};

#[component]
pub fn SecondStepPage() -> impl IntoView {
    let verify = ServerAction::<VerifySignInCode>::new();
    let send = ServerAction::<SendSignInCode>::new();
    let cancel = ServerAction::<SignOut>::new();
    // Read again after a refused answer (a passkey needs a fresh ceremony)
    // or a send; not after the answer that signs in, whose page is leaving.
    let refusals = Memo::new(move |before: Option<&usize>| {
        let before = before.copied().unwrap_or(0);
        match verify.value().get() {
            Some(Err(_)) => before + 1,
            _ => before,
        }
    });
    let data = Resource::new(move || refusals.get() + send.version().get(), |_| get_challenge());
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

/// What a button of "Try another way" says for a credential.
fn another_way(option: &SignInOption) -> String {
    match option.method {
        MethodId::Sms => format!("Text a code to “{}” ({})", option.nickname, option.masked),
        MethodId::Totp => format!("Use the authenticator app “{}”", option.nickname),
        MethodId::RecoveryCode => format!("Use a recovery code ({})", option.masked),
        MethodId::Passkey => format!("Use the passkey “{}”", option.nickname),
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
        proving,
        others,
        sent_to,
        resend_in_secs,
        notice,
        ceremony,
        trust_days,
    } = challenge;
    // "Don't ask again on this browser", in either form, when offered.
    let remember = move || {
        (trust_days > 0).then(|| {
            view! {
                <label class="flex items-center gap-2 text-sm">
                    <input type="checkbox" name="remember" value="true" />
                    {format!("Don't ask again on this browser for {trust_days} days")}
                </label>
            }
        })
    };
    let prompt = match &proving {
        Some(p) if p.method == MethodId::RecoveryCode => view! {
            <p class="text-sm" data-testid="code-recovery">
                {format!("Enter one of your recovery codes ({}). Each works once.", p.masked)}
            </p>
        }
        .into_any(),
        Some(p) if p.method == MethodId::Passkey => view! {
            <p class="text-sm" data-testid="use-passkey">
                {format!("Use your passkey “{}”: press the button, then follow your browser.", p.nickname)}
            </p>
            <NeedsJavaScript />
        }
        .into_any(),
        Some(p) if p.method == MethodId::Totp => view! {
            <p class="text-sm" data-testid="code-from-app">
                {format!("Enter the 6-digit code from your authenticator app “{}”.", p.nickname)}
            </p>
        }
        .into_any(),
        Some(p) => match &sent_to {
            Some(s) if s.id == p.id => view! {
                <p class="text-sm" data-testid="code-sent-to">
                    {format!("We sent a code to your phone “{}” ({}).", s.nickname, s.masked)}
                </p>
            }
            .into_any(),
            _ => view! {
                <p role="alert" class="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="code-not-sent">
                    {format!(
                        "No code is on its way. {}",
                        notice.clone().unwrap_or_else(|| "Send one below.".into())
                    )}
                </p>
            }
            .into_any(),
        },
        None => view! {
            <p role="alert" class="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="code-not-sent">
                "None of your sign-in methods can be used right now. Try again later, or contact your administrator."
            </p>
        }
        .into_any(),
    };
    // A phone can be sent a new code; an app needs nothing sent.
    let resend = proving.as_ref().filter(|p| p.method == MethodId::Sms).map(|p| {
        let id = p.id.clone();
        let sent = sent_to.as_ref().is_some_and(|s| s.id == id);
        view! {
            <ActionForm action=send>
                <CsrfField />
                <input type="hidden" name="credential" value=id />
                <button type="submit" class=QUIET_BUTTON>
                    {if sent { "Send a new code" } else { "Send a code" }}
                </button>
                {(resend_in_secs > 0).then(|| view! {
                    <span class="ml-2 text-sm text-slate-500">{format!("available in {resend_in_secs} seconds")}</span>
                })}
            </ActionForm>
        }
    });
    // A passkey answers through the browser (`public/passkey.js` fills in
    // the code field); every other method is typed.
    let answer = match ceremony {
        Some(options) => view! {
            <ActionForm action=verify attr:class="mt-4 flex flex-col gap-4">
                <CsrfField />
                <FormAlert message=errors.alert() />
                <FormAlert message=errors.field("code") />
                {remember()}
                <CeremonyButton field="code" kind=Ceremony::Get options label="Use my passkey" test_id="passkey-use" />
            </ActionForm>
        }
        .into_any(),
        None => view! {
            <ActionForm action=verify attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="code" label="Code" autocomplete="one-time-code" inputmode="numeric" error=errors.field("code") />
                {remember()}
                <button type="submit" class=BUTTON disabled=move || verify.pending().get()>"Verify"</button>
            </ActionForm>
        }
        .into_any(),
    };
    view! {
        {prompt}
        {answer}
        <div class="mt-6 flex flex-col gap-3 border-t border-slate-200 pt-4">
            <FormAlert message=send_errors.alert() />
            <FormAlert message=send_errors.field("code") />
            {resend}
            {(!others.is_empty()).then(|| view! {
                <section aria-labelledby="another-way" data-testid="try-another-way">
                    <h2 id="another-way" class="text-sm font-semibold">"Try another way"</h2>
                    <ul class="mt-2 flex flex-col gap-2">
                        {others.into_iter().map(|option| {
                            let label = another_way(&option);
                            view! {
                                <li>
                                    <ActionForm action=send>
                                        <CsrfField />
                                        <input type="hidden" name="credential" value=option.id />
                                        <button type="submit" class="text-left text-sm text-indigo-700 underline">{label}</button>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            })}
            <a href="/signin/reset" class="text-sm text-indigo-700 underline" data-testid="lost-every-way">
                "Lost every way to sign in?"
            </a>
            <ActionForm action=cancel>
                <CsrfField />
                <button type="submit" class="text-sm text-indigo-700 underline">"Cancel and sign in again"</button>
            </ActionForm>
        </div>
    }
}
