use super::PageError;
use crate::api::get_home;
use leptos::prelude::*;
use leptos_meta::Title;

/// The account's second-factor credentials, as stored.
#[component]
pub fn CredentialsPage() -> impl IntoView {
    let home = Resource::new(|| (), |_| get_home());
    view! {
        <Title text="2FA credentials" />
        <h1 class="text-2xl font-semibold">"2FA credentials"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match home.await {
                    Ok(status) => view! {
                        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
                            <p data-testid="credentials-summary">
                                {if status.credential_count == 0 {
                                    "You have no second-factor credentials yet.".to_string()
                                } else {
                                    format!("You have {} second-factor credential(s).", status.credential_count)
                                }}
                            </p>
                            <p class="mt-2 text-sm text-slate-600">
                                "Two-factor authentication is "
                                <strong>{if status.two_factor_enabled { "on" } else { "off" }}</strong>
                                " for your account."
                            </p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
