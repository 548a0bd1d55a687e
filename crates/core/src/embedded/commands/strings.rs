//! String commands.

use bytes::{Bytes, BytesMut};

use super::args::{
    float_arg, format_float, int, int_arg, invalid_expire, is, nan_or_infinity, not_float,
    overflow, parse_f64, parse_i64,
};
use crate::embedded::store::Keyspace;
use crate::embedded::value::Value;
use crate::{Error, Reply, Result};

pub(super) fn get(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(nil_or_bulk(ks.read::<Bytes>(&a[1])?.cloned()))
}

fn nil_or_bulk(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Nil, Reply::Bulk)
}

/// The absolute deadline for a positive relative (`EX`/`PX`) or absolute (`EXAT`/`PXAT`) time,
/// with Redis's checks and error text.
fn deadline_from(
    ks: &Keyspace,
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    command: &str,
) -> Result<u64> {
    let value = int_arg(arg)?;
    if value <= 0 {
        return Err(invalid_expire(command));
    }
    let base = if absolute {
        0
    } else {
        i64::try_from(ks.now()).unwrap_or(i64::MAX)
    };
    value
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(base))
        .and_then(|ms| u64::try_from(ms).ok())
        .ok_or_else(|| invalid_expire(command))
}

enum Ttl {
    Clear,
    Keep,
    At(u64),
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
pub(super) fn set(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let (mut nx, mut xx, mut get) = (false, false, false);
    // The expiry option seen: (unit in ms, absolute, value).
    let mut expiry: Option<(i64, bool, &Bytes)> = None;
    let mut keep_ttl = false;
    let mut i = 3;
    while i < a.len() {
        let opt = &a[i];
        let next = a.get(i + 1);
        let unit = if is(opt, "EX") {
            Some((1000, false))
        } else if is(opt, "PX") {
            Some((1, false))
        } else if is(opt, "EXAT") {
            Some((1000, true))
        } else if is(opt, "PXAT") {
            Some((1, true))
        } else {
            None
        };
        if is(opt, "NX") && !xx {
            nx = true;
        } else if is(opt, "XX") && !nx {
            xx = true;
        } else if is(opt, "GET") {
            get = true;
        } else if is(opt, "KEEPTTL") && expiry.is_none() {
            keep_ttl = true;
        } else if let (Some((unit_ms, absolute)), Some(value)) = (unit, next) {
            // Redis accepts the same expiry option twice (the last wins), never two kinds.
            let conflict =
                keep_ttl || expiry.is_some_and(|(u, abs, _)| (u, abs) != (unit_ms, absolute));
            if conflict {
                return Err(Error::syntax());
            }
            expiry = Some((unit_ms, absolute, value));
            i += 1;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    let ttl = match expiry {
        Some((unit_ms, absolute, value)) => {
            Ttl::At(deadline_from(ks, value, unit_ms, absolute, "set")?)
        }
        None if keep_ttl => Ttl::Keep,
        None => Ttl::Clear,
    };

    let key = &a[1];
    let old = if get {
        ks.read::<Bytes>(key)?.cloned()
    } else {
        None
    };
    let exists = ks.contains(key);
    if (nx && exists) || (xx && !exists) {
        return Ok(if get { nil_or_bulk(old) } else { Reply::Nil });
    }
    let value = Value::Str(a[2].clone());
    match ttl {
        Ttl::Clear => ks.set(key.clone(), value, None),
        Ttl::Keep => ks.set_keep_ttl(key.clone(), value),
        Ttl::At(deadline) => ks.set(key.clone(), value, Some(deadline)),
    }
    Ok(if get { nil_or_bulk(old) } else { Reply::ok() })
}

/// SETEX and PSETEX.
pub(super) fn setex(ks: &mut Keyspace, a: &[Bytes], unit_ms: i64, command: &str) -> Result<Reply> {
    let deadline = deadline_from(ks, &a[2], unit_ms, false, command)?;
    ks.set(a[1].clone(), Value::Str(a[3].clone()), Some(deadline));
    Ok(Reply::ok())
}

pub(super) fn setnx(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    if ks.contains(&a[1]) {
        return Ok(Reply::Int(0));
    }
    ks.set(a[1].clone(), Value::Str(a[2].clone()), None);
    Ok(Reply::Int(1))
}

pub(super) fn getdel(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let old = ks.read::<Bytes>(&a[1])?.cloned();
    if old.is_some() {
        ks.remove(&a[1]);
    }
    Ok(nil_or_bulk(old))
}

pub(super) fn getset(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let old = ks.read::<Bytes>(&a[1])?.cloned();
    ks.set(a[1].clone(), Value::Str(a[2].clone()), None);
    Ok(nil_or_bulk(old))
}

pub(super) fn mget(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    // MGET answers nil, not WRONGTYPE, for keys holding other types.
    Ok(Reply::Array(
        a[1..]
            .iter()
            .map(|key| match ks.get(key) {
                Some(Value::Str(s)) => Reply::Bulk(s.clone()),
                _ => Reply::Nil,
            })
            .collect(),
    ))
}

pub(super) fn mset(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    if a.len().is_multiple_of(2) {
        return Err(Error::wrong_arity("mset"));
    }
    for pair in a[1..].chunks_exact(2) {
        ks.set(pair[0].clone(), Value::Str(pair[1].clone()), None);
    }
    Ok(Reply::ok())
}

pub(super) fn append(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    match ks.write::<Bytes>(&a[1])? {
        Some(current) => {
            let mut joined = BytesMut::with_capacity(current.len() + a[2].len());
            joined.extend_from_slice(current);
            joined.extend_from_slice(&a[2]);
            *current = joined.freeze();
            Ok(int(current.len()))
        }
        None => {
            ks.set(a[1].clone(), Value::Str(a[2].clone()), None);
            Ok(int(a[2].len()))
        }
    }
}

pub(super) fn strlen(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.read::<Bytes>(&a[1])?.map_or(0, Bytes::len)))
}

/// INCR, DECR, INCRBY and (through `decrby`) DECRBY. The key keeps its expiry.
pub(super) fn incr_by(ks: &mut Keyspace, key: &Bytes, by: i64) -> Result<Reply> {
    let current = match ks.read::<Bytes>(key)? {
        Some(value) => parse_i64(value).ok_or_else(Error::not_integer)?,
        None => 0,
    };
    let new = current.checked_add(by).ok_or_else(overflow)?;
    ks.set_keep_ttl(key.clone(), Value::Str(Bytes::from(new.to_string())));
    Ok(Reply::Int(new))
}

pub(super) fn decrby(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let by = int_arg(&a[2])?;
    let negated = by
        .checked_neg()
        .ok_or_else(|| Error::command("ERR decrement would overflow"))?;
    incr_by(ks, &a[1], negated)
}

pub(super) fn incrbyfloat(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let by = float_arg(&a[2])?;
    let current = match ks.read::<Bytes>(&a[1])? {
        Some(value) => parse_f64(value).ok_or_else(not_float)?,
        None => 0.0,
    };
    let new = current + by;
    if !new.is_finite() {
        return Err(nan_or_infinity());
    }
    let text = format_float(new);
    ks.set_keep_ttl(a[1].clone(), Value::Str(text.clone()));
    Ok(Reply::Bulk(text))
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::Duration;

    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    fn pttl(db: &EmbeddedBackend, key: &str) -> i64 {
        ok(db, &format!("PTTL {key}")).as_int().unwrap()
    }

    #[test]
    fn get_set_and_options() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "GET k"), Reply::Nil);
        assert_eq!(ok(&db, "SET k v"), Reply::ok());
        assert_eq!(ok(&db, "GET k"), bulk("v"));
        assert_eq!(ok(&db, "SET k v2 NX"), Reply::Nil);
        assert_eq!(ok(&db, "SET k v2 XX"), Reply::ok());
        assert_eq!(ok(&db, "SET other v XX"), Reply::Nil);
        assert_eq!(ok(&db, "EXISTS other"), Reply::Int(0));
        assert_eq!(ok(&db, "SET k v3 GET"), bulk("v2"));
        assert_eq!(ok(&db, "SET new v GET"), Reply::Nil);
        assert_eq!(ok(&db, "SET k v4 NX GET"), bulk("v3"));
        assert_eq!(ok(&db, "GET k"), bulk("v3"));

        assert_eq!(ok(&db, "SET k v EX 100"), Reply::ok());
        assert!((99_000..=100_000).contains(&pttl(&db, "k")));
        assert_eq!(ok(&db, "SET k v PX 5000"), Reply::ok());
        assert!((4_000..=5_000).contains(&pttl(&db, "k")));
        assert_eq!(ok(&db, "SET k v2 KEEPTTL"), Reply::ok());
        assert!((4_000..=5_000).contains(&pttl(&db, "k")));
        assert_eq!(ok(&db, "SET k v3"), Reply::ok());
        assert_eq!(pttl(&db, "k"), -1);
        let now_s = ok(&db, "TIME").into_array().unwrap()[0].as_int().unwrap();
        ok(&db, &format!("SET k v EXAT {}", now_s + 60));
        assert!((58_000..=60_000).contains(&pttl(&db, "k")));
        ok(&db, &format!("SET k v PXAT {}", (now_s + 30) * 1000));
        assert!((28_000..=30_000).contains(&pttl(&db, "k")));
        ok(&db, "SET k v EX 10 EX 20");
        assert!((19_000..=20_000).contains(&pttl(&db, "k")));

        for bad in [
            "SET k v NX XX",
            "SET k v EX 10 PX 10",
            "SET k v EX 10 KEEPTTL",
            "SET k v KEEPTTL EX 10",
            "SET k v EX",
            "SET k v FOO",
        ] {
            assert_eq!(err(&db, bad), "ERR syntax error", "{bad}");
        }
        assert_eq!(
            err(&db, "SET k v EX 0"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&db, "SET k v PX -1"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&db, "SET k v EX 9223372036854775807"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&db, "SET k v EX x"),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn setex_setnx_getdel_getset_mget_mset() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "SETEX k 100 v"), Reply::ok());
        assert!((99_000..=100_000).contains(&pttl(&db, "k")));
        assert_eq!(ok(&db, "PSETEX k 2000 v"), Reply::ok());
        assert!((1_000..=2_000).contains(&pttl(&db, "k")));
        assert_eq!(
            err(&db, "SETEX k 0 v"),
            "ERR invalid expire time in 'setex' command"
        );
        assert_eq!(
            err(&db, "PSETEX k -3 v"),
            "ERR invalid expire time in 'psetex' command"
        );

        assert_eq!(ok(&db, "SETNX k other"), Reply::Int(0));
        assert_eq!(ok(&db, "SETNX n v"), Reply::Int(1));
        assert_eq!(ok(&db, "GET n"), bulk("v"));

        assert_eq!(ok(&db, "GETSET k new"), bulk("v"));
        assert_eq!(pttl(&db, "k"), -1);
        assert_eq!(ok(&db, "GETSET fresh v"), Reply::Nil);
        assert_eq!(ok(&db, "GETDEL k"), bulk("new"));
        assert_eq!(ok(&db, "GETDEL k"), Reply::Nil);

        assert_eq!(ok(&db, "MSET a 1 b 2"), Reply::ok());
        ok(&db, "HSET h f v");
        assert_eq!(
            ok(&db, "MGET a nope b h"),
            Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2"), Reply::Nil])
        );
        assert_eq!(
            err(&db, "MSET a 1 b"),
            "ERR wrong number of arguments for 'mset' command"
        );
    }

    #[test]
    fn append_strlen() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "STRLEN k"), Reply::Int(0));
        assert_eq!(ok(&db, "APPEND k Hello"), Reply::Int(5));
        assert_eq!(ok(&db, "PEXPIRE k 100000"), Reply::Int(1));
        assert_eq!(ok(&db, "APPEND k World"), Reply::Int(10));
        assert_eq!(ok(&db, "GET k"), bulk("HelloWorld"));
        assert!(pttl(&db, "k") > 0, "APPEND keeps the expiry");
        assert_eq!(ok(&db, "STRLEN k"), Reply::Int(10));
    }

    #[test]
    fn counters() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "INCR c"), Reply::Int(1));
        assert_eq!(ok(&db, "INCRBY c 10"), Reply::Int(11));
        assert_eq!(ok(&db, "DECR c"), Reply::Int(10));
        assert_eq!(ok(&db, "DECRBY c 15"), Reply::Int(-5));
        assert_eq!(ok(&db, "GET c"), bulk("-5"));
        assert_eq!(ok(&db, "PEXPIRE c 100000"), Reply::Int(1));
        assert_eq!(ok(&db, "INCR c"), Reply::Int(-4));
        assert!(pttl(&db, "c") > 0, "INCR keeps the expiry");

        ok(&db, "SET s abc");
        assert_eq!(
            err(&db, "INCR s"),
            "ERR value is not an integer or out of range"
        );
        ok(&db, "SET s 007");
        assert_eq!(
            err(&db, "INCR s"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err(&db, "INCRBY c x"),
            "ERR value is not an integer or out of range"
        );
        ok(&db, "SET big 9223372036854775807");
        assert_eq!(
            err(&db, "INCR big"),
            "ERR increment or decrement would overflow"
        );
        assert_eq!(ok(&db, "GET big"), bulk("9223372036854775807"));
        ok(&db, "SET small -9223372036854775808");
        assert_eq!(
            err(&db, "DECR small"),
            "ERR increment or decrement would overflow"
        );
        assert_eq!(
            err(&db, "DECRBY c -9223372036854775808"),
            "ERR decrement would overflow"
        );
    }

    #[test]
    fn incrbyfloat() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET f 10.50");
        assert_eq!(ok(&db, "INCRBYFLOAT f 0.1"), bulk("10.6"));
        assert_eq!(ok(&db, "INCRBYFLOAT f -5"), bulk("5.6"));
        ok(&db, "SET f 5.0e3");
        assert_eq!(ok(&db, "INCRBYFLOAT f 2.0e2"), bulk("5200"));
        assert_eq!(ok(&db, "GET f"), bulk("5200"));
        assert_eq!(ok(&db, "INCRBYFLOAT new 3"), bulk("3"));
        ok(&db, "PEXPIRE f 100000");
        ok(&db, "INCRBYFLOAT f 1");
        assert!(pttl(&db, "f") > 0, "INCRBYFLOAT keeps the expiry");
        assert_eq!(
            err(&db, "INCRBYFLOAT f x"),
            "ERR value is not a valid float"
        );
        ok(&db, "SET s abc");
        assert_eq!(
            err(&db, "INCRBYFLOAT s 1"),
            "ERR value is not a valid float"
        );
        ok(&db, "SET h 1.7976931348623157e308");
        assert_eq!(
            err(&db, "INCRBYFLOAT h 1.7976931348623157e308"),
            "ERR increment would produce NaN or Infinity"
        );
        assert_eq!(
            err(&db, "INCRBYFLOAT f inf"),
            "ERR increment would produce NaN or Infinity"
        );
    }

    #[test]
    fn wrong_type() {
        let db = EmbeddedBackend::new();
        ok(&db, "LPUSH l a");
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for line in [
            "GET l",
            "SET l v GET",
            "GETDEL l",
            "GETSET l v",
            "APPEND l x",
            "STRLEN l",
            "INCR l",
            "INCRBYFLOAT l 1",
        ] {
            assert_eq!(err(&db, line), wrongtype, "{line}");
        }
        // SET replaces any type.
        assert_eq!(ok(&db, "SET l v"), Reply::ok());
        assert_eq!(ok(&db, "TYPE l"), Reply::Status("string"));
    }

    #[test]
    fn set_with_px_expires() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v PX 20");
        ok(&db, "PSETEX p 20 v");
        thread::sleep(Duration::from_millis(50));
        assert_eq!(ok(&db, "GET k"), Reply::Nil);
        assert_eq!(ok(&db, "GET p"), Reply::Nil);
    }
}
