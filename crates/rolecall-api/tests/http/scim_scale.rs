//! A group of 1,000,000 members through SCIM: its members are paged by rank (a page deep
//! in the group costs what the first does), its document refuses to list them all rather
//! than cutting the list short, and member edits never read the whole group. On the
//! embedded store (the PostgreSQL binary runs the other SCIM tests).

use std::time::{Duration, Instant};

use rolecall_model::{Group, Limits, MemberRole, Op, User, UserKind, Workspace};
use rolecall_service::{Actor, ImportChunk, MAX_IMPORT_CHUNK, Service};
use rolecall_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::app::App;
use crate::scim::{scim, scim_ok};

const MEMBERS: usize = 1_000_000;

fn user_id(i: usize) -> String {
    format!("u{i:07}")
}

/// A data directory holding workspace `acme` with `MEMBERS` users, all in group `big`,
/// written through the service's import (what `rolecall import` does).
async fn million_member_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
    let service = Service::open(store, Limits::default()).await.unwrap();
    let ws = Workspace { id: "acme".into(), name: "Acme".into() };
    service.create_workspace(&Actor::Root, ws, None).await.unwrap();
    let big = Group::new("big", "Everybody at Acme");
    let first = ImportChunk { groups: vec![big], ..ImportChunk::default() };
    service.import(&Actor::Root, "acme", first).await.unwrap();
    let per_chunk = MAX_IMPORT_CHUNK / 2;
    for start in (0..MEMBERS).step_by(per_chunk) {
        let mut chunk = ImportChunk::default();
        for i in start..(start + per_chunk).min(MEMBERS) {
            let id = user_id(i);
            chunk.users.push(User {
                id: id.clone(),
                email: format!("{id}@scale.test"),
                name: format!("User {i}"),
                workspace_role: "member".into(),
                kind: UserKind::Regular,
                last_active_at: None,
            });
            chunk.facts.push(Op::PutMember { group: "big".into(), user: id, role: MemberRole::Member });
        }
        service.import(&Actor::Root, "acme", chunk).await.unwrap();
    }
    dir
}

#[tokio::test]
async fn a_million_member_group_pages_its_members_by_rank() {
    let started = Instant::now();
    let dir = million_member_workspace().await;
    eprintln!("1,000,000 members imported in {:?}", started.elapsed());
    let app = App::start_in(dir, Limits::default()).await;
    let key = app.ok("POST", "/v1/workspaces/acme/api-keys", json!({"name": "idp"}), 201).await["key"]
        .as_str()
        .unwrap()
        .to_string();

    // The last page of the group's members, and one in the middle: exactly the users at
    // those ranks, with the total, each page fast.
    let members = "/Users?filter=groups.value%20eq%20%22big%22";
    let mut slowest = Duration::ZERO;
    for (start, first) in [(999_001usize, 999_000usize), (500_001, 500_000), (1, 0)] {
        let t = Instant::now();
        let page =
            scim_ok(&app, &key, "GET", &format!("{members}&startIndex={start}&count=1000"), Value::Null, 200).await;
        slowest = slowest.max(t.elapsed());
        assert_eq!(page["totalResults"], MEMBERS as u64);
        let ids: Vec<&str> = page["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert_eq!(ids.first().copied(), Some(user_id(first).as_str()));
        assert_eq!(ids.last().copied(), Some(user_id(first + 999).as_str()));
        assert_eq!(page["Resources"][0]["groups"][0]["value"], "big");
    }
    eprintln!("slowest page of 1,000 members: {slowest:?}");
    let past_the_end = scim_ok(&app, &key, "GET", &format!("{members}&startIndex=1000001"), Value::Null, 200).await;
    assert_eq!(
        (past_the_end["totalResults"].as_u64(), past_the_end["itemsPerPage"].as_u64()),
        (Some(1_000_000), Some(0))
    );

    // The group document will not list a million members, and says how to page them.
    let whole = scim(&app, &key, "GET", "/Groups/big", Value::Null).await;
    assert_eq!((whole.status.as_u16(), whole.body["scimType"].as_str()), (400, Some("tooMany")), "{}", whole.body);
    assert!(whole.body["detail"].as_str().unwrap().contains("groups.value eq"));
    let slim = scim_ok(&app, &key, "GET", "/Groups/big?excludedAttributes=members", Value::Null, 200).await;
    assert_eq!((slim["displayName"].as_str(), slim.get("members")), (Some("Everybody at Acme"), None));
    let listed = scim_ok(&app, &key, "GET", "/Groups?attributes=displayName", Value::Null, 200).await;
    assert_eq!(listed["totalResults"], 1);

    // Member edits touch only the members they name; the answer is 204 rather than the
    // whole group.
    let t = Instant::now();
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "remove", "path": "members[value eq \"u0000007\"]"},
        {"op": "replace", "path": "displayName", "value": "Almost everybody"},
    ]});
    scim_ok(&app, &key, "PATCH", "/Groups/big", remove, 204).await;
    eprintln!("PATCH removing one member of 1,000,000: {:?}", t.elapsed());
    let page = scim_ok(&app, &key, "GET", &format!("{members}&startIndex=1&count=10"), Value::Null, 200).await;
    assert_eq!(page["totalResults"], (MEMBERS - 1) as u64);
    assert_eq!(page["Resources"][7]["id"], "u0000008");
    let user = scim_ok(&app, &key, "GET", "/Users/u0000007", Value::Null, 200).await;
    assert!(user.get("groups").is_none(), "{user}");
    let found = scim_ok(
        &app,
        &key,
        "GET",
        "/Groups?filter=members%20eq%20%22u0000008%22&excludedAttributes=members",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(found["Resources"][0]["displayName"], "Almost everybody");
    app.stop().await;
}
