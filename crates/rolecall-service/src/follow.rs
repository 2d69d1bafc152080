//! Keeping the engine equal to the change log when other processes write to it too
//! (several replicas on one PostgreSQL database).
//!
//! Every process applies its own commits at once. Commits made elsewhere reach it three
//! ways: the store's change signal (LISTEN/NOTIFY) wakes the follower; the follower polls
//! the log head as a safety net; and every write catches up to the head it locked before
//! it validates. Changes are applied strictly in revision order: a gap, a change that does not
//! apply, or a log that went backwards makes the engine reload from the whole log.
//!
//! A process that has not been able to confirm it is current for longer than
//! `max_staleness` answers no question (fail closed) until it is current again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use rolecall_engine::Engine;
use rolecall_model::{Limits, Revision};
use rolecall_store::Store;

use crate::ServiceError;

/// How a process follows a log others write to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follow {
    /// How often the log head is read when nothing announced a change.
    pub poll: Duration,
    /// Questions are refused (503 `replica_stale`) when the engine has not been confirmed
    /// current for this long, e.g. while the database is away.
    pub max_staleness: Duration,
}

impl Default for Follow {
    fn default() -> Follow {
        Follow { poll: Duration::from_millis(250), max_staleness: Duration::from_secs(2) }
    }
}

/// How many changes are read from the log at a time.
const CHUNK: u32 = 10_000;

/// The engine and what guards it, shared by the service and its follower.
#[derive(Debug)]
pub(crate) struct Core {
    engine: RwLock<Engine>,
    /// One write (or catch-up) at a time in this process.
    pub(crate) writer: tokio::sync::Mutex<()>,
    limits: Limits,
    started: Instant,
    /// Milliseconds after `started` when the engine was last known to equal the log head.
    synced_at: AtomicU64,
    /// Wakes the follower (a question waits for a revision it has not seen).
    pub(crate) poke: tokio::sync::Notify,
    /// Wakes the webhook dispatcher (a command wrote deliveries, or one was redelivered).
    pub(crate) outbox: std::sync::Arc<tokio::sync::Notify>,
    /// `None` when this process is the only writer: the engine is always current.
    pub(crate) follow: Option<Follow>,
}

impl Core {
    /// Loads the whole log into a new engine.
    pub(crate) async fn open<S: Store>(
        store: &S,
        limits: Limits,
        follow: Option<Follow>,
    ) -> Result<Core, ServiceError> {
        let started = Instant::now();
        let engine = load(store, limits).await?;
        Ok(Core {
            engine: RwLock::new(engine),
            writer: tokio::sync::Mutex::new(()),
            limits,
            started,
            synced_at: AtomicU64::new(0),
            poke: tokio::sync::Notify::new(),
            outbox: Default::default(),
            follow,
        })
    }

    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, Engine>, ServiceError> {
        self.engine.read().map_err(|_| ServiceError::Corrupt("the engine lock is poisoned".into()))
    }

    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, Engine>, ServiceError> {
        self.engine.write().map_err(|_| ServiceError::Corrupt("the engine lock is poisoned".into()))
    }

    /// The engine as it is now, whatever its freshness.
    pub(crate) fn snapshot(&self) -> RwLockReadGuard<'_, Engine> {
        match self.engine.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn millis_since_start(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    /// The engine was equal to the log head at `at` (a time taken before the head was read).
    pub(crate) fn mark_synced(&self, at: Instant) {
        self.synced_at.fetch_max(self.millis_since_start(at), Ordering::SeqCst);
    }

    /// Refuses when this process may be behind the log for longer than allowed.
    pub(crate) fn require_fresh(&self) -> Result<(), ServiceError> {
        let Some(follow) = self.follow else { return Ok(()) };
        let behind = self.millis_since_start(Instant::now()).saturating_sub(self.synced_at.load(Ordering::SeqCst));
        if u128::from(behind) > follow.max_staleness.as_millis() {
            return Err(ServiceError::Stale { millis: behind });
        }
        Ok(())
    }

    /// Applies every change after the engine's revision. The caller holds `writer`.
    pub(crate) async fn catch_up<S: Store>(&self, store: &S) -> Result<Revision, ServiceError> {
        loop {
            let from = self.read()?.revision();
            let chunk = store.changes_after(from, CHUNK).await?;
            if chunk.is_empty() {
                return Ok(from);
            }
            let broken = {
                let mut engine = self.write()?;
                let mut broken = None;
                for (i, logged) in chunk.iter().enumerate() {
                    let expected = from.0 + 1 + i as u64;
                    if logged.revision.0 != expected {
                        broken = Some(format!("revision {} follows {}", logged.revision, expected - 1));
                    } else if let Err(e) = engine.apply_at(logged.revision, &logged.change) {
                        broken = Some(format!("change {} does not apply: {e}", logged.revision));
                    }
                    if broken.is_some() {
                        break;
                    }
                }
                broken
            };
            if let Some(why) = broken {
                tracing::warn!(%why, "the change log cannot be followed change by change; reloading it whole");
                return self.reload(store).await;
            }
        }
    }

    /// Brings the engine to at least `head`, a head read from the log: catches up, and
    /// reloads when the engine is ahead of it (the log went back) or cannot reach it. With
    /// the head locked, "at least" is "exactly". The caller holds `writer`.
    pub(crate) async fn catch_up_to<S: Store>(&self, store: &S, head: Revision) -> Result<(), ServiceError> {
        let mine = self.read()?.revision();
        let mut reached = if mine < head { self.catch_up(store).await? } else { mine };
        if mine > head || reached < head {
            tracing::warn!(head = head.0, engine = mine.0, "the engine does not match the change log; reloading it");
            reached = self.reload(store).await?;
        }
        if reached < head {
            return Err(ServiceError::Corrupt(format!("the change log's head is {head} but it holds {reached}")));
        }
        Ok(())
    }

    /// Replaces the engine by one loaded from the whole log. The caller holds `writer`.
    pub(crate) async fn reload<S: Store>(&self, store: &S) -> Result<Revision, ServiceError> {
        let fresh = load(store, self.limits).await?;
        let revision = fresh.revision();
        *self.write()? = fresh;
        Ok(revision)
    }

    /// Reads the log head and brings the engine to it (see [`Core::catch_up_to`]). The
    /// engine counts as current only once it has reached the head.
    pub(crate) async fn sync<S: Store>(&self, store: &S) -> Result<Revision, ServiceError> {
        let asked = Instant::now();
        let head = store.head().await?;
        if self.read()?.revision() != head {
            let _one_at_a_time = self.writer.lock().await;
            // Another write may have moved both on meanwhile: read the head again (not
            // locked: the log may grow past it while we read, which is fine).
            self.catch_up_to(store, store.head().await?).await?;
        }
        self.mark_synced(asked);
        Ok(head)
    }
}

async fn load<S: Store>(store: &S, limits: Limits) -> Result<Engine, ServiceError> {
    let mut engine = Engine::new(limits);
    loop {
        let chunk = store.changes_after(engine.revision(), CHUNK).await?;
        if chunk.is_empty() {
            return Ok(engine);
        }
        for logged in chunk {
            engine
                .apply_at(logged.revision, &logged.change)
                .map_err(|e| ServiceError::Corrupt(format!("change {} does not apply: {e}", logged.revision)))?;
        }
    }
}

/// The follower: wakes on the store's signal, on a poke, or when `poll` has passed, and
/// syncs. Runs until the store's signal ends or the task is aborted.
pub(crate) async fn follow<S: Store>(
    store: S,
    core: Arc<Core>,
    mut signal: tokio::sync::watch::Receiver<u64>,
    poll: Duration,
) {
    let mut failing = false;
    loop {
        match core.sync(&store).await {
            Ok(_) if failing => {
                tracing::info!("following the change log again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot follow the change log; questions fail closed once it is stale");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            changed = signal.changed() => if changed.is_err() { return },
            () = core.poke.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}
