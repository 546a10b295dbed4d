//! Tessera's UI: the shell, routes, pages and the server functions they call.
//! Server functions reach the back end only through `tessera::ports`.

pub mod api;
pub mod components;
pub mod error;
pub mod pages;

use components::Header;
use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};
use pages::admin::{
    AdminPage,
    audit::AuditPageView,
    clients::{ClientPage, ClientsPage},
    methods::MethodsPage,
    outbox::OutboxPage,
    policy::PolicyPage,
    providers::ProvidersPage,
    user::UserPage,
};
use pages::{
    account::{ApplicationsPage, PasswordPage, ReauthPage, SessionsPage},
    credentials::CredentialsPage,
    credentials::EnrollStepPage,
    home::HomePage,
    methods::recovery::RecoveryPage,
    not_found::{NotFound, ServerAnswers},
    not_me::NotMePage,
    reset::{CancelResetPage, ResetPage},
    second_step::SecondStepPage,
    signin::SignInPage,
};

/// Every route renders whole before it is sent (async SSR): each page then
/// works without JavaScript, and its status code can still be set.
/// The HTML document around the app (server side only renders it).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The passkey ceremonies (a few KB, outside the wasm bundle).
                <script src="/passkey.js" defer nonce=use_nonce()></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tessera.css" />
        <Title formatter=|page: String| format!("{page} · Tessera") />
        <Router>
            <Header />
            <main id="main" class="mx-auto w-full max-w-3xl px-4 py-8">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/credentials") view=CredentialsPage ssr=SsrMode::Async />
                    <Route path=path!("/credentials/recovery") view=RecoveryPage ssr=SsrMode::Async />
                    <Route path=path!("/signin/code") view=SecondStepPage ssr=SsrMode::Async />
                    <Route path=path!("/signin/enroll") view=EnrollStepPage ssr=SsrMode::Async />
                    <Route path=path!("/signin/reset") view=ResetPage ssr=SsrMode::Async />
                    <Route path=path!("/reset/cancel") view=CancelResetPage ssr=SsrMode::Async />
                    <Route path=path!("/not-me") view=NotMePage ssr=SsrMode::Async />
                    <Route path=path!("/signin/again") view=ReauthPage ssr=SsrMode::Async />
                    <Route path=path!("/account/sessions") view=SessionsPage ssr=SsrMode::Async />
                    <Route path=path!("/account/password") view=PasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/account/applications") view=ApplicationsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/outbox") view=OutboxPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/users/:username") view=UserPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/methods") view=MethodsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/providers") view=ProvidersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/policy") view=PolicyPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view=AuditPageView ssr=SsrMode::Async />
                    <Route path=path!("/admin/clients") view=ClientsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/client") view=ClientPage ssr=SsrMode::Async />
                    // Answered by the server (web/authorize.rs); listed so
                    // that navigating here inside the app loads it from there.
                    <Route path=path!("/oauth2/continue") view=ServerAnswers />
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // A marker for the browser tests: the page is interactive now.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
