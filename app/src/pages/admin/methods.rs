//! Authentication methods: enable or disable each, and choose the plugin
//! that handles it. Applies to the next request.

use super::AdminNav;
use crate::api::{SaveMethod, get_methods};
use crate::components::{BUTTON, CsrfField, FormAlert, FormErrors, Saved};
use crate::pages::PageError;
use leptos::prelude::*;
use leptos_meta::Title;
use tessera::views::MethodView;

#[component]
pub fn MethodsPage() -> impl IntoView {
    let save = ServerAction::<SaveMethod>::new();
    let data = Resource::new(move || save.version().get(), |_| get_methods());
    view! {
        <Title text="Methods" />
        <AdminNav />
        <h1 class="text-2xl font-semibold">"Authentication methods"</h1>
        <p class="mt-1 text-sm text-slate-600">"Which second factors people can use, and which plugin handles each."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(methods) => methods
                        .into_iter()
                        .map(|method| view! { <Method method save /> })
                        .collect_view()
                        .into_any(),
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Method(method: MethodView, save: ServerAction<SaveMethod>) -> impl IntoView {
    let errors = FormErrors::new(move || save.value().get().and_then(Result::err));
    let done = Signal::derive(move || matches!(save.value().get(), Some(Ok(()))));
    let (enabled_id, plugin_id, confirm_id) = (
        format!("enabled-{}", method.id),
        format!("plugin-{}", method.id),
        format!("confirm-{}", method.id),
    );
    let current = method.plugin.clone();
    let (method_id, testid) = (method.id.clone(), method.id.clone());
    let (enabled_for, plugin_for) = (enabled_id.clone(), plugin_id.clone());
    let plugins = method.plugins.clone();
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6" data-testid="method" data-method=testid>
            <h2 class="text-lg font-semibold">{method.label.clone()}</h2>
            <p class="mt-1 text-sm text-slate-600">{method.description.clone()}</p>
            <ActionForm action=save attr:class="mt-4 flex flex-col gap-3">
                <CsrfField />
                <input type="hidden" name="method" value=method_id />
                <input type="hidden" name="version" value=method.version.to_string() />
                <label for=enabled_for class="flex items-center gap-2">
                    <input id=enabled_id type="checkbox" name="enabled" value="true" checked=method.enabled />
                    "Enabled"
                </label>
                {if plugins.is_empty() {
                    // Nothing to choose: the method needs no provider.
                    view! { <input type="hidden" name="plugin" value="" /> }.into_any()
                } else {
                    view! {
                        <label for=plugin_for class="flex flex-col gap-1 text-sm font-medium">
                            "Plugin"
                            <select id=plugin_id name="plugin" class="rounded border border-slate-300 px-3 py-2 font-normal"
                                aria-invalid=move || if errors.field("plugin").get().is_some() { "true" } else { "false" }>
                                {plugins.into_iter().map(|p| {
                                    let label = if p.ready { p.label.clone() } else { format!("{} (settings incomplete)", p.label) };
                                    let selected = p.id == current;
                                    view! { <option value=p.id selected=selected>{label}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    }
                    .into_any()
                }}
                <FormAlert message=errors.field("plugin") />
                {(method.enabled && method.stranded_if_disabled > 0).then(|| view! {
                    <label for=confirm_id.clone() class="flex items-center gap-2 text-sm text-amber-900">
                        <input id=confirm_id.clone() type="checkbox" name="confirm" value="true" />
                        {format!(
                            "If I disable it, {} user(s) with 2FA on and no other credential sign in with a password only",
                            method.stranded_if_disabled
                        )}
                    </label>
                })}
                <FormAlert message=errors.alert() />
                <Saved show=done text="Saved. It applies from the next request." />
                <div><button type="submit" class=BUTTON>"Save"</button></div>
            </ActionForm>
        </section>
    }
}
