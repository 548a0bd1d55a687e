//! Active streams with an index set, so listing them never walks the keyspace.
//!
//! The value key and the index live in different cluster slots, so they are not updated
//! atomically: writes are idempotent and readers prune index entries whose value is gone
//! (expired, or removed by the original module, which knows nothing of the index).

use bytes::Bytes;

use super::{all_ok, array, values::set_command, Features, Target};
use crate::{keys, Cmd, Reply, Result};

impl Features {
    pub async fn streams_set_active(
        &self,
        id: &str,
        value: Bytes,
        ttl_seconds: Option<u64>,
    ) -> Result<()> {
        let key = Target::ActiveStream(id.to_string()).key();
        let cmds = vec![
            set_command(key, value, ttl_seconds),
            Cmd::new("SADD").arg(keys::ACTIVE_STREAM_INDEX).arg(id),
        ];
        all_ok(self.backend.pipeline(cmds, false).await?)?;
        Ok(())
    }

    pub async fn streams_remove_active(&self, id: &str) -> Result<()> {
        let key = Target::ActiveStream(id.to_string()).key();
        let cmds = vec![
            Cmd::new("DEL").arg(key),
            Cmd::new("SREM").arg(keys::ACTIVE_STREAM_INDEX).arg(id),
        ];
        all_ok(self.backend.pipeline(cmds, false).await?)?;
        Ok(())
    }

    /// The data of every live stream, ordered by stream id.
    pub async fn streams_all_active(&self) -> Result<Vec<Bytes>> {
        let reply = self
            .backend
            .call(Cmd::new("SMEMBERS").arg(keys::ACTIVE_STREAM_INDEX))
            .await?;
        let mut ids: Vec<Bytes> = array("SMEMBERS", reply)?
            .into_iter()
            .filter_map(Reply::into_bytes)
            .collect();
        ids.sort();
        let stream_keys = ids
            .iter()
            .map(|id| keys::active_stream(&String::from_utf8_lossy(id)))
            .collect();
        let values = self.mget(stream_keys).await?;
        let (live, gone): (Vec<_>, Vec<_>) =
            ids.into_iter().zip(values).partition(|(_, v)| v.is_some());
        if !gone.is_empty() {
            let prune = Cmd::new("SREM")
                .arg(keys::ACTIVE_STREAM_INDEX)
                .args(gone.into_iter().map(|(id, _)| id));
            // Best effort: a failed prune only leaves entries the next reader prunes again.
            let _ = self.backend.call(prune).await;
        }
        Ok(live.into_iter().filter_map(|(_, v)| v).collect())
    }

    /// Adds to the index every `stream:active:*` key already present, e.g. written by the
    /// original module during a rollout. Uses SCAN; the number of streams found.
    pub async fn streams_reindex(&self) -> Result<u64> {
        let pattern = format!("{}*", keys::ACTIVE_STREAM_PREFIX);
        let found = self.scan_keys(&pattern).await?;
        let mut ids: Vec<Bytes> = found
            .iter()
            .map(|key| key.slice(keys::ACTIVE_STREAM_PREFIX.len()..))
            .collect();
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let cmd = Cmd::new("SADD")
                .arg(keys::ACTIVE_STREAM_INDEX)
                .args(ids.iter());
            self.backend.call(cmd).await?;
        }
        Ok(ids.len() as u64)
    }
}
