//! Data scopes, policies, notifications and details: the group's settings tabs.

use super::*;

// ----------------------------------------------------------------------- Data scopes

pub(super) fn data_scopes<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    let engine = state.service.snapshot();
    let index = engine.workspace(ws).map_err(|_| ())?;
    let scopes = index.data_scopes(&group.id).ok_or(())?;
    let datasets = &index.schema().datasets;
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let admin = rights.admin && !rights.builtin;
    Ok(html! {
        p class="muted" { "What members see of each dataset: for example, users of group France only see France's data. "
            "Someone in several groups sees what any of them allows; admins see everything." }
        @if datasets.is_empty() {
            p class="empty" { "The workspace's schema declares no datasets." }
        }
        @for dataset in datasets {
            article class="set" aria-label={ "Dataset " (dataset.name) } {
                h2 { (dataset.name) }
                @match scopes.get(dataset.name.as_str()) {
                    None => p class="empty" { "No scope: members see what the dataset gives users without one." },
                    Some(scope) => {
                        dl {
                            @for (attribute, values) in scope.iter() {
                                dt { (attribute) }
                                dd { @for (i, v) in values.iter().enumerate() { @if i > 0 { ", " } (v) } }
                            }
                        }
                        @if admin {
                            form method="post" action={ (base) "/data-scopes/remove" } class="inline" {
                                (csrf(signed))
                                input type="hidden" name="dataset" value=(dataset.name);
                                button type="submit" class="danger quiet" { "Remove the scope on " (dataset.name) }
                            }
                        }
                    }
                }
                @if admin {
                    form method="post" action={ (base) "/data-scopes" } class="inline scope" {
                        (csrf(signed))
                        input type="hidden" name="dataset" value=(dataset.name);
                        label for={ "attr-" (dataset.name) } { "Attribute" }
                        " "
                        select id={ "attr-" (dataset.name) } name="attribute" {
                            @for a in &dataset.attributes { option value=(a) { (a) } }
                        }
                        " "
                        label for={ "values-" (dataset.name) } { "Allowed values (separated by commas)" }
                        " "
                        input id={ "values-" (dataset.name) } name="values" type="text" required;
                        " " button type="submit" { "Save scope on " (dataset.name) }
                    }
                }
            }
        }
        @if !rights.admin { p class="muted" { "Workspace admins set data scopes." } }
    })
}

const ADMINS_ONLY: &str = "Only workspace admins set data scopes and policies.";

pub async fn put_scope<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let (dataset, attribute) = (fields.get("dataset").to_string(), fields.get("attribute").to_string());
    let values: Vec<String> =
        fields.get("values").split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
    write(&posted, Outcome { tab: Tab::DataScopes, done: "scope-saved", forbidden: ADMINS_ONLY }, async |g| {
        if values.is_empty() {
            return Err(rolecall_service::ServiceError::Invalid("give at least one allowed value".into()));
        }
        // The other attributes of the dataset's scope stay as they are.
        let mut scope: BTreeMap<String, Vec<String>> = {
            let engine = state.service.snapshot();
            let index = engine.workspace(ws)?;
            let scopes = index.data_scopes(&g.id).unwrap_or_default();
            scopes
                .get(dataset.as_str())
                .map(|s| s.iter().map(|(a, v)| (a.clone(), v.iter().cloned().collect())).collect())
                .unwrap_or_default()
        };
        scope.insert(attribute.clone(), values.clone());
        state.service.put_data_scope(&signed.actor(), ws, &g.id, &dataset, Some(scope)).await.map(|_| ())
    })
    .await
}

pub async fn remove_scope<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let dataset = fields.get("dataset").to_string();
    write(&posted, Outcome { tab: Tab::DataScopes, done: "scope-removed", forbidden: ADMINS_ONLY }, async |g| {
        state.service.put_data_scope(&signed.actor(), ws, &g.id, &dataset, None).await.map(|_| ())
    })
    .await
}

// -------------------------------------------------------------------------- Policies

pub(super) async fn policies<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    type Rules = BTreeMap<String, Effect>;
    let (attached, all): (Vec<String>, Vec<(String, Rules)>) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        (
            index.group_policies(&group.id).ok_or(())?.into_iter().map(String::from).collect(),
            index.policies().into_iter().map(|p| (p.id.to_string(), p.rules)).collect(),
        )
    };
    let names: BTreeMap<String, String> =
        state.service.store().labels(ws, label::POLICY, None).await.map_err(|_| ())?.into_iter().collect();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let admin = rights.admin && !rights.builtin;
    let others: Vec<&(String, Rules)> = all.iter().filter(|(id, _)| !attached.contains(id)).collect();
    Ok(html! {
        p class="muted" { "Permission policies allow or deny workspace actions (create an app, create a group, …) to members. "
            "A deny wins over an allow, except for admins and owners." }
        @if attached.is_empty() {
            p class="empty" { "No policy is attached to this group." }
        } @else {
            table id="policies" {
                caption class="visually-hidden" { "Policies of " (group.name) }
                thead { tr { th scope="col" { "Policy" } th scope="col" { "Rules" } @if admin { th scope="col" { span class="visually-hidden" { "Detach" } } } } }
                tbody {
                    @for id in &attached {
                        @let rules = all.iter().find(|(p, _)| p == id).map(|(_, r)| r.clone()).unwrap_or_default();
                        tr {
                            td { (name_of(id)) }
                            td { @for (i, (capability, effect)) in rules.iter().enumerate() {
                                @if i > 0 { ", " }
                                (capability) ": " (match effect { Effect::Allow => "allow", Effect::Deny => "deny" })
                            } }
                            @if admin {
                                td {
                                    form method="post" action={ (base) "/policies/detach" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="policy" value=(id);
                                        button type="submit" class="remove" aria-label={ "Detach " (name_of(id)) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if admin {
            @if others.is_empty() {
                p class="muted" { "Every policy of the workspace is attached." }
            } @else {
                form method="post" action={ (base) "/policies" } class="inline" {
                    (csrf(signed))
                    label for="policy" { "+ Add permission policy" }
                    " "
                    select id="policy" name="policy" { @for (id, _) in &others { option value=(id) { (name_of(id)) } } }
                    " " button type="submit" { "Attach" }
                }
            }
        } @else {
            p class="muted" { "Workspace admins attach policies." }
        }
    })
}

pub async fn attach_policy<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let policy = fields.get("policy").to_string();
    write(&posted, Outcome { tab: Tab::Policies, done: "policy-attached", forbidden: ADMINS_ONLY }, async |g| {
        state.service.attach_policy(&signed.actor(), ws, &g.id, &policy, true).await.map(|_| ())
    })
    .await
}

pub async fn detach_policy<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let policy = fields.get("policy").to_string();
    write(&posted, Outcome { tab: Tab::Policies, done: "policy-detached", forbidden: ADMINS_ONLY }, async |g| {
        state.service.attach_policy(&signed.actor(), ws, &g.id, &policy, false).await.map(|_| ())
    })
    .await
}

// --------------------------------------------------------------------- Notifications

pub(super) fn notifications(
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" { "How members are told of their access: each change through this group, or a summary when you ask for one. "
            "Messages go to the workspace's webhooks." }
        @if edit {
            form method="post" action={ (base) "/notifications" } class="card" {
                (csrf(signed))
                fieldset {
                    legend { "Tell members when their access changes through this group" }
                    label class="check" { input type="radio" name="notify" value="on_change" checked[group.notify == Notify::OnChange]; " On every change" }
                    label class="check" { input type="radio" name="notify" value="none" checked[group.notify == Notify::None]; " Never" }
                }
                button type="submit" { "Save notification setting" }
            }
            form method="post" action={ (base) "/notify" } class="inline" {
                (csrf(signed))
                button type="submit" { "Notify users of their access" }
            }
        } @else {
            p { "Members are told of changes: " strong { @if group.notify == Notify::OnChange { "on every change" } @else { "never" } } }
        }
    })
}

const EDIT_FORBIDDEN: &str = "Only the group's owners (and workspace admins) change its settings.";

pub async fn set_notify<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let notify = if fields.get("notify") == "on_change" { Notify::OnChange } else { Notify::None };
    write(&posted, Outcome { tab: Tab::Notifications, done: "notify-saved", forbidden: EDIT_FORBIDDEN }, async |g| {
        let mut group = g.clone();
        group.notify = notify;
        state.service.update_group(&signed.actor(), ws, group).await.map(|_| ())
    })
    .await
}

pub async fn notify_now<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, .. } = &posted;
    write(&posted, Outcome { tab: Tab::Notifications, done: "notified", forbidden: EDIT_FORBIDDEN }, async |g| {
        state.service.notify_members(&signed.actor(), ws, std::slice::from_ref(&g.id)).await.map(|_| ())
    })
    .await
}

// --------------------------------------------------------------------------- Details

pub(super) fn details(signed: &Signed, ws: &str, group: &rolecall_model::Group, rights: Rights) -> Result<Markup, ()> {
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    if !rights.edit || rights.builtin {
        return Ok(html! {
            dl {
                dt { "Name" } dd { (group.name) }
                dt { "Description" } dd { (group.description) }
                dt { "Visibility" } dd { (visibility(group.visibility)) }
            }
            p class="muted" { @if rights.builtin { "A built-in group's settings are fixed." } @else { "Only the group's owners change its details." } }
        });
    }
    Ok(html! {
        form method="post" action={ (base) "/details" } class="card" {
            (csrf(signed))
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="200" value=(group.name);
            label for="description" { "Description" }
            textarea id="description" name="description" maxlength="2000" { (group.description) }
            label for="tags" { "Tags (separated by commas)" }
            input id="tags" name="tags" type="text" value=(group.tags.join(", "));
            label for="icon" { "Icon (an emoji or an image URL)" }
            input id="icon" name="icon" type="text" value=(group.icon.clone().unwrap_or_default());
            fieldset {
                legend { "Visibility" }
                label class="check" { input type="radio" name="visibility" value="public" checked[group.visibility == Visibility::Public]; " Public: everyone in the workspace sees it" }
                label class="check" { input type="radio" name="visibility" value="private" checked[group.visibility == Visibility::Private]; " Private: only its members and those given access see it" }
            }
            button type="submit" { "Save details" }
        }
    })
}

pub async fn save_details<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    write(&posted, Outcome { tab: Tab::Details, done: "details-saved", forbidden: EDIT_FORBIDDEN }, async |g| {
        let mut group = g.clone();
        group.name = fields.get("name").trim().to_string();
        group.description = fields.get("description").trim().to_string();
        group.tags = crate::groups::tags(fields.get("tags"));
        group.icon = Some(fields.get("icon").trim().to_string()).filter(|i| !i.is_empty());
        group.visibility = if fields.get("visibility") == "private" { Visibility::Private } else { Visibility::Public };
        state.service.update_group(&signed.actor(), ws, group).await.map(|_| ())
    })
    .await
}
