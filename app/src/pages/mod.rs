pub mod account;
pub mod admin;
pub mod credentials;
pub mod home;
pub mod methods;
pub mod not_found;
pub mod not_me;
pub mod reset;
pub mod second_step;
pub mod signin;

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// What a page shows when its data could not be loaded: the sign-in page when
/// the session has ended, otherwise the error in words.
#[component]
pub fn PageError(error: AppError) -> impl IntoView {
    if error.is_unauthorized() {
        return view! { <Redirect path="/signin" /> }.into_any();
    }
    #[cfg(feature = "ssr")]
    if let AppError::Portal(p) = &error {
        crate::error::set_response_status(p);
    }
    view! {
        <section role="alert" class="rounded-lg border border-red-200 bg-white p-6" data-testid="page-error">
            <h1 class="text-xl font-semibold text-red-800">"Something is in the way"</h1>
            <p class="mt-2">{error.to_string()}</p>
            <p class="mt-4"><a href="/" class="text-indigo-700 underline">"Back to the home page"</a></p>
        </section>
    }
    .into_any()
}
