//! The shared conformance suite on SQLite, and durability across reopening the file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rolecall_model::Revision;
use rolecall_store::{Store, conformance};
use rolecall_store_sqlite::SqliteStore;

#[tokio::test]
async fn the_conformance_suite_passes() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    conformance::run(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.path().join(format!("db{n}/rolecall.db"));
        async move { SqliteStore::open(&path).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn committed_changes_are_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/rolecall.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.commit(conformance::workspace_batch("acme")).await.unwrap();
        store.commit(conformance::workspace_batch("beta")).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.head().await.unwrap(), Revision(2));
    assert!(store.workspace("beta").await.unwrap().is_some());
    // Reopening runs migrations again harmlessly and keeps counting from the head.
    assert_eq!(store.commit(conformance::workspace_batch("gamma")).await.unwrap(), vec![Revision(3)]);
}

#[tokio::test]
async fn a_sqlite_url_opens_too() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let store = SqliteStore::open_url(&url).await.unwrap();
    assert_eq!(store.head().await.unwrap(), Revision(0));
}
