//! Commands about keys and the server rather than one value type.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::args::{bool_int, bulk_array, int, int_arg, invalid_expire, is};
use crate::embedded::glob;
use crate::embedded::store::Keyspace;
use crate::{Error, Reply, Result};

const DEFAULT_SCAN_COUNT: usize = 10;
const TYPE_NAMES: [&str; 6] = ["string", "list", "set", "zset", "hash", "stream"];

pub(super) fn ping(_: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    match a.len() {
        1 => Ok(Reply::Status("PONG")),
        2 => Ok(Reply::Bulk(a[1].clone())),
        _ => Err(Error::wrong_arity("ping")),
    }
}

pub(super) fn echo(_: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(a[1].clone()))
}

pub(super) fn time(_: &mut Keyspace, _: &[Bytes]) -> Result<Reply> {
    // The real clock, not the execution unit's frozen one: TIME is about "now".
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(bulk_array([
        Bytes::from(now.as_secs().to_string()),
        Bytes::from(now.subsec_micros().to_string()),
    ]))
}

/// Like Redis, counts expired keys that have not been reclaimed yet.
pub(super) fn dbsize(ks: &mut Keyspace, _: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.len()))
}

pub(super) fn flush(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    match a {
        [_] => {}
        [_, mode] if is(mode, "ASYNC") || is(mode, "SYNC") => {}
        _ => return Err(Error::syntax()),
    }
    ks.clear();
    Ok(Reply::ok())
}

pub(super) fn type_(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Status(
        ks.get(&a[1]).map_or("none", |v| v.type_name()),
    ))
}

pub(super) fn del(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(a[1..].iter().filter(|k| ks.remove(k)).count()))
}

pub(super) fn exists(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(a[1..].iter().filter(|k| ks.contains(k)).count()))
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `unit_ms` is 1000 for seconds, `absolute` for the AT
/// forms. A deadline already passed deletes the key, as in Redis.
pub(super) fn expire(
    ks: &mut Keyspace,
    a: &[Bytes],
    unit_ms: i64,
    absolute: bool,
) -> Result<Reply> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[3..] {
        if is(opt, "NX") {
            nx = true;
        } else if is(opt, "XX") {
            xx = true;
        } else if is(opt, "GT") {
            gt = true;
        } else if is(opt, "LT") {
            lt = true;
        } else {
            return Err(Error::command(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::command(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Error::command(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let base = if absolute {
        0
    } else {
        i64::try_from(ks.now()).unwrap_or(i64::MAX)
    };
    let when = int_arg(&a[2])?
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| invalid_expire(&String::from_utf8_lossy(&a[0]).to_ascii_lowercase()))?;

    let Some(current) = ks.deadline(&a[1]) else {
        return Ok(Reply::Int(0));
    };
    let current = current.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        // No expiry counts as infinite: GT can never beat it, LT always does.
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Int(0));
    }
    match u64::try_from(when) {
        Ok(deadline) if deadline > ks.now() => {
            ks.set_deadline(&a[1], Some(deadline));
        }
        _ => {
            ks.remove(&a[1]);
        }
    }
    Ok(Reply::Int(1))
}

pub(super) fn ttl(ks: &mut Keyspace, a: &[Bytes], millis: bool) -> Result<Reply> {
    let now = ks.now();
    let ttl = match ks.deadline(&a[1]) {
        None => -2,
        Some(None) => -1,
        Some(Some(deadline)) => {
            let ms = i64::try_from(deadline.saturating_sub(now)).unwrap_or(i64::MAX);
            // Redis rounds TTL to the nearest second.
            if millis {
                ms
            } else {
                ms.saturating_add(500) / 1000
            }
        }
    };
    Ok(Reply::Int(ttl))
}

pub(super) fn persist(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let had_expiry = matches!(ks.deadline(&a[1]), Some(Some(_)));
    if had_expiry {
        ks.set_deadline(&a[1], None);
    }
    Ok(bool_int(had_expiry))
}

pub(super) fn keys(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let pattern = &a[1];
    let all = pattern.as_ref() == b"*";
    Ok(bulk_array(
        ks.keys(|key, _| all || glob::matches(pattern, key)),
    ))
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. Cursors index a table of resume keys
/// (see `cursors.rs`) rather than hash-table buckets.
pub(super) fn scan(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let invalid_cursor = || Error::command("ERR invalid cursor");
    let cursor: u64 = std::str::from_utf8(&a[1])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(invalid_cursor)?;

    let mut pattern: Option<&Bytes> = None;
    let mut count = DEFAULT_SCAN_COUNT;
    let mut type_name: Option<String> = None;
    let mut i = 2;
    while i < a.len() {
        let value = a.get(i + 1).ok_or_else(Error::syntax)?;
        if is(&a[i], "MATCH") {
            pattern = Some(value).filter(|p| p.as_ref() != b"*");
        } else if is(&a[i], "COUNT") {
            count = usize::try_from(int_arg(value)?).map_err(|_| Error::syntax())?;
            if count < 1 {
                return Err(Error::syntax());
            }
        } else if is(&a[i], "TYPE") {
            let name = String::from_utf8_lossy(value).to_ascii_lowercase();
            if !TYPE_NAMES.contains(&name.as_str()) {
                return Err(Error::command(format!("ERR unknown type name '{name}'")));
            }
            type_name = Some(name);
        } else {
            return Err(Error::syntax());
        }
        i += 2;
    }

    let after = match cursor {
        0 => None,
        id => Some(ks.cursors.resume(id).ok_or_else(invalid_cursor)?.clone()),
    };
    let (found, resume) = ks.scan(after.as_ref(), count, |key, value| {
        pattern.is_none_or(|p| glob::matches(p, key))
            && type_name.as_deref().is_none_or(|t| t == value.type_name())
    });
    let next = match resume {
        Some(last) => ks.cursors.issue(last),
        None => 0,
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        bulk_array(found),
    ]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    #[test]
    fn ping_echo_time_dbsize_type_flush() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "PING"), Reply::Status("PONG"));
        assert_eq!(ok(&db, "PING hi"), bulk("hi"));
        assert_eq!(ok(&db, "ECHO hello"), bulk("hello"));
        let time = ok(&db, "TIME").into_array().unwrap();
        assert_eq!(time.len(), 2);
        let secs = time[0].as_int().unwrap();
        assert!(secs > 1_600_000_000, "{secs}");
        assert!((0..1_000_000).contains(&time[1].as_int().unwrap()));

        assert_eq!(ok(&db, "DBSIZE"), Reply::Int(0));
        ok(&db, "SET s v");
        ok(&db, "HSET h f v");
        ok(&db, "SADD st m");
        ok(&db, "ZADD z 1 m");
        ok(&db, "RPUSH l a");
        assert_eq!(ok(&db, "TYPE s"), Reply::Status("string"));
        assert_eq!(ok(&db, "TYPE h"), Reply::Status("hash"));
        assert_eq!(ok(&db, "TYPE st"), Reply::Status("set"));
        assert_eq!(ok(&db, "TYPE z"), Reply::Status("zset"));
        assert_eq!(ok(&db, "TYPE l"), Reply::Status("list"));
        assert_eq!(ok(&db, "TYPE nope"), Reply::Status("none"));
        assert_eq!(ok(&db, "DBSIZE"), Reply::Int(5));
        assert_eq!(err(&db, "FLUSHDB NOW"), "ERR syntax error");
        assert_eq!(ok(&db, "FLUSHDB ASYNC"), Reply::ok());
        assert_eq!(ok(&db, "DBSIZE"), Reply::Int(0));
        ok(&db, "SET s v");
        assert_eq!(ok(&db, "FLUSHALL"), Reply::ok());
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn del_unlink_exists() {
        let db = EmbeddedBackend::new();
        ok(&db, "MSET a 1 b 2 c 3");
        assert_eq!(ok(&db, "EXISTS a a b nope"), Reply::Int(3));
        assert_eq!(ok(&db, "DEL a nope a"), Reply::Int(1));
        assert_eq!(ok(&db, "UNLINK b c"), Reply::Int(2));
        assert_eq!(ok(&db, "EXISTS a b c"), Reply::Int(0));
    }

    #[test]
    fn expire_family_and_ttl() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "TTL nope"), Reply::Int(-2));
        assert_eq!(ok(&db, "PTTL nope"), Reply::Int(-2));
        assert_eq!(ok(&db, "EXPIRE nope 10"), Reply::Int(0));
        ok(&db, "SET k v");
        assert_eq!(ok(&db, "TTL k"), Reply::Int(-1));
        assert_eq!(ok(&db, "PERSIST k"), Reply::Int(0));
        assert_eq!(ok(&db, "EXPIRE k 100"), Reply::Int(1));
        assert_eq!(ok(&db, "TTL k"), Reply::Int(100));
        let pttl = ok(&db, "PTTL k").as_int().unwrap();
        assert!((99_000..=100_000).contains(&pttl), "{pttl}");

        // NX / XX / GT / LT.
        assert_eq!(ok(&db, "EXPIRE k 50 NX"), Reply::Int(0));
        assert_eq!(ok(&db, "EXPIRE k 50 GT"), Reply::Int(0));
        assert_eq!(ok(&db, "EXPIRE k 50 LT"), Reply::Int(1));
        assert_eq!(ok(&db, "TTL k"), Reply::Int(50));
        assert_eq!(ok(&db, "EXPIRE k 200 gt"), Reply::Int(1));
        assert_eq!(ok(&db, "TTL k"), Reply::Int(200));
        assert_eq!(ok(&db, "PERSIST k"), Reply::Int(1));
        assert_eq!(ok(&db, "TTL k"), Reply::Int(-1));
        assert_eq!(ok(&db, "EXPIRE k 10 XX"), Reply::Int(0));
        assert_eq!(ok(&db, "EXPIRE k 10 GT"), Reply::Int(0));
        assert_eq!(ok(&db, "EXPIRE k 10 LT"), Reply::Int(1));
        assert_eq!(ok(&db, "EXPIRE k 20 XX"), Reply::Int(1));
        assert_eq!(ok(&db, "TTL k"), Reply::Int(20));
        assert_eq!(
            err(&db, "EXPIRE k 10 NX XX"),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            err(&db, "EXPIRE k 10 GT LT"),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(err(&db, "EXPIRE k 10 FOO"), "ERR Unsupported option FOO");
        assert_eq!(
            err(&db, "EXPIRE k ten"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err(&db, "EXPIRE k 9223372036854775807"),
            "ERR invalid expire time in 'expire' command"
        );
        assert_eq!(
            err(&db, "PEXPIRE k 9223372036854775807"),
            "ERR invalid expire time in 'pexpire' command"
        );

        // Absolute forms.
        let now_s = ok(&db, "TIME").into_array().unwrap()[0].as_int().unwrap();
        assert_eq!(
            ok(&db, &format!("EXPIREAT k {}", now_s + 1000)),
            Reply::Int(1)
        );
        let ttl = ok(&db, "TTL k").as_int().unwrap();
        assert!((998..=1000).contains(&ttl), "{ttl}");
        assert_eq!(
            ok(&db, &format!("PEXPIREAT k {}", (now_s + 500) * 1000)),
            Reply::Int(1)
        );
        let ttl = ok(&db, "TTL k").as_int().unwrap();
        assert!((498..=500).contains(&ttl), "{ttl}");

        // A deadline in the past, or a non-positive TTL, deletes the key.
        assert_eq!(ok(&db, "EXPIREAT k 1"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS k"), Reply::Int(0));
        ok(&db, "SET k v");
        assert_eq!(ok(&db, "EXPIRE k 0"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS k"), Reply::Int(0));
        ok(&db, "SET k v");
        assert_eq!(ok(&db, "PEXPIRE k -5"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS k"), Reply::Int(0));
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn short_ttls_expire() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v PX 50");
        ok(&db, "HSET h f v");
        ok(&db, "PEXPIRE h 50");
        assert_eq!(ok(&db, "GET k"), bulk("v"));
        assert_eq!(ok(&db, "HGET h f"), bulk("v"));
        thread::sleep(Duration::from_millis(100));
        assert_eq!(ok(&db, "GET k"), Reply::Nil);
        assert_eq!(ok(&db, "HGET h f"), Reply::Nil);
        assert_eq!(ok(&db, "TTL k"), Reply::Int(-2));
        assert_eq!(ok(&db, "EXISTS k h"), Reply::Int(0));
    }

    #[test]
    fn keys_matches_globs_and_skips_expired() {
        let db = EmbeddedBackend::new();
        ok(&db, "MSET user:1 a user:2 b session:1 c");
        ok(&db, "SET user:3 d PX 1");
        thread::sleep(Duration::from_millis(10));
        assert_eq!(ok(&db, "KEYS user:*"), bulks(&["user:1", "user:2"]));
        assert_eq!(ok(&db, "KEYS *:1"), bulks(&["session:1", "user:1"]));
        assert_eq!(ok(&db, "KEYS user:[^1]"), bulks(&["user:2"]));
        assert_eq!(ok(&db, "KEYS nothing*"), bulks(&[]));
    }

    #[test]
    fn a_lone_star_matches_even_the_empty_key() {
        let db = EmbeddedBackend::new();
        db.execute(&crate::Cmd::new("SET").arg("").arg("v"))
            .unwrap();
        ok(&db, "SET a v");
        assert_eq!(ok(&db, "KEYS *"), bulks(&["", "a"]));
        assert_eq!(ok(&db, "KEYS **"), bulks(&["a"]));
        assert_eq!(full_scan(&db, "MATCH *").0, ["", "a"]);
    }

    /// Runs a full SCAN with the given options, returning every key and the number of calls.
    fn full_scan(db: &EmbeddedBackend, options: &str) -> (Vec<String>, usize) {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        let mut calls = 0;
        loop {
            let reply = ok(db, &format!("SCAN {cursor} {options}"));
            calls += 1;
            let mut parts = reply.into_array().unwrap().into_iter();
            cursor =
                String::from_utf8(parts.next().unwrap().into_bytes().unwrap().to_vec()).unwrap();
            keys.extend(sorted(parts.next().unwrap()));
            if cursor == "0" {
                return (keys, calls);
            }
        }
    }

    #[test]
    fn scan_pages_matches_and_filters_by_type() {
        let db = EmbeddedBackend::new();
        for i in 0..25 {
            ok(&db, &format!("SET k{i:02} v"));
        }
        ok(&db, "HSET h f v");
        ok(&db, "SADD s m");

        let (keys, calls) = full_scan(&db, "");
        assert_eq!(keys.len(), 27);
        assert_eq!(calls, 3);
        let (keys, calls) = full_scan(&db, "COUNT 100");
        assert_eq!(keys.len(), 27);
        assert_eq!(calls, 1);
        let (keys, _) = full_scan(&db, "MATCH k1* COUNT 3");
        assert_eq!(keys, (10..20).map(|i| format!("k{i}")).collect::<Vec<_>>());
        let (keys, _) = full_scan(&db, "TYPE hash");
        assert_eq!(keys, ["h"]);
        let (keys, _) = full_scan(&db, "TYPE SET MATCH *");
        assert_eq!(keys, ["s"]);
        let (keys, _) = full_scan(&db, "TYPE stream");
        assert!(keys.is_empty());

        // A cursor can be repeated, and a finished scan answers 0.
        let first = ok(&db, "SCAN 0 COUNT 5").into_array().unwrap();
        let cursor = String::from_utf8(first[0].clone().into_bytes().unwrap().to_vec()).unwrap();
        assert_ne!(cursor, "0");
        let again = ok(&db, &format!("SCAN {cursor} COUNT 5"));
        assert_eq!(ok(&db, &format!("SCAN {cursor} COUNT 5")), again);

        assert_eq!(err(&db, "SCAN 999999"), "ERR invalid cursor");
        assert_eq!(err(&db, "SCAN abc"), "ERR invalid cursor");
        assert_eq!(err(&db, "SCAN 0 COUNT 0"), "ERR syntax error");
        assert_eq!(
            err(&db, "SCAN 0 COUNT x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(err(&db, "SCAN 0 MATCH"), "ERR syntax error");
        assert_eq!(err(&db, "SCAN 0 FOO bar"), "ERR syntax error");
        assert_eq!(err(&db, "SCAN 0 TYPE blob"), "ERR unknown type name 'blob'");

        let empty = EmbeddedBackend::new();
        assert_eq!(
            ok(&empty, "SCAN 0"),
            Reply::Array(vec![bulk("0"), bulks(&[])])
        );
    }

    #[test]
    fn scan_returns_every_stable_key_despite_concurrent_writes() {
        let db = EmbeddedBackend::new();
        let stable: BTreeSet<String> = (0..2000).map(|i| format!("stable:{i:05}")).collect();
        for key in &stable {
            ok(&db, &format!("SET {key} v"));
        }
        let stop = AtomicBool::new(false);
        thread::scope(|scope| {
            scope.spawn(|| {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Churn keys that sort before, between and after the stable ones.
                    for prefix in ["a", "stable:0", "stable:01", "z"] {
                        ok(&db, &format!("SET {prefix}churn{i} v"));
                        if i >= 3 {
                            ok(&db, &format!("DEL {prefix}churn{}", i - 3));
                        }
                    }
                    i += 1;
                }
            });
            for _ in 0..5 {
                let (keys, _) = full_scan(&db, "COUNT 7");
                let seen: BTreeSet<String> = keys.into_iter().collect();
                let missing: Vec<_> = stable.difference(&seen).collect();
                assert!(missing.is_empty(), "missing {missing:?}");
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
}
