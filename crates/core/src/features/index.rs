//! Index sets (live streams, creators with a status) that readers list instead of walking the
//! keyspace, and prune of members whose value has gone (expired, or deleted by a process that
//! knows nothing of the index).

use super::{all_ok, array, Features};
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

    /// Applies `value` (commands on the keys of one item, all in one slot) and `index` (the
    /// item's entry in an index set). Where the backend lets one MULTI name both (one server),
    /// both go in one. On a cluster the index lives in another slot, so no transaction can hold
    /// both: the value goes first (in its own MULTI) and the index entry after. Readers prune
    /// entries whose value is gone, so an entry is never trusted without its value; the one
    /// gap is a concurrent set and remove of the same item, which can leave a live value
    /// unindexed until its next write or a reindex.
    pub(super) async fn write_with_index(&self, value: Vec<Cmd>, index: Cmd) -> Result<()> {
        let keys = value
            .iter()
            .chain([&index])
            .filter_map(|cmd| cmd.parts().get(1));
        if self.in_one_scope(keys.map(|key| &key[..])) {
            let mut cmds = value;
            cmds.push(index);
            all_ok(self.backend.pipeline(cmds, true).await?)?;
        } else {
            all_ok(self.backend.pipeline(value, true).await?)?;
            self.backend.call(index).await?;
        }
        Ok(())
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
