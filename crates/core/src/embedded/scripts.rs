//! Native equivalents of the Lua scripts in `src/scripts/`, looked up by `Script::name`. Each one
//! runs its commands through the ordinary dispatcher while the caller holds the lock, exactly as
//! Lua's `redis.call` would, so no command logic is duplicated and the script stays atomic.

use bytes::Bytes;
use subtle::ConstantTimeEq;

use super::commands::{self, args::parse_i64};
use super::store::Keyspace;
use crate::{Cmd, Error, ErrorKind, Reply, Result};

pub(crate) type NativeScript = fn(&mut Keyspace, &[Bytes], &[Bytes]) -> Result<Reply>;

pub(crate) fn find(name: &str) -> Option<NativeScript> {
    match name {
        "otp_verify" => Some(otp_verify),
        "rate_limit_fixed_window" => Some(rate_limit_fixed_window),
        _ => None,
    }
}

fn call(ks: &mut Keyspace, cmd: Cmd) -> Result<Reply> {
    commands::dispatch(ks, &cmd)
}

/// KEYS[1], which the Lua would pass to `redis.call` and fail on when absent.
fn first_key<'a>(keys: &'a [Bytes], script: &str) -> Result<&'a Bytes> {
    keys.first().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("script '{script}' needs KEYS[1]"),
        )
    })
}

/// otp_verify.lua: a stored code equal to ARGV[1] is deleted and answers 1, anything else 0.
fn otp_verify(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let key = first_key(keys, "otp_verify")?;
    let stored = call(ks, Cmd::new("GET").arg(key))?;
    // Constant-time, so response timing reveals nothing about how much of a guess was right.
    let matched = match (&stored, args.first()) {
        (Reply::Bulk(stored), Some(offered)) => bool::from(stored.as_ref().ct_eq(offered.as_ref())),
        _ => false,
    };
    if !matched {
        return Ok(Reply::Int(0));
    }
    call(ks, Cmd::new("DEL").arg(key))?;
    Ok(Reply::Int(1))
}

/// rate_limit_fixed_window.lua: INCR, and the window as expiry whenever the key has none.
/// Answers `{count, ttl_ms}`.
fn rate_limit_fixed_window(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let key = first_key(keys, "rate_limit_fixed_window")?;
    let count = call(ks, Cmd::new("INCR").arg(key))?;
    let mut ttl = call(ks, Cmd::new("PTTL").arg(key))?.as_int().unwrap_or(-1);
    if ttl < 0 {
        // A missing ARGV[1] makes PEXPIRE fail on arity, as the Lua's nil argument would.
        call(ks, Cmd::new("PEXPIRE").arg(key).args(args.first()))?;
        // PEXPIRE accepted ARGV[1], so it is an integer (Lua's `tonumber` of it).
        match args.first().and_then(|w| parse_i64(w)) {
            Some(window) => ttl = window,
            // Unreachable after PEXPIRE's check; a Lua table ending in nil would drop it.
            None => return Ok(Reply::Array(vec![count])),
        }
    }
    Ok(Reply::Array(vec![count, Reply::Int(ttl)]))
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::Duration;

    use bytes::Bytes;

    use crate::embedded::commands::test_util::*;
    use crate::embedded::EmbeddedBackend;
    use crate::script::{OTP_VERIFY, RATE_LIMIT_FIXED_WINDOW};
    use crate::{Backend, ErrorKind, Reply};

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[tokio::test]
    async fn otp_verify_consumes_a_matching_code_once() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET otp:alice 123456 EX 300");
        let verify = |code: &str| db.eval(&OTP_VERIFY, vec![b("otp:alice")], vec![b(code)]);
        assert_eq!(verify("000000").await.unwrap(), Reply::Int(0));
        assert_eq!(verify("12345").await.unwrap(), Reply::Int(0));
        assert_eq!(verify("1234567").await.unwrap(), Reply::Int(0));
        assert_eq!(ok(&db, "EXISTS otp:alice"), Reply::Int(1));
        assert_eq!(verify("123456").await.unwrap(), Reply::Int(1));
        assert_eq!(ok(&db, "EXISTS otp:alice"), Reply::Int(0));
        assert_eq!(verify("123456").await.unwrap(), Reply::Int(0));

        // A missing ARGV[1] never matches; a missing KEYS[1] is the caller's mistake.
        ok(&db, "SET otp:bob 1");
        let no_code = db.eval(&OTP_VERIFY, vec![b("otp:bob")], vec![]).await;
        assert_eq!(no_code.unwrap(), Reply::Int(0));
        let no_key = db
            .eval(&OTP_VERIFY, vec![], vec![b("1")])
            .await
            .unwrap_err();
        assert_eq!(no_key.kind, ErrorKind::InvalidArgument);
        // A non-string value is a WRONGTYPE error, as redis.call raises it.
        ok(&db, "HSET otp:carol f v");
        let wrong = db
            .eval(&OTP_VERIFY, vec![b("otp:carol")], vec![b("v")])
            .await;
        assert!(wrong.unwrap_err().message.starts_with("WRONGTYPE"));
    }

    #[test]
    fn otp_verify_succeeds_exactly_once_under_contention() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET otp:x 424242");
        let successes: i64 = thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let db = db.clone();
                    scope.spawn(move || {
                        db.run_script("otp_verify", &[b("otp:x")], &[b("424242")])
                            .unwrap()
                            .as_int()
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(successes, 1);
    }

    #[tokio::test]
    async fn rate_limit_counts_within_a_window_then_resets() {
        let db = EmbeddedBackend::new();
        let hit = || db.eval(&RATE_LIMIT_FIXED_WINDOW, vec![b("rate:ip")], vec![b("150")]);
        let first = hit().await.unwrap().into_array().unwrap();
        assert_eq!(first, vec![Reply::Int(1), Reply::Int(150)]);
        let second = hit().await.unwrap().into_array().unwrap();
        assert_eq!(second[0], Reply::Int(2));
        let ttl = second[1].as_int().unwrap();
        assert!((0..=150).contains(&ttl), "{ttl}");
        thread::sleep(Duration::from_millis(200));
        let after = hit().await.unwrap().into_array().unwrap();
        assert_eq!(after, vec![Reply::Int(1), Reply::Int(150)]);
    }

    #[test]
    fn rate_limit_repairs_a_key_without_expiry() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET rate:old 7");
        let reply = db
            .run_script("rate_limit_fixed_window", &[b("rate:old")], &[b("5000")])
            .unwrap();
        assert_eq!(reply, Reply::Array(vec![Reply::Int(8), Reply::Int(5000)]));
        let pttl = ok(&db, "PTTL rate:old").as_int().unwrap();
        assert!((4000..=5000).contains(&pttl), "{pttl}");

        // Errors from the inner commands surface, as redis.call's do.
        ok(&db, "SET rate:text abc");
        let e = db
            .run_script("rate_limit_fixed_window", &[b("rate:text")], &[b("5000")])
            .unwrap_err();
        assert_eq!(e.message, "ERR value is not an integer or out of range");
        let e = db
            .run_script("rate_limit_fixed_window", &[b("rate:new")], &[b("soon")])
            .unwrap_err();
        assert_eq!(e.message, "ERR value is not an integer or out of range");
    }

    #[tokio::test]
    async fn unknown_scripts_are_unsupported() {
        static OTHER: crate::script::Script = crate::script::Script::new("other", "return 1");
        let db = EmbeddedBackend::new();
        let e = db.eval(&OTHER, vec![], vec![]).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("'other'"), "{}", e.message);
    }
}
