//! Native equivalents of the lock scripts (`lock_acquire.lua`, `lock_release.lua`,
//! `lock_extend.lua`, and `cache_wrap_claim.lua` for `cache.wrap`'s loading lock), line by
//! line, with the same helpers as the other scripts.

use bytes::Bytes;

use super::{call, int_reply, key, lua_arg, lua_int, nil_argument, tonumber};
use crate::embedded::store::Keyspace;
use crate::{Cmd, Reply, Result};

/// ARGV[i + 1], as passed to `redis.call`: nil is refused there.
fn arg(args: &[Bytes], i: usize) -> Result<&Bytes> {
    args.get(i).ok_or_else(nil_argument)
}

/// lock_acquire.lua. KEYS: the lock, its fence, optionally the fence's former name; ARGV:
/// owner, ttl ms, the fence's lifetime in seconds. The new fencing token, or 0 when the lock is
/// held.
pub(super) fn lock_acquire(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let set = Cmd::new("SET")
        .arg(key(keys, 0)?)
        .arg(arg(args, 0)?)
        .arg("NX")
        .arg("PX")
        .arg(arg(args, 1)?);
    if call(ks, set)? == Reply::Nil {
        return Ok(Reply::Int(0));
    }
    let fence = key(keys, 1)?;
    // A Lua number from here on: INCR's integer, compared and written back as a double.
    let mut token = int_reply(call(ks, Cmd::new("INCR").arg(fence))?, "INCR")? as f64;
    if let Some(legacy_key) = keys.get(2) {
        let legacy = match call(ks, Cmd::new("GET").arg(legacy_key))? {
            Reply::Bulk(text) => tonumber(&text),
            _ => None,
        };
        if let Some(legacy) = legacy.filter(|&legacy| legacy >= token) {
            token = legacy + 1.0;
            call(ks, Cmd::new("SET").arg(fence).arg(lua_arg(token)))?;
        }
        let set = Cmd::new("SET")
            .arg(legacy_key)
            .arg(lua_arg(token))
            .arg("EX");
        call(ks, set.arg(arg(args, 2)?))?;
    }
    call(ks, Cmd::new("EXPIRE").arg(fence).arg(arg(args, 2)?))?;
    Ok(Reply::Int(lua_int(token)))
}

/// cache_wrap_claim.lua. KEYS: the key, its loading lock, its freshness marker; ARGV: owner,
/// lock ms, '1' when refreshing. The value when it is there (fresh, when refreshing), else 1
/// when the lock was taken, 0 when it is held.
pub(super) fn cache_wrap_claim(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let value = call(ks, Cmd::new("GET").arg(key(keys, 0)?))?;
    if let Reply::Bulk(value) = value {
        let refreshing = args.get(2).is_some_and(|a| a.as_ref() == b"1");
        if !refreshing || call(ks, Cmd::new("EXISTS").arg(key(keys, 2)?))? == Reply::Int(1) {
            return Ok(Reply::Bulk(value));
        }
    }
    let set = Cmd::new("SET")
        .arg(key(keys, 1)?)
        .arg(arg(args, 0)?)
        .arg("NX")
        .arg("PX")
        .arg(arg(args, 1)?);
    Ok(Reply::Int(i64::from(call(ks, set)? != Reply::Nil)))
}

/// `redis.call('GET', KEYS[1]) == ARGV[1]`: a missing ARGV[1] (nil) equals nothing.
fn held_by(ks: &mut Keyspace, lock: &Bytes, owner: Option<&Bytes>) -> Result<bool> {
    let held = call(ks, Cmd::new("GET").arg(lock))?;
    Ok(matches!((held, owner), (Reply::Bulk(value), Some(owner)) if value == owner))
}

/// lock_release.lua. KEYS: the lock; ARGV: owner. DEL's answer when owned, else 0.
pub(super) fn lock_release(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let lock = key(keys, 0)?;
    if held_by(ks, lock, args.first())? {
        return call(ks, Cmd::new("DEL").arg(lock));
    }
    Ok(Reply::Int(0))
}

/// lock_extend.lua. KEYS: the lock; ARGV: owner, ttl ms. PEXPIRE's answer when owned, else 0.
pub(super) fn lock_extend(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let lock = key(keys, 0)?;
    if held_by(ks, lock, args.first())? {
        return call(ks, Cmd::new("PEXPIRE").arg(lock).arg(arg(args, 1)?));
    }
    Ok(Reply::Int(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::native_scripts::find;

    const T0: u64 = 1_700_000_000_000;

    fn run(ks: &mut Keyspace, name: &str, keys: &[&str], args: &[&str]) -> Result<Reply> {
        let b = |items: &[&str]| -> Vec<Bytes> {
            items
                .iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        find(name).expect("registered")(ks, &b(keys), &b(args))
    }

    fn int(ks: &mut Keyspace, line: &str) -> i64 {
        call(ks, Cmd::from_line(line)).unwrap().as_int().unwrap()
    }

    const LOCK: [&str; 2] = ["lock:a", "{lock:a}:fence"];

    #[test]
    fn acquire_takes_a_free_lock_and_draws_the_next_token() {
        let mut ks = Keyspace::default();
        ks.set_now(T0);
        assert_eq!(
            run(&mut ks, "lock_acquire", &LOCK, &["o1", "1000", "86400"]),
            Ok(Reply::Int(1))
        );
        assert_eq!(
            run(&mut ks, "lock_acquire", &LOCK, &["o2", "1000", "86400"]),
            Ok(Reply::Int(0))
        );
        assert_eq!(int(&mut ks, "PTTL lock:a"), 1000);
        // Once it expires, the next owner's token is higher; each acquire renews the fence.
        ks.set_now(T0 + 1001);
        assert_eq!(
            run(&mut ks, "lock_acquire", &LOCK, &["o2", "1000", "86400"]),
            Ok(Reply::Int(2))
        );
        assert_eq!(int(&mut ks, "PTTL {lock:a}:fence"), 86_400_000);
    }

    #[test]
    fn release_and_extend_check_the_owner() {
        let mut ks = Keyspace::default();
        ks.set_now(T0);
        run(&mut ks, "lock_acquire", &LOCK, &["o1", "1000", "86400"]).unwrap();
        let lock = ["lock:a"];
        assert_eq!(
            run(&mut ks, "lock_extend", &lock, &["o2", "9000"]),
            Ok(Reply::Int(0))
        );
        assert_eq!(
            run(&mut ks, "lock_extend", &lock, &["o1", "9000"]),
            Ok(Reply::Int(1))
        );
        assert_eq!(int(&mut ks, "PTTL lock:a"), 9000);
        assert_eq!(
            run(&mut ks, "lock_release", &lock, &["o2"]),
            Ok(Reply::Int(0))
        );
        // No owner given: nil equals nothing, so nothing is released.
        assert_eq!(run(&mut ks, "lock_release", &lock, &[]), Ok(Reply::Int(0)));
        assert_eq!(
            run(&mut ks, "lock_release", &lock, &["o1"]),
            Ok(Reply::Int(1))
        );
        assert_eq!(int(&mut ks, "EXISTS lock:a"), 0);
        assert_eq!(
            run(&mut ks, "lock_release", &lock, &["o1"]),
            Ok(Reply::Int(0))
        );
        assert_eq!(
            run(&mut ks, "lock_extend", &lock, &["o1", "9000"]),
            Ok(Reply::Int(0))
        );
    }

    #[test]
    fn a_wrap_claim_answers_a_value_stored_since_the_miss() {
        let mut ks = Keyspace::default();
        ks.set_now(T0);
        let keys = ["k", "{k}:loading", "{k}:fresh"];
        let claim = |ks: &mut Keyspace, owner: &str, refreshing: &str| {
            run(ks, "cache_wrap_claim", &keys, &[owner, "5000", refreshing])
        };
        assert_eq!(claim(&mut ks, "o1", "0"), Ok(Reply::Int(1)));
        assert_eq!(claim(&mut ks, "o2", "0"), Ok(Reply::Int(0)));
        call(&mut ks, Cmd::from_line("SET k v")).unwrap();
        call(&mut ks, Cmd::from_line("DEL {k}:loading")).unwrap();
        assert_eq!(claim(&mut ks, "o2", "0"), Ok(Reply::bulk("v")));
        // Refreshing a stale value: only a fresh one spares the reload.
        assert_eq!(claim(&mut ks, "o2", "1"), Ok(Reply::Int(1)));
        call(&mut ks, Cmd::from_line("DEL {k}:loading")).unwrap();
        call(&mut ks, Cmd::from_line("SET {k}:fresh 1")).unwrap();
        assert_eq!(claim(&mut ks, "o3", "1"), Ok(Reply::bulk("v")));
        assert_eq!(int(&mut ks, "EXISTS {k}:loading"), 0);
    }

    #[test]
    fn errors_are_the_commands() {
        let mut ks = Keyspace::default();
        ks.set_now(T0);
        // A missing ttl: SET refuses the nil argument before anything is written.
        let e = run(&mut ks, "lock_acquire", &LOCK, &["o1"]).unwrap_err();
        assert!(e.message.contains("arguments must be strings"), "{e:?}");
        assert_eq!(int(&mut ks, "EXISTS lock:a"), 0);
        // A fence of the wrong type: the lock was taken, then INCR fails (no rollback, as in Redis).
        call(&mut ks, Cmd::from_line("HSET {lock:a}:fence f v")).unwrap();
        let e = run(&mut ks, "lock_acquire", &LOCK, &["o1", "1000", "86400"]).unwrap_err();
        assert!(e.message.starts_with("WRONGTYPE"), "{e:?}");
        assert_eq!(int(&mut ks, "EXISTS lock:a"), 1);
        // Owned, but a missing ttl for PEXPIRE.
        let e = run(&mut ks, "lock_extend", &["lock:a"], &["o1"]).unwrap_err();
        assert!(e.message.contains("arguments must be strings"), "{e:?}");
    }
}
