//! Adding a passkey: a name, then the button that asks the browser to
//! create it (the ceremony needs JavaScript; without it the section says
//! so and the other methods stay open).

use crate::api::{CancelPasskey, FinishPasskey, StartPasskey};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use tessera::views::PasskeySetup;

/// Said wherever a passkey needs a ceremony and JavaScript is off. Its
/// content is set as HTML: with scripting on, a browser parses what is
/// inside `<noscript>` as text, which hydration must not walk into.
#[component]
pub fn NeedsJavaScript() -> impl IntoView {
    view! { <noscript inner_html=NEEDS_JAVASCRIPT></noscript> }
}

const NEEDS_JAVASCRIPT: &str = "<p class=\"mt-2 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900\" data-testid=\"passkey-needs-js\">\
Passkeys need JavaScript, which is off in this browser. Turn it on to use one, or use another way.</p>";

/// What kind of ceremony a button starts (`public/passkey.js` reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// `navigator.credentials.create`: adding a passkey.
    Create,
    /// `navigator.credentials.get`: proving one.
    Get,
}

/// Inside a form: the hidden field the browser's answer goes into (named
/// `field`), where `public/passkey.js` tells how it went, and the button
/// that starts the ceremony with the server's `options`.
#[component]
pub fn CeremonyButton(
    field: &'static str,
    kind: Ceremony,
    options: String,
    label: &'static str,
    test_id: &'static str,
) -> impl IntoView {
    let kind = match kind {
        Ceremony::Create => "create",
        Ceremony::Get => "get",
    };
    view! {
        <input type="hidden" name=field value="" data-passkey-answer="" />
        <p role="status" aria-live="polite" class="text-sm text-slate-700" data-passkey-status=""></p>
        <button type="button" class=BUTTON data-passkey=kind data-passkey-options=options data-testid=test_id>
            {label}
        </button>
    }
}

#[component]
pub fn AddPasskey(start: ServerAction<StartPasskey>) -> impl IntoView {
    let errors = FormErrors::new(move || start.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="add-passkey-heading">
            <h2 id="add-passkey-heading" class="text-lg font-semibold">"Add a passkey or security key"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Your phone or computer (fingerprint, face or screen lock), a password manager, or a security key such as a YubiKey. Nothing to type, and it only works on this site."
            </p>
            <NeedsJavaScript />
            <ActionForm action=start attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="nickname" id="passkey-nickname" label="Passkey name (optional)" placeholder="Laptop" error=errors.field("nickname") />
                <button type="submit" class=BUTTON disabled=move || start.pending().get()>"Add a passkey"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn PasskeyCeremony(
    setup: PasskeySetup,
    finish: ServerAction<FinishPasskey>,
    cancel: ServerAction<CancelPasskey>,
) -> impl IntoView {
    let errors = FormErrors::new(move || finish.value().get().and_then(Result::err));
    let PasskeySetup { nickname, options } = setup;
    let heading = match nickname {
        Some(name) => format!("Create the passkey “{name}”"),
        None => "Create your passkey".to_owned(),
    };
    view! {
        <section class="mt-6 rounded-lg border border-indigo-200 bg-white p-6" aria-labelledby="passkey-setup-heading">
            <h2 id="passkey-setup-heading" class="text-lg font-semibold">{heading}</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Press the button; your browser asks where to keep the passkey and to confirm it is you. This request lasts five minutes."
            </p>
            <NeedsJavaScript />
            <ActionForm action=finish attr:class="mt-4 flex flex-col gap-4">
                <CsrfField />
                <FormAlert message=errors.alert() />
                <FormAlert message=errors.field("code") />
                <CeremonyButton field="response" kind=Ceremony::Create options label="Create the passkey" test_id="passkey-create" />
            </ActionForm>
            <ActionForm action=cancel attr:class="mt-4">
                <CsrfField />
                <button type="submit" class=QUIET_BUTTON>"Cancel"</button>
            </ActionForm>
        </section>
    }
}
