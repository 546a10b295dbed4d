//! The page of a security notice's "this wasn't me" link. Opening it
//! changes nothing (mail scanners follow links): its owner signs in and
//! secures the account with one button, or, unable to sign in, tells the
//! administrators.

use super::PageError;
use crate::api::{ReportNotMe, SecureAccount, get_not_me};
use crate::components::{BUTTON, CsrfField, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tessera::views::{NotMeStep, NotMeView};

#[component]
pub fn NotMePage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    let secure = ServerAction::<SecureAccount>::new();
    let report = ServerAction::<ReportNotMe>::new();
    let data = Resource::new(move || (secure.version().get(), report.version().get()), {
        let token = token.clone();
        move |_| get_not_me(token.clone())
    });
    view! {
        <Title text="This wasn't me" />
        <section class="mx-auto max-w-lg rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-2 text-xl font-semibold">"This wasn't me"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let token = token.clone();
                    Suspend::new(async move {
                        match data.await {
                            Ok(view) => view! { <NotMe view token secure report /> }.into_any(),
                            Err(error) => match error.field("not_me") {
                                Some(message) => view! {
                                    <p role="alert" class="text-sm text-red-800" data-testid="not-me-error">{message}</p>
                                }
                                .into_any(),
                                None => view! { <PageError error /> }.into_any(),
                            },
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn NotMe(
    view: NotMeView,
    token: String,
    secure: ServerAction<SecureAccount>,
    report: ServerAction<ReportNotMe>,
) -> impl IntoView {
    let NotMeView { about, sent_at, step } = view;
    let intro = view! {
        <p class="text-sm" data-testid="not-me-about">
            {format!("The notice “{about}” of {sent_at} (UTC).")}
        </p>
    };
    let body = match step {
        NotMeStep::Ready => {
            let errors = FormErrors::new(move || secure.value().get().and_then(Result::err));
            view! {
                <p class="mt-2 text-sm">"If you did not do this, secure your account now. This:"</p>
                <ul class="mt-2 list-disc pl-6 text-sm">
                    <li>"signs out every other session, and every application you signed in to;"</li>
                    <li>"forgets every browser that skips the second step;"</li>
                    <li>"cancels a waiting reset of two-factor sign-in;"</li>
                    <li>"tells your administrators."</li>
                </ul>
                <ActionForm action=secure attr:class="mt-4 flex flex-col gap-3">
                    <CsrfField />
                    <input type="hidden" name="token" value=token />
                    <FormAlert message=errors.alert() />
                    <FormAlert message=errors.field("not_me") />
                    <div><button type="submit" class=BUTTON>"Secure my account"</button></div>
                </ActionForm>
            }
            .into_any()
        }
        NotMeStep::Done { at } => view! {
            <div class="mt-3 rounded border border-green-200 bg-green-50 p-3 text-sm" role="status" data-testid="not-me-done">
                {format!("Your account was secured on {at} (UTC): other sessions were signed out, trusted browsers forgotten, a waiting reset cancelled, and your administrators told.")}
            </div>
            <p class="mt-3 text-sm">"Now change your password and check your sign-in methods."</p>
            <div class="mt-3 flex flex-wrap gap-2">
                <a href="/account/password" class=QUIET_BUTTON>"Change your password"</a>
                <a href="/credentials" class=QUIET_BUTTON>"Your sign-in methods"</a>
            </div>
        }
        .into_any(),
        NotMeStep::OtherAccount => view! {
            <p class="mt-3 text-sm" role="alert" data-testid="not-me-other-account">
                "This link belongs to another account. Sign out, then sign in as the account the notice was sent to."
            </p>
        }
        .into_any(),
        NotMeStep::SignInFirst { reported_at } => {
            let errors = FormErrors::new(move || report.value().get().and_then(Result::err));
            let reported = reported_at.map(|at| {
                view! {
                    <p class="mt-2 rounded border border-green-200 bg-green-50 p-3 text-sm" role="status" data-testid="not-me-reported">
                        {format!("Your administrators were told on {at} (UTC).")}
                    </p>
                }
            });
            view! {
                <p class="mt-2 text-sm">
                    "Sign in to secure your account: you come back here, and one button signs out every other session, forgets trusted browsers and cancels a waiting reset."
                </p>
                <a href="/signin" class=format!("mt-4 inline-block {BUTTON}")>"Sign in"</a>
                <h2 class="mt-6 font-medium">"Cannot sign in any more?"</h2>
                <p class="mt-1 text-sm">
                    "If your password was changed by someone else, tell your administrators: they see your account flagged and can help you back in."
                </p>
                {reported}
                <ActionForm action=report attr:class="mt-3 flex flex-col gap-3">
                    <CsrfField />
                    <input type="hidden" name="token" value=token />
                    <FormAlert message=errors.alert() />
                    <FormAlert message=errors.field("not_me") />
                    <div><button type="submit" class=QUIET_BUTTON>"Tell my administrators"</button></div>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        {intro}
        {body}
    }
}
