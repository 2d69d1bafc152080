//! The console over real HTTP, as a browser without scripts uses it: signing in (and the
//! refusals that never say which part was wrong), the session cookie's flags, the users
//! page for admins only, search, sign-out that needs the form's CSRF token, and a
//! suspended user's session opening nothing. (The browser tests drive the same pages in
//! Chromium.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use rolecall_model::{Limits, User, UserKind, Workspace};
use rolecall_service::{Actor, Service};
use rolecall_store::Store;
use rolecall_store_sqlite::SqliteStore;

const PASSWORD: &str = "a long enough passphrase";

/// A form value, percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

struct Console {
    url: String,
    http: reqwest::Client,
    service: Arc<rolecall_api::AppState<SqliteStore>>,
    _dir: tempfile::TempDir,
}

fn user(id: &str, role: &str) -> User {
    User {
        id: id.into(),
        email: format!("{id}@acme.test"),
        name: format!("{} Example", id.to_uppercase()),
        workspace_role: role.into(),
        kind: UserKind::Regular,
        last_active_at: None,
    }
}

/// A server with workspace `acme`: Ada (admin) and Sam (member), both with a password,
/// and 60 more users.
async fn console() -> Console {
    console_with(Limits::default()).await
}

async fn console_with(limits: Limits) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
    let service = Service::open(store, limits).await.unwrap();
    service.create_workspace(&Actor::Root, Workspace { id: "acme".into(), name: "Acme".into() }, None).await.unwrap();
    for (id, role) in [("ada", "admin"), ("sam", "member"), ("cy", "consumer")] {
        service.put_user(&Actor::Root, "acme", user(id, role)).await.unwrap();
        service.set_password(&Actor::Root, "acme", id, PASSWORD).await.unwrap();
    }
    for i in 0..60 {
        service.put_user(&Actor::Root, "acme", user(&format!("u{i:02}"), "member")).await.unwrap();
    }
    let state = Arc::new(rolecall_api::AppState::new(service, "root"));
    let router = rolecall_api::router_with(state.clone(), rolecall_console::routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    Console { url, http, service: state, _dir: dir }
}

impl Console {
    async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, String, Option<String>) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        let res = req.send().await.unwrap();
        let location = res.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        (res.status(), res.text().await.unwrap(), location)
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.unwrap()
    }

    /// Signs in; returns the `Cookie` header to send and the page's CSRF token.
    async fn sign_in(&self, email: &str) -> (String, String) {
        let res = self
            .post("/console/sign-in", None, &[("workspace", "acme"), ("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let set = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let (_, page, _) = self.get("/console/acme/users", Some(&cookie)).await;
        let csrf = page.split("name=\"csrf\" value=\"").nth(1).map(|r| r.split('"').next().unwrap().to_string());
        (cookie, csrf.unwrap_or_default())
    }
}

#[tokio::test]
async fn signing_in_sets_a_strict_session_cookie_and_opens_the_workspace() {
    let c = console().await;
    // Nobody signed in: every page sends the browser to sign in.
    let (status, _, to) = c.get("/", None).await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/console/sign-in")));
    let (status, _, to) = c.get("/console/acme/users", None).await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/console/sign-in")));
    let (status, page, _) = c.get("/console/sign-in", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<label for="email">"#) && page.contains(r#"type="password""#), "labelled fields");

    let res = c
        .post("/console/sign-in", None, &[("workspace", "acme"), ("email", "ADA@acme.test"), ("password", PASSWORD)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(LOCATION).unwrap(), "/console/acme/users");
    let set = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let cookie = set.split(';').next().unwrap();
    let (status, _, to) = c.get("/", Some(cookie)).await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/console/acme/users")));
    let (status, page, _) = c.get("/console/acme/users", Some(cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Signed in as <strong>ada</strong>"), "{page}");

    // A made-up cookie opens nothing.
    let (status, _, _) = c.get("/console/acme/users", Some("rolecall_session=0123456789abcdef")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_failed_sign_in_never_says_what_was_wrong() {
    let c = console().await;
    let mut pages = Vec::new();
    for (ws, email, password) in [
        ("acme", "ada@acme.test", "not the passphrase at all"),
        ("acme", "nobody@acme.test", PASSWORD),
        ("acme", "u01@acme.test", PASSWORD),
        ("elsewhere", "ada@acme.test", PASSWORD),
    ] {
        let res =
            c.post("/console/sign-in", None, &[("workspace", ws), ("email", email), ("password", password)]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{ws} {email}");
        assert!(res.headers().get(SET_COOKIE).is_none());
        let page = res.text().await.unwrap();
        assert!(page.contains("The email or the password is wrong"), "{page}");
        assert!(!page.contains(password), "the password is never echoed");
        pages.push(page.replace(email, "").replace(ws, ""));
    }
    assert!(pages.windows(2).all(|w| w[0] == w[1]), "the same answer whatever was wrong");
}

#[tokio::test]
async fn admins_see_and_search_the_users_others_are_told_why_not() {
    let c = console().await;
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let (_, page, _) = c.get("/console/acme/users", Some(&ada)).await;
    assert_eq!(page.matches("<tr>").count(), 51, "a header row and a page of 50");
    assert!(page.contains("Next page"));
    let (_, page, _) = c.get("/console/acme/users?q=U0", Some(&ada)).await;
    assert_eq!(page.matches("@acme.test").count(), 10, "u00..u09 by email, any case");
    // htmx asks for the list alone.
    let res =
        c.http.get(format!("{}/console/acme/users?q=sam", c.url)).header(COOKIE, &ada).header("hx-request", "true");
    let fragment = res.send().await.unwrap().text().await.unwrap();
    assert!(fragment.starts_with("<section id=\"users\"") && fragment.contains("SAM Example"), "{fragment}");
    let (_, none, _) = c.get("/console/acme/users?q=%3Cscript%3E", Some(&ada)).await;
    assert!(none.contains("&lt;script&gt;") && !none.contains("<script>alert"), "search text is escaped");

    let (sam, _) = c.sign_in("sam@acme.test").await;
    let (status, page, _) = c.get("/console/acme/users", Some(&sam)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Only workspace admins manage users"));
    let (status, _, _) = c.get("/console/other/users", Some(&ada)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a session is sealed to its workspace");
}

#[tokio::test]
async fn signing_out_needs_the_form_token_and_a_suspended_user_is_signed_out() {
    let c = console().await;
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    assert_eq!(csrf.len(), 64);
    let forged = c.post("/console/sign-out", Some(&ada), &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.get("/console/acme/users", Some(&ada)).await.0, StatusCode::OK, "still signed in");
    let out = c.post("/console/sign-out", Some(&ada), &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers().get(SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(c.get("/console/acme/users", Some(&ada)).await.0, StatusCode::SEE_OTHER, "the old cookie opens nothing");

    // Suspending Ada ends what her session opens.
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let before = c.service.service.store().user("acme", "ada").await.unwrap().unwrap();
    c.service.service.update_user(&Actor::Root, "acme", before, Some(false)).await.unwrap();
    assert_eq!(c.get("/console/acme/users", Some(&ada)).await.0, StatusCode::SEE_OTHER);
    let again = c
        .post("/console/sign-in", None, &[("workspace", "acme"), ("email", "ada@acme.test"), ("password", PASSWORD)])
        .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn groups_are_listed_as_each_user_may_see_them_and_added_with_their_creator_as_owner() {
    let c = console().await;
    let (sam, csrf) = c.sign_in("sam@acme.test").await;
    let add = |name: &'static str, csrf: String| {
        [
            ("csrf", csrf),
            ("name", name.to_string()),
            ("description", "The <b>team</b>".into()),
            ("tags", "team, emea".into()),
            ("icon", "📣".into()),
        ]
    };
    let form = add("Marketing", csrf.clone());
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = c.post("/console/acme/groups", Some(&sam), &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers().get(LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(to.starts_with("/console/acme/groups/marketing-") && to.ends_with("?tab=members&done=created"), "{to}");
    let (_, page, _) = c.get(&to, Some(&sam)).await;
    assert!(page.contains("Group created. Next: select its users"), "on to the new group's page");
    let (_, page, _) = c.get("/console/acme/groups", Some(&sam)).await;
    assert!(page.contains("<strong>Marketing</strong>") && page.contains("The &lt;b&gt;team&lt;/b&gt;"), "{page}");
    assert!(page.contains(r#"<span class="tag">emea</span>"#));
    assert!(page.contains(r#"<span class="icon" aria-hidden="true">📣</span>"#), "an emoji icon is text");
    let mut pictured = team("design", "Design", rolecall_model::Visibility::Public);
    pictured.icon = Some("data:image/png;base64,iVBORw0KGgo=".into());
    c.service.service.create_group(&Actor::Root, "acme", pictured).await.unwrap();
    let (_, page, _) = c.get("/console/acme/groups", Some(&sam)).await;
    assert!(
        page.contains(r#"<img class="icon" src="data:image/png;base64,iVBORw0KGgo=" alt="""#),
        "an image icon is an image"
    );
    // Sam created it, so Sam owns it: one member.
    let owner = {
        let index = c.service.service.snapshot();
        let ws = index.workspace("acme").unwrap();
        let id = ws.group_ids().find(|g| g.starts_with("marketing-")).unwrap().to_string();
        ws.direct_role(&id, "sam")
    };
    assert_eq!(owner, Some(rolecall_model::MemberRole::Owner));

    // The same name again (any case): refused, said on the page, what was typed kept.
    let form = add("MARKETING", csrf.clone());
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = c.post("/console/acme/groups", Some(&sam), &pairs).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"role="alert""#) && page.contains("already used"), "{page}");
    assert!(page.contains(r#"value="MARKETING""#));
    // Without the form's token: refused.
    let form = add("Sales", "forged".into());
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(c.post("/console/acme/groups", Some(&sam), &pairs).await.status(), StatusCode::FORBIDDEN);
    // A consumer may not create groups, and is told so.
    let (cy, cy_csrf) = c.sign_in("cy@acme.test").await;
    let form = add("Cy's group", cy_csrf);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = c.post("/console/acme/groups", Some(&cy), &pairs).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("You may not create groups"));

    // A private group is invisible to those outside it.
    let private = team("board", "Board", rolecall_model::Visibility::Private);
    c.service.service.create_group(&Actor::Root, "acme", private).await.unwrap();
    let (_, page, _) = c.get("/console/acme/groups", Some(&sam)).await;
    assert!(!page.contains("Board"), "sam is outside the private group");
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let (_, page, _) = c.get("/console/acme/groups?q=boa", Some(&ada)).await;
    assert!(page.contains("<strong>Board</strong>") && !page.contains("Marketing"), "admins see it; search by name");
}

#[tokio::test]
async fn admins_add_users_with_their_groups_and_delete_them_after_a_confirmation() {
    let c = console().await;
    for g in ["sales", "ops"] {
        let group = rolecall_model::Group::new(g, g.to_uppercase());
        c.service.service.create_group(&Actor::Root, "acme", group).await.unwrap();
    }
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let (_, page, _) = c.get("/console/acme/users", Some(&ada)).await;
    assert!(page.contains(r#"<legend>Groups</legend>"#) && page.contains(r#"value="sales""#), "the groups to tick");
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Nina New"),
        ("email", "nina@acme.test"),
        ("workspace_role", "creator"),
        ("groups", "sales"),
        ("groups", "ops"),
    ];
    let res = c.post("/console/acme/users", Some(&ada), &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = {
        let engine = c.service.service.snapshot();
        let index = engine.workspace("acme").unwrap();
        let id = index.user_ids().find(|u| u.starts_with("nina-")).unwrap().to_string();
        let mut groups: Vec<String> = index.user_groups(&id).unwrap().into_iter().map(|(g, _)| g.to_string()).collect();
        groups.sort();
        assert_eq!(groups, ["ops", "sales"], "created with both groups ticked");
        id
    };
    let nina = c.service.service.store().user("acme", &id).await.unwrap().unwrap();
    assert_eq!((nina.name.as_str(), nina.workspace_role.as_str()), ("Nina New", "creator"));

    // The same email again: refused and said, nothing written, what was typed kept.
    let res = c.post("/console/acme/users", Some(&ada), &form).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(page.contains("nina@acme.test") && page.contains("already used"), "{page}");
    assert!(page.contains(r#"value="ops" checked"#), "the ticks are kept");
    // Only admins add users.
    let (sam, sam_csrf) = c.sign_in("sam@acme.test").await;
    let by_sam = [("csrf", sam_csrf.as_str()), ("name", "X"), ("email", "x@acme.test"), ("workspace_role", "member")];
    assert_eq!(c.post("/console/acme/users", Some(&sam), &by_sam).await.status(), StatusCode::FORBIDDEN);

    // Delete: a confirmation that says what she loses, then the deletion with the form's token.
    let confirm = format!("/console/acme/users/{id}/delete");
    let (status, page, _) = c.get(&confirm, Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Delete Nina New?") && page.contains("(2 groups)"), "{page}");
    assert_eq!(c.post(&confirm, Some(&ada), &[("csrf", "forged")]).await.status(), StatusCode::FORBIDDEN);
    assert!(c.service.service.store().user("acme", &id).await.unwrap().is_some(), "not deleted without the token");
    let done = c.post(&confirm, Some(&ada), &[("csrf", &csrf)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(c.service.service.store().user("acme", &id).await.unwrap().is_none());
    assert_eq!(c.get(&confirm, Some(&ada)).await.0, StatusCode::NOT_FOUND);
}

fn team(id: &str, name: &str, visibility: rolecall_model::Visibility) -> rolecall_model::Group {
    rolecall_model::Group { visibility, ..rolecall_model::Group::new(id, name) }
}

/// Sales (public, Sam its owner) and Board (private, nobody in it yet).
async fn with_groups(c: &Console) {
    let s = &c.service.service;
    s.create_group(&Actor::Root, "acme", team("sales", "Sales", rolecall_model::Visibility::Public)).await.unwrap();
    s.create_group(&Actor::Root, "acme", team("board", "Board", rolecall_model::Visibility::Private)).await.unwrap();
    s.put_member(&Actor::Root, "acme", "sales", "sam", rolecall_model::MemberRole::Owner).await.unwrap();
}

fn role_in(c: &Console, group: &str, user: &str) -> Option<rolecall_model::MemberRole> {
    c.service.service.snapshot().workspace("acme").unwrap().direct_role(group, user)
}

#[tokio::test]
async fn a_group_owner_selects_users_gives_them_roles_and_removes_them() {
    use rolecall_model::MemberRole;
    let c = console().await;
    with_groups(&c).await;
    let (sam, csrf) = c.sign_in("sam@acme.test").await;
    let (status, page, _) = c.get("/console/acme/groups/sales", Some(&sam)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"aria-current="page">Members</a>"#), "the Members tab is the current one");
    let (status, page, _) = c.get("/console/acme/groups/sales?tab=nonsense&from=abc", Some(&sam)).await;
    assert_eq!(status, StatusCode::OK, "an unknown tab or position is the first page of Members");
    assert!(page.contains(r#"aria-current="page">Members</a>"#));
    assert!(page.contains("1 direct member") && page.contains("Select users"), "{page}");

    // Select users: a search offers the workspace's users; one already in is marked.
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=members&q=example", Some(&sam)).await;
    assert!(page.contains(r#"value="u01""#) && page.contains("(already a member)"), "{page}");
    let fragment = c
        .http
        .get(format!("{}/console/acme/groups/sales/candidates?q=u0", c.url))
        .header(COOKIE, &sam)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.starts_with(r#"<div id="candidates""#) && fragment.matches("type=\"checkbox\"").count() == 10);

    let add = [("csrf", csrf.as_str()), ("users", "u01"), ("users", "u02"), ("role", "editor")];
    let res = c.post("/console/acme/groups/sales/members", Some(&sam), &add).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(LOCATION).unwrap(), "/console/acme/groups/sales?tab=members&done=members-added");
    assert_eq!(
        (role_in(&c, "sales", "u01"), role_in(&c, "sales", "u02")),
        (Some(MemberRole::Editor), Some(MemberRole::Editor))
    );
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=members&done=members-added", Some(&sam)).await;
    assert!(page.contains(r#"role="status""#) && page.contains("Members added."));
    assert!(page.contains(r#"aria-label="Remove U01 Example from Sales""#), "each member has a labelled ×");
    // Nothing ticked: said, nothing written.
    let res = c.post("/console/acme/groups/sales/members", Some(&sam), &[("csrf", &csrf), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Tick at least one user to add"));

    let res =
        c.post("/console/acme/groups/sales/members/u01/role", Some(&sam), &[("csrf", &csrf), ("role", "owner")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(role_in(&c, "sales", "u01"), Some(MemberRole::Owner));
    let res = c.post("/console/acme/groups/sales/members/u02/remove", Some(&sam), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(role_in(&c, "sales", "u02"), None);
    // Without the form's token nothing changes.
    let res = c.post("/console/acme/groups/sales/members/u01/remove", Some(&sam), &[("csrf", "forged")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(role_in(&c, "sales", "u01"), Some(MemberRole::Owner));

    // U03, a plain member of Sales, sees the group but none of its controls, and is told
    // why when they try.
    c.service.service.put_member(&Actor::Root, "acme", "sales", "u03", MemberRole::Member).await.unwrap();
    c.service.service.set_password(&Actor::Root, "acme", "u03", PASSWORD).await.unwrap();
    let (u03, u03_csrf) = c.sign_in("u03@acme.test").await;
    let (status, page, _) = c.get("/console/acme/groups/sales", Some(&u03)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Select users") && !page.contains("aria-label=\"Remove"), "no controls for a member");
    let res = c.post("/console/acme/groups/sales/members/u01/remove", Some(&u03), &[("csrf", &u03_csrf)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("You may not change this group's members"));
    assert_eq!(role_in(&c, "sales", "u01"), Some(MemberRole::Owner));
    // The private group is not there for them, nor for Sam.
    assert_eq!(c.get("/console/acme/groups/board", Some(&u03)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/console/acme/groups/board?tab=details", Some(&sam)).await.0, StatusCode::NOT_FOUND);
    let res = c.post("/console/acme/groups/board/members", Some(&sam), &[("csrf", &csrf), ("users", "sam")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(role_in(&c, "board", "sam"), None);
}

#[tokio::test]
async fn permission_sets_get_assignees_by_email_or_group_name() {
    let c = console().await;
    with_groups(&c).await;
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let res = c
        .post(
            "/console/acme/groups/sales/permission-sets",
            Some(&ada),
            &[("csrf", &csrf), ("name", "Team leads"), ("permissions", "view"), ("permissions", "edit")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let set = {
        let engine = c.service.service.snapshot();
        let sets = engine.workspace("acme").unwrap().permission_sets("sales").unwrap();
        let custom = sets.iter().find(|s| s.builtin.is_none()).unwrap();
        assert!(custom.permissions.edit && !custom.permissions.delete);
        custom.id.to_string()
    };
    let path = format!("/console/acme/groups/sales/permission-sets/{set}/assignees");
    for who in ["U05@acme.test", "board"] {
        let res = c.post(&path, Some(&ada), &[("csrf", &csrf), ("who", who)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{who}");
    }
    let res = c.post(&path, Some(&ada), &[("csrf", &csrf), ("who", "nobody@acme.test")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("No user has the email `nobody@acme.test`"));
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=permission-sets", Some(&ada)).await;
    assert!(page.contains("<h2>Team leads</h2>") && page.contains(r#"class="avatar group""#), "{page}");
    assert!(
        page.contains("(group)</span></summary><p class=\"muted\">0 members</p>"),
        "Board opens to its size: {page}"
    );
    assert!(page.contains(r#"aria-label="Remove U05 Example from Team leads""#));
    let owners = page.split(r#"aria-label="Owners of Sales""#).nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(
        owners.contains("SAM Example") && owners.contains(r#"class="avatar user""#),
        "the owners' avatars: {owners}"
    );
    // U05 may now edit Sales: the set took effect at once.
    let target = rolecall_model::ResourceRef::new("group", "sales");
    let can =
        |u: &str| c.service.service.snapshot().workspace("acme").unwrap().check(u, "edit", &target).unwrap().allowed;
    assert!(can("u05"));
    let res = c.post(&format!("{path}/remove"), Some(&ada), &[("csrf", &csrf), ("user", "u05")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!can("u05"), "a removed assignee loses the set's permissions");
    // Owners' permissions are fixed: shown as text, no form.
    assert!(page.contains("View, Edit, Delete") && !page.contains("permission-sets/owners\""));
    // Deleting the set: first who loses what (Board is still assigned), then it is gone.
    let confirm = format!("/console/acme/groups/sales/permission-sets/{set}/delete");
    let (status, page, _) = c.get(&confirm, Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Delete the permission set Team leads?"), "{page}");
    assert!(page.contains("0 users and 1 group assigned to it lose what it gives on Sales: View, Edit."), "{page}");
    assert_eq!(
        c.get("/console/acme/groups/sales/permission-sets/members/delete", Some(&ada)).await.0,
        StatusCode::NOT_FOUND
    );
    let res = c.post(&confirm, Some(&ada), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let left = c.service.service.snapshot().workspace("acme").unwrap().permission_sets("sales").unwrap().len();
    assert_eq!(left, 3, "Owners, Members and Everyone remain");
}

#[tokio::test]
async fn turning_privileges_off_and_deleting_a_group_first_say_whose_access_changes() {
    let c = console().await;
    with_groups(&c).await;
    let s = &c.service.service;
    let crm = rolecall_model::ResourceRef::new("app", "crm");
    s.put_resource(
        &Actor::Root,
        "acme",
        rolecall_model::Resource { resource: crm.clone(), name: "CRM".into(), parent: None },
    )
    .await
    .unwrap();
    for u in ["u01", "u02"] {
        s.put_member(&Actor::Root, "acme", "sales", u, rolecall_model::MemberRole::Member).await.unwrap();
    }
    // U02 holds runner on the CRM on their own.
    s.put_grant(&Actor::Root, "acme", &crm, &rolecall_model::Subject::User("u02".into()), "runner", false)
        .await
        .unwrap();
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let res = c
        .post(
            "/console/acme/groups/sales/privileges",
            Some(&ada),
            &[("csrf", &csrf), ("resource", "app/crm"), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let role = |u: &str| s.snapshot().workspace("acme").unwrap().effective_role(u, &crm).unwrap().map(String::from);
    assert_eq!(role("u01").as_deref(), Some("admin"));
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=privileges", Some(&ada)).await;
    assert!(page.contains("<td>CRM</td>") && page.contains("<td>admin</td>"), "{page}");
    // A role the resource's type does not have: refused and said.
    let res = c
        .post(
            "/console/acme/groups/sales/privileges",
            Some(&ada),
            &[("csrf", &csrf), ("resource", "app/crm"), ("role", "restricted")],
        )
        .await;
    assert!(res.status().is_client_error());
    assert!(res.text().await.unwrap().contains(r#"role="alert""#));

    // Turning privileges off: first who changes and how, then the switch.
    let (status, page, _) = c.get("/console/acme/groups/sales/apply-privileges", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("3 people's access changes"), "Sam, U01 and U02: {page}");
    assert!(page.contains("<strong>U02 Example</strong>: CRM (app) admin → runner"), "{page}");
    assert!(page.contains("CRM (app) admin → no access"));
    assert_eq!(role("u01").as_deref(), Some("admin"), "a preview changes nothing");
    let res =
        c.post("/console/acme/groups/sales/apply-privileges", Some(&ada), &[("csrf", &csrf), ("apply", "off")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!((role("u01"), role("u02").as_deref()), (None, Some("runner")));
    let res =
        c.post("/console/acme/groups/sales/apply-privileges", Some(&ada), &[("csrf", &csrf), ("apply", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(role("u01").as_deref(), Some("admin"));

    // Deleting: the same preview, then the group is gone and so is its access.
    let (status, page, _) = c.get("/console/acme/groups/sales/delete", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Delete Sales?") && page.contains("Its 3 members leave it"), "{page}");
    assert!(page.contains("3 people's access changes"));
    assert_eq!(
        c.post("/console/acme/groups/sales/delete", Some(&ada), &[("csrf", "forged")]).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = c.post("/console/acme/groups/sales/delete", Some(&ada), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!((role("u01"), role("u02").as_deref()), (None, Some("runner")));
    assert_eq!(c.get("/console/acme/groups/sales", Some(&ada)).await.0, StatusCode::NOT_FOUND);
    // A member may not delete it: told so, on the page.
    let (sam, sam_csrf) = c.sign_in("sam@acme.test").await;
    s.create_group(&Actor::Root, "acme", team("ops", "Ops", rolecall_model::Visibility::Public)).await.unwrap();
    s.put_member(&Actor::Root, "acme", "ops", "sam", rolecall_model::MemberRole::Member).await.unwrap();
    let (status, page, _) = c.get("/console/acme/groups/ops/delete", Some(&sam)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Only the group's owners (and workspace admins) delete it."));
    assert_eq!(
        c.post("/console/acme/groups/ops/delete", Some(&sam), &[("csrf", &sam_csrf)]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn data_scopes_policies_notifications_and_details_are_set_from_their_tabs() {
    let c = console().await;
    with_groups(&c).await;
    let s = &c.service.service;
    let rules = std::collections::BTreeMap::from([("create_app".to_string(), rolecall_model::Effect::Deny)]);
    s.put_policy(&Actor::Root, "acme", "no-apps", "No new apps", rules).await.unwrap();
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let post = async |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        c.post(path, Some(&ada), &form).await
    };
    let res = post(
        "/console/acme/groups/sales/data-scopes",
        vec![("dataset", "sales"), ("attribute", "country"), ("values", "France, Spain")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let filter = s.snapshot().workspace("acme").unwrap().data_filter("sam", "sales").unwrap();
    assert_eq!(filter.as_map().unwrap()["country"], vec!["France".to_string(), "Spain".to_string()]);
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=data-scopes", Some(&ada)).await;
    assert!(page.contains("<dt>country</dt>") && page.contains("France, Spain"), "{page}");

    let res = post("/console/acme/groups/sales/policies", vec![("policy", "no-apps")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.snapshot().workspace("acme").unwrap().group_policies("sales").unwrap(), vec!["no-apps"]);
    let (_, page, _) = c.get("/console/acme/groups/sales?tab=policies", Some(&ada)).await;
    assert!(page.contains("No new apps") && page.contains("create_app: deny"), "{page}");

    let res = post("/console/acme/groups/sales/notifications", vec![("notify", "on_change")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(
        "/console/acme/groups/sales/details",
        vec![
            ("name", "Sales EMEA"),
            ("description", "Sellers"),
            ("tags", "emea"),
            ("icon", ""),
            ("visibility", "private"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let group = s.store().group("acme", "sales").await.unwrap().unwrap();
    assert_eq!(
        (group.name.as_str(), group.notify, group.visibility),
        ("Sales EMEA", rolecall_model::Notify::OnChange, rolecall_model::Visibility::Private)
    );
    // A taken name: refused on the Details tab, nothing changed.
    let res = post("/console/acme/groups/sales/details", vec![("name", "board"), ("visibility", "public")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains(r#"aria-current="page">Details</a>"#));
    assert_eq!(s.store().group("acme", "sales").await.unwrap().unwrap().name, "Sales EMEA");

    // Sam owns Sales but is no admin: data scopes and policies are not his to set.
    let (sam, sam_csrf) = c.sign_in("sam@acme.test").await;
    let res = c
        .post("/console/acme/groups/sales/policies/detach", Some(&sam), &[("csrf", &sam_csrf), ("policy", "no-apps")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Only workspace admins set data scopes and policies."));
}

#[tokio::test]
async fn several_selected_groups_are_changed_together_or_not_at_all() {
    use rolecall_model::MemberRole;
    let c = console().await;
    with_groups(&c).await;
    let s = &c.service.service;
    s.create_group(&Actor::Root, "acme", team("ops", "Ops", rolecall_model::Visibility::Public)).await.unwrap();
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let (_, page, _) = c.get("/console/acme/groups", Some(&ada)).await;
    assert!(page.contains(r#"aria-label="Select Sales""#) && page.contains("Apply to selected groups"), "{page}");
    let bulk = async |action: &str, users: &str, role: &str, groups: &[&str]| {
        let mut form = vec![("csrf", csrf.as_str()), ("action", action), ("users", users), ("role", role)];
        form.extend(groups.iter().map(|g| ("groups", *g)));
        c.post("/console/acme/groups/bulk", Some(&ada), &form).await
    };
    let res = bulk("add_members", "u01@acme.test, U02@ACME.test", "editor", &["sales", "ops"]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(LOCATION).unwrap(), "/console/acme/groups?done=added");
    for g in ["sales", "ops"] {
        assert_eq!(
            (role_in(&c, g, "u01"), role_in(&c, g, "u02")),
            (Some(MemberRole::Editor), Some(MemberRole::Editor))
        );
    }
    let (_, page, _) = c.get("/console/acme/groups?done=added", Some(&ada)).await;
    assert!(page.contains("The users were added to the selected groups."));
    assert_eq!(
        bulk("set_member_role", "u01@acme.test", "owner", &["sales", "ops"]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        (role_in(&c, "sales", "u01"), role_in(&c, "ops", "u01")),
        (Some(MemberRole::Owner), Some(MemberRole::Owner))
    );
    assert_eq!(
        bulk("remove_members", "u02@acme.test", "member", &["sales", "ops"]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!((role_in(&c, "sales", "u02"), role_in(&c, "ops", "u02")), (None, None));

    // Refusals are said, and nothing is changed.
    let res = bulk("add_members", "u03@acme.test, nobody@acme.test", "member", &["sales", "ops"]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("No user has the email `nobody@acme.test`"));
    assert_eq!(role_in(&c, "sales", "u03"), None);
    let res = bulk("add_members", "u03@acme.test", "member", &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Select at least one group"));

    // Deleting: which groups and whose access changes, then all of them at once.
    let res = bulk("delete", "", "member", &["sales", "ops"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Delete 2 groups?") && page.contains("<strong>Ops</strong>"), "{page}");
    assert!(page.contains("Nobody's access changes."), "neither group gives access: {page}");
    assert!(s.store().group("acme", "ops").await.unwrap().is_some(), "nothing deleted before the confirmation");

    // Sam owns Sales but not Ops: deleting both is refused as a whole; a private group he
    // cannot see is not named to him.
    let (sam, sam_csrf) = c.sign_in("sam@acme.test").await;
    let form = [
        ("csrf", sam_csrf.as_str()),
        ("action", "delete"),
        ("confirmed", "yes"),
        ("groups", "sales"),
        ("groups", "ops"),
    ];
    let res = c.post("/console/acme/groups/bulk", Some(&sam), &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("nothing was changed"));
    assert!(s.store().group("acme", "sales").await.unwrap().is_some());
    let form = [("csrf", sam_csrf.as_str()), ("action", "delete"), ("groups", "board")];
    let res = c.post("/console/acme/groups/bulk", Some(&sam), &form).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("Board"));

    let form =
        [("csrf", csrf.as_str()), ("action", "delete"), ("confirmed", "yes"), ("groups", "sales"), ("groups", "ops")];
    let res = c.post("/console/acme/groups/bulk", Some(&ada), &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        s.store().group("acme", "sales").await.unwrap().is_none()
            && s.store().group("acme", "ops").await.unwrap().is_none()
    );
}

#[tokio::test]
async fn admins_edit_a_user_suspend_them_and_set_their_password() {
    let c = console().await;
    with_groups(&c).await;
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let (status, page, _) = c.get("/console/acme/users/sam", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Edit SAM Example") && page.contains(r#"value="sam@acme.test""#), "{page}");
    assert!(page.contains(">Sales</a>"), "the groups Sam is in are listed");
    let save = async |fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        c.post("/console/acme/users/sam", Some(&ada), &form).await
    };
    // A password too short: refused before anything is written, what was typed kept.
    let res = save(&[
        ("name", "Sam Renamed"),
        ("email", "sam@acme.test"),
        ("workspace_role", "creator"),
        ("active", "yes"),
        ("password", "short"),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("A password has 12 to 256 characters") && page.contains(r#"value="Sam Renamed""#), "{page}");
    assert_eq!(c.service.service.store().user("acme", "sam").await.unwrap().unwrap().name, "SAM Example");
    // An email another user has: refused and said.
    let res =
        save(&[("name", "Sam"), ("email", "ADA@acme.test"), ("workspace_role", "member"), ("active", "yes")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let res = save(&[
        ("name", "Sam Renamed"),
        ("email", "sam@acme.test"),
        ("workspace_role", "creator"),
        ("password", "another long passphrase"),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sam = c.service.service.store().user("acme", "sam").await.unwrap().unwrap();
    assert_eq!((sam.name.as_str(), sam.workspace_role.as_str()), ("Sam Renamed", "creator"));
    assert_eq!(
        c.service.service.snapshot().workspace("acme").unwrap().is_active("sam"),
        Some(false),
        "unticked: suspended"
    );
    let refused = c
        .post(
            "/console/sign-in",
            None,
            &[("workspace", "acme"), ("email", "sam@acme.test"), ("password", "another long passphrase")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "suspended users cannot sign in");
    let res =
        save(&[("name", "Sam Renamed"), ("email", "sam@acme.test"), ("workspace_role", "creator"), ("active", "yes")])
            .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = c
        .post(
            "/console/sign-in",
            None,
            &[("workspace", "acme"), ("email", "sam@acme.test"), ("password", "another long passphrase")],
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "active again, with the new password");
    let (cy, cy_csrf) = c.sign_in("cy@acme.test").await;
    assert_eq!(c.get("/console/acme/users/sam", Some(&cy)).await.0, StatusCode::FORBIDDEN);
    let res = c
        .post("/console/acme/users/sam", Some(&cy), &[("csrf", &cy_csrf), ("name", "X"), ("email", "x@acme.test")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// The CRM app: U01 and U03 runners, U02 admin, Sales (with Sam) runner; U03 active
/// lately, U01 long ago.
async fn with_crm(c: &Console) -> rolecall_model::ResourceRef {
    let s = &c.service.service;
    let crm = rolecall_model::ResourceRef::new("app", "crm");
    let resource = rolecall_model::Resource { resource: crm.clone(), name: "CRM".into(), parent: None };
    s.put_resource(&Actor::Root, "acme", resource).await.unwrap();
    for (u, role) in [("u01", "runner"), ("u02", "admin"), ("u03", "runner")] {
        s.put_grant(&Actor::Root, "acme", &crm, &rolecall_model::Subject::User(u.into()), role, false).await.unwrap();
    }
    s.put_grant(&Actor::Root, "acme", &crm, &rolecall_model::Subject::Group("sales".into()), "runner", false)
        .await
        .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    s.record_activity(&Actor::Root, "acme", "u03", Some(now)).await.unwrap();
    s.record_activity(&Actor::Root, "acme", "u01", Some(now - 10 * 86_400_000)).await.unwrap();
    crm
}

/// The names in the rules table, in order.
fn rule_names(page: &str) -> Vec<String> {
    let table = page.split("<tbody>").nth(1).map(|t| t.split("</tbody>").next().unwrap()).unwrap_or_default();
    table.split("<tr><td>").skip(1).map(|row| row.split("</td>").next().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_resources_rules_are_searched_filtered_by_role_and_sorted() {
    let c = console().await;
    with_groups(&c).await;
    with_crm(&c).await;
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let base = "/console/acme/resources/app/crm/permissions";
    let (status, page, _) = c.get(base, Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rule_names(&page), ["U01 Example", "U02 Example", "U03 Example"], "users by name");
    assert!(
        page.contains(r#"value="admin" checked"#) && page.contains(r#"value="runner" checked"#),
        "every role selected"
    );
    let (_, page, _) = c.get(&format!("{base}?tab=users&filtered=1&roles=admin"), Some(&ada)).await;
    assert_eq!(rule_names(&page), ["U02 Example"]);
    assert!(page.contains(r#"value="runner">"#) && !page.contains(r#"value="runner" checked"#), "the filter as chosen");
    let (_, page, _) = c.get(&format!("{base}?tab=users&filtered=1"), Some(&ada)).await;
    assert!(page.contains("No role is selected in the filter."));
    let (_, page, _) = c.get(&format!("{base}?tab=users&q=U01%40ACME"), Some(&ada)).await;
    assert_eq!(rule_names(&page), ["U01 Example"], "search by email, any case");
    let (_, page, _) =
        c.get(&format!("{base}?tab=users&sort=recent_activity&filtered=1&roles=runner&roles=admin"), Some(&ada)).await;
    assert_eq!(rule_names(&page)[..2], ["U03 Example".to_string(), "U01 Example".to_string()], "most recent first");
    assert!(page.contains("<td>today</td>") && page.contains("<td>10 days ago</td>"));
    let (_, page, _) = c.get(&format!("{base}?tab=groups"), Some(&ada)).await;
    assert_eq!(rule_names(&page), ["Sales"]);
    assert!(page.contains(r#"aria-current="page">Groups</a>"#));
    // htmx asks for the table alone.
    let fragment = c
        .http
        .get(format!("{}{base}?tab=users&q=u02", c.url))
        .header(COOKIE, &ada)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.starts_with(r#"<section id="rules""#) && rule_names(&fragment) == ["U02 Example"]);

    // The resources list: Ada sees the CRM; U01 sees it with their role; Sam holds a role
    // through Sales; Cy holds none and sees nothing, and the page is not there for them.
    let (_, page, _) = c.get("/console/acme/resources", Some(&ada)).await;
    assert!(page.contains("<td>CRM</td>"));
    c.service.service.set_password(&Actor::Root, "acme", "u01", PASSWORD).await.unwrap();
    let (u01, _) = c.sign_in("u01@acme.test").await;
    let (_, page, _) = c.get("/console/acme/resources", Some(&u01)).await;
    assert!(page.contains("<td>CRM</td><td>app</td><td>runner</td>"), "{page}");
    let (cy, _) = c.sign_in("cy@acme.test").await;
    let (_, page, _) = c.get("/console/acme/resources", Some(&cy)).await;
    assert!(!page.contains("CRM") && page.contains("No resource you may see"));
    assert_eq!(c.get(base, Some(&cy)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rules_are_added_once_a_new_role_asks_first_and_removal_is_confirmed() {
    let c = console().await;
    with_groups(&c).await;
    let crm = with_crm(&c).await;
    let s = &c.service.service;
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    let base = "/console/acme/resources/app/crm/permissions";
    let held = |u: &str| {
        s.snapshot().workspace("acme").unwrap().grant(&crm, &rolecall_model::Subject::User(u.into())).unwrap()
    };
    let add = async |who: &str, role: &str, replace: bool| {
        let mut form = vec![("csrf", csrf.as_str()), ("tab", "users"), ("who", who), ("role", role)];
        if replace {
            form.push(("replace", "yes"));
        }
        c.post(base, Some(&ada), &form).await
    };
    let res = add("U04@acme.test", "runner", false).await;
    assert_eq!(
        res.headers().get(LOCATION).unwrap(),
        "/console/acme/resources/app/crm/permissions?tab=users&done=added"
    );
    assert_eq!(held("u04").as_deref(), Some("runner"));
    let res = add("u04@acme.test", "runner", false).await;
    assert_eq!(
        res.headers().get(LOCATION).unwrap(),
        "/console/acme/resources/app/crm/permissions?tab=users&done=unchanged"
    );
    let (_, page, _) = c.get(&format!("{base}?tab=users&done=unchanged"), Some(&ada)).await;
    assert!(page.contains("That rule is already in place: nothing was added."));
    // Another role: asked, not changed.
    let res = add("u04@acme.test", "admin", false).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("already holds <strong>runner</strong>")
            && page.contains("Change to admin")
            && page.contains("Keep runner"),
        "{page}"
    );
    assert_eq!(held("u04").as_deref(), Some("runner"));
    let res = add("u04@acme.test", "admin", true).await;
    assert_eq!(
        res.headers().get(LOCATION).unwrap(),
        "/console/acme/resources/app/crm/permissions?tab=users&done=changed"
    );
    assert_eq!(held("u04").as_deref(), Some("admin"));
    // Unknown people and groups are said.
    let res = add("nobody@acme.test", "runner", false).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("No user has the email `nobody@acme.test`"));
    let res =
        c.post(base, Some(&ada), &[("csrf", &csrf), ("tab", "groups"), ("who", "board"), ("role", "runner")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        s.snapshot()
            .workspace("acme")
            .unwrap()
            .grant(&crm, &rolecall_model::Subject::Group("board".into()))
            .unwrap()
            .as_deref(),
        Some("runner")
    );

    // Remove rule: a dialog for htmx, a page without it; then the rule is gone.
    let dialog = c
        .http
        .get(format!("{}{base}/remove?user=u04", c.url))
        .header(COOKIE, &ada)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dialog.starts_with(r#"<dialog aria-labelledby="remove-title""#)
            && dialog.contains("loses the <strong>admin</strong> rule"),
        "{dialog}"
    );
    assert_eq!(c.get(&format!("{base}/remove?user=u05"), Some(&ada)).await.0, StatusCode::NOT_FOUND, "no such rule");
    assert_eq!(
        c.post(&format!("{base}/remove"), Some(&ada), &[("csrf", "forged"), ("user", "u04")]).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = c.post(&format!("{base}/remove"), Some(&ada), &[("csrf", &csrf), ("user", "u04")]).await;
    assert_eq!(
        res.headers().get(LOCATION).unwrap(),
        "/console/acme/resources/app/crm/permissions?tab=users&done=removed"
    );
    assert_eq!(held("u04"), None);

    // U01 holds runner: may not give admin, nor remove U02's admin rule; told so.
    c.service.service.set_password(&Actor::Root, "acme", "u01", PASSWORD).await.unwrap();
    let (u01, u01_csrf) = c.sign_in("u01@acme.test").await;
    let res = c
        .post(base, Some(&u01), &[("csrf", &u01_csrf), ("tab", "users"), ("who", "u05@acme.test"), ("role", "admin")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("nobody grants more than they hold"));
    let res = c.post(&format!("{base}/remove"), Some(&u01), &[("csrf", &u01_csrf), ("user", "u02")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(held("u02").as_deref(), Some("admin"));
}

#[tokio::test]
async fn the_access_explorer_explains_a_role_and_what_leaving_a_group_would_change() {
    let c = console().await;
    with_groups(&c).await;
    with_crm(&c).await;
    let s = &c.service.service;
    s.put_member(&Actor::Root, "acme", "sales", "u01", rolecall_model::MemberRole::Member).await.unwrap();
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let (status, page, _) = c.get("/console/acme/access?user=u01%40acme.test&resource=app%2Fcrm", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Effective role: <strong>runner</strong>"), "{page}");
    assert!(page.contains("U01 Example holds runner on CRM (app)"), "the direct rule: {page}");
    assert!(page.contains("U01 Example is a member of Sales → group Sales holds runner on CRM (app)"), "through Sales");
    let (_, page, _) =
        c.get("/console/acme/access?user=u01%40acme.test&resource=app%2Fcrm&leave=sales", Some(&ada)).await;
    assert!(page.contains("Leaving Sales changes nothing for U01 Example"), "{page}");

    // Sam holds the CRM only through Sales, whose one owner he is: he cannot leave it.
    let (_, page, _) =
        c.get("/console/acme/access?user=sam%40acme.test&resource=app%2Fcrm&leave=sales", Some(&ada)).await;
    assert!(
        page.contains("SAM Example cannot leave Sales as things are: group `sales` must keep at least one owner."),
        "{page}"
    );
    // With another owner, leaving would take the CRM away from him. Nothing changes.
    s.put_member(&Actor::Root, "acme", "sales", "u02", rolecall_model::MemberRole::Owner).await.unwrap();
    let (_, page, _) =
        c.get("/console/acme/access?user=sam%40acme.test&resource=app%2Fcrm&leave=sales", Some(&ada)).await;
    assert!(
        page.contains("Leaving Sales, SAM Example would have:") && page.contains("CRM (app): runner → no access"),
        "{page}"
    );
    assert!(s.snapshot().workspace("acme").unwrap().direct_role("sales", "sam").is_some(), "a preview changes nothing");
    // No access at all is said too.
    let (_, page, _) = c.get("/console/acme/access?user=u09%40acme.test&resource=app%2Fcrm", Some(&ada)).await;
    assert!(page.contains("Effective role: <strong>no access</strong>") && page.contains("Nothing gives access here"));

    // The resource picker narrows by name, for htmx.
    let options = async |cookie: &str, q: &str| {
        let url = format!("{}/console/acme/resource-options?id=pick&rq={q}", c.url);
        c.http.get(url).header(COOKIE, cookie).header("hx-request", "true").send().await.unwrap().text().await.unwrap()
    };
    let found = options(&ada, "cr").await;
    assert!(
        found.starts_with(r#"<div id="pick-pick""#) && found.contains(r#"<option value="app/crm">CRM (app)</option>"#),
        "{found}"
    );
    assert!(options(&ada, "zzz").await.contains("No resource you may see has that name."));
    // Sam explores his own access; not Ada's, and not a resource he holds nothing on.
    let (sam, _) = c.sign_in("sam@acme.test").await;
    let (status, page, _) = c.get("/console/acme/access?resource=app%2Fcrm", Some(&sam)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Effective role: <strong>runner</strong>") && page.contains(r#"value="sam@acme.test" readonly"#),
        "{page}"
    );
    let (status, page, _) = c.get("/console/acme/access?user=ada%40acme.test&resource=app%2Fcrm", Some(&sam)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("You may explore only your own access") && !page.contains("Effective role"));
    let (cy, _) = c.sign_in("cy@acme.test").await;
    assert!(!options(&cy, "cr").await.contains("CRM"), "Cy holds nothing on the CRM: it is not offered to him");
    let (status, page, _) = c.get("/console/acme/access?resource=app%2Fcrm", Some(&cy)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("CRM"), "{page}");
}

#[tokio::test]
async fn limits_are_refused_on_the_page_with_nothing_changed() {
    use rolecall_model::MemberRole;
    let c = console_with(Limits { max_groups: 2, max_owners: 2, max_members: 4 }).await;
    with_groups(&c).await;
    let (ada, csrf) = c.sign_in("ada@acme.test").await;
    // A third group: the workspace holds two at most.
    let res = c.post("/console/acme/groups", Some(&ada), &[("csrf", &csrf), ("name", "Third")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"role="alert""#) && page.contains("Limit reached: at most 2 groups"), "{page}");
    assert!(page.contains(r#"value="Third""#), "what was typed is kept");
    // Five users into Sales (Sam is in it): past four members, none is added.
    let mut form = vec![("csrf", csrf.as_str()), ("role", "member")];
    form.extend(["u01", "u02", "u03", "u04"].map(|u| ("users", u)));
    let res = c.post("/console/acme/groups/sales/members", Some(&ada), &form).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"role="alert""#) && page.contains("Limit reached: at most 4 members"), "{page}");
    assert_eq!(role_in(&c, "sales", "u01"), None, "all or nothing");
    // A third owner: two at most.
    let form = [("csrf", csrf.as_str()), ("users", "u01"), ("users", "u02"), ("role", "owner")];
    let res = c.post("/console/acme/groups/sales/members", Some(&ada), &form).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(res.text().await.unwrap().contains("Limit reached: at most 2 owners"));
    assert_eq!((role_in(&c, "sales", "u01"), role_in(&c, "sales", "sam")), (None, Some(MemberRole::Owner)));
}

#[tokio::test]
async fn a_body_that_is_not_a_form_gets_a_page_not_a_bare_error() {
    let c = console().await;
    with_groups(&c).await;
    let (ada, _) = c.sign_in("ada@acme.test").await;
    let post = async |path: &str, content_type: &str, body: &str, cookie: Option<&str>| {
        let mut req =
            c.http.post(format!("{}{path}", c.url)).header("content-type", content_type).body(body.to_string());
        if let Some(cookie) = cookie {
            req = req.header(COOKIE, cookie);
        }
        let res = req.send().await.unwrap();
        let html = res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html");
        (res.status(), html, res.text().await.unwrap())
    };
    for path in ["/console/acme/groups", "/console/acme/groups/sales/members", "/console/acme/groups/bulk"] {
        let (status, html, page) = post(path, "application/json", r#"{"name": "X"}"#, Some(&ada)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html && page.contains("This form has expired"), "{path}: {page}");
    }
    let (status, html, page) = post("/console/sign-in", "multipart/form-data; boundary=x", "--x--", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html && page.contains("The email or the password is wrong"));
    assert!(c.service.service.store().group("acme", "x").await.unwrap().is_none());
}

/// The e2e directory's packages installed from its lock file (`.ci/run` does it up front).
fn e2e_ready() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    if !dir.join("node_modules/playwright-core").exists() || !dir.join("node_modules/axe-core").exists() {
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("npm is needed for the browser tests: {e}"));
        assert!(out.status.success(), "npm ci failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// Every flow above in Debian's Chromium (with Sales, Board, the CRM and a policy), driven by playwright-core (`e2e/console.mjs`),
/// with screenshots of the main screens in `target/tmp/console-screenshots`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flows() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is needed for the browser tests: `apt-get install chromium` (Debian), or set CHROMIUM"
    );
    let c = console().await;
    with_groups(&c).await;
    with_crm(&c).await;
    let rules = std::collections::BTreeMap::from([("create_app".to_string(), rolecall_model::Effect::Deny)]);
    c.service.service.put_policy(&Actor::Root, "acme", "no-apps", "No new apps", rules).await.unwrap();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let url = c.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        let dir = e2e_ready();
        std::process::Command::new("node")
            .arg(dir.join("console.mjs"))
            .arg(url)
            .arg(&shots)
            .env("CHROMIUM", chromium)
            .output()
            .unwrap_or_else(|e| panic!("node is needed for the browser tests: {e}"))
    })
    .await
    .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("console flows: ok"), "{said}");
}
