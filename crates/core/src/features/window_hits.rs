//! Fixed-window hit counters for express-rate-limit's store interface (`RateLimitStore`):
//! express-rate-limit counts every hit and decides itself, so the counter never refuses.

use bytes::Bytes;

use super::{array, Features};
use crate::lua::{ScriptCall, WINDOW_HITS, WINDOW_HITS_MANY};
use crate::{BackendKind, Error, Reply, Result};

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

    /// Many changes in one round trip where the backend can, in order, each as atomic as
    /// `window_hits`; each keeps its own outcome. Up to `COUNTERS_PER_SCRIPT` share one script
    /// call (the server's per-call cost is most of a counter's), except on a cluster, where
    /// the counters of one call would span slots.
    pub async fn window_hits_many(
        &self,
        changes: &[WindowHitsChange],
    ) -> Result<Vec<Result<WindowHits>>> {
        if self.backend.kind() == BackendKind::RedisCluster {
            let calls = changes.iter().map(WindowHitsChange::call).collect();
            let items = self.backend.eval_many(calls).await?;
            return Ok(items.into_iter().map(|item| counted(item?)).collect());
        }
        let calls = changes
            .chunks(COUNTERS_PER_SCRIPT)
            .map(|chunk| {
                let mut call = ScriptCall {
                    script: &WINDOW_HITS_MANY,
                    keys: Vec::with_capacity(chunk.len()),
                    args: Vec::with_capacity(3 * chunk.len()),
                };
                for change in chunk {
                    let one = change.call();
                    call.keys.extend(one.keys);
                    call.args.extend(one.args);
                }
                call
            })
            .collect();
        let replies = self.backend.eval_many(calls).await?;
        let mut items = Vec::with_capacity(changes.len());
        for (chunk, reply) in changes.chunks(COUNTERS_PER_SCRIPT).zip(replies) {
            match reply.and_then(|reply| array(WINDOW_HITS_MANY.name, reply)) {
                Ok(parts) if parts.len() == chunk.len() => {
                    items.extend(parts.into_iter().map(|part| match part {
                        Reply::Bulk(message) => Err(Error::command(
                            String::from_utf8_lossy(&message).into_owned(),
                        )),
                        part => counted(part),
                    }))
                }
                Ok(parts) => items.extend(chunk.iter().map(|_| {
                    Err(Error::protocol(format!(
                        "{} answered {} items for {}",
                        WINDOW_HITS_MANY.name,
                        parts.len(),
                        chunk.len()
                    )))
                })),
                Err(err) => items.extend(chunk.iter().map(|_| Err(err.clone()))),
            }
        }
        if items.len() != changes.len() {
            return Err(Error::protocol(
                "a window-counter batch answered too few items",
            ));
        }
        Ok(items)
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
}
