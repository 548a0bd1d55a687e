//! Command dispatch: the table of supported commands with their Redis arities. Handlers receive
//! the whole argv (`argv[0]` is the name), so their indices read like Redis's own source.

pub(crate) mod args;
mod hashes;
mod keyspace;
mod lists;
mod sets;
mod strings;
mod zsets;

use bytes::Bytes;

use super::store::Keyspace;
use crate::{Cmd, Error, ErrorKind, Reply, Result};

type Handler = fn(&mut Keyspace, &[Bytes]) -> Result<Reply>;

pub(crate) struct Spec {
    /// Redis's convention: positive is exact, negative is a minimum (both count the name).
    arity: i32,
    run: Handler,
    /// May add data (Redis's `denyoom`): room is made under the memory bound first.
    grows: bool,
}

/// The commands that may add data, for which the memory bound is enforced before they run.
fn grows(name: &str) -> bool {
    matches!(
        name,
        "SET"
            | "SETEX"
            | "PSETEX"
            | "SETNX"
            | "GETSET"
            | "MSET"
            | "APPEND"
            | "INCR"
            | "DECR"
            | "INCRBY"
            | "DECRBY"
            | "INCRBYFLOAT"
            | "HSET"
            | "HMSET"
            | "HSETNX"
            | "HINCRBY"
            | "HINCRBYFLOAT"
            | "SADD"
            | "ZADD"
            | "ZINCRBY"
            | "LPUSH"
            | "RPUSH"
    )
}

fn lookup(name: &str) -> Option<Spec> {
    use zsets::By;
    let (arity, run): (i32, Handler) = match name {
        "PING" => (-1, keyspace::ping),
        "ECHO" => (2, keyspace::echo),
        "TIME" => (1, keyspace::time),
        "DBSIZE" => (1, keyspace::dbsize),
        "FLUSHDB" | "FLUSHALL" => (-1, keyspace::flush),
        "TYPE" => (2, keyspace::type_),
        "DEL" | "UNLINK" => (-2, keyspace::del),
        "EXISTS" => (-2, keyspace::exists),
        "EXPIRE" => (-3, |ks, a| keyspace::expire(ks, a, 1000, false)),
        "PEXPIRE" => (-3, |ks, a| keyspace::expire(ks, a, 1, false)),
        "EXPIREAT" => (-3, |ks, a| keyspace::expire(ks, a, 1000, true)),
        "PEXPIREAT" => (-3, |ks, a| keyspace::expire(ks, a, 1, true)),
        "TTL" => (2, |ks, a| keyspace::ttl(ks, a, false)),
        "PTTL" => (2, |ks, a| keyspace::ttl(ks, a, true)),
        "PERSIST" => (2, keyspace::persist),
        "KEYS" => (2, keyspace::keys),
        "SCAN" => (-2, keyspace::scan),

        "GET" => (2, strings::get),
        "SET" => (-3, strings::set),
        "SETEX" => (4, |ks, a| strings::setex(ks, a, 1000, "setex")),
        "PSETEX" => (4, |ks, a| strings::setex(ks, a, 1, "psetex")),
        "SETNX" => (3, strings::setnx),
        "GETDEL" => (2, strings::getdel),
        "GETSET" => (3, strings::getset),
        "MGET" => (-2, strings::mget),
        "MSET" => (-3, strings::mset),
        "APPEND" => (3, strings::append),
        "STRLEN" => (2, strings::strlen),
        "INCR" => (2, |ks, a| strings::incr_by(ks, &a[1], 1)),
        "DECR" => (2, |ks, a| strings::incr_by(ks, &a[1], -1)),
        "INCRBY" => (3, |ks, a| {
            strings::incr_by(ks, &a[1], args::int_arg(&a[2])?)
        }),
        "DECRBY" => (3, strings::decrby),
        "INCRBYFLOAT" => (3, strings::incrbyfloat),

        "HGET" => (3, hashes::hget),
        "HSET" => (-4, |ks, a| hashes::hset(ks, a, "hset")),
        "HMSET" => (-4, |ks, a| hashes::hset(ks, a, "hmset")),
        "HSETNX" => (4, hashes::hsetnx),
        "HMGET" => (-3, hashes::hmget),
        "HGETALL" => (2, hashes::hgetall),
        "HDEL" => (-3, hashes::hdel),
        "HEXISTS" => (3, hashes::hexists),
        "HLEN" => (2, hashes::hlen),
        "HKEYS" => (2, hashes::hkeys),
        "HVALS" => (2, hashes::hvals),
        "HINCRBY" => (4, hashes::hincrby),
        "HINCRBYFLOAT" => (4, hashes::hincrbyfloat),

        "SADD" => (-3, sets::sadd),
        "SREM" => (-3, sets::srem),
        "SMEMBERS" => (2, sets::smembers),
        "SISMEMBER" => (3, sets::sismember),
        "SMISMEMBER" => (-3, sets::smismember),
        "SCARD" => (2, sets::scard),
        "SPOP" => (-2, sets::spop),
        "SRANDMEMBER" => (-2, sets::srandmember),

        "ZADD" => (-4, zsets::zadd),
        "ZINCRBY" => (4, zsets::zincrby),
        "ZREM" => (-3, zsets::zrem),
        "ZSCORE" => (3, zsets::zscore),
        "ZCARD" => (2, zsets::zcard),
        "ZCOUNT" => (4, zsets::zcount),
        "ZRANK" => (-3, |ks, a| zsets::zrank(ks, a, false)),
        "ZREVRANK" => (-3, |ks, a| zsets::zrank(ks, a, true)),
        "ZRANGE" => (-4, |ks, a| zsets::zrange(ks, a, None, None)),
        "ZREVRANGE" => (-4, |ks, a| zsets::zrange(ks, a, Some(By::Rank), Some(true))),
        "ZRANGEBYSCORE" => (-4, |ks, a| {
            zsets::zrange(ks, a, Some(By::Score), Some(false))
        }),
        "ZREVRANGEBYSCORE" => (-4, |ks, a| {
            zsets::zrange(ks, a, Some(By::Score), Some(true))
        }),
        "ZRANGEBYLEX" => (-4, |ks, a| zsets::zrange(ks, a, Some(By::Lex), Some(false))),
        "ZREVRANGEBYLEX" => (-4, |ks, a| zsets::zrange(ks, a, Some(By::Lex), Some(true))),
        "ZREMRANGEBYSCORE" => (4, zsets::zremrangebyscore),
        "ZREMRANGEBYRANK" => (4, zsets::zremrangebyrank),

        "LPUSH" => (-3, |ks, a| lists::push(ks, a, true)),
        "RPUSH" => (-3, |ks, a| lists::push(ks, a, false)),
        "LPOP" => (-2, |ks, a| lists::pop(ks, a, true)),
        "RPOP" => (-2, |ks, a| lists::pop(ks, a, false)),
        "LRANGE" => (4, lists::lrange),
        "LLEN" => (2, lists::llen),
        "LINDEX" => (3, lists::lindex),
        "LREM" => (4, lists::lrem),
        "LTRIM" => (4, lists::ltrim),

        // Lets the tests prove that a panicking command becomes an error, not an abort.
        #[cfg(test)]
        "__PANIC" => (1, |_, _| panic!("deliberate test panic")),
        _ => return None,
    };
    Some(Spec {
        arity,
        run,
        grows: grows(name),
    })
}

/// What Redis checks before running (or queueing) a command: that it exists and its arity.
pub(crate) fn check(cmd: &Cmd) -> Result<Spec> {
    if cmd.parts().is_empty() {
        return Err(Error::new(ErrorKind::InvalidArgument, "empty command"));
    }
    // Upper-cased on the stack: this runs for every command, so no allocation here.
    let raw = &cmd.parts()[0];
    let mut buf = [0u8; 24];
    let upper = buf.get_mut(..raw.len()).map(|dst| {
        dst.copy_from_slice(raw);
        dst.make_ascii_uppercase();
        &*dst
    });
    let name_str = upper.and_then(|b| std::str::from_utf8(b).ok());
    let spec = name_str.and_then(lookup).ok_or_else(|| {
        let name = cmd.name();
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "command '{name}' is not supported by the embedded store; set REDIS_URL or \
                 UPSTASH_REDIS_REST_URL to use a Redis server"
            ),
        )
    })?;
    let argc = i32::try_from(cmd.parts().len()).unwrap_or(i32::MAX);
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return Err(Error::wrong_arity(&cmd.name()));
    }
    Ok(spec)
}

/// Runs one command against the keyspace; the caller holds the lock and has set the clock.
pub(crate) fn dispatch(ks: &mut Keyspace, cmd: &Cmd) -> Result<Reply> {
    let spec = check(cmd)?;
    if spec.grows {
        ks.make_room(cmd.parts()[1..].iter().map(Bytes::len).sum())?;
    }
    (spec.run)(ks, cmd.parts())
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Terse helpers for the command tests: `run(&db, "SET k v")`.

    use bytes::Bytes;

    use crate::embedded::EmbeddedBackend;
    use crate::{Cmd, Reply, Result};

    pub(crate) fn run(db: &EmbeddedBackend, line: &str) -> Result<Reply> {
        let parts = line
            .split_whitespace()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect();
        db.execute(&Cmd::from_parts(parts))
    }

    /// Runs a command that must succeed.
    pub(crate) fn ok(db: &EmbeddedBackend, line: &str) -> Reply {
        run(db, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// Runs a command that must fail, returning its message.
    pub(crate) fn err(db: &EmbeddedBackend, line: &str) -> String {
        match run(db, line) {
            Ok(reply) => panic!("{line}: expected an error, got {reply:?}"),
            Err(e) => e.message,
        }
    }

    pub(crate) fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub(crate) fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    /// An array reply's bulk items as sorted strings, for replies in unspecified order.
    pub(crate) fn sorted(reply: Reply) -> Vec<String> {
        let mut items: Vec<String> = reply
            .into_array()
            .expect("an array reply")
            .into_iter()
            .map(|r| String::from_utf8(r.into_bytes().expect("a bulk item").to_vec()).unwrap())
            .collect();
        items.sort();
        items
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::{Cmd, ErrorKind, Reply};

    #[test]
    fn names_are_case_insensitive() {
        let db = EmbeddedBackend::new();
        assert_eq!(ok(&db, "set k v"), Reply::ok());
        assert_eq!(ok(&db, "GeT k"), bulk("v"));
    }

    #[test]
    fn unsupported_commands_say_how_to_get_them() {
        let db = EmbeddedBackend::new();
        for line in [
            "SUBSCRIBE ch",
            "MULTI",
            "EXEC",
            "WATCH k",
            "EVAL return 0",
            "xadd s * f v",
        ] {
            let e = run(&db, line).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Unsupported, "{line}");
            let name = line.split(' ').next().unwrap().to_ascii_uppercase();
            assert_eq!(
                e.message,
                format!(
                    "command '{name}' is not supported by the embedded store; set REDIS_URL or \
                     UPSTASH_REDIS_REST_URL to use a Redis server"
                )
            );
        }
        let e = db.execute(&Cmd::from_parts(vec![])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn arity_errors_use_redis_text() {
        let db = EmbeddedBackend::new();
        assert_eq!(
            err(&db, "GET"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            err(&db, "get a b"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            err(&db, "ZADD k 1"),
            "ERR wrong number of arguments for 'zadd' command"
        );
        assert_eq!(
            err(&db, "PING a b"),
            "ERR wrong number of arguments for 'ping' command"
        );
        let e = run(&db, "DEL").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Command);
    }
}
