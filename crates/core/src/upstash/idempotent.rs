//! Which commands may be sent again after a transport failure. Such a failure (connection reset
//! or closed before the reply) leaves it unknown whether the server ran the command, so a retry
//! is only allowed when running it twice changes neither the data nor the reply. @upstash/redis
//! retries everything, which double-counts INCRs; we do not.

use crate::Cmd;

/// Read-only commands: re-running them has no effect at all.
const READ_ONLY: &[&str] = &[
    "GET",
    "MGET",
    "EXISTS",
    "TTL",
    "PTTL",
    "TYPE",
    "STRLEN",
    "GETRANGE",
    "HGET",
    "HMGET",
    "HGETALL",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "HSTRLEN",
    "HSCAN",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SSCAN",
    "ZSCORE",
    "ZMSCORE",
    "ZRANGE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZSCAN",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "SCAN",
    "KEYS",
    "DBSIZE",
    "PING",
    "ECHO",
    "TIME",
];

/// Writes whose second application leaves the same value and the same reply (`OK`). A TTL they
/// set restarts from the retry, a few milliseconds later, which is harmless.
const OVERWRITES: &[&str] = &["SETEX", "PSETEX", "MSET"];

/// SET options that make the reply or the outcome depend on the previous value.
const SET_CONDITIONAL: &[&[u8]] = &[b"NX", b"XX", b"GET"];

pub(super) fn is_idempotent(cmd: &Cmd) -> bool {
    let name = cmd.name();
    match name.as_str() {
        // SET key value [options]: only the options can make it conditional.
        "SET" => !cmd.parts().iter().skip(3).any(|opt| {
            SET_CONDITIONAL
                .iter()
                .any(|c| opt.as_ref().eq_ignore_ascii_case(c))
        }),
        // EVAL and EVALSHA are absent on purpose: our scripts write (INCR, DEL).
        other => READ_ONLY.contains(&other) || OVERWRITES.contains(&other),
    }
}

/// A batch is re-sent whole, so every command in it must tolerate running twice.
pub(super) fn all_idempotent(cmds: &[Cmd]) -> bool {
    cmds.iter().all(is_idempotent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_idempotent_in_any_case() {
        for line in [
            "GET k",
            "get k",
            "MGET a b",
            "HGETALL h",
            "ZRANGE z 0 -1",
            "SCAN 0 MATCH x* COUNT 10",
            "PING",
            "ttl k",
        ] {
            assert!(is_idempotent(&Cmd::from_line(line)), "{line}");
        }
    }

    #[test]
    fn plain_overwrites_are_idempotent() {
        for line in [
            "SET k v",
            "set k v EX 100",
            "SET k v PX 5 KEEPTTL",
            "SETEX k 10 v",
            "PSETEX k 10 v",
            "MSET a 1 b 2",
        ] {
            assert!(is_idempotent(&Cmd::from_line(line)), "{line}");
        }
    }

    #[test]
    fn conditional_sets_are_not() {
        for line in [
            "SET k v NX",
            "SET k v EX 10 nx",
            "SET k v XX",
            "SET k v GET",
        ] {
            assert!(!is_idempotent(&Cmd::from_line(line)), "{line}");
        }
        // A value that happens to read "NX" is not an option.
        assert!(is_idempotent(&Cmd::from_line("SET k NX")));
    }

    #[test]
    fn writes_whose_reply_or_effect_changes_are_not() {
        for line in [
            "INCR k",
            "DECR k",
            "INCRBY k 2",
            "DEL k",
            "SADD s a",
            "SREM s a",
            "HSET h f v",
            "EXPIRE k 10",
            "EVAL x 0",
            "EVALSHA abc 0",
            "GETDEL k",
            "MSETNX a 1",
            "",
        ] {
            assert!(!is_idempotent(&Cmd::from_line(line)), "{line:?}");
        }
    }

    #[test]
    fn a_batch_needs_every_command_idempotent() {
        assert!(all_idempotent(&[
            Cmd::from_line("GET a"),
            Cmd::from_line("SET b 1")
        ]));
        assert!(!all_idempotent(&[
            Cmd::from_line("GET a"),
            Cmd::from_line("INCR b")
        ]));
        assert!(all_idempotent(&[]));
    }
}
