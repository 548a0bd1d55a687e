//! The `cacheResponse` middleware's records and their tags (`cache.invalidateTag`).
//!
//! A tag is a sorted set of record keys scored by each record's expiry (`keys::response_tag`).
//! Records and tag sets sit in different Redis Cluster slots (a tag spans any number of
//! records), so what changes them together is one MULTI on a single server and one plain
//! pipeline on a cluster. Neither needs more: every step is idempotent, a tag member whose
//! record has expired is harmless, and removing exactly the members read keeps any response
//! tagged meanwhile for the next invalidation.

use bytes::Bytes;

use super::{all_ok, array, now_ms, unexpected, Features};
use crate::{keys, Cmd, Reply, Result};

impl Features {
    /// Stores the record `response:<name>` for `ttl_seconds`, and for each tag an entry scored
    /// by the record's expiry. Writing also drops the tag's expired entries and keeps the tag set
    /// alive exactly as long as its longest-lived record (PEXPIREAT NX sets a first expiry, GT
    /// only ever extends it), so a tag set is bounded by the live responses under it and
    /// vanishes with them. One round trip.
    pub async fn response_store(
        &self,
        name: &str,
        record: Bytes,
        ttl_seconds: u64,
        tags: Vec<String>,
    ) -> Result<()> {
        let record_key = keys::response(name);
        let now = now_ms();
        let expires_at = now + ttl_seconds * 1000;
        let mut cmds = vec![Cmd::new("SET")
            .arg(&record_key)
            .arg(record)
            .arg("EX")
            .arg(ttl_seconds)];
        for tag in tags {
            let tag_key = keys::response_tag(&tag);
            cmds.extend([
                Cmd::new("ZADD")
                    .arg(&tag_key)
                    .arg(expires_at)
                    .arg(&record_key),
                Cmd::new("ZREMRANGEBYSCORE")
                    .arg(&tag_key)
                    .arg("-inf")
                    .arg(format!("({now}")),
                Cmd::new("PEXPIREAT")
                    .arg(&tag_key)
                    .arg(expires_at)
                    .arg("NX"),
                Cmd::new("PEXPIREAT")
                    .arg(&tag_key)
                    .arg(expires_at)
                    .arg("GT"),
            ]);
        }
        let atomic = self.in_one_scope(
            cmds.iter()
                .filter_map(|cmd| cmd.parts().get(1))
                .map(|k| &k[..]),
        );
        all_ok(self.backend.pipeline(cmds, atomic).await?)?;
        Ok(())
    }

    /// Deletes every response cached under `tag`; the number of records removed. Two round
    /// trips: the tag's members, then their deletion with the removal of exactly those members
    /// from the tag.
    pub async fn response_invalidate_tag(&self, tag: &str) -> Result<u64> {
        let tag_key = keys::response_tag(tag);
        let range = Cmd::new("ZRANGE").arg(&tag_key).arg("0").arg("-1");
        let members: Vec<Bytes> = array("ZRANGE", self.backend.call(range).await?)?
            .into_iter()
            .filter_map(Reply::into_bytes)
            .collect();
        if members.is_empty() {
            return Ok(0);
        }
        // One DEL for every record: a cluster splits it per slot itself.
        let atomic = self.in_one_scope(members.iter().map(|m| &m[..]).chain([tag_key.as_bytes()]));
        let cmds = vec![
            Cmd::new("DEL").args(members.iter()),
            Cmd::new("ZREM").arg(&tag_key).args(members.iter()),
        ];
        let replies = all_ok(self.backend.pipeline(cmds, atomic).await?)?;
        let deleted = replies.first().unwrap_or(&Reply::Nil);
        let count = deleted.as_int().ok_or_else(|| unexpected("DEL", deleted))?;
        Ok(count.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::on_embedded_store;
    use crate::{keys, Cmd, Features, Reply};

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|t| t.to_string()).collect()
    }

    async fn store(f: &Features, name: &str, ttl: u64, names: &[&str]) {
        f.response_store(name, Bytes::from("{}"), ttl, tags(names))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn invalidating_a_tag_deletes_its_records_and_only_those() {
        let (f, db) = on_embedded_store();
        store(&f, "a", 60, &["all", "users"]).await;
        store(&f, "b", 60, &["all"]).await;
        store(&f, "c", 60, &["other"]).await;
        let exists = |name: &str| {
            db.execute(&Cmd::new("EXISTS").arg(keys::response(name)))
                .unwrap()
        };
        assert_eq!(exists("a"), Reply::Int(1));
        assert_eq!(f.response_invalidate_tag("all").await, Ok(2));
        assert_eq!(
            (exists("a"), exists("b"), exists("c")),
            (Reply::Int(0), Reply::Int(0), Reply::Int(1))
        );
        // The tag set is gone with its members; the other tag still lists a's (deleted) record.
        let tag_exists = Cmd::new("EXISTS").arg(keys::response_tag("all"));
        assert_eq!(db.execute(&tag_exists).unwrap(), Reply::Int(0));
        assert_eq!(f.response_invalidate_tag("all").await, Ok(0));
        assert_eq!(f.response_invalidate_tag("users").await, Ok(0));
        assert_eq!(f.response_invalidate_tag("other").await, Ok(1));
        assert_eq!(f.response_invalidate_tag("never").await, Ok(0));
    }

    #[tokio::test]
    async fn a_tag_set_lives_as_long_as_its_longest_lived_record() {
        let (f, db) = on_embedded_store();
        let ttl = |key: String| {
            db.execute(&Cmd::new("TTL").arg(key))
                .unwrap()
                .as_int()
                .unwrap()
        };
        store(&f, "long", 600, &["t"]).await;
        store(&f, "short", 60, &["t"]).await;
        let tag_ttl = ttl(keys::response_tag("t"));
        assert!((595..=600).contains(&tag_ttl), "{tag_ttl}");
        let record_ttl = ttl(keys::response("short"));
        assert!((55..=60).contains(&record_ttl), "{record_ttl}");
        let members = db
            .execute(&Cmd::new("ZCARD").arg(keys::response_tag("t")))
            .unwrap();
        assert_eq!(members, Reply::Int(2));
    }

    #[tokio::test]
    async fn a_tag_key_of_another_type_fails_the_store() {
        let (f, db) = on_embedded_store();
        db.execute(&Cmd::new("SET").arg(keys::response_tag("t")).arg("x"))
            .unwrap();
        let err = f
            .response_store("r", Bytes::from("{}"), 60, tags(&["t"]))
            .await
            .unwrap_err();
        assert!(err.message.contains("WRONGTYPE"), "{err:?}");
        assert!(f.response_invalidate_tag("t").await.is_err());
    }
}
