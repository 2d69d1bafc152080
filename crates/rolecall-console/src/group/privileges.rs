//! Privileges (seed 001): the group's access app by app, and the apply-privileges switch.

use super::*;

// ------------------------------------------------------------------------ Privileges

pub(super) async fn privileges<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    let (grants, kinds) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        let grants = index.group_grants(&group.id).ok_or(())?;
        let kinds: Vec<(String, Vec<String>)> = index
            .schema()
            .types
            .iter()
            .map(|t| (t.name.clone(), t.roles.iter().cloned().chain(t.deny_role.clone()).collect()))
            .collect();
        (grants, kinds)
    };
    let mut names = BTreeMap::new();
    for (resource, _) in &grants {
        if let Ok(Some(r)) = state.service.store().resource(ws, resource).await {
            names.insert(resource.clone(), r.name);
        }
    }
    let (offered, more) = crate::permissions::findable(state, ws, &signed.session.user, "").await?;
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" {
            "What members get, app by app. When someone is in several groups, the most permissive access wins; "
            "workspace admins always keep their admin privilege."
        }
        div class="switch" {
            p {
                strong { "Apply privileges at the group level: " }
                @if group.apply_privileges { "on" } @else { "off" }
            }
            @if edit {
                a href={ (base) "/apply-privileges" } class="button" {
                    @if group.apply_privileges { "Turn privileges off…" } @else { "Turn privileges on…" }
                }
            }
        }
        @if grants.is_empty() {
            p class="empty" { "This group gives no access yet." }
        } @else {
            table id="privileges" {
                caption class="visually-hidden" { "Privileges of " (group.name) }
                thead { tr { th scope="col" { "Resource" } th scope="col" { "Type" } th scope="col" { "Role" }
                    @if edit { th scope="col" { span class="visually-hidden" { "Remove" } } } } }
                tbody {
                    @for (resource, role) in &grants {
                        @let name = names.get(resource).cloned().unwrap_or_else(|| resource.id.clone());
                        tr {
                            td { (name) } td { (resource.kind) } td { (role) }
                            @if edit {
                                td {
                                    form method="post" action={ (base) "/privileges/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="resource" value={ (resource.kind) "/" (resource.id) };
                                        button type="submit" class="remove" aria-label={ "Remove the privilege on " (name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if edit {
            details open[grants.is_empty()] {
                summary { "+ Add privilege" }
                form method="post" action={ (base) "/privileges" } class="card" {
                    (csrf(signed))
                    (crate::permissions::picker(ws, "privilege-resource", "Resource", &offered, more, ""))
                    label for="privilege-role" { "Role" }
                    select id="privilege-role" name="role" required {
                        @for (kind, roles) in &kinds {
                            optgroup label={ (kind) " roles" } {
                                @for role in roles { option value=(role) { (role) } }
                            }
                        }
                    }
                    label class="check" {
                        input type="checkbox" name="replace" value="yes";
                        " If the group already holds another role there, change it"
                    }
                    button type="submit" { "Save privilege" }
                }
            }
        }
    })
}

fn resource_field(text: &str) -> Result<ResourceRef, rolecall_service::ServiceError> {
    text.split_once('/')
        .filter(|(k, i)| !k.is_empty() && !i.is_empty())
        .map(|(k, i)| ResourceRef::new(k, i))
        .ok_or_else(|| rolecall_service::ServiceError::Invalid("pick a resource".into()))
}

const PRIVILEGES_FORBIDDEN: &str =
    "You may not change this group's privileges: it takes an owner of the group who holds that access themself.";

pub async fn add_privilege<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let (resource, role, replace) =
        (fields.get("resource").to_string(), fields.get("role").to_string(), fields.get("replace") == "yes");
    write(
        &posted,
        Outcome { tab: Tab::Privileges, done: "privilege-saved", forbidden: PRIVILEGES_FORBIDDEN },
        async |g| {
            let resource = resource_field(&resource)?;
            require_group_edit(state, signed, ws, &g.id)?;
            let subject = Subject::Group(g.id.clone());
            state.service.put_grant(&signed.actor(), ws, &resource, &subject, &role, replace).await.map(|_| ())
        },
    )
    .await
}

pub async fn remove_privilege<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let resource = fields.get("resource").to_string();
    write(
        &posted,
        Outcome { tab: Tab::Privileges, done: "privilege-removed", forbidden: PRIVILEGES_FORBIDDEN },
        async |g| {
            let resource = resource_field(&resource)?;
            require_group_edit(state, signed, ws, &g.id)?;
            state.service.revoke_grant(&signed.actor(), ws, &resource, &Subject::Group(g.id.clone())).await.map(|_| ())
        },
    )
    .await
}

/// A group's privileges are its settings: changing them from its page takes `edit` on it
/// (the grant itself is then checked as any grant is).
fn require_group_edit<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &str,
) -> Result<(), rolecall_service::ServiceError> {
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    if rights(index, &signed.session.user, group).edit {
        Ok(())
    } else {
        Err(rolecall_service::ServiceError::Forbidden(format!(
            "`{}` may not edit group `{group}`",
            signed.session.user
        )))
    }
}

/// Whose access a change would alter, and how, in people's names (the engine's preview).
pub(crate) async fn preview_list<S: Store>(state: &AppState<S>, ws: &str, classes: &[AccessClass]) -> Markup {
    let shown = &classes[..classes.len().min(CLASSES)];
    let ids: Vec<&str> = shown.iter().flat_map(|c| c.users.iter().take(NAMED).map(String::as_str)).collect();
    let names = people(state, ws, &ids).await.unwrap_or_default();
    let mut resources = BTreeMap::new();
    for class in shown {
        for change in &class.roles {
            if !resources.contains_key(&change.resource)
                && let Ok(Some(r)) = state.service.store().resource(ws, &change.resource).await
            {
                resources.insert(change.resource.clone(), r.name);
            }
        }
    }
    let people_total: usize = classes.iter().map(|c| c.users.len()).sum();
    html! {
        @if classes.is_empty() {
            p class="impact none" { "Nobody's access changes." }
        } @else {
            p class="impact" { (people_total) @if people_total == 1 { " person's access changes:" } @else { " people's access changes:" } }
            ul class="changes" {
                @for class in shown {
                    li {
                        @for (i, user) in class.users.iter().take(NAMED).enumerate() {
                            @if i > 0 { ", " }
                            strong { (names.get(user).map_or(user.as_str(), |(n, _)| n.as_str())) }
                        }
                        @if class.users.len() > NAMED { " and " (class.users.len() - NAMED) " others" }
                        ": "
                        @for (i, change) in class.roles.iter().enumerate() {
                            @if i > 0 { "; " }
                            (resources.get(&change.resource).map_or(change.resource.id.as_str(), String::as_str))
                            " (" (change.resource.kind) ") "
                            (change.before.as_deref().unwrap_or("no access")) " → " (change.after.as_deref().unwrap_or("no access"))
                        }
                    }
                }
            }
            @if classes.len() > CLASSES { p class="muted" { "And " (classes.len() - CLASSES) " more kinds of change." } }
        }
    }
}

/// The confirmation before the apply-privileges switch is turned: what members will have.
pub async fn confirm_apply<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !opened.rights.edit || opened.rights.builtin {
        let refused = (StatusCode::FORBIDDEN, PRIVILEGES_FORBIDDEN.to_string());
        return render(&state, &signed, &opened, Tab::Privileges, &View::default(), Some(refused)).await;
    }
    let group = &opened.group;
    let turn_on = !group.apply_privileges;
    let op = Op::PutGroup {
        group: group.id.clone(),
        visibility: group.visibility,
        apply_privileges: turn_on,
        notify: group.notify,
    };
    let Ok(classes) = state.service.preview(&signed.actor(), &ws, vec![op]).await else {
        return unavailable(&signed, &group.name);
    };
    let list = preview_list(&state, &ws, &classes).await;
    let title = if turn_on { "Turn privileges on" } else { "Turn privileges off" };
    page(
        title,
        Some(&signed),
        html! {
            h1 { (title) " for " (group.name) "?" }
            @if turn_on {
                p { "Members get the group's access again, app by app; where they hold more on their own, they keep it." }
            } @else {
                p { "Members who had individual access before joining the group are switched back to it. "
                    "Members who never had individual access lose the group's access, and their access is then set user by user." }
            }
            (list)
            form method="post" action={ "/console/" (ws) "/groups/" (urlencode(&group.id)) "/apply-privileges" } class="confirm" {
                (csrf(&signed))
                input type="hidden" name="apply" value=(if turn_on { "on" } else { "off" });
                button type="submit" class=[(!turn_on).then_some("danger")] { (title) }
                " "
                a href=(group_url(&ws, &group.id, Tab::Privileges)) { "Cancel" }
            }
        },
    )
    .into_response()
}

pub async fn set_apply<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, fields, .. } = &posted;
    let on = fields.get("apply") == "on";
    let done = if on { "privileges-on" } else { "privileges-off" };
    write(&posted, Outcome { tab: Tab::Privileges, done, forbidden: PRIVILEGES_FORBIDDEN }, async |g| {
        let mut group = g.clone();
        group.apply_privileges = on;
        state.service.update_group(&signed.actor(), ws, group).await.map(|_| ())
    })
    .await
}
