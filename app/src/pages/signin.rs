use crate::api::SignIn;
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let errors = FormErrors::new(move || action.value().get().and_then(Result::err));
    // An application's `login_hint` fills in the username.
    let hint = use_query_map().with_untracked(|q| q.get("login_hint"));

    view! {
        <Title text="Sign in" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-4 text-xl font-semibold">"Sign in to Tessera"</h1>
            <ActionForm action attr:class="flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                <Field name="username" label="Username" autocomplete="username" value=hint.unwrap_or_default() error=errors.field("username") />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" error=errors.field("password") />
                <button
                    type="submit"
                    class=BUTTON
                    disabled=move || action.pending().get()
                >
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
