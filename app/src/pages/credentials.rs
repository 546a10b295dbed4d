//! "2FA credentials": the account's phones (named, renamed, removed), adding
//! a phone with a code, and the 2FA switch with the preferred phone.

use super::PageError;
use crate::api::{
    CancelEnrollment, RemoveCredential, RenameCredential, ResendEnrollment, SetTwoFactor, SignOut, StartEnrollment,
    VerifyEnrollment, get_credentials,
};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::{CredentialsView, PendingEnrollment, PhoneView};

/// Every form on the page, so that each success re-reads the page's data.
#[derive(Clone, Copy)]
struct Actions {
    start: ServerAction<StartEnrollment>,
    verify: ServerAction<VerifyEnrollment>,
    resend: ServerAction<ResendEnrollment>,
    cancel: ServerAction<CancelEnrollment>,
    rename: ServerAction<RenameCredential>,
    remove: ServerAction<RemoveCredential>,
    switch: ServerAction<SetTwoFactor>,
}

impl Actions {
    fn new() -> Self {
        Self {
            start: ServerAction::new(),
            verify: ServerAction::new(),
            resend: ServerAction::new(),
            cancel: ServerAction::new(),
            rename: ServerAction::new(),
            remove: ServerAction::new(),
            switch: ServerAction::new(),
        }
    }

    fn version(&self) -> usize {
        self.start.version().get()
            + self.verify.version().get()
            + self.resend.version().get()
            + self.cancel.version().get()
            + self.rename.version().get()
            + self.remove.version().get()
            + self.switch.version().get()
    }
}

#[component]
pub fn CredentialsPage() -> impl IntoView {
    let actions = Actions::new();
    let data = Resource::new(move || actions.version(), |_| get_credentials());
    view! {
        <Title text="2FA credentials" />
        <h1 class="text-2xl font-semibold">"2FA credentials"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Credentials view actions /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Credentials(view: CredentialsView, actions: Actions) -> impl IntoView {
    let CredentialsView {
        phones,
        two_factor_enabled,
        minimum,
        pending,
        sms_enabled,
    } = view;
    let count = phones.len();
    let turns_off = two_factor_enabled && (count as u32).saturating_sub(1) < minimum.max(1);
    let remove_errors = FormErrors::new(move || actions.remove.value().get().and_then(Result::err));
    let rename_errors = FormErrors::new(move || actions.rename.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="phones-heading">
            <h2 id="phones-heading" class="text-lg font-semibold">"Your phones"</h2>
            <p data-testid="credentials-summary" class="mt-1 text-sm text-slate-600">
                {match count {
                    0 => "You have no second-factor credentials yet.".to_string(),
                    1 => "You have 1 phone for sign-in codes.".to_string(),
                    n => format!("You have {n} phones for sign-in codes."),
                }}
            </p>
            <FormAlert message=remove_errors.alert() />
            <FormAlert message=rename_errors.alert() />
            <ul class="mt-4 flex flex-col gap-4">
                {phones
                    .into_iter()
                    .map(|phone| view! { <PhoneItem phone actions turns_off two_factor_enabled rename_errors /> })
                    .collect_view()}
            </ul>
        </section>
        {if sms_enabled {
            match pending {
                Some(pending) => view! { <VerifyPhone pending actions /> }.into_any(),
                None => view! { <AddPhone actions /> }.into_any(),
            }
        } else {
            view! {
                <p class="mt-6 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900">
                    "SMS codes are turned off by the administrator, so no phone can be added now."
                </p>
            }
            .into_any()
        }}
        <TwoFactorSwitch enabled=two_factor_enabled minimum count actions />
    }
}

#[component]
fn PhoneItem(
    phone: PhoneView,
    actions: Actions,
    turns_off: bool,
    two_factor_enabled: bool,
    rename_errors: FormErrors,
) -> impl IntoView {
    let PhoneView {
        id,
        nickname,
        number,
        added_at,
        last_used_at,
        preferred,
    } = phone;
    let rename_id = format!("rename-{id}");
    let confirm_id = format!("confirm-{id}");
    let (remove_id, preferred_id) = (id.clone(), id.clone());
    view! {
        <li class="rounded border border-slate-200 p-4" data-testid="phone">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <p>
                    <strong data-testid="phone-nickname">{nickname.clone()}</strong>
                    {preferred.then(|| view! {
                        <span class="ml-2 rounded bg-indigo-50 px-2 py-0.5 text-xs text-indigo-800">"Preferred"</span>
                    })}
                </p>
                <p class="font-mono text-sm" data-testid="phone-number">{number}</p>
            </div>
            <p class="mt-1 text-xs text-slate-500">
                {format!("Added {added_at} · Last used {}", last_used_at.unwrap_or_else(|| "never".into()))}
            </p>
            <div class="mt-3 flex flex-wrap items-end gap-4">
                <ActionForm action=actions.rename attr:class="flex items-end gap-2" attr:novalidate=true>
                    <CsrfField />
                    <input type="hidden" name="id" value=id />
                    <Field name="nickname" id=rename_id label="Name" value=nickname error=rename_errors.field("nickname") />
                    <button type="submit" class=QUIET_BUTTON>"Rename"</button>
                </ActionForm>
                <ActionForm action=actions.remove attr:class="flex flex-col items-start gap-1">
                    <CsrfField />
                    <input type="hidden" name="id" value=remove_id />
                    {turns_off.then(|| view! {
                        <label for=confirm_id.clone() class="flex items-center gap-2 text-sm text-amber-900">
                            <input id=confirm_id.clone() type="checkbox" name="confirm" value="true" />
                            "Removing it turns two-factor authentication off"
                        </label>
                    })}
                    <button type="submit" class=QUIET_BUTTON>"Remove"</button>
                </ActionForm>
                {(!preferred).then(|| view! {
                    <ActionForm action=actions.switch>
                        <CsrfField />
                        <input type="hidden" name="enabled" value=two_factor_enabled.to_string() />
                        <input type="hidden" name="preferred" value=preferred_id.clone() />
                        <button type="submit" class=QUIET_BUTTON>"Make preferred"</button>
                    </ActionForm>
                })}
            </div>
        </li>
    }
}

#[component]
fn AddPhone(actions: Actions) -> impl IntoView {
    let errors = FormErrors::new(move || actions.start.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="add-heading">
            <h2 id="add-heading" class="text-lg font-semibold">"Add a phone"</h2>
            <p class="mt-1 text-sm text-slate-600">"We text a code to the number to check that it is yours."</p>
            <ActionForm action=actions.start attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="phone" label="Mobile number" kind="tel" autocomplete="tel" placeholder="+1 201 555 0123" error=errors.field("phone") />
                <Field name="nickname" id="add-nickname" label="Name (optional)" placeholder="Work phone" error=errors.field("nickname") />
                <button type="submit" class=BUTTON disabled=move || actions.start.pending().get()>"Send code"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn VerifyPhone(pending: PendingEnrollment, actions: Actions) -> impl IntoView {
    let errors = FormErrors::new(move || actions.verify.value().get().and_then(Result::err));
    let resend_errors = FormErrors::new(move || actions.resend.value().get().and_then(Result::err));
    let wait = pending.resend_in_secs;
    view! {
        <section class="mt-6 rounded-lg border border-indigo-200 bg-white p-6" aria-labelledby="verify-heading">
            <h2 id="verify-heading" class="text-lg font-semibold">"Confirm your phone"</h2>
            <p class="mt-1 text-sm" data-testid="pending-phone">
                {format!("We sent a code to {} (“{}”). Enter it below.", pending.number, pending.nickname)}
            </p>
            <ActionForm action=actions.verify attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="code" label="Code" autocomplete="one-time-code" inputmode="numeric" error=errors.field("code") />
                <button type="submit" class=BUTTON disabled=move || actions.verify.pending().get()>"Verify"</button>
            </ActionForm>
            <div class="mt-4 flex flex-wrap items-center gap-3">
                <ActionForm action=actions.resend>
                    <CsrfField />
                    <button type="submit" class=QUIET_BUTTON>"Send a new code"</button>
                </ActionForm>
                <ActionForm action=actions.cancel>
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

#[component]
fn TwoFactorSwitch(enabled: bool, minimum: u32, count: usize, actions: Actions) -> impl IntoView {
    let errors = FormErrors::new(move || actions.switch.value().get().and_then(Result::err));
    let enough = count as u32 >= minimum.max(1);
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="switch-heading">
            <h2 id="switch-heading" class="text-lg font-semibold">"Two-factor authentication"</h2>
            <p class="mt-1" data-testid="two-factor-switch-state">
                "Two-factor authentication is "
                <strong>{if enabled { "on" } else { "off" }}</strong>
                "."
            </p>
            <FormAlert message=errors.alert() />
            <FormAlert message=errors.field("enabled") />
            {if enabled || enough {
                // The one button flips the switch.
                let (value, label, class) = if enabled {
                    ("false", "Turn off two-factor authentication", QUIET_BUTTON)
                } else {
                    ("true", "Turn on two-factor authentication", BUTTON)
                };
                view! {
                    <ActionForm action=actions.switch attr:class="mt-4">
                        <CsrfField />
                        <input type="hidden" name="enabled" value=value />
                        <button type="submit" class=class>{label}</button>
                    </ActionForm>
                }
                .into_any()
            } else {
                view! {
                    <p class="mt-2 text-sm text-slate-600">
                        {format!("Add at least {minimum} phone(s) to turn it on.")}
                    </p>
                }
                .into_any()
            }}
        </section>
    }
}

/// The sign-in step of mandatory 2FA (WSO2's `CaptureAndUpdateMobileNumber`):
/// an account with no usable credential adds a phone, proved with a code,
/// before it is signed in.
#[component]
pub fn EnrollStepPage() -> impl IntoView {
    let actions = Actions::new();
    let sign_out = ServerAction::<SignOut>::new();
    let data = Resource::new(move || actions.version(), |_| get_credentials());
    view! {
        <Title text="Add a phone" />
        <h1 class="text-2xl font-semibold">"Add a phone to finish signing in"</h1>
        <p class="mt-2 text-slate-700">
            "Two-factor authentication is required here. Add your mobile phone: we text it a code to check that it is yours, and from now on you sign in with your password and a code sent to it."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => match view.pending {
                        Some(pending) => view! { <VerifyPhone pending actions /> }.into_any(),
                        None => view! { <AddPhone actions /> }.into_any(),
                    },
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
        <ActionForm action=sign_out attr:class="mt-6">
            <CsrfField />
            <button type="submit" class=QUIET_BUTTON>"Cancel and sign out"</button>
        </ActionForm>
    }
}
