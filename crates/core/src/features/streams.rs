//! Active streams with an index set, so listing them never walks the keyspace, and viewer
//! presence per stream.
//!
//! A stream's value and its index entry change together in one MULTI. On Redis Cluster the index
//! (`stream:index:active`, one key for every stream) sits in another slot than the value, so
//! there the pair is not atomic (see `write_with_index`): writes are idempotent and readers
//! prune index entries whose value is gone (expired, or removed by the original module, which
//! knows nothing of the index). A stream's viewers share its value's slot
//! (`{stream:active:<id>}:viewers`), so they are removed with it atomically everywhere.

use bytes::Bytes;

use super::{all_ok, array, key_scan::SCAN_COUNT, now_ms, single_key::set_command, Features};
use crate::{keys, Cmd, Error, Reply, Result};

/// A live stream's data and its current viewer count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveStream {
    pub data: Bytes,
    pub viewers: u64,
}

impl Features {
    pub async fn streams_set_active(
        &self,
        id: &str,
        value: Bytes,
        ttl_seconds: Option<u64>,
    ) -> Result<()> {
        let key = keys::active_stream(id);
        self.write_with_index(
            vec![set_command(key, value, ttl_seconds)],
            Cmd::new("SADD").arg(keys::ACTIVE_STREAM_INDEX).arg(id),
        )
        .await
    }

    pub async fn streams_remove_active(&self, id: &str) -> Result<()> {
        self.write_with_index(
            vec![Cmd::new("DEL")
                .arg(keys::active_stream(id))
                .arg(keys::stream_viewers(id))],
            Cmd::new("SREM").arg(keys::ACTIVE_STREAM_INDEX).arg(id),
        )
        .await
    }

    /// Every live stream with its viewer count, ordered by stream id: the index, then one
    /// pipeline for the values and the counts. Cost grows with the live streams only.
    pub async fn streams_all_active(&self, presence_ms: u64) -> Result<Vec<ActiveStream>> {
        let ids = self.index_members(keys::ACTIVE_STREAM_INDEX).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let since = now_ms().saturating_sub(presence_ms);
        let mut cmds = vec![Cmd::new("MGET").args(ids.iter().map(|id| keys::active_stream(id)))];
        cmds.extend(ids.iter().map(|id| viewer_count_command(id, since)));
        let mut items = all_ok(self.backend.pipeline(cmds, false).await?)?.into_iter();
        let values = array("MGET", items.next().unwrap_or(Reply::Nil))?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for ((id, value), count) in ids.into_iter().zip(values).zip(items) {
            match value {
                Reply::Bulk(data) => live.push(ActiveStream {
                    data,
                    viewers: count.as_int().unwrap_or(0).max(0) as u64,
                }),
                _ => gone.push(id),
            }
        }
        self.index_prune(keys::ACTIVE_STREAM_INDEX, gone).await;
        Ok(live)
    }

    /// Adds to the index every `stream:active:*` key already present, e.g. written by the
    /// original module during a rollout. Walks the keyspace with SCAN, so it is meant for
    /// start-up and explicit calls, never per read; the number of streams found.
    pub async fn streams_reindex(&self) -> Result<u64> {
        let pattern = format!("{}*", keys::ACTIVE_STREAM_PREFIX);
        let found = self.scan_keys(&pattern, SCAN_COUNT).await?;
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

    /// Marks `viewer` present now (a heartbeat); forgets viewers silent for `presence_ms`.
    pub async fn streams_viewer_joined(
        &self,
        stream: &str,
        viewer: &str,
        presence_ms: u64,
    ) -> Result<()> {
        let key = keys::stream_viewers(stream);
        let now = now_ms();
        let cmds = vec![
            Cmd::new("ZADD").arg(key.as_str()).arg(now).arg(viewer),
            Cmd::new("ZREMRANGEBYSCORE")
                .arg(key.as_str())
                .arg("-inf")
                .arg(format!("({}", now.saturating_sub(presence_ms))),
            // The whole set goes once nobody has been seen for a presence window.
            Cmd::new("PEXPIRE")
                .arg(key.as_str())
                .arg(presence_ms.max(1)),
        ];
        all_ok(self.backend.pipeline(cmds, true).await?)?;
        Ok(())
    }

    pub async fn streams_viewer_left(&self, stream: &str, viewer: &str) -> Result<()> {
        let cmd = Cmd::new("ZREM")
            .arg(keys::stream_viewers(stream))
            .arg(viewer);
        self.backend.call(cmd).await?;
        Ok(())
    }

    /// Unique viewers seen within the last `presence_ms`.
    pub async fn streams_viewer_count(&self, stream: &str, presence_ms: u64) -> Result<u64> {
        let since = now_ms().saturating_sub(presence_ms);
        let reply = self
            .backend
            .call(viewer_count_command(stream, since))
            .await?;
        let count = reply
            .as_int()
            .ok_or_else(|| Error::protocol(format!("ZCOUNT answered {reply:?}")))?;
        Ok(count.max(0) as u64)
    }
}

fn viewer_count_command(stream: &str, since_ms: u64) -> Cmd {
    Cmd::new("ZCOUNT")
        .arg(keys::stream_viewers(stream))
        .arg(since_ms)
        .arg("+inf")
}
