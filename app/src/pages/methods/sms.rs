//! Enrolling a phone: the number, then the code texted to it.

use crate::api::{CancelEnrollment, ResendEnrollment, StartEnrollment, VerifyEnrollment};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use tessera::views::PendingEnrollment;

#[component]
pub fn AddPhone(start: ServerAction<StartEnrollment>) -> impl IntoView {
    let errors = FormErrors::new(move || start.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="add-heading">
            <h2 id="add-heading" class="text-lg font-semibold">"Add a phone"</h2>
            <p class="mt-1 text-sm text-slate-600">"We text a code to the number to check that it is yours."</p>
            <ActionForm action=start attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="phone" label="Mobile number" kind="tel" autocomplete="tel" placeholder="+1 201 555 0123" error=errors.field("phone") />
                <Field name="nickname" id="add-nickname" label="Name (optional)" placeholder="Work phone" error=errors.field("nickname") />
                <button type="submit" class=BUTTON disabled=move || start.pending().get()>"Send code"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn VerifyPhone(
    pending: PendingEnrollment,
    verify: ServerAction<VerifyEnrollment>,
    resend: ServerAction<ResendEnrollment>,
    cancel: ServerAction<CancelEnrollment>,
) -> impl IntoView {
    let errors = FormErrors::new(move || verify.value().get().and_then(Result::err));
    let resend_errors = FormErrors::new(move || resend.value().get().and_then(Result::err));
    let wait = pending.resend_in_secs;
    view! {
        <section class="mt-6 rounded-lg border border-indigo-200 bg-white p-6" aria-labelledby="verify-heading">
            <h2 id="verify-heading" class="text-lg font-semibold">"Confirm your phone"</h2>
            <p class="mt-1 text-sm" data-testid="pending-phone">
                {format!("We sent a code to {} (“{}”). Enter it below.", pending.number, pending.nickname)}
            </p>
            <ActionForm action=verify attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="code" label="Code" autocomplete="one-time-code" inputmode="numeric" error=errors.field("code") />
                <button type="submit" class=BUTTON disabled=move || verify.pending().get()>"Verify"</button>
            </ActionForm>
            <div class="mt-4 flex flex-wrap items-center gap-3">
                <ActionForm action=resend>
                    <CsrfField />
                    <button type="submit" class=QUIET_BUTTON>"Send a new code"</button>
                </ActionForm>
                <ActionForm action=cancel>
                    <CsrfField />
                    <button type="submit" class=QUIET_BUTTON>"Cancel"</button>
                </ActionForm>
                {(wait > 0).then(|| view! {
                    <span class="text-sm text-slate-500">{format!("You can ask for a new code in {wait} seconds.")}</span>
                })}
            </div>
            <FormAlert message=resend_errors.alert() />
        </section>
    }
}
