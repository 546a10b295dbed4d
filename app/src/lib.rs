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
    Lazy, LazyRoute, SsrMode,
    components::{Route, Router, Routes},
    lazy_route, path,
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

/// Pages sent without the wasm bundle: nothing on them needs it (the form
/// posts; `passkey.js` runs the passkey ceremony), and a first visit, where a
/// person waits longest for the script, starts here. Their `<body>` says
/// `data-static`. Reached by navigating inside the app, they render there
/// like any page.
pub const STATIC_PAGES: &[&str] = &["/signin"];

/// Whether the page being rendered is one of [`STATIC_PAGES`].
fn static_page() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().is_some_and(|parts| STATIC_PAGES.contains(&parts.uri.path()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// Every route renders whole before it is sent (async SSR): each page then
/// works without JavaScript, and its status code can still be set.
/// The HTML document around the app (server side only renders it).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let static_page = static_page();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The passkey ceremonies (a few KB, outside the wasm bundle).
                <script src="/passkey.js" defer nonce=use_nonce()></script>
                {(!static_page).then(|| view! {
                    <AutoReload options=options.clone() />
                    <HydrationScripts options />
                })}
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased" data-static=static_page.then_some("true")>
                <App />
            </body>
        </html>
    }
}

/// Each page's view code is a chunk of its own that the browser loads when
/// the page is first shown (`cargo leptos build --split`): a first visit
/// downloads the shell (router, header, runtime) and that page's chunk, not
/// every page's code. A page's data still loads with its view (`SsrMode::Async`
/// renders it whole on the server).
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    )*};
}

lazy_pages! {
    HomeRoute => HomePage,
    SignInRoute => SignInPage,
    CredentialsRoute => CredentialsPage,
    RecoveryRoute => RecoveryPage,
    SecondStepRoute => SecondStepPage,
    EnrollStepRoute => EnrollStepPage,
    ResetRoute => ResetPage,
    CancelResetRoute => CancelResetPage,
    NotMeRoute => NotMePage,
    ReauthRoute => ReauthPage,
    SessionsRoute => SessionsPage,
    PasswordRoute => PasswordPage,
    ApplicationsRoute => ApplicationsPage,
    AdminRoute => AdminPage,
    OutboxRoute => OutboxPage,
    UserRoute => UserPage,
    MethodsRoute => MethodsPage,
    ProvidersRoute => ProvidersPage,
    PolicyRoute => PolicyPage,
    AuditRoute => AuditPageView,
    ClientsRoute => ClientsPage,
    ClientRoute => ClientPage,
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
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signin") view={Lazy::<SignInRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/credentials") view={Lazy::<CredentialsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/credentials/recovery") view={Lazy::<RecoveryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signin/code") view={Lazy::<SecondStepRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signin/enroll") view={Lazy::<EnrollStepRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signin/reset") view={Lazy::<ResetRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/reset/cancel") view={Lazy::<CancelResetRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/not-me") view={Lazy::<NotMeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signin/again") view={Lazy::<ReauthRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/account/sessions") view={Lazy::<SessionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/account/password") view={Lazy::<PasswordRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/account/applications") view={Lazy::<ApplicationsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/outbox") view={Lazy::<OutboxRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/users/:username") view={Lazy::<UserRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/methods") view={Lazy::<MethodsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/providers") view={Lazy::<ProvidersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/policy") view={Lazy::<PolicyRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/clients") view={Lazy::<ClientsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/client") view={Lazy::<ClientRoute>::new()} ssr=SsrMode::Async />
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
    // Hydration waits for the page's chunk (see `lazy_pages!`).
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body().expect("a page has a body");
        leptos::mount::hydrate_from_async(body.clone(), App).await.forget();
        // A marker for the browser tests: the page is interactive now.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
