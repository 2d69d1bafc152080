//! The service over the embedded store: actors are authorized with their own permissions,
//! a command writes all or nothing, and a restart answers exactly as before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rolecall_model::{
    Group, Limits, MemberRole, Resource, ResourceRef, Revision, SchemaDoc, Subject, User, UserKind, Visibility,
    Workspace,
};
use rolecall_service::{Actor, BulkAction, Consistency, GrantOutcome, Service};
use rolecall_store::Store;
use rolecall_store_sqlite::SqliteStore;

#[path = "it/webhooks.rs"]
mod webhooks;

const WS: &str = "acme";

async fn open(dir: &std::path::Path) -> Service<SqliteStore> {
    let store = SqliteStore::open(&dir.join("rolecall.db")).await.unwrap();
    Service::open(store, Limits::default()).await.unwrap()
}

fn user(id: &str, role: &str) -> User {
    User {
        id: id.into(),
        email: format!("{id}@example.com"),
        name: id.to_uppercase(),
        workspace_role: role.into(),
        kind: UserKind::Regular,
        last_active_at: None,
    }
}

fn group(id: &str) -> Group {
    Group::new(id, id.to_uppercase())
}

fn as_user(id: &str) -> Actor {
    Actor::User { workspace: WS.into(), user: id.into() }
}

async fn seeded(dir: &std::path::Path) -> Service<SqliteStore> {
    let service = open(dir).await;
    service
        .create_workspace(
            &Actor::Root,
            Workspace { id: WS.into(), name: "Acme".into() },
            Some(SchemaDoc::default_schema()),
        )
        .await
        .unwrap();
    for (id, role) in [("ada", "admin"), ("sam", "member"), ("cora", "consumer"), ("eve", "member"), ("max", "member")]
    {
        service.put_user(&Actor::Root, WS, user(id, role)).await.unwrap();
    }
    service
}

async fn check(service: &Service<SqliteStore>, user: &str, action: &str, resource: &ResourceRef) -> bool {
    let engine = service.engine(Consistency::Any).await.unwrap();
    engine.workspace(WS).unwrap().check(user, action, resource).unwrap().allowed
}

#[tokio::test]
async fn who_may_manage_groups_is_decided_by_their_own_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    // A consumer may not create a group; a member may, and becomes its owner.
    let err = service.create_group(&as_user("cora"), WS, group("book-club")).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    service.create_group(&as_user("sam"), WS, group("team")).await.unwrap();
    {
        let engine = service.engine(Consistency::Any).await.unwrap();
        assert_eq!(engine.workspace(WS).unwrap().direct_members("team").unwrap(), vec![("sam", MemberRole::Owner)]);
    }
    // The owner adds an editor; the editor adds a member; a plain member adds nobody.
    service.put_member(&as_user("sam"), WS, "team", "eve", MemberRole::Editor).await.unwrap();
    service.put_member(&as_user("eve"), WS, "team", "max", MemberRole::Member).await.unwrap();
    let err = service.put_member(&as_user("max"), WS, "team", "cora", MemberRole::Member).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // An editor manages members but may not make owners.
    let err = service.put_member(&as_user("eve"), WS, "team", "max", MemberRole::Owner).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // A name taken in another case is a conflict, and nothing of the command is applied.
    let mut same_name = group("team-2");
    same_name.name = "team".into();
    let err = service.create_group(&Actor::Root, WS, same_name).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    let engine = service.engine(Consistency::Any).await.unwrap();
    assert!(engine.workspace(WS).unwrap().member_count("team-2").is_none());
}

#[tokio::test]
async fn grants_report_their_outcome_and_nobody_grants_more_than_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let app = ResourceRef::new("app", "crm");
    let sam = Subject::User("sam".into());
    let ada = as_user("ada");
    let err = service.put_grant(&ada, WS, &app, &sam, "runner", false).await.unwrap_err();
    assert_eq!(err.code(), "resource_not_found");
    let crm = Resource { resource: app.clone(), name: "CRM".into(), parent: None };
    assert_eq!(service.put_resource(&as_user("sam"), WS, crm.clone()).await.unwrap_err().code(), "forbidden");
    service.put_resource(&ada, WS, crm).await.unwrap();

    let (outcome, _) = service.put_grant(&ada, WS, &app, &sam, "runner", false).await.unwrap();
    assert_eq!(outcome, GrantOutcome::Created);
    let (outcome, _) = service.put_grant(&ada, WS, &app, &sam, "runner", false).await.unwrap();
    assert_eq!(outcome, GrantOutcome::Unchanged);
    let err = service.put_grant(&ada, WS, &app, &sam, "admin", false).await.unwrap_err();
    assert_eq!(err.code(), "role_conflict");
    assert!(err.to_string().contains("runner"), "{err}");
    // Sam, a runner, may pass on runner but not grant admin.
    let max = Subject::User("max".into());
    let err = service.put_grant(&as_user("sam"), WS, &app, &max, "admin", false).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    service.put_grant(&as_user("sam"), WS, &app, &max, "runner", false).await.unwrap();
    assert!(check(&service, "max", "run", &app).await);
    let (outcome, _) = service.put_grant(&ada, WS, &app, &sam, "admin", true).await.unwrap();
    assert_eq!(outcome, GrantOutcome::Replaced { previous: "runner".into() });
    assert!(check(&service, "sam", "update", &app).await);
    // The rule is listed for the Permissions page.
    let rows =
        service.store().grants(WS, &app, rolecall_store::GrantQuery { limit: 10, ..Default::default() }).await.unwrap();
    let listed: Vec<(String, String)> = rows.items.iter().map(|r| (r.subject.to_string(), r.role.clone())).collect();
    assert_eq!(listed, [("user:max".to_string(), "runner".to_string()), ("user:sam".to_string(), "admin".to_string())]);
}

#[tokio::test]
async fn a_duplicate_email_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let mut copy = user("sam2", "member");
    copy.email = "SAM@example.com".into();
    let err = service.put_user(&Actor::Root, WS, copy).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    let engine = service.engine(Consistency::Any).await.unwrap();
    assert!(engine.workspace(WS).unwrap().user_info("sam2").is_none(), "the engine did not apply a refused command");
}

#[tokio::test]
async fn keys_and_users_are_sealed_to_their_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    service.create_workspace(&Actor::Root, Workspace { id: "other".into(), name: "Other".into() }, None).await.unwrap();
    let key = Actor::Key { workspace: WS.into(), key: "k1".into() };
    let err = service.put_user(&key, "other", user("x", "member")).await.unwrap_err();
    assert_eq!(err.code(), "workspace_not_found");
    let err =
        service.create_workspace(&key, Workspace { id: "third".into(), name: "Third".into() }, None).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // A member is not an admin: they may not create users.
    let err = service.put_user(&as_user("sam"), WS, user("y", "member")).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

#[tokio::test]
async fn a_restart_answers_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let revision;
    {
        let service = seeded(dir.path()).await;
        service.create_group(&as_user("sam"), WS, group("team")).await.unwrap();
        revision = service.put_member(&as_user("sam"), WS, "team", "max", MemberRole::Editor).await.unwrap();
        assert!(check(&service, "max", "manage_members", &ResourceRef::new("group", "team")).await);
    }
    let service = open(dir.path()).await;
    assert_eq!(service.engine(Consistency::AtLeast(revision)).await.unwrap().revision(), revision);
    assert!(check(&service, "max", "manage_members", &ResourceRef::new("group", "team")).await);
    assert!(!check(&service, "cora", "create_group", &ResourceRef::new("workspace", WS)).await);
    // A revision the service has not reached is a retryable error, not a stale answer.
    let err = service.engine(Consistency::AtLeast(Revision(revision.0 + 100))).await.unwrap_err();
    assert_eq!(err.code(), "not_yet_consistent");
}

#[tokio::test]
async fn bulk_group_actions_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    for g in ["a", "b", "c"] {
        service.create_group(&Actor::Root, WS, group(g)).await.unwrap();
    }
    let groups: Vec<String> = ["a", "b"].map(String::from).to_vec();
    let add = |users: &[&str]| BulkAction::AddMembers {
        users: users.iter().map(|u| u.to_string()).collect(),
        role: MemberRole::Member,
    };
    service.bulk_groups(&Actor::Root, WS, &groups, add(&["sam", "eve"])).await.unwrap();
    let members = |g: &str| {
        let engine = service.snapshot();
        engine.workspace(WS).unwrap().member_count(g).unwrap()
    };
    assert_eq!((members("a"), members("b")), (2, 2));
    // One unknown user: nothing is added anywhere.
    let err = service
        .bulk_groups(&Actor::Root, WS, &["c".to_string(), "a".to_string()], add(&["max", "ghost"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "user_not_found");
    assert_eq!((members("a"), members("c")), (2, 0));
    // A user actor needs the right on every selected group.
    service.put_member(&Actor::Root, WS, "a", "max", MemberRole::Editor).await.unwrap();
    let err = service.bulk_groups(&as_user("max"), WS, &groups, add(&["cora"])).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert_eq!(members("a"), 3);
    service.bulk_groups(&Actor::Root, WS, &groups, BulkAction::Delete).await.unwrap();
    assert!(service.snapshot().workspace(WS).unwrap().member_count("a").is_none());
    let err = service.bulk_groups(&Actor::Root, WS, &[], BulkAction::Delete).await.unwrap_err();
    assert_eq!(err.code(), "too_large");
}

#[tokio::test]
async fn group_rights_decide_delete_nesting_and_owner_removal() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    service.create_group(&as_user("sam"), WS, group("team")).await.unwrap();
    service.put_member(&as_user("sam"), WS, "team", "eve", MemberRole::Editor).await.unwrap();
    service.put_member(&as_user("sam"), WS, "team", "max", MemberRole::Owner).await.unwrap();
    // An editor may not remove an owner; an owner may.
    assert_eq!(service.remove_member(&as_user("eve"), WS, "team", "max").await.unwrap_err().code(), "forbidden");
    service.remove_member(&as_user("sam"), WS, "team", "max").await.unwrap();
    // Nobody nests a group they cannot see.
    let mut secret = group("secret");
    secret.visibility = Visibility::Private;
    service.create_group(&as_user("max"), WS, secret).await.unwrap();
    assert_eq!(service.nest_group(&as_user("eve"), WS, "team", "secret", true).await.unwrap_err().code(), "forbidden");
    service.nest_group(&Actor::Root, WS, "team", "secret", true).await.unwrap();
    assert!(check(&service, "max", "view", &ResourceRef::new("group", "team")).await);
    // Only a holder of `delete` deletes.
    assert_eq!(service.delete_group(&as_user("eve"), WS, "team").await.unwrap_err().code(), "forbidden");
    service.delete_group(&as_user("sam"), WS, "team").await.unwrap();
    // The audit log tells who did what.
    let audit = service.store().audit(WS, 0, Some("sam"), 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(
        actions,
        ["group.create", "group.member.put", "group.member.put", "group.member.remove", "group.delete"]
    );
}

#[tokio::test]
async fn revoking_needs_as_much_as_granting() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let app = ResourceRef::new("app", "crm");
    service
        .put_resource(&Actor::Root, WS, Resource { resource: app.clone(), name: "CRM".into(), parent: None })
        .await
        .unwrap();
    service.put_grant(&Actor::Root, WS, &app, &Subject::User("sam".into()), "runner", false).await.unwrap();
    service.put_grant(&Actor::Root, WS, &app, &Subject::User("eve".into()), "admin", false).await.unwrap();
    let err = service.revoke_grant(&as_user("sam"), WS, &app, &Subject::User("eve".into())).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    service.revoke_grant(&as_user("eve"), WS, &app, &Subject::User("sam".into())).await.unwrap();
    assert!(!check(&service, "sam", "run", &app).await);
    let err = service.revoke_grant(&Actor::Root, WS, &app, &Subject::User("sam".into())).await.unwrap_err();
    assert_eq!(err.code(), "grant_not_found");
    // Policies and scopes are for admins.
    let rules = [("create_app".to_string(), rolecall_model::Effect::Allow)].into();
    assert_eq!(service.put_policy(&as_user("eve"), WS, "p", "P", rules).await.unwrap_err().code(), "forbidden");
    let scope = Some([("country".to_string(), vec!["FR".to_string()])].into());
    assert_eq!(
        service.put_data_scope(&as_user("eve"), WS, "everyone", "sales", scope.clone()).await.unwrap_err().code(),
        "forbidden"
    );
    service.put_data_scope(&as_user("ada"), WS, "everyone", "sales", scope).await.unwrap();
    let engine = service.snapshot();
    let filter = engine.workspace(WS).unwrap().data_filter("sam", "sales").unwrap();
    assert_eq!(filter.to_sql(1).params, ["FR"]);
}

#[tokio::test]
async fn console_passwords_are_set_by_their_user_or_an_admin_and_sign_in_never_says_why_it_failed() {
    use rolecall_service::ServiceError::{BadCredentials, Forbidden, Invalid};
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let good = "correct horse battery staple";
    // Sam sets his own; Ada, an admin, sets Eve's; Eve may not set Sam's.
    service.set_password(&as_user("sam"), WS, "sam", good).await.unwrap();
    service.set_password(&as_user("ada"), WS, "eve", good).await.unwrap();
    assert!(matches!(
        service.set_password(&as_user("eve"), WS, "sam", "x".repeat(20).as_str()).await,
        Err(Forbidden(_))
    ));
    assert!(matches!(service.set_password(&Actor::Root, WS, "sam", "short").await, Err(Invalid(_))));
    assert!(service.set_password(&Actor::Root, WS, "nobody", good).await.is_err());

    let (token, session) = service.sign_in(WS, "SAM@example.com", good).await.unwrap();
    assert_eq!((session.workspace.as_str(), session.user.as_str()), (WS, "sam"));
    assert_eq!(session.hash, rolecall_service::console::token_hash(&token), "only the token's hash is kept");
    assert_ne!(session.csrf, token);
    assert_eq!(service.session(&token).await.unwrap().unwrap().user, "sam");
    assert_eq!(service.session("not-a-token").await.unwrap(), None);

    // Wrong password, unknown email, a user without a password, another workspace: the
    // same refusal.
    for (ws, email, password) in [
        (WS, "sam@example.com", "correct horse battery staplE"),
        (WS, "nobody@example.com", good),
        (WS, "max@example.com", good),
        ("other", "sam@example.com", good),
    ] {
        assert!(matches!(service.sign_in(ws, email, password).await, Err(BadCredentials)), "{ws} {email}");
    }

    // A suspended user cannot sign in, and their open session opens nothing.
    let user = service.store().user(WS, "sam").await.unwrap().unwrap();
    service.update_user(&Actor::Root, WS, user.clone(), Some(false)).await.unwrap();
    assert_eq!(service.session(&token).await.unwrap(), None);
    assert!(matches!(service.sign_in(WS, "sam@example.com", good).await, Err(BadCredentials)));
    service.update_user(&Actor::Root, WS, user, Some(true)).await.unwrap();
    assert!(service.session(&token).await.unwrap().is_some(), "lifting the suspension");

    // Signing out ends one session; a new password ends them all.
    let (second, _) = service.sign_in(WS, "sam@example.com", good).await.unwrap();
    service.sign_out(&token).await.unwrap();
    assert_eq!(service.session(&token).await.unwrap(), None);
    assert!(service.session(&second).await.unwrap().is_some());
    service.set_password(&as_user("sam"), WS, "sam", "another long passphrase").await.unwrap();
    assert_eq!(service.session(&second).await.unwrap(), None);
    assert!(service.sign_in(WS, "sam@example.com", "another long passphrase").await.is_ok());
    // The audit says a password was set, never what it is.
    let audit = service.store().audit(WS, 0, None, 1000).await.unwrap();
    let text = format!("{audit:?}");
    assert!(text.contains("user.password.set") && !text.contains("passphrase") && !text.contains("argon2"));
}
