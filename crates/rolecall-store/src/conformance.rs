//! The conformance suite every backend passes: each backend's tests call [`run`] with a
//! way to make an empty store. It asserts with panics, like any test.

// An assertion suite: failing loudly is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use rolecall_model::{Change, Group, Notify, Op, Revision, User, UserKind, Visibility, Workspace};
use serde_json::json;

use crate::{AuditRecord, Batch, PageRequest, Store, StoreError, Write};

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
        id: id.into(),
        name: name.into(),
        description: format!("The {name} team"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        icon: None,
        visibility: Visibility::Public,
        apply_privileges: true,
        notify: Notify::None,
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
