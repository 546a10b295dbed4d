//! The outbox, for administrators: text messages the outbox plugin stored
//! instead of sending (numbers masked), and the security notifications sent
//! to users (kept here when there is no SMTP server or no address).

use super::AdminNav;
use crate::api::{get_notifications, get_outbox};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::OutboxMessage;

#[component]
pub fn OutboxPage() -> impl IntoView {
    let messages = Resource::new(
        || (),
        |_| async { Ok((get_outbox().await?, get_notifications().await?)) },
    );
    view! {
        <Title text="Outbox" />
        <AdminNav />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match messages.await {
                    Ok((texts, notices)) => view! {
                        <h1 class="text-2xl font-semibold">"Outbox"</h1>
                        <h2 class="mt-4 text-lg font-semibold">"Text messages"</h2>
                        <p class="mt-1 text-sm text-slate-600">
                            "Messages the outbox plugin stored instead of sending, newest first."
                        </p>
                        <Messages messages=texts testid="outbox" />
                        <h2 class="mt-8 text-lg font-semibold">"Security notifications"</h2>
                        <p class="mt-1 text-sm text-slate-600">
                            "What users were told about changes to their sign-in methods and passwords, newest first."
                        </p>
                        <Messages messages=notices testid="notifications" />
                    }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Messages(messages: Vec<OutboxMessage>, testid: &'static str) -> impl IntoView {
    view! {
        <section class="mt-3 overflow-x-auto rounded-lg border border-slate-200 bg-white p-4">
            {if messages.is_empty() {
                view! { <p>"No messages yet."</p> }.into_any()
            } else {
                view! {
                    <table class="w-full text-left text-sm" data-testid=testid>
                        <thead>
                            <tr class="border-b border-slate-200">
                                <th scope="col" class="py-2 pr-4">"To"</th>
                                <th scope="col" class="py-2 pr-4">"Message"</th>
                                <th scope="col" class="py-2 pr-4">"Stored"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {messages.into_iter().map(|m| view! {
                                <tr class="border-b border-slate-100" data-testid=format!("{testid}-message")>
                                    <td class="py-2 pr-4 font-mono" data-testid=format!("{testid}-to")>{m.to}</td>
                                    <td class="py-2 pr-4 whitespace-pre-line" data-testid=format!("{testid}-body")>{m.body}</td>
                                    <td class="py-2 pr-4 whitespace-nowrap">{m.at}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
