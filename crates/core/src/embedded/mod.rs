//! The embedded store: a Redis-compatible in-memory keyspace, used when no Redis server is
//! configured. One mutex guards the keyspace; every command, batch and script takes it once, so
//! batches are atomic (MULTI/EXEC) and scripts run without interleaving, as on a Redis server.

mod commands;
mod cursors;
pub mod glob;
mod native_scripts;
mod sorted_set;
mod store;
mod value;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::lua::Script;
use crate::pubsub::{Event, Hub, Kind};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};
use store::{now_ms, Keyspace};

const SWEEP_INTERVAL: Duration = Duration::from_millis(100);
/// The memory bound of a new store: past it, writes evict the least recently used keys (those
/// with a TTL first).
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Expired entries reclaimed per lock acquisition, so that a mass expiry never stalls commands.
const SWEEP_BATCH: usize = 2000;

/// The in-process store. Clones share the same keyspace.
#[derive(Clone)]
pub struct EmbeddedBackend {
    shared: Arc<Shared>,
}

struct Shared {
    keyspace: Mutex<Keyspace>,
    /// PUBLISH and the subscriptions of this process (pub/sub needs no keyspace).
    hub: Hub,
    /// A test's clock, in milliseconds since the epoch, when it is not 0: the differential test
    /// of the scripts moves time itself, in step with the `TIME` it gives Redis.
    #[cfg(test)]
    frozen_ms: std::sync::atomic::AtomicU64,
}

impl Default for EmbeddedBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedBackend {
    /// An empty store, with a background thread that reclaims expired keys every 100 ms. The
    /// thread holds only a weak reference and ends once the last clone is dropped.
    pub fn new() -> EmbeddedBackend {
        Self::with_sweeper(true)
    }

    fn with_sweeper(sweeper: bool) -> EmbeddedBackend {
        let mut keyspace = Keyspace::default();
        keyspace.set_max_bytes(DEFAULT_MAX_BYTES);
        let shared = Arc::new(Shared {
            keyspace: Mutex::new(keyspace),
            hub: Hub::default(),
            #[cfg(test)]
            frozen_ms: Default::default(),
        });
        if sweeper {
            let weak = Arc::downgrade(&shared);
            // Without the thread, lazy expiry still hides expired keys; only reclamation waits.
            let _ = thread::Builder::new()
                .name("digis-redis-sweep".into())
                .spawn(move || sweep_loop(weak));
        }
        EmbeddedBackend { shared }
    }

    /// Runs one command.
    pub fn execute(&self, cmd: &Cmd) -> Result<Reply> {
        if let Some(published) = self.publish(cmd) {
            return published;
        }
        let mut ks = self.lock();
        let reply = run_guarded(&mut ks, cmd);
        ks.settle();
        reply
    }

    /// Bounds the memory the keyspace takes (estimated), in bytes; 0 for no bound. Past it,
    /// writes evict the least recently used keys with a TTL, then the least recently used of
    /// all; a write that cannot fit at all is refused with Redis's OOM error.
    pub fn set_max_bytes(&self, max_bytes: usize) {
        self.shared.keyspace.lock().set_max_bytes(max_bytes);
    }

    /// Bytes the keyspace takes (estimated) and its bound.
    pub fn memory(&self) -> (usize, usize) {
        self.shared.keyspace.lock().memory()
    }

    /// Runs `cmds` in order under one lock. With `atomic`, this is MULTI/EXEC: no other client
    /// sees an intermediate state, and a command that Redis would refuse at queueing time
    /// (unknown or wrong arity) discards the whole batch; every item then carries that error.
    pub fn execute_batch(&self, cmds: &[Cmd], atomic: bool) -> Vec<Result<Reply>> {
        match self.run_batch(cmds, atomic) {
            Ok(results) => results,
            Err(e) => vec![Err(e); cmds.len()],
        }
    }

    /// Runs the native implementation of the script registered under `name`, atomically.
    pub fn run_script(&self, name: &str, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
        let Some(script) = native_scripts::find(name) else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("script '{name}' has no native implementation in the embedded store"),
            ));
        };
        let mut ks = self.lock();
        let incoming = keys.iter().chain(args).map(Bytes::len).sum();
        let reply = guarded(
            || format!("script {name}"),
            || {
                ks.make_room(incoming)?;
                script(&mut ks, keys, args)
            },
        );
        ks.settle();
        reply
    }

    /// Entries physically held, including expired ones not reclaimed yet.
    pub fn key_count(&self) -> usize {
        self.shared.keyspace.lock().len()
    }

    /// Reclaims every expired entry now, in bounded batches; returns how many.
    pub fn sweep_expired(&self) -> usize {
        sweep_all(&self.shared)
    }

    /// The lock, with the clock of the execution unit that starts now.
    fn lock(&self) -> parking_lot::MutexGuard<'_, Keyspace> {
        let mut ks = self.shared.keyspace.lock();
        ks.set_now(self.now());
        ks
    }

    fn now(&self) -> u64 {
        #[cfg(test)]
        {
            let frozen = self
                .shared
                .frozen_ms
                .load(std::sync::atomic::Ordering::SeqCst);
            if frozen != 0 {
                return frozen;
            }
        }
        now_ms()
    }

    /// A store without the sweeper whose clock stands at `now_ms` until moved by the test.
    #[cfg(test)]
    pub(crate) fn frozen_at(now_ms: u64) -> EmbeddedBackend {
        let db = Self::with_sweeper(false);
        db.set_frozen_clock(now_ms);
        db
    }

    #[cfg(test)]
    pub(crate) fn set_frozen_clock(&self, now_ms: u64) {
        let frozen = &self.shared.frozen_ms;
        frozen.store(now_ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// PUBLISH, answered by the hub (how many subscriptions received it); `None` for any other
    /// command.
    fn publish(&self, cmd: &Cmd) -> Option<Result<Reply>> {
        let parts = cmd.parts();
        if !parts.first()?.eq_ignore_ascii_case(b"PUBLISH") {
            return None;
        }
        Some(match parts {
            [_, channel, message] => Ok(Reply::Int(self.shared.hub.publish(channel, message))),
            _ => Err(Error::command(
                "ERR wrong number of arguments for 'publish' command",
            )),
        })
    }

    fn run_batch(&self, cmds: &[Cmd], atomic: bool) -> Result<Vec<Result<Reply>>> {
        if atomic {
            // PUBLISH is the hub's, not the keyspace's: it queues like any known command.
            let mut checked = cmds.iter().filter(|cmd| cmd.name() != "PUBLISH");
            if let Some(e) = checked.find_map(|cmd| commands::check(cmd).err()) {
                return Err(Error::new(
                    e.kind,
                    format!(
                        "EXECABORT Transaction discarded because of previous errors: {}",
                        e.message
                    ),
                ));
            }
        }
        let mut ks = self.lock();
        let replies = cmds
            .iter()
            .map(|cmd| {
                self.publish(cmd)
                    .unwrap_or_else(|| run_guarded(&mut ks, cmd))
            })
            .collect();
        ks.settle();
        Ok(replies)
    }
}

fn run_guarded(ks: &mut Keyspace, cmd: &Cmd) -> Result<Reply> {
    guarded(|| cmd.name(), || commands::dispatch(ks, cmd))
}

/// A panic must never unwind into (and abort) the host process: it becomes an Internal error.
fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            format!("the embedded store panicked while running {}", what()),
        ))
    })
}

fn sweep_all(shared: &Shared) -> usize {
    let mut total = 0;
    loop {
        // The lock is released between batches so that commands interleave with a long sweep.
        let (removed, more) = shared.keyspace.lock().sweep(now_ms(), SWEEP_BATCH);
        total += removed;
        if !more {
            return total;
        }
    }
}

fn sweep_loop(store: Weak<Shared>) {
    loop {
        thread::sleep(SWEEP_INTERVAL);
        let Some(shared) = store.upgrade() else {
            return;
        };
        sweep_all(&shared);
        // Refiled in batches, the lock released between them, so that an eviction never has to
        // refile more than the keys used since the last pass.
        while shared.keyspace.lock().refile_used(SWEEP_BATCH) {}
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Embedded
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.execute(&cmd)
    }

    fn call_immediately(&self, cmd: &Cmd) -> Option<Result<Reply>> {
        Some(self.execute(cmd))
    }

    fn eval_immediately(
        &self,
        script: &'static Script,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Option<Result<Reply>> {
        Some(self.run_script(script.name, keys, args))
    }

    fn get_immediately(&self, key: &[u8]) -> Option<Result<Option<Bytes>>> {
        let mut ks = self.lock();
        Some(guarded(
            || "GET".to_string(),
            || Ok(ks.peek::<Bytes>(key)?.cloned()),
        ))
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.run_batch(&cmds, atomic)
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.run_script(script.name, &keys, &args)
    }

    async fn subscribe(
        &self,
        kind: Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<Event>,
    ) -> Result<()> {
        self.shared.hub.subscribe(kind, names, events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::{Duration, Instant};

    use super::commands::test_util::*;
    use super::*;

    #[tokio::test]
    async fn publish_reaches_this_store_s_subscribers_alone_in_batches_too() {
        let db = EmbeddedBackend::new();
        let (events, mut received) = tokio::sync::mpsc::channel(8);
        db.subscribe(Kind::Channels, vec![Bytes::from_static(b"ch")], events)
            .await
            .unwrap();
        assert!(matches!(
            received.try_recv(),
            Ok(Event::Subscribed { count: 1, .. })
        ));
        assert_eq!(
            db.execute(&Cmd::from_line("PUBLISH ch a")).unwrap(),
            Reply::Int(1)
        );
        assert_eq!(
            db.execute(&Cmd::from_line("PUBLISH other a")).unwrap(),
            Reply::Int(0)
        );
        let batch = [Cmd::from_line("SET k v"), Cmd::from_line("publish ch b")];
        let items = db.execute_batch(&batch, true);
        assert_eq!(items[1], Ok(Reply::Int(1)));
        assert!(db.execute(&Cmd::from_line("PUBLISH ch")).is_err());
        let payloads: Vec<Bytes> = std::iter::from_fn(|| received.try_recv().ok())
            .map(|event| match event {
                Event::Message { payload, .. } => payload,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            payloads,
            [Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        // Another store is another process: it hears nothing.
        assert_eq!(
            EmbeddedBackend::new()
                .execute(&Cmd::from_line("PUBLISH ch c"))
                .unwrap(),
            Reply::Int(0)
        );
    }

    #[test]
    fn transactions_are_atomic_across_threads() {
        let db = EmbeddedBackend::new();
        let batch = [Cmd::from_line("INCR a"), Cmd::from_line("INCR b")];
        let observer_batch = [Cmd::from_line("GET a"), Cmd::from_line("GET b")];
        thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        let results = db.execute_batch(&batch, true);
                        let a = results[0].as_ref().unwrap().as_int().unwrap();
                        let b = results[1].as_ref().unwrap().as_int().unwrap();
                        assert_eq!(a, b, "a batch saw another batch's half");
                    }
                });
            }
            scope.spawn(|| {
                for _ in 0..2000 {
                    let results = db.execute_batch(&observer_batch, true);
                    let a = results[0].clone().unwrap();
                    let b = results[1].clone().unwrap();
                    assert_eq!(a, b, "an observer saw a half-applied batch");
                }
            });
        });
        assert_eq!(ok(&db, "GET a"), bulk("8000"));
        assert_eq!(ok(&db, "GET b"), bulk("8000"));
    }

    #[test]
    fn batches_keep_per_item_errors() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET s text");
        let results = db.execute_batch(
            &[
                Cmd::from_line("INCR s"),
                Cmd::from_line("SET k v"),
                Cmd::from_line("GET k"),
            ],
            true,
        );
        assert_eq!(
            results[0].as_ref().unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        assert_eq!(results[1], Ok(Reply::ok()));
        assert_eq!(results[2], Ok(bulk("v")));
    }

    #[tokio::test]
    async fn queue_time_errors_discard_an_atomic_batch() {
        let db = EmbeddedBackend::new();
        let cmds = vec![
            Cmd::from_line("SET k v"),
            Cmd::from_line("GET"),
            Cmd::from_line("SET j v"),
        ];
        let e = db.pipeline(cmds.clone(), true).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Command);
        assert!(e.message.starts_with("EXECABORT"), "{}", e.message);
        assert_eq!(ok(&db, "EXISTS k j"), Reply::Int(0));
        let items = db.execute_batch(&cmds, true);
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(Result::is_err));

        let unsupported = vec![Cmd::from_line("SET k v"), Cmd::from_line("XADD s * f v")];
        let e = db.pipeline(unsupported, true).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);

        // Without atomicity each command stands alone.
        let items = db.pipeline(cmds, false).await.unwrap();
        assert_eq!(items[0], Ok(Reply::ok()));
        assert!(items[1].is_err());
        assert_eq!(items[2], Ok(Reply::ok()));
        assert_eq!(ok(&db, "EXISTS k j"), Reply::Int(2));
    }

    #[tokio::test]
    async fn backend_trait() {
        let db = EmbeddedBackend::new();
        assert_eq!(db.kind(), BackendKind::Embedded);
        assert_eq!(
            db.call(Cmd::new("SET").arg("k").arg(5u64)).await,
            Ok(Reply::ok())
        );
        assert_eq!(
            db.call(Cmd::new("INCRBY").arg("k").arg(2i64)).await,
            Ok(Reply::Int(7))
        );
        let shared: crate::SharedBackend = std::sync::Arc::new(db.clone());
        assert_eq!(shared.call(Cmd::new("GET").arg("k")).await, Ok(bulk("7")));
    }

    #[test]
    fn a_panic_becomes_an_internal_error_and_the_store_survives() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v");
        let e = run(&db, "__PANIC").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        let items = db.execute_batch(&[Cmd::from_line("__PANIC"), Cmd::from_line("GET k")], true);
        assert_eq!(items[0].as_ref().unwrap_err().kind, ErrorKind::Internal);
        assert_eq!(items[1], Ok(bulk("v")));
        assert_eq!(ok(&db, "GET k"), bulk("v"));
    }

    #[test]
    fn expired_keys_are_reclaimed_lazily_and_by_sweeping() {
        // No background thread, so that only this test's own accesses and sweeps reclaim.
        let db = EmbeddedBackend::with_sweeper(false);
        for i in 0..5000 {
            ok(&db, &format!("SET tmp:{i} v PX 20"));
        }
        ok(&db, "SET lazy v PX 20");
        ok(&db, "SET keep v");
        assert_eq!(db.key_count(), 5002);
        thread::sleep(Duration::from_millis(40));
        // Expired keys are invisible before anything reclaims them (DBSIZE still counts them,
        // as Redis does)...
        assert_eq!(ok(&db, "DBSIZE"), Reply::Int(5002));
        assert_eq!(ok(&db, "KEYS *"), bulks(&["keep"]));
        // ...an access reclaims the key it touches...
        let before = db.key_count();
        assert_eq!(ok(&db, "GET lazy"), Reply::Nil);
        assert_eq!(db.key_count(), before - 1);
        // ...and a sweep reclaims the rest, in batches.
        let swept = db.sweep_expired();
        assert_eq!(swept, before - 2);
        assert_eq!(db.key_count(), 1);
        assert_eq!(db.sweep_expired(), 0);
        db.shared.keyspace.lock().assert_index_consistent();
    }

    #[test]
    fn the_background_sweep_reclaims_without_any_access() {
        let db = EmbeddedBackend::new();
        for i in 0..100 {
            ok(&db, &format!("SET tmp:{i} v PX 10"));
        }
        assert_eq!(db.key_count(), 100);
        let deadline = Instant::now() + Duration::from_secs(2);
        while db.key_count() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn the_sweep_thread_ends_with_the_store() {
        let db = EmbeddedBackend::new();
        let weak = Arc::downgrade(&db.shared);
        let clone = db.clone();
        drop(db);
        assert!(weak.upgrade().is_some(), "a clone keeps the store alive");
        drop(clone);
        // The thread holds no strong reference between sweeps, so the store is freed at once.
        let deadline = Instant::now() + Duration::from_secs(2);
        while weak.upgrade().is_some() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(weak.upgrade().is_none());
    }

    fn value(n: usize) -> String {
        "v".repeat(n)
    }

    #[test]
    fn the_memory_bound_evicts_ttl_keys_first_then_the_least_recently_used() {
        let db = EmbeddedBackend::with_sweeper(false);
        db.set_max_bytes(12 * 1024);
        let set = |line: String| ok(&db, &line);
        // Room for seven 1 KiB values with their keys and overhead.
        set(format!("SET p1 {}", value(1024)));
        set(format!("SET p2 {}", value(1024)));
        set(format!("SET t1 {} EX 100", value(1024)));
        set(format!("SET t2 {} EX 100", value(1024)));
        set(format!("SET p3 {}", value(1024)));
        // p1 is used again: p2 is now the least recently used key without a TTL.
        ok(&db, "GET p1");
        for i in 0..5 {
            set(format!("SET new{i} {}", value(1024)));
        }
        let (used, max) = db.memory();
        assert!(used <= max, "{used} > {max}");
        assert_eq!(
            ok(&db, "EXISTS t1 t2"),
            Reply::Int(0),
            "keys with a TTL go first"
        );
        assert_eq!(
            ok(&db, "EXISTS p2"),
            Reply::Int(0),
            "then the least recently used"
        );
        assert_eq!(
            ok(&db, "EXISTS p1 p3 new0 new1 new2 new3 new4"),
            Reply::Int(7)
        );
        db.shared.keyspace.lock().assert_index_consistent();
    }

    #[test]
    fn a_write_that_cannot_fit_is_refused_and_evicts_nothing() {
        let db = EmbeddedBackend::with_sweeper(false);
        db.set_max_bytes(4096);
        ok(&db, "SET small v");
        let e = err(&db, &format!("SET big {}", value(5000)));
        assert!(e.starts_with("OOM command not allowed"), "{e}");
        assert!(e.contains("4096 bytes"), "{e}");
        assert_eq!(ok(&db, "EXISTS small big"), Reply::Int(1));
        // Without a bound it fits.
        db.set_max_bytes(0);
        ok(&db, &format!("SET big {}", value(5000)));
    }

    #[test]
    fn aggregates_growing_in_place_are_counted() {
        let db = EmbeddedBackend::with_sweeper(false);
        // Room for the whole set (2000 members at 13 bytes and their overhead) and `keep`.
        db.set_max_bytes(384 * 1024);
        ok(&db, "SET keep v EX 100");
        for i in 0..2000 {
            ok(&db, &format!("SADD s member-{i:06}"));
        }
        let (used, max) = db.memory();
        assert!(used <= max, "{used} > {max}");
        assert!(used > 2000 * 13, "the set's members are counted: {used}");
        db.shared.keyspace.lock().assert_index_consistent();
        // HDEL-style shrinking is measured too.
        for i in 0..2000 {
            ok(&db, &format!("SREM s member-{i:06}"));
        }
        assert!(db.memory().0 < 1024, "{:?}", db.memory());
        db.shared.keyspace.lock().assert_index_consistent();
    }
}
