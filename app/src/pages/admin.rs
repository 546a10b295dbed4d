use super::PageError;
use crate::api::list_users;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::UserSummary;

/// The administrator's overview of accounts; a refusal carries its 403 status.
#[component]
pub fn AdminPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    view! {
        <Title text="Administration" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <UserTable users /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserTable(users: Vec<UserSummary>) -> impl IntoView {
    let count = users.len();
    view! {
        <h1 class="text-2xl font-semibold">"Administration"</h1>
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
                    {users.into_iter().map(|u| view! {
                        <tr class="border-b border-slate-100">
                            <td class="py-2 pr-4 font-mono">{u.username}</td>
                            <td class="py-2 pr-4">{u.display_name}</td>
                            <td class="py-2 pr-4">{if u.is_admin { "Administrator" } else { "User" }}</td>
                            <td class="py-2 pr-4">{if u.two_factor_enabled { "On" } else { "Off" }}</td>
                            <td class="py-2 pr-4">{u.last_sign_in_at.unwrap_or_else(|| "Never".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
