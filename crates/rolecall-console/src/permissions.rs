//! A resource's Permissions page (seed 003): its rules on a Users tab and a Groups tab,
//! searched by name or email, filtered by role (a multi-select with every role selected
//! by default), sorted by name or by recent activity, both together; **Add new rule**
//! (an email or a group name and a role: the same rule is not added twice, a different
//! role asks whether to change it or keep it); **Remove rule** after a confirmation, in a
//! modal dialog when scripts run and on a page of its own when they do not.
//!
//! Also the Resources list the page is reached from. A workspace admin sees every
//! resource; anyone else sees those they hold a role on. Who may add or remove a rule is
//! the service's decision (nobody grants more than they hold).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_model::{ResourceRef, Subject};
use rolecall_service::{GrantOutcome, ServiceError};
use rolecall_store::{GrantQuery, GrantRow, GrantSort, PageRequest, Store};

use crate::form::{Fields, not_found, say, see_other, unavailable, urlencode};
use crate::layout::{Said, page};
use crate::names::{subject_named, user_by_email};
use crate::session::Signed;

type Shared<S> = State<Arc<AppState<S>>>;

/// Rules per page, and resources per page of the list.
const PAGE: u32 = 50;

/// What the signed-in user may do here, and the resource's roles (the deny role last).
struct Opened {
    resource: rolecall_model::Resource,
    roles: Vec<String>,
}

fn base(ws: &str, r: &ResourceRef) -> String {
    format!("/console/{ws}/resources/{}/{}", urlencode(&r.kind), urlencode(&r.id))
}

/// The resource, if the signed-in user may see its rules: workspace admins, and those who
/// hold a role on it.
async fn open<S: Store>(state: &AppState<S>, signed: &Signed, ws: &str, r: &ResourceRef) -> Result<Opened, Response> {
    if let Some(outside) = signed.outside(ws) {
        return Err(outside);
    }
    let roles = {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(ws) else { return Err(not_found(signed, "There is no such page.")) };
        let user = &signed.session.user;
        let admin = index.is_admin_user(user) == Ok(true);
        let holds = index.effective_role(user, r).is_ok_and(|role| role.is_some());
        if !index.has_resource(r) || !(admin || holds) {
            return Err(not_found(signed, "There is no such resource."));
        }
        let Some(ty) = index.schema().types.iter().find(|t| t.name == r.kind) else {
            return Err(not_found(signed, "There is no such resource."));
        };
        ty.roles.iter().rev().cloned().chain(ty.deny_role.clone()).collect::<Vec<_>>()
    };
    match state.service.store().resource(ws, r).await {
        Ok(Some(resource)) => Ok(Opened { resource, roles }),
        Ok(None) => Err(not_found(signed, "There is no such resource.")),
        Err(_) => Err(unavailable(signed, "Permissions")),
    }
}

/// The list's settings, from the URL: `tab`, `q`, repeated `roles`, `sort`, `from`.
struct Listing {
    users: bool,
    q: String,
    /// The roles ticked; every role when the filter was never touched.
    roles: Vec<String>,
    recent: bool,
    from: u32,
    done: String,
}

impl Listing {
    fn parse(query: Option<&str>, all_roles: &[String]) -> Listing {
        let fields = Fields::parse(query.unwrap_or_default().as_bytes());
        // `filtered` marks a filter form that was sent: then no role ticked is no role.
        let roles = if fields.get("filtered").is_empty() { all_roles.to_vec() } else { fields.all("roles") };
        Listing {
            users: fields.get("tab") != "groups",
            q: fields.get("q").trim().to_string(),
            roles,
            recent: fields.get("sort") == "recent_activity",
            from: fields.get("from").parse().unwrap_or(0),
            done: fields.get("done").to_string(),
        }
    }

    /// This listing's URL with another start.
    fn at(&self, base: &str, from: u32) -> String {
        let mut url = format!(
            "{base}/permissions?tab={}&q={}&sort={}&filtered=1&from={from}",
            if self.users { "users" } else { "groups" },
            urlencode(&self.q),
            if self.recent { "recent_activity" } else { "name" }
        );
        for role in &self.roles {
            url.push_str(&format!("&roles={}", urlencode(role)));
        }
        url
    }
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "added" => "Rule added.",
        "changed" => "Role changed.",
        "unchanged" => "That rule is already in place: nothing was added.",
        "kept" => "The current role was kept.",
        "removed" => "Rule removed.",
        _ => return None,
    })
}

async fn rules<S: Store>(
    state: &AppState<S>,
    ws: &str,
    r: &ResourceRef,
    l: &Listing,
) -> Result<(Vec<GrantRow>, bool), ()> {
    if l.roles.is_empty() {
        return Ok((Vec::new(), false));
    }
    let query = GrantQuery {
        users: Some(l.users),
        search: (!l.q.is_empty()).then(|| l.q.clone()),
        roles: l.roles.clone(),
        sort: if l.recent { GrantSort::RecentActivity } else { GrantSort::Name },
        offset: l.from,
        limit: PAGE,
    };
    let page = state.service.store().grants(ws, r, query).await.map_err(|_| ())?;
    Ok((page.items, page.next.is_some()))
}

fn when(millis: Option<i64>) -> String {
    // Days ago is what a reader compares; the exact time is in the audit log.
    match millis {
        None => "never".to_string(),
        Some(at) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            match (now - at) / 86_400_000 {
                ..=0 => "today".to_string(),
                1 => "yesterday".to_string(),
                days => format!("{days} days ago"),
            }
        }
    }
}

fn list(base: &str, l: &Listing, rows: &[GrantRow], more: bool) -> Markup {
    html! {
        section id="rules" aria-live="polite" {
            @if rows.is_empty() {
                p class="empty" {
                    @if l.roles.is_empty() { "No role is selected in the filter." }
                    @else if !l.q.is_empty() { "No rule matches “" (l.q) "”." }
                    @else if l.users { "No user has a rule here." }
                    @else { "No group has a rule here." }
                }
            } @else {
                table {
                    caption class="visually-hidden" { @if l.users { "Users' rules" } @else { "Groups' rules" } }
                    thead { tr {
                        th scope="col" { "Name" }
                        @if l.users { th scope="col" { "Email" } th scope="col" { "Last active" } }
                        th scope="col" { "Role" }
                        th scope="col" { span class="visually-hidden" { "Remove" } }
                    } }
                    tbody {
                        @for row in rows {
                            @let (kind, id) = match &row.subject { Subject::User(u) => ("user", u), Subject::Group(g) => ("group", g) };
                            @let remove = format!("{base}/permissions/remove?{kind}={}", urlencode(id));
                            tr {
                                td { (row.subject_name) }
                                @if l.users {
                                    td { (row.subject_email.as_deref().unwrap_or_default()) }
                                    td { (when(row.last_active_at)) }
                                }
                                td { (row.role) }
                                td {
                                    a href=(remove) hx-get=(remove) hx-target="#modal" hx-swap="innerHTML" {
                                        "Remove rule" span class="visually-hidden" { " of " (row.subject_name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p {
                @if l.from > 0 { a href=(l.at(base, l.from.saturating_sub(PAGE))) { "Previous page" } " " }
                @if more { a class="next" href=(l.at(base, l.from + PAGE)) { "Next page" } }
            }
        }
    }
}

pub async fn show<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let r = ResourceRef::new(kind, id);
    let opened = match open(&state, &signed, &ws, &r).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let l = Listing::parse(query.as_deref(), &opened.roles);
    render(&state, &signed, &ws, &opened, &l, &headers, None).await
}

async fn render<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    opened: &Opened,
    l: &Listing,
    headers: &HeaderMap,
    extra: Option<(StatusCode, Markup)>,
) -> Response {
    let r = &opened.resource.resource;
    let base = base(ws, r);
    let Ok((rows, more)) = rules(state, ws, r, l).await else { return unavailable(signed, "Permissions") };
    let table = list(&base, l, &rows, more);
    if headers.contains_key("hx-request") {
        return table.into_response();
    }
    let tab = if l.users { "users" } else { "groups" };
    let name = &opened.resource.name;
    let body = html! {
        p class="crumbs" { a href={ "/console/" (ws) "/resources" } { "Resources" } " / " }
        h1 { "Permissions · " (name) }
        p class="muted" { (r.kind) " " code { (r.id) } }
        nav aria-label="Rules of" class="tabs" {
            a href={ (base) "/permissions?tab=users" } aria-current=[l.users.then_some("page")] { "Users" }
            a href={ (base) "/permissions?tab=groups" } aria-current=[(!l.users).then_some("page")] { "Groups" }
        }
        @if let Some((_, said)) = &extra { (said) }
        @else if let Some(done) = done_message(&l.done) { (Said::Done(done)) }
        form method="get" action={ (base) "/permissions" } role="search" class="filters"
            hx-get={ (base) "/permissions" } hx-trigger="change, input delay:250ms from:#rule-q, submit" hx-target="#rules" hx-swap="outerHTML" {
            input type="hidden" name="tab" value=(tab);
            input type="hidden" name="filtered" value="1";
            label for="rule-q" { @if l.users { "Search by name or email" } @else { "Search groups by name" } }
            input id="rule-q" name="q" type="search" value=(l.q) autocomplete="off";
            fieldset class="roles" {
                legend { "Roles" }
                @for role in &opened.roles {
                    label class="check inline-check" {
                        input type="checkbox" name="roles" value=(role) checked[l.roles.contains(role)];
                        " " (role)
                    }
                }
            }
            label for="rule-sort" { "Sort by" }
            select id="rule-sort" name="sort" {
                option value="name" selected[!l.recent] { "Name" }
                option value="recent_activity" selected[l.recent] { "Recent activity" }
            }
            button type="submit" { "Apply" }
        }
        (table)
        form method="post" action={ (base) "/permissions" } class="card add-rule" {
            h2 { "Add new rule" }
            input type="hidden" name="csrf" value=(signed.session.csrf);
            input type="hidden" name="tab" value=(tab);
            label for="rule-who" { @if l.users { "User's email" } @else { "Group name" } }
            input id="rule-who" name="who" type=(if l.users { "email" } else { "text" }) required autocomplete="off";
            label for="rule-role" { "Role" }
            select id="rule-role" name="role" required {
                @for role in &opened.roles { option value=(role) { (role) } }
            }
            button type="submit" { "Add new rule" }
        }
        div id="modal" {}
    };
    let status = extra.map_or(StatusCode::OK, |(s, _)| s);
    (status, page(&format!("Permissions · {name}"), Some(signed), body)).into_response()
}

/// Add new rule. The same rule again changes nothing; a different role than the one
/// held asks first, unless `replace` says the user chose to change it.
pub async fn add<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    signed: Signed,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let r = ResourceRef::new(kind, id);
    let opened = match open(&state, &signed, &ws, &r).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let users = fields.get("tab") != "groups";
    let (who, role, replace) = (fields.get("who"), fields.get("role"), fields.get("replace") == "yes");
    let base = base(&ws, &r);
    let tab = if users { "users" } else { "groups" };
    let subject = if users {
        user_by_email(&state, &ws, who).await.map(Subject::User)
    } else {
        subject_named(&state, &ws, who).await.and_then(|s| match s {
            Subject::Group(g) => Ok(Subject::Group(g)),
            Subject::User(_) => Err(ServiceError::Invalid("on the Groups tab, type a group's name".into())),
        })
    };
    let outcome = match subject {
        Ok(subject) => state.service.put_grant(&signed.actor(), &ws, &r, &subject, role, replace).await,
        Err(e) => Err(e),
    };
    let l = Listing::parse(Some(&format!("tab={tab}")), &opened.roles);
    match outcome {
        Ok((GrantOutcome::Created, _)) => see_other(format!("{base}/permissions?tab={tab}&done=added")),
        Ok((GrantOutcome::Replaced { .. }, _)) => see_other(format!("{base}/permissions?tab={tab}&done=changed")),
        Ok((GrantOutcome::Unchanged, _)) => see_other(format!("{base}/permissions?tab={tab}&done=unchanged")),
        Err(ServiceError::RoleConflict { held }) => {
            // Change it or keep it: the user decides.
            let ask = html! {
                div role="alert" class="ask" {
                    p { strong { (who) } " already holds " strong { (held) } " here. Change it to " strong { (role) } ", or keep " (held) "?" }
                    form method="post" action={ (base) "/permissions" } class="inline" {
                        input type="hidden" name="csrf" value=(signed.session.csrf);
                        input type="hidden" name="tab" value=(tab);
                        input type="hidden" name="who" value=(who);
                        input type="hidden" name="role" value=(role);
                        input type="hidden" name="replace" value="yes";
                        button type="submit" { "Change to " (role) }
                        " "
                        a class="button quiet" href={ (base) "/permissions?tab=" (tab) "&done=kept" } { "Keep " (held) }
                    }
                }
            };
            render(&state, &signed, &ws, &opened, &l, &strip_htmx(&headers), Some((StatusCode::CONFLICT, ask))).await
        }
        Err(e) => {
            let (status, message) = say(e, "You may not give that role here: nobody grants more than they hold.");
            let said = html! { (Said::Refused(&message)) };
            render(&state, &signed, &ws, &opened, &l, &strip_htmx(&headers), Some((status, said))).await
        }
    }
}

/// A whole page is answered to a form, whatever asked.
fn strip_htmx(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    out.remove("hx-request");
    out
}

fn subject_of(fields: &Fields) -> Option<Subject> {
    match (fields.get("user"), fields.get("group")) {
        (u, "") if !u.is_empty() => Some(Subject::User(u.to_string())),
        ("", g) if !g.is_empty() => Some(Subject::Group(g.to_string())),
        _ => None,
    }
}

/// Remove rule: the confirmation (a dialog for htmx, a page otherwise).
pub async fn confirm_remove<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let r = ResourceRef::new(kind, id);
    let opened = match open(&state, &signed, &ws, &r).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let Some(subject) = subject_of(&fields) else { return not_found(&signed, "There is no such rule.") };
    let held = state.service.snapshot().workspace(&ws).ok().and_then(|i| i.grant(&r, &subject).ok().flatten());
    let Some(held) = held else { return not_found(&signed, "There is no such rule.") };
    let name = match &subject {
        Subject::User(u) => state.service.store().user(&ws, u).await.ok().flatten().map(|u| u.name),
        Subject::Group(g) => state.service.store().group(&ws, g).await.ok().flatten().map(|g| g.name),
    };
    let name = name.unwrap_or_else(|| subject.to_string());
    let base = base(&ws, &r);
    let tab = if matches!(subject, Subject::User(_)) { "users" } else { "groups" };
    let (field, value) = match &subject {
        Subject::User(u) => ("user", u.clone()),
        Subject::Group(g) => ("group", g.clone()),
    };
    let content = html! {
        h2 id="remove-title" { "Remove rule?" }
        p { strong { (name) } " loses the " strong { (held) } " rule on " (opened.resource.name) ". "
            "They keep what their groups or workspace role give them." }
        form method="post" action={ (base) "/permissions/remove" } class="inline" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            input type="hidden" name=(field) value=(value);
            button type="submit" class="danger" { "Remove rule" }
            " "
            a class="button quiet" href={ (base) "/permissions?tab=" (tab) } data-close { "Cancel" }
        }
    };
    if headers.contains_key("hx-request") {
        return html! { dialog aria-labelledby="remove-title" class="modal" { (content) } }.into_response();
    }
    page("Remove rule", Some(&signed), content).into_response()
}

pub async fn remove<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    signed: Signed,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let r = ResourceRef::new(kind, id);
    let opened = match open(&state, &signed, &ws, &r).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let Some(subject) = subject_of(&fields) else { return not_found(&signed, "There is no such rule.") };
    let tab = if matches!(subject, Subject::User(_)) { "users" } else { "groups" };
    match state.service.revoke_grant(&signed.actor(), &ws, &r, &subject).await {
        Ok(_) => see_other(format!("{}/permissions?tab={tab}&done=removed", base(&ws, &r))),
        Err(e) => {
            let (status, message) = say(e, "You may not remove that rule: it gives more than you hold here.");
            let l = Listing::parse(Some(&format!("tab={tab}")), &opened.roles);
            let said = html! { (Said::Refused(&message)) };
            render(&state, &signed, &ws, &opened, &l, &strip_htmx(&headers), Some((status, said))).await
        }
    }
}

/// The Resources list: every resource for an admin, the ones they hold a role on for
/// anyone else; searched by name, paged.
pub async fn resources<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(outside) = signed.outside(&ws) {
        return outside;
    }
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let q = fields.get("q").trim();
    let request = PageRequest { after: Some(fields.get("after").to_string()).filter(|a| !a.is_empty()), limit: PAGE };
    let Ok(found) = state.service.store().resources(&ws, None, (!q.is_empty()).then_some(q), request).await else {
        return unavailable(&signed, "Resources");
    };
    let rows: Vec<(rolecall_model::Resource, Option<String>)> = {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(&ws) else { return unavailable(&signed, "Resources") };
        let user = &signed.session.user;
        let admin = index.is_admin_user(user) == Ok(true);
        found
            .items
            .into_iter()
            .filter_map(|r| {
                let role = index.effective_role(user, &r.resource).ok().flatten().map(String::from);
                (admin || role.is_some()).then_some((r, role))
            })
            .collect()
    };
    let body = html! {
        h1 { "Resources" }
        form method="get" action={ "/console/" (ws) "/resources" } role="search" {
            label for="q" { "Search resources by name" }
            input id="q" name="q" type="search" value=(q) autocomplete="off";
            button type="submit" { "Search" }
        }
        @if rows.is_empty() {
            p class="empty" {
                @if !q.is_empty() { "No resource you may see is named like “" (q) "”" } @else { "No resource you may see" }
                @if found.next.is_some() { " on this page." } @else { "." }
            }
        } @else {
            table {
                caption class="visually-hidden" { "Resources" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Your role" } th scope="col" { span class="visually-hidden" { "Permissions" } } } }
                tbody {
                    @for (r, role) in &rows {
                        tr {
                            td { (r.name) }
                            td { (r.resource.kind) }
                            td { (role.as_deref().unwrap_or("none")) }
                            td { a href={ (base(&ws, &r.resource)) "/permissions" } aria-label={ "Permissions of " (r.name) } { "Permissions" } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &found.next {
            a class="next" href={ "/console/" (ws) "/resources?q=" (urlencode(q)) "&after=" (urlencode(next)) } { "Next page" }
        }
    };
    page("Resources", Some(&signed), body).into_response()
}

/// Resources a picker offers at a time; typing narrows them.
pub(crate) const PICKED: u32 = 50;

/// Resources whose name contains `q` that `user` may see (a workspace admin: all; anyone
/// else: those they hold a role on), at most [`PICKED`], and whether more may match.
pub(crate) async fn findable<S: Store>(
    state: &AppState<S>,
    ws: &str,
    user: &str,
    q: &str,
) -> Result<(Vec<rolecall_model::Resource>, bool), ()> {
    let q = q.trim();
    let request = PageRequest { after: None, limit: PICKED };
    let found =
        state.service.store().resources(ws, None, (!q.is_empty()).then_some(q), request).await.map_err(|_| ())?;
    let engine = state.service.snapshot();
    let index = engine.workspace(ws).map_err(|_| ())?;
    let admin = index.is_admin_user(user) == Ok(true);
    let items = found
        .items
        .into_iter()
        .filter(|r| admin || index.effective_role(user, &r.resource).is_ok_and(|x| x.is_some()))
        .collect();
    Ok((items, found.next.is_some()))
}

/// A resource picker: a search that narrows the choices as you type (htmx asks
/// `/console/{ws}/resource-options`), and the select, grouped by type. `chosen` stays
/// among the choices.
pub(crate) fn picker(
    ws: &str,
    id: &str,
    label: &str,
    found: &[rolecall_model::Resource],
    more: bool,
    chosen: &str,
) -> Markup {
    html! {
        label for={ (id) "-q" } { "Find a resource by name" }
        input id={ (id) "-q" } name="rq" type="search" autocomplete="off"
            hx-get={ "/console/" (ws) "/resource-options?id=" (urlencode(id)) "&label=" (urlencode(label)) }
            hx-trigger="input changed delay:250ms, search" hx-target={ "#" (id) "-pick" } hx-swap="outerHTML";
        (choices(id, label, found, more, chosen))
    }
}

fn choices(id: &str, label: &str, found: &[rolecall_model::Resource], more: bool, chosen: &str) -> Markup {
    let mut kinds: Vec<&str> = found.iter().map(|r| r.resource.kind.as_str()).collect();
    kinds.dedup();
    kinds.sort_unstable();
    kinds.dedup();
    html! {
        div id={ (id) "-pick" } class="pick" aria-live="polite" {
            label for=(id) { (label) }
            @if found.is_empty() {
                select id=(id) name="resource" required disabled {}
                p class="empty" { "No resource you may see has that name." }
            } @else {
                select id=(id) name="resource" required {
                    @for kind in &kinds {
                        optgroup label=(kind) {
                            @for r in found.iter().filter(|r| r.resource.kind == *kind) {
                                @let value = format!("{}/{}", r.resource.kind, r.resource.id);
                                option value=(value) selected[value == chosen] { (r.name) " (" (r.resource.kind) ")" }
                            }
                        }
                    }
                }
                @if more { p class="muted" { "More resources match: type more of the name." } }
            }
        }
    }
}

/// The picker's choices for a search (htmx).
pub async fn options<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(outside) = signed.outside(&ws) {
        return outside;
    }
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let Ok((found, more)) = findable(&state, &ws, &signed.session.user, fields.get("rq")).await else {
        return unavailable(&signed, "Resources");
    };
    let label = Some(fields.get("label")).filter(|l| !l.is_empty()).unwrap_or("Resource");
    choices(fields.get("id"), label, &found, more, "").into_response()
}
