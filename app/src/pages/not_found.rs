use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="rounded-lg border border-slate-200 bg-white p-6">
            <h1 class="text-xl font-semibold">"Page not found"</h1>
            <p class="mt-2 text-slate-600">"There is no page at this address."</p>
            <p class="mt-4"><a href="/" class="text-indigo-700 underline">"Back to the home page"</a></p>
        </section>
    }
}

/// An address the server answers itself (the return to an application
/// after signing in for it). The server never renders this: its router
/// answers first. Reached by navigating inside the app (a sign-in form
/// with JavaScript on), it is loaded from the server.
#[component]
pub fn ServerAnswers() -> impl IntoView {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        let _ = window().location().reload();
    });
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-6">
            <p class="text-slate-600">"Continuing…"</p>
        </section>
    }
}
