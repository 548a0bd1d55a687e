//! The multi-key parts of `cache.*`.

use bytes::Bytes;

use super::{array, key_scan::SCAN_COUNT, unexpected, Features};
use crate::{Cmd, Reply, Result};

impl Features {
    pub async fn mget(&self, keys: Vec<String>) -> Result<Vec<Option<Bytes>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.backend.call(Cmd::new("MGET").args(keys)).await?;
        array("MGET", reply)?
            .into_iter()
            .map(|item| match item {
                Reply::Nil => Ok(None),
                Reply::Bulk(bytes) => Ok(Some(bytes)),
                other => Err(unexpected("MGET", &other)),
            })
            .collect()
    }

    /// `mget` whose keys each carry a near-cache placeholder or none (see
    /// [`Features::get_filling`]): GETs in one pipeline instead of one MGET; one failure fails
    /// the whole, as it would the MGET.
    pub async fn mget_filling(
        &self,
        keys: Vec<String>,
        fills: Vec<Option<crate::near_cache::Fill>>,
    ) -> Result<Vec<Option<Bytes>>> {
        let reads = keys
            .into_iter()
            .map(super::Target::Raw)
            .zip(fills)
            .collect();
        self.get_filling(reads).await?.into_iter().collect()
    }

    /// Deletes every key matching `pattern`; the number deleted.
    pub async fn del_pattern(&self, pattern: &str) -> Result<u64> {
        let keys = self.scan_keys(pattern, SCAN_COUNT).await?;
        let mut deleted = 0;
        // UNLINK frees the memory in the background instead of blocking the server.
        for chunk in keys.chunks(SCAN_COUNT as usize) {
            let reply = self.backend.call(Cmd::new("UNLINK").args(chunk)).await?;
            deleted += reply.as_int().ok_or_else(|| unexpected("UNLINK", &reply))? as u64;
        }
        Ok(deleted)
    }
}
