//! "2FA credentials": the account's credentials of every kind (named,
//! renamed, removed, one preferred), adding a phone or an app, and the 2FA
//! switch. Also the sign-in step of mandatory 2FA, which offers the same
//! enrollments.

use super::PageError;
use super::methods::passkey::{AddPasskey, PasskeyCeremony};
use super::methods::sms::{AddPhone, VerifyPhone};
use super::methods::totp::{AddApp, AppSetup};
use crate::api::{
    CancelApp, CancelEnrollment, CancelPasskey, FinishPasskey, RemoveCredential, RenameCredential, ResendEnrollment,
    SetTwoFactor, SignOut, StartApp, StartEnrollment, StartPasskey, VerifyApp, VerifyEnrollment, get_credentials,
};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::method::{MethodId, counting};
use tessera::views::{CredentialView, CredentialsView};

/// Every form on the page, so that each success re-reads the page's data.
#[derive(Clone, Copy)]
struct Actions {
    start: ServerAction<StartEnrollment>,
    verify: ServerAction<VerifyEnrollment>,
    resend: ServerAction<ResendEnrollment>,
    cancel: ServerAction<CancelEnrollment>,
    start_app: ServerAction<StartApp>,
    verify_app: ServerAction<VerifyApp>,
    cancel_app: ServerAction<CancelApp>,
    start_passkey: ServerAction<StartPasskey>,
    finish_passkey: ServerAction<FinishPasskey>,
    cancel_passkey: ServerAction<CancelPasskey>,
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
            start_app: ServerAction::new(),
            verify_app: ServerAction::new(),
            cancel_app: ServerAction::new(),
            start_passkey: ServerAction::new(),
            finish_passkey: ServerAction::new(),
            cancel_passkey: ServerAction::new(),
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
            + self.start_app.version().get()
            + self.verify_app.version().get()
            + self.cancel_app.version().get()
            + self.start_passkey.version().get()
            + self.finish_passkey.version().get()
            + self.cancel_passkey.version().get()
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

/// "You have 1 phone, 2 authenticator apps and 1 passkey."
fn summary(credentials: &[CredentialView]) -> String {
    let count = |m: MethodId| credentials.iter().filter(|c| c.method == m).count();
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let parts: Vec<String> = [
        (count(MethodId::Sms), "phone", "phones"),
        (count(MethodId::Totp), "authenticator app", "authenticator apps"),
        (count(MethodId::Passkey), "passkey", "passkeys"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect();
    match parts.as_slice() {
        [] => "You have no second-factor credentials yet.".into(),
        [only] if count(MethodId::Sms) > 0 => format!("You have {only} for sign-in codes."),
        [only] => format!("You have {only}."),
        [init @ .., last] => format!("You have {} and {last}.", init.join(", ")),
    }
}

#[component]
fn Credentials(view: CredentialsView, actions: Actions) -> impl IntoView {
    let CredentialsView {
        credentials,
        two_factor_enabled,
        minimum,
        pending,
        app_setup,
        passkey_setup,
        enabled_methods,
    } = view;
    let count = counting(credentials.iter().map(|c| c.method));
    let remove_errors = FormErrors::new(move || actions.remove.value().get().and_then(Result::err));
    let rename_errors = FormErrors::new(move || actions.rename.value().get().and_then(Result::err));
    let summary = summary(&credentials);
    let has_recovery = credentials.iter().any(|c| c.method == MethodId::RecoveryCode);
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="credentials-heading">
            <h2 id="credentials-heading" class="text-lg font-semibold">"Your credentials"</h2>
            <p data-testid="credentials-summary" class="mt-1 text-sm text-slate-600">{summary}</p>
            <FormAlert message=remove_errors.alert() />
            <FormAlert message=rename_errors.alert() />
            <ul class="mt-4 flex flex-col gap-4">
                {credentials
                    .into_iter()
                    .map(|credential| {
                        // Removing one that counts may leave fewer than the minimum.
                        let turns_off = two_factor_enabled
                            && credential.method.counts_toward_minimum()
                            && count.saturating_sub(1) < minimum.max(1);
                        view! { <CredentialItem credential actions turns_off two_factor_enabled rename_errors /> }
                    })
                    .collect_view()}
            </ul>
        </section>
        <Enrollments pending app_setup passkey_setup enabled_methods=enabled_methods.clone() actions />
        {(enabled_methods.contains(&MethodId::RecoveryCode) && !has_recovery).then(|| view! {
            <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="recovery-heading">
                <h2 id="recovery-heading" class="text-lg font-semibold">"Recovery codes"</h2>
                <p class="mt-1 text-sm text-slate-600">
                    "Single-use codes for when your phone or app is not at hand. They do not count toward two-factor authentication on their own."
                </p>
                <a href="/credentials/recovery" class=format!("mt-4 inline-block {BUTTON}")>"Make recovery codes"</a>
            </section>
        })}
        <TwoFactorSwitch enabled=two_factor_enabled minimum count actions />
    }
}

/// The forms that add a credential of each enabled method.
#[component]
fn Enrollments(
    pending: Option<tessera::views::PendingEnrollment>,
    app_setup: Option<tessera::views::TotpSetup>,
    passkey_setup: Option<tessera::views::PasskeySetup>,
    enabled_methods: Vec<MethodId>,
    actions: Actions,
) -> impl IntoView {
    let sms = enabled_methods.contains(&MethodId::Sms);
    let totp = enabled_methods.contains(&MethodId::Totp);
    let passkey = enabled_methods.contains(&MethodId::Passkey);
    view! {
        {sms.then(|| match pending {
            Some(pending) => view! {
                <VerifyPhone pending verify=actions.verify resend=actions.resend cancel=actions.cancel />
            }
            .into_any(),
            None => view! { <AddPhone start=actions.start /> }.into_any(),
        })}
        {totp.then(|| match app_setup {
            Some(setup) => view! { <AppSetup setup verify=actions.verify_app cancel=actions.cancel_app /> }.into_any(),
            None => view! { <AddApp start=actions.start_app /> }.into_any(),
        })}
        {passkey.then(|| match passkey_setup {
            Some(setup) => view! {
                <PasskeyCeremony setup finish=actions.finish_passkey cancel=actions.cancel_passkey />
            }
            .into_any(),
            None => view! { <AddPasskey start=actions.start_passkey /> }.into_any(),
        })}
        {(!sms && !totp && !passkey).then(|| view! {
            <p class="mt-6 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900">
                "Every second-factor method is turned off by the administrator, so nothing can be added now."
            </p>
        })}
    }
}

#[component]
fn CredentialItem(
    credential: CredentialView,
    actions: Actions,
    turns_off: bool,
    two_factor_enabled: bool,
    rename_errors: FormErrors,
) -> impl IntoView {
    let CredentialView {
        id,
        method,
        nickname,
        detail,
        added_at,
        last_used_at,
        preferred,
    } = credential;
    let rename_id = format!("rename-{id}");
    let confirm_id = format!("confirm-{id}");
    let (remove_id, preferred_id) = (id.clone(), id.clone());
    // Test ids per kind: "phone", "phone-nickname", "phone-number"; "app"…
    let (kind, shown, detail_id) = match method {
        MethodId::Sms => ("phone", detail, "phone-number"),
        MethodId::Totp => ("app", "Authenticator app".to_owned(), "app-kind"),
        MethodId::RecoveryCode => ("recovery", detail, "recovery-left"),
        MethodId::Passkey => ("passkey", "Passkey".to_owned(), "passkey-kind"),
    };
    // Recovery codes are a way back in, never the preferred way.
    let preferable = method.counts_toward_minimum() && !preferred;
    view! {
        <li class="rounded border border-slate-200 p-4" data-testid=kind>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <p>
                    <strong data-testid=format!("{kind}-nickname")>{nickname.clone()}</strong>
                    {preferred.then(|| view! {
                        <span class="ml-2 rounded bg-indigo-50 px-2 py-0.5 text-xs text-indigo-800">"Preferred"</span>
                    })}
                </p>
                <p class="font-mono text-sm" data-testid=detail_id>{shown}</p>
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
                {(method == MethodId::RecoveryCode).then(|| view! {
                    <a href="/credentials/recovery" class=QUIET_BUTTON>"See or renew"</a>
                })}
                {preferable.then(|| view! {
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
fn TwoFactorSwitch(enabled: bool, minimum: u32, count: u32, actions: Actions) -> impl IntoView {
    let errors = FormErrors::new(move || actions.switch.value().get().and_then(Result::err));
    let enough = count >= minimum.max(1);
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
                        {format!("Add at least {minimum} phone(s) or app(s) to turn it on.")}
                    </p>
                }
                .into_any()
            }}
        </section>
    }
}

/// The sign-in step of mandatory 2FA (WSO2's `CaptureAndUpdateMobileNumber`):
/// an account with no usable credential adds a phone or an app, proved with
/// a code, before it is signed in.
#[component]
pub fn EnrollStepPage() -> impl IntoView {
    let actions = Actions::new();
    let sign_out = ServerAction::<SignOut>::new();
    let data = Resource::new(move || actions.version(), |_| get_credentials());
    view! {
        <Title text="Add a second factor" />
        <h1 class="text-2xl font-semibold">"Add a second factor to finish signing in"</h1>
        <p class="mt-2 text-slate-700">
            "Two-factor authentication is required here (by this site's policy, or by the application you are signing in to). Add one of the choices below; from now on you sign in with your password and a code from it."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! {
                        <Enrollments
                            pending=view.pending
                            app_setup=view.app_setup
                            passkey_setup=view.passkey_setup
                            enabled_methods=view.enabled_methods
                            actions
                        />
                    }
                    .into_any(),
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
