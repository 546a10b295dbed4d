//! Pieces every page uses: the header, the CSRF field, field errors.

use crate::api::{CancelOwnReset, SignOut, get_session};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::A;
use leptos_router::hooks::use_location;
use tessera::views::SessionView;

/// The session as the pages see it, re-read on every navigation.
pub type SessionResource = Resource<Result<SessionView, AppError>>;

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    let session: SessionResource = Resource::new(move || location.pathname.get(), |_| get_session());
    provide_context(session);

    view! {
        <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:p-2 focus:bg-white">
            "Skip to content"
        </a>
        <header class="border-b border-slate-200 bg-white print:hidden">
            <div class="mx-auto flex max-w-3xl flex-wrap items-center justify-between gap-3 px-4 py-3">
                <A href="/" attr:class="text-lg font-semibold tracking-tight text-indigo-700">"Tessera"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let session = session.await.ok();
                        // A reset of the viewer's two-factor sign-in is
                        // waiting (SECURITY.md 51): every signed-in page
                        // says so, with when it finishes and a way to cancel.
                        let reset = session.as_ref().and_then(|s| s.reset_waiting.clone());
                        // The forms here carry the token read above, not a
                        // <CsrfField />: its own suspense would take a
                        // hydration id whenever the session arrives, racing
                        // the page's, and the browser would look for the
                        // page's data under another id.
                        let token = session.as_ref().map(|s| s.csrf_token.clone()).unwrap_or_default();
                        let viewer = session.and_then(|s| s.viewer);
                        viewer.map(|v| view! {
                            <nav aria-label="Main" class="flex flex-wrap items-center gap-4 text-sm">
                                <A href="/" exact=true attr:class="hover:underline">"Home"</A>
                                <A href="/credentials" attr:class="hover:underline">"2FA credentials"</A>
                                <A href="/account/sessions" attr:class="hover:underline">"Sessions"</A>
                                <A href="/account/applications" attr:class="hover:underline">"Applications"</A>
                                <A href="/account/password" attr:class="hover:underline">"Password"</A>
                                {v.is_admin.then(|| view! {
                                    <A href="/admin" attr:class="hover:underline">"Admin"</A>
                                })}
                                <span class="text-slate-500" data-testid="signed-in-user">{v.display_name.clone()}</span>
                                // A plain form, hydrated or not: signing out loads the
                                // sign-in page anew, with the new session's CSRF token
                                // (nothing of the ended session stays on screen).
                                <form method="post" action=SignOut::url() class="inline">
                                    <CsrfInput token=token.clone() />
                                    <button type="submit" class="rounded border border-slate-300 px-2 py-1 hover:bg-slate-100">"Sign out"</button>
                                </form>
                                {reset.map(|at| view! {
                                    <div role="alert" data-testid="reset-banner" class="basis-full rounded border border-amber-300 bg-amber-50 p-3 text-amber-900">
                                        <p>
                                            "A reset of your two-factor sign-in is waiting: from " {at}
                                            " (UTC) the browser that asked for it can sign in with your password alone and remove your factors. If you did not ask for it, cancel it."
                                        </p>
                                        <form method="post" action=CancelOwnReset::url() class="mt-2">
                                            <CsrfInput token />
                                            <button type="submit" data-testid="reset-banner-cancel" class="rounded border border-amber-400 bg-white px-2 py-1 hover:bg-amber-100">"Cancel the reset"</button>
                                        </form>
                                    </div>
                                })}
                            </nav>
                        })
                    })}
                </Transition>
            </div>
        </header>
    }
}

/// The hidden CSRF token every state-changing form carries.
#[component]
pub fn CsrfField() -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let token = session.await.map(|s| s.csrf_token).unwrap_or_default();
                view! { <CsrfInput token /> }
            })}
        </Transition>
    }
}

/// The CSRF field for a form whose view already has the session's token.
#[component]
fn CsrfInput(token: String) -> impl IntoView {
    view! { <input type="hidden" name="csrf_token" value=token /> }
}

/// A labelled text input with its error beside it.
#[component]
pub fn Field(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    #[prop(into, default = "text".to_string())] kind: String,
    #[prop(into, default = String::new())] autocomplete: String,
    #[prop(into)] error: Signal<Option<String>>,
    /// The element id when a page has several fields of one name.
    #[prop(into, optional)]
    id: Option<String>,
    #[prop(into, optional)] value: Option<String>,
    #[prop(into, optional)] inputmode: Option<String>,
    #[prop(into, optional)] placeholder: Option<String>,
) -> impl IntoView {
    let id = id.unwrap_or_else(|| format!("field-{name}"));
    let err_id = format!("{id}-error");
    let described = err_id.clone();
    view! {
        <div class="flex flex-col gap-1">
            <label for=id.clone() class="text-sm font-medium">{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                inputmode=inputmode
                placeholder=placeholder
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=move || error.get().map(|_| described.clone())
                class="rounded border border-slate-300 px-3 py-2 focus:border-indigo-600 focus:outline-none focus:ring-2 focus:ring-indigo-200 aria-[invalid=true]:border-red-600"
            />
            {move || error.get().map(|msg| view! {
                <p id=err_id.clone() class="text-sm text-red-700">{msg}</p>
            })}
        </div>
    }
}

/// An alert box for a form-wide message. When the change needs a fresh
/// sign-in (step-up), it links to signing in again and back to this page.
#[component]
pub fn FormAlert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    let location = use_location();
    let step_up = tessera::PortalError::StepUpRequired.to_string();
    move || {
        message.get().map(|m| {
            let again = (m == step_up).then(|| {
                let back = location.pathname.get();
                view! {
                    " "
                    <a class="font-medium underline" data-testid="step-up" href=format!("/signin/again?next={back}")>
                        "Confirm it's you"
                    </a>
                }
            });
            view! {
                <div role="alert" class="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800">{m}{again}</div>
            }
        })
    }
}

/// The error of a form's last submission, split for display: messages that
/// name a field go beside it, anything else goes in the form's alert.
#[derive(Clone, Copy)]
pub struct FormErrors(Signal<Option<AppError>>);

impl FormErrors {
    pub fn new(error: impl Fn() -> Option<AppError> + Send + Sync + 'static) -> Self {
        Self(Signal::derive(error))
    }

    pub fn field(self, name: &'static str) -> Signal<Option<String>> {
        self.field_named(name.to_owned())
    }

    pub fn field_named(self, name: String) -> Signal<Option<String>> {
        Signal::derive(move || self.0.get().and_then(|e| e.field(&name)))
    }

    pub fn alert(self) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.0.get().and_then(|e| match e {
                AppError::Portal(tessera::PortalError::Validation(_)) => None,
                other => Some(other.to_string()),
            })
        })
    }
}

/// The classes of a main (filled) button and of a quiet (outlined) one.
pub const BUTTON: &str = "rounded bg-indigo-700 px-4 py-2 font-medium text-white hover:bg-indigo-800 focus:outline-none focus:ring-2 focus:ring-indigo-300 disabled:opacity-60";
pub const QUIET_BUTTON: &str = "rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus:ring-2 focus:ring-indigo-300";

/// A small "saved" note for a form whose last submission worked.
#[component]
pub fn Saved(#[prop(into)] show: Signal<bool>, #[prop(into)] text: String) -> impl IntoView {
    move || {
        show.get().then(|| {
            view! { <p role="status" class="text-sm text-emerald-800" data-testid="saved">{text.clone()}</p> }
        })
    }
}
