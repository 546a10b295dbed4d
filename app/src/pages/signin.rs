use super::methods::passkey::{Ceremony, CeremonyButton, NeedsJavaScript};
use crate::api::{SignIn, SignInWithPasskey, get_passkey_sign_in};
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
    let with_passkey = ServerAction::<SignInWithPasskey>::new();
    // A fresh ceremony after each refused answer.
    let passkey = Resource::new(move || with_passkey.version().get(), |_| get_passkey_sign_in());

    view! {
        <Title text="Sign in" />
        <section class="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
            <h1 class="mb-4 text-xl font-semibold">"Sign in to Tessera"</h1>
            <ActionForm action attr:class="flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <FormAlert message=errors.alert() />
                // "webauthn": the browser may offer this site's passkeys here.
                <Field name="username" label="Username" autocomplete="username webauthn" value=hint.unwrap_or_default() error=errors.field("username") />
                <Field name="password" label="Password" kind="password" autocomplete="current-password" error=errors.field("password") />
                <button
                    type="submit"
                    class=BUTTON
                    disabled=move || action.pending().get()
                >
                    "Sign in"
                </button>
            </ActionForm>
            <div>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match passkey.await {
                            Ok(Some(options)) => view! { <PasskeySignIn options action=with_passkey /> }.into_any(),
                            _ => view! { <span hidden=true></span> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

/// "Sign in with a passkey": a button, and the same ceremony offered in the
/// username field's autofill (`public/passkey.js`).
#[component]
fn PasskeySignIn(options: String, action: ServerAction<SignInWithPasskey>) -> impl IntoView {
    let errors = FormErrors::new(move || action.value().get().and_then(Result::err));
    view! {
        <div class="mt-6 border-t border-slate-200 pt-4" data-testid="passkey-sign-in">
            <p class="text-sm text-slate-600">"Or, without a password:"</p>
            <NeedsJavaScript />
            <ActionForm action attr:class="mt-2 flex flex-col gap-2" attr:data-passkey-autofill="">
                <CsrfField />
                <FormAlert message=errors.alert() />
                <FormAlert message=errors.field("code") />
                <CeremonyButton field="response" kind=Ceremony::Get options label="Sign in with a passkey" test_id="passkey-sign-in-button" />
            </ActionForm>
        </div>
    }
}
