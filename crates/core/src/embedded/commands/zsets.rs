//! Sorted-set commands. ZRANGE and its older variants share one parser, as in Redis's
//! `zrangeGenericCommand`, so they accept and reject exactly the same options.

use bytes::Bytes;

use super::args::{float_arg, format_score, index_range, int, int_arg, is};
use crate::embedded::sorted_set::{LexRange, ScoreRange, SortedSet};
use crate::embedded::store::Keyspace;
use crate::{Error, Reply, Result};

fn nan_score() -> Error {
    Error::command("ERR resulting score is not a number (NaN)")
}

fn not_float_range() -> Error {
    Error::command("ERR min or max is not a float")
}

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

#[derive(PartialEq)]
enum Outcome {
    Added,
    Updated,
    Unchanged,
    /// NX, XX, GT or LT ruled the change out.
    Skipped,
}

/// Redis's `zsetAdd`: the one place where ZADD and ZINCRBY change a score.
fn add(z: &mut SortedSet, member: &Bytes, score: f64, flags: AddFlags) -> Result<(Outcome, f64)> {
    match z.score(member) {
        Some(current) => {
            if flags.nx {
                return Ok((Outcome::Skipped, current));
            }
            let new = if flags.incr {
                let sum = current + score;
                if sum.is_nan() {
                    return Err(nan_score());
                }
                sum
            } else {
                score
            };
            if (flags.gt && new <= current) || (flags.lt && new >= current) {
                return Ok((Outcome::Skipped, current));
            }
            if new == current {
                return Ok((Outcome::Unchanged, current));
            }
            z.insert(member.clone(), new);
            Ok((Outcome::Updated, new))
        }
        None if flags.xx => Ok((Outcome::Skipped, 0.0)),
        None => {
            z.insert(member.clone(), score);
            Ok((Outcome::Added, score))
        }
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub(super) fn zadd(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let mut flags = AddFlags::default();
    let mut ch = false;
    let mut i = 2;
    while i < a.len() {
        let opt = &a[i];
        if is(opt, "NX") {
            flags.nx = true;
        } else if is(opt, "XX") {
            flags.xx = true;
        } else if is(opt, "GT") {
            flags.gt = true;
        } else if is(opt, "LT") {
            flags.lt = true;
        } else if is(opt, "CH") {
            ch = true;
        } else if is(opt, "INCR") {
            flags.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &a[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(Error::syntax());
    }
    if flags.nx && flags.xx {
        return Err(Error::command(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Error::command(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(Error::command(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is checked before anything changes.
    let scores = pairs
        .chunks_exact(2)
        .map(|pair| float_arg(&pair[0]))
        .collect::<Result<Vec<f64>>>()?;

    let key = &a[1];
    let z = ks.write_or_create::<SortedSet>(key)?;
    let mut changed = 0;
    let mut last = (Outcome::Skipped, 0.0);
    let mut result = Ok(());
    for (pair, score) in pairs.chunks_exact(2).zip(scores) {
        match add(z, &pair[1], score, flags) {
            Ok(outcome) => {
                if outcome.0 == Outcome::Added || (ch && outcome.0 == Outcome::Updated) {
                    changed += 1;
                }
                last = outcome;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    ks.remove_if_empty(key);
    result?;
    if flags.incr {
        return Ok(match last {
            (Outcome::Skipped, _) => Reply::Nil,
            (_, score) => Reply::Bulk(format_score(score)),
        });
    }
    Ok(int(changed))
}

pub(super) fn zincrby(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let by = float_arg(&a[2])?;
    let z = ks.write_or_create::<SortedSet>(&a[1])?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let result = add(z, &a[3], by, flags);
    ks.remove_if_empty(&a[1]);
    Ok(Reply::Bulk(format_score(result?.1)))
}

pub(super) fn zrem(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let Some(z) = ks.write::<SortedSet>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let removed = a[2..].iter().filter(|m| z.remove(m)).count();
    ks.remove_if_empty(&a[1]);
    Ok(int(removed))
}

pub(super) fn zscore(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let score = ks.read::<SortedSet>(&a[1])?.and_then(|z| z.score(&a[2]));
    Ok(score.map_or(Reply::Nil, |s| Reply::Bulk(format_score(s))))
}

pub(super) fn zcard(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    Ok(int(ks.read::<SortedSet>(&a[1])?.map_or(0, SortedSet::len)))
}

pub(super) fn zcount(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let range = ScoreRange::parse(&a[2], &a[3]).ok_or_else(not_float_range)?;
    let z = ks.read::<SortedSet>(&a[1])?;
    Ok(int(z.map_or(0, |z| z.range_by_score(&range).count())))
}

/// ZRANK and ZREVRANK, with Redis 7.2's WITHSCORE.
pub(super) fn zrank(ks: &mut Keyspace, a: &[Bytes], rev: bool) -> Result<Reply> {
    let with_score = match a.len() {
        3 => false,
        4 if is(&a[3], "WITHSCORE") => true,
        4 => return Err(Error::syntax()),
        _ => return Err(Error::wrong_arity(&String::from_utf8_lossy(&a[0]))),
    };
    let Some(z) = ks.read::<SortedSet>(&a[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(rank), Some(score)) = (z.rank(&a[2]), z.score(&a[2])) else {
        return Ok(Reply::Nil);
    };
    let rank = if rev { z.len() - 1 - rank } else { rank };
    Ok(if with_score {
        Reply::Array(vec![int(rank), Reply::Bulk(format_score(score))])
    } else {
        int(rank)
    })
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum By {
    Rank,
    Score,
    Lex,
}

/// ZRANGE (`by` and `rev` chosen by options), ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX
/// (`by` and `rev` fixed by the command, which then rejects the options that would change them).
pub(super) fn zrange(
    ks: &mut Keyspace,
    a: &[Bytes],
    by: Option<By>,
    rev: Option<bool>,
) -> Result<Reply> {
    let (mut by, mut rev) = (by, rev);
    let mut with_scores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut i = 4;
    while i < a.len() {
        let opt = &a[i];
        if is(opt, "WITHSCORES") {
            with_scores = true;
        } else if is(opt, "LIMIT") && a.len() - i > 2 {
            offset = int_arg(&a[i + 1])?;
            limit = int_arg(&a[i + 2])?;
            i += 2;
        } else if rev.is_none() && is(opt, "REV") {
            rev = Some(true);
        } else if by.is_none() && is(opt, "BYLEX") {
            by = Some(By::Lex);
        } else if by.is_none() && is(opt, "BYSCORE") {
            by = Some(By::Score);
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    if limit != -1 && by == By::Rank {
        return Err(Error::command(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == By::Lex {
        return Err(Error::command(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Score and lex ranges are written high-to-low when reversed.
    let (min, max) = if rev && by != By::Rank {
        (&a[3], &a[2])
    } else {
        (&a[2], &a[3])
    };
    enum Range {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let range = match by {
        By::Rank => Range::Rank(int_arg(min)?, int_arg(max)?),
        By::Score => Range::Score(ScoreRange::parse(min, max).ok_or_else(not_float_range)?),
        By::Lex => Range::Lex(
            LexRange::parse(min, max)
                .ok_or_else(|| Error::command("ERR min or max not valid string range item"))?,
        ),
    };

    let Some(z) = ks.read::<SortedSet>(&a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = match &range {
        Range::Rank(start, stop) => match index_range(*start, *stop, z.len()) {
            Some((from, to)) => window(z.iter(), rev, from, Some(to - from + 1)),
            None => Vec::new(),
        },
        Range::Score(r) => limited(z.range_by_score(r), rev, offset, limit),
        Range::Lex(r) => limited(z.range_by_lex(r), rev, offset, limit),
    };
    let mut reply = Vec::with_capacity(items.len() * if with_scores { 2 } else { 1 });
    for (member, score) in items {
        reply.push(Reply::Bulk(member));
        if with_scores {
            reply.push(Reply::Bulk(format_score(score)));
        }
    }
    Ok(Reply::Array(reply))
}

/// LIMIT offset count: a negative offset selects nothing, a negative count means all.
fn limited<'a>(
    items: impl DoubleEndedIterator<Item = (&'a Bytes, f64)>,
    rev: bool,
    offset: i64,
    count: i64,
) -> Vec<(Bytes, f64)> {
    let Ok(offset) = usize::try_from(offset) else {
        return Vec::new();
    };
    window(items, rev, offset, usize::try_from(count).ok())
}

fn window<'a>(
    items: impl DoubleEndedIterator<Item = (&'a Bytes, f64)>,
    rev: bool,
    skip: usize,
    take: Option<usize>,
) -> Vec<(Bytes, f64)> {
    let take = take.unwrap_or(usize::MAX);
    let owned = |(member, score): (&Bytes, f64)| (member.clone(), score);
    if rev {
        items.rev().skip(skip).take(take).map(owned).collect()
    } else {
        items.skip(skip).take(take).map(owned).collect()
    }
}

pub(super) fn zremrangebyscore(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let range = ScoreRange::parse(&a[2], &a[3]).ok_or_else(not_float_range)?;
    let Some(z) = ks.write::<SortedSet>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let doomed: Vec<Bytes> = z.range_by_score(&range).map(|(m, _)| m.clone()).collect();
    remove_all(ks, &a[1], doomed)
}

pub(super) fn zremrangebyrank(ks: &mut Keyspace, a: &[Bytes]) -> Result<Reply> {
    let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
    let Some(z) = ks.write::<SortedSet>(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let doomed: Vec<Bytes> = match index_range(start, stop, z.len()) {
        Some((from, to)) => z
            .iter()
            .skip(from)
            .take(to - from + 1)
            .map(|(m, _)| m.clone())
            .collect(),
        None => Vec::new(),
    };
    remove_all(ks, &a[1], doomed)
}

fn remove_all(ks: &mut Keyspace, key: &Bytes, members: Vec<Bytes>) -> Result<Reply> {
    if let Some(z) = ks.write::<SortedSet>(key)? {
        for member in &members {
            z.remove(member);
        }
    }
    ks.remove_if_empty(key);
    Ok(int(members.len()))
}

#[cfg(test)]
mod tests {
    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::Reply;

    fn db_with_scores() -> EmbeddedBackend {
        let db = EmbeddedBackend::new();
        ok(&db, "ZADD z 1 a 2 b 3 c 4 d 5 e");
        db
    }

    #[test]
    fn zadd_flags() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "ZADD z 1 a 2 b"), Reply::Int(2));
        assert_eq!(ok(&db, "ZADD z 10 a 3 c"), Reply::Int(1));
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("10"));
        assert_eq!(ok(&db, "ZADD z CH 11 a 3 c 4 d"), Reply::Int(2));
        assert_eq!(ok(&db, "ZADD z NX 100 a 5 e"), Reply::Int(1));
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("11"));
        assert_eq!(ok(&db, "ZADD z XX 12 a 6 f"), Reply::Int(0));
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("12"));
        assert_eq!(ok(&db, "ZSCORE z f"), Reply::Nil);
        assert_eq!(ok(&db, "ZADD z GT CH 5 a 13 b"), Reply::Int(1));
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("12"));
        assert_eq!(ok(&db, "ZSCORE z b"), bulk("13"));
        assert_eq!(ok(&db, "ZADD z LT CH 1 a 20 b 7 g"), Reply::Int(2));
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("1"));
        assert_eq!(ok(&db, "ZSCORE z b"), bulk("13"));
        assert_eq!(ok(&db, "ZSCORE z g"), bulk("7"));

        assert_eq!(ok(&db, "ZADD z INCR 2.5 a"), bulk("3.5"));
        assert_eq!(ok(&db, "ZADD z INCR 1 new"), bulk("1"));
        assert_eq!(ok(&db, "ZADD z NX INCR 1 a"), Reply::Nil);
        assert_eq!(ok(&db, "ZADD z XX INCR 1 missing"), Reply::Nil);
        assert_eq!(ok(&db, "ZADD z GT INCR -1 a"), Reply::Nil);
        assert_eq!(ok(&db, "ZSCORE z a"), bulk("3.5"));

        assert_eq!(ok(&db, "ZADD fresh XX 1 a"), Reply::Int(0));
        assert_eq!(ok(&db, "EXISTS fresh"), Reply::Int(0));

        assert_eq!(
            err(&db, "ZADD z NX XX 1 a"),
            "ERR XX and NX options at the same time are not compatible"
        );
        assert_eq!(
            err(&db, "ZADD z GT LT 1 a"),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
        assert_eq!(
            err(&db, "ZADD z NX GT 1 a"),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
        assert_eq!(
            err(&db, "ZADD z INCR 1 a 2 b"),
            "ERR INCR option supports a single increment-element pair"
        );
        assert_eq!(err(&db, "ZADD z 1 a 2"), "ERR syntax error");
        assert_eq!(err(&db, "ZADD z NX CH"), "ERR syntax error");
        assert_eq!(err(&db, "ZADD z 1 a x b"), "ERR value is not a valid float");
        assert_eq!(err(&db, "ZADD z nan a"), "ERR value is not a valid float");
        // A bad score anywhere means nothing was added.
        assert_eq!(ok(&db, "ZSCORE z x"), Reply::Nil);
        ok(&db, "ZADD z inf i");
        assert_eq!(
            err(&db, "ZADD z INCR -inf i"),
            "ERR resulting score is not a number (NaN)"
        );
        assert_eq!(ok(&db, "ZSCORE z i"), bulk("inf"));
    }

    #[test]
    fn zincrby_zrem_zscore_zcard() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "ZINCRBY z 2 a"), bulk("2"));
        assert_eq!(ok(&db, "ZINCRBY z 0.5 a"), bulk("2.5"));
        assert_eq!(ok(&db, "ZINCRBY z -0.25 a"), bulk("2.25"));
        assert_eq!(err(&db, "ZINCRBY z x a"), "ERR value is not a valid float");
        ok(&db, "ZADD z -inf n");
        assert_eq!(
            err(&db, "ZINCRBY z inf n"),
            "ERR resulting score is not a number (NaN)"
        );
        assert_eq!(ok(&db, "ZSCORE z n"), bulk("-inf"));
        assert_eq!(ok(&db, "ZSCORE nope a"), Reply::Nil);
        assert_eq!(ok(&db, "ZCARD z"), Reply::Int(2));
        assert_eq!(ok(&db, "ZCARD nope"), Reply::Int(0));
        assert_eq!(ok(&db, "ZREM z a zz"), Reply::Int(1));
        assert_eq!(ok(&db, "ZREM nope a"), Reply::Int(0));
        assert_eq!(ok(&db, "ZREM z n"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS z"), Reply::Int(0));
        ok(&db, "ZADD s 1e20 big 0.00001 small 0.1 tenth");
        assert_eq!(ok(&db, "ZSCORE s big"), bulk("1e+20"));
        assert_eq!(ok(&db, "ZSCORE s small"), bulk("1e-05"));
        assert_eq!(ok(&db, "ZSCORE s tenth"), bulk("0.1"));
    }

    #[test]
    fn zcount_and_ranks() {
        let db = db_with_scores();
        assert_eq!(ok(&db, "ZCOUNT z 2 4"), Reply::Int(3));
        assert_eq!(ok(&db, "ZCOUNT z (2 4"), Reply::Int(2));
        assert_eq!(ok(&db, "ZCOUNT z -inf +inf"), Reply::Int(5));
        assert_eq!(ok(&db, "ZCOUNT z 4 2"), Reply::Int(0));
        assert_eq!(ok(&db, "ZCOUNT nope 0 1"), Reply::Int(0));
        assert_eq!(err(&db, "ZCOUNT z x 1"), "ERR min or max is not a float");
        assert_eq!(ok(&db, "ZRANK z a"), Reply::Int(0));
        assert_eq!(ok(&db, "ZRANK z d"), Reply::Int(3));
        assert_eq!(ok(&db, "ZREVRANK z d"), Reply::Int(1));
        assert_eq!(ok(&db, "ZRANK z zz"), Reply::Nil);
        assert_eq!(ok(&db, "ZRANK nope a"), Reply::Nil);
        assert_eq!(
            ok(&db, "ZRANK z c WITHSCORE"),
            Reply::Array(vec![Reply::Int(2), bulk("3")])
        );
        assert_eq!(err(&db, "ZRANK z c FOO"), "ERR syntax error");
    }

    #[test]
    fn zrange_by_index() {
        let db = db_with_scores();
        assert_eq!(ok(&db, "ZRANGE z 0 -1"), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(ok(&db, "ZRANGE z 1 2"), bulks(&["b", "c"]));
        assert_eq!(ok(&db, "ZRANGE z -2 -1"), bulks(&["d", "e"]));
        assert_eq!(ok(&db, "ZRANGE z 3 1"), bulks(&[]));
        assert_eq!(ok(&db, "ZRANGE z 0 1 REV"), bulks(&["e", "d"]));
        assert_eq!(
            ok(&db, "ZRANGE z 0 1 WITHSCORES"),
            bulks(&["a", "1", "b", "2"])
        );
        assert_eq!(ok(&db, "ZREVRANGE z 0 1"), bulks(&["e", "d"]));
        assert_eq!(ok(&db, "ZREVRANGE z 0 0 withscores"), bulks(&["e", "5"]));
        assert_eq!(ok(&db, "ZRANGE nope 0 -1"), bulks(&[]));
        assert_eq!(
            err(&db, "ZRANGE z 0 1 LIMIT 0 1"),
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        );
        assert_eq!(err(&db, "ZREVRANGE z 0 1 REV"), "ERR syntax error");
        assert_eq!(err(&db, "ZRANGE z 0 1 FOO"), "ERR syntax error");
        assert_eq!(
            err(&db, "ZRANGE z a 1"),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn zrange_by_score() {
        let db = db_with_scores();
        assert_eq!(ok(&db, "ZRANGE z 2 4 BYSCORE"), bulks(&["b", "c", "d"]));
        assert_eq!(ok(&db, "ZRANGE z (2 +inf BYSCORE"), bulks(&["c", "d", "e"]));
        assert_eq!(ok(&db, "ZRANGE z 4 2 BYSCORE REV"), bulks(&["d", "c", "b"]));
        assert_eq!(
            ok(&db, "ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
            bulks(&["b", "c"])
        );
        assert_eq!(
            ok(&db, "ZRANGE z +inf -inf BYSCORE REV LIMIT 1 -1 WITHSCORES"),
            bulks(&["d", "4", "c", "3", "b", "2", "a", "1"])
        );
        assert_eq!(ok(&db, "ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), bulks(&[]));
        assert_eq!(ok(&db, "ZRANGEBYSCORE z 1 (3"), bulks(&["a", "b"]));
        assert_eq!(
            ok(&db, "ZRANGEBYSCORE z 1 3 WITHSCORES LIMIT 1 5"),
            bulks(&["b", "2", "c", "3"])
        );
        assert_eq!(ok(&db, "ZREVRANGEBYSCORE z 3 1"), bulks(&["c", "b", "a"]));
        assert_eq!(ok(&db, "ZRANGEBYSCORE z 10 20"), bulks(&[]));
        assert_eq!(err(&db, "ZRANGEBYSCORE z 1 3 REV"), "ERR syntax error");
        assert_eq!(err(&db, "ZRANGEBYSCORE z 1 3 BYLEX"), "ERR syntax error");
        assert_eq!(
            err(&db, "ZRANGEBYSCORE z x 3"),
            "ERR min or max is not a float"
        );
        assert_eq!(err(&db, "ZRANGE z 1 3 BYSCORE LIMIT 0"), "ERR syntax error");
    }

    #[test]
    fn zrange_by_lex() {
        let db = EmbeddedBackend::new();
        ok(&db, "ZADD z 0 a 0 b 0 c 0 d");
        assert_eq!(ok(&db, "ZRANGE z [b (d BYLEX"), bulks(&["b", "c"]));
        assert_eq!(
            ok(&db, "ZRANGE z + - BYLEX REV LIMIT 0 2"),
            bulks(&["d", "c"])
        );
        assert_eq!(ok(&db, "ZRANGEBYLEX z - [b"), bulks(&["a", "b"]));
        assert_eq!(ok(&db, "ZREVRANGEBYLEX z (c -"), bulks(&["b", "a"]));
        assert_eq!(
            err(&db, "ZRANGE z - + BYLEX WITHSCORES"),
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        );
        assert_eq!(
            err(&db, "ZRANGEBYLEX z a +"),
            "ERR min or max not valid string range item"
        );
    }

    #[test]
    fn zremrange() {
        let db = db_with_scores();
        assert_eq!(ok(&db, "ZREMRANGEBYSCORE z (1 3"), Reply::Int(2));
        assert_eq!(ok(&db, "ZRANGE z 0 -1"), bulks(&["a", "d", "e"]));
        assert_eq!(ok(&db, "ZREMRANGEBYRANK z -2 -1"), Reply::Int(2));
        assert_eq!(ok(&db, "ZRANGE z 0 -1"), bulks(&["a"]));
        assert_eq!(ok(&db, "ZREMRANGEBYRANK z 5 10"), Reply::Int(0));
        assert_eq!(ok(&db, "ZREMRANGEBYSCORE nope 0 1"), Reply::Int(0));
        assert_eq!(
            err(&db, "ZREMRANGEBYSCORE z a 1"),
            "ERR min or max is not a float"
        );
        assert_eq!(ok(&db, "ZREMRANGEBYSCORE z -inf +inf"), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS z"), Reply::Int(0));
        assert_eq!(db.key_count(), 0);
    }

    #[test]
    fn wrong_type() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET k v");
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for line in [
            "ZADD k 1 m",
            "ZINCRBY k 1 m",
            "ZREM k m",
            "ZSCORE k m",
            "ZCARD k",
            "ZCOUNT k 0 1",
            "ZRANK k m",
            "ZREVRANK k m",
            "ZRANGE k 0 -1",
            "ZREVRANGE k 0 -1",
            "ZRANGEBYSCORE k 0 1",
            "ZREMRANGEBYSCORE k 0 1",
            "ZREMRANGEBYRANK k 0 1",
        ] {
            assert_eq!(err(&db, line), wrongtype, "{line}");
        }
    }
}
