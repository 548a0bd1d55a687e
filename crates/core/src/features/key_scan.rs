//! Walks of the keyspace by pattern: the express stores' listings, `cache.delPattern`, and the
//! adoption of streams the original module wrote.

use std::collections::HashSet;

use bytes::Bytes;

use super::{array, Features};
use crate::{Cmd, Error, Reply, Result};

/// Keys examined per SCAN step by default; large enough to keep round trips few, small enough
/// that one step never holds the server for long.
pub const SCAN_COUNT: u64 = 1000;

/// Keys per MGET when reading what a walk found.
const MGET_CHUNK: usize = 500;

impl Features {
    /// Every key matching the glob `pattern`, each once, found with SCAN of `count` keys per
    /// step (never KEYS, which blocks the server for the whole walk). On Redis Cluster the
    /// backend's SCAN walks every master behind one cursor.
    pub async fn scan_keys(&self, pattern: &str, count: u64) -> Result<Vec<Bytes>> {
        let mut cursor = Bytes::from_static(b"0");
        let mut found = Vec::new();
        // SCAN may return a key more than once (the table was resized during the walk).
        let mut seen = HashSet::new();
        loop {
            let cmd = Cmd::new("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count.max(1));
            let parts = array("SCAN", self.backend.call(cmd).await?)?;
            let Ok([next, Reply::Array(keys)]) = <[Reply; 2]>::try_from(parts) else {
                return Err(Error::protocol("SCAN did not answer [cursor, keys]"));
            };
            for key in keys.into_iter().filter_map(Reply::into_bytes) {
                if seen.insert(key.clone()) {
                    found.push(key);
                }
            }
            cursor = next
                .into_bytes()
                .ok_or_else(|| Error::protocol("SCAN answered a cursor that is not a string"))?;
            if cursor.as_ref() == b"0" {
                return Ok(found);
            }
        }
    }

    /// Every key matching `pattern`, as `scan_keys` finds them, with its value (MGET of
    /// `MGET_CHUNK` keys at a time); `None` for a key gone between the walk and the read.
    pub async fn scan_values(
        &self,
        pattern: &str,
        count: u64,
    ) -> Result<(Vec<String>, Vec<Option<Bytes>>)> {
        let keys: Vec<String> = self
            .scan_keys(pattern, count)
            .await?
            .iter()
            .map(|key| String::from_utf8_lossy(key).into_owned())
            .collect();
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MGET_CHUNK) {
            values.extend(self.mget(chunk.to_vec()).await?);
        }
        Ok((keys, values))
    }
}

#[cfg(test)]
mod tests {
    use super::super::on_embedded_store;
    use crate::Cmd;

    #[tokio::test]
    async fn values_come_with_their_keys_over_many_reads() {
        let (f, db) = on_embedded_store();
        for i in 0..1200 {
            db.execute(&Cmd::new("SET").arg(format!("v:{i}")).arg(i.to_string()))
                .unwrap();
        }
        db.execute(&Cmd::from_line("SET other 1")).unwrap();
        let (keys, values) = f.scan_values("v:*", 100).await.unwrap();
        assert_eq!((keys.len(), values.len()), (1200, 1200));
        for (key, value) in keys.iter().zip(values) {
            assert_eq!(
                format!("v:{}", std::str::from_utf8(&value.unwrap()).unwrap()),
                *key
            );
        }
        assert_eq!(f.scan_values("none:*", 10).await.unwrap(), (vec![], vec![]));
    }

    #[tokio::test]
    async fn every_matching_key_once_over_many_steps() {
        let (f, db) = on_embedded_store();
        for i in 0..250 {
            db.execute(&Cmd::new("SET").arg(format!("s:{i}")).arg("v"))
                .unwrap();
        }
        db.execute(&Cmd::from_line("SET other 1")).unwrap();
        // A step of 7 keys: many cursors, and the walk still ends.
        let mut found: Vec<String> = f
            .scan_keys("s:*", 7)
            .await
            .unwrap()
            .into_iter()
            .map(|k| String::from_utf8(k.to_vec()).unwrap())
            .collect();
        found.sort();
        let mut expected: Vec<String> = (0..250).map(|i| format!("s:{i}")).collect();
        expected.sort();
        assert_eq!(found, expected);
        assert!(f.scan_keys("none:*", 1000).await.unwrap().is_empty());
    }
}
