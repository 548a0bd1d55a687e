//! Walks of the keyspace by pattern: the express stores' listings, `cache.delPattern`, and the
//! adoption of streams the original module wrote.

use std::collections::HashSet;

use bytes::Bytes;

use super::{array, Features};
use crate::{Cmd, Error, Reply, Result};

/// Keys examined per SCAN step by default; large enough to keep round trips few, small enough
/// that one step never holds the server for long.
pub const SCAN_COUNT: u64 = 1000;

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
}

#[cfg(test)]
mod tests {
    use super::super::on_embedded_store;
    use crate::Cmd;

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
