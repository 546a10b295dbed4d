use crate::api::SignIn;
use crate::components::{CsrfField, Field, FormAlert};
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::PortalError;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = move || action.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive(move || error().and_then(|e| e.field(name)));
    // Field errors stand beside their fields; anything else goes in the alert.
    let alert = Signal::derive(move || {
        error().and_then(|e| match e {
            crate::error::AppError::Portal(PortalError::Validation(_)) => None,
            other => Some(other.to_string()),
        })
    });

    view! {
        <Title text="Sign in" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-4 text-xl font-semibold">"Sign in to Tessera"</h1>
            <ActionForm action attr:class="flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=alert />
                <Field name="username" label="Username" autocomplete="username" error=field("username") />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" error=field("password") />
                <button
                    type="submit"
                    class="rounded bg-indigo-700 px-4 py-2 font-medium text-white hover:bg-indigo-800 focus:outline-none focus:ring-2 focus:ring-indigo-300 disabled:opacity-60"
                    disabled=move || action.pending().get()
                >
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
