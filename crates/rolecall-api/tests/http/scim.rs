//! SCIM 2.0 over HTTP: an independent compliance checker (PyPI's scim2-tester, in a
//! virtualenv of its own) against a live server, and the behaviours an identity provider
//! relies on: users and groups provisioned by SCIM are ordinary Rolecall users and groups,
//! filters and paging, member edits in the forms IdPs send them, errors in SCIM's shape,
//! and a workspace's SCIM service sealed to it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::app::{Answer, App};

const S: &str = "/scim/v2/acme";
const W: &str = "/v1/workspaces/acme";

/// A workspace `acme` and an API key of it.
pub async fn workspace_with_key(app: &App) -> String {
    app.workspace("acme", Value::Null).await;
    let key = app.ok("POST", &format!("{W}/api-keys"), json!({"name": "idp"}), 201).await;
    key["key"].as_str().unwrap().to_string()
}

pub async fn scim(app: &App, key: &str, method: &str, path: &str, body: Value) -> Answer {
    let body = (!body.is_null()).then_some(body);
    app.send(method, &format!("{S}{path}"), key, None, body.as_ref()).await
}

/// `scim` that must answer `status`.
pub async fn scim_ok(app: &App, key: &str, method: &str, path: &str, body: Value, status: u16) -> Value {
    let a = scim(app, key, method, path, body).await;
    assert_eq!(a.status.as_u16(), status, "{method} {path}: {}", a.body);
    a.body
}

fn user_doc(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": email, "type": "work", "primary": true}],
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The Python of a virtualenv holding the pinned checker (made, or remade when
/// requirements.txt changed; `.ci/run` makes it up front). Fails loudly without Python.
fn checker_python() -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scim/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scim-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} could not start (Python 3 is needed): {e}"));
        assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(std::process::Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(&venv));
    run(std::process::Command::new(&python).args(["-m", "pip", "install", "-q", "-r"]).arg(&requirements));
    std::fs::write(&stamp, wanted).unwrap();
    python
}

#[tokio::test]
async fn an_independent_checker_finds_the_service_compliant() {
    let app = App::start().await;
    let key = workspace_with_key(&app).await;
    let base = app.url(S);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scim/check.py");
    let out = tokio::task::spawn_blocking(move || {
        let python = checker_python();
        std::process::Command::new(python).arg(script).arg(base).arg(key).output().unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scim2-tester: {report}\n{}", String::from_utf8_lossy(&out.stderr));
    // The whole suite ran: discovery, and every CRUD and PATCH check of both resource types.
    let passed = report.lines().filter(|l| l.starts_with("SUCCESS")).count();
    assert!(passed >= 60, "only {passed} checks passed:\n{report}");
    for kind in ["User", "Group"] {
        for check in ["object_creation", "object_replacement", "object_deletion", "check_replace_attribute"] {
            assert!(
                report.lines().any(|l| l.starts_with("SUCCESS") && l.contains(kind) && l.contains(check)),
                "no passing {check} for {kind}:\n{report}"
            );
        }
    }
}

#[tokio::test]
async fn users_provisioned_by_scim_are_rolecall_users() {
    let app = App::start().await;
    let key = workspace_with_key(&app).await;
    let created = scim(&app, &key, "POST", "/Users", user_doc("bjensen", "bjensen@example.com")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["meta"]["location"], app.url(&format!("{S}/Users/{id}")));
    assert_eq!(created.body["displayName"], Value::Null, "no displayName was written");
    // Rolecall's own user: the work email, a name from the name parts, the default role.
    let user = app.ok("GET", &format!("{W}/users/{id}"), Value::Null, 200).await;
    assert_eq!((user["email"].as_str(), user["name"].as_str()), (Some("bjensen@example.com"), Some("Barbara Jensen")));
    assert_eq!(user["workspace_role"], "member");

    // Found by userName without regard to case, and by externalId exactly.
    let found = scim_ok(&app, &key, "GET", "/Users?filter=userName%20eq%20%22BJensen%22", Value::Null, 200).await;
    assert_eq!((found["totalResults"].as_u64(), found["Resources"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
    scim_ok(
        &app,
        &key,
        "PATCH",
        &format!("/Users/{id}"),
        patch(json!([{"op": "add", "path": "externalId", "value": "okta-1"}])),
        200,
    )
    .await;
    let by_external =
        scim_ok(&app, &key, "GET", "/Users?filter=externalId%20eq%20%22okta-1%22", Value::Null, 200).await;
    assert_eq!(by_external["totalResults"], 1);
    let not_exact = scim_ok(&app, &key, "GET", "/Users?filter=externalId%20eq%20%22OKTA-1%22", Value::Null, 200).await;
    assert_eq!(not_exact["totalResults"], 0);

    // A change made through Rolecall's API shows in SCIM.
    app.ok("PATCH", &format!("{W}/users/{id}"), json!({"name": "Babs Jensen"}), 200).await;
    let doc = scim_ok(&app, &key, "GET", &format!("/Users/{id}"), Value::Null, 200).await;
    assert_eq!(doc["displayName"], "Babs Jensen");
    assert_eq!(doc["name"]["givenName"], "Barbara", "what the client wrote stays");

    // A user created through the API reads with their email as userName.
    app.user("acme", "carol", "member").await;
    let carol = scim_ok(&app, &key, "GET", "/Users/carol", Value::Null, 200).await;
    assert_eq!(
        (carol["userName"].as_str(), carol["emails"][0]["value"].as_str()),
        (Some("carol@example.test"), Some("carol@example.test"))
    );
    let taken = scim(&app, &key, "POST", "/Users", user_doc("CAROL@example.test", "c2@example.com")).await;
    assert_eq!((taken.status.as_u16(), taken.body["scimType"].as_str()), (409, Some("uniqueness")), "{}", taken.body);
    let taken = scim(&app, &key, "POST", "/Users", user_doc("BJENSEN", "other@example.com")).await;
    assert_eq!((taken.status.as_u16(), taken.body["scimType"].as_str()), (409, Some("uniqueness")), "{}", taken.body);
    assert_eq!(taken.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(taken.body["status"], "409", "SCIM's status is a string");

    // Refusals that leave nothing behind.
    let before = app.ok("GET", &format!("{W}/users"), Value::Null, 200).await["items"].as_array().unwrap().len();
    let no_email = scim(&app, &key, "POST", "/Users", json!({"schemas": [], "userName": "no-mail"})).await;
    assert_eq!((no_email.status.as_u16(), no_email.body["scimType"].as_str()), (400, Some("invalidValue")));
    assert!(no_email.body["detail"].as_str().unwrap().contains("email"), "{}", no_email.body);
    let bad_active = scim(&app, &key, "POST", "/Users", json!({"userName": "x@example.com", "active": "maybe"})).await;
    assert_eq!((bad_active.status.as_u16(), bad_active.body["scimType"].as_str()), (400, Some("invalidValue")));
    let wrong_type =
        scim(&app, &key, "POST", "/Users", json!({"userName": "y@example.com", "emails": "y@example.com"})).await;
    assert_eq!((wrong_type.status.as_u16(), wrong_type.body["scimType"].as_str()), (400, Some("invalidValue")));
    let not_json = app.send("POST", &format!("{S}/Users"), &key, None, Some(&json!("not an object"))).await;
    assert_eq!(not_json.status, 400);
    let after = app.ok("GET", &format!("{W}/users"), Value::Null, 200).await["items"].as_array().unwrap().len();
    assert_eq!(before, after);

    // A userName that is an address is enough; a password is never kept or shown.
    let d = scim_ok(
        &app,
        &key,
        "POST",
        "/Users",
        json!({"userName": "dan@example.com", "password": "hunter2", "active": true}),
        201,
    )
    .await;
    assert_eq!(d["emails"][0]["value"], "dan@example.com");
    assert!(!d.to_string().contains("hunter2"));
    let export = app.ok("GET", &format!("{W}/export"), Value::Null, 200).await;
    assert!(!export.to_string().contains("hunter2"));

    // Replacing keeps the user's workspace role; deleting removes them.
    app.ok("PATCH", &format!("{W}/users/{id}"), json!({"workspace_role": "admin"}), 200).await;
    scim_ok(&app, &key, "PUT", &format!("/Users/{id}"), user_doc("bjensen", "barbara@example.com"), 200).await;
    let user = app.ok("GET", &format!("{W}/users/{id}"), Value::Null, 200).await;
    assert_eq!((user["email"].as_str(), user["workspace_role"].as_str()), (Some("barbara@example.com"), Some("admin")));
    scim_ok(&app, &key, "DELETE", &format!("/Users/{id}"), Value::Null, 204).await;
    scim_ok(&app, &key, "GET", &format!("/Users/{id}"), Value::Null, 404).await;
    scim_ok(&app, &key, "DELETE", &format!("/Users/{id}"), Value::Null, 404).await;
    assert_eq!(app.root("GET", &format!("{W}/users/{id}"), Value::Null).await.status, 404);
}

async fn check(app: &App, user: &str) -> bool {
    let body = json!({"subject": {"user": user}, "action": "run", "resource": {"type": "app", "id": "wiki"}});
    app.ok("POST", &format!("{W}/check"), body, 200).await["allowed"].as_bool().unwrap()
}

#[tokio::test]
async fn groups_provisioned_by_scim_decide_access() {
    let app = App::start().await;
    app.workspace("acme", crate::app::apps_schema()).await;
    let key = app.ok("POST", &format!("{W}/api-keys"), json!({"name": "idp"}), 201).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    for u in ["ann", "bob"] {
        app.user("acme", u, "member").await;
    }
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "wiki", "name": "Wiki"}), 201).await;
    let group = scim_ok(
        &app,
        &key,
        "POST",
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
               "externalId": "eng", "members": [{"value": "ann", "type": "User"}]}),
        201,
    )
    .await;
    let g = group["id"].as_str().unwrap().to_string();
    assert_eq!(group["members"], json!([{"value": "ann", "$ref": app.url(&format!("{S}/Users/ann")), "type": "User"}]));
    // An ordinary Rolecall group: granted a role, its members get access.
    let grant = json!({"subject": {"group": g}, "role": "runner"});
    app.ok("PUT", &format!("{W}/resources/app/wiki/grants"), grant, 201).await;
    assert!(check(&app, "ann").await);
    assert!(!check(&app, "bob").await);

    // Members in the forms identity providers send: Azure's capitalised op and bare values,
    // Okta's value filter on remove.
    scim_ok(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{"op": "Add", "path": "members", "value": [{"value": "bob"}]}])),
        200,
    )
    .await;
    assert!(check(&app, "bob").await);
    scim_ok(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{"op": "remove", "path": "members[value eq \"ann\"]"}])),
        200,
    )
    .await;
    assert!(!check(&app, "ann").await, "a removed member loses the group's access");
    // Removing someone who is not there, or adding someone who is, changes nothing.
    let same = scim_ok(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([
            {"op": "remove", "path": "members", "value": [{"value": "ann"}]},
            {"op": "add", "path": "members", "value": [{"value": "bob"}]},
        ])),
        200,
    )
    .await;
    assert_eq!(same["members"].as_array().unwrap().len(), 1);
    // An unknown member refuses the whole request: the rename in it does not happen.
    let refused = scim(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": "nobody"}]},
        ])),
    )
    .await;
    assert_eq!(
        (refused.status.as_u16(), refused.body["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{}",
        refused.body
    );
    assert_eq!(app.ok("GET", &format!("{W}/groups/{g}"), Value::Null, 200).await["name"], "Engineering");

    // A nested group, and what each user's groups say.
    let ops =
        scim_ok(&app, &key, "POST", "/Groups", json!({"displayName": "Ops", "members": [{"value": "ann"}]}), 201).await;
    let o = ops["id"].as_str().unwrap().to_string();
    scim_ok(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{"op": "add", "path": "members", "value": [{"value": o, "type": "Group"}]}])),
        200,
    )
    .await;
    assert!(check(&app, "ann").await, "through the nested group");
    let ann = scim_ok(&app, &key, "GET", "/Users/ann", Value::Null, 200).await;
    let mut groups: Vec<(String, String)> = ann["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["display"].as_str().unwrap().to_string(), x["type"].as_str().unwrap().to_string()))
        .collect();
    groups.sort();
    assert_eq!(groups, vec![("Engineering".into(), "indirect".into()), ("Ops".into(), "direct".into())]);
    let members_of =
        scim_ok(&app, &key, "GET", &format!("/Users?filter=groups.value%20eq%20%22{g}%22"), Value::Null, 200).await;
    assert_eq!(members_of["totalResults"], 2, "users at any depth");
    let with_ann = scim_ok(&app, &key, "GET", "/Groups?filter=members%20eq%20%22ann%22", Value::Null, 200).await;
    assert_eq!(
        (with_ann["totalResults"].as_u64(), with_ann["Resources"][0]["id"].as_str()),
        (Some(1), Some(o.as_str()))
    );
    let by_name = scim_ok(
        &app,
        &key,
        "GET",
        "/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(by_name["Resources"][0]["id"], g.as_str());
    assert!(by_name["Resources"][0].get("members").is_none());

    // PUT replaces the members; a group name is unique without regard to case.
    scim_ok(
        &app,
        &key,
        "PUT",
        &format!("/Groups/{g}"),
        json!({"displayName": "Engineering", "members": [{"value": "ann"}]}),
        200,
    )
    .await;
    assert!(!check(&app, "bob").await);
    let dup = scim(&app, &key, "POST", "/Groups", json!({"displayName": "OPS"})).await;
    assert_eq!((dup.status.as_u16(), dup.body["scimType"].as_str()), (409, Some("uniqueness")), "{}", dup.body);

    // The built-in groups are not SCIM's.
    let listed = scim_ok(&app, &key, "GET", "/Groups", Value::Null, 200).await;
    assert_eq!(listed["totalResults"], 2);
    scim_ok(&app, &key, "GET", "/Groups/everyone", Value::Null, 404).await;
    scim_ok(&app, &key, "DELETE", "/Groups/workspace-admins", Value::Null, 404).await;
    let nest_builtin = scim(
        &app,
        &key,
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{"op": "add", "path": "members", "value": [{"value": "everyone", "type": "Group"}]}])),
    )
    .await;
    assert_eq!(nest_builtin.status, 400);

    // Deactivating a user (Azure sends the boolean as a string) suspends them: the group's
    // access is gone, the membership stays, and a replacement that leaves `active` out does
    // not lift the suspension.
    let off = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let ann_off = scim_ok(&app, &key, "PATCH", "/Users/ann", off, 200).await;
    assert_eq!(ann_off["active"], false);
    assert!(!check(&app, "ann").await);
    assert_eq!(app.ok("GET", &format!("{W}/users/ann"), Value::Null, 200).await["active"], false);
    let why = app
        .ok(
            "POST",
            &format!("{W}/explain"),
            json!({"subject": {"user": "ann"}, "action": "run", "resource": {"type": "app", "id": "wiki"}}),
            200,
        )
        .await;
    assert_eq!(why["allowed"], false);
    assert!(why.to_string().contains("suspended"), "{why}");
    let mut doc = scim_ok(&app, &key, "GET", "/Users/ann", Value::Null, 200).await;
    doc.as_object_mut().unwrap().remove("active");
    scim_ok(&app, &key, "PUT", "/Users/ann", doc, 200).await;
    assert!(!check(&app, "ann").await, "still suspended");
    let lookup = app
        .ok(
            "POST",
            &format!("{W}/lookup/subjects"),
            json!({"resource": {"type": "app", "id": "wiki"}, "action": "run"}),
            200,
        )
        .await;
    assert!(!lookup.to_string().contains("\"ann\""), "{lookup}");
    scim_ok(&app, &key, "PATCH", "/Users/ann", patch(json!([{"op": "replace", "value": {"active": true}}])), 200).await;
    assert!(check(&app, "ann").await, "active again, with the group's access");

    // Deleting the group takes its access away.
    scim_ok(&app, &key, "DELETE", &format!("/Groups/{g}"), Value::Null, 204).await;
    assert!(!check(&app, "ann").await);
}

#[tokio::test]
async fn lists_page_filter_and_cut_attributes() {
    let app = App::start().await;
    let key = workspace_with_key(&app).await;
    for i in 0..25 {
        app.user("acme", &format!("user{i:02}"), "member").await;
    }
    let page = scim_ok(&app, &key, "GET", "/Users?startIndex=11&count=10", Value::Null, 200).await;
    assert_eq!(
        (page["totalResults"].as_u64(), page["startIndex"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(25), Some(11), Some(10))
    );
    let ids: Vec<&str> = page["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.first().copied(), Some("user10"));
    assert_eq!(ids.last().copied(), Some("user19"));
    let tail = scim_ok(&app, &key, "GET", "/Users?startIndex=21&count=10", Value::Null, 200).await;
    assert_eq!(tail["itemsPerPage"], 5);
    let none = scim_ok(&app, &key, "GET", "/Users?count=0", Value::Null, 200).await;
    assert_eq!((none["totalResults"].as_u64(), none["itemsPerPage"].as_u64()), (Some(25), Some(0)));

    // A filter no index answers reads every user, pages and counts the matches.
    let sw =
        scim_ok(&app, &key, "GET", "/Users?filter=userName%20sw%20%22USER1%22&count=4&startIndex=3", Value::Null, 200)
            .await;
    assert_eq!(sw["totalResults"], 10);
    let ids: Vec<&str> = sw["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["user12", "user13", "user14", "user15"]);
    let complex = "/Users?filter=(emails%20co%20%22user0%22%20or%20userName%20eq%20%22user24%40example.test%22)%20and%20not%20(userName%20ew%20%22user00%40example.test%22)";
    assert_eq!(scim_ok(&app, &key, "GET", complex, Value::Null, 200).await["totalResults"], 10);

    // The same through POST .search, with attributes cut down.
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName eq \"user07@example.test\"", "attributes": ["userName", "emails.value"]});
    let found = scim_ok(&app, &key, "POST", "/Users/.search", search, 200).await;
    let doc = &found["Resources"][0];
    let mut keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["emails", "id", "schemas", "userName"]);
    assert_eq!(doc["emails"], json!([{"value": "user07@example.test"}]));
    let excluded =
        scim_ok(&app, &key, "GET", "/Users/user07?excludedAttributes=emails,displayName", Value::Null, 200).await;
    assert!(
        excluded.get("emails").is_none() && excluded.get("displayName").is_none() && excluded["userName"].is_string()
    );

    // Refusals in SCIM's words.
    for (path, scim_type) in [
        ("/Users?filter=userName%20xx%20%22a%22", "invalidFilter"),
        ("/Users?filter=nope%20eq%20%22a%22", "invalidFilter"),
        ("/Users?filter=userName%20eq", "invalidFilter"),
        ("/Users?startIndex=abc", "invalidValue"),
    ] {
        let a = scim(&app, &key, "GET", path, Value::Null).await;
        assert_eq!((a.status.as_u16(), a.body["scimType"].as_str()), (400, Some(scim_type)), "{path}: {}", a.body);
    }
    let bad_patch = scim(&app, &key, "PATCH", "/Users/user01", json!({"Operations": []})).await;
    assert_eq!((bad_patch.status.as_u16(), bad_patch.body["scimType"].as_str()), (400, Some("invalidSyntax")));
    let read_only =
        scim(&app, &key, "PATCH", "/Users/user01", patch(json!([{"op": "replace", "path": "groups", "value": []}])))
            .await;
    assert_eq!((read_only.status.as_u16(), read_only.body["scimType"].as_str()), (400, Some("mutability")));
    assert_eq!(scim(&app, &key, "GET", "/Nope", Value::Null).await.status, 404);
    // Bulk is not offered (the configuration says so): 501, as RFC 7644 §3.12 has it.
    let bulk = reqwest::Client::new()
        .post(app.url(&format!("{S}/Bulk")))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status(), 501);

    // POST /.search lists users, then groups; a filter on an attribute of one selects from it.
    scim_ok(&app, &key, "POST", "/Groups", json!({"displayName": "Team", "members": [{"value": "user03"}]}), 201).await;
    let all = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 24, "count": 3});
    let both = scim_ok(&app, &key, "POST", "/.search", all, 200).await;
    assert_eq!(both["totalResults"], 26);
    let kinds: Vec<&str> =
        both["Resources"].as_array().unwrap().iter().map(|r| r["meta"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["User", "User", "Group"]);
    let only_groups = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName eq \"team\""});
    let teams = scim_ok(&app, &key, "POST", "/.search", only_groups, 200).await;
    assert_eq!(
        (teams["totalResults"].as_u64(), teams["Resources"][0]["displayName"].as_str()),
        (Some(1), Some("Team"))
    );
    let big = json!({"userName": "big@example.com", "title": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(scim(&app, &key, "POST", "/Users", big).await.status, 413);
}

#[tokio::test]
async fn a_workspace_scim_service_is_sealed_to_it() {
    let app = App::start().await;
    let key = workspace_with_key(&app).await;
    app.workspace("other", Value::Null).await;
    app.user("other", "zed", "member").await;
    let other_key = app.ok("POST", "/v1/workspaces/other/api-keys", json!({"name": "idp"}), 201).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    // No key, a wrong key: 401 in SCIM's shape.
    let none = app.send("GET", &format!("{S}/Users"), "", None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(scim(&app, "rk_wrong", "GET", "/ServiceProviderConfig", Value::Null).await.status, 401);
    // Another workspace's key finds nothing here, not even that a user exists.
    for path in ["/Users", "/Users/zed", "/Groups", "/ServiceProviderConfig"] {
        let a = scim(&app, &other_key, "GET", path, Value::Null).await;
        assert_eq!(a.status, 404, "{path}: {}", a.body);
        assert!(!a.body.to_string().contains("zed"));
    }
    // This workspace's key does not see the other's user either.
    scim_ok(&app, &key, "GET", "/Users/zed", Value::Null, 404).await;
    let listed =
        scim_ok(&app, &key, "GET", "/Users?filter=userName%20eq%20%22zed%40example.test%22", Value::Null, 200).await;
    assert_eq!(listed["totalResults"], 0);
    // The root key works everywhere.
    scim_ok(&app, crate::app::ROOT, "GET", "/ServiceProviderConfig", Value::Null, 200).await;
}
