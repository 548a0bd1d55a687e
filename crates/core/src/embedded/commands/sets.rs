//! Set commands.

use bytes::Bytes;
use rand::seq::{IndexedRandom, IteratorRandom};

use super::args::{bool_int, bulk_array, int, int_arg, positive_arg};
use crate::embedded::store::Keyspace;
use crate::embedded::value::Set;
use crate::{Error, Reply, Result};

pub(super) fn sadd(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let set = ks.write_or_create::<Set>(&a[1])?;
    Ok(int(a[2..]
        .iter()
        .filter(|m| set.insert((*m).clone()))
        .count()))
}

pub(super) fn srem(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let Some(set) = ks.write::<Set>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let removed = a[2..].iter().filter(|m| set.remove(*m)).count();
    ks.remove_if_empty(&a[1]);
    Ok(int(removed))
}

pub(super) fn smembers(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let set = ks.read::<Set>(&a[1])?;
    Ok(bulk_array(set.into_iter().flatten().cloned()))
}

pub(super) fn sismember(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let set = ks.read::<Set>(&a[1])?;
    Ok(bool_int(set.is_some_and(|s| s.contains(&a[2]))))
}

pub(super) fn smismember(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let set = ks.read::<Set>(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| bool_int(set.is_some_and(|s| s.contains(m))))
            .collect(),
    ))
}

pub(super) fn scard(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.read::<Set>(&a[1])?.map_or(0, Set::len)))
}

/// SPOP key [count]: without a count one member or nil, with a count an array.
pub(super) fn spop(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let count = match a.len() {
        2 => None,
        3 => Some(positive_arg(&a[2])?),
        _ => return Err(Error::syntax()),
    };
    let Some(set) = ks.write::<Set>(&a[1])? else {
        return Ok(count.map_or(Reply::Nil, |_| Reply::Array(Vec::new())));
    };
    let mut rng = rand::rng();
    // choose_multiple allocates its whole request up front: never ask for more than there is.
    let amount = count.unwrap_or(1).min(set.len());
    let popped: Vec<Bytes> = set.iter().cloned().choose_multiple(&mut rng, amount);
    for member in &popped {
        set.remove(member);
    }
    ks.remove_if_empty(&a[1]);
    Ok(match count {
        Some(_) => bulk_array(popped),
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
    })
}

/// SRANDMEMBER key [count]: a positive count gives distinct members, a negative one allows
/// repeats and always gives exactly |count|.
pub(super) fn srandmember(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let count = match a.len() {
        2 => None,
        3 => Some(int_arg(&a[2])?),
        _ => return Err(Error::syntax()),
    };
    let set = ks.read::<Set>(&a[1])?;
    let mut rng = rand::rng();
    let Some(count) = count else {
        let member = set.and_then(|s| s.iter().choose(&mut rng)).cloned();
        return Ok(member.map_or(Reply::Nil, Reply::Bulk));
    };
    let Some(set) = set else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count >= 0 {
        let n = usize::try_from(count).unwrap_or(usize::MAX).min(set.len());
        return Ok(bulk_array(set.iter().cloned().choose_multiple(&mut rng, n)));
    }
    // Redis accepts -LONG_MAX..=LONG_MAX.
    let n = count
        .checked_neg()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::command("ERR value is out of range"))?;
    let members: Vec<&Bytes> = set.iter().collect();
    Ok(bulk_array((0..n).filter_map(|_| {
        members.choose(&mut rng).map(|m| (*m).clone())
    })))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    #[test]
    fn add_remove_members() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "SADD s a b c a"), Reply::Int(3));
        assert_eq!(ok(&db, "SADD s c d"), Reply::Int(1));
        assert_eq!(ok(&db, "SCARD s"), Reply::Int(4));
        assert_eq!(ok(&db, "SCARD nope"), Reply::Int(0));
        assert_eq!(sorted(ok(&db, "SMEMBERS s")), ["a", "b", "c", "d"]);
        assert_eq!(ok(&db, "SMEMBERS nope"), bulks(&[]));
        assert_eq!(ok(&db, "SISMEMBER s a"), Reply::Int(1));
        assert_eq!(ok(&db, "SISMEMBER s z"), Reply::Int(0));
        assert_eq!(ok(&db, "SISMEMBER nope a"), Reply::Int(0));
        assert_eq!(
            ok(&db, "SMISMEMBER s a z d"),
            Reply::Array(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)])
        );
        assert_eq!(ok(&db, "SREM s a z"), Reply::Int(1));
        assert_eq!(ok(&db, "SREM nope a"), Reply::Int(0));
        assert_eq!(ok(&db, "SREM s b c d"), Reply::Int(3));
        assert_eq!(ok(&db, "EXISTS s"), Reply::Int(0));
    }

    #[test]
    fn spop() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "SPOP nope"), Reply::Nil);
        assert_eq!(ok(&db, "SPOP nope 3"), bulks(&[]));
        ok(&db, "SADD s a b c d e");
        let one = ok(&db, "SPOP s").into_bytes().unwrap();
        assert!(["a", "b", "c", "d", "e"].contains(&std::str::from_utf8(&one).unwrap()));
        let one_text = std::str::from_utf8(&one).unwrap();
        assert_eq!(ok(&db, &format!("SISMEMBER s {one_text}")), Reply::Int(0));
        assert_eq!(ok(&db, "SCARD s"), Reply::Int(4));
        assert_eq!(ok(&db, "SPOP s 0"), bulks(&[]));
        let two = sorted(ok(&db, "SPOP s 2"));
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        assert_eq!(ok(&db, "SCARD s"), Reply::Int(2));
        let rest = sorted(ok(&db, "SPOP s 10"));
        assert_eq!(rest.len(), 2);
        let mut all: HashSet<String> = two.into_iter().chain(rest).collect();
        all.insert(String::from_utf8(one.to_vec()).unwrap());
        assert_eq!(all.len(), 5);
        assert_eq!(ok(&db, "EXISTS s"), Reply::Int(0));
        ok(&db, "SADD s a");
        assert_eq!(ok(&db, "SPOP s 9223372036854775807"), bulks(&["a"]));
        assert_eq!(
            err(&db, "SPOP s -1"),
            "ERR value is out of range, must be positive"
        );
        assert_eq!(err(&db, "SPOP s 1 2"), "ERR syntax error");
    }

    #[test]
    fn srandmember() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "SRANDMEMBER nope"), Reply::Nil);
        assert_eq!(ok(&db, "SRANDMEMBER nope 2"), bulks(&[]));
        ok(&db, "SADD s a b c");
        let one = ok(&db, "SRANDMEMBER s").into_bytes().unwrap();
        assert!([&b"a"[..], b"b", b"c"].contains(&one.as_ref()));
        assert_eq!(sorted(ok(&db, "SRANDMEMBER s 10")), ["a", "b", "c"]);
        let two = sorted(ok(&db, "SRANDMEMBER s 2"));
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        let many = sorted(ok(&db, "SRANDMEMBER s -7"));
        assert_eq!(many.len(), 7);
        assert!(many.iter().all(|m| ["a", "b", "c"].contains(&m.as_str())));
        assert_eq!(ok(&db, "SCARD s"), Reply::Int(3));
        assert_eq!(ok(&db, "SRANDMEMBER s 0"), bulks(&[]));
        // A huge count is bounded by the set, not allocated.
        let all = sorted(ok(&db, "SRANDMEMBER s 9223372036854775807"));
        assert_eq!(all, ["a", "b", "c"]);
    }

    #[test]
    fn wrong_type() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v");
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for line in [
            "SADD k m",
            "SREM k m",
            "SMEMBERS k",
            "SISMEMBER k m",
            "SMISMEMBER k m",
            "SCARD k",
            "SPOP k",
            "SRANDMEMBER k 2",
        ] {
            assert_eq!(err(&db, line), wrongtype, "{line}");
        }
    }
}
