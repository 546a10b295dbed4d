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
    let mode = value("mode");
    let default_method = value("default_method");
    let default_acr = value("default_acr");
    let select = "rounded border border-slate-300 px-3 py-2 font-normal";
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
            <label for="policy-mode" class="flex flex-col gap-1 text-sm font-medium">
                "Mode"
                <select id="policy-mode" name="fields[mode]" class=select>
                    <option value="optional" selected=mode == "optional">"Each user's choice"</option>
                    <option value="mandatory" selected=mode == "mandatory">"Mandatory for everyone (a phone or an app is asked for at the first sign-in)"</option>
                </select>
            </label>
            <FormAlert message=errors.field("mode") />
            <label for="policy-default" class="flex flex-col gap-1 text-sm font-medium">
                "Default method"
                <select id="policy-default" name="fields[default_method]" class=select>
                    {policy.methods.iter().map(|(id, label)| {
                        let selected = *id == default_method;
                        view! { <option value=id.clone() selected=selected>{label.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <FormAlert message=errors.field("default_method") />
            <label for="policy-default-acr" class="flex flex-col gap-1 text-sm font-medium">
                "Default acr for applications (when an application asks for none and has no default of its own)"
                <select id="policy-default-acr" name="fields[default_acr]" class=select>
                    {policy.acrs.iter().map(|(name, words)| {
                        let selected = *name == default_acr;
                        view! { <option value=name.clone() selected=selected>{words.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <FormAlert message=errors.field("default_acr") />
            <FormAlert message=errors.alert() />
            <Saved show=done text="Saved. It applies from the next request." />
            <div><button type="submit" class=BUTTON>"Save policy"</button></div>
        </ActionForm>
    }
}
