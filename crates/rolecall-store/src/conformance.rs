//! The conformance suite every backend passes: each backend's tests call [`run`] with a
//! way to make an empty store. It asserts with panics, like any test.

// An assertion suite: failing loudly is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use rolecall_model::{
    Change, Group, Notify, Op, Resource, ResourceRef, Revision, Subject, User, UserKind, Visibility, Workspace,
};
use serde_json::json;

use crate::{
    ApiKey, Attempt, AttemptNext, AuditRecord, Batch, DeliveryState, Event, GrantQuery, GrantSort, NotificationRecord,
    PageRequest, ScimUser, ScimUserKey, ScimUserRow, Session, Store, StoreError, Webhook, Write,
};

/// Runs every conformance check, each on a fresh store from `fresh`.
pub async fn run<S: Store, F: Fn() -> Fut, Fut: Future<Output = S>>(fresh: F) {
    an_empty_store_has_no_changes(fresh().await).await;
    changes_get_consecutive_revisions_and_read_back_in_order(fresh().await).await;
    a_batch_is_written_only_if_the_head_is_as_expected(fresh().await).await;
    a_conflict_writes_nothing_of_the_batch(fresh().await).await;
    directory_rows_read_back_and_search_and_page(fresh().await).await;
    deleting_a_workspace_deletes_its_rows(fresh().await).await;
    workspaces_are_sealed(fresh().await).await;
    audit_entries_are_kept_and_filtered_by_actor(fresh().await).await;
    rules_are_listed_by_tab_search_role_and_sort(fresh().await).await;
    api_keys_are_found_by_hash_only(fresh().await).await;
    labels_are_kept_by_key_and_go_with_their_group(fresh().await).await;
    resources_list_by_type_and_search_and_page(fresh().await).await;
    the_schema_reads_back_as_written(fresh().await).await;
    events_become_deliveries_of_the_webhooks_that_want_them(fresh().await).await;
    deliveries_are_claimed_once_retried_and_die_and_can_be_redelivered(fresh().await).await;
    a_failed_batch_leaves_no_delivery_and_no_notification(fresh().await).await;
    notifications_carry_the_revision_of_their_change(fresh().await).await;
    scim_rows_are_found_by_user_name_and_external_id_and_go_with_their_user(fresh().await).await;
    passwords_and_sessions_go_with_their_user(fresh().await).await;
}

pub fn workspace_batch(id: &str) -> Batch {
    Batch {
        actor: "root".into(),
        at: 1_700_000_000_000,
        writes: vec![Write::PutWorkspace {
            workspace: Workspace { id: id.into(), name: format!("Workspace {id}") },
            schema: json!({}),
        }],
        changes: vec![Change::new(id, Op::CreateWorkspace { schema: rolecall_model::SchemaDoc::default_schema() })],
        audit: vec![AuditRecord {
            workspace: id.into(),
            action: "workspace.create".into(),
            target: format!("workspace:{id}"),
            before: None,
            after: Some(json!({"id": id})),
        }],
        ..Batch::default()
    }
}

pub fn user(id: &str, email: &str, name: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        name: name.into(),
        workspace_role: "member".into(),
        kind: UserKind::Regular,
        last_active_at: None,
    }
}

pub fn group(id: &str, name: &str, tags: &[&str]) -> Group {
    Group {
        description: format!("The {name} team"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Group::new(id, name)
    }
}

fn user_batch(ws: &str, u: User) -> Batch {
    Batch {
        actor: "root".into(),
        at: 1_700_000_000_001,
        changes: vec![Change::new(
            ws,
            Op::PutUser { user: u.id.clone(), workspace_role: u.workspace_role.clone(), kind: u.kind },
        )],
        writes: vec![Write::PutUser { workspace: ws.into(), user: u }],
        ..Batch::default()
    }
}

async fn an_empty_store_has_no_changes<S: Store>(store: S) {
    assert_eq!(store.head().await.unwrap(), Revision(0));
    assert!(store.changes_after(Revision(0), 100).await.unwrap().is_empty());
    assert_eq!(store.workspace("acme").await.unwrap(), None);
}

async fn changes_get_consecutive_revisions_and_read_back_in_order<S: Store>(store: S) {
    let revisions = store.commit(workspace_batch("acme")).await.unwrap();
    assert_eq!(revisions, vec![Revision(1)]);
    let mut batch = user_batch("acme", user("ann", "ann@example.com", "Ann"));
    batch.changes.push(Change::new(
        "acme",
        Op::PutGroup {
            group: "team".into(),
            visibility: Visibility::Private,
            apply_privileges: true,
            notify: Notify::None,
        },
    ));
    assert_eq!(store.commit(batch.clone()).await.unwrap(), vec![Revision(2), Revision(3)]);
    assert_eq!(store.head().await.unwrap(), Revision(3));
    let all = store.changes_after(Revision(0), 100).await.unwrap();
    assert_eq!(all.iter().map(|c| c.revision).collect::<Vec<_>>(), vec![Revision(1), Revision(2), Revision(3)]);
    assert_eq!(all[1].change, batch.changes[0]);
    assert_eq!(all[2].change, batch.changes[1]);
    assert_eq!(all[1].at, batch.at);
    store.commit(workspace_batch("beta")).await.unwrap();
    let acme: Vec<Revision> =
        store.workspace_changes("acme", Revision(0), 100).await.unwrap().iter().map(|c| c.revision).collect();
    assert_eq!(acme, [Revision(1), Revision(2), Revision(3)], "one workspace's changes only");
    let beta = store.workspace_changes("beta", Revision(1), 100).await.unwrap();
    assert_eq!(beta.len(), 1);
    assert_eq!(beta[0].revision, Revision(4));
    let tail = store.changes_after(Revision(1), 1).await.unwrap();
    assert_eq!(tail.len(), 1, "limit is honoured");
    assert_eq!(tail[0].revision, Revision(2));
}

async fn a_batch_is_written_only_if_the_head_is_as_expected<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    let mut stale = user_batch("acme", user("ann", "ann@example.com", "Ann"));
    stale.expected_head = Some(Revision(0));
    assert_eq!(store.commit(stale.clone()).await, Err(StoreError::HeadMoved { expected: 0, actual: 1 }));
    assert_eq!(store.head().await.unwrap(), Revision(1));
    assert_eq!(store.user("acme", "ann").await.unwrap(), None, "nothing of a refused batch is written");
    stale.expected_head = Some(Revision(1));
    assert_eq!(store.commit(stale).await.unwrap(), vec![Revision(2)]);
}

async fn a_conflict_writes_nothing_of_the_batch<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(user_batch("acme", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    // The same email in another case, in a batch that also writes a group.
    let mut batch = user_batch("acme", user("ann2", "ANN@example.com", "Ann Two"));
    batch.writes.insert(0, Write::PutGroup { workspace: "acme".into(), group: group("team", "Team", &[]) });
    let err = store.commit(batch).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("ANN@example.com"), "the conflict names the value: {err}");
    assert_eq!(store.head().await.unwrap(), Revision(2));
    assert_eq!(store.group("acme", "team").await.unwrap(), None);
    assert_eq!(store.user("acme", "ann2").await.unwrap(), None);
    // Users written together (an import) are refused together, and the refusal names the value.
    let mut batch = user_batch("acme", user("cy", "cy@example.com", "Cy"));
    batch.writes.push(Write::PutUser { workspace: "acme".into(), user: user("dee", "dee@example.com", "Dee") });
    batch.writes.push(Write::PutUser { workspace: "acme".into(), user: user("eve", "Ann@Example.com", "Eve") });
    let err = store.commit(batch).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("Ann@Example.com")), "{err:?}");
    assert_eq!(store.user("acme", "cy").await.unwrap(), None);
    assert_eq!(store.head().await.unwrap(), Revision(2));
    let mut batch = user_batch("acme", user("cy", "cy@example.com", "Cy"));
    batch.writes.push(Write::PutUser { workspace: "acme".into(), user: user("dee", "dee@example.com", "Dee") });
    store.commit(batch).await.unwrap();
    assert_eq!(store.user("acme", "dee").await.unwrap().unwrap().email, "dee@example.com");
    // Group names are unique without regard to case too.
    let g = |id: &str, name: &str| Batch {
        actor: "root".into(),
        writes: vec![Write::PutGroup { workspace: "acme".into(), group: group(id, name, &[]) }],
        ..Batch::default()
    };
    store.commit(g("a", "Sales")).await.unwrap();
    assert!(matches!(store.commit(g("b", "sales")).await, Err(StoreError::Conflict(_))));
    // Renaming a group to its own name in another case is not a conflict.
    store.commit(g("a", "SALES")).await.unwrap();
    assert_eq!(store.group("acme", "a").await.unwrap().unwrap().name, "SALES");
}

async fn directory_rows_read_back_and_search_and_page<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    assert_eq!(
        store.workspace("acme").await.unwrap(),
        Some(Workspace { id: "acme".into(), name: "Workspace acme".into() })
    );
    let mut ann = user("ann", "ann@example.com", "Ann Lee");
    ann.kind = UserKind::OneTime;
    ann.last_active_at = Some(1_700_000_000_123);
    for u in [ann.clone(), user("bob", "bob@corp.io", "Bob Marley"), user("cid", "cid@example.com", "Cid Lee")] {
        store.commit(user_batch("acme", u)).await.unwrap();
    }
    assert_eq!(store.user("acme", "ann").await.unwrap(), Some(ann.clone()));
    let ids = |p: &crate::Page<User>| p.items.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let lee = store.users("acme", Some("LEE"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert_eq!(ids(&lee), ["ann", "cid"], "search by name, any case");
    let corp = store.users("acme", Some("corp.io"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert_eq!(ids(&corp), ["bob"], "search by email");
    let first = store.users("acme", None, PageRequest { after: None, limit: 2 }).await.unwrap();
    assert_eq!(ids(&first), ["ann", "bob"]);
    let second = store.users("acme", None, PageRequest { after: first.next.clone(), limit: 2 }).await.unwrap();
    assert_eq!(ids(&second), ["cid"]);
    assert_eq!(second.next, None, "the last page says so");
    // A search string is data, never SQL or a pattern.
    let odd = store.users("acme", Some("%' OR 1=1 --"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert!(odd.items.is_empty());
    let pct = store.users("acme", Some("%"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert!(pct.items.is_empty(), "`%` is matched literally");

    let mut marketing = group("marketing", "Marketing", &["team", "emea"]);
    marketing.icon = Some("📣".into());
    marketing.visibility = Visibility::Private;
    for g in [marketing.clone(), group("sales", "Sales", &["team"]), group("ops", "Ops", &[])] {
        let b = Batch {
            actor: "root".into(),
            writes: vec![Write::PutGroup { workspace: "acme".into(), group: g }],
            ..Batch::default()
        };
        store.commit(b).await.unwrap();
    }
    assert_eq!(store.group("acme", "marketing").await.unwrap(), Some(marketing));
    let gids = |p: &crate::Page<Group>| p.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>();
    let team = store.groups("acme", None, Some("team"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert_eq!(gids(&team), ["marketing", "sales"]);
    let q = store.groups("acme", Some("sal"), None, PageRequest { after: None, limit: 10 }).await.unwrap();
    assert_eq!(gids(&q), ["sales"]);

    let b = Batch {
        actor: "root".into(),
        writes: vec![
            Write::DeleteUser { workspace: "acme".into(), user: "bob".into() },
            Write::DeleteGroup { workspace: "acme".into(), group: "ops".into() },
        ],
        ..Batch::default()
    };
    store.commit(b).await.unwrap();
    assert_eq!(store.user("acme", "bob").await.unwrap(), None);
    assert_eq!(store.group("acme", "ops").await.unwrap(), None);
}

async fn deleting_a_workspace_deletes_its_rows<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(user_batch("acme", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    let b = Batch {
        actor: "root".into(),
        writes: vec![Write::DeleteWorkspace { workspace: "acme".into() }],
        changes: vec![Change::new("acme", Op::DeleteWorkspace)],
        ..Batch::default()
    };
    store.commit(b).await.unwrap();
    assert_eq!(store.workspace("acme").await.unwrap(), None);
    assert_eq!(store.user("acme", "ann").await.unwrap(), None);
    // The id and the email are free again.
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(user_batch("acme", user("ann", "ann@example.com", "Ann"))).await.unwrap();
}

async fn workspaces_are_sealed<S: Store>(store: S) {
    store.commit(workspace_batch("a")).await.unwrap();
    store.commit(workspace_batch("b")).await.unwrap();
    store.commit(user_batch("a", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    // The same id and email in another workspace are not a conflict...
    store.commit(user_batch("b", user("ann", "ann@example.com", "Other Ann"))).await.unwrap();
    // ...and nothing of one workspace shows in the other.
    assert_eq!(store.user("b", "ann").await.unwrap().unwrap().name, "Other Ann");
    let found = store.users("b", Some("ann"), PageRequest { after: None, limit: 10 }).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(store.audit("b", 0, None, 100).await.unwrap().iter().all(|e| e.record.workspace == "b"));
}

async fn audit_entries_are_kept_and_filtered_by_actor<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    let mut b = user_batch("acme", user("ann", "ann@example.com", "Ann"));
    b.actor = "ann".into();
    b.audit.push(AuditRecord {
        workspace: "acme".into(),
        action: "user.create".into(),
        target: "user:ann".into(),
        before: None,
        after: Some(json!({"email": "ann@example.com"})),
    });
    store.commit(b).await.unwrap();
    let all = store.audit("acme", 0, None, 100).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].record.action, "workspace.create");
    assert_eq!(all[1].actor, "ann");
    assert_eq!(all[1].revision, Revision(2));
    assert_eq!(all[1].record.after, Some(json!({"email": "ann@example.com"})));
    let by_ann = store.audit("acme", 0, Some("ann"), 100).await.unwrap();
    assert_eq!(by_ann.len(), 1);
    let after_first = store.audit("acme", all[0].id, None, 100).await.unwrap();
    assert_eq!(after_first.len(), 1);
}

fn writes(writes: Vec<Write>, at: i64) -> Batch {
    Batch { actor: "root".into(), at, writes, ..Batch::default() }
}

async fn rules_are_listed_by_tab_search_role_and_sort<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    let ws = || "acme".to_string();
    let app = ResourceRef::new("app", "wiki");
    let mut users = Vec::new();
    for (id, name, active) in [("ann", "Ann Lee", Some(30)), ("bob", "Bob Stone", Some(50)), ("cid", "cid Lee", None)] {
        let mut u = user(id, &format!("{id}@example.com"), name);
        u.last_active_at = active;
        users.push(Write::PutUser { workspace: ws(), user: u });
    }
    users.push(Write::PutGroup { workspace: ws(), group: group("eng", "Engineering", &[]) });
    users.push(Write::PutResource {
        workspace: ws(),
        resource: Resource { resource: app.clone(), name: "Wiki".into(), parent: None },
    });
    store.commit(writes(users, 1)).await.unwrap();
    let grant = |s: Subject, role: &str| Write::PutGrant {
        workspace: ws(),
        resource: app.clone(),
        subject: s,
        role: role.into(),
    };
    store
        .commit(writes(
            vec![
                grant(Subject::User("ann".into()), "reader"),
                grant(Subject::User("bob".into()), "writer"),
                grant(Subject::User("cid".into()), "manager"),
                grant(Subject::Group("eng".into()), "reader"),
            ],
            100,
        ))
        .await
        .unwrap();
    assert_eq!(
        store.resource("acme", &app).await.unwrap(),
        Some(Resource { resource: app.clone(), name: "Wiki".into(), parent: None })
    );
    let list = |q: GrantQuery| {
        let store = &store;
        let app = app.clone();
        async move {
            let page = store.grants("acme", &app, GrantQuery { limit: q.limit.max(1), ..q }).await.unwrap();
            (page.items.iter().map(|r| r.subject.to_string()).collect::<Vec<_>>(), page.next)
        }
    };
    let (all, _) = list(GrantQuery { limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(all, ["user:ann", "user:bob", "user:cid", "group:eng"], "by name, any case");
    let (users_tab, _) = list(GrantQuery { users: Some(true), limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(users_tab.len(), 3);
    let (groups_tab, _) = list(GrantQuery { users: Some(false), limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(groups_tab, ["group:eng"]);
    let (lee, _) = list(GrantQuery { search: Some("lee".into()), limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(lee, ["user:ann", "user:cid"]);
    let (by_email, _) =
        list(GrantQuery { search: Some("BOB@EXAMPLE".into()), limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(by_email, ["user:bob"]);
    let roles = vec!["reader".to_string(), "manager".to_string()];
    let (filtered, _) = list(GrantQuery { roles: roles.clone(), limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(filtered, ["user:ann", "user:cid", "group:eng"]);
    // Filter and sort together: most recently active first, never-active last.
    let (recent, _) = list(GrantQuery {
        roles,
        users: Some(true),
        sort: GrantSort::RecentActivity,
        limit: 10,
        ..GrantQuery::default()
    })
    .await;
    assert_eq!(recent, ["user:ann", "user:cid"]);
    let (recent_all, _) =
        list(GrantQuery { sort: GrantSort::RecentActivity, users: Some(true), limit: 10, ..GrantQuery::default() })
            .await;
    assert_eq!(recent_all, ["user:bob", "user:ann", "user:cid"]);
    // Paging.
    let (first, next) = list(GrantQuery { limit: 3, ..GrantQuery::default() }).await;
    assert_eq!(first.len(), 3);
    let offset = next.expect("a next page").parse().unwrap();
    let (rest, next) = list(GrantQuery { limit: 3, offset, ..GrantQuery::default() }).await;
    assert_eq!(rest, ["group:eng"]);
    assert_eq!(next, None);
    // The row carries names and times.
    let rows = store
        .grants("acme", &app, GrantQuery { search: Some("bob".into()), limit: 5, ..GrantQuery::default() })
        .await
        .unwrap();
    assert_eq!(rows.items[0].subject_name, "Bob Stone");
    assert_eq!(rows.items[0].subject_email.as_deref(), Some("bob@example.com"));
    assert_eq!(rows.items[0].updated_at, 100);
    // Deleting a user or a group removes their rules; deleting the resource removes the rest.
    store.commit(writes(vec![Write::DeleteUser { workspace: ws(), user: "bob".into() }], 200)).await.unwrap();
    store.commit(writes(vec![Write::DeleteGroup { workspace: ws(), group: "eng".into() }], 200)).await.unwrap();
    let (left, _) = list(GrantQuery { limit: 10, ..GrantQuery::default() }).await;
    assert_eq!(left, ["user:ann", "user:cid"]);
    store.commit(writes(vec![Write::DeleteResource { workspace: ws(), resource: app.clone() }], 300)).await.unwrap();
    assert_eq!(store.resource("acme", &app).await.unwrap(), None);
    let (none, _) = list(GrantQuery { limit: 10, ..GrantQuery::default() }).await;
    assert!(none.is_empty());
}

async fn api_keys_are_found_by_hash_only<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    let key = ApiKey { id: "k1".into(), name: "ci".into(), hash: "h1".into(), created_at: 5 };
    store.commit(writes(vec![Write::PutApiKey { workspace: "acme".into(), key: key.clone() }], 5)).await.unwrap();
    assert_eq!(store.api_key("h1").await.unwrap(), Some(("acme".to_string(), key.clone())));
    assert_eq!(store.api_key("k1").await.unwrap(), None);
    assert_eq!(store.api_keys("acme").await.unwrap(), vec![key.clone()]);
    assert!(store.api_keys("other").await.unwrap().is_empty());
    let again = writes(vec![Write::PutApiKey { workspace: "acme".into(), key }], 6);
    assert!(matches!(store.commit(again).await, Err(StoreError::Conflict(_))));
    store.commit(writes(vec![Write::DeleteApiKey { workspace: "acme".into(), id: "k1".into() }], 7)).await.unwrap();
    assert_eq!(store.api_key("h1").await.unwrap(), None);
    assert!(store.api_keys("acme").await.unwrap().is_empty());
}

async fn labels_are_kept_by_key_and_go_with_their_group<S: Store>(store: S) {
    use crate::label::{PERMISSION_SET, POLICY};
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    let label = |ws: &str, kind: &str, key: &str, name: &str| Write::PutLabel {
        workspace: ws.into(),
        kind: kind.into(),
        key: key.into(),
        name: name.into(),
    };
    let put_group = |id: &str| Write::PutGroup { workspace: "acme".into(), group: group(id, id, &[]) };
    store
        .commit(writes(
            vec![
                put_group("team"),
                put_group("team-b"),
                label("acme", PERMISSION_SET, "team/leads", "Team Leaders"),
                label("acme", PERMISSION_SET, "team/auditors", "Auditors"),
                label("acme", PERMISSION_SET, "team-b/leads", "B leads"),
                label("acme", POLICY, "no-apps", "No apps"),
                label("other", PERMISSION_SET, "team/leads", "Elsewhere"),
            ],
            1,
        ))
        .await
        .unwrap();
    let sets = store.labels("acme", PERMISSION_SET, Some("team")).await.unwrap();
    // `team-b/...` shares the prefix text but is another group's.
    assert_eq!(sets, vec![("team/auditors".into(), "Auditors".into()), ("team/leads".into(), "Team Leaders".into())]);
    assert_eq!(store.labels("acme", POLICY, None).await.unwrap(), vec![("no-apps".into(), "No apps".into())]);
    // Renaming replaces the name.
    store.commit(writes(vec![label("acme", PERMISSION_SET, "team/leads", "Leads")], 2)).await.unwrap();
    assert_eq!(store.labels("acme", PERMISSION_SET, Some("team/leads")).await.unwrap()[0].1, "Leads");
    // Deleting one label, then the group: its sets' labels go with it, nobody else's.
    let delete =
        Write::DeleteLabels { workspace: "acme".into(), kind: PERMISSION_SET.into(), key: "team/auditors".into() };
    store.commit(writes(vec![delete], 3)).await.unwrap();
    assert_eq!(store.labels("acme", PERMISSION_SET, Some("team")).await.unwrap().len(), 1);
    store.commit(writes(vec![Write::DeleteGroup { workspace: "acme".into(), group: "team".into() }], 4)).await.unwrap();
    assert!(store.labels("acme", PERMISSION_SET, Some("team")).await.unwrap().is_empty());
    assert_eq!(store.labels("acme", PERMISSION_SET, None).await.unwrap().len(), 1);
    assert_eq!(store.labels("other", PERMISSION_SET, None).await.unwrap()[0].1, "Elsewhere");
}

async fn resources_list_by_type_and_search_and_page<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    let app =
        |id: &str, name: &str| Resource { resource: ResourceRef::new("app", id), name: name.into(), parent: None };
    let mut rows = vec![app("crm", "Sales CRM"), app("hr", "People"), app("wiki", "Company wiki")];
    for i in 0..5 {
        rows.push(Resource {
            resource: ResourceRef::new("workflow", format!("crm-{i}")),
            name: format!("Sales flow {i}"),
            parent: Some(ResourceRef::new("app", "crm")),
        });
    }
    let put = |ws: &str, r: &Resource| Write::PutResource { workspace: ws.into(), resource: r.clone() };
    let mut all: Vec<Write> = rows.iter().map(|r| put("acme", r)).collect();
    all.push(put("other", &app("secret", "Sales secret")));
    store.commit(writes(all, 1)).await.unwrap();

    let list = |kind: Option<&'static str>, q: Option<&'static str>, after: Option<String>, limit: u32| {
        let store = &store;
        async move { store.resources("acme", kind, q, PageRequest { after, limit }).await.unwrap() }
    };
    let apps = list(Some("app"), None, None, 10).await;
    assert_eq!(apps.items.iter().map(|r| r.resource.id.as_str()).collect::<Vec<_>>(), ["crm", "hr", "wiki"]);
    assert_eq!(apps.next, None);
    // Search matches names and ids, any case, across types, never another workspace.
    let sales = list(None, Some("SALES"), None, 10).await;
    assert_eq!(sales.items.len(), 6);
    assert!(sales.items.iter().all(|r| r.resource.id != "secret"));
    assert_eq!(list(None, Some("hr"), None, 10).await.items.len(), 1);
    // Pages follow on without gap or repeat; parents read back.
    let first = list(Some("workflow"), None, None, 2).await;
    let second = list(Some("workflow"), None, first.next.clone(), 2).await;
    let third = list(Some("workflow"), None, second.next.clone(), 2).await;
    let ids: Vec<_> =
        [first.items, second.items, third.items.clone()].concat().into_iter().map(|r| r.resource.id).collect();
    assert_eq!(ids, ["crm-0", "crm-1", "crm-2", "crm-3", "crm-4"]);
    assert_eq!(third.next, None);
    assert_eq!(third.items[0].parent, Some(ResourceRef::new("app", "crm")));
}

async fn the_schema_reads_back_as_written<S: Store>(store: S) {
    assert_eq!(store.schema("acme").await.unwrap(), None);
    store.commit(workspace_batch("acme")).await.unwrap();
    assert_eq!(store.schema("acme").await.unwrap(), Some(json!({})));
    let schema = json!({"workspace_roles": ["member", "admin"], "admin_roles": ["admin"]});
    let rename =
        Write::PutWorkspace { workspace: Workspace { id: "acme".into(), name: "Acme".into() }, schema: schema.clone() };
    store.commit(writes(vec![rename], 2)).await.unwrap();
    assert_eq!(store.schema("acme").await.unwrap(), Some(schema));
    assert_eq!(store.workspace("acme").await.unwrap().unwrap().name, "Acme");
}

fn webhook(id: &str, events: &[&str]) -> Webhook {
    Webhook {
        id: id.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        created_at: 1_700_000_000_100,
    }
}

fn event(ws: &str, kind: &str, n: u32) -> Event {
    Event { workspace: ws.into(), kind: kind.into(), data: json!({"n": n}), change: None }
}

async fn hooks<S: Store>(store: &S, ws: &str, list: &[Webhook]) {
    let batch = Batch {
        actor: "root".into(),
        at: 1_700_000_000_100,
        writes: list.iter().map(|w| Write::PutWebhook { workspace: ws.into(), webhook: w.clone() }).collect(),
        ..Batch::default()
    };
    store.commit(batch).await.unwrap();
}

fn user_change(ws: &str, id: &str) -> Change {
    Change::new(ws, Op::PutUser { user: id.into(), workspace_role: "member".into(), kind: UserKind::Regular })
}

async fn events_become_deliveries_of_the_webhooks_that_want_them<S: Store>(store: S) {
    store.commit(workspace_batch("ws")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    hooks(&store, "ws", &[webhook("all", &["*"]), webhook("groups", &["group.*"]), webhook("one", &["user.create"])])
        .await;
    hooks(&store, "other", &[webhook("all", &["*"])]).await;
    let listed: Vec<String> = store.webhooks("ws").await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(listed, ["all", "groups", "one"]);
    let batch = Batch {
        actor: "root".into(),
        at: 1_700_000_000_200,
        changes: vec![user_change("ws", "u1")],
        events: vec![event("ws", "user.create", 1), event("ws", "group.member.put", 2), event("ws", "grant.put", 3)],
        ..Batch::default()
    };
    let revisions = store.commit(batch).await.unwrap();
    let kinds = |list: Vec<crate::Delivery>| list.into_iter().map(|d| d.event).collect::<Vec<_>>();
    assert_eq!(
        kinds(store.deliveries("ws", "all", None, 0, 10).await.unwrap()),
        ["user.create", "group.member.put", "grant.put"]
    );
    assert_eq!(kinds(store.deliveries("ws", "groups", None, 0, 10).await.unwrap()), ["group.member.put"]);
    assert_eq!(kinds(store.deliveries("ws", "one", None, 0, 10).await.unwrap()), ["user.create"]);
    // Sealed: the other workspace's subscription heard nothing.
    assert!(store.deliveries("other", "all", None, 0, 10).await.unwrap().is_empty());
    let first = &store.deliveries("ws", "one", None, 0, 10).await.unwrap()[0];
    assert_eq!(first.state, DeliveryState::Pending);
    assert_eq!(first.attempts, 0);
    let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "user.create");
    assert_eq!(body["data"], json!({"n": 1, "workspace": "ws", "revision": revisions[0].0.to_string()}));
    assert_eq!(body["timestamp"], "2023-11-14T22:13:20.2Z");
    // Ending a subscription ends its deliveries; the rest stay.
    let batch = Batch {
        actor: "root".into(),
        at: 1_700_000_000_300,
        writes: vec![Write::DeleteWebhook { workspace: "ws".into(), id: "groups".into() }],
        ..Batch::default()
    };
    store.commit(batch).await.unwrap();
    assert!(store.deliveries("ws", "groups", None, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.deliveries("ws", "all", None, 0, 10).await.unwrap().len(), 3);
    // Deleting the workspace takes its webhooks and deliveries.
    let batch = Batch {
        actor: "root".into(),
        at: 1_700_000_000_400,
        writes: vec![Write::DeleteWorkspace { workspace: "ws".into() }],
        changes: vec![Change::new("ws", Op::DeleteWorkspace)],
        ..Batch::default()
    };
    store.commit(batch).await.unwrap();
    assert!(store.webhooks("ws").await.unwrap().is_empty());
    assert!(store.deliveries("ws", "all", None, 0, 10).await.unwrap().is_empty());
}

async fn deliveries_are_claimed_once_retried_and_die_and_can_be_redelivered<S: Store>(store: S) {
    store.commit(workspace_batch("ws")).await.unwrap();
    hooks(&store, "ws", &[webhook("all", &["*"])]).await;
    let at = 1_700_000_001_000;
    let batch = Batch {
        actor: "root".into(),
        at,
        events: (0..3).map(|n| event("ws", "user.create", n)).collect(),
        ..Batch::default()
    };
    store.commit(batch).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(at));
    assert!(store.claim_due(at - 1, at + 30_000, 10).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_due(at, at + 30_000, 2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].url, "http://127.0.0.1:9/all");
    assert_eq!(claimed[0].workspace, "ws");
    assert!(claimed[0].secret.starts_with("whsec_"));
    // Leased: only the third is handed out, and nothing once all three are taken.
    let third = store.claim_due(at, at + 30_000, 10).await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(store.claim_due(at + 1, at + 30_000, 10).await.unwrap().is_empty());
    // A lease that ran out (a process died mid-attempt) hands it out again.
    assert_eq!(store.claim_due(at + 30_000, at + 60_000, 10).await.unwrap().len(), 3);

    let (a, b, c) = (claimed[0].delivery.id, claimed[1].delivery.id, third[0].delivery.id);
    let attempt = |status, next| Attempt { at: at + 5, status, error: None, next };
    store.record_attempt(a, attempt(Some(204), AttemptNext::Delivered)).await.unwrap();
    store.record_attempt(b, attempt(Some(503), AttemptNext::RetryAt(at + 1_000))).await.unwrap();
    let failed =
        Attempt { at: at + 5, status: None, error: Some("connection refused".into()), next: AttemptNext::Dead };
    store.record_attempt(c, failed).await.unwrap();
    let listed = store.deliveries("ws", "all", None, 0, 10).await.unwrap();
    let states: Vec<_> = listed.iter().map(|d| (d.state, d.attempts, d.last_status)).collect();
    assert_eq!(
        states,
        [
            (DeliveryState::Delivered, 1, Some(204)),
            (DeliveryState::Pending, 1, Some(503)),
            (DeliveryState::Dead, 1, None)
        ]
    );
    assert_eq!(listed[2].last_error.as_deref(), Some("connection refused"));
    let dead = store.deliveries("ws", "all", Some(DeliveryState::Dead), 0, 10).await.unwrap();
    assert_eq!(dead.iter().map(|d| d.id).collect::<Vec<_>>(), [c]);
    // The retry waits for its time.
    assert_eq!(store.next_due().await.unwrap(), Some(at + 1_000));
    assert!(store.claim_due(at + 999, at + 40_000, 10).await.unwrap().is_empty());
    assert_eq!(store.claim_due(at + 1_000, at + 40_000, 10).await.unwrap()[0].delivery.id, b);
    // A dead delivery comes back on request, with a fresh set of attempts, in its webhook only.
    assert!(store.redeliver("ws", "nope", c, at + 2_000).await.unwrap().is_none());
    assert!(store.redeliver("other", "all", c, at + 2_000).await.unwrap().is_none());
    let again = store.redeliver("ws", "all", c, at + 2_000).await.unwrap().unwrap();
    assert_eq!((again.state, again.attempts), (DeliveryState::Pending, 0));
    let due = store.claim_due(at + 2_000, at + 50_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.delivery.id).collect::<Vec<_>>(), [c]);
    assert_eq!(due[0].delivery.message_id(), format!("msg_{c}"));
}

async fn a_failed_batch_leaves_no_delivery_and_no_notification<S: Store>(store: S) {
    store.commit(workspace_batch("ws")).await.unwrap();
    hooks(&store, "ws", &[webhook("all", &["*"])]).await;
    let head = store.head().await.unwrap();
    let batch = Batch {
        expected_head: Some(Revision(head.0 + 7)),
        actor: "root".into(),
        at: 1_700_000_002_000,
        changes: vec![user_change("ws", "u1")],
        events: vec![event("ws", "user.create", 1)],
        notifications: vec![NotificationRecord {
            workspace: "ws".into(),
            users: vec!["u1".into()],
            group: None,
            reason: "summary".into(),
            body: json!({}),
            change: None,
        }],
        ..Batch::default()
    };
    assert!(matches!(store.commit(batch).await, Err(StoreError::HeadMoved { .. })));
    assert!(store.deliveries("ws", "all", None, 0, 10).await.unwrap().is_empty());
    assert!(store.notifications("ws", "u1", 0, 10).await.unwrap().is_empty());
    assert_eq!(store.next_due().await.unwrap(), None);
}

async fn notifications_carry_the_revision_of_their_change<S: Store>(store: S) {
    store.commit(workspace_batch("ws")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    let note = |ws: &str, users: &[&str], change, n: u32| NotificationRecord {
        workspace: ws.into(),
        users: users.iter().map(|u| u.to_string()).collect(),
        group: Some("marketing".into()),
        reason: "member_added".into(),
        body: json!({"n": n}),
        change,
    };
    let batch = Batch {
        actor: "root".into(),
        at: 1_700_000_003_000,
        changes: vec![user_change("ws", "u1"), user_change("ws", "u2")],
        notifications: vec![
            note("ws", &["u1"], Some(0), 1),
            note("ws", &["u2"], Some(1), 2),
            note("ws", &["u1", "u2"], None, 3),
            note("other", &["u1"], None, 4),
        ],
        ..Batch::default()
    };
    let revisions = store.commit(batch).await.unwrap();
    let mine = store.notifications("ws", "u1", 0, 10).await.unwrap();
    assert_eq!(
        mine.iter().map(|n| (n.body["n"].as_u64(), n.revision)).collect::<Vec<_>>(),
        [(Some(1), revisions[0]), (Some(3), revisions[1])]
    );
    assert_eq!(mine[0].group.as_deref(), Some("marketing"));
    assert_eq!(mine[0].reason, "member_added");
    assert_eq!(store.notifications("ws", "u1", mine[0].id, 10).await.unwrap().len(), 1, "paged after an id");
    let theirs = store.notifications("ws", "u2", 0, 10).await.unwrap();
    assert_eq!(
        theirs.iter().map(|n| n.body["n"].as_u64()).collect::<Vec<_>>(),
        [Some(2), Some(3)],
        "one message, two users"
    );
    assert_eq!((theirs[0].revision, theirs[0].user.as_str()), (revisions[1], "u2"));
    // Sealed: the same user id in another workspace has only their own.
    assert_eq!(store.notifications("other", "u1", 0, 10).await.unwrap().len(), 1);
}

async fn scim_rows_are_found_by_user_name_and_external_id_and_go_with_their_user<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    for (ws, id, email) in
        [("acme", "ann", "ann@example.com"), ("acme", "bob", "bob@example.com"), ("other", "cy", "cy@example.com")]
    {
        store.commit(user_batch(ws, user(id, email, id))).await.unwrap();
    }
    let scim = |id: &str, name: &str, external: Option<&str>| ScimUser {
        user: id.into(),
        user_name: name.into(),
        external_id: external.map(Into::into),
        attributes: json!({"name": {"givenName": id}}),
    };
    let put = |ws: &str, s: ScimUser| Write::PutScimUser { workspace: ws.into(), scim: s };
    store.commit(writes(vec![put("acme", scim("ann", "Ann.Login", Some("ext-1")))], 3)).await.unwrap();
    store.commit(writes(vec![put("other", scim("cy", "ann.login", Some("ext-1")))], 4)).await.unwrap();
    let key = |ws: &'static str, k: ScimUserKey<'static>| {
        let store = &store;
        async move { store.scim_user_ids(ws, k).await.unwrap() }
    };
    // userName without regard to case, sealed to the workspace.
    assert_eq!(key("acme", ScimUserKey::UserName("ANN.LOGIN")).await, vec!["ann".to_string()]);
    assert_eq!(key("other", ScimUserKey::UserName("ann.login")).await, vec!["cy".to_string()]);
    assert_eq!(key("acme", ScimUserKey::ExternalId("ext-1")).await, vec!["ann".to_string()]);
    assert!(key("acme", ScimUserKey::ExternalId("EXT-1")).await.is_empty(), "externalId is compared exactly");
    // A user SCIM never wrote goes by their email; one it wrote no longer does.
    assert_eq!(key("acme", ScimUserKey::UserName("Bob@Example.com")).await, vec!["bob".to_string()]);
    assert!(key("acme", ScimUserKey::UserName("ann@example.com")).await.is_empty());
    // Another user of the workspace cannot take the same userName in another case.
    let err = store.commit(writes(vec![put("acme", scim("bob", "ANN.login", None))], 5)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)) && err.to_string().contains("ANN.login"), "{err}");
    let rows = store.scim_users("acme", &["ann".into(), "bob".into(), "cy".into()]).await.unwrap();
    let mut rows: Vec<ScimUserRow> = rows;
    rows.sort_by(|a, b| a.user.id.cmp(&b.user.id));
    assert_eq!(rows.len(), 2, "cy is another workspace's");
    assert_eq!(rows[0].scim, Some(scim("ann", "Ann.Login", Some("ext-1"))));
    assert_eq!((rows[1].user.email.as_str(), rows[1].scim.as_ref()), ("bob@example.com", None));
    // Rewriting replaces; deleting the user removes the row and frees the name.
    store.commit(writes(vec![put("acme", scim("ann", "ann2", None))], 5)).await.unwrap();
    assert!(key("acme", ScimUserKey::ExternalId("ext-1")).await.is_empty());
    store.commit(writes(vec![Write::DeleteUser { workspace: "acme".into(), user: "ann".into() }], 6)).await.unwrap();
    assert!(store.scim_users("acme", &["ann".into()]).await.unwrap().is_empty());
    store.commit(writes(vec![put("acme", scim("bob", "ann2", None))], 7)).await.unwrap();
    // Group external ids, and their row goes with the group.
    let put_group = Write::PutGroup { workspace: "acme".into(), group: group("team", "Team", &[]) };
    let ext = Write::PutScimGroup { workspace: "acme".into(), group: "team".into(), external_id: Some("g-1".into()) };
    store.commit(writes(vec![put_group, ext], 8)).await.unwrap();
    assert_eq!(store.scim_groups("acme").await.unwrap(), vec![("team".to_string(), "g-1".to_string())]);
    assert!(store.scim_groups("other").await.unwrap().is_empty());
    store.commit(writes(vec![Write::DeleteGroup { workspace: "acme".into(), group: "team".into() }], 9)).await.unwrap();
    assert!(store.scim_groups("acme").await.unwrap().is_empty());
}

async fn passwords_and_sessions_go_with_their_user<S: Store>(store: S) {
    store.commit(workspace_batch("acme")).await.unwrap();
    store.commit(workspace_batch("other")).await.unwrap();
    store.commit(user_batch("acme", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    store.commit(user_batch("other", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    assert_eq!(store.password_of("acme", "ann@example.com").await.unwrap(), None, "no password yet");
    let put = |ws: &str, hash: &str| Write::PutPassword { workspace: ws.into(), user: "ann".into(), hash: hash.into() };
    store.commit(writes(vec![put("acme", "$argon2id$one")], 10)).await.unwrap();
    assert_eq!(
        store.password_of("acme", "ANN@example.com").await.unwrap(),
        Some(("ann".into(), "$argon2id$one".into()))
    );
    assert_eq!(store.password_of("other", "ann@example.com").await.unwrap(), None, "sealed to its workspace");
    let session = |hash: &str, expires_at: i64| Session {
        hash: hash.into(),
        workspace: "acme".into(),
        user: "ann".into(),
        csrf: format!("csrf-{hash}"),
        created_at: 100,
        expires_at,
    };
    store.create_session(&session("s1", 1_000)).await.unwrap();
    store.create_session(&session("s2", 1_000)).await.unwrap();
    store.create_session(&session("old", 150)).await.unwrap();
    assert_eq!(store.session("s1", 200).await.unwrap(), Some(session("s1", 1_000)));
    assert_eq!(store.session("old", 200).await.unwrap(), None, "expired");
    assert_eq!(store.session("nope", 200).await.unwrap(), None);
    // Signing out ends one session; a new password ends them all.
    store.delete_session("s1", 200).await.unwrap();
    assert_eq!(store.session("s1", 200).await.unwrap(), None);
    assert!(store.session("s2", 200).await.unwrap().is_some());
    store.commit(writes(vec![put("acme", "$argon2id$two")], 11)).await.unwrap();
    assert_eq!(store.session("s2", 200).await.unwrap(), None);
    assert_eq!(store.password_of("acme", "ann@example.com").await.unwrap().unwrap().1, "$argon2id$two");
    // Deleting the user takes both.
    store.create_session(&session("s3", 1_000)).await.unwrap();
    store.commit(writes(vec![Write::DeleteUser { workspace: "acme".into(), user: "ann".into() }], 12)).await.unwrap();
    assert_eq!(store.session("s3", 200).await.unwrap(), None);
    store.commit(user_batch("acme", user("ann", "ann@example.com", "Ann"))).await.unwrap();
    assert_eq!(store.password_of("acme", "ann@example.com").await.unwrap(), None);
}
