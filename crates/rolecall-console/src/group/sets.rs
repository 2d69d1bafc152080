//! Permission sets (seed 002): Owners, Members, Everyone and custom sets, with assignees.

use super::*;

// ------------------------------------------------------------------- Permission sets

fn permissions_text(p: GroupPermissions) -> String {
    let mut out: Vec<&str> = Vec::new();
    if p.view {
        out.push("View");
    }
    if p.edit {
        out.push("Edit");
    }
    if p.delete {
        out.push("Delete");
    }
    if out.is_empty() { "No access".to_string() } else { out.join(", ") }
}

fn permission_boxes(prefix: &str, p: GroupPermissions, fixed: bool) -> Markup {
    html! {
        @for (name, on) in [("view", p.view), ("edit", p.edit), ("delete", p.delete)] {
            label class="check inline-check" for={ (prefix) "-" (name) } {
                input type="checkbox" id={ (prefix) "-" (name) } name="permissions" value=(name) checked[on] disabled[fixed];
                " " (capital(name))
            }
        }
    }
}

fn capital(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

pub(super) async fn permission_sets<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    struct Set {
        id: String,
        builtin: Option<rolecall_engine::BuiltinSet>,
        permissions: GroupPermissions,
        users: Vec<String>,
        groups: Vec<String>,
    }
    let (sets, owners): (Vec<Set>, Vec<String>) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        // A group has at most a handful of owners (the limit is 10): all of them are shown.
        let owners = index.members_page(&group.id, Some(MemberRole::Owner), 0, 100).ok_or(())?;
        let owners: Vec<String> = owners.users.iter().map(|(u, _)| u.to_string()).collect();
        let sets = index
            .permission_sets(&group.id)
            .ok_or(())?
            .into_iter()
            .map(|s| Set {
                id: s.id.to_string(),
                builtin: s.builtin,
                permissions: s.permissions,
                users: s.users.iter().map(|u| u.to_string()).collect(),
                groups: s.groups.iter().map(|g| g.to_string()).collect(),
            })
            .collect();
        (sets, owners)
    };
    let labels: BTreeMap<String, String> = state
        .service
        .store()
        .labels(ws, label::PERMISSION_SET, Some(&group.id))
        .await
        .map_err(|_| ())?
        .into_iter()
        .collect();
    let user_ids: Vec<&str> =
        sets.iter().flat_map(|s| s.users.iter().map(String::as_str)).chain(owners.iter().map(String::as_str)).collect();
    let group_ids: Vec<&str> = sets.iter().flat_map(|s| s.groups.iter().map(String::as_str)).collect();
    let (users, groups) = (people(state, ws, &user_ids).await?, group_names(state, ws, &group_ids).await?);
    // What opening a group assignee shows: its description and how many members it has.
    let mut about: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for g in &group_ids {
        let description = state.service.store().group(ws, g).await.map_err(|_| ())?.map(|x| x.description);
        let count = state.service.snapshot().workspace(ws).ok().and_then(|i| i.member_count(g)).unwrap_or(0);
        about.insert(g.to_string(), (description.unwrap_or_default(), count));
    }
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" {
            "Owners view, edit and delete the group, and that cannot be changed. Members are everyone in the group but its owners; "
            "Everyone is every regular user of the workspace. Custom sets give their assignees what they say."
        }
        @for set in &sets {
            @let name = match set.builtin {
                Some(rolecall_engine::BuiltinSet::Owners) => "Owners".to_string(),
                Some(rolecall_engine::BuiltinSet::Members) => "Members".to_string(),
                Some(rolecall_engine::BuiltinSet::Everyone) => "Everyone".to_string(),
                None => labels.get(&format!("{}/{}", group.id, set.id)).cloned().unwrap_or_else(|| set.id.clone()),
            };
            @let fixed = set.builtin == Some(rolecall_engine::BuiltinSet::Owners) || !edit;
            article class="set" aria-label={ "Permission set " (name) } {
                h2 { (name) }
                @if fixed {
                    p { (permissions_text(set.permissions)) }
                } @else {
                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) } class="inline" {
                        (csrf(signed))
                        fieldset {
                            legend { "Permissions of " (name) }
                            (permission_boxes(&format!("set-{}", set.id), set.permissions, false))
                        }
                        button type="submit" { "Save " (name) }
                    }
                }
                // Avatars are shown for the Owners and the custom sets (seed 002).
                @if set.builtin == Some(rolecall_engine::BuiltinSet::Owners) {
                    ul class="assignees plain" aria-label={ "Owners of " (group.name) } {
                        @for u in &owners {
                            @let (uname, email) = users.get(u).cloned().unwrap_or_else(|| (u.clone(), String::new()));
                            li { (avatar(&uname, false)) " " (uname) " " span class="muted" { (email) } }
                        }
                    }
                }
                @if set.builtin.is_none() {
                    h3 { "Assignees" }
                    @if set.users.is_empty() && set.groups.is_empty() { p class="empty" { "No assignees yet." } }
                    ul class="assignees plain" {
                        @for g in &set.groups {
                            @let gname = groups.get(g).cloned().unwrap_or_else(|| g.clone());
                            @let (description, count) = about.get(g).cloned().unwrap_or_default();
                            li {
                                // Seed 002: a group's avatar comes first and opens its description and size.
                                details class="assignee-group" {
                                    summary { (avatar(&gname, true)) " " (gname) " " span class="muted" { "(group)" } }
                                    p class="muted" {
                                        @if !description.is_empty() { (description) " · " }
                                        (count) @if count == 1 { " member" } @else { " members" }
                                    }
                                }
                                @if edit {
                                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="group" value=(g);
                                        " " button type="submit" class="remove" aria-label={ "Remove group " (gname) " from " (name) } { "×" }
                                    }
                                }
                            }
                        }
                        @for u in &set.users {
                            @let (uname, email) = users.get(u).cloned().unwrap_or_else(|| (u.clone(), String::new()));
                            li {
                                (avatar(&uname, false)) " " (uname) " " span class="muted" { (email) }
                                @if edit {
                                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="user" value=(u);
                                        " " button type="submit" class="remove" aria-label={ "Remove " (uname) " from " (name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                    @if edit {
                        form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees" } class="inline" {
                            (csrf(signed))
                            label for={ "assignee-" (set.id) } { "Add assignee to " (name) " (an email or a group name)" }
                            " "
                            input id={ "assignee-" (set.id) } name="who" type="text" required;
                            " " button type="submit" { "Add assignee" }
                        }
                        @let confirm = format!("{base}/permission-sets/{}/delete", urlencode(&set.id));
                        p {
                            a class="button quiet danger-text" href=(confirm) hx-get=(confirm) hx-target="#modal" hx-swap="innerHTML" {
                                "Delete " (name) "…"
                            }
                        }
                    }
                }
            }
        }
        @if edit {
            details {
                summary { "+ Add permission set" }
                form method="post" action={ (base) "/permission-sets" } class="card" {
                    (csrf(signed))
                    label for="set-name" { "Name of the set" }
                    input id="set-name" name="name" type="text" required maxlength="200";
                    fieldset {
                        legend { "Permissions" }
                        (permission_boxes("new-set", GroupPermissions::VIEW, false))
                    }
                    button type="submit" { "Create permission set" }
                }
            }
        }
    })
}

fn permissions_from(fields: &Fields) -> GroupPermissions {
    let ticked = fields.all("permissions");
    let has = |p: &str| ticked.iter().any(|t| t == p);
    GroupPermissions { view: has("view"), edit: has("edit"), delete: has("delete") }
}

const SETS_FORBIDDEN: &str = "Only the group's owners (and workspace admins) change its permission sets.";

pub async fn create_set<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let name = fields.get("name").trim().to_string();
    let permissions = permissions_from(fields);
    let Ok(set) = crate::groups::id_for(&name) else { return unavailable(signed, "Permission sets") };
    write(&posted, Outcome { tab: Tab::Permissions, done: "set-saved", forbidden: SETS_FORBIDDEN }, async |g| {
        state.service.put_permission_set(&signed.actor(), ws, &g.id, &set, Some(&name), permissions).await.map(|_| ())
    })
    .await
}

pub async fn save_set<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: set, fields, .. } = &posted;
    let permissions = permissions_from(fields);
    write(&posted, Outcome { tab: Tab::Permissions, done: "set-saved", forbidden: SETS_FORBIDDEN }, async |g| {
        state.service.put_permission_set(&signed.actor(), ws, &g.id, set, None, permissions).await.map(|_| ())
    })
    .await
}

pub async fn delete_set<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: set, .. } = &posted;
    write(&posted, Outcome { tab: Tab::Permissions, done: "set-deleted", forbidden: SETS_FORBIDDEN }, async |g| {
        state.service.delete_permission_set(&signed.actor(), ws, &g.id, set).await.map(|_| ())
    })
    .await
}

pub async fn add_assignee<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: set, fields, .. } = &posted;
    let who = fields.get("who").to_string();
    write(&posted, Outcome { tab: Tab::Permissions, done: "assignee-added", forbidden: SETS_FORBIDDEN }, async |g| {
        let subject = subject_named(state, ws, &who).await?;
        state.service.assign_permission_set(&signed.actor(), ws, &g.id, set, &subject, true).await.map(|_| ())
    })
    .await
}

pub async fn remove_assignee<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: set, fields, .. } = &posted;
    let subject = match (fields.get("user"), fields.get("group")) {
        (u, "") => Subject::User(u.to_string()),
        (_, g) => Subject::Group(g.to_string()),
    };
    write(&posted, Outcome { tab: Tab::Permissions, done: "assignee-removed", forbidden: SETS_FORBIDDEN }, async |g| {
        state.service.assign_permission_set(&signed.actor(), ws, &g.id, set, &subject, false).await.map(|_| ())
    })
    .await
}

/// Before a custom permission set is deleted: who loses what it gives (a dialog for htmx,
/// a page otherwise).
pub async fn confirm_delete_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, set)): Path<(String, String, String)>,
    signed: Signed,
    headers: axum::http::HeaderMap,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let found = {
        let engine = state.service.snapshot();
        engine.workspace(&ws).ok().and_then(|index| {
            let sets = index.permission_sets(&id)?;
            let s = sets.into_iter().find(|s| s.id == set && s.builtin.is_none())?;
            Some((s.permissions, s.users.len(), s.groups.len()))
        })
    };
    let Some((permissions, users, groups)) = found else {
        return not_found(&signed, "There is no such permission set.");
    };
    if !opened.rights.edit {
        let refused = (StatusCode::FORBIDDEN, SETS_FORBIDDEN.to_string());
        return render(&state, &signed, &opened, Tab::Permissions, &View::default(), Some(refused)).await;
    }
    let labels = state.service.store().labels(&ws, label::PERMISSION_SET, Some(&id)).await.unwrap_or_default();
    let key = format!("{id}/{set}");
    let name = labels.into_iter().find(|(k, _)| *k == key).map_or_else(|| set.clone(), |(_, v)| v);
    let base = format!("/console/{ws}/groups/{}", urlencode(&id));
    let content = html! {
        h2 id="delete-set-title" { "Delete the permission set " (name) "?" }
        p {
            (users) @if users == 1 { " user" } @else { " users" } " and "
            (groups) @if groups == 1 { " group" } @else { " groups" }
            " assigned to it lose what it gives on " (opened.group.name) ": " (permissions_text(permissions)) ". "
            "What their membership or another set gives them stays."
        }
        form method="post" action={ (base) "/permission-sets/" (urlencode(&set)) "/delete" } class="inline" {
            (csrf(&signed))
            button type="submit" class="danger" { "Delete " (name) }
            " "
            a class="button quiet" href=(group_url(&ws, &id, Tab::Permissions)) data-close { "Cancel" }
        }
    };
    if headers.contains_key("hx-request") {
        return html! { dialog aria-labelledby="delete-set-title" class="modal" { (content) } }.into_response();
    }
    page("Delete permission set", Some(&signed), content).into_response()
}
