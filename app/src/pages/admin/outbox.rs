//! The outbox plugin's messages, for administrators: where codes land when
//! no SMS provider is set up. Numbers are masked.

use super::AdminNav;
use crate::api::get_outbox;
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OutboxPage() -> impl IntoView {
    let messages = Resource::new(|| (), |_| get_outbox());
    view! {
        <Title text="Outbox" />
        <AdminNav />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match messages.await {
                    Ok(messages) => view! {
                        <h1 class="text-2xl font-semibold">"Outbox"</h1>
                        <p class="mt-1 text-sm text-slate-600">
                            "Messages the outbox plugin stored instead of sending, newest first."
                        </p>
                        <section class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white p-4">
                            {if messages.is_empty() {
                                view! { <p>"No messages yet."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="w-full text-left text-sm" data-testid="outbox">
                                        <thead>
                                            <tr class="border-b border-slate-200">
                                                <th scope="col" class="py-2 pr-4">"To"</th>
                                                <th scope="col" class="py-2 pr-4">"Message"</th>
                                                <th scope="col" class="py-2 pr-4">"Stored"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {messages.into_iter().map(|m| view! {
                                                <tr class="border-b border-slate-100" data-testid="outbox-message">
                                                    <td class="py-2 pr-4 font-mono" data-testid="outbox-to">{m.to}</td>
                                                    <td class="py-2 pr-4" data-testid="outbox-body">{m.body}</td>
                                                    <td class="py-2 pr-4 whitespace-nowrap">{m.at}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
