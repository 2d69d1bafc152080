//! The shared conformance suite on PostgreSQL, revisions under concurrent writers, and
//! commits surviving a server restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rolecall_model::Revision;
use rolecall_store::{Store, StoreError, conformance};
use rolecall_store_postgres::{PostgresStore, testing};

async fn fresh() -> PostgresStore {
    let db = testing::database().await.unwrap_or_else(|e| panic!("PostgreSQL is needed for these tests: {e}"));
    PostgresStore::open(&db.url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes() {
    conformance::run(fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_consecutive_revisions_or_head_moved() {
    let store = fresh().await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..20 {
                // Half the writers say which head they expect; they may lose a race.
                let mut batch = conformance::workspace_batch(&format!("w{w}-{i}"));
                if w % 2 == 0 {
                    batch.expected_head = Some(store.head().await.unwrap());
                }
                match store.commit(batch).await {
                    Ok(_) => ok += 1,
                    Err(StoreError::HeadMoved { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            ok
        }));
    }
    let mut committed = 0;
    for t in tasks {
        committed += t.await.unwrap();
    }
    let log = store.changes_after(Revision(0), 10_000).await.unwrap();
    assert_eq!(log.len(), committed);
    for (i, c) in log.iter().enumerate() {
        assert_eq!(c.revision, Revision(i as u64 + 1), "a gap or a duplicate");
    }
    assert_eq!(store.head().await.unwrap(), Revision(committed as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_survive_an_immediate_restart() {
    let db = testing::database_on_own_cluster().await.unwrap();
    let store = PostgresStore::open(&db.url).await.unwrap();
    store.commit(conformance::workspace_batch("acme")).await.unwrap();
    db.cluster.as_ref().unwrap().restart_immediate().unwrap();
    // The pool reconnects; nothing acknowledged is gone and counting goes on.
    let mut head = None;
    for _ in 0..50 {
        match store.head().await {
            Ok(h) => {
                head = Some(h);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert_eq!(head, Some(Revision(1)));
    assert_eq!(store.commit(conformance::workspace_batch("beta")).await.unwrap(), vec![Revision(2)]);
}
