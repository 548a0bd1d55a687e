//! The embedded store's command dispatcher (and its native scripts) fed arbitrary argument
//! vectors, as the raw client (`redis.call(...)` from JS) can send them. The store catches
//! panics and answers them as Internal errors, but libFuzzer's panic hook aborts first: any
//! panic (including an arithmetic overflow, checked in fuzz builds) is reported as a crash.
//!
//! Input: a byte program. Each step picks a command name from the supported table (or raw
//! bytes), then arguments: mostly words that steer into the interesting paths (keys of each
//! type, numbers at the edges of i64/f64, options) and sometimes raw bytes from the input.
//! Some steps run a batch (atomic or not) or one of the native scripts. The keyspace is one
//! store, flushed before every input.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use digis_redis_core::embedded::EmbeddedBackend;
use digis_redis_core::{Cmd, ErrorKind, Reply};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "PING",
    "ECHO",
    "TIME",
    "DBSIZE",
    "FLUSHDB",
    "TYPE",
    "DEL",
    "UNLINK",
    "EXISTS",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "PERSIST",
    "KEYS",
    "SCAN",
    "GET",
    "SET",
    "SETEX",
    "PSETEX",
    "SETNX",
    "GETDEL",
    "GETSET",
    "MGET",
    "MSET",
    "APPEND",
    "STRLEN",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "HGET",
    "HSET",
    "HMSET",
    "HSETNX",
    "HMGET",
    "HGETALL",
    "HDEL",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "HINCRBY",
    "HINCRBYFLOAT",
    "SADD",
    "SREM",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SPOP",
    "SRANDMEMBER",
    "ZADD",
    "ZINCRBY",
    "ZREM",
    "ZSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZRANGE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZREMRANGEBYSCORE",
    "ZREMRANGEBYRANK",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "LREM",
    "LTRIM",
    "set",
    "zadd",
    "EVAL",
    "MULTI",
];

const WORDS: &[&str] = &[
    // keys, one of each type once written
    "k",
    "h",
    "s",
    "z",
    "l",
    "n",
    "f",
    "k*",
    "*",
    "?",
    "[a-z]*",
    "[^k]",
    "\\*",
    // numbers
    "0",
    "1",
    "-1",
    "2",
    "3",
    "10",
    "100",
    "-100",
    "1000000",
    "3.5",
    "-0",
    "0.1",
    "1e308",
    "-1e308",
    "1e-320",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "NaN",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "18446744073709551616",
    "4611686018427387904",
    "9223372036854775",
    "0x10",
    " 1",
    "1 ",
    "",
    "(1",
    "(5",
    "(-inf",
    "(+inf",
    "[a",
    "(a",
    "[",
    "(",
    "-",
    "+",
    // options
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "KEEPTTL",
    "GET",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "COUNT",
    "MATCH",
    "TYPE",
    "string",
    "hash",
    "zset",
    "set",
    "list",
    "ASYNC",
    "SYNC",
];

const SCRIPTS: &[&str] = &[
    "otp_verify",
    "rate_limit_fixed_window",
    "rate_limit_token_bucket",
    "rate_limit_sliding_window",
];

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn arg(&mut self) -> Option<Bytes> {
        let tag = self.byte()?;
        Some(if tag < 0xc0 {
            Bytes::from_static(WORDS[tag as usize % WORDS.len()].as_bytes())
        } else {
            Bytes::copy_from_slice(self.bytes((tag & 0x3f) as usize))
        })
    }

    fn args(&mut self) -> Vec<Bytes> {
        let n = self.byte().map_or(0, |b| b % 9) as usize;
        (0..n).filter_map(|_| self.arg()).collect()
    }

    fn command(&mut self) -> Option<Cmd> {
        let op = self.byte()?;
        let name = if op < 0xf8 {
            Bytes::from_static(NAMES[op as usize % NAMES.len()].as_bytes())
        } else {
            // Up to 39 bytes: longer than any supported name (the dispatcher upper-cases
            // names into a fixed 24-byte buffer).
            let n = self.byte()? as usize % 40;
            Bytes::copy_from_slice(self.bytes(n))
        };
        let mut parts = vec![name];
        parts.extend(self.args());
        Some(Cmd::from_parts(parts))
    }
}

fn store() -> &'static EmbeddedBackend {
    static STORE: OnceLock<EmbeddedBackend> = OnceLock::new();
    STORE.get_or_init(EmbeddedBackend::new)
}

fn check(result: &digis_redis_core::Result<Reply>) {
    if let Err(e) = result {
        assert_ne!(e.kind, ErrorKind::Internal, "{}", e.message);
    }
}

fuzz_target!(|data: &[u8]| {
    let db = store();
    db.execute(&Cmd::new("FLUSHALL")).unwrap();
    let mut input = Input(data);
    let mut steps = 0;
    while let Some(kind) = input.byte() {
        steps += 1;
        if steps > 64 {
            break;
        }
        match kind % 16 {
            0 => {
                let n = input.byte().map_or(0, |b| b % 6);
                let cmds: Vec<Cmd> = (0..n).filter_map(|_| input.command()).collect();
                let results = db.execute_batch(&cmds, kind & 0x10 != 0);
                assert_eq!(results.len(), cmds.len());
                results.iter().for_each(check);
            }
            1 => {
                let name = SCRIPTS[input.byte().unwrap_or(0) as usize % SCRIPTS.len()];
                let keys = input.args();
                let args = input.args();
                check(&db.run_script(name, &keys, &args));
            }
            _ => {
                if let Some(cmd) = input.command() {
                    check(&db.execute(&cmd));
                }
            }
        }
    }
    // The keyspace still answers, and KEYS never lists more than DBSIZE counts.
    let keys = db.execute(&Cmd::new("KEYS").arg("*")).unwrap();
    let size = db.execute(&Cmd::new("DBSIZE")).unwrap().as_int().unwrap();
    assert!(keys.into_array().unwrap().len() as i64 <= size);
});
