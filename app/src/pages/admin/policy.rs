//! The 2FA policy: minimum credentials, code length, lifetime and tries,
//! resend cooldown and cap, allowed countries, mode, default method and
//! the default acr for applications.

use super::AdminNav;
use crate::api::{SavePolicy, get_policy};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, Saved};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::policy::{NUMBER_FIELDS, SECTIONS};
use tessera::views::PolicyView;

#[component]
pub fn PolicyPage() -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    let data = Resource::new(move || save.version().get(), |_| get_policy());
    view! {
        <Title text="2FA policy" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"2FA policy"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(policy) => view! { <PolicyForm policy save /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PolicyForm(policy: PolicyView, save: ServerAction<SavePolicy>) -> impl IntoView {
    let errors = FormErrors::new(move || save.value().get().and_then(Result::err));
    let done = Signal::derive(move || matches!(save.value().get(), Some(Ok(()))));
    let fields = policy.fields.clone();
    let value = move |name: &str| fields.get(name).cloned().unwrap_or_default();
    view! {
        <ActionForm action=save attr:class="mt-6 flex flex-col gap-4 rounded-lg border border-slate-200 bg-white p-6" attr:novalidate=true>
            <CsrfField />
            <input type="hidden" name="version" value=policy.version.to_string() />
            {SECTIONS.iter().map(|(heading, names)| view! {
                <fieldset class="flex flex-col gap-2" data-testid="policy-section">
                    <legend class="text-base font-semibold">{*heading}</legend>
                    <div class="grid grid-cols-1 gap-4 sm:grid-cols-2">
                        {NUMBER_FIELDS.iter().filter(|(name, ..)| names.contains(name)).map(|(name, label, min, max)| view! {
                            <Field
                                name=format!("fields[{name}]")
                                id=format!("policy-{name}")
                                label=format!("{label} ({min}-{max})")
                                inputmode="numeric"
                                value=value(name)
                                error=errors.field(name)
                            />
                        }).collect_view()}
                    </div>
                </fieldset>
            }).collect_view()}
            <Field
                name="fields[allowed_countries]"
                id="policy-allowed_countries"
                label="Allowed destination countries (ISO codes; empty allows every country)"
                value=value("allowed_countries")
                placeholder="US, CA, GB"
                error=errors.field("allowed_countries")
            />
            <PolicyChoice name="mode" label="Mode" selected=value("mode") error=errors.field("mode") options=vec![
                ("optional".into(), "Each user's choice".into()),
                ("mandatory".into(), "Mandatory for everyone (a phone or an app is asked for at the first sign-in)".into()),
            ] />
            <PolicyChoice name="default_method" label="Default method" selected=value("default_method")
                error=errors.field("default_method") options=policy.methods.clone() />
            <PolicyChoice name="default_acr"
                label="Default acr for applications (when an application asks for none and has no default of its own)"
                selected=value("default_acr") error=errors.field("default_acr") options=policy.acrs.clone() />
            <PolicyChoice name="missing_method"
                label="When an application asks for a method the user has not enrolled (and the account has no other factor)"
                selected=value("missing_method") error=errors.field("missing_method") options=vec![
                    ("refuse".into(), "Refuse: the application is told the requirement is not met".into()),
                    ("enroll".into(), "Enroll it during the sign-in".into()),
                ] />
            <PolicyChoice name="passwordless"
                label="Signing in with a passkey alone (no password; the passkey checks it is the person)"
                selected=value("passwordless") error=errors.field("passwordless") options=vec![
                    ("allowed".into(), "Allowed, when passkeys are on".into()),
                    ("forbidden".into(), "Forbidden: the password first, always".into()),
                ] />
            <FormAlert message=errors.alert() />
            <Saved show=done text="Saved. It applies from the next request." />
            <div><button type="submit" class=BUTTON>"Save policy"</button></div>
        </ActionForm>
    }
}

/// One of the policy's choices: a select of (value, words), its error below.
#[component]
fn PolicyChoice(
    name: &'static str,
    #[prop(into)] label: String,
    selected: String,
    options: Vec<(String, String)>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("policy-{name}");
    let label_for = id.clone();
    view! {
        <label for=label_for class="flex flex-col gap-1 text-sm font-medium">
            {label}
            <select id=id name=format!("fields[{name}]") class="rounded border border-slate-300 px-3 py-2 font-normal">
                {options.into_iter().map(|(value, words)| {
                    let is = value == selected;
                    view! { <option value=value selected=is>{words}</option> }
                }).collect_view()}
            </select>
        </label>
        <FormAlert message=error />
    }
}
