//! Fixed-window hit counters for express-rate-limit's store interface (`RateLimitStore`):
//! express-rate-limit counts every hit and decides itself, so the counter never refuses.

use std::collections::HashMap;

use bytes::Bytes;

use super::{array, Features};
use crate::lua::{ScriptCall, WINDOW_HITS, WINDOW_HITS_MANY};
use crate::{Error, Reply, Result};

/// Counters per `WINDOW_HITS_MANY` call: the server runs one call without a pause, so a huge
/// batch goes as several calls (one pipeline) rather than one long block.
const COUNTERS_PER_SCRIPT: usize = 64;

/// One counter after a change: its hits in the current window and the time left in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowHits {
    pub hits: i64,
    /// 0 when no window is running (nothing counted).
    pub reset_ms: u64,
}

/// One change to a counter: its whole key, the window, the change, and whether every hit
/// restarts the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowHitsChange {
    pub key: String,
    pub window_ms: u64,
    pub change: i64,
    pub restart_on_hit: bool,
}

impl WindowHitsChange {
    fn call(&self) -> ScriptCall {
        ScriptCall {
            script: &WINDOW_HITS,
            keys: vec![Bytes::copy_from_slice(self.key.as_bytes())],
            args: vec![
                Bytes::from(self.window_ms.to_string()),
                Bytes::from(self.change.to_string()),
                Bytes::from_static(if self.restart_on_hit { b"1" } else { b"0" }),
            ],
        }
    }
}

/// The script's reply `{hits, reset_ms}` as a `WindowHits`.
fn counted(reply: Reply) -> Result<WindowHits> {
    let parts = array(WINDOW_HITS.name, reply)?;
    let numbers: Vec<i64> = parts.iter().filter_map(Reply::as_int).collect();
    let [hits, reset_ms] = numbers[..] else {
        return Err(Error::protocol(format!(
            "{} answered {parts:?}",
            WINDOW_HITS.name
        )));
    };
    Ok(WindowHits {
        hits,
        reset_ms: reset_ms.max(0) as u64,
    })
}

impl Features {
    /// Adds `change` (1 a hit, -1 a hit taken back, never below zero, 0 a read) to the counter
    /// at `key`, starting a `window_ms` window on the first hit, and on every hit when
    /// `restart_on_hit`: one atomic script call, one round trip.
    pub async fn window_hits(
        &self,
        key: &str,
        window_ms: u64,
        change: i64,
        restart_on_hit: bool,
    ) -> Result<WindowHits> {
        let call = WindowHitsChange {
            key: key.to_owned(),
            window_ms,
            change,
            restart_on_hit,
        }
        .call();
        counted(self.backend.eval(call.script, call.keys, call.args).await?)
    }

    /// `window_hits` done at once where the backend can (the embedded store); `None` otherwise.
    pub fn window_hits_immediately(&self, change: &WindowHitsChange) -> Option<Result<WindowHits>> {
        let call = change.call();
        let reply = self
            .backend
            .eval_immediately(call.script, &call.keys, &call.args)?;
        Some(reply.and_then(counted))
    }

    /// Many changes in one round trip where the backend can, in order, each as atomic as
    /// `window_hits`; each keeps its own outcome. Up to `COUNTERS_PER_SCRIPT` counters of one
    /// atomic scope (any counters on one server, one slot's on a cluster) share one script
    /// call: the server's per-call cost is most of a counter's.
    pub async fn window_hits_many(
        &self,
        changes: &[WindowHitsChange],
    ) -> Result<Vec<Result<WindowHits>>> {
        let batches = self.script_batches(changes);
        let calls = batches
            .iter()
            .map(|positions| {
                let mut call = ScriptCall {
                    script: &WINDOW_HITS_MANY,
                    keys: Vec::with_capacity(positions.len()),
                    args: Vec::with_capacity(3 * positions.len()),
                };
                for &at in positions {
                    let one = changes[at].call();
                    call.keys.extend(one.keys);
                    call.args.extend(one.args);
                }
                call
            })
            .collect();
        let replies = self.backend.eval_many(calls).await?;
        if replies.len() != batches.len() {
            return Err(Error::protocol(
                "a window-counter batch answered too few items",
            ));
        }
        let mut items: Vec<Result<WindowHits>> = changes
            .iter()
            .map(|_| Err(Error::protocol("a window counter got no reply")))
            .collect();
        for (positions, reply) in batches.iter().zip(replies) {
            match reply.and_then(|reply| array(WINDOW_HITS_MANY.name, reply)) {
                Ok(parts) if parts.len() == positions.len() => {
                    for (&at, part) in positions.iter().zip(parts) {
                        items[at] = match part {
                            Reply::Bulk(message) => Err(Error::command(
                                String::from_utf8_lossy(&message).into_owned(),
                            )),
                            part => counted(part),
                        };
                    }
                }
                Ok(parts) => {
                    let err = Error::protocol(format!(
                        "{} answered {} items for {}",
                        WINDOW_HITS_MANY.name,
                        parts.len(),
                        positions.len()
                    ));
                    for &at in positions {
                        items[at] = Err(err.clone());
                    }
                }
                Err(err) => {
                    for &at in positions {
                        items[at] = Err(err.clone());
                    }
                }
            }
        }
        Ok(items)
    }

    /// The positions in `changes` of each script call's counters: grouped by the backend's
    /// atomic scope (in order of first appearance, each group in the callers' order, so the
    /// changes to one counter keep theirs), at most `COUNTERS_PER_SCRIPT` per call.
    fn script_batches(&self, changes: &[WindowHitsChange]) -> Vec<Vec<usize>> {
        let mut batch_of_scope: HashMap<u16, usize> = HashMap::new();
        let mut batches: Vec<Vec<usize>> = Vec::new();
        for (at, change) in changes.iter().enumerate() {
            let scope = self.backend.atomic_scope(change.key.as_bytes());
            let open = batch_of_scope
                .get(&scope)
                .copied()
                .filter(|&batch| batches[batch].len() < COUNTERS_PER_SCRIPT);
            match open {
                Some(batch) => batches[batch].push(at),
                None => {
                    batch_of_scope.insert(scope, batches.len());
                    batches.push(vec![at]);
                }
            }
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::embedded::EmbeddedBackend;

    #[tokio::test]
    async fn counts_hits_and_takes_them_back_on_the_embedded_store() {
        let f = Features::new(Arc::new(EmbeddedBackend::new()));
        let first = f.window_hits("rl:a", 60_000, 1, false).await.unwrap();
        assert_eq!(first.hits, 1);
        assert!(first.reset_ms > 59_000 && first.reset_ms <= 60_000);
        assert_eq!(
            f.window_hits("rl:a", 60_000, 1, false).await.unwrap().hits,
            2
        );
        assert_eq!(
            f.window_hits("rl:a", 60_000, -1, false).await.unwrap().hits,
            1
        );
        assert_eq!(
            f.window_hits("rl:a", 60_000, 0, false).await.unwrap().hits,
            1
        );
        let none = f.window_hits("rl:b", 60_000, 0, false).await.unwrap();
        assert_eq!(
            none,
            WindowHits {
                hits: 0,
                reset_ms: 0
            }
        );
    }

    /// The embedded store, with keys scoped by their first byte as a cluster scopes them by
    /// slot, and a count of the script calls it ran.
    struct ScopedByFirstByte {
        store: EmbeddedBackend,
        script_calls: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl crate::Backend for ScopedByFirstByte {
        fn kind(&self) -> crate::BackendKind {
            crate::BackendKind::RedisCluster
        }
        fn atomic_scope(&self, key: &[u8]) -> u16 {
            u16::from(key[0])
        }
        async fn call(&self, cmd: crate::Cmd) -> Result<Reply> {
            self.store.call(cmd).await
        }
        async fn pipeline(
            &self,
            cmds: Vec<crate::Cmd>,
            atomic: bool,
        ) -> Result<Vec<Result<Reply>>> {
            self.store.pipeline(cmds, atomic).await
        }
        async fn eval(
            &self,
            script: &'static crate::lua::Script,
            keys: Vec<Bytes>,
            args: Vec<Bytes>,
        ) -> Result<Reply> {
            let scopes: std::collections::HashSet<u16> =
                keys.iter().map(|k| self.atomic_scope(k)).collect();
            assert_eq!(scopes.len(), 1, "a script call spans scopes: {keys:?}");
            self.script_calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.store.eval(script, keys, args).await
        }
    }

    #[tokio::test]
    async fn a_batch_shares_script_calls_within_each_scope_and_answers_in_order() {
        let backend = Arc::new(ScopedByFirstByte {
            store: EmbeddedBackend::new(),
            script_calls: Default::default(),
        });
        let f = Features::new(backend.clone());
        let change = |key: &str, change: i64| WindowHitsChange {
            key: key.to_owned(),
            window_ms: 60_000,
            change,
            restart_on_hit: false,
        };
        // 70 hits on scope `a` (two calls: 64 + 6), interleaved with scope `b`'s.
        let mut changes = Vec::new();
        let mut expected = Vec::new();
        for i in 0..70 {
            changes.push(change("a:1", 1));
            expected.push(i + 1);
            if i % 10 == 0 {
                changes.push(change("b:1", 1));
                expected.push(i / 10 + 1);
            }
        }
        changes.push(change("b:1", -1));
        expected.push(6);
        let items = f.window_hits_many(&changes).await.unwrap();
        let hits: Vec<i64> = items.into_iter().map(|item| item.unwrap().hits).collect();
        assert_eq!(hits, expected);
        let calls = backend
            .script_calls
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(calls, 3);
    }
}
