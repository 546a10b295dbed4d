//! Adding an authenticator app: a name, then the QR code (drawn by the
//! server, so it shows with JavaScript off), the key as text, and the first
//! code from the app.

use crate::api::{CancelApp, StartApp, VerifyApp};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON};
use leptos::prelude::*;
use tessera::views::TotpSetup;

#[component]
pub fn AddApp(start: ServerAction<StartApp>) -> impl IntoView {
    let errors = FormErrors::new(move || start.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" aria-labelledby="add-app-heading">
            <h2 id="add-app-heading" class="text-lg font-semibold">"Add an authenticator app"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Google Authenticator, Aegis, 1Password, Microsoft Authenticator, FreeOTP and others show a new 6-digit code every 30 seconds."
            </p>
            <ActionForm action=start attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="nickname" id="app-nickname" label="App name (optional)" placeholder="Aegis on my phone" error=errors.field("nickname") />
                <button type="submit" class=BUTTON disabled=move || start.pending().get()>"Set up an app"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn AppSetup(setup: TotpSetup, verify: ServerAction<VerifyApp>, cancel: ServerAction<CancelApp>) -> impl IntoView {
    let errors = FormErrors::new(move || verify.value().get().and_then(Result::err));
    let TotpSetup {
        nickname,
        qr_svg_data_uri,
        uri,
        secret,
    } = setup;
    view! {
        <section class="mt-6 rounded-lg border border-indigo-200 bg-white p-6" aria-labelledby="setup-heading">
            <h2 id="setup-heading" class="text-lg font-semibold">{format!("Set up “{nickname}”")}</h2>
            <ol class="mt-2 list-decimal pl-5 text-sm">
                <li>"In your authenticator app, add an account and scan this QR code."</li>
                <li>"Or type the key below into the app (time-based, 6 digits, 30 seconds)."</li>
                <li>"Enter the code the app shows, to check that it works."</li>
            </ol>
            <img class="mt-4 h-56 w-56" src=qr_svg_data_uri alt="QR code holding the key for your authenticator app" data-testid="totp-qr" />
            <p class="mt-4 text-sm">"Key: " <code class="font-mono text-base" data-testid="totp-secret">{secret}</code></p>
            <details class="mt-2 text-sm">
                <summary>"Show the setup link"</summary>
                <code class="break-all font-mono text-xs" data-testid="totp-uri">{uri}</code>
            </details>
            <p class="mt-2 text-sm text-slate-600">
                "This key is shown only while you set the app up. Keep it to yourself: anyone with it can make your codes."
            </p>
            <ActionForm action=verify attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="code" id="app-code" label="Code from the app" autocomplete="one-time-code" inputmode="numeric" error=errors.field("code") />
                <button type="submit" class=BUTTON disabled=move || verify.pending().get()>"Verify and add the app"</button>
            </ActionForm>
            <ActionForm action=cancel attr:class="mt-4">
                <CsrfField />
                <button type="submit" class=QUIET_BUTTON>"Cancel"</button>
            </ActionForm>
        </section>
    }
}
