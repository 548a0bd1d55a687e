//! Native equivalents of the Lua scripts in `src/lua/`, looked up by `Script::name`. Each one
//! runs its commands through the ordinary dispatcher while the caller holds the lock, exactly as
//! Lua's `redis.call` would, so no command logic is duplicated and the script stays atomic. The
//! token bucket, which every embedded rate-limit check runs, is the exception: it reads and
//! writes its hash through the keyspace directly. The differential test against the Lua on a
//! real Redis (`differential.rs`) holds every script, that one included, to the same replies
//! and effects.
//!
//! Each function follows its Lua line by line, in the same order (errors after a write leave the
//! write in place, as Redis never rolls a script back), with the Lua semantics spelled out in
//! the helpers below: numbers are `f64` (Lua 5.1 has only doubles), `tonumber` is C's `strtod`,
//! a number passed to `redis.call` is written with `%.17g` (Redis 7.0's conversion) and a number
//! returned becomes an integer reply by a C `(long long)` cast. Lua's `TIME` is the execution
//! unit's frozen clock, `Keyspace::now`, the same clock every expiry of the unit uses.

use bytes::Bytes;
use subtle::{Choice, ConstantTimeEq};

use super::commands;
use super::store::Keyspace;
use super::value::Hash;
use crate::{Cmd, Error, ErrorKind, Reply, Result};

#[cfg(test)]
mod differential;
mod locks;

pub(crate) type NativeScript = fn(&mut Keyspace, &[Bytes], &[Bytes]) -> Result<Reply>;

pub(crate) fn find(name: &str) -> Option<NativeScript> {
    match name {
        "otp_verify" => Some(otp_verify),
        "rate_limit_fixed_window" => Some(rate_limit_fixed_window),
        "rate_limit_token_bucket" => Some(rate_limit_token_bucket),
        "rate_limit_sliding_window" => Some(rate_limit_sliding_window),
        "lock_acquire" => Some(locks::lock_acquire),
        "lock_release" => Some(locks::lock_release),
        "lock_extend" => Some(locks::lock_extend),
        "cache_wrap_claim" => Some(locks::cache_wrap_claim),
        "window_hits" => Some(window_hits),
        "window_hits_many" => Some(window_hits_many),
        _ => None,
    }
}

fn call(ks: &mut Keyspace, cmd: Cmd) -> Result<Reply> {
    commands::dispatch(ks, &cmd)
}

// ---------------------------------------------------------------------------------------------
// Lua semantics
// ---------------------------------------------------------------------------------------------

/// What `redis.call` raises when one of its arguments is nil (a missing KEYS[i] or ARGV[i]).
fn nil_argument() -> Error {
    Error::command("ERR Lua redis lib command arguments must be strings or integers")
}

/// What Lua raises on arithmetic or a comparison with nil (a missing or non-numeric ARGV[i]).
fn nil_operand(script: &str, operation: &str) -> Error {
    Error::command(format!(
        "ERR user_script ({script}): attempt to {operation} a nil value"
    ))
}

/// KEYS[i + 1], as passed to `redis.call`: nil is refused there.
fn key(keys: &[Bytes], i: usize) -> Result<&Bytes> {
    keys.get(i).ok_or_else(nil_argument)
}

/// `tonumber(ARGV[i + 1])`: nil when the argument is missing or not a number.
fn arg_number(args: &[Bytes], i: usize) -> Option<f64> {
    args.get(i).and_then(|a| tonumber(a))
}

/// Lua 5.1's `tonumber` of a string: C's `strtod` on the text up to the first NUL, surrounded
/// by optional whitespace; decimal, `inf`, `nan` and hexadecimal integers.
fn tonumber(s: &[u8]) -> Option<f64> {
    let s = s.split(|&c| c == 0).next().unwrap_or_default();
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = s.iter().position(|c| !space(c))?;
    let end = s.iter().rposition(|c| !space(c))? + 1;
    let text = std::str::from_utf8(&s[start..end]).ok()?;
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |c: char| f64::from(c.to_digit(16).unwrap_or(0));
        let value = hex.chars().fold(0.0, |acc, c| acc * 16.0 + digit(c));
        return Some(if negative { -value } else { value });
    }
    text.parse().ok()
}

/// A Lua number as `redis.call` passes it to a command: `%.17g` (Redis 7.0's conversion; every
/// value these scripts pass is an integer, written as plain integer text, on any version).
fn lua_arg(x: f64) -> Bytes {
    Bytes::from(format_g17(x))
}

/// C's `printf("%.17g", x)`.
fn format_g17(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Whole numbers below 10^16 (timestamps, ceiled resets) print as their integer digits under
    // %.17g; formatting them as integers skips the costly exact float formatting below.
    if x.fract() == 0.0 && x.abs() < 1e16 {
        return if x == 0.0 && x.is_sign_negative() {
            "-0".to_string()
        } else {
            (x as i64).to_string()
        };
    }
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let scientific = format!("{x:.16e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    if (-4..17).contains(&exponent) {
        // The exponent is in range, so the precision is 0..=20.
        let decimals = usize::try_from(16 - exponent).unwrap_or(0);
        strip(&format!("{x:.decimals$}"))
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exponent.unsigned_abs())
    }
}

/// A Lua number returned by a script, as Redis converts it: `(long long)` of the double, which
/// truncates toward zero, and on x86-64 gives `i64::MIN` for NaN and anything out of range.
fn lua_int(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// A Lua table of numbers, as Redis converts it: an array of integer replies.
fn lua_numbers(values: &[f64]) -> Reply {
    Reply::Array(values.iter().map(|&v| Reply::Int(lua_int(v))).collect())
}

/// Lua 5.1's `math.min(a, b)`: `b` only when `b < a` (so a NaN `b` yields `a`).
fn lua_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Lua 5.1's `math.max(a, b)`: `b` only when `b > a` (so a NaN `b` yields `a`).
fn lua_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Lua 5.1's `a % b`: `a - floor(a / b) * b`.
fn lua_mod(a: f64, b: f64) -> f64 {
    a - (a / b).floor() * b
}

/// An integer reply of a command that always answers one (INCR, PTTL...).
fn int_reply(reply: Reply, command: &str) -> Result<i64> {
    match reply {
        Reply::Int(n) => Ok(n),
        _ => Err(Error::new(
            ErrorKind::Internal,
            format!("{command} answered something other than an integer inside a script"),
        )),
    }
}

/// HMGET's fields, each through `tonumber` (a missing field is Lua's `false`, so nil).
fn hash_numbers(reply: Reply) -> Vec<Option<f64>> {
    match reply {
        Reply::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(b) => tonumber(&b),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The script's clock, as `TIME` seconds * 1000 + floor(microseconds / 1000) reads it.
fn now_ms(ks: &Keyspace) -> f64 {
    // Milliseconds since 1970 stay far below 2^53, so this is exact.
    ks.now() as f64
}

// ---------------------------------------------------------------------------------------------
// The scripts
// ---------------------------------------------------------------------------------------------

/// The Lua's comparison loop: every byte of `stored` is compared whatever the first difference
/// (a missing byte of `offered` counts as 0), and a length difference alone is a mismatch.
fn codes_equal(stored: &[u8], offered: &[u8]) -> bool {
    let mut equal: Choice = stored.len().ct_eq(&offered.len());
    for (i, byte) in stored.iter().enumerate() {
        equal &= byte.ct_eq(&offered.get(i).copied().unwrap_or(0));
    }
    bool::from(equal)
}

/// otp_verify.lua. KEYS: the code, `{otp:<id>}:tries`; ARGV: the offered code, the number of
/// wrong guesses that destroys the code. 1 on a match (both keys deleted), else 0.
fn otp_verify(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let code_key = key(keys, 0)?;
    let Reply::Bulk(stored) = call(ks, Cmd::new("GET").arg(code_key))? else {
        return Ok(Reply::Int(0));
    };
    let offered = args
        .first()
        .ok_or_else(|| nil_operand("otp_verify", "get length of"))?;
    if codes_equal(&stored, offered) {
        call(ks, Cmd::new("DEL").arg(code_key).arg(key(keys, 1)?))?;
        return Ok(Reply::Int(1));
    }
    let tries_key = key(keys, 1)?;
    let tries = int_reply(call(ks, Cmd::new("INCR").arg(tries_key))?, "INCR")?;
    if tries == 1 {
        // The count lives exactly as long as the code it guards.
        let ttl = int_reply(call(ks, Cmd::new("PTTL").arg(code_key))?, "PTTL")?;
        if ttl > 0 {
            // A Lua number again: past 10^17 milliseconds %.17g writes an exponent, which
            // PEXPIRE refuses.
            let ttl = lua_arg(ttl as f64);
            call(ks, Cmd::new("PEXPIRE").arg(tries_key).arg(ttl))?;
        }
    }
    let max = arg_number(args, 1).ok_or_else(|| nil_operand("otp_verify", "compare"))?;
    if tries as f64 >= max {
        call(ks, Cmd::new("DEL").arg(code_key).arg(tries_key))?;
    }
    Ok(Reply::Int(0))
}

/// rate_limit_fixed_window.lua. ARGV: limit, window ms, cost. INCRBY the cost, give a counter
/// without expiry the window as one, and answer `{allowed, remaining, reset, retry}`.
fn rate_limit_fixed_window(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let limit = arg_number(args, 0);
    let window = arg_number(args, 1);
    let counter = key(keys, 0)?;
    let cost = args.get(2).ok_or_else(nil_argument)?;
    let count = int_reply(
        call(ks, Cmd::new("INCRBY").arg(counter).arg(cost))?,
        "INCRBY",
    )?;
    let mut ttl = int_reply(call(ks, Cmd::new("PTTL").arg(counter))?, "PTTL")? as f64;
    if ttl < 0.0 {
        let window = window.ok_or_else(nil_argument)?;
        call(ks, Cmd::new("PEXPIRE").arg(counter).arg(lua_arg(window)))?;
        ttl = window;
    }
    let limit = limit.ok_or_else(|| nil_operand("rate_limit_fixed_window", "compare"))?;
    let count = count as f64;
    if count <= limit {
        return Ok(lua_numbers(&[1.0, limit - count, ttl, 0.0]));
    }
    Ok(lua_numbers(&[0.0, 0.0, ttl, ttl]))
}

/// window_hits_many.lua: `window_hits` on each key in order with its three ARGV; an item that
/// fails answers its error's message.
fn window_hits_many(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    let items = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let own = &args[(3 * i).min(args.len())..(3 * i + 3).min(args.len())];
            match window_hits(ks, std::slice::from_ref(key), own) {
                Ok(reply) => reply,
                Err(err) => Reply::Bulk(Bytes::from(err.message)),
            }
        })
        .collect();
    Ok(Reply::Array(items))
}

/// window_hits.lua. ARGV: window ms, change (1, -1 or 0), '1' when every hit restarts the
/// window. Only a hit starts a window (on a missing counter or one without expiry, afresh);
/// taking a hit back stops at zero. Answers `{hits, reset}`, `{0, 0}` when no window runs.
fn window_hits(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    const NAME: &str = "window_hits";
    let counter = key(keys, 0)?;
    let ttl = int_reply(call(ks, Cmd::new("PTTL").arg(counter))?, "PTTL")?;
    let change = arg_number(args, 1);
    if ttl < 0 {
        let change = change.ok_or_else(|| nil_operand(NAME, "compare"))?;
        if change <= 0.0 {
            return Ok(lua_numbers(&[0.0, 0.0]));
        }
        if ttl == -1 {
            // Refuses a value that is not a counter instead of overwriting it.
            call(ks, Cmd::new("INCRBY").arg(counter).arg("0"))?;
        }
        let text = args.get(1).ok_or_else(nil_argument)?;
        let window = args.first().ok_or_else(nil_argument)?;
        call(
            ks,
            Cmd::new("SET").arg(counter).arg(text).arg("PX").arg(window),
        )?;
        // SET PX accepted it, so it is an integer.
        return Ok(lua_numbers(&[
            change,
            arg_number(args, 0).unwrap_or_default(),
        ]));
    }
    let mut change = change.ok_or_else(|| nil_operand(NAME, "compare"))?;
    if change < 0.0 {
        let hits = int_reply(
            call(ks, Cmd::new("INCRBY").arg(counter).arg("0"))?,
            "INCRBY",
        )? as f64;
        if hits + change < 0.0 {
            change = lua_min(0.0, -hits);
        }
    }
    let hits = int_reply(
        call(ks, Cmd::new("INCRBY").arg(counter).arg(lua_arg(change)))?,
        "INCRBY",
    )?;
    let mut ttl = ttl as f64;
    if change > 0.0 && args.get(2).is_some_and(|a| &a[..] == b"1") {
        let window = args.first().ok_or_else(nil_argument)?;
        call(ks, Cmd::new("PEXPIRE").arg(counter).arg(window))?;
        ttl = arg_number(args, 0).unwrap_or_default();
    }
    Ok(lua_numbers(&[hits as f64, ttl]))
}

/// rate_limit_token_bucket.lua. KEYS: a hash `{tokens, ts}`; ARGV: capacity, window ms (to refill
/// the whole capacity), cost. Answers `{allowed, remaining, reset (until full), retry}`.
fn rate_limit_token_bucket(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    const NAME: &str = "rate_limit_token_bucket";
    let (Some(capacity), Some(window)) = (arg_number(args, 0), arg_number(args, 1)) else {
        return Err(nil_operand(NAME, "perform arithmetic on"));
    };
    let cost = arg_number(args, 2);
    let now = now_ms(ks);
    let rate = capacity / window;
    let bucket = key(keys, 0)?;
    // HMGET, HSET and PEXPIRE below work on the bucket's entry directly rather than through the
    // dispatcher: this script is every embedded rate-limit check (differential.rs holds it to
    // the Lua's answers and effects).
    let state = ks.read::<Hash>(bucket)?.map(|hash| {
        let field = |name: &[u8]| hash.get(name).and_then(|value| tonumber(value));
        (field(b"tokens"), field(b"ts"))
    });
    let (tokens, ts) = match state {
        Some((Some(tokens), Some(ts))) => (tokens, ts),
        _ => (capacity, now),
    };
    let mut tokens = lua_min(capacity, tokens + lua_max(0.0, now - ts) * rate);
    let cost = cost.ok_or_else(|| nil_operand(NAME, "compare"))?;
    let mut allowed = 0.0;
    let mut retry = 0.0;
    if tokens >= cost {
        tokens -= cost;
        allowed = 1.0;
    } else {
        retry = ((cost - tokens) / rate).ceil();
    }
    let reset = ((capacity - tokens) / rate).ceil();
    if reset < 1.0 {
        // A full bucket is the same as no state at all.
        ks.remove(bucket);
    } else {
        let fields = [
            (
                Bytes::from_static(b"tokens"),
                Bytes::from(format_g17(tokens)),
            ),
            (Bytes::from_static(b"ts"), lua_arg(now)),
        ];
        // What the dispatcher makes room for before an HSET: its arguments' bytes.
        let incoming = bucket.len() + fields.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>();
        ks.make_room(incoming)?;
        let hash = ks.write_or_create::<Hash>(bucket)?;
        hash.extend(fields);
        // PEXPIRE with a reset of whole milliseconds; anything else (out of range, say) takes the
        // command's own path, errors included.
        match (reset as u64).checked_add(ks.now()) {
            Some(deadline) if reset < 2f64.powi(53) => {
                ks.set_deadline(bucket, Some(deadline));
            }
            _ => {
                call(ks, Cmd::new("PEXPIRE").arg(bucket).arg(lua_arg(reset)))?;
            }
        }
    }
    Ok(lua_numbers(&[allowed, tokens.floor(), reset, retry]))
}

/// rate_limit_sliding_window.lua. KEYS: a hash `{start, cur, prev}`; ARGV: limit, window ms,
/// cost. The previous window's count weighted by its overlap with the sliding window, plus the
/// current one's. Answers `{allowed, remaining, reset (until the quota is whole), retry}`.
fn rate_limit_sliding_window(ks: &mut Keyspace, keys: &[Bytes], args: &[Bytes]) -> Result<Reply> {
    const NAME: &str = "rate_limit_sliding_window";
    let limit = arg_number(args, 0);
    let window = arg_number(args, 1).ok_or_else(|| nil_operand(NAME, "perform arithmetic on"))?;
    let cost = arg_number(args, 2);
    let now = now_ms(ks);
    let start = now - lua_mod(now, window);
    let elapsed = now - start;
    let counter = key(keys, 0)?;
    let state = hash_numbers(call(
        ks,
        Cmd::new("HMGET")
            .arg(counter)
            .arg("start")
            .arg("cur")
            .arg("prev"),
    )?);
    let field = |i: usize| state.get(i).copied().flatten();
    let saved_start = field(0);
    let mut cur = 0.0;
    let mut prev = 0.0;
    if saved_start == Some(start) {
        cur = field(1).unwrap_or(0.0);
        prev = field(2).unwrap_or(0.0);
    } else if saved_start == Some(start - window) {
        prev = field(1).unwrap_or(0.0);
    }
    let mut used = prev * (window - elapsed) / window + cur;
    let cost = cost.ok_or_else(|| nil_operand(NAME, "perform arithmetic on"))?;
    let limit = limit.ok_or_else(|| nil_operand(NAME, "compare"))?;
    let mut allowed = 0.0;
    let mut retry = 0.0;
    if used + cost <= limit {
        cur += cost;
        used += cost;
        allowed = 1.0;
    } else if cur + cost > limit {
        // Not before the next window, where this window's count becomes the decaying one.
        let into_next = (window * (1.0 - (limit - cost) / cur)).ceil();
        retry = (window - elapsed) + lua_max(0.0, into_next);
    } else {
        // Later in this window, once the previous window's share has decayed enough.
        let needed = (window - (limit - cur - cost) * window / prev).ceil();
        retry = lua_max(1.0, needed - elapsed);
    }
    // Both counts stop mattering once the next window has passed.
    let reset = 2.0 * window - elapsed;
    let hset = Cmd::new("HSET")
        .arg(counter)
        .arg("start")
        .arg(lua_arg(start))
        .arg("cur")
        .arg(lua_arg(cur))
        .arg("prev")
        .arg(lua_arg(prev));
    call(ks, hset)?;
    call(ks, Cmd::new("PEXPIRE").arg(counter).arg(lua_arg(reset)))?;
    Ok(lua_numbers(&[
        allowed,
        lua_max(0.0, (limit - used).floor()),
        reset,
        retry,
    ]))
}

#[cfg(test)]
mod tests {
    use std::thread;

    use bytes::Bytes;

    use super::*;
    use crate::embedded::commands::test_util::ok;
    use crate::embedded::EmbeddedBackend;
    use crate::lua::{
        CACHE_WRAP_CLAIM, LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE, OTP_VERIFY,
        RATE_LIMIT_FIXED_WINDOW, RATE_LIMIT_SLIDING_WINDOW, RATE_LIMIT_TOKEN_BUCKET, WINDOW_HITS,
        WINDOW_HITS_MANY,
    };
    use crate::Backend;

    /// A clock reading that is a multiple of every window used below.
    const T0: u64 = 1_700_000_000_000;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn all(items: &[&str]) -> Vec<Bytes> {
        items.iter().map(|s| b(s)).collect()
    }

    fn ints(values: &[i64]) -> Reply {
        Reply::Array(values.iter().map(|&v| Reply::Int(v)).collect())
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(b(s))
    }

    /// Runs `script` as one execution unit whose clock reads `now`.
    fn run_at(
        ks: &mut Keyspace,
        now: u64,
        script: NativeScript,
        keys: &[&str],
        args: &[&str],
    ) -> Result<Reply> {
        ks.set_now(now);
        script(ks, &all(keys), &all(args))
    }

    /// A command in the unit of the last script run (same clock), which must succeed.
    fn cmd(ks: &mut Keyspace, line: &str) -> Reply {
        call(ks, Cmd::from_line(line)).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn int(ks: &mut Keyspace, line: &str) -> i64 {
        cmd(ks, line).as_int().unwrap()
    }

    fn keyspace() -> Keyspace {
        let mut ks = Keyspace::default();
        ks.set_now(T0);
        ks
    }

    // --- Lua semantics ---------------------------------------------------------------------

    #[test]
    fn tonumber_follows_lua() {
        let cases: [(&str, Option<f64>); 16] = [
            ("10", Some(10.0)),
            ("-3", Some(-3.0)),
            ("+3", Some(3.0)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("1e3", Some(1000.0)),
            (" 42\t\n", Some(42.0)),
            ("0x10", Some(16.0)),
            ("-0X1f", Some(-31.0)),
            ("inf", Some(f64::INFINITY)),
            ("", None),
            ("  ", None),
            ("abc", None),
            ("1e", None),
            ("12abc", None),
            ("0x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(tonumber(text.as_bytes()), expected, "{text:?}");
        }
        assert!(tonumber(b"nan").unwrap().is_nan());
        // Lua sees the C string, which ends at the first NUL.
        assert_eq!(tonumber(b"7\0junk"), Some(7.0));
    }

    #[test]
    fn numbers_print_like_printf_17g() {
        // Each expected text is what C's printf("%.17g") writes.
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (100.0, "100"),
            (1_700_000_003_334.0, "1700000003334"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (2.0 / 3.0, "0.66666666666666663"),
            (0.9998999999999999, "0.9998999999999999"),
            (0.00019999999999997797, "0.00019999999999997797"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e16, "10000000000000000"),
            (9_999_999_999_999_998.0, "9999999999999998"),
            (-42.0, "-42"),
            (1e17, "1e+17"),
            (1e20, "1e+20"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(format_g17(value), text, "{value:e}");
        }
    }

    #[test]
    fn returned_numbers_convert_like_redis() {
        assert_eq!(lua_int(2.9), 2);
        assert_eq!(lua_int(-2.9), -2);
        assert_eq!(lua_int(-0.0), 0);
        // What Redis 7 on x86-64 answers for `return 1/0`, `return 0/0` and `return 1e30`.
        assert_eq!(lua_int(f64::INFINITY), i64::MIN);
        assert_eq!(lua_int(f64::NAN), i64::MIN);
        assert_eq!(lua_int(1e30), i64::MIN);
        assert_eq!(lua_int(-9_223_372_036_854_775_808.0), i64::MIN);
        // math.min / math.max keep their first argument against NaN; `%` floors.
        assert_eq!(lua_min(3.0, f64::NAN), 3.0);
        assert_eq!(lua_max(0.0, f64::NAN), 0.0);
        assert_eq!(lua_mod(-7.0, 5.0), 3.0);
        assert_eq!(lua_mod(17.0, 5.0), 2.0);
    }

    #[test]
    fn every_script_has_a_native_implementation() {
        for script in crate::lua::ALL {
            assert!(find(script.name).is_some(), "{}", script.name);
        }
        assert_eq!(RATE_LIMIT_TOKEN_BUCKET.name, "rate_limit_token_bucket");
        assert_eq!(RATE_LIMIT_SLIDING_WINDOW.name, "rate_limit_sliding_window");
    }

    #[tokio::test]
    async fn unknown_scripts_are_unsupported() {
        static OTHER: crate::lua::Script = crate::lua::Script::new("other", "return 1");
        let db = EmbeddedBackend::new();
        let e = db.eval(&OTHER, vec![], vec![]).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("'other'"), "{}", e.message);
    }

    // --- otp_verify --------------------------------------------------------------------------

    const CODE: &str = "otp:alice";
    const TRIES: &str = "{otp:alice}:tries";

    fn verify(ks: &mut Keyspace, now: u64, code: &str, max: &str) -> Reply {
        run_at(ks, now, otp_verify, &[CODE, TRIES], &[code, max]).unwrap()
    }

    #[test]
    fn otp_codes_compare_whole() {
        assert!(codes_equal(b"123456", b"123456"));
        assert!(codes_equal(b"", b""));
        for offered in ["12345", "1234567", "123457", "", "023456", "123456\0"] {
            assert!(!codes_equal(b"123456", offered.as_bytes()), "{offered:?}");
        }
        // The Lua pads a short guess with zero bytes, yet a length difference alone fails.
        assert!(!codes_equal(b"12\0", b"12"));
    }

    #[test]
    fn otp_counts_wrong_guesses_and_destroys_the_code_after_the_last() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET otp:alice 123456 PX 300000");
        assert_eq!(verify(&mut ks, T0, "000000", "3"), Reply::Int(0));
        assert_eq!(cmd(&mut ks, "GET {otp:alice}:tries"), bulk("1"));
        // The count gets the code's remaining life on the first wrong guess.
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), 300_000);

        assert_eq!(verify(&mut ks, T0 + 1000, "12345", "3"), Reply::Int(0));
        assert_eq!(cmd(&mut ks, "GET {otp:alice}:tries"), bulk("2"));
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), 299_000);
        assert_eq!(int(&mut ks, "PTTL otp:alice"), 299_000);

        // The third wrong guess destroys both keys: the right code then fails...
        assert_eq!(verify(&mut ks, T0 + 2000, "1234567", "3"), Reply::Int(0));
        assert_eq!(int(&mut ks, "EXISTS otp:alice {otp:alice}:tries"), 0);
        assert_eq!(verify(&mut ks, T0 + 3000, "123456", "3"), Reply::Int(0));
        // ...without counting anything, since there is no code to guard.
        assert_eq!(int(&mut ks, "EXISTS {otp:alice}:tries"), 0);
        ks.assert_index_consistent();
    }

    #[test]
    fn otp_right_code_consumes_the_code_and_its_count() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET otp:alice 123456 EX 300");
        assert_eq!(verify(&mut ks, T0, "654321", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "EXISTS otp:alice {otp:alice}:tries"), 2);
        assert_eq!(verify(&mut ks, T0 + 10, "123456", "5"), Reply::Int(1));
        assert_eq!(int(&mut ks, "EXISTS otp:alice {otp:alice}:tries"), 0);
        assert_eq!(verify(&mut ks, T0 + 20, "123456", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "EXISTS {otp:alice}:tries"), 0);

        // A right code on the first try never creates the count.
        cmd(&mut ks, "SET otp:alice 777 EX 300");
        assert_eq!(verify(&mut ks, T0 + 30, "777", "5"), Reply::Int(1));
        assert_eq!(int(&mut ks, "EXISTS otp:alice {otp:alice}:tries"), 0);
    }

    #[test]
    fn otp_tries_expire_with_the_code() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET otp:alice 123456 PX 5000");
        assert_eq!(verify(&mut ks, T0 + 1000, "1", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), 4000);
        assert_eq!(verify(&mut ks, T0 + 4000, "2", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), 1000);
        ks.set_now(T0 + 5001);
        assert_eq!(int(&mut ks, "EXISTS otp:alice {otp:alice}:tries"), 0);

        // A code without expiry: so is its count (PTTL -1 is not > 0).
        cmd(&mut ks, "SET otp:alice 123456");
        assert_eq!(verify(&mut ks, T0 + 6000, "1", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), -1);
        // A resend (the feature deletes the count with the new code) starts counting afresh.
        cmd(&mut ks, "SET otp:alice 999999 PX 1000");
        cmd(&mut ks, "DEL {otp:alice}:tries");
        assert_eq!(verify(&mut ks, T0 + 6000, "1", "5"), Reply::Int(0));
        assert_eq!(int(&mut ks, "PTTL {otp:alice}:tries"), 1000);
    }

    #[test]
    fn otp_missing_code_answers_0_without_a_count() {
        let mut ks = keyspace();
        assert_eq!(verify(&mut ks, T0, "123456", "3"), Reply::Int(0));
        assert_eq!(ks.len(), 0);
        // Even with arguments the Lua would choke on, as it returns before reading them.
        let reply = run_at(&mut ks, T0, otp_verify, &[CODE], &[]).unwrap();
        assert_eq!(reply, Reply::Int(0));
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn otp_one_allowed_guess_destroys_on_the_first_mistake() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET otp:alice 123456 EX 300");
        assert_eq!(verify(&mut ks, T0, "000000", "1"), Reply::Int(0));
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn otp_errors_are_the_luas() {
        let mut ks = keyspace();
        // No KEYS at all: GET refuses the nil argument.
        let e = run_at(&mut ks, T0, otp_verify, &[], &["1", "3"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Command);
        assert_eq!(e.message, nil_argument().message);

        cmd(&mut ks, "SET otp:alice 123456 EX 300");
        // No offered code: `#offered` fails on nil.
        let e = run_at(&mut ks, T0, otp_verify, &[CODE, TRIES], &[]).unwrap_err();
        assert!(
            e.message.contains("get length of a nil value"),
            "{}",
            e.message
        );
        // No tries key: INCR (or the DEL of a match) refuses the nil argument.
        let e = run_at(&mut ks, T0, otp_verify, &[CODE], &["1", "3"]).unwrap_err();
        assert_eq!(e.message, nil_argument().message);
        let e = run_at(&mut ks, T0, otp_verify, &[CODE], &["123456", "3"]).unwrap_err();
        assert_eq!(e.message, nil_argument().message);
        assert_eq!(int(&mut ks, "EXISTS otp:alice"), 1);
        // No ARGV[2]: the comparison fails, after the guess was counted (no rollback).
        let e = run_at(&mut ks, T0, otp_verify, &[CODE, TRIES], &["1"]).unwrap_err();
        assert!(e.message.contains("compare a nil value"), "{}", e.message);
        assert_eq!(cmd(&mut ks, "GET {otp:alice}:tries"), bulk("1"));

        // A non-string value is a WRONGTYPE error, as redis.call raises it.
        cmd(&mut ks, "HSET otp:carol f v");
        let e = run_at(&mut ks, T0, otp_verify, &["otp:carol", "t"], &["v", "3"]).unwrap_err();
        assert!(e.message.starts_with("WRONGTYPE"), "{}", e.message);
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
                        let keys = [b("otp:x"), b("{otp:x}:tries")];
                        db.run_script("otp_verify", &keys, &[b("424242"), b("3")])
                            .unwrap()
                            .as_int()
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(successes, 1);
        assert_eq!(ok(&db, "EXISTS otp:x {otp:x}:tries"), Reply::Int(0));
    }

    // --- rate_limit_fixed_window ---------------------------------------------------------------

    fn fixed(ks: &mut Keyspace, now: u64, args: &[&str]) -> Reply {
        run_at(ks, now, rate_limit_fixed_window, &["rate:ip"], args).unwrap()
    }

    #[test]
    fn fixed_window_counts_the_cost_and_reports_reset_and_retry() {
        let mut ks = keyspace();
        let args = ["5", "10000", "2"];
        assert_eq!(fixed(&mut ks, T0, &args), ints(&[1, 3, 10000, 0]));
        assert_eq!(int(&mut ks, "PTTL rate:ip"), 10000);
        assert_eq!(fixed(&mut ks, T0 + 4000, &args), ints(&[1, 1, 6000, 0]));
        assert_eq!(fixed(&mut ks, T0 + 4000, &args), ints(&[0, 0, 6000, 6000]));
        // The original module's counter format: a plain integer string.
        assert_eq!(cmd(&mut ks, "GET rate:ip"), bulk("6"));
        // At the deadline itself the key still lives, with 0 ms left.
        assert_eq!(fixed(&mut ks, T0 + 10000, &args), ints(&[0, 0, 0, 0]));
        // A new window starts once the counter expired.
        assert_eq!(fixed(&mut ks, T0 + 10001, &args), ints(&[1, 3, 10000, 0]));
        assert_eq!(int(&mut ks, "PTTL rate:ip"), 10000);
        ks.assert_index_consistent();
    }

    #[test]
    fn fixed_window_repairs_a_counter_without_expiry() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET rate:ip 7");
        assert_eq!(
            fixed(&mut ks, T0, &["10", "5000", "1"]),
            ints(&[1, 2, 5000, 0])
        );
        assert_eq!(int(&mut ks, "PTTL rate:ip"), 5000);
        cmd(&mut ks, "PERSIST rate:ip");
        assert_eq!(
            fixed(&mut ks, T0 + 1, &["8", "5000", "1"]),
            ints(&[0, 0, 5000, 5000])
        );
        assert_eq!(int(&mut ks, "PTTL rate:ip"), 5000);
    }

    #[test]
    fn fixed_window_errors_are_the_luas() {
        let mut ks = keyspace();
        // Errors from the inner commands surface, as redis.call's do.
        cmd(&mut ks, "SET rate:ip abc");
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_fixed_window,
            &["rate:ip"],
            &["5", "10", "1"],
        );
        assert_eq!(
            e.unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        cmd(&mut ks, "DEL rate:ip");
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_fixed_window,
            &["rate:ip"],
            &["5", "10", "x"],
        );
        assert_eq!(
            e.unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_fixed_window,
            &["rate:ip"],
            &["5", "10"],
        );
        assert_eq!(e.unwrap_err().message, nil_argument().message);
        assert_eq!(ks.len(), 0);
        // A window PEXPIRE refuses fails after the INCRBY, which stays (no rollback).
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_fixed_window,
            &["rate:ip"],
            &["5", "1.5", "1"],
        );
        assert_eq!(
            e.unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        assert_eq!(cmd(&mut ks, "GET rate:ip"), bulk("1"));
        assert_eq!(int(&mut ks, "PTTL rate:ip"), -1);
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_fixed_window,
            &["rate:ip"],
            &["", "10", "1"],
        );
        assert!(e.unwrap_err().message.contains("compare a nil value"));
    }

    // --- window_hits ----------------------------------------------------------------------------

    fn hits(ks: &mut Keyspace, now: u64, change: &str) -> Reply {
        run_at(ks, now, window_hits, &["rl:ip"], &["10000", change, "0"]).unwrap()
    }

    #[test]
    fn window_hits_counts_within_one_window_and_starts_a_new_one_after_it() {
        let mut ks = keyspace();
        assert_eq!(hits(&mut ks, T0, "1"), ints(&[1, 10000]));
        assert_eq!(hits(&mut ks, T0 + 4000, "1"), ints(&[2, 6000]));
        assert_eq!(hits(&mut ks, T0 + 4000, "-1"), ints(&[1, 6000]));
        assert_eq!(hits(&mut ks, T0 + 5000, "0"), ints(&[1, 5000]));
        // The counter is a plain integer string, as rate-limit-redis stores it.
        assert_eq!(cmd(&mut ks, "GET rl:ip"), bulk("1"));
        assert_eq!(hits(&mut ks, T0 + 10001, "1"), ints(&[1, 10000]));
        ks.assert_index_consistent();
    }

    #[test]
    fn window_hits_reads_and_takes_back_without_creating_a_counter() {
        let mut ks = keyspace();
        assert_eq!(hits(&mut ks, T0, "0"), ints(&[0, 0]));
        assert_eq!(hits(&mut ks, T0, "-1"), ints(&[0, 0]));
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn window_hits_takes_back_no_further_than_zero_and_keeps_the_window() {
        let mut ks = keyspace();
        hits(&mut ks, T0, "1");
        assert_eq!(hits(&mut ks, T0 + 1000, "-1"), ints(&[0, 9000]));
        assert_eq!(hits(&mut ks, T0 + 1000, "-1"), ints(&[0, 9000]));
        // The window is still running at zero hits: a read says so.
        assert_eq!(hits(&mut ks, T0 + 2000, "0"), ints(&[0, 8000]));
        assert_eq!(cmd(&mut ks, "GET rl:ip"), bulk("0"));
    }

    #[test]
    fn window_hits_starts_a_counter_without_expiry_afresh() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET rl:ip 7");
        // Reading it finds no window running, and leaves it alone.
        assert_eq!(hits(&mut ks, T0, "0"), ints(&[0, 0]));
        assert_eq!(hits(&mut ks, T0, "1"), ints(&[1, 10000]));
        assert_eq!(int(&mut ks, "PTTL rl:ip"), 10000);
    }

    #[test]
    fn window_hits_restarts_the_window_on_every_hit_when_asked() {
        let mut ks = keyspace();
        let restart = |ks: &mut Keyspace, now, change| {
            run_at(ks, now, window_hits, &["rl:ip"], &["10000", change, "1"]).unwrap()
        };
        assert_eq!(restart(&mut ks, T0, "1"), ints(&[1, 10000]));
        assert_eq!(restart(&mut ks, T0 + 4000, "1"), ints(&[2, 10000]));
        // Taking a hit back or reading leaves the window as it is.
        assert_eq!(restart(&mut ks, T0 + 5000, "-1"), ints(&[1, 9000]));
        assert_eq!(restart(&mut ks, T0 + 6000, "0"), ints(&[1, 8000]));
    }

    #[test]
    fn window_hits_errors_are_the_luas() {
        let mut ks = keyspace();
        cmd(&mut ks, "SET rl:ip abc");
        let e = run_at(&mut ks, T0, window_hits, &["rl:ip"], &["10000", "1"]);
        assert_eq!(
            e.unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        cmd(&mut ks, "PEXPIRE rl:ip 5000");
        let e = run_at(&mut ks, T0, window_hits, &["rl:ip"], &["10000", "-1"]);
        assert_eq!(
            e.unwrap_err().message,
            "ERR value is not an integer or out of range"
        );
        let e = run_at(&mut ks, T0, window_hits, &["rl:new"], &["10000", "x"]);
        assert!(e.unwrap_err().message.contains("compare a nil value"));
        let e = run_at(&mut ks, T0, window_hits, &[], &["10000", "1"]);
        assert_eq!(e.unwrap_err().message, nil_argument().message);
    }

    // --- rate_limit_token_bucket ---------------------------------------------------------------

    fn bucket(ks: &mut Keyspace, now: u64, cost: &str) -> Reply {
        run_at(
            ks,
            now,
            rate_limit_token_bucket,
            &["tb"],
            &["3", "10000", cost],
        )
        .unwrap()
    }

    fn bucket_state(ks: &mut Keyspace) -> (Reply, Reply, i64) {
        let tokens = cmd(ks, "HGET tb tokens");
        let ts = cmd(ks, "HGET tb ts");
        (tokens, ts, int(ks, "PTTL tb"))
    }

    #[test]
    fn token_bucket_spends_a_burst_then_refuses() {
        let mut ks = keyspace();
        let ts = bulk(&T0.to_string());
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 2, 3334, 0]));
        assert_eq!(bucket_state(&mut ks), (bulk("2"), ts.clone(), 3334));
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 1, 6667, 0]));
        assert_eq!(bucket_state(&mut ks), (bulk("1"), ts.clone(), 6667));
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 0, 10000, 0]));
        assert_eq!(bucket_state(&mut ks), (bulk("0"), ts.clone(), 10000));
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[0, 0, 10000, 3334]));
        assert_eq!(bucket_state(&mut ks), (bulk("0"), ts, 10000));
        assert_eq!(cmd(&mut ks, "HLEN tb"), Reply::Int(2));
    }

    #[test]
    fn token_bucket_refills_with_time() {
        let mut ks = keyspace();
        for _ in 0..3 {
            bucket(&mut ks, T0, "1");
        }
        // window / capacity = 3333.3 ms per token: one ms short of it is still refused.
        assert_eq!(bucket(&mut ks, T0 + 3333, "1"), ints(&[0, 0, 6668, 1]));
        let state = bucket_state(&mut ks);
        assert_eq!(
            state,
            (bulk("0.9998999999999999"), bulk("1700000003333"), 6668)
        );
        assert_eq!(bucket(&mut ks, T0 + 3334, "1"), ints(&[1, 0, 10000, 0]));
        let state = bucket_state(&mut ks);
        assert_eq!(state.0, bulk("0.00019999999999997797"));
        assert_eq!(bucket(&mut ks, T0 + 3334, "1"), ints(&[0, 0, 10000, 3333]));
        // Half the window refills half the capacity (1.4999999999999998 tokens in doubles,
        // hence 5001 ms to full): 1 may go, 2 may not.
        ks.set_now(T0);
        cmd(&mut ks, "DEL tb");
        for _ in 0..3 {
            bucket(&mut ks, T0, "1");
        }
        assert_eq!(bucket(&mut ks, T0 + 5000, "2"), ints(&[0, 1, 5001, 1667]));
        assert_eq!(bucket(&mut ks, T0 + 5000, "1"), ints(&[1, 0, 8334, 0]));
    }

    #[test]
    fn token_bucket_deletes_a_full_bucket() {
        let mut ks = keyspace();
        // Costing nothing on an empty key creates nothing.
        assert_eq!(bucket(&mut ks, T0, "0"), ints(&[1, 3, 0, 0]));
        assert_eq!(ks.len(), 0);
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 2, 3334, 0]));
        // Refilled beyond the capacity: capped, and the full bucket is forgotten.
        assert_eq!(bucket(&mut ks, T0 + 20000, "0"), ints(&[1, 3, 0, 0]));
        assert_eq!(ks.len(), 0);
        // The key's expiry is the same moment: it never outlives its information.
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 2, 3334, 0]));
        ks.set_now(T0 + 3335);
        assert_eq!(ks.len(), 1);
        assert_eq!(int(&mut ks, "EXISTS tb"), 0);
    }

    #[test]
    fn token_bucket_odd_states() {
        let mut ks = keyspace();
        // A partial or unreadable hash counts as no state.
        cmd(&mut ks, "HSET tb tokens abc ts 1");
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 2, 3334, 0]));
        cmd(&mut ks, "HDEL tb ts");
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 2, 3334, 0]));
        // A timestamp in the future (a clock that went back) refills nothing, and is replaced.
        cmd(&mut ks, "HSET tb tokens 1 ts 1700000005000");
        assert_eq!(bucket(&mut ks, T0, "1"), ints(&[1, 0, 10000, 0]));
        assert_eq!(cmd(&mut ks, "HGET tb ts"), bulk("1700000000000"));
        // A cost above the capacity is never allowed, yet answers a finite retry.
        cmd(&mut ks, "DEL tb");
        assert_eq!(bucket(&mut ks, T0, "5"), ints(&[0, 3, 0, 6667]));
        assert_eq!(ks.len(), 0);
        // Inner errors surface; bad arguments fail before anything is written.
        cmd(&mut ks, "SET tb x");
        let e = run_at(
            &mut ks,
            T0,
            rate_limit_token_bucket,
            &["tb"],
            &["3", "10", "1"],
        );
        assert!(e.unwrap_err().message.starts_with("WRONGTYPE"));
        cmd(&mut ks, "DEL tb");
        for args in [&["", "10", "1"][..], &["3", "x", "1"], &["3", "10"]] {
            let e = run_at(&mut ks, T0, rate_limit_token_bucket, &["tb"], args).unwrap_err();
            assert!(e.message.contains("a nil value"), "{args:?}: {}", e.message);
        }
        assert_eq!(ks.len(), 0);
    }

    // --- rate_limit_sliding_window -------------------------------------------------------------

    fn sliding(ks: &mut Keyspace, now: u64, cost: &str) -> Reply {
        run_at(
            ks,
            now,
            rate_limit_sliding_window,
            &["sw"],
            &["10", "10000", cost],
        )
        .unwrap()
    }

    fn window_state(ks: &mut Keyspace) -> Vec<String> {
        let reply = cmd(ks, "HMGET sw start cur prev").into_array().unwrap();
        let mut state: Vec<String> = reply
            .into_iter()
            .map(|r| String::from_utf8(r.into_bytes().unwrap().to_vec()).unwrap())
            .collect();
        state.push(int(ks, "PTTL sw").to_string());
        state
    }

    #[test]
    fn sliding_window_counts_within_one_window() {
        let mut ks = keyspace();
        for i in 1..=10 {
            let reply = sliding(&mut ks, T0 + 2000, "1");
            assert_eq!(reply, ints(&[1, 10 - i, 18000, 0]), "call {i}");
        }
        // Refused with the current window full: not before 10% into the next one.
        assert_eq!(sliding(&mut ks, T0 + 2000, "1"), ints(&[0, 0, 18000, 9000]));
        let start = T0.to_string();
        assert_eq!(window_state(&mut ks), [&start, "10", "0", "18000"]);
    }

    #[test]
    fn sliding_window_weights_the_previous_window() {
        let mut ks = keyspace();
        for _ in 0..10 {
            sliding(&mut ks, T0 + 2000, "1");
        }
        // 25% into the next window the previous one still weighs 75%: 7.5 used.
        assert_eq!(sliding(&mut ks, T0 + 12500, "1"), ints(&[1, 1, 17500, 0]));
        assert_eq!(sliding(&mut ks, T0 + 12500, "1"), ints(&[1, 0, 17500, 0]));
        // Refused: at 30% the previous window weighs 7, leaving room for this one.
        assert_eq!(sliding(&mut ks, T0 + 12500, "1"), ints(&[0, 0, 17500, 500]));
        let start = (T0 + 10000).to_string();
        assert_eq!(window_state(&mut ks), [&start, "2", "10", "17500"]);
        assert_eq!(sliding(&mut ks, T0 + 12999, "1"), ints(&[0, 0, 17001, 1]));
        assert_eq!(sliding(&mut ks, T0 + 13000, "1"), ints(&[1, 0, 17000, 0]));
        // Another window on, the current count becomes the previous one...
        assert_eq!(sliding(&mut ks, T0 + 25000, "1"), ints(&[1, 7, 15000, 0]));
        let start = (T0 + 20000).to_string();
        assert_eq!(window_state(&mut ks), [&start, "1", "3", "15000"]);
        // ...and two windows on, nothing counts any more.
        assert_eq!(sliding(&mut ks, T0 + 41000, "4"), ints(&[1, 6, 19000, 0]));
        let start = (T0 + 40000).to_string();
        assert_eq!(window_state(&mut ks), [&start, "4", "0", "19000"]);
    }

    #[test]
    fn sliding_window_expires_with_its_information() {
        let mut ks = keyspace();
        sliding(&mut ks, T0 + 2000, "3");
        ks.set_now(T0 + 20000);
        assert_eq!(int(&mut ks, "EXISTS sw"), 1);
        ks.set_now(T0 + 20001);
        assert_eq!(int(&mut ks, "EXISTS sw"), 0);
    }

    #[test]
    fn sliding_window_odd_costs() {
        let mut ks = keyspace();
        // A cost above the limit divides by the empty current count: Lua's retry is infinite,
        // which Redis answers as i64::MIN; "remaining" is the whole limit. The refused call
        // still writes the state.
        let reply = run_at(
            &mut ks,
            T0,
            rate_limit_sliding_window,
            &["sw"],
            &["5", "10000", "6"],
        );
        assert_eq!(reply.unwrap(), ints(&[0, 5, 20000, i64::MIN]));
        let start = T0.to_string();
        assert_eq!(window_state(&mut ks), [&start, "0", "0", "20000"]);
        // A fractional cost is stored as Lua passes numbers, %.17g.
        let reply = run_at(
            &mut ks,
            T0,
            rate_limit_sliding_window,
            &["sw"],
            &["5", "10000", "0.1"],
        );
        assert_eq!(reply.unwrap(), ints(&[1, 4, 20000, 0]));
        assert_eq!(cmd(&mut ks, "HGET sw cur"), bulk("0.10000000000000001"));
        // Bad arguments fail before anything is written.
        cmd(&mut ks, "DEL sw");
        for args in [&["5", "", "1"][..], &["5", "10000"], &["", "10000", "1"]] {
            let e = run_at(&mut ks, T0, rate_limit_sliding_window, &["sw"], args).unwrap_err();
            assert!(e.message.contains("a nil value"), "{args:?}: {}", e.message);
        }
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn zero_limits_and_windows_behave_like_the_lua() {
        let mut ks = keyspace();
        let run = |ks: &mut Keyspace, script: NativeScript, args: &[&str]| {
            run_at(ks, T0 + 1234, script, &["k"], args)
        };
        // Token bucket, capacity 0: reset is 0/0, so PEXPIRE gets "nan" and fails after the
        // HSET, leaving a hash without expiry (Redis does not roll back).
        let e = run(&mut ks, rate_limit_token_bucket, &["0", "10000", "1"]).unwrap_err();
        assert_eq!(e.message, "ERR value is not an integer or out of range");
        assert_eq!(cmd(&mut ks, "HGET k tokens"), bulk("0"));
        assert_eq!(int(&mut ks, "PTTL k"), -1);
        cmd(&mut ks, "DEL k");
        // Token bucket, window 0: an infinite rate, always full, so always allowed.
        let reply = run(&mut ks, rate_limit_token_bucket, &["3", "0", "1"]).unwrap();
        assert_eq!(reply, ints(&[1, 2, 0, 0]));
        assert_eq!(ks.len(), 0);
        // Sliding window, window 0: `now % 0` is NaN, stored as such, then PEXPIRE fails.
        let e = run(&mut ks, rate_limit_sliding_window, &["3", "0", "1"]).unwrap_err();
        assert_eq!(e.message, "ERR value is not an integer or out of range");
        let start = cmd(&mut ks, "HGET k start").into_bytes().unwrap();
        assert!(start.ends_with(b"nan"), "{start:?}");
        assert_eq!(int(&mut ks, "PTTL k"), -1);
        cmd(&mut ks, "DEL k");
        // Sliding window, limit 0: refused with an infinite retry, i64::MIN on the wire.
        let reply = run(&mut ks, rate_limit_sliding_window, &["0", "10000", "1"]).unwrap();
        assert_eq!(reply, ints(&[0, 0, 18766, i64::MIN]));
        cmd(&mut ks, "DEL k");
        // Fixed window, window 0: PEXPIRE 0 deletes the counter, so everything is allowed.
        let reply = run(&mut ks, rate_limit_fixed_window, &["3", "0", "1"]).unwrap();
        assert_eq!(reply, ints(&[1, 2, 0, 0]));
        assert_eq!(ks.len(), 0);
    }

    // --- through the backend -------------------------------------------------------------------

    #[tokio::test]
    async fn every_script_runs_through_the_backend() {
        let db = EmbeddedBackend::new();
        ok(&db, "SET otp:a 1 EX 60");
        let reply = db
            .eval(
                &OTP_VERIFY,
                all(&["otp:a", "{otp:a}:tries"]),
                all(&["1", "3"]),
            )
            .await;
        assert_eq!(reply.unwrap(), Reply::Int(1));
        for script in [
            &RATE_LIMIT_FIXED_WINDOW,
            &RATE_LIMIT_TOKEN_BUCKET,
            &RATE_LIMIT_SLIDING_WINDOW,
        ] {
            let reply = db
                .eval(script, all(&[script.name]), all(&["3", "60000", "1"]))
                .await
                .unwrap();
            let numbers: Vec<i64> = reply
                .into_array()
                .unwrap()
                .iter()
                .map(|r| r.as_int().unwrap())
                .collect();
            assert_eq!(numbers[..2], [1, 2], "{}", script.name);
            assert!((1..=120_000).contains(&numbers[2]), "{}", script.name);
            assert_eq!(numbers[3], 0, "{}", script.name);
            let pttl = ok(&db, &format!("PTTL {}", script.name)).as_int().unwrap();
            assert!(pttl > 0, "{}", script.name);
        }
    }

    // --- the same scenarios on the real Redis ------------------------------------------------

    /// Each scenario runs the Lua source on the Redis at `REDIS_TEST_URL` or 127.0.0.1:6379
    /// (skipped when there is none) and the native script on a keyspace, step by step on the same frozen clock, and
    /// compares every reply and the state left behind. The Lua's `redis.call('TIME')` is
    /// replaced by the step's reading; expiries are relative, so the server's real clock only
    /// shows in PTTL, compared with a margin.
    mod against_redis {
        use std::collections::BTreeMap;
        use std::sync::Arc;

        use super::*;
        use crate::lua::Script;
        use crate::options::Timeouts;
        use crate::redis_protocol::RedisBackend;

        /// How far the server's real clock may run during a scenario.
        const MARGIN_MS: i64 = 2000;

        struct Both {
            redis: RedisBackend,
            ks: Keyspace,
            prefix: String,
            keys: Vec<String>,
        }

        impl Both {
            fn new(name: &str) -> Option<Both> {
                let url = super::super::differential::test_redis(name)?;
                let timeouts = Arc::new(Timeouts::new(5000, 2000, 0));
                let redis = RedisBackend::new(&url, timeouts).unwrap();
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let prefix = format!("t:rs:native:{name}:{}:{nanos}:", std::process::id());
                Some(Both {
                    redis,
                    ks: keyspace(),
                    prefix,
                    keys: Vec::new(),
                })
            }

            fn server_key(&mut self, key: &str) -> String {
                let key = format!("{}{key}", self.prefix);
                if !self.keys.contains(&key) {
                    self.keys.push(key.clone());
                }
                key
            }

            /// Runs one script step on both sides and checks that the replies are equal.
            async fn script(
                &mut self,
                script: &'static Script,
                now: u64,
                keys: &[&str],
                args: &[&str],
            ) -> Reply {
                let (mine, theirs) = self.script_replies(script, now, keys, args).await;
                assert_eq!(
                    mine,
                    theirs,
                    "{} at +{} {keys:?} {args:?}",
                    script.name,
                    now - T0
                );
                mine
            }

            /// Runs one script step on both sides: (embedded reply, server reply). For steps
            /// whose reply carries a PTTL, which the server reads from its own clock.
            async fn script_replies(
                &mut self,
                script: &'static Script,
                now: u64,
                keys: &[&str],
                args: &[&str],
            ) -> (Reply, Reply) {
                let native = find(script.name).unwrap();
                let mine = run_at(&mut self.ks, now, native, keys, args).unwrap();
                let source = match script.source.matches("redis.call('TIME')").count() {
                    0 => script.source.to_string(),
                    1 => {
                        let reading = format!("{{'{}', '{}'}}", now / 1000, now % 1000 * 1000);
                        script.source.replace("redis.call('TIME')", &reading)
                    }
                    _ => panic!("{}: more than one TIME call", script.name),
                };
                let server_keys: Vec<String> = keys.iter().map(|k| self.server_key(k)).collect();
                let eval = Cmd::new("EVAL")
                    .arg(source)
                    .arg(keys.len())
                    .args(server_keys.iter())
                    .args(args.iter().copied());
                let theirs = self.redis.call(eval).await.unwrap();
                (mine, theirs)
            }

            /// Runs one script step that fails on both sides, with the same error and effects.
            async fn script_error(
                &mut self,
                script: &'static Script,
                now: u64,
                keys: &[&str],
                args: &[&str],
            ) {
                let native = find(script.name).unwrap();
                let mine = run_at(&mut self.ks, now, native, keys, args).unwrap_err();
                let server_keys: Vec<String> = keys.iter().map(|k| self.server_key(k)).collect();
                let reading = format!("{{'{}', '{}'}}", now / 1000, now % 1000 * 1000);
                let eval = Cmd::new("EVAL")
                    .arg(script.source.replace("redis.call('TIME')", &reading))
                    .arg(keys.len())
                    .args(server_keys.iter())
                    .args(args.iter().copied());
                let theirs = self.redis.call(eval).await.unwrap_err();
                // The server adds " script: <sha1>, on @user_script:<line>.".
                let prefix = format!("{} script: ", mine.message);
                assert!(
                    theirs.message.starts_with(&prefix),
                    "{mine:?} vs {theirs:?}"
                );
            }

            /// Runs a command on both sides (the key is its first argument).
            async fn command(
                &mut self,
                name: &'static str,
                key: &str,
                rest: &[&str],
            ) -> (Reply, Reply) {
                let mine = call(
                    &mut self.ks,
                    Cmd::new(name).arg(key).args(rest.iter().copied()),
                );
                let server_key = self.server_key(key);
                let cmd = Cmd::new(name).arg(server_key).args(rest.iter().copied());
                let theirs = self.redis.call(cmd).await;
                (mine.unwrap(), theirs.unwrap())
            }

            /// The same value, hash fields and (within the margin) expiry on both sides.
            async fn same_state(&mut self, key: &str) {
                let (mine, theirs) = self.command("TYPE", key, &[]).await;
                assert_eq!(mine, theirs, "TYPE {key}");
                if mine == Reply::Status("hash") {
                    let (mine, theirs) = self.command("HGETALL", key, &[]).await;
                    assert_eq!(fields(mine), fields(theirs), "HGETALL {key}");
                } else {
                    let (mine, theirs) = self.command("GET", key, &[]).await;
                    assert_eq!(mine, theirs, "GET {key}");
                }
                let (mine, theirs) = self.command("PTTL", key, &[]).await;
                let (mine, theirs) = (mine.as_int().unwrap(), theirs.as_int().unwrap());
                if mine < 0 {
                    assert_eq!(mine, theirs, "PTTL {key}");
                } else {
                    assert!(
                        mine - MARGIN_MS <= theirs && theirs <= mine,
                        "PTTL {key}: {mine} vs {theirs}"
                    );
                }
            }

            async fn clean_up(self) {
                if !self.keys.is_empty() {
                    let del = Cmd::new("DEL").args(self.keys.iter());
                    self.redis.call(del).await.unwrap();
                }
            }
        }

        fn fields(reply: Reply) -> BTreeMap<Bytes, Bytes> {
            let items = reply.into_array().unwrap();
            items
                .chunks_exact(2)
                .map(|pair| {
                    (
                        pair[0].clone().into_bytes().unwrap(),
                        pair[1].clone().into_bytes().unwrap(),
                    )
                })
                .collect()
        }

        #[tokio::test]
        async fn otp_verify_matches_redis() {
            let Some(mut both) = Both::new("otp") else {
                return;
            };
            let keys = [CODE, TRIES];
            both.command("SET", CODE, &["123456", "PX", "300000"]).await;
            // No TIME here, but PTTL: the native clock stays put, as the server's nearly does.
            for code in ["000000", "12345", "1234567"] {
                both.script(&OTP_VERIFY, T0, &keys, &[code, "5"]).await;
                both.same_state(CODE).await;
                both.same_state(TRIES).await;
            }
            assert_eq!(
                both.script(&OTP_VERIFY, T0, &keys, &["123456", "5"]).await,
                Reply::Int(1)
            );
            both.same_state(CODE).await;
            both.same_state(TRIES).await;

            both.command("SET", CODE, &["4242"]).await;
            for _ in 0..2 {
                both.script(&OTP_VERIFY, T0, &keys, &["4243", "2"]).await;
                both.same_state(CODE).await;
                both.same_state(TRIES).await;
            }
            assert_eq!(
                both.script(&OTP_VERIFY, T0, &keys, &["4242", "2"]).await,
                Reply::Int(0)
            );
            both.same_state(TRIES).await;
            both.clean_up().await;
        }

        #[tokio::test]
        async fn fixed_window_matches_redis() {
            let Some(mut both) = Both::new("fixed") else {
                return;
            };
            let key = ["rate:ip"];
            // No PTTL of a running window in these replies: the server's clock is not frozen.
            both.script(&RATE_LIMIT_FIXED_WINDOW, T0, &key, &["5", "10000", "2"])
                .await;
            both.same_state("rate:ip").await;
            both.command("SET", "rate:ip", &["7"]).await;
            let reply = both
                .script(&RATE_LIMIT_FIXED_WINDOW, T0, &key, &["8", "5000", "1"])
                .await;
            assert_eq!(reply, ints(&[1, 0, 5000, 0]));
            both.same_state("rate:ip").await;
            both.command("PERSIST", "rate:ip", &[]).await;
            both.script(&RATE_LIMIT_FIXED_WINDOW, T0, &key, &["8", "5000", "3"])
                .await;
            both.same_state("rate:ip").await;
            both.clean_up().await;
        }

        #[tokio::test]
        async fn window_hits_matches_redis() {
            let Some(mut both) = Both::new("window") else {
                return;
            };
            let key = ["rl:ip"];
            // Reading and taking back create nothing.
            for change in ["0", "-1"] {
                let reply = both
                    .script(&WINDOW_HITS, T0, &key, &["10000", change, "0"])
                    .await;
                assert_eq!(reply, ints(&[0, 0]));
            }
            both.same_state("rl:ip").await;
            // The first hit starts the window (the reply's reset is the window, not a PTTL).
            let reply = both
                .script(&WINDOW_HITS, T0, &key, &["10000", "1", "0"])
                .await;
            assert_eq!(reply, ints(&[1, 10000]));
            both.same_state("rl:ip").await;
            // Taking back stops at zero; the window keeps running (its PTTL is each side's own).
            for _ in 0..2 {
                let replies = both
                    .script_replies(&WINDOW_HITS, T0, &key, &["10000", "-1", "0"])
                    .await;
                for reply in [replies.0, replies.1] {
                    let Reply::Array(items) = reply else {
                        panic!("{reply:?}")
                    };
                    assert_eq!(items[0], Reply::Int(0));
                    assert!(matches!(items[1], Reply::Int(ms) if ms > 0 && ms <= 10000));
                }
            }
            both.same_state("rl:ip").await;
            // Restarting the window on a hit.
            let reply = both
                .script(&WINDOW_HITS, T0, &key, &["20000", "1", "1"])
                .await;
            assert_eq!(reply, ints(&[1, 20000]));
            // A counter without expiry starts afresh.
            both.command("SET", "rl:ip", &["7"]).await;
            let reply = both
                .script(&WINDOW_HITS, T0, &key, &["5000", "1", "0"])
                .await;
            assert_eq!(reply, ints(&[1, 5000]));
            both.same_state("rl:ip").await;
            both.command("SET", "rl:ip", &["abc"]).await;
            both.script_error(&WINDOW_HITS, T0, &key, &["5000", "1", "0"])
                .await;
            both.same_state("rl:ip").await;
            both.clean_up().await;
        }

        #[tokio::test]
        async fn window_hits_many_matches_redis() {
            let Some(mut both) = Both::new("window-many") else {
                return;
            };
            both.command("SET", "rl:text", &["abc"]).await;
            let keys = ["rl:a", "rl:a", "rl:text", "rl:a", "rl:b"];
            let args = [
                ["10000", "1", "0"],
                ["10000", "1", "0"],
                ["10000", "1", "0"],
                ["10000", "-1", "0"],
                ["10000", "0", "0"],
            ]
            .concat();
            // Each counter sees the changes before it; one that fails answers its message alone.
            // The ms until a window resets is read by Redis's own clock, which may tick during
            // the call: equal hits, and the server's ms at most a little below ours.
            let (reply, theirs) = both
                .script_replies(&WINDOW_HITS_MANY, T0, &keys, &args)
                .await;
            let (Reply::Array(items), Reply::Array(their_items)) = (&reply, &theirs) else {
                panic!("{reply:?} / {theirs:?}")
            };
            assert_eq!(items.len(), their_items.len());
            for (mine, theirs) in items.iter().zip(their_items) {
                match (mine, theirs) {
                    (Reply::Array(m), Reply::Array(t)) => {
                        assert_eq!(m[0], t[0], "{reply:?} / {theirs:?}");
                        let (Reply::Int(m_ms), Reply::Int(t_ms)) = (&m[1], &t[1]) else {
                            panic!("{reply:?} / {theirs:?}")
                        };
                        assert!(t_ms <= m_ms && m_ms - t_ms <= 50, "{reply:?} / {theirs:?}");
                    }
                    (mine, theirs) => assert_eq!(mine, theirs),
                }
            }
            assert_eq!(items[0], ints(&[1, 10000]));
            assert_eq!(items[1], ints(&[2, 10000]));
            assert!(matches!(&items[2], Reply::Bulk(m) if m.starts_with(b"ERR")));
            assert_eq!(items[3], ints(&[1, 10000]));
            assert_eq!(items[4], ints(&[0, 0]));
            both.same_state("rl:a").await;
            both.same_state("rl:text").await;
            both.clean_up().await;
        }

        #[tokio::test]
        async fn token_bucket_matches_redis() {
            let Some(mut both) = Both::new("bucket") else {
                return;
            };
            let steps = [
                (0, "1"),
                (0, "1"),
                (0, "1"),
                (0, "1"),
                (3333, "1"),
                (3334, "1"),
                (3334, "1"),
                (5000, "2"),
                (7000, "1"),
                (30000, "0"),
                (30000, "5"),
            ];
            for (offset, cost) in steps {
                both.script(
                    &RATE_LIMIT_TOKEN_BUCKET,
                    T0 + offset,
                    &["tb"],
                    &["3", "10000", cost],
                )
                .await;
                both.same_state("tb").await;
            }
            // Odd numbers: a capacity that does not divide the window.
            for (offset, cost) in [(0, "2"), (1, "3"), (777, "1"), (5000, "4")] {
                let args = ["7", "3000", cost];
                both.script(&RATE_LIMIT_TOKEN_BUCKET, T0 + offset, &["odd"], &args)
                    .await;
                both.same_state("odd").await;
            }
            both.clean_up().await;
        }

        #[tokio::test]
        async fn zero_limits_and_windows_match_redis() {
            let Some(mut both) = Both::new("zero") else {
                return;
            };
            let now = T0 + 1234;
            both.script_error(&RATE_LIMIT_TOKEN_BUCKET, now, &["a"], &["0", "10000", "1"])
                .await;
            both.same_state("a").await;
            both.script(&RATE_LIMIT_TOKEN_BUCKET, now, &["b"], &["3", "0", "1"])
                .await;
            both.same_state("b").await;
            both.script_error(&RATE_LIMIT_SLIDING_WINDOW, now, &["c"], &["3", "0", "1"])
                .await;
            both.same_state("c").await;
            both.script(
                &RATE_LIMIT_SLIDING_WINDOW,
                now,
                &["d"],
                &["0", "10000", "1"],
            )
            .await;
            both.same_state("d").await;
            both.script(&RATE_LIMIT_FIXED_WINDOW, now, &["e"], &["3", "0", "1"])
                .await;
            both.same_state("e").await;
            both.clean_up().await;
        }

        #[tokio::test]
        async fn sliding_window_matches_redis() {
            let Some(mut both) = Both::new("sliding") else {
                return;
            };
            let mut steps = vec![(2000, "1"); 11];
            steps.extend([
                (12500, "1"),
                (12500, "1"),
                (12500, "1"),
                (12999, "1"),
                (13000, "1"),
                (14321, "3"),
                (25000, "1"),
                (41000, "4"),
            ]);
            for (offset, cost) in steps {
                let args = ["10", "10000", cost];
                both.script(&RATE_LIMIT_SLIDING_WINDOW, T0 + offset, &["sw"], &args)
                    .await;
                both.same_state("sw").await;
            }
            // A cost above the limit, a fractional cost, a window that is not a round number.
            for (offset, args) in [
                (0, ["5", "10000", "6"]),
                (0, ["5", "10000", "0.1"]),
                (123, ["3", "7", "1"]),
                (130, ["3", "7", "2"]),
                (131, ["3", "7", "1"]),
            ] {
                both.script(&RATE_LIMIT_SLIDING_WINDOW, T0 + offset, &["odd"], &args)
                    .await;
                both.same_state("odd").await;
            }
            both.clean_up().await;
        }

        #[tokio::test]
        async fn lock_scripts_match_redis() {
            let Some(mut both) = Both::new("lock") else {
                return;
            };
            let keys = ["lock:a", "{lock:a}:fence"];
            let lock = ["lock:a"];
            // Long lifetimes: the server's clock moves while the native one stands still.
            for owner in ["o1", "o2"] {
                both.script(&LOCK_ACQUIRE, T0, &keys, &[owner, "60000", "86400"])
                    .await;
                both.same_state("lock:a").await;
                both.same_state("{lock:a}:fence").await;
            }
            for (script, args) in [
                (&LOCK_EXTEND, &["o2", "90000"][..]),
                (&LOCK_EXTEND, &["o1", "90000"][..]),
                (&LOCK_RELEASE, &["o2"][..]),
                (&LOCK_RELEASE, &[][..]),
                (&LOCK_RELEASE, &["o1"][..]),
                (&LOCK_EXTEND, &["o1", "90000"][..]),
            ] {
                both.script(script, T0, &lock, args).await;
                both.same_state("lock:a").await;
            }
            both.script(&LOCK_ACQUIRE, T0, &keys, &["o2", "60000", "86400"])
                .await;
            both.same_state("{lock:a}:fence").await;
            // cache.wrap's claim: taken, held, then answered by a value stored meanwhile.
            let wrap = ["w", "{w}:loading", "{w}:fresh"];
            for (owner, refreshing) in [("o1", "0"), ("o2", "0")] {
                both.script(&CACHE_WRAP_CLAIM, T0, &wrap, &[owner, "60000", refreshing])
                    .await;
                both.same_state(wrap[1]).await;
            }
            both.command("SET", wrap[0], &["v"]).await;
            both.command("DEL", wrap[1], &[]).await;
            for refreshing in ["0", "1"] {
                both.script(&CACHE_WRAP_CLAIM, T0, &wrap, &["o3", "60000", refreshing])
                    .await;
                both.same_state(wrap[1]).await;
            }
            both.command("SET", wrap[2], &["1"]).await;
            both.command("DEL", wrap[1], &[]).await;
            both.script(&CACHE_WRAP_CLAIM, T0, &wrap, &["o4", "60000", "1"])
                .await;
            both.same_state(wrap[1]).await;

            // A fence that moved (a name with braces): the former counter is kept in step.
            let moved = ["lock:{t}", "lock:{t}:fence", "{lock:{t}}:fence"];
            both.command("SET", moved[2], &["41"]).await;
            for owner in ["o1", "o2"] {
                both.script(&LOCK_ACQUIRE, T0, &moved, &[owner, "60000", "86400"])
                    .await;
                both.command("DEL", moved[0], &[]).await;
                for key in moved {
                    both.same_state(key).await;
                }
            }
            both.script_error(
                &LOCK_ACQUIRE,
                T0,
                &["lock:b", "{lock:b}:fence"],
                &["o1", "0", "86400"],
            )
            .await;
            both.same_state("lock:a").await;
            both.clean_up().await;
        }
    }
}
