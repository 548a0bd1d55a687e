//! Fixed-window hit counters for express-rate-limit's store interface (`RateLimitStore`):
//! express-rate-limit counts every hit and decides itself, so the counter never refuses.

use bytes::Bytes;

use super::{array, Features};
use crate::script::{ScriptCall, WINDOW_HITS};
use crate::{Error, Reply, Result};

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

    /// Many changes in one round trip where the backend can, each still one atomic script
    /// call, sent in order; each keeps its own outcome.
    pub async fn window_hits_many(
        &self,
        changes: &[WindowHitsChange],
    ) -> Result<Vec<Result<WindowHits>>> {
        let calls = changes.iter().map(WindowHitsChange::call).collect();
        let items = self.backend.eval_many(calls).await?;
        Ok(items.into_iter().map(|item| counted(item?)).collect())
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
