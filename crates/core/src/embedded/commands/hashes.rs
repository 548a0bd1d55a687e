//! Hash commands.

use bytes::Bytes;

use super::args::{
    bool_int, bulk_array, float_arg, format_float, int, int_arg, nan_or_infinity, overflow,
    parse_f64, parse_i64,
};
use crate::embedded::store::Keyspace;
use crate::embedded::value::Hash;
use crate::{Error, Reply, Result};

pub(super) fn hget(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let value = ks.read::<Hash>(&a[1])?.and_then(|h| h.get(&a[2]).cloned());
    Ok(value.map_or(Reply::Nil, Reply::Bulk))
}

/// HSET answers the number of new fields, HMSET answers OK.
pub(super) fn hset(ks: &mut Keyspace, a: &[Bytes], command: &str) -> Result<Reply> {
    if !a.len().is_multiple_of(2) {
        return Err(Error::wrong_arity(command));
    }
    let hash = ks.write_or_create::<Hash>(&a[1])?;
    let added = a[2..]
        .chunks_exact(2)
        .filter(|pair| hash.insert(pair[0].clone(), pair[1].clone()).is_none())
        .count();
    Ok(if command == "hmset" {
        Reply::ok()
    } else {
        int(added)
    })
}

pub(super) fn hsetnx(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.write_or_create::<Hash>(&a[1])?;
    let added = !hash.contains_key(&a[2]);
    if added {
        hash.insert(a[2].clone(), a[3].clone());
    }
    Ok(bool_int(added))
}

pub(super) fn hmget(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.read::<Hash>(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|field| {
                hash.and_then(|h| h.get(field))
                    .map_or(Reply::Nil, |v| Reply::Bulk(v.clone()))
            })
            .collect(),
    ))
}

pub(super) fn hgetall(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.read::<Hash>(&a[1])?;
    Ok(bulk_array(
        hash.into_iter()
            .flatten()
            .flat_map(|(f, v)| [f.clone(), v.clone()]),
    ))
}

pub(super) fn hdel(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let Some(hash) = ks.write::<Hash>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let removed = a[2..].iter().filter(|f| hash.remove(*f).is_some()).count();
    ks.remove_if_empty(&a[1]);
    Ok(int(removed))
}

pub(super) fn hexists(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.read::<Hash>(&a[1])?;
    Ok(bool_int(hash.is_some_and(|h| h.contains_key(&a[2]))))
}

pub(super) fn hlen(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.read::<Hash>(&a[1])?.map_or(0, Hash::len)))
}

pub(super) fn hkeys(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.read::<Hash>(&a[1])?;
    Ok(bulk_array(hash.into_iter().flat_map(|h| h.keys().cloned())))
}

pub(super) fn hvals(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let hash = ks.read::<Hash>(&a[1])?;
    Ok(bulk_array(
        hash.into_iter().flat_map(|h| h.values().cloned()),
    ))
}

pub(super) fn hincrby(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let by = int_arg(&a[3])?;
    let hash = ks.write_or_create::<Hash>(&a[1])?;
    let current = match hash.get(&a[2]) {
        Some(v) => {
            parse_i64(v).ok_or_else(|| Error::command("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let result = current.checked_add(by).ok_or_else(overflow);
    if let Ok(new) = result {
        hash.insert(a[2].clone(), Bytes::from(new.to_string()));
    }
    // The hash may have just been created for nothing.
    ks.remove_if_empty(&a[1]);
    result.map(Reply::Int)
}

pub(super) fn hincrbyfloat(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let by = float_arg(&a[3])?;
    let hash = ks.write_or_create::<Hash>(&a[1])?;
    let result = match hash.get(&a[2]) {
        Some(v) => parse_f64(v).ok_or_else(|| Error::command("ERR hash value is not a float")),
        None => Ok(0.0),
    }
    .and_then(|current| {
        let new = current + by;
        if new.is_finite() {
            Ok(format_float(new))
        } else {
            Err(nan_or_infinity())
        }
    });
    if let Ok(text) = &result {
        hash.insert(a[2].clone(), text.clone());
    }
    ks.remove_if_empty(&a[1]);
    result.map(Reply::Bulk)
}

#[cfg(test)]
mod tests {
    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    #[test]
    fn set_get_and_friends() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "HSET h a 1 b 2"), Reply::Int(2));
        assert_eq!(ok(&db, "HSET h a 10 c 3"), Reply::Int(1));
        assert_eq!(ok(&db, "HGET h a"), bulk("10"));
        assert_eq!(ok(&db, "HGET h zz"), Reply::Nil);
        assert_eq!(ok(&db, "HGET nope a"), Reply::Nil);
        assert_eq!(ok(&db, "HMSET h d 4"), Reply::ok());
        assert_eq!(ok(&db, "HSETNX h d 40"), Reply::Int(0));
        assert_eq!(ok(&db, "HSETNX h e 5"), Reply::Int(1));
        assert_eq!(
            ok(&db, "HMGET h a nope e"),
            Reply::Array(vec![bulk("10"), Reply::Nil, bulk("5")])
        );
        assert_eq!(ok(&db, "HMGET nope a"), Reply::Array(vec![Reply::Nil]));
        assert_eq!(ok(&db, "HLEN h"), Reply::Int(5));
        assert_eq!(ok(&db, "HLEN nope"), Reply::Int(0));
        assert_eq!(ok(&db, "HEXISTS h a"), Reply::Int(1));
        assert_eq!(ok(&db, "HEXISTS h zz"), Reply::Int(0));
        assert_eq!(sorted(ok(&db, "HKEYS h")), ["a", "b", "c", "d", "e"]);
        assert_eq!(sorted(ok(&db, "HVALS h")), ["10", "2", "3", "4", "5"]);

        ok(&db, "HSET small x 1 y 2");
        let all = ok(&db, "HGETALL small").into_array().unwrap();
        let mut pairs: Vec<(Reply, Reply)> = all
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        pairs.sort_by_key(|(f, _)| format!("{f:?}"));
        assert_eq!(pairs, [(bulk("x"), bulk("1")), (bulk("y"), bulk("2"))]);
        assert_eq!(ok(&db, "HGETALL nope"), bulks(&[]));

        assert_eq!(
            err(&db, "HSET h a"),
            "ERR wrong number of arguments for 'hset' command"
        );
        assert_eq!(
            err(&db, "HSET h a 1 b"),
            "ERR wrong number of arguments for 'hset' command"
        );
        assert_eq!(
            err(&db, "HMSET h a 1 b"),
            "ERR wrong number of arguments for 'hmset' command"
        );
    }

    #[test]
    fn hdel_deletes_the_emptied_hash() {
        let db = EmbeddedBackend::new();
        ok(&db, "HSET h a 1 b 2");
        assert_eq!(ok(&db, "HDEL h a zz"), Reply::Int(1));
        assert_eq!(ok(&db, "HDEL nope a"), Reply::Int(0));
        assert_eq!(ok(&db, "EXISTS h"), Reply::Int(1));
        assert_eq!(ok(&db, "HDEL h b"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS h"), Reply::Int(0));
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn increments() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "HINCRBY h n 5"), Reply::Int(5));
        assert_eq!(ok(&db, "HINCRBY h n -7"), Reply::Int(-2));
        assert_eq!(ok(&db, "HGET h n"), bulk("-2"));
        assert_eq!(ok(&db, "HINCRBYFLOAT h f 10.5"), bulk("10.5"));
        assert_eq!(ok(&db, "HINCRBYFLOAT h f 0.1"), bulk("10.6"));
        assert_eq!(ok(&db, "HINCRBYFLOAT h n 1.5"), bulk("-0.5"));

        ok(&db, "HSET h s abc");
        assert_eq!(
            err(&db, "HINCRBY h s 1"),
            "ERR hash value is not an integer"
        );
        assert_eq!(
            err(&db, "HINCRBYFLOAT h s 1"),
            "ERR hash value is not a float"
        );
        assert_eq!(
            err(&db, "HINCRBY h n x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err(&db, "HINCRBYFLOAT h n x"),
            "ERR value is not a valid float"
        );
        ok(&db, "HSET h big 9223372036854775800");
        assert_eq!(
            err(&db, "HINCRBY h big 100"),
            "ERR increment or decrement would overflow"
        );
        assert_eq!(ok(&db, "HGET h big"), bulk("9223372036854775800"));
        assert_eq!(
            err(&db, "HINCRBYFLOAT h f inf"),
            "ERR increment would produce NaN or Infinity"
        );
        // A failed increment on a missing key leaves no empty hash behind.
        assert_eq!(
            err(&db, "HINCRBYFLOAT fresh x inf"),
            "ERR increment would produce NaN or Infinity"
        );
        assert_eq!(ok(&db, "EXISTS fresh"), Reply::Int(0));
    }

    #[test]
    fn wrong_type() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET s v");
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for line in [
            "HGET s f",
            "HSET s f v",
            "HSETNX s f v",
            "HMGET s f",
            "HGETALL s",
            "HDEL s f",
            "HEXISTS s f",
            "HLEN s",
            "HKEYS s",
            "HVALS s",
            "HINCRBY s f 1",
            "HINCRBYFLOAT s f 1",
        ] {
            assert_eq!(err(&db, line), wrongtype, "{line}");
        }
        assert_eq!(ok(&db, "GET s"), bulk("v"));
    }
}
