//! The `cacheResponse` middleware's records and their tags (`cache.invalidateTag`).
//!
//! A tag is a sorted set of record keys scored by each record's expiry (`keys::response_tag`).
//! Records and tag sets sit in different Redis Cluster slots (a tag spans any number of
//! records), so what changes them together is one MULTI on a single server and one plain
//! pipeline on a cluster. Neither needs more: every step is idempotent, a tag member whose
//! record has expired is harmless, and removing exactly the members read keeps any response
//! tagged meanwhile for the next invalidation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::{all_ok, array, now_ms, unexpected, Features, Target};
use crate::{keys, Cmd, Reply, Result};

/// The record format's version: a record of another one reads as a miss.
const RECORD_VERSION: f64 = 1.0;

/// One stored answer, as `cacheResponse` replays it.
#[derive(Debug, PartialEq)]
pub struct ResponseRecord {
    pub status: f64,
    /// The stored headers, as a JSON object.
    pub headers_json: String,
    pub body: Vec<u8>,
    /// When it was stored (ms since the epoch); NaN when the record does not say.
    pub stored_at_ms: f64,
}

/// The record of an answer: `{ v, status, headers, encoding, body, storedAt }`, the body as
/// UTF-8 text when it is some, else base64; `headers_json` is the allow-listed headers as a JSON
/// object (V8 writes it).
pub fn encode_response_record(status: u32, headers_json: &str, body: &[u8]) -> String {
    let (encoding, body) = match std::str::from_utf8(body) {
        Ok(text) => ("utf8", Value::from(text)),
        Err(_) => ("base64", Value::from(STANDARD.encode(body))),
    };
    format!(
        "{{\"v\":1,\"status\":{status},\"headers\":{headers_json},\"encoding\":\"{encoding}\",\"body\":{body},\"storedAt\":{}}}",
        now_ms()
    )
}

/// A stored record, or `None` for anything that is not one (a foreign or older value, a body
/// that does not decode): it reads as a miss.
pub fn decode_response_record(text: &[u8]) -> Option<ResponseRecord> {
    let record: Value = serde_json::from_slice(text).ok()?;
    let status = record
        .get("status")?
        .as_f64()
        .filter(|s| s.fract() == 0.0)?;
    let headers = record
        .get("headers")
        .filter(|h| h.is_object() || h.is_array())?;
    let body = record.get("body")?.as_str()?;
    let body = match record.get("encoding")?.as_str()? {
        "utf8" => body.as_bytes().to_vec(),
        "base64" => STANDARD.decode(body).ok()?,
        _ => return None,
    };
    (record.get("v")?.as_f64() == Some(RECORD_VERSION)).then(|| ResponseRecord {
        status,
        headers_json: headers.to_string(),
        body,
        stored_at_ms: record
            .get("storedAt")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
    })
}

impl Features {
    /// The record `response:<name>`; `None` when there is none or it is not one.
    pub async fn response_lookup(&self, name: &str) -> Result<Option<ResponseRecord>> {
        let text = self.get(&Target::Raw(keys::response(name))).await?;
        Ok(text.and_then(|text| decode_response_record(&text)))
    }

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
    use super::encode_response_record;
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
    async fn records_keep_text_as_text_and_other_bytes_as_base64() {
        let (f, _db) = on_embedded_store();
        for body in [&b"caf\xc3\xa9 \"\\\n\x01"[..], &[0xff, 0x00, 0xfe][..]] {
            let record = encode_response_record(201, r#"{"etag":"x","vary":["a","b"]}"#, body);
            f.response_store("r", Bytes::from(record.clone()), 60, vec![])
                .await
                .unwrap();
            let stored = f.response_lookup("r").await.unwrap().unwrap();
            assert_eq!(stored.body, body);
            assert_eq!(stored.status, 201.0);
            assert_eq!(stored.headers_json, r#"{"etag":"x","vary":["a","b"]}"#);
            assert!(stored.stored_at_ms > 1.7e12);
            let json: serde_json::Value = serde_json::from_str(&record).unwrap();
            let encoding = if body[0] == 0xff { "base64" } else { "utf8" };
            assert_eq!(
                (json["v"].as_i64(), json["encoding"].as_str()),
                (Some(1), Some(encoding))
            );
        }
        assert_eq!(f.response_lookup("none").await.unwrap(), None);
    }

    #[test]
    fn anything_else_is_not_a_record() {
        let good = r#"{"v":1,"status":200,"headers":{},"encoding":"utf8","body":"x"}"#;
        let decoded = super::decode_response_record(good.as_bytes()).unwrap();
        assert!(decoded.stored_at_ms.is_nan());
        for bad in [
            "not json",
            "null",
            r#"{"v":2,"status":200,"headers":{},"encoding":"utf8","body":"x"}"#,
            r#"{"v":1,"status":200.5,"headers":{},"encoding":"utf8","body":"x"}"#,
            r#"{"v":1,"status":200,"headers":null,"encoding":"utf8","body":"x"}"#,
            r#"{"v":1,"status":200,"headers":{},"encoding":"latin1","body":"x"}"#,
            r#"{"v":1,"status":200,"headers":{},"encoding":"base64","body":"!!"}"#,
            r#"{"v":1,"status":200,"headers":{},"encoding":"utf8","body":3}"#,
        ] {
            assert_eq!(super::decode_response_record(bad.as_bytes()), None, "{bad}");
        }
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
