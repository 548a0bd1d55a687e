//! Index sets (live streams, creators with a status) that readers list instead of walking the
//! keyspace, and prune of members whose value has gone (expired, or deleted by a process that
//! knows nothing of the index).

use super::{array, Features};
use crate::{Cmd, Reply, Result};

impl Features {
    /// The members of the index set `index`, sorted.
    pub(super) async fn index_members(&self, index: &'static str) -> Result<Vec<String>> {
        let reply = self.backend.call(Cmd::new("SMEMBERS").arg(index)).await?;
        let mut ids: Vec<String> = array("SMEMBERS", reply)?
            .into_iter()
            .filter_map(Reply::into_bytes)
            .map(|id| String::from_utf8_lossy(&id).into_owned())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Removes `gone` from `index`. Best effort: a failed prune only leaves entries that the
    /// next reader prunes again.
    pub(super) async fn index_prune(&self, index: &'static str, gone: Vec<String>) {
        if !gone.is_empty() {
            let _ = self
                .backend
                .call(Cmd::new("SREM").arg(index).args(gone))
                .await;
        }
    }
}
