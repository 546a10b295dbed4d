//! The audit log: every security event, newest first, with filters by event,
//! user and dates, fifty to a page. The filters are a GET form, so a filtered
//! page has its own address.

use super::AdminNav;
use crate::api::get_audit;
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use tessera::views::{AuditEntry, AuditFilter, AuditPage};

#[component]
pub fn AuditPageView() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditFilter {
            event: get("event"),
            user: get("user"),
            from: get("from"),
            to: get("to"),
            page: get("page").parse().unwrap_or(0),
        }
    };
    let data = Resource::new(filter, |f| get_audit(f.event, f.user, f.from, f.to, f.page));
    view! {
        <Title text="Audit log" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"Audit log"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let f = filter();
                Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <Log page filter=f /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn Log(page: AuditPage, filter: AuditFilter) -> impl IntoView {
    let input = "rounded border border-slate-300 px-2 py-1.5";
    let pairs = form_urlencoded_pairs(&filter);
    let link = move |p: u32| {
        let mut q = pairs.clone();
        q.push(("page", p.to_string()));
        format!(
            "/admin/audit?{}",
            q.iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        )
    };
    let (prev, next) = (
        page.page.checked_sub(1).map(&link),
        page.has_next.then(|| link(page.page + 1)),
    );
    let selected = filter.event.clone();
    let (user, from, to) = (filter.user.clone(), filter.from.clone(), filter.to.clone());
    view! {
        <Form method="GET" action="" attr:class="mt-4 flex flex-wrap items-end gap-3 text-sm">
            <label class="flex flex-col gap-1">"Event"
                <select name="event" class=input>
                    <option value="">"Any event"</option>
                    {page.kinds.iter().map(|(k, l)| {
                        let sel = *k == selected;
                        view! { <option value=k.clone() selected=sel>{l.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1">"User"
                <input name="user" value=user class=input placeholder="username" />
            </label>
            <label class="flex flex-col gap-1">"From"
                <input name="from" type="date" value=from class=input />
            </label>
            <label class="flex flex-col gap-1">"To"
                <input name="to" type="date" value=to class=input />
            </label>
            <button type="submit" class=crate::components::QUIET_BUTTON>"Filter"</button>
        </Form>
        <section class="mt-4 overflow-x-auto rounded-lg border border-slate-200 bg-white p-4">
            <AuditTable entries=page.entries />
            <div class="mt-3 flex gap-4 text-sm">
                {prev.map(|href| view! { <a class="text-indigo-700 underline" href=href rel="prev">"Newer"</a> })}
                <span>{format!("Page {}", page.page + 1)}</span>
                {next.map(|href| view! { <a class="text-indigo-700 underline" href=href rel="next">"Older"</a> })}
            </div>
        </section>
    }
}

fn form_urlencoded_pairs(f: &AuditFilter) -> Vec<(&'static str, String)> {
    vec![
        ("event", f.event.clone()),
        ("user", f.user.clone()),
        ("from", f.from.clone()),
        ("to", f.to.clone()),
    ]
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Audit entries as a table (the console's log, an account's activity).
#[component]
pub fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="mt-2 text-sm">"No events."</p> }.into_any();
    }
    view! {
        <table class="mt-2 w-full text-left text-sm" data-testid="audit-table">
            <thead>
                <tr class="border-b border-slate-200">
                    <th scope="col" class="py-2 pr-3">"When"</th>
                    <th scope="col" class="py-2 pr-3">"Event"</th>
                    <th scope="col" class="py-2 pr-3">"By"</th>
                    <th scope="col" class="py-2 pr-3">"Account"</th>
                    <th scope="col" class="py-2 pr-3">"From"</th>
                    <th scope="col" class="py-2 pr-3">"Details"</th>
                </tr>
            </thead>
            <tbody>
                {entries.into_iter().map(|e| view! {
                    <tr class="border-b border-slate-100 align-top" data-testid="audit-entry" data-event=e.event.clone()>
                        <td class="py-2 pr-3 whitespace-nowrap">{e.at}</td>
                        <td class="py-2 pr-3">{e.label}</td>
                        <td class="py-2 pr-3 font-mono">{e.actor.unwrap_or_default()}</td>
                        <td class="py-2 pr-3 font-mono">{e.subject.unwrap_or_default()}</td>
                        <td class="py-2 pr-3" title=e.user_agent.unwrap_or_default()>{e.ip.unwrap_or_default()}</td>
                        <td class="py-2 pr-3 break-all font-mono text-xs" data-testid="audit-details">{e.details}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
