//! Provider settings: a form per plugin listing each property with its
//! description and an example; secrets are shown masked and kept when left
//! blank. "Send a test message" shows the provider's answer.

use super::AdminNav;
use crate::api::{SaveProvider, TestProvider, get_providers};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON, Saved};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::{PropertyView, ProviderView};

/// Which plugin's form was submitted last: the page's actions are shared by
/// every plugin's form, and only that form shows the answer.
#[derive(Clone, Copy)]
struct Forms {
    save: ServerAction<SaveProvider>,
    test: ServerAction<TestProvider>,
    saved_plugin: RwSignal<Option<String>>,
    tested_plugin: RwSignal<Option<String>>,
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let forms = Forms {
        save: ServerAction::new(),
        test: ServerAction::new(),
        saved_plugin: RwSignal::new(None),
        tested_plugin: RwSignal::new(None),
    };
    // An action's input is there only while it runs: remember whose it was.
    Effect::new(move || {
        if let Some(i) = forms.save.input().get() {
            forms.saved_plugin.set(Some(i.plugin));
        }
        if let Some(i) = forms.test.input().get() {
            forms.tested_plugin.set(Some(i.plugin));
        }
    });
    let data = Resource::new(
        move || forms.save.version().get() + forms.test.version().get(),
        |_| get_providers(),
    );
    view! {
        <Title text="Providers" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"Provider settings"</h1>
        <p class="mt-1 text-sm text-slate-600">
            "Secrets are stored encrypted and never shown again; leave a secret blank to keep it."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(providers) => providers
                        .into_iter()
                        .map(|provider| view! { <Provider provider forms /> })
                        .collect_view()
                        .into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Provider(provider: ProviderView, forms: Forms) -> impl IntoView {
    let id = provider.id.clone();
    // Without JavaScript nothing is remembered, and the one answer shows everywhere.
    let is_mine = |last: RwSignal<Option<String>>, id: String| move || last.get().is_none_or(|p| p == id);
    let (saved_here, tested_here) = (
        is_mine(forms.saved_plugin, id.clone()),
        is_mine(forms.tested_plugin, id.clone()),
    );
    let errors = {
        let here = saved_here.clone();
        FormErrors::new(move || here().then(|| forms.save.value().get().and_then(Result::err)).flatten())
    };
    let done = Signal::derive(move || saved_here() && matches!(forms.save.value().get(), Some(Ok(()))));
    let answer = Signal::derive(move || tested_here().then(|| forms.test.value().get()).flatten());
    let last_test = provider.last_test.clone();
    let test_errors = FormErrors::new(move || answer.get().and_then(Result::err));
    let status = if provider.problems.is_empty() {
        "Ready"
    } else {
        "Settings incomplete"
    };
    let test_field_id = format!("test-to-{id}");
    let (testid, save_id, test_id, props_id) = (id.clone(), id.clone(), id.clone(), id.clone());
    let version = provider.version.to_string();
    let properties = provider.properties.clone();
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" data-testid="provider" data-plugin=testid>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="text-lg font-semibold">{provider.label.clone()}</h2>
                <p class="text-sm">
                    <span data-testid="provider-status">{status}</span>
                    {provider.in_use.then_some(" · in use")}
                    {provider.owns_code.then_some(" · the provider makes the codes")}
                </p>
            </div>
            {(!provider.problems.is_empty() && !provider.properties.is_empty()).then(|| view! {
                <ul class="mt-2 list-disc pl-5 text-sm text-amber-900">
                    {provider.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}
                </ul>
            })}
            {if provider.properties.is_empty() {
                view! { <p class="mt-2 text-sm">"Nothing to set: it needs no account."</p> }.into_any()
            } else {
                view! {
                    <ActionForm action=forms.save attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                        <CsrfField />
                        <input type="hidden" name="plugin" value=save_id.clone() />
                        <input type="hidden" name="version" value=version.clone() />
                        {properties.clone().into_iter().map(|p| view! { <PropertyField plugin=props_id.clone() property=p errors /> }).collect_view()}
                        <FormAlert message=errors.alert() />
                        <FormAlert message=errors.field("plugin") />
                        <Saved show=done text="Saved." />
                        <div><button type="submit" class=BUTTON>"Save settings"</button></div>
                    </ActionForm>
                }.into_any()
            }}
            <ActionForm action=forms.test attr:class="mt-4 flex flex-wrap items-end gap-2 border-t border-slate-100 pt-4" attr:novalidate=true>
                <CsrfField />
                <input type="hidden" name="plugin" value=test_id.clone() />
                <Field name="to" id=test_field_id label="Send a test message to" kind="tel" placeholder="+1 201 555 0123"
                    error=test_errors.field("to") />
                <button type="submit" class=QUIET_BUTTON>"Send a test message"</button>
            </ActionForm>
            {last_test.map(|text| view! {
                <p role="status" class="mt-2 rounded bg-slate-50 px-3 py-2 font-mono text-sm" data-testid="provider-answer">{text}</p>
            })}
            {move || match answer.get() {
                Some(Err(e)) if e.field("to").is_none() => Some(view! {
                    <p role="alert" class="mt-2 text-sm text-red-800">{e.to_string()}</p>
                }),
                _ => None,
            }}
        </section>
    }
}

#[component]
fn PropertyField(plugin: String, property: PropertyView, errors: FormErrors) -> impl IntoView {
    let PropertyView {
        name,
        description,
        example,
        secret,
        required,
        value,
        is_set,
    } = property;
    let label = format!("{name}{}", if required { "" } else { " (optional)" });
    let id = format!("{plugin}-{name}");
    let help = if secret {
        if is_set {
            format!("{description} Stored: {value}. Leave blank to keep it.")
        } else {
            format!("{description} Example: {example}")
        }
    } else {
        format!("{description} Example: {example}")
    };
    view! {
        <div class="flex flex-col gap-1">
            <Field
                name=format!("props[{name}]")
                id=id
                label=label
                kind=if secret { "password" } else { "text" }
                autocomplete=if secret { "new-password" } else { "off" }
                value=if secret { String::new() } else { value }
                placeholder=if secret && is_set { "•••• (stored)".to_string() } else { example.to_string() }
                error=errors.field_named(name.clone())
            />
            <p class="text-xs text-slate-500">{help}</p>
        </div>
    }
}
