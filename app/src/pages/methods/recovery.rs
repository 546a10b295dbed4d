//! Recovery codes: how many are left, a new set shown once (with a .txt
//! download and a print-friendly page), and making a new set, which voids
//! the old one.

use crate::api::{MakeRecoveryCodes, SavedRecoveryCodes, get_recovery_codes};
use crate::components::{BUTTON, CsrfField, FormAlert, FormErrors, QUIET_BUTTON};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::RecoveryView;

/// The codes as a `data:` URI of a text file, so that the download works
/// with JavaScript off and the codes never travel again.
fn text_file(codes: &[String]) -> String {
    let text = format!(
        "Tessera recovery codes\nEach works once, in place of a code from your phone or app.\n\n{}\n",
        codes.join("\n")
    );
    let encoded: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("data:text/plain;charset=utf-8,{encoded}")
}

#[component]
pub fn RecoveryPage() -> impl IntoView {
    let make = ServerAction::<MakeRecoveryCodes>::new();
    let saved = ServerAction::<SavedRecoveryCodes>::new();
    let data = Resource::new(
        move || make.version().get() + saved.version().get(),
        |_| get_recovery_codes(),
    );
    view! {
        <Title text="Recovery codes" />
        <h1 class="text-2xl font-semibold">"Recovery codes"</h1>
        <p class="mt-2 text-slate-700 print:hidden">
            "Each recovery code signs you in once, in place of a code from your phone or app: keep them somewhere safe, away from your phone."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Recovery view make saved /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Recovery(
    view: RecoveryView,
    make: ServerAction<MakeRecoveryCodes>,
    saved: ServerAction<SavedRecoveryCodes>,
) -> impl IntoView {
    let errors = FormErrors::new(move || make.value().get().and_then(Result::err));
    let RecoveryView { left, set_size, fresh } = view;
    let status = match left {
        None => "You have no recovery codes yet.".to_string(),
        Some(n) => format!("{n} of your {set_size} recovery codes are left."),
    };
    let fresh_codes = (!fresh.is_empty()).then(|| {
        let href = text_file(&fresh);
        view! {
            <section class="mt-6 rounded-lg border border-indigo-200 bg-white p-6" aria-labelledby="new-codes" data-testid="new-codes">
                <h2 id="new-codes" class="text-lg font-semibold">"Your new recovery codes"</h2>
                <p class="mt-1 text-sm print:hidden">
                    "They are shown only now. Download or print them, then say you have saved them. Your old codes no longer work."
                </p>
                <ol class="mt-4 grid grid-cols-2 gap-2 font-mono text-lg">
                    {fresh.into_iter().map(|code| view! { <li data-testid="recovery-code">{code}</li> }).collect_view()}
                </ol>
                <div class="mt-4 flex flex-wrap items-center gap-3 print:hidden">
                    <a class=QUIET_BUTTON href=href download="tessera-recovery-codes.txt" data-testid="download-codes">"Download (.txt)"</a>
                    <span class="text-sm text-slate-600">"To print them, use your browser's Print command: this page prints the codes alone."</span>
                </div>
                <ActionForm action=saved attr:class="mt-4 print:hidden">
                    <CsrfField />
                    <button type="submit" class=BUTTON>"I have saved them"</button>
                </ActionForm>
            </section>
        }
    });
    view! {
        {fresh_codes}
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6 print:hidden" aria-labelledby="codes-status">
            <h2 id="codes-status" class="text-lg font-semibold">"Your set"</h2>
            <p class="mt-1" data-testid="recovery-left">{status}</p>
            <FormAlert message=errors.alert() />
            <ActionForm action=make attr:class="mt-4">
                <CsrfField />
                <button type="submit" class=if left.is_some() { QUIET_BUTTON } else { BUTTON }>
                    {if left.is_some() { "Make a new set (the old codes stop working)" } else { "Make recovery codes" }}
                </button>
            </ActionForm>
            <p class="mt-4 text-sm"><a href="/credentials" class="text-indigo-700 underline">"Back to your credentials"</a></p>
        </section>
    }
}
