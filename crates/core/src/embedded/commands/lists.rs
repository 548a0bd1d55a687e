//! List commands.

use bytes::Bytes;

use super::args::{bulk_array, index_range, int, int_arg, positive_arg};
use crate::embedded::store::Keyspace;
use crate::embedded::value::List;
use crate::{Error, Reply, Result};

/// LPUSH (`front`) and RPUSH: elements go in one at a time, so LPUSH reverses them.
pub(super) fn push(ks: &mut Keyspace, a: &[Bytes], front: bool) -> Result<Reply> {
    let list = ks.write_or_create::<List>(&a[1])?;
    for element in &a[2..] {
        if front {
            list.push_front(element.clone());
        } else {
            list.push_back(element.clone());
        }
    }
    Ok(int(list.len()))
}

/// LPOP (`front`) and RPOP, with an optional count.
pub(super) fn pop(ks: &mut Keyspace, a: &[Bytes], front: bool) -> Result<Reply> {
    let count = match a.len() {
        2 => None,
        3 => Some(positive_arg(&a[2])?),
        _ => return Err(Error::wrong_arity(&String::from_utf8_lossy(&a[0]))),
    };
    let Some(list) = ks.write::<List>(&a[1])? else {
        return Ok(Reply::Nil);
    };
    let take = count.unwrap_or(1).min(list.len());
    let popped: Vec<Bytes> = if front {
        list.drain(..take).collect()
    } else {
        list.drain(list.len() - take..).rev().collect()
    };
    ks.remove_if_empty(&a[1]);
    Ok(match count {
        Some(_) => bulk_array(popped),
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
    })
}

pub(super) fn lrange(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
    let Some(list) = ks.read::<List>(&a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(match index_range(start, stop, list.len()) {
        Some((from, to)) => bulk_array(list.range(from..=to).cloned()),
        None => Reply::Array(Vec::new()),
    })
}

pub(super) fn llen(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.read::<List>(&a[1])?.map_or(0, List::len)))
}

pub(super) fn lindex(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let index = int_arg(&a[2])?;
    let Some(list) = ks.read::<List>(&a[1])? else {
        return Ok(Reply::Nil);
    };
    let len = i64::try_from(list.len()).unwrap_or(i64::MAX);
    let index = if index < 0 { index + len } else { index };
    let element = usize::try_from(index).ok().and_then(|i| list.get(i));
    Ok(element.map_or(Reply::Nil, |e| Reply::Bulk(e.clone())))
}

/// LREM key count element: count > 0 from the head, < 0 from the tail, 0 for all.
pub(super) fn lrem(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let count = int_arg(&a[2])?;
    let Some(list) = ks.write::<List>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let element = &a[3];
    let mut removed = 0;
    if count >= 0 {
        list.retain(|e| {
            let drop = removed < limit && e == element;
            removed += usize::from(drop);
            !drop
        });
    } else {
        let mut i = list.len();
        while i > 0 && removed < limit {
            i -= 1;
            if list[i] == element {
                list.remove(i);
                removed += 1;
            }
        }
    }
    ks.remove_if_empty(&a[1]);
    Ok(int(removed))
}

pub(super) fn ltrim(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
    let Some(list) = ks.write::<List>(&a[1])? else {
        return Ok(Reply::ok());
    };
    match index_range(start, stop, list.len()) {
        Some((from, to)) => {
            list.truncate(to + 1);
            list.drain(..from);
        }
        None => list.clear(),
    }
    ks.remove_if_empty(&a[1]);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    #[test]
    fn push_range_index_len() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "RPUSH l a b"), Reply::Int(2));
        assert_eq!(ok(&db, "LPUSH l y z"), Reply::Int(4));
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["z", "y", "a", "b"]));
        assert_eq!(ok(&db, "LRANGE l 1 2"), bulks(&["y", "a"]));
        assert_eq!(ok(&db, "LRANGE l -2 100"), bulks(&["a", "b"]));
        assert_eq!(ok(&db, "LRANGE l 3 1"), bulks(&[]));
        assert_eq!(ok(&db, "LRANGE l 10 20"), bulks(&[]));
        assert_eq!(ok(&db, "LRANGE nope 0 -1"), bulks(&[]));
        assert_eq!(ok(&db, "LLEN l"), Reply::Int(4));
        assert_eq!(ok(&db, "LLEN nope"), Reply::Int(0));
        assert_eq!(ok(&db, "LINDEX l 0"), bulk("z"));
        assert_eq!(ok(&db, "LINDEX l -1"), bulk("b"));
        assert_eq!(ok(&db, "LINDEX l 4"), Reply::Nil);
        assert_eq!(ok(&db, "LINDEX l -5"), Reply::Nil);
        assert_eq!(ok(&db, "LINDEX nope 0"), Reply::Nil);
        assert_eq!(
            err(&db, "LRANGE l a 1"),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn pops() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "LPOP nope"), Reply::Nil);
        assert_eq!(ok(&db, "LPOP nope 2"), Reply::Nil);
        ok(&db, "RPUSH l a b c d e");
        assert_eq!(ok(&db, "LPOP l"), bulk("a"));
        assert_eq!(ok(&db, "RPOP l"), bulk("e"));
        assert_eq!(ok(&db, "LPOP l 2"), bulks(&["b", "c"]));
        assert_eq!(ok(&db, "LPOP l 0"), bulks(&[]));
        assert_eq!(ok(&db, "RPOP l 5"), bulks(&["d"]));
        assert_eq!(ok(&db, "EXISTS l"), Reply::Int(0));
        ok(&db, "RPUSH l a b c");
        assert_eq!(ok(&db, "RPOP l 2"), bulks(&["c", "b"]));
        assert_eq!(
            err(&db, "LPOP l -1"),
            "ERR value is out of range, must be positive"
        );
        assert_eq!(
            err(&db, "LPOP l 1 2"),
            "ERR wrong number of arguments for 'lpop' command"
        );
    }

    #[test]
    fn lrem_and_ltrim() {
        let db = EmbeddedBackend::new();
        ok(&db, "RPUSH l a x b x c x");
        assert_eq!(ok(&db, "LREM l 1 x"), Reply::Int(1));
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["a", "b", "x", "c", "x"]));
        assert_eq!(ok(&db, "LREM l -1 x"), Reply::Int(1));
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["a", "b", "x", "c"]));
        ok(&db, "RPUSH l x x");
        assert_eq!(ok(&db, "LREM l 0 x"), Reply::Int(3));
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["a", "b", "c"]));
        assert_eq!(ok(&db, "LREM l 0 zz"), Reply::Int(0));
        assert_eq!(ok(&db, "LREM nope 0 x"), Reply::Int(0));

        ok(&db, "RPUSH l d e");
        assert_eq!(ok(&db, "LTRIM l 1 -2"), Reply::ok());
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["b", "c", "d"]));
        assert_eq!(ok(&db, "LTRIM l 0 100"), Reply::ok());
        assert_eq!(ok(&db, "LRANGE l 0 -1"), bulks(&["b", "c", "d"]));
        assert_eq!(ok(&db, "LTRIM nope 0 1"), Reply::ok());
        assert_eq!(ok(&db, "LTRIM l 5 10"), Reply::ok());
        assert_eq!(ok(&db, "EXISTS l"), Reply::Int(0));
        ok(&db, "RPUSH l a");
        assert_eq!(ok(&db, "LREM l 1 a"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS l"), Reply::Int(0));
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn wrong_type() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v");
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for line in [
            "LPUSH k a",
            "RPUSH k a",
            "LPOP k",
            "RPOP k 2",
            "LRANGE k 0 -1",
            "LLEN k",
            "LINDEX k 0",
            "LREM k 0 a",
            "LTRIM k 0 1",
        ] {
            assert_eq!(err(&db, line), wrongtype, "{line}");
        }
    }
}
