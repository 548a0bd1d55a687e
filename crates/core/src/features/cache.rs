//! The multi-key parts of `cache.*`.

use bytes::Bytes;

use super::{array, unexpected, Features};
use crate::{Cmd, Error, Reply, Result};

/// Keys examined per SCAN step; large enough to keep round trips few, small enough that one
/// step never holds the server for long.
const SCAN_COUNT: u64 = 1000;

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

    /// Every key matching the glob `pattern`, found with SCAN (never KEYS, which blocks the
    /// server for the whole walk).
    pub async fn scan_keys(&self, pattern: &str) -> Result<Vec<Bytes>> {
        let mut cursor = Bytes::from_static(b"0");
        let mut found = Vec::new();
        loop {
            let cmd = Cmd::new("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let parts = array("SCAN", self.backend.call(cmd).await?)?;
            let Ok([next, Reply::Array(keys)]) = <[Reply; 2]>::try_from(parts) else {
                return Err(Error::protocol("SCAN did not answer [cursor, keys]"));
            };
            found.extend(keys.into_iter().filter_map(Reply::into_bytes));
            cursor = next
                .into_bytes()
                .ok_or_else(|| Error::protocol("SCAN answered a cursor that is not a string"))?;
            if cursor.as_ref() == b"0" {
                return Ok(found);
            }
        }
    }

    /// Deletes every key matching `pattern`; the number deleted.
    pub async fn del_pattern(&self, pattern: &str) -> Result<u64> {
        let keys = self.scan_keys(pattern).await?;
        let mut deleted = 0;
        // SCAN may return a key twice; UNLINK counts only what it really removed, and frees
        // the memory in the background instead of blocking the server.
        for chunk in keys.chunks(SCAN_COUNT as usize) {
            let reply = self.backend.call(Cmd::new("UNLINK").args(chunk)).await?;
            deleted += reply.as_int().ok_or_else(|| unexpected("UNLINK", &reply))? as u64;
        }
        Ok(deleted)
    }
}
