//! Shared helpers of the fuzz targets.
//!
//! Two parsers of untrusted bytes are not reachable from outside their crate: the Upstash reply
//! decoder (`crates/core/src/upstash/codec.rs`, `pub(super)` functions in a private module) and
//! the glob matcher (`crates/core/src/embedded/glob.rs`, `pub(crate)`). Rather than widening
//! their visibility, this crate compiles those two files themselves (`#[path]`), against the
//! public API of `digis-redis-core`: the code under test is the crate's own source text, byte
//! for byte. Should they start using crate-private items, expose them in
//! `crates/core/src/fuzzing.rs` instead and call that.

// What `codec.rs` imports from `crate::`.
#[allow(unused_imports)]
use digis_redis_core::{redact, Cmd, Error, ErrorKind, Reply, Result};

#[allow(dead_code)]
#[path = "../../crates/core/src/upstash/codec.rs"]
mod codec;

#[path = "../../crates/core/src/embedded/glob.rs"]
mod glob;

pub use digis_redis_core::redact::Secrets;

/// The secret every decoder target hands the codec; no error message may contain it.
pub const SECRET: &str = "tok-s3cr3t-fuzz";

pub fn secrets() -> Secrets {
    Secrets::new([SECRET.to_string()])
}

pub mod upstash {
    //! The Upstash REST codec, as `UpstashBackend` calls it.
    use super::*;

    pub fn encode_command(cmd: &Cmd) -> Result<Vec<u8>> {
        codec::encode_command(cmd)
    }

    pub fn encode_batch(cmds: &[Cmd]) -> Result<Vec<u8>> {
        codec::encode_batch(cmds)
    }

    pub fn decode_reply(status: u16, body: &[u8], secrets: &Secrets) -> Result<Reply> {
        codec::decode_reply(status, body, secrets)
    }

    pub fn decode_batch(
        status: u16,
        body: &[u8],
        expected: usize,
        secrets: &Secrets,
    ) -> Result<Vec<Result<Reply>>> {
        codec::decode_batch(status, body, expected, secrets)
    }
}

/// The embedded store's matcher (`KEYS`, `SCAN MATCH`).
pub fn glob_matches(pattern: &[u8], string: &[u8]) -> bool {
    glob::matches(pattern, string)
}

/// An independent transcription of Redis's `stringmatchlen_impl` (src/util.c, Redis 7.x,
/// case-sensitive), kept close to the C: lengths and a NUL-terminated view of the pattern
/// (reads past the end see `\0`, as the C reads the sds terminator). `signed_char` compares
/// the bounds of a `[a-z]` range as C `char`s do on x86-64, where bytes >= 0x80 are negative.
pub fn redis_stringmatch(pattern: &[u8], string: &[u8], signed_char: bool) -> bool {
    let mut skip_longer = false;
    stringmatch_impl(pattern, string, signed_char, &mut skip_longer, 0)
}

fn stringmatch_impl(
    pat: &[u8],
    s: &[u8],
    signed_char: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let ord = |b: u8| {
        if signed_char {
            b as i8 as i32
        } else {
            b as i32
        }
    };
    let mut p = 0usize; // pattern; patternLen == pat.len() - p
    let mut i = 0usize; // string; stringLen == s.len() - i
    while pat.len() > p && s.len() > i {
        match pat[p] {
            b'*' => {
                while pat.len() > p && at(p + 1) == b'*' {
                    p += 1;
                }
                if pat.len() - p == 1 {
                    return true;
                }
                while s.len() > i {
                    if stringmatch_impl(
                        &pat[p + 1..],
                        &s[i..],
                        signed_char,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    let len = pat.len() - p;
                    if at(p) == b'\\' && len >= 2 {
                        p += 1;
                        if pat[p] == s[i] {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if len == 0 {
                        p -= 1;
                        break;
                    } else if len >= 3 && pat[p + 1] == b'-' {
                        let (mut start, mut end) = (ord(pat[p]), ord(pat[p + 2]));
                        let c = ord(s[i]);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        p += 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if pat[p] == s[i] {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            _ => {
                if pat[p] == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                }
                if pat[p] != s[i] {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    pat.len() == p && s.len() == i
}

/// A reply as Redis would have sent it to the REST server, for the real encoder
/// (`digis_redis_rest_server::fuzzing::encode_result`).
pub fn to_redis_value(reply: &Reply) -> redis::Value {
    match reply {
        Reply::Nil => redis::Value::Nil,
        Reply::Int(i) => redis::Value::Int(*i),
        Reply::Bulk(b) => redis::Value::BulkString(b.to_vec()),
        Reply::Status("OK") => redis::Value::Okay,
        Reply::Status(s) => redis::Value::SimpleString((*s).to_string()),
        Reply::Array(items) => redis::Value::Array(items.iter().map(to_redis_value).collect()),
    }
}

/// What a decoded reply becomes after one more trip through a real encoder: Upstash (and the
/// REST server) leave only a top-level `OK` status unencoded, so a nested one comes back as
/// the bulk string `OK`.
pub fn normalize_nested_status(reply: &Reply, top: bool) -> Reply {
    match reply {
        Reply::Status(s) if !top => Reply::Bulk(bytes::Bytes::from_static(s.as_bytes())),
        Reply::Array(items) => Reply::Array(
            items
                .iter()
                .map(|r| normalize_nested_status(r, false))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Splits fuzz input into pieces at `sep`, for targets that need several byte strings.
pub fn split(data: &[u8], sep: u8) -> Vec<&[u8]> {
    data.split(|&b| b == sep).collect()
}
