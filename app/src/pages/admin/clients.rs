//! Applications that sign users in through Tessera (OpenID Connect
//! clients): the list with a form to add one, and one application's page
//! (its settings, a new secret shown once, removal).

use super::AdminNav;
use crate::api::{AddClient, DeleteClient, RotateClientSecret, SaveClient, client_path, get_client, get_clients};
use crate::components::{BUTTON, CsrfField, Field, FormAlert, FormErrors, QUIET_BUTTON, Saved};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tessera::views::{ClientDetail, ClientSummary};

const SELECT: &str = "rounded border border-slate-300 px-3 py-2 font-normal";
const TEXTAREA: &str = "rounded border border-slate-300 px-3 py-2 font-mono text-sm font-normal";

#[component]
pub fn ClientsPage() -> impl IntoView {
    let add = ServerAction::<AddClient>::new();
    let data = Resource::new(|| (), |_| get_clients());
    let errors = FormErrors::new(move || add.value().get().and_then(Result::err));
    view! {
        <Title text="Applications" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"Applications"</h1>
        <p class="mt-2 text-sm text-slate-600">
            "Applications that sign users in through Tessera with OpenID Connect. Each is configured with the issuer URL, its client id and (if it runs on a server) its secret."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(clients) => view! { <ClientTable clients /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Add an application"</h2>
            <ActionForm action=add attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <Field name="name" label="Name (shown to users)" error=errors.field("name") />
                <label for="client-redirects" class="flex flex-col gap-1 text-sm font-medium">
                    "Redirect URIs, one per line (exact; https, or http to localhost)"
                    <textarea id="client-redirects" name="redirect_uris" rows="2" class=TEXTAREA></textarea>
                </label>
                <FormAlert message=errors.field("redirect_uris") />
                <fieldset class="flex flex-col gap-1 text-sm">
                    <legend class="font-medium">"Kind"</legend>
                    <label><input type="radio" name="kind" value="confidential" checked=true />" Runs on a server (keeps a secret)"</label>
                    <label><input type="radio" name="kind" value="public" />" Browser or mobile app (no secret; PKCE required)"</label>
                </fieldset>
                <FormAlert message=errors.field("kind") />
                <label class="text-sm">
                    <input type="checkbox" name="first_party" value="true" />
                    " First-party: ours, trusted (users are not asked for consent)"
                </label>
                <FormAlert message=errors.alert() />
                <div><button type="submit" class=BUTTON>"Add application"</button></div>
            </ActionForm>
        </section>
    }
}

#[component]
fn ClientTable(clients: Vec<ClientSummary>) -> impl IntoView {
    if clients.is_empty() {
        return view! { <p class="mt-6" data-testid="no-clients">"No application is registered yet."</p> }.into_any();
    }
    view! {
        <section class="mt-6 overflow-x-auto rounded-lg border border-slate-200 bg-white p-4">
            <table class="w-full text-left text-sm" data-testid="client-table">
                <thead>
                    <tr class="border-b border-slate-200">
                        <th scope="col" class="py-2 pr-4">"Name"</th>
                        <th scope="col" class="py-2 pr-4">"Client id"</th>
                        <th scope="col" class="py-2 pr-4">"Kind"</th>
                        <th scope="col" class="py-2 pr-4">"Grants"</th>
                        <th scope="col" class="py-2 pr-4">"Default acr"</th>
                    </tr>
                </thead>
                <tbody>
                    {clients.into_iter().map(|c| view! {
                        <tr class="border-b border-slate-100">
                            <td class="py-2 pr-4"><a class="text-indigo-700 underline" href=client_path(&c.id)>{c.name}</a></td>
                            <td class="py-2 pr-4 font-mono">{c.id}</td>
                            <td class="py-2 pr-4">
                                {if c.public { "Public" } else { "Confidential" }}
                                {c.first_party.then_some(" · first-party")}
                            </td>
                            <td class="py-2 pr-4">{c.grants.join(", ")}</td>
                            <td class="py-2 pr-4">{if c.default_acr.is_empty() { "Server's".to_owned() } else { c.default_acr }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
pub fn ClientPage() -> impl IntoView {
    let query = use_query_map();
    let id = move || query.read().get("id").unwrap_or_default();
    let save = ServerAction::<SaveClient>::new();
    let rotate = ServerAction::<RotateClientSecret>::new();
    let delete = ServerAction::<DeleteClient>::new();
    let data = Resource::new(
        move || (id(), save.version().get(), rotate.version().get()),
        |(id, _, _)| get_client(id),
    );
    view! {
        <Title text="Application" />
        <AdminNav />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(client) => view! { <ClientView client save rotate delete /> }.into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ClientView(
    client: ClientDetail,
    save: ServerAction<SaveClient>,
    rotate: ServerAction<RotateClientSecret>,
    delete: ServerAction<DeleteClient>,
) -> impl IntoView {
    let errors = FormErrors::new(move || save.value().get().and_then(Result::err));
    let saved = Signal::derive(move || matches!(save.value().get(), Some(Ok(()))));
    let rotate_errors = FormErrors::new(move || rotate.value().get().and_then(Result::err));
    let delete_errors = FormErrors::new(move || delete.value().get().and_then(Result::err));
    let ClientDetail {
        id,
        name,
        public,
        redirect_uris,
        post_logout_redirect_uris,
        grants,
        allowed_acrs,
        default_acr,
        first_party,
        pkce_optional,
        backchannel_logout_uri,
        logout_notices_waiting,
        logout_last_error,
        require_par,
        access_token_minutes,
        refresh_token_hours,
        grant_choices,
        acr_choices,
        new_secret,
        created_at,
        secret_rotated_at,
    } = client;
    let default_choices = acr_choices.clone();
    let rotate_id = id.clone();
    let delete_id = id.clone();
    view! {
        <h1 class="text-2xl font-semibold" data-testid="client-name">{name.clone()}</h1>
        <p class="mt-1 text-sm text-slate-600">
            "Client id " <code class="font-mono" data-testid="client-id">{id.clone()}</code>
            {format!(" · {} · added {created_at}", if public { "public (no secret)" } else { "confidential" })}
        </p>
        {new_secret.map(|secret| view! {
            <div role="status" class="mt-4 rounded border border-amber-300 bg-amber-50 p-4 text-sm">
                <p class="font-medium">"The client secret, shown this once. Copy it into the application's settings now: Tessera keeps only a hash of it."</p>
                <p class="mt-2 break-all font-mono text-base" data-testid="client-secret">{secret}</p>
            </div>
        })}
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Settings"</h2>
            <ActionForm action=save attr:class="mt-4 flex flex-col gap-4" attr:novalidate=true>
                <CsrfField />
                <input type="hidden" name="id" value=id.clone() />
                <Field name="fields[name]" id="client-name-field" label="Name (shown to users)" value=name error=errors.field("name") />
                <label for="client-redirects" class="flex flex-col gap-1 text-sm font-medium">
                    "Redirect URIs, one per line (exact match)"
                    <textarea id="client-redirects" name="fields[redirect_uris]" rows="3" class=TEXTAREA>{redirect_uris}</textarea>
                </label>
                <FormAlert message=errors.field("redirect_uris") />
                <label for="client-logout" class="flex flex-col gap-1 text-sm font-medium">
                    "Post-logout redirect URIs, one per line"
                    <textarea id="client-logout" name="fields[post_logout_redirect_uris]" rows="2" class=TEXTAREA>{post_logout_redirect_uris}</textarea>
                </label>
                <FormAlert message=errors.field("post_logout_redirect_uris") />
                <Field name="fields[backchannel_logout_uri]" id="client-backchannel" label="Back-channel logout URI (told of every sign-out of a session that signed in to it; empty: never)"
                    value=backchannel_logout_uri error=errors.field("backchannel_logout_uri") />
                {(logout_notices_waiting > 0).then(|| view! {
                    <p class="text-sm text-amber-800" data-testid="logout-notices-waiting">
                        {format!("{logout_notices_waiting} sign-out notice(s) not yet accepted by the application; they are retried for about three hours.")}
                        {logout_last_error.map(|e| format!(" The last attempt: {e}."))}
                    </p>
                })}
                <fieldset class="flex flex-col gap-1 text-sm">
                    <legend class="font-medium">"Grants"</legend>
                    {grant_choices.into_iter().map(|(value, words)| {
                        let checked = grants.contains(&value);
                        view! { <label><input type="checkbox" name=format!("grants[{value}]") value="on" checked=checked />" "{words}</label> }
                    }).collect_view()}
                </fieldset>
                <FormAlert message=errors.field("grants") />
                <fieldset class="flex flex-col gap-1 text-sm">
                    <legend class="font-medium">"Allowed acrs (none ticked: any)"</legend>
                    {acr_choices.into_iter().map(|(value, words)| {
                        let checked = allowed_acrs.contains(&value);
                        view! { <label><input type="checkbox" name=format!("acrs[{value}]") value="on" checked=checked />" "{words}</label> }
                    }).collect_view()}
                </fieldset>
                <FormAlert message=errors.field("allowed_acrs") />
                <label for="client-default-acr" class="flex flex-col gap-1 text-sm font-medium">
                    "Default acr (when the application asks for none)"
                    <select id="client-default-acr" name="fields[default_acr]" class=SELECT>
                        <option value="" selected=default_acr.is_empty()>"The server's default (2FA policy)"</option>
                        {default_choices.into_iter().map(|(value, words)| {
                            let selected = value == default_acr;
                            view! { <option value=value selected=selected>{words}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <FormAlert message=errors.field("default_acr") />
                <label class="text-sm">
                    <input type="checkbox" name="fields[first_party]" value="true" checked=first_party />
                    " First-party: ours, trusted (users are not asked for consent)"
                </label>
                <label class="text-sm">
                    <input type="checkbox" name="fields[require_par]" value="true" checked=require_par data-testid="require-par" />
                    " Require pushed authorization requests (PAR, RFC 9126): a sign-in link must carry a request_uri the application pushed first, so no parameter can be read or changed in the browser"
                </label>
                {(!public).then(|| view! {
                    <label class="text-sm">
                        <input type="checkbox" name="fields[pkce_optional]" value="true" checked=pkce_optional data-testid="pkce-optional" />
                        " Let this application sign people in without PKCE (only for an old server-side application that cannot send a code challenge; its secret still binds the code)"
                    </label>
                })}
                <div class="grid grid-cols-1 gap-4 sm:grid-cols-2">
                    <Field name="fields[access_token_minutes]" id="client-access-minutes" label="Access tokens live (minutes, 1-1440)" inputmode="numeric"
                        value=access_token_minutes.to_string() error=errors.field("access_token_minutes") />
                    <Field name="fields[refresh_token_hours]" id="client-refresh-hours" label="Refresh tokens live, counted from the sign-in (hours, 1-8760)" inputmode="numeric"
                        value=refresh_token_hours.to_string() error=errors.field("refresh_token_hours") />
                </div>
                <p class="text-sm text-slate-600">
                    "However often they are refreshed, an application's refresh tokens stop at that age, and sooner when the person's session in the browser ends, unless the application asked for offline_access (and was allowed it). Signing out ends them either way."
                </p>
                <FormAlert message=errors.alert() />
                <Saved show=saved text="Saved. It applies from the next request." />
                <div><button type="submit" class=BUTTON>"Save application"</button></div>
            </ActionForm>
        </section>
        {(!public).then(move || view! {
            <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
                <h2 class="text-lg font-semibold">"Client secret"</h2>
                <p class="mt-2 text-sm text-slate-600">
                    {match secret_rotated_at {
                        Some(at) => format!("Last changed {at}. "),
                        None => String::new(),
                    }}
                    "A new secret replaces the current one at once: the application stops working until it has the new one."
                </p>
                <ActionForm action=rotate attr:class="mt-3">
                    <CsrfField />
                    <input type="hidden" name="id" value=rotate_id />
                    <button type="submit" class=QUIET_BUTTON>"Make a new secret"</button>
                </ActionForm>
                <div class="mt-2"><FormAlert message=rotate_errors.alert() /></div>
            </section>
        })}
        <section class="mt-6 rounded-lg border border-red-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"Remove"</h2>
            <ActionForm action=delete attr:class="mt-3 flex flex-col gap-3">
                <CsrfField />
                <input type="hidden" name="id" value=delete_id />
                <label class="text-sm">
                    <input type="checkbox" name="confirm" value="true" />
                    " Remove this application and sign every user out of it"
                </label>
                <FormAlert message=delete_errors.alert() />
                <div><button type="submit" class=QUIET_BUTTON>"Remove application"</button></div>
            </ActionForm>
        </section>
    }
}
