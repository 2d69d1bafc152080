//! Members: Select users, membership roles, remove with ×, nested groups.

use super::*;

// ------------------------------------------------------------------------- Members

pub(super) async fn members<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
    view: &View,
) -> Result<Markup, ()> {
    let (page, children, direct) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        let page = index.members_page(&group.id, None, view.from(), PAGE).ok_or(())?;
        let users: Vec<(String, MemberRole)> = page.users.iter().map(|(u, r)| (u.to_string(), *r)).collect();
        let children: Vec<String> =
            index.child_groups(&group.id).unwrap_or_default().into_iter().map(String::from).collect();
        ((users, page.more), children, index.direct_member_count(&group.id).unwrap_or(0))
    };
    let ((users, more), base) = (page, format!("/console/{ws}/groups/{}", urlencode(&group.id)));
    let ids: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    let names = people(state, ws, &ids).await?;
    let child_ids: Vec<&str> = children.iter().map(String::as_str).collect();
    let child_names = group_names(state, ws, &child_ids).await?;
    let manage = rights.manage_members && !rights.builtin;
    let candidates = if manage && !view.q.trim().is_empty() {
        Some(candidates(state, ws, &group.id, view.q.trim()).await?)
    } else {
        None
    };
    Ok(html! {
        @if rights.builtin {
            p class="muted" { "This group's members follow the workspace: they are not edited by hand." }
        }
        @if manage {
            details open[candidates.is_some()] class="select-users" {
                summary { "Select users" }
                form method="get" action=(base) role="search" {
                    input type="hidden" name="tab" value="members";
                    label for="candidate-q" { "Find users by name or email" }
                    input id="candidate-q" name="q" type="search" value=(view.q) autocomplete="off"
                        hx-get={ (base) "/candidates" } hx-trigger="input changed delay:250ms, search"
                        hx-target="#candidates" hx-swap="outerHTML";
                    button type="submit" { "Find" }
                }
                form method="post" action={ (base) "/members" } {
                    (csrf(signed))
                    (candidates.unwrap_or_else(|| html! { div id="candidates" aria-live="polite" {} }))
                    (role_select("add-role", "Role of the users added", MemberRole::Member))
                    " "
                    button type="submit" { "Add selected users" }
                }
            }
        }
        h2 { (direct) @if direct == 1 { " direct member" } @else { " direct members" } }
        @if users.is_empty() && view.from() == 0 {
            p class="empty" { "No members yet." }
        } @else {
            table id="members" {
                caption class="visually-hidden" { "Members of " (group.name) }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" }
                    @if manage { th scope="col" { span class="visually-hidden" { "Remove" } } }
                } }
                tbody {
                    @for (user, role) in &users {
                        @let (name, email) = names.get(user).cloned().unwrap_or_else(|| (user.clone(), String::new()));
                        tr {
                            td { (avatar(&name, false)) " " (name) }
                            td { (email) }
                            td {
                                @if manage {
                                    form method="post" action={ (base) "/members/" (urlencode(user)) "/role" } class="inline" {
                                        (csrf(signed))
                                        (role_select(&format!("role-{user}"), &format!("Role of {name}"), *role))
                                        " "
                                        button type="submit" class="quiet" { "Save" span class="visually-hidden" { " role of " (name) } }
                                    }
                                } @else { (role.as_str()) }
                            }
                            @if manage {
                                td {
                                    form method="post" action={ (base) "/members/" (urlencode(user)) "/remove" } class="inline" {
                                        (csrf(signed))
                                        button type="submit" class="remove" aria-label={ "Remove " (name) " from " (group.name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p {
                @if view.from() > 0 {
                    a href={ (base) "?tab=members&from=" (view.from().saturating_sub(PAGE as u64)) } { "Previous page" } " "
                }
                @if more { a href={ (base) "?tab=members&from=" (view.from() + PAGE as u64) } { "Next page" } }
            }
        }
        @if !children.is_empty() {
            h2 { "Groups nested in this group" }
            ul class="plain" {
                @for child in &children {
                    @let name = child_names.get(child).cloned().unwrap_or_else(|| child.clone());
                    li {
                        (avatar(&name, true)) " "
                        a href=(group_url(ws, child, Tab::Members)) { (name) }
                        @if manage {
                            form method="post" action={ (base) "/children/" (urlencode(child)) "/remove" } class="inline" {
                                (csrf(signed))
                                " " button type="submit" class="remove" aria-label={ "Remove group " (name) " from " (group.name) } { "×" }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Select users: workspace users whose name or email contains `q`, ticked to be added;
/// those already in the group are shown as such and cannot be ticked.
async fn candidates<S: Store>(state: &AppState<S>, ws: &str, group: &str, q: &str) -> Result<Markup, ()> {
    let found = state
        .service
        .store()
        .users(ws, Some(q), PageRequest { after: None, limit: CANDIDATES })
        .await
        .map_err(|_| ())?;
    let already: Vec<bool> = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        found.items.iter().map(|u| index.direct_role(group, &u.id).is_some()).collect()
    };
    Ok(html! {
        div id="candidates" aria-live="polite" {
            @if found.items.is_empty() {
                p class="empty" { "No user's name or email contains “" (q) "”." }
            } @else {
                fieldset {
                    legend { "Users matching “" (q) "”" }
                    @for (user, already) in found.items.iter().zip(already) {
                        label class="check" {
                            input type="checkbox" name="users" value=(user.id) disabled[already];
                            " " (user.name) " " span class="muted" { (user.email) }
                            @if already { " " span class="muted" { "(already a member)" } }
                        }
                    }
                    @if found.next.is_some() { p class="muted" { "More users match: type more of the name or email." } }
                }
            }
        }
    })
}

pub async fn candidates_fragment<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    Query(view): Query<View>,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !opened.rights.manage_members {
        return not_found(&signed, "There is no such page.");
    }
    let q = view.q.trim();
    if q.is_empty() {
        return html! { div id="candidates" aria-live="polite" {} }.into_response();
    }
    match candidates(&state, &ws, &opened.group.id, q).await {
        Ok(markup) => markup.into_response(),
        Err(()) => unavailable(&signed, "Select users"),
    }
}

fn member_role(text: &str) -> MemberRole {
    match text {
        "owner" => MemberRole::Owner,
        "editor" => MemberRole::Editor,
        _ => MemberRole::Member,
    }
}

const MEMBERS_FORBIDDEN: &str =
    "You may not change this group's members: its owners and editors can, and making someone an owner takes an owner.";

pub async fn add_members<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let users = fields.all("users");
    let role = member_role(fields.get("role"));
    write(&posted, Outcome { tab: Tab::Members, done: "members-added", forbidden: MEMBERS_FORBIDDEN }, async |g| {
        if users.is_empty() {
            return Err(rolecall_service::ServiceError::Invalid("tick at least one user to add".into()));
        }
        let action = rolecall_service::BulkAction::AddMembers { users: users.clone(), role };
        state.service.bulk_groups(&signed.actor(), ws, std::slice::from_ref(&g.id), action).await.map(|_| ())
    })
    .await
}

pub async fn remove_member<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: user, .. } = &posted;
    write(&posted, Outcome { tab: Tab::Members, done: "member-removed", forbidden: MEMBERS_FORBIDDEN }, async |g| {
        state.service.remove_member(&signed.actor(), ws, &g.id, user).await.map(|_| ())
    })
    .await
}

pub async fn member_role_change<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: user, fields, .. } = &posted;
    let role = member_role(fields.get("role"));
    write(&posted, Outcome { tab: Tab::Members, done: "role-changed", forbidden: MEMBERS_FORBIDDEN }, async |g| {
        state.service.put_member(&signed.actor(), ws, &g.id, user, role).await.map(|_| ())
    })
    .await
}

pub async fn remove_child<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, item: child, .. } = &posted;
    write(&posted, Outcome { tab: Tab::Members, done: "group-removed", forbidden: MEMBERS_FORBIDDEN }, async |g| {
        state.service.nest_group(&signed.actor(), ws, &g.id, child, false).await.map(|_| ())
    })
    .await
}
