//! Creator profile invalidation and availability status.
//!
//! A status key and its index entry change together in one MULTI. On Redis Cluster the index
//! (`creator:index:status`, one key for every creator) sits in another slot than the status, so
//! there the pair is not atomic (see `write_with_index`): writes are idempotent and readers
//! prune entries whose status expired.

use bytes::Bytes;

use super::{all_ok, Features};
use crate::{keys, Cmd, Result};

impl Features {
    /// Deletes `creator:<id>` and `creator:list`. Two DELs in one pipeline rather than one
    /// two-key DEL, because the keys live in different cluster slots.
    pub async fn creators_invalidate(&self, id: &str) -> Result<()> {
        let cmds = vec![
            Cmd::new("DEL").arg(keys::creator(id)),
            Cmd::new("DEL").arg(keys::CREATOR_LIST),
        ];
        all_ok(self.backend.pipeline(cmds, false).await?)?;
        Ok(())
    }

    /// Sets a status for `ttl_seconds`; `None` clears it (the creator is offline).
    pub async fn creators_set_status(
        &self,
        id: &str,
        status: Option<&str>,
        ttl_seconds: u64,
    ) -> Result<()> {
        let key = keys::creator_status(id);
        match status {
            Some(status) => {
                self.write_with_index(
                    vec![Cmd::new("SETEX")
                        .arg(key)
                        .arg(ttl_seconds.max(1))
                        .arg(status)],
                    Cmd::new("SADD").arg(keys::CREATOR_STATUS_INDEX).arg(id),
                )
                .await
            }
            None => {
                self.write_with_index(
                    vec![Cmd::new("DEL").arg(key)],
                    Cmd::new("SREM").arg(keys::CREATOR_STATUS_INDEX).arg(id),
                )
                .await
            }
        }
    }

    /// `(creator id, status)` of every creator with a live status, ordered by id.
    pub async fn creators_online(&self) -> Result<Vec<(String, Bytes)>> {
        let ids = self.index_members(keys::CREATOR_STATUS_INDEX).await?;
        let statuses = self
            .mget(ids.iter().map(|id| keys::creator_status(id)).collect())
            .await?;
        let mut online = Vec::new();
        let mut gone = Vec::new();
        for (id, status) in ids.into_iter().zip(statuses) {
            match status {
                Some(status) => online.push((id, status)),
                None => gone.push(id),
            }
        }
        self.index_prune(keys::CREATOR_STATUS_INDEX, gone).await;
        Ok(online)
    }
}
