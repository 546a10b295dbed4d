//! The administration console: users, methods, provider settings, the 2FA
//! policy, applications, the audit log and the outbox. The server refuses every console
//! call from anyone but an administrator; the pages show that refusal.

pub mod audit;
pub mod clients;
pub mod methods;
pub mod outbox;
pub mod policy;
pub mod providers;
pub mod user;

use super::PageError;
use crate::api::list_users;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;
use tessera::views::UserSummary;

/// The console's own navigation, above each of its pages.
#[component]
pub fn AdminNav() -> impl IntoView {
    let link =
        "rounded px-2 py-1 hover:bg-slate-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-800";
    view! {
        <nav aria-label="Administration" class="mb-6 flex flex-wrap gap-2 border-b border-slate-200 pb-3 text-sm">
            <A href="/admin" exact=true attr:class=link>"Users"</A>
            <A href="/admin/methods" attr:class=link>"Methods"</A>
            <A href="/admin/providers" attr:class=link>"Providers"</A>
            <A href="/admin/policy" attr:class=link>"2FA policy"</A>
            <A href="/admin/clients" attr:class=link>"Applications"</A>
            <A href="/admin/audit" attr:class=link>"Audit log"</A>
            <A href="/admin/outbox" attr:class=link>"Outbox"</A>
        </nav>
    }
}

/// Accounts, searchable by username, email or phone number.
#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let users = Resource::new(q, list_users);
    view! {
        <Title text="Administration" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"Users"</h1>
        <Form method="GET" action="" attr:class="mt-4 flex flex-wrap items-end gap-2" attr:role="search">
            <label for="user-search" class="sr-only">"Search users"</label>
            <input id="user-search" name="q" type="search" value=q
                placeholder="Username, email or phone"
                class="min-w-64 flex-1 rounded border border-slate-300 px-3 py-2" />
            <button type="submit" class=crate::components::QUIET_BUTTON>"Search"</button>
        </Form>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <UserTable users /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserTable(users: Vec<UserSummary>) -> impl IntoView {
    let count = users.len();
    view! {
        <section class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white p-4">
            <h2 class="mb-3 text-lg font-semibold">{format!("Users ({count})")}</h2>
            <table class="w-full text-left text-sm" data-testid="user-table">
                <thead>
                    <tr class="border-b border-slate-200">
                        <th scope="col" class="py-2 pr-4">"Username"</th>
                        <th scope="col" class="py-2 pr-4">"Name"</th>
                        <th scope="col" class="py-2 pr-4">"Role"</th>
                        <th scope="col" class="py-2 pr-4">"2FA"</th>
                        <th scope="col" class="py-2 pr-4">"Last sign-in"</th>
                    </tr>
                </thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let href = format!("/admin/users/{}", u.username);
                        view! {
                            <tr class="border-b border-slate-100">
                                <td class="py-2 pr-4 font-mono"><a class="text-indigo-700 underline" href=href>{u.username}</a></td>
                                <td class="py-2 pr-4">{u.display_name}</td>
                                <td class="py-2 pr-4">
                                    {if u.is_admin { "Administrator" } else { "User" }}
                                    {u.locked.then_some(" · locked")}
                                    {u.flagged.then(|| view! { <span class="ml-1 rounded bg-red-100 px-1.5 text-xs text-red-800" data-testid="user-flagged">"flagged"</span> })}
                                </td>
                                <td class="py-2 pr-4">{if u.two_factor_enabled { "On" } else { "Off" }}</td>
                                <td class="py-2 pr-4">{u.last_sign_in_at.unwrap_or_else(|| "Never".into())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
